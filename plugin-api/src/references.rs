//! Typed readers for the fields many routes share: a recipient, a quoted message, mentions
//! and a media source. Each checks what [`crate::schema::Kind`] declares and reads it into a
//! plain value; use them as the field types of a request struct:
//!
//! ```
//! use wuts_plugin_api::{Mentioned, Quoted, Recipient};
//!
//! #[derive(serde::Deserialize)]
//! struct TextRequest {
//!     number: Recipient,
//!     text: String,
//!     quoted: Option<Quoted>,
//!     #[serde(default)]
//!     mentioned: Mentioned,
//! }
//! ```

use base64::Engine as _;
use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value, json};

use crate::error::PluginError;
use crate::fields::kind as json_kind;
use crate::host::{FetchedUrl, Host};
use crate::recipient::normalize_recipient;

/// A recipient, normalised to a JID (`5511999999999@s.whatsapp.net`, a group's `@g.us`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient(pub String);

impl<'de> Deserialize<'de> for Recipient {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        normalize_recipient(&text)
            .map(Recipient)
            .map_err(serde::de::Error::custom)
    }
}

/// The message a reply quotes, from either shape WUTS accepts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Quoted {
    pub message_id: String,
    /// Who wrote the quoted message (a JID), when given.
    pub participant: Option<String>,
    /// Its text, when given (`body`, or `message.conversation`).
    pub body: Option<String>,
    /// Whether the quoted message is this device's own (`key.fromMe`), when given.
    pub from_me: Option<bool>,
}

/// The longest message id accepted in a reference (WhatsApp's are 16 to 32 characters).
const MAX_MESSAGE_ID_CHARS: usize = 128;

impl Quoted {
    /// Reads a quoted reference, naming what is wrong under `path`.
    pub fn read(value: &Value, path: &str) -> Result<Quoted, PluginError> {
        let invalid = |field: &str, message: &str, value: &Value| {
            PluginError::invalid_field(format!("{path}.{field}"), message, value.clone())
        };
        let Value::Object(object) = value else {
            return Err(PluginError::invalid_field(
                path,
                format!(
                    "must be an object with message_id (or key.id), not {}",
                    json_kind(value)
                ),
                value.clone(),
            ));
        };
        let text = |object: &Map<String, Value>, field: &str, label: &str| match object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(other) => Err(invalid(
                label,
                &format!("must be a string, not {}", json_kind(other)),
                other,
            )),
        };
        let (message_id, participant, body, from_me, id_label) = match object.get("key") {
            Some(Value::Object(key)) => {
                let from_me = match key.get("fromMe") {
                    None | Some(Value::Null) => None,
                    Some(Value::Bool(flag)) => Some(*flag),
                    Some(other) => {
                        return Err(invalid("key.fromMe", "must be true or false", other));
                    }
                };
                let body = match object.get("message") {
                    Some(Value::Object(message)) => {
                        text(message, "conversation", "message.conversation")?
                    }
                    _ => None,
                };
                (
                    text(key, "id", "key.id")?,
                    text(key, "participant", "key.participant")?,
                    body,
                    from_me,
                    "key.id",
                )
            }
            Some(other) if !other.is_null() => {
                return Err(invalid(
                    "key",
                    &format!("must be an object with id, not {}", json_kind(other)),
                    other,
                ));
            }
            _ => (
                text(object, "message_id", "message_id")?,
                text(object, "participant", "participant")?,
                text(object, "body", "body")?,
                None,
                "message_id",
            ),
        };
        let message_id = match message_id {
            Some(id) if !id.trim().is_empty() => id,
            Some(_) => return Err(invalid(id_label, "must not be empty", &json!(""))),
            None => return Err(invalid(id_label, "is required", &Value::Null)),
        };
        if message_id.chars().count() > MAX_MESSAGE_ID_CHARS {
            return Err(invalid(
                id_label,
                &format!("at most {MAX_MESSAGE_ID_CHARS} characters allowed"),
                &json!(message_id),
            ));
        }
        let participant = match participant.filter(|text| !text.trim().is_empty()) {
            None => None,
            Some(text) => Some(normalize_recipient(&text).map_err(|reason| {
                invalid(
                    if id_label == "key.id" {
                        "key.participant"
                    } else {
                        "participant"
                    },
                    &reason,
                    &json!(text),
                )
            })?),
        };
        Ok(Quoted {
            message_id,
            participant,
            body,
            from_me,
        })
    }

    pub(crate) fn check(value: &Value, path: &str) -> Result<(), PluginError> {
        Quoted::read(value, path).map(drop)
    }

    pub(crate) fn json_schema() -> Value {
        json!({
            "description": "the message this one replies to",
            "oneOf": [
                {"type": "object", "required": ["message_id"], "properties": {
                    "message_id": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_ID_CHARS},
                    "participant": {"type": "string", "description": "who wrote it: a JID or phone number"},
                    "body": {"type": "string"}
                }},
                {"type": "object", "required": ["key"], "properties": {
                    "key": {"type": "object", "required": ["id"], "properties": {
                        "id": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_ID_CHARS},
                        "fromMe": {"type": "boolean"},
                        "participant": {"type": "string"}
                    }},
                    "message": {"type": "object", "properties": {"conversation": {"type": "string"}}}
                }}
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Quoted {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        Quoted::read(&value, "quoted").map_err(|error| serde::de::Error::custom(error.message))
    }
}

/// People a message mentions, each normalised to a JID.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Mentioned(pub Vec<String>);

/// The most mentions one message may carry.
pub const MAX_MENTIONS: usize = 1024;

impl Mentioned {
    /// Reads an array of JIDs or phone numbers under `path`.
    pub fn read(value: &Value, path: &str) -> Result<Mentioned, PluginError> {
        let Value::Array(items) = value else {
            return Err(PluginError::invalid_field(
                path,
                format!(
                    "must be an array of JIDs or phone numbers, not {}",
                    json_kind(value)
                ),
                value.clone(),
            ));
        };
        if items.len() > MAX_MENTIONS {
            return Err(PluginError::invalid_field(
                path,
                format!("{} given, at most {MAX_MENTIONS} allowed", items.len()),
                json!(items.len()),
            ));
        }
        let mut jids: Vec<String> = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            let field = format!("{path}[{index}]");
            let text = item.as_str().ok_or_else(|| {
                PluginError::invalid_field(
                    &field,
                    format!("must be a string, not {}", json_kind(item)),
                    item.clone(),
                )
            })?;
            let jid = normalize_recipient(text)
                .map_err(|reason| PluginError::invalid_field(&field, reason, item.clone()))?;
            if !jids.contains(&jid) {
                jids.push(jid);
            }
        }
        Ok(Mentioned(jids))
    }

    pub(crate) fn check(value: &Value, path: &str) -> Result<(), PluginError> {
        Mentioned::read(value, path).map(drop)
    }

    pub(crate) fn json_schema() -> Value {
        json!({
            "type": "array", "maxItems": MAX_MENTIONS,
            "items": {"type": "string", "description": "a JID or phone number"}
        })
    }
}

