//! The `/send/buttons` request and its validation.

use serde_json::{Value, json};
use wuts_plugin_api::fields::{self, body_object, check_length};
use wuts_plugin_api::{PluginError, Request};

/// WhatsApp shows at most three quick replies.
pub const MAX_BUTTONS: usize = 3;

#[derive(Debug, Clone, PartialEq)]
pub struct ButtonsRequest {
    /// The recipient JID.
    pub to: String,
    pub message: String,
    pub footer: Option<String>,
    pub buttons: Vec<QuickReply>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QuickReply {
    pub id: String,
    pub display_text: String,
}

impl ButtonsRequest {
    pub fn parse(request: &Request<'_>) -> Result<ButtonsRequest, PluginError> {
        let fields = body_object(request)?;
        let to = fields::recipient(&fields, "to")?;
        let message = fields::required_string(&fields, "message")?;
        check_length("message", message, 1..=1024)?;
        let footer =
            fields::optional_string(&fields, "footer")?.filter(|footer| !footer.is_empty());
        if let Some(footer) = footer {
            check_length("footer", footer, 0..=60)?;
        }
        let items = fields::required_array(&fields, "buttons")?;
        if !(1..=MAX_BUTTONS).contains(&items.len()) {
            return Err(PluginError::invalid_field(
                "buttons",
                format!("{} given, 1 to {MAX_BUTTONS} allowed", items.len()),
                json!(items.len()),
            ));
        }
        let mut buttons: Vec<QuickReply> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            // Field names are built only for an error: this loop runs on every send.
            let field = || format!("buttons[{index}]");
            let Value::Object(button) = item else {
                return Err(PluginError::invalid_field(
                    field(),
                    format!(
                        "must be an object with id and display_text, not {}",
                        fields::kind(item)
                    ),
                    item.clone(),
                ));
            };
            let id =
                fields::required_string(button, "id").map_err(|error| prefixed(&field(), error))?;
            check_button_text(&field, "id", id, 1..=256)?;
            if buttons.iter().any(|earlier| earlier.id == id) {
                return Err(PluginError::invalid_field(
                    format!("{}.id", field()),
                    format!("duplicate id {id:?}: button ids must be unique"),
                    json!(id),
                ));
            }
            let display_text = fields::required_string(button, "display_text")
                .map_err(|error| prefixed(&field(), error))?;
            check_button_text(&field, "display_text", display_text, 1..=20)?;
            buttons.push(QuickReply {
                id: id.to_string(),
                display_text: display_text.to_string(),
            });
        }
        Ok(ButtonsRequest {
            to,
            message: message.to_string(),
            footer: footer.map(str::to_string),
            buttons,
        })
    }
}

/// [`check_length`] for a button's `name`, naming the field only when it fails.
fn check_button_text(
    button_field: impl Fn() -> String,
    name: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), PluginError> {
    match fields::length_problem(text, range) {
        None => Ok(()),
        Some(problem) => Err(PluginError::invalid_field(
            format!("{}.{name}", button_field()),
            problem,
            json!(text),
        )),
    }
}

/// Re-words a nested field's error with its full path (`buttons[1].id: ...`).
fn prefixed(parent: &str, mut error: PluginError) -> PluginError {
    error.message = format!("{parent}.{}", error.message);
    for field in &mut error.validation {
        field.field = format!("{parent}.{}", field.field);
    }
    error
}

/// The request's JSON Schema, for the manifest.
pub fn schema() -> Value {
    json!({
        "type": "object",
        "required": ["to", "message", "buttons"],
        "properties": {
            "to": {"type": "string", "description": "Phone number with country code, or a JID"},
            "message": {"type": "string", "minLength": 1, "maxLength": 1024},
            "footer": {"type": "string", "maxLength": 60},
            "buttons": {
                "type": "array", "minItems": 1, "maxItems": MAX_BUTTONS,
                "items": {
                    "type": "object",
                    "required": ["id", "display_text"],
                    "properties": {
                        "id": {"type": "string", "minLength": 1, "maxLength": 256},
                        "display_text": {"type": "string", "minLength": 1, "maxLength": 20}
                    }
                }
            },
            "device_id": {"type": "string"}
        }
    })
}
