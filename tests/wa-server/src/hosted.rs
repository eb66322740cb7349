//! Media the server pushes to the client: encrypted as a sender's phone encrypts it,
//! kept at a direct path on the media listener ([`crate::media`]), and described by the
//! message the client receives.
//!
//! The encryption is `wacore`'s own upload encryption (`encrypt_media`): a random
//! 32-byte media key expanded by HKDF with the type's info string into IV, AES key and
//! MAC key; AES-256-CBC; the first 10 bytes of HMAC-SHA256(IV ‖ ciphertext) appended.
//! The client fetches `https://{host}{direct_path}?auth=…&token=…` from the hosts of
//! its `media_conn` (rewritten to this server by the driver's `media_base_url`), checks
//! the MAC and decrypts.

use std::sync::atomic::Ordering;

use base64::Engine as _;
use whatsapp_rust::buffa::MessageField;
use whatsapp_rust::download::MediaType;
use whatsapp_rust::wacore::upload::encrypt_media;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Shared;
use crate::stanza::unix_now;

/// The kinds of media a pushed message can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboundMediaKind {
    Image,
    Video,
    Audio,
    Document,
}

impl InboundMediaKind {
    fn media_type(self) -> MediaType {
        match self {
            InboundMediaKind::Image => MediaType::Image,
            InboundMediaKind::Video => MediaType::Video,
            InboundMediaKind::Audio => MediaType::Audio,
            InboundMediaKind::Document => MediaType::Document,
        }
    }

    fn word(self) -> &'static str {
        match self {
            InboundMediaKind::Image => "image",
            InboundMediaKind::Video => "video",
            InboundMediaKind::Audio => "audio",
            InboundMediaKind::Document => "document",
        }
    }
}

/// Where encrypted media is kept and what a message needs to find and decrypt it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedMedia {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
}

/// Encrypts `bytes` as `kind` and keeps the result on the media listener.
pub(crate) fn host(
    shared: &Shared,
    kind: InboundMediaKind,
    bytes: &[u8],
) -> Result<HostedMedia, String> {
    let encrypted = encrypt_media(bytes, kind.media_type())
        .map_err(|error| format!("media encryption: {error}"))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(encrypted.file_enc_sha256);
    let direct_path = format!(
        "/v/fake/{}/{}-{token}.enc",
        kind.word(),
        shared.next_id.fetch_add(1, Ordering::SeqCst)
    );
    shared.host_media(direct_path.clone(), encrypted.data_to_upload);
    Ok(HostedMedia {
        url: format!("https://{}{direct_path}", crate::iq::MEDIA_HOST),
        direct_path,
        media_key: encrypted.media_key.to_vec(),
        file_sha256: encrypted.file_sha256.to_vec(),
        file_enc_sha256: encrypted.file_enc_sha256.to_vec(),
        file_length: bytes.len() as u64,
    })
}

/// The message that shows `media`: its `kind`'s field with every reference set, the
/// mimetype and, except for audio (which has no caption), the caption.
pub fn media_message(
    kind: InboundMediaKind,
    media: &HostedMedia,
    mimetype: &str,
    caption: Option<&str>,
) -> wa::Message {
    // The reference fields every media message has, then the kind's own.
    macro_rules! media {
        ($kind:ident { $($extra:ident),* }) => {
            MessageField::some(wa::message::$kind {
                url: Some(media.url.clone()),
                direct_path: Some(media.direct_path.clone()),
                mimetype: Some(mimetype.to_owned()),
                media_key: Some(media.media_key.clone()),
                file_sha256: Some(media.file_sha256.clone()),
                file_enc_sha256: Some(media.file_enc_sha256.clone()),
                file_length: Some(media.file_length),
                media_key_timestamp: Some(unix_now() as i64),
                $($extra,)*
                ..Default::default()
            })
        };
    }
    let caption = caption.map(str::to_owned);
    let mut message = wa::Message::default();
    match kind {
        InboundMediaKind::Image => message.image_message = media!(ImageMessage { caption }),
        InboundMediaKind::Video => message.video_message = media!(VideoMessage { caption }),
        InboundMediaKind::Audio => message.audio_message = media!(AudioMessage {}),
        InboundMediaKind::Document => {
            message.document_message = media!(DocumentMessage { caption })
        }
    }
    message
}
