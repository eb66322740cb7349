//! WUTS video plugin: `POST /send/video`. A video (base64, or a URL the host downloads) is
//! type-found, probed and, when WhatsApp would not play it as it is, converted to H.264 +
//! AAC in an MP4 with its index first; then thumbnailed, uploaded and sent as a
//! `VideoMessage`.
//!
//! # Request
//!
//! `{"number", "video"? | "video_url"?, "caption"?, "seconds"?, "viewOnce"?,
//! "generateThumbnail"?, "thumbnail"?, "convertToMP4"?, "gifPlayback"?, "mentioned"?,
//! "quoted"?, "delay"?, "device_id"?}` (the WUTS docs §1.3; docs/API.md "Media"): exactly
//! one source. Standard envelope; the 200 carries `metadata`. Base64 videos over
//! `async_threshold_bytes` are answered 202 and sent as a job.
//!
//! - [`request`]: the fields and their validation.
//! - [`media`]: GStreamer: type finding, probe, decision, conversion.
//! - [`thumbnail`]: the first frame or the caller's picture as a small JPEG.
//! - [`message`]: the `VideoMessage`; [`metadata`]: the 200's metadata.
//! - [`config`]: the `[plugin.video]` table.
//!
//! Bad videos are a 400 with `VIDEO_EMPTY`, `VIDEO_UNSUPPORTED`, `VIDEO_CORRUPT`,
//! `VIDEO_NO_STREAM`, `VIDEO_TOO_LONG` or `VIDEO_TOO_LARGE`; a failed download keeps the
//! host's `URL_*` code, but for one over `max_bytes`: `VIDEO_TOO_LARGE`.

pub mod config;
pub mod media;
pub mod message;
pub mod metadata;
pub mod request;
pub mod thumbnail;

use std::time::{Duration, Instant};

use wuts_plugin_api::{
    Host, MediaBytes, MediaKind, MediaSource, Outgoing, Plan, Plugin, PluginError, PluginInfo,
    Request, Route, export_plugin,
};

use config::VideoConfig;
use media::{OUTPUT_MIME, Options, Prepared};
use message::Details;
use metadata::{Facts, Sent, Timings};
use request::VideoRequest;

/// The largest request body: the base64 of a 64 MiB video is 4/3 of it, 89,478,488
/// bytes (85.3 MiB); the JSON around it (a caption of 1,024 characters, mentions, a quote)
/// and a custom thumbnail (at most 1 MiB, 1.4 MB of base64) fit in the 2.7 MiB left.
pub const MAX_BODY_BYTES: u64 = 88 * 1024 * 1024;

/// How much of a large base64 video `plan` type-finds: every container's signature is
/// in its first bytes.
const HEAD_BYTES: usize = 64 * 1024;

#[derive(Default)]
pub struct VideoPlugin {
    config: VideoConfig,
}

impl VideoPlugin {
    pub fn new(config: VideoConfig) -> Self {
        VideoPlugin { config }
    }

    fn options(&self, convert_to_mp4: bool) -> Options {
        Options {
            max_bytes: self.config.max_bytes,
            max_duration: self.config.max_duration(),
            max_pixels: self.config.max_pixels(),
            max_side: self.config.max_side,
            speed_preset: self.config.speed_preset.clone(),
            timeout: self.config.transcode_timeout(),
            convert_to_mp4,
        }
    }

    /// The video's bytes, from base64 or a download. Base64 is decoded whole and its size
    /// judged by [`media::prepare`]; a download stops at `max_bytes` (the host's fetch has
    /// no per-call timeout: its `[fetch] timeout_ms` bounds it), and the host's size
    /// refusal is told as `VIDEO_TOO_LARGE`, as for an inline video.
    fn load(&self, source: &MediaSource, host: &Host<'_>) -> Result<MediaBytes, PluginError> {
        source.load_media(host, self.config.max_bytes, "VIDEO_TOO_LARGE")
    }
}

fn source_field(source: &MediaSource) -> &str {
    match source {
        MediaSource::Inline { field, .. } | MediaSource::Url { field, .. } => field,
    }
}

/// The most bytes `base64` can decode to (a `data:` header only makes it smaller).
fn decoded_size_bound(base64: &str) -> u64 {
    (base64.len() as u64).div_ceil(4) * 3
}

/// Whole seconds, rounded up: a 2.02 s clip is shown as 0:03, never as shorter than it is.
fn whole_seconds(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis().div_ceil(1000)).unwrap_or(u32::MAX)
}

