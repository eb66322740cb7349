//! Webhooks (docs/API.md, "Webhooks"): configuration and its validation, signed deliveries
//! to a local receiver, retries with backoff, failures and their replay, tenants kept apart,
//! and deliveries that survive a SIGKILL.
//!
//! The receiver is on loopback, so these servers allow private URLs
//! (`WUTS__FETCH__ALLOW_PRIVATE_URLS=true`), except the one that checks that a loopback URL
//! is refused without it.

use std::collections::{BTreeSet, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use wuts_e2e::checks;
use wuts_e2e::{Auth, Body, PHONE, Server, ServerOptions, User, buttons_body, unique};

/// A secret of the documented length (16 to 256 characters).
const SECRET: &str = "whsec_0123456789abcdef";
/// How long a delivery (with its retries) may take to arrive.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(20);

fn private_options() -> ServerOptions {
    ServerOptions::default().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")
}

// ---------------------------------------------------------------------------------------
// A small HTTP receiver: one thread, one request per connection, a scripted status each.

/// A request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    /// Names lowercased, in arrival order.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("the delivery body is not JSON ({e}): {}", self.text()))
    }

    fn event_id(&self) -> String {
        self.header("x-wuts-event-id")
            .unwrap_or_default()
            .to_owned()
    }

    fn attempt(&self) -> String {
        self.header("x-wuts-delivery-attempt")
            .unwrap_or_default()
            .to_owned()
    }
}

struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Listens on a free loopback port; answers `script` in order, then 200.
    fn start(script: &[u16]) -> Self {
        Self::start_on(0, script)
    }

    fn start_on(port: u16, script: &[u16]) -> Self {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("the receiver can listen");
        let port = listener.local_addr().expect("a local address").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let script: VecDeque<u16> = script.iter().copied().collect();
        let thread = {
            let received = Arc::clone(&received);
            let stop = Arc::clone(&stop);
            thread::spawn(move || serve(&listener, &received, &stop, script))
        };
        Self {
            port,
            received,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().expect("not poisoned").clone()
    }

    /// Waits (at most [`DELIVERY_TIMEOUT`]) until `done` holds for what arrived; returns it.
    #[track_caller]
    fn wait_until(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let received = self.received();
            if done(&received) {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "the receiver did not get {what} within {DELIVERY_TIMEOUT:?}; got {received:#?}"
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the blocking accept.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(
    listener: &TcpListener,
    received: &Mutex<Vec<Received>>,
    stop: &AtomicBool,
    mut script: VecDeque<u16>,
) {
    for stream in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
        let Some(request) = read_request(&mut stream) else {
            continue;
        };
        let status = script.pop_front().unwrap_or(200);
        received.lock().expect("not poisoned").push(request);
        let answer = format!(
            "HTTP/1.1 {status} Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
        );
        let _ = stream.write_all(answer.as_bytes());
        let _ = stream.flush();
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Received> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let path = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        method,
        path,
        headers,
        body,
    })
}

/// A loopback port that refuses connections: a TCP socket bound to it but not listening,
/// so that no other test's listener can take the port while this one counts on it being
/// closed. Released on drop.
struct ClosedPort {
    fd: libc::c_int,
    port: u16,
}

impl ClosedPort {
    fn new() -> Self {
        // SAFETY: plain socket calls on a descriptor this function owns; `address` and
        // `length` are valid for the calls that read or write them.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM, 0);
            assert!(fd >= 0, "a socket");
            let mut address: libc::sockaddr_in = std::mem::zeroed();
            address.sin_family = libc::AF_INET as libc::sa_family_t;
            address.sin_addr.s_addr = u32::from(std::net::Ipv4Addr::LOCALHOST).to_be();
            let length = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(fd, (&raw const address).cast(), length);
            assert_eq!(bound, 0, "the socket binds to a free loopback port");
            let mut length = length;
            let named = libc::getsockname(fd, (&raw mut address).cast(), &raw mut length);
            assert_eq!(named, 0, "the socket has a name");
            Self {
                fd,
                port: u16::from_be(address.sin_port),
            }
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Frees the port and listens on it.
    fn open(self, script: &[u16]) -> Receiver {
        let port = self.port;
        drop(self);
        Receiver::start_on(port, script)
    }
}

impl Drop for ClosedPort {
    fn drop(&mut self) {
        // SAFETY: the descriptor is this value's own and closed once.
        unsafe {
            libc::close(self.fd);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Helpers.

fn hmac_hex(secret: &str, bytes: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(bytes);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn configure(server: &Server, user: &User, body: &Value) -> Value {
    let (status, reply) = server.post_json("/webhook", &user.token, body);
    assert_eq!(
        status, 200,
        "POST /webhook {body} answered {status}: {reply}"
    );
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(
        reply["message"],
        json!("Webhook configured successfully"),
        "{reply}"
    );
    reply["webhook"].clone()
}

fn hook(url: &str, retry_attempts: u32) -> Value {
    json!({
        "webhook_url": url,
        "enabled_events": ["message.sent"],
        "retry_attempts": retry_attempts,
        "timeout": 5,
    })
}

/// Sends a buttons message; its message id.
fn send(server: &Server, user: &User, text: &str) -> String {
    let (status, reply) = server.send_buttons(user, &buttons_body(PHONE, text, &[("a", "A")]));
    checks::buttons_success(status, &reply)
}

/// Asserts a standard 400 that names `field` in its validation list or its text.
#[track_caller]
fn assert_names_field(status: u16, reply: &Value, field: &str) {
    assert_eq!(
        status, 400,
        "expected 400 naming {field}, got {status}: {reply}"
    );
    assert_eq!(reply["success"], json!(false), "{reply}");
    let named_in_validation = reply["validation"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|entry| checks::names_field(entry["field"].as_str().unwrap_or_default(), field));
    let named_in_text = checks::names_field(reply["error"].as_str().unwrap_or_default(), field);
    assert!(
        named_in_validation || named_in_text,
        "the 400 should name `{field}`: {reply}"
    );
}

#[track_caller]
fn assert_webhook_not_found(server: &Server, user: &User, query: &str) {
    let (status, reply) = server.get(&format!("/webhook{query}"), &user.token);
    assert_eq!(status, 404, "{reply}");
    assert_eq!(reply["error_code"], json!("WEBHOOK_NOT_FOUND"), "{reply}");
}

/// Polls `GET /webhook/failures` until a failure for `event_id` is listed.
#[track_caller]
fn wait_for_failure(server: &Server, user: &User, event_id: &str) -> Value {
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let (status, reply) = server.get("/webhook/failures", &user.token);
        assert_eq!(status, 200, "{reply}");
        assert_eq!(reply["success"], json!(true), "{reply}");
        let found = reply["failures"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|failure| failure["event_id"] == json!(event_id))
            .cloned();
        if let Some(failure) = found {
            return failure;
        }
        assert!(
            Instant::now() < deadline,
            "no failure for {event_id} within {DELIVERY_TIMEOUT:?}: {reply}\n{}",
            server.logs()
        );
        thread::sleep(Duration::from_millis(100));
    }
}

/// `GET /events` for the user's device, its headers read: the stream's lines.
fn open_event_stream(server: &Server, user: &User) -> BufReader<Box<dyn Read + Send>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(DELIVERY_TIMEOUT))
        .build()
        .into();
    let response = agent
        .get(server.url("/events"))
        .header("Authorization", format!("Bearer {}", user.token))
        .call()
        .expect("GET /events answers");
    assert_eq!(response.status().as_u16(), 200, "GET /events");
    let reader: Box<dyn Read + Send> = Box::new(response.into_body().into_reader());
    BufReader::new(reader)
}

// ---------------------------------------------------------------------------------------
// Tests.

#[test]
fn a_webhook_is_configured_read_and_deleted_and_event_names_are_listed() {
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");

    let (status, reply) = server.get("/webhook/events", &user.token);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    let names: Vec<&str> = reply["events"]
        .as_array()
        .expect("events is an array")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for name in ["message.received", "message.sent", "message.failed"] {
        assert!(names.contains(&name), "{name} is listed: {reply}");
    }

    assert_webhook_not_found(&server, &user, "");
    let body = json!({
        "webhook_url": "http://127.0.0.1:9/hook",
        "enabled_events": ["message.sent", "message.received"],
        "retry_attempts": 2,
        "timeout": 7,
        "secret": SECRET,
        "headers": {"X-Tenant": "acme"},
    });
    let webhook = configure(&server, &user, &body);
    let expect = |key: &str, value: Value| assert_eq!(webhook[key], value, "{key}: {webhook}");
    assert!(
        webhook["id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("wh_"),
        "{webhook}"
    );
    expect("webhook_url", json!("http://127.0.0.1:9/hook"));
    expect(
        "enabled_events",
        json!(["message.sent", "message.received"]),
    );
    expect("enabled", json!(true));
    expect("retry_attempts", json!(2));
    expect("timeout", json!(7));
    expect("headers", json!({"X-Tenant": "acme"}));
    expect("has_secret", json!(true));
    checks::recent_timestamp(webhook["created_at"].as_str().unwrap_or_default());
    checks::recent_timestamp(webhook["updated_at"].as_str().unwrap_or_default());
    assert!(
        webhook.get("secret").is_none(),
        "never the secret: {webhook}"
    );
    assert!(!webhook.to_string().contains(SECRET), "{webhook}");

    let (status, got) = server.get("/webhook", &user.token);
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["success"], json!(true), "{got}");
    assert_eq!(got["webhook"], webhook, "GET answers the same object");
    let (status, got) = server.get(
        &format!("/webhook?device_id={}", user.device_id),
        &user.token,
    );
    assert_eq!((status, &got["webhook"]), (200, &webhook), "{got}");

    // Defaults: enabled, 3 retries, 30 s, no secret, no headers.
    let defaults = configure(
        &server,
        &user,
        &json!({"webhook_url": "http://127.0.0.1:9/other", "enabled_events": ["*"]}),
    );
    assert_eq!(defaults["id"], webhook["id"], "the id is kept: {defaults}");
    assert_eq!(defaults["enabled_events"], json!(["*"]), "{defaults}");
    assert_eq!(defaults["retry_attempts"], json!(3), "{defaults}");
    assert_eq!(defaults["timeout"], json!(30), "{defaults}");
    assert_eq!(defaults["has_secret"], json!(false), "{defaults}");
    assert_eq!(defaults["headers"], json!({}), "{defaults}");

    let reply = server.client().delete("/webhook", user.auth());
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"success": true, "message": "Webhook configuration deleted successfully"})
    );
    assert_webhook_not_found(&server, &user, "");
    let reply = server.client().delete("/webhook", user.auth());
    assert_eq!(reply.status, 404, "{}", reply.text());
    assert_eq!(reply.json()["error_code"], json!("WEBHOOK_NOT_FOUND"));
}

