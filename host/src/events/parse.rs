//! A received `waE2E.Message` as the `data` of an event (docs/API.md, section "Events").
//!
//! One pure function, [`parse`], shared by the session drivers: it unwraps the envelopes
//! WhatsApp puts around content (ephemeral, view-once, document-with-caption, device-sent,
//! edited), classifies what is inside, and normalises every shape of a button or list tap
//! into one `button_reply` or `list_reply` object, since no other gateway does and the
//! buttons WUTS sends are worthless if their taps cannot be read (docs/wire-shapes.md
//! covers the reply shapes).
//!
//! A sender controls every string in a message, so each string copied into the event is
//! cut to a bound, and nothing here panics on any input.

use std::fmt::Write as _;

use buffa::Message as _;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use waproto::whatsapp::message::{
    ButtonsResponseMessage, FutureProofMessage, InteractiveResponseMessage, ListResponseMessage,
    PollCreationMessage, PollUpdateMessage, ProtocolMessage, TemplateButtonReplyMessage,
    buttons_response_message, interactive_response_message, protocol_message,
};
use waproto::whatsapp::{ContextInfo, Message};

use crate::message_json::message_to_json;
use crate::time::rfc3339;

/// Ids, JIDs, display texts, titles, names, mimetypes: far above any real value.
pub const MAX_FIELD_CHARS: usize = 4096;
/// Message text and captions: WhatsApp's own limit for a text message.
pub const MAX_TEXT_CHARS: usize = 65_536;
/// Envelopes unwrapped before giving up; real messages nest two or three deep.
pub const MAX_WRAPPER_DEPTH: usize = 8;
/// A message whose protobuf is larger than this gets an `raw` that says so instead of
/// its rendering (thumbnails render as arrays of numbers, about four times their size).
pub const MAX_RAW_BYTES: u32 = 1024 * 1024;
/// A native-flow `paramsJson` larger than this is treated as malformed, unparsed.
const MAX_PARAMS_JSON_BYTES: usize = 64 * 1024;

/// What a driver knows about one received message.
#[derive(Debug, Clone, Copy)]
pub struct Inbound<'a> {
    pub message_id: &'a str,
    pub chat_jid: &'a str,
    /// The sender as the server named it: a phone-number JID or a LID.
    pub sender_jid: &'a str,
    /// The sender's phone-number JID, when the device knows it.
    pub sender_pn: Option<&'a str>,
    /// The sender's LID, when the device knows it.
    pub sender_lid: Option<&'a str>,
    /// This device's own JID, when paired.
    pub own_jid: Option<&'a str>,
    pub is_from_me: bool,
    pub push_name: Option<&'a str>,
    pub timestamp: DateTime<Utc>,
    /// The WUTS device id, for the media URL.
    pub device_id: &'a str,
    pub message: &'a Message,
}

/// The event a message becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventName {
    MessageReceived,
    MessageReaction,
    MessageEdited,
    MessageRevoked,
}

impl EventName {
    pub fn as_str(self) -> &'static str {
        match self {
            EventName::MessageReceived => "message.received",
            EventName::MessageReaction => "message.reaction",
            EventName::MessageEdited => "message.edited",
            EventName::MessageRevoked => "message.revoked",
        }
    }
}

/// An event name with its `data` object.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub event: EventName,
    pub data: Value,
}

/// The event a received message makes, or `None` for the protocol traffic that rides in
/// the same envelope but is nobody's message (sender-key distribution, history-sync
/// notices, app-state key shares, disappearing-mode settings): a webhook per key share
/// would bury the messages. An empty message is still an event (`other`), since it may be
/// a type this code does not know yet.
pub fn parse(inbound: &Inbound<'_>) -> Option<Parsed> {
    let unwrapped = unwrap_envelopes(inbound.message);
    let media_url = media_url(inbound.message_id, inbound.device_id);
    let classified = classify(&unwrapped, &media_url)?;

    let is_group = inbound.chat_jid.ends_with("@g.us");
    let from = user_jid(inbound.sender_pn.unwrap_or(inbound.sender_jid));
    let from_lid = inbound
        .sender_lid
        .or_else(|| Some(inbound.sender_jid).filter(|jid| is_lid(jid)))
        .map(user_jid);
    // In a group (or a broadcast list, status included) the chat is not the sender.
    let participant = (is_group || inbound.chat_jid.ends_with("@broadcast")).then(|| from.clone());
    let to = if inbound.is_from_me {
        Some(user_jid(inbound.chat_jid))
    } else {
        inbound.own_jid.map(user_jid)
    };

    let mut data = Map::new();
    data.insert("message_id".into(), bounded(inbound.message_id).into());
    data.insert("chat_jid".into(), bounded(inbound.chat_jid).into());
    data.insert("from".into(), from.into());
    data.insert("from_lid".into(), from_lid.into());
    data.insert("to".into(), to.into());
    data.insert("is_group".into(), is_group.into());
    data.insert("participant".into(), participant.into());
    data.insert("push_name".into(), inbound.push_name.map(bounded).into());
    data.insert("timestamp".into(), rfc3339(inbound.timestamp).into());
    data.insert("is_from_me".into(), inbound.is_from_me.into());
    data.insert("message_type".into(), classified.message_type.into());
    data.insert("content".into(), classified.content.into());
    if let Some(quoted) = classified.context.and_then(quoted) {
        data.insert("quoted".into(), quoted);
    }
    for (key, value) in classified.extra {
        data.insert(key.into(), value);
    }
    data.insert("raw".into(), raw(inbound.message));
    Some(Parsed {
        event: classified.event,
        data: Value::Object(data),
    })
}

/// The content message inside its envelopes, and whether one of them was `editedMessage`.
struct Unwrapped<'m> {
    message: &'m Message,
    inside_edited_envelope: bool,
}

