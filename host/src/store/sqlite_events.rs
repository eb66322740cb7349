//! The events table in SQLite: appending events (with their webhook deliveries) in one
//! transaction, reading a device's events after a sequence number, and retention.

use std::collections::HashMap;

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{NewEvent, StoreResult, StoredEvent};

/// The envelope every event has, on webhooks and on the stream (docs/API.md, "Events").
#[derive(Serialize)]
struct Envelope<'a> {
    id: &'a str,
    event: &'a str,
    timestamp: i64,
    device_id: &'a str,
    user_id: &'a str,
    seq: i64,
    data: &'a serde_json::value::RawValue,
}

/// What appending remembers between batches, so that an event costs one insert: each
/// device's newest sequence number (only this process's writer appends) and its webhook
/// subscription (forgotten whenever a webhook changes: `webhooks_version`).
#[derive(Default)]
pub struct AppendCache {
    last_seq: HashMap<String, i64>,
    subscriptions: HashMap<String, Option<Subscription>>,
    webhooks_version: u64,
}

/// How many devices the cache remembers before it starts afresh (a bound on memory).
const CACHE_DEVICES: usize = 100_000;

impl AppendCache {
    fn next_seq(
        &mut self,
        transaction: &rusqlite::Transaction<'_>,
        device_id: &str,
    ) -> StoreResult<i64> {
        let seq = match self.last_seq.get(device_id) {
            Some(last) => last + 1,
            None => transaction
                .prepare_cached(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM events WHERE device_id = ?1",
                )?
                .query_row([device_id], |row| row.get(0))?,
        };
        if self.last_seq.len() >= CACHE_DEVICES {
            self.last_seq.clear();
        }
        self.last_seq.insert(device_id.to_owned(), seq);
        Ok(seq)
    }

    fn subscription(
        &mut self,
        transaction: &rusqlite::Transaction<'_>,
        device_id: &str,
    ) -> StoreResult<Option<&Subscription>> {
        if !self.subscriptions.contains_key(device_id) {
            let found = transaction
                .prepare_cached(
                    "SELECT id, events FROM webhooks WHERE device_id = ?1 AND enabled = 1",
                )?
                .query_row([device_id], |row| {
                    Ok(Subscription {
                        webhook_id: row.get(0)?,
                        events: serde_json::from_str(&row.get::<_, String>(1)?).unwrap_or_default(),
                    })
                })
                .optional()?;
            if self.subscriptions.len() >= CACHE_DEVICES {
                self.subscriptions.clear();
            }
            self.subscriptions.insert(device_id.to_owned(), found);
        }
        Ok(self.subscriptions.get(device_id).and_then(Option::as_ref))
    }

    /// Forgets what a batch that did not commit may have counted.
    fn forget_seqs(&mut self) {
        self.last_seq.clear();
    }
}

/// A device's webhook as far as appending needs it: whether it takes an event.
struct Subscription {
    webhook_id: String,
    events: Vec<String>,
}

impl Subscription {
    fn takes(&self, event: &str) -> bool {
        self.events.iter().any(|name| name == "*" || name == event)
    }
}

/// A new time-ordered, unique id with a prefix (`evt_`, `dlv_`).
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", ulid::Ulid::new())
}

/// Appends events: the cache and the webhook version it must match, shared by the
/// store's own `append_events` and the message log's writer, which appends in the
/// transaction that commits the messages queued beside them.
#[derive(Default)]
pub struct EventAppender {
    cache: std::sync::Mutex<AppendCache>,
    /// Counts webhook changes, so the cache knows to read subscriptions again.
    webhooks_version: std::sync::atomic::AtomicU64,
}

