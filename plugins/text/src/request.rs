//! The `/send/text` request and its validation.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{Kind, Mentioned, PluginError, Quoted, Recipient, Request, Schema};

/// Characters a text may have (docs: `text` 1 to 4,096).
pub const TEXT_CHARS: RangeInclusive<usize> = 1..=4096;
/// `typingDuration`: seconds, 0 to 20.
pub const TYPING_SECONDS: RangeInclusive<i64> = 0..=20;

/// What the WUTS errors page prints for a bad `text` (the WUTS docs, §1.1).
const TEXT_RULE: &str = "text is required and must be between 1 and 4096 characters";

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
pub fn schema() -> Schema {
    Schema::object()
        .required("number", Kind::recipient())
        .required("text", Kind::text(TEXT_CHARS))
        .describe("the message, WhatsApp markdown as given")
        .optional("mentioned", Kind::Mentioned)
        .optional("quoted", Kind::Quoted)
        .optional("delay", Kind::delay_ms())
        .describe("milliseconds to wait before sending")
        .optional("typingDuration", Kind::integer(TYPING_SECONDS))
        .describe("seconds of 'typing…' to show before sending")
        .optional("linkPreview", Kind::boolean())
        .describe("fetch the first link of the text and show its title and description")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct TextRequest {
    /// The chat JID.
    pub to: String,
    pub text: String,
    /// Normalised JIDs, in the order given, without repeats.
    pub mentioned: Vec<String>,
    pub quoted: Option<Quoted>,
    pub delay_ms: u64,
    pub typing_seconds: u64,
    pub link_preview: bool,
}

impl TextRequest {
    pub fn parse(request: &Request<'_>) -> Result<TextRequest, PluginError> {
        if let Some(plain) = plain_text(request.body) {
            return Ok(plain);
        }
        Self::parse_reporting(request)
    }

    /// The full parse: checks the body against [`schema`], reporting the first problem
    /// by name. [`plain_text`] settles the common well-formed request without building
    /// a JSON value; this decides everything else.
    fn parse_reporting(request: &Request<'_>) -> Result<TextRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            text: String,
            #[serde(default)]
            mentioned: Mentioned,
            quoted: Option<Quoted>,
            delay: Option<u64>,
            #[serde(rename = "typingDuration")]
            typing_duration: Option<u64>,
            #[serde(rename = "linkPreview")]
            link_preview: Option<bool>,
        }
        let body: Body = request.parse(&SCHEMA).map_err(text_rule)?;
        Ok(TextRequest {
            to: body.number.0,
            text: body.text,
            mentioned: body.mentioned.0,
            quoted: body.quoted,
            delay_ms: body.delay.unwrap_or(0),
            typing_seconds: body.typing_duration.unwrap_or(0),
            link_preview: body.link_preview.unwrap_or(false),
        })
    }
}

/// The quick way through for the most common request, a plain text to a number: typed,
/// borrowed deserialisation and the same limits as a yes/no question (the buttons
/// plugin's `fast` parse, for the same reason). A body that names any other field of the
/// schema (`null` included), a wrong type, a duplicate key or a broken limit goes to
/// [`TextRequest::parse_reporting`], which says what is wrong; so this never decides an
/// error, and a test holds the two to the same answers.
fn plain_text(body: &[u8]) -> Option<TextRequest> {
    use std::borrow::Cow;

    use serde::de::IgnoredAny;

    /// Whether a field is present at all, whatever its value.
    fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| true)
    }

    #[derive(Deserialize)]
    struct Plain<'a> {
        #[serde(borrow)]
        number: Cow<'a, str>,
        #[serde(borrow)]
        text: Cow<'a, str>,
        #[serde(default, deserialize_with = "present")]
        mentioned: bool,
        #[serde(default, deserialize_with = "present")]
        quoted: bool,
        #[serde(default, deserialize_with = "present")]
        delay: bool,
        #[serde(default, rename = "typingDuration", deserialize_with = "present")]
        typing_duration: bool,
        #[serde(default, rename = "linkPreview", deserialize_with = "present")]
        link_preview: bool,
        #[serde(default, deserialize_with = "present")]
        device_id: bool,
    }
    let plain: Plain<'_> = serde_json::from_slice(body).ok()?;
    let others = plain.mentioned
        || plain.quoted
        || plain.delay
        || plain.typing_duration
        || plain.link_preview
        || plain.device_id;
    if others || wuts_plugin_api::fields::length_problem(&plain.text, TEXT_CHARS).is_some() {
        return None;
    }
    Some(TextRequest {
        to: wuts_plugin_api::normalize_recipient(&plain.number).ok()?,
        text: plain.text.into_owned(),
        mentioned: Vec::new(),
        quoted: None,
        delay_ms: 0,
        typing_seconds: 0,
        link_preview: false,
    })
}

