//! The `/send/buttons-response` request and its validation.

use std::ops::RangeInclusive;

use serde_json::{Value, json};
use wuts_plugin_api::fields::{self, body_object, check_length};
use wuts_plugin_api::{Kind, PluginError, Request, Schema, normalize_recipient};

/// Characters allowed in each field; the parse and the published schema share them.
const BUTTON_ID_CHARS: RangeInclusive<usize> = 1..=256;
const DISPLAY_TEXT_CHARS: RangeInclusive<usize> = 1..=256;
const MESSAGE_ID_CHARS: RangeInclusive<usize> = 1..=128;
const QUOTED_BODY_CHARS: RangeInclusive<usize> = 0..=4096;

#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRequest {
    /// The chat JID.
    pub to: String,
    pub selected_button_id: String,
    pub selected_display_text: Option<String>,
    pub quoted: QuotedReference,
}

/// The buttons message being answered.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotedReference {
    pub message_id: String,
    /// The quoted message's sender, as a JID.
    pub participant: String,
    pub body: Option<String>,
}

impl ResponseRequest {
    pub fn parse(request: &Request<'_>) -> Result<ResponseRequest, PluginError> {
        let fields = body_object(request)?;
        let to = fields::recipient(&fields, "to")?;
        let selected_button_id = fields::required_string(&fields, "selected_button_id")?;
        check_length("selected_button_id", selected_button_id, BUTTON_ID_CHARS)?;
        let selected_display_text = fields::optional_string(&fields, "selected_display_text")?;
        if let Some(text) = selected_display_text {
            check_length("selected_display_text", text, DISPLAY_TEXT_CHARS)?;
        }
        let quoted = fields::optional_object(&fields, "quoted")?
            .ok_or_else(|| PluginError::invalid_field("quoted", "is required", Value::Null))?;
        let message_id = fields::required_string(quoted, "message_id").map_err(nested)?;
        if !MESSAGE_ID_CHARS.contains(&message_id.len())
            || !message_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PluginError::invalid_field(
                "quoted.message_id",
                "must be 1 to 128 letters and digits (a WhatsApp message id such as 3EB0...)",
                json!(message_id),
            ));
        }
        let participant = match fields::present(quoted, "participant") {
            None => "",
            Some(Value::String(text)) => text.as_str(),
            Some(other) => {
                return Err(PluginError::invalid_field(
                    "quoted.participant",
                    format!("must be a string, not {}", fields::kind(other)),
                    other.clone(),
                ));
            }
        };
        // The documented text for this field (docs/API.md) has no field prefix.
        let participant = normalize_recipient(participant).map_err(|reason| {
            let mut error = PluginError::invalid_field(
                "quoted.participant",
                reason.clone(),
                json!(participant),
            );
            error.message = format!("invalid quoted participant JID: {reason}");
            error
        })?;
        let body = fields::optional_string(quoted, "body").map_err(nested)?;
        if let Some(body) = body {
            check_length("quoted.body", body, QUOTED_BODY_CHARS)?;
        }
        Ok(ResponseRequest {
            to,
            selected_button_id: selected_button_id.to_string(),
            selected_display_text: selected_display_text.map(str::to_string),
            quoted: QuotedReference {
                message_id: message_id.to_string(),
                participant,
                body: body.map(str::to_string),
            },
        })
    }
}

fn nested(mut error: PluginError) -> PluginError {
    error.message = format!("quoted.{}", error.message);
    for field in &mut error.validation {
        field.field = format!("quoted.{}", field.field);
    }
    error
}

/// The request's published shape. The parse above keeps its own checks, for its
/// documented texts (`invalid quoted participant JID: ...`), with the same limits.
pub fn schema() -> Schema {
    let quoted = Schema::object()
        .required("message_id", Kind::text(MESSAGE_ID_CHARS))
        .describe("the buttons message answered (letters, digits, - and _)")
        .required("participant", Kind::recipient())
        .describe("who sent the buttons message")
        .optional("body", Kind::text(QUOTED_BODY_CHARS))
        .describe("its text, quoted when the server does not know the message");
    Schema::object()
        .required("to", Kind::recipient())
        .required("selected_button_id", Kind::text(BUTTON_ID_CHARS))
        .optional("selected_display_text", Kind::text(DISPLAY_TEXT_CHARS))
        .required("quoted", Kind::object(quoted))
        .device_id()
}
