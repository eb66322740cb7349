//! `wuts serve` with the real `whatsapp` driver, pointed at the offline WhatsApp server
//! (`tests/wa-server`) by configuration alone: every plugin's message leaves the real
//! client, and the assertions are on what the server decrypted.
//!
//! Runs `wuts-offline` (tests/offline), the server built to accept the offline server's
//! own certificate chain; the project's `wuts` refuses it (tests/e2e/certificate.rs).

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::sse;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, Setup, User, buttons_body, unique};
use wuts_wa_server::stanza::{attr, child};
use wuts_wa_server::whatsapp_rust::wacore_binary::node::Node;
use wuts_wa_server::whatsapp_rust::waproto::whatsapp as wa;
use wuts_wa_server::{
    BackgroundServer, InboundMediaKind, InboundOptions, ReceiptKind, ReceivedMessage, SeededDevice,
    seed_sqlite,
};

const WAIT: Duration = Duration::from_secs(20);
const GROUP_JID: &str = "120363025246125486@g.us";
const PLUGINS: [&str; 7] = [
    "buttons",
    "buttons-response",
    "audio",
    "image",
    "video",
    "document",
    "sticker",
];

/// A `wuts serve` with the whatsapp driver, its user, and the WhatsApp it talks to.
/// Fields drop in order: the host stops before the WhatsApp server does.
struct Rig {
    server: Server,
    user: User,
    whatsapp: BackgroundServer,
}

fn options(whatsapp: &BackgroundServer, send_timeout_ms: u64) -> ServerOptions {
    ServerOptions::default()
        .plugins(&PLUGINS)
        .required(&PLUGINS)
        .send_timeout_ms(send_timeout_ms)
        // The harness writes `driver = "sandbox"`; the environment overrides the file.
        .offline_client()
        .env("WUTS__SESSION__DRIVER", "whatsapp")
        .env("WUTS__SESSION__SOCKET_URL", &whatsapp.socket_url())
        .env("WUTS__SESSION__MEDIA_BASE_URL", &whatsapp.media_base_url())
        .env("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701")
        .env("WUTS__SESSION__QR_TIMEOUT_MS", "15000")
}

/// Where the driver keeps credentials: `whatsapp.db` beside the host's database.
fn whatsapp_db(setup: &Setup) -> PathBuf {
    let store = setup.store_path();
    store
        .parent()
        .map_or_else(PathBuf::new, PathBuf::from)
        .join("whatsapp.db")
}

/// Starts everything; a `paired` device is seeded into the driver's credential file first.
fn rig(paired: bool, send_timeout_ms: u64) -> Rig {
    let whatsapp = BackgroundServer::start().expect("the WhatsApp server starts");
    let setup = Setup::new(options(&whatsapp, send_timeout_ms));
    let user = setup.create_user(&unique("wa"), "alice");
    if paired {
        whatsapp
            .block_on(seed_sqlite(
                &whatsapp_db(&setup),
                &user.device_id,
                &SeededDevice::new("5511888888888", 7),
            ))
            .expect("the device is seeded");
    }
    let server = setup.start();
    Rig {
        server,
        user,
        whatsapp,
    }
}

fn status(rig: &Rig) -> Value {
    let (code, body) = rig.server.get("/status", &rig.user.token);
    assert_eq!(code, 200, "GET /status: {body}");
    body
}

/// Polls `GET /status` until `done`, failing with everything useful after [`WAIT`].
#[track_caller]
fn wait_for_status(rig: &Rig, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = status(rig);
        if done(&body) {
            return body;
        }
        if Instant::now() >= deadline {
            let handshakes = rig.whatsapp.connections();
            panic!(
                "GET /status never showed {what}: {body}\nhandshakes completed: {handshakes:?} \
                 (none: is `wuts-offline` built? `cargo build --manifest-path \
                 tests/offline/Cargo.toml --target-dir target`)\nserver log: {:?}\nwuts log:\n{}",
                rig.whatsapp.log().iter().rev().take(20).collect::<Vec<_>>(),
                rig.server.logs()
            );
        }
        thread::sleep(Duration::from_millis(50));
    }
}