impl<'de> Deserialize<'de> for Mentioned {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(deserializer)?;
        if value.is_null() {
            return Ok(Mentioned::default());
        }
        Mentioned::read(&value, "mentioned")
            .map_err(|error| serde::de::Error::custom(error.message))
    }
}

/// Where a media file comes from: inline base64, or a URL the host downloads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaSource {
    /// Base64 text, raw or as a `data:<mimetype>;base64,` URI.
    Inline {
        field: String,
        base64: String,
    },
    Url {
        field: String,
        url: String,
    },
}

/// A media source's bytes.
#[derive(Debug, Clone)]
pub struct MediaBytes {
    pub bytes: Vec<u8>,
    /// The mimetype the source declared (a `data:` URI's, or the server's `Content-Type`).
    pub declared_mimetype: Option<String>,
    /// Time spent downloading, for a URL source.
    pub download_ms: u64,
}

impl MediaSource {
    /// The one source given (the schema's [`media_source`](crate::schema::Schema::media_source)
    /// rule makes sure there is exactly one).
    pub fn pick(
        inline_field: &str,
        inline: Option<String>,
        url_field: &str,
        url: Option<String>,
    ) -> Result<MediaSource, PluginError> {
        match (inline, url) {
            (Some(base64), None) => Ok(MediaSource::Inline {
                field: inline_field.to_string(),
                base64,
            }),
            (None, Some(url)) => Ok(MediaSource::Url {
                field: url_field.to_string(),
                url,
            }),
            (Some(_), Some(_)) => Err(PluginError::invalid_field(
                inline_field,
                format!("give either {inline_field} or {url_field}, not both"),
                Value::Null,
            )),
            (None, None) => Err(PluginError::invalid_field(
                inline_field,
                format!("{inline_field} or {url_field} is required"),
                Value::Null,
            )),
        }
    }

    /// The bytes of a media route's file: base64 decoded whole (its size is the
    /// plugin's to judge, with its own code), or a download that stops at `max_bytes`,
    /// whose size refusal is told as `too_large_code` (`IMAGE_TOO_LARGE`, ...) like an
    /// inline file's, and every download error's text led by the source field's name.
    pub fn load_media(
        &self,
        host: &Host<'_>,
        max_bytes: u64,
        too_large_code: &str,
    ) -> Result<MediaBytes, PluginError> {
        match self {
            MediaSource::Inline { .. } => self.load(host, u64::MAX),
            MediaSource::Url { field, .. } => self.load(host, max_bytes).map_err(|mut error| {
                if error.code == "URL_TOO_LARGE" {
                    error.code = too_large_code.into();
                }
                if !error.message.starts_with(field.as_str()) {
                    error.message = format!("{field}: {}", error.message);
                }
                error
            }),
        }
    }

