//! `POST /send/text`: the message each request becomes (sandbox outbox, decoded), quotes
//! of known and unknown messages, bad input refused naming the field with nothing sent,
//! `delay`, a disabled route, and what the offline WhatsApp server receives from the
//! real driver.

mod send_support;

use std::time::{Duration, Instant};

use send_support::{
    Rig, assert_outbox_empty, connected_rig, connected_rig_with, outbox_entry, post, sandbox,
    sandbox_with, standard_invalid, standard_sent, with, without,
};
use serde_json::{Value, json};
use wuts_e2e::audio_fixtures::LocalHttp;
use wuts_e2e::checks::Cases;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User};

const ROUTE: &str = "/send/text";
const METADATA_KEYS: [&str; 8] = [
    "device_id",
    "mentions_processed",
    "presence_duration_seconds",
    "presence_sent",
    "processing_time_ms",
    "quoted_message_found",
    "sent_at",
    "user_id",
];

fn send(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    post(server, user, ROUTE, body)
}

/// Sends `body`, asserts the standard 200, and returns the reply and the outbox message.
#[track_caller]
fn send_ok(server: &Server, user: &User, body: &Value) -> (Value, Value) {
    let (status, reply) = send(server, user, body);
    let id = standard_sent(status, &reply, PHONE_JID);
    let metadata = reply["metadata"].as_object().expect("metadata");
    let mut keys: Vec<&str> = metadata.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, METADATA_KEYS, "{reply}");
    assert_eq!(metadata["device_id"], json!(user.device_id), "{reply}");
    assert_eq!(metadata["user_id"], json!(user.user_id), "{reply}");
    let entry = outbox_entry(server, user, &id, ROUTE, PHONE_JID);
    assert_eq!(entry["stanza_nodes"], json!([]), "no extra nodes: {entry}");
    assert_eq!(entry["media"], json!([]), "{entry}");
    (reply, entry["message"].clone())
}

fn own_jid(server: &Server, user: &User) -> String {
    let (_, status) = server.get("/status", &user.token);
    status["jid"]
        .as_str()
        .unwrap_or_else(|| panic!("the sandbox device has a JID: {status}"))
        .to_owned()
}

#[test]
fn only_text_is_a_bare_conversation_with_markdown_as_given() {
    let (server, user) = sandbox(&["text"]);
    let text = "Hello from *WUTS*! _Your_ ~order~ is `confirmed`.\nOlá 👋🏽 \"quoted\" \\ back";
    let (reply, message) = send_ok(&server, &user, &json!({"number": PHONE, "text": text}));
    assert_eq!(message, json!({"conversation": text}));
    let metadata = &reply["metadata"];
    assert_eq!(metadata["presence_sent"], json!(false));
    assert_eq!(metadata["mentions_processed"], json!(0));
    assert_eq!(metadata["quoted_message_found"], json!(false));
}

#[test]
fn mentions_make_an_extended_text_message() {
    let (server, user) = sandbox(&["text"]);
    let body = json!({
        "number": "+55 (11) 99999-9999",
        "text": "Hi @5511988887777 and @5511977776666",
        "mentioned": ["5511988887777", "5511977776666@s.whatsapp.net", "+55 11 98888-7777"],
    });
    let (reply, message) = send_ok(&server, &user, &body);
    assert_eq!(
        message,
        json!({"extendedTextMessage": {
            "text": "Hi @5511988887777 and @5511977776666",
            "contextInfo": {"mentionedJID": [
                "5511988887777@s.whatsapp.net", "5511977776666@s.whatsapp.net"
            ]}
        }})
    );
    assert_eq!(reply["metadata"]["mentions_processed"], json!(2));
}

#[test]
fn the_documented_example_quotes_an_unknown_message_by_its_text() {
    let (server, user) = sandbox(&["text"]);
    let body = json!({
        "number": PHONE, "text": "Hello from *WUTS*! Your order is confirmed.",
        "delay": 2, "typingDuration": 3,
        "quoted": {"key": {"id": "3EB0XXXX1234ABCD", "fromMe": false},
                   "message": {"conversation": "Is my order ready?"}}
    });
    let (reply, message) = send_ok(&server, &user, &body);
    assert_eq!(
        message,
        json!({"extendedTextMessage": {
            "text": "Hello from *WUTS*! Your order is confirmed.",
            "contextInfo": {
                "stanzaID": "3EB0XXXX1234ABCD",
                "participant": PHONE_JID,
                "quotedMessage": {"conversation": "Is my order ready?"}
            }
        }})
    );
    assert_eq!(reply["metadata"]["quoted_message_found"], json!(false));
    assert_eq!(reply["metadata"]["presence_sent"], json!(true));
    assert_eq!(reply["metadata"]["presence_duration_seconds"], json!(3));
}

