//! The reaction plugin: `POST /send/reaction`, an emoji reaction on a message, or with an
//! empty reaction the removal of one.
//!
//! # Request
//!
//! As the WUTS docs §1.11 and §10 print it: `{"number", "messageId", "reaction",
//! "fromMe"?, "participant"?, "device_id"?}`. The contract says a group reaction to
//! another participant's message needs that author's JID but does not print the field's
//! name; it is `participant` here (as in `quoted`). `reaction` is one emoji grapheme, or
//! `""` to remove this device's reaction. Standard envelope; the 200 carries
//! `metadata {device_id, user_id, processing_time_ms, original_message_id,
//! reaction_emoji, sent_at}`.
//!
//! # The key of the reacted message
//!
//! A reaction names its message by key: `remoteJID` (the chat), `fromMe`, `id`, and in
//! groups `participant` (who wrote it). When the host's message log knows the message,
//! the key comes from the log (as buttons-response reads its quoted message through
//! [`Host::find_message`]): `fromMe` is whether this device sent it, `participant` its
//! sender (this device's own JID for its own messages); a message of another chat is
//! refused. When the log does not know it, the caller must say `fromMe`, and in a group
//! give `participant` for another's message.
//!
//! # What goes out
//!
//! `Message { reactionMessage { key { remoteJID, fromMe, id, participant? }, text,
//! senderTimestampMs } }`, no extra stanza nodes. An empty `text` is the removal form
//! (the wire stays a `reactionMessage`). The library sends it as `<message
//! type="reaction">` with `decrypt-fail="hide"` on its `<enc>` nodes (recipients that
//! cannot decrypt it show no placeholder) and no `mediatype`.
//!
//! Sources: whatsapp-rust 0.7.0 `wacore/src/proto_helpers.rs` (`build_reaction_message`:
//! `{key, text, senderTimestampMs}`, empty text removes), `src/features/reaction.rs`
//! (`send_reaction`), `src/bot.rs` (`message_key`: `participant` for groups and status),
//! `wacore/src/send/classify.rs` (`stanza_type_from_message`: `reaction`;
//! `should_hide_decrypt_fail`); whatsmeow (tulir/whatsmeow 33cfac5) `send.go`
//! (`BuildReaction`, `BuildMessageKey`: `fromMe` from the sender, `participant` only in
//! groups, `getTypeFromMessage`: `reaction`); Baileys (WhiskeySockets/Baileys 78e7e4e)
//! `src/Utils/messages.ts` (`react` becomes a `reactionMessage` with
//! `senderTimestampMs`). Community announcement groups take an encrypted
//! `encReactionMessage` instead (whatsapp-rust `send_enc_reaction`), which needs the
//! target's message secret: not supported here.

mod emoji;
mod request;

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use buffa::{Message as _, MessageField};
use serde_json::json;
use waproto::whatsapp::message::ReactionMessage;
use waproto::whatsapp::{Message, MessageKey};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, SentMessage, export_plugin,
    is_group,
};

pub use request::{ReactionRequest, schema};

#[derive(Default)]
pub struct ReactionPlugin;

