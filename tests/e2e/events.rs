//! `GET /events` (the event stream) with the sandbox's `POST /sandbox/inbound` and
//! `POST /sandbox/receipt`: sent messages, every button and list tap shape, receipts,
//! resuming with `Last-Event-ID`, the gap notice, and scoping per user.
//!
//! The stream is read with `wuts_e2e::sse`.

use std::time::Duration;

use serde_json::{Value, json};
use wuts_e2e::checks;
use wuts_e2e::sse::{SseEvent, open, open_ok};
use wuts_e2e::{PHONE, Server, ServerOptions, User, buttons_body, unique};

const TAPPER: &str = "5511988887777";
const TAPPER_JID: &str = "5511988887777@s.whatsapp.net";

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["buttons", "buttons-response"])
        .required(&["buttons", "buttons-response"])
}

fn server_and_user() -> (Server, User) {
    let server = Server::start(options());
    let user = server.create_user(&unique("acme"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, text: &str) -> String {
    let (status, reply) = server.send_buttons(
        user,
        &buttons_body(PHONE, text, &[("yes", "Yes"), ("no", "No")]),
    );
    checks::buttons_success(status, &reply)
}

fn inbound(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json("/sandbox/inbound", &user.token, body)
}

fn inbound_ok(server: &Server, user: &User, body: &Value) -> String {
    let (status, reply) = inbound(server, user, body);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["success"], true, "{reply}");
    reply["message_id"]
        .as_str()
        .expect("a message_id")
        .to_owned()
}

/// Asserts an envelope's fields and returns its data.
#[track_caller]
fn envelope(event: &SseEvent, name: &str, user: &User) -> Value {
    assert_eq!(event.event, name, "{event:?}");
    let envelope = &event.data;
    assert_eq!(envelope["event"], name);
    assert_eq!(Some(envelope["id"].as_str().unwrap()), event.id.as_deref());
    assert!(envelope["id"].as_str().unwrap().starts_with("evt_"));
    assert_eq!(envelope["device_id"], user.device_id.as_str());
    assert_eq!(envelope["user_id"], user.user_id.as_str());
    assert!(envelope["seq"].as_i64().unwrap() >= 1, "{envelope}");
    let timestamp = envelope["timestamp"].as_i64().expect("Unix seconds");
    assert!((timestamp - checks::now_unix()).abs() < 60, "{envelope}");
    envelope["data"].clone()
}

#[test]
fn a_sent_message_arrives_as_message_sent_with_the_envelope() {
    let (server, user) = server_and_user();
    let before = send(&server, &user, "before the stream");
    // Events commit a few milliseconds after the send answers; "new" means committed
    // after the stream opened.
    std::thread::sleep(Duration::from_millis(200));
    let mut stream = open_ok(&server, &user, "", None);
    let sent = send(&server, &user, "while streaming");
    let event = stream.expect("message.sent");
    let data = envelope(&event, "message.sent", &user);
    assert_eq!(
        data["message_id"],
        sent.as_str(),
        "only new events: {before} is not sent"
    );
    assert_eq!(data["chat_jid"], "5511999999999@s.whatsapp.net");
    assert_eq!(data["route"], "/send/buttons");
    stream.assert_quiet();
}

/// The tap shapes WhatsApp clients send, each with the normalised object it becomes.
fn taps(quoted: &str) -> Vec<(&'static str, Value, &'static str, Value)> {
    let context = json!({"stanzaID": quoted, "participant": "15550000000@s.whatsapp.net"});
    let native_flow = |params: Value| {
        json!({"interactiveResponseMessage": {
            "body": {"text": "Yes"},
            "nativeFlowResponseMessage": {"name": "quick_reply", "paramsJSON": params.to_string(), "version": 3},
            "contextInfo": context,
        }})
    };
    vec![
        (
            "buttonsResponseMessage",
            json!({"buttonsResponseMessage": {
                "selectedButtonID": "yes", "selectedDisplayText": "Yes", "type": "DISPLAY_TEXT",
                "contextInfo": context}}),
            "button_reply",
            json!({"id": "yes", "display_text": "Yes", "source": "buttons_response"}),
        ),
        (
            "interactiveResponseMessage id",
            native_flow(json!({"id": "yes"})),
            "button_reply",
            json!({"id": "yes", "source": "interactive_response"}),
        ),
        (
            "interactiveResponseMessage button_id",
            native_flow(json!({"button_id": "yes"})),
            "button_reply",
            json!({"id": "yes", "source": "interactive_response"}),
        ),
        (
            "interactiveResponseMessage selected_row_id",
            native_flow(json!({"selected_row_id": "row_2"})),
            "list_reply",
            json!({"id": "row_2", "source": "interactive_response"}),
        ),
        (
            "templateButtonReplyMessage",
            json!({"templateButtonReplyMessage": {
                "selectedID": "yes", "selectedDisplayText": "Yes", "selectedIndex": 0,
                "contextInfo": context}}),
            "button_reply",
            json!({"id": "yes", "display_text": "Yes", "source": "template_button_reply"}),
        ),
        (
            "listResponseMessage",
            json!({"listResponseMessage": {
                "title": "Large", "description": "40 cm", "listType": "SINGLE_SELECT",
                "singleSelectReply": {"selectedRowID": "size_l"},
                "contextInfo": context}}),
            "list_reply",
            json!({"id": "size_l", "title": "Large", "description": "40 cm", "source": "list_response"}),
        ),
    ]
}

#[test]
fn every_tap_shape_arrives_as_message_received_with_its_normalised_reply() {
    let (server, user) = server_and_user();
    let quoted = send(&server, &user, "pick one");
    let mut stream = open_ok(&server, &user, "?events=message.received", None);
    for (shape, message, message_type, expected) in taps(&quoted) {
        let id = inbound_ok(
            &server,
            &user,
            &json!({"from": TAPPER, "message": message, "push_name": "Tapper"}),
        );
        let event = stream.expect(shape);
        let data = envelope(&event, "message.received", &user);
        assert_eq!(data["message_id"], id.as_str(), "{shape}");
        checks::message_id(&id);
        assert_eq!(data["message_type"], message_type, "{shape}: {data}");
        assert_eq!(data["from"], TAPPER_JID, "{shape}");
        assert_eq!(data["chat_jid"], TAPPER_JID, "{shape}");
        assert_eq!(data["push_name"], "Tapper", "{shape}");
        assert_eq!(data["is_from_me"], false, "{shape}");
        let reply = &data[message_type];
        for (key, value) in expected.as_object().unwrap() {
            assert_eq!(&reply[key], value, "{shape}: {key} in {reply}");
        }
        assert_eq!(
            reply["quoted_message_id"],
            quoted.as_str(),
            "{shape}: {reply}"
        );
        assert!(data["raw"].is_object(), "{shape}");
    }
    stream.assert_quiet();
}

#[test]
fn a_bad_inbound_body_is_400_naming_the_field_and_emits_nothing() {
    let (server, user) = server_and_user();
    let mut stream = open_ok(&server, &user, "", None);
    for (body, field) in [
        (json!({"message": {"conversation": "hi"}}), "from"),
        (json!({"from": TAPPER}), "message"),
        (
            json!({"from": TAPPER, "message": {"noSuchMessage": {}}}),
            "message",
        ),
        (
            json!({"from": TAPPER, "message": {"buttonsResponseMessage": {"contextInfo": {"stanzaID": 5}}}}),
            "message",
        ),
        (
            json!({"from": "nope", "message": {"conversation": "hi"}}),
            "from",
        ),
        (
            json!({"from": TAPPER, "message": {"conversation": "hi"}, "chat": "x@example.com"}),
            "chat",
        ),
    ] {
        let (status, reply) = inbound(&server, &user, &body);
        assert_eq!(status, 400, "{body}: {reply}");
        assert_eq!(reply["success"], false, "{reply}");
        assert_eq!(reply["validation"][0]["field"], field, "{body}: {reply}");
        assert!(
            checks::names_field(reply["error"].as_str().unwrap(), field),
            "{reply}"
        );
    }
    let (status, reply) = server.post_json("/sandbox/inbound", &user.token, &json!([1]));
    assert_eq!(status, 400, "{reply}");
    stream.assert_quiet();
    // The stream still works: the next good message is the first event.
    let id = inbound_ok(
        &server,
        &user,
        &json!({"from": TAPPER, "message": {"conversation": "hi"}, "message_id": "3EB0FEEDFACE"}),
    );
    assert_eq!(id, "3EB0FEEDFACE");
    let data = envelope(
        &stream.expect("message.received"),
        "message.received",
        &user,
    );
    assert_eq!(data["message_id"], "3EB0FEEDFACE");
    assert_eq!(data["message_type"], "text");
    assert_eq!(data["content"], "hi");
}

#[test]
fn receipts_arrive_as_message_delivered_and_read() {
    let (server, user) = server_and_user();
    let sent = send(&server, &user, "hello");
    let mut stream = open_ok(
        &server,
        &user,
        "?events=message.delivered,message.read",
        None,
    );
    for (kind, name) in [("delivered", "message.delivered"), ("read", "message.read")] {
        let (status, reply) = server.post_json(
            "/sandbox/receipt",
            &user.token,
            &json!({"message_ids": [sent], "type": kind, "from": PHONE}),
        );
        assert_eq!(status, 200, "{reply}");
        let data = envelope(&stream.expect(name), name, &user);
        assert_eq!(data["message_ids"], json!([sent]));
        assert_eq!(data["chat_jid"], "5511999999999@s.whatsapp.net");
        assert_eq!(data["by"], "5511999999999@s.whatsapp.net");
        checks::recent_timestamp(data["timestamp"].as_str().unwrap());
    }
    let (status, reply) = server.post_json(
        "/sandbox/receipt",
        &user.token,
        &json!({"message_ids": [sent], "type": "seen", "from": PHONE}),
    );
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["validation"][0]["field"], "type", "{reply}");
    stream.assert_quiet();
}

