//! Judging and preparing the caller's picture: what it is, whether it is whole and within
//! the caps, what is sent (the original, or a JPEG re-encoding), and its thumbnail.
//!
//! The bytes are untrusted, so the order matters:
//!
//! 1. size and format from the bytes alone (a URL's `Content-Type` or a `data:` URI's type
//!    is not trusted);
//! 2. the header's dimensions, read under [`image::Limits`], checked against the megapixel
//!    cap: a picture whose header claims 60000x60000 is refused here, before any pixel
//!    buffer exists (a decompression bomb is a few KB that would decode to gigabytes);
//! 3. a full decode, still under the limits: the only way to find a picture cut short or
//!    corrupt (a header can be whole while its data is not).

use std::io::Cursor;

use image::codecs::jpeg::JpegEncoder;
use image::error::LimitErrorKind;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, GenericImageView, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits,
    RgbImage,
};
use wuts_plugin_api::PluginError;

use crate::config::ImageConfig;

/// The longest side of the thumbnail, and its JPEG quality: what WhatsApp's clients put
/// in `jpegThumbnail` (a small, blurry preview shown while the picture downloads).
pub const THUMBNAIL_SIDE: u32 = 72;
pub const THUMBNAIL_QUALITY: u8 = 50;
/// JPEG quality of a re-encoded picture: close to what WhatsApp's clients send.
pub const JPEG_QUALITY: u8 = 85;
/// The largest side any header may state: 65,535 is the most a JPEG or GIF header can
/// hold; a larger PNG or WebP side is refused as too large before its pixels are counted.
const MAX_HEADER_SIDE: u32 = 65_535;
/// Bytes per pixel the decode budget allows: 8-bit RGBA. Decoders also need working
/// buffers (a PNG's inflated rows), hence the slack.
const ALLOC_BYTES_PER_PIXEL: u64 = 4;
const ALLOC_SLACK: u64 = 64 * 1024 * 1024;

/// Why a picture is refused; each is a 400 with its code (docs/API.md, "Media").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PictureError {
    Empty,
    Unsupported(String),
    Corrupt(String),
    TooLarge(String),
    /// Our fault (an encoder failing on a picture it was given whole): a 500.
    Internal(String),
}

impl PictureError {
    pub fn code(&self) -> &'static str {
        match self {
            PictureError::Empty => "IMAGE_EMPTY",
            PictureError::Unsupported(_) => "IMAGE_UNSUPPORTED",
            PictureError::Corrupt(_) => "IMAGE_CORRUPT",
            PictureError::TooLarge(_) => "IMAGE_TOO_LARGE",
            PictureError::Internal(_) => "IMAGE_INTERNAL",
        }
    }

    /// The API error, its text prefixed with the field the picture came from.
    pub fn into_plugin_error(self, field: &str) -> PluginError {
        let code = self.code();
        let (status, reason) = match self {
            PictureError::Empty => (400, "the image is empty".to_string()),
            PictureError::Unsupported(reason)
            | PictureError::Corrupt(reason)
            | PictureError::TooLarge(reason) => (400, reason),
            PictureError::Internal(reason) => (500, reason),
        };
        PluginError::new(status, code, format!("{field}: {reason}"))
    }
}

/// What is sent, and what the metadata says about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Picture {
    /// The file uploaded: the caller's own bytes, or a JPEG re-encoding.
    pub bytes: Vec<u8>,
    pub mimetype: &'static str,
    /// Of what is sent.
    pub width: u32,
    pub height: u32,
    /// The caller's format, as a mimetype.
    pub original_format: &'static str,
    /// Whether `bytes` is a re-encoding (another format, or scaled down).
    pub was_converted: bool,
    /// A JPEG whose longest side is at most [`THUMBNAIL_SIDE`].
    pub thumbnail: Vec<u8>,
}

/// The accepted formats and their mimetypes.
fn mimetype(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Png => Some("image/png"),
        ImageFormat::WebP => Some("image/webp"),
        ImageFormat::Gif => Some("image/gif"),
        _ => None,
    }
}

/// The decode limits: set on every reader before it reads past the signature.
fn limits(config: &ImageConfig) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_HEADER_SIDE);
    limits.max_image_height = Some(MAX_HEADER_SIDE);
    limits.max_alloc = Some(
        config
            .max_pixels()
            .saturating_mul(ALLOC_BYTES_PER_PIXEL)
            .saturating_add(ALLOC_SLACK),
    );
    limits
}

/// A reader of `bytes`, with the format it was found to be and that format's mimetype.
type Sniffed<'a> = (ImageReader<Cursor<&'a [u8]>>, ImageFormat, &'static str);

