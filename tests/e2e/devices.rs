//! The device and pairing routes under the sandbox driver: `POST /devices`, `GET /devices`,
//! `GET /status`, `GET /qr`, `GET /qr/status`, `POST /paircode`, `POST /connect`,
//! `POST /disconnect`; device selection, tenant isolation, and `wuts pair`.

use serde_json::{Value, json};
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{Auth, Body, PHONE, Server, User, buttons_body, unique};

/// Asserts a standard-envelope error with `status` and `error_code`; returns the text.
#[track_caller]
fn standard_error(status: u16, body: &Value, expected: u16, code: &str) -> String {
    assert_eq!(
        status, expected,
        "expected {expected}, got {status}: {body}"
    );
    assert_eq!(body["success"], json!(false), "{body}");
    assert_eq!(body["error_code"], json!(code), "{body}");
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    let text = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(!text.is_empty(), "{body}");
    text
}

fn devices(server: &Server, user: &User) -> Vec<Value> {
    let (status, body) = server.get("/devices", &user.token);
    assert_eq!(status, 200, "GET /devices: {body}");
    assert_eq!(body["success"], json!(true), "{body}");
    body["devices"]
        .as_array()
        .unwrap_or_else(|| panic!("devices is an array: {body}"))
        .clone()
}

fn create_device(server: &Server, user: &User, body: &Value) -> Value {
    let (status, reply) = server.post_json("/devices", &user.token, body);
    assert_eq!(status, 201, "POST /devices {body}: {reply}");
    assert_eq!(reply["success"], json!(true), "{reply}");
    reply["device"].clone()
}

fn send_from(server: &Server, user: &User, device_id: Option<&str>) -> (u16, Value) {
    let path = match device_id {
        Some(id) => format!("/send/buttons?device_id={id}"),
        None => "/send/buttons".to_owned(),
    };
    server.post_json(
        &path,
        &user.token,
        &buttons_body(PHONE, "hello", &[("a", "A")]),
    )
}

#[test]
fn devices_are_created_listed_and_report_their_status() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");

    let listed = devices(&server, &alice);
    assert_eq!(
        listed.len(),
        1,
        "a new user has its default device: {listed:?}"
    );
    assert_eq!(listed[0]["id"], json!(alice.device_id));
    assert_eq!(listed[0]["is_default"], json!(true));
    assert_eq!(
        listed[0]["connected"],
        json!(true),
        "the sandbox is connected"
    );
    assert_eq!(listed[0]["state"], json!("connected"));

    let shop = create_device(&server, &alice, &json!({ "name": "  Shop phone " }));
    let id = shop["id"]
        .as_str()
        .expect("the device has an id")
        .to_owned();
    assert_eq!(shop["name"], json!("Shop phone"), "names are trimmed");
    assert_eq!(shop["connected"], json!(true));
    checks::recent_timestamp(shop["created_at"].as_str().expect("created_at"));
    let unnamed = create_device(&server, &alice, &json!({}));
    assert!(
        unnamed["name"].as_str().is_some_and(|n| !n.is_empty()),
        "a device gets a name: {unnamed}"
    );
    let empty_body = server.post_raw("/devices", alice.auth(), Body::Empty);
    assert_eq!(empty_body.status, 201, "{}", empty_body.text());

    let listed = devices(&server, &alice);
    let ids: Vec<&str> = listed.iter().filter_map(|d| d["id"].as_str()).collect();
    assert_eq!(ids.len(), 4, "{listed:?}");
    assert_eq!(ids[0], alice.device_id, "the default device comes first");
    assert!(ids.contains(&id.as_str()), "{listed:?}");

    let (status, body) = server.get(&format!("/status?device_id={id}"), &alice.token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["device_id"], json!(id));
    assert_eq!(body["connected"], json!(true));
    assert_eq!(body["logged_in"], json!(true));
    assert_eq!(body["state"], json!("connected"));
    assert_eq!(body["driver"], json!("sandbox"));
    assert_eq!(body["last_error"], Value::Null);
    assert!(
        body["jid"]
            .as_str()
            .is_some_and(|j| j.ends_with("@s.whatsapp.net")),
        "{body}"
    );

    let (status, body) = server.get("/status", &alice.token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["device_id"],
        json!(alice.device_id),
        "the default device"
    );

    let (status, body) = server.get(&format!("/qr/status?device_id={id}"), &alice.token);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["paired"],
        json!(true),
        "the sandbox is always paired: {body}"
    );
    assert_eq!(body["connected"], json!(true));
    assert_eq!(body["device_id"], json!(id));
}

