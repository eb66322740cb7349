//! The text plugin (`POST /send/text`): the fuzz input is the JSON request body; quoted ids
//! may name the harness's known messages, link previews fetch nothing.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_text::TextPlugin;

static HARNESS: LazyLock<PluginHarness<TextPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
