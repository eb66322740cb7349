//! The reaction plugin (`POST /send/reaction`): the fuzz input is the JSON request body;
//! message ids may name the harness's known messages.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_reaction::ReactionPlugin;

static HARNESS: LazyLock<PluginHarness<ReactionPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
