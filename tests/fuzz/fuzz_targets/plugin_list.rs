//! The list plugin (`POST /send/interactive`, `POST /send/list-response`): the fuzz input is
//! the JSON request body, sent to both routes; quoted ids may name the harness's known lists.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_list::ListPlugin;

static HARNESS: LazyLock<PluginHarness<ListPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
