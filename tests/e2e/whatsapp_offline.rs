//! `wuts serve` with the `whatsapp` driver and no WhatsApp to reach: the socket URL points
//! at a closed loopback port and the client version is fixed, so nothing leaves the
//! machine. The server must serve, say why the devices are not connected, refuse sends
//! at once, time out QR requests cleanly, keep tenants apart, and stop on SIGTERM.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::checks;
use wuts_e2e::{PHONE, Server, ServerOptions, Setup, User, buttons_body, unique};

/// `GET /qr` waits this long for a code here (`[session] qr_timeout_ms`).
const QR_TIMEOUT_MS: u64 = 1500;

/// A loopback port nothing listens on: bound, then released.
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port can be bound");
    listener
        .local_addr()
        .expect("a bound listener has an address")
        .port()
}

/// The harness writes `driver = "sandbox"`; the environment overrides the file.
fn offline_options() -> ServerOptions {
    ServerOptions::default()
        .env("WUTS__SESSION__DRIVER", "whatsapp")
        .env(
            "WUTS__SESSION__SOCKET_URL",
            &format!("ws://127.0.0.1:{}/ws/chat", closed_port()),
        )
        .env("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701")
        .env("WUTS__SESSION__QR_TIMEOUT_MS", &QR_TIMEOUT_MS.to_string())
}

fn status(server: &Server, user: &User, device_id: Option<&str>) -> Value {
    let path = match device_id {
        Some(id) => format!("/status?device_id={id}"),
        None => "/status".to_owned(),
    };
    let (code, body) = server.get(&path, &user.token);
    assert_eq!(code, 200, "GET {path}: {body}");
    body
}