/// A reader of `bytes` with its format guessed from them and `limits` set.
fn reader<'a>(bytes: &'a [u8], limits: &Limits) -> Result<Sniffed<'a>, PictureError> {
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|error| PictureError::Corrupt(format!("the image cannot be read ({error})")))?;
    let Some((format, mimetype)) = reader
        .format()
        .and_then(|format| Some((format, mimetype(format)?)))
    else {
        return Err(PictureError::Unsupported(
            "not a JPEG, PNG, WebP or GIF image".to_string(),
        ));
    };
    reader.limits(limits.clone());
    Ok((reader, format, mimetype))
}

/// How a decoder's error reads to the caller.
fn judged(error: ImageError) -> PictureError {
    match error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => PictureError::TooLarge(format!(
                "the image is too large: a side over {MAX_HEADER_SIDE} px"
            )),
            _ => PictureError::TooLarge(
                "the image is too large to decode within the memory cap".to_string(),
            ),
        },
        ImageError::Unsupported(error) => {
            PictureError::Unsupported(format!("this image cannot be read: {error}"))
        }
        ImageError::Decoding(error) => {
            PictureError::Corrupt(format!("the image is corrupt or truncated: {error}"))
        }
        ImageError::IoError(error) => {
            PictureError::Corrupt(format!("the image is truncated: {error}"))
        }
        other => PictureError::Corrupt(format!("the image cannot be decoded: {other}")),
    }
}

/// Checks the picture and makes what is sent. CPU-bound: call it off the HTTP threads.
pub fn prepare(bytes: &[u8], config: &ImageConfig) -> Result<Picture, PictureError> {
    if bytes.is_empty() {
        return Err(PictureError::Empty);
    }
    if bytes.len() as u64 > config.max_bytes {
        return Err(PictureError::TooLarge(format!(
            "the image has {} bytes, at most {} allowed",
            bytes.len(),
            config.max_bytes
        )));
    }
    let limits = limits(config);
    let (header, _, _) = reader(bytes, &limits)?;
    let (width, height) = header.into_dimensions().map_err(judged)?;
    let pixels = u64::from(width) * u64::from(height);
    if pixels > config.max_pixels() {
        return Err(PictureError::TooLarge(format!(
            "the image is {width}x{height} ({pixels} pixels), at most {} megapixels allowed",
            config.max_megapixels
        )));
    }
    let (full, format, original_format) = reader(bytes, &limits)?;
    let (decoded, orientation) = decode_upright(full, limits)?;

    let longest = decoded.width().max(decoded.height());
    // A phone photo stored sideways with an EXIF orientation is turned upright and
    // re-encoded: not every WhatsApp client reads the tag, and the thumbnail (made from
    // the pixels) must face the same way as the picture.
    let as_is = orientation == Orientation::NoTransforms
        && matches!(format, ImageFormat::Jpeg | ImageFormat::Png)
        && longest <= config.max_side;
    let (sent, sent_bytes, mimetype) = if as_is {
        (decoded, bytes.to_vec(), original_format)
    } else {
        let scaled = if longest > config.max_side {
            decoded.resize(config.max_side, config.max_side, FilterType::Triangle)
        } else {
            decoded
        };
        let jpeg = encode_jpeg(&scaled, JPEG_QUALITY)?;
        (scaled, jpeg, "image/jpeg")
    };
    let thumbnail = thumbnail(&sent)?;
    let (width, height) = sent.dimensions();
    Ok(Picture {
        bytes: sent_bytes,
        mimetype,
        width,
        height,
        original_format,
        was_converted: !as_is,
        thumbnail,
    })
}

/// The whole picture decoded under `limits` (its pixel buffer reserved against them
/// first, as `ImageReader::decode` does), turned as its EXIF orientation says, and that
/// orientation (`NoTransforms` when there is none or it cannot be read).
fn decode_upright(
    reader: ImageReader<Cursor<&[u8]>>,
    mut limits: Limits,
) -> Result<(DynamicImage, Orientation), PictureError> {
    let mut decoder = reader.into_decoder().map_err(judged)?;
    limits.reserve(decoder.total_bytes()).map_err(judged)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut decoded = DynamicImage::from_decoder(decoder).map_err(judged)?;
    decoded.apply_orientation(orientation);
    Ok((decoded, orientation))
}

/// A JPEG thumbnail whose longest side is at most [`THUMBNAIL_SIDE`] (a smaller picture
/// keeps its size: a thumbnail is never larger than its picture).
pub fn thumbnail(picture: &DynamicImage) -> Result<Vec<u8>, PictureError> {
    let small = if picture.width().max(picture.height()) > THUMBNAIL_SIDE {
        picture.thumbnail(THUMBNAIL_SIDE, THUMBNAIL_SIDE)
    } else {
        picture.clone()
    };
    encode_jpeg(&small, THUMBNAIL_QUALITY)
}

