//! The sticker plugin's readers of the caller's file, on raw bytes: the format sniffer, the
//! WebP header reader (`picture::sniff::webp_header`: size, animation, frame count, before
//! any pixel) and `picture::prepare` with the default caps (decode, fit to 512x512, libwebp
//! encoding; `is_animated` not given). A sticker it makes must be a 512x512 WebP within
//! 500 KB, animated as the plugin says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wuts_plugin_sticker::config::StickerConfig;
use wuts_plugin_sticker::picture::{self, MAX_STICKER_BYTES, Sticker, sniff};

fuzz_target!(|file: &[u8]| {
    let _ = sniff::format(file);
    let _ = sniff::webp_header(file);
    let Ok(made) = picture::prepare(file, None, &StickerConfig::default()) else {
        return;
    };
    assert!(
        made.bytes.len() <= MAX_STICKER_BYTES,
        "a sticker of {} bytes",
        made.bytes.len()
    );
    let header = sniff::webp_header(&made.bytes)
        .unwrap_or_else(|error| panic!("the sticker made is no WebP: {error:?}"));
    assert_eq!(
        (header.width, header.height),
        (Sticker::SIDE, Sticker::SIDE),
        "the sticker made is not 512x512"
    );
    assert_eq!(header.animated, made.is_animated, "the animation flag");
});
