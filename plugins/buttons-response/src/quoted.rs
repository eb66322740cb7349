//! What the reply quotes: the original message when the host knows it, otherwise the
//! body the caller gave; and the button checked against the original.

use buffa::Message as _;
use serde_json::json;
use waproto::whatsapp::Message;
use waproto::whatsapp::message::interactive_message::InteractiveMessage as Kind;
use wuts_plugin_api::{PluginError, SentMessage};

use crate::request::ResponseRequest;

pub struct Resolved {
    pub quoted_message: Message,
    pub display_text: String,
}

/// A button of the quoted message.
#[derive(Debug, Clone, PartialEq)]
pub struct KnownButton {
    pub id: String,
    pub display_text: String,
}

pub fn resolve(
    reply: &ResponseRequest,
    known: Option<&SentMessage>,
) -> Result<Resolved, PluginError> {
    let Some(known) = known else {
        return quote_body(reply);
    };
    let original = Message::decode_from_slice(&known.message).map_err(|error| {
        PluginError::internal(format!("the logged message could not be decoded: {error}"))
    })?;
    let buttons = buttons_of(&original);
    if buttons.is_empty() {
        return Err(PluginError::invalid_field(
            "quoted.message_id",
            format!(
                "message {} has no buttons to select",
                reply.quoted.message_id
            ),
            json!(reply.quoted.message_id),
        ));
    }
    let Some(selected) = buttons
        .iter()
        .find(|button| button.id == reply.selected_button_id)
    else {
        let ids: Vec<&str> = buttons.iter().map(|button| button.id.as_str()).collect();
        return Err(PluginError::invalid_field(
            "selected_button_id",
            format!(
                "{:?} is not a button of message {}; its buttons are {ids:?}",
                reply.selected_button_id, reply.quoted.message_id
            ),
            json!(reply.selected_button_id),
        ));
    };
    let display_text = reply
        .selected_display_text
        .clone()
        .unwrap_or_else(|| selected.display_text.clone());
    Ok(Resolved {
        quoted_message: original,
        display_text,
    })
}

/// The original is unknown: quote the caller's body as plain text.
fn quote_body(reply: &ResponseRequest) -> Result<Resolved, PluginError> {
    let display_text = reply.selected_display_text.clone().ok_or_else(|| {
        PluginError::invalid_field(
            "selected_display_text",
            format!(
                "is required when the quoted message {} is not known to this device",
                reply.quoted.message_id
            ),
            serde_json::Value::Null,
        )
    })?;
    let quoted_message = Message {
        conversation: Some(reply.quoted.body.clone().unwrap_or_default()),
        ..Default::default()
    };
    Ok(Resolved {
        quoted_message,
        display_text,
    })
}

/// The quick-reply buttons of a message: native-flow `quick_reply` buttons of an
/// `InteractiveMessage`, or a legacy `ButtonsMessage`'s buttons (also inside view-once).
pub fn buttons_of(message: &Message) -> Vec<KnownButton> {
    if let Some(inner) = message
        .view_once_message
        .as_option()
        .and_then(|wrapper| wrapper.message.as_option())
    {
        return buttons_of(inner);
    }
    let mut buttons = Vec::new();
    if let Some(interactive) = message.interactive_message.as_option()
        && let Some(Kind::NativeFlowMessage(flow)) = &interactive.interactive_message
    {
        for button in &flow.buttons {
            if button.name.as_deref() != Some("quick_reply") {
                continue;
            }
            let params: serde_json::Value = button
                .button_params_json
                .as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
                .unwrap_or_default();
            if let Some(id) = params.get("id").and_then(|id| id.as_str()) {
                let display_text = params
                    .get("display_text")
                    .and_then(|text| text.as_str())
                    .unwrap_or(id);
                buttons.push(KnownButton {
                    id: id.to_string(),
                    display_text: display_text.to_string(),
                });
            }
        }
    }
    if let Some(legacy) = message.buttons_message.as_option() {
        for button in &legacy.buttons {
            if let Some(id) = &button.button_id {
                let display_text = button
                    .button_text
                    .as_option()
                    .and_then(|text| text.display_text.clone())
                    .unwrap_or_else(|| id.clone());
                buttons.push(KnownButton {
                    id: id.clone(),
                    display_text,
                });
            }
        }
    }
    buttons
}
