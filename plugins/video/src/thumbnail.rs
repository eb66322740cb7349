//! The `jpegThumbnail`: the probe's first frame, or the caller's own picture, as a small
//! JPEG (what WhatsApp shows while the video downloads).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{ExtendedColorType, ImageFormat, ImageReader, Limits};
use serde_json::Value;
use wuts_plugin_api::PluginError;

use crate::media::{Frame, THUMBNAIL_SIDE};

/// JPEG quality of the thumbnail: small, and still a fair preview at 72 px.
pub const QUALITY: u8 = 75;
/// The largest custom thumbnail accepted, decoded: a preview, not a photo.
pub const MAX_CUSTOM_BYTES: u64 = 1024 * 1024;
/// The most pixels a custom thumbnail may have (checked from its header before decoding).
const MAX_CUSTOM_SIDE: u32 = 4096;

/// The frame (already fitted to [`THUMBNAIL_SIDE`]) as a JPEG.
pub fn from_frame(frame: &Frame) -> Result<Vec<u8>, PluginError> {
    encode(&frame.rgb, frame.width, frame.height)
}

fn encode(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PluginError> {
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, QUALITY)
        .encode(rgb, width, height, ExtendedColorType::Rgb8)
        .map_err(|error| PluginError::internal(format!("thumbnail encoding failed: {error}")))?;
    Ok(out)
}

fn refused(reason: &str) -> PluginError {
    PluginError::invalid_field("thumbnail", reason, Value::Null)
}

/// The caller's JPEG or PNG, fitted to [`THUMBNAIL_SIDE`] and encoded again as a JPEG
/// (whatever its size, the message carries a small one). A bad picture is a 400
/// `VALIDATION_ERROR` on `thumbnail`.
pub fn from_custom(bytes: &[u8]) -> Result<Vec<u8>, PluginError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| refused("is not a readable picture"))?;
    if !matches!(reader.format(), Some(ImageFormat::Jpeg | ImageFormat::Png)) {
        return Err(refused("must be a JPEG or PNG picture"));
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_CUSTOM_SIDE);
    limits.max_image_height = Some(MAX_CUSTOM_SIDE);
    reader.limits(limits);
    let picture = reader
        .decode()
        .map_err(|_| refused("is not a whole JPEG or PNG picture of at most 4096 px a side"))?;
    let fitted = if picture.width().max(picture.height()) > THUMBNAIL_SIDE {
        picture.resize(THUMBNAIL_SIDE, THUMBNAIL_SIDE, FilterType::Triangle)
    } else {
        picture
    };
    let rgb = fitted.to_rgb8();
    encode(rgb.as_raw(), rgb.width(), rgb.height())
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{DynamicImage, GenericImageView, RgbImage};

    fn png(width: u32, height: u32) -> Vec<u8> {
        let picture = RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 9]));
        let mut out = Cursor::new(Vec::new());
        DynamicImage::ImageRgb8(picture)
            .write_to(&mut out, ImageFormat::Png)
            .unwrap();
        out.into_inner()
    }

    #[test]
    fn a_frame_becomes_a_jpeg_of_its_size() {
        let frame = Frame {
            width: 72,
            height: 41,
            rgb: vec![128; 72 * 41 * 3],
        };
        let jpeg = from_frame(&frame).unwrap();
        let back = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg).unwrap();
        assert_eq!(back.dimensions(), (72, 41));
    }

    #[test]
    fn a_custom_picture_is_fitted_and_reencoded() {
        let jpeg = from_custom(&png(640, 320)).unwrap();
        let back = image::load_from_memory_with_format(&jpeg, ImageFormat::Jpeg).unwrap();
        assert_eq!(back.dimensions(), (72, 36));
        let small = from_custom(&png(20, 10)).unwrap();
        assert_eq!(
            image::load_from_memory(&small).unwrap().dimensions(),
            (20, 10)
        );
    }

    #[test]
    fn anything_else_is_refused_on_the_field() {
        let error = from_custom(b"not a picture at all").unwrap_err();
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "VALIDATION_ERROR")
        );
        assert_eq!(error.validation[0].field, "thumbnail");
        let whole = png(64, 64);
        assert!(from_custom(&whole[..whole.len() / 2]).is_err());
    }
}
