//! The `/send/video` request and its validation (field checks only: the video itself is
//! judged in [`crate::media`]).

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use wuts_plugin_api::{
    Kind, MediaSource, Mentioned, PluginError, Quoted, Recipient, Request, Schema,
};

/// Characters a caption may have (the WUTS docs: `caption` max 1024, as for images).
pub const CAPTION_CHARS: RangeInclusive<usize> = 0..=1024;
/// The caller's `seconds`: used only when the container states no duration.
pub const SECONDS: RangeInclusive<i64> = 0..=24 * 3600;
/// The custom thumbnail's base64: a small picture, at most about 1 MiB decoded.
pub const THUMBNAIL_CHARS: RangeInclusive<usize> = 0..=1_400_000;

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
pub fn schema() -> Schema {
    Schema::object()
        .required("number", Kind::recipient())
        .media_source("video", "video_url")
        .optional("caption", Kind::text(CAPTION_CHARS))
        .describe("shown under the video, WhatsApp markdown as given")
        .optional("seconds", Kind::integer(SECONDS))
        .describe("the length, used only when the file does not state its own")
        .optional("viewOnce", Kind::boolean())
        .describe("the recipient can open the video once")
        .optional("generateThumbnail", Kind::boolean())
        .describe("make the preview from the first frame (default true)")
        .optional("thumbnail", Kind::text(THUMBNAIL_CHARS))
        .describe("a JPEG or PNG preview (base64), instead of the first frame")
        .optional("convertToMP4", Kind::boolean())
        .describe("re-encode to H.264/AAC MP4 even when the file would play as it is")
        .optional("gifPlayback", Kind::boolean())
        .describe("play muted and looping, as a GIF")
        .optional("mentioned", Kind::Mentioned)
        .optional("quoted", Kind::Quoted)
        .optional("delay", Kind::delay_ms())
        .describe("milliseconds to wait before sending")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRequest {
    /// The chat JID.
    pub to: String,
    /// `video` (base64, raw or a `data:` URI) or `video_url`, exactly one.
    pub source: MediaSource,
    /// None when absent or empty.
    pub caption: Option<String>,
    pub seconds: Option<u32>,
    pub view_once: bool,
    pub generate_thumbnail: bool,
    /// The custom thumbnail's base64 (raw or a `data:` URI); None when absent or empty.
    pub thumbnail: Option<String>,
    pub convert_to_mp4: bool,
    pub gif_playback: bool,
    /// Normalised JIDs, in the order given, without repeats.
    pub mentioned: Vec<String>,
    pub quoted: Option<Quoted>,
    pub delay_ms: u64,
}

impl VideoRequest {
    /// Checks the body against [`schema`] (a 400 `VALIDATION_ERROR` naming the first bad
    /// field, "both" and "neither" source included), then reads it.
    pub fn parse(request: &Request<'_>) -> Result<VideoRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            video: Option<String>,
            video_url: Option<String>,
            caption: Option<String>,
            seconds: Option<u32>,
            #[serde(rename = "viewOnce")]
            view_once: Option<bool>,
            #[serde(rename = "generateThumbnail")]
            generate_thumbnail: Option<bool>,
            thumbnail: Option<String>,
            #[serde(rename = "convertToMP4")]
            convert_to_mp4: Option<bool>,
            #[serde(rename = "gifPlayback")]
            gif_playback: Option<bool>,
            #[serde(default)]
            mentioned: Mentioned,
            quoted: Option<Quoted>,
            delay: Option<u64>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        let video_url = body.video_url.map(|url| url.trim().to_string());
        Ok(VideoRequest {
            to: body.number.0,
            source: MediaSource::pick("video", body.video, "video_url", video_url)?,
            caption: body.caption.filter(|caption| !caption.is_empty()),
            seconds: body.seconds,
            view_once: body.view_once.unwrap_or(false),
            generate_thumbnail: body.generate_thumbnail.unwrap_or(true),
            thumbnail: body
                .thumbnail
                .filter(|thumbnail| !thumbnail.trim().is_empty()),
            convert_to_mp4: body.convert_to_mp4.unwrap_or(false),
            gif_playback: body.gif_playback.unwrap_or(false),
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

    fn parse(body: Value) -> Result<VideoRequest, PluginError> {
        let bytes = body.to_string().into_bytes();
        VideoRequest::parse(&Request {
            route: "/send/video",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = json!({"number": "5511999999999", "video": "aGk="});
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
            "video_url": "https://cdn.example.com/clips/demo.mp4",
            "caption": "Check out our new product demo!",
            "seconds": 38, "viewOnce": false, "generateThumbnail": true, "convertToMP4": false
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert_eq!(
            request.source,
            MediaSource::Url {
                field: "video_url".into(),
                url: "https://cdn.example.com/clips/demo.mp4".into()
            }
        );
        assert_eq!(
            request.caption.as_deref(),
            Some("Check out our new product demo!")
        );
        assert_eq!(request.seconds, Some(38));
        assert!(request.generate_thumbnail && !request.convert_to_mp4 && !request.view_once);
    }

    #[test]
    fn defaults_and_the_extra_fields() {
        let request = parse(json!({"number": "5511999999999", "video": "aGk="})).unwrap();
        assert!(request.generate_thumbnail);
        assert!(!request.gif_playback && request.thumbnail.is_none() && request.seconds.is_none());
        let request = parse(with("gifPlayback", json!(true))).unwrap();
        assert!(request.gif_playback);
        let request = parse(with("thumbnail", json!("aGk="))).unwrap();
        assert_eq!(request.thumbnail.as_deref(), Some("aGk="));
        assert!(parse(with("video", json!(""))).is_ok());
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(
            field(with("video_url", json!("https://example.com/a.mp4"))),
            "video"
        );
        assert_eq!(field(json!({"number": "5511999999999"})), "video");
        assert_eq!(field(json!({"video": "aGk="})), "number");
        assert_eq!(field(with("caption", json!("x".repeat(1025)))), "caption");
        assert_eq!(field(with("seconds", json!(-1))), "seconds");
        assert_eq!(field(with("seconds", json!("38"))), "seconds");
        assert_eq!(field(with("viewOnce", json!("yes"))), "viewOnce");
        assert_eq!(
            field(with("generateThumbnail", json!(1))),
            "generateThumbnail"
        );
        assert_eq!(field(with("convertToMP4", json!("no"))), "convertToMP4");
        assert_eq!(field(with("gifPlayback", json!(0))), "gifPlayback");
        assert_eq!(field(with("thumbnail", json!(5))), "thumbnail");
        assert_eq!(field(with("mentioned", json!(["abc"]))), "mentioned[0]");
        assert_eq!(field(with("quoted", json!({}))), "quoted.message_id");
        assert_eq!(field(with("delay", json!(60_001))), "delay");
    }
}
