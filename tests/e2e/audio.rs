//! `POST /send/audio` through the real server, sandbox driver and plugin libraries: every input
//! format, voice-note layout checked by independent tools, the message as recorded, the
//! metadata, URL sources, and every kind of bad input with its code.

use std::path::Path;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use wuts_e2e::audio_fixtures::{
    self as fx, ALL_FORMATS, DURATION_TOLERANCE, Fixtures, LocalHttp, MP3, MP4_VIDEO,
};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::media_checks;
use wuts_e2e::{Auth, PHONE, PHONE_JID, Server, ServerOptions, User, unique};

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        Fixtures::generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("audio-e2e-fixtures"))
    })
}

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["buttons", "audio"])
        .required(&["buttons", "audio"])
}

fn server_and_user(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("audio"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/send/audio", &user.token, body)
}

fn base64_body(bytes: &[u8]) -> Value {
    json!({ "number": PHONE, "audio": fx::base64(bytes) })
}

fn with(mut body: Value, extra: Value) -> Value {
    if let (Value::Object(fields), Value::Object(extra)) = (&mut body, extra) {
        fields.extend(extra);
    }
    body
}

const METADATA_KEYS: [&str; 15] = [
    "audio_size_bytes",
    "audio_format",
    "audio_duration_seconds",
    "original_format",
    "conversion_applied",
    "conversion_time_ms",
    "download_time_ms",
    "upload_time_ms",
    "processing_time_ms",
    "ptt_enabled",
    "waveform_generated",
    "mentions_processed",
    "quoted_message_found",
    "async_processing",
    "sent_at",
];

/// Asserts the documented 200 body and returns its message id and metadata.
#[track_caller]
fn assert_sent(status: u16, reply: &Value) -> (String, Map<String, Value>) {
    let (id, timestamp) = media_checks::standard_sent(status, reply);
    let metadata = reply["metadata"]
        .as_object()
        .unwrap_or_else(|| panic!("no metadata object: {reply}"))
        .clone();
    let mut keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    keys.sort_unstable();
    let mut want = METADATA_KEYS.to_vec();
    want.sort_unstable();
    assert_eq!(keys, want, "metadata keys: {reply}");
    assert_eq!(metadata["audio_format"], json!("audio/ogg; codecs=opus"));
    assert_eq!(metadata["conversion_applied"], json!(true));
    assert_eq!(metadata["waveform_generated"], json!(true));
    assert_eq!(
        metadata["sent_at"],
        json!(timestamp),
        "sent_at is the ack's time"
    );
    for key in [
        "audio_size_bytes",
        "conversion_time_ms",
        "download_time_ms",
        "upload_time_ms",
        "processing_time_ms",
        "mentions_processed",
    ] {
        assert!(metadata[key].is_u64(), "{key} is a whole number: {reply}");
    }
    assert!(
        metadata["conversion_time_ms"].as_u64() <= metadata["processing_time_ms"].as_u64(),
        "conversion is part of processing: {reply}"
    );
    assert!(
        metadata["audio_duration_seconds"]
            .as_f64()
            .is_some_and(|s| s > 0.0)
    );
    (id, metadata)
}

/// Asserts a standard-envelope error with `status` and `code`; returns the error text.
#[track_caller]
fn assert_error(reply: (u16, Value), status: u16, code: &str) -> String {
    let (got, body) = reply;
    assert_eq!(got, status, "expected {status} {code}, got {got}: {body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    let text = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(!text.is_empty(), "{body}");
    text
}

/// The outbox entry for `message_id` (the newest entry).
#[track_caller]
fn newest_entry(server: &Server, user: &User, message_id: &str) -> Value {
    let outbox = server.outbox(user);
    let entry = outbox.first().cloned().unwrap_or(Value::Null);
    assert_eq!(entry["message_id"], json!(message_id), "{outbox:?}");
    entry
}

fn audio_message(entry: &Value) -> &Value {
    let audio = &entry["message"]["audioMessage"];
    assert!(audio.is_object(), "no audioMessage in {entry}");
    audio
}

/// The uploaded Ogg of an outbox entry, downloaded from `/sandbox/media/{id}`.
fn download(server: &Server, user: &User, entry: &Value) -> Vec<u8> {
    let media = &entry["media"][0];
    assert_eq!(media["kind"], json!("audio"), "{entry}");
    assert_eq!(
        media["mimetype"],
        json!("audio/ogg; codecs=opus"),
        "{entry}"
    );
    let url = media["url"].as_str().unwrap_or_default();
    let reply = server.client().get(url, user.auth());
    assert_eq!(reply.status, 200, "GET {url}: {}", reply.text());
    assert_eq!(Some(reply.body.len() as u64), media["size"].as_u64());
    reply.body
}

#[track_caller]
fn assert_close(what: &str, got: f64, want: f64, tolerance: f64) {
    assert!(
        (got - want).abs() <= tolerance,
        "{what}: {got:.3} s, expected {want:.3} s ± {tolerance} s"
    );
}

#[track_caller]
fn assert_waveform(audio: &Value) {
    let waveform = audio["waveform"]
        .as_array()
        .unwrap_or_else(|| panic!("waveform is an array of numbers: {audio}"));
    assert_eq!(waveform.len(), 64, "{audio}");
    assert!(
        waveform
            .iter()
            .all(|v| v.as_u64().is_some_and(|v| v <= 100)),
        "{audio}"
    );
    assert!(
        waveform.iter().any(|v| v.as_u64() == Some(100)),
        "speech is not silent: {audio}"
    );
}

#[test]
fn every_format_is_sent_as_plain_48_khz_opus() {
    let (server, user) = server_and_user(options());
    let source_seconds = fixtures().source_seconds();
    let mut cases = Cases::new();
    for format in ALL_FORMATS {
        cases.check(format.file, || {
            let input = fixtures().encoded(&format);
            let (status, reply) = send(&server, &user, &base64_body(&input));
            let (id, metadata) = assert_sent(status, &reply);
            assert_eq!(metadata["original_format"], json!(format.mime));
            assert_eq!(metadata["ptt_enabled"], json!(false));
            assert_eq!(metadata["async_processing"], json!(false));
            assert_eq!(metadata["download_time_ms"], json!(0));
            let entry = newest_entry(&server, &user, &id);
            assert_eq!(entry["route"], json!("/send/audio"));
            assert_eq!(entry["to"], json!(PHONE_JID));
            let audio = audio_message(&entry);
            assert_eq!(audio["ptt"], json!(false));
            assert_eq!(audio["mimetype"], json!("audio/ogg; codecs=opus"));
            assert_waveform(audio);

            let ogg = download(&server, &user, &entry);
            assert_eq!(metadata["audio_size_bytes"], json!(ogg.len()));
            let report =
                fx::probe_opus(&ogg, &fixtures().path(&format!("out-{}.ogg", format.file)));
            assert_eq!(
                (report.codec.as_str(), report.channels, report.streams),
                ("opus", 1, 1),
                "{report:?}"
            );
            assert_eq!(report.input_rate, 48_000, "plain audio is 48 kHz");
            let parsed = fx::parse_ogg_opus(&ogg);
            assert_eq!((parsed.channels, parsed.input_rate), (1, 48_000));
            // The video's audio track is as long as the speech too, give or take its codec's
            // priming, which the MP4 edit list may not trim.
            let tolerance = if format.file == MP4_VIDEO.file {
                0.1
            } else {
                DURATION_TOLERANCE
            };
            assert_close(
                "opusinfo length",
                report.opusinfo_seconds,
                source_seconds,
                tolerance,
            );
            assert_close(
                "reported duration",
                metadata["audio_duration_seconds"]
                    .as_f64()
                    .unwrap_or_default(),
                source_seconds,
                tolerance,
            );
            let seconds = audio["seconds"].as_u64().unwrap_or_default();
            assert_eq!(seconds, source_seconds.ceil() as u64, "{audio}");
        });
    }
    cases.finish();
}

#[test]
fn a_voice_note_has_the_native_whatsapp_layout_and_fields() {
    let (server, user) = server_and_user(options());
    let source_seconds = fixtures().source_seconds();
    let input = fixtures().encoded(&MP3);
    let body = with(
        base64_body(&input),
        json!({"ptt": true, "mentioned": ["+55 11 98888-7777", "5511977776666@s.whatsapp.net"]}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply);
    assert_eq!(metadata["ptt_enabled"], json!(true));
    assert_eq!(metadata["mentions_processed"], json!(2));
    assert_eq!(metadata["quoted_message_found"], json!(false));
    assert_eq!(metadata["original_format"], json!("audio/mpeg"));

    let entry = newest_entry(&server, &user, &id);
    let audio = audio_message(&entry);
    assert_eq!(audio["ptt"], json!(true));
    assert_eq!(audio["mimetype"], json!("audio/ogg; codecs=opus"));
    assert_eq!(audio["seconds"], json!(source_seconds.ceil() as u64));
    assert!(audio.get("viewOnce").is_none(), "{audio}");
    assert_waveform(audio);
    assert_eq!(
        audio["contextInfo"]["mentionedJID"],
        json!([
            "5511988887777@s.whatsapp.net",
            "5511977776666@s.whatsapp.net"
        ])
    );
    for key in [
        "url",
        "directPath",
        "mediaKey",
        "fileSha256",
        "fileEncSha256",
        "fileLength",
        "mediaKeyTimestamp",
    ] {
        assert!(audio.get(key).is_some(), "audioMessage has {key}: {audio}");
    }
    assert_eq!(audio["url"], entry["media"][0]["url"]);

    let ogg = download(&server, &user, &entry);
    assert_eq!(audio["fileLength"], json!(ogg.len()));
    let report = fx::probe_opus(&ogg, &fixtures().path("out-voice.ogg"));
    assert_eq!(
        (report.codec.as_str(), report.channels),
        ("opus", 1),
        "{report:?}"
    );
    assert_eq!(report.input_rate, 16_000, "voice notes are 16 kHz");
    assert_close(
        "ffprobe length",
        report.ffprobe_seconds,
        source_seconds,
        DURATION_TOLERANCE,
    );
    assert_close(
        "opusinfo length",
        report.opusinfo_seconds,
        source_seconds,
        DURATION_TOLERANCE,
    );
    let parsed = fx::parse_ogg_opus(&ogg);
    assert_eq!((parsed.channels, parsed.input_rate), (1, 16_000));
    fx::assert_code3_voice_packets(&parsed);
}

#[test]
fn a_data_uri_is_accepted() {
    let (server, user) = server_and_user(options());
    let input = fixtures().encoded(&MP3);
    let body = json!({
        "number": PHONE,
        "audio": format!("data:audio/mpeg;base64,{}", fx::base64(&input)),
        "ptt": true,
    });
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply);
    assert_eq!(metadata["original_format"], json!("audio/mpeg"));
    newest_entry(&server, &user, &id);
}

#[test]
fn audio_url_is_downloaded_from_a_local_server_when_private_urls_are_allowed() {
    let input = fixtures().encoded(&fx::M4A);
    let http = LocalHttp::serve("clip.m4a", "audio/mp4", input);
    let (server, user) = server_and_user(options().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));

    let body = json!({"number": PHONE, "audio_url": http.url("/clip.m4a"), "ptt": true});
    let (status, reply) = send(&server, &user, &body);
    let (id, metadata) = assert_sent(status, &reply);
    assert_eq!(metadata["original_format"], json!("audio/mp4"));
    assert!(
        metadata["download_time_ms"].as_u64() <= metadata["processing_time_ms"].as_u64(),
        "{reply}"
    );
    let entry = newest_entry(&server, &user, &id);
    assert_eq!(audio_message(&entry)["ptt"], json!(true));

    let text = assert_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "audio_url": http.url("/missing.m4a")}),
        ),
        400,
        "URL_HTTP_ERROR",
    );
    assert!(text.starts_with("audio_url: "), "{text}");
    assert_eq!(server.outbox(&user).len(), 1, "nothing more was sent");
}

