//! A client for `GET /events` (server-sent events), read from a raw socket as the
//! events come (the harness's HTTP client waits for whole bodies).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Server, User};

/// How long to wait for an event that should come.
pub const EVENT_WAIT: Duration = Duration::from_secs(10);
/// How long to wait to be sure nothing more comes.
pub const QUIET_WAIT: Duration = Duration::from_millis(700);

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// An open `GET /events` response, read as it comes.
pub struct EventStream {
    reader: BufReader<TcpStream>,
    /// Decoded body text not yet parsed into events.
    pending: String,
}

/// Opens `GET /events{query}`; returns the stream, or the status and body of a refusal.
pub fn open(
    server: &Server,
    token: &str,
    query: &str,
    last_event_id: Option<&str>,
) -> Result<EventStream, (u16, Value)> {
    open_at(server.base_url(), token, query, last_event_id)
}

/// [`open`] on the server at `base_url` (`http://127.0.0.1:PORT`), from any thread.
pub fn open_at(
    base_url: &str,
    token: &str,
    query: &str,
    last_event_id: Option<&str>,
) -> Result<EventStream, (u16, Value)> {
    let address = base_url.strip_prefix("http://").expect("an http base URL");
    let mut socket = TcpStream::connect(address).expect("the server accepts connections");
    let mut head = format!(
        "GET /events{query} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
    );
    if let Some(id) = last_event_id {
        head.push_str(&format!("Last-Event-ID: {id}\r\n"));
    }
    head.push_str("\r\n");
    socket
        .write_all(head.as_bytes())
        .expect("the request is written");
    socket
        .set_read_timeout(Some(EVENT_WAIT))
        .expect("a read timeout can be set");
    let mut reader = BufReader::new(socket);
    let mut status_line = String::new();
    reader.read_line(&mut status_line).expect("a status line");
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line, got {status_line:?}"));
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a header line");
        let line = line.trim_end().to_owned();
        if line.is_empty() {
            break;
        }
        headers.push(line.to_ascii_lowercase());
    }
    if status != 200 {
        let length: usize = headers
            .iter()
            .find_map(|h| h.strip_prefix("content-length:"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("the error body");
        return Err((status, serde_json::from_slice(&body).unwrap_or(Value::Null)));
    }
    assert!(
        headers
            .iter()
            .any(|h| h.starts_with("content-type: text/event-stream")),
        "{headers:?}"
    );
    assert!(
        headers.iter().any(|h| h == "transfer-encoding: chunked"),
        "a streamed body: {headers:?}"
    );
    Ok(EventStream {
        reader,
        pending: String::new(),
    })
}

pub fn open_ok(
    server: &Server,
    user: &User,
    query: &str,
    last_event_id: Option<&str>,
) -> EventStream {
    open(server, &user.token, query, last_event_id)
        .unwrap_or_else(|(status, body)| panic!("GET /events answered {status}: {body}"))
}

impl EventStream {
    /// The next event (comments skipped), or `None` when none comes within `wait`.
    pub fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = Instant::now() + wait;
        loop {
            if let Some(event) = self.take_event() {
                return Some(event);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .expect("a read timeout can be set");
            match self.read_chunk() {
                Ok(()) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return None;
                }
                Err(error) => panic!("the stream broke: {error}"),
            }
        }
    }

    pub fn expect(&mut self, what: &str) -> SseEvent {
        self.next(EVENT_WAIT)
            .unwrap_or_else(|| panic!("no event came: expected {what}"))
    }

    /// Whether the server ends the stream within `wait`; what comes before the end
    /// (events, keepalives) is skipped.
    pub fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            self.reader
                .get_ref()
                .set_read_timeout(Some(left))
                .expect("a read timeout can be set");
            let mut size_line = String::new();
            match self.reader.read_line(&mut size_line) {
                Ok(0) => return true,
                Ok(_) => {}
                Err(error)
                    if matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(_) => return true,
            }
            let Ok(size) = usize::from_str_radix(size_line.trim(), 16) else {
                continue;
            };
            if size == 0 {
                return true;
            }
            let mut chunk = vec![0; size + 2];
            if self.reader.read_exact(&mut chunk).is_err() {
                return true;
            }
        }
    }

    /// Asserts that nothing more comes for a while.
    pub fn assert_quiet(&mut self) {
        if let Some(event) = self.next(QUIET_WAIT) {
            panic!("no more events expected, got {event:?}");
        }
    }

    /// One chunk of the chunked body into `pending`.
    fn read_chunk(&mut self) -> std::io::Result<()> {
        let mut size_line = String::new();
        self.reader.read_line(&mut size_line)?;
        let size = usize::from_str_radix(size_line.trim(), 16)
            .unwrap_or_else(|_| panic!("a chunk size, got {size_line:?}"));
        assert!(size > 0, "the stream ended");
        let mut chunk = vec![0; size + 2];
        self.reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        self.pending
            .push_str(std::str::from_utf8(&chunk).expect("UTF-8 events"));
        Ok(())
    }

    fn take_event(&mut self) -> Option<SseEvent> {
        loop {
            let end = self.pending.find("\n\n")?;
            let block: String = self.pending.drain(..end + 2).collect();
            let mut id = None;
            let mut name = None;
            let mut data = String::new();
            for line in block.lines() {
                if let Some(value) = line.strip_prefix("id: ") {
                    id = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("event: ") {
                    name = Some(value.to_owned());
                } else if let Some(value) = line.strip_prefix("data: ") {
                    data.push_str(value);
                } else if !line.is_empty() {
                    assert!(line.starts_with(':'), "an unknown line {line:?}");
                }
            }
            // A block of comments only (the keepalive) is no event.
            if let Some(event) = name {
                return Some(SseEvent {
                    id,
                    event,
                    data: serde_json::from_str(&data)
                        .unwrap_or_else(|e| panic!("data is JSON ({e}): {data}")),
                });
            }
        }
    }
}
