//! The conversion to what WhatsApp plays: H.264 + AAC in an MP4 with its index first.
//!
//! ```text
//! appsrc ! decodebin
//!   video ! queue ! videoconvert ! videoflip (auto: upright) ! videoscale ! capsfilter (I420, output size, square pixels)
//!         ! x264enc ! capsfilter (profile high) ! h264parse ! queue ! mp4mux
//!   first audio ! queue ! audioconvert ! audioresample ! capsfilter (<= 2 ch, 44.1/48 kHz)
//!         ! avenc_aac ! aacparse ! queue ! mp4mux
//!   anything else ! fakesink
//! mp4mux (faststart) ! appsink (sync=false, collects the bytes)
//! ```
//!
//! A remux (H.264/AAC already, only the container is wrong) stops decodebin at the encoded
//! streams (its `caps` property) and links them through their parsers to the same muxer:
//! nothing is decoded or encoded again.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::elements::{
    OUTPUT_SIDE, add_chain, capsfilter, discard_pad, make, make_unnamed, set, set_enum,
    set_if_present,
};
use super::error::VideoError;
use super::run::{
    Deadline, Exposed, MSG_LINK_FAILED, MSG_NO_VIDEO, NullOnDrop, Until, post, post_too_long,
    start_failure, wait,
};
use super::source::{SharedBytes, byte_source};

/// What the conversion does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Decode and encode again, the picture scaled to `width` x `height` (even sides).
    Transcode { width: u32, height: u32 },
    /// Copy the H.264 and AAC streams into a new MP4.
    Remux,
}

/// How, and within what.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// x264's `speed-preset` nick.
    pub speed_preset: String,
    pub deadline: Instant,
    /// What the deadline was, for the error's text.
    pub timeout_seconds: u64,
    /// The container's duration: an output that ends well before it means the input was
    /// cut short (demuxers play what is there).
    pub expected: Option<Duration>,
    pub max_duration: Duration,
}

/// x264's constant quality: 23 is ffmpeg's libx264 default CRF, a good picture at a size
/// WhatsApp's own clients also send.
const QUALITY: u32 = 23;
/// Buffered time before the muxer: x264's lookahead holds video back, and audio must wait
/// for it without stalling the demuxer.
const MUX_QUEUE_TIME: Duration = Duration::from_secs(10);

/// State shared with the streaming threads.
#[derive(Default)]
struct State {
    any_pad: AtomicBool,
    video_linked: AtomicBool,
    audio_linked: AtomicBool,
    /// The end of the latest video or audio buffer that reached the encoders, in ns.
    reached_ns: AtomicU64,
    output: Mutex<Output>,
}

/// The muxer's output, written where its byte segments say.
#[derive(Default)]
struct Output {
    bytes: Vec<u8>,
    position: usize,
    segment_start: Option<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn convert(
    input: &SharedBytes,
    mode: Mode,
    settings: &Settings,
) -> Result<Vec<u8>, VideoError> {
    let state = Arc::new(State::default());
    let pipeline = gst::Pipeline::new();
    let guard = NullOnDrop(pipeline.clone());
    let source = byte_source(input);
    let decodebin = make("decodebin", "wuts-convert-decodebin")?;
    if mode == Mode::Remux {
        let encoded: gst::Caps = "video/x-h264; audio/mpeg"
            .parse()
            .map_err(|_| VideoError::Internal("bad caps".to_string()))?;
        set(&decodebin, "caps", encoded.to_value())?;
    }
    let mux = make("mp4mux", &format!("{OUTPUT_SIDE}mp4mux"))?;
    // The index before the media: a player can start before the whole file is there.
    set(&mux, "faststart", true.to_value())?;
    let sink = byte_sink(&state);
    pipeline
        .add_many([source.upcast_ref(), &decodebin, &mux, sink.upcast_ref()])
        .map_err(|_| VideoError::Internal("could not assemble the conversion".to_string()))?;
    source
        .link(&decodebin)
        .map_err(|_| VideoError::Internal("could not link the source".to_string()))?;
    mux.link(&sink)
        .map_err(|_| VideoError::Internal("could not link the muxer".to_string()))?;
    link_pads(&decodebin, &pipeline, &mux, &state, mode, settings);

    let exposed = Exposed {
        any: &state.any_pad,
        video: &state.video_linked,
    };
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(start_failure(&pipeline, &exposed));
    }
    wait(
        &pipeline,
        Until::End,
        &exposed,
        Deadline {
            at: settings.deadline,
            error: VideoError::Timeout {
                seconds: settings.timeout_seconds,
            },
        },
    )?;
    drop(guard);
    if !state.video_linked.load(Ordering::SeqCst) {
        return Err(VideoError::NoStream);
    }
    check_whole(
        Duration::from_nanos(state.reached_ns.load(Ordering::SeqCst)),
        settings.expected,
    )?;
    let output = std::mem::take(&mut lock(&state.output).bytes);
    if output.is_empty() {
        return Err(VideoError::Corrupt(
            "no frame of the video could be decoded".to_string(),
        ));
    }
    Ok(output)
}

