//! `POST /send/buttons-response`: a tap on a quick-reply button, quoting the buttons message.
//!
//! The original is quoted whole when the device's message log has it (and the button id is
//! checked against it); otherwise the caller's `quoted.body` is quoted as a conversation.
//! Logs are per device, so no other user, in this tenant or another, ever finds the original.

use std::thread;
use std::time::Duration;

use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{
    Auth, Body, PHONE, PHONE_JID, Server, ServerOptions, User, buttons_body, example_buttons_body,
    unique,
};

const ROUTE: &str = "/send/buttons-response";

/// The documentation example's buttons, as `/send/buttons` got them.
const EXAMPLE_BUTTONS: [(&str, &str); 3] = [
    ("confirm_order", "Confirm"),
    ("change_order", "Change items"),
    ("cancel_order", "Cancel"),
];
const EXAMPLE_TEXT: &str = "How would you like to proceed with your order?";
const EXAMPLE_FOOTER: &str = "WUTS Store";

/// The person who taps: the quoted message's participant, as a phone number and as a JID.
const TAPPER: &str = "5511988887777";
const TAPPER_JID: &str = "5511988887777@s.whatsapp.net";

/// A message id no device has sent.
const UNKNOWN_ID: &str = "3EB0000000000000000000";

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

/// A buttons-response request. `display_text` and `body` are left out when `None`.
fn response_body(
    to: &str,
    button_id: &str,
    display_text: Option<&str>,
    message_id: &str,
    participant: &str,
    body: Option<&str>,
) -> Value {
    let mut request = json!({
        "to": to,
        "selected_button_id": button_id,
        "quoted": { "message_id": message_id, "participant": participant },
    });
    if let Some(text) = display_text {
        request["selected_display_text"] = json!(text);
    }
    if let Some(body) = body {
        request["quoted"]["body"] = json!(body);
    }
    request
}

/// A valid tap on `confirm_order` of `message_id`, to [`PHONE`], with a display text and a body.
fn valid_body(message_id: &str) -> Value {
    response_body(
        PHONE,
        "confirm_order",
        Some("Confirm"),
        message_id,
        TAPPER,
        Some(EXAMPLE_TEXT),
    )
}

fn respond(server: &Server, user: &User, body: &Value) -> (u16, Value) {
    server.post_json(ROUTE, &user.token, body)
}

/// Asserts the documented success body of `POST /send/buttons-response`; returns the id.
#[track_caller]
fn response_success(status: u16, body: &Value) -> String {
    assert_eq!(status, 200, "expected 200, got {status} with {body}");
    let object = body
        .as_object()
        .unwrap_or_else(|| panic!("the success body is a JSON object: {body}"));
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["message", "message_id", "success", "timestamp"],
        "the success body has exactly the documented keys: {body}"
    );
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(
        body["message"],
        json!("Buttons response sent successfully"),
        "{body}"
    );
    let id = body["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("message_id is a string: {body}"));
    checks::message_id(id);
    checks::recent_timestamp(
        body["timestamp"]
            .as_str()
            .unwrap_or_else(|| panic!("timestamp is a string: {body}")),
    );
    id.to_owned()
}

/// Sends a response, asserts the success, and returns the one outbox entry it made.
#[track_caller]
fn respond_ok(server: &Server, user: &User, body: &Value) -> Value {
    let before = server.outbox(user).len();
    let (status, reply) = respond(server, user, body);
    let id = response_success(status, &reply);
    let outbox = server.outbox(user);
    assert_eq!(
        outbox.len(),
        before + 1,
        "one new outbox entry per response"
    );
    let entry = outbox[0].clone();
    assert_eq!(
        entry["message_id"],
        json!(id),
        "the newest entry is this send"
    );
    entry
}

/// Sends the documentation's 3-button example to `to` and returns its outbox entry.
#[track_caller]
fn send_original(server: &Server, user: &User, to: &str) -> Value {
    let mut body = example_buttons_body();
    body["to"] = json!(to);
    let (status, reply) = server.send_buttons(user, &body);
    let id = checks::buttons_success(status, &reply);
    let entry = server.outbox(user)[0].clone();
    assert_eq!(
        entry["message_id"],
        json!(id),
        "the newest entry is the buttons message"
    );
    entry
}

