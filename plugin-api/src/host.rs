//! The host's services as a plugin calls them during one request: fetch, media upload,
//! and the device's message log. Calls block.

use abi_stable::std_types::{RResult, RStr, RString, RVec};

use crate::abi::{FetchedAbi, HostServicesBox, MediaReferenceAbi, SentMessageAbi};
use crate::error::PluginError;

/// Media kinds the host can upload.
pub use crate::abi::MediaKindAbi as MediaKind;

/// A fetched URL's body.
#[derive(Debug, Clone)]
pub struct FetchedUrl {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
    pub elapsed_ms: u64,
}

/// An uploaded file's reference: the fields a media message carries.
#[derive(Debug, Clone)]
pub struct MediaReference {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
    pub media_key_timestamp: i64,
}

/// A message from the device's log.
#[derive(Debug, Clone)]
pub struct SentMessage {
    pub message_id: String,
    pub chat_jid: String,
    pub sender_jid: Option<String>,
    pub from_me: bool,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    /// When it was sent (the server's ack) or received: Unix milliseconds.
    pub timestamp_ms: i64,
}

/// The host's services during one request. Calls block.
pub struct Host<'a> {
    services: &'a HostServicesBox,
}

impl<'a> Host<'a> {
    #[doc(hidden)]
    pub fn from_abi(services: &'a HostServicesBox) -> Self {
        Host { services }
    }

    /// Fetches a URL under the host's network policy.
    pub fn fetch(&self, url: &str, max_bytes: u64) -> Result<FetchedUrl, PluginError> {
        match self.services.fetch(RStr::from(url), max_bytes) {
            RResult::ROk(fetched) => Ok(FetchedUrl {
                bytes: fetched.bytes.into_vec(),
                content_type: fetched.content_type.map(RString::into_string).into_option(),
                elapsed_ms: fetched.elapsed_ms,
            }),
            RResult::RErr(error) => Err(error.into()),
        }
    }

    /// Uploads media through the device's session.
    pub fn upload_media(
        &self,
        bytes: &[u8],
        kind: MediaKind,
        mimetype: &str,
    ) -> Result<MediaReference, PluginError> {
        match self
            .services
            .upload_media(bytes.into(), kind, RStr::from(mimetype))
        {
            RResult::ROk(media) => Ok(MediaReference {
                url: media.url.into_string(),
                direct_path: media.direct_path.into_string(),
                media_key: media.media_key.into_vec(),
                file_sha256: media.file_sha256.into_vec(),
                file_enc_sha256: media.file_enc_sha256.into_vec(),
                file_length: media.file_length,
                media_key_timestamp: media.media_key_timestamp,
            }),
            RResult::RErr(error) => Err(error.into()),
        }
    }

    /// Looks a message up in the device's log by id.
    pub fn find_message(&self, message_id: &str) -> Option<SentMessage> {
        self.services
            .find_message(RStr::from(message_id))
            .into_option()
            .map(|found| SentMessage {
                message_id: found.message_id.into_string(),
                chat_jid: found.chat_jid.into_string(),
                sender_jid: found.sender_jid.map(RString::into_string).into_option(),
                from_me: found.from_me,
                message: found.message.into_vec(),
                timestamp_ms: found.timestamp_ms,
            })
    }
}

impl From<MediaReference> for MediaReferenceAbi {
    fn from(media: MediaReference) -> Self {
        MediaReferenceAbi {
            url: media.url.into(),
            direct_path: media.direct_path.into(),
            media_key: media.media_key.into(),
            file_sha256: media.file_sha256.into(),
            file_enc_sha256: media.file_enc_sha256.into(),
            file_length: media.file_length,
            media_key_timestamp: media.media_key_timestamp,
        }
    }
}

impl From<FetchedUrl> for FetchedAbi {
    fn from(fetched: FetchedUrl) -> Self {
        FetchedAbi {
            bytes: fetched.bytes.into(),
            content_type: fetched.content_type.map(RString::from).into(),
            elapsed_ms: fetched.elapsed_ms,
        }
    }
}

impl From<SentMessage> for SentMessageAbi {
    fn from(message: SentMessage) -> Self {
        SentMessageAbi {
            message_id: message.message_id.into(),
            chat_jid: message.chat_jid.into(),
            sender_jid: message.sender_jid.map(RString::from).into(),
            from_me: message.from_me,
            message: RVec::from(message.message),
            timestamp_ms: message.timestamp_ms,
        }
    }
}
