//! Administration (docs/API.md, "Administration"): users and roles within a tenant, token
//! rotation, and the super-admin routes behind the master token, tenant deletion included.

use rusqlite::Connection;
use serde_json::{Value, json};
use wuts_e2e::checks::Cases;
use wuts_e2e::{Auth, Server, ServerOptions, User, example_buttons_body, unique};

const MASTER: &str = "master-token-for-the-administration-tests-0123456789";

fn server() -> Server {
    Server::start(ServerOptions::default().env("WUTS__ADMIN__MASTER_TOKEN", MASTER))
}

fn admin_of(server: &Server, tenant: &str) -> User {
    server
        .setup()
        .create_user_with_role(tenant, "root", Some("admin"))
}

fn put(server: &Server, path: &str, token: &str, body: &Value) -> (u16, Value) {
    let reply = server.client().put_json(path, Auth::Bearer(token), body);
    (reply.status, reply.json_or_text())
}

fn delete(server: &Server, path: &str, token: &str) -> (u16, Value) {
    let reply = server.client().delete(path, Auth::Bearer(token));
    (reply.status, reply.json_or_text())
}

/// `POST /users` as `token`; the created user's id and token.
#[track_caller]
fn create(server: &Server, token: &str, body: Value) -> (String, String) {
    let (code, answer) = server.post_json("/users", token, &body);
    assert_eq!(code, 201, "POST /users {body}: {answer}");
    (
        answer["user"]["id"].as_str().unwrap_or_default().to_owned(),
        answer["user"]["token"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// Whether `token` authenticates (`GET /devices`).
fn signs_in(server: &Server, token: &str) -> bool {
    let (code, body) = server.get("/devices", token);
    assert!(code == 200 || code == 401, "GET /devices: {code} {body}");
    code == 200
}

fn role_of(server: &Server, admin: &User, id: &str) -> Value {
    let (code, body) = server.get(&format!("/users/{id}"), &admin.token);
    assert_eq!(code, 200, "{body}");
    body["data"]["role"].clone()
}

fn user_count(server: &Server, admin: &User) -> usize {
    let (code, body) = server.get("/users", &admin.token);
    assert_eq!(code, 200, "{body}");
    body["users"].as_array().map_or(0, Vec::len)
}

#[test]
fn an_admin_creates_lists_shows_changes_promotes_and_deletes_users() {
    let server = server();
    let admin = admin_of(&server, &unique("acme"));
    let (code, created) = server.post_json(
        "/users",
        &admin.token,
        &json!({"email": "Agent@Example.com", "password": "ignored", "role": "user",
                "webhook_url": "https://example.com/hook"}),
    );
    assert_eq!(code, 201, "{created}");
    let user = &created["user"];
    assert_eq!(created["success"], json!(true));
    assert_eq!(user["email"], json!("agent@example.com"));
    assert_eq!(user["role"], json!("user"));
    assert_eq!(user["active"], json!(true));
    let (_, me) = server.get(&format!("/users/{}", admin.user_id), &admin.token);
    assert_eq!(
        user["tenant_id"], me["data"]["tenant_id"],
        "the caller's tenant"
    );
    assert_eq!(created["webhook_configured"], json!(true));
    assert_eq!(created["webhook_url"], json!("https://example.com/hook"));
    let id = user["id"].as_str().unwrap().to_owned();
    let token = user["token"].as_str().unwrap().to_owned();
    assert_eq!(token.len(), 36, "a UUID token");
    assert!(signs_in(&server, &token), "the new token works at once");

    let (code, listed) = server.get("/users", &admin.token);
    assert_eq!(code, 200, "{listed}");
    let users = listed["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{listed}");
    assert!(
        users.iter().all(|user| user.get("token").is_none()),
        "no token is listed: {listed}"
    );
    let (code, shown) = server.get(&format!("/users/{id}"), &admin.token);
    assert_eq!(code, 200, "{shown}");
    assert_eq!(shown["data"]["id"], json!(id));
    assert!(shown["data"].get("token").is_none());

    let (code, answer) = put(
        &server,
        &format!("/users/{id}"),
        &admin.token,
        &json!({"active": false}),
    );
    assert_eq!(
        (code, answer),
        (
            200,
            json!({"success": true, "message": "User updated successfully"})
        )
    );
    assert!(
        !signs_in(&server, &token),
        "a deactivated user's token is a 401"
    );
    let (code, _) = put(
        &server,
        &format!("/users/{id}"),
        &admin.token,
        &json!({"active": true}),
    );
    assert_eq!(code, 200);
    assert!(signs_in(&server, &token), "reactivated");

    let (code, promoted) = server.post_json(
        &format!("/users/{id}/promote"),
        &admin.token,
        &json!({"new_role": "manager"}),
    );
    assert_eq!(code, 200, "{promoted}");
    assert_eq!(
        promoted,
        json!({"success": true, "message": "User role updated successfully",
               "data": {"user_id": id, "old_role": "user", "new_role": "manager"}})
    );
    let (code, _) = server.get("/users", &token);
    assert_eq!(code, 200, "the cached role changed with the promotion");

    let (code, answer) = delete(&server, &format!("/users/{id}"), &admin.token);
    assert_eq!(
        (code, answer),
        (
            200,
            json!({"success": true, "message": "User permanently deleted"})
        )
    );
    assert!(!signs_in(&server, &token));
    let (code, _) = server.get(&format!("/users/{id}"), &admin.token);
    assert_eq!(code, 404);
    assert_eq!(user_count(&server, &admin), 1);
}

#[test]
fn a_rotated_token_replaces_the_old_one_at_once() {
    let server = server();
    let admin = admin_of(&server, &unique("acme"));
    let (id, old) = create(&server, &admin.token, json!({"name": "ana"}));
    assert!(signs_in(&server, &old), "cached now");
    let (code, rotated) = server.post_json(&format!("/users/{id}/token"), &old, &json!({}));
    assert_eq!(code, 200, "{rotated}");
    assert_eq!(rotated["success"], json!(true));
    let new = rotated["token"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(!signs_in(&server, &old), "the old token stopped");
    assert!(signs_in(&server, &new));
    // An admin rotates another's token too.
    let (code, again) = server.post_json(&format!("/users/{id}/token"), &admin.token, &json!({}));
    assert_eq!(code, 200, "{again}");
    assert!(!signs_in(&server, &new));
}

#[test]
fn each_role_does_what_its_text_says_and_no_more() {
    let server = server();
    let admin = admin_of(&server, &unique("acme"));
    let (manager_id, manager) = create(
        &server,
        &admin.token,
        json!({"name": "mia", "role": "manager"}),
    );
    let (user_id, user) = create(&server, &admin.token, json!({"name": "ugo"}));
    let (other_id, other) = create(&server, &admin.token, json!({"name": "ola"}));
    let admin_id = admin.user_id.clone();
    let mut cases = Cases::new();

    cases.check("a manager creates users and managers, not admins", || {
        create(&server, &manager, json!({"name": "new-user"}));
        create(
            &server,
            &manager,
            json!({"name": "new-manager", "role": "manager"}),
        );
        let (code, body) =
            server.post_json("/users", &manager, &json!({"name": "x", "role": "admin"}));
        assert_eq!(
            (code, body["error_code"].clone()),
            (403, json!("FORBIDDEN")),
            "{body}"
        );
    });
    cases.check(
        "a manager moves users between user and manager and sets active",
        || {
            let (code, body) = server.post_json(
                &format!("/users/{user_id}/promote"),
                &manager,
                &json!({"new_role": "manager"}),
            );
            assert_eq!(code, 200, "{body}");
            let (code, body) = put(
                &server,
                &format!("/users/{user_id}"),
                &manager,
                &json!({"role": "user", "active": true}),
            );
            assert_eq!(code, 200, "{body}");
        },
    );
    cases.check("a manager cannot touch an admin or make one", || {
        for (code, body) in [
            put(
                &server,
                &format!("/users/{admin_id}"),
                &manager,
                &json!({"active": false}),
            ),
            server.post_json(
                &format!("/users/{admin_id}/promote"),
                &manager,
                &json!({"new_role": "user"}),
            ),
            server.post_json(
                &format!("/users/{user_id}/promote"),
                &manager,
                &json!({"new_role": "admin"}),
            ),
            server.post_json(&format!("/users/{admin_id}/token"), &manager, &json!({})),
            delete(&server, &format!("/users/{user_id}"), &manager),
        ] {
            assert_eq!(
                (code, body["error_code"].clone()),
                (403, json!("FORBIDDEN")),
                "{body}"
            );
        }
        assert_eq!(role_of(&server, &admin, &admin_id), json!("admin"));
        assert_eq!(role_of(&server, &admin, &user_id), json!("user"));
    });
    cases.check(
        "a manager views the tenant's devices; sending stays with their users",
        || {
            let (code, body) = server.post_json("/devices", &user, &json!({"name": "ugo's"}));
            assert_eq!(code, 201, "{body}");
            let device_id = body["device"]["id"].as_str().unwrap_or_default().to_owned();
            let listed = |token: &str| -> Vec<Value> {
                let (code, body) = server.get("/devices", token);
                assert_eq!(code, 200, "{body}");
                body["devices"].as_array().cloned().unwrap_or_default()
            };
            let seen = listed(&manager);
            let ugos = seen
                .iter()
                .find(|device| device["id"] == json!(device_id))
                .unwrap_or_else(|| panic!("the manager sees ugo's device: {seen:?}"));
            assert_eq!(ugos["user_id"], json!(user_id), "{ugos}");
            assert!(
                listed(&other)
                    .iter()
                    .all(|device| device["id"] != json!(device_id)),
                "a user sees only its own devices"
            );
            let (code, body) = server.post_json(
                &format!("/send/buttons?device_id={device_id}"),
                &manager,
                &wuts_e2e::buttons_body(wuts_e2e::PHONE, "not mine", &[("a", "A")]),
            );
            assert_eq!(code, 404, "{body}");
        },
    );
    cases.check("a user sees only itself and changes no role", || {
        let (code, _) = server.get("/users", &user);
        assert_eq!(code, 403);
        let (code, body) = server.get(&format!("/users/{user_id}"), &user);
        assert_eq!(code, 200, "{body}");
        let (code, _) = server.get(&format!("/users/{other_id}"), &user);
        assert_eq!(code, 403);
        let (code, _) = server.post_json(
            &format!("/users/{user_id}/promote"),
            &user,
            &json!({"new_role": "manager"}),
        );
        assert_eq!(code, 403);
        let (code, _) = server.post_json("/users", &user, &json!({"name": "x"}));
        assert_eq!(code, 403);
        assert_eq!(role_of(&server, &admin, &user_id), json!("user"));
    });
    cases.check("nobody deletes themselves", || {
        for (id, token) in [
            (&admin_id, &admin.token),
            (&manager_id, &manager),
            (&user_id, &user),
        ] {
            let (code, body) = delete(&server, &format!("/users/{id}"), token);
            assert_eq!(
                (code, body["error_code"].clone()),
                (400, json!("CANNOT_DELETE_SELF")),
                "{body}"
            );
        }
    });
    cases.check("the last active admin stays one", || {
        let (code, body) = server.post_json(
            &format!("/users/{admin_id}/promote"),
            &admin.token,
            &json!({"new_role": "user"}),
        );
        assert_eq!(
            (code, body["error_code"].clone()),
            (400, json!("LAST_ADMIN")),
            "{body}"
        );
        let (code, body) = put(
            &server,
            &format!("/users/{admin_id}"),
            &admin.token,
            &json!({"active": false}),
        );
        assert_eq!(
            (code, body["error_code"].clone()),
            (400, json!("LAST_ADMIN")),
            "{body}"
        );
        assert_eq!(role_of(&server, &admin, &admin_id), json!("admin"));
        assert!(signs_in(&server, &admin.token));
    });
    cases.check("with a second admin, the first may step down", || {
        let (second_id, second) = create(
            &server,
            &admin.token,
            json!({"name": "ada", "role": "admin"}),
        );
        let (code, body) = put(
            &server,
            &format!("/users/{admin_id}"),
            &second,
            &json!({"role": "manager"}),
        );
        assert_eq!(code, 200, "{body}");
        let (code, body) = put(
            &server,
            &format!("/users/{admin_id}"),
            &second,
            &json!({"role": "admin"}),
        );
        assert_eq!(code, 200, "{body}");
        let (code, body) = delete(&server, &format!("/users/{second_id}"), &admin.token);
        assert_eq!(code, 200, "{body}");
    });
    cases.finish();
}

#[test]
fn another_tenants_users_are_404_and_unchanged() {
    let server = server();
    let ours = admin_of(&server, &unique("ours"));
    let theirs = admin_of(&server, &unique("theirs"));
    let (their_user, their_token) = create(&server, &theirs.token, json!({"name": "tia"}));
    for (code, body) in [
        server.get(&format!("/users/{their_user}"), &ours.token),
        put(
            &server,
            &format!("/users/{their_user}"),
            &ours.token,
            &json!({"active": false}),
        ),
        server.post_json(
            &format!("/users/{their_user}/promote"),
            &ours.token,
            &json!({"new_role": "manager"}),
        ),
        server.post_json(
            &format!("/users/{their_user}/token"),
            &ours.token,
            &json!({}),
        ),
        delete(&server, &format!("/users/{their_user}"), &ours.token),
        server.get("/users/no-such-user", &ours.token),
    ] {
        assert_eq!(
            (code, body["error_code"].clone()),
            (404, json!("NOT_FOUND")),
            "{body}"
        );
    }
    let (code, listed) = server.get("/users", &ours.token);
    assert_eq!(code, 200);
    assert_eq!(
        listed["users"].as_array().map(Vec::len),
        Some(1),
        "only our admin: {listed}"
    );
    assert!(signs_in(&server, &their_token), "their user is untouched");
    assert_eq!(role_of(&server, &theirs, &their_user), json!("user"));
}

#[test]
fn bad_user_input_is_a_400_naming_the_field_and_creates_nothing() {
    let server = server();
    let admin = admin_of(&server, &unique("acme"));
    let (id, _) = create(&server, &admin.token, json!({"email": "taken@example.com"}));
    let mut cases = Cases::new();
    for (body, field) in [
        (json!({}), "email"),
        (json!({"name": "x", "role": "root"}), "role"),
        (json!({"email": "not-an-address"}), "email"),
        (json!({"name": 7}), "name"),
        (json!({"name": ""}), "name"),
        (
            json!({"name": "x", "webhook_url": "ftp://example.com/x"}),
            "webhook_url",
        ),
        (
            json!({"name": "x", "webhook_url": "http://127.0.0.1/x"}),
            "webhook_url",
        ),
    ] {
        cases.check(&format!("POST /users {body}"), || {
            let (code, answer) = server.post_json("/users", &admin.token, &body);
            assert_eq!(code, 400, "{answer}");
            let named = answer["validation"][0]["field"].clone();
            assert_eq!(named, json!(field), "{answer}");
        });
    }
    cases.check("malformed JSON", || {
        let reply = server.client().post(
            "/users",
            admin.auth(),
            wuts_e2e::Body::Bytes {
                content_type: "application/json",
                bytes: b"{\"name\":",
            },
        );
        assert_eq!(reply.status, 400, "{}", reply.text());
    });
    cases.check("a taken email is a 409", || {
        let (code, answer) = server.post_json(
            "/users",
            &admin.token,
            &json!({"email": "TAKEN@example.com"}),
        );
        assert_eq!(
            (code, answer["error_code"].clone()),
            (409, json!("USER_EXISTS")),
            "{answer}"
        );
    });
    for (path, body, field) in [
        (format!("/users/{id}"), json!({"active": "yes"}), "active"),
        (format!("/users/{id}"), json!({"role": "owner"}), "role"),
        (format!("/users/{id}/promote"), json!({}), "new_role"),
        (
            format!("/users/{id}/promote"),
            json!({"new_role": "god"}),
            "new_role",
        ),
    ] {
        cases.check(&format!("{path} {body}"), || {
            let (code, answer) = if path.ends_with("promote") {
                server.post_json(&path, &admin.token, &body)
            } else {
                put(&server, &path, &admin.token, &body)
            };
            assert_eq!(code, 400, "{answer}");
            assert_eq!(answer["validation"][0]["field"], json!(field), "{answer}");
        });
    }
    cases.check("nothing was created or changed", || {
        assert_eq!(user_count(&server, &admin), 2);
        assert_eq!(role_of(&server, &admin, &id), json!("user"));
    });
    cases.finish();
}

#[test]
fn the_super_admin_routes_need_the_master_token_and_are_absent_without_one() {
    let plain = Server::start_default();
    let reply = plain.client().post_json(
        "/register",
        Auth::Bearer(MASTER),
        &json!({"tenant_name": "x"}),
    );
    assert_eq!(
        reply.status,
        404,
        "no master token configured: {}",
        reply.text()
    );
    let reply = plain.client().get("/tenants", Auth::Bearer(MASTER));
    assert_eq!(reply.status, 404);

    let server = server();
    let user = server.create_user(&unique("acme"), "alice");
    for (auth, error) in [
        (Auth::None, "master token required"),
        (Auth::Bearer("wrong"), "invalid master token"),
        (Auth::Bearer(&user.token), "invalid master token"),
    ] {
        let reply = server.client().get("/tenants", auth);
        assert_eq!(
            (reply.status, reply.json()),
            (401, json!({"success": false, "error": error}))
        );
        let reply = server
            .client()
            .post_json("/register", auth, &json!({"tenant_name": "sneaky"}));
        assert_eq!(reply.status, 401);
    }
    let reply = server.client().get("/tenants", Auth::Bearer(MASTER));
    let names: Vec<Value> = reply.json()["tenants"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].clone())
        .collect();
    assert!(
        !names.contains(&json!("sneaky")),
        "nothing registered: {names:?}"
    );
    assert!(
        !server.logs().contains(MASTER),
        "the master token is never logged"
    );
}

#[test]
fn a_registered_tenant_is_listed_shown_and_refused_twice() {
    let server = server();
    let name = unique("Acme Atendimento");
    let reply = server.client().post_json(
        "/register",
        Auth::Bearer(MASTER),
        &json!({"tenant_name": name, "email": "admin@acme.com.br", "password": "x", "role": "user",
                "webhook_url": "https://example.com/wuts/webhook"}),
    );
    assert_eq!(reply.status, 201, "{}", reply.text());
    let registered = reply.json();
    assert_eq!(registered["success"], json!(true));
    assert_eq!(
        registered["user"]["role"],
        json!("admin"),
        "the first user is always the admin"
    );
    assert_eq!(registered["tenant"]["name"], json!(name));
    assert_eq!(registered["token"], registered["user"]["token"]);
    assert_eq!(registered["webhook_configured"], json!(true));
    let tenant_id = registered["tenant"]["id"].as_str().unwrap().to_owned();
    let token = registered["token"].as_str().unwrap().to_owned();
    let (code, users) = server.get("/users", &token);
    assert_eq!(code, 200, "the admin's token works: {users}");

    let again = server.client().post_json(
        "/register",
        Auth::Bearer(MASTER),
        &json!({"tenant_name": name}),
    );
    assert_eq!(
        (again.status, again.json()),
        (
            409,
            json!({"success": false, "error": "tenant already exists"})
        )
    );
    let bad = server.client().post_json(
        "/register",
        Auth::Bearer(MASTER),
        &json!({"email": "a@b.co"}),
    );
    assert_eq!(
        (bad.status, bad.json()),
        (
            400,
            json!({"success": false, "error": "tenant_name is required"})
        )
    );

    let listed = server.client().get("/tenants", Auth::Bearer(MASTER)).json();
    assert!(
        listed["tenants"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == json!(tenant_id)),
        "{listed}"
    );
    let shown = server.client().get(
        &format!("/global/tenants/{tenant_id}"),
        Auth::Bearer(MASTER),
    );
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["data"]["name"], json!(name));
    let missing = server
        .client()
        .get("/global/tenants/no-such-tenant", Auth::Bearer(MASTER));
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"success": false, "error": "tenant not found"}))
    );
}

