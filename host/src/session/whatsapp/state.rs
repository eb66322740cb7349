//! One device's connection and pairing state, as the client's events report it.
//!
//! Kept in a `watch` channel: `status()` reads it without waiting, and `qr_code` waits on
//! it for the next code. Every change names why the device is not connected.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::watch;

use crate::session::{DeviceStatus, QrCode, SessionError};

/// Where a device is. `word()` is what `GET /status` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Opening the socket and logging in (or about to retry, after a failure).
    Connecting,
    /// Connected but not paired: showing QR codes / waiting for a pair code.
    Pairing,
    Connected,
    /// The connection dropped; the client reconnects with backoff.
    Disconnected,
    /// Stopped on request (`disconnect`); credentials kept.
    Stopped,
    /// The phone unlinked this device, or the server refused its credentials.
    LoggedOut,
    /// Another client logged in with this device's credentials.
    StreamReplaced,
    TemporaryBan,
    /// The server refused the login for another reason (no automatic retry).
    ConnectFailure,
    /// The server refused this client version.
    ClientOutdated,
}

impl Phase {
    pub fn word(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Pairing => "pairing",
            Phase::Connected => "connected",
            Phase::Disconnected => "disconnected",
            Phase::Stopped => "stopped",
            Phase::LoggedOut => "logged_out",
            Phase::StreamReplaced => "stream_replaced",
            Phase::TemporaryBan => "temporary_ban",
            Phase::ConnectFailure => "connect_failure",
            Phase::ClientOutdated => "client_outdated",
        }
    }

    /// The client stops retrying by itself in these; only `connect()` starts it again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Phase::Stopped
                | Phase::LoggedOut
                | Phase::StreamReplaced
                | Phase::TemporaryBan
                | Phase::ConnectFailure
                | Phase::ClientOutdated
        )
    }
}

/// The state at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub phase: Phase,
    /// Why the device is not connected; `None` once connected.
    pub last_error: Option<String>,
    /// The current pairing QR code, replaced as the server rotates them.
    pub qr: Option<QrCode>,
    /// The JID the device paired as, learned from a pairing in this process.
    pub paired_jid: Option<String>,
}

/// What the live client says, when there is one; it overrides what events claimed.
#[derive(Debug, Clone, Default)]
pub struct LiveFlags {
    pub socket_open: bool,
    pub logged_in: bool,
    /// The device's own phone-number JID from its stored credentials.
    pub jid: Option<String>,
}

impl Snapshot {
    /// The host's view: connected only when the events and the live client agree.
    pub fn status(&self, live: Option<&LiveFlags>) -> DeviceStatus {
        let live_ok = live.is_none_or(|flags| flags.socket_open && flags.logged_in);
        let connected = self.phase == Phase::Connected && live_ok;
        let logged_in = match live {
            Some(flags) => flags.logged_in,
            None => self.phase == Phase::Connected,
        };
        let jid = live
            .and_then(|flags| flags.jid.clone())
            .or_else(|| self.paired_jid.clone());
        let last_error = if connected {
            None
        } else {
            self.last_error
                .clone()
                .or_else(|| Some("connection lost; reconnecting".into()))
        };
        let state = if self.phase == Phase::Connected && !connected {
            Phase::Disconnected
        } else {
            self.phase
        };
        DeviceStatus {
            connected,
            logged_in,
            jid,
            state: state.word().to_owned(),
            last_error,
        }
    }
}

/// The state of one device, changed by events and by the session's own steps.
pub struct SessionState {
    snapshot: watch::Sender<Snapshot>,
}

impl Default for SessionState {
    fn default() -> Self {
        SessionState::new()
    }
}

