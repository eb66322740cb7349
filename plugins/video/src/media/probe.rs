//! The probe: reads the container far enough to know its streams, their codecs, the
//! duration and the picture's size, and decodes one frame for the thumbnail.
//!
//! ```text
//! appsrc ! decodebin
//!     [autoplug-continue: records each elementary stream's caps; a video whose frames are
//!      over the pixel cap is never given a decoder]
//!   decoded video ! videoconvert ! videoscale ! capsfilter (RGB, thumbnail size) ! appsink
//!   anything else ! fakesink (async=false)
//! ```
//!
//! The pipeline goes to PAUSED only: it prerolls (one frame reaches the appsink), and the
//! rest of the file is never decoded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use image::metadata::Orientation;

use super::elements::{add_chain, capsfilter, discard_pad, make, make_unnamed, set};
use super::error::VideoError;
use super::run::{
    Deadline, Exposed, MSG_LINK_FAILED, MSG_NO_DECODER, MSG_NO_VIDEO, MSG_TOO_LARGE, NullOnDrop,
    Until, post, start_failure, wait,
};
use super::source::{SharedBytes, byte_source};

/// An elementary stream's codec, as its demuxer or parser announced it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codec {
    /// Caps name: `video/x-h264`, `audio/mpeg`, `video/x-vp8`, ...
    pub name: String,
    /// `audio/mpeg`'s version: 1 (MP3) or 2 and 4 (AAC).
    pub mpeg_version: Option<i32>,
    /// H.264's profile, when the parser or demuxer knows it (`high`, `main`, ...).
    pub profile: Option<String>,
}

impl Codec {
    fn from_caps(structure: &gst::StructureRef) -> Codec {
        Codec {
            name: structure.name().to_string(),
            mpeg_version: structure.get::<i32>("mpegversion").ok(),
            profile: structure.get::<String>("profile").ok(),
        }
    }

    /// H.264 in a profile every WhatsApp client decodes (not 10-bit, not 4:2:2 or 4:4:4).
    pub fn is_playable_h264(&self) -> bool {
        self.name == "video/x-h264"
            && self.profile.as_deref().is_none_or(|profile| {
                matches!(
                    profile,
                    "baseline" | "constrained-baseline" | "main" | "high" | "extended"
                )
            })
    }

    pub fn is_aac(&self) -> bool {
        self.name == "audio/mpeg" && matches!(self.mpeg_version, Some(2) | Some(4))
    }
}

/// One decoded frame, RGB, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub width: u32,
    pub height: u32,
    pub rgb: Vec<u8>,
}

/// What the probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct Probed {
    /// The container's duration, when it states one.
    pub duration: Option<Duration>,
    /// The picture's display size (pixel aspect ratio applied).
    pub width: u32,
    pub height: u32,
    pub video: Option<Codec>,
    /// The first audio stream's codec; None when there is no audio.
    pub audio: Option<Codec>,
    /// Whether the stream carries an orientation other than upright (`width`, `height`
    /// and `frame` are already the upright picture's).
    pub turned: bool,
    /// The first frame, scaled to fit the thumbnail side.
    pub frame: Frame,
}

/// Limits of one probe.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProbeLimits {
    pub max_pixels: u64,
    pub thumbnail_side: u32,
    pub deadline: Instant,
}

