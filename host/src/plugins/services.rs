//! The host services a plugin gets during one request: fetch, media upload, and the
//! device's message log. Plugins call them from the blocking pool, so each call blocks
//! on the host runtime.

use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RStr};
use wuts_plugin_api::abi::{
    FetchedAbi, HostServices, HostServices_TO, HostServicesBox, MediaKindAbi, MediaReferenceAbi,
    PluginErrorAbi, SentMessageAbi,
};
use wuts_plugin_api::{PluginError, SentMessage};

use crate::fetch::Fetcher;
use crate::session::{MediaUpload, Session, SessionError};
use crate::store::Store;

pub struct RequestServices {
    pub runtime: tokio::runtime::Handle,
    pub fetcher: Arc<Fetcher>,
    pub session: Arc<dyn Session>,
    pub store: Arc<dyn Store>,
    pub device_id: String,
}

impl RequestServices {
    pub fn into_abi(self) -> HostServicesBox {
        HostServices_TO::from_value(self, TD_Opaque)
    }
}

impl HostServices for RequestServices {
    fn fetch(&self, url: RStr<'_>, max_bytes: u64) -> RResult<FetchedAbi, PluginErrorAbi> {
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
        let upload = MediaUpload {
            bytes: bytes.to_vec(),
            kind,
            mimetype: mimetype.to_string(),
        };
        self.runtime
            .block_on(self.session.upload_media(upload))
            .map(MediaReferenceAbi::from)
            .map_err(|error| {
                let error = match error {
                    SessionError::NotConnected => {
                        PluginError::bad_request("DEVICE_NOT_READY", "WhatsApp not connected")
                    }
                    other => PluginError::new(
                        500,
                        "UPLOAD_FAILED",
                        format!("media upload failed: {other}"),
                    ),
                };
                PluginErrorAbi::from(error)
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