fn unwrap_envelopes(message: &Message) -> Unwrapped<'_> {
    let mut unwrapped = Unwrapped {
        message,
        inside_edited_envelope: false,
    };
    for _ in 0..MAX_WRAPPER_DEPTH {
        let current = unwrapped.message;
        if let Some(inner) = future_proof_inner(current) {
            unwrapped.message = inner;
        } else if let Some(inner) = current
            .device_sent_message
            .as_option()
            .and_then(|sent| sent.message.as_option())
        {
            unwrapped.message = inner;
        } else if let Some(inner) = inner_of(&current.edited_message) {
            unwrapped.message = inner;
            unwrapped.inside_edited_envelope = true;
        } else {
            break;
        }
    }
    unwrapped
}

/// The envelopes that only carry another message (`editedMessage` aside: it changes the
/// event, so [`unwrap_envelopes`] handles it itself).
fn future_proof_inner(message: &Message) -> Option<&Message> {
    [
        &message.ephemeral_message,
        &message.view_once_message,
        &message.view_once_message_v2,
        &message.view_once_message_v2_extension,
        &message.document_with_caption_message,
        &message.group_mentioned_message,
        &message.bot_invoke_message,
        &message.lottie_sticker_message,
        &message.spoiler_message,
        &message.poll_creation_message_v4,
    ]
    .into_iter()
    .find_map(inner_of)
}

fn inner_of(envelope: &buffa::MessageField<FutureProofMessage>) -> Option<&Message> {
    envelope
        .as_option()
        .and_then(|inner| inner.message.as_option())
}

/// What the content message is, as the event's fields.
struct Classified<'m> {
    event: EventName,
    message_type: &'static str,
    content: String,
    /// Where `quoted` comes from.
    context: Option<&'m ContextInfo>,
    /// Fields only some types have: `button_reply`, `list_reply`, `media`,
    /// `target_message_id`, `reaction`, `poll_message_id`.
    extra: Vec<(&'static str, Value)>,
}

impl<'m> Classified<'m> {
    fn received(message_type: &'static str, content: String) -> Self {
        Classified {
            event: EventName::MessageReceived,
            message_type,
            content,
            context: None,
            extra: Vec::new(),
        }
    }

    fn quoting(mut self, context: &'m buffa::MessageField<ContextInfo>) -> Self {
        self.context = context.as_option();
        self
    }

    fn with(mut self, key: &'static str, value: Value) -> Self {
        self.extra.push((key, value));
        self
    }
}

/// The media a received message carries (inside its envelopes), with what a download
/// needs; `None` for a message without media or without the fields to fetch it.
pub fn received_media(message: &Message) -> Option<ReceivedMedia> {
    use wuts_plugin_api::MediaKind;
    let message = unwrap_envelopes(message).message;
    macro_rules! media {
        ($field:ident, $kind:expr) => {
            media!($field, $kind, |_| None)
        };
        ($field:ident, $kind:expr, $file_name:expr) => {
            if let Some(media) = message.$field.as_option() {
                return Some(ReceivedMedia {
                    download: crate::session::MediaDownload {
                        kind: $kind,
                        direct_path: media.direct_path.clone()?,
                        media_key: media.media_key.clone()?,
                        file_sha256: media.file_sha256.clone()?,
                        file_enc_sha256: media.file_enc_sha256.clone()?,
                        file_length: media.file_length.unwrap_or_default(),
                    },
                    mimetype: media
                        .mimetype
                        .clone()
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    file_name: $file_name(media),
                });
            }
        };
    }
    media!(image_message, MediaKind::Image);
    media!(video_message, MediaKind::Video);
    media!(ptv_message, MediaKind::Video);
    media!(audio_message, MediaKind::Audio);
    media!(sticker_message, MediaKind::Sticker);
    media!(
        document_message,
        MediaKind::Document,
        |document: &waproto::whatsapp::message::DocumentMessage| document.file_name.clone()
    );
    None
}

/// A received message's media: where it is, and how to serve it.
#[derive(Debug, Clone)]
pub struct ReceivedMedia {
    pub download: crate::session::MediaDownload,
    pub mimetype: String,
    pub file_name: Option<String>,
}

fn classify<'m>(unwrapped: &Unwrapped<'m>, media_url: &str) -> Option<Classified<'m>> {
    let message = unwrapped.message;
    if let Some(protocol) = message.protocol_message.as_option() {
        return classify_protocol(protocol);
    }
    if unwrapped.inside_edited_envelope {
        // An edit envelope without the protocol message that names its target: the new
        // content is all there is.
        return Some(
            Classified {
                event: EventName::MessageEdited,
                ..Classified::received("edit", text_of(message))
            }
            .with("target_message_id", Value::Null),
        );
    }
    if let Some(reaction) = message.reaction_message.as_option() {
        let target = reaction.key.as_option().and_then(|key| key.id.as_deref());
        return Some(
            Classified {
                event: EventName::MessageReaction,
                ..Classified::received("reaction", String::new())
            }
            .with("target_message_id", target.map(bounded).into())
            // An empty reaction is the sender taking theirs back.
            .with(
                "reaction",
                bounded(reaction.text.as_deref().unwrap_or("")).into(),
            ),
        );
    }
    if let Some(tap) = message.buttons_response_message.as_option() {
        return Some(buttons_response(tap));
    }
    if let Some(tap) = message.interactive_response_message.as_option() {
        return Some(interactive_response(tap));
    }
    if let Some(tap) = message.template_button_reply_message.as_option() {
        return Some(template_button_reply(tap));
    }
    if let Some(tap) = message.list_response_message.as_option() {
        return Some(list_response(tap));
    }
    match classify_content(message, media_url) {
        Some(classified) => Some(classified),
        None if is_protocol_traffic(message) => None,
        None => Some(Classified::received("other", String::new())),
    }
}

/// Revokes and edits are events; every other protocol message is traffic between devices.
fn classify_protocol(protocol: &ProtocolMessage) -> Option<Classified<'_>> {
    let target = protocol
        .key
        .as_option()
        .and_then(|key| key.id.as_deref())
        .map(bounded);
    match protocol.r#type {
        Some(protocol_message::Type::REVOKE) => Some(
            Classified {
                event: EventName::MessageRevoked,
                ..Classified::received("revoke", String::new())
            }
            .with("target_message_id", target.into()),
        ),
        Some(protocol_message::Type::MESSAGE_EDIT) => {
            let content = protocol
                .edited_message
                .as_option()
                .map(|edited| text_of(unwrap_envelopes(edited).message))
                .unwrap_or_default();
            Some(
                Classified {
                    event: EventName::MessageEdited,
                    ..Classified::received("edit", content)
                }
                .with("target_message_id", target.into()),
            )
        }
        _ => None,
    }
}

