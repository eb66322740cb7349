//! Session drivers: how a device sends messages. One [`Session`] per device.
//!
//! - `sandbox`: an in-process simulated device that records what it is sent.
//! - `whatsapp`: a real WhatsApp linked device (the `whatsapp-rust` crate).
//!
//! The send path wraps [`Session::send`] in the configured send timeout; a driver waits
//! for the server's acknowledgement inside `send` and returns its time.

pub mod manager;
pub mod sandbox;
pub mod sandbox_records;
#[cfg(feature = "whatsapp")]
pub mod whatsapp;

use std::any::Any;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use wuts_plugin_api::{MediaKind, MediaReference, PresenceKind, StanzaNodes};

pub use manager::SessionManager;

/// Identifies a device and its owner; what a driver needs to open a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceIdentity {
    pub device_id: String,
    pub tenant_id: String,
    pub user_id: String,
}

/// A message ready for the wire.
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    /// Generated before the send, so the ack can be matched.
    pub message_id: String,
    /// The recipient JID.
    pub to: String,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    /// Extra stanza nodes from the plugin, as it handed them over: a driver builds the
    /// tree only if it needs one ([`StanzaNodes::to_tree`]), and the sandbox keeps them
    /// as they came.
    pub nodes: StanzaNodes,
    /// The route that produced it, e.g. `/send/buttons`.
    pub route: String,
}

/// The server's acknowledgement of a sent message.
#[derive(Debug, Clone)]
pub struct SendReceipt {
    pub message_id: String,
    pub timestamp: DateTime<Utc>,
}

/// Where a received message's media is and how to check it: what a download needs.
#[derive(Debug, Clone)]
pub struct MediaDownload {
    pub kind: MediaKind,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub file_length: u64,
}

/// A file to upload through the device.
#[derive(Debug, Clone)]
pub struct MediaUpload {
    pub bytes: Vec<u8>,
    pub kind: MediaKind,
    pub mimetype: String,
}

/// A pairing QR code.
#[derive(Debug, Clone)]
pub struct QrCode {
    pub code: String,
    pub expires_at: DateTime<Utc>,
}

/// What a device is doing, as honestly as the driver knows.
#[derive(Debug, Clone, serde::Serialize)]
pub struct DeviceStatus {
    pub connected: bool,
    pub logged_in: bool,
    /// The device's own JID once paired.
    pub jid: Option<String>,
    /// A short word: `connected`, `connecting`, `disconnected`, `pairing`, `logged_out`, ...
    pub state: String,
    /// Why it is not connected, when it is not.
    pub last_error: Option<String>,
}

/// Why a session call failed, as the driver knows it. Routes answer each kind with its own
/// status and code (`crate::error::ApiError::from_session`, the one mapping), so nothing
/// reads these texts afterwards; the texts are what the API answers.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SessionError {
    /// The device is not connected (or not logged in): the caller gets 400 at once.
    #[error("WhatsApp not connected")]
    NotConnected,
    /// The server did not acknowledge in time.
    #[error("timeout")]
    Timeout,
    /// The server acknowledged with an error code (its ack's `error` attribute).
    #[error("server refused the message with error {code}")]
    Rejected { code: String },
    /// No pairing QR code came within the wait.
    #[error("timeout waiting for QR code")]
    QrTimeout,
    /// A pairing step on a device that is logged in.
    #[error("already connected")]
    AlreadyConnected,
    /// A pairing step on a device that is paired but not connected: it logs in with its
    /// keys, so no QR code or pair code will come.
    #[error("already paired as {jid}; not connected")]
    AlreadyPaired { jid: String },
    /// The device's state allows no pairing now (stopped, logged out, ...).
    #[error("no {step} while {state}: {reason}")]
    PairingUnavailable {
        step: PairingStep,
        /// The state's word, as `GET /status` shows it.
        state: String,
        /// Why the device is in that state.
        reason: String,
    },
    /// A pair code was asked of a device whose client never started.
    #[error("the WhatsApp client is not started; POST /connect")]
    NotStarted,
    /// WhatsApp could not be reached for a pairing step.
    #[error("not connected to WhatsApp: {reason}")]
    Unreachable { reason: String },
    /// WhatsApp answered a pairing step with an error.
    #[error("pair code request failed: {reason}")]
    PairingFailed { reason: String },
    /// The phone number a pair code was asked for is not one.
    #[error("phone {phone:?}: {reason}")]
    InvalidPhone { phone: String, reason: String },
    /// The media server refused or lost an upload.
    #[error("media upload failed: {reason}")]
    UploadFailed { reason: String },
    /// The media server refused a download, or what came did not decrypt or match its
    /// hash.
    #[error("media download failed: {reason}")]
    DownloadFailed { reason: String },
    /// The driver does not offer this operation (e.g. pairing on the sandbox).
    #[error("{0}")]
    Unsupported(String),
    /// Anything else that failed on the way.
    #[error("{0}")]
    Failed(String),
}

/// The pairing step a [`SessionError::PairingUnavailable`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairingStep {
    Qr,
    PairCode,
}

impl std::fmt::Display for PairingStep {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(match self {
            PairingStep::Qr => "QR code",
            PairingStep::PairCode => "pair code",
        })
    }
}

