//! The plugin SDK: plain Rust types and the [`Plugin`] trait.
//!
//! A plugin implements [`Plugin`] and calls [`export_plugin!`](crate::export_plugin)
//! once; it never names an `abi_stable` type. The conversions to the FFI forms in
//! [`crate::abi`] live here.

use abi_stable::std_types::RString;

use crate::abi::{ManifestAbi, OutgoingAbi, PlanAbi, RouteAbi};
use crate::node::Node;
use crate::schema::Schema;

pub use crate::abi::EnvelopeAbi as Envelope;
pub use crate::error::{PluginError, ValidationError};
pub use crate::host::{FetchedUrl, Host, MediaKind, MediaReference, SentMessage};
pub use crate::request::{Request, RequestContext};

/// Whether the host should encode inline or answer 202 and run the request as a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Inline,
    /// Inline, but encode on the host's blocking pool although the route is
    /// [`Route::quick`]: for the requests of a quick route that need to fetch or upload
    /// (a text with a link preview). `plan` itself ran on an HTTP thread; `encode` may
    /// block. The same as [`Plan::Inline`] on a route that is not quick.
    OffThread,
    /// Persist the request, answer 202, encode and send in the background.
    Job {
        chat_jid: String,
    },
}

impl From<Plan> for PlanAbi {
    fn from(plan: Plan) -> Self {
        match plan {
            Plan::Inline => PlanAbi {
                run_as_job: false,
                off_thread: false,
                chat_jid: RString::new(),
            },
            Plan::OffThread => PlanAbi {
                run_as_job: false,
                off_thread: true,
                chat_jid: RString::new(),
            },
            Plan::Job { chat_jid } => PlanAbi {
                run_as_job: true,
                off_thread: false,
                chat_jid: chat_jid.into(),
            },
        }
    }
}

/// One HTTP route a plugin serves.
#[derive(Debug, Clone)]
pub struct Route {
    pub method: String,
    pub path: String,
    /// A short operation name, e.g. `sendButtons`.
    pub operation: String,
    pub summary: String,
    /// JSON Schema of the request body; [`Route::request`] sets it from the [`Schema`]
    /// the plugin validates with, so the two cannot disagree. The host does not validate
    /// against it: the plugin does, in `plan`/`encode` (see [`Request::parse`]).
    pub request_schema: serde_json::Value,
    /// `message` of a legacy-envelope route's 200, e.g. "Buttons message sent
    /// successfully". Standard-envelope routes answer `"status":"sent"` and `chat_jid`
    /// instead, as WUTS does; a standard route that sets a message answers its 200 in
    /// the short shape (`success, message_id, timestamp, message`, no `status` or
    /// `chat_jid`) and its errors in the standard envelope, as WUTS prints
    /// `/send/sticker`. One that wants a `message` besides `status` puts it in
    /// [`Outgoing::response_extra`].
    pub success_message: String,
    /// Prefix of a send failure's text, e.g. "Failed to send buttons message": the host
    /// answers `"<prefix>: <reason>"` (reason `timeout` when the ack did not come).
    pub failure_prefix: String,
    pub envelope: Envelope,
    /// Default body limit in bytes; `[body_limits]` in the configuration overrides it.
    pub max_body_bytes: u64,
    /// `plan` and `encode` are quick, CPU-only work (microseconds: parse, validate,
    /// build the message) that never calls [`Host::fetch`] or [`Host::upload_media`].
    /// The host then calls them on its HTTP threads instead of handing each request to
    /// its blocking pool, which saves two thread hand-offs per request. On a quick route
    /// `fetch` and `upload_media` fail with a 500 `HOST_SERVICE_UNAVAILABLE`;
    /// [`Host::find_message`] is allowed; a request that needs them returns
    /// [`Plan::OffThread`] from `plan`. Leave it `false` when in doubt.
    pub quick: bool,
}

/// The default body limit of a route: 64 KiB, ample for JSON without media.
pub const DEFAULT_BODY_LIMIT: u64 = 64 * 1024;