impl SessionState {
    pub fn new() -> Self {
        let initial = Snapshot {
            phase: Phase::Connecting,
            last_error: Some("starting".into()),
            qr: None,
            paired_jid: None,
        };
        SessionState {
            snapshot: watch::Sender::new(initial),
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        self.snapshot.borrow().clone()
    }

    pub fn subscribe(&self) -> watch::Receiver<Snapshot> {
        self.snapshot.subscribe()
    }

    fn set(&self, phase: Phase, reason: Option<String>) {
        self.snapshot.send_modify(|snapshot| {
            snapshot.phase = phase;
            snapshot.last_error = reason;
            if phase != Phase::Pairing {
                snapshot.qr = None;
            }
        });
    }

    /// A new client starts (open or `connect()`): whatever ended the last one is history.
    pub fn restart(&self) {
        self.snapshot.send_modify(|snapshot| {
            snapshot.phase = Phase::Connecting;
            snapshot.last_error = Some("connecting to WhatsApp".into());
            snapshot.qr = None;
        });
    }

    /// A connection attempt is under way (the socket opened, or the client's retry).
    pub fn connecting(&self, reason: &str) {
        self.snapshot.send_if_modified(|snapshot| {
            // The terminal states are the client's verdict; a stray retry must not hide it.
            if snapshot.phase.is_terminal() || snapshot.phase == Phase::Pairing {
                return false;
            }
            snapshot.phase = Phase::Connecting;
            snapshot.last_error = Some(reason.to_owned());
            true
        });
    }

    /// The socket could not be opened; the client retries with backoff.
    pub fn unreachable(&self, error: &str) {
        self.snapshot.send_if_modified(|snapshot| {
            if snapshot.phase.is_terminal() {
                return false;
            }
            snapshot.phase = Phase::Disconnected;
            snapshot.last_error = Some(format!(
                "cannot reach WhatsApp: {error}; retrying with backoff"
            ));
            snapshot.qr = None;
            true
        });
    }

    pub fn connected(&self) {
        self.set(Phase::Connected, None);
    }

    pub fn disconnected(&self, reason: &str) {
        self.snapshot.send_if_modified(|snapshot| {
            if snapshot.phase.is_terminal() {
                return false;
            }
            snapshot.phase = Phase::Disconnected;
            snapshot.last_error =
                Some(format!("disconnected: {reason}; reconnecting with backoff"));
            snapshot.qr = None;
            true
        });
    }

    /// The client stopped for good (logout, replacement, ban, refusal), or on request.
    pub fn ended(&self, phase: Phase, reason: String) {
        self.set(phase, Some(reason));
    }

    /// The client's run loop returned: whatever it was doing, it is no longer connecting.
    pub fn run_loop_ended(&self) {
        self.snapshot.send_if_modified(|snapshot| {
            if snapshot.phase.is_terminal() {
                return false;
            }
            snapshot.phase = Phase::Stopped;
            snapshot.last_error =
                Some("the WhatsApp client stopped; POST /connect starts it again".into());
            snapshot.qr = None;
            true
        });
    }

    /// A new QR code: it replaces the previous one and expires after `lifetime`.
    pub fn qr_code(&self, code: String, lifetime: Duration) {
        let lifetime =
            chrono::Duration::from_std(lifetime).unwrap_or(chrono::Duration::seconds(20));
        self.snapshot.send_modify(|snapshot| {
            snapshot.phase = Phase::Pairing;
            snapshot.last_error =
                Some("not paired: scan the QR code or enter a pair code on the phone".into());
            snapshot.qr = Some(QrCode {
                code,
                expires_at: Utc::now() + lifetime,
            });
        });
    }

    /// The server stopped issuing codes without a scan.
    pub fn qr_codes_exhausted(&self, socket_closed: bool) {
        let reason = "no QR code was scanned in time; POST /connect to get new codes".to_owned();
        if socket_closed {
            self.set(Phase::Stopped, Some(reason));
        } else {
            self.snapshot.send_modify(|snapshot| {
                snapshot.qr = None;
                snapshot.last_error = Some(reason);
            });
        }
    }

    pub fn paired(&self, jid: String) {
        self.snapshot.send_modify(|snapshot| {
            snapshot.phase = Phase::Connecting;
            snapshot.last_error = Some("paired; logging in".into());
            snapshot.qr = None;
            snapshot.paired_jid = Some(jid);
        });
    }

    pub fn pairing_failed(&self, error: &str) {
        self.snapshot.send_modify(|snapshot| {
            snapshot.last_error = Some(format!("pairing failed: {error}"));
        });
    }

    /// Waits up to `wait` for a QR code that has not expired.
    ///
    /// `already_paired` is asked on every change: a logged-in device gets no QR code.
    pub async fn wait_for_qr(
        &self,
        wait: Duration,
        already_paired: impl Fn() -> Option<SessionError>,
    ) -> Result<QrCode, SessionError> {
        let deadline = tokio::time::Instant::now() + wait;
        let mut changes = self.subscribe();
        loop {
            if let Some(refusal) = already_paired() {
                return Err(refusal);
            }
            let current = changes.borrow_and_update().clone();
            if current.phase == Phase::Connected {
                return Err(SessionError::AlreadyConnected);
            }
            if let Some(qr) = current.qr.filter(|qr| qr.expires_at > Utc::now()) {
                return Ok(qr);
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) | Err(_) => {
                    return Err(SessionError::QrTimeout);
                }
            }
        }
    }
}

