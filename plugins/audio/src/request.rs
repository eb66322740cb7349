//! The `/send/audio` request: its fields, their validation, and the audio source.

use base64::Engine as _;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value, json};
use wuts_plugin_api::fields::{self, body_object, check_length};
use wuts_plugin_api::{Kind, PluginError, Request, Schema, ValidationError, normalize_recipient};

/// Most JIDs one message may mention.
pub const MAX_MENTIONS: usize = 256;
/// Longest `delay`, in milliseconds.
pub const MAX_DELAY_MS: u64 = 60_000;
/// The longest message id a quote may name, and the longest quoted body, in characters.
const MAX_QUOTED_ID_CHARS: usize = 128;
const MAX_QUOTED_BODY_CHARS: usize = 4096;

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioRequest {
    /// The chat JID.
    pub to: String,
    pub source: Source,
    pub ptt: bool,
    pub view_once: bool,
    /// Normalised JIDs, in the order given, without repeats.
    pub mentioned: Vec<String>,
    pub quoted: Option<Quote>,
    pub delay_ms: u64,
}

/// Where the audio comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `audio`: base64 (and the data URI prefix, if any), decoded; never empty.
    Base64 {
        bytes: Vec<u8>,
        /// The data URI's media type, when one was given.
        declared_type: Option<String>,
    },
    /// `audio_url`, fetched by the host.
    Url(String),
}

/// The message being replied to.
#[derive(Debug, Clone, PartialEq)]
pub struct Quote {
    pub message_id: String,
    /// Its sender, as a JID.
    pub participant: String,
    /// Its text, quoted when the host does not know the message.
    pub body: String,
}

/// Base64 as clients send it: standard alphabet, padding optional.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);
/// The same with the URL-safe alphabet (`-` and `_`), which some clients use.
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

impl AudioRequest {
    pub fn parse(request: &Request<'_>) -> Result<AudioRequest, PluginError> {
        let fields = body_object(request)?;
        let to = fields::recipient(&fields, "number")?;
        let source = source(&fields)?;
        let ptt = fields::optional_bool(&fields, "ptt")?.unwrap_or(false);
        let view_once = fields::optional_bool(&fields, "viewOnce")?.unwrap_or(false);
        let mentioned = mentioned(&fields)?;
        let quoted = quoted(&fields)?;
        let delay_ms = fields::optional_u64(&fields, "delay", 0..=MAX_DELAY_MS)?.unwrap_or(0);
        // The host picks the device from `device_id`; it is only type-checked here.
        fields::optional_string(&fields, "device_id")?;
        Ok(AudioRequest {
            to,
            source,
            ptt,
            view_once,
            mentioned,
            quoted,
            delay_ms,
        })
    }
}

impl Source {
    /// How many bytes a base64 source decoded to (None for a URL).
    pub fn decoded_len(&self) -> Option<u64> {
        match self {
            Source::Base64 { bytes, .. } => Some(bytes.len() as u64),
            Source::Url(_) => None,
        }
    }
}

/// `audio` or `audio_url`: exactly one. A field that is present counts as given, even
/// empty; `null` counts as absent, as for every other field.
fn source(fields: &Map<String, Value>) -> Result<Source, PluginError> {
    let audio = fields::optional_string(fields, "audio")?;
    let audio_url = fields::optional_string(fields, "audio_url")?;
    match (audio, audio_url) {
        (Some(_), Some(_)) => Err(one_source_error("both were given")),
        (None, None) => Err(one_source_error("neither was given")),
        (Some(audio), None) => base64_source(audio),
        (None, Some(url)) => {
            let url = url.trim();
            if url.is_empty() {
                return Err(PluginError::invalid_field(
                    "audio_url",
                    "must not be empty: an http or https URL",
                    json!(url),
                ));
            }
            Ok(Source::Url(url.to_string()))
        }
    }
}

fn one_source_error(what: &str) -> PluginError {
    let message = format!("exactly one of audio (base64) and audio_url is required; {what}");
    let entry = |field: &str| ValidationError {
        field: field.to_string(),
        message: message.clone(),
        value: Value::Null,
    };
    PluginError {
        status: 400,
        code: "VALIDATION_ERROR".into(),
        message: format!("audio, audio_url: {message}"),
        validation: vec![entry("audio"), entry("audio_url")],
    }
}

