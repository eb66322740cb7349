//! Runs one GStreamer pipeline: input bytes -> decoded mono PCM -> Opus in Ogg, with sample count and waveform.
//!
//! ```text
//! appsrc (random access over one in-memory buffer)
//!  ! decodebin (video/image decoders are never plugged: their pads are exposed and left unlinked)
//!  ! audioconvert ! audioresample ! capsfilter (S16LE, mono, profile rate)
//!      [probe: counts samples, feeds the waveform, trims codec padding, stops at the length cap]
//!  ! queue (the encoder runs on a thread of its own)
//!  ! opusenc ! oggmux ! appsink (sync=false, collects the bytes)
//! ```
//!
//! Every run has a deadline, and the pipeline is set to Null on every way out (drop guard),
//! so no streaming thread outlives the call; the teardown has a deadline too, so a stuck
//! element cannot hold the caller.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::glib;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use super::error::AudioError;
use super::profile::Profile;
use super::waveform::WaveformAccumulator;

/// Application messages our callbacks post on the bus to stop the run loop.
const MSG_NO_AUDIO: &str = "wuts-audio-no-stream";
const MSG_TOO_LONG: &str = "wuts-audio-too-long";
const MSG_LINK_FAILED: &str = "wuts-audio-link-failed";

/// Longest wait for the demuxer to expose any stream; real files take milliseconds.
const NO_STREAM_WAIT: Duration = Duration::from_secs(10);
/// How often the wait above is checked.
const STREAMLESS_POLL: Duration = Duration::from_millis(250);

/// Longest a parser's first buffer waits for decodebin to expose the parser's pad (see
/// [`hold_parsers_until_exposed`]); it takes microseconds.
const EXPOSE_WAIT: Duration = Duration::from_secs(5);

/// Parsers that read the file in a task of their own (pull mode) and push their first
/// buffer as soon as they have read the header.
const PULL_MODE_PARSERS: [&str; 2] = ["aiffparse", "wavparse"];

/// Names of the elements after the decoder; errors there are ours, not the input's.
const ENCODER_SIDE: [&str; 4] = [
    "wuts-encoder-queue",
    "wuts-opusenc",
    "wuts-oggmux",
    "wuts-appsink",
];

/// Encoder choices that are configuration rather than output format.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EncoderSettings {
    /// libopus complexity, 0 to 10.
    pub complexity: u8,
}

/// Limits of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Stop with TooLong once more samples than this (at the profile rate) were decoded.
    pub max_samples: u64,
    pub max_seconds: u64,
    pub deadline: Instant,
}

/// Which decoded samples (at the profile rate) are real audio; the rest is codec padding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SampleWindow {
    /// Leading samples to drop.
    pub skip: u64,
    /// Samples to keep after those (None: all).
    pub keep: Option<u64>,
}

/// What a successful run produced.
#[derive(Debug)]
pub(crate) struct Encoded {
    pub ogg: Vec<u8>,
    /// Decoded samples at the profile rate (exact duration, independent of container metadata).
    pub samples: u64,
    pub waveform: Vec<u8>,
    /// Whether the input had a video (or image) stream, which was not decoded.
    pub has_video: bool,
    /// Duration the demuxer/parser declared for the audio stream, if it knew one.
    pub declared: Option<gst::ClockTime>,
}

/// How long setting a pipeline to Null may take before the call goes on without waiting.
const TEARDOWN_DEADLINE: Duration = Duration::from_secs(5);

/// Sets the pipeline to Null when dropped, whichever way `run` returns.
struct NullOnDrop(gst::Pipeline);

impl Drop for NullOnDrop {
    fn drop(&mut self) {
        stop_within(&self.0, TEARDOWN_DEADLINE);
    }
}