/// Refuses an output that ends well before the container's stated duration: a file cut
/// short (a truncated WebM) decodes up to the cut and ends without an error.
pub(crate) fn check_whole(reached: Duration, expected: Option<Duration>) -> Result<(), VideoError> {
    let Some(expected) = expected else {
        return Ok(());
    };
    // Tracks of one file end a little apart (encoder delay, priming): far less than this.
    let slack = (expected.as_secs_f64() * 0.02).max(0.5);
    if reached.as_secs_f64() + slack < expected.as_secs_f64() {
        return Err(VideoError::Corrupt(format!(
            "the file is truncated: {:.1} s of {:.1} s could be read",
            reached.as_secs_f64(),
            expected.as_secs_f64()
        )));
    }
    Ok(())
}

fn link_pads(
    decodebin: &gst::Element,
    pipeline: &gst::Pipeline,
    mux: &gst::Element,
    state: &Arc<State>,
    mode: Mode,
    settings: &Settings,
) {
    let bin = pipeline.downgrade();
    let mux = mux.downgrade();
    let on_pad = Arc::clone(state);
    let settings = settings.clone();
    decodebin.connect_pad_added(move |element, pad| {
        on_pad.any_pad.store(true, Ordering::SeqCst);
        let (Some(pipeline), Some(mux)) = (bin.upgrade(), mux.upgrade()) else {
            return;
        };
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let name = caps
            .structure(0)
            .map(|structure| structure.name().to_string())
            .unwrap_or_default();
        let (video_caps, audio_caps) = match mode {
            Mode::Transcode { .. } => ("video/x-raw", "audio/x-raw"),
            Mode::Remux => ("video/x-h264", "audio/mpeg"),
        };
        let branch = if name == video_caps && !on_pad.video_linked.swap(true, Ordering::SeqCst) {
            Some(video_branch(mode, &settings))
        } else if name == audio_caps && !on_pad.audio_linked.swap(true, Ordering::SeqCst) {
            Some(audio_branch(mode))
        } else {
            None
        };
        let linked = match branch {
            Some(Ok(branch)) => {
                watch_progress(pad, &on_pad, settings.max_duration);
                link_branch(pipeline.upcast_ref(), pad, branch, &mux)
            }
            Some(Err(error)) => Err(error),
            None => discard_pad(pipeline.upcast_ref(), pad),
        };
        if let Err(error) = linked {
            post(element, MSG_LINK_FAILED, &error.reason());
        }
    });
    let on_done = Arc::clone(state);
    decodebin.connect_no_more_pads(move |element| {
        if !on_done.video_linked.load(Ordering::SeqCst) {
            post(element, MSG_NO_VIDEO, "the file has no video stream");
        }
    });
}

