//! The audio plugin (`POST /send/audio`): the fuzz input is the JSON request body. A body
//! with base64 audio that GStreamer recognises is really transcoded (so this target runs
//! far fewer inputs a second than the others); `audio_url` fetches nothing. One request
//! context only: a transcode costs milliseconds.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_audio::AudioPlugin;

static HARNESS: LazyLock<PluginHarness<AudioPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(1));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