#[test]
fn bad_input_is_a_400_naming_the_field_and_stores_nothing() {
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    let good = json!({"webhook_url": "http://127.0.0.1:9/hook", "enabled_events": ["*"]});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let mut without_url = good.clone();
    without_url
        .as_object_mut()
        .expect("an object")
        .remove("webhook_url");
    let many_headers: serde_json::Map<String, Value> =
        (0..21).map(|n| (format!("X-H{n}"), json!("v"))).collect();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing webhook_url", without_url, "webhook_url"),
        (
            "ftp URL",
            with("webhook_url", json!("ftp://127.0.0.1/hook")),
            "webhook_url",
        ),
        (
            "unknown event",
            with("enabled_events", json!(["message.sent", "no.such.event"])),
            "enabled_events",
        ),
        (
            "retry_attempts 11",
            with("retry_attempts", json!(11)),
            "retry_attempts",
        ),
        ("timeout 0", with("timeout", json!(0)), "timeout"),
        ("5-char secret", with("secret", json!("short")), "secret"),
        (
            "Content-Type header",
            with("headers", json!({"Content-Type": "text/plain"})),
            "headers",
        ),
        (
            "21 headers",
            with("headers", Value::Object(many_headers)),
            "headers",
        ),
    ];

    let check_all = |after: &dyn Fn()| {
        let reply = server.post_raw(
            "/webhook",
            user.auth(),
            Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"webhook_url\": ",
            },
        );
        assert_eq!(reply.status, 400, "malformed JSON: {}", reply.text());
        after();
        for (name, body, field) in &cases {
            let (status, reply) = server.post_json("/webhook", &user.token, body);
            assert_names_field(status, &reply, field);
            let _ = name;
            after();
        }
    };

    // Nothing configured: every refusal leaves nothing.
    check_all(&|| assert_webhook_not_found(&server, &user, ""));

    // Configured: every refusal leaves it as it was.
    let webhook = configure(&server, &user, &good);
    check_all(&|| {
        let (status, got) = server.get("/webhook", &user.token);
        assert_eq!(
            (status, &got["webhook"]),
            (200, &webhook),
            "unchanged: {got}"
        );
    });
}

#[test]
fn a_loopback_url_is_refused_without_allow_private_urls() {
    let server = Server::start_default();
    let user = server.create_user(&unique("hooks"), "alice");
    for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook"] {
        let (status, reply) = server.post_json(
            "/webhook",
            &user.token,
            &json!({"webhook_url": url, "enabled_events": ["*"]}),
        );
        assert_names_field(status, &reply, "webhook_url");
        assert_webhook_not_found(&server, &user, "");
    }
}

