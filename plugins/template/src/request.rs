//! The `/send/template` request and its validation.

use std::collections::HashSet;
use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};
use wuts_plugin_api::recipient::normalize_phone;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

pub const MAX_BUTTONS: usize = 3;
const BODY_CHARS: RangeInclusive<usize> = 1..=1024;
const FOOTER_CHARS: RangeInclusive<usize> = 0..=60;
const HEADER_TEXT_CHARS: RangeInclusive<usize> = 0..=60;
const BUTTON_TEXT_CHARS: RangeInclusive<usize> = 1..=20;
const BUTTON_ID_CHARS: RangeInclusive<usize> = 1..=256;
pub const BUTTON_KINDS: &[&str] = &["quick_reply", "url", "call"];

/// What WUTS answers for any invalid field of this route, with the specifics in
/// `validation` (the WUTS docs §1.15), and its text for a missing or empty body.
const VALIDATION_FAILED: &str = "validation failed";
const BODY_EMPTY: &str = "body cannot be empty";

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
/// An image header's source (exactly one of `image` and `image_url`) is checked once the
/// header is known to be an image.
pub fn schema() -> Schema {
    let header = Schema::object()
        .required("type", Kind::one_of(&["text", "image"]))
        .optional("text", Kind::text(HEADER_TEXT_CHARS))
        .describe("the header's title (required for a text header)")
        .optional("image", Kind::text(0..=usize::MAX))
        .describe("image header: base64 bytes, raw or as a data: URI")
        .optional("image_url", Kind::url())
        .describe("image header: an http(s) URL the server downloads");
    let button = Schema::object()
        .required("type", Kind::one_of(BUTTON_KINDS))
        .required("text", Kind::text(BUTTON_TEXT_CHARS))
        .optional("id", Kind::text(BUTTON_ID_CHARS))
        .describe("quick_reply: the id a tap answers with")
        .optional("url", Kind::url())
        .describe("url: the page it opens")
        .optional("phone_number", Kind::text(1..=32))
        .describe("call: the number it calls, with country code");
    Schema::object()
        .required("number", Kind::recipient())
        .required("body", Kind::text(BODY_CHARS))
        .optional("footer", Kind::text(FOOTER_CHARS))
        .optional("header", Kind::object(header))
        .required(
            "buttons",
            Kind::array(Kind::object(button), 1..=MAX_BUTTONS),
        )
        .optional("delay", Kind::delay_ms())
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);
static IMAGE_HEADER: LazyLock<Schema> = LazyLock::new(|| {
    Schema::object()
        .optional("text", Kind::text(HEADER_TEXT_CHARS))
        .media_source("image", "image_url")
});

/// One button, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Button {
    QuickReply {
        text: String,
        id: String,
    },
    Url {
        text: String,
        url: String,
    },
    /// `phone_number` as digits, country code first.
    Call {
        text: String,
        phone_number: String,
    },
}

/// The header.
#[derive(Debug, Clone, PartialEq)]
pub enum Header {
    Text(String),
    Image {
        /// Base64 (`image`) or a URL (`image_url`), exactly one.
        source: wuts_plugin_api::MediaSource,
        title: Option<String>,
    },
}

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateRequest {
    /// The chat JID.
    pub to: String,
    pub body: String,
    pub footer: Option<String>,
    pub header: Option<Header>,
    pub buttons: Vec<Button>,
    pub delay_ms: u64,
}

#[derive(Deserialize)]
struct ButtonBody {
    r#type: String,
    text: String,
    id: Option<String>,
    url: Option<String>,
    phone_number: Option<String>,
}

#[derive(Deserialize)]
struct HeaderBody {
    r#type: String,
    text: Option<String>,
    image: Option<String>,
    image_url: Option<String>,
}

impl TemplateRequest {
    pub fn parse(request: &Request<'_>) -> Result<TemplateRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            body: String,
            footer: Option<String>,
            header: Option<Value>,
            buttons: Vec<ButtonBody>,
            delay: Option<u64>,
        }
        let body: Body = request.parse(&SCHEMA).map_err(as_documented)?;
        let header = match body.header {
            Some(header) => Some(self::header(header).map_err(as_documented)?),
            None => None,
        };
        let buttons = buttons(body.buttons).map_err(as_documented)?;
        Ok(TemplateRequest {
            to: body.number.0,
            body: body.body,
            footer: body.footer.filter(|footer| !footer.trim().is_empty()),
            header,
            buttons,
            delay_ms: body.delay.unwrap_or(0),
        })
    }
}

fn header(value: Value) -> Result<Header, PluginError> {
    let parsed: HeaderBody = serde_json::from_value(value.clone())
        .map_err(|error| PluginError::invalid_field("header", error.to_string(), value.clone()))?;
    let text = parsed.text.filter(|text| !text.trim().is_empty());
    if parsed.r#type == "text" {
        return text.map(Header::Text).ok_or_else(|| {
            PluginError::invalid_field("header.text", "is required for a text header", Value::Null)
        });
    }
    IMAGE_HEADER
        .validate(&value)
        .map_err(|error| nested(error, "header"))?;
    let source = wuts_plugin_api::MediaSource::pick(
        "header.image",
        parsed.image,
        "header.image_url",
        parsed.image_url,
    )?;
    Ok(Header::Image {
        source,
        title: text,
    })
}

