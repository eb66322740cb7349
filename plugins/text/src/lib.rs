//! The text plugin: `POST /send/text`, a plain text message (WhatsApp markdown as given),
//! optionally mentioning people and quoting a message.
//!
//! # Request
//!
//! `{"number", "text", "mentioned"?, "quoted"?, "delay"?, "typingDuration"?,
//! "linkPreview"?, "device_id"?}`
//! (the WUTS docs §1.1; limits from docs/API.md "More message types"): `text` 1 to
//! 4,096 characters, `delay` milliseconds 0 to 60,000, `typingDuration` seconds 0 to 20,
//! `quoted` in either WUTS shape. Standard envelope; 200 carries `metadata`.
//!
//! # What goes out
//!
//! | request | protobuf |
//! |---|---|
//! | only `text` | `Message { conversation: text }` |
//! | `mentioned` or `quoted` | `Message { extendedTextMessage { text, contextInfo { mentionedJID, stanzaID, participant, quotedMessage, remoteJID? } } }` |
//! | `linkPreview: true` and a page with a title | `extendedTextMessage { text, matchedText, title, description?, previewType: NONE, contextInfo? }` |
//!
//! No extra stanza nodes: the library classifies the message itself. A `conversation` or
//! an `extendedTextMessage` without `matchedText` goes out as `<message type="text">` with
//! no `mediatype`; with a non-empty `matchedText` (a link preview) whatsapp-rust sends
//! `type="media"` and `<enc mediatype="url">`.
//!
//! `linkPreview` (Evolution API's name for it; the WUTS contract prints no such field)
//! is off by default, so that nothing is fetched unasked: see [`preview`].
//!
//! Sources:
//! - whatsapp-rust 0.7.0 (crates.io source): `wacore/src/proto_helpers.rs`
//!   (`MessageBuilderExt::text` is a bare `conversation`; `text_with_context` an
//!   `extendedTextMessage` with `contextInfo`; `build_quote_context_with_info`,
//!   `prepare_for_quote`), `wacore/src/send/classify.rs` (`stanza_type_from_message`,
//!   `media_type_from_message`: the `text`/`url` rules above).
//! - whatsmeow (tulir/whatsmeow 33cfac5, `send.go`, `getTypeFromMessage`:
//!   `conversation` and `extendedTextMessage` are `text`; `getMediaTypeFromMessage`: `url`
//!   only for an `extendedTextMessage` with a `title`).
//! - Baileys (WhiskeySockets/Baileys 78e7e4e, `src/Utils/messages.ts`):
//!   `generateWAMessageContent` always sends `extendedTextMessage` for text, with
//!   `matchedText`, `title`, `description`, `previewType: NONE` when a link preview is
//!   given; `generateWAMessageFromContent` builds the quote's `contextInfo`
//!   (`participant` = own JID when `fromMe`, else the quoted participant or chat; the quoted
//!   content's own `contextInfo` removed; `remoteJid` for a cross-chat quote).
//!
//! # `delay` and `typingDuration`
//!
//! Both are the host's to honour ([`Outgoing::delay`], [`Outgoing::presence`]): it waits
//! `delay` on a timer, then shows the chat "typing..." for `typingDuration` seconds, then
//! sends; no thread waits. `metadata.presence_sent` says whether a presence was asked for.

pub mod preview;
mod request;

use std::time::{Duration, Instant};

use buffa::encoding::{Tag, WireType};
use buffa::{Message as _, MessageField};
use serde_json::json;
use waproto::whatsapp::Message;
use waproto::whatsapp::message::ExtendedTextMessage;
use waproto::whatsapp::message::extended_text_message::PreviewType;
use wuts_plugin_api::{
    ChatPresence, Host, Outgoing, Plan, Plugin, PluginError, PluginInfo, Request, Route,
    export_plugin,
};

pub use preview::LinkPreview;
pub use request::{TextRequest, schema};
pub use wuts_plugin_api::quote::{ResolvedQuote, prepare_for_quote, resolve as resolve_quote};

#[derive(Default)]
pub struct TextPlugin;

