//! The `/send/buttons` request and its validation.

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{Kind, PluginError, Recipient, Request, Schema};

/// WhatsApp shows at most three quick replies.
pub const MAX_BUTTONS: usize = 3;
/// Characters allowed in each text field.
const MESSAGE_CHARS: RangeInclusive<usize> = 1..=1024;
const FOOTER_CHARS: RangeInclusive<usize> = 0..=60;
const ID_CHARS: RangeInclusive<usize> = 1..=256;
const DISPLAY_TEXT_CHARS: RangeInclusive<usize> = 1..=20;

/// The request's shape: what the full parse checks, and the JSON Schema the manifest
/// publishes.
pub fn schema() -> Schema {
    let button = Schema::object()
        .required("id", Kind::text(ID_CHARS))
        .required("display_text", Kind::text(DISPLAY_TEXT_CHARS));
    Schema::object()
        .required("to", Kind::recipient())
        .required("message", Kind::text(MESSAGE_CHARS))
        .optional("footer", Kind::text(FOOTER_CHARS))
        .required(
            "buttons",
            Kind::array_unique_by(button, 1..=MAX_BUTTONS, "id", "button ids must be unique"),
        )
        .device_id()
}

/// Built once: every send that the quick path does not settle checks against it.
static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

#[derive(Debug, Clone, PartialEq)]
pub struct ButtonsRequest {
    /// The recipient JID.
    pub to: String,
    pub message: String,
    pub footer: Option<String>,
    pub buttons: Vec<QuickReply>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct QuickReply {
    pub id: String,
    pub display_text: String,
}

impl ButtonsRequest {
    pub fn parse(request: &Request<'_>) -> Result<ButtonsRequest, PluginError> {
        if let Some(valid) = fast::parse_valid(request.body) {
            return Ok(valid);
        }
        Self::parse_reporting(request)
    }

    /// The full parse: checks the body against [`schema`], reporting the first problem
    /// by name. [`fast`] settles the well-formed requests without building a JSON
    /// value; this decides everything else.
    fn parse_reporting(request: &Request<'_>) -> Result<ButtonsRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            to: Recipient,
            message: String,
            footer: Option<String>,
            buttons: Vec<QuickReply>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        Ok(ButtonsRequest {
            to: body.to.0,
            message: body.message,
            footer: body.footer.filter(|footer| !footer.is_empty()),
            buttons: body.buttons,
        })
    }
}

/// The quick way through for a well-formed request: typed, borrowed deserialisation and
/// the same limits as a yes/no question. Anything it does not accept (a wrong type, a
/// duplicate key, any limit broken) goes to [`ButtonsRequest::parse_reporting`], which
/// says what is wrong; so this path never decides an error, and a test holds the two
/// to the same answers.
mod fast {
    use std::borrow::Cow;

    use serde::Deserialize;
    use wuts_plugin_api::fields::length_problem;
    use wuts_plugin_api::normalize_recipient;

    use super::{
        ButtonsRequest, DISPLAY_TEXT_CHARS, FOOTER_CHARS, ID_CHARS, MAX_BUTTONS, MESSAGE_CHARS,
        QuickReply,
    };

    #[derive(Deserialize)]
    struct Body<'a> {
        #[serde(borrow)]
        to: Cow<'a, str>,
        #[serde(borrow)]
        message: Cow<'a, str>,
        #[serde(borrow, default)]
        footer: Option<Cow<'a, str>>,
        #[serde(borrow)]
        buttons: Vec<Button<'a>>,
    }