fn id_of(entry: &Value) -> &str {
    entry["message_id"]
        .as_str()
        .unwrap_or_else(|| panic!("an outbox entry has a string message_id: {entry}"))
}

/// Asserts a buttons-response outbox entry: route, recipient, no stanza nodes, no media, and a
/// message that is exactly one `buttonsResponseMessage` with these ids, text, type and context.
/// Returns the quoted message.
#[track_caller]
fn response_entry<'a>(
    entry: &'a Value,
    to_jid: &str,
    button_id: &str,
    display_text: &str,
    stanza_id: &str,
    participant_jid: &str,
) -> &'a Value {
    assert_eq!(entry["route"], json!(ROUTE), "route of {entry}");
    assert_eq!(entry["to"], json!(to_jid), "recipient of {entry}");
    assert_eq!(
        entry["stanza_nodes"],
        json!([]),
        "a buttons response carries no stanza nodes (no <biz>, no <bot>)"
    );
    assert_eq!(
        entry["media"],
        json!([]),
        "a buttons response uploads no media"
    );
    let message = entry["message"]
        .as_object()
        .unwrap_or_else(|| panic!("the entry's message is an object: {entry}"));
    let keys: Vec<&String> = message.keys().collect();
    assert_eq!(
        keys,
        vec!["buttonsResponseMessage"],
        "the message is a buttonsResponseMessage and nothing else: {}",
        entry["message"]
    );
    let response = &message["buttonsResponseMessage"];
    let mut keys: Vec<&str> = response
        .as_object()
        .unwrap_or_else(|| panic!("buttonsResponseMessage is an object: {response}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "contextInfo",
            "selectedButtonID",
            "selectedDisplayText",
            "type"
        ],
        "fields of buttonsResponseMessage: {response}"
    );
    assert_eq!(response["selectedButtonID"], json!(button_id), "{response}");
    assert_eq!(
        response["selectedDisplayText"],
        json!(display_text),
        "{response}"
    );
    assert_eq!(response["type"], json!("DISPLAY_TEXT"), "{response}");
    let context = &response["contextInfo"];
    assert_eq!(
        context["stanzaID"],
        json!(stanza_id),
        "contextInfo: {context}"
    );
    assert_eq!(
        context["participant"],
        json!(participant_jid),
        "contextInfo: {context}"
    );
    let quoted = &context["quotedMessage"];
    assert!(
        quoted.is_object(),
        "contextInfo.quotedMessage is an object: {context}"
    );
    quoted
}

/// Asserts that `quoted` is the original buttons message whole: equal to what the original's
/// outbox entry shows, and the example's interactive message with its three buttons.
#[track_caller]
fn quotes_original(quoted: &Value, original: &Value) {
    assert_eq!(
        quoted, &original["message"],
        "the quote is the original message whole"
    );
    checks::buttons_message(
        &json!({ "message": quoted }),
        EXAMPLE_TEXT,
        Some(EXAMPLE_FOOTER),
        &EXAMPLE_BUTTONS,
    );
}

/// Asserts that `quoted` is the fallback `{conversation: body}`.
#[track_caller]
fn quotes_body(quoted: &Value, body: &str) {
    assert_eq!(
        quoted,
        &json!({ "conversation": body }),
        "an unknown original is quoted as its body"
    );
}

#[track_caller]
fn assert_outbox_len(server: &Server, user: &User, expected: usize) {
    let outbox = server.outbox(user);
    assert_eq!(
        outbox.len(),
        expected,
        "failed requests must record nothing; the outbox is {outbox:?}"
    );
}

/// Asserts that `body` is refused with a 400 naming `field`.
#[track_caller]
fn rejected(server: &Server, user: &User, body: &Value, field: &str) -> String {
    let (status, reply) = respond(server, user, body);
    checks::validation_error(status, &reply, field)
}

// --- Success: the original is known --------------------------------------------------------

