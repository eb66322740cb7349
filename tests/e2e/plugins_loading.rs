//! Dropping plugins in: a copied library serves with no rebuild, incompatible and broken ones
//! are refused while the rest serve, a panicking plugin cannot take the server down, and
//! `[routes]` switches routes off.

use std::fs;

use serde_json::json;
use wuts_e2e::checks::{self, Cases};
use wuts_e2e::locate::{self, BUTTONS_LIBRARY, INCOMPATIBLE_LIBRARY, PANICKING_LIBRARY};
use wuts_e2e::{
    PHONE, PluginDir, PluginFile, Server, ServerOptions, Setup, User, buttons_body, unique,
};

/// Bytes that are no shared library at all.
fn junk_bytes() -> Vec<u8> {
    (0..256)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect()
}

#[track_caller]
fn assert_buttons_serve(server: &Server, user: &User) -> String {
    let (status, reply) = server.send_buttons(user, &buttons_body(PHONE, "hi", &[("a", "A")]));
    checks::buttons_success(status, &reply)
}

/// The stderr lines that report `file_name` as refused: `plugin refused:` then the path.
fn refusal_lines<'a>(logs: &'a str, file_name: &str) -> Vec<&'a str> {
    logs.lines()
        .filter(|line| {
            line.find("plugin refused:")
                .is_some_and(|at| line[at..].contains(file_name))
        })
        .collect()
}

/// A real shared library that is no plugin: the C maths library, present wherever glibc is.
fn non_plugin_library() -> Vec<u8> {
    let candidates = [
        "/lib/x86_64-linux-gnu/libm.so.6",
        "/usr/lib/x86_64-linux-gnu/libm.so.6",
        "/lib/aarch64-linux-gnu/libm.so.6",
        "/usr/lib/aarch64-linux-gnu/libm.so.6",
        "/lib64/libm.so.6",
        "/usr/lib64/libm.so.6",
    ];
    candidates
        .iter()
        .find_map(|path| fs::read(path).ok())
        .unwrap_or_else(|| panic!("no libm.so.6 found in {candidates:?}"))
}

/// The broken libraries [`buttons_with_broken_neighbours`] puts beside buttons.
const BROKEN: [&str; 3] = [INCOMPATIBLE_LIBRARY, "libjunk.so", "libnotaplugin.so"];

/// A fresh plugin folder with buttons, the incompatible fixture, a file of random bytes and a
/// shared library that is no plugin, all named in the config.
fn buttons_with_broken_neighbours() -> ServerOptions {
    ServerOptions::default()
        .plugin_dir(PluginDir::Fresh(vec![
            PluginFile::copy(BUTTONS_LIBRARY),
            PluginFile::copy(INCOMPATIBLE_LIBRARY),
            PluginFile::bytes("libjunk.so", junk_bytes()),
            PluginFile::bytes("libnotaplugin.so", non_plugin_library()),
        ]))
        .plugins(&["buttons", "wuts_fixture_incompatible", "junk", "notaplugin"])
        .required(&["buttons"])
}

#[test]
fn library_copied_into_a_fresh_folder_serves_its_route() {
    let server = Server::start(
        ServerOptions::default()
            .plugin_dir(PluginDir::Fresh(vec![PluginFile::copy(BUTTONS_LIBRARY)]))
            .plugins(&["buttons"]),
    );
    let listing: Vec<String> = fs::read_dir(server.setup().plugin_dir())
        .expect("the plugin folder exists")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    assert_eq!(listing, [BUTTONS_LIBRARY], "the folder holds just the copy");
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
}

#[test]
fn library_named_by_its_path_serves_its_route() {
    let elsewhere = tempfile::tempdir().expect("a temp dir");
    let path = elsewhere.path().join("my-buttons.so");
    fs::copy(locate::artefact(BUTTONS_LIBRARY), &path).expect("copy the library");
    let path = path.to_string_lossy().into_owned();
    let server = Server::start(
        ServerOptions::default()
            .plugins(&[path.as_str()])
            .required(&[]),
    );
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
}

