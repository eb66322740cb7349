//! The GStreamer side: what the video is, whether it can go as it came, and the conversion
//! when it cannot.
//!
//! 1. size and type from the bytes alone ([`detect`]); an MP4's top-level boxes
//!    ([`mp4_boxes`]): a file cut short is refused before any decoding;
//! 2. the probe ([`probe`]): streams, codecs, duration, size, the first frame, under a
//!    pixel cap and a deadline;
//! 3. the decision ([`decide`]) and, when needed, the conversion ([`convert`]) under the
//!    plugin's deadline.

mod convert;
mod detect;
mod elements;
mod error;
mod mp4_boxes;
pub mod probe;
mod run;
mod source;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use gstreamer as gst;

pub use error::VideoError;

/// The MP4 box walker on its own, for the fuzz targets (tests/fuzz); not part of this
/// crate's API.
#[doc(hidden)]
pub mod readers {
    pub use super::mp4_boxes::Layout;

    /// The top-level layout of an MP4 (brand, index first, fragments), or why it is cut
    /// short.
    pub fn mp4_layout(input: &[u8]) -> Result<Layout, super::VideoError> {
        super::mp4_boxes::layout(input)
    }
}
pub use probe::{Codec, Frame, Probed};

use convert::{Mode, Settings};
use mp4_boxes::Layout;
use source::SharedBytes;

/// The mimetype of everything sent.
pub const OUTPUT_MIME: &str = "video/mp4";

/// The longest side of the thumbnail frame: what WhatsApp's clients put in
/// `jpegThumbnail` (plugins/image/src/picture.rs uses the same).
pub const THUMBNAIL_SIDE: u32 = 72;

/// The probe's own deadline, within the plugin's: reading a container and one frame takes
/// milliseconds, so a probe that needs more is a pathological file.
const PROBE_DEADLINE: Duration = Duration::from_secs(30);

/// GStreamer elements the plugin needs, with the Debian package that ships each.
const REQUIRED_ELEMENTS: [(&str, &str); 19] = [
    ("appsrc", "gstreamer1.0-plugins-base"),
    ("appsink", "gstreamer1.0-plugins-base"),
    ("decodebin", "gstreamer1.0-plugins-base"),
    ("videoconvert", "gstreamer1.0-plugins-base"),
    ("videoscale", "gstreamer1.0-plugins-base"),
    ("videoflip", "gstreamer1.0-plugins-good"),
    ("audioconvert", "gstreamer1.0-plugins-base"),
    ("audioresample", "gstreamer1.0-plugins-base"),
    ("capsfilter", "libgstreamer1.0-0"),
    ("queue", "libgstreamer1.0-0"),
    ("fakesink", "libgstreamer1.0-0"),
    ("qtdemux", "gstreamer1.0-plugins-good"),
    ("mp4mux", "gstreamer1.0-plugins-good"),
    ("aacparse", "gstreamer1.0-plugins-good"),
    ("h264parse", "gstreamer1.0-plugins-bad"),
    ("x264enc", "gstreamer1.0-plugins-ugly"),
    ("avenc_aac", "gstreamer1.0-libav"),
    ("avdec_h264", "gstreamer1.0-libav"),
    ("matroskademux", "gstreamer1.0-plugins-good"),
];

/// Initialises GStreamer once per process and checks every element exists. Later calls
/// return the first call's outcome.
pub fn init() -> Result<(), VideoError> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        gst::init().map_err(|error| format!("GStreamer could not be initialised: {error}"))?;
        let missing: Vec<String> = REQUIRED_ELEMENTS
            .iter()
            .filter(|(name, _)| gst::ElementFactory::find(name).is_none())
            .map(|(name, package)| format!("{name} (Debian package {package})"))
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
    .map_err(VideoError::Internal)
}

/// Whether the first bytes of a file type-find as a container that may hold video (for
/// `plan`: a large base64 `video` that is not video is a 400 inline, not a failed job).
pub fn looks_like_video(head: &[u8]) -> bool {
    init().is_ok() && detect::detect(head).is_ok()
}

