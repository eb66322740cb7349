//! What the file is, from its bytes alone (a URL's `Content-Type` or a `data:` URI's type is
//! not trusted): its format, and for a WebP what its header says (size, whether it is
//! animated, how many frames), read before any pixel is decoded.

use std::io::Cursor;

use image::ImageFormat;

use super::error::StickerError;

/// The formats a sticker may come in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    WebP,
    Png,
    Jpeg,
    Gif,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::WebP => "WebP",
            Format::Png => "PNG",
            Format::Jpeg => "JPEG",
            Format::Gif => "GIF",
        }
    }

    pub fn image_format(self) -> ImageFormat {
        match self {
            Format::WebP => ImageFormat::WebP,
            Format::Png => ImageFormat::Png,
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Gif => ImageFormat::Gif,
        }
    }
}

/// The format, from the file's signature. Another image format is named in the refusal.
pub fn format(bytes: &[u8]) -> Result<Format, StickerError> {
    if bytes.is_empty() {
        return Err(StickerError::Unsupported("the sticker is empty".into()));
    }
    match image::guess_format(bytes) {
        Ok(ImageFormat::WebP) => Ok(Format::WebP),
        Ok(ImageFormat::Png) => Ok(Format::Png),
        Ok(ImageFormat::Jpeg) => Ok(Format::Jpeg),
        Ok(ImageFormat::Gif) => Ok(Format::Gif),
        Ok(other) => Err(StickerError::Unsupported(format!(
            "a {other:?} image cannot be a sticker: send a WebP, PNG, JPEG or GIF"
        ))),
        Err(_) => Err(StickerError::Unsupported(
            "not an image: a sticker must be a WebP, PNG, JPEG or GIF".into(),
        )),
    }
}

/// What a WebP's header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WebpHeader {
    pub width: u32,
    pub height: u32,
    /// The VP8X header's animation flag (the reader also requires the ANIM chunk and at
    /// least one frame then, else the file is refused as corrupt).
    pub animated: bool,
    /// 1 for a still picture.
    pub frames: u32,
}

/// Reads a WebP's header and chunk list (no pixel is decoded: a frame is counted from its
/// ANMF chunk header). A file cut short in its header, or whose chunks disagree with its
/// header, is refused here.
pub fn webp_header(bytes: &[u8]) -> Result<WebpHeader, StickerError> {
    let decoder = image_webp::WebPDecoder::new(Cursor::new(bytes)).map_err(|error| {
        StickerError::Unsupported(format!("the WebP is corrupt or truncated: {error}"))
    })?;
    let (width, height) = decoder.dimensions();
    let animated = decoder.is_animated();
    Ok(WebpHeader {
        width,
        height,
        animated,
        frames: if animated { decoder.num_frames() } else { 1 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::picture::tests_support::{animated_webp, encoded};

    #[test]
    fn the_four_formats_are_told_by_their_signature() {
        for (image_format, found) in [
            (ImageFormat::WebP, Format::WebP),
            (ImageFormat::Png, Format::Png),
            (ImageFormat::Jpeg, Format::Jpeg),
            (ImageFormat::Gif, Format::Gif),
        ] {
            assert_eq!(format(&encoded(8, 8, image_format)).unwrap(), found);
        }
    }

    #[test]
    fn empty_text_and_other_formats_are_unsupported() {
        let refused = |bytes: &[u8]| match format(bytes) {
            Err(StickerError::Unsupported(reason)) => reason,
            other => panic!("{other:?}"),
        };
        assert!(refused(b"").contains("empty"));
        assert!(refused(b"just some text").contains("not an image"));
        let bmp = refused(b"BM\0\0\0\0\0\0\0\0\0\0\0\0");
        assert!(bmp.contains("Bmp"), "{bmp}");
    }

    #[test]
    fn a_webp_header_tells_still_from_animated() {
        let still = webp_header(&encoded(300, 200, ImageFormat::WebP)).unwrap();
        assert_eq!(
            still,
            WebpHeader {
                width: 300,
                height: 200,
                animated: false,
                frames: 1
            }
        );
        let animated = webp_header(&animated_webp(64, 48, 3)).unwrap();
        assert_eq!((animated.width, animated.height), (64, 48));
        assert!(animated.animated);
        assert_eq!(animated.frames, 3);
    }

    #[test]
    fn a_cut_webp_header_is_unsupported() {
        let webp = encoded(64, 64, ImageFormat::WebP);
        assert!(matches!(
            webp_header(&webp[..20]),
            Err(StickerError::Unsupported(_))
        ));
    }
}
