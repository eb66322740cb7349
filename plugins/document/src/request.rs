//! The `/send/document` request and its validation (field checks only: the file itself is
//! judged in [`crate::file`]).

use std::ops::RangeInclusive;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Value, json};
use wuts_plugin_api::{
    Kind, MediaSource, Mentioned, PluginError, Quoted, Recipient, Request, Schema,
};

use crate::mime::{self, MAX_MIME_CHARS};
use crate::name;

/// Characters a caption may have: at most 1024 on every media route, as
/// plugins/image/src/request.rs has it.
pub const CAPTION_CHARS: RangeInclusive<usize> = 0..=1024;
/// Characters a `file_name` may have as given: room for a path, whose last component is
/// kept and cut to [`name::MAX_NAME_BYTES`].
pub const FILE_NAME_CHARS: RangeInclusive<usize> = 1..=4096;

/// The request's shape: what the parse checks and the JSON Schema the manifest publishes.
pub fn schema() -> Schema {
    Schema::object()
        .required("number", Kind::recipient())
        .media_source("document", "document_url")
        .optional("mime_type", Kind::text(1..=MAX_MIME_CHARS))
        .describe("type/subtype; default: the data: URI's type, else sniffed from the bytes, else from file_name")
        .optional("file_name", Kind::text(FILE_NAME_CHARS))
        .describe("the name shown and saved; required with document_url; default: document.<extension>")
        .optional("caption", Kind::text(CAPTION_CHARS))
        .describe("shown under the document, WhatsApp markdown as given")
        .optional("mentioned", Kind::Mentioned)
        .optional("quoted", Kind::Quoted)
        .optional("delay", Kind::delay_ms())
        .describe("milliseconds to wait before sending")
        .device_id()
}

static SCHEMA: LazyLock<Schema> = LazyLock::new(schema);

/// A validated request.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRequest {
    /// The chat JID.
    pub to: String,
    /// `document` (base64, raw or a `data:` URI) or `document_url`, exactly one.
    pub source: MediaSource,
    /// Checked and normalised ([`mime::normalise`]).
    pub mime_type: Option<String>,
    /// Sanitised ([`name::sanitise`]).
    pub file_name: Option<String>,
    /// None when absent or empty.
    pub caption: Option<String>,
    /// Normalised JIDs, in the order given, without repeats.
    pub mentioned: Vec<String>,
    pub quoted: Option<Quoted>,
    pub delay_ms: u64,
}

impl DocumentRequest {
    /// Checks the body against [`schema`] (a 400 `VALIDATION_ERROR` naming the first bad
    /// field, "both" and "neither" source included), then the fields the schema cannot
    /// judge: `mime_type`'s form, `file_name`'s sanitised value, and `file_name` with
    /// `document_url` (a download has no name of its own the API trusts).
    pub fn parse(request: &Request<'_>) -> Result<DocumentRequest, PluginError> {
        #[derive(Deserialize)]
        struct Body {
            number: Recipient,
            document: Option<String>,
            document_url: Option<String>,
            mime_type: Option<String>,
            file_name: Option<String>,
            caption: Option<String>,
            #[serde(default)]
            mentioned: Mentioned,
            quoted: Option<Quoted>,
            delay: Option<u64>,
        }
        let body: Body = request.parse(&SCHEMA)?;
        let document_url = body.document_url.map(|url| url.trim().to_string());
        let source = MediaSource::pick("document", body.document, "document_url", document_url)?;
        let mime_type =
            match body.mime_type {
                Some(given) => Some(mime::normalise(&given).map_err(|reason| {
                    PluginError::invalid_field("mime_type", reason, json!(given))
                })?),
                None => None,
            };
        let file_name = match body.file_name {
            Some(given) => Some(name::sanitise(&given).ok_or_else(|| {
                PluginError::invalid_field(
                    "file_name",
                    "must name a file: nothing is left without its folders and control \
                     characters",
                    json!(given),
                )
            })?),
            None if matches!(source, MediaSource::Url { .. }) => {
                return Err(PluginError::invalid_field(
                    "file_name",
                    "is required when sending via document_url",
                    Value::Null,
                ));
            }
            None => None,
        };
        Ok(DocumentRequest {
            to: body.number.0,
            source,
            mime_type,
            file_name,
            caption: body.caption.filter(|caption| !caption.is_empty()),
            mentioned: body.mentioned.0,
            quoted: body.quoted,
            delay_ms: body.delay.unwrap_or(0),
        })
    }

