//! Child processes that never hang a test: drained output, bounded waits, signals.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// Output collected from a pipe by a background thread, readable while the process runs.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Everything read so far, as text without terminal colour codes.
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        strip_ansi(&String::from_utf8_lossy(&bytes))
    }

    fn push(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
    }
}

/// Reads `pipe` line by line into `sink` until it closes, calling `on_line` for each line.
pub fn drain_lines(
    pipe: impl Read + Send + 'static,
    sink: Captured,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    sink.push(&line);
                    on_line(&strip_ansi(&String::from_utf8_lossy(&line)));
                }
            }
        }
    })
}

/// Waits for `child` to exit, at most `timeout`.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Sends `signal` (e.g. `libc::SIGTERM`) to `child`.
pub fn signal(child: &Child, signal: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("a pid fits in pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child's, which has
    // not been reaped while we hold `child` without having waited on it successfully.
    unsafe {
        libc::kill(pid, signal);
    }
}

/// Joins `handle`, waiting at most `timeout` (a reader thread ends when its pipe closes).
pub fn join_timeout(handle: JoinHandle<()>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while !handle.is_finished() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    if handle.is_finished() {
        let _ = handle.join();
    }
}

/// What a finished command printed and how it exited.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Finished {
    /// Whether it exited with code 0.
    pub fn success(&self) -> bool {
        self.status.success()
    }
}

/// Runs `command` to completion, killing it after `timeout`.
///
/// # Panics
/// If it cannot start or does not finish in time (then with what it printed so far).
pub fn run(mut command: Command, timeout: Duration) -> Finished {
    let description = format!("{command:?}");
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {description}: {e}"));
    let stdout = Captured::default();
    let stderr = Captured::default();
    let out_thread = drain_lines(
        child.stdout.take().expect("stdout is piped"),
        stdout.clone(),
        |_| {},
    );
    let err_thread = drain_lines(
        child.stderr.take().expect("stderr is piped"),
        stderr.clone(),
        |_| {},
    );
    let Some(status) = wait_timeout(&mut child, timeout) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "{description} did not finish within {timeout:?}\nstdout:\n{}\nstderr:\n{}",
            stdout.text(),
            stderr.text()
        );
    };
    join_timeout(out_thread, Duration::from_secs(5));
    join_timeout(err_thread, Duration::from_secs(5));
    Finished {
        status,
        stdout: stdout.text(),
        stderr: stderr.text(),
    }
}

/// `text` without ANSI escape sequences (CSI `ESC [ ... letter`), so that coloured log output
/// can be searched as plain text.
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// This machine's host name (Linux: `/proc/sys/kernel/hostname`), or `localhost`.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

#[cfg(test)]
mod tests {
    use super::strip_ansi;

    #[test]
    fn strips_colour_codes() {
        assert_eq!(
            strip_ansi("\u{1b}[2m2026\u{1b}[0m \u{1b}[32m INFO\u{1b}[0m plugin refused: x"),
            "2026  INFO plugin refused: x"
        );
        assert_eq!(strip_ansi("plain"), "plain");
    }
}
