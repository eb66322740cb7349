//! Encoding the sticker as WebP with libwebp ([`super::libwebp`]): lossy, with its alpha
//! kept, at the highest quality of [`QUALITY_STEPS`] whose output fits
//! [`MAX_STICKER_BYTES`]. Only pixels this plugin made reach libwebp, always 512x512 RGBA.

use image::RgbaImage;

use super::Frame;
use super::error::StickerError;
use super::fit::STICKER_SIDE;
use super::libwebp::{self, AnimationFrame, Settings};

/// The most bytes a sticker may have: WhatsApp's 500 KB, counted as 500 KiB (500 * 1024),
/// the figure its sticker guidelines and the WUTS docs §1.6 mean.
pub const MAX_STICKER_BYTES: usize = 500 * 1024;
/// The qualities tried, best first: 80 is close to what WhatsApp's own sticker maker
/// writes; below 35 artefacts spoil a sticker, and a picture that does not fit then is
/// refused instead.
pub const QUALITY_STEPS: [f32; 4] = [80.0, 65.0, 50.0, 35.0];
/// libwebp's effort (0 fast to 6 slow): its default. Measured on 40 frames of 512x512,
/// 3 took as long as 4, and 1 took a quarter of the time for a quarter more bytes.
const METHOD: i32 = 4;

/// The first of `encode`'s outputs, over [`QUALITY_STEPS`], that fits `max_bytes`.
pub fn within(
    max_bytes: usize,
    mut encode: impl FnMut(f32) -> Result<Vec<u8>, StickerError>,
) -> Result<Vec<u8>, StickerError> {
    let mut smallest = usize::MAX;
    for quality in QUALITY_STEPS {
        let bytes = encode(quality)?;
        if bytes.len() <= max_bytes {
            return Ok(bytes);
        }
        smallest = smallest.min(bytes.len());
    }
    Err(StickerError::TooLarge(format!(
        "the sticker is {smallest} bytes even at the lowest quality, at most {max_bytes} allowed"
    )))
}

fn settings(quality: f32) -> Settings {
    Settings {
        quality,
        method: METHOD,
    }
}

/// A 512x512 picture as a still WebP at `quality`.
pub fn still(picture: &RgbaImage, quality: f32) -> Result<Vec<u8>, StickerError> {
    libwebp::encode_still(
        picture.as_raw(),
        picture.width(),
        picture.height(),
        settings(quality),
    )
    .map_err(|error| StickerError::Internal(format!("WebP encoding failed: {error}")))
}

/// 512x512 frames as an animated WebP at `quality`, looping forever, each frame shown for
/// its delay.
pub fn animation(frames: &[Frame], quality: f32) -> Result<Vec<u8>, StickerError> {
    let frames: Vec<AnimationFrame<'_>> = frames
        .iter()
        .map(|frame| AnimationFrame {
            rgba: frame.image.as_raw(),
            delay_ms: frame.delay_ms,
        })
        .collect();
    libwebp::encode_animation(&frames, STICKER_SIDE, STICKER_SIDE, settings(quality))
        .map_err(|error| StickerError::Internal(format!("animated WebP encoding failed: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::sniff::webp_header;
    use crate::picture::tests_support::noise;
    use image::Rgba;

    #[test]
    fn the_first_quality_that_fits_is_kept() {
        let mut tried = Vec::new();
        let bytes = within(100, |quality| {
            tried.push(quality);
            Ok(vec![0; if quality > 60.0 { 150 } else { 90 }])
        })
        .unwrap();
        assert_eq!(bytes.len(), 90);
        assert_eq!(tried, [80.0, 65.0, 50.0]);
    }

    #[test]
    fn nothing_fitting_is_too_large_and_tells_the_smallest() {
        let error = within(100, |quality| Ok(vec![0; 100 + quality as usize])).unwrap_err();
        assert_eq!(error.code(), "STICKER_TOO_LARGE");
        assert!(format!("{error:?}").contains("135 bytes"), "{error:?}");
    }

    #[test]
    fn a_still_is_a_512_webp_with_its_alpha() {
        let mut picture = RgbaImage::from_pixel(512, 512, Rgba([200, 30, 30, 255]));
        picture.put_pixel(0, 0, Rgba([0, 0, 0, 0]));
        let bytes = still(&picture, 80.0).unwrap();
        let header = webp_header(&bytes).unwrap();
        assert_eq!(
            (header.width, header.height, header.animated),
            (512, 512, false)
        );
        let back = image::load_from_memory(&bytes).unwrap().into_rgba8();
        assert_eq!(back.get_pixel(0, 0).0[3], 0);
        assert_eq!(back.get_pixel(300, 300).0[3], 255);
    }

    #[test]
    fn lower_quality_is_smaller() {
        let picture = noise(512, 512, 7);
        let best = still(&picture, 80.0).unwrap().len();
        let worst = still(&picture, 35.0).unwrap().len();
        assert!(worst < best, "{worst} < {best}");
    }

    #[test]
    fn an_animation_is_an_animated_512_webp() {
        let frames: Vec<Frame> = (0..3)
            .map(|index| Frame {
                image: RgbaImage::from_pixel(512, 512, Rgba([index * 80, 0, 0, 255])),
                delay_ms: 120,
            })
            .collect();
        let bytes = animation(&frames, 80.0).unwrap();
        let header = webp_header(&bytes).unwrap();
        assert_eq!((header.width, header.height), (512, 512));
        assert!(header.animated);
        assert_eq!(header.frames, 3);
    }
}
