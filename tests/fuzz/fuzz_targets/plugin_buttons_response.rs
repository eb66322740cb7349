//! The buttons-response plugin (`POST /send/buttons-response`): the fuzz input is the JSON
//! request body; quoted ids may name the harness's known messages.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_buttons_response::ButtonsResponsePlugin;

static HARNESS: LazyLock<PluginHarness<ButtonsResponsePlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
