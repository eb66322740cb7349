//! `POST /send/buttons`: success and the outbox record, limits, validation, recipients, bodies.

use std::thread;

use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{
    Auth, Body, PHONE, PHONE_JID, Server, User, buttons_body, example_buttons_body, unique,
};

fn server_and_user() -> (Server, User) {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    (server, user)
}

/// Sends `body`, asserts the documented success, and returns the outbox entry it made.
#[track_caller]
fn send_ok(server: &Server, user: &User, body: &Value) -> Value {
    let before = server.outbox(user).len();
    let (status, reply) = server.send_buttons(user, body);
    let id = checks::buttons_success(status, &reply);
    let outbox = server.outbox(user);
    assert_eq!(outbox.len(), before + 1, "one new outbox entry per send");
    let entry = outbox[0].clone();
    assert_eq!(
        entry["message_id"],
        json!(id),
        "the newest entry is this send"
    );
    entry
}

/// Asserts that `body` is refused with a 400 naming `field`.
#[track_caller]
fn rejected(server: &Server, user: &User, body: &Value, field: &str) {
    let (status, reply) = server.send_buttons(user, body);
    checks::validation_error(status, &reply, field);
}

#[track_caller]
fn assert_outbox_empty(server: &Server, user: &User) {
    let outbox = server.outbox(user);
    assert!(
        outbox.is_empty(),
        "failed requests must record nothing, yet the outbox has {outbox:?}"
    );
}

#[test]
fn documented_example_is_sent_and_recorded_exactly() {
    let (server, user) = server_and_user();
    let entry = send_ok(&server, &user, &example_buttons_body());

    assert_eq!(entry["to"], json!(PHONE_JID));
    assert_eq!(entry["route"], json!("/send/buttons"));
    assert!(
        entry.get("timestamp").is_some_and(|t| !t.is_null()),
        "the outbox entry has a timestamp: {entry}"
    );
    assert_eq!(
        entry["media"],
        json!([]),
        "a buttons message uploads no media"
    );
    checks::buttons_message(
        &entry,
        "How would you like to proceed with your order?",
        Some("WUTS Store"),
        &[
            ("confirm_order", "Confirm"),
            ("change_order", "Change items"),
            ("cancel_order", "Cancel"),
        ],
    );
    checks::buttons_stanza_nodes(&entry, false);
}

#[test]
fn one_button_without_footer() {
    let (server, user) = server_and_user();
    let entry = send_ok(
        &server,
        &user,
        &buttons_body(PHONE, "Are you there?", &[("yes", "Yes")]),
    );
    checks::buttons_message(&entry, "Are you there?", None, &[("yes", "Yes")]);
    checks::buttons_stanza_nodes(&entry, false);
}

#[test]
fn two_buttons_with_footer() {
    let (server, user) = server_and_user();
    let mut body = buttons_body(PHONE, "Pick one", &[("a", "Option A"), ("b", "Option B")]);
    body["footer"] = json!("Reply within 24h");
    let entry = send_ok(&server, &user, &body);
    checks::buttons_message(
        &entry,
        "Pick one",
        Some("Reply within 24h"),
        &[("a", "Option A"), ("b", "Option B")],
    );
    checks::buttons_stanza_nodes(&entry, false);
}

#[test]
fn unicode_and_emoji_survive_unchanged() {
    let (server, user) = server_and_user();
    let message = "Olá, 世界! 👋🏽 Ünïcödé — \"quoted\", back\\slash,\nsecond line\t😀";
    let footer = "Loja 🛒 São Paulo";
    let buttons = [("ação_1", "Sí ✅"), ("键-2", "日本語 🎌"), ("три", "Да 👍")];
    let mut body = buttons_body(PHONE, message, &buttons);
    body["footer"] = json!(footer);
    let entry = send_ok(&server, &user, &body);
    checks::buttons_message(&entry, message, Some(footer), &buttons);
}

#[test]
fn display_text_limit_counts_characters_not_bytes() {
    let (server, user) = server_and_user();
    let twenty = "😀".repeat(20); // 80 bytes in UTF-8, 40 UTF-16 units, 20 characters
    let entry = send_ok(
        &server,
        &user,
        &buttons_body(PHONE, "emoji", &[("e", twenty.as_str())]),
    );
    checks::buttons_message(&entry, "emoji", None, &[("e", twenty.as_str())]);

    let twenty_one = "😀".repeat(21);
    rejected(
        &server,
        &user,
        &buttons_body(PHONE, "emoji", &[("e", twenty_one.as_str())]),
        "buttons[0].display_text",
    );
    assert_eq!(
        server.outbox(&user).len(),
        1,
        "the refused send added nothing"
    );
}