#[test]
fn pairing_a_sandbox_device_is_refused_as_already_connected() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let (status, body) = server.get("/qr", &alice.token);
    let text = standard_error(status, &body, 400, "ALREADY_CONNECTED");
    assert_eq!(text, "already connected");
    let (status, body) = server.post_json("/paircode", &alice.token, &json!({ "phone": PHONE }));
    standard_error(status, &body, 400, "ALREADY_CONNECTED");
}

#[test]
fn bad_bodies_are_refused_naming_the_field() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let mut cases = Cases::new();
    for (path, body, field) in [
        ("/devices", json!({ "name": 5 }), "name"),
        ("/devices", json!({ "name": "" }), "name"),
        ("/paircode", json!({}), "phone"),
        ("/paircode", json!({ "phone": "12" }), "phone"),
        ("/paircode", json!({ "phone": "55 11 9999x9999" }), "phone"),
    ] {
        cases.check(&format!("{path} {body}"), || {
            let (status, reply) = server.post_json(path, &alice.token, &body);
            let text = standard_error(status, &reply, 400, "VALIDATION_ERROR");
            assert!(checks::names_field(&text, field), "{text}");
            assert_eq!(reply["validation"][0]["field"], json!(field), "{reply}");
        });
    }
    for path in ["/devices", "/connect", "/paircode"] {
        cases.check(&format!("{path} malformed"), || {
            let reply = server.post_raw(
                path,
                alice.auth(),
                Body::Bytes {
                    content_type: "application/json",
                    bytes: b"{\"name\":",
                },
            );
            standard_error(reply.status, &reply.json(), 400, "VALIDATION_ERROR");
        });
        cases.check(&format!("{path} too large"), || {
            let big = format!("{{\"name\":\"{}\"}}", "x".repeat(20 * 1024));
            let reply = server.post_raw(
                path,
                alice.auth(),
                Body::Bytes {
                    content_type: "application/json",
                    bytes: big.as_bytes(),
                },
            );
            assert_eq!(reply.status, 413, "{}", reply.text());
        });
    }
    cases.finish();
}

#[test]
fn connect_and_disconnect_toggle_sends() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let second = create_device(&server, &alice, &json!({ "name": "second" }));
    let second_id = second["id"].as_str().expect("an id").to_owned();

    let (status, body) = server.post_json("/disconnect", &alice.token, &json!({}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], json!(true));
    assert_eq!(body["device_id"], json!(alice.device_id));
    assert_eq!(body["state"], json!("disconnected"));
    let (status, body) = send_from(&server, &alice, None);
    let text = checks::legacy_error(status, &body, 400);
    assert_eq!(text, "WhatsApp not connected");
    let (status, body) = server.get("/status", &alice.token);
    assert_eq!(body["connected"], json!(false), "{status} {body}");
    assert!(
        body["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{body}"
    );
    // The other device is not affected.
    let (status, body) = send_from(&server, &alice, Some(&second_id));
    checks::buttons_success(status, &body);

    let reply = server.post_raw("/connect", alice.auth(), Body::Empty);
    let (status, body) = (reply.status, reply.json_or_text());
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], json!("connected"));
    let (status, body) = send_from(&server, &alice, None);
    checks::buttons_success(status, &body);

    // device_id in the body picks the device.
    let (status, body) = server.post_json(
        "/disconnect",
        &alice.token,
        &json!({ "device_id": second_id }),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["device_id"], json!(second_id));
    let (status, body) = send_from(&server, &alice, Some(&second_id));
    assert_eq!(
        checks::legacy_error(status, &body, 400),
        "WhatsApp not connected"
    );
    let (status, body) = server.post_json(
        &format!("/connect?device_id={second_id}"),
        &alice.token,
        &json!({}),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = send_from(&server, &alice, Some(&second_id));
    checks::buttons_success(status, &body);
}

