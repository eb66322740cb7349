//! The FFI-safe types that cross between the host and a plugin library.
#![allow(non_local_definitions)] // emitted by `#[sabi_trait]`, not by code in this file
//!
//! Everything here is `#[repr(C)]` and derives `StableAbi`, so `abi_stable` can compare
//! the layouts a plugin was built with against the host's when it loads the library.
//! Plugin authors never use this module directly: [`crate::sdk`] converts to and from
//! plain Rust types.

use abi_stable::{
    StableAbi, declare_root_module_statics,
    library::RootModule,
    package_version_strings, sabi_trait,
    sabi_types::VersionStrings,
    std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec},
};

use crate::node::FlatNode;

/// Which error envelope a route answers with (see docs/API.md, "Envelopes").
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnvelopeAbi {
    /// `{"error": "<text>"}` and nothing else.
    Legacy,
    /// `{"success":false,"error","error_code","timestamp","validation"?}`.
    Standard,
}

/// One HTTP route a plugin serves.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct RouteAbi {
    pub method: RString,
    pub path: RString,
    pub operation: RString,
    pub summary: RString,
    /// The request body's JSON Schema, as JSON text.
    pub request_schema: RString,
    /// `message` of the success body, e.g. "Buttons message sent successfully".
    pub success_message: RString,
    /// Prefix of send failures, e.g. "Failed to send buttons message".
    pub failure_prefix: RString,
    pub envelope: EnvelopeAbi,
    /// Default body limit in bytes; the operator may override it.
    pub max_body_bytes: u64,
}

/// What a plugin says about itself before it is initialised.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct ManifestAbi {
    pub name: RString,
    pub version: RString,
    pub routes: RVec<RouteAbi>,
}

/// One field that failed validation.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FieldErrorAbi {
    pub field: RString,
    pub message: RString,
    /// The offending value as JSON text (`null` when absent).
    pub value_json: RString,
}

/// An error a plugin (or a host service) reports: it becomes the HTTP error response.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct PluginErrorAbi {
    pub status: u16,
    /// Stable machine-readable code, e.g. `VALIDATION_ERROR`, `AUDIO_CORRUPT`.
    pub code: RString,
    pub message: RString,
    pub validation: RVec<FieldErrorAbi>,
}

/// Facts about the request a plugin may need, borrowed from the host for the call (the
/// host builds one per call, so owned strings would cost an allocation each per send).
#[repr(C)]
#[derive(StableAbi, Debug, Clone, Copy)]
pub struct RequestContextAbi<'a> {
    pub request_id: RStr<'a>,
    pub tenant_id: RStr<'a>,
    pub user_id: RStr<'a>,
    pub device_id: RStr<'a>,
    /// The id the host will send the message under (`3EB0` + 18 hex digits).
    pub message_id: RStr<'a>,
    /// The device's own JID once it is paired.
    pub own_jid: ROption<RStr<'a>>,
    /// True when the request runs as a background job rather than inline.
    pub is_job: bool,
}

/// Whether the host should encode inline or answer 202 and run a job.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct PlanAbi {
    pub run_as_job: bool,
    /// Encode on the host's blocking pool although the route is quick.
    pub off_thread: bool,
    /// The recipient JID, for the 202 body (empty when inline).
    pub chat_jid: RString,
}

/// A message ready to send.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct OutgoingAbi {
    /// The recipient JID.
    pub to: RString,
    /// `waE2E.Message` protobuf bytes.
    pub message: RVec<u8>,
    /// Extra stanza nodes, flattened.
    pub nodes: RVec<FlatNode>,
    /// A JSON object merged into the success response (empty string for none).
    pub response_extra_json: RString,
    /// How long the host waits before it sends (milliseconds).
    pub delay_ms: u64,
    /// How long the host shows the chat a presence before it sends (milliseconds; 0 for
    /// none), and which: 0 composing ("typing..."), 1 recording.
    pub presence_ms: u64,
    pub presence_kind: u8,
    /// A message to remove from the device's message log instead of sending anything
    /// (empty string for none: then the message is sent).
    pub forget_message_id: RString,
}

/// Media kinds the host can upload.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKindAbi {
    Audio,
    Image,
    Video,
    Document,
    Sticker,
}

