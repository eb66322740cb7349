//! Audio transcoding core: any common input -> Ogg/Opus mono (WhatsApp voice-note layout on request).
//!
//! [`transcode`] is blocking and CPU bound, its cost growing with the clip's length (see
//! README, Benchmarks): call it from a blocking thread and bound concurrency with a
//! [`TranscodeLimiter`].

mod detect;
mod error;
mod limiter;
mod mp3_gapless;
mod mp4_index;
pub mod ogg_code3;
mod pipeline;
mod profile;
mod sniff;
mod wav_header;
pub mod waveform;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gstreamer as gst;

pub use error::AudioError;
pub use limiter::{TranscodeLimiter, TranscodePermit};
pub use sniff::sniff_mime;

use profile::Profile;

/// The container readers [`transcode`] runs before decoding, callable on their own for the
/// fuzz targets (tests/fuzz); not part of this crate's API.
#[doc(hidden)]
pub mod readers {
    /// The media type GStreamer's type finders give `input` (after [`super::init`]).
    pub fn detect(input: &[u8]) -> Result<String, super::AudioError> {
        super::detect::detect(input).map(|detected| detected.mime)
    }

    /// Seconds of audio a WAV header declares.
    pub fn wav_declared_seconds(input: &[u8]) -> Option<f64> {
        super::wav_header::declared_seconds(input)
    }

    /// Whether an MP4's top-level boxes lack the index.
    pub fn mp4_missing_index(input: &[u8]) -> bool {
        super::mp4_index::missing_index(input)
    }

    /// An MP3's gapless info: samples to skip, samples to keep, its sample rate.
    pub fn mp3_gapless(input: &[u8]) -> Option<(u64, u64, u32)> {
        super::mp3_gapless::gapless_info(input).map(|info| (info.skip, info.keep, info.rate))
    }
}

/// Media type of every output.
pub const OUTPUT_MIME: &str = "audio/ogg; codecs=opus";

/// GStreamer elements every transcode needs, with the Debian package that ships them.
const REQUIRED_ELEMENTS: [(&str, &str); 8] = [
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("capsfilter", "libgstreamer1.0-0"),
    ("opusenc", "gstreamer1.0-plugins-base"),
    ("oggmux", "gstreamer1.0-plugins-base"),
];

/// Initialises GStreamer once per process and checks the needed elements exist.
/// Idempotent and thread-safe; later calls return the first call's outcome.
pub fn init() -> Result<(), AudioError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|err| format!("GStreamer could not be initialised: {err}"))?;
        let missing: Vec<String> = REQUIRED_ELEMENTS
            .iter()
            .filter(|(name, _)| gst::ElementFactory::find(name).is_none())
            .map(|(name, package)| format!("{name} ({package})"))
            .collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "GStreamer elements missing: {}",
                missing.join(", ")
            ))
        }
    })
    .clone()
    .map_err(AudioError::Internal)
}

/// libopus complexity unless configured. 6 is the highest level without libopus's
/// signal analysis (which costs a good share of the encode and steers choices a mono
/// SILK voice note at 24 kb/s does not have); see README, Benchmarks.
pub const DEFAULT_ENCODER_COMPLEXITY: u8 = 6;

/// How to transcode.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscodeOptions {
    /// WhatsApp voice note (PTT): 16 kHz SILK in 60 ms code-3 packets; else 48 kHz audio.
    pub voice_note: bool,
    /// Longer inputs fail with [`AudioError::TooLong`] (decoding stops right past the cap).
    pub max_duration: Duration,
    /// Wall-clock budget for the whole call; past it the work stops with [`AudioError::Timeout`].
    pub deadline: Duration,
    /// libopus complexity, 0 (fastest) to 10 (ffmpeg's default).
    pub encoder_complexity: u8,
}

impl Default for TranscodeOptions {
    fn default() -> Self {
        Self {
            voice_note: true,
            max_duration: Duration::from_secs(15 * 60),
            deadline: Duration::from_secs(120),
            encoder_complexity: DEFAULT_ENCODER_COMPLEXITY,
        }
    }
}

/// A finished transcode.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcoded {
    /// Ogg/Opus, mono ([`OUTPUT_MIME`]).
    pub ogg: Vec<u8>,
    /// Length of the audio, from the decoded samples.
    pub duration: Duration,
    /// Exactly 64 values, 0..=100.
    pub waveform: Vec<u8>,
    /// Input media type as detected ("audio/mpeg", "audio/mp4", "video/mp4", ...).
    pub original_format: String,
    /// Rate the audio was encoded at (OpusHead input rate): 16000 or 48000.
    pub sample_rate: u32,
    /// Wall time of the whole call.
    pub conversion_time: Duration,
}

