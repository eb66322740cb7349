//! Fitting a picture to the sticker's canvas: WhatsApp shows stickers as 512x512 squares,
//! so a picture of another shape is scaled (up or down) until its longest side is 512,
//! keeping its aspect ratio, and centred on a transparent 512x512 canvas.

use image::imageops::{self, FilterType};
use image::{Rgba, RgbaImage};

/// The side of a sticker, in pixels.
pub const STICKER_SIDE: u32 = 512;

/// The size of `width`x`height` scaled to fit [`STICKER_SIDE`] on its longest side (the
/// other side rounded, never 0).
pub fn fitted_size(width: u32, height: u32) -> (u32, u32) {
    let longest = u64::from(width.max(height).max(1));
    let scale = |side: u32| {
        let scaled = (u64::from(side) * u64::from(STICKER_SIDE) + longest / 2) / longest;
        (scaled as u32).clamp(1, STICKER_SIDE)
    };
    (scale(width), scale(height))
}

/// `picture` on a transparent 512x512 canvas, scaled to fit and centred. A picture that
/// is already 512x512 is returned as a copy.
pub fn fit(picture: &RgbaImage) -> RgbaImage {
    let (width, height) = fitted_size(picture.width(), picture.height());
    if (width, height) == picture.dimensions() && width == STICKER_SIDE && height == STICKER_SIDE {
        return picture.clone();
    }
    // Triangle (bilinear) is the image plugin's filter: fast, and smooth enough at 512 px.
    let scaled = imageops::resize(picture, width, height, FilterType::Triangle);
    let mut canvas = RgbaImage::from_pixel(STICKER_SIDE, STICKER_SIDE, Rgba([0, 0, 0, 0]));
    let left = (STICKER_SIDE - width) / 2;
    let top = (STICKER_SIDE - height) / 2;
    // Copied, not blended: the canvas is clear, and the picture's own alpha is kept.
    imageops::replace(&mut canvas, &scaled, i64::from(left), i64::from(top));
    canvas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_side_becomes_512_and_the_ratio_is_kept() {
        assert_eq!(fitted_size(1024, 512), (512, 256));
        assert_eq!(fitted_size(300, 600), (256, 512));
        assert_eq!(fitted_size(100, 100), (512, 512));
        assert_eq!(fitted_size(512, 512), (512, 512));
        assert_eq!(fitted_size(5000, 3), (512, 1));
        assert_eq!(fitted_size(1, 1), (512, 512));
    }

    #[test]
    fn a_wide_picture_is_centred_on_a_clear_canvas() {
        let red = RgbaImage::from_pixel(200, 100, Rgba([255, 0, 0, 255]));
        let sticker = fit(&red);
        assert_eq!(sticker.dimensions(), (512, 512));
        // 512x256, from row 128 to 383.
        assert_eq!(sticker.get_pixel(256, 0).0[3], 0);
        assert_eq!(sticker.get_pixel(256, 127).0[3], 0);
        assert_eq!(sticker.get_pixel(256, 128).0, [255, 0, 0, 255]);
        assert_eq!(sticker.get_pixel(0, 256).0, [255, 0, 0, 255]);
        assert_eq!(sticker.get_pixel(511, 383).0, [255, 0, 0, 255]);
        assert_eq!(sticker.get_pixel(256, 384).0[3], 0);
    }

    #[test]
    fn transparency_is_kept() {
        let clear = RgbaImage::from_pixel(64, 64, Rgba([10, 20, 30, 0]));
        assert!(fit(&clear).pixels().all(|pixel| pixel.0[3] == 0));
    }
}
