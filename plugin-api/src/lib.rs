//! The contract between the WUTS-rs host and its message-type plugins.
//!
//! A plugin is a `cdylib` that turns an HTTP request body into a WhatsApp message
//! (`waE2E.Message` protobuf bytes) plus the stanza nodes it needs. The host owns
//! everything else: HTTP, auth, devices, the WhatsApp session, jobs and storage.
//!
//! # Layout
//!
//! - [`sdk`]: what plugin authors write against: the [`Plugin`] trait, plain Rust
//!   request/response types, [`Route`] builders, and [`export_plugin!`], which generates
//!   the exported root module, catches panics on every entry point and forwards the
//!   plugin's `tracing` events to the host.
//! - [`request`], [`error`], [`host`]: the request a plugin reads, the error it returns,
//!   and the host's services it may call (fetch, media upload, the message log).
//! - [`config`]: reading the plugin's `[plugin.NAME]` table at `init`.
//! - [`schema`]: a request body described once, for validation and its JSON Schema;
//!   [`fields`]: reading single fields by hand; typed readers for shared fields
//!   ([`Recipient`], [`Quoted`], [`Mentioned`], [`MediaSource`]).
//! - [`node`]: stanza nodes as a plain tree ([`Node`]), and as the host holds them
//!   ([`StanzaNodes`]).
//! - `quote` (feature `quote`): a quoted reply's `contextInfo`, for the plugins that
//!   quote (text, image).
//! - [`library`]: the host's side: loading a plugin library and calling it
//!   ([`library::PluginLibrary`]), and the services it offers plugins.
//! - `abi`: the FFI-safe types and the root module, built on `abi_stable`; nothing
//!   outside this crate names them.
//!
//! # Stability
//!
//! The root module is a prefix type: later versions may append functions after the
//! last prefix field without breaking plugins built against an earlier version.
//! Messages cross the boundary as protobuf bytes, so the host and a plugin may even use
//! different protobuf crates. `abi_stable` checks every type's layout when a library is
//! loaded and refuses one built against an incompatible version of this crate.

#[doc(hidden)]
pub mod abi;
pub mod config;
pub mod error;
pub mod fields;
pub mod host;
pub mod interactive;
pub mod library;
pub mod node;
#[cfg(feature = "quote")]
pub mod quote;
pub mod recipient;
pub mod references;
pub mod request;
pub mod schema;
pub mod sdk;

mod log_bridge;

pub use node::{Node, StanzaNodes};
pub use recipient::{is_group, normalize_recipient};
pub use references::{MediaBytes, MediaSource, Mentioned, Quoted, Recipient};
pub use schema::{Kind, Schema};
pub use sdk::{
    ChatPresence, Envelope, FetchedUrl, Host, MediaKind, MediaReference, Outgoing, Plan, Plugin,
    PluginError, PluginInfo, PresenceKind, Request, RequestContext, Route, SentMessage,
    ValidationError,
};

/// What [`export_plugin!`]'s expansion uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::sdk::exported;
    pub use abi_stable::library::{LibHeader, RootModuleResult};

    use crate::abi::PluginModuleRef;

    /// Builds the root module, catching a panic (`abi_stable`'s loader wrapper).
    pub fn call_root_module_loader(build: fn() -> PluginModuleRef) -> RootModuleResult {
        abi_stable::library::__call_root_module_loader(build)
    }

    /// The header `abi_stable` reads from a library, with the layout check on.
    pub const fn lib_header(load: extern "C" fn() -> RootModuleResult) -> LibHeader {
        // SAFETY: `load` is the macro's function, which returns `call_root_module_loader`'s
        // result for a `PluginModuleRef`, the module type named here.
        unsafe {
            LibHeader::from_constructor::<PluginModuleRef>(
                load,
                abi_stable::library::CheckTypeLayout::Yes,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_guide_shows_the_example_plugin_word_for_word() {
        // The guide (README.md) builds plugin-api/examples/location.rs, which CI compiles
        // and an end-to-end test loads: this keeps the page from drifting from the code.
        let guide = include_str!("../README.md");
        let example = include_str!("../examples/location.rs");
        assert!(
            guide.contains(example),
            "README.md must show examples/location.rs word for word"
        );
    }

    #[test]
    fn the_exported_header_symbol_is_abi_stables_root_module_name() {
        // `export_plugin!` names its static this way; the loader looks for this symbol.
        assert_eq!(
            abi_stable::library::ROOT_MODULE_LOADER_NAME,
            "_1as_0lib_1header_0root_bmodule_bloader"
        );
    }
}
