//! The sandbox driver: an in-process simulated device.
//!
//! It "sends" by recording the message (with its stanza nodes and any media it
//! references) in memory, where `/sandbox/outbox` shows it, and it can be told to be
//! disconnected, slow to acknowledge, or failing. Tests, demos and client developers
//! without a phone use it.

use std::any::Any;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use wuts_plugin_api::{MediaKind, MediaReference, PresenceKind};

use super::sandbox_records::{SandboxMedia, SandboxRecord, SandboxRecords};
use super::{
    DeviceIdentity, DeviceReport, DeviceReports, DeviceStatus, MediaDownload, MediaUpload,
    OutgoingMessage, QrCode, SendReceipt, Session, SessionDriver, SessionError,
};

/// Where sandbox media is served; also what media messages carry as their URL.
pub const MEDIA_PATH: &str = "/sandbox/media/";

#[derive(Default)]
pub struct SandboxDriver {
    records: Arc<SandboxRecords>,
    reports: Option<Arc<dyn DeviceReports>>,
}

impl SandboxDriver {
    pub fn new() -> Self {
        SandboxDriver::default()
    }

    /// A driver that keeps at most `media_budget_bytes` of uploads for `/sandbox/media`.
    pub fn with_media_budget(media_budget_bytes: usize) -> Self {
        SandboxDriver {
            records: Arc::new(SandboxRecords::with_media_budget(media_budget_bytes)),
            reports: None,
        }
    }

    /// Where its devices report connecting and disconnecting.
    pub fn with_reports(mut self, reports: Arc<dyn DeviceReports>) -> Self {
        self.reports = Some(reports);
        self
    }
}

#[async_trait]
impl SessionDriver for SandboxDriver {
    fn name(&self) -> &'static str {
        "sandbox"
    }

    async fn open(&self, device: &DeviceIdentity) -> Result<Arc<dyn Session>, SessionError> {
        Ok(Arc::new(SandboxSession {
            device: device.clone(),
            jid: sandbox_jid(&device.device_id),
            records: Arc::clone(&self.records),
            controls: Mutex::new(SandboxControls::default()),
            reports: self.reports.clone(),
            presences: Mutex::default(),
        }))
    }
}

/// What `/sandbox/state` sets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SandboxControls {
    pub connected: bool,
    pub ack_delay_ms: u64,
    /// How long the "media server" takes to answer an upload.
    pub upload_delay_ms: u64,
    /// When set, every send fails with this text.
    pub fail: Option<String>,
}

impl Default for SandboxControls {
    fn default() -> Self {
        SandboxControls {
            connected: true,
            ack_delay_ms: 0,
            upload_delay_ms: 0,
            fail: None,
        }
    }
}

pub struct SandboxSession {
    device: DeviceIdentity,
    jid: String,
    records: Arc<SandboxRecords>,
    controls: Mutex<SandboxControls>,
    reports: Option<Arc<dyn DeviceReports>>,
    /// The chat presences shown, newest last (at most [`PRESENCES_KEPT`]).
    presences: Mutex<std::collections::VecDeque<PresenceRecord>>,
}

/// How many shown presences a sandbox device remembers.
const PRESENCES_KEPT: usize = 100;

/// A chat presence the sandbox device showed.
#[derive(Debug, Clone, Serialize)]
pub struct PresenceRecord {
    pub chat_jid: String,
    /// `composing`, `recording` or `paused`.
    pub state: &'static str,
    pub at: chrono::DateTime<Utc>,
}

/// A stable, phone-shaped JID for a sandbox device.
fn sandbox_jid(device_id: &str) -> String {
    let digest = Sha256::digest(device_id.as_bytes());
    let number = u64::from_be_bytes([
        0, 0, 0, digest[0], digest[1], digest[2], digest[3], digest[4],
    ]) % 100_000_000;
    format!("1555{number:08}@s.whatsapp.net")
}

impl SandboxSession {
    pub fn controls(&self) -> SandboxControls {
        self.controls
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .clone()
    }

    pub fn set_controls(&self, controls: SandboxControls) {
        let connected = controls.connected;
        let was_connected = std::mem::replace(
            &mut *self
                .controls
                .lock()
                .unwrap_or_else(|poison| poison.into_inner()),
            controls,
        )
        .connected;
        self.connection_changed(was_connected, connected);
    }