/// Sets `pipeline` to Null on a thread of its own and waits for it up to `deadline`.
/// Null waits for every streaming thread to leave its element, so an element stuck in a
/// loop would hold the caller, and its transcode slot, for ever; past the deadline the
/// teardown goes on alone and the caller returns. Whether it finished in time.
fn stop_within(pipeline: &gst::Pipeline, deadline: Duration) -> bool {
    let (done, finished) = std::sync::mpsc::channel();
    let stopping = pipeline.clone();
    let spawned = std::thread::Builder::new()
        .name("wuts-audio-teardown".into())
        .spawn(move || {
            // Nothing useful can be done if teardown fails; the pipeline is dropped either way.
            let _ = stopping.set_state(gst::State::Null);
            let _ = done.send(());
        });
    match spawned {
        Ok(_) => finished.recv_timeout(deadline).is_ok(),
        // No thread to spare: tear down here rather than leave the pipeline running.
        Err(_) => pipeline.set_state(gst::State::Null).is_ok(),
    }
}

/// State shared with the streaming threads.
#[derive(Default)]
struct Shared {
    audio_linked: AtomicBool,
    has_video: AtomicBool,
    counter: Mutex<Option<Counter>>,
    output: Mutex<Vec<u8>>,
    /// Whether decodebin has exposed its pads (or the run is over): what a parser's first
    /// buffer waits for.
    exposed: Mutex<bool>,
    exposed_changed: Condvar,
}

impl Shared {
    fn set_exposed(&self) {
        *lock(&self.exposed) = true;
        self.exposed_changed.notify_all();
    }
}

/// Releases every parser still waiting for decodebin when the run ends, whichever way, so
/// that none holds the teardown.
struct ReleaseParsers(Arc<Shared>);

impl Drop for ReleaseParsers {
    fn drop(&mut self) {
        self.0.set_exposed();
    }
}

/// Sample bookkeeping of the probe.
struct Counter {
    /// Kept samples: their count is the duration, their amplitude the waveform.
    kept: WaveformAccumulator,
    /// Samples seen, kept or not.
    position: u64,
    window: SampleWindow,
}

/// Locks even if a streaming thread panicked while holding the lock (the data stays usable).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Decodes `input` and encodes it with `profile`. Blocks until done, failed, or the deadline.
pub(crate) fn run(
    input: &[u8],
    profile: &Profile,
    settings: EncoderSettings,
    limits: &Limits,
    window: SampleWindow,
) -> Result<Encoded, AudioError> {
    let shared = Arc::new(Shared {
        counter: Mutex::new(Some(Counter {
            // 10 ms buckets keep the waveform memory small for long clips.
            kept: WaveformAccumulator::new(u64::from(profile.rate / 100)),
            position: 0,
            window,
        })),
        ..Shared::default()
    });
    let pipeline = gst::Pipeline::new();
    let guard = NullOnDrop(pipeline.clone());
    // Declared after `guard`, so dropped before it: waiting parsers go on before teardown.
    let _release = ReleaseParsers(Arc::clone(&shared));

    let source = byte_source(input)?;
    let decodebin = make("decodebin", "wuts-decodebin")?;
    let convert = make("audioconvert", "wuts-audioconvert")?;
    let resample = make("audioresample", "wuts-audioresample")?;
    let capsfilter = make("capsfilter", "wuts-capsfilter")?;
    // Decoding and encoding each get a thread: the Opus encoder is the costliest stage,
    // and one clip then uses two cores instead of one (the transcode limiter still caps
    // how many run at once).
    let encoder_queue = make("queue", "wuts-encoder-queue")?;
    let encoder = make("opusenc", "wuts-opusenc")?;
    let mux = make("oggmux", "wuts-oggmux")?;
    let sink = byte_sink(&shared);

    let caps = gst::Caps::builder("audio/x-raw")
        .field("format", "S16LE")
        .field("rate", profile.rate as i32)
        .field("channels", 1i32)
        .field("layout", "interleaved")
        .build();
    set_property(&capsfilter, "caps", caps.to_value())?;
    configure_conversion(&convert, &resample)?;
    configure_encoder(&encoder, profile, settings)?;

    pipeline
        .add_many([
            source.upcast_ref(),
            &decodebin,
            &convert,
            &resample,
            &capsfilter,
            &encoder_queue,
            &encoder,
            &mux,
            sink.upcast_ref(),
        ])
        .map_err(|err| internal("assembling the pipeline", err))?;
    source
        .link(&decodebin)
        .map_err(|err| internal("linking the source", err))?;
    gst::Element::link_many([
        &convert,
        &resample,
        &capsfilter,
        &encoder_queue,
        &encoder,
        &mux,
        sink.upcast_ref(),
    ])
    .map_err(|err| internal("linking the encoder chain", err))?;

    skip_video_decoders(&decodebin);
    hold_parsers_until_exposed(&decodebin, &shared);
    link_first_audio_pad(&decodebin, &convert, &shared);
    let probe_pad = capsfilter
        .static_pad("src")
        .ok_or_else(|| AudioError::Internal("capsfilter has no src pad".to_string()))?;
    count_samples(&probe_pad, &shared, limits.max_samples);

    let bus = pipeline
        .bus()
        .ok_or_else(|| AudioError::Internal("pipeline has no bus".to_string()))?;
    if pipeline.set_state(gst::State::Playing).is_err() {
        return Err(start_failure(&bus));
    }
    wait_for_end(&bus, &convert, &shared, profile, limits)?;
    let declared = declared_duration(&convert);
    drop(guard);

    if !shared.audio_linked.load(Ordering::SeqCst) {
        return Err(AudioError::NoStream);
    }
    let (samples, waveform) = match lock(&shared.counter).take() {
        Some(counter) => (counter.kept.total_samples(), counter.kept.finish()),
        None => (0, Vec::new()),
    };
    if samples == 0 {
        return Err(AudioError::Empty);
    }
    let ogg = std::mem::take(&mut *lock(&shared.output));
    Ok(Encoded {
        ogg,
        samples,
        waveform,
        has_video: shared.has_video.load(Ordering::SeqCst),
        declared,
    })
}

