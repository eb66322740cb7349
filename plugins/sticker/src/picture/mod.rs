//! Judging the caller's file and making the sticker: what it is, whether it is whole and
//! within the caps, and what is sent (the file as it came, or a 512x512 WebP made from it).
//!
//! The bytes are untrusted, so the order matters:
//!
//! 1. the format from the bytes alone ([`sniff`]), and for a WebP its header: size, whether
//!    it is animated, how many frames;
//! 2. the caps from the headers (canvas pixels, frames), before any pixel buffer exists: a
//!    decompression bomb is a few KB whose header claims gigapixels;
//! 3. a full decode ([`decode`], still under the caps): the only way to find a file cut
//!    short or corrupt, even for one sent as it came;
//! 4. for a conversion, every picture [`fit`] to 512x512 and [`encode`]d as lossy WebP,
//!    at the best quality that fits 500 KB.
//!
//! What is sent, by input:
//!
//! - a WebP of 512x512 within 500 KB: as it came, byte for byte;
//! - a still WebP of another size or over 500 KB, a PNG, a JPEG, a GIF of one frame: one
//!   still WebP;
//! - an animated WebP of another size, a GIF of several frames: an animated WebP, every
//!   frame fitted;
//! - an animated WebP of 512x512 over 500 KB: refused (`STICKER_TOO_LARGE`), as a lossy
//!   re-encoding of a finished sticker would only degrade it.

pub mod decode;
pub mod encode;
pub mod error;
pub mod fit;
pub mod libwebp;
pub mod sniff;

use std::time::{Duration, Instant};

use image::RgbaImage;

use crate::config::StickerConfig;
pub use encode::MAX_STICKER_BYTES;
pub use error::StickerError;
use fit::STICKER_SIDE;
pub use sniff::Format;

/// One frame of an animation: the whole canvas as it is shown, and for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    pub image: RgbaImage,
    pub delay_ms: u32,
}

/// What is sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Sticker {
    /// A 512x512 WebP: the caller's own bytes, or a conversion.
    pub bytes: Vec<u8>,
    /// What the file is (and so what the message says).
    pub is_animated: bool,
    /// The caller's format.
    pub original_format: Format,
    /// Whether `bytes` is a conversion.
    pub was_converted: bool,
}

impl Sticker {
    pub const MIMETYPE: &'static str = "image/webp";
    pub const SIDE: u32 = STICKER_SIDE;
}

/// Checks the file and makes the sticker. CPU-bound: call it off the HTTP threads.
/// `claimed` is the caller's `is_animated`: when given, it must match the file.
pub fn prepare(
    bytes: &[u8],
    claimed: Option<bool>,
    config: &StickerConfig,
) -> Result<Sticker, StickerError> {
    let format = sniff::format(bytes)?;
    if bytes.len() as u64 > config.max_input_bytes {
        return Err(StickerError::TooLarge(format!(
            "the file has {} bytes, at most {} allowed",
            bytes.len(),
            config.max_input_bytes
        )));
    }
    let deadline = Deadline::after(config.conversion_timeout());
    match format {
        Format::WebP => from_webp(bytes, claimed, config, deadline),
        Format::Gif => from_gif(bytes, claimed, config, deadline),
        Format::Png | Format::Jpeg => {
            check_claim(claimed, false, || format!("a still {}", format.name()))?;
            let picture = decode::still(bytes, format, config)?;
            still(&fit::fit(&picture), format, deadline)
        }
    }
}

/// When a conversion must be done by: checked between frames and between quality steps
/// (each a bounded piece of work: one 512x512 frame, one encode of at most `max_frames`).
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    allowed: Duration,
}

impl Deadline {
    pub fn after(allowed: Duration) -> Deadline {
        Deadline {
            at: Instant::now() + allowed,
            allowed,
        }
    }

    /// A refusal once the time is up: the same file would never convert in time.
    pub fn check(&self) -> Result<(), StickerError> {
        if Instant::now() < self.at {
            return Ok(());
        }
        Err(StickerError::TooLarge(format!(
            "the sticker could not be converted within {} s",
            self.allowed.as_secs()
        )))
    }
}

/// Refuses an `is_animated` that says otherwise than the file.
fn check_claim(
    claimed: Option<bool>,
    animated: bool,
    file: impl FnOnce() -> String,
) -> Result<(), StickerError> {
    match claimed {
        Some(claimed) if claimed != animated => Err(StickerError::Mismatch {
            claimed,
            file: file(),
        }),
        _ => Ok(()),
    }
}

