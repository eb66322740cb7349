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

/// `GET /metrics` with `auth`: the status and the text.
fn scrape(server: &Server, auth: Auth<'_>) -> (u16, String) {
    let reply = server.client().get("/metrics", auth);
    (reply.status, reply.text())
}

/// The value of the first sample whose line starts with `series` (name and labels, as
/// the exporter prints them, labels in any order given as separate parts).
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter(|line| {
            line.starts_with(&format!("{name}{{")) || line.starts_with(&format!("{name} "))
        })
        .filter(|line| labels.iter().all(|label| line.contains(label)))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
}

#[test]
fn ready_says_what_it_checked() {
    let server = Server::start_default();
    let reply = server.client().get("/ready", Auth::None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    assert_eq!(
        reply.json(),
        json!({"status": "ready", "checks": {"store": "ok", "plugins": "ok"}})
    );
}

#[test]
fn metrics_count_requests_sends_jobs_devices_and_webhook_attempts() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let server =
        Server::start(ServerOptions::default().env("WUTS__FETCH__ALLOW_PRIVATE_URLS", "true"));
    let user = server.create_user(&unique("acme"), "alice");
    let (code, body) = server.post_json(
        "/webhook",
        &user.token,
        &json!({"webhook_url": format!("http://127.0.0.1:{port}/hook"), "enabled_events": ["message.sent"]}),
    );
    assert_eq!(code, 200, "{body}");
    for _ in 0..3 {
        let (code, body) = server.send_buttons(&user, &example_buttons_body());
        assert_eq!(code, 200, "{body}");
    }
    let (code, _) = server.send_buttons(&user, &json!({"to": "x"}));
    assert_eq!(code, 400);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let text = loop {
        let (code, text) = scrape(&server, Auth::None);
        assert_eq!(code, 200, "no token configured: open");
        if sample(
            &text,
            "wuts_webhook_deliveries_total",
            &["outcome=\"retry\""],
        )
        .is_some()
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let sent = sample(
        &text,
        "wuts_http_requests_total",
        &["route=\"/send/buttons\"", "status=\"200\""],
    );
    assert_eq!(sent, Some(3.0), "{text}");
    let refused = sample(
        &text,
        "wuts_http_requests_total",
        &["route=\"/send/buttons\"", "status=\"400\""],
    );
    assert_eq!(refused, Some(1.0), "{text}");
    assert_eq!(
        sample(&text, "wuts_send_acks_total", &["outcome=\"acked\""]),
        Some(3.0),
        "{text}"
    );
    assert!(
        sample(
            &text,
            "wuts_http_request_duration_seconds_count",
            &["route=\"/send/buttons\""]
        )
        .unwrap_or(0.0)
            >= 4.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "wuts_plugin_call_seconds_count",
            &["plugin=\"buttons\""]
        )
        .unwrap_or(0.0)
            >= 3.0,
        "{text}"
    );
    assert!(
        sample(
            &text,
            "wuts_webhook_deliveries_total",
            &["outcome=\"retry\""]
        )
        .unwrap_or(0.0)
            >= 1.0,
        "{text}"
    );
    assert!(
        sample(&text, "wuts_webhook_outbox_depth", &[]).unwrap_or(0.0) >= 1.0,
        "{text}"
    );
    assert_eq!(
        sample(&text, "wuts_devices", &["state=\"connected\""]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wuts_devices_stored", &[]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, "wuts_jobs", &["status=\"processing\""]),
        Some(0.0),
        "{text}"
    );
    assert!(
        !text.contains(&user.tenant) && !text.contains(&user.user_id),
        "no tenant or user in labels"
    );
}

#[test]
fn metrics_take_the_metrics_token_or_the_master_token_when_one_is_set() {
    let server = Server::start(
        ServerOptions::default()
            .env("WUTS__METRICS__TOKEN", "scraper-secret-0123456789")
            .env("WUTS__ADMIN__MASTER_TOKEN", "master-secret-0123456789"),
    );
    let user = server.create_user(&unique("acme"), "alice");
    assert_eq!(scrape(&server, Auth::None).0, 401);
    assert_eq!(scrape(&server, Auth::Bearer("wrong")).0, 401);
    assert_eq!(
        scrape(&server, user.auth()).0,
        401,
        "a user's token is not enough"
    );
    let (code, text) = scrape(&server, Auth::Bearer("scraper-secret-0123456789"));
    assert_eq!(code, 200);
    assert!(text.contains("wuts_http_requests_total"), "{text}");
    assert_eq!(
        scrape(&server, Auth::Bearer("master-secret-0123456789")).0,
        200
    );
}