/// Rows of each table that belong to `tenant_id` (through its devices or users).
fn rows_of(database: &std::path::Path, tenant_id: &str) -> Vec<(String, i64)> {
    let connection = Connection::open(database).expect("the database opens");
    let by_device = "device_id IN (SELECT id FROM devices WHERE tenant_id = ?1)";
    [
        ("users", "tenant_id = ?1".to_owned()),
        ("devices", "tenant_id = ?1".to_owned()),
        ("messages", by_device.to_owned()),
        ("events", "tenant_id = ?1".to_owned()),
        ("webhooks", "tenant_id = ?1".to_owned()),
        ("user_webhooks", "tenant_id = ?1".to_owned()),
        ("jobs", "tenant_id = ?1".to_owned()),
        ("tenants", "id = ?1".to_owned()),
    ]
    .into_iter()
    .map(|(table, condition)| {
        let count = connection
            .query_row(
                &format!("SELECT COUNT(*) FROM {table} WHERE {condition}"),
                [tenant_id],
                |row| row.get(0),
            )
            .unwrap_or_else(|error| panic!("{table}: {error}"));
        (table.to_owned(), count)
    })
    .collect()
}

/// A tenant with an admin and a user, each with a sent message, a webhook and events.
fn busy_tenant(server: &Server, name: &str) -> (String, User) {
    let admin = admin_of(server, name);
    let tenant_id = server
        .get(&format!("/users/{}", admin.user_id), &admin.token)
        .1["data"]["tenant_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, user_token) = create(
        server,
        &admin.token,
        json!({"name": "ugo", "webhook_url": "https://example.com/u"}),
    );
    for token in [&admin.token, &user_token] {
        let (code, body) = server.post_json(
            "/webhook",
            token,
            &json!({"webhook_url": "https://example.com/hook", "enabled_events": ["*"]}),
        );
        assert_eq!(code, 200, "{body}");
        let (code, body) = server.post_json("/send/buttons", token, &example_buttons_body());
        assert_eq!(code, 200, "{body}");
    }
    (tenant_id, admin)
}