/// JPEG bytes of `picture`; transparency is laid over white, as a JPEG has none (a
/// transparent PNG or WebP would otherwise turn black where it was clear).
fn encode_jpeg(picture: &DynamicImage, quality: u8) -> Result<Vec<u8>, PictureError> {
    let rgb = if picture.color().has_alpha() {
        over_white(picture)
    } else {
        picture.to_rgb8()
    };
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, quality)
        .encode_image(&rgb)
        .map_err(|error| PictureError::Internal(format!("JPEG encoding failed: {error}")))?;
    Ok(out)
}

fn over_white(picture: &DynamicImage) -> RgbImage {
    let rgba = picture.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let blend = |channel: u8| {
            let alpha = u16::from(a);
            ((u16::from(channel) * alpha + 255 * (255 - alpha) + 127) / 255) as u8
        };
        image::Rgb([blend(r), blend(g), blend(b)])
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageEncoder, Rgba, RgbaImage};

    /// A picture with a gradient, so that encoders have something to compress.
    fn pixels(width: u32, height: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            Rgba([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8, 255])
        })
    }

    fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        let picture = DynamicImage::ImageRgba8(pixels(width, height));
        let picture = if format == ImageFormat::Jpeg {
            DynamicImage::ImageRgb8(picture.to_rgb8())
        } else {
            picture
        };
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    /// A PNG whose header claims `width`x`height`, with a tiny, valid IDAT: a few hundred
    /// bytes that would decode to `width * height * 3` bytes.
    fn bomb_header(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
        // IHDR's width and height are the 8 bytes after the signature (8), length (4) and
        // type (4); its CRC (after the 13 data bytes) is made again.
        out[16..20].copy_from_slice(&width.to_be_bytes());
        out[20..24].copy_from_slice(&height.to_be_bytes());
        let crc = crc32(&out[12..29]);
        out[29..33].copy_from_slice(&crc.to_be_bytes());
        out
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xFFFF_FFFFu32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    fn config() -> ImageConfig {
        ImageConfig::default()
    }

    #[track_caller]
    fn refused(bytes: &[u8], config: &ImageConfig) -> &'static str {
        prepare(bytes, config).unwrap_err().code()
    }

    #[track_caller]
    fn assert_thumbnail(picture: &Picture, width: u32, height: u32) {
        let thumbnail = image::load_from_memory_with_format(&picture.thumbnail, ImageFormat::Jpeg)
            .expect("the thumbnail is a JPEG");
        assert_eq!(thumbnail.dimensions(), (width, height));
    }

    #[test]
    fn a_png_and_a_jpeg_go_as_they_are() {
        for (format, mimetype) in [
            (ImageFormat::Png, "image/png"),
            (ImageFormat::Jpeg, "image/jpeg"),
        ] {
            let bytes = encoded(320, 200, format);
            let picture = prepare(&bytes, &config()).unwrap();
            assert_eq!(picture.bytes, bytes, "{mimetype}");
            assert_eq!(
                (picture.mimetype, picture.original_format),
                (mimetype, mimetype)
            );
            assert_eq!((picture.width, picture.height), (320, 200));
            assert!(!picture.was_converted);
            assert_thumbnail(&picture, 72, 45);
        }
    }

    #[test]
    fn webp_and_gif_become_jpeg() {
        for (format, mimetype) in [
            (ImageFormat::WebP, "image/webp"),
            (ImageFormat::Gif, "image/gif"),
        ] {
            let bytes = encoded(100, 150, format);
            let picture = prepare(&bytes, &config()).unwrap();
            assert_eq!(picture.mimetype, "image/jpeg");
            assert_eq!(picture.original_format, mimetype);
            assert!(picture.was_converted);
            assert_eq!((picture.width, picture.height), (100, 150));
            let sent = image::load_from_memory(&picture.bytes).unwrap();
            assert_eq!(sent.dimensions(), (100, 150));
            assert_eq!(
                image::guess_format(&picture.bytes).unwrap(),
                ImageFormat::Jpeg
            );
            assert_thumbnail(&picture, 48, 72);
        }
    }

    #[test]
    fn a_photo_stored_sideways_is_turned_upright_by_its_exif_orientation() {
        // TIFF (big-endian) with one IFD entry: Orientation (0x0112), SHORT, 6 = the
        // picture must be turned 90 degrees clockwise to be upright.
        let exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00";
        let rgb = DynamicImage::ImageRgba8(pixels(40, 20)).to_rgb8();
        let mut jpeg = Vec::new();
        let mut encoder = JpegEncoder::new_with_quality(&mut jpeg, 90);
        encoder.set_exif_metadata(exif.to_vec()).unwrap();
        encoder.encode_image(&rgb).unwrap();

        let picture = prepare(&jpeg, &config()).unwrap();
        assert!(picture.was_converted, "re-encoded upright");
        assert_eq!((picture.width, picture.height), (20, 40));
        let sent = image::load_from_memory(&picture.bytes).unwrap();
        assert_eq!(sent.dimensions(), (20, 40));
        assert_thumbnail(&picture, 20, 40);

        // Without the tag the same picture goes as it came.
        let plain = encoded(40, 20, ImageFormat::Jpeg);
        let picture = prepare(&plain, &config()).unwrap();
        assert_eq!(
            (picture.width, picture.height, picture.was_converted),
            (40, 20, false)
        );
    }

    #[test]
    fn a_long_side_is_scaled_down_to_max_side() {
        let bytes = encoded(5000, 300, ImageFormat::Png);
        let picture = prepare(&bytes, &config()).unwrap();
        assert_eq!((picture.width, picture.height), (4096, 246));
        assert_eq!(picture.mimetype, "image/jpeg");
        assert!(picture.was_converted);
        let small = ImageConfig {
            max_side: 100,
            ..ImageConfig::default()
        };
        let picture = prepare(&encoded(300, 150, ImageFormat::Jpeg), &small).unwrap();
        assert_eq!((picture.width, picture.height), (100, 50));
    }

    #[test]
    fn a_tiny_picture_keeps_its_size_in_the_thumbnail() {
        let picture = prepare(&encoded(10, 5, ImageFormat::Png), &config()).unwrap();
        assert_thumbnail(&picture, 10, 5);
    }

    #[test]
    fn transparency_is_laid_over_white() {
        let clear = DynamicImage::ImageRgba8(RgbaImage::from_pixel(4, 4, Rgba([0, 0, 0, 0])));
        let jpeg = encode_jpeg(&clear, 90).unwrap();
        let back = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        assert!(back.pixels().all(|pixel| pixel.0.iter().all(|&c| c > 240)));
    }

    #[test]
    fn empty_not_an_image_and_truncated_are_told_apart() {
        assert_eq!(refused(b"", &config()), "IMAGE_EMPTY");
        assert_eq!(
            refused(b"hello, this is text", &config()),
            "IMAGE_UNSUPPORTED"
        );
        let bmp = encoded(4, 4, ImageFormat::Png);
        assert_eq!(
            refused(&[b"BM".as_slice(), &bmp].concat(), &config()),
            "IMAGE_UNSUPPORTED"
        );
        let png = encoded(200, 200, ImageFormat::Png);
        assert_eq!(refused(&png[..png.len() / 2], &config()), "IMAGE_CORRUPT");
        // Only the signature: no header to read.
        assert_eq!(refused(&png[..8], &config()), "IMAGE_CORRUPT");
        let gif = encoded(50, 50, ImageFormat::Gif);
        assert_eq!(refused(&gif[..gif.len() / 2], &config()), "IMAGE_CORRUPT");
    }

    #[test]
    fn caps_refuse_too_large_before_decoding() {
        // 3.6 gigapixels claimed: refused from the header alone.
        let bomb = bomb_header(60_000, 60_000);
        assert!(bomb.len() < 200);
        let error = prepare(&bomb, &config()).unwrap_err();
        assert_eq!(error.code(), "IMAGE_TOO_LARGE");
        assert!(format!("{error:?}").contains("60000x60000"), "{error:?}");
        // A side no header of an accepted kind could carry is the limits' refusal.
        assert_eq!(
            refused(&bomb_header(70_000, 1), &config()),
            "IMAGE_TOO_LARGE"
        );
        let few = ImageConfig {
            max_megapixels: 1,
            ..ImageConfig::default()
        };
        assert_eq!(refused(&bomb_header(1001, 1000), &few), "IMAGE_TOO_LARGE");
        let small = ImageConfig {
            max_bytes: 100,
            ..ImageConfig::default()
        };
        assert_eq!(
            refused(&encoded(64, 64, ImageFormat::Png), &small),
            "IMAGE_TOO_LARGE"
        );
    }

    #[test]
    fn errors_name_the_field_and_are_400() {
        let error =
            PictureError::Corrupt("the image is truncated".into()).into_plugin_error("image_url");
        assert_eq!((error.status, error.code.as_str()), (400, "IMAGE_CORRUPT"));
        assert_eq!(error.message, "image_url: the image is truncated");
        assert_eq!(
            PictureError::Empty.into_plugin_error("image").message,
            "image: the image is empty"
        );
    }
}
