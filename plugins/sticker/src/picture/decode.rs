//! Decoding the caller's pixels under caps, with the pure-Rust decoders of the `image`
//! crate (as plugins/image/src/picture.rs does): a still picture whole, an animation frame
//! by frame, handed to the caller one at a time so only what it keeps stays in memory.
//!
//! The caps are checked before the pixels they guard are allocated: the canvas size from
//! the header, then, frame after frame, the number of frames and the pixels decoded so far.

use std::io::Cursor;

use image::codecs::gif::GifDecoder;
use image::codecs::webp::WebPDecoder;
use image::error::LimitErrorKind;
use image::{AnimationDecoder, ImageDecoder, ImageError, ImageReader, Limits, RgbaImage};

use super::Frame;
use super::error::StickerError;
use super::sniff::Format;
use crate::config::StickerConfig;

/// The largest side any header may state: 65,535 is the most a JPEG or GIF header can
/// hold; a larger PNG side is refused as too large before its pixels are counted.
const MAX_HEADER_SIDE: u32 = 65_535;
/// Bytes per pixel the decode budget allows: 8-bit RGBA. Decoders also need working
/// buffers (a PNG's inflated rows), hence the slack.
const ALLOC_BYTES_PER_PIXEL: u64 = 4;
const ALLOC_SLACK: u64 = 64 * 1024 * 1024;
/// A frame shown for 10 ms or less is shown for 100 ms, as browsers do with GIFs (whose
/// authors rely on it: a delay of 0 means "the default").
const SHORTEST_DELAY_MS: u32 = 10;
const DEFAULT_DELAY_MS: u32 = 100;

/// The decode limits: set on every decoder before it reads past the header.
fn limits(config: &StickerConfig) -> Limits {
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

/// How a decoder's error reads to the caller.
fn judged(error: ImageError) -> StickerError {
    match error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => StickerError::TooLarge(format!(
                "the image is too large: a side over {MAX_HEADER_SIDE} px"
            )),
            _ => StickerError::TooLarge(
                "the image is too large to decode within the memory cap".to_string(),
            ),
        },
        ImageError::Unsupported(error) => {
            StickerError::Unsupported(format!("this image cannot be read: {error}"))
        }
        ImageError::Decoding(error) => {
            StickerError::Unsupported(format!("the image is corrupt or truncated: {error}"))
        }
        ImageError::IoError(error) => {
            StickerError::Unsupported(format!("the image is truncated: {error}"))
        }
        other => StickerError::Unsupported(format!("the image cannot be decoded: {other}")),
    }
}

/// Refuses a canvas over the megapixel cap.
pub fn check_canvas(width: u32, height: u32, config: &StickerConfig) -> Result<(), StickerError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels > config.max_pixels() {
        return Err(StickerError::TooLarge(format!(
            "the image is {width}x{height} ({pixels} pixels), at most {} megapixels allowed",
            config.max_megapixels
        )));
    }
    Ok(())
}

/// Refuses an animation whose frames, or whose pixels over all frames, are over the caps.
pub fn check_animation(
    width: u32,
    height: u32,
    frames: u64,
    config: &StickerConfig,
) -> Result<(), StickerError> {
    if frames > config.max_frames {
        return Err(StickerError::TooLarge(format!(
            "the animation has {frames} frames or more, at most {} allowed",
            config.max_frames
        )));
    }
    let pixels = u64::from(width) * u64::from(height) * frames;
    if pixels > config.max_pixels() {
        return Err(StickerError::TooLarge(format!(
            "the animation is {frames} frames of {width}x{height} ({pixels} pixels in all), \
             at most {} megapixels allowed",
            config.max_megapixels
        )));
    }
    Ok(())
}

/// Decodes a still picture (PNG, JPEG, or a WebP that is not animated), its size checked
/// from the header first. CPU-bound: call it off the HTTP threads.
pub fn still(
    bytes: &[u8],
    format: Format,
    config: &StickerConfig,
) -> Result<RgbaImage, StickerError> {
    let limits = limits(config);
    let reader = |bytes| {
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format.image_format());
        reader.limits(limits.clone());
        reader
    };
    let (width, height) = reader(bytes).into_dimensions().map_err(judged)?;
    check_canvas(width, height, config)?;
    Ok(reader(bytes).decode().map_err(judged)?.into_rgba8())
}

