//! The rows of a list the host's message log knows, whichever shape it came in, and the
//! quote a response builds from it.

use buffa::Message as _;
use serde_json::{Value, json};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::interactive_message::InteractiveMessage as Payload;
use wuts_plugin_api::{PluginError, SentMessage, is_group};

use crate::response::ResponseRequest;

/// A row of a known list.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownRow {
    pub id: String,
    pub title: String,
    pub description: Option<String>,
}

/// What the response says and quotes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub title: String,
    pub description: Option<String>,
    /// The quoted list's author.
    pub participant: String,
    pub quoted_message: Message,
}

/// Resolves the response against the quoted list: the original when the log knows it
/// (the row checked against its rows, title and description taken from the row unless
/// given), otherwise the caller's `title` and `quoted.body`.
pub fn resolve(
    reply: &ResponseRequest,
    own_jid: Option<&str>,
    known: Option<&SentMessage>,
) -> Result<Resolved, PluginError> {
    let message_id = &reply.quoted.message_id;
    let Some(known) = known else {
        return unknown(reply, own_jid);
    };
    if known.chat_jid != reply.to {
        return Err(PluginError::invalid_field(
            "quoted.message_id",
            format!(
                "message {message_id} is in another chat ({}), not {}",
                known.chat_jid, reply.to
            ),
            json!(message_id),
        ));
    }
    let original = Message::decode_from_slice(&known.message).map_err(|error| {
        PluginError::internal(format!("the logged message could not be decoded: {error}"))
    })?;
    let rows = rows_of(&original);
    if rows.is_empty() {
        return Err(PluginError::invalid_field(
            "quoted.message_id",
            format!("message {message_id} is not a list: it has no rows to select"),
            json!(message_id),
        ));
    }
    let Some(row) = rows.iter().find(|row| row.id == reply.selected_row_id) else {
        let ids: Vec<&str> = rows.iter().map(|row| row.id.as_str()).collect();
        return Err(PluginError::invalid_field(
            "selected_row_id",
            format!(
                "{:?} is not a row of list {message_id}; its rows are {ids:?}",
                reply.selected_row_id
            ),
            json!(reply.selected_row_id),
        ));
    };
    let author = if known.from_me {
        own_jid.map(str::to_string).or(known.sender_jid.clone())
    } else {
        known.sender_jid.clone()
    };
    let participant = author
        .or_else(|| reply.quoted.participant.clone())
        .or_else(|| (!is_group(&known.chat_jid)).then(|| known.chat_jid.clone()))
        .unwrap_or_default();
    Ok(Resolved {
        title: reply.title.clone().unwrap_or_else(|| row.title.clone()),
        description: reply
            .description
            .clone()
            .or_else(|| row.description.clone()),
        participant,
        quoted_message: original,
    })
}

/// The list is not known to this device: the caller says what the row was, and the
/// quote is its `body` as text.
fn unknown(reply: &ResponseRequest, own_jid: Option<&str>) -> Result<Resolved, PluginError> {
    let message_id = &reply.quoted.message_id;
    let title = reply.title.clone().ok_or_else(|| {
        PluginError::invalid_field(
            "title",
            format!(
                "is required when the quoted list {message_id} is not known to this device: \
                 the row's title is what the chat shows"
            ),
            Value::Null,
        )
    })?;
    let participant = match (&reply.quoted.participant, reply.quoted.from_me) {
        (Some(participant), _) => Some(participant.clone()),
        (None, Some(true)) => own_jid.map(str::to_string),
        // In a direct chat the list came from the other side.
        (None, _) if !is_group(&reply.to) => Some(reply.to.clone()),
        (None, _) => None,
    };
    let participant = participant.ok_or_else(|| {
        PluginError::invalid_field(
            "quoted.participant",
            format!(
                "is required in a group when the quoted list {message_id} is not known to this \
                 device: who sent it"
            ),
            Value::Null,
        )
    })?;
    Ok(Resolved {
        title,
        description: reply.description.clone(),
        participant,
        quoted_message: Message {
            conversation: Some(reply.quoted.body.clone().unwrap_or_default()),
            ..Default::default()
        },
    })
}