    #[derive(Deserialize)]
    struct Button<'a> {
        #[serde(borrow)]
        id: Cow<'a, str>,
        #[serde(borrow)]
        display_text: Cow<'a, str>,
    }

    /// The request, when the body is well formed and within every limit.
    pub fn parse_valid(body: &[u8]) -> Option<ButtonsRequest> {
        let body: Body<'_> = serde_json::from_slice(body).ok()?;
        let fits = |text: &str, range| length_problem(text, range).is_none();
        let footer = body.footer.filter(|footer| !footer.is_empty());
        let valid = fits(&body.message, MESSAGE_CHARS)
            && footer
                .as_deref()
                .is_none_or(|footer| fits(footer, FOOTER_CHARS))
            && (1..=MAX_BUTTONS).contains(&body.buttons.len())
            && body.buttons.iter().enumerate().all(|(index, button)| {
                fits(&button.id, ID_CHARS)
                    && fits(&button.display_text, DISPLAY_TEXT_CHARS)
                    && body.buttons[..index]
                        .iter()
                        .all(|earlier| earlier.id != button.id)
            });
        if !valid {
            return None;
        }
        Some(ButtonsRequest {
            to: normalize_recipient(&body.to).ok()?,
            message: body.message.into_owned(),
            footer: footer.map(Cow::into_owned),
            buttons: body
                .buttons
                .into_iter()
                .map(|button| QuickReply {
                    id: button.id.into_owned(),
                    display_text: button.display_text.into_owned(),
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wuts_plugin_api::{Request, RequestContext};

    use super::{ButtonsRequest, fast};

    fn request(body: &[u8]) -> Request<'_> {
        Request {
            route: "/send/buttons",
            body,
            context: RequestContext::default(),
        }
    }

    fn valid_body() -> Value {
        json!({
            "to": "+55 11 99999-9999",
            "message": "Pick one ✅",
            "footer": "Store",
            "buttons": [
                {"id": "a", "display_text": "Yes"},
                {"id": "b\u{e9}", "display_text": "No \"really\""}
            ]
        })
    }

    /// Bodies around every rule: each must get the same answer from the quick path
    /// (when it answers at all) as from the full parse.
    fn corpus() -> Vec<Vec<u8>> {
        let mut bodies: Vec<Value> = vec![valid_body()];
        let variants: Vec<(&str, Value)> = vec![
            ("to", json!(5511999999999u64)),
            ("to", json!("not a phone")),
            ("to", json!("120363025246125486@g.us")),
            ("to", Value::Null),
            ("message", json!("")),
            ("message", json!("   ")),
            ("message", json!("x".repeat(1025))),
            ("message", json!("é".repeat(1024))),
            ("message", json!(["text"])),
            ("footer", json!("")),
            ("footer", Value::Null),
            ("footer", json!("f".repeat(61))),
            ("footer", json!(7)),
            ("buttons", json!([])),
            ("buttons", json!("a")),
            (
                "buttons",
                json!([{"id": "a", "display_text": "A"}, {"id": "a", "display_text": "B"}]),
            ),
            ("buttons", json!([{"id": "", "display_text": "A"}])),
            (
                "buttons",
                json!([{"id": "a", "display_text": "x".repeat(21)}]),
            ),
            (
                "buttons",
                json!([{"id": "a", "display_text": "😀".repeat(20)}]),
            ),
            ("buttons", json!([{"id": "a"}])),
            ("buttons", json!([{"id": 1, "display_text": "A"}])),
            ("buttons", json!([1, 2])),
            (
                "buttons",
                json!([
                    {"id": "a", "display_text": "A"}, {"id": "b", "display_text": "B"},
                    {"id": "c", "display_text": "C"}, {"id": "d", "display_text": "D"}
                ]),
            ),
            (
                "buttons",
                json!([{"id": "a", "display_text": "A", "extra": true}]),
            ),
            ("device_id", json!("some-device")),
        ];
        for (field, value) in variants {
            let mut body = valid_body();
            body[field] = value;
            bodies.push(body);
        }
        let mut bodies: Vec<Vec<u8>> = bodies
            .iter()
            .map(|body| serde_json::to_vec(body).expect("serialises"))
            .collect();
        bodies.extend(
            [
                &b""[..],
                b"[]",
                b"{",
                b"null",
                br#"{"to":"5511999999999","to":"5511888888888","message":"m","buttons":[{"id":"a","display_text":"A"}]}"#,
                br#"{"to":"5511999999999","message":"m\u00e9\n","buttons":[{"id":"a\\b","display_text":"A"}]}"#,
            ]
            .map(<[u8]>::to_vec),
        );
        bodies
    }

    #[test]
    fn the_quick_path_agrees_with_the_full_parse() {
        for body in corpus() {
            let full = ButtonsRequest::parse_reporting(&request(&body));
            if let Some(quick) = fast::parse_valid(&body) {
                assert_eq!(
                    Ok(quick),
                    full.clone().map_err(|error| error.message),
                    "{}",
                    String::from_utf8_lossy(&body)
                );
            }
            assert_eq!(
                ButtonsRequest::parse(&request(&body)).map_err(|error| error.message),
                full.map_err(|error| error.message),
                "{}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    #[test]
    fn a_well_formed_request_takes_the_quick_path() {
        let body = serde_json::to_vec(&valid_body()).expect("serialises");
        let quick = fast::parse_valid(&body).expect("the quick path accepts it");
        assert_eq!(quick.to, "5511999999999@s.whatsapp.net");
        assert_eq!(quick.footer.as_deref(), Some("Store"));
        assert_eq!(quick.buttons[1].display_text, "No \"really\"");
    }
}
