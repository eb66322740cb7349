#!/usr/bin/env bash
# Runs every test, as on a fresh machine: installs what is missing, builds the project's
# workspace and, apart, `wuts-offline` (tests/offline/Cargo.toml says why apart), then
# runs both workspaces' tests. `.ci/run` calls this; the README shows it.
set -euo pipefail
cd "$(dirname "$0")/.."

config/bootstrap.sh --test
cargo build --workspace
# The same target folder: what both workspaces share is compiled once.
cargo build --manifest-path tests/offline/Cargo.toml --target-dir target
cargo test --workspace
cargo test --manifest-path tests/offline/Cargo.toml --target-dir target
