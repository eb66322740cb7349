//! The `/send/sticker` request and its validation (field checks only: the file itself is
//! judged in [`crate::picture`]).

use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{Kind, MediaSource, PluginError, Quoted, Recipient, Request, Schema};

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
/// The recipient is `to`, not `number`, as the WUTS docs §1.6 name it; a sticker has no
/// caption and mentions no one.
pub fn schema() -> Schema {
    Schema::object()
        .required("to", Kind::recipient())
        .media_source("sticker", "sticker_url")
        .optional("is_animated", Kind::boolean())
        .describe(
            "what the caller expects the sticker to be; the file decides, a mismatch is a 400",
        )
        .optional("quoted", Kind::Quoted)
        .optional("delay", Kind::delay_ms())
        .describe("milliseconds to wait before sending")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct StickerRequest {
    /// The chat JID.
    pub to: String,
    /// `sticker` (base64, raw or a `data:` URI) or `sticker_url`, exactly one.
    pub source: MediaSource,
    /// What the caller says the sticker is; None when not said.
    pub is_animated: Option<bool>,
    pub quoted: Option<Quoted>,
    pub delay_ms: u64,
}

impl StickerRequest {
    /// Checks the body against [`schema`] (a 400 `VALIDATION_ERROR` naming the first bad
    /// field, "both" and "neither" source included), then reads it.
    pub fn parse(request: &Request<'_>) -> Result<StickerRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            sticker: Option<String>,
            sticker_url: Option<String>,
            is_animated: Option<bool>,
            quoted: Option<Quoted>,
            delay: Option<u64>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        let sticker_url = body.sticker_url.map(|url| url.trim().to_string());
        Ok(StickerRequest {
            to: body.to.0,
            source: MediaSource::pick("sticker", body.sticker, "sticker_url", sticker_url)?,
            is_animated: body.is_animated,
            quoted: body.quoted,
            delay_ms: body.delay.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<StickerRequest, PluginError> {
        let bytes = body.to_string().into_bytes();
        StickerRequest::parse(&Request {
            route: "/send/sticker",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = json!({"to": "5511999999999@s.whatsapp.net", "sticker": "aGk="});
        body[field] = value;
        body
    }

    #[track_caller]
    fn field(body: Value) -> String {
        let error = parse(body).unwrap_err();
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "VALIDATION_ERROR")
        );
        error.validation[0].field.clone()
    }

    #[test]
    fn the_contract_example_reads_whole() {
        let request = parse(json!({
            "to": "5511999999999@s.whatsapp.net",
            "sticker_url": "https://cdn.example.com/stickers/thumbsup.webp",
            "is_animated": false
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert_eq!(
            request.source,
            MediaSource::Url {
                field: "sticker_url".into(),
                url: "https://cdn.example.com/stickers/thumbsup.webp".into()
            }
        );
        assert_eq!(request.is_animated, Some(false));
        assert_eq!((request.quoted, request.delay_ms), (None, 0));
    }

    #[test]
    fn a_number_a_data_uri_a_quote_and_a_delay() {
        let request = parse(json!({
            "to": "+55 11 99999-9999",
            "sticker": "data:image/webp;base64,aGk=",
            "quoted": {"message_id": "3EB0AB", "body": "hi"},
            "delay": 1500, "device_id": "dev-1"
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert!(matches!(request.source, MediaSource::Inline { .. }));
        assert_eq!(request.is_animated, None);
        assert_eq!(request.quoted.unwrap().message_id, "3EB0AB");
        assert_eq!(request.delay_ms, 1500);
        // An empty `sticker` counts as given: it is an empty file (STICKER_UNSUPPORTED), later.
        assert!(parse(with("sticker", json!(""))).is_ok());
        assert_eq!(
            parse(with("is_animated", Value::Null)).unwrap().is_animated,
            None
        );
    }

    #[test]
    fn exactly_one_source() {
        assert_eq!(
            field(with("sticker_url", json!("https://example.com/a.webp"))),
            "sticker"
        );
        assert_eq!(field(json!({"to": "5511999999999"})), "sticker");
        assert_eq!(
            field(json!({"to": "5511999999999", "sticker_url": "ftp://x"})),
            "sticker_url"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(field(json!({"sticker": "aGk="})), "to");
        // WUTS names the recipient `to` on this route: `number` is not read for it.
        assert_eq!(
            field(json!({"number": "5511999999999", "sticker": "aGk="})),
            "to"
        );
        assert_eq!(field(with("to", json!("12"))), "to");
        assert_eq!(field(with("to", json!(5511999999999u64))), "to");
        assert_eq!(field(with("sticker", json!(5))), "sticker");
        assert_eq!(field(with("is_animated", json!("yes"))), "is_animated");
        assert_eq!(field(with("is_animated", json!(1))), "is_animated");
        assert_eq!(field(with("quoted", json!({}))), "quoted.message_id");
        assert_eq!(field(with("delay", json!(60_001))), "delay");
        assert_eq!(field(with("delay", json!(-1))), "delay");
        assert_eq!(field(with("device_id", json!(7))), "device_id");
    }
}
