//! Limits (docs/API.md, "Operations"; `[rate_limits]`, `[session] send_interval_ms`,
//! `[limits] devices_per_user`): 429 `RATE_LIMITED` with `Retry-After` in either
//! envelope, nothing done for a refused request, one caller's limit not another's.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::{Auth, PHONE, Server, ServerOptions, User, buttons_body, unique};

/// Asserts a 429 in the standard envelope and returns its `Retry-After` in seconds.
#[track_caller]
fn standard_429(status: u16, body: &Value, retry_after: Option<&str>) -> u64 {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!("RATE_LIMITED"), "{body}");
    assert_eq!(body["error"], json!("rate limited"), "{body}");
    seconds(retry_after)
}

/// Asserts a 429 in the legacy envelope (`{"error":"rate limited"}` and nothing else).
#[track_caller]
fn legacy_429(status: u16, body: &Value, retry_after: Option<&str>) -> u64 {
    assert_eq!(status, 429, "{body}");
    assert_eq!(body, &json!({ "error": "rate limited" }));
    seconds(retry_after)
}

#[track_caller]
fn seconds(retry_after: Option<&str>) -> u64 {
    let seconds: u64 = retry_after
        .expect("a 429 carries Retry-After")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!((1..=60).contains(&seconds), "Retry-After {seconds}");
    seconds
}

fn send(server: &Server, user: &User, device_id: &str) -> wuts_e2e::Reply {
    server.client().post_json(
        &format!("/send/buttons?device_id={device_id}"),
        user.auth(),
        &buttons_body(PHONE, "paced", &[("a", "A")]),
    )
}

fn device_count(server: &Server, user: &User) -> usize {
    let (status, body) = server.get("/devices", &user.token);
    assert_eq!(status, 200, "{body}");
    body["devices"].as_array().map_or(0, Vec::len)
}

#[test]
fn a_user_past_its_rate_gets_429_and_its_request_does_nothing() {
    let server = Server::start(
        ServerOptions::default()
            .env("WUTS__RATE_LIMITS__USER_PER_SECOND", "0.5")
            .env("WUTS__RATE_LIMITS__USER_BURST", "3"),
    );
    let alice = server.create_user(&unique("acme"), "alice");
    let bob = server.create_user(&unique("acme"), "bob");
    for _ in 0..2 {
        assert_eq!(server.get("/devices", &alice.token).0, 200);
    }
    let created = server.post_json("/devices", &alice.token, &json!({ "name": "third" }));
    assert_eq!(created.0, 201, "the burst's last request: {}", created.1);

    let refused =
        server
            .client()
            .post_json("/devices", alice.auth(), &json!({ "name": "refused" }));
    let wait = standard_429(
        refused.status,
        &refused.json(),
        refused.retry_after.as_deref(),
    );
    assert!(wait <= 2, "one request every 2 s: Retry-After {wait}");
    let legacy = server.client().post_json(
        "/send/buttons",
        alice.auth(),
        &buttons_body(PHONE, "refused", &[("a", "A")]),
    );
    legacy_429(legacy.status, &legacy.json(), legacy.retry_after.as_deref());
    assert_eq!(
        server.get("/devices", &bob.token).0,
        200,
        "another user's bucket is its own"
    );

    thread::sleep(Duration::from_secs(wait));
    assert_eq!(
        device_count(&server, &alice),
        2,
        "the refused POST /devices created nothing"
    );
    thread::sleep(Duration::from_secs(2));
    assert!(
        server.outbox(&alice).is_empty(),
        "the refused send sent nothing"
    );
}

#[test]
fn a_device_past_its_rate_gets_429_and_the_users_other_device_does_not() {
    let server = Server::start(
        ServerOptions::default()
            .env("WUTS__RATE_LIMITS__DEVICE_PER_SECOND", "0.1")
            .env("WUTS__RATE_LIMITS__DEVICE_BURST", "2"),
    );
    let alice = server.create_user(&unique("acme"), "alice");
    let (status, second) = server.post_json("/devices", &alice.token, &json!({}));
    assert_eq!(status, 201, "{second}");
    let second_id = second["device"]["id"].as_str().unwrap().to_owned();
    for _ in 0..2 {
        let sent = send(&server, &alice, &alice.device_id);
        assert_eq!(sent.status, 200, "{}", sent.text());
    }
    let refused = send(&server, &alice, &alice.device_id);
    let wait = legacy_429(
        refused.status,
        &refused.json(),
        refused.retry_after.as_deref(),
    );
    assert!(wait <= 10, "one send every 10 s: Retry-After {wait}");
    let other = send(&server, &alice, &second_id);
    assert_eq!(other.status, 200, "{}", other.text());
    let outbox_of = |device_id: &str| {
        let reply = server.outbox_reply(&alice, &format!("?device_id={device_id}"));
        assert_eq!(reply.status, 200, "{}", reply.text());
        reply.json().as_array().map_or(0, Vec::len)
    };
    assert_eq!(
        (outbox_of(&alice.device_id), outbox_of(&second_id)),
        (2, 1),
        "two sends from the first device and one from the second, none for the refused"
    );
}