/// The duration upstream of the decoded audio pad (parser or demuxer), asked while the
/// pipeline still runs.
fn declared_duration(convert: &gst::Element) -> Option<gst::ClockTime> {
    convert
        .static_pad("sink")?
        .peer_query_duration::<gst::ClockTime>()
}

fn internal(what: &str, err: impl std::fmt::Display) -> AudioError {
    AudioError::Internal(format!("{what}: {err}"))
}

fn make(factory: &str, name: &str) -> Result<gst::Element, AudioError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| {
            AudioError::Internal(format!(
                "GStreamer element '{factory}' is not available (GStreamer plugins missing?)"
            ))
        })
}

/// Sets a property after checking it exists with the value's type, since gstreamer-rs
/// panics on a mismatch and plugin versions differ between systems.
fn set_property(element: &gst::Element, name: &str, value: glib::Value) -> Result<(), AudioError> {
    let pspec = element.find_property(name).ok_or_else(|| {
        AudioError::Internal(format!("{} has no property '{name}'", element.name()))
    })?;
    if !value.type_().is_a(pspec.value_type()) {
        return Err(AudioError::Internal(format!(
            "{} property '{name}' is not of type {}",
            element.name(),
            value.type_()
        )));
    }
    element.set_property_from_value(name, &value);
    Ok(())
}

/// Sets an enum property by its nick ("voice", "wideband", "20", ...).
fn set_enum(element: &gst::Element, name: &str, nick: &str) -> Result<(), AudioError> {
    let value = element
        .find_property(name)
        .and_then(|pspec| glib::EnumClass::with_type(pspec.value_type()))
        .and_then(|class| class.to_value_by_nick(nick))
        .ok_or_else(|| {
            AudioError::Internal(format!(
                "{} property '{name}' has no value '{nick}'",
                element.name()
            ))
        })?;
    set_property(element, name, value)
}

/// Conversion at the cost and quality of ffmpeg's defaults (the reference the benchmark
/// measures against): no dither on the way to 16 bits (libopus codes far below that
/// noise floor), and a 48-tap resampling filter (ffmpeg: 32) instead of GStreamer's
/// default 64.
fn configure_conversion(convert: &gst::Element, resample: &gst::Element) -> Result<(), AudioError> {
    set_enum(convert, "dithering", "none")?;
    set_property(resample, "quality", 3i32.to_value())
}