impl Route {
    /// A route with `method` and `path` (a plain path: letters, digits, `/-_.`, with at
    /// most one whole segment a `{name}` parameter, whose matched value the host puts
    /// into the JSON body as the field `name`) and defaults for the rest: an operation name from the path, the standard envelope,
    /// a 64 KiB body limit, not quick, an empty object schema.
    pub fn new(method: &str, path: &str) -> Route {
        Route {
            method: method.to_ascii_uppercase(),
            path: path.to_string(),
            operation: operation_name(method, path),
            summary: String::new(),
            request_schema: serde_json::json!({"type": "object"}),
            success_message: String::new(),
            failure_prefix: String::new(),
            envelope: Envelope::Standard,
            max_body_bytes: DEFAULT_BODY_LIMIT,
            quick: false,
        }
    }

    pub fn post(path: &str) -> Route {
        Route::new("POST", path)
    }

    pub fn put(path: &str) -> Route {
        Route::new("PUT", path)
    }

    pub fn delete(path: &str) -> Route {
        Route::new("DELETE", path)
    }

    /// The operation name (OpenAPI's `operationId`), e.g. `sendLocation`.
    pub fn operation(mut self, operation: &str) -> Route {
        self.operation = operation.to_string();
        self
    }

    pub fn summary(mut self, summary: &str) -> Route {
        self.summary = summary.to_string();
        self
    }

    /// The request body's shape: its JSON Schema comes from the same [`Schema`] the
    /// plugin validates with.
    pub fn request(mut self, schema: &Schema) -> Route {
        self.request_schema = schema.json_schema();
        self
    }

    /// Answers errors in the legacy envelope (`{"error": "<text>"}`) and success with
    /// `message` (see [`Route::success_message`]).
    pub fn legacy(mut self) -> Route {
        self.envelope = Envelope::Legacy;
        self
    }

    pub fn success_message(mut self, message: &str) -> Route {
        self.success_message = message.to_string();
        self
    }

    pub fn failure_prefix(mut self, prefix: &str) -> Route {
        self.failure_prefix = prefix.to_string();
        self
    }

    pub fn max_body_bytes(mut self, bytes: u64) -> Route {
        self.max_body_bytes = bytes;
        self
    }

    /// Declares `plan` and `encode` quick (see [`Route::quick`]).
    pub fn quick(mut self) -> Route {
        self.quick = true;
        self
    }
}

/// `POST /send/live-location` -> `sendLiveLocation`; `PUT /messages/x` -> `putMessagesX`.
fn operation_name(method: &str, path: &str) -> String {
    let mut name = String::new();
    let words = path
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty());
    for word in words {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            if name.is_empty() {
                name.extend(first.to_lowercase());
            } else {
                name.extend(first.to_uppercase());
            }
            name.push_str(chars.as_str());
        }
    }
    if !path.starts_with("/send/") || !method.eq_ignore_ascii_case("POST") {
        let mut prefixed = method.to_ascii_lowercase();
        let mut chars = name.chars();
        if let Some(first) = chars.next() {
            prefixed.extend(first.to_uppercase());
            prefixed.push_str(chars.as_str());
        }
        return prefixed;
    }
    name
}

/// A plugin's name, version and routes.
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub name: String,
    /// Empty = the plugin crate's own version (`version` in its Cargo.toml), filled in by
    /// [`export_plugin!`](crate::export_plugin).
    pub version: String,
    pub routes: Vec<Route>,
}

impl PluginInfo {
    /// A plugin named `name` (what `[plugins] load` and `[plugin.NAME]` call it), with
    /// its crate's version and no routes yet.
    pub fn new(name: &str) -> PluginInfo {
        PluginInfo {
            name: name.to_string(),
            version: String::new(),
            routes: Vec::new(),
        }
    }

    pub fn route(mut self, route: Route) -> PluginInfo {
        self.routes.push(route);
        self
    }
}

