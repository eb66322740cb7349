//! The `/send/list-response` request and its validation.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{Kind, PluginError, Quoted, Recipient, Request, Schema};

use crate::request::{ROW_ID_CHARS, recipient_rule};

/// A row's title and description as the response carries them. Wider than what
/// `/send/interactive` accepts: a list received from elsewhere may have longer ones.
const TITLE_CHARS: RangeInclusive<usize> = 1..=256;
const DESCRIPTION_CHARS: RangeInclusive<usize> = 0..=1024;

/// The request's shape: what the parse checks and the JSON Schema the manifest
/// publishes. `quoted` takes either shape WUTS accepts (`{"message_id","participant",
/// "body"}`, as the contract prints it, or `{"key":{"id","fromMe"},"message":
/// {"conversation"}}`).
pub fn schema() -> Schema {
    Schema::object()
        .required("to", Kind::recipient())
        .required("selected_row_id", Kind::text(ROW_ID_CHARS))
        .describe("the id of the row picked; checked against the list when the server knows it")
        .optional("title", Kind::text(TITLE_CHARS))
        .describe("the row's title: default the known list's, required when the list is unknown")
        .optional("description", Kind::text(DESCRIPTION_CHARS))
        .describe("the row's description: default the known list's")
        .required("quoted", Kind::Quoted)
        .describe("the list message answered")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated `/send/list-response` request.
#[derive(Debug, Clone, PartialEq)]
pub struct ResponseRequest {
    /// The chat JID.
    pub to: String,
    pub selected_row_id: String,
    pub title: Option<String>,
    pub description: Option<String>,
    pub quoted: Quoted,
}

impl ResponseRequest {
    pub fn parse(request: &Request<'_>) -> Result<ResponseRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            selected_row_id: String,
            title: Option<String>,
            description: Option<String>,
            quoted: Quoted,
        }
        let body: Body = request.parse(&SCHEMA).map_err(recipient_rule)?;
        let given = |text: Option<String>| text.filter(|text| !text.trim().is_empty());
        Ok(ResponseRequest {
            to: body.to.0,
            selected_row_id: body.selected_row_id,
            title: given(body.title),
            description: given(body.description),
            quoted: body.quoted,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wuts_plugin_api::RequestContext;

    fn parse(body: &Value) -> Result<ResponseRequest, PluginError> {
        let bytes = serde_json::to_vec(body).unwrap();
        ResponseRequest::parse(&Request {
            route: "/send/list-response",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn example() -> Value {
        json!({"to": "5511999999999", "selected_row_id": "coffee", "title": "Coffee",
            "description": "Freshly brewed", "quoted": {"message_id": "3EB0XXXX223344556677AABB",
            "participant": "5511999999999@s.whatsapp.net",
            "body": "Pick one of the products below to continue."}})
    }

    #[test]
    fn the_documented_example_parses() {
        let parsed = parse(&example()).unwrap();
        assert_eq!(parsed.selected_row_id, "coffee");
        assert_eq!(parsed.quoted.message_id, "3EB0XXXX223344556677AABB");
        assert_eq!(
            parsed.quoted.participant.as_deref(),
            Some("5511999999999@s.whatsapp.net")
        );
    }

    #[test]
    fn the_key_shape_of_quoted_is_read_too() {
        let mut body = example();
        body["quoted"] = json!({"key": {"id": "3EB0AB", "fromMe": true}});
        let parsed = parse(&body).unwrap();
        assert_eq!(parsed.quoted.message_id, "3EB0AB");
        assert_eq!(parsed.quoted.from_me, Some(true));
    }

    #[test]
    fn bad_fields_are_named() {
        let field = |pointer: &str, value: Value| {
            let mut body = example();
            *body.pointer_mut(pointer).unwrap() = value;
            parse(&body).unwrap_err().validation[0].field.clone()
        };
        assert_eq!(field("/selected_row_id", json!("")), "selected_row_id");
        assert_eq!(field("/selected_row_id", json!(7)), "selected_row_id");
        assert_eq!(field("/quoted/message_id", json!("")), "quoted.message_id");
        assert_eq!(
            field("/quoted/participant", json!("x")),
            "quoted.participant"
        );
        assert_eq!(field("/quoted", json!("3EB0")), "quoted");
        assert_eq!(field("/title", json!("t".repeat(257))), "title");
    }
}
