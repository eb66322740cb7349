//! The sandbox driver: outbox, state (disconnected, slow, failing), media, and scoping per
//! user and tenant.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{
    Auth, Body, PHONE, Server, ServerOptions, User, buttons_body, example_buttons_body, unique,
};

fn server_and_user() -> (Server, User) {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    (server, user)
}

fn send(server: &Server, user: &User, text: &str) -> String {
    let (status, reply) = server.send_buttons(user, &buttons_body(PHONE, text, &[("a", "A")]));
    checks::buttons_success(status, &reply)
}

fn ids(outbox: &[Value]) -> Vec<&str> {
    outbox
        .iter()
        .map(|e| e["message_id"].as_str().unwrap_or("<no message_id>"))
        .collect()
}

#[test]
fn outbox_is_newest_first_and_honours_limit() {
    let (server, user) = server_and_user();
    assert!(
        server.outbox(&user).is_empty(),
        "a new user's outbox is empty"
    );
    let first = send(&server, &user, "first");
    let second = send(&server, &user, "second");
    let third = send(&server, &user, "third");

    let outbox = server.outbox(&user);
    assert_eq!(ids(&outbox), [&third, &second, &first], "newest first");
    let texts: Vec<&Value> = outbox
        .iter()
        .map(|e| &e["message"]["interactiveMessage"]["body"]["text"])
        .collect();
    assert_eq!(texts, [&json!("third"), &json!("second"), &json!("first")]);

    let reply = server.outbox_reply(&user, "?limit=2");
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        ids(reply.json().as_array().expect("an array")),
        [&third, &second]
    );

    let reply = server.outbox_reply(&user, &format!("?device_id={}", user.device_id));
    assert_eq!(reply.status, 200, "own device_id: {}", reply.text());
    assert_eq!(
        ids(reply.json().as_array().expect("an array")),
        [&third, &second, &first]
    );
}

#[test]
fn tenants_and_users_never_see_each_others_devices_or_messages() {
    let server = Server::start_default();
    let tenant = unique("acme");
    let alice = server.create_user(&tenant, "alice");
    let carol = server.create_user(&tenant, "carol"); // same tenant, another user
    let mallory = server.create_user(&unique("evil"), "mallory"); // another tenant
    assert_ne!(alice.device_id, carol.device_id);
    assert_ne!(alice.device_id, mallory.device_id);
    let sent = send(&server, &alice, "for alice only");

    let mut cases = Cases::new();
    for other in [&carol, &mallory] {
        let who = other.name.clone();
        cases.check(&format!("{who}'s outbox"), || {
            let outbox = server.outbox(other);
            assert!(
                outbox.is_empty(),
                "{who} sees {outbox:?} (alice sent {sent})"
            );
        });
        cases.check(&format!("{who} reads alice's outbox by device_id"), || {
            let reply = server.outbox_reply(other, &format!("?device_id={}", alice.device_id));
            assert_eq!(reply.status, 404, "{}", reply.text());
            assert!(!reply.text().contains(&sent), "leaks alice's message id");
        });
        cases.check(&format!("{who} sets alice's device state"), || {
            let reply = server.client().post_json(
                &format!("/sandbox/state?device_id={}", alice.device_id),
                other.auth(),
                &json!({ "connected": false }),
            );
            assert_eq!(reply.status, 404, "{}", reply.text());
        });
        cases.check(&format!("{who} sends from alice's device"), || {
            let (status, reply) = server.post_json(
                &format!("/send/buttons?device_id={}", alice.device_id),
                &other.token,
                &buttons_body(PHONE, "hijack", &[("a", "A")]),
            );
            checks::legacy_error(status, &reply, 404);
        });
    }
    cases.check("alice's device is untouched", || {
        assert_eq!(ids(&server.outbox(&alice)), [&sent]);
        send(&server, &alice, "still connected");
    });
    cases.finish();
}

#[test]
fn unknown_device_id_is_404() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for device in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        cases.check(&format!("outbox device_id={device}"), || {
            let reply = server.outbox_reply(&user, &format!("?device_id={device}"));
            assert_eq!(reply.status, 404, "{}", reply.text());
        });
        cases.check(&format!("state device_id={device}"), || {
            let reply = server.client().post_json(
                &format!("/sandbox/state?device_id={device}"),
                user.auth(),
                &json!({}),
            );
            assert_eq!(reply.status, 404, "{}", reply.text());
        });
    }
    cases.finish();
}