fn from_webp(
    bytes: &[u8],
    claimed: Option<bool>,
    config: &StickerConfig,
    deadline: Deadline,
) -> Result<Sticker, StickerError> {
    let header = sniff::webp_header(bytes)?;
    check_claim(claimed, header.animated, || {
        if header.animated {
            format!("an animated WebP ({} frames)", header.frames)
        } else {
            "a still WebP".to_string()
        }
    })?;
    decode::check_canvas(header.width, header.height, config)?;
    let square = (header.width, header.height) == (STICKER_SIDE, STICKER_SIDE);
    let as_it_came = || Sticker {
        bytes: bytes.to_vec(),
        is_animated: header.animated,
        original_format: Format::WebP,
        was_converted: false,
    };
    if !header.animated {
        let picture = decode::still(bytes, Format::WebP, config)?;
        if square && bytes.len() <= MAX_STICKER_BYTES {
            return Ok(as_it_came());
        }
        return still(&fit::fit(&picture), Format::WebP, deadline);
    }
    decode::check_animation(
        header.width,
        header.height,
        u64::from(header.frames),
        config,
    )?;
    if square {
        if bytes.len() > MAX_STICKER_BYTES {
            return Err(StickerError::TooLarge(format!(
                "an animated sticker may have at most {MAX_STICKER_BYTES} bytes, this one has {}",
                bytes.len()
            )));
        }
        // Decoded only to be sure it is whole; the frames are dropped as they come.
        decode::frames(bytes, Format::WebP, config, |_, _| deadline.check())?;
        return Ok(as_it_came());
    }
    let mut fitted = Vec::new();
    decode::frames(bytes, Format::WebP, config, |_, frame| {
        deadline.check()?;
        fitted.push(fitted_frame(&frame));
        Ok(())
    })?;
    animation(&fitted, Format::WebP, deadline)
}

/// A GIF is animated when it has more than one frame, which only decoding tells.
fn from_gif(
    bytes: &[u8],
    claimed: Option<bool>,
    config: &StickerConfig,
    deadline: Deadline,
) -> Result<Sticker, StickerError> {
    let mut fitted = Vec::new();
    let count = decode::frames(bytes, Format::Gif, config, |index, frame| {
        deadline.check()?;
        // Said still, and a second frame: no need to decode the rest to refuse.
        if index == 1 {
            check_claim(claimed, true, || {
                "an animated GIF (more than one frame)".to_string()
            })?;
        }
        fitted.push(fitted_frame(&frame));
        Ok(())
    })?;
    let animated = count > 1;
    check_claim(claimed, animated, || "a still GIF (one frame)".to_string())?;
    if animated {
        animation(&fitted, Format::Gif, deadline)
    } else {
        still(&fitted[0].image, Format::Gif, deadline)
    }
}

fn fitted_frame(frame: &Frame) -> Frame {
    Frame {
        image: fit::fit(&frame.image),
        delay_ms: frame.delay_ms,
    }
}

/// A still sticker from a fitted picture.
fn still(
    canvas: &RgbaImage,
    original_format: Format,
    deadline: Deadline,
) -> Result<Sticker, StickerError> {
    let bytes = encode::within(MAX_STICKER_BYTES, |quality| {
        deadline.check()?;
        encode::still(canvas, quality)
    })?;
    Ok(Sticker {
        bytes,
        is_animated: false,
        original_format,
        was_converted: true,
    })
}

/// An animated sticker from fitted frames.
fn animation(
    frames: &[Frame],
    original_format: Format,
    deadline: Deadline,
) -> Result<Sticker, StickerError> {
    let bytes = encode::within(MAX_STICKER_BYTES, |quality| {
        deadline.check()?;
        encode::animation(frames, quality)
    })?;
    Ok(Sticker {
        bytes,
        is_animated: true,
        original_format,
        was_converted: true,
    })
}