/// The probe alone, with default caps: what a file holds (for tests and tools reading an
/// output back).
pub fn inspect(input: &[u8]) -> Result<Probed, VideoError> {
    init()?;
    detect::detect(input)?;
    probe::probe(
        &SharedBytes(Arc::new(input.to_vec())),
        probe::ProbeLimits {
            max_pixels: u64::MAX,
            thumbnail_side: THUMBNAIL_SIDE,
            deadline: Instant::now() + PROBE_DEADLINE,
        },
    )
}

/// What to do and within what limits.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_bytes: u64,
    pub max_duration: Duration,
    pub max_pixels: u64,
    pub max_side: u32,
    pub speed_preset: String,
    /// Budget of the whole media work (probe and conversion).
    pub timeout: Duration,
    /// The caller's `convertToMP4`: transcode even what could go as it came.
    pub convert_to_mp4: bool,
}

/// How the input became what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    AsIs,
    /// The same H.264 and AAC, in a new MP4 (the index moved to the front).
    Remux,
    Transcode,
}

/// What is sent, and what the metadata says about it.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub bytes: Vec<u8>,
    /// The caller's container, as a mimetype.
    pub original_format: String,
    pub conversion: Conversion,
    /// Of what is sent.
    pub width: u32,
    pub height: u32,
    /// None when the container states none.
    pub duration: Option<Duration>,
    /// The first frame at thumbnail size.
    pub frame: Frame,
}

impl Prepared {
    pub fn was_converted(&self) -> bool {
        self.conversion != Conversion::AsIs
    }
}

/// Judges `input` and makes what is sent. Blocking and CPU-bound (a transcode takes
/// seconds): call it off the HTTP threads. Returns within about `options.timeout`.
pub fn prepare(input: Vec<u8>, options: &Options) -> Result<Prepared, VideoError> {
    let started = Instant::now();
    if input.is_empty() {
        return Err(VideoError::Empty);
    }
    if input.len() as u64 > options.max_bytes {
        return Err(VideoError::TooLarge(format!(
            "the video has {} bytes, at most {} allowed",
            input.len(),
            options.max_bytes
        )));
    }
    init()?;
    let detected = detect::detect(&input)?;
    let layout = if detected.is_quicktime() {
        Some(mp4_boxes::layout(&input)?)
    } else {
        None
    };
    let original_format = match &layout {
        Some(layout) => layout.mimetype().to_string(),
        None => detected.mimetype().to_string(),
    };

    let deadline = started + options.timeout;
    let input = SharedBytes(Arc::new(input));
    let probed = probe::probe(
        &input,
        probe::ProbeLimits {
            max_pixels: options.max_pixels,
            thumbnail_side: THUMBNAIL_SIDE,
            deadline: deadline.min(started + PROBE_DEADLINE),
        },
    )?;
    if let Some(duration) = probed.duration.filter(|d| *d > options.max_duration) {
        return Err(VideoError::TooLong {
            seconds: duration.as_secs_f64(),
            max_seconds: options.max_duration.as_secs(),
        });
    }

    let conversion = decide(layout.as_ref(), &probed, options.convert_to_mp4);
    let settings = Settings {
        speed_preset: options.speed_preset.clone(),
        deadline,
        timeout_seconds: options.timeout.as_secs(),
        expected: probed.duration,
        max_duration: options.max_duration,
    };
    let (bytes, width, height) = match conversion {
        Conversion::AsIs => {
            // The probe's pipelines are gone, so the bytes are ours alone again.
            let bytes = Arc::try_unwrap(input.0).unwrap_or_else(|shared| (*shared).clone());
            (bytes, probed.width, probed.height)
        }
        Conversion::Remux => (
            convert::convert(&input, Mode::Remux, &settings)?,
            probed.width,
            probed.height,
        ),
        Conversion::Transcode => {
            let (width, height) = even_fit(probed.width, probed.height, options.max_side);
            let mode = Mode::Transcode { width, height };
            (convert::convert(&input, mode, &settings)?, width, height)
        }
    };
    Ok(Prepared {
        bytes,
        original_format,
        conversion,
        width,
        height,
        duration: probed.duration,
        frame: probed.frame,
    })
}