/// Sender-key distribution rides alone in a message before a group's first content.
fn is_protocol_traffic(message: &Message) -> bool {
    message.sender_key_distribution_message.is_set()
        || message
            .fast_ratchet_key_sender_key_distribution_message
            .is_set()
}

/// Text, media, locations, contacts, polls; `None` for anything else.
fn classify_content<'m>(message: &'m Message, media_url: &str) -> Option<Classified<'m>> {
    if let Some(text) = message.conversation.as_deref() {
        return Some(Classified::received("text", bounded_text(text)));
    }
    if let Some(extended) = message.extended_text_message.as_option() {
        let text = bounded_text(extended.text.as_deref().unwrap_or(""));
        return Some(Classified::received("text", text).quoting(&extended.context_info));
    }
    if let Some(image) = message.image_message.as_option() {
        let media = MediaFacts {
            mimetype: image.mimetype.as_deref(),
            size: image.file_length,
            width: image.width,
            height: image.height,
            ..MediaFacts::default()
        };
        return Some(
            Classified::received("image", caption(&image.caption))
                .quoting(&image.context_info)
                .with("media", media.to_json(media_url)),
        );
    }
    if let Some(video) = message
        .video_message
        .as_option()
        .or_else(|| message.ptv_message.as_option())
    {
        let media = MediaFacts {
            mimetype: video.mimetype.as_deref(),
            size: video.file_length,
            seconds: video.seconds,
            width: video.width,
            height: video.height,
            ..MediaFacts::default()
        };
        return Some(
            Classified::received("video", caption(&video.caption))
                .quoting(&video.context_info)
                .with("media", media.to_json(media_url)),
        );
    }
    if let Some(audio) = message.audio_message.as_option() {
        let media = MediaFacts {
            mimetype: audio.mimetype.as_deref(),
            size: audio.file_length,
            seconds: audio.seconds,
            ..MediaFacts::default()
        };
        return Some(
            Classified::received("audio", String::new())
                .quoting(&audio.context_info)
                .with("media", media.to_json(media_url)),
        );
    }
    if let Some(document) = message.document_message.as_option() {
        let media = MediaFacts {
            mimetype: document.mimetype.as_deref(),
            size: document.file_length,
            file_name: document.file_name.as_deref(),
            ..MediaFacts::default()
        };
        return Some(
            Classified::received("document", caption(&document.caption))
                .quoting(&document.context_info)
                .with("media", media.to_json(media_url)),
        );
    }
    if let Some(sticker) = message.sticker_message.as_option() {
        let media = MediaFacts {
            mimetype: sticker.mimetype.as_deref(),
            size: sticker.file_length,
            width: sticker.width,
            height: sticker.height,
            ..MediaFacts::default()
        };
        return Some(
            Classified::received("sticker", String::new())
                .quoting(&sticker.context_info)
                .with("media", media.to_json(media_url)),
        );
    }
    if let Some(location) = message.location_message.as_option() {
        return Some(
            Classified::received("location", String::new()).quoting(&location.context_info),
        );
    }
    if let Some(live) = message.live_location_message.as_option() {
        return Some(
            Classified::received("location", caption(&live.caption)).quoting(&live.context_info),
        );
    }
    if let Some(contact) = message.contact_message.as_option() {
        return Some(Classified::received("contact", String::new()).quoting(&contact.context_info));
    }
    if let Some(contacts) = message.contacts_array_message.as_option() {
        return Some(
            Classified::received("contacts", String::new()).quoting(&contacts.context_info),
        );
    }
    if let Some(poll) = poll_creation_of(message) {
        // The question is what the sender wrote.
        return Some(Classified::received("poll", caption(&poll.name)).quoting(&poll.context_info));
    }
    if let Some(vote) = message.poll_update_message.as_option() {
        // The vote itself is encrypted with the poll's key: a vote for a poll this device
        // sent becomes `poll.vote` instead (`super::poll_vote`); one it cannot read is
        // this, naming the poll it belongs to.
        let poll = vote
            .poll_creation_message_key
            .as_option()
            .and_then(|key| key.id.as_deref());
        return Some(
            Classified::received("poll_vote", String::new())
                .with("poll_message_id", poll.map(bounded).into()),
        );
    }
    None
}

/// The poll a message creates, in whichever field the sender's client put it (`V3` for a
/// single choice, `pollCreationMessage` for several, `V2` in announcement groups, ...).
fn poll_creation_of(message: &Message) -> Option<&PollCreationMessage> {
    [
        &message.poll_creation_message,
        &message.poll_creation_message_v2,
        &message.poll_creation_message_v3,
        &message.poll_creation_message_v5,
        &message.poll_creation_message_v6,
    ]
    .into_iter()
    .find_map(|poll| poll.as_option())
}

/// The poll a message creates, inside its envelopes.
pub(crate) fn poll_creation(message: &Message) -> Option<&PollCreationMessage> {
    poll_creation_of(unwrap_envelopes(message).message)
}

/// The poll vote a message carries, inside its envelopes.
pub(crate) fn poll_update(message: &Message) -> Option<&PollUpdateMessage> {
    unwrap_envelopes(message)
        .message
        .poll_update_message
        .as_option()
}

/// The text a message shows: its text, its caption, a poll's question; "" otherwise.
fn text_of(message: &Message) -> String {
    classify_content(message, "")
        .map(|classified| classified.content)
        .unwrap_or_default()
}

// Button and list taps. docs/API.md: `button_reply` `{"id","display_text",
// "quoted_message_id","quoted_participant","source"}` and `list_reply` `{"id","title",
// "description","quoted_message_id","quoted_participant","source"}`. The tap's display
// text is also the message's `content`: it is what the chat shows as sent.

