//! The `wuts` command line: users, the listening line, the config flag, graceful shutdown.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wuts_e2e::checks;
use wuts_e2e::{PHONE, Server, ServerOptions, Setup, buttons_body, example_buttons_body, unique};

#[test]
fn users_create_json_prints_the_documented_object() {
    let setup = Setup::new(ServerOptions::default());
    let tenant = unique("acme");
    let done = setup.cli(
        &["users", "create"],
        &["--tenant", &tenant, "--name", "Alice Example", "--json"],
    );
    assert!(done.success(), "{:?}\n{}", done.status, done.stderr);
    let lines: Vec<&str> = done
        .stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(
        lines.len(),
        1,
        "one JSON object on one line: {:?}",
        done.stdout
    );
    let user: Value = serde_json::from_str(lines[0]).expect("stdout is JSON");
    let object = user.as_object().expect("a JSON object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["device_id", "name", "role", "tenant", "token", "user_id"],
        "{user}"
    );
    assert_eq!(user["tenant"], json!(tenant));
    assert_eq!(user["name"], json!("Alice Example"));
    assert_eq!(user["role"], json!("user"), "the default role");
    for key in ["user_id", "device_id"] {
        assert!(
            user[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} is a non-empty string: {user}"
        );
    }
    let token = user["token"].as_str().expect("token is a string");
    let parsed = uuid::Uuid::parse_str(token).expect("the token is a UUID");
    assert_eq!(
        parsed.get_version_num(),
        4,
        "the token is a UUID v4: {token}"
    );
    assert_eq!(token, parsed.hyphenated().to_string(), "canonical form");
    assert!(
        !done.stderr.contains(token),
        "the token is printed once, on stdout only"
    );

    // Same tenant again: a second user with its own token and device.
    let bob = setup.create_user(&tenant, "bob");
    assert_eq!(bob.tenant, tenant);
    assert_ne!(bob.token, token);
    assert_ne!(bob.user_id, user["user_id"].as_str().unwrap());
    assert_ne!(bob.device_id, user["device_id"].as_str().unwrap());
}

#[test]
fn users_create_accepts_the_three_roles_and_refuses_others() {
    let setup = Setup::new(ServerOptions::default());
    let tenant = unique("acme");
    for role in ["admin", "manager", "user"] {
        let user = setup.create_user_with_role(&tenant, role, Some(role));
        assert_eq!(user.role, role, "{}", user.raw);
    }
    let done = setup.cli(
        &["users", "create"],
        &[
            "--tenant", &tenant, "--name", "x", "--role", "overlord", "--json",
        ],
    );
    assert!(
        !done.success(),
        "an unknown role is refused: {}",
        done.stdout
    );
    assert!(
        !done.stdout.contains("token"),
        "no user was made: {}",
        done.stdout
    );
}

#[test]
fn users_list_shows_users_but_never_tokens() {
    let setup = Setup::new(ServerOptions::default());
    let alice = setup.create_user(&unique("acme"), "alice-lister");
    let bob = setup.create_user(&unique("globex"), "bob-lister");
    let done = setup.cli(&["users", "list"], &[]);
    assert!(done.success(), "{:?}\n{}", done.status, done.stderr);
    for user in [&alice, &bob] {
        assert!(
            done.stdout.contains(&user.name),
            "lists {}:\n{}",
            user.name,
            done.stdout
        );
        assert!(
            !done.stdout.contains(&user.token) && !done.stderr.contains(&user.token),
            "`users list` never shows a token"
        );
    }
}

#[test]
fn users_made_before_the_server_starts_can_send() {
    let setup = Setup::new(ServerOptions::default());
    let user = setup.create_user(&unique("acme"), "early");
    assert!(setup.store_path().is_file(), "the CLI created the store");
    let server = setup.start();
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
}

