//! The host services a plugin gets during one request: fetch, media upload, and the
//! device's message log. Plugins call them from the blocking pool, so each call blocks
//! on the host runtime; quick routes, called on HTTP threads, get only the message log.

use std::sync::Arc;

use wuts_plugin_api::library::{HostServices, Services};
use wuts_plugin_api::{FetchedUrl, MediaKind, MediaReference, PluginError, SentMessage};

use crate::error::{ApiError, SessionCall};
use crate::fetch::Fetcher;
use crate::session::{MediaUpload, Session, SessionError};
use crate::store::Store;

pub struct RequestServices {
    pub runtime: tokio::runtime::Handle,
    pub fetcher: Arc<Fetcher>,
    pub session: Arc<dyn Session>,
    pub store: Arc<dyn Store>,
    pub device_id: String,
    /// `[session] upload_timeout_ms`: the deadline of one media upload.
    pub upload_timeout: std::time::Duration,
    /// `[fetch.route_timeout_ms]` of the route: a download's own deadline, if any.
    pub fetch_timeout: Option<std::time::Duration>,
    /// False on a quick route's call, which runs on an HTTP thread: a call that blocks
    /// on the runtime there would stall every connection of that thread (and tokio
    /// refuses it), so fetch and upload_media are refused instead.
    pub may_block: bool,
}

fn refused_on_quick_route(service: &str) -> PluginError {
    PluginError::new(
        500,
        "HOST_SERVICE_UNAVAILABLE",
        format!("{service} is not available to a route declared quick"),
    )
}

impl RequestServices {
    /// These services in the form a plugin call takes.
    pub fn into_services(self) -> Services {
        Services::new(self)
    }
}

impl HostServices for RequestServices {
    fn fetch(&self, url: &str, max_bytes: u64) -> Result<FetchedUrl, PluginError> {
        if !self.may_block {
            return Err(refused_on_quick_route("fetch"));
        }
        self.runtime
            .block_on(self.fetcher.fetch(url, max_bytes, self.fetch_timeout))
    }

    fn upload_media(
        &self,
        bytes: &[u8],
        kind: MediaKind,
        mimetype: &str,
    ) -> Result<MediaReference, PluginError> {
        if !self.may_block {
            return Err(refused_on_quick_route("upload_media"));
        }
        let upload = MediaUpload {
            bytes: bytes.to_vec(),
            kind,
            mimetype: mimetype.to_string(),
        };
        let uploading =
            tokio::time::timeout(self.upload_timeout, self.session.upload_media(upload));
        let uploaded = match self.runtime.block_on(uploading) {
            Ok(uploaded) => uploaded,
            Err(_) => Err(SessionError::UploadFailed {
                reason: format!("no answer within {} s", self.upload_timeout.as_secs_f64()),
            }),
        };
        uploaded.map_err(|error| {
            let error = ApiError::from_session(error, SessionCall::Upload);
            PluginError::new(error.status.as_u16(), error.code, error.message)
        })
    }

    fn find_message(&self, message_id: &str) -> Option<SentMessage> {
        match self.store.find_message(&self.device_id, message_id) {
            Ok(found) => found.map(|logged| SentMessage {
                message_id: logged.message_id,
                chat_jid: logged.chat_jid,
                sender_jid: logged.sender_jid,
                from_me: logged.from_me,
                message: logged.message,
                timestamp_ms: logged.timestamp.timestamp_millis(),
            }),
            Err(error) => {
                tracing::error!(%error, "message log lookup failed");
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FetchSettings;
    use crate::session::sandbox::SandboxDriver;
    use crate::session::{DeviceIdentity, SessionDriver};
    use crate::store::SqliteStore;

    /// The services of a quick route's call, which runs on an HTTP thread.
    fn quick_route_services(runtime: &tokio::runtime::Runtime) -> RequestServices {
        let device = DeviceIdentity {
            device_id: "device".into(),
            tenant_id: "tenant".into(),
            user_id: "user".into(),
        };
        let session = runtime
            .block_on(SandboxDriver::new().open(&device))
            .unwrap();
        let dir = std::env::temp_dir().join(format!("wuts-services-{}", uuid::Uuid::new_v4()));
        RequestServices {
            runtime: runtime.handle().clone(),
            fetcher: Arc::new(
                Fetcher::new(&FetchSettings {
                    timeout_ms: 1000,
                    max_bytes: 1024,
                    max_redirects: 1,
                    allow_private_urls: true,
                    route_timeout_ms: Default::default(),
                })
                .unwrap(),
            ),
            session,
            store: Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap()),
            device_id: device.device_id,
            upload_timeout: std::time::Duration::from_secs(1),
            fetch_timeout: None,
            may_block: false,
        }
    }

    #[test]
    fn a_quick_route_may_not_fetch_or_upload_but_may_read_the_log() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let services = quick_route_services(&runtime);
        let refused = |error: PluginError| {
            assert_eq!(error.code, "HOST_SERVICE_UNAVAILABLE");
            assert_eq!(error.status, 500);
        };
        refused(services.fetch("http://127.0.0.1:9/", 10).unwrap_err());
        refused(
            services
                .upload_media(b"ogg", MediaKind::Audio, "audio/ogg")
                .unwrap_err(),
        );
        assert!(services.find_message("3EB0").is_none());
    }
}
