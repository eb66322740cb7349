//! The release host keeps WhatsApp's certificate-chain verification: the feature that
//! lets the client accept this server's chain reaches only builds that include this crate.
//! Same check as `check-release-features.sh`, from `cargo tree`'s feature graph.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FEATURE: &str = "danger-skip-cert-chain-verify";

/// `cargo tree -e features --prefix none` for these arguments, bounded to two minutes.
fn feature_tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut child = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "-e", "features", "--prefix", "none"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().expect("cargo can be waited for").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("cargo tree {args:?} took longer than two minutes");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("cargo's output");
    assert!(
        output.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_release_host_verifies_the_certificate_chain_and_only_test_builds_skip_it() {
    let release = feature_tree(&["-p", "wuts-host", "--features", "whatsapp"]);
    assert!(
        release.contains("whatsapp-rust feature \"sqlite-storage\""),
        "the tree is not the WhatsApp build:\n{release}"
    );
    assert!(
        !release.contains(FEATURE),
        "cargo build --release -p wuts-host --features whatsapp would skip certificate verification"
    );
    let tests = feature_tree(&[
        "-p",
        "wuts-host",
        "-p",
        "wuts-wa-server",
        "--features",
        "wuts-host/whatsapp",
    ]);
    assert!(
        tests.contains(&format!("wacore-noise feature \"{FEATURE}\"")),
        "the test build should have {FEATURE}; otherwise this check sees nothing"
    );
}
