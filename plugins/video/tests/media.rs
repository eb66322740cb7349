//! The media pipeline on real files made here with GStreamer itself: what goes as it came,
//! what is remuxed or transcoded (and that the output is H.264/AAC with its index first),
//! and every bad input with its error, each well inside its deadline.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer::prelude::*;
use wuts_plugin_video::media::{self, Conversion, Options, Prepared, VideoError};

/// Runs a gst-launch description that ends in `filesink location={path}` and returns the file.
fn make(name: &str, description: &str) -> Vec<u8> {
    media::init().expect("GStreamer and the plugin's elements are installed");
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("video-media-{name}"));
    let description = description.replace("{path}", path.to_str().expect("a UTF-8 path"));
    let pipeline = gst::parse::launch(&description).expect("the fixture pipeline parses");
    pipeline
        .set_state(gst::State::Playing)
        .expect("the fixture pipeline plays");
    let bus = pipeline.bus().expect("a bus");
    let message = bus
        .timed_pop_filtered(
            gst::ClockTime::from_seconds(60),
            &[gst::MessageType::Eos, gst::MessageType::Error],
        )
        .expect("the fixture pipeline ends");
    pipeline
        .set_state(gst::State::Null)
        .expect("the fixture pipeline stops");
    assert!(
        matches!(message.view(), gst::MessageView::Eos(_)),
        "{name}: {message:?}"
    );
    std::fs::read(&path).expect("the fixture was written")
}

/// `seconds` of a 320x240 test pattern at 15 fps, H.264 (+ AAC when `audio`), in an MP4
/// whose index is first when `faststart`.
fn h264_mp4(name: &str, seconds: u32, audio: bool, faststart: bool) -> Vec<u8> {
    let frames = seconds * 15;
    let audio_branch = if audio {
        // 1024 samples a buffer at 44.1 kHz.
        format!(
            " audiotestsrc num-buffers={} ! audio/x-raw,rate=44100,channels=2 ! audioconvert ! avenc_aac ! aacparse ! mux.",
            seconds * 44_100 / 1024
        )
    } else {
        String::new()
    };
    make(
        name,
        &format!(
            "videotestsrc num-buffers={frames} ! video/x-raw,width=320,height=240,framerate=15/1 \
             ! x264enc speed-preset=ultrafast ! video/x-h264,profile=high ! h264parse \
             ! mp4mux name=mux faststart={faststart} ! filesink location={{path}}{audio_branch}"
        ),
    )
}

fn fixture(cell: &'static OnceLock<Vec<u8>>, make: impl FnOnce() -> Vec<u8>) -> &'static [u8] {
    cell.get_or_init(make)
}

fn good_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    fixture(&CELL, || h264_mp4("good.mp4", 2, true, true))
}

fn index_last_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    fixture(&CELL, || h264_mp4("index-last.mp4", 2, true, false))
}

fn webm() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    fixture(&CELL, || {
        make(
            "vp8.webm",
            "videotestsrc num-buffers=30 ! video/x-raw,width=320,height=180,framerate=15/1 \
             ! vp8enc deadline=1 ! webmmux name=mux ! filesink location={path} \
             audiotestsrc num-buffers=94 ! audio/x-raw,rate=48000 ! audioconvert ! opusenc ! mux.",
        )
    })
}

fn options() -> Options {
    Options {
        max_bytes: 64 * 1024 * 1024,
        max_duration: Duration::from_secs(900),
        max_pixels: 36_000_000,
        max_side: 1280,
        speed_preset: "ultrafast".to_string(),
        timeout: Duration::from_secs(60),
        convert_to_mp4: false,
    }
}

/// What GStreamer reads back from an output: its container and its codecs.
fn codecs_of(bytes: &[u8]) -> (String, Vec<String>) {
    let (caps, _) =
        gstreamer_base::functions::type_find_helper_for_data(None::<&gst::Object>, bytes)
            .expect("the output has a type");
    let container = caps.structure(0).expect("caps").name().to_string();
    let probed = media::inspect(bytes).expect("the output reads back");
    let codecs = probed
        .video
        .iter()
        .chain(probed.audio.iter())
        .map(|codec| codec.name.clone())
        .collect();
    (container, codecs)
}

/// The top-level box types of an MP4, in order.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        let size = match size {
            0 => bytes.len() - at,
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().unwrap()) as usize,
            size => size,
        };
        at += size.max(8);
    }
    boxes
}

#[track_caller]
fn assert_index_first(bytes: &[u8]) {
    let boxes = top_level_boxes(bytes);
    let moov = boxes
        .iter()
        .position(|kind| kind == "moov")
        .expect("a moov box");
    let mdat = boxes
        .iter()
        .position(|kind| kind == "mdat")
        .expect("an mdat box");
    assert!(moov < mdat, "moov before mdat: {boxes:?}");
}

#[track_caller]
fn prepared(bytes: &[u8], options: &Options) -> (Prepared, Duration) {
    let started = Instant::now();
    let prepared = media::prepare(bytes.to_vec(), options).expect("the video is accepted");
    (prepared, started.elapsed())
}

#[track_caller]
fn refused(bytes: &[u8], options: &Options) -> VideoError {
    let started = Instant::now();
    let error = media::prepare(bytes.to_vec(), options).expect_err("the video is refused");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(8), "{error:?} took {took:?}");
    error
}

