//! Building the `StickerMessage`: the upload's media fields (as plugins/image/src/message.rs
//! fills its `ImageMessage`), the sticker's size and kind, and the quote's context info
//! (`wuts_plugin_api::quote`). A sticker has no caption, no thumbnail and mentions no one.

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::StickerMessage;
use wuts_plugin_api::MediaReference;
use wuts_plugin_api::quote::{self, ResolvedQuote};

use crate::picture::Sticker;

/// The message: a `StickerMessage`, 512x512 `image/webp`, `isAnimated` as the file is.
pub fn build(media: &MediaReference, sticker: &Sticker, quote: Option<ResolvedQuote>) -> Message {
    let message = StickerMessage {
        url: Some(media.url.clone()),
        file_sha256: Some(media.file_sha256.clone()),
        file_enc_sha256: Some(media.file_enc_sha256.clone()),
        media_key: Some(media.media_key.clone()),
        mimetype: Some(Sticker::MIMETYPE.to_string()),
        height: Some(Sticker::SIDE),
        width: Some(Sticker::SIDE),
        direct_path: Some(media.direct_path.clone()),
        file_length: Some(media.file_length),
        media_key_timestamp: Some(media.media_key_timestamp),
        is_animated: Some(sticker.is_animated),
        context_info: quote::context_info(Vec::new(), quote),
        ..Default::default()
    };
    Message {
        sticker_message: MessageField::some(message),
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
    use crate::picture::Format;

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

    fn sticker(is_animated: bool) -> Sticker {
        Sticker {
            bytes: vec![0; 1234],
            is_animated,
            original_format: Format::WebP,
            was_converted: false,
        }
    }

    #[test]
    fn every_field_of_the_upload_and_sticker_is_carried() {
        let message = build(&media(), &sticker(true), None);
        let sticker = message.sticker_message.as_option().unwrap();
        assert_eq!(sticker.url.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(sticker.direct_path.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
        assert_eq!((sticker.width, sticker.height), (Some(512), Some(512)));
        assert_eq!(sticker.file_length, Some(1234));
        assert_eq!(sticker.media_key.as_deref(), Some([1; 32].as_slice()));
        assert_eq!(sticker.file_sha256.as_deref(), Some([2; 32].as_slice()));
        assert_eq!(sticker.file_enc_sha256.as_deref(), Some([3; 32].as_slice()));
        assert_eq!(sticker.media_key_timestamp, Some(1_700_000_000));
        assert_eq!(sticker.is_animated, Some(true));
        assert!(sticker.context_info.as_option().is_none());
        let back = Message::decode_from_slice(&encode(&message)).unwrap();
        assert_eq!(back, message);
        let still = build(&media(), &self::sticker(false), None);
        assert_eq!(
            still.sticker_message.as_option().unwrap().is_animated,
            Some(false)
        );
    }

    #[test]
    fn a_quote_goes_in_context_info() {
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
        let message = build(&media(), &sticker(false), Some(quote));
        let info = message
            .sticker_message
            .as_option()
            .unwrap()
            .context_info
            .as_option()
            .unwrap();
        assert_eq!(info.stanza_id.as_deref(), Some("3EB0AB"));
        assert!(info.mentioned_jid.is_empty());
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
