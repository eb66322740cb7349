//! The two requests and their validation.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::json;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// A WhatsApp message id: 1 to 128 letters, digits, `-` and `_`.
const MESSAGE_ID_CHARS: std::ops::RangeInclusive<usize> = 1..=128;

/// The longest text an edit may carry, as `/send/text`'s.
pub const TEXT_CHARS: std::ops::RangeInclusive<usize> = 1..=4096;

/// `PUT /messages/{messageId}`: `messageId` comes from the path (the host puts it in the
/// body under that name; the path wins over a body field).
pub fn edit_schema() -> Schema {
    Schema::object()
        .required("messageId", Kind::text(MESSAGE_ID_CHARS))
        .describe("the message to edit, from the path (letters, digits, - and _)")
        .required("to", Kind::recipient())
        .describe("the chat the message was sent to")
        .required("message", Kind::text(TEXT_CHARS))
        .describe("the new text")
        .device_id()
}

/// `DELETE /messages/delete`.
pub fn delete_schema() -> Schema {
    Schema::object()
        .required("messageId", Kind::text(MESSAGE_ID_CHARS))
        .describe("the message to delete (letters, digits, - and _)")
        .required("chatJid", Kind::recipient())
        .describe("the chat the message is in")
        .optional("deleteType", Kind::one_of(&["for_everyone", "for_me"]))
        .describe("for_everyone (default) revokes it for all; for_me removes it from this gateway's message log only")
        .optional("reason", Kind::text(0..=512))
        .describe("kept in the answer's metadata only")
        .optional("validateOwnership", Kind::boolean())
        .describe("refuse messages this device did not send (default true); false allows an admin revoke in a group, or a received message deleted for me")
        .device_id()
}

static EDIT_SCHEMA: LazyLock<Schema> = LazyLock::new(edit_schema);
static DELETE_SCHEMA: LazyLock<Schema> = LazyLock::new(delete_schema);

/// A validated edit.
#[derive(Debug, Clone, PartialEq)]
pub struct EditRequest {
    pub message_id: String,
    /// The chat JID.
    pub to: String,
    pub text: String,
}

/// A validated delete.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteRequest {
    pub message_id: String,
    pub chat: String,
    pub for_everyone: bool,
    pub reason: Option<String>,
    pub validate_ownership: bool,
}

fn check_message_id(message_id: &str) -> Result<(), PluginError> {
    if message_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(PluginError::invalid_field(
            "messageId",
            "must be letters and digits (a WhatsApp message id such as 3EB0...)",
            json!(message_id),
        ))
    }
}

impl EditRequest {
    pub fn parse(request: &Request<'_>) -> Result<EditRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "messageId")]
            message_id: String,
            to: Recipient,
            message: String,
        }
        let body: Body = request.parse(&EDIT_SCHEMA)?;
        check_message_id(&body.message_id)?;
        Ok(EditRequest {
            message_id: body.message_id,
            to: body.to.0,
            text: body.message,
        })
    }
}

impl DeleteRequest {
    pub fn parse(request: &Request<'_>) -> Result<DeleteRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            #[serde(rename = "messageId")]
            message_id: String,
            #[serde(rename = "chatJid")]
            chat: Recipient,
            #[serde(rename = "deleteType")]
            delete_type: Option<String>,
            reason: Option<String>,
            #[serde(rename = "validateOwnership")]
            validate_ownership: Option<bool>,
        }
        let body: Body = request.parse(&DELETE_SCHEMA)?;
        check_message_id(&body.message_id)?;
        Ok(DeleteRequest {
            message_id: body.message_id,
            chat: body.chat.0,
            for_everyone: body.delete_type.as_deref() != Some("for_me"),
            reason: body.reason.filter(|reason| !reason.is_empty()),
            validate_ownership: body.validate_ownership.unwrap_or(true),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wuts_plugin_api::RequestContext;

    fn request(body: &Value) -> Vec<u8> {
        serde_json::to_vec(body).unwrap()
    }

    fn edit(body: Value) -> Result<EditRequest, PluginError> {
        let bytes = request(&body);
        EditRequest::parse(&Request {
            route: "/messages/{messageId}",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn delete(body: Value) -> Result<DeleteRequest, PluginError> {
        let bytes = request(&body);
        DeleteRequest::parse(&Request {
            route: "/messages/delete",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    #[test]
    fn the_documented_examples_parse() {
        let parsed = edit(
            json!({"messageId": "3EB0XXXX1234ABCD", "to": "5511999999999",
            "message": "Updated: your order ships tomorrow at 9am."}),
        )
        .unwrap();
        assert_eq!(parsed.to, "5511999999999@s.whatsapp.net");
        let parsed = delete(json!({"messageId": "3EB0XXXX1234ABCD",
            "chatJid": "5511999999999@s.whatsapp.net", "deleteType": "for_everyone",
            "reason": "Sent to wrong contact", "validateOwnership": true}))
        .unwrap();
        assert!(parsed.for_everyone && parsed.validate_ownership);
        assert_eq!(parsed.reason.as_deref(), Some("Sent to wrong contact"));
        let defaults = delete(json!({"messageId": "3EB0A", "chatJid": "5511999999999"})).unwrap();
        assert!(defaults.for_everyone && defaults.validate_ownership);
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |error: PluginError| error.validation[0].field.clone();
        let ok = json!({"messageId": "3EB0A", "to": "5511999999999", "message": "hi"});
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            body
        };
        assert_eq!(
            field(edit(with("message", json!(""))).unwrap_err()),
            "message"
        );
        assert_eq!(
            field(edit(with("message", json!("a".repeat(4097)))).unwrap_err()),
            "message"
        );
        assert_eq!(
            field(edit(with("message", json!(5))).unwrap_err()),
            "message"
        );
        assert_eq!(field(edit(with("to", json!("x"))).unwrap_err()), "to");
        assert_eq!(
            field(edit(with("messageId", json!("3EB0 A"))).unwrap_err()),
            "messageId"
        );
        let ok = json!({"messageId": "3EB0A", "chatJid": "5511999999999"});
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            body
        };
        assert_eq!(
            field(delete(with("deleteType", json!("for_all"))).unwrap_err()),
            "deleteType"
        );
        assert_eq!(
            field(delete(with("validateOwnership", json!("yes"))).unwrap_err()),
            "validateOwnership"
        );
        assert_eq!(
            field(delete(with("chatJid", json!(""))).unwrap_err()),
            "chatJid"
        );
    }
}