fn connected_rig(send_timeout_ms: u64) -> Rig {
    let rig = rig(true, send_timeout_ms);
    wait_for_status(&rig, "connected", |body| body["connected"] == json!(true));
    rig
}

/// The message the server received with this id.
#[track_caller]
fn received(rig: &Rig, id: &str) -> ReceivedMessage {
    let found = rig.whatsapp.wait_until_blocking(WAIT, |server| {
        server.received().iter().any(|message| message.id() == id)
    });
    assert!(found, "the server never received {id}");
    let message = rig
        .whatsapp
        .received()
        .into_iter()
        .find(|message| message.id() == id)
        .unwrap_or_else(|| unreachable!());
    assert!(
        message.errors.is_empty(),
        "{:?}\n{}",
        message.errors,
        message.render()
    );
    message
}

#[track_caller]
fn sent_id(status: u16, reply: &Value) -> String {
    assert_eq!(status, 200, "{reply}");
    reply["message_id"]
        .as_str()
        .or_else(|| reply["data"]["message_id"].as_str())
        .unwrap_or_else(|| panic!("no message_id in {reply}"))
        .to_owned()
}

/// `<biz><interactive type="native_flow"><native_flow name="mixed"/></interactive></biz>`.
fn is_nested_mixed_biz(biz: &Node) -> bool {
    child(biz, "interactive")
        .filter(|interactive| attr(interactive, "type").as_deref() == Some("native_flow"))
        .and_then(|interactive| child(interactive, "native_flow"))
        .is_some_and(|flow| attr(flow, "name").as_deref() == Some("mixed"))
}

#[test]
fn buttons_arrive_interactive_with_one_mixed_biz_and_a_bot_only_in_direct_chats() {
    let rig = connected_rig(10_000);
    rig.whatsapp.add_group(GROUP_JID, &[PHONE_JID]);
    for (to, direct) in [(PHONE, true), (GROUP_JID, false)] {
        let body = buttons_body(to, "Pick one", &[("yes", "Yes"), ("no", "No")]);
        let (code, reply) = rig.server.send_buttons(&rig.user, &body);
        let id = sent_id(code, &reply);
        let message = received(&rig, &id);
        let interactive = message
            .message
            .as_ref()
            .and_then(|m| m.interactive_message.as_option())
            .unwrap_or_else(|| panic!("not an InteractiveMessage: {}", message.render()));
        assert_eq!(
            interactive.body.as_option().and_then(|b| b.text.as_deref()),
            Some("Pick one")
        );
        let biz = message.nodes_named("biz");
        assert_eq!(biz.len(), 1, "exactly one <biz>: {}", message.render());
        assert!(is_nested_mixed_biz(biz[0]), "{}", message.render());
        let bots = message.nodes_named("bot");
        if direct {
            assert_eq!(bots.len(), 1, "{}", message.render());
            assert_eq!(attr(bots[0], "biz_bot").as_deref(), Some("1"));
            assert_eq!(message.attr("to"), Some(PHONE_JID));
        } else {
            assert!(bots.is_empty(), "no <bot> in a group: {}", message.render());
            assert_eq!(message.attr("to"), Some(GROUP_JID));
        }
    }
}

#[test]
fn a_buttons_response_has_its_mediatype_and_no_biz() {
    let rig = connected_rig(10_000);
    let body = json!({
        "to": PHONE,
        "selected_button_id": "yes",
        "selected_display_text": "Yes",
        "quoted": { "message_id": "3EB0000000000000000001", "participant": PHONE_JID, "body": "Pick one" },
    });
    let (code, reply) = rig
        .server
        .post_json("/send/buttons-response", &rig.user.token, &body);
    let id = sent_id(code, &reply);
    let message = received(&rig, &id);
    assert!(
        message
            .message
            .as_ref()
            .is_some_and(|m| m.buttons_response_message.as_option().is_some()),
        "{}",
        message.render()
    );
    let encs = message.enc_nodes();
    assert!(!encs.is_empty());
    for enc in encs {
        assert_eq!(
            attr(enc, "mediatype").as_deref(),
            Some("buttons_response"),
            "{}",
            message.render()
        );
    }
    assert!(
        message.nodes_named("biz").is_empty(),
        "{}",
        message.render()
    );
}

