//! `POST /send/reaction`: the reaction's key read from the message log (own, received,
//! group) or from the caller, removal, bad input refused naming the field with nothing
//! sent, the new plugins' routes disabled in `[routes]`, and what the offline WhatsApp
//! server receives from the real driver.

mod send_support;

use send_support::{
    connected_rig, outbox_entry, post, sandbox, sandbox_with, standard_invalid, standard_sent,
    with, without,
};
use serde_json::{Value, json};
use wuts_e2e::checks::Cases;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User};

const ROUTE: &str = "/send/reaction";
const GROUP: &str = "120363025246125486@g.us";
const OTHER: &str = "5511977776666@s.whatsapp.net";

fn react(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    post(server, user, ROUTE, body)
}

/// Reacts, asserts the standard 200 and its metadata, and returns the outbox message.
#[track_caller]
fn react_ok(server: &Server, user: &User, body: &Value, chat: &str) -> Value {
    let (status, reply) = react(server, user, body);
    let id = standard_sent(status, &reply, chat);
    let metadata = &reply["metadata"];
    let mut keys: Vec<&str> = metadata
        .as_object()
        .expect("metadata")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "device_id",
            "original_message_id",
            "processing_time_ms",
            "reaction_emoji",
            "sent_at",
            "user_id"
        ],
        "{reply}"
    );
    assert_eq!(metadata["original_message_id"], body["messageId"]);
    assert_eq!(metadata["reaction_emoji"], body["reaction"]);
    let entry = outbox_entry(server, user, &id, ROUTE, chat);
    assert_eq!(entry["stanza_nodes"], json!([]), "{entry}");
    let message = entry["message"].clone();
    let reaction = &message["reactionMessage"];
    let sent_ms = reaction["senderTimestampMs"]
        .as_i64()
        .unwrap_or_else(|| panic!("senderTimestampMs: {message}"));
    assert!(
        (sent_ms / 1000 - wuts_e2e::checks::now_unix()).abs() < 60,
        "{message}"
    );
    message
}

/// Sends a text to `to`; returns its id.
fn send_text(server: &Server, user: &User, to: &str) -> String {
    let (status, reply) = post(
        server,
        user,
        "/send/text",
        &json!({"number": to, "text": "react to me"}),
    );
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().unwrap().to_owned()
}

/// The device receives `text` from `from` (in `group`, when given); returns its id.
fn receive(server: &Server, user: &User, from: &str, group: Option<&str>) -> String {
    let mut body = json!({"from": from, "message": {"conversation": "hello"}});
    if let Some(group) = group {
        body["chat"] = json!(group);
        body["participant"] = json!(from);
    }
    let (status, reply) = server.post_json("/sandbox/inbound", &user.token, &body);
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().unwrap().to_owned()
}

fn own_jid(server: &Server, user: &User) -> String {
    let (_, status) = server.get("/status", &user.token);
    status["jid"].as_str().expect("a JID").to_owned()
}

#[test]
fn a_reaction_to_an_own_message_keys_it_from_the_log_and_an_empty_one_removes_it() {
    let (server, user) = sandbox(&["text", "reaction"]);
    let original = send_text(&server, &user, PHONE);
    // The caller's fromMe is only a hint: the log knows better.
    let message = react_ok(
        &server,
        &user,
        &json!({"number": PHONE, "messageId": original, "reaction": "👍🏽", "fromMe": false}),
        PHONE_JID,
    );
    let reaction = &message["reactionMessage"];
    assert_eq!(
        reaction["key"],
        json!({"remoteJID": PHONE_JID, "fromMe": true, "id": original}),
        "{message}"
    );
    assert_eq!(reaction["text"], json!("👍🏽"));

    let message = react_ok(
        &server,
        &user,
        &json!({"number": PHONE, "messageId": original, "reaction": ""}),
        PHONE_JID,
    );
    let reaction = &message["reactionMessage"];
    assert_eq!(reaction["key"]["id"], json!(original));
    assert_eq!(
        reaction.get("text").cloned().unwrap_or(json!("")),
        json!(""),
        "the removal form: an empty text: {message}"
    );
}

