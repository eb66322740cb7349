//! Bounded work through the real server and audio plugin: the slots for plugin calls that
//! may block (downloads, transcodes, uploads) overall and per tenant, the 503 with
//! `Retry-After` when they are taken, the deadline of every plugin call and of a media
//! upload (docs/API.md, "Limits").

use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::audio_fixtures::{self as fx, Fixtures, MP3};
use wuts_e2e::{Auth, PHONE, Server, ServerOptions, User, unique};

fn fixtures() -> &'static Fixtures {
    static FIXTURES: OnceLock<Fixtures> = OnceLock::new();
    FIXTURES.get_or_init(|| {
        Fixtures::generate(&Path::new(env!("CARGO_TARGET_TMPDIR")).join("limits-e2e-fixtures"))
    })
}

fn options() -> ServerOptions {
    ServerOptions::default()
        .plugins(&["audio"])
        .required(&["audio"])
}

fn clip() -> Value {
    json!({ "number": PHONE, "audio": fx::base64(&fixtures().encoded(&MP3)) })
}

/// An HTTP server that accepts connections, reads the request and never answers, until
/// [`Stalling::release`] closes them all: a download that hangs.
struct Stalling {
    port: u16,
    seen: Arc<AtomicUsize>,
    held: Arc<Mutex<Vec<TcpStream>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Stalling {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a local port can be bound");
        let port = listener.local_addr().expect("bound").port();
        let seen = Arc::new(AtomicUsize::new(0));
        let held = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, held, stop) = (Arc::clone(&seen), Arc::clone(&held), Arc::clone(&stop));
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut stream) = stream else { continue };
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                    let mut head = [0u8; 1024];
                    let _ = stream.read(&mut head);
                    held.lock().unwrap().push(stream);
                    seen.fetch_add(1, Ordering::SeqCst);
                }
            })
        };
        Stalling {
            port,
            seen,
            held,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/clip.mp3", self.port)
    }

    /// Waits until `count` downloads have started.
    #[track_caller]
    fn wait_for(&self, count: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.seen.load(Ordering::SeqCst) < count {
            assert!(Instant::now() < deadline, "{count} downloads never started");
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Closes every held connection: the hanging downloads fail at once.
    fn release(&self) {
        self.held.lock().unwrap().clear();
    }
}

impl Drop for Stalling {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.release();
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sends `body` to `/send/audio` as `user` on a thread of its own: the status, the body
/// and how long it took.
fn send_in_background(
    server: &Server,
    user: &User,
    body: Value,
) -> JoinHandle<(u16, Value, Duration)> {
    let client = server.client().clone();
    let token = user.token.clone();
    thread::spawn(move || {
        let started = Instant::now();
        let reply = client.post_json("/send/audio", Auth::Bearer(&token), &body);
        (reply.status, reply.json_or_text(), started.elapsed())
    })
}

/// Asserts a 503 with `code` and a `Retry-After`, answered within the slot wait.
#[track_caller]
fn assert_busy(server: &Server, user: &User, code: &str) {
    let started = Instant::now();
    let reply = server
        .client()
        .post_json("/send/audio", user.auth(), &clip());
    let body = reply.json_or_text();
    assert_eq!(reply.status, 503, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert_eq!(reply.retry_after.as_deref(), Some("1"), "{body}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(450) && waited < Duration::from_secs(5),
        "the request waited for a slot about media_call_wait_ms (500 ms), then was refused: {waited:?}"
    );
}

/// Asserts the 504 of a plugin call cut at its 4 s deadline, long before the 60 s
/// download timeout.
#[track_caller]
fn assert_cut_at_the_deadline(answer: (u16, Value, Duration)) {
    let (status, body, took) = answer;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error_code"], json!("PLUGIN_TIMEOUT"), "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|text| text.contains("not ready within 4 s")),
        "{body}"
    );
    assert!(
        took >= Duration::from_secs(4) && took < Duration::from_secs(15),
        "answered after {took:?}"
    );
}

#[test]
fn slots_are_bounded_per_tenant_and_overall_and_each_call_has_a_deadline() {
    let stalling = Stalling::start();
    let server = Server::start(
        options()
            .env("WUTS__LIMITS__MEDIA_CALLS", "2")
            .env("WUTS__LIMITS__MEDIA_CALLS_PER_TENANT", "1")
            .env("WUTS__LIMITS__MEDIA_CALL_WAIT_MS", "500")
            .env("WUTS__LIMITS__PLUGIN_CALL_TIMEOUT_SECONDS", "4")
            .env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true")
            .env("WUTS__FETCH__TIMEOUT_MS", "60000"),
    );
    let alice = server.create_user(&unique("limits-a"), "alice");
    let bob = server.create_user(&unique("limits-b"), "bob");
    let carol = server.create_user(&unique("limits-c"), "carol");
    let hanging = json!({ "number": PHONE, "audio_url": stalling.url() });

    // Alice's download hangs in her tenant's only slot.
    let alice_hanging = send_in_background(&server, &alice, hanging.clone());
    stalling.wait_for(1);
    assert_busy(&server, &alice, "TENANT_BUSY");
    assert!(
        server.outbox(&alice).is_empty(),
        "nothing of alice's was sent"
    );

    // Another tenant is served meanwhile.
    let (status, reply) = server.post_json("/send/audio", &bob.token, &clip());
    assert_eq!(status, 200, "{reply}");

    // Bob's hanging download takes the host's second, last slot.
    let bob_hanging = send_in_background(&server, &bob, hanging);
    stalling.wait_for(2);
    assert_busy(&server, &carol, "SERVER_BUSY");

    assert_cut_at_the_deadline(alice_hanging.join().unwrap());
    assert_cut_at_the_deadline(bob_hanging.join().unwrap());
    // The answers went out, but the downloads still hang: their threads keep the slots.
    assert_busy(&server, &carol, "SERVER_BUSY");

    stalling.release();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, reply) = server.post_json("/send/audio", &carol.token, &clip());
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{reply}");
        assert!(
            Instant::now() < deadline,
            "the slots were never given back: {reply}"
        );
    }
    assert_eq!(server.outbox(&carol).len(), 1);
    assert_eq!(server.outbox(&alice).len(), 0);
}

