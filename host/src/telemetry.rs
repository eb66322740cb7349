//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or `[log] filter`.
//!
//! Lines are written by a thread of their own through a buffer, so a request never waits
//! on stderr (a slow or stuck reader costs lines, not latency), and a burst of lines
//! becomes one write.
//!
//! What must never reach a log line: tokens, message text, media. Handlers log ids,
//! routes and outcomes only.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

/// Flushes the log when dropped: hold it until the command ends.
pub type LogGuard = tracing_appender::non_blocking::WorkerGuard;

/// `format` is `[log] format`: `json` writes one JSON object a line, anything else text.
pub fn init(filter: &str, format: &str) -> LogGuard {
    // The channel's slots are allocated up front, so the default's are resident memory
    // from the start (see README, Benchmarks); 16,384 lines are ample for a thread that
    // only writes them out.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_target(true);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    guard
}