/// As it came: an MP4 (ISO brand, index first, not fragmented) of H.264 and, if any, AAC.
/// A QuickTime-family file (MP4, MOV, 3GP) with those codecs but the wrong layout or
/// brand is remuxed. Everything else, and everything when the caller asks, is transcoded.
/// (H.264/AAC in Matroska or MPEG-TS is transcoded too: their timestamps do not always
/// carry over to MP4 as they are, and the re-encode is what is known to play.)
pub(crate) fn decide(layout: Option<&Layout>, probed: &Probed, convert_to_mp4: bool) -> Conversion {
    let codecs_play = probed.video.as_ref().is_some_and(Codec::is_playable_h264)
        && probed.audio.as_ref().is_none_or(Codec::is_aac);
    match layout {
        _ if convert_to_mp4 || !codecs_play => Conversion::Transcode,
        Some(layout) if layout.is_playable_mp4() => Conversion::AsIs,
        // mp4mux does not carry a track's rotation over: a turned video is transcoded
        // (its frames turned upright) rather than remuxed sideways.
        Some(_) if !probed.turned => Conversion::Remux,
        Some(_) | None => Conversion::Transcode,
    }
}

/// The output size: within `max_side` on the longest side, the aspect kept, both sides
/// even (4:2:0 H.264 needs it) and at least 2.
pub fn even_fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    let (width, height) = probe::fit_within(width, height, max_side);
    let even = |side: u32| (side & !1).max(2);
    (even(width), even(height))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probed(video: &str, profile: Option<&str>, audio: Option<(&str, i32)>) -> Probed {
        Probed {
            duration: Some(Duration::from_secs(2)),
            width: 320,
            height: 240,
            video: Some(Codec {
                name: video.to_string(),
                mpeg_version: None,
                profile: profile.map(str::to_string),
            }),
            audio: audio.map(|(name, version)| Codec {
                name: name.to_string(),
                mpeg_version: Some(version),
                profile: None,
            }),
            turned: false,
            frame: Frame {
                width: 1,
                height: 1,
                rgb: vec![0; 3],
            },
        }
    }

    fn mp4(index_first: bool, brand: &[u8; 4]) -> Layout {
        Layout {
            major_brand: Some(*brand),
            compatible_brands: vec![*brand],
            index_first,
            fragmented: false,
        }
    }

    #[test]
    fn what_goes_as_it_came() {
        let h264_aac = probed("video/x-h264", Some("high"), Some(("audio/mpeg", 4)));
        let good = mp4(true, b"isom");
        assert_eq!(decide(Some(&good), &h264_aac, false), Conversion::AsIs);
        assert_eq!(decide(Some(&good), &h264_aac, true), Conversion::Transcode);
        let silent = probed("video/x-h264", None, None);
        assert_eq!(decide(Some(&good), &silent, false), Conversion::AsIs);
        assert_eq!(
            decide(Some(&mp4(false, b"isom")), &h264_aac, false),
            Conversion::Remux
        );
        assert_eq!(
            decide(Some(&mp4(true, b"qt  ")), &h264_aac, false),
            Conversion::Remux
        );
        let mp3 = probed("video/x-h264", None, Some(("audio/mpeg", 1)));
        assert_eq!(decide(Some(&good), &mp3, false), Conversion::Transcode);
        let hevc = probed("video/x-h265", None, None);
        assert_eq!(decide(Some(&good), &hevc, false), Conversion::Transcode);
        let vp8 = probed("video/x-vp8", None, Some(("audio/x-opus", 0)));
        assert_eq!(decide(None, &vp8, false), Conversion::Transcode);
        assert_eq!(decide(None, &h264_aac, false), Conversion::Transcode);
        // A turned video goes as it came (players read the rotation) or is transcoded
        // upright, never remuxed (the rotation would be lost).
        let turned = Probed {
            turned: true,
            ..h264_aac
        };
        assert_eq!(decide(Some(&good), &turned, false), Conversion::AsIs);
        assert_eq!(
            decide(Some(&mp4(false, b"isom")), &turned, false),
            Conversion::Transcode
        );
    }

    #[test]
    fn output_sizes_are_even_and_within_the_side() {
        assert_eq!(even_fit(1920, 1080, 1280), (1280, 720));
        assert_eq!(even_fit(321, 241, 1280), (320, 240));
        assert_eq!(even_fit(1080, 1920, 1280), (720, 1280));
        assert_eq!(even_fit(5000, 1, 1280), (1280, 2));
    }
}