#[test]
fn a_media_upload_that_does_not_answer_fails_at_its_deadline() {
    let server = Server::start(options().env("WUTS__SESSION__UPLOAD_TIMEOUT_MS", "1000"));
    let user = server.create_user(&unique("limits-upload"), "alice");
    let state = server.set_state(&user, json!({ "upload_delay_ms": 30000 }));
    assert_eq!(state["upload_delay_ms"], json!(30000), "{state}");

    let started = Instant::now();
    let (status, reply) = server.post_json("/send/audio", &user.token, &clip());
    let took = started.elapsed();
    assert_eq!(status, 500, "{reply}");
    assert_eq!(reply["error_code"], json!("UPLOAD_FAILED"), "{reply}");
    assert!(
        reply["error"]
            .as_str()
            .is_some_and(|text| text.contains("no answer within 1 s")),
        "{reply}"
    );
    assert!(took < Duration::from_secs(10), "answered after {took:?}");
    assert!(server.outbox(&user).is_empty(), "nothing was sent");

    server.set_state(&user, json!({ "upload_delay_ms": 0 }));
    let (status, reply) = server.post_json("/send/audio", &user.token, &clip());
    assert_eq!(status, 200, "{reply}");
}

#[test]
fn a_bad_upload_delay_is_refused_and_changes_nothing() {
    let server = Server::start(options());
    let user = server.create_user(&unique("limits-state"), "alice");
    for bad in [json!(-1), json!("5"), json!(600_001)] {
        let reply = server.client().post_json(
            "/sandbox/state",
            user.auth(),
            &json!({ "upload_delay_ms": bad, "connected": false }),
        );
        assert_eq!(reply.status, 400, "{bad}: {}", reply.text());
        assert!(reply.text().contains("upload_delay_ms"), "{}", reply.text());
    }
    let (status, state) = server.get("/sandbox/state", &user.token);
    assert_eq!(status, 200);
    assert_eq!(state["upload_delay_ms"], json!(0), "{state}");
    assert_eq!(state["connected"], json!(true), "{state}");
}