/// A message ready to send.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    /// The recipient JID.
    pub to: String,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    /// Extra stanza nodes the message needs.
    pub nodes: Vec<Node>,
    /// A JSON object the host merges into the success response.
    pub response_extra: Option<serde_json::Value>,
    /// How long the host waits before it sends: WUTS's `delay`. The host waits on a
    /// timer, holding no thread, so never sleep in `encode` for this.
    pub delay: std::time::Duration,
    /// A presence the host shows the chat for a while before it sends (after `delay`):
    /// "typing..." for `typingDuration`, "recording audio..." for a voice note.
    pub presence: Option<ChatPresence>,
    /// Instead of sending: remove this message (by id) from the device's message log,
    /// WUTS's delete "for me". Nothing goes to WhatsApp (`to`, `message`, `nodes`,
    /// `delay` and `presence` are not used but `to`, which the answer names as its
    /// `chat_jid`), the answer's `status` is `"deleted"`, and the device emits
    /// `message.delete_for_me`. A message the log does not hold (any more) is a 404.
    pub forget_message: Option<String>,
}

/// A presence shown in the recipient's chat before a message: what WhatsApp shows while
/// someone types or records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChatPresence {
    pub kind: PresenceKind,
    pub duration: std::time::Duration,
}

/// Which presence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresenceKind {
    /// "typing..."
    Composing,
    /// "recording audio..."
    Recording,
}

impl ChatPresence {
    /// "typing..." for `duration`.
    pub fn typing(duration: std::time::Duration) -> ChatPresence {
        ChatPresence {
            kind: PresenceKind::Composing,
            duration,
        }
    }

    /// "recording audio..." for `duration`.
    pub fn recording(duration: std::time::Duration) -> ChatPresence {
        ChatPresence {
            kind: PresenceKind::Recording,
            duration,
        }
    }
}

/// A message type. Implement it, then call [`export_plugin!`](crate::export_plugin).
///
/// `encode` and `plan` run on the host's blocking pool, possibly on several threads at
/// once; they may block (fetching, transcoding) but must not assume a tokio runtime.
/// Those of a [`Route::quick`] route run on the host's HTTP threads and must not block.
/// A panic in any of them becomes a 500 error response, never a dead host.
pub trait Plugin: Sized + Default + Send + Sync + 'static {
    /// Name, version and routes. Called before `init`.
    fn info() -> PluginInfo;

    /// Builds the plugin from its `[plugin.NAME]` configuration table (`{}` when absent).
    /// By default the table is ignored and the plugin is `Self::default()`.
    fn init(_config: serde_json::Value) -> Result<Self, PluginError> {
        Ok(Self::default())
    }

    /// Whether the host should encode inline or answer 202 and run a job. Validate here
    /// what can be validated cheaply, so bad input is a 400 before any 202.
    fn plan(&self, _request: &Request<'_>, _host: &Host<'_>) -> Result<Plan, PluginError> {
        Ok(Plan::Inline)
    }

    /// Turns a request into a message.
    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError>;
}

// ---- conversions between the SDK types and their FFI forms ----

impl From<Route> for RouteAbi {
    fn from(route: Route) -> Self {
        RouteAbi {
            method: route.method.into(),
            path: route.path.into(),
            operation: route.operation.into(),
            summary: route.summary.into(),
            request_schema: route.request_schema.to_string().into(),
            success_message: route.success_message.into(),
            failure_prefix: route.failure_prefix.into(),
            envelope: route.envelope,
            max_body_bytes: route.max_body_bytes,
        }
    }
}

impl From<PluginInfo> for ManifestAbi {
    fn from(info: PluginInfo) -> Self {
        ManifestAbi {
            name: info.name.into(),
            version: info.version.into(),
            routes: info.routes.into_iter().map(RouteAbi::from).collect(),
        }
    }
}

