//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.

use rusqlite::Connection;

/// Each entry moves the schema one version up. Never edit a shipped entry: add one.
const MIGRATIONS: &[&str] = &[
    // 1: the first schema.
    "
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL
    );
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        name TEXT NOT NULL,
        role TEXT NOT NULL,
        token_lookup TEXT NOT NULL,
        token_hash BLOB NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX users_by_token_lookup ON users(token_lookup);
    CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL REFERENCES tenants(id),
        user_id TEXT NOT NULL REFERENCES users(id),
        name TEXT NOT NULL,
        is_default INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX devices_by_user ON devices(user_id);
    CREATE TABLE messages (
        device_id TEXT NOT NULL REFERENCES devices(id),
        message_id TEXT NOT NULL,
        chat_jid TEXT NOT NULL,
        sender_jid TEXT,
        from_me INTEGER NOT NULL,
        route TEXT,
        message BLOB NOT NULL,
        timestamp TEXT NOT NULL,
        PRIMARY KEY (device_id, message_id)
    );
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        route TEXT NOT NULL,
        body BLOB NOT NULL,
        message_id TEXT NOT NULL,
        chat_jid TEXT NOT NULL,
        status TEXT NOT NULL,
        error TEXT,
        result_json TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        finished_at TEXT
    );
    CREATE INDEX jobs_by_status ON jobs(status);
    ",
    // 2: events (the source of truth for the event stream and webhooks), webhook
    // configurations, and one delivery row per (event, webhook).
    "
    -- Clustered by (device, seq), the order streams read in; ids are ULIDs, so the id
    -- index also orders events by time (retention purges by it). Two b-trees an insert.
    CREATE TABLE events (
        device_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        envelope TEXT NOT NULL,
        PRIMARY KEY (device_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE webhooks (
        device_id TEXT PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        tenant_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        url TEXT NOT NULL,
        events TEXT NOT NULL,
        enabled INTEGER NOT NULL,
        retry_attempts INTEGER NOT NULL,
        timeout_seconds INTEGER NOT NULL,
        secret TEXT,
        headers TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE user_webhooks (
        user_id TEXT PRIMARY KEY,
        tenant_id TEXT NOT NULL,
        url TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE deliveries (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
        device_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        finished_at TEXT
    );
    CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at);
    CREATE INDEX deliveries_by_device ON deliveries(device_id, status);
    ",
    // 3: received messages, apart from sent ones, so that a sender reusing an id cannot
    // overwrite a row of ours. The same columns as `messages` (`route` always NULL).
    "
    CREATE TABLE received_messages (
        device_id TEXT NOT NULL REFERENCES devices(id),
        message_id TEXT NOT NULL,
        chat_jid TEXT NOT NULL,
        sender_jid TEXT,
        from_me INTEGER NOT NULL,
        route TEXT,
        message BLOB NOT NULL,
        timestamp TEXT NOT NULL,
        PRIMARY KEY (device_id, message_id)
    );
    ",
    // 4: a device's oldest unfinished delivery found by index: claiming due deliveries
    // looked it up for every pending row by scanning the device's pending rows, so a
    // claim grew with the square of a device's backlog (10,000 pending: 10 s a claim).
    "
    CREATE INDEX deliveries_unfinished ON deliveries(device_id, seq)
        WHERE status IN ('pending', 'sending');
    ",
    // 5: a delivery row costs three b-tree inserts instead of five (every event a webhook
    // takes writes one; README, "Events and webhooks"): the table is keyed by its id
    // without a rowid; the due index holds only unfinished rows; the failures
    // listing has a partial index of failed rows, which new (pending) rows never touch.
    // No foreign key to events: SQLite checked it on every insert, and its ON DELETE
    // CASCADE scanned the whole table for each event the retention purge removed (no
    // index on event_id); the purge removes finished deliveries itself and keeps events
    // that still have one.
    "
    CREATE TABLE deliveries_keyed (
        id TEXT PRIMARY KEY,
        event_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        webhook_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL,
        last_status INTEGER,
        last_error TEXT,
        finished_at TEXT
    ) WITHOUT ROWID;
    INSERT INTO deliveries_keyed (id, event_id, device_id, webhook_id, seq, status, attempts,
                                  next_attempt_at, last_status, last_error, finished_at)
        SELECT id, event_id, device_id, webhook_id, seq, status, attempts, next_attempt_at,
               last_status, last_error, finished_at
        FROM deliveries;
    DROP TABLE deliveries;
    ALTER TABLE deliveries_keyed RENAME TO deliveries;
    CREATE INDEX deliveries_due ON deliveries(status, next_attempt_at)
        WHERE status IN ('pending', 'sending');
    CREATE INDEX deliveries_unfinished ON deliveries(device_id, seq)
        WHERE status IN ('pending', 'sending');
    CREATE INDEX deliveries_failed ON deliveries(device_id) WHERE status = 'failed';
    ",
    // 6: no query reads `deliveries_due` (claims seek `deliveries_unfinished` device by
    // device), yet every delivery row paid for it on insert and on each status change.
    "DROP INDEX deliveries_due;",
    // 7: which run of the server holds a job (host/src/jobs.rs): claiming is one
    // statement, so a job queued twice (the start-up scan and its request) runs once.
    "ALTER TABLE jobs ADD COLUMN claimed_by TEXT;",
    // 8: administration (docs/API.md, "Administration"): a user's email (lowercased,
    // unique in its tenant), whether it may sign in, when it last changed (NULL: never
    // since it was created); when a tenant last changed; a tenant's users found by index.
    "
    ALTER TABLE users ADD COLUMN email TEXT;
    ALTER TABLE users ADD COLUMN active INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE users ADD COLUMN updated_at TEXT;
    ALTER TABLE tenants ADD COLUMN updated_at TEXT;
    CREATE INDEX users_by_tenant ON users(tenant_id);
    CREATE UNIQUE INDEX users_by_email ON users(tenant_id, email) WHERE email IS NOT NULL;
    ",
    // 9: retention (host/src/retention.rs): finished jobs are purged by age, found by
    // index rather than by scanning the table every hour. (Messages need none: they are
    // purged from the oldest row on, store/sqlite.rs.)
    "CREATE INDEX jobs_by_finish ON jobs(finished_at) WHERE finished_at IS NOT NULL;",
];

pub fn apply(connection: &mut Connection) -> rusqlite::Result<()> {
    let current: usize =
        connection.query_row("PRAGMA user_version", [], |row| row.get::<_, i64>(0))? as usize;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let transaction = connection.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.pragma_update(None, "user_version", (index + 1) as i64)?;
        transaction.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database that has deliveries under the fifth migration keeps them, keyed and
    /// indexed the new way.
    #[test]
    fn the_deliveries_rebuild_keeps_every_row() {
        let mut connection = Connection::open_in_memory().unwrap();
        for sql in &MIGRATIONS[..4] {
            connection.execute_batch(sql).unwrap();
        }
        connection.pragma_update(None, "user_version", 4).unwrap();
        connection
            .execute_batch(
                "INSERT INTO events (device_id, seq, id, tenant_id, user_id, name, created_at, envelope)
                 VALUES ('dev', 1, 'evt_1', 't', 'u', 'message.sent', 1, '{}'),
                        ('dev', 2, 'evt_2', 't', 'u', 'message.sent', 2, '{}');
                 INSERT INTO deliveries (id, event_id, device_id, webhook_id, seq, status,
                                         attempts, next_attempt_at, last_status, last_error)
                 VALUES ('dlv_1', 'evt_1', 'dev', 'wh', 1, 'failed', 3, 10, 500, 'boom'),
                        ('dlv_2', 'evt_2', 'dev', 'wh', 2, 'pending', 0, 20, NULL, NULL);",
            )
            .unwrap();
        apply(&mut connection).unwrap();
        let rows: Vec<(String, String, i64, Option<String>)> = connection
            .prepare("SELECT id, status, attempts, last_error FROM deliveries ORDER BY id")
            .unwrap()
            .query_map([], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("dlv_1".into(), "failed".into(), 3, Some("boom".into())),
                ("dlv_2".into(), "pending".into(), 0, None),
            ]
        );
        let indexes: Vec<String> = connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'deliveries' AND sql IS NOT NULL ORDER BY name")
            .unwrap()
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(indexes, ["deliveries_failed", "deliveries_unfinished"]);
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, MIGRATIONS.len() as i64);
    }
}
