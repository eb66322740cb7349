//! Writes the seed inputs of every fuzz target into `corpus/<target>/seed-*`: requests as
//! docs/API.md and the end-to-end tests write them, tiny audio files made by ffmpeg, Ogg/Opus
//! streams shaped like the encoder's, tiny pictures (the `image` crate, and ffmpeg for
//! lossy and animated WebP), PDFs written by hand, tiny videos made by GStreamer
//! (`gst-launch-1.0`), and received messages of every shape the event parser knows. The corpus kept in the repository is these seeds and what fuzzing added,
//! minimised (`cargo fuzz cmin`); run this only to start a corpus afresh:
//!
//! ```sh
//! cargo run --manifest-path tests/fuzz/Cargo.toml --example seeds [corpus-folder]
//! ```

use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use buffa::Message as _;
use image::codecs::gif::{GifEncoder, Repeat};
use image::{Delay, DynamicImage, ImageFormat, Rgba, RgbaImage};
use ogg::{PacketWriteEndInfo, PacketWriter};
use serde_json::{Value, json};
use wuts_fuzz::{CHAT, GROUP, InboundFields, MEMBER, OWN_JID};
use wuts_host::message_json::message_from_json;

fn main() {
    let corpus = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus"));
    let audio = audio_files();
    let mut seeds = Seeds { corpus, count: 0 };
    seeds.requests(&audio);
    for (name, bytes) in &audio {
        seeds.write("audio_sniffers", name, bytes);
    }
    for (name, bytes) in sniffer_headers() {
        seeds.write("audio_sniffers", name, &bytes);
    }
    for (name, bytes) in ogg_streams(&audio) {
        seeds.write("ogg_rewriter", &name, &bytes);
    }
    let media = MediaFiles::make();
    seeds.media_requests(&media);
    seeds.media_files(&media);
    for (name, fields, message) in received_messages() {
        let mut input = fields.header().into_bytes();
        input.push(0);
        let message = message_from_json(&message)
            .unwrap_or_else(|error| panic!("seed message {name}: {error}"));
        input.extend(message.encode_to_vec());
        seeds.write("event_parser", name, &input);
    }
    println!(
        "{} seeds written under {}",
        seeds.count,
        seeds.corpus.display()
    );
}

struct Seeds {
    corpus: PathBuf,
    count: usize,
}

impl Seeds {
    fn write(&mut self, target: &str, name: &str, bytes: &[u8]) {
        let folder = self.corpus.join(target);
        std::fs::create_dir_all(&folder).expect("corpus folder");
        std::fs::write(folder.join(format!("seed-{name}")), bytes).expect("seed file");
        self.count += 1;
    }

    fn json(&mut self, target: &str, name: &str, body: &Value) {
        self.write(target, name, body.to_string().as_bytes());
    }

