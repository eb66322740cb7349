//! Authentication on the legacy routes, and that secrets and message text never reach the logs.

use serde_json::json;
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::{
    Auth, Body, PHONE, Server, ServerOptions, User, buttons_body, example_buttons_body, unique,
};

fn server_and_user() -> (Server, User) {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    (server, user)
}

#[track_caller]
fn assert_unauthorized(server: &Server, auth: Auth<'_>) {
    let reply = server
        .client()
        .post_json("/send/buttons", auth, &example_buttons_body());
    assert_eq!(
        (reply.status, reply.json_or_text()),
        (401, json!({ "error": "unauthorized" })),
        "Authorization {auth:?}"
    );
}

#[test]
fn missing_or_unknown_tokens_are_401_unauthorized() {
    let (server, user) = server_and_user();
    let unknown = uuid::Uuid::new_v4().to_string();
    let longer = format!("{}0", user.token);
    let shorter = user.token[..user.token.len() - 1].to_owned();
    let mut cases = Cases::new();
    cases.check("no Authorization header", || {
        assert_unauthorized(&server, Auth::None);
    });
    let headers = [
        String::new(),
        "Bearer".to_owned(),
        "Bearer ".to_owned(),
        "Bearer garbage".to_owned(),
        format!("Bearer {unknown}"),
        unknown.clone(),
        format!("Bearer {longer}"),
        format!("Bearer {shorter}"),
        format!("Bearer {} {}", user.token, user.token),
    ];
    for header in &headers {
        cases.check(&format!("Authorization: {header:?}"), || {
            assert_unauthorized(&server, Auth::Raw(header));
        });
    }
    cases.check("outbox unchanged", || {
        assert!(server.outbox(&user).is_empty());
    });
    cases.finish();
}

#[test]
fn other_schemes_are_401_unauthorized() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for scheme in ["Basic", "Token", "Digest", "Bearer:"] {
        let header = format!("{scheme} {}", user.token);
        cases.check(&header.clone(), || {
            assert_unauthorized(&server, Auth::Raw(&header));
        });
    }
    cases.check("outbox unchanged", || {
        assert!(server.outbox(&user).is_empty());
    });
    cases.finish();
}

#[test]
fn bearer_scheme_is_case_insensitive_and_a_bare_token_is_accepted() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for header in [
        format!("Bearer {}", user.token),
        format!("bearer {}", user.token),
        format!("BEARER {}", user.token),
        format!("bEaReR {}", user.token),
        user.token.clone(),
    ] {
        cases.check(&header.clone(), || {
            let reply = server.client().post_json(
                "/send/buttons",
                Auth::Raw(&header),
                &buttons_body(PHONE, "hi", &[("a", "A")]),
            );
            checks::buttons_success(reply.status, &reply.json_or_text());
        });
    }
    cases.check("five sends recorded", || {
        assert_eq!(server.outbox(&user).len(), 5);
    });
    cases.finish();
}

#[test]
fn authentication_comes_before_reading_the_body() {
    let (server, user) = server_and_user();
    let mut cases = Cases::new();
    for (name, body) in [
        ("malformed JSON", &b"{\"to\":"[..]),
        ("invalid request", &b"{\"buttons\": 5}"[..]),
        ("empty body", &b""[..]),
    ] {
        cases.check(name, || {
            let reply = server.post_raw(
                "/send/buttons",
                Auth::None,
                Body::Bytes {
                    content_type: "application/json",
                    bytes: body,
                },
            );
            assert_eq!(
                (reply.status, reply.json_or_text()),
                (401, json!({ "error": "unauthorized" }))
            );
        });
    }
    cases.check("outbox unchanged", || {
        assert!(server.outbox(&user).is_empty());
    });
    cases.finish();
}

