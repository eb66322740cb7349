//! The contract between the WUTS-rs host and its message-type plugins.
//!
//! A plugin is a `cdylib` that turns an HTTP request body into a WhatsApp message
//! (`waE2E.Message` protobuf bytes) plus the stanza nodes it needs. The host owns
//! everything else: HTTP, auth, devices, the WhatsApp session, jobs and storage.
//!
//! # Layout
//!
//! - [`abi`]: the FFI-safe types and the root module, built on `abi_stable`. Only the
//!   host's loader and this crate's SDK touch it.
//! - [`sdk`]: what plugin authors write against: the [`Plugin`] trait, plain Rust
//!   request/response types, and [`export_plugin!`], which generates the exported root
//!   module, catches panics on every entry point and forwards the plugin's `tracing`
//!   events to the host.
//! - [`node`]: stanza nodes as a plain tree, and their flat FFI form.
//!
//! # Stability
//!
//! The root module is a prefix type: later versions may append functions after the
//! last prefix field without breaking plugins built against an earlier version.
//! Messages cross the boundary as protobuf bytes, so the host and a plugin may even use
//! different protobuf crates. `abi_stable` checks every type's layout when a library is
//! loaded and refuses one built against an incompatible version of this crate.

pub mod abi;
pub mod fields;
pub mod node;
pub mod recipient;
pub mod sdk;

mod log_bridge;

pub use node::Node;
pub use recipient::{is_group, normalize_recipient};
pub use sdk::{
    Envelope, FetchedUrl, Host, MediaKind, MediaReference, Outgoing, Plan, Plugin, PluginError,
    PluginInfo, Request, RequestContext, Route, SentMessage, ValidationError,
};

/// Re-exports used by [`export_plugin!`]'s expansion; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::exported;
    pub use abi_stable;
}