/// The rows of a message: a `listMessage`'s sections, or the sections of an
/// `interactiveMessage` whose native flow has a `single_select` button (how businesses on
/// the Cloud API and some gateways send lists), also inside the wrappers clients put
/// them in (view-once, ephemeral, document-with-caption).
pub fn rows_of(message: &Message) -> Vec<KnownRow> {
    for wrapper in [
        &message.view_once_message,
        &message.view_once_message_v2,
        &message.view_once_message_v2_extension,
        &message.ephemeral_message,
        &message.document_with_caption_message,
    ] {
        if let Some(inner) = wrapper
            .as_option()
            .and_then(|wrapper| wrapper.message.as_option())
        {
            let rows = rows_of(inner);
            if !rows.is_empty() {
                return rows;
            }
        }
    }
    let mut rows = Vec::new();
    if let Some(list) = message.list_message.as_option() {
        for section in &list.sections {
            for row in &section.rows {
                if let Some(id) = row.row_id.as_deref().filter(|id| !id.is_empty()) {
                    rows.push(KnownRow {
                        id: id.to_string(),
                        title: row.title.clone().unwrap_or_else(|| id.to_string()),
                        description: row.description.clone().filter(|text| !text.is_empty()),
                    });
                }
            }
        }
    }
    if let Some(interactive) = message.interactive_message.as_option()
        && let Some(Payload::NativeFlowMessage(flow)) = &interactive.interactive_message
    {
        for button in &flow.buttons {
            if button.name.as_deref() != Some("single_select") {
                continue;
            }
            let params: Value = button
                .button_params_json
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            rows.extend(native_flow_rows(&params));
        }
    }
    rows
}