    fn requests(&mut self, audio: &[(&'static str, Vec<u8>)]) {
        for (name, body) in plugin_requests() {
            let (target, name) = name.split_once('/').expect("target/name");
            self.json(&format!("plugin_{target}"), name, &body);
        }
        let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
        for (name, bytes) in audio {
            // Only the small clips: a transcode per input is the slow part of this target.
            if bytes.len() > 6 * 1024 {
                continue;
            }
            let voice = json!({"number": "5511999999999", "audio": b64(bytes), "ptt": true});
            self.json("plugin_audio", &format!("{name}-ptt"), &voice);
            let music = json!({"number": GROUP, "audio": format!("data:audio/x;base64,{}", b64(bytes)),
                "ptt": false, "viewOnce": true, "mentioned": [MEMBER],
                "quoted": {"message_id": "3EB0KNOWNTEXT", "participant": CHAT}, "delay": 10});
            self.json("plugin_audio", &format!("{name}-data-uri"), &music);
        }
    }
}

/// `target/name` and the JSON body: the documented examples, every optional field, both
/// quote shapes, known and unknown quoted messages, and a few refusals.
fn plugin_requests() -> Vec<(&'static str, Value)> {
    vec![
        // buttons
        (
            "buttons/documented",
            json!({"to": "5511999999999", "message": "How would you like to proceed?",
            "footer": "WUTS Store", "buttons": [{"id": "confirm_order", "display_text": "Confirm"}],
            "device_id": "dev_1"}),
        ),
        (
            "buttons/three-in-a-group",
            json!({"to": GROUP, "message": "Pick *one* 👇",
            "buttons": [{"id": "a", "display_text": "Yes ✅"}, {"id": "b", "display_text": "No"},
                        {"id": "c", "display_text": "Maybe later"}]}),
        ),
        (
            "buttons/formatted-number",
            json!({"to": "+55 (11) 99999-9999", "message": "x",
            "footer": "", "buttons": [{"id": "x", "display_text": "x"}]}),
        ),
        (
            "buttons/duplicate-ids",
            json!({"to": "5511999999999", "message": "m",
            "buttons": [{"id": "a", "display_text": "A"}, {"id": "a", "display_text": "B"}]}),
        ),
        // buttons-response
        (
            "buttons_response/documented",
            json!({"to": "5511999999999", "selected_button_id": "confirm_order",
            "selected_display_text": "Confirm", "quoted": {"message_id": "3EB0UNKNOWN",
            "participant": "5511999999999@s.whatsapp.net", "body": "How would you like to proceed?"}}),
        ),
        (
            "buttons_response/known",
            json!({"to": CHAT, "selected_button_id": "cancel_order",
            "quoted": {"message_id": "3EB0KNOWNBUTTONS", "participant": OWN_JID}}),
        ),
        (
            "buttons_response/known-legacy",
            json!({"to": CHAT, "selected_button_id": "yes",
            "quoted": {"message_id": "3EB0KNOWNLEGACYBUTTONS", "participant": CHAT}}),
        ),
        (
            "buttons_response/known-not-buttons",
            json!({"to": CHAT, "selected_button_id": "x",
            "selected_display_text": "X", "quoted": {"message_id": "3EB0KNOWNJUNK", "participant": CHAT}}),
        ),
        // text
        (
            "text/plain",
            json!({"number": "5511999999999", "text": "Hello *world* _how_ ~are~ `you`"}),
        ),
        (
            "text/everything",
            json!({"number": GROUP, "text": "See https://example.com/page?q=1 @5511977776666",
            "mentioned": [MEMBER, "5511977776666"], "quoted": {"message_id": "3EB0KNOWNEXTENDED",
            "participant": CHAT}, "delay": 1200, "typingDuration": 3, "linkPreview": true,
            "device_id": "dev_1"}),
        ),
        (
            "text/keyed-quote",
            json!({"number": "5511999999999", "text": "reply",
            "quoted": {"key": {"id": "3EB0UNKNOWN", "fromMe": true}, "message": {"conversation": "earlier"}}}),
        ),
        (
            "text/quote-image",
            json!({"number": CHAT, "text": "nice",
            "quoted": {"key": {"id": "3EB0KNOWNIMAGE", "fromMe": true, "participant": OWN_JID}}}),
        ),
        (
            "text/quote-in-group",
            json!({"number": GROUP, "text": "+1",
            "quoted": {"message_id": "3EB0KNOWNGROUP", "participant": MEMBER}}),
        ),
        // location
        (
            "location/place",
            json!({"to": "5511999999999", "latitude": -23.5505, "longitude": -46.6333,
            "name": "Praça da Sé", "address": "São Paulo, SP", "url": "https://maps.example.com/se",
            "comment": "here"}),
        ),
        (
            "location/live",
            json!({"to": GROUP, "latitude": 48.8584, "longitude": 2.2945,
            "accuracy_in_meters": 12, "speed_in_mps": 1.5, "degrees_clockwise_from_magnetic_north": 270,
            "caption": "On my way", "sequence_number": 3, "time_offset": 60, "duration_in_seconds": 3600}),
        ),
        (
            "location/edges",
            json!({"to": "5511999999999", "latitude": 90, "longitude": -180.0}),
        ),
        // contact
        (
            "contact/one",
            json!({"to": "5511999999999", "contact": {"display_name": "Maria Silva",
            "phone": "+55 (11) 98888-7777", "first_name": "Maria", "last_name": "Silva",
            "company": "ACME; Inc.", "email": "maria@example.com"}}),
        ),
        (
            "contact/many",
            json!({"to": GROUP, "contacts": [
            {"display_name": "A, B", "phone": "5511900001111"},
            {"display_name": "José\\n", "phone": "1.555.000.1234", "company": "x:y"}]}),
        ),
        (
            "contact/none",
            json!({"to": "5511999999999", "contacts": []}),
        ),
        // reaction
        (
            "reaction/known",
            json!({"number": CHAT, "messageId": "3EB0KNOWNTEXT", "reaction": "👍"}),
        ),
        (
            "reaction/unknown-in-group",
            json!({"number": GROUP, "messageId": "3EB0UNKNOWN",
            "reaction": "❤️", "fromMe": false, "participant": MEMBER}),
        ),
        (
            "reaction/remove",
            json!({"number": "5511999999999", "messageId": "3EB0UNKNOWN",
            "reaction": "", "fromMe": true}),
        ),
        (
            "reaction/family-emoji",
            json!({"number": GROUP, "messageId": "3EB0KNOWNGROUP",
            "reaction": "👨‍👩‍👧‍👦"}),
        ),
        // template
        (
            "template/buttons",
            json!({"number": "5511999999999", "body": "Your order shipped",
            "footer": "WUTS", "header": {"type": "text", "text": "Order 42"},
            "buttons": [{"type": "quick_reply", "text": "Thanks", "id": "thanks"},
                        {"type": "url", "text": "Track", "url": "https://example.com/track/42"},
                        {"type": "call", "text": "Call us", "phone_number": "+5511999999999"}],
            "delay": 0}),
        ),
        (
            "template/image-header",
            json!({"number": GROUP, "body": "Look",
            "header": {"type": "image", "image": "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
                       "text": "caption"},
            "buttons": [{"type": "quick_reply", "text": "OK", "id": "ok"}]}),
        ),
        (
            "template/image-url",
            json!({"number": "5511999999999", "body": "b",
            "header": {"type": "image", "image_url": "https://example.com/a.jpg"},
            "buttons": [{"type": "url", "text": "Go", "url": "http://example.com"}]}),
        ),
        // poll
        (
            "poll/single",
            json!({"to": "5511999999999", "question": "Lunch?",
            "options": [{"option_name": "Pizza"}, {"option_name": "Sushi"}, {"option_name": " Salad "}]}),
        ),
        (
            "poll/multiple",
            json!({"to": GROUP, "question": "Which days?", "allow_multiple_answers": true,
            "options": [{"option_name": "Mon"}, {"option_name": "Tue"}, {"option_name": "Wed"},
                        {"option_name": "Thu"}, {"option_name": "Fri"}]}),
        ),
        (
            "poll/duplicate",
            json!({"to": "5511999999999", "question": "q",
            "options": [{"option_name": "Yes"}, {"option_name": "Yes "}]}),
        ),
        // list
        (
            "list/documented",
            json!({"to": "5511999999999", "title": "Our menu",
            "body": "Pick one of the products below to continue.", "footer": "WUTS Store",
            "button_text": "View products", "sections": [{"title": "Beverages", "rows": [
                {"id": "coffee", "title": "Coffee", "description": "Freshly brewed"},
                {"id": "tea", "title": "Tea", "description": "Black or green"}]}]}),
        ),
        (
            "list/sections",
            json!({"to": GROUP, "body": "b", "button_text": "Open", "sections": [
            {"title": "A", "rows": [{"id": "1", "title": "One"}]},
            {"title": "B", "rows": [{"id": "2", "title": "Two"}, {"id": "3", "title": "Three"}]}]}),
        ),
        (
            "list/response-documented",
            json!({"to": "5511999999999", "selected_row_id": "coffee",
            "title": "Coffee", "description": "Freshly brewed", "quoted": {"message_id": "3EB0UNKNOWN",
            "participant": "5511999999999@s.whatsapp.net", "body": "Pick one of the products below to continue."}}),
        ),
        (
            "list/response-known",
            json!({"to": CHAT, "selected_row_id": "tea",
            "quoted": {"message_id": "3EB0KNOWNLIST", "participant": OWN_JID}}),
        ),
        (
            "list/response-native-flow",
            json!({"to": CHAT, "selected_row_id": "coffee",
            "quoted": {"key": {"id": "3EB0KNOWNSELECT", "fromMe": false}}}),
        ),
        (
            "list/response-group",
            json!({"to": GROUP, "selected_row_id": "coffee", "description": "d",
            "quoted": {"key": {"id": "3EB0KNOWNGROUPLIST", "fromMe": true}}}),
        ),
        // message-ops
        (
            "message_ops/edit",
            json!({"messageId": "3EB0KNOWNTEXT", "to": CHAT, "message": "Fixed typo"}),
        ),
        (
            "message_ops/edit-extended",
            json!({"messageId": "3EB0KNOWNEXTENDED", "to": CHAT, "message": "x"}),
        ),
        (
            "message_ops/edit-too-old",
            json!({"messageId": "3EB0KNOWNOLD", "to": CHAT, "message": "late"}),
        ),
        (
            "message_ops/delete",
            json!({"messageId": "3EB0KNOWNTEXT", "chatJid": CHAT}),
        ),
        (
            "message_ops/delete-for-me",
            json!({"messageId": "3EB0KNOWNIMAGE", "chatJid": CHAT,
            "deleteType": "for_me", "reason": "oops"}),
        ),
        (
            "message_ops/admin-revoke",
            json!({"messageId": "3EB0KNOWNGROUP", "chatJid": GROUP,
            "deleteType": "for_everyone", "validateOwnership": false}),
        ),
        // audio without audio
        (
            "audio/url",
            json!({"number": "5511999999999", "audio_url": "https://example.com/a.mp3", "ptt": true}),
        ),
        (
            "audio/empty",
            json!({"number": "5511999999999", "audio": ""}),
        ),
        (
            "audio/not-audio",
            json!({"number": "5511999999999", "audio": "SGVsbG8sIHdvcmxkIQ=="}),
        ),
    ]
}

/// Tiny clips of every container the plugin takes, made by ffmpeg from a 0.3 s tone.
fn audio_files() -> Vec<(&'static str, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("wuts-fuzz-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let formats: [(&str, &str, &[&str]); 14] = [
        ("wav", "wav", &["-ar", "8000", "-c:a", "pcm_s16le"]),
        (
            "mp3",
            "mp3",
            &["-ar", "16000", "-c:a", "libmp3lame", "-b:a", "16k"],
        ),
        (
            "mp3-no-id3",
            "mp3",
            &[
                "-ar",
                "16000",
                "-c:a",
                "libmp3lame",
                "-b:a",
                "16k",
                "-id3v2_version",
                "0",
            ],
        ),
        (
            "opus-voice",
            "ogg",
            &[
                "-ar",
                "16000",
                "-c:a",
                "libopus",
                "-b:a",
                "12k",
                "-application",
                "voip",
                "-frame_duration",
                "20",
            ],
        ),
        (
            "opus-60ms",
            "opus",
            &[
                "-ar",
                "48000",
                "-c:a",
                "libopus",
                "-b:a",
                "16k",
                "-frame_duration",
                "60",
            ],
        ),
        (
            "vorbis",
            "ogg",
            &["-ar", "8000", "-c:a", "libvorbis", "-q:a", "0"],
        ),
        ("flac", "flac", &["-ar", "8000", "-c:a", "flac"]),
        (
            "m4a",
            "m4a",
            &["-ar", "16000", "-c:a", "aac", "-b:a", "16k"],
        ),
        (
            "m4a-faststart",
            "m4a",
            &[
                "-ar",
                "16000",
                "-c:a",
                "aac",
                "-b:a",
                "16k",
                "-movflags",
                "+faststart",
            ],
        ),
        (
            "3gp",
            "3gp",
            &["-ar", "16000", "-c:a", "aac", "-b:a", "16k"],
        ),
        (
            "adts",
            "aac",
            &["-ar", "16000", "-c:a", "aac", "-b:a", "16k"],
        ),
        (
            "webm",
            "webm",
            &["-ar", "48000", "-c:a", "libopus", "-b:a", "12k"],
        ),
        ("mka", "mka", &["-ar", "8000", "-c:a", "flac"]),
        ("aiff", "aiff", &["-ar", "8000", "-c:a", "pcm_s16be"]),
    ];
    let mut files = Vec::new();
    for (name, extension, codec) in formats {
        let out = dir.join(format!("{name}.{extension}"));
        let status = Command::new("ffmpeg")
            .args([
                "-hide_banner",
                "-loglevel",
                "error",
                "-y",
                "-f",
                "lavfi",
                "-i",
            ])
            .arg("sine=frequency=440:duration=0.3")
            .args(["-ac", "1"])
            .args(codec)
            .arg(&out)
            .status()
            .expect("ffmpeg (apt-get install ffmpeg) makes the audio seeds");
        assert!(status.success(), "ffmpeg failed to write {name}");
        files.push((name, std::fs::read(&out).expect("ffmpeg's output")));
    }
    // An MP4 cut before its index (at the end without faststart): refused before decoding.
    let m4a = files
        .iter()
        .find(|(name, _)| *name == "m4a")
        .map(|(_, b)| b.clone());
    if let Some(m4a) = m4a {
        files.push(("m4a-truncated", m4a[..m4a.len() / 2].to_vec()));
    }
    let _ = std::fs::remove_dir_all(&dir);
    files
}

/// Headers the sniffer knows that ffmpeg does not write here.
fn sniffer_headers() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("amr", b"#!AMR\n\x3c\x48\xf5\x1f\x96\x66\x79\xe1\xe0\x01\xe7\x8a\xf0\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec()),
        ("rf64", b"RF64\xff\xff\xff\xffWAVEds64\x1c\x00\x00\x00".to_vec()),
        ("wav-odd-chunk", {
            let mut wav = b"RIFF\0\0\0\0WAVE".to_vec();
            wav.extend_from_slice(b"LIST\x03\0\0\0abc\0");
            wav.extend_from_slice(b"fmt \x10\0\0\0\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0data\0\xfa\0\0");
            wav
        }),
        ("mp4-64bit-box", b"\x00\x00\x00\x01mdat\x00\x00\x00\x00\x00\x00\x00\x10\x00\x00\x00\x08moov".to_vec()),
        ("aifc", b"FORM\x00\x00\x00\x20AIFCFVER\x00\x00\x00\x04\xa2\x80\x51\x40".to_vec()),
        ("mpeg-frame", vec![0xFF, 0xFB, 0x90, 0x64, 0, 0, 0, 0]),
    ]
}