/// Checks `audio`'s text: an optional `data:<type>;base64,` prefix, then base64.
/// Decoding is what checks base64, so it happens here, before any 202.
fn base64_source(audio: &str) -> Result<Source, PluginError> {
    let (declared_type, payload) = match strip_data_uri(audio)? {
        Some((media_type, payload)) => (Some(media_type), payload),
        None => (None, audio),
    };
    // Line-wrapped base64 (MIME style) is accepted; most clients send none, and then the
    // payload is decoded where it is rather than copied (it can be 100 MB).
    let encoded: std::borrow::Cow<'_, [u8]> =
        if payload.bytes().any(|byte| byte.is_ascii_whitespace()) {
            payload
                .bytes()
                .filter(|byte| !byte.is_ascii_whitespace())
                .collect::<Vec<u8>>()
                .into()
        } else {
            payload.as_bytes().into()
        };
    if encoded.iter().all(|&byte| byte == b'=') {
        return Err(PluginError::bad_request(
            "AUDIO_EMPTY",
            "audio: the audio is empty",
        ));
    }
    Ok(Source::Base64 {
        bytes: decode_base64(&encoded)?,
        declared_type,
    })
}

fn decode_base64(encoded: &[u8]) -> Result<Vec<u8>, PluginError> {
    let engine = if encoded.iter().any(|&byte| byte == b'-' || byte == b'_') {
        &BASE64_URL
    } else {
        &BASE64
    };
    let bytes = engine.decode(encoded).map_err(|error| {
        // The value itself is not echoed: it is the caller's audio.
        PluginError::invalid_field(
            "audio",
            format!("is not valid base64 ({error})"),
            Value::Null,
        )
    })?;
    if bytes.is_empty() {
        return Err(PluginError::bad_request(
            "AUDIO_EMPTY",
            "audio: the audio is empty",
        ));
    }
    Ok(bytes)
}

/// Splits a `data:` URI into its media type and payload; None when `audio` has no
/// `data:` prefix. Audio and video types are accepted (a video's audio track is sent),
/// as are `application/ogg`, `application/octet-stream` and no type at all (the
/// transcoder then judges the bytes); anything else (text, images) is refused.
fn strip_data_uri(audio: &str) -> Result<Option<(String, &str)>, PluginError> {
    let trimmed = audio.trim_start();
    let Some(prefix) = trimmed.get(..5) else {
        return Ok(None);
    };
    if !prefix.eq_ignore_ascii_case("data:") {
        return Ok(None);
    }
    let rest = &trimmed[5..];
    let Some((header, payload)) = rest.split_once(',') else {
        return Err(PluginError::invalid_field(
            "audio",
            "a data URI needs a comma before its payload: data:audio/<type>;base64,<data>",
            Value::Null,
        ));
    };
    let mut parts = header.split(';').map(str::trim);
    let media_type = parts.next().unwrap_or_default().to_ascii_lowercase();
    if !parts.any(|part| part.eq_ignore_ascii_case("base64")) {
        return Err(PluginError::invalid_field(
            "audio",
            "a data URI must be base64-encoded: data:audio/<type>;base64,<data>",
            json!(header),
        ));
    }
    let accepted = media_type.is_empty()
        || media_type.starts_with("audio/")
        || media_type.starts_with("video/")
        || media_type == "application/ogg"
        || media_type == "application/octet-stream";
    if !accepted {
        return Err(PluginError::bad_request(
            "AUDIO_UNSUPPORTED",
            format!(
                "audio: the data URI's type {media_type:?} is not audio (audio/* or video/* is accepted)"
            ),
        ));
    }
    Ok(Some((media_type, payload)))
}

