//! The template plugin (`POST /send/template`): the fuzz input is the JSON request body;
//! image headers are uploaded to the harness, image URLs fetch nothing.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_template::TemplatePlugin;

static HARNESS: LazyLock<PluginHarness<TemplatePlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