#[test]
fn tapping_each_button_quotes_the_original_whole() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    let mut cases = Cases::new();
    for (button_id, button_text) in EXAMPLE_BUTTONS {
        cases.check(&format!("{button_id} without display text"), || {
            let body = response_body(PHONE, button_id, None, &original_id, TAPPER, None);
            let entry = respond_ok(&server, &user, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                button_id,
                button_text,
                &original_id,
                TAPPER_JID,
            );
            quotes_original(quoted, &original);
        });
        cases.check(&format!("{button_id} with its own display text"), || {
            let shown = format!("I pick {button_text} ✅");
            let body = response_body(PHONE, button_id, Some(&shown), &original_id, TAPPER, None);
            let entry = respond_ok(&server, &user, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                button_id,
                &shown,
                &original_id,
                TAPPER_JID,
            );
            quotes_original(quoted, &original);
        });
    }
    cases.check("every response has its own message id", || {
        let outbox = server.outbox(&user);
        assert_eq!(outbox.len(), 7, "the original and six responses");
        let mut ids: Vec<&str> = outbox.iter().map(id_of).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), 7, "distinct message ids: {ids:?}");
    });
    cases.finish();
}

#[test]
fn a_known_original_wins_over_the_callers_body() {
    // The body is only for the fallback: with the original in the log, it is quoted whole,
    // whatever the caller says it said.
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let body = response_body(
        PHONE,
        "change_order",
        None,
        id_of(&original),
        TAPPER,
        Some("something else entirely"),
    );
    let entry = respond_ok(&server, &user, &body);
    let quoted = response_entry(
        &entry,
        PHONE_JID,
        "change_order",
        "Change items",
        id_of(&original),
        TAPPER_JID,
    );
    quotes_original(quoted, &original);
}

#[test]
fn the_right_original_is_quoted_among_several() {
    let (server, user) = server_and_user();
    let first = send_original(&server, &user, PHONE);
    let (status, reply) = server.send_buttons(
        &user,
        &buttons_body(PHONE, "Second question", &[("yes", "Yes"), ("no", "No")]),
    );
    let second_id = checks::buttons_success(status, &reply);
    let second = server.outbox(&user)[0].clone();

    let mut cases = Cases::new();
    cases.check("tap on the second message", || {
        let body = response_body(PHONE, "no", None, &second_id, TAPPER, None);
        let entry = respond_ok(&server, &user, &body);
        let quoted = response_entry(&entry, PHONE_JID, "no", "No", &second_id, TAPPER_JID);
        assert_eq!(
            quoted, &second["message"],
            "quotes the second message whole"
        );
        checks::buttons_message(
            &json!({ "message": quoted }),
            "Second question",
            None,
            &[("yes", "Yes"), ("no", "No")],
        );
    });
    cases.check("tap on the first message", || {
        let body = response_body(PHONE, "cancel_order", None, id_of(&first), TAPPER, None);
        let entry = respond_ok(&server, &user, &body);
        let quoted = response_entry(
            &entry,
            PHONE_JID,
            "cancel_order",
            "Cancel",
            id_of(&first),
            TAPPER_JID,
        );
        quotes_original(quoted, &first);
    });
    cases.check("the first message's button on the second message", || {
        let body = response_body(PHONE, "confirm_order", None, &second_id, TAPPER, None);
        let text = rejected(&server, &user, &body, "selected_button_id");
        for id in ["yes", "no"] {
            assert!(
                text.contains(id),
                "the error names the existing id {id:?}: {text}"
            );
        }
    });
    cases.finish();
}

#[test]
fn a_button_that_is_not_in_the_original_is_refused_naming_the_ids() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    let mut cases = Cases::new();
    for (button_id, display_text) in [
        ("not_a_button", None),
        ("not_a_button", Some("Confirm")),
        ("CONFIRM_ORDER", None),
        ("Confirm", None),
        ("confirm_order ", None),
    ] {
        cases.check(&format!("{button_id:?} with {display_text:?}"), || {
            let body = response_body(PHONE, button_id, display_text, &original_id, TAPPER, None);
            let text = rejected(&server, &user, &body, "selected_button_id");
            for (id, _) in EXAMPLE_BUTTONS {
                assert!(
                    text.contains(id),
                    "the error names the existing id {id:?}: {text}"
                );
            }
        });
    }
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.finish();
}

#[test]
fn a_known_message_without_buttons_cannot_be_answered() {
    // A buttons response is in the log too, but has no buttons: there is nothing to tap.
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let body = response_body(PHONE, "confirm_order", None, id_of(&original), TAPPER, None);
    let response = respond_ok(&server, &user, &body);
    let (status, reply) = respond(
        &server,
        &user,
        &response_body(
            PHONE,
            "confirm_order",
            Some("Confirm"),
            id_of(&response),
            TAPPER,
            Some("hi"),
        ),
    );
    checks::legacy_error(status, &reply, 400);
    assert_outbox_len(&server, &user, 2);
}

