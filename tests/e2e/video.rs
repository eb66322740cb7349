//! `POST /send/video` through the real server, sandbox driver and plugin library: an MP4
//! sent as it came, a WebM and a forced conversion checked with ffprobe, thumbnails (the
//! first frame, none, the caller's own), caption, mentions, view-once, a URL source, a
//! job, and every kind of bad input with its code. Fixtures are made with ffmpeg.

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use image::{DynamicImage, GenericImageView, ImageFormat, Rgb, RgbImage};
use serde_json::{Map, Value, json};
use wuts_e2e::audio_fixtures::{LocalHttp, base64, run_tool};
use wuts_e2e::media_checks::{
    Refusal, newest_entry, refused_and_nothing_sent, standard_error, standard_sent, with,
};
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User, unique};

/// The length cap of every server here: the 12 s fixture is over it.
const MAX_SECONDS: &str = "10";
/// How long a bad input may take to be refused (the probe's own deadline is 30 s; every
/// case answers in well under a second).
const BAD_INPUT_TIME: Duration = Duration::from_secs(10);

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["video"])
        .required(&["video"])
        .env("WUTS__PLUGIN__VIDEO__MAX_DURATION_SECONDS", MAX_SECONDS)
        // Fast conversions for a debug-built server on a small machine.
        .env("WUTS__PLUGIN__VIDEO__SPEED_PRESET", "ultrafast")
}

fn server_and_user(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("video"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/send/video", &user.token, body)
}

fn fixture_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("video-e2e-fixtures");
    std::fs::create_dir_all(&dir).expect("the fixture folder can be created");
    dir
}

/// Makes `name` with ffmpeg (`args` between the inputs and the output) once per run.
fn ffmpeg(cell: &'static OnceLock<Vec<u8>>, name: &str, args: &[&str]) -> &'static [u8] {
    cell.get_or_init(|| {
        let path = fixture_dir().join(name);
        let path = path.to_str().expect("a UTF-8 path");
        let mut all = vec!["-y", "-hide_banner", "-loglevel", "error"];
        all.extend_from_slice(args);
        all.push(path);
        run_tool("ffmpeg", &all);
        std::fs::read(path).expect("the fixture was written")
    })
}

/// A test pattern with a tone: `seconds` long, 320x240 at 15 fps.
const PATTERN_2S: [&str; 6] = [
    "-f",
    "lavfi",
    "-i",
    "testsrc=size=320x240:rate=15:duration=2",
    "-f",
    "lavfi",
];

/// H.264 (High) + AAC in an MP4 with its index first: what goes as it came.
fn mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    let mut args = PATTERN_2S.to_vec();
    args.extend([
        "-i",
        "sine=frequency=440:duration=2",
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-profile:v",
        "high",
        "-pix_fmt",
        "yuv420p",
        "-c:a",
        "aac",
        "-movflags",
        "+faststart",
        "-shortest",
    ]);
    ffmpeg(&CELL, "clip.mp4", &args)
}

/// VP8 + Opus in WebM: converted.
fn webm() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    ffmpeg(
        &CELL,
        "clip.webm",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x180:rate=15:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "libvpx",
            "-deadline",
            "realtime",
            "-cpu-used",
            "8",
            "-b:v",
            "300k",
            "-c:a",
            "libopus",
            "-shortest",
        ],
    )
}

/// AAC alone in an MP4: no video stream.
fn audio_only_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    ffmpeg(
        &CELL,
        "audio-only.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=2",
            "-c:a",
            "aac",
        ],
    )
}

/// 12 s of a tiny picture: over the servers' 10 s cap.
fn long_mp4() -> &'static [u8] {
    static CELL: OnceLock<Vec<u8>> = OnceLock::new();
    ffmpeg(
        &CELL,
        "long.mp4",
        &[
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=64x48:rate=5:duration=12",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-movflags",
            "+faststart",
        ],
    )
}

fn base64_body(bytes: &[u8]) -> Value {
    json!({ "number": PHONE, "video": base64(bytes) })
}

