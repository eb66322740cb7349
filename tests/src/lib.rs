//! End-to-end test harness for WUTS-rs: starts the real `wuts` binary with real plugin libraries
//! on a free port and speaks HTTP to it.
//!
//! - [`locate`]: where the built binary and libraries are (`WUTS_BIN_DIR`, else the cargo
//!   target dir); nothing here builds them.
//! - [`server`]: a temp config and database per server, `wuts serve` started and stopped, its
//!   logs captured, users made through `wuts users create`.
//! - [`http`]: a blocking client where every call has a timeout.
//! - [`process`]: child processes with bounded waits.
//! - [`audio_fixtures`], [`media_fixtures`]: media made at test time; [`media_checks`]:
//!   what the media suites check alike.
//! - [`checks`]: assertions for the documented shapes (error envelopes, ids, stanza nodes).
//!
//! The tests themselves are in `e2e/`, one binary per area.

pub mod audio_fixtures;
pub mod checks;
pub mod http;
pub mod locate;
pub mod media_checks;
pub mod media_fixtures;
pub mod process;
pub mod server;
pub mod sse;

pub use http::{Auth, Body, Reply};
pub use server::{PluginDir, PluginFile, Server, ServerOptions, Setup, User};

use serde_json::{Value, json};

/// A valid phone recipient (Brazil, São Paulo mobile).
pub const PHONE: &str = "5511999999999";
/// The JID [`PHONE`] becomes.
pub const PHONE_JID: &str = "5511999999999@s.whatsapp.net";

/// A valid buttons request to `to` with `message`, no footer and these `(id, display_text)`s.
pub fn buttons_body(to: &str, message: &str, buttons: &[(&str, &str)]) -> Value {
    json!({
        "to": to,
        "message": message,
        "buttons": buttons
            .iter()
            .map(|(id, text)| json!({ "id": id, "display_text": text }))
            .collect::<Vec<_>>(),
    })
}

/// The documentation's example request: three buttons and a footer.
pub fn example_buttons_body() -> Value {
    json!({
        "to": PHONE,
        "message": "How would you like to proceed with your order?",
        "footer": "WUTS Store",
        "buttons": [
            { "id": "confirm_order", "display_text": "Confirm" },
            { "id": "change_order", "display_text": "Change items" },
            { "id": "cancel_order", "display_text": "Cancel" }
        ]
    })
}

/// A unique tenant name, so that tests never share one by accident.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}