#[test]
fn serve_prints_exactly_the_listening_line_and_creates_the_store() {
    let mut server = Server::start_default();
    assert!(
        server.setup().store_path().is_file(),
        "the SQLite file is created, with its folder, on first start"
    );
    // Exit codes are the shutdown tests' business; stopping here only ends stdout.
    server.stop();
    let stdout = server.stdout();
    let expected = format!("wuts listening on {}\n", server.base_url());
    assert_eq!(
        stdout, expected,
        "stdout holds the listening line and nothing else"
    );
    let port: u16 = server
        .base_url()
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL");
    assert_ne!(port, 0, "the real port, not the configured 0");
}

#[test]
fn config_flag_may_come_before_the_subcommand() {
    let options = ServerOptions::default().config_before_subcommand();
    let setup = Setup::new(options);
    let user = setup.create_user(&unique("acme"), "alice");
    let server = setup.start();
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
}

#[test]
fn sigterm_shuts_down_gracefully_with_exit_code_0() {
    let mut server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
    let started = Instant::now();
    let exit = server.stop_with(libc::SIGTERM);
    assert_eq!(exit.code(), Some(0), "SIGTERM exits 0: {exit:?}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
}

#[test]
fn sigint_shuts_down_gracefully_with_exit_code_0() {
    let mut server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
    let exit = server.stop_with(libc::SIGINT);
    assert_eq!(exit.code(), Some(0), "SIGINT exits 0: {exit:?}");
}

#[test]
fn a_signal_right_after_the_listening_line_still_shuts_down_gracefully() {
    // The listening line tells a supervisor the server is up; a stop it sends at once must be
    // handled like any other, not meet the default action of a signal not yet handled.
    let mut outcomes = Vec::new();
    for signal in [libc::SIGTERM, libc::SIGINT] {
        for _ in 0..3 {
            let mut server = Server::start_default();
            outcomes.push((signal, server.stop_with(signal)));
        }
    }
    let bad: Vec<_> = outcomes
        .iter()
        .filter(|(_, exit)| exit.code() != Some(0))
        .collect();
    assert!(
        bad.is_empty(),
        "signalled at once after `wuts listening on`, these did not exit 0: {bad:?}"
    );
}

#[test]
fn sigterm_lets_a_request_in_flight_finish() {
    let mut server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    server.set_state(&user, json!({ "ack_delay_ms": 1500 }));
    let client = server.client().clone();
    let token = user.token.clone();
    let in_flight = thread::spawn(move || {
        client.post_json(
            "/send/buttons",
            wuts_e2e::Auth::Bearer(&token),
            &buttons_body(PHONE, "in flight", &[("a", "A")]),
        )
    });
    thread::sleep(Duration::from_millis(500));
    let exit = server.stop_with(libc::SIGTERM);
    let reply = in_flight.join().expect("the request thread");
    assert_eq!(exit.code(), Some(0), "{exit:?}");
    checks::buttons_success(reply.status, &reply.json_or_text());
}

#[test]
fn users_and_tokens_survive_a_restart() {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);

    let setup = server.into_setup();
    let server = setup.start();
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
    let listed = server.setup().cli(&["users", "list"], &[]);
    assert!(listed.success(), "{}", listed.stderr);
    assert!(listed.stdout.contains("alice"), "{}", listed.stdout);
}

#[test]
fn tokens_are_not_stored_in_plain_text() {
    let server = Server::start_default();
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &example_buttons_body());
    checks::buttons_success(status, &reply);
    let store_dir = server
        .setup()
        .store_path()
        .parent()
        .expect("the store has a folder")
        .to_path_buf();
    let simple = user.token.replace('-', "");
    let raw = uuid::Uuid::parse_str(&user.token).expect("a UUID token");
    let mut files = 0;
    for entry in std::fs::read_dir(&store_dir).expect("the store folder exists") {
        let path = entry.expect("an entry").path();
        let bytes = std::fs::read(&path).expect("a readable store file");
        files += 1;
        let upper = user.token.to_uppercase();
        for form in [
            user.token.as_bytes(),
            simple.as_bytes(),
            upper.as_bytes(),
            raw.as_bytes(),
        ] {
            assert!(
                !bytes.windows(form.len()).any(|w| w == form),
                "{} holds the token (as {form:?}) in plain text",
                path.display()
            );
        }
    }
    assert!(files > 0, "the store folder has the database");
}
