//! What operators rely on (docs/API.md, "Operations"): request ids and the access line,
//! JSON logs.

use serde_json::{Value, json};
use wuts_e2e::{Auth, Server, ServerOptions, example_buttons_body, unique};

/// The access lines the server wrote so far (text format).
fn access_lines(server: &Server) -> Vec<String> {
    server
        .logs()
        .lines()
        .filter(|line| line.contains("wuts::access"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_answer_carries_a_request_id_the_client_may_choose() {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let chosen = server.client().get_with(
        "/devices",
        user.auth(),
        &[("X-Request-Id", "order-42.retry_1")],
    );
    assert_eq!(chosen.status, 200);
    assert_eq!(chosen.request_id.as_deref(), Some("order-42.retry_1"));
    for insane in ["has spaces", "semi;colon", &"x".repeat(65)] {
        let reply = server
            .client()
            .get_with("/devices", user.auth(), &[("X-Request-Id", insane)]);
        let id = reply.request_id.expect("a request id");
        assert_ne!(id, insane);
        assert_eq!(id.len(), 32, "{id}");
    }
    let unauthorized = server.client().get("/devices", Auth::None);
    assert_eq!(unauthorized.status, 401);
    assert!(unauthorized.request_id.is_some(), "errors carry one too");
    let unknown = server.client().get("/no/such/route", Auth::None);
    assert_eq!(unknown.status, 404);
    assert!(unknown.request_id.is_some());
}

#[test]
fn each_request_has_one_access_line_with_id_route_tenant_status_and_latency() {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let tenant = server
        .get(&format!("/users/{}", user.user_id), &user.token)
        .1["data"]["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = example_buttons_body();
    let bytes = serde_json::to_vec(&body).unwrap();
    let mut request =
        server
            .client()
            .get_with("/devices", user.auth(), &[("X-Request-Id", "probe-one")]);
    assert_eq!(request.status, 200);
    let sent = server.client().post(
        "/send/buttons",
        user.auth(),
        wuts_e2e::Body::Bytes {
            content_type: "application/json",
            bytes: &bytes,
        },
    );
    assert_eq!(sent.status, 200, "{}", sent.text());
    let sent_id = sent.request_id.clone().unwrap();
    request = server.client().get("/devices", Auth::Bearer("not-a-token"));
    assert_eq!(request.status, 401);
    let refused_id = request.request_id.clone().unwrap();
    assert!(server.wait_for_log(&refused_id, std::time::Duration::from_secs(5)));

    let lines = access_lines(&server);
    let line_of = |id: &str| -> String {
        let found: Vec<&String> = lines
            .iter()
            .filter(|line| line.contains(&format!("request_id={id}")))
            .collect();
        assert_eq!(found.len(), 1, "one line for {id}: {lines:#?}");
        found[0].clone()
    };
    let probe = line_of("probe-one");
    for part in [
        "method=GET",
        "route=\"/devices\"",
        "status=200",
        "latency_ms=",
    ] {
        assert!(probe.contains(part), "{part} in {probe}");
    }
    assert!(
        probe.contains(&format!("tenant=\"{tenant}\""))
            || probe.contains(&format!("tenant={tenant}")),
        "{probe}"
    );
    let send = line_of(&sent_id);
    assert!(
        send.contains("route=\"/send/buttons\"") && send.contains("status=200"),
        "{send}"
    );
    let refused = line_of(&refused_id);
    assert!(refused.contains("status=401"), "{refused}");
    assert!(
        refused.contains("tenant=\"-\"") || refused.contains("tenant=-"),
        "{refused}"
    );
    let logs = server.logs();
    assert!(!logs.contains(&user.token), "no token in the logs");
    assert!(!logs.contains("not-a-token"), "not even a wrong one");
    assert!(
        !logs.contains("How would you like to proceed"),
        "no message text in the logs"
    );
}

#[test]
fn json_logs_are_one_object_a_line() {
    let server = Server::start(ServerOptions::default().env("WUTS__LOG__FORMAT", "json"));
    let user = server.create_user(&unique("acme"), "alice");
    let reply =
        server
            .client()
            .get_with("/devices", user.auth(), &[("X-Request-Id", "json-probe")]);
    assert_eq!(reply.status, 200);
    assert!(server.wait_for_log("json-probe", std::time::Duration::from_secs(5)));
    let mut access = None;
    for line in server.logs().lines().filter(|line| !line.trim().is_empty()) {
        let object: Value =
            serde_json::from_str(line).unwrap_or_else(|error| panic!("not JSON ({error}): {line}"));
        if object["request_id"] == json!("json-probe") {
            access = Some(object);
        }
    }
    let access = access.expect("the access line");
    assert_eq!(access["target"], json!("wuts::access"));
    assert_eq!(access["route"], json!("/devices"));
    assert_eq!(access["status"], json!(200));
    assert_eq!(access["method"], json!("GET"));
}