#[test]
fn deleting_a_tenant_removes_all_of_its_data_and_nothing_else() {
    let server = server();
    let (doomed, doomed_admin) = busy_tenant(&server, &unique("doomed"));
    let (kept, kept_admin) = busy_tenant(&server, &unique("kept"));
    // The message log commits within milliseconds; let it.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let database = server.setup().store_path();
    let kept_before = rows_of(&database, &kept);
    assert!(
        kept_before
            .iter()
            .all(|(table, count)| *count > 0 || table == "jobs"),
        "{kept_before:?}"
    );
    assert!(
        rows_of(&database, &doomed)
            .iter()
            .any(|(_, count)| *count > 0)
    );

    let reply = server
        .client()
        .delete(&format!("/global/tenants/{doomed}"), Auth::Bearer(MASTER));
    assert_eq!(reply.status, 200, "{}", reply.text());
    let answer = reply.json();
    assert_eq!(
        answer["message"],
        json!("Tenant and all related data permanently deleted")
    );
    assert_eq!(answer["data"]["tenant_id"], json!(doomed));

    let left: Vec<_> = rows_of(&database, &doomed)
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect();
    assert!(left.is_empty(), "rows left of the deleted tenant: {left:?}");
    assert_eq!(
        rows_of(&database, &kept),
        kept_before,
        "the other tenant is untouched"
    );
    assert!(
        !signs_in(&server, &doomed_admin.token),
        "the deleted tenant's tokens are refused"
    );
    assert!(signs_in(&server, &kept_admin.token));
    let again = server
        .client()
        .delete(&format!("/global/tenants/{doomed}"), Auth::Bearer(MASTER));
    assert_eq!(
        (again.status, again.json()),
        (404, json!({"success": false, "error": "tenant not found"}))
    );
}

