//! Settings: embedded defaults (`config/wuts.toml`) -> a TOML file -> `WUTS__` env vars.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The defaults, compiled in so the binary runs with no file at all.
pub const DEFAULTS_TOML: &str = include_str!("../../config/wuts.toml");

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub session: SessionSettings,
    pub plugins: PluginSettings,
    #[serde(default)]
    pub routes: BTreeMap<String, bool>,
    #[serde(default)]
    pub body_limits: BTreeMap<String, u64>,
    pub fetch: FetchSettings,
    pub jobs: JobSettings,
    pub limits: LimitSettings,
    pub webhooks: WebhookSettings,
    pub events: EventSettings,
    pub log: LogSettings,
    #[serde(default)]
    pub admin: AdminSettings,
    #[serde(default)]
    pub metrics: MetricsSettings,
    pub rate_limits: RateLimitSettings,
    /// `[plugin.NAME]` tables, handed to each plugin at load.
    #[serde(default)]
    pub plugin: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub workers: usize,
    pub shutdown_timeout_seconds: u64,
    /// Threads of the host runtime's blocking pool (at least `[limits] media_calls` + 8).
    pub blocking_threads: usize,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StoreSettings {
    pub path: PathBuf,
    /// How long sent and received messages are kept in the message log, in hours; 0 =
    /// for ever.
    pub message_retention_hours: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SessionSettings {
    pub driver: String,
    pub send_timeout_ms: u64,
    /// How long one media upload through the device may take.
    pub upload_timeout_ms: u64,
    /// How long `GET /qr` waits for a pairing code.
    pub qr_timeout_ms: u64,
    /// The WhatsApp WebSocket URL; empty = WhatsApp's own. Tests point it at a local server.
    #[serde(default)]
    pub socket_url: String,
    /// The WhatsApp Web version to announce (`2.3000.1027934701`); empty = fetch it.
    #[serde(default)]
    pub client_version: String,
    /// Where media uploads go instead of WhatsApp's hosts; empty = WhatsApp's.
    #[serde(default)]
    pub media_base_url: String,
    /// sandbox driver only: MiB of uploads kept for `/sandbox/media`, oldest forgotten first.
    pub sandbox_media_budget_mb: usize,
    /// Per-device pacing: the least time between two messages one device sends; 0 = off.
    pub send_interval_ms: u64,
    /// A request whose turn is further away than this answers 429 instead of waiting.
    pub send_queue_max_wait_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PluginSettings {
    pub dir: PathBuf,
    pub load: Vec<String>,
    #[serde(default)]
    pub required: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FetchSettings {
    pub timeout_ms: u64,
    pub max_bytes: u64,
    pub max_redirects: usize,
    pub allow_private_urls: bool,
    /// `[fetch.route_timeout_ms]`: the deadline of a download made for these routes
    /// instead of `timeout_ms` (WUTS gives a video 60 s where other media get 30 s).
    #[serde(default)]
    pub route_timeout_ms: BTreeMap<String, u64>,
}

impl FetchSettings {
    /// The deadline of a download made for `route`, when it is not `timeout_ms`.
    pub fn timeout_for(&self, route: &str) -> Option<std::time::Duration> {
        self.route_timeout_ms
            .get(route)
            .map(|&ms| std::time::Duration::from_millis(ms))
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct JobSettings {
    pub workers: usize,
    pub retention_hours: u64,
    pub device_wait_seconds: u64,
    pub max_attempts: u32,
    pub retry_delay_ms: u64,
}

/// `[limits]`: the plugin calls that may block (host/src/work_slots.rs) and every plugin
/// call's deadline.
#[derive(Debug, Clone, Deserialize)]
pub struct LimitSettings {
    pub media_calls: usize,
    pub media_calls_per_tenant: usize,
    pub media_call_wait_ms: u64,
    pub plugin_call_timeout_seconds: u64,
    /// Devices one user may have; 0 = no cap.
    pub devices_per_user: u64,
}

/// `[rate_limits]` (host/src/rate_limits.rs): a rate of 0 turns its limit off.
#[derive(Debug, Clone, Deserialize)]
pub struct RateLimitSettings {
    pub user_per_second: f64,
    pub user_burst: u32,
    pub device_per_second: f64,
    pub device_burst: u32,
    pub failed_auth_per_minute: u32,
    pub failed_auth_burst: u32,
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl LimitSettings {
    /// The host's slots for blocking plugin calls: `media_calls`, 0 meaning two per core.
    pub fn media_call_slots(&self) -> usize {
        match self.media_calls {
            0 => 2 * std::thread::available_parallelism().map_or(1, usize::from),
            slots => slots,
        }
    }
}

impl Settings {
    /// The blocking pool's size: `[server] blocking_threads`, and never so few that the
    /// plugin calls in their slots could take every thread from the store's calls.
    pub fn blocking_threads(&self) -> usize {
        self.server
            .blocking_threads
            .max(self.limits.media_call_slots() + 8)
    }
}

/// `[webhooks]`: the deliverer (host/src/events/deliver.rs).
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookSettings {
    pub max_in_flight: usize,
    pub claim_lease_seconds: u64,
}

/// `[events]`: how long stored events are kept.
#[derive(Debug, Clone, Deserialize)]
pub struct EventSettings {
    pub retention_hours: u64,
}

/// `[admin]`: the super-admin routes (docs/API.md, "Administration").
#[derive(Clone, Default, Deserialize)]
pub struct AdminSettings {
    /// The master token; empty = the super-admin routes are off (404).
    #[serde(default)]
    pub master_token: String,
}

// Never prints the master token (settings are logged at debug level).
impl std::fmt::Debug for AdminSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("AdminSettings")
            .field(
                "master_token",
                &(!self.master_token.is_empty()).then_some("<set>"),
            )
            .finish()
    }
}

/// `[metrics]`: who may read `GET /metrics`.
#[derive(Clone, Default, Deserialize)]
pub struct MetricsSettings {
    /// A token for scrapers; the master token works too. With neither set, the route is
    /// open (bind the server where only the scraper reaches it).
    #[serde(default)]
    pub token: String,
}

impl std::fmt::Debug for MetricsSettings {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("MetricsSettings")
            .field("token", &(!self.token.is_empty()).then_some("<set>"))
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct LogSettings {
    pub filter: String,
    /// `text` (default) or `json`: one JSON object a line, for log collectors.
    #[serde(default = "text_format")]
    pub format: String,
}

fn text_format() -> String {
    "text".into()
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] config::ConfigError);

impl Settings {
    /// Reads the defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> Result<Settings, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    fn load_with_env(
        file: Option<&Path>,
        env: impl Iterator<Item = (String, String)>,
    ) -> Result<Settings, ConfigError> {
        let mut builder = config::Config::builder().add_source(config::File::from_str(
            DEFAULTS_TOML,
            config::FileFormat::Toml,
        ));
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).format(config::FileFormat::Toml));
        }
        let env: config::Map<String, String> =
            env.filter(|(key, _)| key.starts_with("WUTS__")).collect();
        builder = builder.add_source(
            config::Environment::with_prefix("WUTS")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("plugins.load")
                .with_list_parse_key("plugins.required")
                .source(Some(env)),
        );
        Ok(builder.build()?.try_deserialize()?)
    }

    /// The folder plugin libraries are loaded from.
    pub fn plugin_dir(&self) -> PathBuf {
        if !self.plugins.dir.as_os_str().is_empty() {
            return self.plugins.dir.clone();
        }
        std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from("."))
    }

    /// Whether `[routes]` leaves `path` enabled.
    pub fn route_enabled(&self, path: &str) -> bool {
        self.routes.get(path).copied().unwrap_or(true)
    }

    /// The `[plugin.NAME]` table for a plugin, `{}` when absent.
    pub fn plugin_config(&self, name: &str) -> serde_json::Value {
        self.plugin
            .get(name)
            .cloned()
            .unwrap_or_else(|| serde_json::json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Iterator<Item = (String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<Vec<_>>()
            .into_iter()
    }

    #[test]
    fn the_embedded_defaults_load() {
        let settings = Settings::load_with_env(None, env(&[])).unwrap();
        assert_eq!(settings.server.bind.port(), 8080);
        assert_eq!(settings.session.send_timeout_ms, 20000);
        assert_eq!(settings.session.driver, "whatsapp");
        assert_eq!(settings.session.qr_timeout_ms, 20000);
        assert_eq!(settings.session.socket_url, "");
        assert_eq!(settings.session.client_version, "");
        assert_eq!(settings.session.media_base_url, "");
        // Every shipped plugin is loaded by default (the list grows with each one).
        assert!(
            ["buttons", "audio", "buttons-response"]
                .iter()
                .all(|name| settings.plugins.load.iter().any(|loaded| loaded == name)),
            "{:?}",
            settings.plugins.load
        );
        assert!(!settings.fetch.allow_private_urls);
        assert_eq!(
            settings.plugin_config("audio")["async_threshold_bytes"],
            2097152
        );
        assert!(settings.route_enabled("/send/buttons"));
    }

    #[test]
    fn a_file_then_the_environment_override_the_defaults() {
        let dir = std::env::temp_dir().join(format!("wuts-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("wuts.toml");
        std::fs::write(
            &file,
            "[session]\nsend_timeout_ms = 5\n[routes]\n\"/send/buttons\" = false\n[plugin.audio]\nmax_duration_seconds = 1\n",
        )
        .unwrap();
        let settings = Settings::load_with_env(
            Some(&file),
            env(&[
                ("WUTS__SESSION__SEND_TIMEOUT_MS", "7"),
                ("WUTS__PLUGINS__LOAD", "buttons,audio"),
                ("WUTS__SESSION__DRIVER", "sandbox"),
                ("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701"),
                ("WUTS__SESSION__QR_TIMEOUT_MS", "1500"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.session.send_timeout_ms, 7);
        assert_eq!(settings.plugins.load, ["buttons", "audio"]);
        assert_eq!(settings.session.driver, "sandbox");
        assert_eq!(settings.session.client_version, "2.3000.1027934701");
        assert_eq!(settings.session.qr_timeout_ms, 1500);
        assert!(!settings.route_enabled("/send/buttons"));
        assert_eq!(settings.plugin_config("audio")["max_duration_seconds"], 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