#[test]
fn only_the_configured_folder_is_searched() {
    // A fresh folder without the buttons library: the route must not appear, although the
    // executable's own folder has the library.
    let server = Server::start(
        ServerOptions::default()
            .plugin_dir(PluginDir::Fresh(Vec::new()))
            .plugins(&["buttons"])
            .required(&[]),
    );
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &buttons_body(PHONE, "hi", &[("a", "A")]));
    assert_eq!(status, 404, "no plugin, no route: {reply}");
}

#[test]
fn empty_plugin_dir_means_the_executables_folder() {
    let server = Server::start(ServerOptions::default().plugin_dir(PluginDir::Unset));
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
}

#[test]
fn incompatible_and_garbage_libraries_are_refused_and_the_rest_serve() {
    let mut server = Server::start(buttons_with_broken_neighbours());
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
    assert_buttons_serve(&server, &user);
    let exit = server.stop();
    assert!(exit.success(), "{exit:?}");

    let logs = server.logs();
    let mut cases = Cases::new();
    for file in BROKEN {
        cases.check(file, || {
            let lines = refusal_lines(&logs, file);
            assert_eq!(
                lines.len(),
                1,
                "one `plugin refused:` line naming {file}, got {lines:?}\nstderr:\n{logs}"
            );
            let line = lines[0];
            let after = &line[line.find(file).expect("named") + file.len()..];
            assert!(
                after.chars().filter(|c| c.is_alphanumeric()).count() >= 3,
                "the refusal gives a reason after the path: {line}"
            );
        });
    }
    cases.check("no other refusals", || {
        let all: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("plugin refused:"))
            .collect();
        assert_eq!(all.len(), BROKEN.len(), "{all:?}");
    });
    cases.finish();
}

#[test]
fn plugins_command_lists_routes_and_refusals() {
    let mut options = buttons_with_broken_neighbours();
    options.plugins.push("wuts_fixture_panicking".to_owned());
    if let PluginDir::Fresh(files) = &mut options.plugin_dir {
        files.push(PluginFile::copy(PANICKING_LIBRARY));
    }
    let setup = Setup::new(options);
    let done = setup.cli(&["plugins"], &[]);
    assert!(
        done.success(),
        "`wuts plugins` exits 0: {:?}\n{}\n{}",
        done.status,
        done.stdout,
        done.stderr
    );
    let out = &done.stdout;
    let mut cases = Cases::new();
    for expected in ["buttons", "/send/buttons", "panicking", "/send/panic"] {
        cases.check(&format!("lists {expected}"), || {
            assert!(out.contains(expected), "stdout lacks {expected}:\n{out}");
        });
    }
    for file in BROKEN {
        cases.check(&format!("refusal of {file}"), || {
            assert!(
                out.lines()
                    .any(|l| l.find("refused:").is_some_and(|at| l[at..].contains(file))),
                "stdout has a `refused: PATH: reason` line for {file}:\n{out}"
            );
        });
    }
    cases.check("loaded plugins are not listed as refused", || {
        for line in out.lines().filter(|l| l.contains("refused:")) {
            assert!(
                !line.contains(BUTTONS_LIBRARY) && !line.contains(PANICKING_LIBRARY),
                "{line}"
            );
        }
    });
    cases.finish();
}

#[test]
fn a_required_plugin_that_is_refused_stops_the_start() {
    let options =
        buttons_with_broken_neighbours().required(&["buttons", "wuts_fixture_incompatible"]);
    let failure = match Setup::new(options).try_start() {
        Ok(server) => panic!(
            "the server started at {} although a required plugin is incompatible",
            server.base_url()
        ),
        Err(failure) => failure,
    };
    let status = failure
        .status
        .unwrap_or_else(|| panic!("the server should exit by itself: {failure}"));
    assert!(
        !status.success(),
        "a refused start exits non-zero: {failure}"
    );
    assert!(
        failure.stderr.contains(INCOMPATIBLE_LIBRARY),
        "stderr names the library that failed: {failure}"
    );
}