#[test]
fn typing_duration_shows_typing_for_that_long_first() {
    let (server, user) = sandbox(&["text"]);
    let started = Instant::now();
    let (reply, _) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": "thinking...", "delay": 300, "typingDuration": 1}),
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1300),
        "delay then typing, then the send: answered after {elapsed:?}"
    );
    assert_eq!(reply["metadata"]["presence_sent"], json!(true));
    let (status, state) = server.get("/sandbox/state", &user.token);
    assert_eq!(status, 200, "{state}");
    let presences = state["presences"].as_array().expect("presences");
    let states: Vec<&str> = presences
        .iter()
        .map(|shown| shown["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["composing", "paused"], "{state}");
    assert!(presences.iter().all(|shown| shown["chat_jid"] == PHONE_JID));
}

#[test]
fn a_known_message_is_quoted_whole_and_its_author_named() {
    let (server, user) = sandbox(&["text"]);
    // One of this device's own messages, with a mention the quote must not repeat.
    let (first, _) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": "first @5511988887777", "mentioned": ["5511988887777"]}),
    );
    let first_id = first["message_id"].as_str().unwrap();
    let (reply, message) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": "second",
                "quoted": {"message_id": first_id, "body": "ignored: the original wins"}}),
    );
    assert_eq!(reply["metadata"]["quoted_message_found"], json!(true));
    let info = &message["extendedTextMessage"]["contextInfo"];
    assert_eq!(info["stanzaID"], json!(first_id));
    assert_eq!(
        info["participant"],
        json!(own_jid(&server, &user)),
        "{info}"
    );
    assert_eq!(
        info["quotedMessage"],
        json!({"extendedTextMessage": {"text": "first @5511988887777", "contextInfo": {}}}),
        "the original without its mentions: {info}"
    );
    assert!(info.get("remoteJID").is_none(), "same chat: {info}");

    // A message this device received: its sender is the participant.
    let (status, received) = server.post_json(
        "/sandbox/inbound",
        &user.token,
        &json!({"from": "5511977776666", "message": {"conversation": "a question"}}),
    );
    assert_eq!(status, 200, "{received}");
    let received_id = received["message_id"].as_str().unwrap();
    let (_, message) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": "an answer",
                "quoted": {"key": {"id": received_id, "fromMe": false}}}),
    );
    let info = &message["extendedTextMessage"]["contextInfo"];
    assert_eq!(info["participant"], json!("5511977776666@s.whatsapp.net"));
    assert_eq!(info["quotedMessage"], json!({"conversation": "a question"}));
    assert_eq!(
        info["remoteJID"],
        json!("5511977776666@s.whatsapp.net"),
        "quoted from another chat: {info}"
    );
}

#[test]
fn delay_is_honoured_before_sending() {
    let (server, user) = sandbox(&["text"]);
    let started = Instant::now();
    send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": "later", "delay": 1200, "typingDuration": 0}),
    );
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(1200),
        "answered after {elapsed:?}"
    );
}

