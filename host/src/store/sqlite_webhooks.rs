//! Webhooks in SQLite: device and user configurations, claiming due deliveries under a
//! lease, recording each attempt, and the failures list with its replay.
//!
//! A delivery is `pending` (waiting for `next_attempt_at`), `sending` (claimed; its
//! `next_attempt_at` is the lease's end, so a delivery whose process died is due again
//! once the lease runs out), `delivered` or `failed`. Per device only the lowest `seq`
//! not yet finished is due: a device's events reach its webhook in order.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::sql_time::{parse_time, timestamp};
use super::sqlite_events::new_id;
use super::{
    AttemptOutcome, ClaimedDelivery, DeliveryFailure, DeviceRecord, StoreResult, UserWebhookRecord,
    WebhookRecord,
};

/// Defaults of a webhook made from a user's URL (docs/API.md, "Webhooks").
const USER_WEBHOOK_RETRY_ATTEMPTS: u32 = 3;
const USER_WEBHOOK_TIMEOUT_SECONDS: u32 = 30;

/// The devices with unfinished deliveries, found by seeking the partial index
/// `deliveries_unfinished` from one device to the next (a loose index scan): a claim costs
/// a few index seeks per such device, not a pass over every unfinished row. A query that
/// walked the unfinished rows for their devices' heads read a whole backlog on every
/// claim (README, "Events and webhooks"). `INDEXED BY`,
/// because without statistics the planner preferred the due index and scanned it.
const UNFINISHED_DEVICES: &str = "
    WITH RECURSIVE devices(device_id) AS (
        SELECT MIN(device_id) FROM deliveries INDEXED BY deliveries_unfinished
        WHERE status IN ('pending', 'sending')
        UNION ALL
        SELECT (SELECT MIN(x.device_id) FROM deliveries x INDEXED BY deliveries_unfinished
                WHERE x.status IN ('pending', 'sending') AND x.device_id > devices.device_id)
        FROM devices WHERE devices.device_id IS NOT NULL
    )";

/// The due, eligible heads of each device's queue (after [`UNFINISHED_DEVICES`]):
/// unfinished, the lowest unfinished seq of their device, and their webhook enabled.
const DUE_HEADS: &str = "
    FROM devices
    JOIN deliveries d INDEXED BY deliveries_unfinished ON d.device_id = devices.device_id
     AND d.seq = (SELECT MIN(x.seq) FROM deliveries x
                  WHERE x.device_id = devices.device_id AND x.status IN ('pending', 'sending'))
    JOIN webhooks w ON w.id = d.webhook_id AND w.enabled = 1
    WHERE d.status IN ('pending', 'sending')";

/// Claims the due heads: `?1` now, `?2` the lease's end (both Unix ms), `?3` how many.
///
/// `LIMIT ?3 + 0`, not `LIMIT ?3`: SQLite plans an ORDER BY with a bare bound LIMIT
/// around its value, so every new binding re-prepared the whole statement (a fifth of
/// the deliverer's CPU under load; `a_claim_is_prepared_once` holds it).
static CLAIM: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE deliveries SET status = 'sending', attempts = attempts + 1,
             next_attempt_at = ?2
         WHERE id IN ({UNFINISHED_DEVICES} SELECT d.id {DUE_HEADS}
                      AND d.next_attempt_at <= ?1 ORDER BY d.next_attempt_at LIMIT ?3 + 0)
         RETURNING id, event_id, device_id, seq, webhook_id, attempts"
    )
});

static NEXT_DUE_AT: LazyLock<String> =
    LazyLock::new(|| format!("{UNFINISHED_DEVICES} SELECT MIN(d.next_attempt_at) {DUE_HEADS}"));