fn link_branch(
    pipeline: &gst::Bin,
    pad: &gst::Pad,
    branch: Vec<gst::Element>,
    mux: &gst::Element,
) -> Result<(), VideoError> {
    add_chain(pipeline, &branch)?;
    let (Some(first), Some(last)) = (branch.first(), branch.last()) else {
        return Err(VideoError::Internal("an empty branch".to_string()));
    };
    last.link(mux)
        .map_err(|_| VideoError::Internal("could not link a stream to the muxer".to_string()))?;
    let sink_pad = first
        .static_pad("sink")
        .ok_or_else(|| VideoError::Internal("a branch without a sink pad".to_string()))?;
    pad.link(&sink_pad)
        .map(|_| ())
        .map_err(|_| VideoError::Internal("could not link a decoded stream".to_string()))
}

/// Notes how far the streams got, and stops the run once past the length cap (a file
/// whose container states no duration is only measured here).
fn watch_progress(pad: &gst::Pad, state: &Arc<State>, max_duration: Duration) {
    let state = Arc::clone(state);
    let max_ns = u64::try_from(max_duration.as_nanos()).unwrap_or(u64::MAX);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let Some(start) = buffer.pts() else {
            return gst::PadProbeReturn::Ok;
        };
        let end = start.nseconds() + buffer.duration().map_or(0, |duration| duration.nseconds());
        state.reached_ns.fetch_max(end, Ordering::SeqCst);
        if end > max_ns {
            if let Some(element) = pad.parent_element() {
                post_too_long(&element, end as f64 / 1e9, max_duration.as_secs());
            }
            return gst::PadProbeReturn::Drop;
        }
        gst::PadProbeReturn::Ok
    });
}

/// A queue that holds up to [`MUX_QUEUE_TIME`] whatever the number or size of buffers.
fn long_queue(prefix: &str) -> Result<gst::Element, VideoError> {
    let queue = make_unnamed("queue", prefix)?;
    set(&queue, "max-size-buffers", 0u32.to_value())?;
    set(&queue, "max-size-bytes", 0u32.to_value())?;
    set(
        &queue,
        "max-size-time",
        (MUX_QUEUE_TIME.as_nanos() as u64).to_value(),
    )?;
    Ok(queue)
}

fn video_branch(mode: Mode, settings: &Settings) -> Result<Vec<gst::Element>, VideoError> {
    let Mode::Transcode { width, height } = mode else {
        return Ok(vec![
            make_unnamed("queue", "wuts-remux-")?,
            make_unnamed("h264parse", "wuts-remux-")?,
            long_queue(OUTPUT_SIDE)?,
        ]);
    };
    let queue = make_unnamed("queue", "wuts-convert-")?;
    let convert = make_unnamed("videoconvert", "wuts-convert-")?;
    // 0 = one thread per core: conversion of large frames is not single-threaded.
    set_if_present(&convert, "n-threads", 0u32.to_value());
    // Turns the frames upright by the stream's orientation tag (a phone's portrait video
    // is landscape frames and a rotation): the output carries no rotation, and `width`
    // and `height` (from the probe) are already the upright picture's.
    let flip = make_unnamed("videoflip", "wuts-convert-")?;
    set_enum(&flip, "video-direction", "auto")?;
    let scale = make_unnamed("videoscale", "wuts-convert-")?;
    let raw = gst::Caps::builder("video/x-raw")
        .field("format", "I420")
        .field("width", width as i32)
        .field("height", height as i32)
        .field("pixel-aspect-ratio", gst::Fraction::new(1, 1))
        .build();
    let raw_filter = capsfilter(&raw, "wuts-convert-")?;
    let encoder = make_unnamed("x264enc", OUTPUT_SIDE)?;
    set_enum(&encoder, "pass", "qual")?;
    set(&encoder, "quantizer", QUALITY.to_value())?;
    set_enum(&encoder, "speed-preset", &settings.speed_preset)?;
    set(&encoder, "threads", 0u32.to_value())?;
    // No VBV: in `pass=qual` x264enc also caps the rate at its `bitrate` (2 Mbit/s by
    // default) through a VBV buffer of `vbv-buf-capacity` ms. A buffer of 0 turns the cap
    // off, so x264 gets the options of ffmpeg's `-crf 23` (the same option string in the
    // output's SEI): CRF alone decides the quality, and a busy 1280 px scene is not
    // squeezed into 2 Mbit/s.
    set(&encoder, "vbv-buf-capacity", 0u32.to_value())?;
    let profile = gst::Caps::builder("video/x-h264")
        .field("profile", "high")
        .build();
    let profile_filter = capsfilter(&profile, OUTPUT_SIDE)?;
    let parse = make_unnamed("h264parse", OUTPUT_SIDE)?;
    Ok(vec![
        queue,
        convert,
        flip,
        scale,
        raw_filter,
        encoder,
        profile_filter,
        parse,
        long_queue(OUTPUT_SIDE)?,
    ])
}