/// 1.5 s of a 440 Hz tone, 16 kHz mono 16-bit PCM WAV.
fn tone_wav() -> Vec<u8> {
    let rate = 16_000u32;
    let samples: Vec<i16> = (0..rate * 3 / 2)
        .map(|i| ((i as f32 * 440.0 * std::f32::consts::TAU / rate as f32).sin() * 8000.0) as i16)
        .collect();
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&rate.to_le_bytes());
    wav.extend_from_slice(&(rate * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        wav.extend_from_slice(&sample.to_le_bytes());
    }
    wav
}

/// The packets of an Ogg stream: segments joined until one shorter than 255 bytes.
fn ogg_packets(ogg: &[u8]) -> Vec<Vec<u8>> {
    let mut packets = Vec::new();
    let mut current = Vec::new();
    let mut at = 0;
    while at + 27 <= ogg.len() {
        assert_eq!(&ogg[at..at + 4], b"OggS", "an Ogg page at {at}");
        let segments = usize::from(ogg[at + 26]);
        let table = &ogg[at + 27..at + 27 + segments];
        let mut data = at + 27 + segments;
        for &length in table {
            let length = usize::from(length);
            current.extend_from_slice(&ogg[data..data + length]);
            data += length;
            if length < 255 {
                packets.push(std::mem::take(&mut current));
            }
        }
        at = data;
    }
    assert_eq!(at, ogg.len(), "the stream ends on a page boundary");
    packets
}

#[test]
fn a_voice_note_is_ptt_and_its_upload_decrypts_to_ogg_opus_with_code_3_packets() {
    let rig = connected_rig(15_000);
    let body = json!({
        "number": PHONE,
        "audio": wuts_e2e::audio_fixtures::base64(&tone_wav()),
        "ptt": true,
    });
    let (code, reply) = rig.server.post_json("/send/audio", &rig.user.token, &body);
    let id = sent_id(code, &reply);
    let message = received(&rig, &id);
    for enc in message.enc_nodes() {
        assert_eq!(
            attr(enc, "mediatype").as_deref(),
            Some("ptt"),
            "{}",
            message.render()
        );
    }
    let content = message.message.as_ref().expect("decrypted");
    let audio = content.audio_message.as_option().expect("an AudioMessage");
    assert_eq!(audio.ptt, Some(true));
    let ogg = rig.whatsapp.media_of(content).expect("the upload decrypts");
    let packets = ogg_packets(&ogg);
    assert!(packets.len() > 2, "{} packets", packets.len());
    assert!(packets[0].starts_with(b"OpusHead"));
    assert!(packets[1].starts_with(b"OpusTags"));
    for (index, packet) in packets[2..].iter().enumerate() {
        assert_eq!(
            packet.first().map(|toc| toc & 0x03),
            Some(3),
            "audio packet {index}: TOC {:#04x} is not code 3",
            packet.first().copied().unwrap_or_default()
        );
    }
}

/// The message's media as the server decrypted it, and the `mediatype` of every `enc`.
fn media_and_type(rig: &Rig, id: &str) -> (wa::Message, Vec<u8>, Vec<Option<String>>) {
    let message = received(rig, id);
    let kinds = message
        .enc_nodes()
        .into_iter()
        .map(|enc| attr(enc, "mediatype"))
        .collect();
    let content = message.message.clone().expect("decrypted");
    let media = rig
        .whatsapp
        .media_of(&content)
        .unwrap_or_else(|error| panic!("the upload decrypts: {error}\n{}", message.render()));
    (content, media, kinds)
}