fn configure_encoder(
    encoder: &gst::Element,
    profile: &Profile,
    settings: EncoderSettings,
) -> Result<(), AudioError> {
    set_property(encoder, "bitrate", profile.bitrate.to_value())?;
    set_property(
        encoder,
        "complexity",
        i32::from(settings.complexity).to_value(),
    )?;
    set_enum(encoder, "bitrate-type", "vbr")?;
    set_enum(encoder, "audio-type", profile.audio_type)?;
    set_enum(encoder, "bandwidth", profile.bandwidth)?;
    set_enum(encoder, "frame-size", profile.frame_size)?;
    // Keep only the encoder's own (empty) tag list: titles, artists or comments of the input
    // never reach OpusTags.
    if let Some(setter) = encoder.dynamic_cast_ref::<gst::TagSetter>() {
        setter.set_tag_merge_mode(gst::TagMergeMode::KeepAll);
    }
    Ok(())
}

/// An appsrc serving the input in random-access (pull) mode, so demuxers can seek (an MP4
/// whose index is at the end needs that). All reads are zero-copy slices of one buffer.
fn byte_source(input: &[u8]) -> Result<gst_app::AppSrc, AudioError> {
    let size = input.len() as u64;
    let data = gst::Buffer::from_slice(input.to_vec());
    let position = Arc::new(AtomicU64::new(0));
    let seek_position = Arc::clone(&position);
    let callbacks = gst_app::AppSrcCallbacks::builder()
        .need_data(move |src, length| {
            let start = position.load(Ordering::SeqCst);
            if start >= size {
                let _ = src.end_of_stream();
                return;
            }
            // u32::MAX means "any size"; serve the rest in one zero-copy slice.
            let wanted = if length == 0 { 4096 } else { u64::from(length) };
            let end = start.saturating_add(wanted).min(size);
            match data.copy_region(
                gst::BufferCopyFlags::MEMORY,
                (start as usize)..(end as usize),
            ) {
                Ok(mut slice) => {
                    if let Some(slice) = slice.get_mut() {
                        slice.set_offset(start);
                        slice.set_offset_end(end);
                    }
                    position.store(end, Ordering::SeqCst);
                    let _ = src.push_buffer(slice);
                }
                Err(_) => {
                    let _ = src.end_of_stream();
                }
            }
        })
        .seek_data(move |_, offset| {
            if offset > size {
                return false;
            }
            seek_position.store(offset, Ordering::SeqCst);
            true
        })
        .build();
    Ok(gst_app::AppSrc::builder()
        .name("wuts-appsrc")
        .format(gst::Format::Bytes)
        .stream_type(gst_app::AppStreamType::RandomAccess)
        .size(i64::try_from(size).unwrap_or(i64::MAX))
        .callbacks(callbacks)
        .build())
}

/// An appsink that appends every Ogg page to `shared.output`. `sync=false`, or the pipeline
/// would run in real time.
fn byte_sink(shared: &Arc<Shared>) -> gst_app::AppSink {
    let shared = Arc::clone(shared);
    let callbacks = gst_app::AppSinkCallbacks::builder()
        .new_sample(move |sink| {
            let sample = sink.pull_sample().map_err(|_| gst::FlowError::Eos)?;
            let buffer = sample.buffer().ok_or(gst::FlowError::Error)?;
            let map = buffer.map_readable().map_err(|_| gst::FlowError::Error)?;
            lock(&shared.output).extend_from_slice(map.as_slice());
            Ok(gst::FlowSuccess::Ok)
        })
        .build();
    gst_app::AppSink::builder()
        .name("wuts-appsink")
        .sync(false)
        .callbacks(callbacks)
        .build()
}

