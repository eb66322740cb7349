//! The document plugin (`POST /send/document`): the fuzz input is the JSON request body. A
//! body with a base64 file gets its MIME type sniffed and, for a PDF, its pages counted by
//! lopdf (on the plugin's own counting thread, under its deadline); `document_url` fetches
//! nothing (the harness refuses every URL as unreachable).
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_document::DocumentPlugin;

static HARNESS: LazyLock<PluginHarness<DocumentPlugin>> = LazyLock::new(PluginHarness::new);

fuzz_target!(|body: &[u8]| HARNESS.run(body));
