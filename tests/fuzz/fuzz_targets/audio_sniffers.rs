//! The audio plugin's container readers, on raw bytes: the magic-byte sniffer
//! (`codec::sniff_mime`), GStreamer's type finding as the plugin judges it (`detect`), the
//! WAV header's declared length, the MP4 index check and the MP3 gapless header.
#![no_main]

use std::sync::Once;

use libfuzzer_sys::fuzz_target;
use wuts_plugin_audio::codec::{self, readers};

static GSTREAMER: Once = Once::new();

fuzz_target!(|input: &[u8]| {
    GSTREAMER.call_once(|| codec::init().expect("GStreamer and the plugin's elements"));
    let _ = codec::sniff_mime(input);
    let _ = readers::wav_declared_seconds(input);
    let _ = readers::mp4_missing_index(input);
    let _ = readers::mp3_gapless(input);
    let _ = readers::detect(input);
});
