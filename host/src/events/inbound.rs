//! What devices report, as stored messages and events (docs/API.md, "Events"): a
//! received message enters the received-message log and becomes an event through
//! [`parse`](super::parse), or `poll.vote` through [`poll_vote`] when it is a vote this
//! device can read; receipts and connection changes become their events. Both
//! drivers report through [`DeviceReportHandler`], so the sandbox and WhatsApp emit the
//! same data.

use std::sync::Arc;

use buffa::Message as _;
use serde_json::{Value, json};
use waproto::whatsapp::Message;

use super::parse::{Inbound, parse};
use super::{EventScope, EventSink, poll_vote};
use crate::session::{
    DeviceIdentity, DeviceReport, DeviceReports, InboundMessage, InboundReceipt, ReceiptKind,
};
use crate::store::{LoggedMessage, Store, StoreResult};
use crate::time::rfc3339;

/// Turns every device report into the store's rows and the sink's events.
pub struct DeviceReportHandler {
    store: Arc<dyn Store>,
    events: Arc<EventSink>,
}

/// What became of a received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// Logged, and this event emitted (`None`: protocol traffic that makes no event).
    Logged(Option<&'static str>),
    /// The device had it already: neither logged again nor emitted.
    Duplicate,
}

impl DeviceReportHandler {
    pub fn new(store: Arc<dyn Store>, events: Arc<EventSink>) -> Self {
        DeviceReportHandler { store, events }
    }

    /// Logs a received message and stores its event in one transaction (a message
    /// WhatsApp delivered cannot be asked for again, so neither may be lost alone), then
    /// announces the event. `message` must decode; a driver that read it from the wire
    /// decoded it already.
    pub fn received(
        &self,
        device: &DeviceIdentity,
        received: &InboundMessage,
        message: &Message,
    ) -> StoreResult<Received> {
        let inbound = Inbound {
            message_id: &received.message_id,
            chat_jid: &received.chat_jid,
            sender_jid: &received.sender_jid,
            sender_pn: received.sender_pn.as_deref(),
            sender_lid: received.sender_lid.as_deref(),
            own_jid: received.own_jid.as_deref(),
            is_from_me: received.from_me,
            push_name: received.push_name.as_deref(),
            timestamp: received.timestamp,
            device_id: &device.device_id,
            message,
        };
        let (name, event) = match self.event_of(device, &inbound) {
            Some((name, data)) => (Some(name), EventSink::new_event(scope(device), name, data)),
            None => (None, None),
        };
        let logged = LoggedMessage {
            device_id: device.device_id.clone(),
            message_id: received.message_id.clone(),
            chat_jid: received.chat_jid.clone(),
            sender_jid: Some(received.sender_jid.clone()),
            from_me: received.from_me,
            route: None,
            message: received.message.clone(),
            timestamp: received.timestamp,
        };
        match self.store.log_received(&logged, event.as_ref())? {
            None => Ok(Received::Duplicate),
            Some(stored) => {
                self.events.announce(stored);
                Ok(Received::Logged(name))
            }
        }
    }

    /// The event a received message makes: `poll.vote` for a vote this device can read,
    /// else what [`parse`] makes of it (`None`: protocol traffic that makes no event).
    fn event_of(
        &self,
        device: &DeviceIdentity,
        inbound: &Inbound<'_>,
    ) -> Option<(&'static str, Value)> {
        if let Some(vote) = poll_vote::read(self.store.as_ref(), inbound) {
            match vote {
                Ok(data) => return Some((poll_vote::EVENT, data)),
                // Not a vote this device can read: the message stays `message.received`.
                Err(poll_vote::Unreadable::Store(error)) => {
                    tracing::warn!(device = %device.device_id, message_id = %inbound.message_id,
                        %error, "could not look up a poll vote's poll");
                }
                Err(reason) => {
                    tracing::debug!(device = %device.device_id, message_id = %inbound.message_id,
                        %reason, "a poll vote this device cannot read");
                }
            }
        }
        let parsed = parse(inbound)?;
        Some((parsed.event.as_str(), parsed.data))
    }
}

