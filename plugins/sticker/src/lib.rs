//! WUTS sticker plugin: `POST /send/sticker`. A WebP, PNG, JPEG or GIF (base64, or a URL
//! the host downloads) is checked, made a 512x512 WebP sticker when it is not one already,
//! uploaded, and sent as a `StickerMessage`.
//!
//! # Request
//!
//! `{"to", "sticker"? | "sticker_url"?, "is_animated"?, "quoted"?, "delay"?, "device_id"?}`
//! (the WUTS docs §1.6; docs/API.md "Media"): `to`, not `number`; exactly one source;
//! `is_animated`, when given, must match the file.
//!
//! # Answer
//!
//! The 200 is WUTS's: `{"success", "message_id", "timestamp", "is_animated", "message":
//! "Sticker sent successfully"}` (a standard route with a success message, which the host
//! answers in that short shape); errors in the standard envelope.
//!
//! - [`request`]: the fields and their validation.
//! - [`picture`]: format, animation, caps, decode, fitting and WebP encoding.
//! - [`message`]: the `StickerMessage` (a quote as the SDK resolves it).
//! - [`config`]: the `[plugin.sticker]` table; [`response`]: what the 200 adds.
//!
//! Bad files are a 400 with `STICKER_UNSUPPORTED` (empty, not an image, another format,
//! corrupt, truncated) or `STICKER_TOO_LARGE` (over a cap, or over 500 KB at the lowest
//! quality); a failed download keeps the host's `URL_*` code, but for one over
//! `max_input_bytes`: `STICKER_TOO_LARGE`, as for an inline file.

pub mod config;
pub mod message;
pub mod picture;
pub mod request;
pub mod response;

use std::time::Duration;

use wuts_plugin_api::{
    Host, MediaBytes, MediaKind, MediaSource, Outgoing, Plan, Plugin, PluginError, PluginInfo,
    Request, Route, export_plugin,
};

use config::StickerConfig;
use picture::Sticker;
use request::StickerRequest;

/// The largest request body: the base64 of a 16 MiB file (4/3 of it) and the JSON around
/// it, as plugins/image/src/lib.rs sizes its own for the same cap.
pub const MAX_BODY_BYTES: u64 = 24 * 1024 * 1024;

/// The 200's `message`, as the WUTS docs §1.6 print it.
pub const SUCCESS_MESSAGE: &str = "Sticker sent successfully";

#[derive(Default)]
pub struct StickerPlugin {
    config: StickerConfig,
}

impl StickerPlugin {
    pub fn new(config: StickerConfig) -> Self {
        StickerPlugin { config }
    }

    /// The file's bytes, from base64 or a download. Base64 is decoded whole and its size
    /// judged by [`picture::prepare`] (as `STICKER_TOO_LARGE`); a download stops at
    /// `max_input_bytes`, and the host's size refusal is told with the same code.
    fn load(&self, source: &MediaSource, host: &Host<'_>) -> Result<MediaBytes, PluginError> {
        source.load_media(host, self.config.max_input_bytes, "STICKER_TOO_LARGE")
    }
}

fn source_field(source: &MediaSource) -> &str {
    match source {
        MediaSource::Inline { field, .. } | MediaSource::Url { field, .. } => field,
    }
}

impl Plugin for StickerPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("sticker").route(
            Route::post("/send/sticker")
                .operation("sendStickerMessage")
                .summary("Send a sticker: a 512x512 WebP, static or animated (PNG, JPEG and GIF are converted)")
                .request(&request::schema())
                // A standard route with a success message: the host answers its 200 as
                // WUTS prints it (host/src/plugins/registry.rs, `short_success`).
                .success_message(SUCCESS_MESSAGE)
                .failure_prefix("Failed to send sticker message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        Ok(StickerPlugin::new(StickerConfig::from_json(&config)?))
    }

    /// The fields are checked here, so a bad field is a 400 before any work. The route is
    /// not quick, so this and `encode` already run on the host's blocking pool: the
    /// download, the decode and the encoding never hold an HTTP thread.
    fn plan(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Plan, PluginError> {
        StickerRequest::parse(request)?;
        Ok(Plan::Inline)
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let StickerRequest {
            to,
            source,
            is_animated,
            quoted,
            delay_ms,
        } = StickerRequest::parse(request)?;

        // A quote that cannot be made is a 400 before anything is downloaded or uploaded.
        let quote = match &quoted {
            Some(quoted) => Some(wuts_plugin_api::quote::resolve(
                quoted,
                &to,
                request.context.own_jid,
                host.find_message(&quoted.message_id).as_ref(),
            )?),
            None => None,
        };
        let loaded = self.load(&source, host)?;
        let sticker = picture::prepare(&loaded.bytes, is_animated, &self.config)
            .map_err(|error| error.into_plugin_error(source_field(&source)))?;
        drop(loaded);

        let media = host.upload_media(&sticker.bytes, MediaKind::Sticker, Sticker::MIMETYPE)?;
        let message = message::build(&media, &sticker, quote);
        Ok(Outgoing {
            to,
            message: message::encode(&message),
            nodes: Vec::new(),
            response_extra: Some(response::extra(sticker.is_animated)),
            // The host waits on a timer before it sends; no thread sleeps.
            delay: Duration::from_millis(delay_ms),
            ..Outgoing::default()
        })
    }
}

export_plugin!(StickerPlugin);