// --- Success: the original is unknown -------------------------------------------------------

#[test]
fn an_unknown_message_id_quotes_the_body() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    cases.check("with a display text", || {
        let body = response_body(
            PHONE,
            "confirm_order",
            Some("Confirm"),
            UNKNOWN_ID,
            TAPPER,
            Some(EXAMPLE_TEXT),
        );
        let entry = respond_ok(&server, &user, &body);
        let quoted = response_entry(
            &entry,
            PHONE_JID,
            "confirm_order",
            "Confirm",
            UNKNOWN_ID,
            TAPPER_JID,
        );
        quotes_body(quoted, EXAMPLE_TEXT);
    });
    cases.check(
        "any button id goes, since there is nothing to check it against",
        || {
            let body = response_body(
                PHONE,
                "whatever-id",
                Some("Whatever 🎉"),
                "ABCDEF0123456789",
                TAPPER,
                Some("Olá 👋🏽\nline two"),
            );
            let entry = respond_ok(&server, &user, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                "whatever-id",
                "Whatever 🎉",
                "ABCDEF0123456789",
                TAPPER_JID,
            );
            quotes_body(quoted, "Olá 👋🏽\nline two");
        },
    );
    cases.check("without a display text: 400", || {
        let before = server.outbox(&user).len();
        let body = response_body(
            PHONE,
            "confirm_order",
            None,
            UNKNOWN_ID,
            TAPPER,
            Some(EXAMPLE_TEXT),
        );
        rejected(&server, &user, &body, "selected_display_text");
        assert_outbox_len(&server, &user, before);
    });
    cases.finish();
}

/// `other` quotes `owner`'s buttons message: it must get the fallback, never the original.
#[track_caller]
fn original_is_not_found_by(server: &Server, owner: &User, other: &User) {
    let original = send_original(server, owner, PHONE);
    let original_id = id_of(&original).to_owned();
    let mut cases = Cases::new();
    cases.check(
        "a button of the original, with a display text: body quoted",
        || {
            let body = response_body(
                PHONE,
                "confirm_order",
                Some("Confirm"),
                &original_id,
                TAPPER,
                Some("what I was asked"),
            );
            let entry = respond_ok(server, other, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                "confirm_order",
                "Confirm",
                &original_id,
                TAPPER_JID,
            );
            quotes_body(quoted, "what I was asked");
            assert!(
                !entry.to_string().contains(EXAMPLE_TEXT),
                "nothing of the original leaks into the other's message: {entry}"
            );
        },
    );
    cases.check(
        "a button the original does not have: no check, body quoted",
        || {
            let body = response_body(
                PHONE,
                "not_a_button",
                Some("Nope"),
                &original_id,
                TAPPER,
                Some("asked"),
            );
            let entry = respond_ok(server, other, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                "not_a_button",
                "Nope",
                &original_id,
                TAPPER_JID,
            );
            quotes_body(quoted, "asked");
        },
    );
    cases.check(
        "without a display text: 400, no default from the original",
        || {
            let before = server.outbox(other).len();
            let body = response_body(PHONE, "confirm_order", None, &original_id, TAPPER, None);
            let (status, reply) = respond(server, other, &body);
            let text = checks::validation_error(status, &reply, "selected_display_text");
            for (id, _) in EXAMPLE_BUTTONS {
                assert!(
                    !text.contains(id),
                    "the error reveals the original's buttons: {text}"
                );
            }
            assert_outbox_len(server, other, before);
        },
    );
    cases.check("the owner's outbox holds only the original", || {
        let outbox = server.outbox(owner);
        assert_eq!(outbox.len(), 1, "{outbox:?}");
        assert_eq!(outbox[0]["message_id"], json!(original_id));
    });
    cases.check("the owner still finds it", || {
        let body = response_body(PHONE, "cancel_order", None, &original_id, TAPPER, None);
        let entry = respond_ok(server, owner, &body);
        let quoted = response_entry(
            &entry,
            PHONE_JID,
            "cancel_order",
            "Cancel",
            &original_id,
            TAPPER_JID,
        );
        quotes_original(quoted, &original);
    });
    cases.finish();
}