impl Plugin for TextPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("text").route(
            Route::post("/send/text")
                .operation("sendText")
                .summary("Send a text message")
                .request(&schema())
                .failure_prefix("Failed to send text message")
                // Parse, validate, build: microseconds. A link preview fetches, so a
                // request that asks for one is encoded off the HTTP thread (`plan`).
                .quick(),
        )
    }

    fn plan(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Plan, PluginError> {
        Ok(if wants_link_preview(request.body) {
            Plan::OffThread
        } else {
            Plan::Inline
        })
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let text = TextRequest::parse(request)?;
        let quote = match &text.quoted {
            Some(quoted) => Some(wuts_plugin_api::quote::resolve(
                quoted,
                &text.to,
                request.context.own_jid,
                host.find_message(&quoted.message_id).as_ref(),
            )?),
            None => None,
        };
        let quoted_message_found = quote.as_ref().is_some_and(|quote| quote.found);
        let mentions = text.mentioned.len();
        let delay = Duration::from_millis(text.delay_ms);
        let typing = Duration::from_secs(text.typing_seconds);
        let to = text.to.clone();
        let preview = if text.link_preview {
            preview::fetch(&text.text, host)
        } else {
            None
        };
        let message = if text.mentioned.is_empty() && quote.is_none() && preview.is_none() {
            encode_conversation(&text.text)
        } else {
            build(text.text, text.mentioned, quote, preview).encode_to_vec()
        };
        let metadata = json!({
            "device_id": request.context.device_id,
            "user_id": request.context.user_id,
            "processing_time_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "presence_sent": !typing.is_zero(),
            "presence_duration_seconds": text.typing_seconds,
            "mentions_processed": mentions,
            "quoted_message_found": quoted_message_found,
            "sent_at": "",
        });
        Ok(Outgoing {
            to,
            message,
            nodes: Vec::new(),
            response_extra: Some(json!({ "metadata": metadata })),
            delay,
            presence: (!typing.is_zero()).then(|| ChatPresence::typing(typing)),
            ..Outgoing::default()
        })
    }
}

/// Whether a body asks for a link preview (`"linkPreview": true`), which fetches: the one
/// field that decides where to encode; the rest is checked in `encode`. Most texts do
/// not name it, and then nothing is parsed: only a `\u` escape could spell the key
/// without its letters.
fn wants_link_preview(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "linkPreview")]
        link_preview: Option<serde_json::Value>,
    }
    let contains = |needle: &[u8]| body.windows(needle.len()).any(|window| window == needle);
    if !contains(b"linkPreview") && !contains(b"\\u") {
        return false;
    }
    serde_json::from_slice::<Probe>(body)
        .is_ok_and(|probe| probe.link_preview == Some(serde_json::Value::Bool(true)))
}

/// A `Message` whose only field is `conversation`, written as that one field (its tag,
/// then the text, length-delimited): byte for byte what encoding the whole `Message`
/// gives (a test holds the two together), without building, sizing and dropping a struct
/// of hundreds of fields for one, as the buttons plugin's `encode_message` does.
pub fn encode_conversation(text: &str) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(text.len() + 8);
    Tag::new(
        waproto::tags::message::CONVERSATION,
        WireType::LengthDelimited,
    )
    .encode(&mut bytes);
    buffa::types::encode_string(text, &mut bytes);
    bytes
}

/// The message: a bare `conversation`, or an `extendedTextMessage` when there are
/// mentions, a quote or a link preview to carry.
pub fn build(
    text: String,
    mentioned: Vec<String>,
    quote: Option<ResolvedQuote>,
    preview: Option<LinkPreview>,
) -> Message {
    if mentioned.is_empty() && quote.is_none() && preview.is_none() {
        return Message {
            conversation: Some(text),
            ..Default::default()
        };
    }
    let context_info = wuts_plugin_api::quote::context_info(mentioned, quote);
    let mut extended = ExtendedTextMessage {
        text: Some(text),
        context_info,
        ..Default::default()
    };
    if let Some(preview) = preview {
        extended.matched_text = Some(preview.matched_text);
        extended.title = Some(preview.title);
        extended.description = preview.description;
        extended.preview_type = Some(PreviewType::NONE);
    }
    Message {
        extended_text_message: MessageField::some(extended),
        ..Default::default()
    }
}

