//! The host's side of the boundary: loading a plugin library and calling it with plain
//! Rust types. `abi_stable` stays inside this crate; the host names none of its types.

use std::path::Path;

use abi_stable::library::{LibraryError, lib_header_from_path};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};

use crate::abi::{
    self, FetchedAbi, HostServices_TO, HostServicesBox, InitArgs, LogLevelAbi, LogSink_TO,
    MediaKindAbi, MediaReferenceAbi, PluginErrorAbi, PluginModuleRef, RequestContextAbi,
    SentMessageAbi,
};
use crate::node::StanzaNodes;
use crate::sdk::{
    FetchedUrl, MediaKind, MediaReference, Plan, PluginError, PluginInfo, RequestContext, Route,
    SentMessage,
};

/// What the host does for a plugin during one request. The host implements it; the
/// plugin reaches it through [`crate::Host`].
pub trait HostServices: Send + Sync + 'static {
    /// Fetches `url` under the host's network policy, refusing bodies over `max_bytes`.
    fn fetch(&self, url: &str, max_bytes: u64) -> Result<FetchedUrl, PluginError>;

    /// Uploads media through the device's session.
    fn upload_media(
        &self,
        bytes: &[u8],
        kind: MediaKind,
        mimetype: &str,
    ) -> Result<MediaReference, PluginError>;

    /// Looks a message up in this device's log by id.
    fn find_message(&self, message_id: &str) -> Option<SentMessage>;
}

/// A [`HostServices`] implementation ready to hand to a plugin call.
pub struct Services(HostServicesBox);

impl Services {
    pub fn new(services: impl HostServices) -> Services {
        Services(HostServices_TO::from_value(Adapter(services), TD_Opaque))
    }

    pub(crate) fn as_abi(&self) -> &HostServicesBox {
        &self.0
    }

    #[cfg(test)]
    pub(crate) fn into_abi(self) -> HostServicesBox {
        self.0
    }
}

/// Log levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

/// Where a plugin's log events go: the host re-emits them under its own subscriber.
pub trait LogSink: Send + Sync + 'static {
    fn log(&self, level: LogLevel, target: &str, message: &str);
}

/// A message a plugin encoded, as the host receives it.
#[derive(Debug, Clone, Default)]
pub struct EncodedMessage {
    /// The recipient JID, as the plugin wrote it (the host checks it).
    pub to: String,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    pub nodes: StanzaNodes,
    /// A JSON object the host merges into the success response.
    pub response_extra: Option<serde_json::Value>,
    /// How long to wait before sending.
    pub delay: std::time::Duration,
    /// A presence to show the chat before sending.
    pub presence: Option<crate::sdk::ChatPresence>,
    /// A message to remove from the log instead of sending ([`crate::sdk::Outgoing::forget_message`]).
    pub forget_message: Option<String>,
}

/// A loaded plugin library. Libraries are never unloaded (`abi_stable` leaks them by
/// design, which is also what keeps borrowed node text valid).
pub struct PluginLibrary {
    module: PluginModuleRef,
}

impl PluginLibrary {
    /// Loads one library, refusing (with a one-line reason) a file that is missing, not a
    /// library, not a plugin, or built against an incompatible version of this crate.
    pub fn load(path: &Path) -> Result<PluginLibrary, String> {
        if !path.is_file() {
            return Err("no such file".to_string());
        }
        // `init_root_module` (not `RootModule::load_from*`, which caches one module per
        // type) so that every library gets its own root module.
        let header = lib_header_from_path(path).map_err(describe)?;
        header
            .init_root_module::<PluginModuleRef>()
            .map(|module| PluginLibrary { module })
            .map_err(describe)
    }

    /// The plugin's name, version and routes (with which of them are quick).
    pub fn info(&self) -> Result<PluginInfo, PluginError> {
        let manifest = (self.module.manifest())()
            .into_result()
            .map_err(PluginError::from)?;
        // Absent from plugins built before the function existed: no quick routes then.
        let quick: Vec<String> = self
            .module
            .quick_routes()
            .map(|quick_routes| quick_routes().into_iter().map(String::from).collect())
            .unwrap_or_default();
        Ok(PluginInfo {
            name: manifest.name.into_string(),
            version: manifest.version.into_string(),
            routes: manifest
                .routes
                .into_iter()
                .map(|route| {
                    let path = route.path.into_string();
                    Route {
                        quick: quick.contains(&path),
                        method: route.method.into_string(),
                        path,
                        operation: route.operation.into_string(),
                        summary: route.summary.into_string(),
                        request_schema: serde_json::from_str(&route.request_schema)
                            .unwrap_or(serde_json::Value::Null),
                        success_message: route.success_message.into_string(),
                        failure_prefix: route.failure_prefix.into_string(),
                        envelope: route.envelope,
                        max_body_bytes: route.max_body_bytes,
                    }
                })
                .collect(),
        })
    }