/// A QR code's expiry as seconds from now, for logs.
pub fn seconds_left(qr: &QrCode, now: DateTime<Utc>) -> i64 {
    (qr.expires_at - now).num_seconds()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn never_paired() -> Option<SessionError> {
        None
    }

    #[test]
    fn a_new_session_is_connecting_and_says_why_it_is_not_connected() {
        let state = SessionState::new();
        let status = state.snapshot().status(None);
        assert!(!status.connected);
        assert_eq!(status.state, "connecting");
        assert!(status.last_error.is_some());
    }

    #[test]
    fn an_unreachable_server_shows_the_reason_and_connected_clears_it() {
        let state = SessionState::new();
        state.unreachable("dns error: no such host");
        let status = state.snapshot().status(None);
        assert_eq!(status.state, "disconnected");
        assert!(
            status
                .last_error
                .as_deref()
                .is_some_and(|e| e.contains("no such host"))
        );
        state.connected();
        let status = state.snapshot().status(None);
        assert!(status.connected && status.logged_in);
        assert_eq!(status.last_error, None);
    }

    #[test]
    fn the_live_client_overrides_a_stale_connected_event() {
        let state = SessionState::new();
        state.connected();
        let live = LiveFlags {
            socket_open: false,
            logged_in: false,
            jid: Some("1@s.whatsapp.net".into()),
        };
        let status = state.snapshot().status(Some(&live));
        assert!(!status.connected);
        assert_eq!(status.state, "disconnected");
        assert_eq!(status.jid.as_deref(), Some("1@s.whatsapp.net"));
        assert!(status.last_error.is_some());
    }

    #[test]
    fn terminal_states_are_not_hidden_by_later_retries_or_drops() {
        let state = SessionState::new();
        state.ended(Phase::StreamReplaced, "another client took over".into());
        state.disconnected("stream ended");
        state.unreachable("refused");
        state.connecting("retrying");
        state.run_loop_ended();
        let status = state.snapshot().status(None);
        assert_eq!(status.state, "stream_replaced");
        assert_eq!(
            status.last_error.as_deref(),
            Some("another client took over")
        );
    }

    #[tokio::test]
    async fn qr_codes_rotate_and_the_newest_is_served() {
        let state = SessionState::new();
        state.qr_code("code-1".into(), Duration::from_secs(60));
        assert_eq!(
            state
                .wait_for_qr(Duration::ZERO, never_paired)
                .await
                .unwrap()
                .code,
            "code-1"
        );
        state.qr_code("code-2".into(), Duration::from_secs(20));
        let qr = state
            .wait_for_qr(Duration::ZERO, never_paired)
            .await
            .unwrap();
        assert_eq!(qr.code, "code-2");
        assert!((18..=20).contains(&seconds_left(&qr, Utc::now())));
        assert_eq!(state.snapshot().status(None).state, "pairing");
    }

    #[tokio::test]
    async fn a_waiting_request_gets_the_code_when_it_arrives() {
        let state = Arc::new(SessionState::new());
        let waiter = {
            let state = Arc::clone(&state);
            tokio::spawn(async move {
                state
                    .wait_for_qr(Duration::from_secs(5), never_paired)
                    .await
            })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        state.qr_code("late".into(), Duration::from_secs(20));
        assert_eq!(waiter.await.unwrap().unwrap().code, "late");
    }

    #[tokio::test]
    async fn an_expired_code_is_not_served_and_the_wait_times_out() {
        let state = SessionState::new();
        state.qr_code("stale".into(), Duration::ZERO);
        let error = state
            .wait_for_qr(Duration::from_millis(30), never_paired)
            .await
            .unwrap_err();
        assert_eq!(error, SessionError::QrTimeout);
    }

    #[tokio::test]
    async fn a_connected_device_gets_no_qr_code() {
        let state = SessionState::new();
        state.qr_code("code".into(), Duration::from_secs(60));
        state.paired("5511999999999@s.whatsapp.net".into());
        state.connected();
        let error = state
            .wait_for_qr(Duration::from_secs(5), never_paired)
            .await
            .unwrap_err();
        assert_eq!(error, SessionError::AlreadyConnected);
        let refused = state
            .wait_for_qr(Duration::from_secs(5), || {
                Some(SessionError::AlreadyConnected)
            })
            .await;
        assert!(refused.is_err());
    }

    #[tokio::test]
    async fn exhausted_codes_clear_the_code_and_say_what_to_do() {
        let state = SessionState::new();
        state.qr_code("code".into(), Duration::from_secs(60));
        state.qr_codes_exhausted(true);
        let status = state.snapshot().status(None);
        assert_eq!(status.state, "stopped");
        assert!(status.last_error.unwrap().contains("POST /connect"));
        assert!(state.snapshot().qr.is_none());
    }
}