#[test]
fn pictures_videos_documents_and_stickers_upload_and_decrypt_on_the_server() {
    use image::ImageFormat;
    use wuts_e2e::media_fixtures;
    let rig = connected_rig(15_000);
    let send = |route: &str, body: Value| {
        let (code, reply) = rig.server.post_json(route, &rig.user.token, &body);
        sent_id(code, &reply)
    };
    let b64 = wuts_e2e::audio_fixtures::base64;

    // Each is sent as it came (already what WhatsApp takes), so the decrypted upload is
    // the very file, and the message describes it.
    let png = media_fixtures::picture(320, 200, ImageFormat::Png);
    let id = send(
        "/send/image",
        json!({"number": PHONE, "image": b64(&png), "caption": "pic"}),
    );
    let (content, media, kinds) = media_and_type(&rig, &id);
    assert_eq!(media, png, "the picture arrives unchanged");
    let image = content.image_message.as_option().expect("an ImageMessage");
    assert_eq!((image.width, image.height), (Some(320), Some(200)));
    assert_eq!(image.caption.as_deref(), Some("pic"));
    assert!(
        kinds.iter().all(|kind| kind.as_deref() == Some("image")),
        "{kinds:?}"
    );

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("media-whatsapp");
    let mp4 = media_fixtures::playable_mp4(&dir, "clip.mp4", 2);
    let id = send("/send/video", json!({"number": PHONE, "video": b64(&mp4)}));
    let (content, media, kinds) = media_and_type(&rig, &id);
    assert_eq!(media, mp4, "an H.264/AAC MP4 arrives unchanged");
    let video = content.video_message.as_option().expect("a VideoMessage");
    assert_eq!(
        (video.width, video.height, video.seconds),
        (Some(320), Some(240), Some(2))
    );
    assert!(
        video
            .jpeg_thumbnail
            .as_ref()
            .is_some_and(|jpeg| jpeg.starts_with(&[0xFF, 0xD8]))
    );
    assert!(
        kinds.iter().all(|kind| kind.as_deref() == Some("video")),
        "{kinds:?}"
    );

    let pdf = media_fixtures::pdf(3);
    let id = send(
        "/send/document",
        json!({"number": PHONE, "document": b64(&pdf), "file_name": "invoice.pdf"}),
    );
    let (content, media, kinds) = media_and_type(&rig, &id);
    assert_eq!(media, pdf);
    let document = content
        .document_message
        .as_option()
        .expect("a DocumentMessage");
    assert_eq!(document.file_name.as_deref(), Some("invoice.pdf"));
    assert_eq!(document.mimetype.as_deref(), Some("application/pdf"));
    assert_eq!(document.page_count, Some(3));
    assert!(
        kinds.iter().all(|kind| kind.as_deref() == Some("document")),
        "{kinds:?}"
    );

    let webp = media_fixtures::picture(512, 512, ImageFormat::WebP);
    let (code, reply) = rig.server.post_json(
        "/send/sticker",
        &rig.user.token,
        &json!({"to": PHONE_JID, "sticker": b64(&webp)}),
    );
    let id = sent_id(code, &reply);
    let (content, media, kinds) = media_and_type(&rig, &id);
    assert_eq!(media, webp);
    let sticker = content
        .sticker_message
        .as_option()
        .expect("a StickerMessage");
    assert_eq!(sticker.is_animated, Some(false));
    assert_eq!(sticker.mimetype.as_deref(), Some("image/webp"));
    assert!(
        kinds.iter().all(|kind| kind.as_deref() == Some("sticker")),
        "{kinds:?}"
    );
}