/// One device's session.
#[async_trait]
pub trait Session: Send + Sync + 'static {
    fn status(&self) -> DeviceStatus;

    /// `status().connected`, for the send path, which asks on every message.
    fn is_connected(&self) -> bool {
        self.status().connected
    }

    /// `status().jid`: the device's own JID once paired.
    fn own_jid(&self) -> Option<String> {
        self.status().jid
    }

    /// Sends and waits for the server's acknowledgement. Must fail at once with
    /// [`SessionError::NotConnected`] when not connected, never wait.
    async fn send(&self, message: OutgoingMessage) -> Result<SendReceipt, SessionError>;

    async fn upload_media(&self, upload: MediaUpload) -> Result<MediaReference, SessionError>;
    /// Downloads and decrypts a received message's media; the caller bounds its time
    /// and checked its declared size.
    async fn download_media(&self, media: MediaDownload) -> Result<Vec<u8>, SessionError>;
    /// Shows `chat` a presence ("typing...", "recording audio..."), or clears it (`None`).
    async fn send_presence(
        &self,
        chat_jid: &str,
        presence: Option<PresenceKind>,
    ) -> Result<(), SessionError>;

    async fn connect(&self) -> Result<(), SessionError>;

    async fn disconnect(&self) -> Result<(), SessionError>;

    /// The device is being deleted: unlinks it from its phone when it can (a paired
    /// device that is connected), stops it for good and forgets its credentials.
    async fn remove(&self) -> Result<(), SessionError> {
        self.disconnect().await
    }

    /// The current pairing QR code, waiting up to `wait` for one to appear.
    async fn qr_code(&self, wait: Duration) -> Result<QrCode, SessionError>;

    /// Requests an 8-character pairing code for `phone`.
    async fn pair_code(&self, phone: &str) -> Result<String, SessionError>;

    /// Lets a route reach driver-specific controls (the sandbox's state).
    fn as_any(&self) -> &dyn Any;
}

/// Opens sessions of one kind.
#[async_trait]
pub trait SessionDriver: Send + Sync + 'static {
    fn name(&self) -> &'static str;

    /// Opens (and starts connecting) the session of one device.
    async fn open(
        &self,
        device: &DeviceIdentity,
    ) -> Result<std::sync::Arc<dyn Session>, SessionError>;

    /// A deleted device that has no open session: drops whatever the driver keeps of it
    /// (the WhatsApp driver's credentials).
    async fn forget(&self, _device: &DeviceIdentity) -> Result<(), SessionError> {
        Ok(())
    }

    /// The devices that were ever linked to a phone, of those the driver keeps (the
    /// WhatsApp driver: credentials with a phone number). None: every device counts as
    /// linked (the sandbox has no pairing to wait for). At start, only linked devices
    /// are opened: one never paired would take QR codes until WhatsApp stops, with
    /// nobody looking (it opens when someone asks for its QR or status).
    async fn linked_devices(
        &self,
    ) -> Result<Option<std::collections::HashSet<String>>, SessionError> {
        Ok(None)
    }
}

/// How long to wait for a send's acknowledgement, as configured.
pub fn send_timeout(milliseconds: u64) -> Duration {
    Duration::from_millis(milliseconds.max(1))
}

/// A message a device received (or sent from another of the account's devices), as the
/// driver read it: the host logs it (so a button reply can quote it and its media can be
/// fetched) and turns it into an event.
#[derive(Debug, Clone, Default)]
pub struct InboundMessage {
    pub message_id: String,
    pub chat_jid: String,
    /// The sender as the server named it: a phone-number JID or a LID.
    pub sender_jid: String,
    /// The sender's phone-number JID, when the device knows it.
    pub sender_pn: Option<String>,
    /// The sender's LID, when the device knows it.
    pub sender_lid: Option<String>,
    /// The name the sender set for themselves.
    pub push_name: Option<String>,
    /// This device's own JID, when paired.
    pub own_jid: Option<String>,
    pub from_me: bool,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    pub timestamp: DateTime<Utc>,
}

/// Which receipt a device got for messages it sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Delivered,
    Read,
}

/// A receipt for messages this device sent.
#[derive(Debug, Clone)]
pub struct InboundReceipt {
    pub kind: ReceiptKind,
    pub message_ids: Vec<String>,
    pub chat_jid: String,
    /// Who delivered or read them.
    pub by: String,
    pub timestamp: DateTime<Utc>,
}

/// What a device tells the host unasked: what it received, receipts, and how its
/// connection changed. Both drivers report through [`DeviceReports`], and the host turns
/// every report into stored messages and events the same way.
#[derive(Debug, Clone)]
pub enum DeviceReport {
    Received(InboundMessage),
    Receipt(InboundReceipt),
    /// Logged in; sends go out.
    Connected {
        jid: Option<String>,
    },
    /// The connection dropped; the driver reconnects.
    Disconnected {
        reason: String,
    },
    /// WhatsApp ended the pairing: the device must be paired again.
    LoggedOut {
        reason: String,
    },
    /// A new pairing QR code, valid until `expires_at`.
    QrGenerated {
        expires_at: DateTime<Utc>,
    },
    /// A phone paired the device.
    PairSuccess {
        jid: String,
    },
    /// Any other state from the README's state table (`stream_replaced`,
    /// `temporary_ban`, ...), with why.
    State {
        state: &'static str,
        reason: Option<String>,
    },
}

/// Where drivers report what their devices tell them. Called off the async workers
/// (it may write to the store).
pub trait DeviceReports: Send + Sync + 'static {
    fn report(&self, device: &DeviceIdentity, report: DeviceReport);
}

/// Reports go nowhere (tools that open sessions without a server, tests).
pub struct NoReports;

impl DeviceReports for NoReports {
    fn report(&self, _device: &DeviceIdentity, _report: DeviceReport) {}
}