/// The WUTS docs §1.3 200 example's metadata keys, and this server's additions.
const METADATA_KEYS: [&str; 17] = [
    "device_id",
    "user_id",
    "processing_time_ms",
    "video_size_bytes",
    "video_format",
    "video_duration_seconds",
    "upload_time_ms",
    "mentions_processed",
    "quoted_message_found",
    "view_once_enabled",
    "was_converted",
    "has_custom_thumbnail",
    "async_processing",
    "sent_at",
    "original_format",
    "width",
    "height",
];

/// Asserts the documented 200 body and returns its message id and metadata.
#[track_caller]
fn assert_sent(status: u16, reply: &Value, downloaded: bool) -> (String, Map<String, Value>) {
    let (id, timestamp) = standard_sent(status, reply);
    let timestamp = timestamp.as_str();
    let metadata = reply["metadata"]
        .as_object()
        .unwrap_or_else(|| panic!("no metadata object: {reply}"))
        .clone();
    assert_metadata_keys(&metadata, downloaded);
    assert_eq!(metadata["sent_at"], json!(timestamp), "the ack's time");
    assert_eq!(metadata["video_format"], json!("video/mp4"), "{reply}");
    (id, metadata)
}

#[track_caller]
fn assert_metadata_keys(metadata: &Map<String, Value>, downloaded: bool) {
    let mut keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METADATA_KEYS.to_vec();
    if downloaded {
        want.push("download_time_ms");
    }
    want.sort_unstable();
    assert_eq!(keys, want, "metadata keys: {metadata:?}");
    for key in [
        "processing_time_ms",
        "video_size_bytes",
        "video_duration_seconds",
        "upload_time_ms",
        "mentions_processed",
        "width",
        "height",
    ] {
        assert!(
            metadata[key].is_u64(),
            "{key} is a whole number: {metadata:?}"
        );
    }
}

/// The `videoMessage` of an entry, unwrapping a view-once message.
fn video_message(entry: &Value) -> &Value {
    let message = &entry["message"];
    let inner = if message["viewOnceMessage"].is_object() {
        &message["viewOnceMessage"]["message"]
    } else {
        message
    };
    let video = &inner["videoMessage"];
    assert!(video.is_object(), "no videoMessage in {entry}");
    video
}

/// The message's `jpegThumbnail` decoded (the outbox writes bytes as arrays of numbers).
#[track_caller]
fn thumbnail(video: &Value) -> DynamicImage {
    let bytes: Vec<u8> = video["jpegThumbnail"]
        .as_array()
        .unwrap_or_else(|| panic!("jpegThumbnail is an array of bytes: {video}"))
        .iter()
        .map(|byte| {
            byte.as_u64()
                .and_then(|b| u8::try_from(b).ok())
                .expect("a byte")
        })
        .collect();
    assert_eq!(image::guess_format(&bytes).ok(), Some(ImageFormat::Jpeg));
    image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("a JPEG")
}

/// The checks every sent video passes: mimetype, size and seconds as stated, and the
/// uploaded file as the outbox lists it. Returns the uploaded file.
#[track_caller]
fn assert_video(server: &Server, user: &User, entry: &Value, size: (u32, u32)) -> Vec<u8> {
    let video = video_message(entry);
    assert_eq!(video["mimetype"], json!("video/mp4"), "{entry}");
    assert_eq!(video["width"], json!(size.0), "{entry}");
    assert_eq!(video["height"], json!(size.1), "{entry}");
    let seconds = video["seconds"].as_u64().expect("seconds");
    assert!((2..=3).contains(&seconds), "a 2 s clip: {entry}");
    let media = &entry["media"][0];
    assert_eq!(media["kind"], json!("video"), "{entry}");
    assert_eq!(media["mimetype"], json!("video/mp4"), "{entry}");
    let url = media["url"].as_str().unwrap_or_default();
    let reply = server.client().get(url, user.auth());
    assert_eq!(reply.status, 200, "GET {url}: {}", reply.text());
    assert_eq!(Some(reply.body.len() as u64), media["size"].as_u64());
    assert_eq!(video["fileLength"], json!(reply.body.len()), "{entry}");
    reply.body
}