#[test]
fn last_event_id_resumes_after_that_event_exactly() {
    let (server, user) = server_and_user();
    let mut first = open_ok(&server, &user, "", None);
    let sent: Vec<String> = (0..3)
        .map(|n| send(&server, &user, &format!("m{n}")))
        .collect();
    let events: Vec<SseEvent> = (0..3).map(|_| first.expect("message.sent")).collect();
    let ids: Vec<String> = events.iter().map(|e| e.id.clone().unwrap()).collect();
    let seqs: Vec<i64> = events
        .iter()
        .map(|e| e.data["seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs[1], seqs[0] + 1);
    assert_eq!(seqs[2], seqs[1] + 1);
    drop(first);

    // The header, and the query parameter a browser's EventSource can use.
    let mut by_header = open_ok(&server, &user, "", Some(&ids[0]));
    let mut by_query = open_ok(&server, &user, &format!("?last_event_id={}", ids[0]), None);
    for stream in [&mut by_header, &mut by_query] {
        for (index, message_id) in sent.iter().enumerate().skip(1) {
            let event = stream.expect("a replayed event");
            assert_eq!(event.id.as_deref(), Some(ids[index].as_str()));
            assert_eq!(event.data["data"]["message_id"], message_id.as_str());
        }
    }
    let later = send(&server, &user, "after the resume");
    for stream in [&mut by_header, &mut by_query] {
        let event = stream.expect("the live event");
        assert_eq!(event.data["data"]["message_id"], later.as_str());
        assert_eq!(event.data["seq"].as_i64().unwrap(), seqs[2] + 1);
        stream.assert_quiet();
    }
    // From the newest: nothing to replay.
    let mut from_last = open_ok(&server, &user, "", Some(&ids[2]));
    let event = from_last.expect("the later event");
    assert_eq!(event.data["data"]["message_id"], later.as_str());
    from_last.assert_quiet();
}

#[test]
fn an_unknown_last_event_id_says_gap_then_replays_the_retained_events() {
    let (server, user) = server_and_user();
    let sent: Vec<String> = (0..2)
        .map(|n| send(&server, &user, &format!("m{n}")))
        .collect();
    // Give the event writer its few milliseconds to commit.
    std::thread::sleep(Duration::from_millis(200));
    let mut stream = open_ok(&server, &user, "", Some("evt_01NOSUCHEVENT"));
    let gap = stream.expect("gap");
    assert_eq!(gap.event, "gap");
    assert_eq!(gap.id, None);
    assert_eq!(gap.data, json!({"last_event_id": "evt_01NOSUCHEVENT"}));
    for message_id in &sent {
        let event = stream.expect("a retained event");
        let data = envelope(&event, "message.sent", &user);
        assert_eq!(data["message_id"], message_id.as_str());
    }
    stream.assert_quiet();
}

#[test]
fn other_users_devices_are_404_and_unknown_event_names_400() {
    let server = Server::start(options());
    let tenant = unique("acme");
    let alice = server.create_user(&tenant, "alice");
    let carol = server.create_user(&tenant, "carol");
    let mallory = server.create_user(&unique("evil"), "mallory");
    for other in [&carol, &mallory] {
        let refused = open(
            &server,
            &other.token,
            &format!("?device_id={}", alice.device_id),
            None,
        );
        let Err((status, body)) = refused else {
            panic!("{} streamed alice's device", other.name);
        };
        assert_eq!(status, 404, "{body}");
        assert_eq!(body["success"], false, "{body}");
        assert_eq!(body["error_code"], "NOT_FOUND", "{body}");
    }
    let Err((status, body)) = open(
        &server,
        &alice.token,
        "?events=message.sent,message.nope",
        None,
    ) else {
        panic!("an unknown event name was accepted");
    };
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["validation"][0]["field"], "events", "{body}");
    let Err((status, _)) = open(&server, "not-a-token", "", None) else {
        panic!("no token, yet a stream");
    };
    assert_eq!(status, 401);

    // Carol's stream does not see alice's events.
    let mut carols = open_ok(&server, &carol, "", None);
    send(&server, &alice, "for alice");
    carols.assert_quiet();
}

#[test]
fn a_buttons_response_can_quote_a_received_buttons_message() {
    let (server, user) = server_and_user();
    // A business sent this device buttons.
    let received = inbound_ok(
        &server,
        &user,
        &json!({"from": TAPPER, "message": {"interactiveMessage": {
            "body": {"text": "Shall we?"},
            "nativeFlowMessage": {"buttons": [
                {"name": "quick_reply", "buttonParamsJSON": "{\"display_text\":\"Sure\",\"id\":\"go\"}"}
            ]}
        }}}),
    );
    // No display text and no body: only the host's copy of the original can supply them.
    let (status, reply) = server.post_json(
        "/send/buttons-response",
        &user.token,
        &json!({"to": TAPPER, "selected_button_id": "go",
                "quoted": {"message_id": received, "participant": TAPPER}}),
    );
    assert_eq!(status, 200, "{reply}");
    let outbox = server.outbox(&user);
    let response = &outbox[0]["message"]["buttonsResponseMessage"];
    assert_eq!(response["selectedDisplayText"], "Sure", "{response}");
    assert_eq!(response["contextInfo"]["stanzaID"], received.as_str());
    assert_eq!(
        response["contextInfo"]["quotedMessage"]["interactiveMessage"]["body"]["text"], "Shall we?",
        "quoted whole: {response}"
    );
    let (status, reply) = server.post_json(
        "/send/buttons-response",
        &user.token,
        &json!({"to": TAPPER, "selected_button_id": "other",
                "quoted": {"message_id": received, "participant": TAPPER}}),
    );
    assert_eq!(
        status, 400,
        "the button is checked against the received message: {reply}"
    );

    // A received message may not take the id of one this device sent.
    let sent = send(&server, &user, "mine");
    let (status, reply) = inbound(
        &server,
        &user,
        &json!({"from": TAPPER, "message": {"conversation": "x"}, "message_id": sent}),
    );
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["validation"][0]["field"], "message_id", "{reply}");
}

