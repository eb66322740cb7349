//! The one way events enter the host: [`EventSink::emit`] queues an event, and a writer
//! thread stores what has queued up in one transaction (each event numbered in its
//! device's sequence, with its webhook delivery row), then announces the stored events to
//! live streams and wakes the webhook deliverer.
//!
//! Emitting never waits for the database: a send's `message.sent` costs its caller a
//! queue push. The trade-off is the message log's (README, "A request's way"): a crash,
//! not a stop, within the few milliseconds before a commit loses those events; the server
//! flushes the sink before it exits.

use std::sync::{Arc, mpsc};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::{Notify, broadcast};

use crate::store::{NewEvent, Store, StoredEvent};

/// The most events one commit takes.
const BATCH: usize = 512;
/// How long the writer lets events gather after the first one arrives.
const GATHER: Duration = Duration::from_millis(5);
/// Stored events a slow live stream may fall behind by before it must catch up from the
/// store (a stream that lags further reads the missed events from the table).
const BROADCAST_CAPACITY: usize = 4096;
/// How often a failed commit is tried again before its events are given up (logged).
const COMMIT_TRIES: u32 = 5;

/// Whose an event is.
#[derive(Debug, Clone, Copy)]
pub struct EventScope<'a> {
    pub device_id: &'a str,
    pub tenant_id: &'a str,
    pub user_id: &'a str,
}

enum Item {
    Event(NewEvent),
    /// Answered once everything queued before it is stored.
    Flush(mpsc::SyncSender<()>),
}

pub struct EventSink {
    queue: mpsc::Sender<Item>,
    stored: broadcast::Sender<Arc<StoredEvent>>,
    deliveries_due: Arc<Notify>,
}

impl EventSink {
    /// Starts the writer thread; it ends when the sink is dropped.
    pub fn start(store: Arc<dyn Store>) -> std::io::Result<EventSink> {
        let (queue, items) = mpsc::channel();
        let (stored, _) = broadcast::channel(BROADCAST_CAPACITY);
        let deliveries_due = Arc::new(Notify::new());
        let writer = Writer {
            store,
            stored: stored.clone(),
            deliveries_due: Arc::clone(&deliveries_due),
        };
        std::thread::Builder::new()
            .name("wuts-event-writer".into())
            .spawn(move || writer.run(&items))?;
        Ok(EventSink {
            queue,
            stored,
            deliveries_due,
        })
    }

    /// Queues an event for `scope`'s device. `data` is serialised here, once: the writer
    /// stores it as it is (and frees one block, not a tree of values, on its thread).
    pub fn emit(&self, scope: EventScope<'_>, name: &str, data: impl Serialize) {
        let data = match serde_json::value::to_raw_value(&data) {
            Ok(data) => data,
            Err(error) => {
                tracing::error!(%error, event = name, "event data did not serialise; event dropped");
                return;
            }
        };
        let event = NewEvent {
            device_id: scope.device_id.to_owned(),
            tenant_id: scope.tenant_id.to_owned(),
            user_id: scope.user_id.to_owned(),
            name: name.to_owned(),
            data,
            timestamp: chrono::Utc::now().timestamp(),
        };
        if self.queue.send(Item::Event(event)).is_err() {
            tracing::error!(event = name, "the event writer has stopped; event dropped");
        }
    }

    /// Stored events as they are committed, for live streams.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<StoredEvent>> {
        self.stored.subscribe()
    }

    /// Woken whenever stored events may have created deliveries.
    pub fn deliveries_due(&self) -> Arc<Notify> {
        Arc::clone(&self.deliveries_due)
    }

    /// Waits (up to `limit`) until every event queued so far is stored.
    pub fn flush(&self, limit: Duration) {
        let (done, stored) = mpsc::sync_channel(1);
        if self.queue.send(Item::Flush(done)).is_ok() {
            let _ = stored.recv_timeout(limit);
        }
    }
}

struct Writer {
    store: Arc<dyn Store>,
    stored: broadcast::Sender<Arc<StoredEvent>>,
    deliveries_due: Arc<Notify>,
}

impl Writer {
    fn run(&self, items: &mpsc::Receiver<Item>) {
        while let Ok(first) = items.recv() {
            let mut events = Vec::new();
            let mut flushes = Vec::new();
            let take = |item, events: &mut Vec<NewEvent>, flushes: &mut Vec<_>| match item {
                Item::Event(event) => events.push(event),
                Item::Flush(done) => flushes.push(done),
            };
            take(first, &mut events, &mut flushes);
            // Sleep, then take what has queued: a thread waiting in `recv` is woken by
            // every send (a futex wake and a context switch per event, on the sender's
            // CPU time), while a sleeping one is not.
            if flushes.is_empty() {
                std::thread::sleep(GATHER);
            }
            while events.len() < BATCH {
                match items.try_recv() {
                    Ok(item) => take(item, &mut events, &mut flushes),
                    Err(_) => break,
                }
            }
            if !events.is_empty() {
                self.store_batch(&events);
            }
            for done in flushes {
                let _ = done.send(());
            }
        }
    }

    fn store_batch(&self, events: &[NewEvent]) {
        for attempt in 1..=COMMIT_TRIES {
            match self.store.append_events(events) {
                Ok(stored) => {
                    // The deliverer claims due rows from the database when woken: wake it
                    // only for a batch that queued some.
                    if stored.iter().any(|event| event.queued_delivery) {
                        self.deliveries_due.notify_one();
                    }
                    // No stream open is the common case: then nothing is announced.
                    if self.stored.receiver_count() > 0 {
                        for event in stored {
                            let _ = self.stored.send(Arc::new(event));
                        }
                    }
                    return;
                }
                Err(error) if attempt < COMMIT_TRIES => {
                    tracing::warn!(%error, attempt, "could not store events; trying again");
                    std::thread::sleep(Duration::from_millis(100 * u64::from(attempt)));
                }
                Err(error) => {
                    tracing::error!(%error, count = events.len(), "could not store events; dropped");
                }
            }
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
        sink.flush(Duration::from_secs(5));

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