/// Pictures the tests make: every format, animations, a bomb header, noise.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::io::Cursor;

    use image::codecs::gif::{GifEncoder, Repeat};
    use image::{Delay, DynamicImage, ImageEncoder, ImageFormat, Rgba, RgbaImage};

    /// A picture with a gradient, so that encoders have something to compress.
    pub fn gradient(width: u32, height: u32, shift: u32) -> RgbaImage {
        RgbaImage::from_fn(width, height, |x, y| {
            Rgba([
                ((x + shift) % 256) as u8,
                (y % 256) as u8,
                ((x + y) % 256) as u8,
                255,
            ])
        })
    }

    /// Pixels no encoder can compress much: a photo's worst case.
    pub fn noise(width: u32, height: u32, seed: u32) -> RgbaImage {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        RgbaImage::from_fn(width, height, |_, _| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let [r, g, b, _] = state.to_le_bytes();
            Rgba([r, g, b, 255])
        })
    }

    pub fn encode_as(picture: &RgbaImage, format: ImageFormat) -> Vec<u8> {
        let picture = DynamicImage::ImageRgba8(picture.clone());
        let picture = if format == ImageFormat::Jpeg {
            DynamicImage::ImageRgb8(picture.to_rgb8())
        } else {
            picture
        };
        let mut out = Cursor::new(Vec::new());
        picture.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    pub fn encoded(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
        encode_as(&gradient(width, height, 0), format)
    }

    /// A GIF of `frames` frames shown `delay_ms` each.
    pub fn gif_with_delay(width: u32, height: u32, frames: u32, delay_ms: u32) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(Repeat::Infinite).unwrap();
            for index in 0..frames {
                let frame = image::Frame::from_parts(
                    gradient(width, height, index * 40),
                    0,
                    0,
                    Delay::from_numer_denom_ms(delay_ms, 1),
                );
                encoder.encode_frame(frame).unwrap();
            }
        }
        out
    }

    pub fn animated_gif(width: u32, height: u32, frames: u32) -> Vec<u8> {
        gif_with_delay(width, height, frames, 80)
    }

    /// An animated WebP of `frames` frames of 80 ms, made with libwebp.
    pub fn animated_webp(width: u32, height: u32, frames: u32) -> Vec<u8> {
        animated_webp_of(
            &(0..frames)
                .map(|index| gradient(width, height, index * 40))
                .collect::<Vec<_>>(),
            90.0,
        )
    }

    pub fn animated_webp_of(frames: &[RgbaImage], quality: f32) -> Vec<u8> {
        let (width, height) = frames[0].dimensions();
        let frames: Vec<super::libwebp::AnimationFrame<'_>> = frames
            .iter()
            .map(|frame| super::libwebp::AnimationFrame {
                rgba: frame.as_raw(),
                delay_ms: 80,
            })
            .collect();
        let settings = super::libwebp::Settings { quality, method: 4 };
        super::libwebp::encode_animation(&frames, width, height, settings).unwrap()
    }

    /// A PNG whose header claims `width`x`height`, with a tiny, valid IDAT (as
    /// plugins/image/src/picture.rs makes its own).
    pub fn bomb_header(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        image::codecs::png::PngEncoder::new(&mut out)
            .write_image(&[0; 3], 1, 1, image::ExtendedColorType::Rgb8)
            .unwrap();
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
}

#[cfg(test)]
mod tests {
    use super::tests_support::*;
    use super::*;
    use image::ImageFormat;

    fn config() -> StickerConfig {
        StickerConfig::default()
    }

    #[track_caller]
    fn refused(bytes: &[u8], claimed: Option<bool>) -> StickerError {
        prepare(bytes, claimed, &config()).unwrap_err()
    }

    #[track_caller]
    fn assert_sticker_webp(bytes: &[u8], animated: bool) {
        let header = sniff::webp_header(bytes).unwrap();
        assert_eq!((header.width, header.height), (512, 512));
        assert_eq!(header.animated, animated);
        assert!(bytes.len() <= MAX_STICKER_BYTES, "{} bytes", bytes.len());
    }

    #[test]
    fn a_512_webp_goes_as_it_came() {
        let still_webp = encoded(512, 512, ImageFormat::WebP);
        let sticker = prepare(&still_webp, None, &config()).unwrap();
        assert_eq!(sticker.bytes, still_webp);
        assert!(!sticker.was_converted && !sticker.is_animated);
        assert_eq!(
            prepare(&still_webp, Some(false), &config()).unwrap().bytes,
            still_webp
        );

        let animated = animated_webp(512, 512, 3);
        let sticker = prepare(&animated, Some(true), &config()).unwrap();
        assert_eq!(sticker.bytes, animated);
        assert!(sticker.is_animated && !sticker.was_converted);
    }

    #[test]
    fn a_conversion_past_its_deadline_is_refused_but_a_ready_sticker_is_not() {
        let no_time = StickerConfig {
            conversion_timeout_seconds: 0,
            ..config()
        };
        for input in [
            encoded(640, 480, ImageFormat::Png),
            animated_gif(64, 64, 3),
            animated_webp(100, 100, 3),
        ] {
            let error = prepare(&input, None, &no_time).unwrap_err();
            assert_eq!(error.code(), "STICKER_TOO_LARGE", "{error:?}");
            assert!(format!("{error:?}").contains("within 0 s"), "{error:?}");
        }
        let ready = encoded(512, 512, ImageFormat::WebP);
        assert_eq!(prepare(&ready, None, &no_time).unwrap().bytes, ready);
    }