#[test]
fn every_field_at_its_maximum_length_is_accepted() {
    let (server, user) = server_and_user();
    let message = "é".repeat(1024); // 2048 bytes, 1024 characters
    let footer = "🛒".repeat(60);
    let long_id = "i".repeat(256);
    let display = "d".repeat(20);
    let buttons = [(long_id.as_str(), display.as_str()), ("b", "B"), ("c", "C")];
    let mut body = buttons_body(PHONE, &message, &buttons);
    body["footer"] = json!(footer);
    let entry = send_ok(&server, &user, &body);
    checks::buttons_message(&entry, &message, Some(&footer), &buttons);
}

#[test]
fn oversized_fields_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let ok_buttons = [("a", "A"), ("b", "B"), ("c", "C")];
    let mut cases = Cases::new();

    cases.check("message of 1025 characters", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, &"m".repeat(1025), &ok_buttons),
            "message",
        );
    });
    cases.check("message of 1025 two-byte characters", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, &"é".repeat(1025), &ok_buttons),
            "message",
        );
    });
    cases.check("footer of 61 characters", || {
        let mut body = buttons_body(PHONE, "hi", &ok_buttons);
        body["footer"] = json!("f".repeat(61));
        rejected(&server, &user, &body, "footer");
    });
    cases.check("id of 257 characters on the second button", || {
        let long = "i".repeat(257);
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), (long.as_str(), "B")]),
            "buttons[1].id",
        );
    });
    cases.check("display_text of 21 characters on the third button", || {
        let long = "d".repeat(21);
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), ("b", "B"), ("c", long.as_str())]),
            "buttons[2].display_text",
        );
    });
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn empty_strings_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    cases.check("empty to", || {
        rejected(&server, &user, &buttons_body("", "hi", &[("a", "A")]), "to");
    });
    cases.check("empty message", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "", &[("a", "A")]),
            "message",
        );
    });
    // WUTS bounds ids only above (at most 256); an empty id cannot identify a reply, so
    // docs/API.md asks for 1 to 256.
    cases.check("empty id", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), ("", "B")]),
            "buttons[1].id",
        );
    });
    cases.check("empty display_text", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), ("b", "")]),
            "buttons[1].display_text",
        );
    });
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn missing_fields_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let full = buttons_body(PHONE, "hi", &[("a", "A"), ("b", "B")]);
    let without = |pointer: &str| -> Value {
        let mut body = full.clone();
        let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
        body.pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .expect("the parent is an object")
            .remove(key)
            .expect("the field was there");
        body
    };
    let mut cases = Cases::new();
    for (pointer, field) in [
        ("/to", "to"),
        ("/message", "message"),
        ("/buttons", "buttons"),
        ("/buttons/0/id", "buttons[0].id"),
        ("/buttons/1/display_text", "buttons[1].display_text"),
    ] {
        cases.check(&format!("without {field}"), || {
            rejected(&server, &user, &without(pointer), field);
        });
    }
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn button_count_must_be_one_to_three() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    cases.check("no buttons", || {
        rejected(&server, &user, &buttons_body(PHONE, "hi", &[]), "buttons");
    });
    cases.check("four buttons", || {
        rejected(
            &server,
            &user,
            &buttons_body(
                PHONE,
                "hi",
                &[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")],
            ),
            "buttons",
        );
    });
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn duplicate_button_ids_are_refused_naming_the_repeat() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    cases.check("second button repeats the first id", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), ("a", "B")]),
            "buttons[1].id",
        );
    });
    cases.check("third button repeats the first id", || {
        rejected(
            &server,
            &user,
            &buttons_body(PHONE, "hi", &[("a", "A"), ("b", "B"), ("a", "C")]),
            "buttons[2].id",
        );
    });
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn wrong_types_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let good = buttons_body(PHONE, "hi", &[("a", "A"), ("b", "B")]);
    let with = |pointer: &str, value: Value| -> Value {
        let mut body = good.clone();
        *body.pointer_mut(pointer).expect("the field exists") = value;
        body
    };
    let mut cases = Cases::new();
    for (pointer, value, field) in [
        ("/buttons", json!("a,b"), "buttons"),
        ("/to", json!(5_511_999_999_999_u64), "to"),
        ("/message", json!(42), "message"),
        ("/buttons/1", json!("b"), "buttons[1]"),
        ("/buttons/0/id", json!(7), "buttons[0].id"),
        (
            "/buttons/1/display_text",
            json!(["B"]),
            "buttons[1].display_text",
        ),
    ] {
        cases.check(&format!("{field} = {value}"), || {
            rejected(&server, &user, &with(pointer, value.clone()), field);
        });
    }
    cases.check("footer = true", || {
        let mut body = good.clone();
        body["footer"] = json!(true);
        rejected(&server, &user, &body, "footer");
    });
    for body in [json!([]), json!("to"), json!(null), json!(12)] {
        cases.check(&format!("body {body}"), || {
            let (status, reply) = server.send_buttons(&user, &body);
            checks::legacy_error(status, &reply, 400);
        });
    }
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn malformed_json_and_empty_bodies_are_400() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for raw in [
        "{\"to\": \"5511999999999\", ",
        "not json",
        "{\"to\": \"5511999999999\" \"message\": \"hi\"}",
        "{\"to\":\"5511999999999\",\"message\":\"hi\",\"buttons\":[{\"id\":\"a\",\"display_text\":\"A\"}]} trailing",
        "\u{feff}",
        "",
    ] {
        cases.check(&format!("body {raw:?}"), || {
            let reply = server.post_raw(
                "/send/buttons",
                user.auth(),
                Body::Bytes {
                    content_type: "application/json",
                    bytes: raw.as_bytes(),
                },
            );
            checks::legacy_error(reply.status, &reply.json_or_text(), 400);
        });
    }
    cases.check("no body at all", || {
        let reply = server.post_raw("/send/buttons", user.auth(), Body::Empty);
        checks::legacy_error(reply.status, &reply.json_or_text(), 400);
    });
    cases.check("invalid UTF-8", || {
        let reply = server.post_raw(
            "/send/buttons",
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"to\":\"5511999999999\",\"message\":\"\xff\xfe\",\"buttons\":[]}",
            },
        );
        checks::legacy_error(reply.status, &reply.json_or_text(), 400);
    });
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

