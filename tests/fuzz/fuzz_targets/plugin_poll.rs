//! The poll plugin (`POST /send/poll`): the fuzz input is the JSON request body.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_poll::PollPlugin;

static HARNESS: LazyLock<PluginHarness<PollPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