#[test]
fn the_documented_example_reacts_to_an_unknown_message_as_the_caller_says() {
    let (server, user) = sandbox(&["reaction"]);
    let message = react_ok(
        &server,
        &user,
        &json!({"number": PHONE, "messageId": "3EB0XXXX1234ABCD", "reaction": "👍", "fromMe": false}),
        PHONE_JID,
    );
    assert_eq!(
        message["reactionMessage"]["key"],
        json!({"remoteJID": PHONE_JID, "fromMe": false, "id": "3EB0XXXX1234ABCD"})
    );
}

#[test]
fn group_reactions_name_the_author() {
    let (server, user) = sandbox(&["text", "reaction"]);
    // A received group message: its sender, from the log.
    let received = receive(&server, &user, OTHER, Some(GROUP));
    let message = react_ok(
        &server,
        &user,
        &json!({"number": GROUP, "messageId": received, "reaction": "❤️"}),
        GROUP,
    );
    assert_eq!(
        message["reactionMessage"]["key"],
        json!({"remoteJID": GROUP, "fromMe": false, "id": received, "participant": OTHER})
    );
    // This device's own group message: its own JID.
    let own = send_text(&server, &user, GROUP);
    let message = react_ok(
        &server,
        &user,
        &json!({"number": GROUP, "messageId": own, "reaction": "😂"}),
        GROUP,
    );
    assert_eq!(
        message["reactionMessage"]["key"]["participant"],
        json!(own_jid(&server, &user))
    );
    assert_eq!(message["reactionMessage"]["key"]["fromMe"], json!(true));
    // An unknown group message: as the caller says.
    let message = react_ok(
        &server,
        &user,
        &json!({"number": GROUP, "messageId": "3EB0UNKNOWN", "reaction": "🙏",
                "fromMe": false, "participant": "+55 11 97777-6666"}),
        GROUP,
    );
    assert_eq!(
        message["reactionMessage"]["key"],
        json!({"remoteJID": GROUP, "fromMe": false, "id": "3EB0UNKNOWN", "participant": OTHER})
    );
}

#[test]
fn bad_input_is_a_400_naming_the_field_and_sends_nothing() {
    let (server, user) = sandbox(&["text", "reaction"]);
    let elsewhere = send_text(&server, &user, "5511966665555");
    let received_in_group = receive(&server, &user, OTHER, Some(GROUP));
    let before = server.outbox(&user).len();
    let ok = json!({"number": PHONE, "messageId": "3EB0XXXX1234ABCD", "reaction": "👍", "fromMe": false});
    let cases: Vec<(&str, Value, &str)> = vec![
        ("no number", without(&ok, "/number"), "number"),
        ("bad number", with(&ok, "/number", json!("55")), "number"),
        ("no messageId", without(&ok, "/messageId"), "messageId"),
        (
            "empty messageId",
            with(&ok, "/messageId", json!("")),
            "messageId",
        ),
        (
            "messageId with spaces",
            with(&ok, "/messageId", json!("3EB0 1")),
            "messageId",
        ),
        (
            "messageId of 129",
            with(&ok, "/messageId", json!("A".repeat(129))),
            "messageId",
        ),
        (
            "messageId as a number",
            with(&ok, "/messageId", json!(3)),
            "messageId",
        ),
        ("no reaction", without(&ok, "/reaction"), "reaction"),
        ("a word", with(&ok, "/reaction", json!("ok")), "reaction"),
        (
            "two emoji",
            with(&ok, "/reaction", json!("👍👍")),
            "reaction",
        ),
        (
            "an emoji and a space",
            with(&ok, "/reaction", json!("👍 ")),
            "reaction",
        ),
        (
            "reaction as a number",
            with(&ok, "/reaction", json!(1)),
            "reaction",
        ),
        (
            "fromMe as a string",
            with(&ok, "/fromMe", json!("false")),
            "fromMe",
        ),
        (
            "bad participant",
            with(&ok, "/participant", json!("someone")),
            "participant",
        ),
        (
            "an unknown message without fromMe",
            without(&ok, "/fromMe"),
            "fromMe",
        ),
        (
            "an unknown group message without its author",
            with(&ok, "/number", json!(GROUP)),
            "participant",
        ),
        (
            "a known message of another chat",
            with(&ok, "/messageId", json!(elsewhere)),
            "messageId",
        ),
        (
            "a known group message, named in a direct chat",
            with(&ok, "/messageId", json!(received_in_group)),
            "messageId",
        ),
    ];
    let mut checks = Cases::new();
    for (name, body, field) in cases {
        checks.check(name, || {
            let (status, reply) = react(&server, &user, &body);
            standard_invalid(status, &reply, field);
        });
    }
    checks.finish();
    assert_eq!(
        server.outbox(&user).len(),
        before,
        "refused reactions send nothing"
    );
}