/// Polls `GET /status` until `done` holds (at most `within`); returns the last body.
fn wait_for_status(
    server: &Server,
    user: &User,
    within: Duration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + within;
    loop {
        let body = status(server, user, None);
        if done(&body) || Instant::now() >= deadline {
            return body;
        }
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn the_server_serves_says_why_and_refuses_sends_at_once() {
    let mut server = Server::start(offline_options());
    let alice = server.create_user(&unique("acme"), "alice");

    let body = status(&server, &alice, None);
    assert_eq!(body["success"], json!(true), "{body}");
    assert_eq!(body["driver"], json!("whatsapp"), "{body}");
    assert_eq!(body["connected"], json!(false), "{body}");
    assert_eq!(body["logged_in"], json!(false), "{body}");
    assert_eq!(body["device_id"], json!(alice.device_id));
    assert!(
        body["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "a reason: {body}"
    );
    // The refused socket shows up as the reason soon.
    let body = wait_for_status(&server, &alice, Duration::from_secs(15), |body| {
        body["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach WhatsApp"))
    });
    assert!(
        body["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("cannot reach WhatsApp")),
        "the reason names the unreachable server: {body}"
    );
    assert_eq!(body["connected"], json!(false));

    let started = Instant::now();
    let (code, reply) = server.send_buttons(&alice, &buttons_body(PHONE, "hi", &[("a", "A")]));
    let took = started.elapsed();
    assert_eq!(
        checks::legacy_error(code, &reply, 400),
        "WhatsApp not connected"
    );
    assert_eq!(reply, json!({ "error": "WhatsApp not connected" }));
    assert!(
        took < Duration::from_secs(2),
        "a send fails at once, took {took:?}"
    );

    let started = Instant::now();
    let (code, reply) = server.get("/qr", &alice.token);
    let took = started.elapsed();
    assert_eq!(code, 504, "{reply}");
    assert_eq!(reply["success"], json!(false), "{reply}");
    assert_eq!(
        reply["error"],
        json!("timeout waiting for QR code"),
        "{reply}"
    );
    assert_eq!(reply["error_code"], json!("QR_TIMEOUT"), "{reply}");
    assert!(
        took >= Duration::from_millis(QR_TIMEOUT_MS - 100) && took < Duration::from_secs(10),
        "GET /qr waits qr_timeout_ms, then gives up: took {took:?}"
    );

    let (code, reply) = server.get("/qr/status", &alice.token);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["paired"], json!(false), "{reply}");
    assert_eq!(reply["connected"], json!(false), "{reply}");
    assert_eq!(reply["jid"], Value::Null, "{reply}");
    assert!(
        reply["state"].as_str().is_some_and(|s| !s.is_empty()),
        "{reply}"
    );

    // A bad phone is refused before anything waits on WhatsApp.
    let started = Instant::now();
    let (code, reply) = server.post_json("/paircode", &alice.token, &json!({ "phone": "12" }));
    assert_eq!(code, 400, "{reply}");
    assert_eq!(reply["validation"][0]["field"], json!("phone"), "{reply}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let started = Instant::now();
    let exit = server.stop();
    assert!(
        exit.success(),
        "SIGTERM exits 0, got {exit:?}\n{}",
        server.logs()
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "stopped in {:?}",
        started.elapsed()
    );
    assert!(!server.logs().contains("panicked"), "{}", server.logs());
}

#[test]
fn devices_are_created_and_kept_apart_per_tenant() {
    let server = Server::start(offline_options());
    let alice = server.create_user(&unique("acme"), "alice");
    let mallory = server.create_user(&unique("evil"), "mallory");

    let (code, reply) = server.post_json("/devices", &alice.token, &json!({ "name": "shop" }));
    assert_eq!(code, 201, "{reply}");
    let device = &reply["device"];
    let shop_id = device["id"].as_str().expect("an id").to_owned();
    assert_eq!(device["name"], json!("shop"));
    assert_eq!(device["connected"], json!(false), "{reply}");
    checks::recent_timestamp(device["created_at"].as_str().expect("created_at"));

    let (code, reply) = server.get("/devices", &alice.token);
    assert_eq!(code, 200, "{reply}");
    let listed = reply["devices"].as_array().expect("an array");
    let ids: Vec<&str> = listed.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids, [alice.device_id.as_str(), shop_id.as_str()], "{reply}");
    for listed in listed {
        assert_eq!(listed["connected"], json!(false), "{listed}");
        assert!(
            listed["state"].as_str().is_some_and(|s| !s.is_empty()),
            "{listed}"
        );
        assert!(
            listed["last_error"].as_str().is_some_and(|e| !e.is_empty()),
            "{listed}"
        );
    }

    let own = status(&server, &alice, Some(&shop_id));
    assert_eq!(own["device_id"], json!(shop_id));
    assert_eq!(own["connected"], json!(false));
    for path in [
        format!("/status?device_id={shop_id}"),
        format!("/qr/status?device_id={shop_id}"),
        format!("/qr?device_id={shop_id}"),
        format!("/status?device_id={}", alice.device_id),
    ] {
        let (code, reply) = server.get(&path, &mallory.token);
        assert_eq!(code, 404, "{path} as another tenant: {reply}");
        assert_eq!(reply["error_code"], json!("NOT_FOUND"), "{reply}");
    }
    let (code, reply) = server.post_json(
        "/disconnect",
        &mallory.token,
        &json!({ "device_id": shop_id }),
    );
    assert_eq!(code, 404, "{reply}");
    let (code, reply) = server.get("/devices", &mallory.token);
    assert_eq!(code, 200, "{reply}");
    assert_eq!(
        reply["devices"].as_array().map(Vec::len),
        Some(1),
        "{reply}"
    );
}

#[test]
fn disconnect_stops_the_device_and_connect_starts_it_again() {
    let server = Server::start(offline_options());
    let alice = server.create_user(&unique("acme"), "alice");

    let (code, reply) = server.post_json("/disconnect", &alice.token, &json!({}));
    assert_eq!(code, 200, "{reply}");
    assert_eq!(reply["device_id"], json!(alice.device_id));
    assert_eq!(reply["state"], json!("stopped"), "{reply}");
    assert_eq!(reply["connected"], json!(false));
    let body = status(&server, &alice, None);
    assert_eq!(body["state"], json!("stopped"), "{body}");
    assert!(
        body["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("POST /connect")),
        "says how to start it again: {body}"
    );
    // A stopped device issues no codes, and says so at once.
    let started = Instant::now();
    let (code, reply) = server.get("/qr", &alice.token);
    assert_eq!(code, 400, "{reply}");
    assert_eq!(reply["error_code"], json!("PAIRING_UNAVAILABLE"), "{reply}");
    assert!(started.elapsed() < Duration::from_millis(QR_TIMEOUT_MS));
    let started = Instant::now();
    let (code, reply) = server.post_json("/paircode", &alice.token, &json!({ "phone": PHONE }));
    assert_eq!(code, 400, "{reply}");
    assert_eq!(reply["error_code"], json!("PAIRING_UNAVAILABLE"), "{reply}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "at once: {:?}",
        started.elapsed()
    );

    let (code, reply) = server.post_json("/connect", &alice.token, &json!({}));
    assert_eq!(code, 200, "{reply}");
    assert_ne!(reply["state"], json!("stopped"), "{reply}");
    assert_eq!(reply["connected"], json!(false), "{reply}");
    let (code, reply) = server.send_buttons(&alice, &buttons_body(PHONE, "hi", &[("a", "A")]));
    assert_eq!(
        checks::legacy_error(code, &reply, 400),
        "WhatsApp not connected"
    );
}

#[test]
fn a_device_never_paired_stays_closed_at_start_and_its_credentials_go_beside_the_database() {
    let setup = Setup::new(offline_options());
    let alice = setup.create_user(&unique("acme"), "alice");
    let credentials = setup.store_path().with_file_name("whatsapp.db");
    assert!(!credentials.exists());

    let server = setup.start();
    assert!(
        server.wait_for_log("devices brought up", Duration::from_secs(10)),
        "{}",
        server.logs()
    );
    // Never paired: the start left it closed, so no client opened the credential store
    // (one would have within milliseconds of being opened, as below).
    thread::sleep(Duration::from_millis(500));
    assert!(
        !credentials.exists(),
        "{} is not created at start for a device never paired\n{}",
        credentials.display(),
        server.logs()
    );

    // Asked for, it opens: its client makes the credential store beside the database.
    let body = status(&server, &alice, None);
    assert_eq!(body["device_id"], json!(alice.device_id));
    let deadline = Instant::now() + Duration::from_secs(15);
    while !credentials.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        credentials.exists(),
        "{} is created once the device opens\n{}",
        credentials.display(),
        server.logs()
    );

    // A restart on the same files serves again, with the same device.
    let setup = server.into_setup();
    let server = setup.start();
    let body = status(&server, &alice, None);
    assert_eq!(body["device_id"], json!(alice.device_id));
    assert_eq!(body["connected"], json!(false));
}

#[test]
fn wuts_pair_gives_up_with_a_clear_message() {
    let server = Server::start(offline_options());
    let alice = server.create_user(&unique("acme"), "alice");
    let started = Instant::now();
    let done = server.setup().cli(
        &["pair"],
        &[
            "--url",
            server.base_url(),
            "--token",
            &alice.token,
            "--timeout",
            "3",
        ],
    );
    assert!(!done.success(), "{}\n{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("Pairing device"), "{}", done.stdout);
    assert!(
        done.stderr.contains("no phone was paired") && done.stderr.contains("within 3 s"),
        "{}",
        done.stderr
    );
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "bounded: {:?}",
        started.elapsed()
    );
}