fn audio_branch(mode: Mode) -> Result<Vec<gst::Element>, VideoError> {
    if mode == Mode::Remux {
        return Ok(vec![
            make_unnamed("queue", "wuts-remux-")?,
            make_unnamed("aacparse", "wuts-remux-")?,
            long_queue(OUTPUT_SIDE)?,
        ]);
    }
    let raw = gst::Caps::builder("audio/x-raw")
        .field("channels", gst::IntRange::new(1, 2))
        .field("rate", gst::List::new([48_000i32, 44_100i32]))
        .build();
    Ok(vec![
        long_queue("wuts-convert-")?,
        make_unnamed("audioconvert", "wuts-convert-")?,
        make_unnamed("audioresample", "wuts-convert-")?,
        capsfilter(&raw, "wuts-convert-")?,
        make_unnamed("avenc_aac", OUTPUT_SIDE)?,
        make_unnamed("aacparse", OUTPUT_SIDE)?,
        long_queue(OUTPUT_SIDE)?,
    ])
}

/// An appsink that writes the muxer's bytes where its byte segments place them: a muxer
/// may go back to fill in a size (`sync=false`, or the pipeline would run in real time).
fn byte_sink(state: &Arc<State>) -> gst_app::AppSink {
    let state = Arc::clone(state);
    let callbacks = gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            let start = sample
                .segment()
                .and_then(|segment| segment.downcast_ref::<gst::format::Bytes>())
                .and_then(|segment| segment.start())
                .map(|start| *start);
            let mut output = lock(&state.output);
            if start.is_some() && start != output.segment_start {
                output.segment_start = start;
                output.position = start.and_then(|s| usize::try_from(s).ok()).unwrap_or(0);
            }
            write_at(&mut output, map.as_slice())
        })
        .build();
    gst_app::AppSink::builder()
        .name(format!("{OUTPUT_SIDE}appsink"))
        .sync(false)
        .callbacks(callbacks)
        .build()
}

/// Writes `data` at the output's position, over what is there or after it; a position
/// past the end would leave a hole, which no muxer makes.
fn write_at(output: &mut Output, data: &[u8]) -> Result<gst::FlowSuccess, gst::FlowError> {
    let at = output.position;
    if at > output.bytes.len() {
        return Err(gst::FlowError::Error);
    }
    let overlap = (output.bytes.len() - at).min(data.len());
    output.bytes[at..at + overlap].copy_from_slice(&data[..overlap]);
    output.bytes.extend_from_slice(&data[overlap..]);
    output.position = at + data.len();
    Ok(gst::FlowSuccess::Ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_output_is_written_where_the_segments_say() {
        let mut output = Output::default();
        write_at(&mut output, b"hello world").unwrap();
        output.position = 6;
        write_at(&mut output, b"there, friend").unwrap();
        assert_eq!(output.bytes, b"hello there, friend");
        output.position = 100;
        assert!(write_at(&mut output, b"x").is_err());
    }

    #[test]
    fn an_output_that_ends_early_is_a_truncated_input() {
        let seconds = Duration::from_secs_f64;
        assert!(check_whole(seconds(2.0), Some(seconds(2.02))).is_ok());
        assert!(check_whole(seconds(1.0), None).is_ok());
        assert!(matches!(
            check_whole(seconds(1.0), Some(seconds(2.0))),
            Err(VideoError::Corrupt(_))
        ));
    }
}