export_plugin!(TextPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_request_for_a_link_preview_is_encoded_off_thread() {
        assert!(wants_link_preview(
            br#"{"number":"1","text":"a","linkPreview":true}"#
        ));
        assert!(wants_link_preview(
            br#"{"number":"1","\u006cinkPreview":true}"#
        ));
        assert!(!wants_link_preview(
            br#"{"number":"1","text":"a","linkPreview":false}"#
        ));
        assert!(!wants_link_preview(
            br#"{"number":"1","text":"see linkPreview"}"#
        ));
        assert!(!wants_link_preview(br#"{"number":"1","text":"a"}"#));
        assert!(!wants_link_preview(b"not json linkPreview"));
    }

    #[test]
    fn only_text_is_a_bare_conversation() {
        let message = build("Hello *bold* _it_".into(), Vec::new(), None, None);
        assert_eq!(message.conversation.as_deref(), Some("Hello *bold* _it_"));
        assert!(message.extended_text_message.as_option().is_none());
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
        assert_eq!(
            encode_conversation("Hello *bold* _it_"),
            message.encode_to_vec(),
            "the one-field encoding is the whole message's"
        );
        let long = "é".repeat(3000);
        let whole = build(long.clone(), Vec::new(), None, None).encode_to_vec();
        assert_eq!(encode_conversation(&long), whole);
    }

    #[test]
    fn mentions_make_an_extended_text_message() {
        let jid = "5511977776666@s.whatsapp.net".to_string();
        let message = build("hi @5511977776666".into(), vec![jid.clone()], None, None);
        assert_eq!(message.conversation, None);
        let extended = message.extended_text_message.as_option().unwrap();
        assert_eq!(extended.text.as_deref(), Some("hi @5511977776666"));
        let info = extended.context_info.as_option().unwrap();
        assert_eq!(info.mentioned_jid, [jid]);
        assert_eq!(info.stanza_id, None);
        assert_eq!(extended.matched_text, None, "no link preview: type text");
    }

    #[test]
    fn a_link_preview_sets_the_matched_text_title_and_description() {
        let preview = LinkPreview {
            matched_text: "https://example.com/a".into(),
            title: "Example".into(),
            description: Some("An example page".into()),
        };
        let message = build(
            "see https://example.com/a".into(),
            Vec::new(),
            None,
            Some(preview),
        );
        let extended = message.extended_text_message.as_option().unwrap();
        assert_eq!(
            extended.matched_text.as_deref(),
            Some("https://example.com/a")
        );
        assert_eq!(extended.title.as_deref(), Some("Example"));
        assert_eq!(extended.description.as_deref(), Some("An example page"));
        assert_eq!(extended.preview_type, Some(PreviewType::NONE));
        assert!(extended.context_info.as_option().is_none());
    }

    #[test]
    fn a_quote_goes_into_the_context_info() {
        let quote = ResolvedQuote {
            stanza_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            participant: Some("5511999999999@s.whatsapp.net".into()),
            remote_jid: None,
            message: Message {
                conversation: Some("original".into()),
                ..Default::default()
            },
            found: false,
        };
        let message = build("reply".into(), Vec::new(), Some(quote), None);
        let info = message
            .extended_text_message
            .as_option()
            .and_then(|m| m.context_info.as_option())
            .unwrap();
        assert_eq!(info.stanza_id.as_deref(), Some("3EB0AAAAAAAAAAAAAAAAAA"));
        assert_eq!(
            info.participant.as_deref(),
            Some("5511999999999@s.whatsapp.net")
        );
        assert_eq!(
            info.quoted_message
                .as_option()
                .and_then(|m| m.conversation.as_deref()),
            Some("original")
        );
        assert!(info.mentioned_jid.is_empty());
    }
}
