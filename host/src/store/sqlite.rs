//! The embedded SQLite store.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, mpsc};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use super::message_log::MessageLog;
use super::sql_time::{parse_time, timestamp};
use super::{AccountChange, AccountRecord, NewAccount, Removed, TenantRecord, sqlite_accounts};
use super::{AttemptOutcome, ClaimedDelivery, DeliveryFailure, UserWebhookRecord, WebhookRecord};
use super::{
    DeviceRecord, EventsCommitted, JobRecord, JobStatus, LogDone, LogEntry, LoggedMessage,
    NewEvent, Principal, Role, Store, StoreError, StoreGauges, StoreResult, StoredEvent,
    TokenCandidate, UserRecord, migrations, sqlite_events, sqlite_webhooks,
};

/// One read-write connection behind a mutex, and a read-only one for message lookups:
/// SQLite serialises writers anyway, and the hot paths are served from memory (tokens,
/// devices) or batched (the message log), so a pool would buy little.
pub struct SqliteStore {
    connection: Arc<Mutex<Connection>>,
    /// Appends events, here and in the message log's writer (see `sqlite_events`).
    event_appender: Arc<sqlite_events::EventAppender>,
    /// Message lookups' own read-only connection. A quick route (a button reply quoting a
    /// message) looks up on an HTTP thread; behind `connection`, which the log writer
    /// holds while it commits, that lookup would wait out a commit (and a checkpoint's
    /// fsync) and stall every connection of its thread. WAL lets a reader run alongside.
    reader: Mutex<Connection>,
    /// Sent messages and queued events go to a writer thread that commits them in
    /// batches.
    message_log: MessageLog,
    /// Devices found before (see [`DeviceCache`]).
    devices: RwLock<DeviceCache>,
}

/// Devices found before: they are never moved, and a deleted one (its user's or
/// tenant's removal) is forgotten here, so a found one can be remembered. Kept by device id and, for defaults, by user id; whether a caller may
/// use a remembered device is read from the device itself, by the rule the query
/// applies, so that a lookup builds no key (every send asks).
#[derive(Default)]
struct DeviceCache {
    by_id: HashMap<String, Arc<DeviceRecord>>,
    default_of_user: HashMap<String, Arc<DeviceRecord>>,
}

impl DeviceCache {
    fn get(&self, principal: &Principal, device_id: Option<&str>) -> Option<&Arc<DeviceRecord>> {
        match device_id {
            Some(id) => self
                .by_id
                .get(id)
                .filter(|device| may_use(principal, device)),
            None => self.default_of_user.get(&principal.user_id),
        }
    }

    fn remember(&mut self, device: &DeviceRecord, as_default_of: Option<&str>) {
        let device = Arc::new(device.clone());
        if let Some(user_id) = as_default_of {
            self.default_of_user
                .insert(user_id.to_owned(), Arc::clone(&device));
        }
        self.by_id.insert(device.id.clone(), device);
    }
}

/// The rule `find_device`'s query applies: a device of the caller's tenant, and its
/// own unless the caller is an admin.
fn may_use(principal: &Principal, device: &DeviceRecord) -> bool {
    device.tenant_id == principal.tenant_id
        && (device.user_id == principal.user_id || principal.role == Role::Admin)
}

/// Rows one purge transaction removes at most.
const PURGE_BATCH: usize = 5_000;

/// Removes the oldest rows of a message table (`messages`, `received_messages`) up to
/// the first one at or after `before`, at most [`PURGE_BATCH`]; how many. Rows are
/// appended as they are sent or received, so rowid order is time order, give or take
/// a sender's clock; the purge reads from the oldest row and stops at the first young
/// one instead of keeping an index on the time, which every logged message would pay
/// for (a row out of order waits for the young one before it to age).
fn purge_oldest(connection: &mut Connection, table: &str, before: &str) -> StoreResult<usize> {
    let transaction = connection.transaction()?;
    let last_old: Option<i64> = {
        let mut oldest = transaction.prepare_cached(&format!(
            "SELECT rowid, timestamp FROM {table} ORDER BY rowid LIMIT {PURGE_BATCH}"
        ))?;
        let mut rows = oldest.query([])?;
        let mut last_old = None;
        while let Some(row) = rows.next()? {
            if row.get_ref(1)?.as_str().unwrap_or_default() >= before {
                break;
            }
            last_old = Some(row.get(0)?);
        }
        last_old
    };
    let removed = match last_old {
        Some(rowid) => {
            transaction.execute(&format!("DELETE FROM {table} WHERE rowid <= ?1"), [rowid])?
        }
        None => 0,
    };
    transaction.commit()?;
    Ok(removed)
}

/// How long a caller waits for its message to be committed.
const LOG_COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