fn webhook_from_row(row: &Row<'_>) -> rusqlite::Result<WebhookRecord> {
    let headers: String = row.get("headers")?;
    let events: String = row.get("events")?;
    Ok(WebhookRecord {
        id: row.get("id")?,
        device_id: row.get("device_id")?,
        tenant_id: row.get("tenant_id")?,
        user_id: row.get("user_id")?,
        url: row.get("url")?,
        events: serde_json::from_str(&events).unwrap_or_default(),
        enabled: row.get("enabled")?,
        retry_attempts: row.get("retry_attempts")?,
        timeout_seconds: row.get("timeout_seconds")?,
        secret: row.get("secret")?,
        headers: serde_json::from_str::<BTreeMap<String, String>>(&headers).unwrap_or_default(),
        created_at: parse_time(&row.get::<_, String>("created_at")?),
        updated_at: parse_time(&row.get::<_, String>("updated_at")?),
    })
}

pub fn webhook(connection: &Connection, device_id: &str) -> StoreResult<Option<WebhookRecord>> {
    Ok(connection
        .query_row(
            "SELECT * FROM webhooks WHERE device_id = ?1",
            [device_id],
            webhook_from_row,
        )
        .optional()?)
}

/// Creates or replaces a device's webhook; a replaced one keeps its id and creation time,
/// so its pending deliveries go to the new settings.
pub fn set_webhook(
    connection: &mut Connection,
    webhook: &WebhookRecord,
) -> StoreResult<WebhookRecord> {
    let transaction = connection.transaction()?;
    let existing = self::webhook(&transaction, &webhook.device_id)?;
    let now = Utc::now();
    let stored = WebhookRecord {
        id: existing
            .as_ref()
            .map_or_else(|| new_id("wh_"), |old| old.id.clone()),
        created_at: existing.as_ref().map_or(now, |old| old.created_at),
        updated_at: now,
        ..webhook.clone()
    };
    transaction.execute(
        "INSERT INTO webhooks (device_id, id, tenant_id, user_id, url, events, enabled,
             retry_attempts, timeout_seconds, secret, headers, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
         ON CONFLICT (device_id) DO UPDATE SET url = excluded.url, events = excluded.events,
             enabled = excluded.enabled, retry_attempts = excluded.retry_attempts,
             timeout_seconds = excluded.timeout_seconds, secret = excluded.secret,
             headers = excluded.headers, updated_at = excluded.updated_at",
        params![
            stored.device_id,
            stored.id,
            stored.tenant_id,
            stored.user_id,
            stored.url,
            serde_json::to_string(&stored.events).unwrap_or_else(|_| "[]".into()),
            stored.enabled,
            stored.retry_attempts,
            stored.timeout_seconds,
            stored.secret,
            serde_json::to_string(&stored.headers).unwrap_or_else(|_| "{}".into()),
            timestamp(stored.created_at),
            timestamp(stored.updated_at),
        ],
    )?;
    transaction.commit()?;
    Ok(stored)
}

/// Removes a device's webhook and the deliveries still on their way to it (failures stay
/// listed). Whether there was one.
pub fn delete_webhook(connection: &mut Connection, device_id: &str) -> StoreResult<bool> {
    let transaction = connection.transaction()?;
    transaction.execute(
        "DELETE FROM deliveries WHERE device_id = ?1 AND status IN ('pending', 'sending')",
        [device_id],
    )?;
    let removed = transaction.execute("DELETE FROM webhooks WHERE device_id = ?1", [device_id])?;
    transaction.commit()?;
    Ok(removed > 0)
}

