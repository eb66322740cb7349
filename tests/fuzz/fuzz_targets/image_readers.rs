//! The image plugin's reader of the caller's picture, on raw bytes: `picture::prepare` with
//! the default caps (format, header dimensions, decode, EXIF orientation, re-encoding,
//! thumbnail). A picture it makes must be within `max_side`, its thumbnail a JPEG within
//! 72 px.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wuts_plugin_image::config::ImageConfig;
use wuts_plugin_image::picture::{self, THUMBNAIL_SIDE};

fuzz_target!(|file: &[u8]| {
    let config = ImageConfig::default();
    let Ok(made) = picture::prepare(file, &config) else {
        return;
    };
    assert!(
        made.width.max(made.height) <= config.max_side,
        "a picture of {}x{} is sent",
        made.width,
        made.height
    );
    let thumbnail = image::load_from_memory_with_format(&made.thumbnail, image::ImageFormat::Jpeg)
        .unwrap_or_else(|error| panic!("the thumbnail does not decode: {error}"));
    assert!(
        thumbnail.width().max(thumbnail.height()) <= THUMBNAIL_SIDE,
        "a thumbnail of {}x{}",
        thumbnail.width(),
        thumbnail.height()
    );
});