/// A bad `text` reads as WUTS documents it.
fn text_rule(mut error: PluginError) -> PluginError {
    if let Some(field) = error.validation.first_mut()
        && field.field == "text"
    {
        field.message = TEXT_RULE.to_string();
        error.message = TEXT_RULE.to_string();
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<TextRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        TextRequest::parse(&Request {
            route: "/send/text",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    /// The quick parse and the full one agree: same request when the quick one takes
    /// it, and it takes nothing the full one refuses.
    #[test]
    fn the_quick_parse_agrees_with_the_full_one() {
        let bodies = [
            json!({"number": "5511999999999", "text": "hello"}),
            json!({"number": "+55 (11) 99999-9999", "text": "olá *bold*"}),
            json!({"number": "120363025246125486@g.us", "text": "group"}),
            json!({"number": "5511999999999", "text": "a", "unknown": 1}),
            json!({"number": "5511999999999", "text": ""}),
            json!({"number": "5511999999999", "text": "   "}),
            json!({"number": "5511999999999", "text": "a".repeat(4096)}),
            json!({"number": "5511999999999", "text": "a".repeat(4097)}),
            json!({"number": "x", "text": "a"}),
            json!({"number": 5511999999999_u64, "text": "a"}),
            json!({"number": "5511999999999", "text": 5}),
            json!({"number": "5511999999999", "text": "a", "mentioned": null}),
            json!({"number": "5511999999999", "text": "a", "delay": 10}),
            json!({"number": "5511999999999", "text": "a", "linkPreview": true}),
            json!({"number": "5511999999999", "text": "a", "device_id": "x"}),
            json!({"text": "a"}),
        ];
        for body in bodies {
            let bytes = serde_json::to_vec(&body).unwrap();
            let full = TextRequest::parse_reporting(&Request {
                route: "/send/text",
                body: &bytes,
                context: RequestContext::default(),
            });
            if let Some(quick) = super::plain_text(&bytes) {
                assert_eq!(Ok(quick), full.map_err(|e| e.message), "{body}");
            }
        }
        let duplicate = br#"{"number":"5511999999999","text":"a","text":"b"}"#;
        assert!(super::plain_text(duplicate).is_none());
        assert!(super::plain_text(br#"{"number":"5511999999999","text":"hi"}"#).is_some());
    }

    fn field(body: Value) -> String {
        parse(body).unwrap_err().validation[0].field.clone()
    }

    #[test]
    fn the_documented_example_parses() {
        let request = parse(json!({
            "number": "5511999999999", "text": "Hello from *WUTS*!", "delay": 2,
            "typingDuration": 3,
            "quoted": {"key": {"id": "3EB0XXXX1234ABCD", "fromMe": false},
                       "message": {"conversation": "Is my order ready?"}}
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert_eq!(request.delay_ms, 2);
        assert_eq!(request.typing_seconds, 3);
        let quoted = request.quoted.unwrap();
        assert_eq!(quoted.message_id, "3EB0XXXX1234ABCD");
        assert_eq!(quoted.body.as_deref(), Some("Is my order ready?"));
        assert_eq!(quoted.from_me, Some(false));
    }

    #[test]
    fn bad_fields_are_named() {
        let ok = || json!({"number": "5511999999999", "text": "hi"});
        let with = |key: &str, value: Value| {
            let mut body = ok();
            body[key] = value;
            body
        };
        assert_eq!(field(json!({"text": "hi"})), "number");
        assert_eq!(field(json!({"number": "5511999999999"})), "text");
        assert_eq!(field(with("text", json!(""))), "text");
        assert_eq!(field(with("text", json!("x".repeat(4097)))), "text");
        assert_eq!(field(with("text", json!(5))), "text");
        assert_eq!(field(with("delay", json!(60_001))), "delay");
        assert_eq!(field(with("delay", json!("2"))), "delay");
        assert_eq!(field(with("typingDuration", json!(21))), "typingDuration");
        assert_eq!(field(with("linkPreview", json!("yes"))), "linkPreview");
        assert_eq!(field(with("mentioned", json!(["abc"]))), "mentioned[0]");
        assert_eq!(field(with("quoted", json!({}))), "quoted.message_id");
        assert!(parse(with("text", json!("é".repeat(4096)))).is_ok());
    }

    #[test]
    fn a_bad_text_reads_as_wuts_documents_it() {
        let error = parse(json!({"number": "5511999999999", "text": ""})).unwrap_err();
        assert_eq!(error.message, TEXT_RULE);
        assert_eq!(error.validation[0].message, TEXT_RULE);
        assert_eq!(error.validation[0].value, json!(""));
    }
}