#[test]
fn every_route_of_the_new_plugins_can_be_disabled() {
    let plugins = [
        "buttons", "text", "location", "contact", "reaction", "template", "list",
    ];
    let routes = [
        "/send/text",
        "/send/location",
        "/send/live-location",
        "/send/contact",
        "/send/contacts",
        "/send/reaction",
        "/send/template",
        "/send/interactive",
        "/send/list-response",
    ];
    let mut options = ServerOptions::default()
        .plugins(&plugins)
        .required(&plugins);
    for route in routes {
        options = options.route(route, false);
    }
    let (server, user) = sandbox_with(options);
    for route in routes {
        let (status, reply) = post(&server, &user, route, &json!({"to": PHONE}));
        assert_eq!(status, 404, "{route}: {reply}");
    }
    assert!(server.outbox(&user).is_empty());
    // The plugins still serve what is enabled.
    let (status, reply) = server.send_buttons(
        &user,
        &wuts_e2e::buttons_body(PHONE, "still here", &[("a", "A")]),
    );
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn the_offline_whatsapp_server_receives_a_reaction_stanza() {
    let rig = connected_rig(&["text", "reaction"]);
    let original = rig.send_ok("/send/text", &json!({"number": PHONE, "text": "hi"}));
    let id = rig.send_ok(
        ROUTE,
        &json!({"number": PHONE, "messageId": original, "reaction": "🎉"}),
    );
    let message = rig.received(&id);
    let reaction = message
        .message
        .as_ref()
        .and_then(|m| m.reaction_message.as_option())
        .unwrap_or_else(|| panic!("a reactionMessage: {}", message.render()));
    assert_eq!(reaction.text.as_deref(), Some("🎉"));
    let key = reaction.key.as_option().expect("a key");
    assert_eq!(key.id.as_deref(), Some(original.as_str()));
    assert_eq!(key.from_me, Some(true));
    assert_eq!(key.remote_jid.as_deref(), Some(PHONE_JID));
    assert_eq!(
        message.attr("type"),
        Some("reaction"),
        "{}",
        message.render()
    );
    let encs = message.enc_nodes();
    assert!(!encs.is_empty());
    for enc in encs {
        assert_eq!(
            wuts_wa_server::stanza::attr(enc, "decrypt-fail").as_deref(),
            Some("hide"),
            "{}",
            message.render()
        );
        assert_eq!(wuts_wa_server::stanza::attr(enc, "mediatype"), None);
    }
    // The removal goes out the same way, with an empty text.
    let id = rig.send_ok(
        ROUTE,
        &json!({"number": PHONE, "messageId": original, "reaction": ""}),
    );
    let message = rig.received(&id);
    let reaction = message
        .message
        .as_ref()
        .and_then(|m| m.reaction_message.as_option())
        .expect("a reactionMessage");
    assert_eq!(reaction.text.as_deref().unwrap_or(""), "");
    assert_eq!(message.attr("type"), Some("reaction"));
}