#[test]
fn state_starts_connected_and_updates_only_what_is_given() {
    let (server, user) = server_and_user();
    let state = server.set_state(&user, json!({}));
    assert_eq!(
        state["connected"],
        json!(true),
        "a new device is connected: {state}"
    );
    assert_eq!(
        state["ack_delay_ms"],
        json!(0),
        "no ack delay at first: {state}"
    );
    assert_eq!(state["fail"], json!(null), "not failing at first: {state}");

    let state = server.set_state(&user, json!({ "ack_delay_ms": 25 }));
    assert_eq!(
        (&state["connected"], &state["ack_delay_ms"], &state["fail"]),
        (&json!(true), &json!(25), &json!(null)),
        "{state}"
    );
    let state = server.set_state(&user, json!({ "fail": "boom" }));
    assert_eq!(
        (&state["connected"], &state["ack_delay_ms"], &state["fail"]),
        (&json!(true), &json!(25), &json!("boom")),
        "{state}"
    );
    let state = server.set_state(&user, json!({ "connected": false }));
    assert_eq!(
        (&state["connected"], &state["ack_delay_ms"], &state["fail"]),
        (&json!(false), &json!(25), &json!("boom")),
        "{state}"
    );
    let state = server.set_state(
        &user,
        json!({ "connected": true, "fail": null, "ack_delay_ms": 0 }),
    );
    assert_eq!(
        (&state["connected"], &state["ack_delay_ms"], &state["fail"]),
        (&json!(true), &json!(0), &json!(null)),
        "{state}"
    );
    send(&server, &user, "back to normal");
}

#[test]
fn state_refuses_bad_bodies_with_400() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for body in [
        json!({ "connected": "no" }),
        json!({ "connected": 0 }),
        json!({ "ack_delay_ms": -5 }),
        json!({ "ack_delay_ms": "slow" }),
        json!({ "ack_delay_ms": 1.5 }),
        json!({ "fail": 42 }),
        json!([]),
        json!("connected"),
    ] {
        cases.check(&format!("{body}"), || {
            let reply = server
                .client()
                .post_json("/sandbox/state", user.auth(), &body);
            assert_eq!(reply.status, 400, "{}", reply.text());
        });
    }
    for raw in ["{", "", "connected=false"] {
        cases.check(&format!("raw {raw:?}"), || {
            let reply = server.post_raw(
                "/sandbox/state",
                user.auth(),
                Body::Bytes {
                    content_type: "application/json",
                    bytes: raw.as_bytes(),
                },
            );
            assert_eq!(reply.status, 400, "{}", reply.text());
        });
    }
    cases.check("state unchanged by the refused bodies", || {
        let state = server.set_state(&user, json!({}));
        assert_eq!(
            (&state["connected"], &state["ack_delay_ms"], &state["fail"]),
            (&json!(true), &json!(0), &json!(null)),
            "{state}"
        );
    });
    cases.finish();
}

#[test]
fn disconnected_device_answers_400_and_records_nothing() {
    let (server, user) = server_and_user();
    let state = server.set_connected(&user, false);
    assert_eq!(state["connected"], json!(false), "{state}");

    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    assert_eq!(
        (status, &reply),
        (400, &json!({ "error": "WhatsApp not connected" }))
    );
    assert!(server.outbox(&user).is_empty());

    server.set_connected(&user, true);
    send(&server, &user, "reconnected");
    assert_eq!(server.outbox(&user).len(), 1);
}

#[test]
fn state_belongs_to_one_device() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let bob = server.create_user(&unique("globex"), "bob");
    server.set_state(&alice, json!({ "connected": false, "fail": "alice only" }));

    let bob_state = server.set_state(&bob, json!({}));
    assert_eq!(bob_state["connected"], json!(true), "{bob_state}");
    assert_eq!(bob_state["fail"], json!(null), "{bob_state}");
    send(&server, &bob, "bob is fine");

    let (status, reply) = server.send_buttons(&alice, &example_buttons_body());
    assert_eq!(
        (status, &reply),
        (400, &json!({ "error": "WhatsApp not connected" }))
    );
}

/// Sends with an ack delay far beyond the send timeout: 500 `timeout`, answered near the timeout
/// rather than the delay, and (once the late ack is due) still nothing recorded.
fn assert_times_out(server: &Server, user: &User, ack_delay_ms: u64, answer_within: Duration) {
    server.set_state(user, json!({ "ack_delay_ms": ack_delay_ms }));
    let started = Instant::now();
    let (status, reply) = server.send_buttons(user, &example_buttons_body());
    let elapsed = started.elapsed();
    assert_eq!(
        (status, &reply),
        (
            500,
            &json!({ "error": "Failed to send buttons message: timeout" })
        )
    );
    assert!(
        elapsed < answer_within,
        "the timeout answer took {elapsed:?}; expected under {answer_within:?}"
    );
    let ack_due = Duration::from_millis(ack_delay_ms) + Duration::from_millis(500);
    if let Some(rest) = ack_due.checked_sub(started.elapsed()) {
        thread::sleep(rest);
    }
    assert!(
        server.outbox(user).is_empty(),
        "a timed-out send is not recorded, not even after its late ack"
    );
    server.set_state(user, json!({ "ack_delay_ms": 0 }));
    send(server, user, "after the timeout");
}

