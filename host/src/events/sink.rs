//! The one way events enter the host: [`EventSink::emit`] queues an event with the store,
//! whose writer thread commits it with the messages queued around it (each event
//! numbered in its device's sequence, with its webhook delivery row); the sink then
//! announces the stored events to live streams and wakes the webhook deliverer.
//!
//! Emitting never waits for the database: a send's `message.sent` costs its caller a
//! queue push. The trade-off is the message log's (README, "A request's way"): a crash,
//! not a stop, within the few milliseconds before a commit loses those events; the server
//! flushes the store's writer before it exits.

use std::sync::Arc;

use serde::Serialize;
use tokio::sync::broadcast;

use super::wakeup::DeliveryWakeup;

use crate::store::{NewEvent, Store, StoredEvent};

/// Stored events a slow live stream may fall behind by before it must catch up from the
/// store (a stream that lags further reads the missed events from the table).
const BROADCAST_CAPACITY: usize = 4096;

/// Whose an event is.
#[derive(Debug, Clone, Copy)]
pub struct EventScope<'a> {
    pub device_id: &'a str,
    pub tenant_id: &'a str,
    pub user_id: &'a str,
}

pub struct EventSink {
    store: Arc<dyn Store>,
    announcer: Arc<Announcer>,
}

/// Tells live streams and the webhook deliverer about stored events.
struct Announcer {
    stored: broadcast::Sender<Arc<StoredEvent>>,
    deliveries_due: Arc<DeliveryWakeup>,
}

impl Announcer {
    fn announce(&self, events: Vec<StoredEvent>) {
        // The deliverer claims due rows from the database when woken: tell it only of a
        // batch that queued some.
        self.deliveries_due.queued(
            events
                .iter()
                .filter(|event| event.queued_delivery)
                .map(|event| event.device_id.as_str()),
        );
        // No stream open is the common case: then nothing is announced.
        if self.stored.receiver_count() > 0 {
            for event in events {
                let _ = self.stored.send(Arc::new(event));
            }
        }
    }
}

impl EventSink {
    /// Listens to the store's committed events. One sink per store.
    pub fn start(store: Arc<dyn Store>) -> std::io::Result<EventSink> {
        let (stored, _) = broadcast::channel(BROADCAST_CAPACITY);
        let announcer = Arc::new(Announcer {
            stored,
            deliveries_due: Arc::new(DeliveryWakeup::default()),
        });
        let listener = Arc::clone(&announcer);
        let announce = move |events: Vec<StoredEvent>| listener.announce(events);
        if store.on_events_committed(Box::new(announce)).is_err() {
            return Err(std::io::Error::other(
                "the store already has an event listener",
            ));
        }
        Ok(EventSink { store, announcer })
    }

    /// An event for `scope`'s device, ready to store, for callers that store it in a
    /// transaction of their own (then [`EventSink::announce`] it). `None` when `data`
    /// does not serialise (logged).
    pub fn new_event(scope: EventScope<'_>, name: &str, data: impl Serialize) -> Option<NewEvent> {
        let data = match serde_json::value::to_raw_value(&data) {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(%error, event = name, "event data did not serialise; event dropped");
                return None;
            }
        };
        Some(NewEvent {
            device_id: scope.device_id.to_owned(),
            tenant_id: scope.tenant_id.to_owned(),
            user_id: scope.user_id.to_owned(),
            name: name.to_owned(),
            data,
            timestamp: chrono::Utc::now().timestamp(),
        })
    }

    /// Announces events a caller stored itself (see [`EventSink::new_event`]).
    pub fn announce(&self, events: Vec<StoredEvent>) {
        self.announcer.announce(events);
    }

    /// Queues an event for `scope`'s device. `data` is serialised here, once: the writer
    /// stores it as it is (and frees one block, not a tree of values, on its thread).
    pub fn emit(&self, scope: EventScope<'_>, name: &str, data: impl Serialize) {
        if let Some(event) = EventSink::new_event(scope, name, data) {
            self.store.queue_event(event);
        }
    }

    /// Stored events as they are committed, for live streams.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.announcer.stored.subscribe()
    }

    /// Wakes the deliverer when stored events may have created deliveries it can claim.
    pub fn deliveries_due(&self) -> Arc<DeliveryWakeup> {
        Arc::clone(&self.announcer.deliveries_due)
    }

    /// Waits (up to the store's own limit) until every event queued so far is stored.
    pub fn flush(&self) {
        if let Err(error) = self.store.flush_message_log() {
            tracing::warn!(%error, "events may not all be stored yet");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Role, SqliteStore};

    #[test]
    fn emitted_events_are_numbered_per_device_stored_and_announced() {
        let dir = std::env::temp_dir().join(format!("wuts-sink-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let alice = store
            .create_user("acme", "alice", Role::User, "lookup-a", b"hash")
            .unwrap();
        let bob = store
            .create_user("acme", "bob", Role::User, "lookup-b", b"hash")
            .unwrap();
        let sink = EventSink::start(Arc::clone(&store)).unwrap();
        let mut live = sink.subscribe();
        fn scope(user: &crate::store::UserRecord) -> EventScope<'_> {
            EventScope {
                device_id: &user.default_device_id,
                tenant_id: &user.tenant,
                user_id: &user.user_id,
            }
        }
        for index in 0..3 {
            sink.emit(
                scope(&alice),
                "message.sent",
                serde_json::json!({"n": index}),
            );
        }
        sink.emit(scope(&bob), "message.sent", serde_json::json!({"n": 0}));
        sink.flush();

        let events = store.events_after(&alice.default_device_id, 0, 10).unwrap();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let envelope: serde_json::Value = serde_json::from_str(&events[2].envelope).unwrap();
        assert_eq!(envelope["event"], "message.sent");
        assert_eq!(envelope["seq"], 3);
        assert_eq!(envelope["data"]["n"], 2);
        assert_eq!(envelope["device_id"], alice.default_device_id.as_str());
        assert!(envelope["id"].as_str().unwrap().starts_with("evt_"));
        let bobs = store.events_after(&bob.default_device_id, 0, 10).unwrap();
        assert_eq!(bobs.len(), 1);
        assert_eq!(bobs[0].seq, 1, "each device counts on its own");
        assert_eq!(
            store
                .event_seq(&alice.default_device_id, &events[1].id)
                .unwrap(),
            Some(2)
        );
        assert_eq!(
            store
                .events_after(&alice.default_device_id, 2, 10)
                .unwrap()
                .len(),
            1
        );
        let announced = live.try_recv().expect("the stored events are announced");
        assert_eq!(announced.seq, 1);
        let _ = std::fs::remove_dir_all(dir);
    }
}