    fn set_connected(&self, connected: bool) {
        let was_connected = std::mem::replace(
            &mut self
                .controls
                .lock()
                .unwrap_or_else(|poison| poison.into_inner())
                .connected,
            connected,
        );
        self.connection_changed(was_connected, connected);
    }

    /// Reports a change as the WhatsApp driver would: `device.connected` or
    /// `device.disconnected`.
    fn connection_changed(&self, was_connected: bool, connected: bool) {
        let Some(reports) = self.reports.as_ref().filter(|_| was_connected != connected) else {
            return;
        };
        let report = if connected {
            DeviceReport::Connected {
                jid: Some(self.jid.clone()),
            }
        } else {
            DeviceReport::Disconnected {
                reason: "disconnected through /sandbox/state or POST /disconnect".into(),
            }
        };
        reports.report(&self.device, report);
    }

    /// The chat presences this device showed, oldest first.
    pub fn presences(&self) -> Vec<PresenceRecord> {
        self.presences
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// What every sandbox device recorded.
    pub fn records(&self) -> &SandboxRecords {
        &self.records
    }
}

#[async_trait]
impl Session for SandboxSession {
    fn is_connected(&self) -> bool {
        self.controls
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .connected
    }

    fn own_jid(&self) -> Option<String> {
        Some(self.jid.clone())
    }

    fn status(&self) -> DeviceStatus {
        let connected = self.controls().connected;
        DeviceStatus {
            connected,
            logged_in: true,
            jid: Some(self.jid.clone()),
            state: if connected {
                "connected"
            } else {
                "disconnected"
            }
            .to_string(),
            last_error: (!connected).then(|| "disconnected through /sandbox/state".to_string()),
        }
    }

    async fn send(&self, message: OutgoingMessage) -> Result<SendReceipt, SessionError> {
        let controls = self.controls();
        if !controls.connected {
            return Err(SessionError::NotConnected);
        }
        if let Some(reason) = controls.fail {
            return Err(SessionError::Failed(reason));
        }
        if controls.ack_delay_ms > 0 {
            // The "server" acknowledges late; a caller that gives up first drops this
            // future here, and nothing is recorded, as with an unacknowledged send.
            tokio::time::sleep(Duration::from_millis(controls.ack_delay_ms)).await;
        }
        let timestamp = Utc::now();
        let record = SandboxRecord {
            message_id: message.message_id.clone(),
            to: message.to,
            route: message.route,
            timestamp,
            media_ids: referenced_media(&message.message),
            nodes: message.nodes,
            message: message.message,
        };
        self.records.record(&self.device.device_id, record);
        Ok(SendReceipt {
            message_id: message.message_id,
            timestamp,
        })
    }

