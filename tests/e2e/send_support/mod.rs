//! What the end-to-end tests of the message-type plugins (text, location, contact,
//! reaction, ...) share: a sandbox server with a plugin loaded, the two error envelopes,
//! the outbox, and a `wuts serve` with the real whatsapp driver pointed at the offline
//! WhatsApp server (`tests/wa-server`), whose received messages are decrypted.
//!
//! Included by each of those test files with `mod send_support;`; not every file uses
//! every helper.
#![allow(dead_code)]

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::{Server, ServerOptions, Setup, User, checks, unique};
use wuts_wa_server::{BackgroundServer, ReceivedMessage, SeededDevice, seed_sqlite};

/// A sandbox server that loads (and requires) `plugins`, and a user of a new tenant.
pub fn sandbox(plugins: &[&str]) -> (Server, User) {
    sandbox_with(ServerOptions::default().plugins(plugins).required(plugins))
}

pub fn sandbox_with(options: ServerOptions) -> (Server, User) {
    let server = Server::start(options);
    let user = server.create_user(&unique("acme"), "alice");
    (server, user)
}

/// `POST path` with a JSON body as `user`.
pub fn post(server: &Server, user: &User, path: &str, body: &Value) -> (u16, Value) {
    server.post_json(path, &user.token, body)
}

/// Asserts a standard-envelope 400 `VALIDATION_ERROR` whose first validation entry is
/// `field`; returns the error text.
#[track_caller]
pub fn standard_invalid(status: u16, body: &Value, field: &str) -> String {
    assert_eq!(
        status, 400,
        "expected 400 naming {field}, got {status}: {body}"
    );
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!("VALIDATION_ERROR"), "{body}");
    assert!(body["timestamp"].is_string(), "{body}");
    assert_eq!(
        body["validation"][0]["field"],
        json!(field),
        "the validation entry names {field}: {body}"
    );
    let text = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(!text.is_empty(), "{body}");
    text
}

/// Asserts a legacy-envelope 400 (`{"error": "<text>"}`) whose text names `field`.
#[track_caller]
pub fn legacy_invalid(status: u16, body: &Value, field: &str) -> String {
    checks::validation_error(status, body, field)
}

