//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or `[log] filter`.
//!
//! What must never reach a log line: tokens, message text, media. Handlers log ids,
//! routes and outcomes only.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

pub fn init(filter: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init();
}