/// A well-formed request of exactly `size` bytes whose message is padded with `x`: too long a
/// message for validation, so that under the body limit it is a 400 and over it a 413.
fn body_of_size(size: usize) -> Vec<u8> {
    let shell = |message: &str| {
        serde_json::to_vec(&buttons_body(PHONE, message, &[("a", "A")])).expect("serializes")
    };
    let overhead = shell("").len();
    let body = shell(&"x".repeat(size - overhead));
    assert_eq!(body.len(), size);
    body
}

#[test]
fn body_over_64_kib_is_413_and_at_64_kib_is_read() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    cases.check("65537 bytes", || {
        let body = body_of_size(64 * 1024 + 1);
        let reply = server.post_raw(
            "/send/buttons",
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: &body,
            },
        );
        checks::legacy_error(reply.status, &reply.json_or_text(), 413);
    });
    cases.check("1 MiB", || {
        let body = body_of_size(1024 * 1024);
        let reply = server.post_raw(
            "/send/buttons",
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: &body,
            },
        );
        checks::legacy_error(reply.status, &reply.json_or_text(), 413);
    });
    cases.check(
        "65536 bytes is within the limit (400 for the message)",
        || {
            let body = body_of_size(64 * 1024);
            let reply = server.post_raw(
                "/send/buttons",
                user.auth(),
                Body::Bytes {
                    content_type: "application/json",
                    bytes: &body,
                },
            );
            checks::validation_error(reply.status, &reply.json_or_text(), "message");
        },
    );
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn chunked_body_over_64_kib_is_413() {
    let (server, user) = server_and_user();
    let body = body_of_size(100 * 1024);
    let reply = server.post_raw(
        "/send/buttons",
        user.auth(),
        Body::Chunked {
            content_type: "application/json",
            bytes: &body,
        },
    );
    checks::legacy_error(reply.status, &reply.json_or_text(), 413);
    assert_outbox_empty(&server, &user);
    // A small chunked request is read like any other.
    let small = serde_json::to_vec(&buttons_body(PHONE, "chunked", &[("a", "A")])).unwrap();
    let reply = server.post_raw(
        "/send/buttons",
        user.auth(),
        Body::Chunked {
            content_type: "application/json",
            bytes: &small,
        },
    );
    checks::buttons_success(reply.status, &reply.json_or_text());
}

#[test]
fn phone_numbers_are_normalised_to_user_jids() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for (to, jid) in [
        ("+55 (11) 99999-9999", PHONE_JID),
        ("5511999999999", PHONE_JID),
        ("55 11 99999 9999", PHONE_JID),
        ("55-11-99999-9999", PHONE_JID),
        ("+5511999999999", PHONE_JID),
        ("(555) 123-4567", "5551234567@s.whatsapp.net"),
        ("123456789012345", "123456789012345@s.whatsapp.net"),
    ] {
        cases.check(&format!("{to:?}"), || {
            let entry = send_ok(&server, &user, &buttons_body(to, "hi", &[("a", "A")]));
            assert_eq!(entry["to"], json!(jid), "recipient of {to:?}");
            checks::buttons_stanza_nodes(&entry, false);
        });
    }
    cases.finish();
}