impl SqliteStore {
    /// Opens (creating it and its folder if needed) and migrates the database.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|source| StoreError::Folder {
                path: folder.display().to_string(),
                source,
            })?;
        }
        super::create_private_file(path).map_err(|source| StoreError::Folder {
            path: path.display().to_string(),
            source,
        })?;
        let mut connection = Connection::open(path)?;
        // Takes effect only in a new database (an existing one keeps its page size). The
        // message log appends a few hundred rows per commit, and each WAL frame is a
        // write of its own: larger pages write a commit in fewer frames, and cost the log
        // writer less CPU than the default 4 KiB (see README, Benchmarks).
        connection.pragma_update(None, "page_size", 16384)?;
        // WAL lets the CLI (`wuts users create`) write while a server runs.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "NORMAL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        // The writer's page cache (negative: KiB). SQLite's default of 2 MiB is 125 of
        // our 16 KiB pages: a log writer inserting messages under random ids read
        // pages back from the OS and freed them again on every commit (README, "What a
        // message.sent event per send costs").
        connection.pragma_update(None, "cache_size", -16384)?;
        connection.busy_timeout(std::time::Duration::from_secs(5))?;
        // Every transaction takes the write lock when it begins, where the busy timeout
        // applies. A deferred one that reads and then writes (creating a user reads the
        // tenant first) fails at once with "database is locked" when another process (the
        // server, beside `wuts users create`) committed in between: SQLite cannot wait out
        // a stale read snapshot.
        connection.set_transaction_behavior(rusqlite::TransactionBehavior::Immediate);
        migrations::apply(&mut connection)?;
        let reader = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;
        let connection = Arc::new(Mutex::new(connection));
        let event_appender = Arc::new(sqlite_events::EventAppender::default());
        let message_log = MessageLog::start(Arc::clone(&connection), Arc::clone(&event_appender))
            .map_err(|source| StoreError::Folder {
            path: "log writer thread".into(),
            source,
        })?;
        Ok(SqliteStore {
            connection,
            event_appender,
            reader: Mutex::new(reader),
            message_log,
            devices: RwLock::default(),
        })
    }

    fn with<T>(&self, work: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        // A panic while holding the lock cannot leave SQLite half-written (statements
        // are atomic), so a poisoned lock is safe to keep using.
        let mut connection = self
            .connection
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        work(&mut connection)
    }

    /// The read-only connection (WAL: it reads while the writer writes).
    /// Removed devices leave the device cache, and their webhooks the event appender's.
    fn forget_devices(&self, removed: &Removed) {
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        for (device_id, user_id) in &removed.devices {
            devices.by_id.remove(device_id);
            devices.default_of_user.remove(user_id);
        }
        drop(devices);
        self.event_appender.webhooks_changed();
    }

    fn reader(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn device_from_row(row: &Row<'_>) -> rusqlite::Result<DeviceRecord> {
    Ok(DeviceRecord {
        id: row.get("id")?,
        tenant_id: row.get("tenant_id")?,
        user_id: row.get("user_id")?,
        name: row.get("name")?,
        is_default: row.get("is_default")?,
        created_at: parse_time(&row.get::<_, String>("created_at")?),
    })
}

fn job_from_row(row: &Row<'_>) -> rusqlite::Result<JobRecord> {
    Ok(JobRecord {
        id: row.get("id")?,
        tenant_id: row.get("tenant_id")?,
        user_id: row.get("user_id")?,
        device_id: row.get("device_id")?,
        route: row.get("route")?,
        body: row.get("body")?,
        message_id: row.get("message_id")?,
        chat_jid: row.get("chat_jid")?,
        status: JobStatus::parse(&row.get::<_, String>("status")?),
        error: row.get("error")?,
        result_json: row.get("result_json")?,
        created_at: parse_time(&row.get::<_, String>("created_at")?),
        finished_at: row
            .get::<_, Option<String>>("finished_at")?
            .as_deref()
            .map(parse_time),
        attempts: row.get("attempts")?,
    })
}

fn message_from_row(row: &Row<'_>) -> rusqlite::Result<LoggedMessage> {
    Ok(LoggedMessage {
        device_id: row.get("device_id")?,
        message_id: row.get("message_id")?,
        chat_jid: row.get("chat_jid")?,
        sender_jid: row.get("sender_jid")?,
        from_me: row.get("from_me")?,
        route: row.get("route")?,
        message: row.get("message")?,
        timestamp: parse_time(&row.get::<_, String>("timestamp")?),
    })
}

fn received_message(
    reader: &Connection,
    device_id: &str,
    message_id: &str,
) -> StoreResult<Option<LoggedMessage>> {
    Ok(reader
        .prepare_cached("SELECT * FROM received_messages WHERE device_id = ?1 AND message_id = ?2")?
        .query_row([device_id, message_id], message_from_row)
        .optional()?)
}

const USER_COLUMNS: &str = "u.id, t.name AS tenant, u.name, u.role, u.created_at,
    (SELECT d.id FROM devices d WHERE d.user_id = u.id AND d.is_default = 1) AS default_device_id";

fn user_from_row(row: &Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        user_id: row.get("id")?,
        tenant: row.get("tenant")?,
        name: row.get("name")?,
        role: Role::parse(&row.get::<_, String>("role")?),
        default_device_id: row
            .get::<_, Option<String>>("default_device_id")?
            .unwrap_or_default(),
        created_at: parse_time(&row.get::<_, String>("created_at")?),
    })
}

impl Store for SqliteStore {
    fn create_user(
        &self,
        tenant: &str,
        name: &str,
        role: Role,
        token_lookup: &str,
        token_hash: &[u8],
    ) -> StoreResult<UserRecord> {
        self.with(|connection| {
            let now = timestamp(Utc::now());
            let transaction = connection.transaction()?;
            let tenant_id: String = match transaction
                .query_row("SELECT id FROM tenants WHERE name = ?1", [tenant], |row| row.get(0))
                .optional()?
            {
                Some(id) => id,
                None => {
                    let id = new_id();
                    transaction.execute(
                        "INSERT INTO tenants (id, name, created_at) VALUES (?1, ?2, ?3)",
                        params![id, tenant, now],
                    )?;
                    id
                }
            };
            let user_id = new_id();
            transaction.execute(
                "INSERT INTO users (id, tenant_id, name, role, token_lookup, token_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![user_id, tenant_id, name, role.as_str(), token_lookup, token_hash, now],
            )?;
            transaction.execute(
                "INSERT INTO devices (id, tenant_id, user_id, name, is_default, created_at)
                 VALUES (?1, ?2, ?3, 'default', 1, ?4)",
                params![new_id(), tenant_id, user_id, now],
            )?;
            let user = transaction.query_row(
                &format!("SELECT {USER_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.id = ?1"),
                [&user_id],
                user_from_row,
            )?;
            transaction.commit()?;
            Ok(user)
        })
    }