/// Ogg/Opus streams as the rewriter gets them (20 ms code-0 packets, headers on pages of
/// their own), written as the encoder writes them, plus ffmpeg's.
fn ogg_streams(audio: &[(&'static str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let mut streams: Vec<(String, Vec<u8>)> = audio
        .iter()
        .filter(|(name, _)| name.starts_with("opus"))
        .map(|(name, bytes)| (name.to_string(), bytes.clone()))
        .collect();
    let silk_wb_20 = 9 << 3;
    let shapes: [(&str, Vec<u8>, usize, u64); 4] = [
        ("silk-7-frames", vec![silk_wb_20; 7], 4, 500),
        (
            "mixed-tocs",
            vec![
                silk_wb_20,
                silk_wb_20,
                silk_wb_20 | 4,
                13 << 3,
                13 << 3,
                11 << 3,
                (9 << 3) | 3,
                31 << 3,
            ],
            3,
            0,
        ),
        ("one-page", vec![silk_wb_20; 5], 50, 0),
        ("long-frames", vec![silk_wb_20; 3], 50, 0),
    ];
    for (name, tocs, per_page, end_trim) in shapes {
        let frame_len = if name == "long-frames" { 400 } else { 24 };
        streams.push((
            name.to_string(),
            opus_stream(&tocs, frame_len, per_page, end_trim),
        ));
    }
    streams
}

fn opus_stream(tocs: &[u8], frame_len: usize, per_page: usize, end_trim: u64) -> Vec<u8> {
    const SERIAL: u32 = 0x5155_4153;
    let mut head = b"OpusHead\x01\x01\x38\x01\x80\x3e\x00\x00\x00\x00\x00".to_vec();
    head.truncate(19);
    let mut tags = b"OpusTags".to_vec();
    tags.extend_from_slice(&4u32.to_le_bytes());
    tags.extend_from_slice(b"wuts");
    tags.extend_from_slice(&0u32.to_le_bytes());
    let mut writer = PacketWriter::new(Vec::new());
    for header in [head, tags] {
        writer
            .write_packet(header, SERIAL, PacketWriteEndInfo::EndPage, 0)
            .expect("header page");
    }
    let mut granule = 0;
    for (index, &toc) in tocs.iter().enumerate() {
        let mut packet = vec![toc];
        if toc & 3 == 3 {
            packet.push(0x02);
        }
        packet.extend((0..frame_len).map(|i| (index * 31 + i) as u8));
        granule += wuts_plugin_audio::codec::ogg_code3::packet_samples(&packet).unwrap_or(0);
        let last = index + 1 == tocs.len();
        let (end, position) = if last {
            (
                PacketWriteEndInfo::EndStream,
                granule.saturating_sub(end_trim),
            )
        } else if (index + 1) % per_page == 0 {
            (PacketWriteEndInfo::EndPage, granule)
        } else {
            (PacketWriteEndInfo::NormalPacket, granule)
        };
        writer
            .write_packet(packet, SERIAL, end, position)
            .expect("audio page");
    }
    writer.into_inner()
}

/// Received messages (in the sandbox's JSON spelling) with who sent them where.
fn received_messages() -> Vec<(&'static str, InboundFields, Value)> {
    let direct = InboundFields::default();
    let group = InboundFields {
        chat_jid: GROUP.into(),
        sender_jid: "123456789012345:3@lid".into(),
        sender_pn: Some("5511977776666:3@s.whatsapp.net".into()),
        sender_lid: Some("123456789012345@lid".into()),
        push_name: Some("Bob 🎸".into()),
        ..InboundFields::default()
    };
    let mine = InboundFields {
        is_from_me: true,
        sender_jid: OWN_JID.into(),
        push_name: None,
        ..InboundFields::default()
    };
    let odd = InboundFields {
        message_id: "3EB0 /?&=%é".into(),
        chat_jid: "status@broadcast".into(),
        sender_jid: "nobody".into(),
        own_jid: None,
        device_id: "dev/1?x=y".into(),
        unix_seconds: -62_135_596_800,
        ..InboundFields::default()
    };
    let context = json!({"stanzaID": "3EB0QUOTED", "participant": "15550000000:2@s.whatsapp.net",
        "quotedMessage": {"conversation": "earlier"}, "mentionedJID": [MEMBER]});
    let media = json!({"url": "https://mmg.whatsapp.net/x.enc", "directPath": "/v/x.enc",
        "mediaKey": "AQIDBA==", "fileSHA256": "AQIDBA==", "fileEncSHA256": "AQIDBA==",
        "fileLength": "5000"});
    let mut image = json!({"mimetype": "image/png", "caption": "the plan", "width": 640,
        "height": 480, "contextInfo": context});
    merge(&mut image, &media);
    let mut document = json!({"mimetype": "application/pdf", "fileName": "plan.pdf",
        "caption": "see attached"});
    merge(&mut document, &media);
    let mut audio = json!({"mimetype": "audio/ogg; codecs=opus", "seconds": 3, "ptt": true});
    merge(&mut audio, &media);
    let native_flow = |name: &str, params: &str| {
        json!({"interactiveResponseMessage": {"body": {"text": "Yes"},
            "nativeFlowResponseMessage": {"name": name, "paramsJSON": params, "version": 3},
            "contextInfo": context}})
    };
    vec![
        ("text", direct.clone(), json!({"conversation": "hello"})),
        (
            "extended-text",
            group.clone(),
            json!({"extendedTextMessage": {"text": "hi @5511977776666",
            "contextInfo": context}}),
        ),
        ("image", direct.clone(), json!({"imageMessage": image})),
        (
            "video",
            group.clone(),
            json!({"videoMessage": {"mimetype": "video/mp4", "seconds": 4,
            "caption": "clip", "width": 320, "height": 240}}),
        ),
        (
            "ptv",
            direct.clone(),
            json!({"ptvMessage": {"mimetype": "video/mp4", "seconds": 2}}),
        ),
        ("audio", direct.clone(), json!({"audioMessage": audio})),
        (
            "document-with-caption",
            direct.clone(),
            json!({"documentWithCaptionMessage": {"message": {
            "documentMessage": document}}}),
        ),
        (
            "sticker",
            group.clone(),
            json!({"stickerMessage": {"mimetype": "image/webp", "width": 512, "height": 512}}),
        ),
        (
            "location",
            direct.clone(),
            json!({"locationMessage": {"degreesLatitude": -23.55,
            "degreesLongitude": -46.63, "name": "Sé"}}),
        ),
        (
            "live-location",
            group.clone(),
            json!({"liveLocationMessage": {"degreesLatitude": 1.0,
            "degreesLongitude": 2.0, "caption": "omw"}}),
        ),
        (
            "contact",
            direct.clone(),
            json!({"contactMessage": {"displayName": "Maria",
            "vcard": "BEGIN:VCARD\nVERSION:3.0\nFN:Maria\nEND:VCARD"}}),
        ),
        (
            "contacts",
            direct.clone(),
            json!({"contactsArrayMessage": {"displayName": "2 contacts",
            "contacts": [{"displayName": "A"}, {"displayName": "B"}]}}),
        ),
        (
            "poll",
            group.clone(),
            json!({"pollCreationMessageV3": {"name": "Lunch?",
            "options": [{"optionName": "Pizza"}, {"optionName": "Sushi"}], "selectableOptionsCount": 1}}),
        ),
        (
            "poll-vote",
            group.clone(),
            json!({"pollUpdateMessage": {"pollCreationMessageKey": {
            "remoteJID": GROUP, "fromMe": true, "id": "3EB0POLL"},
            "vote": {"encPayload": "AQID", "encIV": "AQID"}}}),
        ),
        (
            "reaction",
            direct.clone(),
            json!({"reactionMessage": {"key": {"remoteJID": CHAT,
            "fromMe": true, "id": "3EB0MINE"}, "text": "👍", "senderTimestampMS": "1781534040000"}}),
        ),
        (
            "revoke",
            group.clone(),
            json!({"protocolMessage": {"key": {"id": "3EB0GONE"}, "type": "REVOKE"}}),
        ),
        (
            "edit",
            direct.clone(),
            json!({"protocolMessage": {"key": {"id": "3EB0OLD"},
            "type": "MESSAGE_EDIT", "editedMessage": {"conversation": "fixed"}}}),
        ),
        (
            "edited-envelope",
            direct.clone(),
            json!({"editedMessage": {"message": {"protocolMessage": {
            "key": {"id": "3EB0OLD"}, "type": "MESSAGE_EDIT", "editedMessage": {
            "extendedTextMessage": {"text": "fixed again"}}}}}}),
        ),
        (
            "buttons-response",
            direct.clone(),
            json!({"buttonsResponseMessage": {"selectedButtonID": "yes",
            "selectedDisplayText": "Yes", "type": "DISPLAY_TEXT", "contextInfo": context}}),
        ),
        (
            "template-reply",
            direct.clone(),
            json!({"templateButtonReplyMessage": {"selectedID": "yes",
            "selectedDisplayText": "Yes", "selectedIndex": 0, "contextInfo": context}}),
        ),
        (
            "list-response",
            direct.clone(),
            json!({"listResponseMessage": {"title": "Large",
            "description": "40 cm", "listType": "SINGLE_SELECT",
            "singleSelectReply": {"selectedRowID": "size_l"}, "contextInfo": context}}),
        ),
        (
            "native-flow-button",
            direct.clone(),
            native_flow("quick_reply", r#"{"id":"yes","display_text":"Yes"}"#),
        ),
        (
            "native-flow-row",
            group.clone(),
            native_flow(
                "single_select",
                r#"{"selected_row_id":"size_l","title":"Large","description":"40 cm"}"#,
            ),
        ),
        (
            "native-flow-number-id",
            direct.clone(),
            native_flow("", r#"{"button_id":42}"#),
        ),
        (
            "native-flow-malformed",
            direct.clone(),
            native_flow("quick_reply", "{not json"),
        ),
        (
            "native-flow-form",
            direct.clone(),
            native_flow("galaxy_message", r#"{"flow_token":"t"}"#),
        ),
        (
            "ephemeral-view-once",
            group.clone(),
            json!({"ephemeralMessage": {"message": {
            "viewOnceMessageV2": {"message": {"imageMessage": {"mimetype": "image/jpeg"}}}}}}),
        ),
        (
            "device-sent",
            mine.clone(),
            json!({"deviceSentMessage": {"destinationJID": CHAT,
            "message": {"conversation": "from my phone"}}}),
        ),
        (
            "sender-key",
            group.clone(),
            json!({"senderKeyDistributionMessage": {"groupID": GROUP,
            "axolotlSenderKeyDistributionMessage": "AQID"}}),
        ),
        ("empty", odd.clone(), json!({})),
        ("odd-ids", odd, json!({"conversation": "x"})),
        (
            "deep-envelopes",
            direct,
            json!({"ephemeralMessage": {"message": {"viewOnceMessage": {
            "message": {"ephemeralMessage": {"message": {"viewOnceMessage": {"message": {
            "ephemeralMessage": {"message": {"viewOnceMessage": {"message": {"ephemeralMessage": {
            "message": {"viewOnceMessage": {"message": {"ephemeralMessage": {"message": {
            "conversation": "deep"}}}}}}}}}}}}}}}}}}}),
        ),
        (
            "from-me-in-group",
            InboundFields {
                chat_jid: GROUP.into(),
                ..mine
            },
            json!({"extendedTextMessage": {"text": "mine"}}),
        ),
    ]
}

fn merge(into: &mut Value, from: &Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        for (key, value) in from {
            into.insert(key.clone(), value.clone());
        }
    }
}

// ---- the media plugins: image, sticker, document, video ----

/// The files the media plugins' seeds carry, each a few KB at most.
struct MediaFiles {
    /// JPEG, PNG, GIF and WebP, still and animated, as the image and sticker plugins take.
    pictures: Vec<(&'static str, Vec<u8>)>,
    /// PDFs (page count) and files of other types (MIME sniffing).
    documents: Vec<(&'static str, Vec<u8>)>,
    /// MP4 (index first and last), QuickTime and WebM, and MP4 box layouts written by hand.
    videos: Vec<(&'static str, Vec<u8>)>,
}

impl MediaFiles {
    fn make() -> MediaFiles {
        MediaFiles {
            pictures: pictures(),
            documents: documents(),
            videos: videos(),
        }
    }

    fn picture(&self, name: &str) -> &[u8] {
        find(&self.pictures, name)
    }

    fn document(&self, name: &str) -> &[u8] {
        find(&self.documents, name)
    }

    fn video(&self, name: &str) -> &[u8] {
        find(&self.videos, name)
    }
}

fn find<'a>(files: &'a [(&'static str, Vec<u8>)], name: &str) -> &'a [u8] {
    files
        .iter()
        .find(|(found, _)| *found == name)
        .map(|(_, bytes)| bytes.as_slice())
        .unwrap_or_else(|| panic!("no seed file {name}"))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn data_uri(mimetype: &str, bytes: &[u8]) -> String {
    format!("data:{mimetype};base64,{}", b64(bytes))
}

impl Seeds {
    /// Request bodies for the four media plugins: every picture, document and video with
    /// the bare fields, one of each with every optional field, and the refusals (a URL,
    /// which the harness does not fetch, both sources, an empty or a foreign file).
    fn media_requests(&mut self, media: &MediaFiles) {
        let quoted = json!({"message_id": "3EB0KNOWNTEXT", "participant": CHAT});
        let keyed = json!({"key": {"id": "3EB0UNKNOWN", "fromMe": true},
            "message": {"conversation": "earlier"}});
        let text = b64(b"Hello, world!");

        // image
        for (name, bytes) in &media.pictures {
            let body = json!({"number": "5511999999999", "image": b64(bytes)});
            self.json("plugin_image", name, &body);
        }
        let everything = json!({"number": GROUP,
            "image": data_uri("image/jpeg", media.picture("jpeg-exif-rotated")),
            "caption": "Look *here* @5511977776666", "viewOnce": true, "mentioned": [MEMBER],
            "quoted": {"message_id": "3EB0KNOWNIMAGE", "participant": CHAT}, "delay": 10,
            "device_id": "dev_1"});
        self.json("plugin_image", "everything", &everything);
        let keyed_quote = json!({"number": CHAT, "image": b64(media.picture("png")),
            "caption": "", "quoted": keyed.clone()});
        self.json("plugin_image", "keyed-quote", &keyed_quote);
        for (name, body) in [
            (
                "url",
                json!({"number": "5511999999999", "image_url": "https://example.com/a.png"}),
            ),
            (
                "both",
                json!({"number": "5511999999999", "image": b64(media.picture("png")),
                "image_url": "https://example.com/a.png"}),
            ),
            (
                "not-image",
                json!({"number": "5511999999999", "image": text.clone()}),
            ),
            ("empty", json!({"number": "5511999999999", "image": ""})),
        ] {
            self.json("plugin_image", name, &body);
        }

        // sticker
        for (name, bytes) in &media.pictures {
            let body = json!({"to": "5511999999999", "sticker": b64(bytes)});
            self.json("plugin_sticker", name, &body);
        }
        for (name, body) in [
            (
                "animated-claimed",
                json!({"to": GROUP, "sticker": data_uri("image/gif", media.picture("gif-animated")),
                "is_animated": true, "quoted": quoted.clone(), "delay": 10, "device_id": "dev_1"}),
            ),
            (
                "still-claimed",
                json!({"to": CHAT, "sticker": b64(media.picture("webp-512")),
                "is_animated": false, "quoted": keyed.clone()}),
            ),
            (
                "mismatch",
                json!({"to": CHAT, "sticker": b64(media.picture("webp-512")), "is_animated": true}),
            ),
            (
                "mismatch-animated",
                json!({"to": CHAT, "sticker": b64(media.picture("webp-animated")),
                "is_animated": false}),
            ),
            (
                "url",
                json!({"to": "5511999999999", "sticker_url": "https://example.com/s.webp"}),
            ),
            (
                "not-image",
                json!({"to": "5511999999999", "sticker": text.clone()}),
            ),
            ("empty", json!({"to": "5511999999999", "sticker": ""})),
        ] {
            self.json("plugin_sticker", name, &body);
        }

        // document
        for (name, bytes) in &media.documents {
            let body = json!({"number": "5511999999999", "document": b64(bytes)});
            self.json("plugin_document", name, &body);
        }
        for (name, body) in [
            (
                "everything",
                json!({"number": GROUP,
                "document": data_uri("application/pdf", media.document("pdf-two-pages")),
                "file_name": "Relatório 2024.pdf", "caption": "see attached @5511977776666",
                "mentioned": [MEMBER], "quoted": quoted.clone(), "delay": 5, "device_id": "dev_1"}),
            ),
            (
                "given-type",
                json!({"number": CHAT, "document": b64(b"a,b\n1,2\n"),
                "mime_type": "Text/CSV; charset=utf-8", "file_name": "../../etc/passwd",
                "quoted": keyed.clone()}),
            ),
            (
                "named-text",
                json!({"number": "5511999999999", "document": text.clone(), "file_name": "notes.txt"}),
            ),
            (
                "pdf-declared",
                json!({"number": "5511999999999",
                "document": b64(media.document("pdf-bad-startxref")), "mime_type": "application/pdf",
                "file_name": "scan"}),
            ),
            (
                "url",
                json!({"number": "5511999999999", "document_url": "https://example.com/a.pdf",
                "file_name": "a.pdf"}),
            ),
            (
                "url-without-name",
                json!({"number": "5511999999999", "document_url": "https://example.com/a.pdf"}),
            ),
            (
                "bad-mime",
                json!({"number": "5511999999999", "document": text.clone(), "mime_type": "not a type"}),
            ),
            ("empty", json!({"number": "5511999999999", "document": ""})),
        ] {
            self.json("plugin_document", name, &body);
        }

        // video
        for (name, bytes) in &media.videos {
            let body = json!({"number": "5511999999999", "video": b64(bytes)});
            self.json("plugin_video", name, &body);
        }
        for (name, body) in [
            (
                "everything",
                json!({"number": GROUP,
                "video": data_uri("video/mp4", media.video("mp4-index-first")),
                "caption": "clip @5511977776666", "seconds": 3, "viewOnce": true,
                "gifPlayback": true, "mentioned": [MEMBER], "quoted": quoted.clone(), "delay": 10,
                "device_id": "dev_1"}),
            ),
            (
                "convert",
                json!({"number": CHAT, "video": b64(media.video("mp4-index-first")),
                "convertToMP4": true, "generateThumbnail": false, "quoted": keyed.clone()}),
            ),
            (
                "custom-thumbnail",
                json!({"number": CHAT, "video": b64(media.video("mp4-index-last")),
                "thumbnail": b64(media.picture("png"))}),
            ),
            (
                "custom-thumbnail-jpeg",
                json!({"number": CHAT, "video": b64(media.video("webm")),
                "thumbnail": data_uri("image/jpeg", media.picture("jpeg"))}),
            ),
            (
                "bad-thumbnail",
                json!({"number": CHAT, "video": b64(media.video("mp4-index-first")),
                "thumbnail": b64(media.picture("gif"))}),
            ),
            (
                "url",
                json!({"number": "5511999999999", "video_url": "https://example.com/v.mp4"}),
            ),
            (
                "not-video",
                json!({"number": "5511999999999", "video": text.clone()}),
            ),
            (
                "picture",
                json!({"number": "5511999999999", "video": b64(media.picture("png"))}),
            ),
            ("empty", json!({"number": "5511999999999", "video": ""})),
        ] {
            self.json("plugin_video", name, &body);
        }
    }

    /// Files for the readers' targets: each plugin's own, plus a few of the others' (a
    /// PNG as a document, pictures as custom video thumbnails).
    fn media_files(&mut self, media: &MediaFiles) {
        for (name, bytes) in &media.documents {
            self.write("document_readers", name, bytes);
        }
        self.write("document_readers", "png", media.picture("png"));
        for (name, bytes) in &media.pictures {
            self.write("image_readers", name, bytes);
            self.write("sticker_readers", name, bytes);
        }
        for (name, bytes) in &media.videos {
            self.write("video_readers", name, bytes);
        }
        // The custom thumbnail reader takes JPEG and PNG.
        self.write("video_readers", "thumbnail-png", media.picture("png"));
        self.write("video_readers", "thumbnail-jpeg", media.picture("jpeg"));
    }
}

/// RGBA pixels with a gradient and some transparency, so that encoders have work to do.
fn gradient(width: u32, height: u32, shift: u32) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| {
        Rgba([
            ((x * 16 + shift) % 256) as u8,
            ((y * 16) % 256) as u8,
            ((x + y) * 8 % 256) as u8,
            if (x + y) % 5 == 0 { 128 } else { 255 },
        ])
    })
}

fn encoded(picture: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture
        .write_to(&mut out, format)
        .unwrap_or_else(|error| panic!("seed picture as {format:?}: {error}"));
    out.into_inner()
}

/// Tiny pictures of every format the image and sticker plugins take: PNG, JPEG (one with
/// an EXIF orientation), GIF still and animated, WebP lossless (the `image` crate), lossy
/// and animated (ffmpeg's libwebp encoders), and 512x512 WebP still and animated (stickers
/// as they are sent).
fn pictures() -> Vec<(&'static str, Vec<u8>)> {
    let small = gradient(16, 12, 0);
    let rgb = DynamicImage::ImageRgba8(small.clone()).to_rgb8();
    let jpeg = encoded(DynamicImage::ImageRgb8(rgb), ImageFormat::Jpeg);
    let gif_frames = |count: u32| {
        let mut out = Vec::new();
        {
            let mut encoder = GifEncoder::new(&mut out);
            encoder.set_repeat(Repeat::Infinite).expect("GIF loop");
            for index in 0..count {
                let frame = image::Frame::from_parts(
                    gradient(16, 12, index * 64),
                    0,
                    0,
                    Delay::from_numer_denom_ms(100, 1),
                );
                encoder.encode_frame(frame).expect("GIF frame");
            }
        }
        out
    };
    let png = encoded(DynamicImage::ImageRgba8(small.clone()), ImageFormat::Png);
    let gif_animated = gif_frames(3);
    let flat_512 = RgbaImage::from_pixel(512, 512, Rgba([40, 90, 200, 255]));
    let dir = std::env::temp_dir().join(format!("wuts-fuzz-picture-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let (png_in, gif_in) = (dir.join("in.png"), dir.join("in.gif"));
    std::fs::write(&png_in, &png).expect("temp PNG");
    std::fs::write(&gif_in, &gif_animated).expect("temp GIF");
    let ffmpeg = |name: &str, input: &[&str], encoder: &[&str]| {
        let out = dir.join(format!("{name}.webp"));
        let status = Command::new("ffmpeg")
            .args(["-v", "error", "-y"])
            .args(input)
            .args(encoder)
            .arg(&out)
            .status()
            .expect("ffmpeg (apt-get install ffmpeg) makes the WebP seeds");
        assert!(status.success(), "ffmpeg failed to write {name}");
        std::fs::read(&out).expect("ffmpeg's output")
    };
    let png_path = png_in.display().to_string();
    let gif_path = gif_in.display().to_string();
    let lossy = ["-c:v", "libwebp", "-lossless", "0", "-quality", "50"];
    let animated = [
        "-c:v",
        "libwebp_anim",
        "-lossless",
        "0",
        "-quality",
        "50",
        "-loop",
        "0",
    ];
    let pictures = vec![
        ("png", png.clone()),
        (
            "png-gray",
            encoded(
                DynamicImage::ImageRgba8(small.clone()).grayscale(),
                ImageFormat::Png,
            ),
        ),
        ("jpeg-exif-rotated", with_exif_orientation(&jpeg, 6)),
        ("jpeg", jpeg),
        ("gif", gif_frames(1)),
        ("gif-animated", gif_animated.clone()),
        (
            "webp-lossless",
            encoded(DynamicImage::ImageRgba8(small.clone()), ImageFormat::WebP),
        ),
        ("webp-lossy", ffmpeg("lossy", &["-i", &png_path], &lossy)),
        (
            "webp-512",
            encoded(DynamicImage::ImageRgba8(flat_512), ImageFormat::WebP),
        ),
        (
            "webp-animated",
            ffmpeg("animated", &["-i", &gif_path], &animated),
        ),
        (
            "webp-animated-512",
            ffmpeg(
                "animated-512",
                &[
                    "-f",
                    "lavfi",
                    "-i",
                    "color=c=blue:size=512x512:rate=5:duration=0.4[a];\
                     color=c=red:size=64x64:rate=5:duration=0.4[b];[a][b]overlay=x=t*400:y=100",
                ],
                &animated,
            ),
        ),
    ];
    let _ = std::fs::remove_dir_all(&dir);
    pictures
}

/// `jpeg` with an EXIF block (APP1, right after the start-of-image marker) whose only tag
/// is the orientation: 6 is "turned 90° clockwise", as a phone held upright writes it.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut exif = b"Exif\0\0MM\0\x2a\0\0\0\x08".to_vec();
    exif.extend_from_slice(&1u16.to_be_bytes()); // one entry
    exif.extend_from_slice(&0x0112u16.to_be_bytes()); // Orientation
    exif.extend_from_slice(&3u16.to_be_bytes()); // SHORT
    exif.extend_from_slice(&1u32.to_be_bytes()); // one value
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0]);
    exif.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    assert_eq!(&jpeg[..2], [0xFF, 0xD8], "a JPEG starts with SOI");
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((exif.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&exif);
    out.extend_from_slice(&jpeg[2..]);
    out
}

/// A PDF of `pages` pages with a content stream, an info dictionary and a correct
/// cross-reference table; `startxref` points `xref_shift` bytes off it (0: correct).
fn pdf(pages: usize, xref_shift: usize) -> Vec<u8> {
    let content = "BT /F1 12 Tf 20 100 Td (Hello) Tj ET";
    let first_page = 3;
    let content_id = first_page + pages;
    let info_id = content_id + 1;
    let mut objects = vec![
        "<< /Type /Catalog /Pages 2 0 R >>".to_string(),
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            (0..pages)
                .map(|page| format!("{} 0 R", first_page + page))
                .collect::<Vec<_>>()
                .join(" ")
        ),
    ];
    objects.extend((0..pages).map(|_| {
        format!(
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Contents {content_id} 0 R \
             /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> >>"
        )
    }));
    objects.push(format!(
        "<< /Length {} >>\nstream\n{content}\nendstream",
        content.len()
    ));
    objects.push("<< /Title (Seed) /Producer (wuts-fuzz) >>".to_string());
    let mut out = b"%PDF-1.4\n%\xE2\xE3\xCF\xD3\n".to_vec();
    let mut offsets = Vec::new();
    for (index, object) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{object}\nendobj\n", index + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        out.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R /Info {info_id} 0 R >>\nstartxref\n{}\n%%EOF\n",
            objects.len() + 1,
            xref + xref_shift
        )
        .as_bytes(),
    );
    out
}

/// Files for the document plugin: PDFs (page count), a zip and a text file (sniffed, or
/// not).
fn documents() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("pdf-two-pages", pdf(2, 0)),
        ("pdf-one-page", pdf(1, 0)),
        // lopdf then rebuilds the cross-reference table by scanning the file.
        ("pdf-bad-startxref", pdf(2, 7)),
        ("text", b"Meeting notes\n- one\n- two\n".to_vec()),
        ("zip", zip_with_one_file()),
    ]
}

/// A zip archive holding one stored (uncompressed) file, written by hand.
fn zip_with_one_file() -> Vec<u8> {
    let (name, data) = (b"hello.txt", b"hello\n");
    let crc = crc32(data);
    let mut out = Vec::new();
    let header = |out: &mut Vec<u8>, central: bool| {
        if central {
            out.extend_from_slice(&[0x50, 0x4B, 0x01, 0x02, 20, 0]);
        } else {
            out.extend_from_slice(&[0x50, 0x4B, 0x03, 0x04]);
        }
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&[0, 0]);
        if central {
            out.extend_from_slice(&[0; 12]); // comment, disk, attributes
            out.extend_from_slice(&0u32.to_le_bytes()); // the local header's offset
        }
        out.extend_from_slice(name);
    };
    header(&mut out, false);
    out.extend_from_slice(data);
    let central = out.len();
    header(&mut out, true);
    let central_len = out.len() - central;
    out.extend_from_slice(&[0x50, 0x4B, 0x05, 0x06, 0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&(central_len as u32).to_le_bytes());
    out.extend_from_slice(&(central as u32).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// CRC-32 (IEEE, reflected), as zip uses it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Tiny videos made by GStreamer (two 16x16 frames): an MP4 of H.264 and AAC with its
/// index first (sent as it is), one with its index last and a QuickTime movie (remuxed),
/// a WebM of VP8 (transcoded); and MP4 box layouts written by hand for the box walker
/// (a 64-bit box size, a last box running to the end, a file cut short).
fn videos() -> Vec<(&'static str, Vec<u8>)> {
    let dir = std::env::temp_dir().join(format!("wuts-fuzz-video-seeds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp folder");
    let video = "videotestsrc num-buffers=2 pattern=ball ! \
                 video/x-raw,width=16,height=16,framerate=10/1";
    let h264 = "x264enc speed-preset=ultrafast ! h264parse";
    let aac = "audiotestsrc num-buffers=2 samplesperbuffer=1600 ! \
               audio/x-raw,rate=16000,channels=1 ! avenc_aac ! aacparse ! mux.";
    let pipelines = [
        (
            "mp4-index-first",
            "mp4",
            format!(
                "{video} ! {h264} ! mp4mux faststart=true name=mux ! filesink location=OUT {aac}"
            ),
        ),
        (
            "mp4-index-last",
            "mp4",
            format!("{video} ! {h264} ! mp4mux name=mux ! filesink location=OUT"),
        ),
        (
            "mov",
            "mov",
            format!("{video} ! {h264} ! qtmux name=mux ! filesink location=OUT"),
        ),
        (
            "webm",
            "webm",
            format!("{video} ! vp8enc ! webmmux ! filesink location=OUT"),
        ),
    ];
    let mut files = Vec::new();
    for (name, extension, pipeline) in pipelines {
        let out = dir.join(format!("{name}.{extension}"));
        let pipeline = pipeline.replace("OUT", &out.display().to_string());
        let status = Command::new("gst-launch-1.0")
            .arg("-q")
            .args(pipeline.split_whitespace())
            .status()
            .expect(
                "gst-launch-1.0 (config/bootstrap.sh installs GStreamer) makes the video seeds",
            );
        assert!(status.success(), "gst-launch-1.0 failed to write {name}");
        files.push((name, std::fs::read(&out).expect("gst-launch-1.0's output")));
    }
    let _ = std::fs::remove_dir_all(&dir);

    let boxed = |kind: &[u8; 4], body: &[u8]| {
        let mut out = ((body.len() + 8) as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(body);
        out
    };
    let ftyp = boxed(b"ftyp", b"isom\0\0\x02\0isomiso2avc1mp41");
    let mut large_moov = 1u32.to_be_bytes().to_vec();
    large_moov.extend_from_slice(b"moov");
    large_moov.extend_from_slice(&(16u64 + 8).to_be_bytes());
    large_moov.extend_from_slice(&[0; 8]);
    let to_the_end = [b"\0\0\0\0mdat".as_slice(), &[1, 2, 3, 4]].concat();
    let fragmented = [
        ftyp.clone(),
        boxed(b"moov", &[0; 8]),
        boxed(b"moof", &[0; 8]),
        boxed(b"mdat", &[0; 8]),
    ]
    .concat();
    let whole = find(&files, "mp4-index-first").to_vec();
    files.extend([
        (
            "boxes-large-size",
            [ftyp.clone(), large_moov, to_the_end].concat(),
        ),
        ("boxes-fragmented", fragmented),
        ("mp4-cut-short", whole[..whole.len() * 2 / 3].to_vec()),
    ]);
    files
}