/// Makes decodebin expose (not decode) video and image streams: decoding H.264 only to throw
/// it away would cost far more than the audio. (Filtering by caps in autoplug-continue does
/// not work: MP4/Matroska containers themselves have video/... caps.)
fn skip_video_decoders(decodebin: &gst::Element) {
    // The enum type is registered by decodebin's class, so it exists once an instance does.
    let Some(class) =
        glib::Type::from_name("GstAutoplugSelectResult").and_then(glib::EnumClass::with_type)
    else {
        return;
    };
    // Values (not glib::Value, which is not Send) checked here, so the handler can rebuild them.
    let (Some(try_it), Some(expose)) = (class.value_by_nick("try"), class.value_by_nick("expose"))
    else {
        return;
    };
    let (try_it, expose) = (try_it.value(), expose.value());
    decodebin.connect("autoplug-select", false, move |args| {
        let factory = args
            .get(3)
            .and_then(|v| v.get::<gst::ElementFactory>().ok());
        let is_video_decoder = factory.is_some_and(|f| {
            let klass = f.metadata(gst::ELEMENT_METADATA_KLASS).unwrap_or_default();
            klass.contains("Decoder") && (klass.contains("Video") || klass.contains("Image"))
        });
        class.to_value(if is_video_decoder { expose } else { try_it })
    });
}

/// Holds the first buffer of a pull-mode parser ([`PULL_MODE_PARSERS`]) until decodebin has
/// exposed its pads (at most [`EXPOSE_WAIT`]). Such a parser pushes from a task of its own
/// as soon as it has read the header, which can be before decodebin, on the typefinder's
/// thread, has exposed the parser's pad: the push then fails (not-linked), the parser posts
/// an error and stops, and decodebin drops the error (the parser is still being plugged),
/// so the pipeline would wait for nothing until the deadline. Caps and other events pass:
/// decodebin needs the caps to expose the pad.
fn hold_parsers_until_exposed(decodebin: &gst::Element, shared: &Arc<Shared>) {
    let Some(bin) = decodebin.downcast_ref::<gst::Bin>() else {
        return;
    };
    let shared = Arc::clone(shared);
    bin.connect_element_added(move |_, element| {
        let is_pull_mode_parser = element
            .factory()
            .is_some_and(|factory| PULL_MODE_PARSERS.contains(&factory.name().as_str()));
        let Some(src) = element.static_pad("src").filter(|_| is_pull_mode_parser) else {
            return;
        };
        let shared = Arc::clone(&shared);
        src.add_probe(
            gst::PadProbeType::BUFFER | gst::PadProbeType::BUFFER_LIST,
            move |pad, _| {
                // Only a parser whose pad leads straight to decodebin's own (not yet exposed)
                // pad waits; one feeding a decoder (an MP3 in a WAV) must go on, or the
                // decoder could never learn the caps decodebin waits for.
                let feeds_an_element = pad
                    .peer()
                    .is_some_and(|peer| peer.parent_element().is_some());
                if !feeds_an_element {
                    let exposed = lock(&shared.exposed);
                    let _ = shared.exposed_changed.wait_timeout_while(
                        exposed,
                        EXPOSE_WAIT,
                        |exposed| !*exposed,
                    );
                }
                gst::PadProbeReturn::Remove
            },
        );
    });
}

/// Links the first raw audio pad decodebin exposes; notes video pads; reports "no audio"
/// when decodebin has exposed everything and none was audio.
fn link_first_audio_pad(decodebin: &gst::Element, convert: &gst::Element, shared: &Arc<Shared>) {
    let convert = convert.downgrade();
    let on_pad = Arc::clone(shared);
    decodebin.connect_pad_added(move |element, pad| {
        // Whatever this pad is, decodebin has exposed its pads once this handler is done.
        let _exposed = ReleaseParsers(Arc::clone(&on_pad));
        let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
        let Some(name) = caps.structure(0).map(|s| s.name().to_string()) else {
            return;
        };
        if name.starts_with("video/") || name.starts_with("image/") {
            on_pad.has_video.store(true, Ordering::SeqCst);
            return;
        }
        if name != "audio/x-raw" || on_pad.audio_linked.swap(true, Ordering::SeqCst) {
            return;
        }
        let linked = convert
            .upgrade()
            .and_then(|convert| convert.static_pad("sink"))
            .is_some_and(|sink| pad.link(&sink).is_ok());
        if !linked {
            post_application(element, MSG_LINK_FAILED);
        }
    });
    let on_done = Arc::clone(shared);
    decodebin.connect_no_more_pads(move |element| {
        on_done.set_exposed();
        if !on_done.audio_linked.load(Ordering::SeqCst) {
            post_application(element, MSG_NO_AUDIO);
        }
    });
}