#[test]
fn a_sent_message_is_delivered_signed_with_the_configured_headers() {
    let receiver = Receiver::start(&[]);
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    configure(
        &server,
        &user,
        &json!({
            "webhook_url": receiver.url(),
            "enabled_events": ["message.sent"],
            "secret": SECRET,
            "headers": {"X-Tenant": "acme", "X-Name": "café crème"},
        }),
    );
    let message_id = send(&server, &user, "hello");
    let received = receiver.wait_until("one delivery", |r| !r.is_empty());
    let delivery = &received[0];
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.path, "/hook");
    let header = |name: &str| {
        delivery
            .header(name)
            .unwrap_or_else(|| panic!("no {name} header: {delivery:#?}"))
            .to_owned()
    };
    assert!(header("content-type").starts_with("application/json"));
    assert_eq!(header("x-wuts-event"), "message.sent");
    assert_eq!(header("x-wuts-delivery-attempt"), "1");
    assert_eq!(header("x-tenant"), "acme");
    assert_eq!(
        header("x-name"),
        "café crème",
        "a UTF-8 value is sent as its bytes"
    );
    let event_id = header("x-wuts-event-id");
    assert!(event_id.starts_with("evt_"), "{event_id}");
    let timestamp = header("x-wuts-timestamp");
    let seconds: i64 = timestamp.parse().expect("Unix seconds");
    assert!(
        (seconds - checks::now_unix()).abs() < 60,
        "a recent timestamp: {timestamp}"
    );

    // The header signs `<timestamp>.<raw body>`.
    let mut signed = format!("{timestamp}.").into_bytes();
    signed.extend_from_slice(&delivery.body);
    assert_eq!(
        header("x-wuts-signature"),
        format!("sha256={}", hmac_hex(SECRET, &signed))
    );

    // The body is the envelope, ending with the in-body signature of what precedes it.
    let text = delivery.text();
    let at = text
        .rfind(",\"signature\":\"sha256=")
        .unwrap_or_else(|| panic!("no signature member: {text}"));
    let member: Value = serde_json::from_str(&format!("{{{}", &text[at + 1..])).expect("JSON");
    assert!(
        text.ends_with("\"}"),
        "the signature is the last member: {text}"
    );
    let unsigned = format!("{}}}", &text[..at]);
    assert_eq!(
        member["signature"],
        json!(format!("sha256={}", hmac_hex(SECRET, unsigned.as_bytes())))
    );
    let body = delivery.json();
    assert_eq!(body["id"], json!(event_id), "{body}");
    assert_eq!(body["event"], json!("message.sent"), "{body}");
    assert_eq!(body["device_id"], json!(user.device_id), "{body}");
    assert_eq!(body["user_id"], json!(user.user_id), "{body}");
    assert!(body["seq"].as_i64().is_some_and(|seq| seq >= 1), "{body}");
    assert!(body["timestamp"].as_i64().is_some(), "{body}");
    assert_eq!(body["data"]["message_id"], json!(message_id), "{body}");
    assert_eq!(body["data"]["route"], json!("/send/buttons"), "{body}");

    // The next message's event follows in sequence.
    let second = send(&server, &user, "again");
    let received = receiver.wait_until("two deliveries", |r| r.len() >= 2);
    let next = received[1].json();
    assert_eq!(next["data"]["message_id"], json!(second), "{next}");
    assert_eq!(next["seq"], json!(body["seq"].as_i64().unwrap_or(0) + 1));
    thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 2, "each delivered once");
}

#[test]
fn errors_are_retried_4xx_fails_at_once_and_a_failure_is_replayed() {
    // 500, 500, then 200 for the first event; 400 for the second; 200 for its replay.
    let receiver = Receiver::start(&[500, 500, 200, 400]);
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    configure(&server, &user, &hook(&receiver.url(), 2));

    let first = send(&server, &user, "first");
    let received = receiver.wait_until("three attempts", |r| r.len() >= 3);
    let attempts: Vec<String> = received.iter().map(Received::attempt).collect();
    assert_eq!(attempts, ["1", "2", "3"], "{received:#?}");
    let ids: BTreeSet<String> = received.iter().map(Received::event_id).collect();
    assert_eq!(ids.len(), 1, "one event id across retries: {ids:?}");
    for delivery in &received {
        assert_eq!(delivery.json()["data"]["message_id"], json!(first));
    }

    let second = send(&server, &user, "second");
    let received = receiver.wait_until("the second event", |r| r.len() >= 4);
    let refused = &received[3];
    assert_eq!(refused.json()["data"]["message_id"], json!(second));
    assert_eq!(refused.attempt(), "1");
    let failure = wait_for_failure(&server, &user, &refused.event_id());
    assert_eq!(failure["event"], json!("message.sent"), "{failure}");
    assert_eq!(
        failure["attempts"],
        json!(1),
        "a 400 is not retried: {failure}"
    );
    assert_eq!(failure["last_status"], json!(400), "{failure}");
    checks::recent_timestamp(failure["failed_at"].as_str().unwrap_or_default());
    assert_eq!(
        receiver.received().len(),
        4,
        "exactly one attempt for a 400"
    );

    let failure_id = failure["id"].as_str().expect("a failure id").to_owned();
    let (status, reply) = server.post_json(
        &format!("/webhook/failures/{failure_id}/replay"),
        &user.token,
        &json!({}),
    );
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply, json!({"success": true, "replayed": 1}));
    let received = receiver.wait_until("the replay", |r| r.len() >= 5);
    assert_eq!(received[4].event_id(), refused.event_id(), "the same event");
    assert_eq!(received[4].json()["data"]["message_id"], json!(second));

    // Delivered now: no longer a failure, and nothing left to replay.
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let (_, reply) = server.get("/webhook/failures", &user.token);
        if reply["failures"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {reply}");
        thread::sleep(Duration::from_millis(100));
    }
    let (status, reply) = server.post_json("/webhook/failures/replay", &user.token, &json!({}));
    assert_eq!(
        (status, reply),
        (202, json!({"success": true, "replayed": 0}))
    );
}