#[test]
fn bad_input_is_a_400_naming_the_field_and_sends_nothing() {
    let (server, user) = sandbox(&["text"]);
    let ok = json!({"number": PHONE, "text": "hi"});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no number", without(&ok, "/number"), "number"),
        ("no text", without(&ok, "/text"), "text"),
        ("empty number", with(&ok, "/number", json!("")), "number"),
        (
            "short number",
            with(&ok, "/number", json!("12345")),
            "number",
        ),
        (
            "number as a number",
            with(&ok, "/number", json!(5511999999999u64)),
            "number",
        ),
        ("empty text", with(&ok, "/text", json!("")), "text"),
        ("blank text", with(&ok, "/text", json!("   \n ")), "text"),
        (
            "4097 characters",
            with(&ok, "/text", json!("x".repeat(4097))),
            "text",
        ),
        ("text as a number", with(&ok, "/text", json!(42)), "text"),
        (
            "text as an object",
            with(&ok, "/text", json!({"body": "hi"})),
            "text",
        ),
        (
            "delay over a minute",
            with(&ok, "/delay", json!(60_001)),
            "delay",
        ),
        ("negative delay", with(&ok, "/delay", json!(-1)), "delay"),
        (
            "delay as a string",
            with(&ok, "/delay", json!("2")),
            "delay",
        ),
        (
            "typing 21 s",
            with(&ok, "/typingDuration", json!(21)),
            "typingDuration",
        ),
        (
            "typing 1.5 s",
            with(&ok, "/typingDuration", json!(1.5)),
            "typingDuration",
        ),
        (
            "mentioned not an array",
            with(&ok, "/mentioned", json!("5511988887777")),
            "mentioned",
        ),
        (
            "a bad mention",
            with(&ok, "/mentioned", json!(["5511988887777", "abc"])),
            "mentioned[1]",
        ),
        (
            "quoted not an object",
            with(&ok, "/quoted", json!("3EB0")),
            "quoted",
        ),
        (
            "quoted without an id",
            with(&ok, "/quoted", json!({"body": "x"})),
            "quoted.message_id",
        ),
        (
            "quoted with an empty key id",
            with(&ok, "/quoted", json!({"key": {"id": ""}})),
            "quoted.key.id",
        ),
        (
            "fromMe not a boolean",
            with(
                &ok,
                "/quoted",
                json!({"key": {"id": "3EB0A", "fromMe": "no"}}),
            ),
            "quoted.key.fromMe",
        ),
        (
            "an unknown quoted message without its text",
            with(
                &ok,
                "/quoted",
                json!({"key": {"id": "3EB0FFFFFFFFFFFFFFFFFF", "fromMe": false}}),
            ),
            "quoted",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = send(&server, &user, &body);
            standard_invalid(status, &reply, field);
        });
    }
    checks.check("the documented text for a bad text", || {
        let (status, reply) = send(&server, &user, &with(&ok, "/text", json!("")));
        standard_invalid(status, &reply, "text");
        assert_eq!(
            reply["validation"][0]["message"],
            json!("text is required and must be between 1 and 4096 characters"),
            "{reply}"
        );
    });
    checks.check("malformed JSON", || {
        let reply = server.post_raw(
            ROUTE,
            user.auth(),
            wuts_e2e::Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"number\":",
            },
        );
        assert_eq!(reply.status, 400, "{}", reply.text());
        assert_eq!(reply.json()["error_code"], json!("VALIDATION_ERROR"));
    });
    checks.finish();
    assert_outbox_empty(&server, &user);
    // 4,096 characters is the limit, counted in characters.
    send_ok(&server, &user, &with(&ok, "/text", json!("é".repeat(4096))));
}

#[test]
fn a_disabled_route_is_404_and_the_others_serve() {
    let plugins = ["buttons", "text"];
    let (server, user) = sandbox_with(
        ServerOptions::default()
            .plugins(&plugins)
            .required(&plugins)
            .route(ROUTE, false),
    );
    let (status, reply) = send(&server, &user, &json!({"number": PHONE, "text": "hi"}));
    assert_eq!(status, 404, "{reply}");
    assert_outbox_empty(&server, &user);
    let (status, reply) = server.send_buttons(
        &user,
        &wuts_e2e::buttons_body(PHONE, "still here", &[("a", "A")]),
    );
    assert_eq!(status, 200, "{reply}");
}