fn post_application(element: &gst::Element, name: &str) {
    let message = gst::message::Application::builder(gst::Structure::new_empty(name))
        .src(element)
        .build();
    let _ = element.post_message(message);
}

/// Counts samples and feeds the waveform; cuts codec padding outside the sample window;
/// once past `max_samples`, drops everything and asks the run loop to stop (the rest of the
/// file is never decoded).
fn count_samples(pad: &gst::Pad, shared: &Arc<Shared>, max_samples: u64) {
    let shared = Arc::clone(shared);
    pad.add_probe(gst::PadProbeType::BUFFER, move |pad, info| {
        let Some(buffer) = info.buffer() else {
            return gst::PadProbeReturn::Ok;
        };
        let mut counter = lock(&shared.counter);
        let Some(counter) = counter.as_mut() else {
            return gst::PadProbeReturn::Drop;
        };
        if counter.kept.total_samples() > max_samples {
            return gst::PadProbeReturn::Drop;
        }
        let samples = (buffer.size() / 2) as u64;
        let start = counter.position;
        counter.position += samples;
        let Some((from, to)) = kept_range(start, samples, counter.window) else {
            return gst::PadProbeReturn::Drop;
        };
        let kept = if from == 0 && to == samples {
            buffer.clone()
        } else {
            match buffer.copy_region(
                gst::BufferCopyFlags::all(),
                (from as usize * 2)..(to as usize * 2),
            ) {
                Ok(part) => part,
                Err(_) => return gst::PadProbeReturn::Drop,
            }
        };
        if let Ok(map) = kept.map_readable() {
            counter.kept.push_s16le(map.as_slice());
        }
        if counter.kept.total_samples() > max_samples {
            if let Some(element) = pad.parent_element() {
                post_application(&element, MSG_TOO_LONG);
            }
            return gst::PadProbeReturn::Drop;
        }
        if from != 0 || to != samples {
            info.data = Some(gst::PadProbeData::Buffer(kept));
        }
        gst::PadProbeReturn::Ok
    });
}

/// The part [from, to) of a buffer of `len` samples starting at stream sample `start` that
/// lies inside `window`, or None when none of it does.
fn kept_range(start: u64, len: u64, window: SampleWindow) -> Option<(u64, u64)> {
    let window_end = window
        .keep
        .map_or(u64::MAX, |keep| window.skip.saturating_add(keep));
    let from = window.skip.max(start);
    let to = window_end.min(start + len);
    (from < to).then(|| (from - start, to - start))
}

