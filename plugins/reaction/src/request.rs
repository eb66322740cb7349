//! The `/send/reaction` request and its validation.

use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::json;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// A WhatsApp message id: 1 to 128 letters, digits, `-` and `_`.
const MESSAGE_ID_CHARS: std::ops::RangeInclusive<usize> = 1..=128;

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
pub fn schema() -> Schema {
    Schema::object()
        .required("number", Kind::recipient())
        .required("messageId", Kind::text(MESSAGE_ID_CHARS))
        .describe("the message reacted to (letters, digits, - and _)")
        .required("reaction", Kind::text(0..=32))
        .describe("one emoji, or empty to remove the reaction")
        .optional("fromMe", Kind::boolean())
        .describe("whether this device sent the message; needed when the server does not know it")
        .optional("participant", Kind::recipient())
        .describe("who wrote the message, for a group message the server does not know")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct ReactionRequest {
    /// The chat JID.
    pub to: String,
    pub message_id: String,
    /// One emoji, or empty.
    pub reaction: String,
    pub from_me: Option<bool>,
    pub participant: Option<String>,
}

impl ReactionRequest {
    pub fn parse(request: &Request<'_>) -> Result<ReactionRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            #[serde(rename = "messageId")]
            message_id: String,
            reaction: String,
            #[serde(rename = "fromMe")]
            from_me: Option<bool>,
            participant: Option<Recipient>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        if !body
            .message_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(PluginError::invalid_field(
                "messageId",
                "must be letters and digits (a WhatsApp message id such as 3EB0...)",
                json!(body.message_id),
            ));
        }
        if let Some(problem) = crate::emoji::problem(&body.reaction) {
            return Err(PluginError::invalid_field(
                "reaction",
                problem,
                json!(body.reaction),
            ));
        }
        Ok(ReactionRequest {
            to: body.number.0,
            message_id: body.message_id,
            reaction: body.reaction,
            from_me: body.from_me,
            participant: body.participant.map(|participant| participant.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<ReactionRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        ReactionRequest::parse(&Request {
            route: "/send/reaction",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    #[test]
    fn the_documented_example_and_a_removal_parse() {
        let parsed = parse(
            json!({"number": "5511999999999", "messageId": "3EB0XXXX1234ABCD",
            "reaction": "👍", "fromMe": false}),
        )
        .unwrap();
        assert_eq!(parsed.to, "5511999999999@s.whatsapp.net");
        assert_eq!(parsed.from_me, Some(false));
        let removal = parse(
            json!({"number": "5511999999999", "messageId": "3EB0XXXX1234ABCD",
            "reaction": ""}),
        )
        .unwrap();
        assert_eq!(removal.reaction, "");
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |body: Value| parse(body).unwrap_err().validation[0].field.clone();
        let ok = json!({"number": "5511999999999", "messageId": "3EB0A", "reaction": "👍"});
        let with = |key: &str, value: Value| {
            let mut body = ok.clone();
            body[key] = value;
            body
        };
        assert_eq!(field(with("messageId", json!(""))), "messageId");
        assert_eq!(field(with("messageId", json!("3EB0 A"))), "messageId");
        assert_eq!(field(with("reaction", json!("ok"))), "reaction");
        assert_eq!(field(with("reaction", json!("👍👍"))), "reaction");
        assert_eq!(field(with("reaction", json!(1))), "reaction");
        assert_eq!(field(with("fromMe", json!("false"))), "fromMe");
        assert_eq!(field(with("participant", json!("x"))), "participant");
        let mut missing = ok.clone();
        missing.as_object_mut().unwrap().remove("reaction");
        assert_eq!(field(missing), "reaction");
    }
}
