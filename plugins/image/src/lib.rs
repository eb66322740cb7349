//! WUTS image plugin: `POST /send/image`. A JPEG, PNG, WebP or GIF (base64, or a URL the
//! host downloads) is checked, sized, thumbnailed, uploaded, and sent as an `ImageMessage`.
//!
//! # Request
//!
//! `{"number", "image"? | "image_url"?, "caption"?, "viewOnce"?, "mentioned"?, "quoted"?,
//! "delay"?, "device_id"?}` (the WUTS docs §1.2; docs/API.md "Media"): exactly one source,
//! `caption` at most 1,024 characters, `mentioned` and `quoted` as on `/send/text`.
//! Standard envelope; the 200 carries `metadata`.
//!
//! # What goes out
//!
//! JPEG and PNG whose longest side is within `max_side` are sent as they came; WebP, GIF
//! (its first frame), larger pictures and photos with an EXIF orientation (turned upright)
//! are re-encoded as JPEG, scaled to fit `max_side`.
//! The message carries `mimetype`, `width`, `height` of what is sent, a 72 px JPEG
//! `jpegThumbnail`, `caption`, `viewOnce` and `contextInfo`.
//!
//! - [`request`]: the fields and their validation.
//! - [`picture`]: format, caps, decode, what is sent, the thumbnail.
//! - [`message`]: the `ImageMessage` (a quote as the SDK resolves it, `wuts_plugin_api::quote`).
//! - [`config`]: the `[plugin.image]` table; [`metadata`]: the 200's metadata.
//!
//! Bad pictures are a 400 with `IMAGE_EMPTY`, `IMAGE_UNSUPPORTED`, `IMAGE_CORRUPT` or
//! `IMAGE_TOO_LARGE`; a failed download keeps the host's `URL_*` code, but for one over
//! `max_bytes`: `IMAGE_TOO_LARGE`, as for an inline picture.

pub mod config;
pub mod message;
pub mod metadata;
pub mod picture;
pub mod request;

use std::time::{Duration, Instant};

use wuts_plugin_api::{
    Host, MediaBytes, MediaKind, MediaSource, Outgoing, Plan, Plugin, PluginError, PluginInfo,
    Request, Route, export_plugin,
};

use config::ImageConfig;
use message::Details;
use metadata::{Facts, Timings};
use request::ImageRequest;

/// The largest request body: the base64 of a 16 MiB picture (4/3 of it) and the JSON
/// around it, as plugins/template/src/lib.rs sizes its own for the same image cap.
pub const MAX_BODY_BYTES: u64 = 24 * 1024 * 1024;

#[derive(Default)]
pub struct ImagePlugin {
    config: ImageConfig,
}

impl ImagePlugin {
    pub fn new(config: ImageConfig) -> Self {
        ImagePlugin { config }
    }

    /// The picture's bytes, from base64 or a download. Base64 is decoded whole and its
    /// size judged by [`picture::prepare`] (as `IMAGE_TOO_LARGE`); a download stops at
    /// `max_bytes`, and the host's size refusal is told with the same code.
    fn load(&self, source: &MediaSource, host: &Host<'_>) -> Result<MediaBytes, PluginError> {
        source.load_media(host, self.config.max_bytes, "IMAGE_TOO_LARGE")
    }
}

fn source_field(source: &MediaSource) -> &str {
    match source {
        MediaSource::Inline { field, .. } | MediaSource::Url { field, .. } => field,
    }
}

impl Plugin for ImagePlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("image").route(
            Route::post("/send/image")
                .operation("sendImageMessage")
                .summary("Send a picture (JPEG, PNG, WebP or GIF) with an optional caption")
                .request(&request::schema())
                .failure_prefix("Failed to send image message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        Ok(ImagePlugin::new(ImageConfig::from_json(&config)?))
    }

    /// The fields are checked here, so a bad field is a 400 before any work. The route is
    /// not quick, so this and `encode` already run on the host's blocking pool (the SDK's
    /// `Route::quick`, plugin-api/src/sdk.rs): the download, the decode and the resize never
    /// hold an HTTP thread. Pictures are small enough (16 MiB) to be sent inline, never
    /// as a job.
    fn plan(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Plan, PluginError> {
        ImageRequest::parse(request)?;
        Ok(Plan::Inline)
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let ImageRequest {
            to,
            source,
            caption,
            view_once,
            mentioned,
            quoted,
            delay_ms,
        } = ImageRequest::parse(request)?;

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
        let download = matches!(source, MediaSource::Url { .. })
            .then(|| Duration::from_millis(loaded.download_ms));
        let picture = picture::prepare(&loaded.bytes, &self.config)
            .map_err(|error| error.into_plugin_error(source_field(&source)))?;
        drop(loaded);

        let upload_started = Instant::now();
        let media = host.upload_media(&picture.bytes, MediaKind::Image, picture.mimetype)?;
        let upload = upload_started.elapsed();

        let quoted_message_found = quote.as_ref().is_some_and(|quote| quote.found);
        let mentions = mentioned.len();
        let message = message::build(
            &media,
            &picture,
            Details {
                caption,
                view_once,
                mentioned,
            },
            quote,
        );
        let metadata = metadata::metadata(
            &picture,
            &Facts {
                device_id: request.context.device_id,
                user_id: request.context.user_id,
                mentions,
                quoted_message_found,
                view_once,
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

export_plugin!(ImagePlugin);
