//! WUTS document plugin: `POST /send/document`. Any file (base64, or a URL the host
//! downloads) is uploaded as it came and sent as a `DocumentMessage`.
//!
//! # Request
//!
//! `{"number", "document"? | "document_url"?, "mime_type"?, "file_name"?, "caption"?,
//! "mentioned"?, "quoted"?, "delay"?, "device_id"?}`: exactly one source; `file_name` is
//! required with `document_url`; `caption` at most 1,024 characters; `mentioned` and
//! `quoted` as on `/send/text`. Standard envelope; the 200 carries `metadata`.
//!
//! # What goes out
//!
//! The caller's bytes, with `mimetype` (given, else the `data:` URI's, else sniffed, else
//! from the file name, else `application/octet-stream`), `fileName` and `title` (given and
//! sanitised, else `document.<extension>`), `fileLength`, `fileSha256`, `pageCount` for a
//! PDF whose pages could be counted, `caption` and `contextInfo`. No `jpegThumbnail`: a
//! page preview needs a C/C++ PDF renderer.
//!
//! - [`request`]: the fields and their validation.
//! - [`file`]: the caps and the file's facts, from [`mime`], [`name`] and [`pdf`].
//! - [`message`]: the `DocumentMessage` (a quote as the SDK resolves it).
//! - [`config`]: the `[plugin.document]` table; [`metadata`]: the 200's metadata.
//!
//! An empty file is a 400 `DOCUMENT_EMPTY`, one over `max_bytes` a 400
//! `DOCUMENT_TOO_LARGE`; a failed download keeps the host's `URL_*` code, but for one over
//! `max_bytes`: `DOCUMENT_TOO_LARGE`, as for an inline file. Base64 documents larger than
//! `async_threshold_bytes` are answered 202 and sent as a job (see [`DocumentPlugin::plan`]).

pub mod config;
pub mod file;
pub mod message;
pub mod metadata;
pub mod mime;
pub mod name;
pub mod pdf;
pub mod request;

use std::time::{Duration, Instant};

use wuts_plugin_api::quote::{self, ResolvedQuote};
use wuts_plugin_api::{
    Host, MediaBytes, MediaKind, MediaSource, Outgoing, Plan, Plugin, PluginError, PluginInfo,
    Quoted, Request, Route, export_plugin,
};

use config::{DEFAULT_MAX_BYTES, DocumentConfig};
use file::Declared;
use message::Details;
use metadata::{Facts, Timings};
use request::DocumentRequest;

/// Bytes of the base64 of `bytes` bytes (4 characters for every 3 bytes, padded).
const fn base64_len(bytes: u64) -> u64 {
    bytes.div_ceil(3) * 4
}

/// The largest request body: the base64 of a file of the default `max_bytes` (100 MiB:
/// 139,810,136 bytes), the line breaks of an encoder that wraps at 76 characters as MIME
/// does (2 bytes a line: 3,679,214 more), and 64 KiB of JSON around it (caption, mentions,
/// quote): 143,554,886 bytes, about 136.9 MiB. A larger configured `max_bytes` needs
/// `[body_limits]` raised with it.
pub const MAX_BODY_BYTES: u64 = {
    let base64 = base64_len(DEFAULT_MAX_BYTES);
    base64 + base64 / 76 * 2 + 64 * 1024
};

#[derive(Default)]
pub struct DocumentPlugin {
    config: DocumentConfig,
}

impl DocumentPlugin {
    pub fn new(config: DocumentConfig) -> Self {
        DocumentPlugin { config }
    }

    /// The file's bytes, from base64 or a download. Base64 is decoded whole and its size
    /// judged by [`file::prepare`]; a download stops at `max_bytes`, and the host's size
    /// refusal is told with the same code (as plugins/image/src/lib.rs does).
    fn load(&self, source: &MediaSource, host: &Host<'_>) -> Result<MediaBytes, PluginError> {
        source.load_media(host, self.config.max_bytes, "DOCUMENT_TOO_LARGE")
    }
}

/// The quote of a reply to `chat`, as the SDK resolves it: a quote that cannot be made is
/// a 400 before anything is downloaded or uploaded.
fn resolve_quote(
    quoted: Option<&Quoted>,
    chat: &str,
    request: &Request<'_>,
    host: &Host<'_>,
) -> Result<Option<ResolvedQuote>, PluginError> {
    quoted
        .map(|quoted| {
            quote::resolve(
                quoted,
                chat,
                request.context.own_jid,
                host.find_message(&quoted.message_id).as_ref(),
            )
        })
        .transpose()
}