/// Transcodes `input` (any common audio file, or a video with sound) to Ogg/Opus mono.
/// Never panics on bad input; always returns within about `opts.deadline`.
pub fn transcode(input: &[u8], opts: &TranscodeOptions) -> Result<Transcoded, AudioError> {
    let started = Instant::now();
    if input.is_empty() {
        return Err(AudioError::Empty);
    }
    init()?;
    let profile = Profile::for_voice_note(opts.voice_note);
    let encoder = pipeline::EncoderSettings {
        complexity: opts.encoder_complexity.min(10),
    };
    let limits = pipeline::Limits {
        max_samples: (opts.max_duration.as_secs_f64() * f64::from(profile.rate)).ceil() as u64,
        max_seconds: opts.max_duration.as_secs_f64().ceil() as u64,
        deadline: started
            .checked_add(opts.deadline)
            .unwrap_or_else(|| started + Duration::from_secs(24 * 3600)),
    };

    let detected = detect::detect(input)?;
    if matches!(
        detected.mime.as_str(),
        "audio/mp4" | "video/mp4" | "video/3gpp"
    ) && mp4_index::missing_index(input)
    {
        return Err(AudioError::Corrupt(
            "the file is truncated: its index (moov box) is missing".to_string(),
        ));
    }
    let window = codec_padding(input, &detected, profile.rate);
    let encoded = pipeline::run(input, &profile, encoder, &limits, window)?;
    let header_seconds = match detected.mime.as_str() {
        "audio/x-wav" => wav_header::declared_seconds(input),
        _ => window
            .keep
            .map(|keep| keep as f64 / f64::from(profile.rate)),
    };
    check_complete(&encoded, profile.rate, header_seconds)?;
    let ogg = if profile.repack_code3 {
        ogg_code3::repack_to_code3(&encoded.ogg)
            .map_err(|err| AudioError::Internal(err.to_string()))?
    } else {
        encoded.ogg
    };

    Ok(Transcoded {
        ogg,
        duration: Duration::from_secs_f64(encoded.samples as f64 / f64::from(profile.rate)),
        waveform: encoded.waveform,
        original_format: detected.mime_given_video(encoded.has_video),
        sample_rate: profile.rate,
        conversion_time: started.elapsed(),
    })
}

/// The decoded samples that are codec padding rather than audio (only known for MP3s with a
/// LAME/Info header), scaled to the output rate.
fn codec_padding(input: &[u8], detected: &detect::Detected, rate: u32) -> pipeline::SampleWindow {
    if detected.mime != "audio/mpeg" {
        return pipeline::SampleWindow::default();
    }
    match mp3_gapless::gapless_info(input) {
        Some(info) => {
            let scale = |samples: u64| {
                (samples as f64 * f64::from(rate) / f64::from(info.rate)).round() as u64
            };
            pipeline::SampleWindow {
                skip: scale(info.skip),
                keep: Some(scale(info.keep)),
            }
        }
        None => pipeline::SampleWindow::default(),
    }
}

/// Refuses a file that ended well before the length its header declares (a cut-off upload:
/// decoders happily play what is there). The length comes from the demuxer/parser, or for
/// MP3 and WAV from the file's header (their parsers re-estimate it from the bytes present).
/// Videos are exempt: their declared length is the longest track's, not necessarily audio's.
fn check_complete(
    encoded: &pipeline::Encoded,
    rate: u32,
    from_header: Option<f64>,
) -> Result<(), AudioError> {
    if encoded.has_video {
        return Ok(());
    }
    let from_demuxer = encoded.declared.map(|d| d.nseconds() as f64 / 1e9);
    let Some(declared) = from_demuxer.into_iter().chain(from_header).reduce(f64::max) else {
        return Ok(());
    };
    let decoded = encoded.samples as f64 / f64::from(rate);
    // Generous slack: codec delay, priming and estimated durations differ by far less.
    let slack = (declared * 0.02).max(0.5);
    if decoded + slack < declared {
        return Err(AudioError::Corrupt(format!(
            "the file is truncated: {decoded:.1} s of {declared:.1} s could be decoded"
        )));
    }
    Ok(())
}