#[test]
fn a_refused_connection_is_retried_and_listed_and_other_tenants_see_nothing() {
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    let closed = ClosedPort::new();
    let url = closed.url();
    configure(&server, &user, &hook(&url, 1));
    send(&server, &user, "nobody listens");

    // Find the event id through the failures list: one retry, then failed.
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let failure = loop {
        let (status, reply) = server.get("/webhook/failures", &user.token);
        assert_eq!(status, 200, "{reply}");
        if let Some(failure) = reply["failures"].as_array().and_then(|f| f.first()) {
            break failure.clone();
        }
        assert!(Instant::now() < deadline, "no failure listed: {reply}");
        thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(
        failure["attempts"],
        json!(2),
        "tried, then retried once: {failure}"
    );
    assert_eq!(failure["last_status"], Value::Null, "{failure}");
    assert!(
        failure["last_error"]
            .as_str()
            .is_some_and(|error| !error.is_empty()),
        "the error is kept: {failure}"
    );
    assert!(
        failure["event_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("evt_"))
    );
    assert!(
        !failure.to_string().contains(&url),
        "the URL is not in the error: {failure}"
    );

    // Another tenant sees none of it.
    let stranger = server.create_user(&unique("other"), "mallory");
    let device_query = format!("?device_id={}", user.device_id);
    let (status, reply) = server.get(&format!("/webhook{device_query}"), &stranger.token);
    assert_eq!(status, 404, "{reply}");
    let (status, reply) = server.get(&format!("/webhook/failures{device_query}"), &stranger.token);
    assert_eq!(status, 404, "{reply}");
    let failure_id = failure["id"].as_str().expect("an id");
    let (status, reply) = server.post_json(
        &format!("/webhook/failures/{failure_id}/replay"),
        &stranger.token,
        &json!({}),
    );
    assert_eq!(status, 404, "{reply}");
    let reply = server.client().delete(
        &format!("/webhook{device_query}"),
        Auth::Bearer(&stranger.token),
    );
    assert_eq!(reply.status, 404, "{}", reply.text());
    // ... and the owner's failure is untouched by those attempts.
    let (_, reply) = server.get("/webhook/failures", &user.token);
    assert_eq!(reply["failures"][0]["id"], json!(failure_id), "{reply}");
    let (status, _) = server.get("/webhook", &user.token);
    assert_eq!(status, 200);
}

#[test]
fn pending_deliveries_survive_a_sigkill() {
    // Both servers use this database, named through the environment.
    let database = tempfile::tempdir().expect("a temp dir");
    let store = database.path().join("wuts.db");
    let store = store.to_str().expect("a UTF-8 path");
    // A short lease: a delivery caught mid-attempt by the kill is due again soon.
    let options = private_options()
        .env("WUTS__STORE__PATH", store)
        .env("WUTS__WEBHOOKS__CLAIM_LEASE_SECONDS", "3");

    let closed = ClosedPort::new();
    let mut first = Server::start(options.clone());
    let user = first.create_user(&unique("hooks"), "alice");
    configure(&first, &user, &hook(&closed.url(), 10));
    // The events are stored a few milliseconds after their sends answer (a crash inside
    // that window loses them, as documented): the event stream, which shows stored events
    // only, says when all three are in.
    let mut stream = open_event_stream(&first, &user);
    let sent: Vec<String> = (0..3)
        .map(|n| send(&first, &user, &format!("message {n}")))
        .collect();
    let mut streamed = 0;
    while streamed < sent.len() {
        let mut line = String::new();
        let read = stream.read_line(&mut line).expect("the event stream reads");
        assert!(read > 0, "the event stream ended after {streamed} events");
        if line.starts_with("data:") && line.contains("message.sent") {
            streamed += 1;
        }
    }
    drop(stream);
    // The first event's first attempt found nobody: the events are stored, retries pending.
    assert!(
        first.wait_for_log("will retry", DELIVERY_TIMEOUT),
        "a failed attempt is logged:\n{}",
        first.logs()
    );
    let status = first.stop_with(libc::SIGKILL);
    assert!(!status.success(), "killed: {status:?}");
    let first_logs = first.logs();
    drop(first);

    let receiver = closed.open(&[]);
    let second = Server::start(options);
    let message_ids = |received: &[Received]| -> BTreeSet<String> {
        received
            .iter()
            .filter_map(|r| r.json()["data"]["message_id"].as_str().map(str::to_owned))
            .collect()
    };
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    let received = loop {
        let received = receiver.received();
        let delivered = message_ids(&received);
        if sent.iter().all(|id| delivered.contains(id)) {
            break received;
        }
        assert!(
            Instant::now() < deadline,
            "sent {sent:?}, delivered {delivered:?}\n--- first server ---\n{first_logs}\n\
             --- second server ---\n{}",
            second.logs()
        );
        thread::sleep(Duration::from_millis(50));
    };
    let ids: BTreeSet<String> = received.iter().map(Received::event_id).collect();
    assert_eq!(ids.len(), 3, "three events: {received:#?}");
    drop(second);
}

#[test]
fn a_disabled_webhook_gets_nothing_and_only_enabled_events_are_sent() {
    let receiver = Receiver::start(&[]);
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    let mut body = hook(&receiver.url(), 0);
    body["enabled"] = json!(false);
    let webhook = configure(&server, &user, &body);
    assert_eq!(webhook["enabled"], json!(false), "{webhook}");
    send(&server, &user, "while disabled");

    // Subscribed to another event only: a send is not delivered either.
    configure(
        &server,
        &user,
        &json!({"webhook_url": receiver.url(), "enabled_events": ["message.failed"]}),
    );
    send(&server, &user, "not subscribed");

    configure(&server, &user, &hook(&receiver.url(), 0));
    let delivered = send(&server, &user, "enabled");
    // A device's deliveries arrive in order: once this one is in, nothing earlier can follow.
    let received = receiver.wait_until("the enabled delivery", |r| !r.is_empty());
    let contents: Vec<Value> = received.iter().map(|r| r.json()["data"].clone()).collect();
    assert_eq!(received.len(), 1, "{contents:#?} {delivered}");
    assert_eq!(received[0].json()["data"]["message_id"], json!(delivered));
    assert_eq!(
        received[0].header("x-wuts-signature"),
        None,
        "no secret, no signature"
    );
    assert!(
        received[0].json().get("signature").is_none(),
        "no secret, no signature member"
    );
}

// ---------------------------------------------------------------------------------------
// A user's webhook URL for the devices it creates later (`POST /user/webhook`).

/// `POST /user/webhook {"webhook_url": url}`, which must succeed.
fn set_user_webhook(server: &Server, user: &User, url: &str) {
    let (status, reply) =
        server.post_json("/user/webhook", &user.token, &json!({ "webhook_url": url }));
    assert_eq!(status, 200, "POST /user/webhook {url}: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    assert_eq!(reply["data"]["webhook_url"], json!(url), "{reply}");
}

/// `POST /devices` for `user`: the new device's id.
fn create_device(server: &Server, user: &User, name: &str) -> String {
    let (status, reply) = server.post_json("/devices", &user.token, &json!({ "name": name }));
    assert_eq!(status, 201, "POST /devices: {reply}");
    reply["device"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("the device has an id: {reply}"))
        .to_owned()
}

/// A buttons message from one of the user's devices; its message id.
fn send_from(server: &Server, user: &User, device_id: &str, text: &str) -> String {
    let (status, reply) = server.post_json(
        &format!("/send/buttons?device_id={device_id}"),
        &user.token,
        &buttons_body(PHONE, text, &[("a", "A")]),
    );
    checks::buttons_success(status, &reply)
}

#[test]
fn a_user_webhook_is_given_to_devices_created_afterwards_with_every_event() {
    let receiver = Receiver::start(&[]);
    let server = Server::start(private_options());
    let tenant = unique("hooks");
    let user = server.create_user(&tenant, "alice");
    // Another user of the same tenant, who keeps no URL.
    let colleague = server.create_user(&tenant, "bob");
    // A device made before the URL is kept.
    let earlier = create_device(&server, &user, "earlier");

    set_user_webhook(&server, &user, &receiver.url());
    let device = create_device(&server, &user, "later");

    let (status, reply) = server.get(&format!("/webhook?device_id={device}"), &user.token);
    assert_eq!(status, 200, "the new device has a webhook: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    let webhook = &reply["webhook"];
    assert!(
        webhook["id"]
            .as_str()
            .is_some_and(|id| id.starts_with("wh_")),
        "{webhook}"
    );
    assert_eq!(webhook["webhook_url"], json!(receiver.url()), "{webhook}");
    assert_eq!(
        webhook["enabled_events"],
        json!(["*"]),
        "every event: {webhook}"
    );
    assert_eq!(webhook["enabled"], json!(true), "{webhook}");
    // The documented defaults of a webhook, and no secret: /user/webhook takes none.
    assert_eq!(webhook["retry_attempts"], json!(3), "{webhook}");
    assert_eq!(webhook["timeout"], json!(30), "{webhook}");
    assert_eq!(webhook["headers"], json!({}), "{webhook}");
    assert_eq!(webhook["has_secret"], json!(false), "{webhook}");
    checks::recent_timestamp(webhook["created_at"].as_str().unwrap_or_default());

    // Devices made before, the user's default one among them, and another user's new
    // device are not affected.
    assert_webhook_not_found(&server, &user, "");
    assert_webhook_not_found(&server, &user, &format!("?device_id={earlier}"));
    let colleagues_device = create_device(&server, &colleague, "bob's");
    assert_webhook_not_found(
        &server,
        &colleague,
        &format!("?device_id={colleagues_device}"),
    );

    // Sends from the devices without a webhook first; then one from the new device. Each
    // device's deliveries are independent, so once the new device's is in, a little more
    // time shows that no other came.
    send(&server, &user, "from the default device");
    send_from(&server, &user, &earlier, "from the earlier device");
    send_from(&server, &colleague, &colleagues_device, "from bob");
    let message_id = send_from(&server, &user, &device, "from the new device");
    let received = receiver.wait_until("the new device's delivery", |r| {
        r.iter()
            .any(|d| d.json()["data"]["message_id"] == json!(message_id))
    });
    thread::sleep(Duration::from_millis(500));
    let received_after = receiver.received();
    assert_eq!(
        received_after.len(),
        received.len(),
        "nothing else arrives: {received_after:#?}"
    );
    assert_eq!(received.len(), 1, "one delivery: {received:#?}");
    let delivery = &received[0];
    assert_eq!(delivery.method, "POST");
    assert_eq!(delivery.path, "/hook");
    assert!(
        delivery
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "{delivery:#?}"
    );
    assert_eq!(delivery.header("x-wuts-event"), Some("message.sent"));
    assert_eq!(delivery.attempt(), "1");
    let event_id = delivery.event_id();
    assert!(event_id.starts_with("evt_"), "{delivery:#?}");
    let seconds: i64 = delivery
        .header("x-wuts-timestamp")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| panic!("X-Wuts-Timestamp is Unix seconds: {delivery:#?}"));
    assert!((seconds - checks::now_unix()).abs() < 60, "{seconds}");
    // No secret was (or can be) given through /user/webhook: docs/API.md signs a delivery
    // only "with a secret", so this one carries no signature, in the header or the body.
    assert_eq!(delivery.header("x-wuts-signature"), None, "{delivery:#?}");
    let body = delivery.json();
    assert!(body.get("signature").is_none(), "{body}");
    assert_eq!(body["id"], json!(event_id), "{body}");
    assert_eq!(body["event"], json!("message.sent"), "{body}");
    assert_eq!(body["device_id"], json!(device), "{body}");
    assert_eq!(body["user_id"], json!(user.user_id), "{body}");
    assert_eq!(
        body["seq"],
        json!(1),
        "the new device's first event: {body}"
    );
    assert_eq!(body["data"]["message_id"], json!(message_id), "{body}");
    assert_eq!(body["data"]["route"], json!("/send/buttons"), "{body}");
    assert_eq!(body["data"]["message_type"], json!("buttons"), "{body}");
}

#[test]
fn replay_all_queues_every_failure_again_under_the_same_event_ids() {
    // The first attempt of each event meets a 500; then the receiver answers 200.
    let receiver = Receiver::start(&[500, 500]);
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    configure(&server, &user, &hook(&receiver.url(), 0));

    let sent = [
        send(&server, &user, "first"),
        send(&server, &user, "second"),
    ];
    let refused = receiver.wait_until("two attempts", |r| r.len() >= 2);
    let message_ids: Vec<Value> = refused
        .iter()
        .map(|r| r.json()["data"]["message_id"].clone())
        .collect();
    assert_eq!(message_ids, [json!(sent[0]), json!(sent[1])], "in order");
    let event_ids: Vec<String> = refused.iter().map(Received::event_id).collect();
    assert_ne!(event_ids[0], event_ids[1], "{event_ids:?}");

    // retry_attempts 0: one attempt each, then failed.
    let failures = {
        let deadline = Instant::now() + DELIVERY_TIMEOUT;
        loop {
            let (status, reply) = server.get("/webhook/failures", &user.token);
            assert_eq!(status, 200, "{reply}");
            assert_eq!(reply["success"], json!(true), "{reply}");
            let listed = reply["failures"].as_array().cloned().unwrap_or_default();
            if listed.len() >= 2 {
                break listed;
            }
            assert!(Instant::now() < deadline, "two failures listed: {reply}");
            thread::sleep(Duration::from_millis(100));
        }
    };
    assert_eq!(failures.len(), 2, "{failures:#?}");
    let failed_events: BTreeSet<String> = failures
        .iter()
        .map(|f| f["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        failed_events,
        event_ids.iter().cloned().collect::<BTreeSet<_>>(),
        "{failures:#?}"
    );
    for failure in &failures {
        assert_eq!(failure["event"], json!("message.sent"), "{failure}");
        assert_eq!(failure["attempts"], json!(1), "no retry: {failure}");
        assert_eq!(failure["last_status"], json!(500), "{failure}");
        assert!(
            failure["id"].as_str().is_some_and(|id| !id.is_empty()),
            "{failure}"
        );
        checks::recent_timestamp(failure["failed_at"].as_str().unwrap_or_default());
    }
    assert_eq!(receiver.received().len(), 2, "no retry went out");

    let (status, reply) = server.post_json("/webhook/failures/replay", &user.token, &json!({}));
    assert_eq!(status, 202, "{reply}");
    assert_eq!(reply, json!({"success": true, "replayed": 2}));

    let received = receiver.wait_until("both replays", |r| r.len() >= 4);
    let replayed: Vec<String> = received[2..].iter().map(Received::event_id).collect();
    assert_eq!(
        replayed, event_ids,
        "the same events, in order: {received:#?}"
    );
    for (delivery, message_id) in received[2..].iter().zip(&sent) {
        let body = delivery.json();
        assert_eq!(body["id"], json!(delivery.event_id()), "{body}");
        assert_eq!(body["data"]["message_id"], json!(message_id), "{body}");
    }

    // Delivered: the list empties, and nothing is left to replay.
    let deadline = Instant::now() + DELIVERY_TIMEOUT;
    loop {
        let (status, reply) = server.get("/webhook/failures", &user.token);
        assert_eq!(status, 200, "{reply}");
        if reply["failures"].as_array().is_some_and(Vec::is_empty) {
            break;
        }
        assert!(Instant::now() < deadline, "still listed: {reply}");
        thread::sleep(Duration::from_millis(100));
    }
    let (status, reply) = server.post_json("/webhook/failures/replay", &user.token, &json!({}));
    assert_eq!(
        (status, reply),
        (202, json!({"success": true, "replayed": 0}))
    );
    thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 4, "each replayed once");
}

/// Bad `/user/webhook` bodies; each a 400 naming `webhook_url` (malformed JSON: a 400).
fn refuse_user_webhooks(server: &Server, user: &User, urls: &[Value]) {
    let reply = server.post_raw(
        "/user/webhook",
        user.auth(),
        Body::Bytes {
            content_type: "application/json",
            bytes: b"{\"webhook_url\": ",
        },
    );
    assert_eq!(reply.status, 400, "malformed JSON: {}", reply.text());
    let (status, reply) = server.post_json("/user/webhook", &user.token, &json!({}));
    assert_names_field(status, &reply, "webhook_url");
    for url in urls {
        let (status, reply) =
            server.post_json("/user/webhook", &user.token, &json!({ "webhook_url": url }));
        assert_names_field(status, &reply, "webhook_url");
    }
}

#[test]
fn bad_user_webhook_input_is_a_400_naming_the_url_and_stores_nothing() {
    // Without allow_private_urls: private and loopback targets are refused.
    let server = Server::start_default();
    let user = server.create_user(&unique("hooks"), "alice");
    let forbidden = [
        "http://127.0.0.1:9/hook",
        "http://localhost:9/hook",
        "http://10.1.2.3/hook",
        "http://192.168.1.10/hook",
        "http://[::1]/hook",
        "http://169.254.169.254/latest",
    ];
    let mut urls: Vec<Value> = vec![
        json!("ftp://example.com/hook"),
        json!("example.com/hook"),
        json!("not a url"),
        json!(""),
        json!(42),
        Value::Null,
    ];
    urls.extend(forbidden.iter().map(|url| json!(url)));
    refuse_user_webhooks(&server, &user, &urls);
    for url in forbidden {
        let (_, reply) =
            server.post_json("/user/webhook", &user.token, &json!({ "webhook_url": url }));
        assert_eq!(
            reply["error_code"],
            json!("URL_FORBIDDEN"),
            "{url}: {reply}"
        );
    }
    // Nothing kept: a device made now has no webhook.
    let device = create_device(&server, &user, "after the refusals");
    assert_webhook_not_found(&server, &user, &format!("?device_id={device}"));
    assert_webhook_not_found(&server, &user, "");

    // A URL kept before is left as it was by refusals.
    let server = Server::start(private_options());
    let user = server.create_user(&unique("hooks"), "alice");
    set_user_webhook(&server, &user, "http://127.0.0.1:9/kept");
    urls.truncate(6);
    refuse_user_webhooks(&server, &user, &urls);
    let device = create_device(&server, &user, "after the refusals");
    let (status, reply) = server.get(&format!("/webhook?device_id={device}"), &user.token);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        reply["webhook"]["webhook_url"],
        json!("http://127.0.0.1:9/kept"),
        "{reply}"
    );
}