/// `{"title", "sections": [{"title", "rows": [{"id", "title", "description"?}]}]}`: the
/// `buttonParamsJSON` of a `single_select` button.
fn native_flow_rows(params: &Value) -> Vec<KnownRow> {
    let text = |value: &Value, key: &str| {
        value
            .get(key)
            .and_then(Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_string)
    };
    params
        .get("sections")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|section| section.get("rows").and_then(Value::as_array))
        .flatten()
        .filter_map(|row| {
            let id = text(row, "id")?;
            Some(KnownRow {
                title: text(row, "title").unwrap_or_else(|| id.clone()),
                description: text(row, "description"),
                id,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use buffa::MessageField;
    use waproto::whatsapp::message::interactive_message::{
        NativeFlowMessage, native_flow_message::NativeFlowButton,
    };
    use waproto::whatsapp::message::{FutureProofMessage, InteractiveMessage};

    const CHAT: &str = "5511999999999@s.whatsapp.net";
    const ME: &str = "5511888888888@s.whatsapp.net";

    fn list() -> Message {
        crate::build_list(&crate::request::ListRequest {
            to: CHAT.into(),
            title: None,
            body: "Pick".into(),
            footer: None,
            button_text: "Open".into(),
            sections: vec![crate::request::Section {
                title: None,
                rows: vec![
                    crate::request::Row {
                        id: "coffee".into(),
                        title: "Coffee".into(),
                        description: Some("Freshly brewed".into()),
                    },
                    crate::request::Row {
                        id: "tea".into(),
                        title: "Tea".into(),
                        description: None,
                    },
                ],
            }],
        })
    }

    fn logged(message: &Message, chat: &str, from_me: bool, sender: &str) -> SentMessage {
        SentMessage {
            message_id: "3EB0LIST".into(),
            chat_jid: chat.into(),
            sender_jid: Some(sender.into()),
            from_me,
            message: message.encode_to_vec(),
            timestamp_ms: 0,
        }
    }

    fn reply(row: &str, title: Option<&str>) -> ResponseRequest {
        ResponseRequest {
            to: CHAT.into(),
            selected_row_id: row.into(),
            title: title.map(Into::into),
            description: None,
            quoted: wuts_plugin_api::Quoted {
                message_id: "3EB0LIST".into(),
                ..Default::default()
            },
        }
    }

    #[test]
    fn a_known_list_gives_the_rows_title_and_description() {
        let known = logged(&list(), CHAT, false, CHAT);
        let resolved = resolve(&reply("coffee", None), Some(ME), Some(&known)).unwrap();
        assert_eq!(resolved.title, "Coffee");
        assert_eq!(resolved.description.as_deref(), Some("Freshly brewed"));
        assert_eq!(resolved.participant, CHAT);
        assert_eq!(resolved.quoted_message, list());
        // The device's own list names the device as its author.
        let own = logged(&list(), CHAT, true, ME);
        let resolved = resolve(&reply("tea", Some("Green tea")), Some(ME), Some(&own)).unwrap();
        assert_eq!(resolved.participant, ME);
        assert_eq!(resolved.title, "Green tea");
        assert_eq!(resolved.description, None);
    }

    #[test]
    fn a_row_not_in_the_list_or_a_message_that_is_no_list_is_refused() {
        let known = logged(&list(), CHAT, false, CHAT);
        let error = resolve(&reply("water", None), Some(ME), Some(&known)).unwrap_err();
        assert_eq!(error.validation[0].field, "selected_row_id");
        assert!(error.message.contains(r#"["coffee", "tea"]"#), "{error:?}");
        let text = Message {
            conversation: Some("hi".into()),
            ..Default::default()
        };
        let error = resolve(
            &reply("coffee", None),
            Some(ME),
            Some(&logged(&text, CHAT, false, CHAT)),
        )
        .unwrap_err();
        assert_eq!(error.validation[0].field, "quoted.message_id");
        let elsewhere = logged(&list(), "5511977776666@s.whatsapp.net", false, CHAT);
        let error = resolve(&reply("coffee", None), Some(ME), Some(&elsewhere)).unwrap_err();
        assert!(error.message.contains("another chat"), "{error:?}");
    }

    #[test]
    fn an_unknown_list_needs_a_title_and_in_groups_its_author() {
        let error = resolve(&reply("coffee", None), Some(ME), None).unwrap_err();
        assert_eq!(error.validation[0].field, "title");
        let resolved = resolve(&reply("coffee", Some("Coffee")), Some(ME), None).unwrap();
        assert_eq!(resolved.participant, CHAT);
        assert_eq!(resolved.quoted_message.conversation.as_deref(), Some(""));
        let mut in_group = reply("coffee", Some("Coffee"));
        in_group.to = "120363025246125486@g.us".into();
        let error = resolve(&in_group, Some(ME), None).unwrap_err();
        assert_eq!(error.validation[0].field, "quoted.participant");
        in_group.quoted.from_me = Some(true);
        assert_eq!(resolve(&in_group, Some(ME), None).unwrap().participant, ME);
    }

    #[test]
    fn native_flow_lists_and_wrapped_lists_have_rows() {
        let params = json!({"title": "Open", "sections": [{"title": "S", "rows": [
            {"header": "h", "title": "One", "description": "first", "id": "r1"},
            {"title": "Two", "id": "r2"}]}]});
        let interactive = Message {
            interactive_message: MessageField::some(InteractiveMessage {
                interactive_message: Some(Payload::NativeFlowMessage(Box::new(
                    NativeFlowMessage {
                        buttons: vec![NativeFlowButton {
                            name: Some("single_select".into()),
                            button_params_json: Some(params.to_string()),
                        }],
                        ..Default::default()
                    },
                ))),
                ..Default::default()
            }),
            ..Default::default()
        };
        let wrapped = Message {
            view_once_message: MessageField::some(FutureProofMessage {
                message: MessageField::some(interactive),
            }),
            ..Default::default()
        };
        let rows = rows_of(&wrapped);
        assert_eq!(
            rows,
            [
                KnownRow {
                    id: "r1".into(),
                    title: "One".into(),
                    description: Some("first".into())
                },
                KnownRow {
                    id: "r2".into(),
                    title: "Two".into(),
                    description: None
                },
            ]
        );
        assert_eq!(rows_of(&list()).len(), 2);
    }
}