    /// Initialises the plugin with its `[plugin.NAME]` table (as JSON text).
    pub fn init(
        &self,
        config_json: &str,
        log_sink: impl LogSink,
        max_level: LogLevel,
    ) -> Result<(), PluginError> {
        let args = InitArgs {
            config_json: config_json.into(),
            log_sink: LogSink_TO::from_value(LogAdapter(log_sink), TD_Opaque),
            max_level: max_level.into(),
        };
        (self.module.init())(args)
            .into_result()
            .map_err(PluginError::from)
    }

    /// Asks whether to encode inline or run a job.
    pub fn plan(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContext<'_>,
        services: &Services,
    ) -> Result<Plan, PluginError> {
        let plan = call(self.module.plan(), route, body, context, services)?;
        Ok(if plan.run_as_job {
            Plan::Job {
                chat_jid: plan.chat_jid.into_string(),
            }
        } else if plan.off_thread {
            Plan::OffThread
        } else {
            Plan::Inline
        })
    }

    /// Encodes a request into a message.
    pub fn encode(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContext<'_>,
        services: &Services,
    ) -> Result<EncodedMessage, PluginError> {
        let outgoing = call(self.module.encode(), route, body, context, services)?;
        Ok(EncodedMessage {
            to: outgoing.to.into_string(),
            message: outgoing.message.into_vec(),
            nodes: StanzaNodes::from_flat(outgoing.nodes),
            response_extra: match outgoing.response_extra_json.as_str() {
                "" => None,
                text => serde_json::from_str(text).ok(),
            },
            delay: std::time::Duration::from_millis(outgoing.delay_ms),
            presence: (outgoing.presence_ms > 0).then(|| crate::sdk::ChatPresence {
                kind: match outgoing.presence_kind {
                    1 => crate::sdk::PresenceKind::Recording,
                    _ => crate::sdk::PresenceKind::Composing,
                },
                duration: std::time::Duration::from_millis(outgoing.presence_ms),
            }),
            forget_message: Some(outgoing.forget_message_id.into_string())
                .filter(|id| !id.is_empty()),
        })
    }
}

/// The shape `plan` and `encode` share across the boundary.
type RequestFn<T> = extern "C" fn(
    RStr<'_>,
    RSlice<'_, u8>,
    &RequestContextAbi<'_>,
    &abi::HostServicesBox,
) -> RResult<T, PluginErrorAbi>;

/// Calls one of the plugin's request functions with the FFI forms of its arguments.
fn call<T>(
    function: RequestFn<T>,
    route: &str,
    body: &[u8],
    context: &RequestContext<'_>,
    services: &Services,
) -> Result<T, PluginError> {
    let context = RequestContextAbi::from(context);
    function(
        RStr::from(route),
        RSlice::from(body),
        &context,
        services.as_abi(),
    )
    .into_result()
    .map_err(PluginError::from)
}

/// A one-line reason; abi_stable's layout errors span many lines.
fn describe(error: LibraryError) -> String {
    let summary = match &error {
        LibraryError::OpenError { .. } => "not a loadable library".to_string(),
        LibraryError::GetSymbolError { .. } => {
            "not a WUTS plugin (no root module symbol)".to_string()
        }
        LibraryError::ParseVersionError(_) | LibraryError::IncompatibleVersionNumber { .. } => {
            "built against an incompatible plugin API version".to_string()
        }
        LibraryError::AbiInstability(_) => {
            "built against an incompatible plugin API (type layouts differ)".to_string()
        }
        LibraryError::InvalidAbiHeader(_) => {
            "built with an incompatible abi_stable version".to_string()
        }
        LibraryError::RootModule { .. } => "its root module failed to initialise".to_string(),
        _ => "could not be loaded".to_string(),
    };
    // Only the loader's own words say something short and useful (e.g. "invalid ELF
    // header"); abi_stable's layout dumps run to hundreds of lines.
    match &error {
        LibraryError::OpenError { err, .. } => {
            let text = err.to_string();
            let reason = text
                .lines()
                .map(str::trim)
                .find(|line| !line.is_empty())
                .unwrap_or("");
            format!(
                "{summary}: {}",
                reason.rsplit(": ").next().unwrap_or(reason)
            )
        }
        _ => summary,
    }
}