impl From<Outgoing> for OutgoingAbi {
    fn from(outgoing: Outgoing) -> Self {
        OutgoingAbi {
            to: outgoing.to.into(),
            message: outgoing.message.into(),
            nodes: Node::into_flat(outgoing.nodes),
            response_extra_json: outgoing
                .response_extra
                .map(|extra| extra.to_string())
                .unwrap_or_default()
                .into(),
            delay_ms: millis(outgoing.delay),
            presence_ms: outgoing
                .presence
                .map_or(0, |presence| millis(presence.duration)),
            presence_kind: match outgoing.presence.map(|presence| presence.kind) {
                Some(PresenceKind::Recording) => 1,
                _ => 0,
            },
            forget_message_id: outgoing.forget_message.unwrap_or_default().into(),
        }
    }
}

fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The generic `extern "C"` entry points [`export_plugin!`](crate::export_plugin) wires
/// into the root module. Every one catches panics.
pub mod exported {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::sync::OnceLock;

    use abi_stable::prefix_type::PrefixTypeTrait;
    use abi_stable::std_types::{RResult, RSlice, RStr, RString, RVec};

    use super::{Host, Plugin, PluginError, Request, RequestContext};
    use crate::abi::{
        HostServicesBox, InitArgs, ManifestAbi, OutgoingAbi, PlanAbi, PluginErrorAbi, PluginModule,
        PluginModuleRef, RequestContextAbi,
    };

    /// Gives the generic entry points the plugin's one instance. Implemented by the macro.
    pub trait Instance: Plugin {
        fn slot() -> &'static OnceLock<Self>;