#[test]
fn each_token_sends_as_its_own_user_only() {
    let server = Server::start_default();
    let alice = server.create_user(&unique("acme"), "alice");
    let bob = server.create_user(&unique("globex"), "bob");
    assert_ne!(alice.token, bob.token);

    let (status, reply) =
        server.send_buttons(&alice, &buttons_body(PHONE, "from alice", &[("a", "A")]));
    let alice_id = checks::buttons_success(status, &reply);
    let (status, reply) =
        server.send_buttons(&bob, &buttons_body(PHONE, "from bob", &[("b", "B")]));
    let bob_id = checks::buttons_success(status, &reply);

    let alice_outbox = server.outbox(&alice);
    let bob_outbox = server.outbox(&bob);
    assert_eq!(alice_outbox.len(), 1, "{alice_outbox:?}");
    assert_eq!(bob_outbox.len(), 1, "{bob_outbox:?}");
    assert_eq!(alice_outbox[0]["message_id"], json!(alice_id));
    assert_eq!(bob_outbox[0]["message_id"], json!(bob_id));
    assert!(
        !serde_json::to_string(&bob_outbox)
            .unwrap()
            .contains("from alice")
    );
    assert!(
        !serde_json::to_string(&alice_outbox)
            .unwrap()
            .contains("from bob")
    );
}

/// Drives a server through successes and every kind of failure with recognisable secrets in the
/// token and the text, stops it, and checks that neither its stderr nor its stdout holds them.
fn assert_logs_keep_secrets(options: ServerOptions) {
    let mut server = Server::start(options);
    let user = server.create_user(&unique("acme"), "alice");
    let marker = uuid::Uuid::new_v4().simple().to_string();
    let message = format!("secret message {marker}");
    let footer = format!("secret footer {}", &marker[..8]);
    let display = format!("dt{}", &marker[..12]);
    let unknown_token = uuid::Uuid::new_v4().to_string();

    let mut body = buttons_body(PHONE, &message, &[("choice", display.as_str())]);
    body["footer"] = json!(footer);
    let (status, reply) = server.send_buttons(&user, &body);
    checks::buttons_success(status, &reply);

    let mut too_many = buttons_body(
        PHONE,
        &message,
        &[("a", "A"), ("b", "B"), ("c", "C"), ("d", "D")],
    );
    too_many["footer"] = json!(footer);
    let (status, _) = server.send_buttons(&user, &too_many);
    assert_eq!(status, 400);
    let (status, _) = server.send_buttons(
        &user,
        &buttons_body(
            PHONE,
            &format!("{message}{}", "x".repeat(1100)),
            &[("a", "A")],
        ),
    );
    assert_eq!(status, 400);
    let reply = server
        .client()
        .post_json("/send/buttons", Auth::Bearer(&unknown_token), &body);
    assert_eq!(reply.status, 401);
    server.set_state(&user, json!({ "fail": "outage" }));
    let (status, _) = server.send_buttons(&user, &body);
    assert_eq!(status, 500);
    server.set_state(&user, json!({ "fail": null, "connected": false }));
    let (status, _) = server.send_buttons(&user, &body);
    assert_eq!(status, 400);

    let exit = server.stop();
    assert!(exit.success(), "graceful exit: {exit:?}");
    let logs = server.logs();
    let stdout = server.stdout();
    assert!(
        !logs.trim().is_empty(),
        "the server logs something to stderr"
    );
    for (what, secret) in [
        ("the user's token", user.token.as_str()),
        ("an unknown token that was tried", unknown_token.as_str()),
        ("the message text", message.as_str()),
        ("the footer", footer.as_str()),
        ("a button's display text", display.as_str()),
    ] {
        for (stream, text) in [("stderr", &logs), ("stdout", &stdout)] {
            if let Some(line) = text.lines().find(|l| l.contains(secret)) {
                panic!("{what} appears on {stream}: {line}");
            }
        }
    }
}

#[test]
fn logs_never_contain_tokens_or_message_text() {
    assert_logs_keep_secrets(ServerOptions::default());
}

#[test]
fn debug_logs_never_contain_tokens_or_message_text() {
    assert_logs_keep_secrets(ServerOptions::default().env("RUST_LOG", "debug"));
}