#[test]
fn a_nack_is_a_500_naming_the_code_and_no_ack_is_the_timeout() {
    let rig = connected_rig(1_500);
    rig.whatsapp.set_ack(Duration::ZERO, Some("479"));
    let (code, reply) = rig
        .server
        .send_buttons(&rig.user, &buttons_body(PHONE, "Refused", &[("a", "A")]));
    assert_eq!(code, 500, "{reply}");
    assert!(
        reply.to_string().contains("479"),
        "the code is named: {reply}"
    );

    rig.whatsapp.set_no_ack();
    let started = Instant::now();
    let (code, reply) = rig
        .server
        .send_buttons(&rig.user, &buttons_body(PHONE, "Unanswered", &[("a", "A")]));
    assert_eq!(code, 500, "{reply}");
    assert!(reply.to_string().contains("timeout"), "{reply}");
    assert!(
        started.elapsed() >= Duration::from_millis(1_400),
        "{:?}",
        started.elapsed()
    );
    // Both reached the server; only its answer differed.
    assert_eq!(rig.whatsapp.received().len(), 2);
}

/// `GET /qr` for `user` answers 200 with a code from the offline server's pairing refs.
#[track_caller]
fn assert_qr_code(rig: &Rig, user: &User) {
    let (code, reply) = rig.server.get("/qr", &user.token);
    assert_eq!(code, 200, "{reply}");
    assert!(
        reply["qr_code"]
            .as_str()
            .is_some_and(|qr| qr.starts_with("2@fake-ref-")),
        "{reply}"
    );
}

#[test]
fn an_unpaired_device_gets_a_qr_code() {
    let rig = rig(false, 10_000);
    assert_qr_code(&rig, &rig.user);
    assert_eq!(rig.whatsapp.connections()[0].jid, None);
}

#[test]
fn at_start_only_paired_devices_connect_and_a_never_paired_one_opens_when_asked() {
    let whatsapp = BackgroundServer::start().expect("the WhatsApp server starts");
    let setup = Setup::new(options(&whatsapp, 10_000));
    let paired = setup.create_user(&unique("wa"), "alice");
    let never_paired = setup.create_user(&unique("wa"), "bob");
    whatsapp
        .block_on(seed_sqlite(
            &whatsapp_db(&setup),
            &paired.device_id,
            &SeededDevice::new("5511888888888", 7),
        ))
        .expect("the device is seeded");
    let rig = Rig {
        server: setup.start(),
        user: paired,
        whatsapp,
    };
    wait_for_status(&rig, "the paired device connected", |body| {
        body["connected"] == json!(true)
    });
    assert!(
        rig.server
            .wait_for_log("devices brought up", Duration::from_secs(10)),
        "{}",
        rig.server.logs()
    );
    // The start opened devices one after another; the never-paired one would have asked
    // for pairing refs by now (it does within a second once opened, below).
    thread::sleep(Duration::from_secs(2));
    let logins = rig.whatsapp.connections();
    assert!(
        !logins.is_empty() && logins.iter().all(|login| login.jid.is_some()),
        "only the paired device has a socket: {logins:?}"
    );

    // Asked for its QR code, the never-paired device opens and gets one.
    assert_qr_code(&rig, &never_paired);
    assert!(
        rig.whatsapp
            .connections()
            .iter()
            .any(|login| login.jid.is_none()),
        "{:?}",
        rig.whatsapp.connections()
    );
}

#[test]
fn a_dropped_connection_shows_in_status_and_recovers() {
    let rig = connected_rig(10_000);
    rig.whatsapp.set_accepting(false);
    rig.whatsapp.drop_connections();
    let down = wait_for_status(&rig, "the drop", |body| body["connected"] == json!(false));
    assert!(
        down["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{down}"
    );
    rig.whatsapp.set_accepting(true);
    wait_for_status(&rig, "the reconnect", |body| {
        body["connected"] == json!(true)
    });
    let (code, reply) = rig
        .server
        .send_buttons(&rig.user, &buttons_body(PHONE, "Back", &[("a", "A")]));
    let id = sent_id(code, &reply);
    received(&rig, &id);
}

/// A sender this device never wrote to.
const STRANGER: &str = "5511977776666@s.whatsapp.net";

fn reply_context(
    quoted: &str,
) -> wuts_wa_server::whatsapp_rust::buffa::MessageField<wa::ContextInfo> {
    wuts_wa_server::whatsapp_rust::buffa::MessageField::some(wa::ContextInfo {
        stanza_id: Some(quoted.into()),
        participant: Some(rig_own_jid().into()),
        ..Default::default()
    })
}

/// The seeded device's own JID (see [`rig`]).
fn rig_own_jid() -> &'static str {
    "5511888888888@s.whatsapp.net"
}