#[test]
fn another_tenant_never_finds_the_original() {
    let server = Server::start(options());
    let alice = server.create_user(&unique("acme"), "alice");
    let mallory = server.create_user(&unique("evil"), "mallory");
    original_is_not_found_by(&server, &alice, &mallory);
}

#[test]
fn another_user_of_the_same_tenant_does_not_find_the_original_either() {
    let server = Server::start(options());
    let tenant = unique("acme");
    let alice = server.create_user(&tenant, "alice");
    let bob = server.create_user(&tenant, "bob");
    assert_ne!(alice.device_id, bob.device_id, "each user has a device");
    original_is_not_found_by(&server, &alice, &bob);
}

#[test]
fn another_tenants_device_id_is_404() {
    let server = Server::start(options());
    let alice = server.create_user(&unique("acme"), "alice");
    let mallory = server.create_user(&unique("evil"), "mallory");
    let original = send_original(&server, &alice, PHONE);
    let body = valid_body(id_of(&original));
    let (status, reply) = server.post_json(
        &format!("{ROUTE}?device_id={}", alice.device_id),
        &mallory.token,
        &body,
    );
    checks::legacy_error(status, &reply, 404);
    assert_outbox_len(&server, &alice, 1);
    assert_outbox_len(&server, &mallory, 0);
    // The owner naming her own device is served.
    let (status, reply) = server.post_json(
        &format!("{ROUTE}?device_id={}", alice.device_id),
        &alice.token,
        &body,
    );
    response_success(status, &reply);
}

// --- Recipients -----------------------------------------------------------------------------

#[test]
fn group_chat_response_quotes_the_original_and_has_no_nodes() {
    let (server, user) = server_and_user();
    let group = "120363025246125486@g.us";
    let original = send_original(&server, &user, group);
    assert_eq!(original["to"], json!(group));
    checks::buttons_stanza_nodes(&original, true);
    let body = response_body(group, "change_order", None, id_of(&original), TAPPER, None);
    let entry = respond_ok(&server, &user, &body);
    let quoted = response_entry(
        &entry,
        group,
        "change_order",
        "Change items",
        id_of(&original),
        TAPPER_JID,
    );
    quotes_original(quoted, &original);
}

#[test]
fn to_and_participant_phone_numbers_are_normalised() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    let mut cases = Cases::new();
    for (to, to_jid) in [
        ("+55 (11) 99999-9999", PHONE_JID),
        ("55-11-99999-9999", PHONE_JID),
        ("+5511999999999", PHONE_JID),
        (PHONE_JID, PHONE_JID),
        ("123456789012345@lid", "123456789012345@lid"),
    ] {
        cases.check(&format!("to {to:?}"), || {
            let body = response_body(to, "confirm_order", None, &original_id, TAPPER, None);
            let entry = respond_ok(&server, &user, &body);
            let quoted = response_entry(
                &entry,
                to_jid,
                "confirm_order",
                "Confirm",
                &original_id,
                TAPPER_JID,
            );
            quotes_original(quoted, &original);
        });
    }
    for (participant, participant_jid) in [
        ("+55 (11) 98888-7777", TAPPER_JID),
        ("55 11 98888 7777", TAPPER_JID),
        (" +5511988887777 ", TAPPER_JID),
        (TAPPER_JID, TAPPER_JID),
        ("123456789012345@lid", "123456789012345@lid"),
    ] {
        cases.check(&format!("participant {participant:?}"), || {
            let body = response_body(PHONE, "cancel_order", None, &original_id, participant, None);
            let entry = respond_ok(&server, &user, &body);
            let quoted = response_entry(
                &entry,
                PHONE_JID,
                "cancel_order",
                "Cancel",
                &original_id,
                participant_jid,
            );
            quotes_original(quoted, &original);
        });
    }
    cases.finish();
}