fn mentioned(fields: &Map<String, Value>) -> Result<Vec<String>, PluginError> {
    let items = match fields::present(fields, "mentioned") {
        None => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(PluginError::invalid_field(
                "mentioned",
                format!(
                    "must be an array of JIDs or phone numbers, not {}",
                    fields::kind(other)
                ),
                other.clone(),
            ));
        }
    };
    if items.len() > MAX_MENTIONS {
        return Err(PluginError::invalid_field(
            "mentioned",
            format!("{} given, at most {MAX_MENTIONS} allowed", items.len()),
            json!(items.len()),
        ));
    }
    let mut jids: Vec<String> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let field = format!("mentioned[{index}]");
        let Value::String(text) = item else {
            return Err(PluginError::invalid_field(
                field,
                format!("must be a string, not {}", fields::kind(item)),
                item.clone(),
            ));
        };
        let jid = normalize_recipient(text)
            .map_err(|reason| PluginError::invalid_field(field, reason, item.clone()))?;
        if !jids.contains(&jid) {
            jids.push(jid);
        }
    }
    Ok(jids)
}

fn quoted(fields: &Map<String, Value>) -> Result<Option<Quote>, PluginError> {
    let Some(quoted) = fields::optional_object(fields, "quoted")? else {
        return Ok(None);
    };
    let message_id = fields::required_string(quoted, "message_id").map_err(nested)?;
    if message_id.is_empty()
        || message_id.len() > MAX_QUOTED_ID_CHARS
        || !message_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(PluginError::invalid_field(
            "quoted.message_id",
            "must be 1 to 128 letters and digits (a WhatsApp message id such as 3EB0...)",
            json!(message_id),
        ));
    }
    let participant = fields::required_string(quoted, "participant").map_err(nested)?;
    let participant = normalize_recipient(participant).map_err(|reason| {
        PluginError::invalid_field("quoted.participant", reason, json!(participant))
    })?;
    let body = fields::optional_string(quoted, "body")
        .map_err(nested)?
        .unwrap_or_default();
    check_length("quoted.body", body, 0..=MAX_QUOTED_BODY_CHARS)?;
    Ok(Some(Quote {
        message_id: message_id.to_string(),
        participant,
        body: body.to_string(),
    }))
}

/// Names a field of `quoted` by its full path.
fn nested(mut error: PluginError) -> PluginError {
    error.message = format!("quoted.{}", error.message);
    for field in &mut error.validation {
        field.field = format!("quoted.{}", field.field);
    }
    error
}