impl DeviceReports for DeviceReportHandler {
    fn report(&self, device: &DeviceIdentity, report: DeviceReport) {
        let scope = scope(device);
        match report {
            DeviceReport::Received(received) => {
                let Ok(message) = Message::decode_from_slice(&received.message) else {
                    tracing::warn!(device = %device.device_id, message_id = %received.message_id,
                        "a received message did not decode; not logged");
                    return;
                };
                if let Err(error) = self.received(device, &received, &message) {
                    tracing::warn!(device = %device.device_id, message_id = %received.message_id,
                        %error, "could not log a received message");
                }
            }
            DeviceReport::Receipt(receipt) => emit_receipt(&self.events, scope, &receipt),
            DeviceReport::Connected { jid } => {
                self.events
                    .emit(scope, "device.connected", json!({"jid": jid}));
            }
            DeviceReport::Disconnected { reason } => {
                self.events
                    .emit(scope, "device.disconnected", json!({"reason": reason}));
            }
            DeviceReport::LoggedOut { reason } => {
                self.events
                    .emit(scope, "device.logged_out", json!({"reason": reason}));
            }
            DeviceReport::QrGenerated { expires_at } => {
                self.events.emit(
                    scope,
                    "qr.generated",
                    json!({"expires_at": rfc3339(expires_at)}),
                );
            }
            DeviceReport::PairSuccess { jid } => {
                self.events.emit(scope, "pair.success", json!({"jid": jid}));
            }
            DeviceReport::State { state, reason } => {
                let name = format!("connection.{state}");
                if super::names::ALL.contains(&name.as_str()) {
                    self.events
                        .emit(scope, &name, json!({"state": state, "reason": reason}));
                }
            }
        }
    }
}

fn scope(device: &DeviceIdentity) -> EventScope<'_> {
    EventScope {
        device_id: &device.device_id,
        tenant_id: &device.tenant_id,
        user_id: &device.user_id,
    }
}

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

/// `delivered` or `read`, as `POST /sandbox/receipt` names them.
pub fn receipt_kind(text: &str) -> Option<ReceiptKind> {
    match text {
        "delivered" => Some(ReceiptKind::Delivered),
        "read" => Some(ReceiptKind::Read),
        _ => None,
    }
}

/// The event a receipt makes.
pub fn receipt_event_name(kind: ReceiptKind) -> &'static str {
    match kind {
        ReceiptKind::Delivered => "message.delivered",
        ReceiptKind::Read => "message.read",
    }
}

/// A receipt's event `data`.
pub fn receipt_data(receipt: &InboundReceipt) -> Value {
    json!({
        "message_ids": receipt.message_ids,
        "chat_jid": receipt.chat_jid,
        "by": receipt.by,
        "timestamp": rfc3339(receipt.timestamp),
    })
}

/// Emits `message.delivered` or `message.read`.
pub fn emit_receipt(events: &EventSink, scope: EventScope<'_>, receipt: &InboundReceipt) {
    events.emit(
        scope,
        receipt_event_name(receipt.kind),
        receipt_data(receipt),
    );
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};
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
        emit_receipt(
            &sink,
            scope,
            &InboundReceipt {
                kind: receipt_kind("read").unwrap(),
                message_ids: vec!["3EB0BBBB".to_owned()],
                chat_jid: "5511999999999@s.whatsapp.net".into(),
                by: "5511999999999@s.whatsapp.net".into(),
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
        assert_eq!(receipt_kind("seen"), None);
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_received_message_and_its_event_are_stored_together_once() {
        let dir = std::env::temp_dir().join(format!("wuts-received-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let user = store
            .create_user("acme", "alice", Role::User, "lookup", b"hash")
            .unwrap();
        let sink = Arc::new(EventSink::start(Arc::clone(&store)).unwrap());
        let handler = DeviceReportHandler::new(Arc::clone(&store), sink);
        let device = DeviceIdentity {
            device_id: user.default_device_id.clone(),
            tenant_id: user.tenant.clone(),
            user_id: user.user_id.clone(),
        };
        let message = Message {
            conversation: Some("hello".into()),
            ..Default::default()
        };
        let received = InboundMessage {
            message_id: "3EB0ONCE".into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            sender_jid: "5511999999999@s.whatsapp.net".into(),
            message: message.encode_to_vec(),
            timestamp: Utc::now(),
            ..InboundMessage::default()
        };
        assert_eq!(
            handler.received(&device, &received, &message).unwrap(),
            Received::Logged(Some("message.received"))
        );
        // Stored when `received` returns: no flush, no writer thread in between.
        let events = store.events_after(&device.device_id, 0, 10).unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].name, "message.received");
        assert!(
            store
                .find_received(&device.device_id, "3EB0ONCE")
                .unwrap()
                .is_some()
        );
        // WhatsApp delivering it again changes nothing.
        assert_eq!(
            handler.received(&device, &received, &message).unwrap(),
            Received::Duplicate
        );
        assert_eq!(
            store.events_after(&device.device_id, 0, 10).unwrap().len(),
            1
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
