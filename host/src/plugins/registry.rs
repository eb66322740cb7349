//! The loaded plugins and the route table built from their manifests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use wuts_plugin_api::library::{EncodedMessage, LogLevel, LogSink, PluginLibrary, Services};
use wuts_plugin_api::{Envelope, Plan, PluginError, RequestContext, Route};

use super::loader::{self, Refusal};
use crate::config::Settings;

/// A plugin library that loaded and initialised.
pub struct LoadedPlugin {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    library: PluginLibrary,
}

impl LoadedPlugin {
    pub fn plan(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContext<'_>,
        services: &Services,
    ) -> Result<Plan, PluginError> {
        self.library.plan(route, body, context, services)
    }

    pub fn encode(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContext<'_>,
        services: &Services,
    ) -> Result<EncodedMessage, PluginError> {
        self.library.encode(route, body, context, services)
    }
}

/// One served route.
pub struct PluginRoute {
    pub plugin: Arc<LoadedPlugin>,
    pub method: String,
    pub path: String,
    pub operation: String,
    pub summary: String,
    pub success_message: String,
    pub failure_prefix: String,
    pub envelope: Envelope,
    pub body_limit: u64,
    /// The plugin calls plan and encode quick: they run on the HTTP thread.
    pub quick: bool,
    /// The request body's JSON Schema, as the plugin declared it.
    pub request_schema: serde_json::Value,
    /// The name of the path's `{name}` segment, if it has one: the host puts the matched
    /// value into the JSON body under this name before the plugin sees it.
    pub parameter: Option<String>,
    /// The `plugin_call_seconds` histogram of this route, registered at its first call
    /// (the recorder is installed after the plugins load) instead of at every call.
    pub call_seconds: std::sync::OnceLock<metrics::Histogram>,
}

impl PluginRoute {
    /// Whether the 200 is the short shape, `success, message_id, timestamp, message`
    /// (no `status`, `chat_jid`): every legacy route, and a standard route that declares
    /// a success message, as `/send/sticker` does because its WUTS page prints that 200
    /// beside standard errors (docs/API.md, "Media").
    pub fn short_success(&self) -> bool {
        self.envelope == Envelope::Legacy || !self.success_message.is_empty()
    }

    /// Times one call of this route's plugin.
    pub fn record_call(&self, elapsed: std::time::Duration) {
        self.call_seconds
            .get_or_init(|| {
                metrics::histogram!(
                    crate::metrics::PLUGIN_CALL_SECONDS,
                    "plugin" => self.plugin.name.clone(),
                    "route" => self.path.clone()
                )
            })
            .record(elapsed.as_secs_f64());
    }
}

/// Everything `wuts plugins` and the server need to know about plugins.
#[derive(Default)]
pub struct PluginRegistry {
    pub plugins: Vec<Arc<LoadedPlugin>>,
    /// Served routes by path.
    pub routes: BTreeMap<String, Arc<PluginRoute>>,
    /// Routes a plugin declared but `[routes]` disabled.
    pub disabled_routes: Vec<String>,
    pub refused: Vec<Refusal>,
}

