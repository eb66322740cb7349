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

pub fn init(filter: &str) -> LogGuard {
    // The channel's slots are allocated up front, so the default's are resident memory
    // from the start (see README, Benchmarks); 16,384 lines are ample for a thread that
    // only writes them out.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(16_384)
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(true)
        .try_init();
    guard
}