impl Plugin for VideoPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("video").route(
            Route::post("/send/video")
                .operation("sendVideoMessage")
                .summary("Send a video (sent as is, or converted to H.264/AAC MP4) with an optional caption")
                .request(&request::schema())
                .failure_prefix("Failed to send video message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        let config = VideoConfig::from_json(&config)?;
        // Refuses the plugin at load, naming what is missing, rather than failing the
        // first request.
        media::init().map_err(|error| PluginError::internal(error.reason()))?;
        Ok(VideoPlugin::new(config))
    }

    /// The fields are checked here, so a bad field is a 400 before any 202. A base64
    /// video larger than `async_threshold_bytes` (decoded) whose first bytes are a video
    /// container becomes a job; one that is not video runs inline, so that it is a 400
    /// rather than a failed job. `video_url` sources run inline: their size is known only
    /// after the download, and a job stores the request body, not the download.
    fn plan(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Plan, PluginError> {
        let video = VideoRequest::parse(request)?;
        let MediaSource::Inline { base64, .. } = &video.source else {
            return Ok(Plan::Inline);
        };
        if decoded_size_bound(base64) <= self.config.async_threshold_bytes {
            return Ok(Plan::Inline);
        }
        // Decoded whole: bad base64 is a 400 now, and the size is exact.
        let bytes = video.source.load(host, u64::MAX)?.bytes;
        let size = bytes.len() as u64;
        let job = size > self.config.async_threshold_bytes
            && size <= self.config.max_bytes
            && media::looks_like_video(&bytes[..bytes.len().min(HEAD_BYTES)]);
        Ok(if job {
            Plan::Job { chat_jid: video.to }
        } else {
            Plan::Inline
        })
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let VideoRequest {
            to,
            source,
            caption,
            seconds,
            view_once,
            generate_thumbnail,
            thumbnail,
            convert_to_mp4,
            gif_playback,
            mentioned,
            quoted,
            delay_ms,
        } = VideoRequest::parse(request)?;

        // A quote that cannot be made, or a bad custom thumbnail, is a 400 before anything
        // is downloaded, converted or uploaded.
        let quote = match &quoted {
            Some(quoted) => Some(wuts_plugin_api::quote::resolve(
                quoted,
                &to,
                request.context.own_jid,
                host.find_message(&quoted.message_id).as_ref(),
            )?),
            None => None,
        };
        let custom_thumbnail = match thumbnail {
            Some(base64) => {
                let picture = MediaSource::Inline {
                    field: "thumbnail".into(),
                    base64,
                }
                .load(host, thumbnail::MAX_CUSTOM_BYTES)?;
                Some(thumbnail::from_custom(&picture.bytes)?)
            }
            None => None,
        };

        let loaded = self.load(&source, host)?;
        let download = matches!(source, MediaSource::Url { .. })
            .then(|| Duration::from_millis(loaded.download_ms));
        let prepared: Prepared = media::prepare(loaded.bytes, &self.options(convert_to_mp4))
            .map_err(|error| error.into_plugin_error(source_field(&source)))?;

        let has_custom_thumbnail = custom_thumbnail.is_some();
        let jpeg_thumbnail = match custom_thumbnail {
            Some(custom) => Some(custom),
            None if generate_thumbnail => Some(thumbnail::from_frame(&prepared.frame)?),
            None => None,
        };
        let seconds = prepared
            .duration
            .map(whole_seconds)
            .or(seconds)
            .unwrap_or(0);

        let upload_started = Instant::now();
        let media = host.upload_media(&prepared.bytes, MediaKind::Video, OUTPUT_MIME)?;
        let upload = upload_started.elapsed();

        let quoted_message_found = quote.as_ref().is_some_and(|quote| quote.found);
        let mentions = mentioned.len();
        let message = message::build(
            &media,
            Details {
                seconds,
                width: prepared.width,
                height: prepared.height,
                thumbnail: jpeg_thumbnail,
                caption,
                gif_playback,
                view_once,
                mentioned,
            },
            quote,
        );
        let metadata = metadata::metadata(
            &Sent {
                size_bytes: prepared.bytes.len(),
                mimetype: OUTPUT_MIME,
                original_format: &prepared.original_format,
                duration_seconds: seconds,
                width: prepared.width,
                height: prepared.height,
                was_converted: prepared.was_converted(),
                has_custom_thumbnail,
            },
            &Facts {
                device_id: request.context.device_id,
                user_id: request.context.user_id,
                mentions,
                quoted_message_found,
                view_once,
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

export_plugin!(VideoPlugin);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_seconds() {
        assert_eq!(decoded_size_bound("aGk="), 3);
        assert_eq!(decoded_size_bound(""), 0);
        assert_eq!(whole_seconds(Duration::from_millis(2000)), 2);
        assert_eq!(whole_seconds(Duration::from_millis(2023)), 3);
        assert_eq!(whole_seconds(Duration::ZERO), 0);
        assert_eq!(
            MAX_BODY_BYTES - (64 * 1024 * 1024u64).div_ceil(3) * 4,
            2_796_200
        );
    }
}
