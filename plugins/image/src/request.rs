//! The `/send/image` request and its validation (field checks only: the picture itself is
//! judged in [`crate::picture`]).

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{
    Kind, MediaSource, Mentioned, PluginError, Quoted, Recipient, Request, Schema,
};

/// Characters a caption may have (the WUTS docs §1.2: `caption` max 1024).
pub const CAPTION_CHARS: RangeInclusive<usize> = 0..=1024;

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
pub fn schema() -> Schema {
    Schema::object()
        .required("number", Kind::recipient())
        .media_source("image", "image_url")
        .optional("caption", Kind::text(CAPTION_CHARS))
        .describe("shown under the picture, WhatsApp markdown as given")
        .optional("viewOnce", Kind::boolean())
        .describe("the recipient can open the picture once")
        .optional("mentioned", Kind::Mentioned)
        .optional("quoted", Kind::Quoted)
        .optional("delay", Kind::delay_ms())
        .describe("milliseconds to wait before sending")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageRequest {
    /// The chat JID.
    pub to: String,
    /// `image` (base64, raw or a `data:` URI) or `image_url`, exactly one.
    pub source: MediaSource,
    /// None when absent or empty.
    pub caption: Option<String>,
    pub view_once: bool,
    /// Normalised JIDs, in the order given, without repeats.
    pub mentioned: Vec<String>,
    pub quoted: Option<Quoted>,
    pub delay_ms: u64,
}

impl ImageRequest {
    /// Checks the body against [`schema`] (a 400 `VALIDATION_ERROR` naming the first bad
    /// field, "both" and "neither" source included), then reads it.
    pub fn parse(request: &Request<'_>) -> Result<ImageRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            image: Option<String>,
            image_url: Option<String>,
            caption: Option<String>,
            #[serde(rename = "viewOnce")]
            view_once: Option<bool>,
            #[serde(default)]
            mentioned: Mentioned,
            quoted: Option<Quoted>,
            delay: Option<u64>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        let image_url = body.image_url.map(|url| url.trim().to_string());
        Ok(ImageRequest {
            to: body.number.0,
            source: MediaSource::pick("image", body.image, "image_url", image_url)?,
            caption: body.caption.filter(|caption| !caption.is_empty()),
            view_once: body.view_once.unwrap_or(false),
            mentioned: body.mentioned.0,
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

    fn parse(body: Value) -> Result<ImageRequest, PluginError> {
        let bytes = body.to_string().into_bytes();
        ImageRequest::parse(&Request {
            route: "/send/image",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = json!({"number": "5511999999999", "image": "aGk="});
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
            "number": "5511999999999",
            "image_url": "https://cdn.example.com/promo/banner.png",
            "caption": "*Black Friday* is here! 50% off everything.",
            "delay": 2, "viewOnce": false,
            "mentioned": ["5511988888888@s.whatsapp.net", "+55 11 98888-8888"],
            "quoted": {"message_id": "3EB0AB", "participant": "5511977777777", "body": "hi"},
            "device_id": "dev-1"
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert_eq!(
            request.source,
            MediaSource::Url {
                field: "image_url".into(),
                url: "https://cdn.example.com/promo/banner.png".into()
            }
        );
        assert_eq!(
            request.caption.as_deref(),
            Some("*Black Friday* is here! 50% off everything.")
        );
        assert_eq!(request.mentioned, ["5511988888888@s.whatsapp.net"]);
        assert_eq!(request.quoted.unwrap().message_id, "3EB0AB");
        assert_eq!((request.delay_ms, request.view_once), (2, false));
    }

    #[test]
    fn inline_base64_and_defaults() {
        let request =
            parse(json!({"number": "5511999999999", "image": "data:image/png;base64,aGk="}))
                .unwrap();
        assert!(matches!(request.source, MediaSource::Inline { .. }));
        assert_eq!(request.caption, None);
        assert!(!request.view_once && request.mentioned.is_empty() && request.quoted.is_none());
        // An empty `image` counts as given: it is an empty picture (IMAGE_EMPTY), later.
        assert!(parse(with("image", json!(""))).is_ok());
        assert!(parse(with("caption", json!("é".repeat(1024)))).is_ok());
    }

    #[test]
    fn exactly_one_source() {
        assert_eq!(
            field(with("image_url", json!("https://example.com/a.png"))),
            "image"
        );
        assert_eq!(field(json!({"number": "5511999999999"})), "image");
        assert_eq!(
            field(json!({"number": "5511999999999", "image": null, "image_url": "ftp://x"})),
            "image_url"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(field(json!({"image": "aGk="})), "number");
        assert_eq!(field(with("number", json!("12"))), "number");
        assert_eq!(field(with("image", json!(5))), "image");
        assert_eq!(field(with("caption", json!("x".repeat(1025)))), "caption");
        assert_eq!(field(with("caption", json!(["x"]))), "caption");
        assert_eq!(field(with("viewOnce", json!("yes"))), "viewOnce");
        assert_eq!(field(with("mentioned", json!(["abc"]))), "mentioned[0]");
        assert_eq!(
            field(with("mentioned", json!("5511988888888"))),
            "mentioned"
        );
        assert_eq!(field(with("quoted", json!({}))), "quoted.message_id");
        assert_eq!(field(with("delay", json!(60_001))), "delay");
        assert_eq!(field(with("delay", json!("2"))), "delay");
        assert_eq!(field(with("device_id", json!(7))), "device_id");
    }
}
