//! What a device receives, as events: a received message through [`parse`](super::parse)
//! into the sink, and delivery and read receipts (docs/API.md, "Events"). Every session
//! driver calls these, so the sandbox and WhatsApp emit the same data.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::parse::{Inbound, parse};
use super::{EventScope, EventSink};
use crate::time::rfc3339;

/// Emits the event a received message makes; returns its name, or `None` when the
/// message is protocol traffic that makes no event.
pub fn emit_received(
    events: &EventSink,
    scope: EventScope<'_>,
    inbound: &Inbound<'_>,
) -> Option<&'static str> {
    let parsed = parse(inbound)?;
    let name = parsed.event.as_str();
    events.emit(scope, name, parsed.data);
    Some(name)
}

/// Which receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    Delivered,
    Read,
}

impl ReceiptKind {
    /// `delivered` or `read`, as `POST /sandbox/receipt` names them.
    pub fn parse(text: &str) -> Option<ReceiptKind> {
        match text {
            "delivered" => Some(ReceiptKind::Delivered),
            "read" => Some(ReceiptKind::Read),
            _ => None,
        }
    }

    pub fn event_name(self) -> &'static str {
        match self {
            ReceiptKind::Delivered => "message.delivered",
            ReceiptKind::Read => "message.read",
        }
    }
}

/// A receipt for messages this device sent.
#[derive(Debug, Clone, Copy)]
pub struct Receipt<'a> {
    pub kind: ReceiptKind,
    pub message_ids: &'a [String],
    pub chat_jid: &'a str,
    /// Who delivered or read them.
    pub by: &'a str,
    pub timestamp: DateTime<Utc>,
}

impl Receipt<'_> {
    /// The event's `data`.
    pub fn data(&self) -> Value {
        json!({
            "message_ids": self.message_ids,
            "chat_jid": self.chat_jid,
            "by": self.by,
            "timestamp": rfc3339(self.timestamp),
        })
    }
}

/// Emits `message.delivered` or `message.read`.
pub fn emit_receipt(events: &EventSink, scope: EventScope<'_>, receipt: &Receipt<'_>) {
    events.emit(scope, receipt.kind.event_name(), receipt.data());
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::TimeZone;
    use waproto::whatsapp::Message;

    use super::*;
    use crate::store::{Role, SqliteStore, Store};

    #[test]
    fn received_messages_and_receipts_become_stored_events() {
        let dir =
            std::env::temp_dir().join(format!("wuts-inbound-events-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let user = store
            .create_user("acme", "alice", Role::User, "lookup", b"hash")
            .unwrap();
        let sink = EventSink::start(Arc::clone(&store)).unwrap();
        let scope = EventScope {
            device_id: &user.default_device_id,
            tenant_id: &user.tenant,
            user_id: &user.user_id,
        };
        let timestamp = Utc.with_ymd_and_hms(2026, 6, 15, 14, 32, 10).unwrap();
        let message = Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        let inbound = Inbound {
            message_id: "3EB0AAAA",
            chat_jid: "5511999999999@s.whatsapp.net",
            sender_jid: "5511999999999@s.whatsapp.net",
            sender_pn: None,
            sender_lid: None,
            own_jid: Some("15550000001@s.whatsapp.net"),
            is_from_me: false,
            push_name: Some("Alice"),
            timestamp,
            device_id: &user.default_device_id,
            message: &message,
        };
        assert_eq!(
            emit_received(&sink, scope, &inbound),
            Some("message.received")
        );
        let ids = vec!["3EB0BBBB".to_owned()];
        emit_receipt(
            &sink,
            scope,
            &Receipt {
                kind: ReceiptKind::parse("read").unwrap(),
                message_ids: &ids,
                chat_jid: "5511999999999@s.whatsapp.net",
                by: "5511999999999@s.whatsapp.net",
                timestamp,
            },
        );
        sink.flush();
        let events = store.events_after(&user.default_device_id, 0, 10).unwrap();
        let envelopes: Vec<Value> = events
            .iter()
            .map(|event| serde_json::from_str(&event.envelope).unwrap())
            .collect();
        assert_eq!(envelopes[0]["event"], "message.received");
        assert_eq!(envelopes[0]["data"]["content"], "hello");
        assert_eq!(envelopes[0]["data"]["push_name"], "Alice");
        assert_eq!(envelopes[1]["event"], "message.read");
        assert_eq!(
            envelopes[1]["data"],
            json!({
                "message_ids": ["3EB0BBBB"],
                "chat_jid": "5511999999999@s.whatsapp.net",
                "by": "5511999999999@s.whatsapp.net",
                "timestamp": "2026-06-15T14:32:10Z",
            })
        );
        assert_eq!(ReceiptKind::parse("seen"), None);
        let _ = std::fs::remove_dir_all(dir);
    }
}
