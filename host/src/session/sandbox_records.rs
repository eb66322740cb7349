//! What the sandbox devices "sent" and "uploaded", kept in memory for `/sandbox/*`.
//!
//! A simulated device needs no durability, and keeping its records out of the database
//! keeps the send path as light as a real driver's. Bounded: the newest messages per
//! device and the newest media up to a byte budget are kept; a restart starts empty.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use wuts_plugin_api::StanzaNodes;

/// Messages kept per device.
pub const OUTBOX_PER_DEVICE: usize = 1000;
/// Media bytes kept across all devices.
pub const MEDIA_BUDGET_BYTES: usize = 512 * 1024 * 1024;

/// One message a sandbox device "sent" (kept in its device's outbox).
#[derive(Debug, Clone)]
pub struct SandboxRecord {
    pub message_id: String,
    pub to: String,
    pub route: String,
    pub timestamp: DateTime<Utc>,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    /// The stanza nodes as the plugin handed them over; `/sandbox/outbox` renders them
    /// ([`StanzaNodes::to_json`]) when asked, so a send does not pay for a rendering that
    /// is seldom read.
    pub nodes: StanzaNodes,
    pub media_ids: Vec<String>,
}

/// A file a sandbox device "uploaded".
#[derive(Debug, Clone)]
pub struct SandboxMedia {
    pub id: String,
    pub device_id: String,
    pub kind: &'static str,
    pub mimetype: String,
    pub bytes: std::sync::Arc<Vec<u8>>,
}

pub struct SandboxRecords {
    inner: Mutex<Inner>,
    /// Past this many bytes of media the oldest uploads are forgotten.
    media_budget_bytes: usize,
}

impl Default for SandboxRecords {
    fn default() -> Self {
        SandboxRecords::with_media_budget(MEDIA_BUDGET_BYTES)
    }
}

#[derive(Default)]
struct Inner {
    outboxes: HashMap<String, VecDeque<SandboxRecord>>,
    media: HashMap<String, SandboxMedia>,
    media_order: VecDeque<String>,
    media_bytes: usize,
}

impl SandboxRecords {
    pub fn with_media_budget(media_budget_bytes: usize) -> Self {
        SandboxRecords {
            inner: Mutex::default(),
            media_budget_bytes,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn record(&self, device_id: &str, record: SandboxRecord) {
        let evicted = {
            let mut inner = self.lock();
            let outbox = match inner.outboxes.get_mut(device_id) {
                Some(outbox) => outbox,
                None => inner.outboxes.entry(device_id.to_owned()).or_default(),
            };
            let evicted = if outbox.len() == OUTBOX_PER_DEVICE {
                outbox.pop_front()
            } else {
                None
            };
            outbox.push_back(record);
            evicted
        };
        // Freed after the lock is released: every send takes this lock.
        drop(evicted);
    }

    /// A device's messages, newest first.
    pub fn outbox(&self, device_id: &str, limit: usize) -> Vec<SandboxRecord> {
        let inner = self.lock();
        inner
            .outboxes
            .get(device_id)
            .map(|outbox| outbox.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default()
    }

    pub fn save_media(&self, media: SandboxMedia) {
        let mut inner = self.lock();
        inner.media_bytes += media.bytes.len();
        inner.media_order.push_back(media.id.clone());
        inner.media.insert(media.id.clone(), media);
        while inner.media_bytes > self.media_budget_bytes && inner.media_order.len() > 1 {
            let Some(oldest) = inner.media_order.pop_front() else {
                break;
            };
            if let Some(evicted) = inner.media.remove(&oldest) {
                inner.media_bytes -= evicted.bytes.len();
            }
        }
    }

    /// Media by id, only when one of `device_ids` uploaded it.
    pub fn media(&self, media_id: &str, device_ids: &[String]) -> Option<SandboxMedia> {
        self.lock()
            .media
            .get(media_id)
            .filter(|media| device_ids.contains(&media.device_id))
            .cloned()
    }

    /// The media among `ids` that is still kept.
    pub fn media_info(&self, ids: &[String]) -> Vec<SandboxMedia> {
        let inner = self.lock();
        ids.iter()
            .filter_map(|id| inner.media.get(id).cloned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: usize) -> SandboxRecord {
        SandboxRecord {
            message_id: id.to_string(),
            to: String::new(),
            route: String::new(),
            timestamp: Utc::now(),
            message: Vec::new(),
            nodes: StanzaNodes::default(),
            media_ids: Vec::new(),
        }
    }

    #[test]
    fn outboxes_are_per_device_newest_first_and_bounded() {
        let records = SandboxRecords::default();
        for id in 0..OUTBOX_PER_DEVICE + 5 {
            records.record("a", record(id));
        }
        records.record("b", record(1));
        let outbox = records.outbox("a", usize::MAX);
        assert_eq!(outbox.len(), OUTBOX_PER_DEVICE);
        assert_eq!(outbox[0].message_id, (OUTBOX_PER_DEVICE + 4).to_string());
        assert_eq!(records.outbox("b", 10).len(), 1);
        assert!(records.outbox("c", 10).is_empty());
    }

    #[test]
    fn the_oldest_media_goes_once_the_budget_is_spent() {
        let records = SandboxRecords::with_media_budget(10);
        for id in ["first", "second", "third"] {
            records.save_media(SandboxMedia {
                id: id.into(),
                device_id: "a".into(),
                kind: "audio",
                mimetype: "audio/ogg".into(),
                bytes: std::sync::Arc::new(vec![0; 4]),
            });
        }
        let device = ["a".to_string()];
        assert!(records.media("first", &device).is_none());
        assert!(records.media("second", &device).is_some());
        assert!(records.media("third", &device).is_some());
    }

    #[test]
    fn media_is_only_found_by_its_device() {
        let records = SandboxRecords::default();
        records.save_media(SandboxMedia {
            id: "m".into(),
            device_id: "a".into(),
            kind: "audio",
            mimetype: "audio/ogg".into(),
            bytes: std::sync::Arc::new(vec![1, 2, 3]),
        });
        assert!(records.media("m", &["a".to_string()]).is_some());
        assert!(records.media("m", &["b".to_string()]).is_none());
    }
}
