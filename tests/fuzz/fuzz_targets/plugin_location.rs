//! The location plugin (`POST /send/location`, `POST /send/live-location`): the fuzz input
//! is the JSON request body, sent to both routes.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_location::LocationPlugin;

static HARNESS: LazyLock<PluginHarness<LocationPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