/// ffprobe's streams of `bytes`: `codec_name,width,height` lines.
fn ffprobe_streams(bytes: &[u8], name: &str) -> Vec<String> {
    let path = fixture_dir().join(format!("uploaded-{name}-{}.mp4", unique("f")));
    std::fs::write(&path, bytes).expect("the upload can be written");
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name,profile,width,height",
            "-of",
            "csv=p=0",
            path.to_str().expect("UTF-8"),
        ],
    );
    let _ = std::fs::remove_file(&path);
    out.lines()
        .map(|line| line.trim_end_matches(',').to_owned())
        .collect()
}

/// The top-level box types of an MP4, in order.
fn top_level_boxes(bytes: &[u8]) -> Vec<String> {
    let mut boxes = Vec::new();
    let mut at = 0usize;
    while at + 8 <= bytes.len() {
        let size = u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as usize;
        boxes.push(String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned());
        at += match size {
            0 => bytes.len() - at,
            1 => u64::from_be_bytes(bytes[at + 8..at + 16].try_into().expect("8 bytes")) as usize,
            size => size.max(8),
        };
    }
    boxes
}

/// H.264 + AAC in an MP4 whose index comes before the media: what WhatsApp plays.
#[track_caller]
fn assert_whatsapp_mp4(bytes: &[u8], name: &str, size: (u32, u32)) {
    let streams = ffprobe_streams(bytes, name);
    assert_eq!(streams.len(), 2, "{streams:?}");
    // x264 names the lowest profile its stream fits: ultrafast (these servers' preset)
    // leaves out what Main and High add, and says Constrained Baseline.
    let profiles = ["Constrained Baseline", "Main", "High"]
        .map(|profile| format!("h264,{profile},{},{}", size.0, size.1));
    assert!(profiles.contains(&streams[0]), "{streams:?}");
    assert!(streams[1].starts_with("aac"), "{streams:?}");
    let boxes = top_level_boxes(bytes);
    let moov = boxes.iter().position(|kind| kind == "moov").expect("moov");
    let mdat = boxes.iter().position(|kind| kind == "mdat").expect("mdat");
    assert!(moov < mdat, "the index comes first: {boxes:?}");
}

fn picture(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let pixels = RgbImage::from_fn(width, height, |x, y| Rgb([x as u8, y as u8, 200]));
    let mut out = Cursor::new(Vec::new());
    DynamicImage::ImageRgb8(pixels)
        .write_to(&mut out, format)
        .expect("the picture encodes");
    out.into_inner()
}

#[test]
fn an_h264_aac_mp4_goes_as_it_came_with_caption_mentions_and_thumbnail() {
    let (server, user) = server_and_user(options());
    let mp4 = mp4();
    let body = with(
        base64_body(mp4),
        json!({"caption": "Check out our new product demo!", "seconds": 38,
               "mentioned": ["5511988888888"]}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(false));
    assert_eq!(metadata["original_format"], json!("video/mp4"));
    assert_eq!(metadata["video_size_bytes"], json!(mp4.len()));
    assert_eq!(metadata["mentions_processed"], json!(1));
    assert_eq!(metadata["has_custom_thumbnail"], json!(false));
    assert_eq!(metadata["async_processing"], json!(false));
    assert_eq!(metadata["view_once_enabled"], json!(false));
    assert_eq!(
        (&metadata["width"], &metadata["height"]),
        (&json!(320), &json!(240))
    );

    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (320, 240));
    assert_eq!(uploaded, mp4, "an MP4 WhatsApp plays is sent byte for byte");
    let video = video_message(&entry);
    assert_eq!(
        metadata["video_duration_seconds"], video["seconds"],
        "the measured length, not the caller's 38"
    );
    assert_eq!(video["caption"], json!("Check out our new product demo!"));
    assert_eq!(
        video["contextInfo"]["mentionedJID"],
        json!(["5511988888888@s.whatsapp.net"])
    );
    assert_eq!(thumbnail(video).dimensions(), (72, 54));
    assert!(
        video.get("viewOnce").is_none_or(|v| v == &json!(false)),
        "{entry}"
    );
}

