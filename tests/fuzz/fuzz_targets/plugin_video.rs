//! The video plugin (`POST /send/video`): the fuzz input is the JSON request body. A body
//! with base64 video that GStreamer recognises is really type-found, its MP4 boxes walked,
//! probed and, when needed, remuxed or transcoded (so this target runs far fewer inputs a
//! second than the others); a custom `thumbnail` is decoded; `video_url` fetches nothing
//! (the harness refuses every URL as unreachable). One request context only: a probe costs
//! milliseconds, a transcode more.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_video::VideoPlugin;

static HARNESS: LazyLock<PluginHarness<VideoPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(1));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
