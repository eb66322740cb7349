//! The poll plugin: `POST /send/poll`, a WhatsApp poll whose votes come back to the
//! tenant as `poll.vote` events.
//!
//! # Request
//!
//! As the WUTS docs §1.12 and §10 print it: `{"to", "question", "options":
//! [{"option_name"}, ...], "allow_multiple_answers"?, "device_id"?}`. Limits from
//! docs/API.md (`POST /send/poll`): `question` 1 to 255 characters, 2 to 12 options,
//! each 1 to 100 characters and unique (names are sent without surrounding spaces, and
//! two that differ only in those are one name). Legacy envelope (§9): 200
//! `{"success", "message_id", "timestamp", "message": "Poll sent successfully",
//! "options_count", "multiple_choice"}`; a bad option count is WUTS's
//! `{"error": "Poll must have between 2 and 12 options"}`, any other bad field
//! `{"error": "<field>: <what is wrong>"}` (`options[2].option_name: duplicate
//! option_name "Yes": options must be unique`); a send failure `Failed to send poll:
//! <reason>`.
//!
//! # What goes out
//!
//! - single choice (`allow_multiple_answers` false or absent): `Message {
//!   pollCreationMessageV3 { name, options: [{optionName}], selectableOptionsCount: 1,
//!   pollContentType: TEXT }, messageContextInfo { messageSecret } }`;
//! - multiple choice: the same in `pollCreationMessage`, with `selectableOptionsCount: 0`
//!   (any number of options).
//!
//! `messageSecret` is 32 fresh bytes from the operating system's CSPRNG for every poll:
//! each vote is encrypted under a key derived from it (see the host's
//! `events::poll_vote`). No stanza nodes: the library sends polls as `<message
//! type="poll">` and adds the `<meta polltype="creation"/>` child itself.
//!
//! Why these: whatsapp-rust 0.7.0 `src/features/polls.rs` (`create_inner`: "WA Web: v3
//! for single-select, v1 for multi-select (GeneratePollCreationMessageProto.js)", a
//! 32-byte random `messageSecret` in `messageContextInfo`; `build_poll_creation_message`:
//! 2 to 12 unique options, `pollContentType: TEXT` "which the real client always emits")
//! and `src/send/mod.rs` (`infer_stanza_metadata`: `<meta polltype="creation">` for
//! `pollCreationMessage`, `V2` and `V3`), `wacore/src/send/classify.rs`
//! (`stanza_type_from_message`: `poll`); Baileys (WhiskeySockets/Baileys 78e7e4e)
//! `src/Utils/messages.ts` (`generateWAMessageContent`: `messageSecret` =
//! `randomBytes(32)`, `pollCreationMessageV3` when `selectableCount === 1`, else
//! `pollCreationMessage`; `selectableCount` defaults to 0, any number) and
//! `src/Socket/messages-send.ts` (`type="poll"`, `<meta polltype="creation">`);
//! whatsmeow (tulir/whatsmeow 33cfac5) `msgsecret.go` (`BuildPollCreation`: 32 random
//! bytes, `pollCreationMessage`, an out-of-range count becomes 0) and `send.go`
//! (`getTypeFromMessage`: `poll`; the `<meta polltype>` node).
//!
//! # The secret is kept
//!
//! The host logs every sent message with the protobuf bytes this plugin encoded
//! (`host/src/send_path.rs`, `send_prepared`: the `LogEntry`'s `message` is the
//! plugin's bytes, taken before the session sends them), in the store's message log,
//! which keeps sent messages apart from received ones and purges none. So the poll, its
//! option names and its `messageSecret` are found again by `Store::find_message(device,
//! poll id)` when a vote arrives; nothing else needs to store them. whatsapp-rust sends
//! the secret it is given rather than minting another (`wacore/src/send/dm.rs`,
//! `prepare_dm_stanza`: "Reuse the message's own secret when the caller set one (e.g.
//! polls)"), so the logged secret is the one on the wire.

mod request;