#[test]
fn taps_from_strangers_and_lid_senders_arrive_as_events_with_phone_numbers() {
    let rig = connected_rig(10_000);
    let mut stream = sse::open_ok(&rig.server, &rig.user, "?events=message.received", None);
    let tap = wa::Message {
        buttons_response_message: wuts_wa_server::whatsapp_rust::buffa::MessageField::some(
            wa::message::ButtonsResponseMessage {
                selected_button_id: Some("yes".into()),
                context_info: reply_context("3EB0QUOTEDBUTTONS"),
                ..Default::default()
            },
        ),
        ..Default::default()
    };
    let id = rig
        .whatsapp
        .block_on(
            rig.whatsapp
                .push_inbound_with(&InboundOptions::new(STRANGER).push_name("Stranger"), &tap),
        )
        .expect("pushed");
    let event = stream.expect("the tap");
    assert_eq!(event.event, "message.received", "{event:?}");
    let data = &event.data["data"];
    assert_eq!(data["message_id"], id.as_str(), "{data}");
    assert_eq!(data["message_type"], "button_reply", "{data}");
    assert_eq!(data["button_reply"]["id"], "yes", "{data}");
    assert_eq!(data["button_reply"]["source"], "buttons_response", "{data}");
    assert_eq!(
        data["button_reply"]["quoted_message_id"], "3EB0QUOTEDBUTTONS",
        "{data}"
    );
    assert_eq!(data["from"], STRANGER, "{data}");
    assert_eq!(data["push_name"], "Stranger", "{data}");
    assert_eq!(data["to"], rig_own_jid(), "{data}");

    // A LID sender, its phone number named beside it: `from` is the phone number.
    let list_tap = wa::Message {
        list_response_message: wuts_wa_server::whatsapp_rust::buffa::MessageField::some(
            wa::message::ListResponseMessage {
                title: Some("Plan B".into()),
                single_select_reply: wuts_wa_server::whatsapp_rust::buffa::MessageField::some(
                    wa::message::list_response_message::SingleSelectReply {
                        selected_row_id: Some("row-b".into()),
                    },
                ),
                context_info: reply_context("3EB0QUOTEDLIST"),
                ..Default::default()
            },
        ),
        ..Default::default()
    };
    let lid = "123456789012345@lid";
    let phone = "5511955554444@s.whatsapp.net";
    let id = rig
        .whatsapp
        .block_on(
            rig.whatsapp
                .push_inbound_with(&InboundOptions::new(lid).sender_alt(phone), &list_tap),
        )
        .expect("pushed");
    let data = stream.expect("the list tap").data["data"].clone();
    assert_eq!(data["message_id"], id.as_str(), "{data}");
    assert_eq!(data["message_type"], "list_reply", "{data}");
    assert_eq!(data["list_reply"]["id"], "row-b", "{data}");
    assert_eq!(data["list_reply"]["title"], "Plan B", "{data}");
    assert_eq!(data["from"], phone, "{data}");
    assert_eq!(data["from_lid"], lid, "{data}");

    // The received messages are in the log: a buttons-response can quote the tap.
    let (code, reply) = rig.server.post_json(
        "/send/buttons-response",
        &rig.user.token,
        &json!({"to": STRANGER, "selected_button_id": "ok", "selected_display_text": "OK",
                "quoted_message_id": id}),
    );
    assert!(code == 200 || code == 400, "{reply}");
}