/// The text and the extended text, through the real driver: the server decrypts what
/// was written, in a `type="text"` stanza with no `mediatype` and no extra nodes.
#[test]
fn the_offline_whatsapp_server_receives_both_shapes_as_text() {
    let rig: Rig = connected_rig(&["text"]);
    let plain = rig.send_ok(ROUTE, &json!({"number": PHONE, "text": "*plain* text"}));
    let message = rig.received(&plain);
    assert_eq!(
        message
            .message
            .as_ref()
            .and_then(|m| m.conversation.as_deref()),
        Some("*plain* text"),
        "{}",
        message.render()
    );
    assert_eq!(message.attr("type"), Some("text"), "{}", message.render());
    assert_eq!(message.attr("to"), Some(PHONE_JID));
    assert!(
        send_support::enc_media_types(&message)
            .iter()
            .all(Option::is_none)
    );
    assert!(message.nodes_named("biz").is_empty());

    let extended = rig.send_ok(
        ROUTE,
        &json!({"number": PHONE, "text": "reply @5511977776666",
                "mentioned": ["5511977776666"],
                "quoted": {"message_id": plain}}),
    );
    let message = rig.received(&extended);
    let text = message
        .message
        .as_ref()
        .and_then(|m| m.extended_text_message.as_option())
        .unwrap_or_else(|| panic!("an extendedTextMessage: {}", message.render()));
    assert_eq!(text.text.as_deref(), Some("reply @5511977776666"));
    let info = text.context_info.as_option().expect("contextInfo");
    assert_eq!(info.mentioned_jid, ["5511977776666@s.whatsapp.net"]);
    assert_eq!(info.stanza_id.as_deref(), Some(plain.as_str()));
    assert_eq!(
        info.quoted_message
            .as_option()
            .and_then(|m| m.conversation.as_deref()),
        Some("*plain* text")
    );
    assert_eq!(message.attr("type"), Some("text"), "{}", message.render());
}

const PAGE: &str = r#"<!doctype html><html><head><title>Fallback</title>
<meta property="og:title" content="WUTS Store &amp; Caf&#233;">
<meta name="description" content="Fresh coffee, delivered."></head><body>hi</body></html>"#;

#[test]
fn a_link_preview_carries_the_pages_title_and_description() {
    let http = LocalHttp::serve("menu", "text/html; charset=utf-8", PAGE.as_bytes().to_vec());
    let url = http.url("/menu");
    let (server, user) = sandbox_with(
        ServerOptions::default()
            .plugins(&["text"])
            .required(&["text"])
            .env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"),
    );
    let text = format!("Our menu: {url}. Enjoy!");
    let (_, message) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": text, "linkPreview": true}),
    );
    assert_eq!(
        message,
        json!({"extendedTextMessage": {
            "text": text, "matchedText": url, "title": "WUTS Store & Café",
            "description": "Fresh coffee, delivered.", "previewType": "NONE"
        }})
    );
    // Without linkPreview nothing is fetched: the text is plain.
    let (_, message) = send_ok(&server, &user, &json!({"number": PHONE, "text": text}));
    assert_eq!(message, json!({"conversation": text}));
    // A page that cannot be had gives no preview; the text is still sent.
    let missing = format!("gone: {}", http.url("/missing"));
    let (_, message) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": missing, "linkPreview": true}),
    );
    assert_eq!(message, json!({"conversation": missing}));
}

#[test]
fn a_link_preview_of_a_refused_address_is_left_out() {
    let http = LocalHttp::serve("menu", "text/html", PAGE.as_bytes().to_vec());
    let (server, user) = sandbox(&["text"]);
    let text = format!("see {}", http.url("/menu"));
    let (_, message) = send_ok(
        &server,
        &user,
        &json!({"number": PHONE, "text": text, "linkPreview": true}),
    );
    assert_eq!(
        message,
        json!({"conversation": text}),
        "loopback is refused without allow_private_urls, and the text goes out plain"
    );
}

/// A text with a link preview leaves as WhatsApp classifies one: `type="media"` with
/// `<enc mediatype="url">`.
#[test]
fn the_offline_whatsapp_server_receives_a_link_preview_as_url_media() {
    let http = LocalHttp::serve("menu", "text/html", PAGE.as_bytes().to_vec());
    let rig = connected_rig_with(&["text"], &[("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")]);
    let url = http.url("/menu");
    let id = rig.send_ok(
        ROUTE,
        &json!({"number": PHONE, "text": format!("menu {url}"), "linkPreview": true}),
    );
    let message = rig.received(&id);
    let text = message
        .message
        .as_ref()
        .and_then(|m| m.extended_text_message.as_option())
        .unwrap_or_else(|| panic!("an extendedTextMessage: {}", message.render()));
    assert_eq!(text.matched_text.as_deref(), Some(url.as_str()));
    assert_eq!(text.title.as_deref(), Some("WUTS Store & Café"));
    assert_eq!(message.attr("type"), Some("media"), "{}", message.render());
    assert!(
        send_support::enc_media_types(&message)
            .iter()
            .all(|t| t.as_deref() == Some("url")),
        "{}",
        message.render()
    );
}