impl Plugin for ReactionPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("reaction").route(
            Route::post("/send/reaction")
                .operation("sendReaction")
                .summary("React to a message with an emoji, or remove the reaction")
                .request(&schema())
                .failure_prefix("Failed to send reaction")
                .quick(),
        )
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let reaction = ReactionRequest::parse(request)?;
        let known = host.find_message(&reaction.message_id);
        let key = message_key(&reaction, request.context.own_jid, known.as_ref())?;
        let message = Message {
            reaction_message: MessageField::some(ReactionMessage {
                key: MessageField::some(key),
                text: Some(reaction.reaction.clone()),
                sender_timestamp_ms: Some(now_ms()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let metadata = json!({
            "device_id": request.context.device_id,
            "user_id": request.context.user_id,
            "processing_time_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "original_message_id": reaction.message_id,
            "reaction_emoji": reaction.reaction,
            "sent_at": "",
        });
        Ok(Outgoing {
            to: reaction.to,
            message: message.encode_to_vec(),
            nodes: Vec::new(),
            response_extra: Some(json!({ "metadata": metadata })),
            ..Outgoing::default()
        })
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// The key of the reacted message: from the log when it knows the message, else from
/// what the caller said.
pub fn message_key(
    reaction: &ReactionRequest,
    own_jid: Option<&str>,
    known: Option<&SentMessage>,
) -> Result<MessageKey, PluginError> {
    let chat = reaction.to.as_str();
    let group = is_group(chat);
    let (from_me, participant) = match known {
        Some(known) => {
            if known.chat_jid != chat {
                return Err(PluginError::invalid_field(
                    "messageId",
                    format!(
                        "message {} is in another chat ({}), not {chat}",
                        reaction.message_id, known.chat_jid
                    ),
                    json!(reaction.message_id),
                ));
            }
            let author = if known.from_me {
                own_jid.map(str::to_string).or(known.sender_jid.clone())
            } else {
                known.sender_jid.clone().or(reaction.participant.clone())
            };
            (known.from_me, author)
        }
        None => {
            let from_me = reaction.from_me.ok_or_else(|| {
                PluginError::invalid_field(
                    "fromMe",
                    format!(
                        "is required: message {} is not known to this device, so say whether \
                         it sent it",
                        reaction.message_id
                    ),
                    serde_json::Value::Null,
                )
            })?;
            let author = if from_me {
                own_jid.map(str::to_string)
            } else {
                reaction.participant.clone()
            };
            if group && !from_me && author.is_none() {
                return Err(PluginError::invalid_field(
                    "participant",
                    "is required to react in a group to another participant's message this \
                     device does not know: who wrote it",
                    serde_json::Value::Null,
                ));
            }
            (from_me, author)
        }
    };
    Ok(MessageKey {
        remote_jid: Some(chat.to_string()),
        from_me: Some(from_me),
        id: Some(reaction.message_id.clone()),
        participant: if group { participant } else { None },
    })
}

export_plugin!(ReactionPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = "5511999999999@s.whatsapp.net";
    const GROUP: &str = "120363025246125486@g.us";
    const ME: &str = "5511888888888@s.whatsapp.net";
    const OTHER: &str = "5511977776666@s.whatsapp.net";

    fn reaction(to: &str, from_me: Option<bool>, participant: Option<&str>) -> ReactionRequest {
        ReactionRequest {
            to: to.into(),
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            reaction: "👍".into(),
            from_me,
            participant: participant.map(Into::into),
        }
    }

    fn logged(chat: &str, from_me: bool, sender: &str) -> SentMessage {
        SentMessage {
            message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
            chat_jid: chat.into(),
            sender_jid: Some(sender.into()),
            from_me,
            message: Vec::new(),
            timestamp_ms: 0,
        }
    }

    #[test]
    fn a_known_message_keys_from_the_log() {
        let key = message_key(
            &reaction(CHAT, Some(false), None),
            Some(ME),
            Some(&logged(CHAT, true, ME)),
        )
        .unwrap();
        assert_eq!(key.from_me, Some(true), "the log wins over the caller");
        assert_eq!(key.remote_jid.as_deref(), Some(CHAT));
        assert_eq!(key.participant, None, "no participant outside groups");
        let key = message_key(
            &reaction(GROUP, None, None),
            Some(ME),
            Some(&logged(GROUP, false, OTHER)),
        )
        .unwrap();
        assert_eq!(key.from_me, Some(false));
        assert_eq!(key.participant.as_deref(), Some(OTHER));
        let own = message_key(
            &reaction(GROUP, None, None),
            Some(ME),
            Some(&logged(GROUP, true, ME)),
        )
        .unwrap();
        assert_eq!(own.participant.as_deref(), Some(ME));
    }

    #[test]
    fn a_known_message_of_another_chat_is_refused() {
        let error = message_key(
            &reaction(CHAT, None, None),
            Some(ME),
            Some(&logged(OTHER, false, OTHER)),
        )
        .unwrap_err();
        assert_eq!(error.validation[0].field, "messageId");
    }

    #[test]
    fn an_unknown_message_needs_from_me_and_in_groups_its_author() {
        let error = message_key(&reaction(CHAT, None, None), Some(ME), None).unwrap_err();
        assert_eq!(error.validation[0].field, "fromMe");
        let key = message_key(&reaction(CHAT, Some(false), None), Some(ME), None).unwrap();
        assert_eq!(key.from_me, Some(false));
        assert_eq!(key.id.as_deref(), Some("3EB0AAAAAAAAAAAAAAAAAA"));
        let error = message_key(&reaction(GROUP, Some(false), None), Some(ME), None).unwrap_err();
        assert_eq!(error.validation[0].field, "participant");
        let key = message_key(&reaction(GROUP, Some(false), Some(OTHER)), Some(ME), None).unwrap();
        assert_eq!(key.participant.as_deref(), Some(OTHER));
        let key = message_key(&reaction(GROUP, Some(true), None), Some(ME), None).unwrap();
        assert_eq!(key.participant.as_deref(), Some(ME));
    }
}