pub fn set_user_webhook(
    connection: &Connection,
    tenant_id: &str,
    user_id: &str,
    url: &str,
) -> StoreResult<UserWebhookRecord> {
    let now = timestamp(Utc::now());
    connection.execute(
        "INSERT INTO user_webhooks (user_id, tenant_id, url, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?4)
         ON CONFLICT (user_id) DO UPDATE SET url = excluded.url, updated_at = excluded.updated_at",
        params![user_id, tenant_id, url, now],
    )?;
    Ok(
        user_webhook(connection, user_id)?.unwrap_or_else(|| UserWebhookRecord {
            user_id: user_id.to_owned(),
            tenant_id: tenant_id.to_owned(),
            url: url.to_owned(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }),
    )
}

pub fn user_webhook(
    connection: &Connection,
    user_id: &str,
) -> StoreResult<Option<UserWebhookRecord>> {
    Ok(connection
        .query_row(
            "SELECT user_id, tenant_id, url, created_at, updated_at FROM user_webhooks
             WHERE user_id = ?1",
            [user_id],
            |row| {
                Ok(UserWebhookRecord {
                    user_id: row.get(0)?,
                    tenant_id: row.get(1)?,
                    url: row.get(2)?,
                    created_at: parse_time(&row.get::<_, String>(3)?),
                    updated_at: parse_time(&row.get::<_, String>(4)?),
                })
            },
        )
        .optional()?)
}

/// Gives a new device its user's webhook URL, subscribed to every event, if the user
/// kept one. Whether it did.
pub fn apply_user_webhook(connection: &mut Connection, device: &DeviceRecord) -> StoreResult<bool> {
    let Some(user) = user_webhook(connection, &device.user_id)? else {
        return Ok(false);
    };
    let now = Utc::now();
    set_webhook(
        connection,
        &WebhookRecord {
            id: String::new(),
            device_id: device.id.clone(),
            tenant_id: device.tenant_id.clone(),
            user_id: device.user_id.clone(),
            url: user.url,
            events: vec!["*".to_owned()],
            enabled: true,
            retry_attempts: USER_WEBHOOK_RETRY_ATTEMPTS,
            timeout_seconds: USER_WEBHOOK_TIMEOUT_SECONDS,
            secret: None,
            headers: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        },
    )?;
    Ok(true)
}

/// Claims up to `limit` due deliveries in one statement: each becomes `sending` with a
/// lease until `lease_until_ms`, its attempt counted.
pub fn claim(
    connection: &mut Connection,
    now_ms: i64,
    lease_until_ms: i64,
    limit: usize,
) -> StoreResult<Vec<ClaimedDelivery>> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let transaction = connection.transaction()?;
    let claimed: Vec<(String, String, String, i64, String, u32)> = {
        let mut statement = transaction.prepare_cached(&CLAIM)?;
        let rows = statement.query_map(
            params![now_ms, lease_until_ms, limit.min(i64::MAX as usize) as i64],
            |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                    row.get(5)?,
                ))
            },
        )?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut deliveries = Vec::with_capacity(claimed.len());
    for (id, event_id, device_id, seq, webhook_id, attempt) in claimed {
        let event = transaction
            .prepare_cached("SELECT name, envelope FROM events WHERE id = ?1")?
            .query_row([&event_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .optional()?;
        let webhook = transaction
            .prepare_cached("SELECT * FROM webhooks WHERE id = ?1")?
            .query_row([&webhook_id], webhook_from_row)
            .optional()?;
        match (event, webhook) {
            (Some((event_name, envelope)), Some(webhook)) => deliveries.push(ClaimedDelivery {
                id,
                event_id,
                event_name,
                device_id,
                seq,
                envelope,
                attempt,
                webhook,
            }),
            // The join made both exist; a row without them cannot be sent.
            _ => {
                transaction.execute(
                    "UPDATE deliveries SET status = 'failed', last_error = 'event or webhook gone',
                         finished_at = ?2 WHERE id = ?1",
                    params![id, timestamp(Utc::now())],
                )?;
            }
        }
    }
    transaction.commit()?;
    Ok(deliveries)
}

/// When the next eligible delivery is due (Unix ms), if any is waiting.
pub fn next_due_at(connection: &Connection) -> StoreResult<Option<i64>> {
    Ok(connection
        .prepare_cached(&NEXT_DUE_AT)?
        .query_row([], |row| row.get(0))?)
}

/// Records how a claimed attempt ended.
pub fn finish_attempt(
    connection: &Connection,
    delivery_id: &str,
    outcome: &AttemptOutcome,
) -> StoreResult<()> {
    let now = timestamp(Utc::now());
    // Cached: the deliverer records an outcome per delivery.
    match outcome {
        AttemptOutcome::Delivered { status } => connection
            .prepare_cached(
                "UPDATE deliveries SET status = 'delivered', last_status = ?2, last_error = NULL,
                 finished_at = ?3 WHERE id = ?1 AND status = 'sending'",
            )?
            .execute(params![delivery_id, status, now])?,
        AttemptOutcome::Retry {
            at_ms,
            status,
            error,
        } => connection
            .prepare_cached(
                "UPDATE deliveries SET status = 'pending', next_attempt_at = ?2, last_status = ?3,
                 last_error = ?4 WHERE id = ?1 AND status = 'sending'",
            )?
            .execute(params![delivery_id, at_ms, status, error])?,
        AttemptOutcome::Failed { status, error } => connection
            .prepare_cached(
                "UPDATE deliveries SET status = 'failed', last_status = ?2, last_error = ?3,
                 finished_at = ?4 WHERE id = ?1 AND status = 'sending'",
            )?
            .execute(params![delivery_id, status, error, now])?,
    };
    Ok(())
}

fn failure_from_row(row: &Row<'_>) -> rusqlite::Result<DeliveryFailure> {
    Ok(DeliveryFailure {
        id: row.get(0)?,
        device_id: row.get(1)?,
        event_id: row.get(2)?,
        event: row.get(3)?,
        attempts: row.get(4)?,
        last_status: row.get(5)?,
        last_error: row.get(6)?,
        failed_at: parse_time(&row.get::<_, Option<String>>(7)?.unwrap_or_default()),
    })
}

const FAILURE_COLUMNS: &str = "SELECT d.id, d.device_id, d.event_id, e.name, d.attempts,
    d.last_status, d.last_error, d.finished_at
    FROM deliveries d JOIN events e ON e.id = d.event_id";

/// A device's failed deliveries, the latest first.
pub fn failures(
    connection: &Connection,
    device_id: &str,
    limit: usize,
) -> StoreResult<Vec<DeliveryFailure>> {
    let mut statement = connection.prepare_cached(&format!(
        "{FAILURE_COLUMNS} WHERE d.device_id = ?1 AND d.status = 'failed'
         ORDER BY d.finished_at DESC, d.seq DESC LIMIT ?2"
    ))?;
    let rows = statement.query_map(
        params![device_id, limit.min(i64::MAX as usize) as i64],
        failure_from_row,
    )?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
}

/// One failed delivery, by id (any device's: the caller checks who may see it).
pub fn failure(connection: &Connection, delivery_id: &str) -> StoreResult<Option<DeliveryFailure>> {
    Ok(connection
        .query_row(
            &format!("{FAILURE_COLUMNS} WHERE d.id = ?1 AND d.status = 'failed'"),
            [delivery_id],
            failure_from_row,
        )
        .optional()?)
}

/// Queues a device's failed deliveries again (one, or all when `delivery_id` is `None`)
/// for its current webhook, with a fresh count of attempts. How many.
pub fn replay(
    connection: &Connection,
    device_id: &str,
    delivery_id: Option<&str>,
) -> StoreResult<usize> {
    Ok(connection.execute(
        "UPDATE deliveries SET status = 'pending', attempts = 0, next_attempt_at = ?3,
             finished_at = NULL,
             webhook_id = (SELECT id FROM webhooks WHERE device_id = ?1)
         WHERE device_id = ?1 AND status = 'failed' AND (?2 IS NULL OR id = ?2)
           AND EXISTS (SELECT 1 FROM webhooks WHERE device_id = ?1)",
        params![device_id, delivery_id, Utc::now().timestamp_millis()],
    )?)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::store::{NewEvent, Role, SqliteStore, Store, UserRecord};

    fn store_and_user() -> (Arc<dyn Store>, UserRecord) {
        let dir = std::env::temp_dir().join(format!("wuts-webhooks-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let user = store
            .create_user("acme", "alice", Role::User, "lookup-a", b"hash")
            .unwrap();
        (store, user)
    }

    fn principal_of(store: &Arc<dyn Store>, user: &UserRecord) -> crate::store::Principal {
        let device = store
            .all_devices()
            .unwrap()
            .into_iter()
            .find(|device| device.id == user.default_device_id)
            .unwrap();
        crate::store::Principal {
            tenant_id: device.tenant_id,
            user_id: user.user_id.clone(),
            role: Role::User,
        }
    }

    fn webhook_for(user: &UserRecord, device_id: &str) -> WebhookRecord {
        WebhookRecord {
            id: String::new(),
            device_id: device_id.to_owned(),
            tenant_id: user.tenant.clone(),
            user_id: user.user_id.clone(),
            url: "https://example.com/hook".into(),
            events: vec!["*".into()],
            enabled: true,
            retry_attempts: 3,
            timeout_seconds: 30,
            secret: None,
            headers: BTreeMap::new(),
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn emit(store: &Arc<dyn Store>, user: &UserRecord, device_id: &str, count: usize) {
        let events: Vec<NewEvent> = (0..count)
            .map(|index| NewEvent {
                device_id: device_id.to_owned(),
                tenant_id: user.tenant.clone(),
                user_id: user.user_id.clone(),
                name: "message.sent".into(),
                data: serde_json::value::to_raw_value(&serde_json::json!({ "n": index })).unwrap(),
                timestamp: 1,
            })
            .collect();
        store.append_events(&events).unwrap();
    }

    fn now() -> i64 {
        Utc::now().timestamp_millis()
    }

    /// A user whose default device and a second one each have a webhook.
    fn two_hooked_devices() -> (
        Arc<dyn Store>,
        UserRecord,
        String,
        crate::store::DeviceRecord,
    ) {
        let (store, user) = store_and_user();
        let principal = principal_of(&store, &user);
        let second = store.create_device(&principal, "second", 0).unwrap();
        let first_id = user.default_device_id.clone();
        store.set_webhook(&webhook_for(&user, &first_id)).unwrap();
        store.set_webhook(&webhook_for(&user, &second.id)).unwrap();
        (store, user, first_id, second)
    }

    #[test]
    fn only_the_lowest_unfinished_seq_of_each_device_is_claimed() {
        let (store, user, first_id, second) = two_hooked_devices();
        emit(&store, &user, &first_id, 3);
        emit(&store, &user, &second.id, 2);

        let claimed = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        let mut heads: Vec<(String, i64, u32)> = claimed
            .iter()
            .map(|d| (d.device_id.clone(), d.seq, d.attempt))
            .collect();
        heads.sort();
        let mut expected = vec![(first_id.clone(), 1, 1), (second.id.clone(), 1, 1)];
        expected.sort();
        assert_eq!(heads, expected, "one head per device, first attempt");
        // While leased, nothing more of those devices is due.
        assert!(
            store
                .claim_deliveries(now(), now() + 60_000, 10)
                .unwrap()
                .is_empty()
        );

        let head = claimed.iter().find(|d| d.device_id == first_id).unwrap();
        store
            .finish_delivery_attempt(&head.id, &AttemptOutcome::Delivered { status: 200 })
            .unwrap();
        let next = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(
            (next[0].device_id.as_str(), next[0].seq),
            (first_id.as_str(), 2)
        );
        let envelope: serde_json::Value = serde_json::from_str(&next[0].envelope).unwrap();
        assert_eq!(envelope["seq"], 2);

        // A retry later keeps the device's later events waiting behind it.
        store
            .finish_delivery_attempt(
                &next[0].id,
                &AttemptOutcome::Retry {
                    at_ms: now() + 10_000,
                    status: Some(500),
                    error: "HTTP 500".into(),
                },
            )
            .unwrap();
        assert!(
            store
                .claim_deliveries(now(), now() + 60_000, 10)
                .unwrap()
                .is_empty()
        );
        let due = store.next_delivery_due_at().unwrap().unwrap();
        assert!(
            due > now() + 5_000,
            "the earliest head is the retry, not seq 3"
        );
        let retried = store.claim_deliveries(due, due + 60_000, 10).unwrap();
        assert_eq!((retried[0].seq, retried[0].attempt), (2, 2));
    }

    #[test]
    fn purging_old_events_keeps_those_with_deliveries_pending_or_being_sent() {
        let (store, user) = store_and_user();
        let device = user.default_device_id.clone();
        store.set_webhook(&webhook_for(&user, &device)).unwrap();
        emit(&store, &user, &device, 4);
        let finish = |outcome: AttemptOutcome| {
            let claimed = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
            assert_eq!(claimed.len(), 1, "the device's head");
            store
                .finish_delivery_attempt(&claimed[0].id, &outcome)
                .unwrap();
        };
        finish(AttemptOutcome::Delivered { status: 200 });
        finish(AttemptOutcome::Failed {
            status: Some(400),
            error: "HTTP 400".into(),
        });
        // The third is being sent (claimed, unfinished); the fourth waits behind it.
        let sending = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        assert_eq!(sending.len(), 1);
        // Every event is older than an hour from now.
        let later = chrono::Utc::now().timestamp() + 3600;
        assert_eq!(
            store.purge_events_before(later).unwrap(),
            2,
            "the finished two"
        );
        assert_eq!(store.purge_events_before(later).unwrap(), 0);
        store
            .finish_delivery_attempt(&sending[0].id, &AttemptOutcome::Delivered { status: 200 })
            .unwrap();
        assert_eq!(store.purge_events_before(later).unwrap(), 1, "now sent");
        assert_eq!(
            store
                .claim_deliveries(now(), now() + 60_000, 10)
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn outcomes_of_several_devices_are_recorded_in_one_batch() {
        let (store, user, first_id, second) = two_hooked_devices();
        emit(&store, &user, &first_id, 2);
        emit(&store, &user, &second.id, 1);
        let claimed = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        assert_eq!(claimed.len(), 2);
        let of = |device: &str| claimed.iter().find(|d| d.device_id == device).unwrap();
        store
            .finish_delivery_attempts(&[
                (
                    of(&first_id).id.clone(),
                    AttemptOutcome::Delivered { status: 200 },
                ),
                (
                    of(&second.id).id.clone(),
                    AttemptOutcome::Failed {
                        status: Some(410),
                        error: "HTTP 410".into(),
                    },
                ),
            ])
            .unwrap();
        // The first device's next event is due; the second's delivery is a failure.
        let next = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(
            (next[0].device_id.as_str(), next[0].seq),
            (first_id.as_str(), 2)
        );
        let failures = store.delivery_failures(&second.id, 10).unwrap();
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].last_status, Some(410));
    }

    #[test]
    fn an_expired_lease_makes_a_delivery_due_again() {
        let (store, user) = store_and_user();
        let device = user.default_device_id.clone();
        store.set_webhook(&webhook_for(&user, &device)).unwrap();
        emit(&store, &user, &device, 1);
        let claimed = store.claim_deliveries(now(), now() + 1_000, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        let later = now() + 2_000;
        let again = store.claim_deliveries(later, later + 1_000, 10).unwrap();
        assert_eq!(again.len(), 1, "the process that claimed it died");
        assert_eq!(
            (again[0].id.as_str(), again[0].attempt),
            (claimed[0].id.as_str(), 2)
        );
    }

    #[test]
    fn failures_are_listed_and_replayed_for_the_current_webhook() {
        let (store, user) = store_and_user();
        let device = user.default_device_id.clone();
        let first = store.set_webhook(&webhook_for(&user, &device)).unwrap();
        emit(&store, &user, &device, 2);
        for _ in 0..2 {
            let claimed = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
            store
                .finish_delivery_attempt(
                    &claimed[0].id,
                    &AttemptOutcome::Failed {
                        status: Some(400),
                        error: "HTTP 400".into(),
                    },
                )
                .unwrap();
        }
        let failures = store.delivery_failures(&device, 10).unwrap();
        assert_eq!(failures.len(), 2);
        assert_eq!(failures[0].event, "message.sent");
        assert_eq!(failures[0].last_status, Some(400));
        assert_eq!(failures[0].attempts, 1);

        // Replaced: same id; deleted and made again: a new id, which replays follow.
        let replaced = store.set_webhook(&webhook_for(&user, &device)).unwrap();
        assert_eq!(replaced.id, first.id);
        assert!(store.delete_webhook(&device).unwrap());
        assert_eq!(
            store.replay_failures(&device, None).unwrap(),
            0,
            "no webhook"
        );
        let second = store.set_webhook(&webhook_for(&user, &device)).unwrap();
        assert_ne!(second.id, first.id);
        let one = &failures[0].id;
        assert_eq!(store.replay_failures(&device, Some(one)).unwrap(), 1);
        assert_eq!(store.replay_failures(&device, None).unwrap(), 1);
        let claimed = store.claim_deliveries(now(), now() + 60_000, 10).unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!((claimed[0].seq, claimed[0].attempt), (1, 1));
        assert_eq!(claimed[0].webhook.id, second.id);
    }

    #[test]
    fn a_user_webhook_is_given_to_new_devices_with_every_event() {
        let (store, user) = store_and_user();
        let principal = principal_of(&store, &user);
        let before = store.create_device(&principal, "before", 0).unwrap();
        assert!(!store.apply_user_webhook(&before).unwrap());
        store
            .set_user_webhook(&user.tenant, &user.user_id, "https://example.com/u")
            .unwrap();
        let after = store.create_device(&principal, "after", 0).unwrap();
        assert!(store.apply_user_webhook(&after).unwrap());
        let webhook = store.webhook(&after.id).unwrap().unwrap();
        assert_eq!(webhook.url, "https://example.com/u");
        assert_eq!(webhook.events, ["*"]);
        assert_eq!((webhook.retry_attempts, webhook.timeout_seconds), (3, 30));
        assert!(store.webhook(&before.id).unwrap().is_none());
    }

    /// The claim runs at every finished delivery: its statement is prepared once, not at
    /// every claim (see [`CLAIM`]).
    #[test]
    fn a_claim_is_prepared_once() {
        let mut connection = Connection::open_in_memory().unwrap();
        crate::store::migrations::apply(&mut connection).unwrap();
        connection
            .execute_batch(
                "INSERT INTO webhooks VALUES ('dev', 'wh', 't', 'u', 'https://example.com', '[]',
                                              1, 3, 30, NULL, '{}', '2026', '2026');",
            )
            .unwrap();
        for seq in 1..=3 {
            connection
                .execute(
                    "INSERT INTO events (device_id, seq, id, tenant_id, user_id, name, created_at,
                                         envelope)
                     VALUES ('dev', ?1, 'evt' || ?1, 't', 'u', 'message.sent', 0, '{}')",
                    [seq],
                )
                .unwrap();
            connection
                .execute(
                    "INSERT INTO deliveries (id, event_id, device_id, webhook_id, seq, status,
                                             next_attempt_at)
                     VALUES ('del' || ?1, 'evt' || ?1, 'dev', 'wh', ?1, 'pending', 0)",
                    [seq],
                )
                .unwrap();
        }
        for (now, limit) in [(10, 4), (20, 3), (30, 4)] {
            let claimed = claim(&mut connection, now, now + 1000, limit).unwrap();
            assert_eq!(claimed.len(), 1, "the device's head, and only it");
            connection
                .execute(
                    "UPDATE deliveries SET status = 'delivered' WHERE id = ?1",
                    [&claimed[0].id],
                )
                .unwrap();
        }
        let statement = connection.prepare_cached(&CLAIM).unwrap();
        assert_eq!(statement.get_status(rusqlite::StatementStatus::Run), 3);
        assert_eq!(
            statement.get_status(rusqlite::StatementStatus::RePrepare),
            0,
            "a claim re-prepared its statement"
        );
    }
}
