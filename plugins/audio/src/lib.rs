//! WUTS audio plugin: `POST /send/audio`. Any common audio input (base64 or a URL the host
//! downloads) is transcoded to Ogg/Opus mono, uploaded, and sent as an `AudioMessage`.
//!
//! - [`codec`]: the transcoding core (GStreamer), usable on its own.
//! - [`request`]: the request's fields and their validation.
//! - [`message`]: the `AudioMessage` and its context info.
//! - [`config`]: the `[plugin.audio]` table.
//! - [`errors`] and [`metadata`]: what the caller gets back.
//!
//! Large base64 clips (over `async_threshold_bytes` decoded) are answered 202 and run as a
//! job; everything else, `audio_url` included, runs inline (see [`AudioPlugin::plan`]).

pub mod codec;
pub mod config;
pub mod errors;
pub mod message;
pub mod metadata;
pub mod request;

use std::time::{Duration, Instant};

use wuts_plugin_api::{
    Host, MediaKind, Outgoing, Plan, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

use codec::{OUTPUT_MIME, TranscodeLimiter, TranscodeOptions, Transcoded};
use config::AudioConfig;
use message::AudioDetails;
use metadata::Timings;
use request::{AudioRequest, Source};

/// The largest request body: base64 of about 48 MiB of audio.
pub const MAX_BODY_BYTES: u64 = 64 * 1024 * 1024;

pub struct AudioPlugin {
    config: AudioConfig,
    /// Bounds transcodes across every request of this process (the plugin is one instance).
    limiter: TranscodeLimiter,
}

/// The plugin with the default `[plugin.audio]` settings (the host calls `init`).
impl Default for AudioPlugin {
    fn default() -> Self {
        AudioPlugin::new(AudioConfig::default())
    }
}

impl AudioPlugin {
    pub fn new(config: AudioConfig) -> Self {
        AudioPlugin {
            limiter: TranscodeLimiter::new(config.transcode_permits()),
            config,
        }
    }

    /// Transcodes under a slot of the limiter; a wait as long as a transcode's deadline
    /// means the server is overloaded.
    fn transcode(&self, input: &[u8], voice_note: bool) -> Result<Transcoded, PluginError> {
        let wait = self.config.transcode_timeout;
        let _permit = self
            .limiter
            .acquire(wait)
            .ok_or_else(|| errors::busy(wait))?;
        let options = TranscodeOptions {
            voice_note,
            max_duration: self.config.max_duration,
            deadline: self.config.transcode_timeout,
            encoder_complexity: self.config.encoder_complexity,
        };
        codec::transcode(input, &options).map_err(|error| errors::from_audio(&error))
    }
}

impl Plugin for AudioPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("audio").route(
            Route::post("/send/audio")
                .operation("sendAudioMessage")
                .summary("Send an audio clip or voice note (transcoded to Ogg/Opus)")
                .request(&request::schema())
                .failure_prefix("Failed to send audio message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn init(config: serde_json::Value) -> Result<Self, PluginError> {
        let config = AudioConfig::from_json(&config)?;
        // Fails early (the plugin is refused, with the reason) when GStreamer or one of
        // its elements is missing, rather than on the first request.
        codec::init().map_err(|error| errors::from_audio(&error))?;
        Ok(AudioPlugin::new(config))
    }

    /// Everything but the transcode is checked here, so bad fields, bad base64 and empty
    /// audio are a 400 before any 202.
    ///
    /// Base64 audio larger than `async_threshold_bytes` (decoded) becomes a job, unless its
    /// first bytes are no container we know: then it runs inline, so that not-audio is a
    /// 400 from the transcoder rather than a failed job.
    ///
    /// `audio_url` sources always run inline: their size is only known after the download,
    /// and a job stores the request body, not the download. The fetch is bounded by the
    /// host's `[fetch]` timeout and size cap, and the transcode by its deadline.
    fn plan(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Plan, PluginError> {
        let audio = AudioRequest::parse(request)?;
        match &audio.source {
            Source::Base64 { bytes, .. }
                if bytes.len() as u64 > self.config.async_threshold_bytes
                    && codec::sniff_mime(bytes).is_some() =>
            {
                Ok(Plan::Job { chat_jid: audio.to })
            }
            _ => Ok(Plan::Inline),
        }
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let started = Instant::now();
        let AudioRequest {
            to,
            source,
            ptt,
            view_once,
            mentioned,
            quoted,
            delay_ms,
        } = AudioRequest::parse(request)?;

        let (input, download) = match source {
            Source::Base64 { bytes, .. } => (bytes, Duration::ZERO),
            Source::Url(url) => {
                let fetch_started = Instant::now();
                // The host's `[fetch] max_bytes` is the cap; the plugin adds none of its own.
                let fetched = host.fetch(&url, u64::MAX).map_err(errors::from_fetch)?;
                (fetched.bytes, fetch_started.elapsed())
            }
        };
        let transcoded = self.transcode(&input, ptt)?;
        drop(input);

        let upload_started = Instant::now();
        let media = host.upload_media(&transcoded.ogg, MediaKind::Audio, OUTPUT_MIME)?;
        let upload = upload_started.elapsed();

        let quote = quoted.as_ref().map(|quote| {
            message::resolve_quote(quote, host.find_message(&quote.message_id).as_ref())
        });
        let quoted_message_found = quote.as_ref().is_some_and(|quote| quote.found);
        let details = AudioDetails {
            duration: transcoded.duration,
            waveform: transcoded.waveform.clone(),
            ptt,
            view_once,
        };
        let message = message::build(&media, &details, &mentioned, quote);
        let metadata = metadata::metadata(
            &transcoded,
            &metadata::Facts {
                ptt,
                mentions: mentioned.len(),
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

export_plugin!(AudioPlugin);