use buffa::{Message as _, MessageField};
use serde_json::json;
use waproto::whatsapp::message::{PollContentType, PollCreationMessage, poll_creation_message};
use waproto::whatsapp::{Message, MessageContextInfo};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{OPTION_COUNT_ERROR, OPTIONS, PollRequest, schema};

pub const ROUTE: &str = "/send/poll";
/// The length of a poll's `messageSecret`, as every client makes it.
pub const SECRET_BYTES: usize = 32;

#[derive(Default)]
pub struct PollPlugin;

impl Plugin for PollPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("poll").route(
            Route::post(ROUTE)
                .operation("sendPollMessage")
                .summary("Send a poll (single or multiple choice, 2 to 12 options)")
                .request(&schema())
                .legacy()
                .success_message("Poll sent successfully")
                .failure_prefix("Failed to send poll")
                .quick(),
        )
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let poll = PollRequest::parse(request)?;
        let mut secret = [0u8; SECRET_BYTES];
        getrandom::fill(&mut secret).map_err(|error| {
            PluginError::internal(format!("no randomness for the poll's secret: {error}"))
        })?;
        let extra = json!({
            "options_count": poll.options.len(),
            "multiple_choice": poll.multiple_choice,
        });
        let to = poll.to.clone();
        Ok(Outgoing {
            to,
            message: poll_message(poll, secret).encode_to_vec(),
            response_extra: Some(extra),
            // No stanza nodes: the library adds the poll's `<meta>` itself.
            ..Outgoing::default()
        })
    }
}

/// The poll message: `pollCreationMessageV3` for one choice, `pollCreationMessage` for
/// several, with `secret` as its `messageContextInfo.messageSecret`.
pub fn poll_message(poll: PollRequest, secret: [u8; SECRET_BYTES]) -> Message {
    let creation = PollCreationMessage {
        name: Some(poll.question),
        options: poll
            .options
            .into_iter()
            .map(|name| poll_creation_message::Option {
                option_name: Some(name),
                option_hash: None,
            })
            .collect(),
        selectable_options_count: Some(if poll.multiple_choice { 0 } else { 1 }),
        poll_content_type: Some(PollContentType::TEXT),
        ..Default::default()
    };
    let mut message = Message {
        message_context_info: MessageField::some(MessageContextInfo {
            message_secret: Some(secret.to_vec()),
            ..Default::default()
        }),
        ..Default::default()
    };
    if poll.multiple_choice {
        message.poll_creation_message = MessageField::some(creation);
    } else {
        message.poll_creation_message_v3 = MessageField::some(creation);
    }
    message
}

export_plugin!(PollPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn poll(multiple_choice: bool) -> PollRequest {
        PollRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            question: "Lunch?".into(),
            options: vec!["Pizza".into(), "Sushi".into(), "Salad".into()],
            multiple_choice,
        }
    }

    #[test]
    fn a_single_choice_poll_is_v3_with_one_selectable_option_and_its_secret() {
        let message = poll_message(poll(false), [7; SECRET_BYTES]);
        assert!(message.poll_creation_message.is_unset());
        let creation = message.poll_creation_message_v3.as_option().unwrap();
        assert_eq!(creation.name.as_deref(), Some("Lunch?"));
        let names: Vec<_> = creation
            .options
            .iter()
            .map(|option| option.option_name.as_deref().unwrap())
            .collect();
        assert_eq!(names, ["Pizza", "Sushi", "Salad"]);
        assert!(creation.options.iter().all(|o| o.option_hash.is_none()));
        assert_eq!(creation.selectable_options_count, Some(1));
        assert_eq!(creation.poll_content_type, Some(PollContentType::TEXT));
        assert_eq!(creation.enc_key, None);
        let context = message.message_context_info.as_option().unwrap();
        assert_eq!(context.message_secret.as_deref(), Some(&[7; 32][..]));
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn a_multiple_choice_poll_is_v1_with_any_number_selectable() {
        let message = poll_message(poll(true), [9; SECRET_BYTES]);
        assert!(message.poll_creation_message_v3.is_unset());
        let creation = message.poll_creation_message.as_option().unwrap();
        assert_eq!(creation.selectable_options_count, Some(0));
        assert_eq!(creation.options.len(), 3);
    }
}
