//! Finds the built `wuts` binary and plugin libraries; the tests never build anything themselves.

use std::env;
use std::path::{Path, PathBuf};

/// The `wuts` executable's file name.
pub const WUTS_BINARY: &str = "wuts";
/// The `wuts` server built in tests/offline, which accepts the offline WhatsApp server's
/// certificate chain (`cargo build --manifest-path tests/offline/Cargo.toml --target-dir target`).
pub const OFFLINE_WUTS_BINARY: &str = "wuts-offline";
/// The buttons plugin library.
pub const BUTTONS_LIBRARY: &str = "libwuts_plugin_buttons.so";
/// Fixture: a plugin named `panicking` (route `POST /send/panic`) whose encode panics.
pub const PANICKING_LIBRARY: &str = "libwuts_fixture_panicking.so";
/// Fixture: a plugin built against an incompatible ABI, which the host must refuse.
pub const INCOMPATIBLE_LIBRARY: &str = "libwuts_fixture_incompatible.so";

/// The folder holding `wuts` and the plugin libraries.
///
/// In order: `$WUTS_BIN_DIR`; else `$CARGO_TARGET_DIR/<profile>`; else the target folder
/// this test executable was built into (`<target>/<profile>/deps/<test>`), else
/// `<workspace root>/target/<profile>`. The profile is `$WUTS_TEST_PROFILE` or `debug`.
/// A relative `CARGO_TARGET_DIR` is taken from the workspace root, where cargo is usually run.
/// (The workspace root is compiled in; a test built in another checkout that shares the
/// target folder would otherwise look for the binaries there.)
pub fn artefact_dir() -> PathBuf {
    if let Some(dir) = env::var_os("WUTS_BIN_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let profile = env::var("WUTS_TEST_PROFILE")
        .ok()
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| "debug".to_owned());
    let target = match env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace_root().join(dir),
        None => running_target_dir().unwrap_or_else(|| workspace_root().join("target")),
    };
    target.join(profile)
}

/// `<target>` for a test or bench executable at `<target>/<profile>/deps/<name>`.
fn running_target_dir() -> Option<PathBuf> {
    let executable = env::current_exe().ok()?;
    let deps = executable.parent()?;
    if deps.file_name()? != "deps" {
        return None;
    }
    Some(deps.parent()?.parent()?.to_path_buf())
}

/// The workspace root: the parent of this crate's folder.
pub fn workspace_root() -> PathBuf {
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest_dir.parent().unwrap_or(manifest_dir).to_path_buf()
}

/// The path of a built artefact (`wuts` or a library file name), which must exist.
///
/// # Panics
/// If the file is missing, with a message that says how to build it.
pub fn artefact(file_name: &str) -> PathBuf {
    let path = artefact_dir().join(file_name);
    assert!(
        path.is_file(),
        "{} not found. The end-to-end tests run the built binary and plugin libraries: \
         run `cargo build --workspace` first, and for `wuts-offline` \
         `cargo build --manifest-path tests/offline/Cargo.toml --target-dir target` \
         (set WUTS_BIN_DIR to use a folder elsewhere, WUTS_TEST_PROFILE=release for a \
         release build).",
        path.display()
    );
    path
}

/// The `wuts` executable.
pub fn wuts_binary() -> PathBuf {
    artefact(WUTS_BINARY)
}