    fn list_users(&self) -> StoreResult<Vec<UserRecord>> {
        self.with(|connection| {
            let mut statement = connection.prepare(&format!(
                "SELECT {USER_COLUMNS} FROM users u JOIN tenants t ON t.id = u.tenant_id ORDER BY t.name, u.created_at"
            ))?;
            let users = statement.query_map([], user_from_row)?.collect::<Result<_, _>>()?;
            Ok(users)
        })
    }

    // Token lookups read on the reader connection: a flood of them must not queue
    // behind, or in front of, the writes.
    fn token_candidates(&self, token_lookup: &str) -> StoreResult<Vec<TokenCandidate>> {
        let reader = self.reader();
        let mut statement = reader.prepare_cached(
            "SELECT token_hash, tenant_id, id, role FROM users WHERE token_lookup = ?1 AND active = 1",
        )?;
        let candidates = statement
            .query_map([token_lookup], |row| {
                Ok(TokenCandidate {
                    token_hash: row.get(0)?,
                    principal: Principal {
                        tenant_id: row.get(1)?,
                        user_id: row.get(2)?,
                        role: Role::parse(&row.get::<_, String>(3)?),
                    },
                })
            })?
            .collect::<Result<_, _>>()?;
        Ok(candidates)
    }

    fn account(&self, tenant_id: &str, user_id: &str) -> StoreResult<Option<AccountRecord>> {
        self.with(|connection| sqlite_accounts::account(connection, tenant_id, user_id))
    }

    fn accounts(&self, tenant_id: &str) -> StoreResult<Vec<AccountRecord>> {
        self.with(|connection| sqlite_accounts::accounts(connection, tenant_id))
    }

    fn tenant_of_user(&self, user_id: &str) -> StoreResult<Option<String>> {
        self.with(|connection| {
            Ok(connection
                .query_row(
                    "SELECT tenant_id FROM users WHERE id = ?1",
                    [user_id],
                    |row| row.get(0),
                )
                .optional()?)
        })
    }

