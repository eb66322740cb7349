//! The message-ops plugin (`PUT /messages/{messageId}`, `DELETE /messages/delete`): the fuzz
//! input is the JSON request body (the host puts the path's `messageId` into it), sent to
//! both routes; message ids may name the harness's known messages.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use wuts_fuzz::PluginHarness;
use wuts_plugin_message_ops::MessageOpsPlugin;

static HARNESS: LazyLock<PluginHarness<MessageOpsPlugin>> =
    LazyLock::new(|| PluginHarness::with_contexts(2));

fuzz_target!(|body: &[u8]| HARNESS.run(body));