fn buttons_response(tap: &ButtonsResponseMessage) -> Classified<'_> {
    let display_text = tap.response.as_ref().map(|response| match response {
        buttons_response_message::Response::SelectedDisplayText(text) => bounded(text),
    });
    button_reply(
        tap.selected_button_id.as_deref().map(bounded),
        display_text,
        &tap.context_info,
        "buttons_response",
    )
}

fn template_button_reply(tap: &TemplateButtonReplyMessage) -> Classified<'_> {
    button_reply(
        tap.selected_id.as_deref().map(bounded),
        tap.selected_display_text.as_deref().map(bounded),
        &tap.context_info,
        "template_button_reply",
    )
}

fn list_response(tap: &ListResponseMessage) -> Classified<'_> {
    let row = tap
        .single_select_reply
        .as_option()
        .and_then(|reply| reply.selected_row_id.as_deref());
    list_reply(
        row.map(bounded),
        tap.title.as_deref().map(bounded),
        tap.description.as_deref().map(bounded),
        &tap.context_info,
        "list_response",
    )
}

/// A native-flow tap: `nativeFlowResponseMessage{name, paramsJson}` beside `body.text`.
///
/// - A list selection when `name` is `single_select` or the params carry
///   `selected_row_id`: the row id (else `id`), `title` (else the body text),
///   `description`.
/// - A button tap when the params carry `id` or `button_id`, or when `name` is
///   `quick_reply` or absent: that id, `display_text` (else `title`, else the body text).
/// - Params that are not a JSON object, or lack every id, still make a tap of the kind
///   `name` says, with `id` null and the body text: the tap happened and its text is
///   known, and `raw` keeps the params for whoever wants them.
/// - Any other native flow (a WhatsApp Flows form, an address, a call permission) is
///   `other` with the body text.
fn interactive_response(tap: &InteractiveResponseMessage) -> Classified<'_> {
    let body_text = tap.body.as_option().and_then(|body| body.text.as_deref());
    let Some(interactive_response_message::InteractiveResponseMessage::NativeFlowResponseMessage(
        native_flow,
    )) = &tap.interactive_response_message
    else {
        return Classified::received("other", body_text.map(bounded_text).unwrap_or_default())
            .quoting(&tap.context_info);
    };
    let params = native_flow
        .params_json
        .as_deref()
        .filter(|params| params.len() <= MAX_PARAMS_JSON_BYTES)
        .and_then(|params| serde_json::from_str::<Value>(params).ok());
    let param = |key: &str| params.as_ref().and_then(|params| param_text(params, key));
    let name = native_flow.name.as_deref().unwrap_or("");

    let row_id = param("selected_row_id");
    if name == "single_select" || row_id.is_some() {
        return list_reply(
            row_id.or_else(|| param("id")),
            param("title").or_else(|| body_text.map(bounded)),
            param("description"),
            &tap.context_info,
            "interactive_response",
        );
    }
    let button_id = param("id").or_else(|| param("button_id"));
    if button_id.is_some() || name.is_empty() || name == "quick_reply" {
        return button_reply(
            button_id,
            param("display_text")
                .or_else(|| param("title"))
                .or_else(|| body_text.map(bounded)),
            &tap.context_info,
            "interactive_response",
        );
    }
    Classified::received("other", body_text.map(bounded_text).unwrap_or_default())
        .quoting(&tap.context_info)
}

/// A param as text: ids arrive as strings, from some clients as numbers; empty is absent.
fn param_text(params: &Value, key: &str) -> Option<String> {
    match params.get(key)? {
        Value::String(text) if !text.is_empty() => Some(bounded(text)),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn button_reply<'m>(
    id: Option<String>,
    display_text: Option<String>,
    context: &'m buffa::MessageField<ContextInfo>,
    source: &'static str,
) -> Classified<'m> {
    let (quoted_message_id, quoted_participant) = quoted_ids(context.as_option());
    let content = display_text.clone().unwrap_or_default();
    Classified::received("button_reply", content)
        .quoting(context)
        .with(
            "button_reply",
            json!({
                "id": id,
                "display_text": display_text,
                "quoted_message_id": quoted_message_id,
                "quoted_participant": quoted_participant,
                "source": source,
            }),
        )
}

fn list_reply<'m>(
    id: Option<String>,
    title: Option<String>,
    description: Option<String>,
    context: &'m buffa::MessageField<ContextInfo>,
    source: &'static str,
) -> Classified<'m> {
    let (quoted_message_id, quoted_participant) = quoted_ids(context.as_option());
    let content = title.clone().unwrap_or_default();
    Classified::received("list_reply", content)
        .quoting(context)
        .with(
            "list_reply",
            json!({
                "id": id,
                "title": title,
                "description": description,
                "quoted_message_id": quoted_message_id,
                "quoted_participant": quoted_participant,
                "source": source,
            }),
        )
}

/// The quoted message's id and sender, from a contextInfo.
fn quoted_ids(context: Option<&ContextInfo>) -> (Option<String>, Option<String>) {
    let Some(context) = context else {
        return (None, None);
    };
    (
        context
            .stanza_id
            .as_deref()
            .filter(|id| !id.is_empty())
            .map(bounded),
        context
            .participant
            .as_deref()
            .filter(|jid| !jid.is_empty())
            .map(user_jid),
    )
}

/// `quoted` `{"message_id","participant"}`, when the message quotes one.
fn quoted(context: &ContextInfo) -> Option<Value> {
    let (message_id, participant) = quoted_ids(Some(context));
    Some(json!({ "message_id": message_id?, "participant": participant }))
}

#[derive(Default)]
struct MediaFacts<'m> {
    mimetype: Option<&'m str>,
    size: Option<u64>,
    seconds: Option<u32>,
    width: Option<u32>,
    height: Option<u32>,
    file_name: Option<&'m str>,
}