#[test]
fn a_webm_is_converted_to_h264_aac_with_its_index_first() {
    let (server, user) = server_and_user(options());
    let started = Instant::now();
    let (status, reply) = send(&server, &user, &base64_body(webm()));
    let took = started.elapsed();
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    assert_eq!(metadata["original_format"], json!("video/webm"));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (320, 180));
    assert_eq!(metadata["video_size_bytes"], json!(uploaded.len()));
    assert_whatsapp_mp4(&uploaded, "webm", (320, 180));
    assert_eq!(thumbnail(video_message(&entry)).dimensions(), (72, 41));
    eprintln!("a 2 s 320x180 WebM converted and sent in {took:?}");
}

#[test]
fn convert_to_mp4_forces_a_conversion_and_the_thumbnail_can_be_left_out() {
    let (server, user) = server_and_user(options());
    let body = with(
        base64_body(mp4()),
        json!({"convertToMP4": true, "generateThumbnail": false, "gifPlayback": true}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    assert_eq!(metadata["original_format"], json!("video/mp4"));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (320, 240));
    assert_ne!(uploaded, mp4());
    assert_whatsapp_mp4(&uploaded, "forced", (320, 240));
    let video = video_message(&entry);
    assert!(video.get("jpegThumbnail").is_none(), "{entry}");
    assert_eq!(video["gifPlayback"], json!(true), "{entry}");
}

#[test]
fn a_custom_thumbnail_view_once_and_a_quote_are_carried() {
    let (server, user) = server_and_user(options());
    let body = with(
        base64_body(mp4()),
        json!({"thumbnail": base64(&picture(200, 100, ImageFormat::Png)), "viewOnce": true,
               "quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA",
                          "participant": "5511988888888", "body": "Is it ready?"}}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["has_custom_thumbnail"], json!(true));
    assert_eq!(metadata["view_once_enabled"], json!(true));
    assert_eq!(metadata["quoted_message_found"], json!(false));
    let entry = newest_entry(&server, &user, &id);
    assert!(entry["message"]["viewOnceMessage"].is_object(), "{entry}");
    let video = video_message(&entry);
    assert_eq!(video["viewOnce"], json!(true), "{entry}");
    // The caller's 200x100 picture, fitted to 72 px: not the video's 4:3 frame.
    assert_eq!(thumbnail(video).dimensions(), (72, 36));
    assert_eq!(
        video["contextInfo"]["quotedMessage"]["conversation"],
        json!("Is it ready?")
    );
    assert_video(&server, &user, &entry, (320, 240));

    let bad = with(
        base64_body(mp4()),
        json!({"thumbnail": base64(b"not a picture")}),
    );
    let reply = send(&server, &user, &bad);
    let fields = reply.1["validation"][0]["field"].clone();
    standard_error(reply, 400, "VALIDATION_ERROR");
    assert_eq!(fields, json!("thumbnail"));
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn video_url_is_downloaded_when_private_urls_are_allowed() {
    let http = LocalHttp::serve("demo.mp4", "application/octet-stream", webm().to_vec());
    let (server, user) = server_and_user(options().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));
    let body = json!({"number": PHONE, "video_url": http.url("/demo.mp4"), "caption": "demo"});
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, true);
    assert!(metadata["download_time_ms"].is_u64(), "{reply}");
    assert_eq!(
        metadata["original_format"],
        json!("video/webm"),
        "the bytes decide"
    );
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    assert_video(&server, &user, &entry, (320, 180));

    let text = standard_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "video_url": http.url("/missing.mp4")}),
        ),
        400,
        "URL_HTTP_ERROR",
    );
    assert!(text.starts_with("video_url: "), "{text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_large_base64_video_is_a_job_that_is_sent() {
    let (server, user) =
        server_and_user(options().env("WUTS__PLUGIN__VIDEO__ASYNC_THRESHOLD_BYTES", "1000"));
    let (status, reply) = send(&server, &user, &base64_body(webm()));
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply["status"], json!("processing"), "{reply}");
    assert_eq!(reply["chat_jid"], json!(PHONE_JID), "{reply}");
    let job_id = reply["job_id"].as_str().expect("a job id").to_owned();
    let job = server.wait_for_job(&user, &job_id, Duration::from_secs(60));
    assert_eq!(job["status"], json!("sent"), "{job}");
    let metadata = job["metadata"].as_object().expect("metadata").clone();
    assert_eq!(metadata["async_processing"], json!(true), "{job}");
    assert_eq!(metadata["was_converted"], json!(true), "{job}");
    let message_id = job["message_id"].as_str().unwrap_or_default();
    let entry = newest_entry(&server, &user, message_id);
    let uploaded = assert_video(&server, &user, &entry, (320, 180));
    assert_whatsapp_mp4(&uploaded, "job", (320, 180));

    // Not video, however large: a 400 now, not a failed job.
    let text = "This is not a video. ".repeat(200);
    standard_error(
        send(&server, &user, &base64_body(text.as_bytes())),
        400,
        "VIDEO_UNSUPPORTED",
    );
}

