//! What a reply quotes: the original when the host's message log knows it, else the text
//! the caller gave; and who wrote it. Shared by the plugins whose messages may quote
//! (feature `quote`, which brings the protobuf types; the ABI itself never uses them).
//!
//! The `contextInfo` of a reply follows what the current clients build:
//!
//! - `stanzaID`: the quoted message's id; `participant`: its author (this device's own JID
//!   when the quoted message is its own, `fromMe`); `quotedMessage`: the original with its
//!   own mentions and quote chain removed, so quoting neither notifies those people again
//!   nor nests quotes (whatsapp-rust 0.7.0 `wacore/src/proto_helpers.rs`,
//!   `prepare_for_quote` / `strip_nested_context_info`; Baileys `src/Utils/messages.ts`,
//!   `generateWAMessageFromContent`, deletes the quoted content's `contextInfo`).
//! - `remoteJID`: only for a quote across chats, the quoted message's chat (whatsapp-rust
//!   `build_quote_context_with_info`; Baileys sets it when the chat differs).

use crate::{PluginError, Quoted, SentMessage, is_group};
use buffa::{Message as _, MessageField};
use serde_json::{Value, json};
use waproto::whatsapp::{ContextInfo, Message};

/// A quote ready to go into a reply's `contextInfo`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedQuote {
    pub stanza_id: String,
    pub participant: Option<String>,
    /// The quoted message's chat, when it is not the reply's.
    pub remote_jid: Option<String>,
    pub message: Message,
    /// Whether the host's log knew the original.
    pub found: bool,
}

impl ResolvedQuote {
    /// Writes the quote into `info`.
    pub fn apply(self, info: &mut ContextInfo) {
        info.stanza_id = Some(self.stanza_id);
        info.participant = self.participant;
        info.remote_jid = self.remote_jid;
        info.quoted_message = MessageField::some(self.message);
    }
}

/// The `contextInfo` of a message that mentions `mentioned` and may quote: none at all
/// when there is neither (clients leave it out, and the message stays smaller).
pub fn context_info(
    mentioned: Vec<String>,
    quote: Option<ResolvedQuote>,
) -> MessageField<ContextInfo> {
    if mentioned.is_empty() && quote.is_none() {
        return MessageField::none();
    }
    let mut info = ContextInfo {
        mentioned_jid: mentioned,
        ..Default::default()
    };
    if let Some(quote) = quote {
        quote.apply(&mut info);
    }
    MessageField::some(info)
}

/// Resolves `quoted` for a reply sent to `chat` by a device whose JID is `own_jid`.
///
/// A message the log knows is quoted whole (prepared as clients prepare a quote); an
/// unknown one is quoted as `{conversation: <the body given>}`, and is refused without a
/// body: there would be nothing to show.
pub fn resolve(
    quoted: &Quoted,
    chat: &str,
    own_jid: Option<&str>,
    known: Option<&SentMessage>,
) -> Result<ResolvedQuote, PluginError> {
    let original = known.and_then(|known| {
        Message::decode_from_slice(&known.message)
            .ok()
            .map(|message| (known, message))
    });
    if let Some((known, mut message)) = original {
        prepare_for_quote(&mut message);
        let author = if known.from_me {
            own_jid.map(str::to_string).or(known.sender_jid.clone())
        } else {
            known
                .sender_jid
                .clone()
                .or_else(|| quoted.participant.clone())
                .or_else(|| (!is_group(&known.chat_jid)).then(|| known.chat_jid.clone()))
        };
        return Ok(ResolvedQuote {
            stanza_id: quoted.message_id.clone(),
            participant: author,
            remote_jid: (known.chat_jid != chat).then(|| known.chat_jid.clone()),
            message,
            found: true,
        });
    }
    let Some(body) = quoted.body.clone() else {
        return Err(PluginError::invalid_field(
            "quoted",
            format!(
                "message {} is not known to this device: give its text (quoted.body, or \
                 quoted.message.conversation) to quote it",
                quoted.message_id
            ),
            json!(quoted.message_id),
        ));
    };
    let participant = match (&quoted.participant, quoted.from_me) {
        (Some(participant), _) => participant.clone(),
        (None, Some(true)) => own_jid.unwrap_or(chat).to_string(),
        (None, _) if !is_group(chat) => chat.to_string(),
        (None, _) => {
            return Err(PluginError::invalid_field(
                "quoted.participant",
                "is required to quote, in a group, a message this device does not know: \
                 who wrote it",
                Value::Null,
            ));
        }
    };
    Ok(ResolvedQuote {
        stanza_id: quoted.message_id.clone(),
        participant: Some(participant),
        remote_jid: None,
        message: Message {
            conversation: Some(body),
            ..Default::default()
        },
        found: false,
    })
}