/// Where an uploaded file lives and the keys to read it: the fields a media message carries.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct MediaReferenceAbi {
    pub url: RString,
    pub direct_path: RString,
    pub media_key: RVec<u8>,
    pub file_sha256: RVec<u8>,
    pub file_enc_sha256: RVec<u8>,
    pub file_length: u64,
    pub media_key_timestamp: i64,
}

/// The body of a fetched URL.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FetchedAbi {
    pub bytes: RVec<u8>,
    pub content_type: ROption<RString>,
    pub elapsed_ms: u64,
}

/// A message the host has in its log (sent or received by this tenant's device).
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct SentMessageAbi {
    pub message_id: RString,
    pub chat_jid: RString,
    /// Who wrote it, when known (our own JID for sent messages).
    pub sender_jid: ROption<RString>,
    pub from_me: bool,
    /// `waE2E.Message` protobuf bytes.
    pub message: RVec<u8>,
    /// When it was sent or received: Unix milliseconds.
    pub timestamp_ms: i64,
}

/// Log levels, most severe first.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevelAbi {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// The host's log sink, handed to a plugin at init.
#[sabi_trait]
pub trait LogSink: Send + Sync + 'static {
    #[sabi(last_prefix_field)]
    fn log(&self, level: LogLevelAbi, target: RStr<'_>, message: RStr<'_>);
}

/// An owned, FFI-safe log sink.
pub type LogSinkBox = LogSink_TO<RBox<()>>;

/// What the host does for a plugin during one request. The calls block; the host runs
/// plugin code on its blocking pool, except for quick routes, where `fetch` and
/// `upload_media` are refused.
#[sabi_trait]
pub trait HostServices: Send + Sync + 'static {
    /// Fetches `url` under the host's network policy (timeout, redirects, private
    /// addresses), refusing bodies over `max_bytes`.
    fn fetch(&self, url: RStr<'_>, max_bytes: u64) -> RResult<FetchedAbi, PluginErrorAbi>;

    /// Uploads media through the device's session.
    fn upload_media(
        &self,
        bytes: RSlice<'_, u8>,
        kind: MediaKindAbi,
        mimetype: RStr<'_>,
    ) -> RResult<MediaReferenceAbi, PluginErrorAbi>;

    /// Looks a message up in this device's log by id.
    #[sabi(last_prefix_field)]
    fn find_message(&self, message_id: RStr<'_>) -> ROption<SentMessageAbi>;
}

/// An owned, FFI-safe handle on the host's services.
pub type HostServicesBox = HostServices_TO<RBox<()>>;

/// Arguments of `init`.
#[repr(C)]
#[derive(StableAbi)]
pub struct InitArgs {
    /// The plugin's `[plugin.NAME]` table from the configuration, as JSON text.
    pub config_json: RString,
    pub log_sink: LogSinkBox,
    /// The most verbose level the host records; the plugin need not format finer events.
    pub max_level: LogLevelAbi,
}

/// The root module every plugin library exports.
///
/// New functions go after the last prefix field, so a host can load plugins built
/// against an earlier version of this crate (a missing function reads as `None`).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModuleRef)))]
pub struct PluginModule {
    pub manifest: extern "C" fn() -> RResult<ManifestAbi, PluginErrorAbi>,
    pub init: extern "C" fn(args: InitArgs) -> RResult<(), PluginErrorAbi>,
    pub plan: extern "C" fn(
        route: RStr<'_>,
        body: RSlice<'_, u8>,
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> RResult<PlanAbi, PluginErrorAbi>,
    #[sabi(last_prefix_field)]
    pub encode: extern "C" fn(
        route: RStr<'_>,
        body: RSlice<'_, u8>,
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> RResult<OutgoingAbi, PluginErrorAbi>,
    /// Paths of the routes whose `plan` and `encode` are quick (see
    /// [`Route::quick`](crate::Route::quick)). Added after the first release: a plugin
    /// built without it has no quick routes.
    pub quick_routes: extern "C" fn() -> RVec<RString>,
}

impl RootModule for PluginModuleRef {
    declare_root_module_statics! {PluginModuleRef}
    const BASE_NAME: &'static str = "wuts_plugin";
    const NAME: &'static str = "wuts_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}