#[test]
fn a_missing_library_is_reported_and_the_rest_serve() {
    let mut server = Server::start(
        ServerOptions::default()
            .plugins(&["buttons", "nonexistent"])
            .required(&["buttons"]),
    );
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
    server.stop();
    let logs = server.logs();
    let lines = refusal_lines(&logs, "nonexistent");
    assert_eq!(
        lines.len(),
        1,
        "one `plugin refused:` line names the plugin that could not be found:\n{logs}"
    );
}

#[test]
fn panicking_plugin_answers_500_and_the_server_keeps_serving() {
    let mut server = Server::start(
        ServerOptions::default()
            .plugin_dir(PluginDir::Fresh(vec![
                PluginFile::copy(BUTTONS_LIBRARY),
                PluginFile::copy(PANICKING_LIBRARY),
            ]))
            .plugins(&["buttons", "wuts_fixture_panicking"])
            .required(&["buttons"]),
    );
    let user = server.create_user(&unique("acme"), "alice");
    let mut sent = Vec::new();
    for round in 0..2 {
        let (status, reply) = server.post_json(
            "/send/panic",
            &user.token,
            &json!({ "to": PHONE, "message": "boom" }),
        );
        let text = checks::legacy_error(status, &reply, 500);
        assert!(
            text.starts_with("Failed to send panic message"),
            "round {round}: the error names the failed send: {text:?}"
        );
        assert!(server.is_running(), "round {round}: the server survived");
        sent.push(assert_buttons_serve(&server, &user));
        sent.push(assert_buttons_serve(&server, &user));
    }
    let recorded: Vec<String> = server
        .outbox(&user)
        .iter()
        .map(|e| e["message_id"].as_str().unwrap_or_default().to_owned())
        .rev()
        .collect();
    assert_eq!(recorded, sent, "only the buttons sends are recorded");
    let exit = server.stop();
    assert!(
        exit.success(),
        "still shuts down cleanly after panics: {exit:?}"
    );
}

#[test]
fn a_route_set_to_false_answers_404() {
    let server = Server::start(ServerOptions::default().route("/send/buttons", false));
    let user = server.create_user(&unique("acme"), "alice");
    let (status, reply) = server.send_buttons(&user, &buttons_body(PHONE, "hi", &[("a", "A")]));
    assert_eq!(status, 404, "disabled route: {reply}");
    assert!(server.outbox(&user).is_empty(), "nothing was sent");
}

#[test]
fn disabling_one_route_leaves_the_others() {
    let server = Server::start(
        ServerOptions::default()
            .plugins(&["buttons", "wuts_fixture_panicking"])
            .route("/send/buttons", false),
    );
    let user = server.create_user(&unique("acme"), "alice");
    let (status, _) = server.send_buttons(&user, &buttons_body(PHONE, "hi", &[("a", "A")]));
    assert_eq!(status, 404, "/send/buttons is off");
    let (status, reply) = server.post_json("/send/panic", &user.token, &json!({ "to": PHONE }));
    let text = checks::legacy_error(status, &reply, 500);
    assert!(text.starts_with("Failed to send panic message"), "{text:?}");
}

#[test]
fn a_route_set_to_true_serves_and_unknown_routes_are_404() {
    let server = Server::start(ServerOptions::default().route("/send/buttons", true));
    let user = server.create_user(&unique("acme"), "alice");
    assert_buttons_serve(&server, &user);
    let (status, reply) = server.post_json(
        "/send/nothing",
        &user.token,
        &buttons_body(PHONE, "hi", &[("a", "A")]),
    );
    assert_eq!(status, 404, "unknown route: {reply}");
}