/// Asserts the standard 200: `success`, a message id, `status: sent`, `chat_jid`, a
/// timestamp, and `metadata.sent_at` equal to it; returns the message id.
#[track_caller]
pub fn standard_sent(status: u16, body: &Value, chat_jid: &str) -> String {
    assert_eq!(status, 200, "expected 200, got {status}: {body}");
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(body["status"], json!("sent"), "{body}");
    assert_eq!(body["chat_jid"], json!(chat_jid), "{body}");
    assert!(body.get("message").is_none(), "no message text: {body}");
    let id = body["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&id);
    let timestamp = body["timestamp"].as_str().unwrap_or_default();
    checks::recent_timestamp(timestamp);
    assert_eq!(
        body["metadata"]["sent_at"],
        json!(timestamp),
        "metadata.sent_at is the ack's time: {body}"
    );
    id
}

/// Asserts the legacy 200 with `message` and exactly `extra_keys` besides the documented
/// ones; returns the message id.
#[track_caller]
pub fn legacy_sent(status: u16, body: &Value, message: &str, extra_keys: &[&str]) -> String {
    assert_eq!(status, 200, "expected 200, got {status}: {body}");
    let mut keys: Vec<&str> = body
        .as_object()
        .unwrap_or_else(|| panic!("an object: {body}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    let mut want = vec!["message", "message_id", "success", "timestamp"];
    want.extend_from_slice(extra_keys);
    want.sort_unstable();
    assert_eq!(keys, want, "the documented keys: {body}");
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(body["message"], json!(message), "{body}");
    let id = body["message_id"].as_str().unwrap_or_default().to_owned();
    checks::message_id(&id);
    checks::recent_timestamp(body["timestamp"].as_str().unwrap_or_default());
    id
}

/// The outbox entry of `message_id`, which must be the newest; checks its route and
/// recipient.
#[track_caller]
pub fn outbox_entry(
    server: &Server,
    user: &User,
    message_id: &str,
    route: &str,
    to: &str,
) -> Value {
    let outbox = server.outbox(user);
    let entry = outbox.first().cloned().unwrap_or(Value::Null);
    assert_eq!(
        entry["message_id"],
        json!(message_id),
        "the newest entry: {outbox:?}"
    );
    assert_eq!(entry["route"], json!(route), "{entry}");
    assert_eq!(entry["to"], json!(to), "{entry}");
    entry
}

#[track_caller]
pub fn assert_outbox_empty(server: &Server, user: &User) {
    let outbox = server.outbox(user);
    assert!(
        outbox.is_empty(),
        "failed requests send nothing, yet the outbox has {outbox:?}"
    );
}

/// `body` without the field at `pointer` (a JSON pointer).
pub fn without(body: &Value, pointer: &str) -> Value {
    let mut body = body.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    body.pointer_mut(parent)
        .and_then(Value::as_object_mut)
        .expect("the parent is an object")
        .remove(key);
    body
}

/// `body` with the value at `pointer` set to `value` (the parent must exist).
pub fn with(body: &Value, pointer: &str, value: Value) -> Value {
    let mut body = body.clone();
    let (parent, key) = pointer.rsplit_once('/').expect("a JSON pointer");
    let target = if parent.is_empty() {
        &mut body
    } else {
        body.pointer_mut(parent).expect("the parent exists")
    };
    match target {
        Value::Object(object) => {
            object.insert(key.to_owned(), value);
        }
        Value::Array(items) => {
            let index: usize = key.parse().expect("an array index");
            items[index] = value;
        }
        other => panic!("cannot set {key} in {other}"),
    }
    body
}

// ---- the real whatsapp driver against the offline WhatsApp server ----

pub const WAIT: Duration = Duration::from_secs(20);

/// A `wuts serve` with the whatsapp driver, its user, and the WhatsApp it talks to.
/// Fields drop in order: the host stops before the WhatsApp server does.
pub struct Rig {
    pub server: Server,
    pub user: User,
    pub whatsapp: BackgroundServer,
}

/// Starts the offline WhatsApp server and a `wuts serve` (loading `plugins`) whose
/// device is seeded as paired, and waits until it is connected.
///
/// Needs a `wuts` built with `cargo build --workspace`: only then does the client accept
/// the offline server's certificate chain.
pub fn connected_rig(plugins: &[&str]) -> Rig {
    connected_rig_with(plugins, &[])
}

/// [`connected_rig`] with more environment for `wuts serve` (`WUTS__...` overrides).
pub fn connected_rig_with(plugins: &[&str], env: &[(&str, &str)]) -> Rig {
    let whatsapp = BackgroundServer::start().expect("the WhatsApp server starts");
    let mut options = ServerOptions::default()
        .plugins(plugins)
        .required(plugins)
        .send_timeout_ms(10_000)
        // The harness writes `driver = "sandbox"`; the environment overrides the file.
        .offline_client()
        .env("WUTS__SESSION__DRIVER", "whatsapp")
        .env("WUTS__SESSION__SOCKET_URL", &whatsapp.socket_url())
        .env("WUTS__SESSION__MEDIA_BASE_URL", &whatsapp.media_base_url())
        .env("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701")
        .env("WUTS__SESSION__QR_TIMEOUT_MS", "15000");
    for (key, value) in env {
        options = options.env(key, value);
    }
    let setup = Setup::new(options);
    let user = setup.create_user(&unique("wa"), "alice");
    let credentials = setup
        .store_path()
        .parent()
        .map_or_else(PathBuf::new, PathBuf::from)
        .join("whatsapp.db");
    whatsapp
        .block_on(seed_sqlite(
            &credentials,
            &user.device_id,
            &SeededDevice::new("5511888888888", 7),
        ))
        .expect("the device is seeded");
    let server = setup.start();
    let rig = Rig {
        server,
        user,
        whatsapp,
    };
    let deadline = Instant::now() + WAIT;
    loop {
        let (code, body) = rig.server.get("/status", &rig.user.token);
        if code == 200 && body["connected"] == json!(true) {
            return rig;
        }
        assert!(
            Instant::now() < deadline,
            "the device never connected: {body}\nhandshakes: {:?} (none: was `wuts` built with \
             `cargo build --workspace`?)\nwuts log:\n{}",
            rig.whatsapp.connections(),
            rig.server.logs()
        );
        thread::sleep(Duration::from_millis(50));
    }
}

impl Rig {
    /// `POST path` as the rig's user; asserts a 200 and returns the message id.
    #[track_caller]
    pub fn send_ok(&self, path: &str, body: &Value) -> String {
        let (code, reply) = post(&self.server, &self.user, path, body);
        assert_eq!(code, 200, "{path}: {reply}\n{}", self.server.logs());
        reply["message_id"]
            .as_str()
            .unwrap_or_else(|| panic!("no message_id in {reply}"))
            .to_owned()
    }

    /// The message the WhatsApp server received (and decrypted) with this id.
    #[track_caller]
    pub fn received(&self, id: &str) -> ReceivedMessage {
        let found = self.whatsapp.wait_until_blocking(WAIT, |server| {
            server.received().iter().any(|message| message.id() == id)
        });
        assert!(found, "the server never received {id}");
        let message = self
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
}

/// The `mediatype` of every `<enc>` of a received message (one per recipient device).
pub fn enc_media_types(message: &ReceivedMessage) -> Vec<Option<String>> {
    message
        .enc_nodes()
        .into_iter()
        .map(|enc| wuts_wa_server::stanza::attr(enc, "mediatype"))
        .collect()
}
