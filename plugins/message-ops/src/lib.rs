//! The message-ops plugin: `PUT /messages/{messageId}` edits a text message this device
//! sent, `DELETE /messages/delete` revokes one for everyone.
//!
//! # Requests and answers
//!
//! As the WUTS docs §2.1 and §2.2 print them. Edit: path `messageId`, body `{"to",
//! "message", "device_id"?}`; 200 `{"success", "message_id" (the edit's own id, not the
//! path's), "timestamp", "message": "Message edited successfully"}` plus the standard
//! envelope's `status` and `chat_jid`. Delete: `{"messageId", "chatJid", "deleteType"?
//! ("for_everyone", the default, or "for_me"), "reason"?, "validateOwnership"? (default
//! true), "device_id"?}`; 200 with `deleted_at`, `delete_type`, `chat_jid`,
//! `revoke_message_id` and `metadata {time_elapsed_minutes, within_time_limit, reason,
//! processing_time_ms}`; its `message_id` is the deleted message's, as WUTS prints it (the
//! route hands the host its own `message_id` in `response_extra`), and
//! `revoke_message_id` the id the revoke itself went out under.
//! Standard envelope for both, errors included.
//!
//! The path's `messageId` reaches the plugin through the body: the host puts a route's
//! one `{name}` path segment into the JSON body under that name (the path wins), so it is
//! validated and named like any field.
//!
//! # Refusals
//!
//! The message is looked up in the device's message log ([`Host::find_message`]): a
//! message the device never sent or received, or another tenant's (the log is the
//! caller's device's), is a 404 `NOT_FOUND`. One of another chat is a 400 naming `to` or
//! `chatJid`. Edit: a message this device did not send, one that is not text
//! (`conversation` or `extendedTextMessage`), or one sent longer ago than the edit window
//! (15 minutes, as WhatsApp's clients allow today; `[plugin.message-ops]
//! edit_window_seconds` changes it) is a 400 `EDIT_NOT_ALLOWED`. Delete: a message this
//! device did not send is a 400 `NOT_OWN_MESSAGE`, unless `validateOwnership` is false
//! in a group, where it goes out as an admin revoke (WhatsApp refuses it when this
//! device is no admin). `for_me` removes the message from the gateway's message log and
//! sends nothing ([`Outgoing::forget_message`]), as the WUTS docs say ("succeeds locally
//! without revoking on the server") and API.md ("removes it from the message log only");
//! `validateOwnership: false` lets it remove a received message too. A revoke past WhatsApp's limit (about 60 hours) still goes
//! out, with `within_time_limit: false`: WhatsApp decides.
//!
//! # What goes out
//!
//! Edit: `Message { protocolMessage { key { remoteJID: chat, fromMe: true, id,
//! participant: own JID in groups }, type: MESSAGE_EDIT, editedMessage: { conversation }
//! (or { extendedTextMessage { text } } when the original was one), timestampMs } }`,
//! under a fresh stanza id (reusing the original's makes the server drop the edit as a
//! duplicate). Revoke: `Message { protocolMessage { key { remoteJID: chat, fromMe: true,
//! id } (admin: fromMe false, participant: the author), type: REVOKE } }`. No extra
//! stanza nodes: the library sets the `<message>` stanza's `edit` attribute from the
//! message itself (`1` for an edit, `7` for a sender revoke, `8` for an admin revoke).
//!
//! Sources: whatsapp-rust 0.7.0 `src/send/mod.rs` (`build_edit_message`: top-level
//! `protocolMessage` MESSAGE_EDIT with `editedMessage` and `timestampMs`, participant
//! only in groups; `build_revoke_message`), `src/client/messaging.rs`
//! (`edit_message_inner`: a fresh stanza id, `EditAttribute::MessageEdit`),
//! `src/send/actions.rs` (`revoke_message_inner`: sender revoke `fromMe: true` without
//! participant, admin revoke `fromMe: false` with it), wacore 0.7.0
//! `src/types/message.rs` (`EditAttribute` wire values `1`, `7`, `8` and
//! `infer_from_message`, which decides the attribute from the message);
//! whatsmeow `send.go` (`BuildEdit`, which wraps the same protocolMessage in
//! `editedMessage`'s FutureProofMessage, `BuildRevoke`, `BuildMessageKey`, and the
//! `edit` attribute from `getEditAttribute`); Baileys `src/Utils/messages.ts`
//! (`edit` becomes `protocolMessage { key, type: MESSAGE_EDIT, editedMessage,
//! timestampMs }`, `delete` becomes `protocolMessage { key, type: REVOKE }`).