#[test]
fn failed_authentications_per_address_are_limited_and_then_even_a_right_guess_waits() {
    let master = "m".repeat(40);
    let server = Server::start(
        ServerOptions::default()
            .env("WUTS__RATE_LIMITS__FAILED_AUTH_PER_MINUTE", "6")
            .env("WUTS__RATE_LIMITS__FAILED_AUTH_BURST", "5")
            .env("WUTS__ADMIN__MASTER_TOKEN", &master),
    );
    // A token's first use is checked like any unknown one (and spends one of the five).
    let known = server.create_user(&unique("acme"), "known");
    assert_eq!(
        server.get("/devices", &known.token).0,
        200,
        "known good now"
    );
    let fresh = server.create_user(&unique("acme"), "fresh");

    for attempt in 0..3 {
        let wrong = uuid_like(attempt);
        let reply = server.client().get("/devices", Auth::Bearer(&wrong));
        assert_eq!(reply.status, 401, "attempt {attempt}: {}", reply.text());
    }
    let wrong_master = server
        .client()
        .get("/tenants", Auth::Bearer("not-the-master"));
    assert_eq!(wrong_master.status, 401, "{}", wrong_master.text());

    let refused = server.client().get("/devices", Auth::Bearer(&uuid_like(9)));
    let wait = standard_429(
        refused.status,
        &refused.json(),
        refused.retry_after.as_deref(),
    );
    assert!(wait <= 10, "one attempt every 10 s: Retry-After {wait}");
    let right_guess = server.client().get("/devices", fresh.auth());
    standard_429(
        right_guess.status,
        &right_guess.json(),
        right_guess.retry_after.as_deref(),
    );
    let master_refused = server.client().get("/tenants", Auth::Bearer("still-wrong"));
    assert_eq!(master_refused.status, 429, "{}", master_refused.text());
    assert_eq!(
        master_refused.json(),
        json!({ "success": false, "error": "rate limited" }),
        "the super-admin routes' short envelope"
    );
    assert!(master_refused.retry_after.is_some());
    assert_eq!(
        server.get("/devices", &known.token).0,
        200,
        "a token already known good is not held up"
    );
    assert_eq!(
        server
            .client()
            .get("/tenants", Auth::Bearer(&master))
            .status,
        200,
        "nor is the right master token"
    );
    let no_token = server.client().get("/devices", Auth::None);
    assert_eq!(no_token.status, 401, "no token is no guess");

    thread::sleep(Duration::from_secs(wait));
    let (status, body) = server.get("/devices", &fresh.token);
    assert_eq!(
        status, 200,
        "after Retry-After the right token works: {body}"
    );
}

/// A well-formed token that belongs to nobody.
fn uuid_like(seed: u32) -> String {
    format!("{seed:08x}-0000-4000-8000-000000000000")
}

#[test]
fn sends_through_one_device_leave_the_interval_apart_and_a_far_turn_is_refused() {
    let server = Server::start(
        ServerOptions::default()
            .env("WUTS__SESSION__SEND_INTERVAL_MS", "800")
            .env("WUTS__SESSION__SEND_QUEUE_MAX_WAIT_MS", "1200"),
    );
    let alice = server.create_user(&unique("acme"), "alice");
    let bob = server.create_user(&unique("acme"), "bob");
    let first = send(&server, &alice, &alice.device_id);
    assert_eq!(first.status, 200, "{}", first.text());
    let started = Instant::now();
    let second = send(&server, &alice, &alice.device_id);
    assert_eq!(second.status, 200, "{}", second.text());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(600),
        "the second send waited for its turn: {waited:?}"
    );

    // Three at once: turns at +0.8 s, +1.6 s (past the 1.2 s a request waits: 429) ...
    thread::sleep(Duration::from_millis(900));
    let replies: Vec<wuts_e2e::Reply> = thread::scope(|scope| {
        let calls: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| send(&server, &alice, &alice.device_id)))
            .collect();
        calls.into_iter().map(|call| call.join().unwrap()).collect()
    });
    let statuses: Vec<u16> = replies.iter().map(|reply| reply.status).collect();
    let refused: Vec<&wuts_e2e::Reply> = replies.iter().filter(|r| r.status == 429).collect();
    assert_eq!(refused.len(), 1, "{statuses:?}");
    legacy_429(429, &refused[0].json(), refused[0].retry_after.as_deref());
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        2,
        "{statuses:?}"
    );

    let started = Instant::now();
    let other = send(&server, &bob, &bob.device_id);
    assert_eq!(other.status, 200, "{}", other.text());
    assert!(
        started.elapsed() < Duration::from_millis(600),
        "another device does not wait for alice's turns: {:?}",
        started.elapsed()
    );
    assert_eq!(
        server.outbox(&alice).len(),
        4,
        "the refused send sent nothing"
    );
}

#[test]
fn a_user_cannot_have_more_devices_than_the_cap() {
    let server = Server::start(ServerOptions::default().env("WUTS__LIMITS__DEVICES_PER_USER", "2"));
    let alice = server.create_user(&unique("acme"), "alice");
    let (status, body) = server.post_json("/devices", &alice.token, &json!({ "name": "second" }));
    assert_eq!(status, 201, "{body}");
    let (status, body) = server.post_json("/devices", &alice.token, &json!({ "name": "third" }));
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!("DEVICE_LIMIT"), "{body}");
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|text| text.contains('2')),
        "the text names the cap: {body}"
    );
    assert_eq!(device_count(&server, &alice), 2, "nothing was created");
    let bob = server.create_user(&unique("acme"), "bob");
    let (status, body) = server.post_json("/devices", &bob.token, &json!({}));
    assert_eq!(status, 201, "the cap is per user: {body}");
}
