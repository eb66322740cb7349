//! Running a pipeline safely: a bus wait under a deadline, a teardown to Null on every way
//! out (with a deadline of its own), and what a GStreamer error says about the input.
//! The same shape as plugins/audio/src/codec/pipeline.rs, which met each of these first.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;

use super::elements::OUTPUT_SIDE;
use super::error::VideoError;

/// Application messages our callbacks post on the bus to stop the wait.
pub(crate) const MSG_NO_VIDEO: &str = "wuts-video-no-stream";
pub(crate) const MSG_TOO_LARGE: &str = "wuts-video-too-large";
pub(crate) const MSG_LINK_FAILED: &str = "wuts-video-link-failed";
pub(crate) const MSG_NO_DECODER: &str = "wuts-video-no-decoder";
pub(crate) const MSG_TOO_LONG: &str = "wuts-video-too-long";

/// How long setting a pipeline to Null may take before the call goes on without waiting.
const TEARDOWN_DEADLINE: Duration = Duration::from_secs(5);
/// Longest wait for decodebin to expose any stream: real files take milliseconds, and
/// decodebin drops the error of a demuxer it is still trying, then does nothing more.
const NO_STREAM_WAIT: Duration = Duration::from_secs(5);
/// How often the wait above is checked.
const STREAMLESS_POLL: Duration = Duration::from_millis(100);

/// Sets the pipeline to Null when dropped, whichever way the run returns.
pub(crate) struct NullOnDrop(pub gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        stop_within(&self.0, TEARDOWN_DEADLINE);
    }
}

/// Sets `pipeline` to Null on a thread of its own and waits for it up to `deadline`: Null
/// waits for every streaming thread to leave its element, so a stuck element would hold
/// the caller for ever. Whether the teardown finished in time.
pub(crate) fn stop_within(pipeline: &gst::Pipeline, deadline: Duration) -> bool {
    let (done, finished) = std::sync::mpsc::channel();
    let stopping = pipeline.clone();
    let spawned = std::thread::Builder::new()
        .name("wuts-video-teardown".into())
        .spawn(move || {
            let _ = stopping.set_state(gst::State::Null);
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => finished.recv_timeout(deadline).is_ok(),
        // No thread to spare: tear down here rather than leave the pipeline running.
        Err(_) => pipeline.set_state(gst::State::Null).is_ok(),
    }
}

/// Posts one of our application messages, with a short English reason.
pub(crate) fn post(element: &gst::Element, name: &str, reason: &str) {
    post_structure(
        element,
        gst::Structure::builder(name)
            .field("reason", reason)
            .build(),
    );
}

/// Posts [`MSG_TOO_LONG`]: decoding went past the length cap.
pub(crate) fn post_too_long(element: &gst::Element, seconds: f64, max_seconds: u64) {
    post_structure(
        element,
        gst::Structure::builder(MSG_TOO_LONG)
            .field("seconds", seconds)
            .field("max_seconds", max_seconds)
            .build(),
    );
}

fn post_structure(element: &gst::Element, structure: gst::Structure) {
    let message = gst::message::Application::builder(structure)
        .src(element)
        .build();
    let _ = element.post_message(message);
}

/// What the wait waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Until {
    /// ASYNC_DONE of the pipeline: every sink has a frame (or the stream ended).
    Preroll,
    /// End of stream.
    End,
}

/// The run's deadline, and what passing it means.
pub(crate) struct Deadline {
    pub at: Instant,
    pub error: VideoError,
}

/// Streams decodebin has exposed so far, as the callbacks record them.
pub(crate) struct Exposed<'a> {
    /// Any pad at all.
    pub any: &'a AtomicBool,
    /// A decoded (or, when remuxing, parsed) video pad.
    pub video: &'a AtomicBool,
}