/// The author's guide's plugin (`plugin-api/examples/location.rs`), built as a library of
/// its own and dropped into a fresh plugin folder beside buttons.
fn guide_plugin_beside_buttons() -> ServerOptions {
    let library = locate::artefact_dir()
        .join("examples")
        .join("liblocation.so");
    let bytes = fs::read(&library).unwrap_or_else(|error| {
        panic!(
            "{}: {error}. `cargo test --workspace` builds it; alone: \
             `cargo build -p wuts-plugin-api --example location`",
            library.display()
        )
    });
    ServerOptions::default()
        .plugin_dir(PluginDir::Fresh(vec![
            PluginFile::copy(BUTTONS_LIBRARY),
            PluginFile::bytes("liblocation.so", bytes),
        ]))
        .plugins(&["buttons", "location"])
        .required(&["buttons", "location-example"])
}

#[test]
fn the_guides_plugin_drops_in_validates_from_its_schema_and_sends() {
    let server = Server::start(guide_plugin_beside_buttons());
    let user = server.create_user(&unique("guide"), "alice");
    let body =
        json!({"to": PHONE, "latitude": -23.55052, "longitude": -46.633308, "name": "Praca da Se"});
    let (status, reply) = server.post_json("/send/location", &user.token, &body);
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["message"], "Location sent successfully", "{reply}");
    let sent = &server.outbox(&user)[0];
    assert_eq!(sent["message_id"], reply["message_id"]);
    let location = &sent["message"]["locationMessage"];
    assert_eq!(location["degreesLatitude"], -23.55052, "{sent}");
    assert_eq!(location["name"], "Praca da Se", "{sent}");

    // Limits come from the plugin's schema: a latitude out of range is refused, naming
    // the field in the route's (legacy) envelope, and nothing is sent.
    let mut cases = Cases::new();
    for (field, value, expected) in [
        (
            "latitude",
            json!(200),
            "latitude: must be a number from -90 to 90",
        ),
        (
            "longitude",
            json!("-46"),
            "longitude: must be a number from -180 to 180",
        ),
        (
            "to",
            json!("12"),
            "to: a phone number needs 10 to 15 digits, 2 given",
        ),
    ] {
        let mut bad = body.clone();
        bad[field] = value;
        let (status, reply) = server.post_json("/send/location", &user.token, &bad);
        cases.check(field, || {
            assert_eq!(status, 400, "{reply}");
            assert_eq!(reply, json!({"error": expected}));
        });
    }
    cases.finish();
    assert_eq!(server.outbox(&user).len(), 1, "no bad request was sent");
    assert_buttons_serve(&server, &user);
}

#[test]
fn plugins_json_publishes_each_routes_schema_and_version() {
    let setup = Setup::new(guide_plugin_beside_buttons());
    let done = setup.cli(&["plugins"], &["--json"]);
    assert!(done.success(), "{}\n{}", done.stdout, done.stderr);
    let listing: serde_json::Value = serde_json::from_str(&done.stdout).expect("JSON");
    let plugin = |name: &str| {
        listing["plugins"]
            .as_array()
            .and_then(|plugins| plugins.iter().find(|plugin| plugin["name"] == name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} is listed: {listing}"))
    };
    let location = plugin("location-example");
    assert_eq!(
        location["version"], "0.1.0",
        "the crate's version: {location}"
    );
    let route = &location["routes"][0];
    assert_eq!(route["path"], "/send/location");
    assert_eq!(route["envelope"], "legacy");
    let schema = &route["request_schema"];
    assert_eq!(schema["properties"]["latitude"]["maximum"], 90, "{schema}");
    assert_eq!(schema["required"], json!(["to", "latitude", "longitude"]));
    let buttons = &plugin("buttons")["routes"][0]["request_schema"];
    assert_eq!(buttons["properties"]["buttons"]["maxItems"], 3, "{buttons}");
    assert_eq!(
        buttons["properties"]["buttons"]["items"]["properties"]["display_text"]["maxLength"],
        20
    );
}