    async fn upload_media(&self, upload: MediaUpload) -> Result<MediaReference, SessionError> {
        let controls = self.controls();
        if !controls.connected {
            return Err(SessionError::NotConnected);
        }
        if controls.upload_delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(controls.upload_delay_ms)).await;
        }
        let id = uuid::Uuid::new_v4().to_string();
        let sha256 = Sha256::digest(&upload.bytes).to_vec();
        let reference = MediaReference {
            url: format!("{MEDIA_PATH}{id}"),
            direct_path: format!("{MEDIA_PATH}{id}"),
            // The sandbox stores media unencrypted; the key fields are still filled so
            // messages have the shape WhatsApp's would.
            media_key: Sha256::digest(id.as_bytes()).to_vec(),
            file_enc_sha256: sha256.clone(),
            file_sha256: sha256,
            file_length: upload.bytes.len() as u64,
            media_key_timestamp: Utc::now().timestamp(),
        };
        let media = SandboxMedia {
            id,
            device_id: self.device.device_id.clone(),
            kind: media_kind_name(upload.kind),
            mimetype: upload.mimetype,
            bytes: Arc::new(upload.bytes),
        };
        self.records.save_media(media);
        Ok(reference)
    }

    /// Media the sandbox "uploaded" (any device's: the sandbox is one small WhatsApp),
    /// checked against the message's hash as a real download is.
    async fn download_media(&self, media: MediaDownload) -> Result<Vec<u8>, SessionError> {
        if !self.controls().connected {
            return Err(SessionError::NotConnected);
        }
        let failed = |reason: &str| SessionError::DownloadFailed {
            reason: reason.to_owned(),
        };
        let id = media
            .direct_path
            .strip_prefix(MEDIA_PATH)
            .ok_or_else(|| failed("not a sandbox media path"))?;
        let stored = self
            .records
            .media_info(&[id.to_owned()])
            .pop()
            .ok_or_else(|| failed("no such media (expired, or never uploaded)"))?;
        if Sha256::digest(stored.bytes.as_slice()).as_slice() != media.file_sha256.as_slice() {
            return Err(failed("the media does not match the message's fileSha256"));
        }
        Ok(stored.bytes.as_ref().clone())
    }

    async fn send_presence(
        &self,
        chat_jid: &str,
        presence: Option<PresenceKind>,
    ) -> Result<(), SessionError> {
        if !self.controls().connected {
            return Err(SessionError::NotConnected);
        }
        let state = match presence {
            Some(PresenceKind::Composing) => "composing",
            Some(PresenceKind::Recording) => "recording",
            None => "paused",
        };
        let mut presences = self
            .presences
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if presences.len() >= PRESENCES_KEPT {
            presences.pop_front();
        }
        presences.push_back(PresenceRecord {
            chat_jid: chat_jid.to_owned(),
            state,
            at: Utc::now(),
        });
        Ok(())
    }

    async fn connect(&self) -> Result<(), SessionError> {
        self.set_connected(true);
        Ok(())
    }

    async fn disconnect(&self) -> Result<(), SessionError> {
        self.set_connected(false);
        Ok(())
    }

    async fn qr_code(&self, _wait: Duration) -> Result<QrCode, SessionError> {
        Err(SessionError::AlreadyConnected)
    }

    async fn pair_code(&self, _phone: &str) -> Result<String, SessionError> {
        Err(SessionError::AlreadyConnected)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

pub fn media_kind_name(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Audio => "audio",
        MediaKind::Image => "image",
        MediaKind::Video => "video",
        MediaKind::Document => "document",
        MediaKind::Sticker => "sticker",
    }
}

/// Ids of sandbox media a message refers to (its media URLs carry them).
fn referenced_media(message: &[u8]) -> Vec<String> {
    let marker = MEDIA_PATH.as_bytes();
    let mut ids = Vec::new();
    let mut rest = message;
    while let Some(position) = rest
        .windows(marker.len())
        .position(|window| window == marker)
    {
        let after = &rest[position + marker.len()..];
        let id: String = after
            .iter()
            .take(36)
            .take_while(|byte| byte.is_ascii_hexdigit() || **byte == b'-')
            .map(|&byte| byte as char)
            .collect();
        if id.len() == 36 && !ids.contains(&id) {
            ids.push(id);
        }
        rest = after;
    }
    ids
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_references_are_found_in_message_bytes() {
        let id = "0b7d5c1e-2f4a-4c3b-9d8e-7f6a5b4c3d2e";
        let bytes = format!("\x0a\x20{MEDIA_PATH}{id}\x12\x05junk{MEDIA_PATH}{id}").into_bytes();
        assert_eq!(referenced_media(&bytes), vec![id.to_string()]);
        assert!(referenced_media(b"no media here").is_empty());
    }

    #[test]
    fn the_quick_status_questions_agree_with_status() {
        let session = SandboxSession {
            device: DeviceIdentity {
                device_id: "device-1".into(),
                tenant_id: "t".into(),
                user_id: "u".into(),
            },
            jid: sandbox_jid("device-1"),
            records: Arc::new(SandboxRecords::default()),
            controls: Mutex::new(SandboxControls::default()),
            reports: None,
            presences: Mutex::default(),
        };
        for connected in [true, false] {
            session.set_controls(SandboxControls {
                connected,
                ..SandboxControls::default()
            });
            let status = session.status();
            assert_eq!(session.is_connected(), status.connected);
            assert_eq!(session.is_connected(), connected);
            assert_eq!(session.own_jid(), status.jid);
        }
    }

    #[test]
    fn sandbox_jids_are_phone_shaped_and_stable() {
        let jid = sandbox_jid("device-1");
        assert_eq!(jid, sandbox_jid("device-1"));
        assert!(wuts_plugin_api::normalize_recipient(&jid).is_ok(), "{jid}");
    }
}