#[test]
fn a_loopback_url_is_refused_without_allow_private_urls() {
    let http = LocalHttp::serve("clip.mp3", "audio/mpeg", fixtures().encoded(&MP3));
    let (server, user) = server_and_user(options());
    let text = assert_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "audio_url": http.url("/clip.mp3")}),
        ),
        400,
        "URL_FORBIDDEN",
    );
    assert!(text.starts_with("audio_url: "), "{text}");
    assert!(server.outbox(&user).is_empty());
}

/// The address policy applies to what a name resolves to, not to how it is written: the
/// machine's own name (loopback on most machines) is refused where it is resolved.
#[test]
fn a_name_that_resolves_to_loopback_is_refused() {
    let http = LocalHttp::serve("clip.mp3", "audio/mpeg", fixtures().encoded(&MP3));
    let (server, user) = server_and_user(options());
    let name = wuts_e2e::process::hostname();
    let loopback_only = std::net::ToSocketAddrs::to_socket_addrs(&(name.as_str(), 80))
        .map(|addresses| {
            let addresses: Vec<_> = addresses.collect();
            !addresses.is_empty() && addresses.iter().all(|a| a.ip().is_loopback())
        })
        .unwrap_or(false);
    // Where the machine's name is not loopback, `localhost` shows the literal check.
    let host = if loopback_only {
        name.as_str()
    } else {
        "localhost"
    };
    let url = http.url("/clip.mp3").replace("127.0.0.1", host);
    let text = assert_error(
        send(&server, &user, &json!({"number": PHONE, "audio_url": url})),
        400,
        "URL_FORBIDDEN",
    );
    if loopback_only {
        assert!(text.contains("non-public"), "{text}");
    }
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn a_redirect_loop_stops_at_the_limit_with_its_own_code() {
    let http = LocalHttp::serve("clip.mp3", "audio/mpeg", fixtures().encoded(&MP3));
    let (server, user) = server_and_user(
        options()
            .env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")
            .env("WUTS__FETCH__MAX_REDIRECTS", "3"),
    );
    let text = assert_error(
        send(
            &server,
            &user,
            &json!({"number": PHONE, "audio_url": http.url("/loop")}),
        ),
        400,
        "URL_TOO_MANY_REDIRECTS",
    );
    assert!(text.contains("more than 3 redirects"), "{text}");
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn quoting_a_known_message_quotes_it_whole_and_an_unknown_one_its_body() {
    let (server, user) = server_and_user(options());
    let (status, reply) = server.send_buttons(&user, &wuts_e2e::example_buttons_body());
    let buttons_id = checks::buttons_success(status, &reply);
    let input = fixtures().encoded(&MP3);

    let quoted = json!({"quoted": {"message_id": buttons_id, "participant": "+55 11 98888-7777", "body": "ignored"}});
    let (status, reply) = send(&server, &user, &with(base64_body(&input), quoted));
    let (id, metadata) = assert_sent(status, &reply);
    assert_eq!(metadata["quoted_message_found"], json!(true));
    let entry = newest_entry(&server, &user, &id);
    let context = &audio_message(&entry)["contextInfo"];
    assert_eq!(context["stanzaID"], json!(buttons_id));
    assert_eq!(
        context["participant"],
        json!("5511988887777@s.whatsapp.net")
    );
    let body_text = &context["quotedMessage"]["interactiveMessage"]["body"]["text"];
    assert_eq!(
        body_text,
        &json!("How would you like to proceed with your order?"),
        "the original is quoted whole: {context}"
    );

    let quoted = json!({"quoted": {"message_id": "3EB0AAAAAAAAAAAAAAAAAA", "participant": "5511988887777", "body": "what was said"}});
    let (status, reply) = send(&server, &user, &with(base64_body(&input), quoted));
    let (id, metadata) = assert_sent(status, &reply);
    assert_eq!(metadata["quoted_message_found"], json!(false));
    let entry = newest_entry(&server, &user, &id);
    let context = &audio_message(&entry)["contextInfo"];
    assert_eq!(context["stanzaID"], json!("3EB0AAAAAAAAAAAAAAAAAA"));
    assert_eq!(
        context["quotedMessage"],
        json!({"conversation": "what was said"})
    );
}

#[test]
fn view_once_is_wrapped_as_whatsapp_wraps_view_once_media() {
    let (server, user) = server_and_user(options());
    let body = with(
        base64_body(&fixtures().encoded(&MP3)),
        json!({"viewOnce": true, "ptt": true}),
    );
    let (status, reply) = send(&server, &user, &body);
    let (id, _) = assert_sent(status, &reply);
    let entry = newest_entry(&server, &user, &id);
    assert!(entry["message"].get("audioMessage").is_none(), "{entry}");
    let audio = &entry["message"]["viewOnceMessage"]["message"]["audioMessage"];
    assert_eq!(audio["viewOnce"], json!(true), "{entry}");
    assert_eq!(audio["ptt"], json!(true), "{entry}");
}

#[test]
fn delay_is_honoured_before_sending() {
    let (server, user) = server_and_user(options());
    let input = fixtures().encoded(&MP3);
    let started = Instant::now();
    let (status, reply) = send(
        &server,
        &user,
        &with(base64_body(&input), json!({"delay": 1500})),
    );
    let elapsed = started.elapsed();
    assert_sent(status, &reply);
    assert!(
        elapsed >= Duration::from_millis(1500),
        "answered after {elapsed:?}"
    );
}

#[test]
fn bad_input_is_a_400_with_its_code_and_sends_nothing() {
    let (server, user) = server_and_user(options());
    let fixtures = fixtures();
    let mp3 = fixtures.encoded(&MP3);
    let m4a = fixtures.encoded(&fx::M4A);
    let text = "This is not audio. ".repeat(500);
    let some_audio = fx::base64(&mp3);
    let cases: Vec<(&str, Value, &str)> = vec![
        (
            "empty",
            json!({"number": PHONE, "audio": ""}),
            "AUDIO_EMPTY",
        ),
        (
            "random bytes",
            base64_body(&fx::pseudo_random_bytes(20_000, 7)),
            "AUDIO_UNSUPPORTED",
        ),
        ("text", base64_body(text.as_bytes()), "AUDIO_UNSUPPORTED"),
        (
            "truncated mp3",
            base64_body(&mp3[..mp3.len() / 2]),
            "AUDIO_CORRUPT",
        ),
        (
            "truncated m4a",
            base64_body(&m4a[..m4a.len() * 2 / 3]),
            "AUDIO_CORRUPT",
        ),
        (
            "corrupt flac",
            base64_body(&fixtures.corrupt_flac()),
            "AUDIO_CORRUPT",
        ),
        (
            "video without audio",
            base64_body(&fixtures.silent_video()),
            "AUDIO_NO_STREAM",
        ),
        (
            "invalid base64",
            json!({"number": PHONE, "audio": "this is *not* base64!"}),
            "VALIDATION_ERROR",
        ),
        (
            "text data URI",
            json!({"number": PHONE, "audio": format!("data:text/plain;base64,{}", fx::base64(text.as_bytes()))}),
            "AUDIO_UNSUPPORTED",
        ),
        (
            "image data URI",
            json!({"number": PHONE, "audio": format!("data:image/png;base64,{some_audio}")}),
            "AUDIO_UNSUPPORTED",
        ),
        (
            "both sources",
            json!({"number": PHONE, "audio": some_audio, "audio_url": "https://example.com/a.mp3"}),
            "VALIDATION_ERROR",
        ),
        (
            "neither source",
            json!({"number": PHONE, "ptt": true}),
            "VALIDATION_ERROR",
        ),
        (
            "delay out of range",
            json!({"number": PHONE, "audio": some_audio, "delay": 60_001}),
            "VALIDATION_ERROR",
        ),
        (
            "bad mention",
            json!({"number": PHONE, "audio": some_audio, "mentioned": ["not a number"]}),
            "VALIDATION_ERROR",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, code) in cases {
        checks.check(name, || {
            let started = Instant::now();
            let text = assert_error(send(&server, &user, &body), 400, code);
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{name} took {:?}",
                started.elapsed()
            );
            assert!(
                !text.contains("This is not audio"),
                "the input is not echoed: {text}"
            );
            if name.ends_with("source") {
                let (_, reply) = send(&server, &user, &body);
                let fields: Vec<&Value> = reply["validation"]
                    .as_array()
                    .map(|v| v.iter().map(|f| &f["field"]).collect())
                    .unwrap_or_default();
                assert_eq!(fields, [&json!("audio"), &json!("audio_url")], "{reply}");
            }
        });
    }
    checks.finish();
    assert!(
        server.outbox(&user).is_empty(),
        "failed requests send nothing: {:?}",
        server.outbox(&user)
    );
}

#[test]
fn a_clip_over_the_length_cap_set_by_environment_is_too_long() {
    let (server, user) =
        server_and_user(options().env("WUTS__PLUGIN__AUDIO__MAX_DURATION_SECONDS", "2"));
    let text = assert_error(
        send(&server, &user, &base64_body(&fixtures().encoded(&fx::FLAC))),
        400,
        "AUDIO_TOO_LONG",
    );
    assert!(text.contains("2 s"), "the limit is named: {text}");
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn a_disconnected_device_is_device_not_ready() {
    let (server, user) = server_and_user(options());
    server.set_connected(&user, false);
    let text = assert_error(
        send(&server, &user, &base64_body(&fixtures().encoded(&MP3))),
        400,
        "DEVICE_NOT_READY",
    );
    assert!(text.contains("WhatsApp not connected"), "{text}");
    server.set_connected(&user, true);
    assert!(server.outbox(&user).is_empty());
}

#[test]
fn a_missing_or_unknown_token_is_a_401_in_the_standard_envelope() {
    let (server, _user) = server_and_user(options());
    let body = base64_body(b"ID3");
    for auth in [Auth::None, Auth::Bearer(&uuid_token())] {
        let reply = server.client().post_json("/send/audio", auth, &body);
        let body = reply.json();
        assert_eq!(reply.status, 401, "{body}");
        assert_eq!(body["success"], json!(false), "{body}");
        assert_eq!(body["error"], json!("unauthorized"), "{body}");
        assert!(
            body["error_code"].is_string() && body["timestamp"].is_string(),
            "{body}"
        );
    }
}

fn uuid_token() -> String {
    "0b6f3c1e-3f1d-4c3a-9d6e-2a9f8b7c6d5e".to_owned()
}
