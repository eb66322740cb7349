//! Where received messages go: the store's message log, so that a later request (a button
//! reply) can quote a message the device received.

use std::sync::Arc;

use super::{DeviceIdentity, InboundMessage, InboundSink};
use crate::store::{LoggedMessage, Store, StoreResult};

/// Writes every message a device receives into the message log.
pub struct MessageLogSink {
    store: Arc<dyn Store>,
}

impl MessageLogSink {
    pub fn new(store: Arc<dyn Store>) -> Self {
        MessageLogSink { store }
    }
}

impl MessageLogSink {
    /// Logs one received message and says whether it was stored: what a caller that can
    /// answer a failure (the sandbox's `POST /sandbox/inbound`) uses. Received rows have
    /// no `route`; sent ones always have one. Blocks until committed.
    pub fn log(&self, device: &DeviceIdentity, message: InboundMessage) -> StoreResult<()> {
        let logged = LoggedMessage {
            device_id: device.device_id.clone(),
            message_id: message.message_id,
            chat_jid: message.chat_jid,
            sender_jid: message.sender_jid,
            from_me: message.from_me,
            route: None,
            message: message.message,
            timestamp: message.timestamp,
        };
        self.store.log_message(logged.entry())
    }
}

impl InboundSink for MessageLogSink {
    /// Called off the async workers (the driver runs it on the blocking pool).
    fn received(&self, device: &DeviceIdentity, message: InboundMessage) {
        let message_id = message.message_id.clone();
        if let Err(error) = self.log(device, message) {
            tracing::warn!(device = %device.device_id, %message_id, %error,
                "could not log a received message");
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::store::{Role, SqliteStore};

    #[test]
    fn received_messages_land_in_the_log_as_given() {
        let dir = std::env::temp_dir().join(format!("wuts-inbound-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let user = store
            .create_user("acme", "alice", Role::User, "lookup", b"hash")
            .unwrap();
        let device = DeviceIdentity {
            device_id: user.default_device_id.clone(),
            tenant_id: user.tenant.clone(),
            user_id: user.user_id.clone(),
        };
        let sink = MessageLogSink::new(Arc::clone(&store));
        let timestamp = Utc.with_ymd_and_hms(2026, 6, 15, 14, 32, 10).unwrap();
        for (id, from_me) in [("3EB0AAAA", false), ("3EB0BBBB", true)] {
            sink.received(
                &device,
                InboundMessage {
                    message_id: id.into(),
                    chat_jid: "5511999999999@s.whatsapp.net".into(),
                    sender_jid: Some("5511999999999@s.whatsapp.net".into()),
                    from_me,
                    message: vec![0x0a, 0x02, b'h', b'i'],
                    timestamp,
                },
            );
        }
        let received = store
            .find_message(&device.device_id, "3EB0AAAA")
            .unwrap()
            .unwrap();
        assert!(!received.from_me);
        assert_eq!(received.chat_jid, "5511999999999@s.whatsapp.net");
        assert_eq!(received.message, vec![0x0a, 0x02, b'h', b'i']);
        assert_eq!(received.timestamp, timestamp);
        assert_eq!(received.route, None);
        let own = store
            .find_message(&device.device_id, "3EB0BBBB")
            .unwrap()
            .unwrap();
        assert!(own.from_me);
        let _ = std::fs::remove_dir_all(dir);
    }
}
