//! The `wuts` that the README's commands build verifies WhatsApp's certificate chain: it
//! refuses the offline WhatsApp server (tests/wa-server), whose chain WhatsApp's root key
//! did not sign, while `wuts-offline` (tests/offline, built with whatsapp-rust's
//! `danger-skip-cert-chain-verify`) logs in to the same server with the same device. So
//! the refusal is the chain's, not the setup's.

use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use wuts_e2e::{Server, ServerOptions, Setup, User, unique};
use wuts_wa_server::{BackgroundServer, SeededDevice, seed_sqlite};

/// How long the refused client is watched: several connection attempts.
const WATCH: Duration = Duration::from_secs(12);
const WAIT: Duration = Duration::from_secs(20);

fn options(whatsapp: &BackgroundServer) -> ServerOptions {
    ServerOptions::default()
        // The harness writes `driver = "sandbox"`; the environment overrides the file.
        .env("WUTS__SESSION__DRIVER", "whatsapp")
        .env("WUTS__SESSION__SOCKET_URL", &whatsapp.socket_url())
        .env("WUTS__SESSION__MEDIA_BASE_URL", &whatsapp.media_base_url())
        .env("WUTS__SESSION__CLIENT_VERSION", "2.3000.1027934701")
}

/// A server from `options` whose device is seeded as paired with the offline server.
fn start(whatsapp: &BackgroundServer, options: ServerOptions) -> (Server, User) {
    let setup = Setup::new(options);
    let user = setup.create_user(&unique("cert"), "alice");
    let credentials = setup
        .store_path()
        .parent()
        .map_or_else(PathBuf::new, PathBuf::from)
        .join("whatsapp.db");
    whatsapp
        .block_on(seed_sqlite(
            &credentials,
            &user.device_id,
            &SeededDevice::new("5511888888888", 7),
        ))
        .expect("the device is seeded");
    (setup.start(), user)
}

fn connected(server: &Server, user: &User) -> bool {
    let (code, body) = server.get("/status", &user.token);
    assert_eq!(code, 200, "GET /status: {body}");
    body["connected"] == json!(true)
}

#[test]
fn the_projects_wuts_refuses_a_chain_whatsapp_did_not_sign() {
    let whatsapp = BackgroundServer::start().expect("the WhatsApp server starts");
    let (server, user) = start(&whatsapp, options(&whatsapp));
    let deadline = Instant::now() + WATCH;
    let mut attempts = 0;
    while Instant::now() < deadline {
        assert!(
            !connected(&server, &user),
            "the project's wuts logged in to a server WhatsApp did not sign for:\n{}",
            server.logs()
        );
        attempts = whatsapp
            .log()
            .iter()
            .filter(|line| line.starts_with("connection ended"))
            .count();
        if attempts >= 2 {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    assert!(
        attempts >= 1,
        "the client never reached the handshake, so this proves nothing: {:?}\n{}",
        whatsapp.log(),
        server.logs()
    );
    assert!(
        whatsapp.connections().is_empty(),
        "no handshake may complete: {:?}",
        whatsapp.connections()
    );
    let logs = server.logs().to_lowercase();
    assert!(
        logs.contains("certificate"),
        "the refusal names the certificate:\n{logs}"
    );
    drop(server);

    // The same server and device through wuts-offline: logged in.
    let (offline, user) = start(&whatsapp, options(&whatsapp).offline_client());
    let deadline = Instant::now() + WAIT;
    while !connected(&offline, &user) {
        assert!(
            Instant::now() < deadline,
            "wuts-offline never logged in to the offline server:\n{}",
            offline.logs()
        );
        thread::sleep(Duration::from_millis(50));
    }
    assert!(!whatsapp.connections().is_empty());
}
