//! The host services a plugin gets during one request: fetch, media upload, and the
//! device's message log. Plugins call them from the blocking pool, so each call blocks
//! on the host runtime; quick routes, called on HTTP threads, get only the message log.

use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use wuts_plugin_api::abi::{
    FetchedAbi, HostServices, HostServices_TO, HostServicesBox, MediaKindAbi, MediaReferenceAbi,
    PluginErrorAbi, SentMessageAbi,
};
use wuts_plugin_api::{PluginError, SentMessage};

use crate::error::{ApiError, SessionCall};
use crate::fetch::Fetcher;
use crate::session::{MediaUpload, Session};
use crate::store::Store;

pub struct RequestServices {
    pub runtime: tokio::runtime::Handle,
    pub fetcher: Arc<Fetcher>,
    pub session: Arc<dyn Session>,
    pub store: Arc<dyn Store>,
    pub device_id: String,
    /// False on a quick route's call, which runs on an HTTP thread: a call that blocks
    /// on the runtime there would stall every connection of that thread (and tokio
    /// refuses it), so fetch and upload_media are refused instead.
    pub may_block: bool,
}

fn refused_on_quick_route(service: &str) -> PluginErrorAbi {
    PluginErrorAbi::from(PluginError::new(
        500,
        "HOST_SERVICE_UNAVAILABLE",
        format!("{service} is not available to a route declared quick"),
    ))
}

impl RequestServices {
    pub fn into_abi(self) -> HostServicesBox {
        HostServices_TO::from_value(self, TD_Opaque)
    }
}

impl HostServices for RequestServices {
    fn fetch(&self, url: RStr<'_>, max_bytes: u64) -> RResult<FetchedAbi, PluginErrorAbi> {
        if !self.may_block {
            return RResult::RErr(refused_on_quick_route("fetch"));
        }
        self.runtime
            .block_on(self.fetcher.fetch(url.as_str(), max_bytes))
            .map(FetchedAbi::from)
            .map_err(PluginErrorAbi::from)
            .into()
    }

    fn upload_media(
        &self,
        bytes: RSlice<'_, u8>,
        kind: MediaKindAbi,
        mimetype: RStr<'_>,
    ) -> RResult<MediaReferenceAbi, PluginErrorAbi> {
        if !self.may_block {
            return RResult::RErr(refused_on_quick_route("upload_media"));
        }
        let upload = MediaUpload {
            bytes: bytes.to_vec(),
            kind,
            mimetype: mimetype.to_string(),
        };
        self.runtime
            .block_on(self.session.upload_media(upload))
            .map(MediaReferenceAbi::from)
            .map_err(|error| {
                let error = ApiError::from_session(error, SessionCall::Upload);
                PluginErrorAbi::from(PluginError::new(
                    error.status.as_u16(),
                    error.code,
                    error.message,
                ))
            })
            .into()
    }

    fn find_message(&self, message_id: RStr<'_>) -> ROption<SentMessageAbi> {
        match self
            .store
            .find_message(&self.device_id, message_id.as_str())
        {
            Ok(found) => found
                .map(|logged| {
                    SentMessageAbi::from(SentMessage {
                        message_id: logged.message_id,
                        chat_jid: logged.chat_jid,
                        sender_jid: logged.sender_jid,
                        from_me: logged.from_me,
                        message: logged.message,
                    })
                })
                .into(),
            Err(error) => {
                tracing::error!(%error, "message log lookup failed");
                ROption::RNone
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
                })
                .unwrap(),
            ),
            session,
            store: Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap()),
            device_id: device.device_id,
            may_block: false,
        }
    }

    #[test]
    fn a_quick_route_may_not_fetch_or_upload_but_may_read_the_log() {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let services = quick_route_services(&runtime);
        let refused = |result: RResult<_, PluginErrorAbi>| {
            let error = PluginError::from(result.into_result().map(|_: ()| ()).unwrap_err());
            assert_eq!(error.code, "HOST_SERVICE_UNAVAILABLE");
            assert_eq!(error.status, 500);
        };
        refused(
            services
                .fetch(RStr::from("http://127.0.0.1:9/"), 10)
                .map(|_| ()),
        );
        refused(
            services
                .upload_media(
                    RSlice::from(&b"ogg"[..]),
                    MediaKindAbi::Audio,
                    RStr::from("audio/ogg"),
                )
                .map(|_| ()),
        );
        assert!(services.find_message(RStr::from("3EB0")).is_none());
    }
}