#[test]
fn bad_recipients_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    let mut cases = Cases::new();
    for to in [
        "",
        "123456789",
        "1234567890123456",
        "5511999999abc",
        "x@example.com",
        "@g.us",
    ] {
        cases.check(&format!("to {to:?}"), || {
            let body = response_body(to, "confirm_order", None, &original_id, TAPPER, None);
            rejected(&server, &user, &body, "to");
        });
    }
    for participant in [
        "123",
        "5511988887777abc",
        "someone@example.com",
        "@s.whatsapp.net",
    ] {
        cases.check(&format!("participant {participant:?}"), || {
            let body = response_body(
                PHONE,
                "confirm_order",
                None,
                &original_id,
                participant,
                None,
            );
            let (status, reply) = respond(&server, &user, &body);
            let text = checks::legacy_error(status, &reply, 400);
            assert!(
                text.starts_with("invalid quoted participant JID: "),
                "a bad participant reads like the documented empty one: {text:?}"
            );
            assert!(
                text.len() > "invalid quoted participant JID: ".len(),
                "{text:?}"
            );
        });
    }
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.finish();
}

// --- Validation -----------------------------------------------------------------------------

#[test]
fn empty_participant_is_refused_with_the_documented_text() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    let documented = json!({ "error": "invalid quoted participant JID: empty input" });
    let mut cases = Cases::new();
    cases.check("known original", || {
        let body = response_body(PHONE, "confirm_order", None, &original_id, "", None);
        assert_eq!(respond(&server, &user, &body), (400, documented.clone()));
    });
    cases.check("unknown original", || {
        let body = response_body(PHONE, "x", Some("X"), UNKNOWN_ID, "", Some("hi"));
        assert_eq!(respond(&server, &user, &body), (400, documented.clone()));
    });
    cases.check("only spaces", || {
        let body = response_body(PHONE, "confirm_order", None, &original_id, "   ", None);
        let (status, reply) = respond(&server, &user, &body);
        let text = checks::legacy_error(status, &reply, 400);
        assert!(
            text.contains("participant"),
            "names the participant: {text:?}"
        );
    });
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.finish();
}

/// `body` without the member at JSON pointer `pointer`.
fn without(body: &Value, pointer: &str) -> Value {
    let mut body = body.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("the parent is an object")
        .remove(key)
        .expect("the field was there");
    body
}

/// `body` with the member at JSON pointer `pointer` replaced by `value`.
fn with(body: &Value, pointer: &str, value: Value) -> Value {
    let mut body = body.clone();
    *body.pointer_mut(pointer).expect("the field exists") = value;
    body
}

#[test]
fn missing_fields_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let full = valid_body(id_of(&original));
    let mut cases = Cases::new();
    cases.check("the full body is accepted (control)", || {
        respond_ok(&server, &user, &full);
    });
    for (pointer, field) in [
        ("/to", "to"),
        ("/selected_button_id", "selected_button_id"),
        ("/quoted", "quoted"),
        ("/quoted/message_id", "quoted.message_id"),
    ] {
        cases.check(&format!("without {field}"), || {
            rejected(&server, &user, &without(&full, pointer), field);
        });
    }
    cases.check("without quoted.participant", || {
        let (status, reply) = respond(&server, &user, &without(&full, "/quoted/participant"));
        let text = checks::legacy_error(status, &reply, 400);
        assert!(
            text.contains("participant"),
            "names the participant: {text:?}"
        );
    });
    cases.check("quoted: null is missing", || {
        rejected(
            &server,
            &user,
            &with(&full, "/quoted", Value::Null),
            "quoted",
        );
    });
    cases.check("outbox: the original and the control only", || {
        assert_outbox_len(&server, &user, 2);
    });
    cases.finish();
}

#[test]
fn wrong_types_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let good = valid_body(id_of(&original));
    let mut cases = Cases::new();
    for (pointer, value, field) in [
        ("/to", json!(5_511_999_999_999_u64), "to"),
        ("/selected_button_id", json!(1), "selected_button_id"),
        (
            "/selected_display_text",
            json!(["Confirm"]),
            "selected_display_text",
        ),
        ("/quoted", json!("3EB0000000000000000000"), "quoted"),
        ("/quoted", json!([]), "quoted"),
        ("/quoted/message_id", json!(42), "quoted.message_id"),
        ("/quoted/body", json!({ "text": "hi" }), "quoted.body"),
        (
            "/quoted/participant",
            json!(5_511_988_887_777_u64),
            "quoted.participant",
        ),
    ] {
        cases.check(&format!("{field} = {value}"), || {
            rejected(&server, &user, &with(&good, pointer, value.clone()), field);
        });
    }
    for body in [json!([]), json!("to"), json!(null), json!(12), json!(true)] {
        cases.check(&format!("body {body}"), || {
            let (status, reply) = respond(&server, &user, &body);
            checks::legacy_error(status, &reply, 400);
        });
    }
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.finish();
}