#[test]
fn received_media_is_served_decrypted_to_its_device_only() {
    use wuts_e2e::http::Auth;
    let server = Server::start(options());
    let tenant = unique("acme");
    let alice = server.create_user(&tenant, "alice");
    let carol = server.create_user(&tenant, "carol");
    let mallory = server.create_user(&unique("evil"), "mallory");
    let picture: Vec<u8> = (0..5000u32).map(|i| (i * 31 % 251) as u8).collect();
    let mut stream = open_ok(&server, &alice, "?events=message.received", None);
    let id = inbound_ok(
        &server,
        &alice,
        &json!({
            "from": TAPPER,
            "push_name": "Tapper",
            "message": {"imageMessage": {"mimetype": "image/png", "caption": "the plan"}},
            "media": wuts_e2e::audio_fixtures::base64(&picture),
        }),
    );
    let data = envelope(
        &stream.expect("message.received"),
        "message.received",
        &alice,
    );
    assert_eq!(data["message_type"], "image", "{data}");
    assert_eq!(data["content"], "the plan", "{data}");
    assert_eq!(data["media"]["mimetype"], "image/png", "{data}");
    assert_eq!(data["media"]["size"], 5000, "{data}");
    let url = data["media"]["url"]
        .as_str()
        .expect("a media URL")
        .to_owned();
    assert_eq!(
        url,
        format!("/messages/{id}/media?device_id={}", alice.device_id)
    );

    let reply = server.client().get(&url, Auth::Bearer(&alice.token));
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(reply.content_type.as_deref(), Some("image/png"));
    assert_eq!(reply.body, picture, "the bytes the sender attached");

    // Another user of the tenant, another tenant: their own device has no such
    // message, and naming alice's device is not theirs to name.
    for other in [&carol, &mallory] {
        for path in [
            format!("/messages/{id}/media"),
            format!("/messages/{id}/media?device_id={}", alice.device_id),
        ] {
            let reply = server.client().get(&path, Auth::Bearer(&other.token));
            assert_eq!(reply.status, 404, "{} {path}: {}", other.name, reply.text());
            assert_eq!(reply.json()["error_code"], "NOT_FOUND");
        }
    }
    // An unknown id, a message without media, a sent message: 404.
    let text = inbound_ok(
        &server,
        &alice,
        &json!({"from": TAPPER, "message": {"conversation": "no media"}}),
    );
    let sent = send(&server, &alice, "ours");
    for missing in ["3EB0NOSUCHMESSAGE", text.as_str(), sent.as_str()] {
        let reply = server.client().get(
            &format!("/messages/{missing}/media"),
            Auth::Bearer(&alice.token),
        );
        assert_eq!(reply.status, 404, "{missing}: {}", reply.text());
    }
    // `media` needs a media field to attach to, and must be base64.
    for (body, field) in [
        (
            json!({"from": TAPPER, "message": {"conversation": "x"}, "media": "aGVsbG8="}),
            "media",
        ),
        (
            json!({"from": TAPPER, "message": {"imageMessage": {}}, "media": "***"}),
            "media",
        ),
    ] {
        let (status, reply) = inbound(&server, &alice, &body);
        assert_eq!(status, 400, "{reply}");
        assert_eq!(reply["validation"][0]["field"], field, "{reply}");
    }
}