    /// The field the file comes from: `document` or `document_url`.
    pub fn source_field(&self) -> &str {
        match &self.source {
            MediaSource::Inline { field, .. } | MediaSource::Url { field, .. } => field,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wuts_plugin_api::RequestContext;

    fn parse(body: Value) -> Result<DocumentRequest, PluginError> {
        let bytes = body.to_string().into_bytes();
        DocumentRequest::parse(&Request {
            route: "/send/document",
            body: &bytes,
            context: RequestContext::default(),
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut body = json!({"number": "5511999999999", "document": "aGk="});
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
            "document_url": "https://files.example.com/invoices/0425.pdf",
            "mime_type": "application/pdf",
            "file_name": "invoice-0425.pdf",
            "caption": "Your April invoice is attached.",
            "delay": 0
        }))
        .unwrap();
        assert_eq!(request.to, "5511999999999@s.whatsapp.net");
        assert_eq!(
            request.source,
            MediaSource::Url {
                field: "document_url".into(),
                url: "https://files.example.com/invoices/0425.pdf".into()
            }
        );
        assert_eq!(request.source_field(), "document_url");
        assert_eq!(request.mime_type.as_deref(), Some("application/pdf"));
        assert_eq!(request.file_name.as_deref(), Some("invoice-0425.pdf"));
        assert_eq!(
            request.caption.as_deref(),
            Some("Your April invoice is attached.")
        );
        assert_eq!(request.delay_ms, 0);
    }

    #[test]
    fn inline_base64_and_defaults() {
        let request = parse(json!({
            "number": "5511999999999",
            "document": "data:application/pdf;base64,aGk=",
            "mentioned": ["+55 11 98888-8888"],
            "quoted": {"message_id": "3EB0AB", "body": "hi"},
            "device_id": "dev-1"
        }))
        .unwrap();
        assert!(matches!(request.source, MediaSource::Inline { .. }));
        assert_eq!(request.source_field(), "document");
        assert_eq!((request.mime_type, request.file_name), (None, None));
        assert_eq!(request.caption, None);
        assert_eq!(request.mentioned, ["5511988888888@s.whatsapp.net"]);
        assert_eq!(request.quoted.unwrap().message_id, "3EB0AB");
        // An empty `document` counts as given: it is an empty file (DOCUMENT_EMPTY), later.
        assert!(parse(with("document", json!(""))).is_ok());
        assert!(parse(with("caption", json!("é".repeat(1024)))).is_ok());
        assert_eq!(parse(with("caption", json!(""))).unwrap().caption, None);
    }

    #[test]
    fn mime_type_and_file_name_are_normalised() {
        let request = parse(with("mime_type", json!("Text/Plain;charset=utf-8"))).unwrap();
        assert_eq!(
            request.mime_type.as_deref(),
            Some("text/plain; charset=utf-8")
        );
        let request = parse(with("file_name", json!("../reports/Q1\n.pdf"))).unwrap();
        assert_eq!(request.file_name.as_deref(), Some("Q1.pdf"));
    }

    #[test]
    fn file_name_is_required_with_document_url_only() {
        let url = json!({"number": "5511999999999", "document_url": "https://x.example/a.pdf"});
        assert_eq!(field(url.clone()), "file_name");
        let error = parse(url).unwrap_err();
        assert!(
            error
                .message
                .contains("required when sending via document_url"),
            "{error}"
        );
        let mut named = json!({"number": "5511999999999", "document_url": "https://x.example/a"});
        named["file_name"] = json!("a.pdf");
        assert!(parse(named).is_ok());
        assert!(parse(json!({"number": "5511999999999", "document": "aGk="})).is_ok());
    }

    #[test]
    fn exactly_one_source() {
        assert_eq!(
            field(with("document_url", json!("https://example.com/a.pdf"))),
            "document"
        );
        assert_eq!(field(json!({"number": "5511999999999"})), "document");
        assert_eq!(
            field(json!({"number": "5511999999999", "document_url": "ftp://x", "file_name": "a"})),
            "document_url"
        );
    }

    #[test]
    fn every_bad_field_is_named() {
        assert_eq!(field(json!({"document": "aGk="})), "number");
        assert_eq!(field(with("number", json!("12"))), "number");
        assert_eq!(field(with("document", json!(5))), "document");
        assert_eq!(field(with("mime_type", json!("pdf"))), "mime_type");
        assert_eq!(field(with("mime_type", json!(""))), "mime_type");
        assert_eq!(field(with("mime_type", json!("a/b c"))), "mime_type");
        assert_eq!(
            field(with("mime_type", json!("x".repeat(256)))),
            "mime_type"
        );
        assert_eq!(field(with("mime_type", json!(7))), "mime_type");
        assert_eq!(field(with("file_name", json!(""))), "file_name");
        assert_eq!(field(with("file_name", json!("docs/"))), "file_name");
        assert_eq!(field(with("file_name", json!(".."))), "file_name");
        assert_eq!(field(with("file_name", json!("\n\t"))), "file_name");
        assert_eq!(field(with("file_name", json!(["a.pdf"]))), "file_name");
        assert_eq!(
            field(with("file_name", json!("x".repeat(4097)))),
            "file_name"
        );
        assert_eq!(field(with("caption", json!("x".repeat(1025)))), "caption");
        assert_eq!(field(with("caption", json!(["x"]))), "caption");
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
