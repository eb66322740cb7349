//! Checks the media suites share (tests/e2e/image.rs, video.rs, document.rs, sticker.rs):
//! the standard 200 and error envelopes, the newest outbox entry, and the sweep of bad inputs that
//! must each be a quick 400 sending nothing.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::checks::{self, Cases};
use crate::{PHONE_JID, Server, User};

/// A standard-envelope error (`success: false`, `error_code`, `timestamp`, a text) with
/// this status and code. Returns the text.
#[track_caller]
pub fn standard_error(reply: (u16, Value), status: u16, code: &str) -> String {
    let (got, body) = reply;
    assert_eq!(got, status, "expected {status} {code}, got {got}: {body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    let text = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(!text.is_empty(), "{body}");
    text
}

/// A standard-envelope 200 of a send to [`PHONE_JID`]: `success`, `status: "sent"`, the
/// chat, a well-formed message id and a recent timestamp. Returns the id and timestamp.
#[track_caller]
pub fn standard_sent(status: u16, reply: &Value) -> (String, String) {
    assert_eq!(status, 200, "expected 200, got {status}: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["status"], json!("sent"), "{reply}");
    assert_eq!(reply["chat_jid"], json!(PHONE_JID), "{reply}");
    let id = reply["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&id);
    let timestamp = reply["timestamp"].as_str().unwrap_or_default().to_owned();
    checks::recent_timestamp(&timestamp);
    (id, timestamp)
}

/// `body` with the fields of `extra` added or replaced.
pub fn with(mut body: Value, extra: Value) -> Value {
    if let (Value::Object(fields), Value::Object(extra)) = (&mut body, extra) {
        fields.extend(extra);
    }
    body
}

/// The newest outbox entry of `user`'s device, which must be the message `message_id`.
#[track_caller]
pub fn newest_entry(server: &Server, user: &User, message_id: &str) -> Value {
    let outbox = server.outbox(user);
    let entry = outbox.first().cloned().unwrap_or(Value::Null);
    assert_eq!(entry["message_id"], json!(message_id), "{outbox:?}");
    entry
}

/// One bad request: a name for the report, the body, the code it must get, and the field
/// its `validation` names first (`None`: the media itself is refused, not a field).
pub type BadInput<'a> = (&'a str, Value, &'a str, Option<&'a str>);

/// What every bad input must show besides its code.
pub struct Refusal<'a> {
    /// Answered within this.
    pub within: Duration,
    /// A text in the inputs that the error must not echo.
    pub secret: &'a str,
    /// When the media is refused (no field), the text starts with this (the source
    /// field's name), if given.
    pub media_prefix: Option<&'a str>,
}

/// Posts each of `cases` to `route`: each a 400 with its code (and field), in time,
/// without echoing the input; then nothing was sent at all. Every case is tried and the
/// failures reported together.
#[track_caller]
pub fn refused_and_nothing_sent(
    server: &Server,
    user: &User,
    route: &str,
    cases: Vec<BadInput<'_>>,
    refusal: &Refusal<'_>,
) {
    let mut checks = Cases::new();
    for (name, body, code, field) in cases {
        checks.check(name, || {
            let started = Instant::now();
            let reply = server.post_json(route, &user.token, &body);
            let took = started.elapsed();
            let fields: Vec<Value> = reply.1["validation"]
                .as_array()
                .map(|v| v.iter().map(|f| f["field"].clone()).collect())
                .unwrap_or_default();
            let text = standard_error(reply, 400, code);
            assert!(took < refusal.within, "{name} took {took:?}");
            assert!(
                !text.contains(refusal.secret),
                "the input is not echoed: {text}"
            );
            match (field, refusal.media_prefix) {
                (Some(field), _) => {
                    assert_eq!(fields.first(), Some(&json!(field)), "{name}: {text}")
                }
                (None, Some(prefix)) => assert!(text.starts_with(prefix), "{name}: {text}"),
                (None, None) => {}
            }
        });
    }
    checks.finish();
    assert!(
        server.outbox(user).is_empty(),
        "failed requests send nothing: {:?}",
        server.outbox(user)
    );
}