#[test]
fn phone_numbers_of_the_wrong_length_or_with_letters_are_refused() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for to in [
        "123456789",        // 9 digits
        "1234567890123456", // 16 digits
        "+55 (11) 9999",    // 10 characters, 8 digits
        "+",
        "5511999999abc",
        "   ",
        "5511999999999@example.com",
        "@s.whatsapp.net",
        "@g.us",
    ] {
        cases.check(&format!("{to:?}"), || {
            rejected(&server, &user, &buttons_body(to, "hi", &[("a", "A")]), "to");
        });
    }
    cases.check("outbox unchanged", || assert_outbox_empty(&server, &user));
    cases.finish();
}

#[test]
fn group_jid_gets_the_biz_node_but_no_bot_node() {
    let (server, user) = server_and_user();
    let group = "120363025246125486@g.us";
    let entry = send_ok(
        &server,
        &user,
        &buttons_body(group, "Group vote", &[("y", "Yes"), ("n", "No")]),
    );
    assert_eq!(entry["to"], json!(group));
    checks::buttons_message(&entry, "Group vote", None, &[("y", "Yes"), ("n", "No")]);
    checks::buttons_stanza_nodes(&entry, true);
}

#[test]
fn full_user_and_lid_jids_are_kept_as_given() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for jid in [PHONE_JID, "123456789012345@lid"] {
        cases.check(jid, || {
            let entry = send_ok(&server, &user, &buttons_body(jid, "hi", &[("a", "A")]));
            assert_eq!(entry["to"], json!(jid));
            checks::buttons_stanza_nodes(&entry, false);
        });
    }
    cases.finish();
}

#[test]
fn device_id_in_the_query_picks_the_device() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let mallory = server.create_user(&unique("evil"), "mallory");
    let body = buttons_body(PHONE, "hi", &[("a", "A")]);

    let (status, reply) = server.post_json(
        &format!("/send/buttons?device_id={}", alice.device_id),
        &alice.token,
        &body,
    );
    checks::buttons_success(status, &reply);

    let mut cases = Cases::new();
    for device in [
        alice.device_id.as_str(),
        &uuid::Uuid::new_v4().to_string(),
        "no-such-device",
    ] {
        cases.check(&format!("mallory with device_id={device}"), || {
            let (status, reply) = server.post_json(
                &format!("/send/buttons?device_id={device}"),
                &mallory.token,
                &body,
            );
            checks::legacy_error(status, &reply, 404);
        });
    }
    cases.check("outboxes", || {
        assert_eq!(server.outbox(&alice).len(), 1, "only alice's own send");
        assert!(server.outbox(&mallory).is_empty());
    });
    cases.finish();
}

#[test]
fn concurrent_sends_all_succeed_with_distinct_ids() {
    let (server, user) = server_and_user();
    let ids: Vec<String> = thread::scope(|scope| {
        let handles: Vec<_> = (0..16)
            .map(|i| {
                let (server, user) = (&server, &user);
                scope.spawn(move || {
                    let text = format!("parallel {i}");
                    let (status, reply) =
                        server.send_buttons(user, &buttons_body(PHONE, &text, &[("a", "A")]));
                    checks::buttons_success(status, &reply)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a sender thread"))
            .collect()
    });
    let mut unique_ids = ids.clone();
    unique_ids.sort();
    unique_ids.dedup();
    assert_eq!(unique_ids.len(), 16, "message ids are unique: {ids:?}");
    let outbox = server.outbox(&user);
    let mut recorded: Vec<String> = outbox
        .iter()
        .map(|e| e["message_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    recorded.sort();
    assert_eq!(recorded, unique_ids, "every send is in the outbox once");
}

#[test]
fn non_json_content_type_is_read_or_refused_in_the_legacy_envelope() {
    // Not in the contract beyond "malformed -> 400"; what must hold is the legacy envelope
    // and that nothing is sent.
    let (server, user) = server_and_user();
    let body = serde_json::to_vec(&buttons_body(PHONE, "hi", &[("a", "A")])).unwrap();
    let reply = server.post_raw(
        "/send/buttons",
        Auth::Bearer(&user.token),
        Body::Bytes {
            content_type: "text/plain",
            bytes: &body,
        },
    );
    if reply.status != 200 {
        assert!(
            [400, 415].contains(&reply.status),
            "a text/plain body is either read as JSON or refused with 400/415, got {} {}",
            reply.status,
            reply.text()
        );
        checks::legacy_error(reply.status, &reply.json_or_text(), reply.status);
        assert_outbox_empty(&server, &user);
    }
}
