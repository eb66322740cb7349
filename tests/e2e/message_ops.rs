//! `PUT /messages/{messageId}` (edit) and `DELETE /messages/delete` (revoke): the edit
//! and the revoke of a sent text decoded from the outbox; refusals (a received message,
//! an unknown id, another tenant's message, an edit past the window, a non-text edit,
//! bad bodies) in the standard envelope with nothing sent; the routes disabled; the
//! host's `GET /messages/{id}/media` still the host's; and what the offline WhatsApp
//! server receives from the real driver, `edit` stanza attribute included.

mod send_support;

use std::time::Duration;

use send_support::{connected_rig, outbox_entry, post, sandbox, sandbox_with, standard_invalid};
use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::sse::open_ok;
use wuts_e2e::{PHONE, PHONE_JID, Server, ServerOptions, User, unique};
use wuts_wa_server::whatsapp_rust::waproto::whatsapp as wa;

const DELETE: &str = "/messages/delete";
const EDIT_ROUTE: &str = "/messages/{messageId}";
const PLUGINS: &[&str] = &["text", "location", "message-ops"];

/// `method path` with a JSON body (ureq sends none on DELETE unless forced).
fn call(server: &Server, token: &str, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let url = server.url(path);
    let bytes = serde_json::to_vec(body).unwrap();
    let auth = format!("Bearer {token}");
    let result = match method {
        "PUT" => agent
            .put(&url)
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(&bytes[..]),
        "DELETE" => agent
            .delete(&url)
            .force_send_body()
            .header("Authorization", &auth)
            .content_type("application/json")
            .send(&bytes[..]),
        other => panic!("no {other} here"),
    };
    let mut response = result.unwrap_or_else(|error| panic!("{method} {path}: {error}"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn edit(server: &Server, user: &User, id: &str, body: &Value) -> (u16, Value) {
    call(server, &user.token, "PUT", &format!("/messages/{id}"), body)
}

fn delete(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    call(server, &user.token, "DELETE", DELETE, body)
}

/// Sends a text to `to`; returns its id.
fn send_text(server: &Server, user: &User, to: &str) -> String {
    let (status, reply) = post(
        server,
        user,
        "/send/text",
        &json!({"number": to, "text": "order ships at 8am"}),
    );
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().unwrap().to_owned()
}

/// The device receives a text from `from`; returns its id.
fn receive(server: &Server, user: &User, from: &str) -> String {
    let body = json!({"from": from, "message": {"conversation": "hello"}});
    let (status, reply) = server.post_json("/sandbox/inbound", &user.token, &body);
    assert_eq!(status, 200, "{reply}");
    reply["message_id"].as_str().unwrap().to_owned()
}

/// Asserts a standard-envelope error with `status` and `code`; returns its text.
#[track_caller]
fn standard_error(status: u16, body: &Value, want_status: u16, code: &str) -> String {
    assert_eq!(status, want_status, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    body["error"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn an_edit_of_a_sent_text_goes_out_as_a_message_edit() {
    let (server, user) = sandbox(PLUGINS);
    let original = send_text(&server, &user, PHONE);
    let (status, reply) = edit(
        &server,
        &user,
        &original,
        &json!({"to": PHONE, "message": "Updated: your order ships tomorrow at 9am."}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["message"], json!("Message edited successfully"));
    let id = reply["message_id"].as_str().unwrap().to_owned();
    checks::message_id(&id);
    assert_ne!(id, original, "the edit has its own id: {reply}");
    checks::recent_timestamp(reply["timestamp"].as_str().unwrap_or_default());
    let entry = outbox_entry(&server, &user, &id, EDIT_ROUTE, PHONE_JID);
    assert_eq!(entry["stanza_nodes"], json!([]), "{entry}");
    let protocol = &entry["message"]["protocolMessage"];
    assert_eq!(
        protocol["key"],
        json!({"remoteJID": PHONE_JID, "fromMe": true, "id": original}),
        "{entry}"
    );
    assert_eq!(protocol["type"], json!("MESSAGE_EDIT"), "{entry}");
    assert_eq!(
        protocol["editedMessage"],
        json!({"conversation": "Updated: your order ships tomorrow at 9am."}),
        "{entry}"
    );
    let sent_ms = protocol["timestampMs"].as_i64().expect("timestampMs");
    assert!((sent_ms / 1000 - checks::now_unix()).abs() < 60, "{entry}");
    // The path wins over a body field of the same name; a second edit is still an edit
    // of the original.
    let (status, reply) = edit(
        &server,
        &user,
        &original,
        &json!({"to": PHONE, "message": "again", "messageId": "3EB0OTHER"}),
    );
    assert_eq!(status, 200, "{reply}");
    let entry = outbox_entry(
        &server,
        &user,
        reply["message_id"].as_str().unwrap(),
        EDIT_ROUTE,
        PHONE_JID,
    );
    assert_eq!(
        entry["message"]["protocolMessage"]["key"]["id"],
        json!(original)
    );
}

#[test]
fn a_delete_revokes_a_sent_text_for_everyone() {
    let (server, user) = sandbox(PLUGINS);
    let original = send_text(&server, &user, PHONE);
    let (status, reply) = delete(
        &server,
        &user,
        &json!({"messageId": original, "chatJid": PHONE_JID, "deleteType": "for_everyone",
            "reason": "Sent to wrong contact", "validateOwnership": true}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["delete_type"], json!("for_everyone"));
    assert_eq!(reply["chat_jid"], json!(PHONE_JID));
    assert_eq!(
        reply["message_id"],
        json!(original),
        "WUTS names the deleted message"
    );
    checks::recent_timestamp(reply["deleted_at"].as_str().unwrap_or_default());
    let metadata = &reply["metadata"];
    assert_eq!(metadata["time_elapsed_minutes"], json!(0), "{reply}");
    assert_eq!(metadata["within_time_limit"], json!(true), "{reply}");
    assert_eq!(
        metadata["reason"],
        json!("Sent to wrong contact"),
        "{reply}"
    );
    assert!(metadata["processing_time_ms"].is_u64(), "{reply}");
    let id = reply["revoke_message_id"].as_str().unwrap();
    let entry = outbox_entry(&server, &user, id, DELETE, PHONE_JID);
    assert_eq!(
        entry["message"],
        json!({"protocolMessage": {"key": {"remoteJID": PHONE_JID, "fromMe": true,
            "id": original}, "type": "REVOKE"}}),
        "{entry}"
    );
    // deleteType defaults to for_everyone; a phone number is a chat too.
    let second = send_text(&server, &user, PHONE);
    let (status, reply) = delete(
        &server,
        &user,
        &json!({"messageId": second, "chatJid": PHONE}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["delete_type"], json!("for_everyone"));
}

#[test]
fn a_delete_for_me_forgets_the_message_and_sends_nothing() {
    let (server, user) = sandbox(PLUGINS);
    let own = send_text(&server, &user, PHONE);
    let received = receive(&server, &user, PHONE);
    let sent = server.outbox(&user).len();
    let mut stream = open_ok(&server, &user, "?events=message.delete_for_me", None);
    let (status, reply) = delete(
        &server,
        &user,
        &json!({"messageId": own, "chatJid": PHONE_JID, "deleteType": "for_me",
            "reason": "tidy up"}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["message_id"], json!(own), "{reply}");
    assert_eq!(reply["delete_type"], json!("for_me"), "{reply}");
    assert_eq!(reply["status"], json!("deleted"), "{reply}");
    assert_eq!(reply["chat_jid"], json!(PHONE_JID), "{reply}");
    assert_eq!(reply["metadata"]["reason"], json!("tidy up"), "{reply}");
    assert!(reply.get("revoke_message_id").is_none(), "{reply}");
    checks::recent_timestamp(reply["deleted_at"].as_str().unwrap_or_default());
    let event = stream.expect("message.delete_for_me");
    assert_eq!(event.event, "message.delete_for_me", "{event:?}");
    assert_eq!(event.data["data"]["message_id"], json!(own), "{event:?}");
    assert_eq!(
        event.data["data"]["chat_jid"],
        json!(PHONE_JID),
        "{event:?}"
    );
    // The log no longer holds it: a second delete, an edit and a revoke find nothing.
    let body = json!({"messageId": own, "chatJid": PHONE_JID, "deleteType": "for_me"});
    let (status, reply) = delete(&server, &user, &body);
    standard_error(status, &reply, 404, "NOT_FOUND");
    let (status, reply) = edit(&server, &user, &own, &json!({"to": PHONE, "message": "x"}));
    standard_error(status, &reply, 404, "NOT_FOUND");
    let (status, reply) = delete(&server, &user, &json!({"messageId": own, "chatJid": PHONE}));
    standard_error(status, &reply, 404, "NOT_FOUND");
    // A received message goes too once the caller waives the ownership check.
    let body = json!({"messageId": received, "chatJid": PHONE_JID, "deleteType": "for_me",
        "validateOwnership": false});
    let (status, reply) = delete(&server, &user, &body);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["message_id"], json!(received), "{reply}");
    let (status, reply) = server.get(&format!("/messages/{received}/media"), &user.token);
    assert_eq!(status, 404, "{reply}");
    assert_eq!(
        server.outbox(&user).len(),
        sent,
        "a delete for me sends nothing to WhatsApp"
    );
}

#[test]
fn refusals_send_nothing() {
    let (server, user) = sandbox_with(
        ServerOptions::default()
            .plugins(PLUGINS)
            .required(PLUGINS)
            .extra_toml("[plugin.message-ops]\nedit_window_seconds = 1"),
    );
    let other = server.create_user(&unique("other"), "bob");
    let own = send_text(&server, &user, PHONE);
    let theirs = send_text(&server, &other, PHONE);
    let received = receive(&server, &user, PHONE);
    let (status, reply) = post(
        &server,
        &user,
        "/send/location",
        &json!({"to": PHONE, "latitude": 1.5, "longitude": 2.5}),
    );
    assert_eq!(status, 200, "{reply}");
    let location = reply["message_id"].as_str().unwrap().to_owned();
    let sent = server.outbox(&user).len();
    let text = |message: &str| json!({"to": PHONE, "message": message});
    let mut cases = Cases::new();
    cases.check("a received message", || {
        let (status, reply) = edit(&server, &user, &received, &text("x"));
        let error = standard_error(status, &reply, 400, "EDIT_NOT_ALLOWED");
        assert!(error.contains("not sent by this device"), "{error}");
        let body = json!({"messageId": received, "chatJid": PHONE_JID});
        let (status, reply) = delete(&server, &user, &body);
        standard_error(status, &reply, 400, "NOT_OWN_MESSAGE");
    });
    cases.check("an unknown id", || {
        let (status, reply) = edit(&server, &user, "3EB0UNKNOWN", &text("x"));
        standard_error(status, &reply, 404, "NOT_FOUND");
        let body = json!({"messageId": "3EB0UNKNOWN", "chatJid": PHONE_JID});
        let (status, reply) = delete(&server, &user, &body);
        standard_error(status, &reply, 404, "NOT_FOUND");
    });
    cases.check("another tenant's message", || {
        let (status, reply) = edit(&server, &user, &theirs, &text("x"));
        standard_error(status, &reply, 404, "NOT_FOUND");
        let body = json!({"messageId": theirs, "chatJid": PHONE_JID});
        let (status, reply) = delete(&server, &user, &body);
        standard_error(status, &reply, 404, "NOT_FOUND");
    });
    cases.check("a non-text message", || {
        let (status, reply) = edit(&server, &user, &location, &text("x"));
        let error = standard_error(status, &reply, 400, "EDIT_NOT_ALLOWED");
        assert!(error.contains("not a text message"), "{error}");
    });
    cases.check("another chat", || {
        let body = json!({"to": "5511977776666", "message": "x"});
        let (status, reply) = edit(&server, &user, &own, &body);
        standard_invalid(status, &reply, "to");
        let body = json!({"messageId": own, "chatJid": "5511977776666"});
        let (status, reply) = delete(&server, &user, &body);
        standard_invalid(status, &reply, "chatJid");
    });
    cases.check(
        "a received message deleted for me while ownership is checked",
        || {
            let body = json!({"messageId": received, "chatJid": PHONE_JID, "deleteType": "for_me"});
            let (status, reply) = delete(&server, &user, &body);
            let error = standard_error(status, &reply, 400, "NOT_OWN_MESSAGE");
            assert!(error.contains("validateOwnership"), "{error}");
        },
    );
    cases.check("another tenant's message deleted for me", || {
        let body = json!({"messageId": theirs, "chatJid": PHONE_JID, "deleteType": "for_me",
            "validateOwnership": false});
        let (status, reply) = delete(&server, &user, &body);
        standard_error(status, &reply, 404, "NOT_FOUND");
    });
    cases.check("bad edit bodies", || {
        let ok = text("new text");
        let cases: [(&str, Value, &str); 7] = [
            ("missing to", json!({"message": "x"}), "to"),
            ("missing message", json!({"to": PHONE}), "message"),
            ("empty message", text(""), "message"),
            (
                "a 4097-character message",
                text(&"a".repeat(4097)),
                "message",
            ),
            ("a number", json!({"to": PHONE, "message": 5}), "message"),
            ("a bad recipient", json!({"to": "x", "message": "y"}), "to"),
            ("an empty body", json!({}), "to"),
        ];
        for (name, body, field) in cases {
            let (status, reply) = edit(&server, &user, &own, &body);
            let error = standard_invalid(status, &reply, field);
            assert!(!error.is_empty(), "{name}");
        }
        let (status, reply) = edit(&server, &user, "3EB0%20A", &ok);
        standard_invalid(status, &reply, "messageId");
    });
    cases.check("bad delete bodies", || {
        let cases: [(Value, &str); 6] = [
            (json!({"chatJid": PHONE_JID}), "messageId"),
            (json!({"messageId": "", "chatJid": PHONE_JID}), "messageId"),
            (json!({"messageId": own}), "chatJid"),
            (
                json!({"messageId": own, "chatJid": PHONE_JID, "deleteType": "for_all"}),
                "deleteType",
            ),
            (
                json!({"messageId": own, "chatJid": PHONE_JID, "validateOwnership": "yes"}),
                "validateOwnership",
            ),
            (json!({"messageId": 5, "chatJid": PHONE_JID}), "messageId"),
        ];
        for (body, field) in cases {
            let (status, reply) = delete(&server, &user, &body);
            standard_invalid(status, &reply, field);
        }
    });
    // Last: the edit window is one second here.
    cases.check("an edit past the window", || {
        std::thread::sleep(Duration::from_millis(2100));
        let (status, reply) = edit(&server, &user, &own, &text("too late"));
        let error = standard_error(status, &reply, 400, "EDIT_NOT_ALLOWED");
        assert!(error.contains("within 1 seconds"), "{error}");
    });
    cases.finish();
    assert_eq!(
        server.outbox(&user).len(),
        sent,
        "refused requests send nothing"
    );
}

#[test]
fn the_routes_can_be_disabled_and_the_media_route_stays_the_hosts() {
    let (server, user) = sandbox_with(
        ServerOptions::default()
            .plugins(PLUGINS)
            .required(PLUGINS)
            .route(EDIT_ROUTE, false)
            .route(DELETE, false),
    );
    let own = send_text(&server, &user, PHONE);
    let (status, reply) = edit(&server, &user, &own, &json!({"to": PHONE, "message": "x"}));
    assert_eq!(status, 404, "{reply}");
    let (status, reply) = delete(&server, &user, &json!({"messageId": own, "chatJid": PHONE}));
    assert_eq!(status, 404, "{reply}");
    let (server, user) = sandbox(PLUGINS);
    let (status, reply) = server.get("/messages/3EB0UNKNOWN/media", &user.token);
    standard_error(status, &reply, 404, "NOT_FOUND");
    assert!(
        reply["error"]
            .as_str()
            .unwrap_or_default()
            .contains("message"),
        "{reply}"
    );
}

#[test]
fn the_whatsapp_server_receives_the_edit_and_the_revoke() {
    let rig = connected_rig(&["text", "message-ops"]);
    let original = rig.send_ok(
        "/send/text",
        &json!({"number": PHONE, "text": "order ships at 8am"}),
    );
    let (status, reply) = edit(
        &rig.server,
        &rig.user,
        &original,
        &json!({"to": PHONE, "message": "order ships at 9am"}),
    );
    assert_eq!(status, 200, "{reply}\n{}", rig.server.logs());
    let received = rig.received(reply["message_id"].as_str().unwrap());
    let protocol = received
        .message
        .as_ref()
        .and_then(|m| m.protocol_message.as_option())
        .unwrap_or_else(|| panic!("a protocolMessage: {}", received.render()));
    assert_eq!(
        protocol.r#type,
        Some(wa::message::protocol_message::Type::MESSAGE_EDIT)
    );
    let key = protocol.key.as_option().expect("a key");
    assert_eq!(key.id.as_deref(), Some(original.as_str()));
    assert_eq!(key.from_me, Some(true));
    assert_eq!(
        protocol
            .edited_message
            .as_option()
            .and_then(|m| m.conversation.as_deref()),
        Some("order ships at 9am")
    );
    assert_eq!(received.attr("edit"), Some("1"), "{}", received.render());

    let (status, reply) = call(
        &rig.server,
        &rig.user.token,
        "DELETE",
        DELETE,
        &json!({"messageId": original, "chatJid": PHONE_JID}),
    );
    assert_eq!(status, 200, "{reply}\n{}", rig.server.logs());
    let received = rig.received(reply["revoke_message_id"].as_str().unwrap());
    let protocol = received
        .message
        .as_ref()
        .and_then(|m| m.protocol_message.as_option())
        .unwrap_or_else(|| panic!("a protocolMessage: {}", received.render()));
    assert_eq!(
        protocol.r#type,
        Some(wa::message::protocol_message::Type::REVOKE)
    );
    assert_eq!(
        protocol.key.as_option().and_then(|k| k.id.as_deref()),
        Some(original.as_str())
    );
    assert_eq!(received.attr("edit"), Some("7"), "{}", received.render());
}