    /// The bytes: decoded from base64, or fetched through the host (under its network
    /// policy; `max_bytes` caps the download). Blocks on a fetch: not for quick routes.
    pub fn load(&self, host: &Host<'_>, max_bytes: u64) -> Result<MediaBytes, PluginError> {
        match self {
            MediaSource::Inline { field, base64 } => {
                let (declared_mimetype, data) = split_data_uri(base64);
                let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|error| {
                        PluginError::invalid_field(
                            field.as_str(),
                            format!("is not valid base64: {error}"),
                            Value::Null,
                        )
                    })?;
                if bytes.len() as u64 > max_bytes {
                    return Err(PluginError::invalid_field(
                        field.as_str(),
                        format!("{} bytes given, at most {max_bytes} allowed", bytes.len()),
                        Value::Null,
                    ));
                }
                Ok(MediaBytes {
                    bytes,
                    declared_mimetype,
                    download_ms: 0,
                })
            }
            MediaSource::Url { url, .. } => {
                let FetchedUrl {
                    bytes,
                    content_type,
                    elapsed_ms,
                } = host.fetch(url, max_bytes)?;
                Ok(MediaBytes {
                    bytes,
                    declared_mimetype: content_type,
                    download_ms: elapsed_ms,
                })
            }
        }
    }
}

/// `data:image/png;base64,AAAA` -> (`Some("image/png")`, `AAAA`); raw base64 as it is.
fn split_data_uri(text: &str) -> (Option<String>, &str) {
    let trimmed = text.trim_start();
    let is_data_uri = trimmed
        .get(..5)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("data:"));
    if let Some((header, data)) = trimmed
        .get(5..)
        .filter(|_| is_data_uri)
        .and_then(|rest| rest.split_once(','))
    {
        let mimetype = header.split(';').next().unwrap_or("").trim();
        let mimetype = (!mimetype.is_empty()).then(|| mimetype.to_ascii_lowercase());
        return (mimetype, data);
    }
    (None, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_quoted_shapes_read_alike() {
        let flat = Quoted::read(
            &json!({"message_id": "3EB0AB", "participant": "5511999999999", "body": "hi"}),
            "quoted",
        )
        .unwrap();
        let keyed = Quoted::read(
            &json!({"key": {"id": "3EB0AB", "fromMe": false, "participant": "5511999999999@s.whatsapp.net"},
                    "message": {"conversation": "hi"}}),
            "quoted",
        )
        .unwrap();
        assert_eq!(flat.message_id, "3EB0AB");
        assert_eq!(
            flat.participant.as_deref(),
            Some("5511999999999@s.whatsapp.net")
        );
        assert_eq!(keyed.participant, flat.participant);
        assert_eq!(keyed.body.as_deref(), Some("hi"));
        assert_eq!(keyed.from_me, Some(false));
    }

    #[test]
    fn a_bad_quote_names_its_field() {
        let message = |value| Quoted::read(&value, "quoted").unwrap_err().message;
        assert_eq!(message(json!({})), "quoted.message_id: is required");
        assert_eq!(
            message(json!({"key": {"id": ""}})),
            "quoted.key.id: must not be empty"
        );
        assert_eq!(
            message(json!("3EB0")),
            "quoted: must be an object with message_id (or key.id), not a string"
        );
        assert!(
            message(json!({"message_id": "x", "participant": "abc"}))
                .starts_with("quoted.participant: ")
        );
    }

    #[test]
    fn mentions_are_normalised_and_deduplicated() {
        let mentioned = Mentioned::read(
            &json!(["+55 11 99999-9999", "5511999999999@s.whatsapp.net"]),
            "mentioned",
        )
        .unwrap();
        assert_eq!(mentioned.0, ["5511999999999@s.whatsapp.net"]);
        assert_eq!(
            Mentioned::read(&json!(["x"]), "mentioned")
                .unwrap_err()
                .validation[0]
                .field,
            "mentioned[0]"
        );
    }

    #[test]
    fn inline_media_decodes_with_or_without_a_data_uri() {
        let services = crate::sdk::tests_support::no_services();
        let host = Host::from_abi(&services);
        for text in ["aGVsbG8=", "data:text/plain;base64,aGVs\nbG8="] {
            let source = MediaSource::pick("doc", Some(text.into()), "doc_url", None).unwrap();
            let loaded = source.load(&host, 100).unwrap();
            assert_eq!(loaded.bytes, b"hello");
        }
        let source = MediaSource::pick(
            "doc",
            Some("data:text/plain;base64,aGk=".into()),
            "doc_url",
            None,
        )
        .unwrap();
        assert_eq!(
            source
                .load(&host, 100)
                .unwrap()
                .declared_mimetype
                .as_deref(),
            Some("text/plain")
        );
        let bad = MediaSource::pick("doc", Some("***".into()), "doc_url", None).unwrap();
        assert!(
            bad.load(&host, 100)
                .unwrap_err()
                .message
                .starts_with("doc: is not valid base64")
        );
        let big = MediaSource::pick("doc", Some("aGVsbG8=".into()), "doc_url", None).unwrap();
        assert!(big.load(&host, 2).is_err());
    }
}