mod request;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use buffa::{Message as _, MessageField};
use serde::Deserialize;
use serde_json::json;
use waproto::whatsapp::message::{ExtendedTextMessage, ProtocolMessage, protocol_message};
use waproto::whatsapp::{Message, MessageKey};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, SentMessage, export_plugin,
    is_group,
};

pub use request::{DeleteRequest, EditRequest, delete_schema, edit_schema};

/// How long after sending WhatsApp's clients let a message be edited: 15 minutes.
pub const EDIT_WINDOW: Duration = Duration::from_secs(15 * 60);

/// How long after sending WhatsApp lets a message be revoked for everyone (2 days and 12
/// hours in current clients); past it the revoke still goes out, flagged.
pub const REVOKE_WINDOW: Duration = Duration::from_secs(60 * 60 * 60);

pub const EDIT_ROUTE: &str = "/messages/{messageId}";
pub const DELETE_ROUTE: &str = "/messages/delete";

pub struct MessageOpsPlugin {
    edit_window: Duration,
}

impl Default for MessageOpsPlugin {
    fn default() -> Self {
        MessageOpsPlugin {
            edit_window: EDIT_WINDOW,
        }
    }
}

/// `[plugin.message-ops]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    /// Seconds after sending a message may be edited (default 900).
    edit_window_seconds: Option<u64>,
}

impl Plugin for MessageOpsPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("message-ops")
            .route(
                Route::put(EDIT_ROUTE)
                    .operation("editMessage")
                    .summary("Edit the text of a message this device sent")
                    .request(&edit_schema())
                    .failure_prefix("Failed to edit message")
                    .quick(),
            )
            .route(
                Route::delete(DELETE_ROUTE)
                    .operation("deleteMessage")
                    .summary("Revoke a message for everyone")
                    .request(&delete_schema())
                    .failure_prefix("Failed to delete message")
                    .quick(),
            )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        let config: Config = serde_json::from_value(config)
            .map_err(|error| PluginError::internal(format!("[plugin.message-ops]: {error}")))?;
        Ok(MessageOpsPlugin {
            edit_window: config
                .edit_window_seconds
                .map_or(EDIT_WINDOW, Duration::from_secs),
        })
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        if request.route == DELETE_ROUTE {
            self.delete(request, host)
        } else {
            self.edit(request, host)
        }
    }
}

fn not_found() -> PluginError {
    PluginError::new(404, "NOT_FOUND", "message not found")
}

fn edit_not_allowed(message: String) -> PluginError {
    PluginError::bad_request("EDIT_NOT_ALLOWED", message)
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}

/// A JID without its device part: `5511...:7@s.whatsapp.net` -> `5511...@s.whatsapp.net`.
fn non_ad(jid: &str) -> String {
    match jid.split_once('@') {
        Some((user, server)) => {
            let user = user.split_once(':').map_or(user, |(user, _)| user);
            format!("{user}@{server}")
        }
        None => jid.to_string(),
    }
}

fn in_chat(known: &SentMessage, chat: &str, field: &str) -> Result<(), PluginError> {
    if known.chat_jid == chat {
        Ok(())
    } else {
        Err(PluginError::invalid_field(
            field,
            format!(
                "message {} is in another chat ({}), not {chat}",
                known.message_id, known.chat_jid
            ),
            json!(chat),
        ))
    }
}

