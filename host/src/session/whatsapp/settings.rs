//! What the `whatsapp` driver is configured with, and the defaults.

use std::path::PathBuf;
use std::time::Duration;

/// How the `whatsapp` driver reaches WhatsApp and where it keeps credentials.
///
/// Every field that is not `store_path` exists so a test can point the real client at an
/// offline WhatsApp server without code: the socket URL, the client version (no version
/// fetch at connect) and the media base URL. Code can replace more: see
/// [`super::WhatsappDriver::with_transport_factory`] and
/// [`super::WhatsappDriver::with_http_client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsappSettings {
    /// The SQLite file holding every device's credentials (`<store dir>/whatsapp.db`).
    pub store_path: PathBuf,
    /// Overrides WhatsApp's WebSocket URL (`wss://web.whatsapp.com/ws/chat`).
    pub socket_url: Option<String>,
    /// The WhatsApp Web version to announce; set, the client skips its version fetch.
    pub client_version: Option<(u32, u32, u32)>,
    /// Sends every HTTP request (media upload, version fetch) to this scheme and host
    /// instead of the one WhatsApp named, keeping the path: `http://127.0.0.1:9000`.
    pub media_base_url: Option<String>,
    /// How long `pair_code` waits for a socket, and `disconnect` for the client to stop.
    pub connect_timeout: Duration,
}

impl WhatsappSettings {
    /// Settings with WhatsApp's own endpoints and credentials kept at `store_path`.
    pub fn new(store_path: impl Into<PathBuf>) -> Self {
        WhatsappSettings {
            store_path: store_path.into(),
            socket_url: None,
            client_version: None,
            media_base_url: None,
            connect_timeout: Duration::from_secs(20),
        }
    }

    /// An empty string means "not set", as configuration files write it.
    pub fn with_socket_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.socket_url = (!url.trim().is_empty()).then_some(url);
        self
    }

    pub fn with_client_version(mut self, version: (u32, u32, u32)) -> Self {
        self.client_version = Some(version);
        self
    }

    /// An empty string means "not set", as configuration files write it.
    pub fn with_media_base_url(mut self, url: impl Into<String>) -> Self {
        let url = url.into();
        self.media_base_url = (!url.trim().is_empty()).then_some(url);
        self
    }

    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Parses `"2.3000.1027934701"` into a version triple, for configuration files.
pub fn parse_client_version(text: &str) -> Option<(u32, u32, u32)> {
    let mut parts = text.trim().split('.').map(|part| part.parse::<u32>().ok());
    let version = (parts.next()??, parts.next()??, parts.next()??);
    parts.next().is_none().then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_overrides_mean_unset() {
        let settings = WhatsappSettings::new("/tmp/wa.db")
            .with_socket_url("  ")
            .with_media_base_url("");
        assert_eq!(settings.socket_url, None);
        assert_eq!(settings.media_base_url, None);
        let settings = settings.with_socket_url("ws://127.0.0.1:1/ws");
        assert_eq!(settings.socket_url.as_deref(), Some("ws://127.0.0.1:1/ws"));
    }

    #[test]
    fn client_versions_parse_from_text() {
        assert_eq!(
            parse_client_version("2.3000.1027934701"),
            Some((2, 3000, 1027934701))
        );
        assert_eq!(parse_client_version("2.3000"), None);
        assert_eq!(parse_client_version("2.3000.1.4"), None);
        assert_eq!(parse_client_version("a.b.c"), None);
    }
}