#[test]
fn an_h264_aac_mp4_with_its_index_first_goes_as_it_came() {
    let mp4 = good_mp4();
    let (video, _) = prepared(mp4, &options());
    assert_eq!(video.conversion, Conversion::AsIs);
    assert_eq!(video.bytes, mp4);
    assert_eq!(video.original_format, "video/mp4");
    assert_eq!((video.width, video.height), (320, 240));
    let duration = video.duration.expect("the container states a duration");
    assert!((duration.as_secs_f64() - 2.0).abs() < 0.1, "{duration:?}");
    assert_eq!((video.frame.width, video.frame.height), (72, 54));
    assert_eq!(video.frame.rgb.len(), 72 * 54 * 3);
    let (container, codecs) = codecs_of(&video.bytes);
    assert_eq!(container, "video/quicktime");
    assert_eq!(codecs, ["video/x-h264", "audio/mpeg"]);
}

#[test]
fn an_mp4_with_its_index_last_is_remuxed_without_reencoding() {
    let mp4 = index_last_mp4();
    assert_eq!(
        top_level_boxes(mp4).last().map(String::as_str),
        Some("moov")
    );
    let (video, took) = prepared(mp4, &options());
    assert_eq!(video.conversion, Conversion::Remux);
    assert!(video.was_converted());
    assert_index_first(&video.bytes);
    assert_eq!((video.width, video.height), (320, 240));
    let (_, codecs) = codecs_of(&video.bytes);
    assert_eq!(codecs, ["video/x-h264", "audio/mpeg"]);
    eprintln!("remux of a 2 s clip: {took:?}");
}

#[test]
fn a_webm_is_transcoded_to_h264_aac_mp4() {
    let (video, took) = prepared(webm(), &options());
    assert_eq!(video.conversion, Conversion::Transcode);
    assert_eq!(video.original_format, "video/webm");
    assert_eq!((video.width, video.height), (320, 180));
    assert_index_first(&video.bytes);
    let (container, codecs) = codecs_of(&video.bytes);
    assert_eq!(container, "video/quicktime");
    assert_eq!(codecs, ["video/x-h264", "audio/mpeg"]);
    // The output goes as it is when sent again: it is what WhatsApp plays.
    let (again, _) = prepared(&video.bytes, &options());
    assert_eq!(again.conversion, Conversion::AsIs);
    eprintln!("transcode of a 2 s 320x180 WebM: {took:?}");
}

#[test]
fn convert_to_mp4_forces_a_transcode_scaled_to_max_side() {
    let options = Options {
        convert_to_mp4: true,
        max_side: 160,
        ..options()
    };
    let (video, _) = prepared(good_mp4(), &options);
    assert_eq!(video.conversion, Conversion::Transcode);
    assert_eq!((video.width, video.height), (160, 120));
    assert_index_first(&video.bytes);
}

#[test]
fn an_mp4_without_video_is_no_stream() {
    let audio_only = make(
        "audio-only.mp4",
        "audiotestsrc num-buffers=80 ! audioconvert ! avenc_aac ! aacparse ! mp4mux faststart=true \
         ! filesink location={path}",
    );
    assert_eq!(refused(&audio_only, &options()), VideoError::NoStream);
}

#[test]
fn empty_not_video_and_too_large_bytes_are_refused_before_decoding() {
    assert_eq!(refused(b"", &options()), VideoError::Empty);
    let text = "This is not a video. ".repeat(100);
    assert!(matches!(
        refused(text.as_bytes(), &options()),
        VideoError::Unsupported(_)
    ));
    let noise: Vec<u8> = (0..100_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    assert!(matches!(
        refused(&noise, &options()),
        VideoError::Unsupported(_)
    ));
    let small = Options {
        max_bytes: 1000,
        ..options()
    };
    assert_eq!(refused(good_mp4(), &small).code(), "VIDEO_TOO_LARGE");
}

#[test]
fn a_truncated_mp4_is_corrupt() {
    let mp4 = good_mp4();
    for cut in [mp4.len() / 2, mp4.len() - 10, 40] {
        let error = refused(&mp4[..cut], &options());
        assert!(
            matches!(error, VideoError::Corrupt(_)),
            "cut at {cut}: {error:?}"
        );
    }
    let index_last = index_last_mp4();
    let error = refused(&index_last[..index_last.len() * 2 / 3], &options());
    assert!(matches!(error, VideoError::Corrupt(_)), "{error:?}");
}

#[test]
fn a_truncated_webm_is_corrupt() {
    let webm = webm();
    let error = refused(&webm[..webm.len() / 2], &options());
    assert!(matches!(error, VideoError::Corrupt(_)), "{error:?}");
}

#[test]
fn a_clip_over_the_length_cap_is_too_long() {
    let options = Options {
        max_duration: Duration::from_secs(1),
        ..options()
    };
    let error = refused(good_mp4(), &options);
    assert!(
        matches!(error, VideoError::TooLong { max_seconds: 1, seconds } if seconds > 1.5),
        "{error:?}"
    );
}

#[test]
fn frames_over_the_pixel_cap_are_refused_before_decoding() {
    let options = Options {
        max_pixels: 320 * 240 - 1,
        ..options()
    };
    let error = refused(good_mp4(), &options);
    assert_eq!(error.code(), "VIDEO_TOO_LARGE");
    let VideoError::TooLarge(reason) = error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("320x240"), "{reason}");
}