#[test]
fn ack_slower_than_send_timeout_env_is_500_timeout() {
    let server =
        Server::start(ServerOptions::default().env("WUTS__SESSION__SEND_TIMEOUT_MS", "300"));
    let user = server.create_user(&unique("acme"), "alice");
    assert_times_out(&server, &user, 3000, Duration::from_millis(2500));
}

#[test]
fn ack_slower_than_send_timeout_toml_is_500_timeout() {
    let server = Server::start(ServerOptions::default().send_timeout_ms(300));
    let user = server.create_user(&unique("acme"), "alice");
    assert_times_out(&server, &user, 3000, Duration::from_millis(2500));
}

#[test]
fn env_overrides_toml_send_timeout() {
    let server = Server::start(
        ServerOptions::default()
            .send_timeout_ms(60_000)
            .env("WUTS__SESSION__SEND_TIMEOUT_MS", "300"),
    );
    let user = server.create_user(&unique("acme"), "alice");
    assert_times_out(&server, &user, 3000, Duration::from_millis(2500));
}

#[test]
fn ack_delay_within_the_timeout_slows_the_send_but_it_succeeds() {
    let server = Server::start(ServerOptions::default().send_timeout_ms(5000));
    let user = server.create_user(&unique("acme"), "alice");
    server.set_state(&user, json!({ "ack_delay_ms": 600 }));
    let started = Instant::now();
    send(&server, &user, "slow but fine");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(600),
        "the send waits for the ack: answered after {elapsed:?}"
    );
    assert_eq!(server.outbox(&user).len(), 1);
}

#[test]
fn failing_device_answers_500_with_the_reason_and_recovers() {
    let (server, user) = server_and_user();
    let state = server.set_state(&user, json!({ "fail": "simulated outage" }));
    assert_eq!(state["fail"], json!("simulated outage"), "{state}");

    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    assert_eq!(
        (status, &reply),
        (
            500,
            &json!({ "error": "Failed to send buttons message: simulated outage" })
        )
    );
    assert!(
        server.outbox(&user).is_empty(),
        "a failed send is not recorded"
    );

    server.set_state(&user, json!({ "fail": null }));
    send(&server, &user, "recovered");
    assert_eq!(server.outbox(&user).len(), 1);
}

#[test]
fn failed_requests_of_every_kind_leave_the_outbox_as_it_was() {
    let (server, user) = server_and_user();
    let kept = send(&server, &user, "kept");
    let good = example_buttons_body();

    let mut bad = good.clone();
    bad["buttons"] = json!([]);
    let (status, _) = server.send_buttons(&user, &bad);
    assert_eq!(status, 400, "validation");

    let reply = server
        .client()
        .post_json("/send/buttons", Auth::Bearer("not-a-token"), &good);
    assert_eq!(reply.status, 401, "auth");

    let reply = server.post_raw(
        "/send/buttons",
        user.auth(),
        Body::Bytes {
            content_type: "application/json",
            bytes: b"{\"to\":",
        },
    );
    assert_eq!(reply.status, 400, "malformed");

    server.set_state(&user, json!({ "connected": false }));
    let (status, _) = server.send_buttons(&user, &good);
    assert_eq!(status, 400, "disconnected");

    server.set_state(&user, json!({ "connected": true, "fail": "nope" }));
    let (status, _) = server.send_buttons(&user, &good);
    assert_eq!(status, 500, "failing");

    assert_eq!(ids(&server.outbox(&user)), [&kept]);
}

#[test]
fn media_of_an_unknown_id_is_404() {
    let (server, user) = server_and_user();
    for id in [uuid::Uuid::new_v4().to_string(), "nothing-here".to_owned()] {
        let reply = server
            .client()
            .get(&format!("/sandbox/media/{id}"), user.auth());
        assert_eq!(reply.status, 404, "media {id}: {}", reply.text());
    }
}

#[test]
fn sandbox_endpoints_require_a_valid_token() {
    let (server, user) = server_and_user();
    let unknown = uuid::Uuid::new_v4().to_string();
    let mut cases = Cases::new();
    for auth in [Auth::None, Auth::Bearer(&unknown)] {
        cases.check(&format!("outbox with {auth:?}"), || {
            let reply = server.client().get("/sandbox/outbox", auth);
            assert_eq!(reply.status, 401, "{}", reply.text());
        });
        cases.check(&format!("state with {auth:?}"), || {
            let reply =
                server
                    .client()
                    .post_json("/sandbox/state", auth, &json!({ "connected": false }));
            assert_eq!(reply.status, 401, "{}", reply.text());
        });
        cases.check(&format!("media with {auth:?}"), || {
            let reply = server.client().get("/sandbox/media/anything", auth);
            assert_eq!(reply.status, 401, "{}", reply.text());
        });
    }
    cases.check(
        "the device was not disconnected by the refused calls",
        || {
            send(&server, &user, "still connected");
        },
    );
    cases.finish();
}
