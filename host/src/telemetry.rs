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

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
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
    /// Appends a whole line, or counts it dropped when the buffer is full.
    fn push(&self, line: &[u8]) {
        let mut pending = self.lock();
        if pending.bytes.len() + line.len() > MAX_PENDING_BYTES {
            pending.dropped += 1;
        } else {
            pending.bytes.extend_from_slice(line);
        }
    }

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
        self.shared.push(&self.line);
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

/// Where access lines go once [`init`] has run, and in which format.
struct AccessSink {
    shared: Arc<Shared>,
    json: bool,
}

static ACCESS_SINK: OnceLock<AccessSink> = OnceLock::new();

/// One request's access line (`crate::access`).
pub struct AccessLine<'a> {
    pub request_id: &'a str,
    pub method: &'a str,
    pub route: &'a str,
    pub tenant: &'a str,
    pub status: u16,
    pub latency: Duration,
}

/// Writes a request's access line (target `wuts::access`, level info, so `[log] filter`
/// silences it as it would any event) straight into the buffer, in the same shape the
/// formatter gives other lines. Every request writes one: going through the formatter
/// (field visitors, a timestamp formatted from scratch, a line buffer allocated per
/// event) cost a twelfth of a quick send's CPU (README, Benchmarks).
pub fn access(line: &AccessLine<'_>) {
    if !tracing::enabled!(target: "wuts::access", tracing::Level::INFO) {
        return;
    }
    let Some(sink) = ACCESS_SINK.get() else {
        tracing::info!(
            target: "wuts::access",
            request_id = line.request_id,
            method = line.method,
            route = line.route,
            tenant = line.tenant,
            status = line.status,
            latency_ms = format_args!("{:.2}", line.latency.as_secs_f64() * 1000.0),
            "request"
        );
        return;
    };
    LINE.with_borrow_mut(|text| {
        text.clear();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let micros = now.subsec_micros();
        let latency_ms = line.latency.as_secs_f64() * 1000.0;
        let written = SECOND.with_borrow_mut(|second| {
            second.refresh(now.as_secs());
            if sink.json {
                writeln!(
                    text,
                    "{{\"timestamp\":\"{}.{micros:06}Z\",\"level\":\"INFO\",\"request_id\":{},\"method\":{},\"route\":{},\"tenant\":{},\"status\":{},\"latency_ms\":{latency_ms:.2},\"message\":\"request\",\"target\":\"wuts::access\"}}",
                    second.text,
                    Json(line.request_id),
                    Json(line.method),
                    Json(line.route),
                    Json(line.tenant),
                    line.status,
                )
            } else {
                writeln!(
                    text,
                    "{}.{micros:06}Z  INFO wuts::access: request request_id={} method={} route={:?} tenant={:?} status={} latency_ms={latency_ms:.2}",
                    second.text, line.request_id, line.method, line.route, line.tenant, line.status,
                )
            }
        });
        if written.is_ok() {
            sink.shared.push(text.as_bytes());
        }
    });
}

/// A text as a JSON string.
struct Json<'a>(&'a str);

impl std::fmt::Display for Json<'_> {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let quoted = serde_json::to_string(self.0).map_err(|_| std::fmt::Error)?;
        formatter.write_str(&quoted)
    }
}

/// The current second as `YYYY-MM-DDTHH:MM:SS`, formatted once a second per thread.
#[derive(Default)]
struct Second {
    unix: u64,
    text: String,
}

impl Second {
    fn refresh(&mut self, unix: u64) {
        if self.unix == unix && !self.text.is_empty() {
            return;
        }
        self.unix = unix;
        self.text = i64::try_from(unix)
            .ok()
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(|time| time.format("%Y-%m-%dT%H:%M:%S").to_string())
            .unwrap_or_default();
    }
}

thread_local! {
    static LINE: std::cell::RefCell<String> = std::cell::RefCell::new(String::with_capacity(256));
    static SECOND: std::cell::RefCell<Second> = std::cell::RefCell::new(Second::default());
}

/// `format` is `[log] format`: `json` writes one JSON object a line, anything else text.
pub fn init(filter: &str, format: &str) -> LogGuard {
    let shared = Arc::new(Shared::default());
    let _ = ACCESS_SINK.set(AccessSink {
        shared: Arc::clone(&shared),
        json: format == "json",
    });
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