        /// The plugin crate's version, for a [`PluginInfo`](super::PluginInfo) that
        /// leaves it empty.
        fn crate_version() -> &'static str {
            ""
        }
    }

    fn info<P: Instance>() -> super::PluginInfo {
        let mut info = P::info();
        if info.version.is_empty() {
            info.version = P::crate_version().to_string();
        }
        info
    }

    /// Builds the root module for plugin type `P`.
    pub fn root_module<P: Instance>() -> PluginModuleRef {
        PluginModule {
            manifest: manifest::<P>,
            init: init::<P>,
            plan: plan::<P>,
            encode: encode::<P>,
            quick_routes: quick_routes::<P>,
        }
        .leak_into_prefix()
    }

    fn guarded<T>(body: impl FnOnce() -> Result<T, PluginError>) -> RResult<T, PluginErrorAbi> {
        match catch_unwind(AssertUnwindSafe(body)) {
            Ok(Ok(value)) => RResult::ROk(value),
            Ok(Err(error)) => RResult::RErr(error.into()),
            // The panic's message is not logged: it may carry request data (a field's
            // value, a phone number). The panic hook logged where it happened.
            Err(_) => {
                RResult::RErr(PluginError::new(500, "PLUGIN_PANIC", "internal plugin error").into())
            }
        }
    }

    /// Replaces this library's panic hook (a plugin has its own copy of std, so its own
    /// hook): the default one prints the panic's message to stderr, and a message may
    /// carry request data. This one logs only where the panic happened.
    fn install_panic_hook() {
        std::panic::set_hook(Box::new(|info| {
            let location = info
                .location()
                .map(|at| format!("{}:{}", at.file(), at.line()))
                .unwrap_or_else(|| "an unknown place".to_string());
            tracing::error!(target: "plugin", "plugin panicked at {location} (message withheld)");
        }));
    }

    fn instance<P: Instance>() -> Result<&'static P, PluginError> {
        P::slot()
            .get()
            .ok_or_else(|| PluginError::internal("plugin used before init"))
    }

    extern "C" fn manifest<P: Instance>() -> RResult<ManifestAbi, PluginErrorAbi> {
        guarded(|| Ok(info::<P>().into()))
    }

    extern "C" fn quick_routes<P: Instance>() -> RVec<RString> {
        // A panic here only costs the plugin its quick routes.
        catch_unwind(|| {
            P::info()
                .routes
                .into_iter()
                .filter(|route| route.quick)
                .map(|route| RString::from(route.path))
                .collect()
        })
        .unwrap_or_default()
    }

    extern "C" fn init<P: Instance>(args: InitArgs) -> RResult<(), PluginErrorAbi> {
        guarded(move || {
            crate::log_bridge::install(args.log_sink, args.max_level);
            install_panic_hook();
            let config = serde_json::from_str(&args.config_json).map_err(|error| {
                PluginError::internal(format!("plugin configuration is not valid JSON: {error}"))
            })?;
            let plugin = P::init(config)?;
            // A second init keeps the first instance; the host inits each library once.
            let _ = P::slot().set(plugin);
            Ok(())
        })
    }

    extern "C" fn plan<P: Instance>(
        route: RStr<'_>,
        body: RSlice<'_, u8>,
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> RResult<PlanAbi, PluginErrorAbi> {
        guarded(|| {
            let request = Request {
                route: route.as_str(),
                body: body.as_slice(),
                context: RequestContext::from(context),
            };
            instance::<P>()?
                .plan(&request, &Host::from_abi(host))
                .map(PlanAbi::from)
        })
    }

    extern "C" fn encode<P: Instance>(
        route: RStr<'_>,
        body: RSlice<'_, u8>,
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> RResult<OutgoingAbi, PluginErrorAbi> {
        guarded(|| {
            let request = Request {
                route: route.as_str(),
                body: body.as_slice(),
                context: RequestContext::from(context),
            };
            instance::<P>()?
                .encode(&request, &Host::from_abi(host))
                .map(OutgoingAbi::from)
        })
    }
}

/// Exports a [`Plugin`] implementation as this library's root module.
///
/// ```ignore
/// #[derive(Default)]
/// struct Hello;
/// impl wuts_plugin_api::Plugin for Hello { /* ... */ }
/// wuts_plugin_api::export_plugin!(Hello);
/// ```
///
/// The plugin crate needs `wuts-plugin-api` and nothing ABI-related: what `abi_stable`'s
/// `#[export_root_module]` would generate is written here through `$crate`.
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        impl $crate::__private::exported::Instance for $plugin {
            fn slot() -> &'static ::std::sync::OnceLock<Self> {
                static SLOT: ::std::sync::OnceLock<$plugin> = ::std::sync::OnceLock::new();
                &SLOT
            }

            fn crate_version() -> &'static str {
                env!("CARGO_PKG_VERSION")
            }
        }

        /// The library's header, found by the host under `abi_stable`'s root-module
        /// symbol name when it loads this library (a unit test of `wuts-plugin-api`
        /// holds the name to `abi_stable`'s).
        #[unsafe(no_mangle)]
        #[allow(non_upper_case_globals)]
        pub static _1as_0lib_1header_0root_bmodule_bloader: $crate::__private::LibHeader = {
            extern "C" fn load_root_module() -> $crate::__private::RootModuleResult {
                $crate::__private::call_root_module_loader(|| {
                    $crate::__private::exported::root_module::<$plugin>()
                })
            }
            $crate::__private::lib_header(load_root_module)
        };
    };
}

/// What this crate's own tests hand a plugin for host services.
#[cfg(test)]
pub(crate) mod tests_support {
    use super::{FetchedUrl, MediaKind, MediaReference, PluginError, SentMessage};
    use crate::abi::HostServicesBox;
    use crate::library::{HostServices, Services};

    /// Services that fetch, upload and find nothing.
    struct NoServices;

    impl HostServices for NoServices {
        fn fetch(&self, _: &str, _: u64) -> Result<FetchedUrl, PluginError> {
            Err(PluginError::internal("no fetching in this test"))
        }
        fn upload_media(
            &self,
            _: &[u8],
            _: MediaKind,
            _: &str,
        ) -> Result<MediaReference, PluginError> {
            Err(PluginError::internal("no uploads in this test"))
        }
        fn find_message(&self, _: &str) -> Option<SentMessage> {
            None
        }
    }