#[test]
fn a_message_received_twice_is_one_event() {
    let (server, user) = server_and_user();
    let mut stream = open_ok(&server, &user, "?events=message.received", None);
    let body = json!({"from": TAPPER, "message_id": "3EB0REDELIVERED", "message": {"conversation": "once"}});
    inbound_ok(&server, &user, &body);
    inbound_ok(&server, &user, &body);
    let data = envelope(
        &stream.expect("message.received"),
        "message.received",
        &user,
    );
    assert_eq!(data["message_id"], "3EB0REDELIVERED");
    stream.assert_quiet();
}

#[test]
fn disconnecting_and_connecting_a_device_are_events() {
    let (server, user) = server_and_user();
    let mut stream = open_ok(
        &server,
        &user,
        "?events=device.connected,device.disconnected",
        None,
    );
    for (path, name) in [
        ("/disconnect", "device.disconnected"),
        ("/connect", "device.connected"),
    ] {
        let (status, reply) = server.post_json(path, &user.token, &json!({}));
        assert_eq!(status, 200, "{path}: {reply}");
        let data = envelope(&stream.expect(name), name, &user);
        match name {
            "device.connected" => assert!(
                data["jid"].as_str().unwrap().ends_with("@s.whatsapp.net"),
                "{data}"
            ),
            _ => assert!(!data["reason"].as_str().unwrap().is_empty(), "{data}"),
        }
    }
    // Connecting a connected device changes nothing, and says nothing.
    let (status, _) = server.post_json("/connect", &user.token, &json!({}));
    assert!(status == 200 || status == 400, "{status}");
    stream.assert_quiet();
}

#[test]
fn a_stream_ends_soon_after_its_token_is_rotated_and_another_stays() {
    let (server, alice) = server_and_user();
    let bob = server.create_user(&unique("acme"), "bob");
    let mut rotated = open_ok(&server, &alice, "", None);
    let mut kept = open_ok(&server, &bob, "", None);
    send(&server, &alice, "before");
    assert_eq!(rotated.expect("message.sent").event, "message.sent");

    let (status, body) = server.post_json(
        &format!("/users/{}/token", alice.user_id),
        &alice.token,
        &json!({}),
    );
    assert_eq!(status, 200, "{body}");
    // Checked again at the next keepalive (every 15 s).
    assert!(
        rotated.ends_within(Duration::from_secs(20)),
        "the rotated token's stream ended"
    );
    assert!(
        !kept.ends_within(Duration::from_secs(1)),
        "bob's stream is still open"
    );
    send(&server, &bob, "still here");
    assert_eq!(kept.expect("bob's message.sent").event, "message.sent");
}