impl MediaFacts<'_> {
    /// `media` `{"mimetype","size","seconds"?,"width"?,"height"?,"file_name"?,"url"}`.
    fn to_json(&self, url: &str) -> Value {
        let mut media = Map::new();
        media.insert("mimetype".into(), self.mimetype.map(bounded).into());
        media.insert("size".into(), self.size.into());
        let optional = [
            ("seconds", self.seconds.map(Value::from)),
            ("width", self.width.map(Value::from)),
            ("height", self.height.map(Value::from)),
            ("file_name", self.file_name.map(|name| bounded(name).into())),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                media.insert(key.into(), value);
            }
        }
        media.insert("url".into(), url.into());
        Value::Object(media)
    }
}

/// This server's route for a received message's media (docs/API.md, "Inbound media").
fn media_url(message_id: &str, device_id: &str) -> String {
    format!(
        "/messages/{}/media?device_id={}",
        percent_encode(&bounded(message_id)),
        percent_encode(device_id)
    )
}

/// Everything but RFC 3986's unreserved characters, so the result is safe both as a path
/// segment and as a query value.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            let _ = write!(encoded, "%{byte:02X}");
        }
    }
    encoded
}

/// `raw`: the message as received, envelopes included, in the outbox's spelling.
fn raw(message: &Message) -> Value {
    match message.try_encoded_len() {
        Ok(size) if size <= MAX_RAW_BYTES => message_to_json(&message.encode_to_vec()),
        Ok(size) => json!({ "error": format!("message too large to render ({size} bytes)") }),
        Err(error) => json!({ "error": format!("could not render message: {error}") }),
    }
}

fn caption(caption: &Option<String>) -> String {
    caption.as_deref().map(bounded_text).unwrap_or_default()
}

pub(crate) fn is_lid(jid: &str) -> bool {
    jid.ends_with("@lid")
}

/// A JID without its device part (`5511...:12@s.whatsapp.net` -> `5511...@s.whatsapp.net`):
/// events name people, not their phones or computers.
pub(crate) fn user_jid(jid: &str) -> String {
    let jid = bounded(jid);
    match jid.split_once('@') {
        Some((local, server)) => match local.split_once(':') {
            Some((user, _device)) => format!("{user}@{server}"),
            None => jid,
        },
        None => jid,
    }
}

pub(crate) fn bounded(text: &str) -> String {
    truncate(text, MAX_FIELD_CHARS)
}