/// The edited content, shaped as the original: `conversation`, or an
/// `extendedTextMessage` with the new text; `None` when the original is not text.
pub fn edited_content(original: &Message, text: &str) -> Option<Message> {
    if original.conversation.is_some() {
        return Some(Message {
            conversation: Some(text.to_string()),
            ..Default::default()
        });
    }
    original.extended_text_message.as_option()?;
    Some(Message {
        extended_text_message: MessageField::some(ExtendedTextMessage {
            text: Some(text.to_string()),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// The edit's message.
pub fn edit_message(
    chat: &str,
    message_id: &str,
    own_jid: Option<&str>,
    content: Message,
    timestamp_ms: i64,
) -> Message {
    Message {
        protocol_message: MessageField::some(ProtocolMessage {
            key: MessageField::some(MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(true),
                id: Some(message_id.to_string()),
                participant: if is_group(chat) {
                    own_jid.map(non_ad)
                } else {
                    None
                },
            }),
            r#type: Some(protocol_message::Type::MESSAGE_EDIT),
            edited_message: MessageField::some(content),
            timestamp_ms: Some(timestamp_ms),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The revoke's message: the sender's (`author` `None`) or a group admin's.
pub fn revoke_message(chat: &str, message_id: &str, author: Option<&str>) -> Message {
    Message {
        protocol_message: MessageField::some(ProtocolMessage {
            key: MessageField::some(MessageKey {
                remote_jid: Some(chat.to_string()),
                from_me: Some(author.is_none()),
                id: Some(message_id.to_string()),
                participant: author.map(str::to_string),
            }),
            r#type: Some(protocol_message::Type::REVOKE),
            ..Default::default()
        }),
        ..Default::default()
    }
}

impl MessageOpsPlugin {
    /// Why `known` may not be edited now, if it may not.
    pub fn edit_refusal(&self, known: &SentMessage, now_ms: i64) -> Option<String> {
        if !known.from_me {
            return Some(format!(
                "message {} was not sent by this device: only its own messages can be edited",
                known.message_id
            ));
        }
        let age_ms = now_ms.saturating_sub(known.timestamp_ms);
        let window_ms = i64::try_from(self.edit_window.as_millis()).unwrap_or(i64::MAX);
        if age_ms > window_ms {
            return Some(format!(
                "message {} was sent {} seconds ago: WhatsApp allows edits within {} seconds",
                known.message_id,
                age_ms / 1000,
                self.edit_window.as_secs()
            ));
        }
        None
    }

    fn edit(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let edit = EditRequest::parse(request)?;
        let known = host.find_message(&edit.message_id).ok_or_else(not_found)?;
        in_chat(&known, &edit.to, "to")?;
        let now = now_ms();
        if let Some(refusal) = self.edit_refusal(&known, now) {
            return Err(edit_not_allowed(refusal));
        }
        let original = Message::decode_from_slice(&known.message)
            .map_err(|_| edit_not_allowed("the original message cannot be read".into()))?;
        let content = edited_content(&original, &edit.text).ok_or_else(|| {
            edit_not_allowed(format!(
                "message {} is not a text message: only text can be edited",
                edit.message_id
            ))
        })?;
        let message = edit_message(
            &edit.to,
            &edit.message_id,
            request.context.own_jid,
            content,
            now,
        );
        Ok(Outgoing {
            to: edit.to,
            message: message.encode_to_vec(),
            response_extra: Some(json!({"message": "Message edited successfully"})),
            ..Outgoing::default()
        })
    }

    fn delete(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let delete = DeleteRequest::parse(request)?;
        let known = host
            .find_message(&delete.message_id)
            .ok_or_else(not_found)?;
        in_chat(&known, &delete.chat, "chatJid")?;
        if !known.from_me && delete.validate_ownership {
            return Err(not_own_message(&delete));
        }
        let now = now_ms();
        let elapsed_ms = now.saturating_sub(known.timestamp_ms).max(0);
        if !delete.for_everyone {
            return Ok(Outgoing {
                to: delete.chat,
                forget_message: Some(delete.message_id.clone()),
                response_extra: Some(json!({
                    "deleted_at": rfc3339(now),
                    "delete_type": "for_me",
                    "message_id": delete.message_id,
                    "metadata": {
                        "time_elapsed_minutes": elapsed_ms / 60_000,
                        "within_time_limit": true,
                        "reason": delete.reason,
                        "processing_time_ms":
                            u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    },
                })),
                ..Outgoing::default()
            });
        }
        let author = if known.from_me {
            None
        } else if !is_group(&delete.chat) {
            return Err(not_own_message(&delete));
        } else {
            Some(known.sender_jid.clone().ok_or_else(|| {
                PluginError::bad_request(
                    "NOT_OWN_MESSAGE",
                    "the message's author is not known, so it cannot be revoked as an admin",
                )
            })?)
        };
        let within = elapsed_ms <= i64::try_from(REVOKE_WINDOW.as_millis()).unwrap_or(i64::MAX);
        let message = revoke_message(&delete.chat, &delete.message_id, author.as_deref());
        let extra = json!({
            "deleted_at": rfc3339(now),
            "delete_type": "for_everyone",
            // WUTS answers the deleted message's id; the revoke itself went out under the
            // id the host gave this request.
            "message_id": delete.message_id,
            "revoke_message_id": request.context.message_id,
            "metadata": {
                "time_elapsed_minutes": elapsed_ms / 60_000,
                "within_time_limit": within,
                "reason": delete.reason,
                "processing_time_ms":
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            },
        });
        Ok(Outgoing {
            to: delete.chat,
            message: message.encode_to_vec(),
            response_extra: Some(extra),
            ..Outgoing::default()
        })
    }
}

/// A message this device did not send, refused while `validateOwnership` holds (and for
/// everyone outside groups, where only the author may revoke).
fn not_own_message(delete: &DeleteRequest) -> PluginError {
    let hint = match (delete.for_everyone, is_group(&delete.chat)) {
        (false, _) => " (set validateOwnership to false to delete it for me)",
        (true, true) => " (a group admin may set validateOwnership to false)",
        (true, false) => "",
    };
    PluginError::bad_request(
        "NOT_OWN_MESSAGE",
        format!(
            "message {} was not sent by this device: only its own messages can be deleted{hint}",
            delete.message_id
        ),
    )
}

/// Unix milliseconds as RFC 3339 UTC with seconds (`2026-06-15T14:34:00Z`).
fn rfc3339(unix_ms: i64) -> String {
    let seconds = unix_ms.div_euclid(1000);
    let (days, day_seconds) = (seconds.div_euclid(86_400), seconds.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        day_seconds / 3600,
        day_seconds / 60 % 60,
        day_seconds % 60
    )
}

export_plugin!(MessageOpsPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    const CHAT: &str = "5511999999999@s.whatsapp.net";
    const GROUP: &str = "120363025246125486@g.us";

    fn logged(from_me: bool, timestamp_ms: i64) -> SentMessage {
        SentMessage {
            message_id: "3EB0A".into(),
            chat_jid: CHAT.into(),
            sender_jid: None,
            from_me,
            message: Vec::new(),
            timestamp_ms,
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_781_534_040_000), "2026-06-15T14:34:00Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn edits_are_refused_for_others_messages_and_past_the_window() {
        let plugin = MessageOpsPlugin::default();
        let now = 10_000_000_000;
        assert_eq!(plugin.edit_refusal(&logged(true, now - 60_000), now), None);
        assert_eq!(
            plugin.edit_refusal(&logged(true, now - 15 * 60_000), now),
            None
        );
        let late = plugin
            .edit_refusal(&logged(true, now - 15 * 60_000 - 1), now)
            .unwrap();
        assert!(late.contains("within 900 seconds"), "{late}");
        let other = plugin.edit_refusal(&logged(false, now), now).unwrap();
        assert!(other.contains("not sent by this device"), "{other}");
    }

    #[test]
    fn only_text_is_edited_and_keeps_its_shape() {
        let plain = Message {
            conversation: Some("old".into()),
            ..Default::default()
        };
        assert_eq!(
            edited_content(&plain, "new")
                .unwrap()
                .conversation
                .as_deref(),
            Some("new")
        );
        let extended = Message {
            extended_text_message: MessageField::some(ExtendedTextMessage {
                text: Some("old".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let edited = edited_content(&extended, "new").unwrap();
        assert_eq!(
            edited
                .extended_text_message
                .as_option()
                .and_then(|m| m.text.as_deref()),
            Some("new")
        );
        assert!(edited_content(&Message::default(), "new").is_none());
    }

    #[test]
    fn keys_follow_the_libraries() {
        let content = Message {
            conversation: Some("new".into()),
            ..Default::default()
        };
        let edit = edit_message(GROUP, "3EB0A", Some("5511888:7@s.whatsapp.net"), content, 5);
        let protocol = edit.protocol_message.as_option().unwrap();
        let key = protocol.key.as_option().unwrap();
        assert_eq!(key.participant.as_deref(), Some("5511888@s.whatsapp.net"));
        assert_eq!(key.from_me, Some(true));
        assert_eq!(protocol.r#type, Some(protocol_message::Type::MESSAGE_EDIT));
        assert_eq!(protocol.timestamp_ms, Some(5));
        let edit = edit_message(
            CHAT,
            "3EB0A",
            Some("5511888@s.whatsapp.net"),
            Message::default(),
            5,
        );
        let key = edit
            .protocol_message
            .as_option()
            .unwrap()
            .key
            .as_option()
            .unwrap();
        assert_eq!(key.participant, None, "no participant outside groups");
        let revoke = revoke_message(CHAT, "3EB0A", None);
        let protocol = revoke.protocol_message.as_option().unwrap();
        assert_eq!(protocol.r#type, Some(protocol_message::Type::REVOKE));
        let key = protocol.key.as_option().unwrap();
        assert_eq!(
            (key.from_me, key.participant.as_deref()),
            (Some(true), None)
        );
        let admin = revoke_message(GROUP, "3EB0A", Some("5511777@s.whatsapp.net"));
        let key = admin
            .protocol_message
            .as_option()
            .unwrap()
            .key
            .as_option()
            .unwrap();
        assert_eq!(
            (key.from_me, key.participant.as_deref()),
            (Some(false), Some("5511777@s.whatsapp.net"))
        );
    }
}