impl Plugin for DocumentPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("document").route(
            Route::post("/send/document")
                .operation("sendDocumentMessage")
                .summary("Send any file as a document, with an optional caption")
                .request(&request::schema())
                .failure_prefix("Failed to send document message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        Ok(DocumentPlugin::new(DocumentConfig::from_json(&config)?))
    }

    /// The fields are checked here, so a bad field is a 400 before any work or any 202.
    /// The route is not quick, so this and `encode` run on the host's blocking pool.
    ///
    /// Base64 that decodes to more than `async_threshold_bytes` becomes a job, as audio's
    /// large clips do (plugins/audio/src/lib.rs). Its text's length bounds its size, so a
    /// short one is planned inline without decoding; a long one is decoded here, so that
    /// bad base64, an empty file, one over `max_bytes` and a quote that cannot be made are
    /// a 400 rather than a failed job. `document_url` sources run inline: their size is
    /// only known after the download, and a job stores the request, not the download.
    fn plan(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Plan, PluginError> {
        let document = DocumentRequest::parse(request)?;
        let MediaSource::Inline { field, base64 } = &document.source else {
            return Ok(Plan::Inline);
        };
        let most_bytes = (base64.len() as u64).div_ceil(4) * 3;
        if most_bytes <= self.config.async_threshold_bytes {
            return Ok(Plan::Inline);
        }
        let size = document.source.load(host, u64::MAX)?.bytes.len() as u64;
        file::check_size(size, self.config.max_bytes, field)?;
        if size <= self.config.async_threshold_bytes {
            return Ok(Plan::Inline);
        }
        resolve_quote(document.quoted.as_ref(), &document.to, request, host)?;
        Ok(Plan::Job {
            chat_jid: document.to,
        })
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let parsed = DocumentRequest::parse(request)?;
        let field = parsed.source_field().to_string();
        let DocumentRequest {
            to,
            source,
            mime_type,
            file_name,
            caption,
            mentioned,
            quoted,
            delay_ms,
        } = parsed;

        let quote = resolve_quote(quoted.as_ref(), &to, request, host)?;
        let loaded = self.load(&source, host)?;
        let (download, data_uri) = match source {
            MediaSource::Url { .. } => (Some(Duration::from_millis(loaded.download_ms)), None),
            // A URL's Content-Type is not used: servers often say octet-stream, or guess.
            MediaSource::Inline { .. } => (None, loaded.declared_mimetype),
        };
        let declared = Declared {
            mime_type: mime_type.as_deref(),
            data_uri: data_uri.as_deref(),
            file_name: file_name.as_deref(),
        };
        let document = file::prepare(loaded.bytes, declared, &self.config, &field)?;

        let upload_started = Instant::now();
        let media = host.upload_media(&document.bytes, MediaKind::Document, &document.mimetype)?;
        let upload = upload_started.elapsed();

        let quoted_message_found = quote.as_ref().is_some_and(|quote| quote.found);
        let mentions = mentioned.len();
        let message = message::build(&media, &document, Details { caption, mentioned }, quote);
        let metadata = metadata::metadata(
            &document,
            &Facts {
                device_id: request.context.device_id,
                user_id: request.context.user_id,
                mentions,
                quoted_message_found,
                is_job: request.context.is_job,
            },
            &Timings {
                download,
                upload,
                processing: started.elapsed(),
            },
        );
        Ok(Outgoing {
            to,
            message: message::encode(&message),
            nodes: Vec::new(),
            response_extra: Some(serde_json::json!({ "metadata": metadata })),
            // The host waits on a timer before it sends; no thread sleeps.
            delay: Duration::from_millis(delay_ms),
            ..Outgoing::default()
        })
    }
}

export_plugin!(DocumentPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_limit_fits_the_base64_of_the_default_cap() {
        assert_eq!(base64_len(3), 4);
        assert_eq!(base64_len(4), 8);
        assert_eq!(base64_len(DEFAULT_MAX_BYTES), 139_810_136);
        assert_eq!(MAX_BODY_BYTES, 143_554_886);
        let mib = MAX_BODY_BYTES as f64 / (1024.0 * 1024.0);
        assert!((136.0..137.0).contains(&mib), "{mib}");
    }

    #[test]
    fn the_manifest_names_the_route() {
        let info = DocumentPlugin::info();
        assert_eq!(info.name, "document");
        let route = &info.routes[0];
        assert_eq!(
            (route.method.as_str(), route.path.as_str()),
            ("POST", "/send/document")
        );
        assert_eq!(route.operation, "sendDocumentMessage");
        assert_eq!(route.max_body_bytes, MAX_BODY_BYTES);
        assert!(!route.quick, "uploads: never on the HTTP threads");
        assert!(route.request_schema["properties"]["file_name"].is_object());
    }
}