    fn create_account(&self, account: &NewAccount) -> StoreResult<AccountRecord> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            let created = sqlite_accounts::create_account(&transaction, account)?;
            transaction.commit()?;
            Ok(created)
        })
    }

    fn change_account(
        &self,
        tenant_id: &str,
        user_id: &str,
        change: AccountChange,
    ) -> StoreResult<Option<(AccountRecord, AccountRecord)>> {
        self.with(|connection| {
            sqlite_accounts::change_account(connection, tenant_id, user_id, change)
        })
    }

    fn set_token(
        &self,
        tenant_id: &str,
        user_id: &str,
        token_lookup: &str,
        token_hash: &[u8],
    ) -> StoreResult<bool> {
        self.with(|connection| {
            sqlite_accounts::set_token(connection, tenant_id, user_id, token_lookup, token_hash)
        })
    }

    fn remove_account(&self, tenant_id: &str, user_id: &str) -> StoreResult<Option<Removed>> {
        // What the log writer holds is committed first, so none of it lands after the
        // user's rows are gone.
        self.flush_message_log()?;
        let removed = self
            .with(|connection| sqlite_accounts::remove_account(connection, tenant_id, user_id))?;
        if let Some(removed) = &removed {
            self.forget_devices(removed);
        }
        Ok(removed)
    }

    fn register_tenant(
        &self,
        name: &str,
        first: NewAccount,
    ) -> StoreResult<(TenantRecord, AccountRecord)> {
        self.with(|connection| sqlite_accounts::register_tenant(connection, name, first))
    }

    // On the read connection: a scrape must not wait behind the log writer's commits.
    fn gauges(&self) -> StoreResult<StoreGauges> {
        let reader = self.reader();
        let jobs = reader
            .prepare_cached("SELECT status, COUNT(*) FROM jobs GROUP BY status")?
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let devices = reader.query_row("SELECT COUNT(*) FROM devices", [], |row| row.get(0))?;
        let outbox_depth = reader.query_row(
            "SELECT COUNT(*) FROM deliveries WHERE status IN ('pending', 'sending')",
            [],
            |row| row.get(0),
        )?;
        Ok(StoreGauges {
            jobs,
            devices,
            outbox_depth,
        })
    }

    fn ping(&self) -> StoreResult<()> {
        self.reader().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    fn tenants(&self) -> StoreResult<Vec<TenantRecord>> {
        self.with(|connection| sqlite_accounts::tenants(connection))
    }

    fn tenant(&self, tenant_id: &str) -> StoreResult<Option<TenantRecord>> {
        self.with(|connection| sqlite_accounts::tenant(connection, tenant_id))
    }

    fn remove_tenant(&self, tenant_id: &str) -> StoreResult<Option<(TenantRecord, Removed)>> {
        self.flush_message_log()?;
        let removed =
            self.with(|connection| sqlite_accounts::remove_tenant(connection, tenant_id))?;
        if let Some((_, removed)) = &removed {
            self.forget_devices(removed);
        }
        Ok(removed)
    }

    fn create_device(
        &self,
        principal: &Principal,
        name: &str,
        max_per_user: u64,
    ) -> StoreResult<DeviceRecord> {
        let cap = i64::try_from(max_per_user).unwrap_or(i64::MAX);
        self.with(|connection| {
            let device = DeviceRecord {
                id: new_id(),
                tenant_id: principal.tenant_id.clone(),
                user_id: principal.user_id.clone(),
                name: name.to_string(),
                is_default: false,
                created_at: Utc::now(),
            };
            let inserted = connection.execute(
                "INSERT INTO devices (id, tenant_id, user_id, name, is_default, created_at)
                 SELECT ?1, ?2, ?3, ?4, 0, ?5
                 WHERE ?6 = 0 OR (SELECT COUNT(*) FROM devices WHERE user_id = ?3) < ?6",
                params![
                    device.id,
                    device.tenant_id,
                    device.user_id,
                    device.name,
                    timestamp(device.created_at),
                    cap
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::DeviceLimit(max_per_user));
            }
            Ok(device)
        })
    }

    fn list_devices(&self, principal: &Principal) -> StoreResult<Vec<DeviceRecord>> {
        self.with(|connection| {
            let mut statement = connection.prepare_cached(
                "SELECT * FROM devices WHERE tenant_id = ?1 AND (user_id = ?2 OR ?3)
                 ORDER BY is_default DESC, created_at",
            )?;
            let devices = statement
                .query_map(
                    params![
                        principal.tenant_id,
                        principal.user_id,
                        // Admins and managers view the tenant's devices (docs/API.md,
                        // "Administration"); using one stays with its user or an admin.
                        principal.role != Role::User
                    ],
                    device_from_row,
                )?
                .collect::<Result<_, _>>()?;
            Ok(devices)
        })
    }

    fn find_device(
        &self,
        principal: &Principal,
        device_id: Option<&str>,
    ) -> StoreResult<Option<DeviceRecord>> {
        if let Some(device) = self.cached_device(principal, device_id) {
            return Ok(Some(DeviceRecord::clone(&device)));
        }
        let found = self.with(|connection| {
            let found = match device_id {
                Some(id) => connection
                    .prepare_cached(
                        "SELECT * FROM devices WHERE id = ?1 AND tenant_id = ?2 AND (user_id = ?3 OR ?4)",
                    )?
                    .query_row(
                        params![id, principal.tenant_id, principal.user_id, principal.role == Role::Admin],
                        device_from_row,
                    )
                    .optional()?,
                None => connection
                    .prepare_cached("SELECT * FROM devices WHERE user_id = ?1 AND is_default = 1")?
                    .query_row([&principal.user_id], device_from_row)
                    .optional()?,
            };
            Ok(found)
        })?;
        if let Some(device) = &found {
            self.devices
                .write()
                .unwrap_or_else(|p| p.into_inner())
                .remember(device, device_id.is_none().then_some(&principal.user_id));
        }
        Ok(found)
    }

    fn forget_devices_not_in(&self, stored: &std::collections::HashSet<String>) {
        let mut devices = self.devices.write().unwrap_or_else(|p| p.into_inner());
        let before = devices.by_id.len() + devices.default_of_user.len();
        devices.by_id.retain(|id, _| stored.contains(id));
        devices
            .default_of_user
            .retain(|_, device| stored.contains(&device.id));
        let changed = before != devices.by_id.len() + devices.default_of_user.len();
        drop(devices);
        if changed {
            self.event_appender.webhooks_changed();
        }
    }

    fn all_devices(&self) -> StoreResult<Vec<DeviceRecord>> {
        self.with(|connection| {
            let mut statement = connection.prepare("SELECT * FROM devices ORDER BY created_at")?;
            let devices = statement
                .query_map([], device_from_row)?
                .collect::<Result<_, _>>()?;
            Ok(devices)
        })
    }

    fn log_message(&self, message: LogEntry<'_>) -> StoreResult<()> {
        let (reply, committed) = mpsc::sync_channel(1);
        self.log_message_then(
            message,
            Box::new(move |result| {
                let _ = reply.send(result);
            }),
        );
        match committed.recv_timeout(LOG_COMMIT_TIMEOUT) {
            Ok(result) => result,
            Err(_) => Err(StoreError::Writer(
                "the log writer did not answer in time".into(),
            )),
        }
    }

    fn log_message_then(&self, message: LogEntry<'_>, done: LogDone) {
        self.message_log.log_then(message, done);
    }

    fn log_message_soon(&self, message: LogEntry<'_>) {
        self.message_log.log_soon(message);
    }

    fn flush_message_log(&self) -> StoreResult<()> {
        self.message_log.flush(LOG_COMMIT_TIMEOUT)
    }

    fn cached_device(
        &self,
        principal: &Principal,
        device_id: Option<&str>,
    ) -> Option<Arc<DeviceRecord>> {
        self.devices
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(principal, device_id)
            .cloned()
    }

    fn find_message(
        &self,
        device_id: &str,
        message_id: &str,
    ) -> StoreResult<Option<LoggedMessage>> {
        if let Some(queued) = self.message_log.pending(device_id, message_id) {
            return Ok(Some(queued));
        }
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let sent = reader
            .prepare_cached("SELECT * FROM messages WHERE device_id = ?1 AND message_id = ?2")?
            .query_row([device_id, message_id], message_from_row)
            .optional()?;
        match sent {
            Some(sent) => Ok(Some(sent)),
            None => received_message(&reader, device_id, message_id),
        }
    }

    fn log_received(
        &self,
        message: &LoggedMessage,
        event: Option<&NewEvent>,
    ) -> StoreResult<Option<Vec<StoredEvent>>> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            let inserted = transaction
                .prepare_cached(
                    "INSERT INTO received_messages
                     (device_id, message_id, chat_jid, sender_jid, from_me, route, message, timestamp)
                     VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6, ?7)
                     ON CONFLICT (device_id, message_id) DO NOTHING",
                )?
                .execute(params![
                    message.device_id,
                    message.message_id,
                    message.chat_jid,
                    message.sender_jid,
                    message.from_me,
                    message.message,
                    timestamp(message.timestamp)
                ])?;
            if inserted == 0 {
                return Ok(None);
            }
            let stored = match event {
                Some(event) => self
                    .event_appender
                    .append_within(&transaction, std::slice::from_ref(event))?,
                None => Vec::new(),
            };
            if let Err(error) = transaction.commit() {
                self.event_appender.rolled_back();
                return Err(error.into());
            }
            Ok(Some(stored))
        })
    }

    fn forget_message(&self, device_id: &str, message_id: &str) -> StoreResult<bool> {
        self.message_log.flush(LOG_COMMIT_TIMEOUT)?;
        self.with(|connection| {
            let transaction = connection.transaction()?;
            let mut removed = 0;
            for table in ["messages", "received_messages"] {
                removed += transaction.execute(
                    &format!("DELETE FROM {table} WHERE device_id = ?1 AND message_id = ?2"),
                    [device_id, message_id],
                )?;
            }
            transaction.commit()?;
            Ok(removed > 0)
        })
    }

    fn find_received(
        &self,
        device_id: &str,
        message_id: &str,
    ) -> StoreResult<Option<LoggedMessage>> {
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        received_message(&reader, device_id, message_id)
    }

    fn create_job(&self, job: &JobRecord) -> StoreResult<()> {
        self.with(|connection| {
            connection.execute(
                "INSERT INTO jobs (id, tenant_id, user_id, device_id, route, body, message_id, chat_jid,
                                   status, error, result_json, attempts, created_at, finished_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                params![
                    job.id,
                    job.tenant_id,
                    job.user_id,
                    job.device_id,
                    job.route,
                    job.body,
                    job.message_id,
                    job.chat_jid,
                    job.status.as_str(),
                    job.error,
                    job.result_json,
                    job.attempts,
                    timestamp(job.created_at),
                    job.finished_at.map(timestamp)
                ],
            )?;
            Ok(())
        })
    }

    // Status reads leave the body (up to the route's body limit, megabytes for media)
    // on disk, and read on the reader connection.
    fn find_job(&self, tenant_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>> {
        Ok(self
            .reader()
            .prepare_cached(
                "SELECT id, tenant_id, user_id, device_id, route, X'' AS body, message_id,
                        chat_jid, status, error, result_json, attempts, created_at, finished_at
                 FROM jobs WHERE id = ?1 AND tenant_id = ?2",
            )?
            .query_row([job_id, tenant_id], job_from_row)
            .optional()?)
    }

    fn claim_job(&self, job_id: &str, runner: &str) -> StoreResult<Option<JobRecord>> {
        self.with(|connection| {
            Ok(connection
                .prepare_cached(
                    "UPDATE jobs SET attempts = attempts + 1, claimed_by = ?2
                     WHERE id = ?1 AND status = 'processing'
                       AND (claimed_by IS NULL OR claimed_by != ?2)
                     RETURNING *",
                )?
                .query_row([job_id, runner], job_from_row)
                .optional()?)
        })
    }

    fn unfinished_job_ids(&self) -> StoreResult<Vec<String>> {
        self.with(|connection| {
            let mut statement = connection
                .prepare("SELECT id FROM jobs WHERE status = 'processing' ORDER BY created_at")?;
            let ids = statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(ids)
        })
    }

    fn finish_job(
        &self,
        job_id: &str,
        status: JobStatus,
        error: Option<&str>,
        result_json: Option<&str>,
    ) -> StoreResult<()> {
        self.with(|connection| {
            connection.execute(
                "UPDATE jobs SET status = ?2, error = ?3, result_json = ?4, finished_at = ?5 WHERE id = ?1",
                params![job_id, status.as_str(), error, result_json, timestamp(Utc::now())],
            )?;
            Ok(())
        })
    }

    fn purge_jobs_before(&self, before: DateTime<Utc>) -> StoreResult<usize> {
        self.with(|connection| {
            Ok(connection.execute(
                "DELETE FROM jobs WHERE finished_at < ?1 AND status != 'processing'",
                [timestamp(before)],
            )?)
        })
    }

    fn purge_messages_before(&self, before: DateTime<Utc>) -> StoreResult<usize> {
        let before = timestamp(before);
        let mut removed = 0;
        for table in ["messages", "received_messages"] {
            loop {
                let batch = self.with(|connection| purge_oldest(connection, table, &before))?;
                removed += batch;
                if batch < PURGE_BATCH {
                    break;
                }
            }
        }
        Ok(removed)
    }

    fn append_events(&self, events: &[NewEvent]) -> StoreResult<Vec<StoredEvent>> {
        self.with(|connection| self.event_appender.append(connection, events))
    }

    fn queue_event(&self, event: NewEvent) {
        self.message_log.queue_event(event);
    }

    fn on_events_committed(&self, listener: EventsCommitted) -> Result<(), EventsCommitted> {
        self.message_log.on_events_committed(listener)
    }

    fn events_after(
        &self,
        device_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>> {
        // The read-only connection: a stream catching up does not wait on the writers.
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        sqlite_events::after(&reader, device_id, after_seq, limit)
    }

    fn latest_event_seq(&self, device_id: &str) -> StoreResult<i64> {
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        sqlite_events::latest_seq(&reader, device_id)
    }

    fn event_seq(&self, device_id: &str, event_id: &str) -> StoreResult<Option<i64>> {
        let reader = self
            .reader
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        sqlite_events::seq_of(&reader, device_id, event_id)
    }

    fn purge_events_before(&self, before: i64) -> StoreResult<usize> {
        self.with(|connection| sqlite_events::purge_before(connection, before))
    }

    fn webhook(&self, device_id: &str) -> StoreResult<Option<WebhookRecord>> {
        self.with(|connection| sqlite_webhooks::webhook(connection, device_id))
    }

    fn set_webhook(&self, webhook: &WebhookRecord) -> StoreResult<WebhookRecord> {
        // Appending events reads subscriptions from a cache: tell it they changed.
        self.event_appender.webhooks_changed();
        self.with(|connection| sqlite_webhooks::set_webhook(connection, webhook))
    }

    fn delete_webhook(&self, device_id: &str) -> StoreResult<bool> {
        // Appending events reads subscriptions from a cache: tell it they changed.
        self.event_appender.webhooks_changed();
        self.with(|connection| sqlite_webhooks::delete_webhook(connection, device_id))
    }

    fn set_user_webhook(
        &self,
        tenant_id: &str,
        user_id: &str,
        url: &str,
    ) -> StoreResult<UserWebhookRecord> {
        self.with(|connection| {
            sqlite_webhooks::set_user_webhook(connection, tenant_id, user_id, url)
        })
    }

    fn user_webhook(&self, user_id: &str) -> StoreResult<Option<UserWebhookRecord>> {
        self.with(|connection| sqlite_webhooks::user_webhook(connection, user_id))
    }

    fn apply_user_webhook(&self, device: &DeviceRecord) -> StoreResult<bool> {
        // Appending events reads subscriptions from a cache: tell it they changed.
        self.event_appender.webhooks_changed();
        self.with(|connection| sqlite_webhooks::apply_user_webhook(connection, device))
    }

    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        self.with(|connection| sqlite_webhooks::claim(connection, now_ms, lease_until_ms, limit))
    }

    fn next_delivery_due_at(&self) -> StoreResult<Option<i64>> {
        self.with(|connection| sqlite_webhooks::next_due_at(connection))
    }

    fn finish_delivery_attempts(&self, finished: &[(String, AttemptOutcome)]) -> StoreResult<()> {
        self.with(|connection| {
            let transaction = connection.transaction()?;
            for (delivery_id, outcome) in finished {
                sqlite_webhooks::finish_attempt(&transaction, delivery_id, outcome)?;
            }
            transaction.commit()?;
            Ok(())
        })
    }

    fn delivery_failures(
        &self,
        device_id: &str,
        limit: usize,
    ) -> StoreResult<Vec<DeliveryFailure>> {
        self.with(|connection| sqlite_webhooks::failures(connection, device_id, limit))
    }

    fn delivery_failure(&self, delivery_id: &str) -> StoreResult<Option<DeliveryFailure>> {
        self.with(|connection| sqlite_webhooks::failure(connection, delivery_id))
    }

    fn replay_failures(&self, device_id: &str, delivery_id: Option<&str>) -> StoreResult<usize> {
        self.with(|connection| sqlite_webhooks::replay(connection, device_id, delivery_id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> SqliteStore {
        let dir = std::env::temp_dir().join(format!("wuts-store-{}", uuid::Uuid::new_v4()));
        SqliteStore::open(&dir.join("nested/wuts.db")).unwrap()
    }

    #[cfg(unix)]
    #[test]
    fn the_database_is_created_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("wuts-mode-{}", uuid::Uuid::new_v4()));
        let path = dir.join("wuts.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .create_user("acme", "alice", Role::User, "l", b"h")
            .unwrap();
        for file in [path.clone(), dir.join("wuts.db-wal")] {
            let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", file.display());
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn users_get_a_default_device_and_tenants_are_shared_by_name() {
        let store = store();
        let alice = store
            .create_user("acme", "alice", Role::User, "aa", b"hash-a")
            .unwrap();
        let bob = store
            .create_user("acme", "bob", Role::Admin, "bb", b"hash-b")
            .unwrap();
        assert!(!alice.default_device_id.is_empty());
        assert_eq!(store.list_users().unwrap().len(), 2);
        let candidates = store.token_candidates("aa").unwrap();
        assert_eq!(candidates.len(), 1);
        assert_eq!(candidates[0].token_hash, b"hash-a");
        let alice_principal = candidates[0].principal.clone();
        let bob_principal = store.token_candidates("bb").unwrap()[0].principal.clone();
        assert_eq!(alice_principal.tenant_id, bob_principal.tenant_id);
        // Alice cannot pick Bob's device; Bob, an admin, can pick Alice's.
        assert!(
            store
                .find_device(&alice_principal, Some(&bob.default_device_id))
                .unwrap()
                .is_none()
        );
        assert!(
            store
                .find_device(&bob_principal, Some(&alice.default_device_id))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn another_tenant_never_finds_a_device_or_job() {
        let store = store();
        let alice = store
            .create_user("acme", "alice", Role::Admin, "aa", b"a")
            .unwrap();
        store
            .create_user("globex", "eve", Role::Admin, "ee", b"e")
            .unwrap();
        let eve = store.token_candidates("ee").unwrap()[0].principal.clone();
        assert!(
            store
                .find_device(&eve, Some(&alice.default_device_id))
                .unwrap()
                .is_none()
        );
        assert!(store.find_job(&eve.tenant_id, "job_x").unwrap().is_none());
    }

    /// A processing `/send/audio` job of `user`'s default device.
    fn audio_job(id: &str, user: &crate::store::UserRecord, body: Vec<u8>) -> JobRecord {
        JobRecord {
            id: id.into(),
            tenant_id: user.tenant.clone(),
            user_id: user.user_id.clone(),
            device_id: user.default_device_id.clone(),
            route: "/send/audio".into(),
            body,
            message_id: format!("3EB0{id}"),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            status: JobStatus::Processing,
            error: None,
            result_json: None,
            created_at: Utc::now(),
            finished_at: None,
            attempts: 0,
        }
    }

    #[test]
    fn status_reads_and_the_resume_scan_leave_job_bodies_on_disk() {
        let store = store();
        let alice = store
            .create_user("acme", "alice", Role::User, "aa", b"a")
            .unwrap();
        let body = vec![b'x'; 4 << 20];
        store
            .create_job(&audio_job("job_big", &alice, body.clone()))
            .unwrap();
        let status = store.find_job(&alice.tenant, "job_big").unwrap().unwrap();
        assert!(status.body.is_empty(), "the status read left the body");
        assert_eq!(status.route, "/send/audio");
        assert_eq!(status.status, JobStatus::Processing);
        assert_eq!(store.unfinished_job_ids().unwrap(), ["job_big"]);
        // The runner still gets the whole request.
        assert_eq!(
            store.claim_job("job_big", "run-1").unwrap().unwrap().body,
            body
        );
    }

    #[test]
    fn a_job_is_claimed_once_per_run_and_again_after_a_restart() {
        let store = store();
        let alice = store
            .create_user("acme", "alice", Role::User, "aa", b"a")
            .unwrap();
        store
            .create_job(&audio_job("job_1", &alice, b"{}".to_vec()))
            .unwrap();
        let claimed = store.claim_job("job_1", "run-1").unwrap().unwrap();
        assert_eq!(claimed.attempts, 1);
        assert!(
            store.claim_job("job_1", "run-1").unwrap().is_none(),
            "queued twice in one run, it runs once"
        );
        // The run died holding it: the next run claims it, and the start is counted.
        let resumed = store.claim_job("job_1", "run-2").unwrap().unwrap();
        assert_eq!(resumed.attempts, 2);
        store
            .finish_job("job_1", JobStatus::Sent, None, None)
            .unwrap();
        assert!(store.claim_job("job_1", "run-3").unwrap().is_none());
        assert!(store.claim_job("job_unknown", "run-3").unwrap().is_none());
    }

    #[test]
    fn a_remembered_device_is_served_only_to_callers_the_query_would_serve() {
        let store = store();
        let alice = store
            .create_user("acme", "alice", Role::User, "aa", b"a")
            .unwrap();
        let bob = store
            .create_user("acme", "bob", Role::User, "bb", b"b")
            .unwrap();
        store
            .create_user("acme", "root", Role::Admin, "rr", b"r")
            .unwrap();
        store
            .create_user("globex", "eve", Role::Admin, "ee", b"e")
            .unwrap();
        let principal = |lookup: &str| store.token_candidates(lookup).unwrap()[0].principal.clone();
        let (alice_p, bob_p, root_p, eve_p) = (
            principal("aa"),
            principal("bb"),
            principal("rr"),
            principal("ee"),
        );
        let alices = Some(alice.default_device_id.as_str());
        // Remembered by id and as Alice's default.
        assert!(store.find_device(&alice_p, alices).unwrap().is_some());
        assert!(store.find_device(&alice_p, None).unwrap().is_some());
        for _ in 0..2 {
            assert!(store.cached_device(&alice_p, alices).is_some());
            assert!(store.cached_device(&root_p, alices).is_some());
            assert!(store.cached_device(&bob_p, alices).is_none());
            assert!(store.cached_device(&eve_p, alices).is_none());
            assert!(store.find_device(&bob_p, alices).unwrap().is_none());
            assert!(store.find_device(&eve_p, alices).unwrap().is_none());
            // Bob's default is his own, not the one remembered for Alice.
            assert_eq!(
                store.find_device(&bob_p, None).unwrap().unwrap().id,
                bob.default_device_id
            );
            assert_eq!(
                store.cached_device(&bob_p, None).unwrap().id,
                bob.default_device_id
            );
        }
    }

    #[test]
    fn migrations_are_idempotent() {
        let dir = std::env::temp_dir().join(format!("wuts-store-{}", uuid::Uuid::new_v4()));
        let path = dir.join("wuts.db");
        SqliteStore::open(&path)
            .unwrap()
            .create_user("t", "u", Role::User, "x", b"y")
            .unwrap();
        assert_eq!(
            SqliteStore::open(&path)
                .unwrap()
                .list_users()
                .unwrap()
                .len(),
            1
        );
    }

    #[test]
    fn two_devices_may_queue_the_same_message_id() {
        let store = store();
        let first = store.create_user("t", "a", Role::User, "x", b"y").unwrap();
        let second = store.create_user("t", "b", Role::User, "z", b"w").unwrap();
        let id = "3EB0000000000000000007";
        store.log_message_soon(sent(&first.default_device_id, id).entry());
        store.log_message_soon(
            LoggedMessage {
                message: vec![4, 5],
                ..sent(&second.default_device_id, id)
            }
            .entry(),
        );
        // Found whether or not the writer has committed them yet.
        let found = |device: &str| store.find_message(device, id).unwrap().map(|m| m.message);
        assert_eq!(found(&first.default_device_id), Some(vec![1, 2, 3]));
        assert_eq!(found(&second.default_device_id), Some(vec![4, 5]));
        store.flush_message_log().unwrap();
        let pending = |device: &str| store.message_log.pending(device, id).map(|m| m.message);
        assert_eq!(pending(&first.default_device_id), None);
        assert_eq!(pending(&second.default_device_id), None);
        assert_eq!(found(&second.default_device_id), Some(vec![4, 5]));
    }

    #[test]
    fn a_message_lookup_does_not_wait_for_the_writers_connection() {
        let store = Arc::new(store());
        let user = store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        let device = user.default_device_id;
        store
            .log_message(sent(&device, "3EB0000000000000000009").entry())
            .unwrap();
        // Hold the connection the log writer commits on, as a long commit would.
        let (held, release) = (mpsc::channel(), mpsc::channel::<()>());
        let holder = {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .with(|_| {
                        held.0.send(()).unwrap();
                        let _ = release.1.recv();
                        Ok(())
                    })
                    .unwrap()
            })
        };
        held.1.recv().unwrap();
        let (found, answer) = mpsc::channel();
        {
            let store = Arc::clone(&store);
            let device = device.clone();
            std::thread::spawn(move || {
                let _ = found.send(store.find_message(&device, "3EB0000000000000000009"));
            });
        }
        // Answered while the connection is still held (it would wait forever otherwise).
        let result = answer.recv_timeout(std::time::Duration::from_secs(10));
        release.0.send(()).unwrap();
        holder.join().unwrap();
        let found = result.expect("the lookup answered while the writer's connection was held");
        assert_eq!(found.unwrap().unwrap().message, vec![1, 2, 3]);
    }

    #[test]
    fn a_message_queued_twice_is_found_as_its_newer_copy() {
        let store = store();
        let user = store.create_user("t", "a", Role::User, "x", b"y").unwrap();
        let device = user.default_device_id;
        let id = "3EB0000000000000000008";
        store.log_message_soon(sent(&device, id).entry());
        store.log_message_soon(
            LoggedMessage {
                message: vec![8, 8],
                ..sent(&device, id)
            }
            .entry(),
        );
        // Pending or committed, the newer copy wins.
        let found = || store.find_message(&device, id).unwrap().map(|m| m.message);
        assert_eq!(found(), Some(vec![8, 8]));
        store.flush_message_log().unwrap();
        assert_eq!(found(), Some(vec![8, 8]));
    }

    fn page_size(store: &SqliteStore) -> i64 {
        store
            .with(|connection| Ok(connection.query_row("PRAGMA page_size", [], |row| row.get(0))?))
            .unwrap()
    }

    #[test]
    fn new_databases_get_16_kib_pages_and_older_ones_keep_theirs() {
        assert_eq!(page_size(&store()), 16384);
        let dir = std::env::temp_dir().join(format!("wuts-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("wuts.db");
        {
            let older = Connection::open(&path).unwrap();
            older.pragma_update(None, "page_size", 4096).unwrap();
            older.pragma_update(None, "journal_mode", "WAL").unwrap();
            older.execute_batch("CREATE TABLE unrelated (a)").unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(page_size(&store), 4096);
        store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        assert_eq!(store.list_users().unwrap().len(), 1);
    }

    fn sent(device_id: &str, message_id: &str) -> LoggedMessage {
        LoggedMessage {
            device_id: device_id.into(),
            message_id: message_id.into(),
            chat_jid: "5511999999999@s.whatsapp.net".into(),
            sender_jid: None,
            from_me: true,
            route: Some("/send/buttons".into()),
            message: vec![1, 2, 3],
            timestamp: Utc::now(),
        }
    }

    #[test]
    fn a_message_logged_soon_is_found_at_once_and_committed_by_the_flush() {
        let dir = std::env::temp_dir().join(format!("wuts-store-{}", uuid::Uuid::new_v4()));
        let path = dir.join("wuts.db");
        let store = SqliteStore::open(&path).unwrap();
        let user = store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        let device = user.default_device_id;
        store.log_message_soon(sent(&device, "3EB0000000000000000001").entry());
        // Found straight away, committed or not.
        let found = store
            .find_message(&device, "3EB0000000000000000001")
            .unwrap()
            .expect("the queued message is found");
        assert_eq!(found.message, vec![1, 2, 3]);
        assert!(
            store
                .find_message("other-device", "3EB0000000000000000001")
                .unwrap()
                .is_none()
        );
        store.flush_message_log().unwrap();
        assert!(
            store
                .message_log
                .pending(&device, "3EB0000000000000000001")
                .is_none(),
            "the commit empties the pending table"
        );
        drop(store);
        // A second connection (a restart) reads it from the database.
        let reopened = SqliteStore::open(&path).unwrap();
        assert!(
            reopened
                .find_message(&device, "3EB0000000000000000001")
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn a_waited_log_reports_its_commit() {
        let store = store();
        let user = store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        let (reply, committed) = mpsc::channel();
        store.log_message_then(
            sent(&user.default_device_id, "3EB0000000000000000002").entry(),
            Box::new(move |result| reply.send(result.is_ok()).unwrap()),
        );
        assert!(
            committed
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap()
        );
        // A message for a device that does not exist breaks the foreign key: reported.
        let (reply, committed) = mpsc::channel();
        store.log_message_then(
            sent("no-such-device", "3EB0000000000000000003").entry(),
            Box::new(move |result| reply.send(result.is_ok()).unwrap()),
        );
        assert!(
            !committed
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap()
        );
    }

    #[test]
    fn one_bad_message_does_not_cost_its_batch() {
        let store = store();
        let user = store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        let device = user.default_device_id;
        // Queued together, so they gather into one commit.
        store.log_message_soon(sent("no-such-device", "3EB0000000000000000004").entry());
        store.log_message_soon(sent(&device, "3EB0000000000000000005").entry());
        store.flush_message_log().unwrap();
        assert!(
            store
                .message_log
                .pending(&device, "3EB0000000000000000005")
                .is_none()
        );
        assert!(
            store
                .find_message(&device, "3EB0000000000000000005")
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .find_message("no-such-device", "3EB0000000000000000004")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn logging_a_message_again_keeps_the_newer_copy() {
        let store = store();
        let user = store.create_user("t", "u", Role::User, "x", b"y").unwrap();
        let device = user.default_device_id;
        store
            .log_message(sent(&device, "3EB0000000000000000006").entry())
            .unwrap();
        let newer = LoggedMessage {
            chat_jid: "120363000000000000@g.us".into(),
            message: vec![9, 9],
            ..sent(&device, "3EB0000000000000000006")
        };
        store.log_message(newer.entry()).unwrap();
        let found = store
            .find_message(&device, "3EB0000000000000000006")
            .unwrap()
            .expect("logged");
        assert_eq!(found.message, vec![9, 9]);
        assert_eq!(found.chat_jid, "120363000000000000@g.us");
        let rows: i64 = store
            .with(|connection| {
                Ok(connection.query_row(
                    "SELECT COUNT(*) FROM messages WHERE message_id = '3EB0000000000000000006'",
                    [],
                    |row| row.get(0),
                )?)
            })
            .unwrap();
        assert_eq!(rows, 1);
    }
}
