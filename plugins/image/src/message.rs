//! Building the `ImageMessage`: the upload's media fields (as plugins/template/src/lib.rs
//! builds its header image), the picture's size and thumbnail, the caption, view-once
//! wrapping (as plugins/audio/src/message.rs wraps), and the context info for mentions and
//! the quote (as plugins/text/src/lib.rs fills it).

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{FutureProofMessage, ImageMessage};
use wuts_plugin_api::MediaReference;

use crate::picture::Picture;
use wuts_plugin_api::quote::{self, ResolvedQuote};

/// What the message says besides the upload and the picture.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub caption: Option<String>,
    pub view_once: bool,
    pub mentioned: Vec<String>,
}

/// The message: an `ImageMessage`, wrapped in `viewOnceMessage` when view-once.
pub fn build(
    media: &MediaReference,
    picture: &Picture,
    details: Details,
    quote: Option<ResolvedQuote>,
) -> Message {
    let image = ImageMessage {
        url: Some(media.url.clone()),
        mimetype: Some(picture.mimetype.to_string()),
        caption: details.caption,
        file_sha256: Some(media.file_sha256.clone()),
        file_length: Some(media.file_length),
        height: Some(picture.height),
        width: Some(picture.width),
        media_key: Some(media.media_key.clone()),
        file_enc_sha256: Some(media.file_enc_sha256.clone()),
        direct_path: Some(media.direct_path.clone()),
        media_key_timestamp: Some(media.media_key_timestamp),
        jpeg_thumbnail: Some(picture.thumbnail.clone()),
        view_once: details.view_once.then_some(true),
        context_info: quote::context_info(details.mentioned, quote),
        ..Default::default()
    };
    let inner = Message {
        image_message: MessageField::some(image),
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
            url: "/sandbox/media/x".into(),
            direct_path: "/sandbox/media/x".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            file_length: 1234,
            media_key_timestamp: 1_700_000_000,
        }
    }

    fn picture() -> Picture {
        Picture {
            bytes: vec![0; 1234],
            mimetype: "image/png",
            width: 320,
            height: 200,
            original_format: "image/png",
            was_converted: false,
            thumbnail: vec![0xFF, 0xD8, 0xFF],
        }
    }

    #[test]
    fn every_field_of_the_upload_and_picture_is_carried() {
        let details = Details {
            caption: Some("*hi*".into()),
            ..Details::default()
        };
        let message = build(&media(), &picture(), details, None);
        let image = message.image_message.as_option().unwrap();
        assert_eq!(image.url.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(image.direct_path.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(image.mimetype.as_deref(), Some("image/png"));
        assert_eq!(image.caption.as_deref(), Some("*hi*"));
        assert_eq!((image.width, image.height), (Some(320), Some(200)));
        assert_eq!(image.file_length, Some(1234));
        assert_eq!(image.media_key.as_deref(), Some([1; 32].as_slice()));
        assert_eq!(
            image.jpeg_thumbnail.as_deref(),
            Some([0xFF, 0xD8, 0xFF].as_slice())
        );
        assert_eq!(image.view_once, None);
        assert!(image.context_info.as_option().is_none());
        let back = Message::decode_from_slice(&encode(&message)).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn view_once_is_wrapped_and_mentions_and_quote_go_in_context_info() {
        let quote = ResolvedQuote {
            stanza_id: "3EB0AB".into(),
            participant: Some("5511977777777@s.whatsapp.net".into()),
            remote_jid: None,
            message: Message {
                conversation: Some("hi".into()),
                ..Default::default()
            },
            found: false,
        };
        let details = Details {
            caption: None,
            view_once: true,
            mentioned: vec!["5511988888888@s.whatsapp.net".into()],
        };
        let message = build(&media(), &picture(), details, Some(quote));
        let wrapped = message.view_once_message.as_option().unwrap();
        let image = wrapped
            .message
            .as_option()
            .unwrap()
            .image_message
            .as_option()
            .unwrap();
        assert_eq!(image.view_once, Some(true));
        let info = image.context_info.as_option().unwrap();
        assert_eq!(info.mentioned_jid, ["5511988888888@s.whatsapp.net"]);
        assert_eq!(info.stanza_id.as_deref(), Some("3EB0AB"));
        assert_eq!(
            info.quoted_message
                .as_option()
                .unwrap()
                .conversation
                .as_deref(),
            Some("hi")
        );
    }
}
