//! The buttons plugin (`POST /send/buttons`): the fuzz input is the JSON request body.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_buttons::ButtonsPlugin;

static HARNESS: LazyLock<PluginHarness<ButtonsPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