    #[test]
    fn png_jpeg_and_other_webp_sizes_are_converted() {
        for (width, height, format) in [
            (640, 480, ImageFormat::Png),
            (300, 900, ImageFormat::Jpeg),
            (100, 100, ImageFormat::WebP),
            (40, 30, ImageFormat::Gif),
        ] {
            let sticker = prepare(&encoded(width, height, format), None, &config()).unwrap();
            assert!(sticker.was_converted, "{format:?}");
            assert!(!sticker.is_animated, "{format:?}");
            assert_sticker_webp(&sticker.bytes, false);
        }
    }

    #[test]
    fn a_photo_steps_down_in_quality_to_fit() {
        // Noise is a photo's worst case: lossless it would be about 1 MB.
        let png = encode_as(&noise(1024, 1024, 3), ImageFormat::Png);
        let sticker = prepare(&png, None, &config()).unwrap();
        assert_sticker_webp(&sticker.bytes, false);
        // A still 512x512 WebP over 500 KB is re-encoded, not refused.
        let big = encode_as(&noise(512, 512, 5), ImageFormat::WebP);
        assert!(big.len() > MAX_STICKER_BYTES, "{}", big.len());
        let sticker = prepare(&big, None, &config()).unwrap();
        assert!(sticker.was_converted);
        assert_sticker_webp(&sticker.bytes, false);
    }

    #[test]
    fn animations_are_detected_and_converted() {
        let sticker = prepare(&animated_gif(64, 48, 3), None, &config()).unwrap();
        assert!(sticker.is_animated && sticker.was_converted);
        assert_sticker_webp(&sticker.bytes, true);
        assert_eq!(sniff::webp_header(&sticker.bytes).unwrap().frames, 3);

        let sticker = prepare(&animated_webp(100, 80, 2), Some(true), &config()).unwrap();
        assert!(sticker.is_animated && sticker.was_converted);
        assert_sticker_webp(&sticker.bytes, true);

        // One frame: a still, whatever the format.
        let sticker = prepare(&animated_gif(64, 48, 1), Some(false), &config()).unwrap();
        assert!(!sticker.is_animated);
        assert_sticker_webp(&sticker.bytes, false);
    }

    #[test]
    fn is_animated_must_match_the_file() {
        let cases: [(Vec<u8>, bool, &str); 5] = [
            (encoded(512, 512, ImageFormat::WebP), true, "a still WebP"),
            (
                animated_webp(512, 512, 2),
                false,
                "an animated WebP (2 frames)",
            ),
            (encoded(64, 64, ImageFormat::Png), true, "a still PNG"),
            (animated_gif(8, 8, 5), false, "an animated GIF"),
            (animated_gif(8, 8, 1), true, "a still GIF"),
        ];
        for (bytes, claimed, file) in cases {
            let error = refused(&bytes, Some(claimed));
            match &error {
                StickerError::Mismatch {
                    claimed: said,
                    file: is,
                } => {
                    assert_eq!(*said, claimed);
                    assert!(is.starts_with(file), "{is}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn bad_files_are_unsupported() {
        assert_eq!(refused(b"", None).code(), "STICKER_UNSUPPORTED");
        assert_eq!(
            refused(b"not an image at all", None).code(),
            "STICKER_UNSUPPORTED"
        );
        let png = encoded(200, 200, ImageFormat::Png);
        assert_eq!(
            refused(&png[..png.len() / 2], None).code(),
            "STICKER_UNSUPPORTED"
        );
        let webp = encoded(512, 512, ImageFormat::WebP);
        assert_eq!(
            refused(&webp[..webp.len() / 2], None).code(),
            "STICKER_UNSUPPORTED"
        );
        let animated = animated_webp(512, 512, 3);
        assert_eq!(
            refused(&animated[..animated.len() - 50], None).code(),
            "STICKER_UNSUPPORTED"
        );
    }

    #[test]
    fn caps_are_too_large() {
        assert_eq!(
            refused(&bomb_header(60_000, 60_000), None).code(),
            "STICKER_TOO_LARGE"
        );
        let small = StickerConfig {
            max_input_bytes: 100,
            ..config()
        };
        let error = prepare(&encoded(64, 64, ImageFormat::Png), None, &small).unwrap_err();
        assert_eq!(error.code(), "STICKER_TOO_LARGE");
        // An animated 512x512 WebP over 500 KB: noise, nearly lossless.
        let frames: Vec<_> = (0..3).map(|seed| noise(512, 512, seed)).collect();
        let big = animated_webp_of(&frames, 100.0);
        assert!(big.len() > MAX_STICKER_BYTES, "{}", big.len());
        let error = refused(&big, None);
        assert_eq!(error.code(), "STICKER_TOO_LARGE");
        assert!(format!("{error:?}").contains(&big.len().to_string()));
    }
}