fn bounded_text(text: &str) -> String {
    truncate(text, MAX_TEXT_CHARS)
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => text.get(..cut).unwrap_or(text).to_owned(),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use buffa::MessageField;
    use chrono::TimeZone;
    use waproto::whatsapp::MessageKey;
    use waproto::whatsapp::message::{
        DocumentMessage, ExtendedTextMessage, ImageMessage, PollUpdateMessage, ReactionMessage,
        list_response_message,
    };

    use super::*;

    const ID: &str = "3EB0A1B2C3D4E5F6A7B8C9";
    const ALICE: &str = "5511999990000@s.whatsapp.net";
    const ALICE_LID: &str = "123456789012345@lid";
    const ME: &str = "5511888880000@s.whatsapp.net";
    const GROUP: &str = "120363012345678901@g.us";

    fn inbound(message: &Message) -> Inbound<'_> {
        Inbound {
            message_id: ID,
            chat_jid: ALICE,
            sender_jid: ALICE,
            sender_pn: None,
            sender_lid: None,
            own_jid: Some("5511888880000:7@s.whatsapp.net"),
            is_from_me: false,
            push_name: Some("Alice"),
            timestamp: Utc.with_ymd_and_hms(2026, 6, 15, 14, 32, 10).unwrap(),
            device_id: "dev 1",
            message,
        }
    }

    fn parsed(message: &Message) -> Parsed {
        parse(&inbound(message)).expect("an event")
    }

    fn quoting(stanza_id: &str, participant: &str) -> MessageField<ContextInfo> {
        MessageField::some(ContextInfo {
            stanza_id: Some(stanza_id.into()),
            participant: Some(participant.into()),
            ..Default::default()
        })
    }

    fn keys(data: &Value) -> Vec<&str> {
        let mut keys: Vec<&str> = data
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        keys.sort_unstable();
        keys
    }

    fn interactive(name: Option<&str>, params: &str, body: Option<&str>) -> Message {
        Message {
            interactive_response_message: MessageField::some(InteractiveResponseMessage {
                body: MessageField::some(interactive_response_message::Body {
                    text: body.map(Into::into),
                    ..Default::default()
                }),
                context_info: quoting("3EB0BUTTONS", "5511888880000:7@s.whatsapp.net"),
                interactive_response_message: Some(
                    interactive_response_message::InteractiveResponseMessage::NativeFlowResponseMessage(
                        Box::new(interactive_response_message::NativeFlowResponseMessage {
                            name: name.map(Into::into),
                            params_json: Some(params.into()),
                            version: Some(1),
                        }),
                    ),
                ),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_plain_conversation_is_text() {
        let message = Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        let event = parsed(&message);
        assert_eq!(event.event, EventName::MessageReceived);
        assert_eq!(event.event.as_str(), "message.received");
        assert_eq!(
            event.data,
            json!({
                "message_id": ID,
                "chat_jid": ALICE,
                "from": ALICE,
                "from_lid": null,
                "to": ME,
                "is_group": false,
                "participant": null,
                "push_name": "Alice",
                "timestamp": "2026-06-15T14:32:10Z",
                "is_from_me": false,
                "message_type": "text",
                "content": "hello",
                "raw": {"conversation": "hello"},
            })
        );
    }

    #[test]
    fn extended_text_carries_its_quote_and_keeps_mentions_in_raw() {
        let message = Message {
            extended_text_message: MessageField::some(ExtendedTextMessage {
                text: Some("hi @5511777770000".into()),
                context_info: MessageField::some(ContextInfo {
                    stanza_id: Some("3EB0QUOTED".into()),
                    participant: Some("5511777770000:3@s.whatsapp.net".into()),
                    mentioned_jid: vec!["5511777770000@s.whatsapp.net".into()],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "text");
        assert_eq!(data["content"], "hi @5511777770000");
        assert_eq!(
            data["quoted"],
            json!({"message_id": "3EB0QUOTED", "participant": "5511777770000@s.whatsapp.net"})
        );
        assert_eq!(
            data["raw"]["extendedTextMessage"]["contextInfo"]["mentionedJID"],
            json!(["5511777770000@s.whatsapp.net"])
        );
        assert!(data.get("button_reply").is_none());
        assert!(data.get("media").is_none());
    }

    #[test]
    fn an_image_has_its_caption_and_a_media_descriptor() {
        let message = Message {
            image_message: MessageField::some(ImageMessage {
                mimetype: Some("image/jpeg".into()),
                caption: Some("look".into()),
                file_length: Some(52_341),
                width: Some(800),
                height: Some(600),
                url: Some("https://mmg.whatsapp.net/secret".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "image");
        assert_eq!(data["content"], "look");
        assert_eq!(
            data["media"],
            json!({
                "mimetype": "image/jpeg",
                "size": 52_341,
                "width": 800,
                "height": 600,
                "url": format!("/messages/{ID}/media?device_id=dev%201"),
            })
        );
        assert!(data.get("quoted").is_none());
    }

    #[test]
    fn a_document_names_its_file() {
        let message = Message {
            document_message: MessageField::some(DocumentMessage {
                mimetype: Some("application/pdf".into()),
                file_length: Some(10),
                file_name: Some("invoice.pdf".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "document");
        assert_eq!(data["content"], "");
        assert_eq!(data["media"]["file_name"], "invoice.pdf");
        assert!(data["media"].get("width").is_none());
    }

    #[test]
    fn a_buttons_response_is_a_button_reply() {
        let message = Message {
            buttons_response_message: MessageField::some(ButtonsResponseMessage {
                selected_button_id: Some("yes".into()),
                r#type: Some(buttons_response_message::Type::DISPLAY_TEXT),
                response: Some(buttons_response_message::Response::SelectedDisplayText(
                    "Yes".into(),
                )),
                context_info: quoting("3EB0BUTTONS", "5511888880000@s.whatsapp.net"),
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "button_reply");
        assert_eq!(data["content"], "Yes");
        assert_eq!(
            data["button_reply"],
            json!({
                "id": "yes",
                "display_text": "Yes",
                "quoted_message_id": "3EB0BUTTONS",
                "quoted_participant": ME,
                "source": "buttons_response",
            })
        );
        assert_eq!(
            data["quoted"],
            json!({"message_id": "3EB0BUTTONS", "participant": ME})
        );
        assert!(data.get("list_reply").is_none());
    }

    #[test]
    fn a_native_flow_quick_reply_with_id_is_a_button_reply() {
        let message = interactive(
            Some("quick_reply"),
            r#"{"display_text":"Confirm","id":"confirm_order"}"#,
            Some("Confirm (body)"),
        );
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "button_reply");
        assert_eq!(data["content"], "Confirm");
        assert_eq!(
            data["button_reply"],
            json!({
                "id": "confirm_order",
                "display_text": "Confirm",
                "quoted_message_id": "3EB0BUTTONS",
                "quoted_participant": ME,
                "source": "interactive_response",
            })
        );
    }

    #[test]
    fn a_native_flow_button_id_without_display_text_takes_the_body_text() {
        let message = interactive(None, r#"{"button_id":42}"#, Some("Confirm"));
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "button_reply");
        assert_eq!(data["button_reply"]["id"], "42");
        assert_eq!(data["button_reply"]["display_text"], "Confirm");
        assert_eq!(data["button_reply"]["source"], "interactive_response");
    }

    #[test]
    fn a_native_flow_selected_row_is_a_list_reply() {
        let message = interactive(
            Some("single_select"),
            r#"{"selected_row_id":"row_2","description":"Tomorrow"}"#,
            Some("Pick-up"),
        );
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "list_reply");
        assert_eq!(data["content"], "Pick-up");
        assert_eq!(
            data["list_reply"],
            json!({
                "id": "row_2",
                "title": "Pick-up",
                "description": "Tomorrow",
                "quoted_message_id": "3EB0BUTTONS",
                "quoted_participant": ME,
                "source": "interactive_response",
            })
        );
        assert!(data.get("button_reply").is_none());
    }

    #[test]
    fn a_selected_row_id_makes_a_list_reply_whatever_the_name() {
        let message = interactive(
            Some("quick_reply"),
            r#"{"selected_row_id":"r1","title":"One"}"#,
            None,
        );
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "list_reply");
        assert_eq!(data["list_reply"]["id"], "r1");
        assert_eq!(data["list_reply"]["title"], "One");
        assert_eq!(data["list_reply"]["description"], Value::Null);
    }

    #[test]
    fn malformed_params_still_report_the_tap_without_an_id() {
        for params in ["{not json", "[1,2]", "\"id\"", "{}", r#"{"id":""}"#] {
            let message = interactive(Some("quick_reply"), params, Some("Confirm"));
            let data = parsed(&message).data;
            assert_eq!(data["message_type"], "button_reply", "{params}");
            assert_eq!(data["button_reply"]["id"], Value::Null, "{params}");
            assert_eq!(data["button_reply"]["display_text"], "Confirm", "{params}");
            assert_eq!(
                data["raw"]["interactiveResponseMessage"]["nativeFlowResponseMessage"]["paramsJSON"],
                params
            );
        }
        let list = parsed(&interactive(Some("single_select"), "{oops", Some("Row"))).data;
        assert_eq!(list["message_type"], "list_reply");
        assert_eq!(list["list_reply"]["id"], Value::Null);
        assert_eq!(list["list_reply"]["title"], "Row");
    }

    #[test]
    fn another_native_flow_is_other_with_its_body_text() {
        let message = interactive(
            Some("galaxy_message"),
            r#"{"flow_token":"abc"}"#,
            Some("Sent"),
        );
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "other");
        assert_eq!(data["content"], "Sent");
        assert!(data.get("button_reply").is_none());
        assert_eq!(data["quoted"]["message_id"], "3EB0BUTTONS");
    }

    #[test]
    fn a_template_button_reply_is_a_button_reply() {
        let message = Message {
            template_button_reply_message: MessageField::some(TemplateButtonReplyMessage {
                selected_id: Some("opt-1".into()),
                selected_display_text: Some("Option 1".into()),
                context_info: quoting("3EB0TEMPLATE", ME),
                selected_index: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "button_reply");
        assert_eq!(
            data["button_reply"],
            json!({
                "id": "opt-1",
                "display_text": "Option 1",
                "quoted_message_id": "3EB0TEMPLATE",
                "quoted_participant": ME,
                "source": "template_button_reply",
            })
        );
    }

    #[test]
    fn a_list_response_is_a_list_reply() {
        let message = Message {
            list_response_message: MessageField::some(ListResponseMessage {
                title: Some("Large".into()),
                description: Some("40 cm".into()),
                list_type: Some(list_response_message::ListType::SINGLE_SELECT),
                single_select_reply: MessageField::some(list_response_message::SingleSelectReply {
                    selected_row_id: Some("size_l".into()),
                }),
                context_info: quoting("3EB0LIST", ME),
            }),
            ..Default::default()
        };
        let data = parsed(&message).data;
        assert_eq!(data["message_type"], "list_reply");
        assert_eq!(data["content"], "Large");
        assert_eq!(
            data["list_reply"],
            json!({
                "id": "size_l",
                "title": "Large",
                "description": "40 cm",
                "quoted_message_id": "3EB0LIST",
                "quoted_participant": ME,
                "source": "list_response",
            })
        );
    }

    #[test]
    fn a_lid_sender_is_from_the_phone_number_when_known() {
        let message = Message {
            conversation: Some("hi".into()),
            ..Default::default()
        };
        let unknown = parse(&Inbound {
            sender_jid: ALICE_LID,
            chat_jid: ALICE_LID,
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(unknown["from"], ALICE_LID);
        assert_eq!(unknown["from_lid"], ALICE_LID);

        let known = parse(&Inbound {
            sender_jid: "123456789012345:4@lid",
            chat_jid: ALICE_LID,
            sender_pn: Some(ALICE),
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(known["from"], ALICE);
        assert_eq!(known["from_lid"], ALICE_LID);
        assert_eq!(known["participant"], Value::Null);

        let given_lid = parse(&Inbound {
            sender_lid: Some(ALICE_LID),
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(given_lid["from"], ALICE);
        assert_eq!(given_lid["from_lid"], ALICE_LID);
    }

    #[test]
    fn in_a_group_the_sender_is_the_participant() {
        let message = Message {
            conversation: Some("hi all".into()),
            ..Default::default()
        };
        let data = parse(&Inbound {
            chat_jid: GROUP,
            sender_jid: "5511999990000:2@s.whatsapp.net",
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(data["chat_jid"], GROUP);
        assert_eq!(data["is_group"], true);
        assert_eq!(data["from"], ALICE);
        assert_eq!(data["participant"], ALICE);
        assert_eq!(data["to"], ME);
    }

    #[test]
    fn a_message_from_me_is_to_the_chat() {
        let message = Message {
            conversation: Some("sent from the phone".into()),
            ..Default::default()
        };
        let data = parse(&Inbound {
            sender_jid: ME,
            is_from_me: true,
            own_jid: None,
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(data["is_from_me"], true);
        assert_eq!(data["from"], ME);
        assert_eq!(data["to"], ALICE);
        let unknown_own = parse(&Inbound {
            own_jid: None,
            ..inbound(&message)
        })
        .unwrap()
        .data;
        assert_eq!(unknown_own["to"], Value::Null);
    }

    #[test]
    fn a_reaction_names_its_target_and_emoji() {
        let message = Message {
            reaction_message: MessageField::some(ReactionMessage {
                key: MessageField::some(MessageKey {
                    remote_jid: Some(ALICE.into()),
                    from_me: Some(true),
                    id: Some("3EB0TARGET".into()),
                    participant: None,
                }),
                text: Some("👍".into()),
                sender_timestamp_ms: Some(1_781_530_330_000),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = parsed(&message);
        assert_eq!(event.event, EventName::MessageReaction);
        assert_eq!(event.event.as_str(), "message.reaction");
        assert_eq!(event.data["message_type"], "reaction");
        assert_eq!(event.data["content"], "");
        assert_eq!(event.data["target_message_id"], "3EB0TARGET");
        assert_eq!(event.data["reaction"], "👍");
        assert_eq!(
            keys(&event.data),
            [
                "chat_jid",
                "content",
                "from",
                "from_lid",
                "is_from_me",
                "is_group",
                "message_id",
                "message_type",
                "participant",
                "push_name",
                "raw",
                "reaction",
                "target_message_id",
                "timestamp",
                "to"
            ]
        );
    }

    fn edit(new_text: &str) -> ProtocolMessage {
        ProtocolMessage {
            key: MessageField::some(MessageKey {
                id: Some("3EB0ORIGINAL".into()),
                ..Default::default()
            }),
            r#type: Some(protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(Message {
                extended_text_message: MessageField::some(ExtendedTextMessage {
                    text: Some(new_text.into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn an_edit_carries_the_new_content_and_its_target() {
        let bare = Message {
            protocol_message: MessageField::some(edit("fixed typo")),
            ..Default::default()
        };
        let wrapped = Message {
            edited_message: MessageField::some(FutureProofMessage {
                message: MessageField::some(bare.clone()),
            }),
            ..Default::default()
        };
        for message in [&bare, &wrapped] {
            let event = parsed(message);
            assert_eq!(event.event, EventName::MessageEdited);
            assert_eq!(event.event.as_str(), "message.edited");
            assert_eq!(event.data["message_type"], "edit");
            assert_eq!(event.data["content"], "fixed typo");
            assert_eq!(event.data["target_message_id"], "3EB0ORIGINAL");
        }
        assert!(parsed(&wrapped).data["raw"]["editedMessage"].is_object());
    }

    #[test]
    fn an_edited_envelope_without_a_protocol_message_is_an_edit_of_unknown_target() {
        let message = Message {
            edited_message: MessageField::some(FutureProofMessage {
                message: MessageField::some(Message {
                    conversation: Some("new".into()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let event = parsed(&message);
        assert_eq!(event.event, EventName::MessageEdited);
        assert_eq!(event.data["content"], "new");
        assert_eq!(event.data["target_message_id"], Value::Null);
    }

    #[test]
    fn a_revoke_names_its_target() {
        let message = Message {
            protocol_message: MessageField::some(ProtocolMessage {
                key: MessageField::some(MessageKey {
                    id: Some("3EB0GONE".into()),
                    ..Default::default()
                }),
                r#type: Some(protocol_message::Type::REVOKE),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = parsed(&message);
        assert_eq!(event.event, EventName::MessageRevoked);
        assert_eq!(event.event.as_str(), "message.revoked");
        assert_eq!(event.data["message_type"], "revoke");
        assert_eq!(event.data["content"], "");
        assert_eq!(event.data["target_message_id"], "3EB0GONE");
    }

    #[test]
    fn protocol_traffic_is_no_event() {
        let key_share = Message {
            protocol_message: MessageField::some(ProtocolMessage {
                r#type: Some(protocol_message::Type::APP_STATE_SYNC_KEY_SHARE),
                ..Default::default()
            }),
            ..Default::default()
        };
        assert_eq!(parse(&inbound(&key_share)), None);
        let sender_key = Message {
            sender_key_distribution_message: MessageField::some(Default::default()),
            ..Default::default()
        };
        assert_eq!(parse(&inbound(&sender_key)), None);
        let sender_key_with_text = Message {
            conversation: Some("first in group".into()),
            ..sender_key
        };
        assert_eq!(parsed(&sender_key_with_text).data["message_type"], "text");
    }

    #[test]
    fn ephemeral_and_view_once_envelopes_are_unwrapped() {
        let image = Message {
            image_message: MessageField::some(ImageMessage {
                mimetype: Some("image/png".into()),
                caption: Some("once".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let envelope = |inner: Message| {
            MessageField::some(FutureProofMessage {
                message: MessageField::some(inner),
            })
        };
        let view_once_v2 = Message {
            view_once_message_v2: envelope(image.clone()),
            ..Default::default()
        };
        let ephemeral_view_once = Message {
            ephemeral_message: envelope(Message {
                view_once_message: envelope(image.clone()),
                ..Default::default()
            }),
            ..Default::default()
        };
        for message in [&view_once_v2, &ephemeral_view_once] {
            let data = parsed(message).data;
            assert_eq!(data["message_type"], "image");
            assert_eq!(data["content"], "once");
            assert_eq!(data["media"]["mimetype"], "image/png");
            assert_eq!(data["media"]["size"], Value::Null);
        }
        let ephemeral_text = Message {
            ephemeral_message: envelope(Message {
                conversation: Some("disappearing".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parsed(&ephemeral_text).data;
        assert_eq!(data["message_type"], "text");
        assert_eq!(data["content"], "disappearing");
        assert_eq!(
            data["raw"]["ephemeralMessage"]["message"]["conversation"],
            "disappearing"
        );
    }

    #[test]
    fn envelopes_deeper_than_the_cap_are_other() {
        let mut message = Message {
            conversation: Some("deep".into()),
            ..Default::default()
        };
        for _ in 0..MAX_WRAPPER_DEPTH + 1 {
            message = Message {
                ephemeral_message: MessageField::some(FutureProofMessage {
                    message: MessageField::some(message),
                }),
                ..Default::default()
            };
        }
        assert_eq!(parsed(&message).data["message_type"], "other");
    }

    #[test]
    fn an_empty_message_is_other() {
        let data = parsed(&Message::default()).data;
        assert_eq!(data["message_type"], "other");
        assert_eq!(data["content"], "");
        assert_eq!(data["raw"], json!({}));
        assert_eq!(
            keys(&data),
            [
                "chat_jid",
                "content",
                "from",
                "from_lid",
                "is_from_me",
                "is_group",
                "message_id",
                "message_type",
                "participant",
                "push_name",
                "raw",
                "timestamp",
                "to"
            ]
        );
    }

    #[test]
    fn a_poll_vote_names_its_poll() {
        let message = Message {
            poll_update_message: MessageField::some(PollUpdateMessage {
                poll_creation_message_key: MessageField::some(MessageKey {
                    id: Some("3EB0POLL".into()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = parsed(&message);
        assert_eq!(event.event, EventName::MessageReceived);
        assert_eq!(event.data["message_type"], "poll_vote");
        assert_eq!(event.data["poll_message_id"], "3EB0POLL");
    }

    #[test]
    fn hostile_strings_are_bounded() {
        let huge = "é".repeat(MAX_TEXT_CHARS + 10);
        let message = Message {
            buttons_response_message: MessageField::some(ButtonsResponseMessage {
                selected_button_id: Some(huge.clone()),
                response: Some(buttons_response_message::Response::SelectedDisplayText(
                    huge.clone(),
                )),
                ..Default::default()
            }),
            ..Default::default()
        };
        let data = parse(&Inbound {
            push_name: Some(&huge),
            ..inbound(&message)
        })
        .unwrap()
        .data;
        let chars = |value: &Value| value.as_str().unwrap().chars().count();
        assert_eq!(chars(&data["button_reply"]["id"]), MAX_FIELD_CHARS);
        assert_eq!(
            chars(&data["button_reply"]["display_text"]),
            MAX_FIELD_CHARS
        );
        assert_eq!(chars(&data["push_name"]), MAX_FIELD_CHARS);

        let text = Message {
            conversation: Some(huge),
            ..Default::default()
        };
        assert_eq!(chars(&parsed(&text).data["content"]), MAX_TEXT_CHARS);
    }

    #[test]
    fn the_media_url_escapes_what_a_url_cannot_hold() {
        assert_eq!(
            media_url("3EB0/../x?y", "dév&1"),
            "/messages/3EB0%2F..%2Fx%3Fy/media?device_id=d%C3%A9v%261"
        );
    }
}