    pub fn no_services() -> HostServicesBox {
        Services::new(NoServices).into_abi()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct TwoRoutes;

    fn route(path: &str, quick: bool) -> Route {
        let route = Route::post(path);
        if quick { route.quick() } else { route }
    }

    #[test]
    fn route_builders_fill_in_defaults() {
        let route = Route::post("/send/live-location");
        assert_eq!(route.method, "POST");
        assert_eq!(route.operation, "sendLiveLocation");
        assert_eq!(route.envelope, Envelope::Standard);
        assert_eq!(route.max_body_bytes, DEFAULT_BODY_LIMIT);
        assert!(!route.quick);
        assert_eq!(Route::put("/messages/edit").operation, "putMessagesEdit");
        let schema = crate::Schema::object().required("to", crate::Kind::recipient());
        let route = Route::post("/send/x").request(&schema).legacy().quick();
        assert_eq!(route.request_schema["required"], serde_json::json!(["to"]));
        assert!(route.quick && route.envelope == Envelope::Legacy);
    }

    #[test]
    fn parse_validates_then_reads_typed_fields() {
        #[derive(serde::Deserialize)]
        struct Body {
            to: crate::Recipient,
            latitude: f64,
        }
        let schema = crate::Schema::object()
            .required("to", crate::Kind::recipient())
            .required("latitude", crate::Kind::number(-90.0..=90.0));
        let request = |body: &'static [u8]| Request {
            route: "/x",
            body,
            context: RequestContext::default(),
        };
        let body: Body = request(br#"{"to":"+55 11 99999-9999","latitude":-23.5}"#)
            .parse(&schema)
            .unwrap();
        assert_eq!(body.to.0, "5511999999999@s.whatsapp.net");
        assert_eq!(body.latitude, -23.5);
        let error = request(br#"{"to":"5511999999999","latitude":200}"#)
            .parse::<Body>(&schema)
            .err()
            .unwrap();
        assert_eq!(error.validation[0].field, "latitude");
    }

    impl Plugin for TwoRoutes {
        fn info() -> PluginInfo {
            PluginInfo {
                name: "two".into(),
                version: "1".into(),
                routes: vec![route("/send/quick", true), route("/send/slow", false)],
            }
        }
        fn init(_config: serde_json::Value) -> Result<Self, PluginError> {
            Ok(TwoRoutes)
        }
        fn encode(&self, _: &Request<'_>, _: &Host<'_>) -> Result<Outgoing, PluginError> {
            Err(PluginError::internal("not used"))
        }
    }

    impl exported::Instance for TwoRoutes {
        fn slot() -> &'static std::sync::OnceLock<Self> {
            static SLOT: std::sync::OnceLock<TwoRoutes> = std::sync::OnceLock::new();
            &SLOT
        }
    }

    #[test]
    fn the_root_module_lists_the_quick_routes() {
        let module = exported::root_module::<TwoRoutes>();
        let quick_routes = module
            .quick_routes()
            .expect("this version of the module has the function");
        let paths: Vec<String> = quick_routes().into_iter().map(String::from).collect();
        assert_eq!(paths, ["/send/quick"]);
    }

    #[test]
    fn an_error_survives_the_ffi_form() {
        let error =
            PluginError::invalid_field("buttons", "4 given, 1 to 3 allowed", serde_json::json!(4));
        let back: PluginError = crate::abi::PluginErrorAbi::from(error.clone()).into();
        assert_eq!(back, error);
        assert_eq!(back.message, "buttons: 4 given, 1 to 3 allowed");
    }

    #[test]
    fn request_json_reports_malformed_and_wrongly_typed_bodies() {
        #[derive(serde::Deserialize, Debug)]
        struct Body {
            #[allow(dead_code)]
            to: String,
        }
        let request = |body: &'static [u8]| Request {
            route: "/x",
            body,
            context: RequestContext::default(),
        };
        assert!(
            request(b"{")
                .json::<Body>()
                .unwrap_err()
                .message
                .starts_with("malformed JSON")
        );
        assert!(
            request(br#"{"to":5}"#)
                .json::<Body>()
                .unwrap_err()
                .message
                .starts_with("invalid request body")
        );
        assert!(
            request(b"  ")
                .json::<Body>()
                .unwrap_err()
                .message
                .contains("empty")
        );
        assert!(request(br#"{"to":"x"}"#).json::<Body>().is_ok());
    }
}
