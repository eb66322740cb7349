//! The sticker plugin (`POST /send/sticker`): the fuzz input is the JSON request body. A
//! body with a base64 picture is really judged, decoded, fitted to 512x512 and encoded with
//! libwebp (so a body with a picture costs milliseconds); `sticker_url` fetches nothing (the
//! harness refuses every URL as unreachable). One request context only: a conversion is
//! the slow part.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_sticker::StickerPlugin;

static HARNESS: LazyLock<PluginHarness<StickerPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(1));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