/// Decodes a GIF or an animated WebP frame by frame, each frame the whole canvas as it is
/// shown, and hands it to `keep` with its index; returns the number of frames. Stops with
/// an error at the first frame over a cap, or the first error `keep` returns.
pub fn frames(
    bytes: &[u8],
    format: Format,
    config: &StickerConfig,
    mut keep: impl FnMut(usize, Frame) -> Result<(), StickerError>,
) -> Result<usize, StickerError> {
    let limits = limits(config);
    let frames = match format {
        Format::Gif => {
            let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(judged)?;
            decoder.set_limits(limits).map_err(judged)?;
            let (width, height) = decoder.dimensions();
            check_canvas(width, height, config)?;
            decoder.into_frames()
        }
        Format::WebP => {
            let mut decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(judged)?;
            decoder.set_limits(limits).map_err(judged)?;
            let (width, height) = decoder.dimensions();
            check_canvas(width, height, config)?;
            decoder.into_frames()
        }
        Format::Png | Format::Jpeg => unreachable!("only GIF and WebP are decoded as frames"),
    };
    let mut count = 0;
    for frame in frames {
        let frame = frame.map_err(judged)?;
        let (numerator, denominator) = frame.delay().numer_denom_ms();
        let delay_ms = numerator.checked_div(denominator).unwrap_or(0);
        let image = frame.into_buffer();
        check_animation(image.width(), image.height(), count as u64 + 1, config)?;
        let delay_ms = if delay_ms <= SHORTEST_DELAY_MS {
            DEFAULT_DELAY_MS
        } else {
            delay_ms
        };
        keep(count, Frame { image, delay_ms })?;
        count += 1;
    }
    if count == 0 {
        return Err(StickerError::Unsupported(format!(
            "the {} has no frame",
            format.name()
        )));
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::tests_support::{animated_gif, animated_webp, bomb_header, encoded};
    use image::ImageFormat;

    fn config() -> StickerConfig {
        StickerConfig::default()
    }

    #[track_caller]
    fn code(result: Result<impl std::fmt::Debug, StickerError>) -> &'static str {
        result.unwrap_err().code()
    }

    #[test]
    fn a_still_decodes_to_its_size() {
        for format in [Format::Png, Format::Jpeg, Format::WebP, Format::Gif] {
            let bytes = encoded(40, 30, format.image_format());
            let picture = still(&bytes, format, &config()).unwrap();
            assert_eq!(picture.dimensions(), (40, 30), "{format:?}");
        }
    }

    #[test]
    fn frames_come_one_by_one_with_their_delays() {
        for (format, bytes) in [
            (Format::Gif, animated_gif(30, 20, 4)),
            (Format::WebP, animated_webp(30, 20, 4)),
        ] {
            let mut seen = Vec::new();
            let count = frames(&bytes, format, &config(), |index, frame| {
                seen.push((index, frame.image.dimensions(), frame.delay_ms));
                Ok(())
            })
            .unwrap();
            assert_eq!(count, 4, "{format:?}");
            assert_eq!(seen[0], (0, (30, 20), 80), "{format:?}");
            assert_eq!(seen[3].0, 3);
        }
    }

    #[test]
    fn a_zero_delay_is_shown_for_100_ms() {
        let gif = crate::picture::tests_support::gif_with_delay(8, 8, 2, 0);
        let mut delays = Vec::new();
        frames(&gif, Format::Gif, &config(), |_, frame| {
            delays.push(frame.delay_ms);
            Ok(())
        })
        .unwrap();
        assert_eq!(delays, [100, 100]);
    }

    #[test]
    fn caps_refuse_before_decoding() {
        assert_eq!(
            code(still(&bomb_header(60_000, 60_000), Format::Png, &config())),
            "STICKER_TOO_LARGE"
        );
        let few_frames = StickerConfig {
            max_frames: 3,
            ..config()
        };
        let gif = animated_gif(8, 8, 4);
        assert_eq!(
            code(frames(&gif, Format::Gif, &few_frames, |_, _| Ok(()))),
            "STICKER_TOO_LARGE"
        );
        assert!(check_animation(1000, 1000, 51, &config()).is_err());
        assert!(check_animation(1000, 1000, 50, &config()).is_ok());
        assert!(check_canvas(10_000, 5_001, &config()).is_err());
    }

    #[test]
    fn truncated_and_corrupt_are_unsupported() {
        let png = encoded(200, 200, ImageFormat::Png);
        assert_eq!(
            code(still(&png[..png.len() / 2], Format::Png, &config())),
            "STICKER_UNSUPPORTED"
        );
        assert_eq!(
            code(still(&png[..8], Format::Png, &config())),
            "STICKER_UNSUPPORTED"
        );
        let gif = animated_gif(64, 64, 3);
        assert_eq!(
            code(frames(
                &gif[..gif.len() - 40],
                Format::Gif,
                &config(),
                |_, _| Ok(())
            )),
            "STICKER_UNSUPPORTED"
        );
        let webp = animated_webp(64, 64, 3);
        assert_eq!(
            code(frames(
                &webp[..webp.len() - 40],
                Format::WebP,
                &config(),
                |_, _| Ok(())
            )),
            "STICKER_UNSUPPORTED"
        );
    }
}
