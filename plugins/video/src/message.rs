//! Building the `VideoMessage`: the upload's media fields, the video's length and size,
//! the thumbnail, caption and GIF playback, view-once wrapping and the context info for
//! mentions and the quote (as plugins/image/src/message.rs builds its `ImageMessage`).

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{FutureProofMessage, VideoMessage};
use wuts_plugin_api::MediaReference;
use wuts_plugin_api::quote::{self, ResolvedQuote};

use crate::media::OUTPUT_MIME;

/// What the message says besides the upload.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub seconds: u32,
    pub width: u32,
    pub height: u32,
    /// A JPEG; None when no thumbnail was asked for.
    pub thumbnail: Option<Vec<u8>>,
    pub caption: Option<String>,
    pub gif_playback: bool,
    pub view_once: bool,
    pub mentioned: Vec<String>,
}

/// The message: a `VideoMessage`, wrapped in `viewOnceMessage` when view-once.
pub fn build(media: &MediaReference, details: Details, quote: Option<ResolvedQuote>) -> Message {
    let video = VideoMessage {
        url: Some(media.url.clone()),
        mimetype: Some(OUTPUT_MIME.to_string()),
        file_sha256: Some(media.file_sha256.clone()),
        file_length: Some(media.file_length),
        seconds: Some(details.seconds),
        media_key: Some(media.media_key.clone()),
        caption: details.caption,
        gif_playback: details.gif_playback.then_some(true),
        height: Some(details.height),
        width: Some(details.width),
        file_enc_sha256: Some(media.file_enc_sha256.clone()),
        direct_path: Some(media.direct_path.clone()),
        media_key_timestamp: Some(media.media_key_timestamp),
        jpeg_thumbnail: details.thumbnail,
        view_once: details.view_once.then_some(true),
        context_info: quote::context_info(details.mentioned, quote),
        ..Default::default()
    };
    let inner = Message {
        video_message: MessageField::some(video),
        ..Default::default()
    };
    if !details.view_once {
        return inner;
    }
    // As WhatsApp wraps view-once media: the content inside a FutureProofMessage.
    Message {
        view_once_message: MessageField::some(FutureProofMessage {
            message: MessageField::some(inner),
        }),
        ..Default::default()
    }
}

/// Protobuf bytes of `message`.
pub fn encode(message: &Message) -> Vec<u8> {
    message.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn media() -> MediaReference {
        MediaReference {
            url: "/sandbox/media/v".into(),
            direct_path: "/sandbox/media/v".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            file_length: 4321,
            media_key_timestamp: 1_700_000_000,
        }
    }

    fn details() -> Details {
        Details {
            seconds: 38,
            width: 1280,
            height: 720,
            thumbnail: Some(vec![0xFF, 0xD8, 0xFF]),
            caption: Some("demo".into()),
            ..Details::default()
        }
    }

    #[test]
    fn every_field_of_the_upload_and_video_is_carried() {
        let message = build(&media(), details(), None);
        let video = message.video_message.as_option().unwrap();
        assert_eq!(video.url.as_deref(), Some("/sandbox/media/v"));
        assert_eq!(video.mimetype.as_deref(), Some("video/mp4"));
        assert_eq!(video.seconds, Some(38));
        assert_eq!((video.width, video.height), (Some(1280), Some(720)));
        assert_eq!(video.file_length, Some(4321));
        assert_eq!(video.caption.as_deref(), Some("demo"));
        assert_eq!(
            video.jpeg_thumbnail.as_deref(),
            Some([0xFF, 0xD8, 0xFF].as_slice())
        );
        assert_eq!((video.view_once, video.gif_playback), (None, None));
        assert!(video.context_info.as_option().is_none());
        assert_eq!(
            Message::decode_from_slice(&encode(&message)).unwrap(),
            message
        );
    }

    #[test]
    fn view_once_gif_playback_and_mentions() {
        let details = Details {
            view_once: true,
            gif_playback: true,
            thumbnail: None,
            mentioned: vec!["5511988888888@s.whatsapp.net".into()],
            ..details()
        };
        let message = build(&media(), details, None);
        let video = message
            .view_once_message
            .as_option()
            .and_then(|wrapped| wrapped.message.as_option())
            .and_then(|inner| inner.video_message.as_option())
            .unwrap();
        assert_eq!(
            (video.view_once, video.gif_playback),
            (Some(true), Some(true))
        );
        assert_eq!(video.jpeg_thumbnail, None);
        let info = video.context_info.as_option().unwrap();
        assert_eq!(info.mentioned_jid, ["5511988888888@s.whatsapp.net"]);
    }
}