fn buttons(given: Vec<ButtonBody>) -> Result<Vec<Button>, PluginError> {
    let mut ids = HashSet::new();
    let mut buttons = Vec::with_capacity(given.len());
    for (index, button) in given.into_iter().enumerate() {
        let field = |name: &str| format!("buttons[{index}].{name}");
        let required = |value: Option<String>, name: &str| {
            value
                .filter(|value| !value.trim().is_empty())
                .ok_or_else(|| {
                    PluginError::invalid_field(
                        field(name),
                        format!("is required for a {} button", button.r#type),
                        Value::Null,
                    )
                })
        };
        let text = button.text.clone();
        buttons.push(match button.r#type.as_str() {
            "quick_reply" => {
                let id = required(button.id.clone(), "id")?;
                if !ids.insert(id.clone()) {
                    return Err(PluginError::invalid_field(
                        field("id"),
                        format!("duplicate id {id:?}: button ids must be unique"),
                        json!(id),
                    ));
                }
                Button::QuickReply { text, id }
            }
            "url" => Button::Url {
                text,
                url: required(button.url.clone(), "url")?,
            },
            _ => {
                let number = required(button.phone_number.clone(), "phone_number")?;
                let digits = normalize_phone(&number).map_err(|error| {
                    PluginError::invalid_field(
                        field("phone_number"),
                        error.to_string(),
                        json!(number),
                    )
                })?;
                Button::Call {
                    text,
                    phone_number: digits,
                }
            }
        });
    }
    Ok(buttons)
}

/// Prefixes a nested object's error paths with `path`.
fn nested(mut error: PluginError, path: &str) -> PluginError {
    for field in &mut error.validation {
        field.field = format!("{path}.{}", field.field);
    }
    error.message = format!("{path}.{}", error.message);
    error
}

/// Validation errors read as WUTS documents them for this route: "validation failed",
/// the specifics in `validation`, and "body cannot be empty" for a missing or empty body.
fn as_documented(mut error: PluginError) -> PluginError {
    if error.code != "VALIDATION_ERROR" || error.validation.is_empty() {
        return error;
    }
    error.message = VALIDATION_FAILED.to_string();
    for field in &mut error.validation {
        let empty = field.value.is_null()
            || field
                .value
                .as_str()
                .is_some_and(|text| text.trim().is_empty());
        if field.field == "body" && empty {
            field.message = BODY_EMPTY.to_string();
        }
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<TemplateRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        TemplateRequest::parse(&Request {
            route: "/send/template",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn example() -> Value {
        json!({"number": "5511999999999", "body": "Your order #4821 is ready for pickup.",
            "footer": "WUTS Store", "header": {"type": "text", "text": "Order update"},
            "buttons": [
                {"type": "quick_reply", "text": "Track order", "id": "track_4821"},
                {"type": "url", "text": "Open store", "url": "https://store.example.com/orders/4821"},
                {"type": "call", "text": "Call us", "phone_number": "5511988887777"}],
            "delay": 0})
    }

    #[test]
    fn the_documented_example_parses() {
        let parsed = parse(example()).unwrap();
        assert_eq!(parsed.header, Some(Header::Text("Order update".into())));
        assert_eq!(
            parsed.buttons,
            [
                Button::QuickReply {
                    text: "Track order".into(),
                    id: "track_4821".into()
                },
                Button::Url {
                    text: "Open store".into(),
                    url: "https://store.example.com/orders/4821".into()
                },
                Button::Call {
                    text: "Call us".into(),
                    phone_number: "5511988887777".into()
                },
            ]
        );
    }

    #[test]
    fn an_empty_body_reads_as_documented() {
        let mut body = example();
        body["body"] = json!("");
        let error = parse(body).unwrap_err();
        assert_eq!(error.message, "validation failed");
        assert_eq!(error.validation[0].field, "body");
        assert_eq!(error.validation[0].message, "body cannot be empty");
    }

    #[test]
    fn each_kind_needs_its_own_field() {
        let field = |pointer: &str, value: Value| {
            let mut body = example();
            *body.pointer_mut(pointer).unwrap() = value;
            parse(body).unwrap_err().validation[0].field.clone()
        };
        assert_eq!(field("/buttons/0/type", json!("reply")), "buttons[0].type");
        assert_eq!(field("/buttons/0/id", json!("")), "buttons[0].id");
        assert_eq!(field("/buttons/1/url", json!("nope")), "buttons[1].url");
        assert_eq!(
            field("/buttons/2/phone_number", json!("12")),
            "buttons[2].phone_number"
        );
        assert_eq!(
            field("/buttons/1", json!({"type": "url", "text": "x"})),
            "buttons[1].url"
        );
        assert_eq!(field("/header/type", json!("video")), "header.type");
        assert_eq!(field("/header/text", json!("")), "header.text");
        assert_eq!(field("/header", json!({"type": "image"})), "header.image");
        assert_eq!(
            field(
                "/buttons/2",
                json!({"type": "quick_reply", "text": "again", "id": "track_4821"})
            ),
            "buttons[2].id"
        );
    }
}
