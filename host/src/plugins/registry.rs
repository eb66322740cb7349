//! The loaded plugins and the route table built from their manifests.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use abi_stable::std_types::{RResult, RSlice, RStr};
use wuts_plugin_api::abi::{
    HostServicesBox, InitArgs, LogLevelAbi, LogSink, LogSink_TO, ManifestAbi, OutgoingAbi, PlanAbi,
    PluginErrorAbi, PluginModuleRef, RequestContextAbi, RouteAbi,
};
use wuts_plugin_api::{Envelope, PluginError};

use super::loader::{self, Refusal};
use crate::config::Settings;

/// A plugin library that loaded and initialised.
pub struct LoadedPlugin {
    pub name: String,
    pub version: String,
    pub path: PathBuf,
    module: PluginModuleRef,
}

impl LoadedPlugin {
    pub fn plan(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> Result<PlanAbi, PluginError> {
        from_abi((self.module.plan())(
            RStr::from(route),
            RSlice::from(body),
            context,
            host,
        ))
    }

    pub fn encode(
        &self,
        route: &str,
        body: &[u8],
        context: &RequestContextAbi<'_>,
        host: &HostServicesBox,
    ) -> Result<OutgoingAbi, PluginError> {
        from_abi((self.module.encode())(
            RStr::from(route),
            RSlice::from(body),
            context,
            host,
        ))
    }
}

fn from_abi<T>(result: RResult<T, PluginErrorAbi>) -> Result<T, PluginError> {
    result.into_result().map_err(PluginError::from)
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

/// A plugin path is a plain path: no `{segment}` patterns or wildcards. Plugin routes are
/// matched before the host's (they are the hot ones), so a pattern could shadow them.
fn is_static_path(path: &str) -> bool {
    path.starts_with('/')
        && path
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.'))
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
        for (name, path, module) in report.loaded {
            let refuse = |registry: &mut PluginRegistry, reason: String| {
                registry.refused.push(Refusal {
                    name: name.clone(),
                    path: path.clone(),
                    reason,
                });
            };
            let manifest = match from_abi((module.manifest())()) {
                Ok(manifest) => manifest,
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
                .find(|plugin| plugin.name == manifest.name.as_str())
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
            let init = InitArgs {
                config_json: settings
                    .plugin_config(manifest.name.as_str())
                    .to_string()
                    .into(),
                log_sink: LogSink_TO::from_value(
                    HostLogSink {
                        plugin: manifest.name.to_string(),
                    },
                    abi_stable::sabi_trait::TD_Opaque,
                ),
                max_level: max_log_level(),
            };
            if let Err(error) = from_abi((module.init())(init)) {
                refuse(&mut registry, format!("its init failed: {}", error.message));
                continue;
            }
            registry.add(settings, module, manifest, path);
        }
        registry
    }

    fn add(
        &mut self,
        settings: &Settings,
        module: PluginModuleRef,
        manifest: ManifestAbi,
        path: PathBuf,
    ) {
        // Absent from plugins built before the function existed: no quick routes then.
        let quick_routes: Vec<String> = module
            .quick_routes()
            .map(|quick_routes| quick_routes().into_iter().map(String::from).collect())
            .unwrap_or_default();
        let plugin = Arc::new(LoadedPlugin {
            name: manifest.name.to_string(),
            version: manifest.version.to_string(),
            path,
            module,
        });
        for route in manifest.routes.iter() {
            let quick = quick_routes.iter().any(|path| path == route.path.as_str());
            self.add_route(settings, &plugin, route, quick);
        }
        self.plugins.push(plugin);
    }

    fn add_route(
        &mut self,
        settings: &Settings,
        plugin: &Arc<LoadedPlugin>,
        route: &RouteAbi,
        quick: bool,
    ) {
        let path = route.path.to_string();
        let refuse_route = |reason: &str| {
            tracing::error!(plugin = %plugin.name, path = %path, "route refused: {reason}");
        };
        if !is_static_path(&path)
            || HOST_PATHS
                .iter()
                .any(|host| path == *host || path.starts_with(&format!("{host}/")))
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
        self.routes.insert(
            path.clone(),
            Arc::new(PluginRoute {
                plugin: Arc::clone(plugin),
                method: route.method.to_string().to_ascii_uppercase(),
                path,
                operation: route.operation.to_string(),
                summary: route.summary.to_string(),
                success_message: route.success_message.to_string(),
                failure_prefix: route.failure_prefix.to_string(),
                envelope: route.envelope,
                body_limit,
                quick,
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

fn max_log_level() -> LogLevelAbi {
    match tracing::level_filters::LevelFilter::current().into_level() {
        Some(tracing::Level::TRACE) => LogLevelAbi::Trace,
        Some(tracing::Level::DEBUG) => LogLevelAbi::Debug,
        Some(tracing::Level::INFO) => LogLevelAbi::Info,
        Some(tracing::Level::WARN) => LogLevelAbi::Warn,
        _ => LogLevelAbi::Error,
    }
}

/// Re-emits a plugin's log events under the host's subscriber.
struct HostLogSink {
    plugin: String,
}

impl LogSink for HostLogSink {
    fn log(&self, level: LogLevelAbi, target: RStr<'_>, message: RStr<'_>) {
        let (plugin, target, message) = (&self.plugin, target.as_str(), message.as_str());
        match level {
            LogLevelAbi::Error => {
                tracing::error!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevelAbi::Warn => {
                tracing::warn!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevelAbi::Info => {
                tracing::info!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevelAbi::Debug => {
                tracing::debug!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
            LogLevelAbi::Trace => {
                tracing::trace!(target: "wuts::plugin", %plugin, %target, "{message}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_static_path;

    #[test]
    fn plugin_paths_are_plain_paths() {
        for path in [
            "/send/buttons",
            "/send/buttons-response",
            "/v2/send_audio.json",
        ] {
            assert!(is_static_path(path), "{path}");
        }
        for path in [
            "send/buttons",
            "/{anything}",
            "/send/*",
            "/send/a b",
            "/send/ä",
            "",
        ] {
            assert!(!is_static_path(path), "{path}");
        }
    }
}