#[test]
fn other_users_and_tenants_get_404_for_a_device_that_is_not_theirs() {
    let server = Server::start_default();
    let tenant = unique("acme");
    let alice = server.create_user(&tenant, "alice");
    let carol = server.create_user(&tenant, "carol");
    let mallory = server.create_user(&unique("evil"), "mallory");
    let shop = create_device(&server, &alice, &json!({ "name": "shop" }));
    let shop_id = shop["id"].as_str().expect("an id").to_owned();

    let mut cases = Cases::new();
    for other in [&carol, &mallory] {
        for device in [&alice.device_id, &shop_id] {
            for path in ["/status", "/qr", "/qr/status"] {
                cases.check(&format!("{} GET {path} {device}", other.name), || {
                    let (status, body) =
                        server.get(&format!("{path}?device_id={device}"), &other.token);
                    standard_error(status, &body, 404, "NOT_FOUND");
                });
            }
            for path in ["/connect", "/disconnect", "/paircode"] {
                cases.check(&format!("{} POST {path} {device}", other.name), || {
                    let (status, body) = server.post_json(
                        path,
                        &other.token,
                        &json!({ "device_id": device, "phone": PHONE }),
                    );
                    standard_error(status, &body, 404, "NOT_FOUND");
                });
            }
        }
        cases.check(&format!("{} lists only its own", other.name), || {
            let listed = devices(&server, other);
            assert_eq!(listed.len(), 1, "{listed:?}");
            assert_eq!(listed[0]["id"], json!(other.device_id));
        });
    }
    cases.check("the owner still sends", || {
        let (status, body) = send_from(&server, &alice, Some(&shop_id));
        checks::buttons_success(status, &body);
    });
    cases.finish();
}

#[test]
fn device_routes_need_a_token() {
    let server = Server::start_default();
    let mut cases = Cases::new();
    for path in ["/devices", "/status", "/qr", "/qr/status"] {
        cases.check(&format!("GET {path}"), || {
            let reply = server.client().get(path, Auth::None);
            standard_error(reply.status, &reply.json(), 401, "UNAUTHORIZED");
        });
    }
    for path in ["/devices", "/paircode", "/connect", "/disconnect"] {
        cases.check(&format!("POST {path}"), || {
            let reply = server.post_raw(path, Auth::None, Body::Empty);
            standard_error(reply.status, &reply.json(), 401, "UNAUTHORIZED");
        });
    }
    cases.finish();
}

#[test]
fn wuts_pair_reports_a_paired_device_and_exits_0() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let done = server.setup().cli(
        &["pair"],
        &["--url", server.base_url(), "--token", &alice.token],
    );
    assert!(
        done.success(),
        "{:?}\n{}\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    assert!(done.stdout.contains("already paired"), "{}", done.stdout);
    assert!(done.stdout.contains(&alice.device_id), "{}", done.stdout);

    // The token from the environment, and another device.
    let shop = create_device(&server, &alice, &json!({ "name": "shop" }));
    let shop_id = shop["id"].as_str().expect("an id");
    let mut command = server.setup().command(&["pair"]);
    command
        .args(["--url", server.base_url(), "--device", shop_id])
        .env("WUTS_TOKEN", &alice.token);
    let done = wuts_e2e::process::run(command, wuts_e2e::server::CLI_TIMEOUT);
    assert!(
        done.success(),
        "{:?}\n{}\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    assert!(done.stdout.contains(shop_id), "{}", done.stdout);

    // Someone else's device, a bad token, no token, no URL to guess.
    let mallory = server.create_user(&unique("evil"), "mallory");
    let done = server.setup().cli(
        &["pair"],
        &[
            "--url",
            server.base_url(),
            "--token",
            &mallory.token,
            "--device",
            shop_id,
        ],
    );
    assert!(!done.success());
    assert!(done.stderr.contains("404"), "{}", done.stderr);
    let done = server.setup().cli(
        &["pair"],
        &[
            "--url",
            server.base_url(),
            "--token",
            &uuid::Uuid::new_v4().to_string(),
        ],
    );
    assert!(!done.success());
    assert!(done.stderr.contains("401"), "{}", done.stderr);
    let mut command = server.setup().command(&["pair"]);
    command
        .args(["--url", server.base_url()])
        .env_remove("WUTS_TOKEN");
    let done = wuts_e2e::process::run(command, wuts_e2e::server::CLI_TIMEOUT);
    assert!(!done.success());
    assert!(done.stderr.contains("WUTS_TOKEN"), "{}", done.stderr);
    let done = server.setup().cli(&["pair"], &["--token", &alice.token]);
    assert!(!done.success());
    assert!(
        done.stderr.contains("--url"),
        "port 0 in the config: {}",
        done.stderr
    );
}