#[test]
fn empty_and_oversized_fields_are_refused_naming_the_field() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let good = valid_body(id_of(&original));
    let mut cases = Cases::new();
    for (pointer, value, field) in [
        ("/selected_button_id", json!(""), "selected_button_id"),
        (
            "/selected_button_id",
            json!("i".repeat(257)),
            "selected_button_id",
        ),
        ("/selected_display_text", json!(""), "selected_display_text"),
        ("/quoted/message_id", json!(""), "quoted.message_id"),
        ("/quoted/body", json!("b".repeat(4097)), "quoted.body"),
    ] {
        let shown = value.as_str().map_or(0, |s| s.chars().count());
        cases.check(&format!("{field} of {shown} characters"), || {
            rejected(&server, &user, &with(&good, pointer, value.clone()), field);
        });
    }
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.finish();
}

#[test]
fn malformed_json_and_empty_bodies_are_400() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for raw in [
        "{\"to\": \"5511999999999\", ",
        "not json",
        "{\"to\": \"5511999999999\" \"selected_button_id\": \"a\"}",
        "{\"to\":\"5511999999999\",\"selected_button_id\":\"a\",\"selected_display_text\":\"A\",\"quoted\":{\"message_id\":\"3EB0000000000000000000\",\"participant\":\"5511988887777\"}} trailing",
        "\u{feff}",
        "",
    ] {
        cases.check(&format!("body {raw:?}"), || {
            let reply = server.post_raw(
                ROUTE,
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
        let reply = server.post_raw(ROUTE, user.auth(), Body::Empty);
        checks::legacy_error(reply.status, &reply.json_or_text(), 400);
    });
    cases.check("invalid UTF-8", || {
        let reply = server.post_raw(
            ROUTE,
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"to\":\"5511999999999\",\"selected_button_id\":\"\xff\xfe\"}",
            },
        );
        checks::legacy_error(reply.status, &reply.json_or_text(), 400);
    });
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 0));
    cases.finish();
}

/// A well-formed response of exactly `size` bytes whose `quoted.body` is padded with `x`: too
/// long a body for validation, so that under the body limit it is a 400 and over it a 413.
fn body_of_size(size: usize) -> Vec<u8> {
    let shell = |quoted_body: &str| {
        serde_json::to_vec(&response_body(
            PHONE,
            "a",
            Some("A"),
            UNKNOWN_ID,
            TAPPER,
            Some(quoted_body),
        ))
        .expect("serializes")
    };
    let overhead = shell("").len();
    let body = shell(&"x".repeat(size - overhead));
    assert_eq!(body.len(), size);
    body
}

#[test]
fn body_over_64_kib_is_413_and_at_64_kib_is_read() {
    let (server, user) = server_and_user();
    let post = |bytes: &[u8], chunked: bool| {
        let content_type = "application/json";
        let body = if chunked {
            Body::Chunked {
                content_type,
                bytes,
            }
        } else {
            Body::Bytes {
                content_type,
                bytes,
            }
        };
        let reply = server.post_raw(ROUTE, user.auth(), body);
        (reply.status, reply.json_or_text())
    };
    let mut cases = Cases::new();
    cases.check("65537 bytes", || {
        let (status, reply) = post(&body_of_size(64 * 1024 + 1), false);
        checks::legacy_error(status, &reply, 413);
    });
    cases.check("1 MiB", || {
        let (status, reply) = post(&body_of_size(1024 * 1024), false);
        checks::legacy_error(status, &reply, 413);
    });
    cases.check("100 KiB chunked", || {
        let (status, reply) = post(&body_of_size(100 * 1024), true);
        checks::legacy_error(status, &reply, 413);
    });
    cases.check(
        "65536 bytes is within the limit (400 for quoted.body)",
        || {
            let (status, reply) = post(&body_of_size(64 * 1024), false);
            checks::validation_error(status, &reply, "quoted.body");
        },
    );
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 0));
    cases.finish();
}

