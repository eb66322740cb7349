//! Building the `DocumentMessage`: the upload's media fields (as plugins/image/src/message.rs
//! fills them), the file's type, name and page count, the caption, and the context info for
//! mentions and the quote (`wuts_plugin_api::quote`).
//!
//! A document with a caption goes inside `documentWithCaptionMessage`, a FutureProofMessage,
//! as WhatsApp Web sends it (Baileys sends it bare; whatsmeow, like whatsapp-rust, unwraps
//! the wrapper when it classifies a message); one without goes bare. whatsapp-rust gives
//! the stanza the inner message's type and media type, the host's event parser
//! (host/src/events/parse.rs) and quote preparation (plugin-api/src/quote.rs) look inside
//! it, and so does the offline WhatsApp server's `media_of` (tests/wa-server/src/media.rs).

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{DocumentMessage, FutureProofMessage};
use wuts_plugin_api::MediaReference;
use wuts_plugin_api::quote::{self, ResolvedQuote};

use crate::file::Document;

/// What the message says besides the upload and the file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Details {
    pub caption: Option<String>,
    pub mentioned: Vec<String>,
}

/// The message: a `DocumentMessage`, wrapped in `documentWithCaptionMessage` when it has a
/// caption.
pub fn build(
    media: &MediaReference,
    document: &Document,
    details: Details,
    quote: Option<ResolvedQuote>,
) -> Message {
    let has_caption = details.caption.is_some();
    let inner = Message {
        document_message: MessageField::some(DocumentMessage {
            url: Some(media.url.clone()),
            mimetype: Some(document.mimetype.clone()),
            // Clients show `title` as the document's name and `fileName` when saving it.
            title: Some(document.file_name.clone()),
            file_sha256: Some(media.file_sha256.clone()),
            file_length: Some(media.file_length),
            page_count: document.page_count,
            media_key: Some(media.media_key.clone()),
            file_name: Some(document.file_name.clone()),
            file_enc_sha256: Some(media.file_enc_sha256.clone()),
            direct_path: Some(media.direct_path.clone()),
            media_key_timestamp: Some(media.media_key_timestamp),
            // `jpegThumbnail` stays unset: a page preview needs a PDF renderer (poppler,
            // pdfium: C/C++), which this plugin does not carry.
            caption: details.caption,
            context_info: quote::context_info(details.mentioned, quote),
            ..Default::default()
        }),
        ..Default::default()
    };
    if !has_caption {
        return inner;
    }
    Message {
        document_with_caption_message: MessageField::some(FutureProofMessage {
            message: MessageField::some(inner),
        }),
        ..Default::default()
    }
}

/// The `DocumentMessage` of `message`, bare or inside `documentWithCaptionMessage`.
pub fn document_of(message: &Message) -> Option<&DocumentMessage> {
    message
        .document_with_caption_message
        .as_option()
        .and_then(|wrapper| wrapper.message.as_option())
        .unwrap_or(message)
        .document_message
        .as_option()
}

/// Protobuf bytes of `message`.
pub fn encode(message: &Message) -> Vec<u8> {
    message.encode_to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::MimeOrigin;
    use std::sync::Arc;

    fn media() -> MediaReference {
        MediaReference {
            url: "/sandbox/media/x".into(),
            direct_path: "/sandbox/media/x".into(),
            media_key: vec![1; 32],
            file_sha256: vec![2; 32],
            file_enc_sha256: vec![3; 32],
            file_length: 524_288,
            media_key_timestamp: 1_700_000_000,
        }
    }

    fn document(page_count: Option<u32>) -> Document {
        Document {
            bytes: Arc::new(vec![0; 16]),
            mimetype: "application/pdf".into(),
            mime_origin: MimeOrigin::Given,
            file_name: "invoice-0425.pdf".into(),
            page_count,
        }
    }

    #[test]
    fn every_field_of_the_upload_and_file_is_carried_bare_without_a_caption() {
        let message = build(&media(), &document(Some(3)), Details::default(), None);
        assert!(message.document_with_caption_message.as_option().is_none());
        let doc = message.document_message.as_option().unwrap();
        assert_eq!(doc.url.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(doc.direct_path.as_deref(), Some("/sandbox/media/x"));
        assert_eq!(doc.mimetype.as_deref(), Some("application/pdf"));
        assert_eq!(doc.title.as_deref(), Some("invoice-0425.pdf"));
        assert_eq!(doc.file_name.as_deref(), Some("invoice-0425.pdf"));
        assert_eq!(doc.file_length, Some(524_288));
        assert_eq!(doc.file_sha256.as_deref(), Some([2; 32].as_slice()));
        assert_eq!(doc.file_enc_sha256.as_deref(), Some([3; 32].as_slice()));
        assert_eq!(doc.media_key.as_deref(), Some([1; 32].as_slice()));
        assert_eq!(doc.media_key_timestamp, Some(1_700_000_000));
        assert_eq!(doc.page_count, Some(3));
        assert_eq!(
            (doc.caption.as_ref(), doc.jpeg_thumbnail.as_ref()),
            (None, None)
        );
        assert!(doc.context_info.as_option().is_none());
        let back = Message::decode_from_slice(&encode(&message)).unwrap();
        assert_eq!(back, message);
        assert_eq!(document_of(&back), Some(doc));
    }

    #[test]
    fn a_caption_wraps_and_mentions_and_quote_go_in_context_info() {
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
            caption: Some("Your April invoice is attached.".into()),
            mentioned: vec!["5511988888888@s.whatsapp.net".into()],
        };
        let message = build(&media(), &document(None), details, Some(quote));
        assert!(message.document_message.as_option().is_none(), "wrapped");
        let doc = document_of(&message).unwrap();
        assert_eq!(
            doc.caption.as_deref(),
            Some("Your April invoice is attached.")
        );
        assert_eq!(doc.page_count, None);
        let info = doc.context_info.as_option().unwrap();
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
