//! `GET /openapi.json` and `GET /docs` (docs/API.md, "Operations"): the document describes
//! exactly the routes this server serves, a real validator accepts it, and a property-based
//! API fuzzer (schemathesis) finds no 5xx and no answer outside the documented statuses
//! and schemas. The Python tools come from `config/bootstrap.sh --test`.

use std::path::PathBuf;
use std::process::Command;

use serde_json::{Value, json};
use wuts_e2e::locate::workspace_root;
use wuts_e2e::{Auth, Server, ServerOptions, unique};

/// Every plugin of the project.
const PLUGINS: &[&str] = &[
    "buttons",
    "audio",
    "buttons-response",
    "text",
    "location",
    "contact",
    "reaction",
    "template",
    "poll",
    "list",
    "message-ops",
    "image",
    "video",
    "document",
    "sticker",
];

/// The virtual environment `config/bootstrap.sh --test` makes.
fn tool(name: &str) -> PathBuf {
    let path = workspace_root()
        .join("target/test-tools/python/bin")
        .join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `config/bootstrap.sh --test` (the README's test command does)",
        path.display()
    );
    path
}

fn document(server: &Server) -> Value {
    let reply = server.client().get("/openapi.json", Auth::None);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.json()
}

fn operations(document: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for (path, methods) in document["paths"].as_object().unwrap() {
        for method in methods.as_object().unwrap().keys() {
            found.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    found
}

#[test]
fn the_document_is_valid_and_lists_exactly_the_served_routes() {
    let server = Server::start(
        ServerOptions::default()
            .plugins(PLUGINS)
            .route("/send/poll", false),
    );
    let document = document(&server);
    assert_eq!(document["openapi"], json!("3.1.0"));
    let file = server.setup().dir().join("openapi.json");
    std::fs::write(&file, serde_json::to_vec(&document).unwrap()).unwrap();
    let validated = Command::new(tool("python"))
        .arg("-c")
        .arg("import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1])))")
        .arg(&file)
        .output()
        .expect("the validator runs");
    assert!(
        validated.status.success(),
        "openapi-spec-validator refused the document:\n{}",
        String::from_utf8_lossy(&validated.stderr)
    );

    let listed = operations(&document);
    for expected in [
        "POST /send/buttons",
        "POST /send/audio",
        "PUT /messages/{messageId}",
        "GET /devices",
        "POST /webhook",
        "GET /users/{id}",
        "GET /metrics",
        "GET /sandbox/outbox",
    ] {
        assert!(
            listed.contains(&expected.to_owned()),
            "{expected} in {listed:?}"
        );
    }
    assert!(
        !listed.contains(&"POST /send/poll".to_owned()),
        "a disabled route is absent"
    );
    assert!(
        !listed.contains(&"POST /register".to_owned()),
        "no master token: no super-admin routes"
    );
    let buttons = &document["paths"]["/send/buttons"]["post"];
    assert_eq!(
        buttons["requestBody"]["content"]["application/json"]["schema"]["required"],
        json!(["to", "message", "buttons"]),
        "the plugin's own request schema: {buttons}"
    );
    assert_eq!(
        buttons["responses"]["400"]["content"]["application/json"]["schema"]["$ref"],
        json!("#/components/schemas/LegacyError"),
        "buttons answers errors in the legacy envelope"
    );

    // What the server really serves matches: a disabled route is a 404 there too.
    let user = server.create_user(&unique("acme"), "alice");
    let reply = server
        .client()
        .post_json("/send/poll", user.auth(), &json!({}));
    assert_eq!(reply.status, 404);

    let with_master = Server::start(
        ServerOptions::default().env("WUTS__ADMIN__MASTER_TOKEN", "m-0123456789abcdef"),
    );
    assert!(operations(&document_of(&with_master)).contains(&"POST /register".to_owned()));
}

fn document_of(server: &Server) -> Value {
    document(server)
}

#[test]
fn docs_render_the_document_offline() {
    let server = Server::start_default();
    let redirect = server.client().get("/docs", Auth::None);
    assert!(
        redirect.status == 200 || redirect.status == 308,
        "{}",
        redirect.status
    );
    let page = server.client().get("/docs/", Auth::None);
    assert_eq!(page.status, 200);
    assert!(
        page.text().to_lowercase().contains("swagger"),
        "{}",
        page.text()
    );
    let script = server
        .client()
        .get("/docs/swagger-ui-bundle.js", Auth::None);
    assert_eq!(script.status, 200, "the renderer is served from the binary");
    assert!(script.body.len() > 100_000);
    let config = server
        .client()
        .get("/docs/swagger-initializer.js", Auth::None);
    assert!(config.text().contains("/openapi.json"), "{}", config.text());
}

#[test]
fn a_property_based_fuzzer_finds_no_5xx_and_nothing_undocumented() {
    let server = Server::start(ServerOptions::default().plugins(PLUGINS));
    let user = server.create_user(&unique("acme"), "alice");
    let url = server.url("/openapi.json");
    let output = Command::new(tool("schemathesis"))
        .args(["run", &url])
        .args(["--header", &format!("Authorization: Bearer {}", user.token)])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
        ])
        .args(["--phases", "examples,coverage,fuzzing"])
        // One worker: with two, hypothesis's shared cache of strategy descriptions raced
        // between the worker threads in CI (a KeyError inside the tool, reported as a
        // flaky runtime error on an operation whose every request had passed).
        .args(["--max-examples", "5", "--workers", "1", "--seed", "7"])
        // Rotating the caller's own token would end the run's authentication.
        .args(["--exclude-path", "/users/{id}/token"])
        .env("SCHEMATHESIS_TELEMETRY", "false")
        // Its cache folder goes with the server's temp folder, not into the repository.
        .current_dir(server.setup().dir())
        .output()
        .expect("schemathesis runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!server.logs().contains("panicked"), "{}", server.logs());
}