impl From<LogLevel> for LogLevelAbi {
    fn from(level: LogLevel) -> Self {
        match level {
            LogLevel::Error => LogLevelAbi::Error,
            LogLevel::Warn => LogLevelAbi::Warn,
            LogLevel::Info => LogLevelAbi::Info,
            LogLevel::Debug => LogLevelAbi::Debug,
            LogLevel::Trace => LogLevelAbi::Trace,
        }
    }
}

impl From<LogLevelAbi> for LogLevel {
    fn from(level: LogLevelAbi) -> Self {
        match level {
            LogLevelAbi::Error => LogLevel::Error,
            LogLevelAbi::Warn => LogLevel::Warn,
            LogLevelAbi::Info => LogLevel::Info,
            LogLevelAbi::Debug => LogLevel::Debug,
            LogLevelAbi::Trace => LogLevel::Trace,
        }
    }
}

struct LogAdapter<S>(S);

impl<S: LogSink> abi::LogSink for LogAdapter<S> {
    fn log(&self, level: LogLevelAbi, target: RStr<'_>, message: RStr<'_>) {
        // A panic must not unwind into the plugin; a lost log line is the lesser harm.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0.log(level.into(), target.as_str(), message.as_str())
        }));
    }
}

struct Adapter<S>(S);

/// Runs a host service for a plugin. A panic must not unwind into the plugin (an
/// `extern "C"` boundary that unwinds aborts the process): it becomes a 500.
fn host_call<T>(
    service: &str,
    call: impl FnOnce() -> Result<T, PluginError>,
) -> RResult<T, PluginErrorAbi> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)) {
        Ok(result) => result.map_err(PluginErrorAbi::from).into(),
        Err(_) => RResult::RErr(PluginErrorAbi::from(PluginError::new(
            500,
            "HOST_SERVICE_FAILED",
            format!("the host's {service} failed"),
        ))),
    }
}

impl<S: HostServices> abi::HostServices for Adapter<S> {
    fn fetch(&self, url: RStr<'_>, max_bytes: u64) -> RResult<FetchedAbi, PluginErrorAbi> {
        host_call("fetch", || {
            self.0.fetch(url.as_str(), max_bytes).map(FetchedAbi::from)
        })
    }

    fn upload_media(
        &self,
        bytes: RSlice<'_, u8>,
        kind: MediaKindAbi,
        mimetype: RStr<'_>,
    ) -> RResult<MediaReferenceAbi, PluginErrorAbi> {
        host_call("media upload", || {
            self.0
                .upload_media(bytes.as_slice(), kind, mimetype.as_str())
                .map(MediaReferenceAbi::from)
        })
    }

    fn find_message(&self, message_id: RStr<'_>) -> ROption<SentMessageAbi> {
        let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.0.find_message(message_id.as_str())
        }));
        found.ok().flatten().map(SentMessageAbi::from).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct PanickingServices;

    impl HostServices for PanickingServices {
        fn fetch(&self, _: &str, _: u64) -> Result<FetchedUrl, PluginError> {
            panic!("fetch broke")
        }
        fn upload_media(
            &self,
            _: &[u8],
            _: MediaKind,
            _: &str,
        ) -> Result<MediaReference, PluginError> {
            panic!("upload broke")
        }
        fn find_message(&self, _: &str) -> Option<SentMessage> {
            panic!("lookup broke")
        }
    }

    #[test]
    fn a_host_service_that_panics_answers_an_error_instead_of_unwinding() {
        let services = Services::new(PanickingServices);
        let host = crate::Host::from_abi(services.as_abi());
        let error = host.fetch("http://example.com/", 10).unwrap_err();
        assert_eq!(
            (error.status, error.code.as_str()),
            (500, "HOST_SERVICE_FAILED")
        );
        assert!(
            host.upload_media(b"x", MediaKind::Audio, "audio/ogg")
                .is_err()
        );
        assert!(host.find_message("3EB0").is_none());
    }

    #[test]
    fn a_missing_file_and_a_non_library_are_refused_in_one_line() {
        let dir = std::env::temp_dir().join(format!("wuts-library-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("libjunk.so");
        std::fs::write(&junk, b"not an ELF file at all").unwrap();
        assert_eq!(
            PluginLibrary::load(&dir.join("absent.so")).err().as_deref(),
            Some("no such file")
        );
        let reason = PluginLibrary::load(&junk).err().unwrap_or_default();
        assert!(reason.starts_with("not a loadable library"), "{reason}");
        assert!(!reason.contains('\n'));
        let _ = std::fs::remove_dir_all(dir);
    }
}