/// A plugin path is a plain path (letters, digits, `/-_.`) with at most one whole
/// segment a `{name}` parameter (`name` letters, digits and `_`, not starting with a
/// digit): `/messages/{messageId}`. No wildcards or regexes.
fn is_plugin_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .split('/')
            .filter(|segment| is_parameter(segment))
            .count()
            <= 1
        && path.split('/').all(|segment| {
            is_parameter(segment)
                || segment
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
}

/// Whether a segment is a whole `{name}` parameter.
fn is_parameter(segment: &str) -> bool {
    segment
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .is_some_and(|name| {
            name.bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
}

/// The name of a path's `{name}` segment, if it has one (the first, were there several).
fn path_parameter(path: &str) -> Option<&str> {
    path.split('/')
        .find(|segment| is_parameter(segment))
        .map(|segment| &segment[1..segment.len() - 1])
}

/// The host's own routes with a `{parameter}`: a plugin path that could match the same
/// request (as many segments, each equal or a parameter on either side) is refused, so
/// `PUT /messages/{messageId}` may be a plugin's while `/messages/{id}/media` stays the
/// host's.
const HOST_PATTERNS: &[&str] = &["/messages/{id}/media"];

fn overlaps(plugin_path: &str, host_pattern: &str) -> bool {
    let plugin: Vec<&str> = plugin_path.split('/').collect();
    let host: Vec<&str> = host_pattern.split('/').collect();
    plugin.len() == host.len()
        && plugin
            .iter()
            .zip(&host)
            .all(|(a, b)| a == b || is_parameter(a) || is_parameter(b))
}

/// Paths the host serves itself; a plugin may not take them.
const HOST_PATHS: &[&str] = &[
    "/jobs",
    "/devices",
    "/sandbox",
    "/status",
    "/qr",
    "/paircode",
    "/connect",
    "/disconnect",
    "/health",
];

impl PluginRegistry {
    /// Loads, describes and initialises the configured plugins. A plugin that fails any
    /// step is refused (logged once, with its file and the reason) and the rest serve.
    pub fn load(settings: &Settings) -> PluginRegistry {
        let dir = settings.plugin_dir();
        let report = loader::load_all(&dir, &settings.plugins.load);
        let mut registry = PluginRegistry {
            refused: report.refused,
            ..PluginRegistry::default()
        };
        for (name, path, library) in report.loaded {
            let refuse = |registry: &mut PluginRegistry, reason: String| {
                registry.refused.push(Refusal {
                    name: name.clone(),
                    path: path.clone(),
                    reason,
                });
            };
            let info = match library.info() {
                Ok(info) => info,
                Err(error) => {
                    refuse(
                        &mut registry,
                        format!("its manifest failed: {}", error.message),
                    );
                    continue;
                }
            };
            let clash = registry
                .plugins
                .iter()
                .find(|plugin| plugin.name == info.name)
                .map(|plugin| {
                    format!(
                        "a plugin named {:?} is already loaded from {}",
                        plugin.name,
                        plugin.path.display()
                    )
                });
            if let Some(reason) = clash {
                refuse(&mut registry, reason);
                continue;
            }
            let config = settings.plugin_config(&info.name).to_string();
            let sink = HostLogSink {
                plugin: info.name.clone(),
            };
            if let Err(error) = library.init(&config, sink, max_log_level()) {
                refuse(&mut registry, format!("its init failed: {}", error.message));
                continue;
            }
            let plugin = Arc::new(LoadedPlugin {
                name: info.name,
                version: info.version,
                path,
                library,
            });
            for route in info.routes {
                registry.add_route(settings, &plugin, route);
            }
            registry.plugins.push(plugin);
        }
        registry
    }

    fn add_route(&mut self, settings: &Settings, plugin: &Arc<LoadedPlugin>, route: Route) {
        let path = route.path;
        let refuse_route = |reason: &str| {
            tracing::error!(plugin = %plugin.name, path = %path, "route refused: {reason}");
        };
        if !is_plugin_path(&path)
            || HOST_PATHS
                .iter()
                .any(|host| path == *host || path.starts_with(&format!("{host}/")))
            || HOST_PATTERNS.iter().any(|pattern| overlaps(&path, pattern))
        {
            refuse_route("the path is not a plugin path");
            return;
        }
        if let Some(existing) = self.routes.get(&path) {
            refuse_route(&format!(
                "already served by plugin {:?}",
                existing.plugin.name
            ));
            return;
        }
        if !settings.route_enabled(&path) {
            self.disabled_routes.push(path);
            return;
        }
        let body_limit = settings
            .body_limits
            .get(&path)
            .copied()
            .unwrap_or(route.max_body_bytes);
        let parameter = path_parameter(&path).map(str::to_string);
        self.routes.insert(
            path.clone(),
            Arc::new(PluginRoute {
                parameter,
                plugin: Arc::clone(plugin),
                method: route.method.to_ascii_uppercase(),
                path,
                operation: route.operation,
                summary: route.summary,
                success_message: route.success_message,
                failure_prefix: route.failure_prefix,
                envelope: route.envelope,
                body_limit,
                quick: route.quick,
                request_schema: route.request_schema,
                call_seconds: std::sync::OnceLock::new(),
            }),
        );
    }

    /// Fails when a plugin named in `[plugins] required` did not load.
    pub fn check_required(&self, required: &[String]) -> Result<(), String> {
        let missing: Vec<&String> = required
            .iter()
            .filter(|name| !self.plugins.iter().any(|plugin| &plugin.name == *name))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!("required plugins did not load: {missing:?}"))
        }
    }
}

fn max_log_level() -> LogLevel {
    match tracing::level_filters::LevelFilter::current().into_level() {
        Some(tracing::Level::TRACE) => LogLevel::Trace,
        Some(tracing::Level::DEBUG) => LogLevel::Debug,
        Some(tracing::Level::INFO) => LogLevel::Info,
        Some(tracing::Level::WARN) => LogLevel::Warn,
        _ => LogLevel::Error,
    }
}

/// Re-emits a plugin's log events under the host's subscriber.
struct HostLogSink {
    plugin: String,
}

impl LogSink for HostLogSink {
    fn log(&self, level: LogLevel, target: &str, message: &str) {
        let plugin = &self.plugin;
        match level {
            LogLevel::Error => {
                tracing::error!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevel::Warn => {
                tracing::warn!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevel::Info => {
                tracing::info!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevel::Debug => {
                tracing::debug!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevel::Trace => {
                tracing::trace!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{HOST_PATTERNS, is_plugin_path, overlaps, path_parameter};

    #[test]
    fn plugin_paths_are_plain_paths_with_at_most_one_parameter() {
        for path in [
            "/send/buttons",
            "/send/buttons-response",
            "/v2/send_audio.json",
            "/messages/{messageId}",
            "/a/{_x1}/b",
        ] {
            assert!(is_plugin_path(path), "{path}");
        }
        for path in [
            "send/buttons",
            "/{a}/{b}",
            "/send/*",
            "/send/a b",
            "/send/ä",
            "/x/{1a}",
            "/x/{}",
            "/x/a{b}",
            "/x/{a:.*}",
            "",
        ] {
            assert!(!is_plugin_path(path), "{path}");
        }
        assert_eq!(path_parameter("/messages/{messageId}"), Some("messageId"));
        assert_eq!(path_parameter("/send/text"), None);
    }

    #[test]
    fn a_plugin_path_may_not_overlap_a_host_pattern() {
        let host = |path: &str| HOST_PATTERNS.iter().any(|pattern| overlaps(path, pattern));
        assert!(!host("/messages/{messageId}"));
        assert!(!host("/messages/delete"));
        assert!(host("/messages/{messageId}/media"));
        assert!(host("/messages/abc/media"));
        assert!(host("/messages/{id}/{what}"));
        assert!(!host("/messages/{id}/edit"));
    }
}