/// The route's JSON Schema.
/// The request's published shape. The parse above keeps its own checks (its texts and
/// codes, e.g. `AUDIO_EMPTY` for `"audio": ""`), with the same limits.
pub fn schema() -> Schema {
    let quoted = Schema::object()
        .required("message_id", Kind::text(1..=MAX_QUOTED_ID_CHARS))
        .required("participant", Kind::recipient())
        .optional("body", Kind::text(0..=MAX_QUOTED_BODY_CHARS));
    Schema::object()
        .required("number", Kind::recipient())
        .media_source("audio", "audio_url")
        .optional("ptt", Kind::boolean())
        .describe("send as a voice note")
        .optional("viewOnce", Kind::boolean())
        .optional(
            "mentioned",
            Kind::array(Kind::recipient(), 0..=MAX_MENTIONS),
        )
        .optional("quoted", Kind::object(quoted))
        .optional("delay", Kind::integer(0..=MAX_DELAY_MS as i64))
        .describe("milliseconds to wait before sending")
        .device_id()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<AudioRequest, PluginError> {
        let bytes = serde_json::to_vec(&body).unwrap();
        let request = Request {
            route: "/send/audio",
            body: &bytes,
            context: RequestContext::default(),
        };
        AudioRequest::parse(&request)
    }

    /// "ID3" followed by a little: valid base64 of a few bytes.
    const SOME_AUDIO: &str = "SUQzBAAAAAAA";

    fn code(body: Value) -> (String, String) {
        let error = parse(body).unwrap_err();
        assert_eq!(error.status, 400, "{error:?}");
        (error.code, error.message)
    }

    #[test]
    fn a_minimal_request_takes_the_defaults() {
        let request = parse(json!({"number": "+55 11 99999-9999", "audio": SOME_AUDIO})).unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert!(!request.ptt && !request.view_once);
        assert!(request.mentioned.is_empty() && request.quoted.is_none());
        assert_eq!(request.delay_ms, 0);
        assert_eq!(
            request.source,
            Source::Base64 {
                bytes: b"ID3\x04\0\0\0\0\0".to_vec(),
                declared_type: None
            }
        );
        assert_eq!(request.source.decoded_len(), Some(9));
    }

    #[test]
    fn exactly_one_source_is_required_and_both_fields_are_named() {
        for body in [
            json!({"number": "5511999999999", "audio": SOME_AUDIO, "audio_url": "https://x.test/a.mp3"}),
            json!({"number": "5511999999999"}),
            json!({"number": "5511999999999", "audio": null, "audio_url": null}),
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(error.code, "VALIDATION_ERROR");
            let named: Vec<&str> = error.validation.iter().map(|v| v.field.as_str()).collect();
            assert_eq!(named, ["audio", "audio_url"]);
            assert!(error.message.contains("audio") && error.message.contains("audio_url"));
        }
        // Present but empty counts as given.
        let (code, _) =
            code(json!({"number": "5511999999999", "audio": "", "audio_url": "https://x.test/a"}));
        assert_eq!(code, "VALIDATION_ERROR");
    }

    #[test]
    fn empty_audio_is_audio_empty() {
        for audio in ["", "   ", "data:audio/mpeg;base64,", "===="] {
            let (code, message) = code(json!({"number": "5511999999999", "audio": audio}));
            assert_eq!(code, "AUDIO_EMPTY", "{audio:?}: {message}");
        }
    }

    #[test]
    fn invalid_base64_is_a_validation_error_that_does_not_echo_the_audio() {
        let error = parse(json!({"number": "5511999999999", "audio": "not*base64!"})).unwrap_err();
        assert_eq!(error.code, "VALIDATION_ERROR");
        assert_eq!(error.validation[0].field, "audio");
        assert_eq!(error.validation[0].value, Value::Null);
        assert!(!error.message.contains("not*base64"), "{}", error.message);
    }

    #[test]
    fn data_uris_of_audio_and_video_are_accepted_others_refused() {
        for prefix in [
            "data:audio/mpeg;base64,",
            "DATA:Audio/OGG; codecs=opus;base64,",
            "data:video/mp4;base64,",
            "data:application/octet-stream;base64,",
        ] {
            let request =
                parse(json!({"number": "5511999999999", "audio": format!("{prefix}{SOME_AUDIO}")}))
                    .unwrap_or_else(|e| panic!("{prefix}: {e}"));
            assert!(matches!(
                request.source,
                Source::Base64 {
                    declared_type: Some(_),
                    ..
                }
            ));
        }
        for prefix in ["data:text/plain;base64,", "data:image/png;base64,"] {
            let (code, _) =
                code(json!({"number": "5511999999999", "audio": format!("{prefix}{SOME_AUDIO}")}));
            assert_eq!(code, "AUDIO_UNSUPPORTED", "{prefix}");
        }
        let (code, _) = code(json!({"number": "5511999999999", "audio": "data:audio/mpeg,abc"}));
        assert_eq!(code, "VALIDATION_ERROR");
    }

    #[test]
    fn base64_with_line_breaks_or_url_alphabet_or_no_padding_decodes() {
        for audio in ["SUQz\nBAAA\r\nAAAA", "SUQzBAAAAAA", "-_-_"] {
            let request = parse(json!({"number": "5511999999999", "audio": audio})).unwrap();
            assert!(request.source.decoded_len().is_some_and(|len| len > 0));
        }
    }

    #[test]
    fn url_sources_are_kept_for_the_host_to_fetch() {
        let request =
            parse(json!({"number": "5511999999999", "audio_url": " https://x.test/a.mp3 "}))
                .unwrap();
        assert_eq!(request.source, Source::Url("https://x.test/a.mp3".into()));
        assert_eq!(request.source.decoded_len(), None);
        let error = parse(json!({"number": "5511999999999", "audio_url": ""})).unwrap_err();
        assert_eq!(error.validation[0].field, "audio_url");
    }

    #[test]
    fn mentions_are_normalised_deduplicated_and_capped() {
        let request = parse(json!({
            "number": "120363000000000000@g.us",
            "audio": SOME_AUDIO,
            "mentioned": ["+55 11 98888-7777", "5511988887777@s.whatsapp.net", "123@lid"]
        }))
        .unwrap();
        assert_eq!(
            request.mentioned,
            ["5511988887777@s.whatsapp.net", "123@lid"]
        );

        let error = parse(json!({"number": "5511999999999", "audio": SOME_AUDIO, "mentioned": ["5511988887777", "x"]}))
            .unwrap_err();
        assert_eq!(error.validation[0].field, "mentioned[1]");
        let error =
            parse(json!({"number": "5511999999999", "audio": SOME_AUDIO, "mentioned": [5]}))
                .unwrap_err();
        assert_eq!(error.validation[0].field, "mentioned[0]");
        let error = parse(
            json!({"number": "5511999999999", "audio": SOME_AUDIO, "mentioned": "5511988887777"}),
        )
        .unwrap_err();
        assert_eq!(error.validation[0].field, "mentioned");
        let many: Vec<String> = (0..=MAX_MENTIONS).map(|i| format!("55119{i:08}")).collect();
        let error =
            parse(json!({"number": "5511999999999", "audio": SOME_AUDIO, "mentioned": many}))
                .unwrap_err();
        assert!(error.message.contains("at most 256"), "{}", error.message);
    }

    #[test]
    fn quoted_needs_an_id_and_a_participant() {
        let request = parse(json!({
            "number": "5511999999999",
            "audio": SOME_AUDIO,
            "quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA", "participant": "5511988887777", "body": "hi"}
        }))
        .unwrap();
        assert_eq!(
            request.quoted,
            Some(Quote {
                message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
                participant: "5511988887777@s.whatsapp.net".into(),
                body: "hi".into(),
            })
        );
        for (quoted, field) in [
            (json!({"participant": "5511988887777"}), "quoted.message_id"),
            (
                json!({"message_id": "a b", "participant": "5511988887777"}),
                "quoted.message_id",
            ),
            (json!({"message_id": "3EB0AA"}), "quoted.participant"),
            (
                json!({"message_id": "3EB0AA", "participant": "nope"}),
                "quoted.participant",
            ),
            (
                json!({"message_id": "3EB0AA", "participant": "5511988887777", "body": 5}),
                "quoted.body",
            ),
        ] {
            let error =
                parse(json!({"number": "5511999999999", "audio": SOME_AUDIO, "quoted": quoted}))
                    .unwrap_err();
            assert_eq!(error.validation[0].field, field, "{error:?}");
        }
    }

    #[test]
    fn delay_flags_and_number_are_checked() {
        let request = parse(json!({"number": "5511999999999", "audio": SOME_AUDIO, "delay": 60000, "ptt": true, "viewOnce": true, "device_id": "d"}))
            .unwrap();
        assert_eq!(request.delay_ms, 60_000);
        assert!(request.ptt && request.view_once);
        for (body, field) in [
            (
                json!({"number": "5511999999999", "audio": SOME_AUDIO, "delay": 60001}),
                "delay",
            ),
            (
                json!({"number": "5511999999999", "audio": SOME_AUDIO, "delay": -1}),
                "delay",
            ),
            (
                json!({"number": "5511999999999", "audio": SOME_AUDIO, "delay": 1.5}),
                "delay",
            ),
            (
                json!({"number": "5511999999999", "audio": SOME_AUDIO, "ptt": "yes"}),
                "ptt",
            ),
            (
                json!({"number": "5511999999999", "audio": SOME_AUDIO, "viewOnce": 1}),
                "viewOnce",
            ),
            (json!({"number": "12", "audio": SOME_AUDIO}), "number"),
            (json!({"audio": SOME_AUDIO}), "number"),
            (json!({"number": "5511999999999", "audio": 5}), "audio"),
        ] {
            let error = parse(body).unwrap_err();
            assert_eq!(error.code, "VALIDATION_ERROR");
            assert_eq!(error.validation[0].field, field, "{error:?}");
        }
    }
}