/// `wuts ...` against the server's folder; its stdout, after asserting it succeeded.
#[track_caller]
fn cli_ok(setup: &wuts_e2e::Setup, subcommand: &[&str], args: &[&str]) -> String {
    let done = setup.cli(subcommand, args);
    assert!(
        done.success(),
        "wuts {subcommand:?} {args:?}: {}\n{}",
        done.stdout,
        done.stderr
    );
    done.stdout
}

#[test]
fn the_cli_manages_tenants_and_users_as_the_routes_do() {
    let setup = wuts_e2e::Setup::new(ServerOptions::default());
    let name = unique("shell");
    let created: Value = serde_json::from_str(
        cli_ok(
            &setup,
            &["tenants", "create"],
            &["--name", &name, "--email", "ops@example.com", "--json"],
        )
        .trim(),
    )
    .expect("JSON");
    let tenant_id = created["tenant_id"].as_str().unwrap().to_owned();
    let admin_id = created["user_id"].as_str().unwrap().to_owned();
    let admin_token = created["token"].as_str().unwrap().to_owned();
    let again = setup.cli(&["tenants", "create"], &["--name", &name]);
    assert!(!again.success(), "a second tenant of that name is refused");
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert!(cli_ok(&setup, &["tenants", "list"], &[]).contains(&tenant_id));

    let user = setup.create_user(&name, "ugo");
    let refused = setup.cli(&["users", "update"], &["--id", &admin_id, "--role", "user"]);
    assert!(!refused.success(), "the last admin stays one");
    assert!(
        refused.stderr.contains("active admin"),
        "{}",
        refused.stderr
    );
    cli_ok(
        &setup,
        &["users", "update"],
        &["--id", &user.user_id, "--active", "false"],
    );
    let rotated: Value = serde_json::from_str(
        cli_ok(&setup, &["users", "token"], &["--id", &admin_id, "--json"]).trim(),
    )
    .expect("JSON");
    let new_admin_token = rotated["token"].as_str().unwrap().to_owned();

    let server = setup.start();
    assert!(
        !signs_in(&server, &user.token),
        "deactivated from the shell"
    );
    assert!(!signs_in(&server, &admin_token), "rotated from the shell");
    assert!(signs_in(&server, &new_admin_token));
    let (code, users) = server.get("/users", &new_admin_token);
    assert_eq!(code, 200, "{users}");
    assert_eq!(users["users"].as_array().map(Vec::len), Some(2), "{users}");
    let setup = server.into_setup();

    cli_ok(&setup, &["users", "delete"], &["--id", &user.user_id]);
    assert!(
        setup
            .cli(&["users", "delete"], &["--id", &user.user_id])
            .stderr
            .contains("no user")
    );
    let deleted = cli_ok(&setup, &["tenants", "delete"], &["--id", &tenant_id]);
    assert!(deleted.contains("1 user(s)"), "{deleted}");
    assert!(!cli_ok(&setup, &["tenants", "list"], &[]).contains(&tenant_id));
    let left: Vec<_> = rows_of(&setup.store_path(), &tenant_id)
        .into_iter()
        .filter(|(_, count)| *count > 0)
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The `wuts_devices{state="connected"}` gauge: open sessions that are connected.
fn connected_sessions(server: &Server) -> f64 {
    let reply = server.client().get("/metrics", Auth::Bearer(MASTER));
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply
        .text()
        .lines()
        .filter(|line| line.starts_with("wuts_devices{") && line.contains("state=\"connected\""))
        .find_map(|line| line.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0.0)
}

#[test]
fn a_user_deleted_from_the_shell_loses_its_device_in_the_running_server() {
    let server = server();
    let tenant = unique("shell");
    let admin = admin_of(&server, &tenant);
    let doomed = server
        .setup()
        .create_user_with_role(&tenant, "doomed", None);
    // The admin sends through the doomed user's device: the server now holds its
    // session and remembers the device.
    let path = format!("/send/buttons?device_id={}", doomed.device_id);
    let (code, body) = server.post_json(&path, &admin.token, &example_buttons_body());
    assert_eq!(code, 200, "{body}");
    let before = connected_sessions(&server);
    assert!(before >= 1.0, "the doomed user's device is open: {before}");

    let deleted = server
        .setup()
        .cli(&["users", "delete"], &["--id", &doomed.user_id]);
    assert!(deleted.success(), "{}", deleted.stderr);

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let (code, body) = server.post_json(&path, &admin.token, &example_buttons_body());
        if code == 404 && connected_sessions(&server) == before - 1.0 {
            break;
        }
        assert!(
            code == 200 || code == 404,
            "only sent or not found meanwhile: {code} {body}"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the running server still holds the deleted device: {code} {body}"
        );
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (code, body) = server.get("/devices", &admin.token);
    assert_eq!(code, 200, "{body}");
    assert!(
        !body.to_string().contains(&doomed.device_id),
        "not listed: {body}"
    );
}