/// State shared with the streaming threads.
#[derive(Default)]
struct State {
    any_pad: AtomicBool,
    video_linked: AtomicBool,
    video: Mutex<Option<Codec>>,
    audio: Mutex<Option<Codec>>,
    size: Mutex<Option<(u32, u32)>>,
    sink: Mutex<Option<gst_app::AppSink>>,
    /// The decoded video pad, whose sticky tags say how the picture is turned.
    video_pad: Mutex<Option<gst::Pad>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn probe(input: &SharedBytes, limits: ProbeLimits) -> Result<Probed, VideoError> {
    let state = Arc::new(State::default());
    let pipeline = gst::Pipeline::new();
    let _guard = NullOnDrop(pipeline.clone());
    let source = byte_source(input);
    let decodebin = make("decodebin", "wuts-probe-decodebin")?;
    pipeline
        .add_many([source.upcast_ref(), &decodebin])
        .map_err(|_| VideoError::Internal("could not assemble the probe".to_string()))?;
    source
        .link(&decodebin)
        .map_err(|_| VideoError::Internal("could not link the source".to_string()))?;

    record_streams(&decodebin, &state, limits.max_pixels);
    link_pads(&decodebin, &pipeline, &state, limits);

    let exposed = Exposed {
        any: &state.any_pad,
        video: &state.video_linked,
    };
    if pipeline.set_state(gst::State::Paused).is_err() {
        return Err(start_failure(&pipeline, &exposed));
    }
    wait(
        &pipeline,
        Until::Preroll,
        &exposed,
        Deadline {
            at: limits.deadline,
            error: VideoError::Corrupt("the video could not be read in time".to_string()),
        },
    )?;
    if !state.video_linked.load(Ordering::SeqCst) {
        return Err(VideoError::NoStream);
    }
    let duration = pipeline
        .query_duration::<gst::ClockTime>()
        .map(|duration| Duration::from_nanos(duration.nseconds()));
    let (width, height) = lock(&state.size)
        .ok_or_else(|| VideoError::Internal("the picture's size is unknown".to_string()))?;
    // A phone stores a portrait video as landscape frames with a rotation in the
    // container: the size and the thumbnail are the upright picture's (the conversion
    // turns the frames with `videoflip`, crate::media::convert).
    let orientation = lock(&state.video_pad)
        .as_ref()
        .map_or(Orientation::NoTransforms, orientation_of);
    let (width, height) = if quarter_turn(orientation) {
        (height, width)
    } else {
        (width, height)
    };
    let sink = lock(&state.sink)
        .clone()
        .ok_or_else(|| VideoError::Internal("no thumbnail sink".to_string()))?;
    let sample = sink
        .try_pull_preroll(gst::ClockTime::ZERO)
        .ok_or_else(|| VideoError::Corrupt("no frame of the video could be decoded".to_string()))?;
    let frame = upright(frame_of(&sample)?, orientation);
    let video = lock(&state.video).clone();
    let audio = lock(&state.audio).clone();
    Ok(Probed {
        duration,
        width,
        height,
        video,
        audio,
        turned: orientation != Orientation::NoTransforms,
        frame,
    })
}

/// Records each elementary stream's caps as decodebin meets them, and refuses a decoder
/// to a video over the pixel cap (before any frame is decoded: a few KB claiming 16K x 16K
/// frames must be a 400, not an allocation of gigabytes). Container caps pass through
/// here too (`video/quicktime`, `video/webm`): they carry no width, which tells them apart.
fn record_streams(decodebin: &gst::Element, state: &Arc<State>, max_pixels: u64) {
    let state = Arc::clone(state);
    decodebin.connect("autoplug-continue", false, move |args| {
        let element = args
            .first()
            .and_then(|value| value.get::<gst::Element>().ok());
        let caps = args.get(2).and_then(|value| value.get::<gst::Caps>().ok());
        let keep_going = match (element, caps) {
            (Some(element), Some(caps)) => judge_stream(&element, &caps, &state, max_pixels),
            _ => true,
        };
        Some(keep_going.to_value())
    });
}

fn judge_stream(element: &gst::Element, caps: &gst::Caps, state: &State, max_pixels: u64) -> bool {
    let Some(structure) = caps.structure(0) else {
        return true;
    };
    let name = structure.name().as_str();
    if name.ends_with("/x-raw") {
        return true;
    }
    if name.starts_with("video/") || name.starts_with("image/") {
        let (Ok(width), Ok(height)) = (
            structure.get::<i32>("width"),
            structure.get::<i32>("height"),
        ) else {
            return true;
        };
        lock(&state.video).get_or_insert_with(|| Codec::from_caps(structure));
        if let Some(reason) = over_pixel_cap(width, height, max_pixels) {
            post(element, MSG_TOO_LARGE, &reason);
            return false;
        }
    } else if name.starts_with("audio/")
        && (structure.has_field("rate") || structure.has_field("channels"))
    {
        lock(&state.audio).get_or_insert_with(|| Codec::from_caps(structure));
    }
    true
}

/// The refusal's text when `width` x `height` is over `max_pixels`.
pub(crate) fn over_pixel_cap(width: i32, height: i32, max_pixels: u64) -> Option<String> {
    let pixels = u64::try_from(width).unwrap_or(0) * u64::try_from(height).unwrap_or(0);
    (pixels > max_pixels).then(|| {
        format!(
            "the video's frames are {width}x{height} ({pixels} pixels), at most {} megapixels allowed",
            max_pixels / 1_000_000
        )
    })
}

/// Links the first decoded video pad to the thumbnail branch; every other pad to a
/// fakesink. Once decodebin has exposed everything: no video is [`MSG_NO_VIDEO`], or
/// [`MSG_NO_DECODER`] when a video stream was there but could not be decoded.
fn link_pads(
    decodebin: &gst::Element,
    pipeline: &gst::Pipeline,
    state: &Arc<State>,
    limits: ProbeLimits,
) {
    let bin = pipeline.downgrade();
    let on_pad = Arc::clone(state);
    decodebin.connect_pad_added(move |element, pad| {
        on_pad.any_pad.store(true, Ordering::SeqCst);
        let Some(pipeline) = bin.upgrade() else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let is_raw_video = caps
            .structure(0)
            .is_some_and(|structure| structure.name() == "video/x-raw");
        let linked = if is_raw_video && !on_pad.video_linked.swap(true, Ordering::SeqCst) {
            link_thumbnail_branch(pipeline.upcast_ref(), pad, &caps, &on_pad, limits)
        } else {
            discard_pad(pipeline.upcast_ref(), pad)
        };
        if let Err(error) = linked {
            match error {
                VideoError::TooLarge(reason) => post(element, MSG_TOO_LARGE, &reason),
                other => post(element, MSG_LINK_FAILED, &other.reason()),
            }
        }
    });
    let on_done = Arc::clone(state);
    decodebin.connect_no_more_pads(move |element| {
        if on_done.video_linked.load(Ordering::SeqCst) {
            return;
        }
        if lock(&on_done.video).is_some() {
            post(
                element,
                MSG_NO_DECODER,
                "no decoder is installed for this video codec",
            );
        } else {
            post(element, MSG_NO_VIDEO, "the file has no video stream");
        }
    });
}

/// `videoconvert ! videoscale ! capsfilter ! appsink` for the decoded pad, the frame
/// scaled to fit `thumbnail_side` with square pixels.
fn link_thumbnail_branch(
    pipeline: &gst::Bin,
    pad: &gst::Pad,
    caps: &gst::Caps,
    state: &State,
    limits: ProbeLimits,
) -> Result<(), VideoError> {
    let structure = caps
        .structure(0)
        .ok_or_else(|| VideoError::Internal("decoded video without caps".to_string()))?;
    let (width, height) = (
        structure.get::<i32>("width").unwrap_or(0),
        structure.get::<i32>("height").unwrap_or(0),
    );
    if let Some(reason) = over_pixel_cap(width, height, limits.max_pixels) {
        return Err(VideoError::TooLarge(reason));
    }
    let aspect = structure
        .get::<gst::Fraction>("pixel-aspect-ratio")
        .map(|par| (par.numer(), par.denom()))
        .unwrap_or((1, 1));
    let (width, height) = display_size(width, height, aspect)
        .ok_or_else(|| VideoError::Corrupt("the video's frames have no size".to_string()))?;
    *lock(&state.size) = Some((width, height));
    let (thumb_width, thumb_height) = fit_within(width, height, limits.thumbnail_side);

    let convert = make_unnamed("videoconvert", "wuts-probe-")?;
    let scale = make_unnamed("videoscale", "wuts-probe-")?;
    let rgb = gst::Caps::builder("video/x-raw")
        .field("format", "RGB")
        .field("width", thumb_width as i32)
        .field("height", thumb_height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let filter = capsfilter(&rgb, "wuts-probe-")?;
    let sink = gst_app::AppSink::builder()
        .name("wuts-probe-appsink")
        .sync(false)
        .max_buffers(1)
        .build();
    set(sink.upcast_ref(), "enable-last-sample", false.to_value())?;
    *lock(&state.sink) = Some(sink.clone());
    *lock(&state.video_pad) = Some(pad.clone());
    add_chain(pipeline, &[convert.clone(), scale, filter, sink.upcast()])?;
    let sink_pad = convert
        .static_pad("sink")
        .ok_or_else(|| VideoError::Internal("videoconvert has no sink pad".to_string()))?;
    pad.link(&sink_pad)
        .map(|_| ())
        .map_err(|_| VideoError::Internal("could not link the decoded video".to_string()))
}

/// The size the picture is shown at: the width stretched by the pixel aspect ratio (an
/// anamorphic 720x576 at 16:15 shows as 768x576). None for an empty picture.
pub(crate) fn display_size(width: i32, height: i32, aspect: (i32, i32)) -> Option<(u32, u32)> {
    let (width, height) = (u64::try_from(width).ok()?, u64::try_from(height).ok()?);
    let (numer, denom) = (
        u64::try_from(aspect.0).ok().filter(|n| *n > 0).unwrap_or(1),
        u64::try_from(aspect.1).ok().filter(|d| *d > 0).unwrap_or(1),
    );
    let shown = (width * numer + denom / 2) / denom;
    if shown == 0 || height == 0 {
        return None;
    }
    Some((u32::try_from(shown).ok()?, u32::try_from(height).ok()?))
}

/// `width` x `height` scaled down (never up) so that its longest side is at most `side`,
/// keeping the aspect; each side at least 1.
pub(crate) fn fit_within(width: u32, height: u32, side: u32) -> (u32, u32) {
    let longest = width.max(height);
    if longest <= side {
        return (width.max(1), height.max(1));
    }
    let scale = |length: u32| {
        ((u64::from(length) * u64::from(side) + u64::from(longest) / 2) / u64::from(longest)).max(1)
            as u32
    };
    (scale(width), scale(height))
}

/// The sample's frame with the row padding removed (GStreamer aligns RGB rows to 4 bytes).
/// How the picture must be turned to be upright: the `image-orientation` tag the
/// demuxer put on the stream (a QuickTime/MP4 track matrix, say), none when absent.
fn orientation_of(pad: &gst::Pad) -> Orientation {
    let mut index = 0;
    while let Some(event) = pad.sticky_event::<gst::event::Tag>(index) {
        if let Some(tag) = event.tag().get::<gst::tags::ImageOrientation>() {
            return match tag.get() {
                "rotate-90" => Orientation::Rotate90,
                "rotate-180" => Orientation::Rotate180,
                "rotate-270" => Orientation::Rotate270,
                "flip-rotate-0" => Orientation::FlipHorizontal,
                "flip-rotate-90" => Orientation::Rotate90FlipH,
                "flip-rotate-180" => Orientation::FlipVertical,
                "flip-rotate-270" => Orientation::Rotate270FlipH,
                _ => Orientation::NoTransforms,
            };
        }
        index += 1;
    }
    Orientation::NoTransforms
}

/// Whether `orientation` swaps the picture's width and height.
pub(crate) fn quarter_turn(orientation: Orientation) -> bool {
    matches!(
        orientation,
        Orientation::Rotate90
            | Orientation::Rotate270
            | Orientation::Rotate90FlipH
            | Orientation::Rotate270FlipH
    )
}

/// `frame` turned as `orientation` says.
fn upright(frame: Frame, orientation: Orientation) -> Frame {
    if orientation == Orientation::NoTransforms {
        return frame;
    }
    let Some(pixels) = image::RgbImage::from_raw(frame.width, frame.height, frame.rgb.clone())
    else {
        return frame;
    };
    let mut turned = image::DynamicImage::ImageRgb8(pixels);
    turned.apply_orientation(orientation);
    Frame {
        width: turned.width(),
        height: turned.height(),
        rgb: turned.into_rgb8().into_raw(),
    }
}

fn frame_of(sample: &gst::Sample) -> Result<Frame, VideoError> {
    let bad = || VideoError::Internal("the thumbnail frame is malformed".to_string());
    let structure = sample
        .caps()
        .and_then(|caps| caps.structure(0))
        .ok_or_else(bad)?;
    let width =
        u32::try_from(structure.get::<i32>("width").map_err(|_| bad())?).map_err(|_| bad())?;
    let height =
        u32::try_from(structure.get::<i32>("height").map_err(|_| bad())?).map_err(|_| bad())?;
    let buffer = sample.buffer().ok_or_else(bad)?;
    let map = buffer.map_readable().map_err(|_| bad())?;
    if width == 0 || height == 0 {
        return Err(bad());
    }
    let row = width as usize * 3;
    let stride = row.div_ceil(4) * 4;
    if map.len() < stride * (height as usize - 1) + row {
        return Err(bad());
    }
    let mut rgb = Vec::with_capacity(row * height as usize);
    for line in 0..height as usize {
        rgb.extend_from_slice(&map[line * stride..line * stride + row]);
    }
    Ok(Frame { width, height, rgb })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_fit_and_keep_their_aspect() {
        assert_eq!(fit_within(1920, 1080, 72), (72, 41));
        assert_eq!(fit_within(1080, 1920, 72), (41, 72));
        assert_eq!(fit_within(40, 30, 72), (40, 30));
        assert_eq!(fit_within(10_000, 1, 72), (72, 1));
        assert_eq!(display_size(720, 576, (16, 15)), Some((768, 576)));
        assert_eq!(display_size(640, 480, (1, 1)), Some((640, 480)));
        assert_eq!(display_size(0, 480, (1, 1)), None);
    }

    #[test]
    fn the_pixel_cap_names_the_size() {
        assert_eq!(over_pixel_cap(7680, 4320, 36_000_000), None);
        let reason = over_pixel_cap(16_384, 16_384, 36_000_000).unwrap();
        assert!(reason.contains("16384x16384") && reason.contains("36 megapixels"));
    }

    #[test]
    fn codecs_whatsapp_plays() {
        let h264 = |profile: Option<&str>| Codec {
            name: "video/x-h264".into(),
            mpeg_version: None,
            profile: profile.map(str::to_string),
        };
        assert!(h264(Some("high")).is_playable_h264());
        assert!(h264(None).is_playable_h264());
        assert!(!h264(Some("high-4:4:4")).is_playable_h264());
        let aac = Codec {
            name: "audio/mpeg".into(),
            mpeg_version: Some(4),
            profile: None,
        };
        assert!(aac.is_aac());
        let mp3 = Codec {
            mpeg_version: Some(1),
            ..aac
        };
        assert!(!mp3.is_aac());
    }
}