/// Removes what a quoted copy must not carry: the original's mentions (a quote would
/// notify them again), its own quote (no quote chains) and its `messageContextInfo`
/// (message secrets stay with the original).
pub fn prepare_for_quote(message: &mut Message) {
    fn clear(info: &mut MessageField<ContextInfo>) {
        if let Some(info) = info.as_option_mut() {
            info.mentioned_jid.clear();
            info.group_mentions.clear();
            info.quoted_message = MessageField::none();
            info.stanza_id = None;
            info.participant = None;
            info.remote_jid = None;
        }
    }
    macro_rules! clear_in {
        ($($field:ident),+ $(,)?) => {
            $(
                if let Some(inner) = message.$field.as_option_mut() {
                    clear(&mut inner.context_info);
                }
            )+
        };
    }
    clear_in!(
        extended_text_message,
        image_message,
        video_message,
        ptv_message,
        audio_message,
        document_message,
        sticker_message,
        location_message,
        live_location_message,
        contact_message,
        contacts_array_message,
        buttons_message,
        buttons_response_message,
        interactive_message,
        interactive_response_message,
        list_message,
        list_response_message,
        template_button_reply_message,
        product_message,
        poll_creation_message,
        poll_creation_message_v2,
        poll_creation_message_v3,
        group_invite_message,
    );
    macro_rules! recurse_into {
        ($($wrapper:ident),+ $(,)?) => {
            $(
                if let Some(inner) = message
                    .$wrapper
                    .as_option_mut()
                    .and_then(|wrapper| wrapper.message.as_option_mut())
                {
                    prepare_for_quote(inner);
                }
            )+
        };
    }
    recurse_into!(
        ephemeral_message,
        view_once_message,
        view_once_message_v2,
        view_once_message_v2_extension,
        document_with_caption_message,
    );
    message.message_context_info = MessageField::none();
}

#[cfg(test)]
mod tests {
    use super::*;
    use waproto::whatsapp::message::ExtendedTextMessage;

    const CHAT: &str = "5511999999999@s.whatsapp.net";
    const ME: &str = "5511888888888@s.whatsapp.net";

    fn quoted(body: Option<&str>, from_me: Option<bool>, participant: Option<&str>) -> Quoted {
        Quoted {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            participant: participant.map(Into::into),
            body: body.map(Into::into),
            from_me,
        }
    }

    fn logged(from_me: bool, chat: &str, sender: Option<&str>, message: &Message) -> SentMessage {
        SentMessage {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            chat_jid: chat.into(),
            sender_jid: sender.map(Into::into),
            from_me,
            message: message.encode_to_vec(),
            timestamp_ms: 0,
        }
    }

    fn reply_with_mentions() -> Message {
        Message {
            extended_text_message: MessageField::some(ExtendedTextMessage {
                text: Some("hi @5511977776666".into()),
                context_info: MessageField::some(ContextInfo {
                    mentioned_jid: vec!["5511977776666@s.whatsapp.net".into()],
                    stanza_id: Some("EARLIER".into()),
                    quoted_message: MessageField::some(Message {
                        conversation: Some("earlier".into()),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn a_known_message_is_quoted_without_its_mentions_or_its_own_quote() {
        let known = logged(false, CHAT, Some(CHAT), &reply_with_mentions());
        let resolved = resolve(&quoted(None, None, None), CHAT, Some(ME), Some(&known)).unwrap();
        assert!(resolved.found);
        assert_eq!(resolved.participant.as_deref(), Some(CHAT));
        assert_eq!(resolved.remote_jid, None);
        let text = resolved.message.extended_text_message.as_option().unwrap();
        assert_eq!(text.text.as_deref(), Some("hi @5511977776666"));
        let info = text.context_info.as_option().unwrap();
        assert!(info.mentioned_jid.is_empty());
        assert!(info.quoted_message.as_option().is_none());
        assert_eq!(info.stanza_id, None);
    }

    #[test]
    fn an_own_message_names_this_device_and_another_chat_is_named() {
        let original = Message {
            conversation: Some("mine".into()),
            ..Default::default()
        };
        let known = logged(true, "5511977776666@s.whatsapp.net", Some(ME), &original);
        let resolved = resolve(&quoted(None, None, None), CHAT, Some(ME), Some(&known)).unwrap();
        assert_eq!(resolved.participant.as_deref(), Some(ME));
        assert_eq!(
            resolved.remote_jid.as_deref(),
            Some("5511977776666@s.whatsapp.net")
        );
        assert_eq!(resolved.message, original);
    }

    #[test]
    fn an_unknown_message_quotes_the_body_and_names_its_author() {
        let resolved = resolve(
            &quoted(Some("hello"), Some(false), None),
            CHAT,
            Some(ME),
            None,
        )
        .unwrap();
        assert!(!resolved.found);
        assert_eq!(resolved.participant.as_deref(), Some(CHAT));
        assert_eq!(resolved.message.conversation.as_deref(), Some("hello"));
        let mine = resolve(&quoted(Some("x"), Some(true), None), CHAT, Some(ME), None).unwrap();
        assert_eq!(mine.participant.as_deref(), Some(ME));
        let group = "120363025246125486@g.us";
        let error = resolve(&quoted(Some("x"), None, None), group, Some(ME), None).unwrap_err();
        assert_eq!(error.validation[0].field, "quoted.participant");
        let named = resolve(&quoted(Some("x"), None, Some(CHAT)), group, Some(ME), None).unwrap();
        assert_eq!(named.participant.as_deref(), Some(CHAT));
    }

    #[test]
    fn an_unknown_message_without_a_body_is_refused() {
        let error = resolve(&quoted(None, Some(false), None), CHAT, Some(ME), None).unwrap_err();
        assert_eq!(error.status, 400);
        assert_eq!(error.validation[0].field, "quoted");
        assert!(error.message.contains("not known"), "{}", error.message);
    }
}