// --- Auth, connection, send failures --------------------------------------------------------

#[test]
fn bad_tokens_are_401_unauthorized() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let bytes = serde_json::to_vec(&valid_body(id_of(&original))).expect("serializes");
    let stranger = uuid::Uuid::new_v4().to_string();
    let basic = format!("Basic {}", user.token);
    let mut cases = Cases::new();
    for (name, auth) in [
        ("no Authorization header", Auth::None),
        ("a token that belongs to nobody", Auth::Bearer(&stranger)),
        ("not a UUID", Auth::Bearer("not-a-token")),
        ("an empty bearer", Auth::Raw("Bearer ")),
        ("the Basic scheme", Auth::Raw(&basic)),
    ] {
        cases.check(name, || {
            let reply = server.post_raw(
                ROUTE,
                auth,
                Body::Bytes {
                    content_type: "application/json",
                    bytes: &bytes,
                },
            );
            assert_eq!(
                (reply.status, reply.json_or_text()),
                (401, json!({ "error": "unauthorized" })),
                "{name}"
            );
        });
    }
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    cases.check("the same request with the token is sent (control)", || {
        let reply = server.post_raw(
            ROUTE,
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: &bytes,
            },
        );
        response_success(reply.status, &reply.json_or_text());
    });
    cases.finish();
}

#[test]
fn disconnected_device_is_400_whatsapp_not_connected() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    server.set_connected(&user, false);
    let mut cases = Cases::new();
    cases.check("known original", || {
        let body = response_body(PHONE, "confirm_order", None, &original_id, TAPPER, None);
        assert_eq!(
            respond(&server, &user, &body),
            (400, json!({ "error": "WhatsApp not connected" }))
        );
    });
    cases.check("unknown original", || {
        assert_eq!(
            respond(&server, &user, &valid_body(UNKNOWN_ID)),
            (400, json!({ "error": "WhatsApp not connected" }))
        );
    });
    cases.check("outbox unchanged", || assert_outbox_len(&server, &user, 1));
    server.set_connected(&user, true);
    cases.check("reconnected: the tap is sent", || {
        let body = response_body(PHONE, "confirm_order", None, &original_id, TAPPER, None);
        let entry = respond_ok(&server, &user, &body);
        let quoted = response_entry(
            &entry,
            PHONE_JID,
            "confirm_order",
            "Confirm",
            &original_id,
            TAPPER_JID,
        );
        quotes_original(quoted, &original);
    });
    cases.finish();
}

#[test]
fn a_slow_ack_is_500_timeout_and_records_nothing() {
    let server = Server::start(options().send_timeout_ms(300));
    let user = server.create_user(&unique("acme"), "alice");
    let original = send_original(&server, &user, PHONE);
    let original_id = id_of(&original).to_owned();
    server.set_state(&user, json!({ "ack_delay_ms": 1500 }));
    let body = response_body(PHONE, "confirm_order", None, &original_id, TAPPER, None);
    assert_eq!(
        respond(&server, &user, &body),
        (
            500,
            json!({ "error": "Failed to send buttons response: timeout" })
        )
    );
    // Past the ack delay: the abandoned send must not turn up late either.
    thread::sleep(Duration::from_millis(2000));
    assert_outbox_len(&server, &user, 1);
    // Once the ack is prompt again, the same tap is sent and still quotes the original.
    server.set_state(&user, json!({ "ack_delay_ms": 0 }));
    let entry = respond_ok(&server, &user, &body);
    let quoted = response_entry(
        &entry,
        PHONE_JID,
        "confirm_order",
        "Confirm",
        &original_id,
        TAPPER_JID,
    );
    quotes_original(quoted, &original);
}

#[test]
fn a_send_failure_is_500_with_the_documented_prefix() {
    let (server, user) = server_and_user();
    let original = send_original(&server, &user, PHONE);
    server.set_state(&user, json!({ "fail": "socket closed" }));
    let body = response_body(PHONE, "confirm_order", None, id_of(&original), TAPPER, None);
    assert_eq!(
        respond(&server, &user, &body),
        (
            500,
            json!({ "error": "Failed to send buttons response: socket closed" })
        )
    );
    assert_outbox_len(&server, &user, 1);
}