impl EventAppender {
    /// A webhook changed: subscriptions are read again before the next append.
    pub fn webhooks_changed(&self) {
        self.webhooks_version
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// Appends `events` in a transaction of their own.
    pub fn append(
        &self,
        connection: &mut Connection,
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let transaction = connection.transaction()?;
        let stored = self.append_within(&transaction, events)?;
        match transaction.commit() {
            Ok(()) => Ok(stored),
            Err(error) => {
                self.rolled_back();
                Err(error.into())
            }
        }
    }

    /// Appends `events` inside `transaction`. Should the transaction not commit, the
    /// caller says so with [`EventAppender::rolled_back`].
    pub fn append_within(
        &self,
        transaction: &rusqlite::Transaction<'_>,
        events: &[NewEvent],
    ) -> StoreResult<Vec<StoredEvent>> {
        let version = self
            .webhooks_version
            .load(std::sync::atomic::Ordering::Acquire);
        let mut cache = self.lock();
        if cache.webhooks_version != version {
            cache.subscriptions.clear();
            cache.webhooks_version = version;
        }
        let stored = append_in(transaction, &mut cache, events);
        if stored.is_err() {
            cache.forget_seqs();
        }
        stored
    }

    /// The transaction holding appended events did not commit: the numbers it counted
    /// are forgotten.
    pub fn rolled_back(&self) {
        self.lock().forget_seqs();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, AppendCache> {
        // The cache only remembers what the table holds; a panic cannot leave it wrong
        // for longer than one batch (which then fails and forgets its numbers).
        self.cache
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn append_in(
    transaction: &rusqlite::Transaction<'_>,
    cache: &mut AppendCache,
    events: &[NewEvent],
) -> StoreResult<Vec<StoredEvent>> {
    let now_ms = chrono::Utc::now().timestamp_millis();
    let mut stored = Vec::with_capacity(events.len());
    for event in events {
        let seq = cache.next_seq(transaction, &event.device_id)?;
        let id = new_id("evt_");
        let envelope = serde_json::to_string(&Envelope {
            id: &id,
            event: &event.name,
            timestamp: event.timestamp,
            device_id: &event.device_id,
            user_id: &event.user_id,
            seq,
            data: &event.data,
        })
        .unwrap_or_default();
        transaction
            .prepare_cached(
                "INSERT INTO events (id, device_id, tenant_id, user_id, seq, name, created_at, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                id,
                event.device_id,
                event.tenant_id,
                event.user_id,
                seq,
                event.name,
                event.timestamp,
                envelope
            ])?;
        let webhook_id = cache
            .subscription(transaction, &event.device_id)?
            .filter(|subscription| subscription.takes(&event.name))
            .map(|subscription| subscription.webhook_id.clone());
        let queued_delivery = webhook_id.is_some();
        if let Some(webhook_id) = webhook_id {
            transaction
                .prepare_cached(
                    "INSERT INTO deliveries (id, event_id, device_id, webhook_id, seq, status, next_attempt_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6)",
                )?
                .execute(params![new_id("dlv_"), id, event.device_id, webhook_id, seq, now_ms])?;
        }
        stored.push(StoredEvent {
            id,
            device_id: event.device_id.clone(),
            tenant_id: event.tenant_id.clone(),
            user_id: event.user_id.clone(),
            seq,
            name: event.name.clone(),
            timestamp: event.timestamp,
            envelope,
            queued_delivery,
        });
    }
    Ok(stored)
}

fn event_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredEvent> {
    Ok(StoredEvent {
        id: row.get("id")?,
        device_id: row.get("device_id")?,
        tenant_id: row.get("tenant_id")?,
        user_id: row.get("user_id")?,
        seq: row.get("seq")?,
        name: row.get("name")?,
        timestamp: row.get("created_at")?,
        envelope: row.get("envelope")?,
        queued_delivery: false,
    })
}

pub fn after(
    connection: &Connection,
    device_id: &str,
    after_seq: i64,
    limit: usize,
) -> StoreResult<Vec<StoredEvent>> {
    // `+ 0`: a bare bound LIMIT re-prepares the statement at every call (see CLAIM in
    // sqlite_webhooks.rs).
    let mut statement = connection.prepare_cached(
        "SELECT id, device_id, tenant_id, user_id, seq, name, created_at, envelope
         FROM events WHERE device_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3 + 0",
    )?;
    let rows = statement.query_map(
        params![device_id, after_seq, limit.min(i64::MAX as usize) as i64],
        event_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

pub fn latest_seq(connection: &Connection, device_id: &str) -> StoreResult<i64> {
    Ok(connection.query_row(
        "SELECT COALESCE(MAX(seq), 0) FROM events WHERE device_id = ?1",
        [device_id],
        |row| row.get(0),
    )?)
}

pub fn seq_of(
    connection: &Connection,
    device_id: &str,
    event_id: &str,
) -> StoreResult<Option<i64>> {
    Ok(connection
        .query_row(
            "SELECT seq FROM events WHERE device_id = ?1 AND id = ?2",
            [device_id, event_id],
            |row| row.get(0),
        )
        .optional()?)
}

/// Removes events created before `before` (Unix seconds) with their finished deliveries;
/// an event with a delivery still pending or being sent (`sending`) is kept. How many.
pub fn purge_before(connection: &mut Connection, before: i64) -> StoreResult<usize> {
    // Event ids are ULIDs: every id below the first ULID of `before` is older, and the id
    // index finds them without a scan.
    let millis = u64::try_from(before.max(0))
        .unwrap_or_default()
        .saturating_mul(1000);
    let boundary = format!("evt_{}", ulid::Ulid::from_parts(millis, 0));
    let transaction = connection.transaction()?;
    // Delivery rows name their event by id, ULIDs too: one pass over the table.
    transaction.execute(
        "DELETE FROM deliveries WHERE status IN ('delivered', 'failed') AND event_id < ?1",
        [&boundary],
    )?;
    // Each device keeps its newest event, so that its numbering goes on from there after
    // a restart (the next seq is the newest one plus one).
    let removed = transaction.execute(
        "DELETE FROM events WHERE id < ?1
         AND seq < (SELECT MAX(newest.seq) FROM events AS newest WHERE newest.device_id = events.device_id)
         AND id NOT IN (SELECT event_id FROM deliveries)",
        [&boundary],
    )?;
    transaction.commit()?;
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::super::{NewEvent, Role, SqliteStore, Store};

    fn event(device_id: &str, n: u32) -> NewEvent {
        NewEvent {
            device_id: device_id.into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
            name: "message.sent".into(),
            data: serde_json::value::to_raw_value(&n).unwrap(),
            timestamp: 1,
        }
    }

    #[test]
    fn purging_keeps_each_devices_newest_event_so_numbering_goes_on_after_a_restart() {
        let dir = std::env::temp_dir().join(format!("wuts-events-{}", uuid::Uuid::new_v4()));
        let path = dir.join("wuts.db");
        let device = {
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
            let user = store
                .create_user("acme", "alice", Role::User, "l", b"h")
                .unwrap();
            let device = user.default_device_id;
            store
                .append_events(&[event(&device, 1), event(&device, 2), event(&device, 3)])
                .unwrap();
            let later = chrono::Utc::now().timestamp() + 3600;
            assert_eq!(store.purge_events_before(later).unwrap(), 2);
            assert_eq!(store.latest_event_seq(&device).unwrap(), 3);
            device
        };
        // A new process starts counting from what is stored.
        let store = SqliteStore::open(&path).unwrap();
        let stored = store.append_events(&[event(&device, 4)]).unwrap();
        assert_eq!(stored[0].seq, 4);
        assert_eq!(
            store
                .events_after(&device, 0, 10)
                .unwrap()
                .iter()
                .map(|e| e.seq)
                .collect::<Vec<_>>(),
            [3, 4]
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
