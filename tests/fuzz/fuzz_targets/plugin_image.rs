//! The image plugin (`POST /send/image`): the fuzz input is the JSON request body. A body
//! with a base64 picture is really checked, decoded, re-encoded when needed and
//! thumbnailed (`picture::prepare`); `image_url` fetches nothing (the harness refuses every
//! URL as unreachable).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_image::ImagePlugin;

static HARNESS: LazyLock<PluginHarness<ImagePlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(1));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