/// Waits for end of stream, an error, one of our messages, or the deadline.
fn wait_for_end(
    bus: &gst::Bus,
    convert: &gst::Element,
    shared: &Shared,
    profile: &Profile,
    limits: &Limits,
) -> Result<(), AudioError> {
    use gst::MessageView;
    let watched = [
        gst::MessageType::Eos,
        gst::MessageType::Error,
        gst::MessageType::Application,
    ];
    let started = Instant::now();
    loop {
        let remaining = limits.deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(AudioError::Timeout);
        }
        let streamless =
            !shared.audio_linked.load(Ordering::SeqCst) && !shared.has_video.load(Ordering::SeqCst);
        if streamless && started.elapsed() >= NO_STREAM_WAIT {
            // decodebin drops the error of a demuxer that fails while it is still being
            // tried, and then nothing else happens: give up instead of waiting for the deadline.
            return Err(AudioError::Corrupt(
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
            continue; // the deadline check above decides
        };
        match message.view() {
            MessageView::Eos(_) => return Ok(()),
            MessageView::Error(err) => return Err(classify_error(err, shared)),
            MessageView::Application(app) => {
                let name = app.structure().map(|s| s.name().to_string());
                match name.as_deref() {
                    Some(MSG_NO_AUDIO) => return Err(AudioError::NoStream),
                    Some(MSG_TOO_LONG) => return Err(too_long(convert, shared, profile, limits)),
                    Some(MSG_LINK_FAILED) => {
                        return Err(AudioError::Internal(
                            "could not link the decoded audio to the encoder".to_string(),
                        ));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
}

/// The length to report: the container's duration when it knows a longer one (decoding
/// stopped at the cap), otherwise what was counted.
fn too_long(
    convert: &gst::Element,
    shared: &Shared,
    profile: &Profile,
    limits: &Limits,
) -> AudioError {
    let counted = lock(&shared.counter)
        .as_ref()
        .map_or(0, |counter| counter.kept.total_samples()) as f64
        / f64::from(profile.rate);
    let declared = declared_duration(convert).map_or(0.0, |d| d.nseconds() as f64 / 1e9);
    AudioError::TooLong {
        seconds: counted.max(declared),
        max_seconds: limits.max_seconds,
    }
}

/// Why `set_state(Playing)` failed, from the error it posted (if any).
fn start_failure(bus: &gst::Bus) -> AudioError {
    match bus.timed_pop_filtered(gst::ClockTime::ZERO, &[gst::MessageType::Error]) {
        Some(message) => match message.view() {
            gst::MessageView::Error(err) => classify_error(err, &Shared::default()),
            _ => AudioError::Internal("the pipeline could not start".to_string()),
        },
        None => AudioError::Internal("the pipeline could not start".to_string()),
    }
}

/// Maps a GStreamer error to what went wrong with the input. The plugin's message is a short
/// English sentence (never sample data); the debug text with element paths is left out.
fn classify_error(err: &gst::message::Error, shared: &Shared) -> AudioError {
    let error = err.error();
    let text = error.message().trim_end_matches('.').to_string();
    let from_encoder_side = err
        .src()
        .is_some_and(|src| ENCODER_SIDE.contains(&src.name().as_str()));
    if from_encoder_side {
        return AudioError::Internal(format!("encoding failed: {text}"));
    }
    if let Some(kind) = error.kind::<gst::StreamError>() {
        return match kind {
            gst::StreamError::TypeNotFound | gst::StreamError::WrongType => {
                AudioError::Unsupported("the data is not a recognised audio format".to_string())
            }
            gst::StreamError::CodecNotFound => {
                AudioError::Unsupported("no decoder is installed for this audio codec".to_string())
            }
            gst::StreamError::Failed
                if !shared.audio_linked.load(Ordering::SeqCst)
                    && err.debug().is_some_and(|d| d.contains("not-linked")) =>
            {
                // The demuxer found streams, but none was audio we could link.
                AudioError::NoStream
            }
            _ => AudioError::Corrupt(text),
        };
    }
    if error.kind::<gst::CoreError>() == Some(gst::CoreError::MissingPlugin) {
        return AudioError::Unsupported("no decoder is installed for this audio codec".to_string());
    }
    AudioError::Corrupt(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_range_cuts_both_ends() {
        let window = SampleWindow {
            skip: 100,
            keep: Some(1000),
        };
        assert_eq!(kept_range(0, 50, window), None);
        assert_eq!(kept_range(0, 160, window), Some((100, 160)));
        assert_eq!(kept_range(160, 160, window), Some((0, 160)));
        assert_eq!(kept_range(1000, 160, window), Some((0, 100)));
        assert_eq!(kept_range(1100, 160, window), None);
        assert_eq!(kept_range(5, 10, SampleWindow::default()), Some((0, 10)));
    }

    /// An AIFF file: `seconds` of a 440 Hz tone, 16-bit mono at 8 kHz.
    fn aiff_tone(seconds: f64) -> Vec<u8> {
        let frames = (8000.0 * seconds) as u32;
        let samples: Vec<u8> = (0..frames)
            .flat_map(|i| {
                let phase = f64::from(i) * 440.0 * std::f64::consts::TAU / 8000.0;
                ((phase.sin() * 8000.0) as i16).to_be_bytes()
            })
            .collect();
        let mut comm = 1u16.to_be_bytes().to_vec(); // channels
        comm.extend_from_slice(&frames.to_be_bytes());
        comm.extend_from_slice(&16u16.to_be_bytes()); // bits per sample
        // 8000 as an 80-bit extended float: exponent 16383 + 12, mantissa 8000 << 51.
        comm.extend_from_slice(&[0x40, 0x0B, 0xFA, 0, 0, 0, 0, 0, 0, 0]);
        let mut ssnd = vec![0u8; 8]; // offset, block size
        ssnd.extend_from_slice(&samples);
        let mut chunks = Vec::new();
        for (id, body) in [(b"COMM", &comm), (b"SSND", &ssnd)] {
            chunks.extend_from_slice(id);
            chunks.extend_from_slice(&(body.len() as u32).to_be_bytes());
            chunks.extend_from_slice(body);
        }
        let mut file = b"FORM".to_vec();
        file.extend_from_slice(&(chunks.len() as u32 + 4).to_be_bytes());
        file.extend_from_slice(b"AIFF");
        file.extend_from_slice(&chunks);
        file
    }

    /// aiffparse pushes its first buffer from a task of its own as soon as it has read the
    /// header, which could come before decodebin had exposed its pad: the push failed
    /// (not-linked), decodebin dropped the parser's error (the parser was still being
    /// plugged) and the pipeline waited for nothing until the deadline. The audio fuzz
    /// target found it: about one transcode in five of a valid AIFF file hung.
    #[test]
    fn an_aiff_file_never_stalls_the_pipeline() {
        let aiff = aiff_tone(0.3);
        let options = super::super::TranscodeOptions {
            deadline: Duration::from_secs(10),
            ..Default::default()
        };
        for run in 0..100 {
            let started = Instant::now();
            let result = super::super::transcode(&aiff, &options);
            assert!(
                result.is_ok(),
                "run {run}: {result:?} after {:?}",
                started.elapsed()
            );
        }
    }

    /// A streaming thread that never leaves its element (here, a sink callback that
    /// waits on a channel) would make `set_state(Null)` wait for ever.
    #[test]
    fn a_stuck_streaming_thread_does_not_hold_the_teardown() {
        super::super::init().expect("GStreamer is installed");
        let pipeline = gst::Pipeline::new();
        let source = make("audiotestsrc", "stuck-source").unwrap();
        let sink = gst_app::AppSink::builder().sync(false).build();
        pipeline.add_many([&source, sink.upcast_ref()]).unwrap();
        source.link(&sink).unwrap();
        let (entered, in_sink) = std::sync::mpsc::channel();
        let (release, released) = std::sync::mpsc::channel::<()>();
        let released = Mutex::new(released);
        sink.set_callbacks(
            gst_app::AppSinkCallbacks::builder()
                .new_sample(move |_| {
                    let _ = entered.send(());
                    // Returns once `release` is dropped.
                    let _ = lock(&released).recv();
                    Ok(gst::FlowSuccess::Ok)
                })
                .build(),
        );
        pipeline.set_state(gst::State::Playing).unwrap();
        in_sink
            .recv_timeout(Duration::from_secs(10))
            .expect("the streaming thread reached the sink");

        let started = Instant::now();
        let stopped = stop_within(&pipeline, Duration::from_millis(300));
        let waited = started.elapsed();
        assert!(
            !stopped,
            "the teardown cannot finish while the thread is stuck"
        );
        assert!(
            waited < Duration::from_secs(3),
            "the caller waited {waited:?}"
        );

        drop(release);
        assert!(
            stop_within(&pipeline, Duration::from_secs(10)),
            "once the thread leaves, the pipeline stops"
        );
    }
}