/// Waits for `until`, an error, one of our messages, or the deadline.
pub(crate) fn wait(
    pipeline: &gst::Pipeline,
    until: Until,
    exposed: &Exposed<'_>,
    deadline: Deadline,
) -> Result<(), VideoError> {
    use gst::MessageView;
    let bus = pipeline
        .bus()
        .ok_or_else(|| VideoError::Internal("the pipeline has no bus".to_string()))?;
    let watched = [
        gst::MessageType::Eos,
        gst::MessageType::Error,
        gst::MessageType::Application,
        gst::MessageType::AsyncDone,
    ];
    let started = Instant::now();
    loop {
        let remaining = deadline.at.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(deadline.error);
        }
        let streamless = !exposed.any.load(Ordering::SeqCst);
        if streamless && started.elapsed() >= NO_STREAM_WAIT {
            return Err(VideoError::Corrupt(
                "the file could not be demuxed: no stream was found in it".to_string(),
            ));
        }
        let wait = if streamless {
            remaining.min(STREAMLESS_POLL)
        } else {
            remaining
        };
        let timeout =
            gst::ClockTime::from_nseconds(wait.as_nanos().min(u128::from(u64::MAX)) as u64);
        let Some(message) = bus.timed_pop_filtered(timeout, &watched) else {
            continue;
        };
        match message.view() {
            MessageView::AsyncDone(_) if until == Until::Preroll => {
                let from_pipeline = message
                    .src()
                    .is_some_and(|src| src == pipeline.upcast_ref::<gst::Object>());
                if from_pipeline {
                    return Ok(());
                }
            }
            MessageView::Eos(_) => return Ok(()),
            MessageView::Error(error) => return Err(classify(error, exposed)),
            MessageView::Application(application) => {
                let Some(structure) = application.structure() else {
                    continue;
                };
                let reason = structure.get::<String>("reason").unwrap_or_default();
                match structure.name().as_str() {
                    MSG_NO_VIDEO => return Err(VideoError::NoStream),
                    MSG_TOO_LARGE => return Err(VideoError::TooLarge(reason)),
                    MSG_LINK_FAILED => return Err(VideoError::Internal(reason)),
                    MSG_NO_DECODER => return Err(VideoError::Unsupported(reason)),
                    MSG_TOO_LONG => {
                        return Err(VideoError::TooLong {
                            seconds: structure.get::<f64>("seconds").unwrap_or_default(),
                            max_seconds: structure.get::<u64>("max_seconds").unwrap_or_default(),
                        });
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// Why `set_state` failed, from the error it posted (if any).
pub(crate) fn start_failure(pipeline: &gst::Pipeline, exposed: &Exposed<'_>) -> VideoError {
    let error = pipeline
        .bus()
        .and_then(|bus| bus.timed_pop_filtered(gst::ClockTime::ZERO, &[gst::MessageType::Error]));
    match error.as_ref().map(|message| message.view()) {
        Some(gst::MessageView::Error(error)) => classify(error, exposed),
        _ => VideoError::Internal("the pipeline could not start".to_string()),
    }
}

/// What a GStreamer error says: about the input (400) unless it came from the output side.
/// The error's own short message is kept; its debug text (element paths) is not.
fn classify(error: &gst::message::Error, exposed: &Exposed<'_>) -> VideoError {
    let glib_error = error.error();
    let text = glib_error.message().trim_end_matches('.').to_string();
    let from_output_side = error
        .src()
        .is_some_and(|src| src.name().starts_with(OUTPUT_SIDE));
    if from_output_side {
        return VideoError::Internal(format!("encoding failed: {text}"));
    }
    if let Some(kind) = glib_error.kind::<gst::StreamError>() {
        return match kind {
            gst::StreamError::TypeNotFound | gst::StreamError::WrongType => {
                VideoError::Unsupported("the data is not a recognised video format".to_string())
            }
            gst::StreamError::CodecNotFound => {
                VideoError::Unsupported("no decoder is installed for this video codec".to_string())
            }
            gst::StreamError::Failed
                if !exposed.video.load(Ordering::SeqCst)
                    && error
                        .debug()
                        .is_some_and(|debug| debug.contains("not-linked")) =>
            {
                VideoError::NoStream
            }
            _ => VideoError::Corrupt(format!("the video could not be read: {text}")),
        };
    }
    if glib_error.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
        return VideoError::Unsupported("no decoder is installed for this video codec".to_string());
    }
    VideoError::Corrupt(format!("the video could not be read: {text}"))
}