#[test]
fn receipts_and_received_media_through_the_real_driver() {
    let rig = connected_rig(10_000);
    let mut stream = sse::open_ok(
        &rig.server,
        &rig.user,
        "?events=message.received,message.read,message.delivered",
        None,
    );
    let (code, reply) = rig
        .server
        .send_buttons(&rig.user, &buttons_body(PHONE, "Read me", &[("a", "A")]));
    let sent = sent_id(code, &reply);
    received(&rig, &sent);
    rig.whatsapp
        .push_receipt(PHONE_JID, &[&sent], ReceiptKind::Delivered)
        .expect("delivered");
    rig.whatsapp
        .push_receipt(PHONE_JID, &[&sent], ReceiptKind::Read)
        .expect("read");
    // The client handles stanzas concurrently: the two may come in either order.
    let mut names = Vec::new();
    for _ in 0..2 {
        let event = stream.expect("a receipt");
        assert_eq!(
            event.data["data"]["message_ids"],
            json!([sent]),
            "{event:?}"
        );
        assert_eq!(event.data["data"]["chat_jid"], PHONE_JID, "{event:?}");
        names.push(event.event);
    }
    names.sort();
    assert_eq!(names, ["message.delivered", "message.read"]);

    let photo: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let id = rig
        .whatsapp
        .block_on(rig.whatsapp.push_inbound_media(
            &InboundOptions::new(STRANGER),
            InboundMediaKind::Image,
            &photo,
            "image/jpeg",
            Some("a photo"),
        ))
        .expect("pushed");
    let data = stream.expect("the photo").data["data"].clone();
    assert_eq!(data["message_id"], id.as_str(), "{data}");
    assert_eq!(data["message_type"], "image", "{data}");
    assert_eq!(data["content"], "a photo", "{data}");
    let url = data["media"]["url"].as_str().expect("a media URL");
    let reply = rig
        .server
        .client()
        .get(url, wuts_e2e::Auth::Bearer(&rig.user.token));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type.as_deref(), Some("image/jpeg"));
    assert!(reply.body == photo, "the decrypted photo");
}

#[test]
fn deleting_a_user_logs_its_connected_device_out_and_forgets_its_keys() {
    let rig = connected_rig(5_000);
    let admin = rig
        .server
        .setup()
        .create_user_with_role(&rig.user.tenant, "root", Some("admin"));
    let reply = rig
        .server
        .client()
        .delete(&format!("/users/{}", rig.user.user_id), admin.auth());
    assert_eq!(reply.status, 200, "{}", reply.text());
    let unlinked = rig.whatsapp.wait_until_blocking(WAIT, |server| {
        server
            .log()
            .iter()
            .any(|line| line.contains("removed companion device"))
    });
    assert!(
        unlinked,
        "the device asked WhatsApp to unlink it: {:?}\n{}",
        rig.whatsapp.log(),
        rig.server.logs()
    );
    let stopped = rig
        .whatsapp
        .wait_until_blocking(WAIT, |server| server.live_connections() == 0);
    assert!(stopped, "its client disconnected");
    // The removal runs in the background after the answer: the slot goes once the
    // client has stopped, so it is awaited like the unlink above.
    let credentials = rusqlite::Connection::open(whatsapp_db(rig.server.setup())).unwrap();
    let slots = || -> i64 {
        credentials
            .query_row(
                "SELECT COUNT(*) FROM wuts_device_slot WHERE device_id = ?1",
                [&rig.user.device_id],
                |row| row.get(0),
            )
            .unwrap()
    };
    let deadline = Instant::now() + WAIT;
    while slots() != 0 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(slots(), 0, "the device's credential slot is forgotten");
    let (code, _) = rig.server.get("/status", &rig.user.token);
    assert_eq!(code, 401, "the deleted user's token is refused");
}