#[test]
fn bad_input_is_a_400_with_its_code_sends_nothing_and_is_quick() {
    let (server, user) = server_and_user(options());
    let mp4 = mp4();
    let webm = webm();
    let some_video = base64(&mp4[..64]);
    let text = "This is not a video. ".repeat(100);
    let cases: Vec<(&str, Value, &str, Option<&str>)> = vec![
        (
            "empty",
            json!({"number": PHONE, "video": ""}),
            "VIDEO_EMPTY",
            None,
        ),
        (
            "text",
            base64_body(text.as_bytes()),
            "VIDEO_UNSUPPORTED",
            None,
        ),
        (
            "a picture",
            base64_body(&picture(64, 64, ImageFormat::Png)),
            "VIDEO_UNSUPPORTED",
            None,
        ),
        (
            "truncated MP4",
            base64_body(&mp4[..mp4.len() / 2]),
            "VIDEO_CORRUPT",
            None,
        ),
        (
            "truncated WebM",
            base64_body(&webm[..webm.len() / 2]),
            "VIDEO_CORRUPT",
            None,
        ),
        (
            "audio only",
            base64_body(audio_only_mp4()),
            "VIDEO_NO_STREAM",
            None,
        ),
        ("too long", base64_body(long_mp4()), "VIDEO_TOO_LONG", None),
        (
            "both sources",
            json!({"number": PHONE, "video": some_video, "video_url": "https://example.com/a.mp4"}),
            "VALIDATION_ERROR",
            Some("video"),
        ),
        (
            "neither source",
            json!({"number": PHONE, "caption": "hi"}),
            "VALIDATION_ERROR",
            Some("video"),
        ),
        (
            "invalid base64",
            json!({"number": PHONE, "video": "this is *not* base64!"}),
            "VALIDATION_ERROR",
            Some("video"),
        ),
        (
            "caption of 1025",
            with(base64_body(mp4), json!({"caption": "c".repeat(1025)})),
            "VALIDATION_ERROR",
            Some("caption"),
        ),
    ];
    refused_and_nothing_sent(
        &server,
        &user,
        "/send/video",
        cases.into_iter().collect(),
        &Refusal {
            within: BAD_INPUT_TIME,
            secret: "This is not a video",
            media_prefix: Some("video: "),
        },
    );
}

#[test]
fn the_byte_cap_set_by_environment_applies() {
    let (server, user) = server_and_user(options().env("WUTS__PLUGIN__VIDEO__MAX_BYTES", "10000"));
    let text = standard_error(
        send(&server, &user, &base64_body(mp4())),
        400,
        "VIDEO_TOO_LARGE",
    );
    assert!(text.contains("10000"), "the limit is named: {text}");
    assert!(server.outbox(&user).is_empty());
}

