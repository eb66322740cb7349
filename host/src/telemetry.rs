//! Logging: `tracing` to stderr, filtered by `RUST_LOG` or `[log] filter`, as text or JSON.
//!
//! Lines gather in a shared buffer that a thread of its own writes out every few
//! milliseconds, so a request never waits on stderr (a slow or stuck reader costs
//! lines, not latency) and a burst of lines becomes one write. The writer is not woken
//! per line: with one access line per request, a wake-up per line (as a channel to a
//! blocked writer thread does) cost a sixth of a quick send's throughput (README,
//! Benchmarks). A full buffer drops lines and says how many.
//!
//! What must never reach a log line: tokens, message text, media. Handlers log ids,
//! routes and outcomes only.

use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// How long lines wait for the writer at most while lines keep coming.
const GATHER: Duration = Duration::from_millis(10);
/// ... and after a quiet spell, so an idle server wakes the writer ten times a second.
const IDLE_GATHER: Duration = Duration::from_millis(100);
/// The most bytes held for the writer; beyond it lines are dropped (and counted).
const MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped: u64,
    closing: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    /// Signalled only at shutdown, so the writer flushes at once.
    closing: Condvar,
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        // Only bytes and counters are kept: a panic mid-push leaves nothing inconsistent.
        self.pending
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

/// Flushes the log when dropped: hold it until the command ends.
pub struct LogGuard {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.closing.notify_all();
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
    }
}

/// One event's line, handed over whole when the formatter is done with it.
pub struct LineWriter {
    shared: Arc<Shared>,
    line: Vec<u8>,
}

impl Write for LineWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.line.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LineWriter {
    fn drop(&mut self) {
        let mut pending = self.shared.lock();
        if pending.bytes.len() + self.line.len() > MAX_PENDING_BYTES {
            pending.dropped += 1;
        } else {
            pending.bytes.extend_from_slice(&self.line);
        }
    }
}

#[derive(Clone)]
struct Lines(Arc<Shared>);

impl<'a> MakeWriter<'a> for Lines {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter {
            shared: Arc::clone(&self.0),
            line: Vec::with_capacity(256),
        }
    }
}

/// Writes what gathered every [`GATHER`], and everything at shutdown.
fn write_out(shared: &Shared) {
    let mut out = std::io::stderr();
    let mut batch = Vec::new();
    let mut wait = GATHER;
    loop {
        let (dropped, closing) = {
            let mut pending = shared.lock();
            if !pending.closing {
                pending = shared
                    .closing
                    .wait_timeout(pending, wait)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|poison| poison.into_inner().0);
            }
            std::mem::swap(&mut batch, &mut pending.bytes);
            (std::mem::take(&mut pending.dropped), pending.closing)
        };
        if dropped > 0 {
            let _ = writeln!(out, "log: {dropped} lines dropped (stderr too slow)");
        }
        wait = if batch.is_empty() {
            IDLE_GATHER
        } else {
            GATHER
        };
        if !batch.is_empty() {
            let _ = out.write_all(&batch);
            batch.clear();
        }
        if closing {
            let _ = out.flush();
            return;
        }
    }
}

/// `format` is `[log] format`: `json` writes one JSON object a line, anything else text.
pub fn init(filter: &str, format: &str) -> LogGuard {
    let shared = Arc::new(Shared::default());
    let writer = {
        let shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("wuts-log".into())
            .spawn(move || write_out(&shared))
            .ok()
    };
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Lines(Arc::clone(&shared)))
        .with_target(true);
    let _ = if format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init()
    };
    LogGuard { shared, writer }
}
