//! No build of the project's workspace skips WhatsApp's certificate-chain verification:
//! the feature that lets a client accept this server's chain is turned on only in the
//! separate workspace tests/offline (its Cargo.toml says why), read from `cargo tree`'s
//! feature graph. tests/e2e/certificate.rs checks the same on the running binary.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const FEATURE: &str = "danger-skip-cert-chain-verify";

/// `cargo tree -e features --prefix none` for these arguments, bounded to two minutes.
fn feature_tree(args: &[&str]) -> String {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let child = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "-e", "features", "--prefix", "none"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cargo runs");
    // Read while it runs: the tree of the whole workspace is larger than a pipe holds.
    let pid = child.id();
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(child.wait_with_output());
    });
    let output = match output.recv_timeout(Duration::from_secs(120)) {
        Ok(output) => output.expect("cargo's output"),
        Err(_) => {
            let _ = Command::new("kill").arg(pid.to_string()).status();
            panic!("cargo tree {args:?} took longer than two minutes");
        }
    };
    assert!(
        output.status.success(),
        "cargo tree {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn no_build_of_the_workspace_skips_certificate_verification_and_only_tests_offline_does() {
    // Every member, with dev-dependencies: what `cargo build --workspace` and
    // `cargo test --workspace` compile, features unified as they unify them.
    let workspace = feature_tree(&["--workspace"]);
    assert!(
        workspace.contains("whatsapp-rust feature \"sqlite-storage\""),
        "the tree is not the WhatsApp build:\n{workspace}"
    );
    assert!(
        !workspace.contains(FEATURE),
        "a build of the workspace would skip certificate verification: {}",
        workspace
            .lines()
            .filter(|line| line.contains(FEATURE))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let offline = feature_tree(&["--manifest-path", "tests/offline/Cargo.toml"]);
    assert!(
        offline.contains(&format!("wacore-noise feature \"{FEATURE}\"")),
        "tests/offline should have {FEATURE}; otherwise this check sees nothing"
    );
}