/// A phone's portrait clip: 320x240 frames and a 90-degree rotation in the track header,
/// in an MP4 with its index first (`faststart`) or last. (ffmpeg writes the rotation
/// when it copies the streams, not when it encodes them.)
fn portrait_mp4(faststart: bool) -> &'static [u8] {
    static FIRST: OnceLock<Vec<u8>> = OnceLock::new();
    static LAST: OnceLock<Vec<u8>> = OnceLock::new();
    let landscape = fixture_dir().join("landscape-index-last.mp4");
    if !landscape.exists() {
        static PLAIN: OnceLock<Vec<u8>> = OnceLock::new();
        let mut args = PATTERN_2S.to_vec();
        args.extend([
            "-i",
            "sine=frequency=440:duration=2",
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-shortest",
        ]);
        ffmpeg(&PLAIN, "landscape-index-last.mp4", &args);
    }
    let landscape = landscape.to_str().expect("a UTF-8 path");
    let mut args = vec![
        "-i",
        landscape,
        "-c",
        "copy",
        "-metadata:s:v:0",
        "rotate=90",
    ];
    if faststart {
        args.extend(["-movflags", "+faststart"]);
        ffmpeg(&FIRST, "portrait.mp4", &args)
    } else {
        ffmpeg(&LAST, "portrait-index-last.mp4", &args)
    }
}

/// How a player shows the video stream of `bytes`: its frames' size, turned by the
/// track's rotation when it has one.
fn shown_size(bytes: &[u8], name: &str) -> (u64, u64) {
    let path = fixture_dir().join(format!("shown-{name}-{}.mp4", unique("f")));
    std::fs::write(&path, bytes).expect("the upload can be written");
    let out = run_tool(
        "ffprobe",
        &[
            "-v",
            "error",
            "-select_streams",
            "v:0",
            "-show_entries",
            "stream=width,height:stream_side_data=rotation",
            "-of",
            "json",
            path.to_str().expect("UTF-8"),
        ],
    );
    let _ = std::fs::remove_file(&path);
    let json: Value = serde_json::from_str(&out).expect("ffprobe prints JSON");
    let stream = &json["streams"][0];
    let (width, height) = (
        stream["width"].as_u64().unwrap_or(0),
        stream["height"].as_u64().unwrap_or(0),
    );
    let rotation = stream["side_data_list"]
        .as_array()
        .and_then(|list| list.iter().find_map(|data| data["rotation"].as_i64()))
        .unwrap_or(0);
    if rotation.rem_euclid(180) == 90 {
        (height, width)
    } else {
        (width, height)
    }
}

#[test]
fn a_portrait_phone_clip_is_described_and_converted_upright() {
    let (server, user) = server_and_user(options());
    assert_eq!(shown_size(portrait_mp4(true), "portrait-in"), (240, 320));

    // Sent as it came: the file keeps its rotation; the message gives the upright size
    // and an upright thumbnail.
    let (status, reply) = send(&server, &user, &base64_body(portrait_mp4(true)));
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(false));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (240, 320));
    assert_eq!(uploaded, portrait_mp4(true));
    assert_eq!(thumbnail(video_message(&entry)).dimensions(), (54, 72));

    // Converted: the frames themselves are turned upright.
    let body = with(
        base64_body(portrait_mp4(true)),
        json!({"convertToMP4": true}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (240, 320));
    assert_whatsapp_mp4(&uploaded, "portrait-converted", (240, 320));
    assert_eq!(shown_size(&uploaded, "portrait-converted"), (240, 320));

    // Index last: rewritten with the index first, and still shown upright.
    let (status, reply) = send(&server, &user, &base64_body(portrait_mp4(false)));
    let (id, metadata) = assert_sent(status, &reply, false);
    assert_eq!(metadata["was_converted"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    let uploaded = assert_video(&server, &user, &entry, (240, 320));
    assert_eq!(shown_size(&uploaded, "portrait-remuxed"), (240, 320));
    assert_eq!(thumbnail(video_message(&entry)).dimensions(), (54, 72));
}
