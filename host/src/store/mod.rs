//! Persistent state: tenants, users and their hashed tokens, devices, the message log,
//! and jobs. [`Store`] is the seam a server database can fill
//! later; [`SqliteStore`] is the embedded default.
//!
//! Calls block: async callers go through `tokio::task::spawn_blocking`.

mod accounts;
mod message_log;
mod migrations;
mod sql_time;
mod sqlite;
mod sqlite_accounts;
mod sqlite_events;
mod sqlite_webhooks;
mod webhooks;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use accounts::{AccountChange, AccountRecord, NewAccount, Removed, TenantRecord};
pub use sqlite::SqliteStore;
pub use webhooks::{
    AttemptOutcome, ClaimedDelivery, DeliveryFailure, UserWebhookRecord, WebhookRecord,
};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("could not create the database folder {path}: {source}")]
    Folder {
        path: String,
        source: std::io::Error,
    },
    #[error("{0} already exists")]
    Conflict(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("message log: {0}")]
    Writer(String),
    /// The change would leave a tenant without an active admin.
    #[error("the tenant would be left without an active admin")]
    LastAdmin,
    /// The user has as many devices as `[limits] devices_per_user` allows.
    #[error("the user has {0} devices, the most allowed")]
    DeviceLimit(u64),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Called when a queued log write is committed (or failed).
pub type LogDone = Box<dyn FnOnce(StoreResult<()>) + Send>;
/// Told, on the writer's thread, which queued events a commit stored.
pub type EventsCommitted = Box<dyn Fn(Vec<StoredEvent>) + Send + Sync>;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    Manager,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::User => "user",
        }
    }

    pub fn parse(text: &str) -> Role {
        match text {
            "admin" => Role::Admin,
            "manager" => Role::Manager,
            _ => Role::User,
        }
    }
}

/// Counts read for `GET /metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreGauges {
    /// `(status, count)` of jobs.
    pub jobs: Vec<(String, i64)>,
    pub devices: i64,
    /// Deliveries pending or in flight.
    pub outbox_depth: i64,
}

/// The authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant_id: String,
    pub user_id: String,
    pub role: Role,
}

/// A user as listed (never with a token).
#[derive(Debug, Clone, Serialize)]
pub struct UserRecord {
    pub user_id: String,
    pub tenant: String,
    pub name: String,
    pub role: Role,
    pub default_device_id: String,
    pub created_at: DateTime<Utc>,
}

/// A credential row found by its lookup prefix; the caller compares `token_hash` in
/// constant time.
#[derive(Debug, Clone)]
pub struct TokenCandidate {
    pub token_hash: Vec<u8>,
    pub principal: Principal,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeviceRecord {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub name: String,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}

/// A message in a device's log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedMessage {
    pub device_id: String,
    pub message_id: String,
    pub chat_jid: String,
    pub sender_jid: Option<String>,
    pub from_me: bool,
    pub route: Option<String>,
    /// `waE2E.Message` protobuf bytes.
    pub message: Vec<u8>,
    pub timestamp: DateTime<Utc>,
}

impl LoggedMessage {
    /// This message as the log takes it.
    pub fn entry(&self) -> LogEntry<'_> {
        LogEntry {
            device_id: &self.device_id,
            message_id: &self.message_id,
            chat_jid: &self.chat_jid,
            sender_jid: self.sender_jid.as_deref(),
            from_me: self.from_me,
            route: self.route.as_deref(),
            message: &self.message,
            timestamp: self.timestamp,
        }
    }
}

/// A message for the log, borrowed from wherever its parts already are: a send logs
/// what it has without copying each field (the log keeps one copy of its own).
#[derive(Debug, Clone, Copy)]
pub struct LogEntry<'a> {
    pub device_id: &'a str,
    pub message_id: &'a str,
    pub chat_jid: &'a str,
    pub sender_jid: Option<&'a str>,
    pub from_me: bool,
    pub route: Option<&'a str>,
    /// `waE2E.Message` protobuf bytes.
    pub message: &'a [u8],
    pub timestamp: DateTime<Utc>,
}

impl LogEntry<'_> {
    pub fn into_owned(self) -> LoggedMessage {
        LoggedMessage {
            device_id: self.device_id.to_owned(),
            message_id: self.message_id.to_owned(),
            chat_jid: self.chat_jid.to_owned(),
            sender_jid: self.sender_jid.map(str::to_owned),
            from_me: self.from_me,
            route: self.route.map(str::to_owned),
            message: self.message.to_vec(),
            timestamp: self.timestamp,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Processing,
    Sent,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Processing => "processing",
            JobStatus::Sent => "sent",
            JobStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> JobStatus {
        match text {
            "sent" => JobStatus::Sent,
            "failed" => JobStatus::Failed,
            _ => JobStatus::Processing,
        }
    }
}

/// A request persisted to run in the background.
#[derive(Debug, Clone)]
pub struct JobRecord {
    pub id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub device_id: String,
    pub route: String,
    pub body: Vec<u8>,
    pub message_id: String,
    pub chat_jid: String,
    pub status: JobStatus,
    pub error: Option<String>,
    /// JSON object merged into the job's status (the plugin's response extras).
    pub result_json: Option<String>,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub attempts: u32,
}

/// Creates `path` readable and writable by its owner only (mode 0600), or narrows an
/// existing file to that: the databases hold token hashes, messages and a device's
/// WhatsApp keys. SQLite gives its `-wal` and `-shm` files the database's mode.
pub fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(path)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// An event on its way into the store.
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub device_id: String,
    pub tenant_id: String,
    pub user_id: String,
    /// `message.sent`, `message.received`, ...
    pub name: String,
    /// The event's `data`, already JSON.
    pub data: Box<serde_json::value::RawValue>,
    /// Unix seconds.
    pub timestamp: i64,
}

/// An event as stored: numbered in its device's sequence, with its envelope (the JSON a
/// webhook delivery and the event stream carry) written once.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// `evt_` + a ULID: unique, and stable across retries, replays and the stream.
    pub id: String,
    pub device_id: String,
    pub tenant_id: String,
    pub user_id: String,
    /// Counts up by one per device.
    pub seq: i64,
    pub name: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// `{"id","event","timestamp","device_id","user_id","seq","data"}` as JSON text.
    pub envelope: String,
    /// Whether storing it created a webhook delivery (only then is the deliverer woken).
    pub queued_delivery: bool,
}

/// Everything the host persists.
pub trait Store: Send + Sync + 'static {
    /// Creates a user (and the tenant on first use) with a default device.
    fn create_user(
        &self,
        tenant: &str,
        name: &str,
        role: Role,
        token_lookup: &str,
        token_hash: &[u8],
    ) -> StoreResult<UserRecord>;
    fn list_users(&self) -> StoreResult<Vec<UserRecord>>;
    /// Credentials of active users whose token hash starts with `token_lookup`.
    fn token_candidates(&self, token_lookup: &str) -> StoreResult<Vec<TokenCandidate>>;

    // Administration (docs/API.md, "Administration"): every call is scoped by tenant, so
    // another tenant's user reads as unknown.
    fn account(&self, tenant_id: &str, user_id: &str) -> StoreResult<Option<AccountRecord>>;
    fn accounts(&self, tenant_id: &str) -> StoreResult<Vec<AccountRecord>>;
    /// The tenant of a user, by the user's id alone (the CLI names users by id).
    fn tenant_of_user(&self, user_id: &str) -> StoreResult<Option<String>>;
    /// `Conflict` when the tenant has a user with this email.
    fn create_account(&self, account: &NewAccount) -> StoreResult<AccountRecord>;
    /// The account before and after; `LastAdmin` when no active admin would be left.
    fn change_account(
        &self,
        tenant_id: &str,
        user_id: &str,
        change: AccountChange,
    ) -> StoreResult<Option<(AccountRecord, AccountRecord)>>;
    /// Replaces the user's token (the old one stops matching at once in the store;
    /// the caller forgets it in the token cache).
    fn set_token(
        &self,
        tenant_id: &str,
        user_id: &str,
        token_lookup: &str,
        token_hash: &[u8],
    ) -> StoreResult<bool>;
    /// Deletes the user and everything stored for it; `LastAdmin` for the last active
    /// admin.
    fn remove_account(&self, tenant_id: &str, user_id: &str) -> StoreResult<Option<Removed>>;
    /// A new tenant and its first user; `Conflict` when the name is taken.
    fn register_tenant(
        &self,
        name: &str,
        first: NewAccount,
    ) -> StoreResult<(TenantRecord, AccountRecord)>;
    fn tenants(&self) -> StoreResult<Vec<TenantRecord>>;
    /// What `GET /metrics` reports of the store.
    fn gauges(&self) -> StoreResult<StoreGauges>;
    /// That the store answers (`GET /ready`), at the cost of one trivial read.
    fn ping(&self) -> StoreResult<()>;
    fn tenant(&self, tenant_id: &str) -> StoreResult<Option<TenantRecord>>;
    /// Deletes the tenant and everything stored for it.
    fn remove_tenant(&self, tenant_id: &str) -> StoreResult<Option<(TenantRecord, Removed)>>;

    /// Creates a device of `principal`'s, unless the user has `max_per_user` already
    /// (`StoreError::DeviceLimit`; 0 = no cap), in one statement.
    fn create_device(
        &self,
        principal: &Principal,
        name: &str,
        max_per_user: u64,
    ) -> StoreResult<DeviceRecord>;
    /// Devices the principal may use: its own (all of the tenant's for an admin).
    fn list_devices(&self, principal: &Principal) -> StoreResult<Vec<DeviceRecord>>;
    /// A device the principal may use, or its default device when `device_id` is `None`.
    fn find_device(
        &self,
        principal: &Principal,
        device_id: Option<&str>,
    ) -> StoreResult<Option<DeviceRecord>>;
    fn all_devices(&self) -> StoreResult<Vec<DeviceRecord>>;
    /// Drops remembered devices that are not in `stored` (deleted by another process,
    /// `wuts users delete`), so no request finds them any more.
    fn forget_devices_not_in(&self, stored: &std::collections::HashSet<String>);

    fn log_message(&self, message: LogEntry<'_>) -> StoreResult<()>;
    /// Queues a message for the log and calls `done` once it is committed, so async
    /// callers need not hold a blocking thread while they wait.
    fn log_message_then(&self, message: LogEntry<'_>, done: LogDone) {
        done(self.log_message(message));
    }
    /// Queues a message for the log without waiting for its commit; `find_message`
    /// sees it at once. A failed commit is logged, not returned.
    fn log_message_soon(&self, message: LogEntry<'_>) {
        if let Err(error) = self.log_message(message) {
            tracing::error!(%error, message_id = %message.message_id, "could not log a sent message");
        }
    }
    /// Waits until every queued message and event is committed.
    fn flush_message_log(&self) -> StoreResult<()> {
        Ok(())
    }
    /// A device [`Store::find_device`] already found, without touching the database (and
    /// without copying it: every send asks).
    fn cached_device(
        &self,
        _principal: &Principal,
        _device_id: Option<&str>,
    ) -> Option<std::sync::Arc<DeviceRecord>> {
        None
    }
    /// A message of the device's log: one it sent, else one it received.
    fn find_message(&self, device_id: &str, message_id: &str)
    -> StoreResult<Option<LoggedMessage>>;
    /// Logs a received message (apart from sent ones) and stores its event, in one
    /// transaction: a message that was received has its event, whatever happens next.
    /// `None` when the device already had it (nothing stored): WhatsApp delivers a
    /// message again when its receipt did not reach it.
    fn log_received(
        &self,
        message: &LoggedMessage,
        event: Option<&NewEvent>,
    ) -> StoreResult<Option<Vec<StoredEvent>>>;
    /// Removes a message from the device's log, sent or received (WUTS's delete "for
    /// me"), after the log's queued writes are committed so a queued copy cannot come
    /// back. False when the log does not hold it.
    fn forget_message(&self, device_id: &str, message_id: &str) -> StoreResult<bool>;
    /// A message the device received.
    fn find_received(
        &self,
        device_id: &str,
        message_id: &str,
    ) -> StoreResult<Option<LoggedMessage>>;

    fn create_job(&self, job: &JobRecord) -> StoreResult<()>;
    /// A job's status, without its request body (`body` is empty).
    fn find_job(&self, tenant_id: &str, job_id: &str) -> StoreResult<Option<JobRecord>>;
    /// The ids of jobs still processing, oldest first (their bodies are read when each runs).
    fn unfinished_job_ids(&self) -> StoreResult<Vec<String>>;
    /// Claims a job still `processing` for `runner` (one run of the server), counting the
    /// start in `attempts`, in one statement: `None` when the job is finished, unknown, or
    /// already this runner's. A job an earlier run claimed (and died holding) is claimed.
    fn claim_job(&self, job_id: &str, runner: &str) -> StoreResult<Option<JobRecord>>;
    fn finish_job(
        &self,
        job_id: &str,
        status: JobStatus,
        error: Option<&str>,
        result_json: Option<&str>,
    ) -> StoreResult<()>;
    /// Removes finished jobs that finished before `before`. How many.
    fn purge_jobs_before(&self, before: DateTime<Utc>) -> StoreResult<usize>;
    /// Removes sent and received messages older than `before` from the message log, a
    /// batch per transaction so that sends waiting to log are not held up. How many.
    fn purge_messages_before(&self, before: DateTime<Utc>) -> StoreResult<usize>;

    /// Stores events in one transaction, each numbered next in its device's sequence,
    /// with a pending delivery for the device's webhook when it is enabled and takes the
    /// event. Returns them in the order given.
    fn append_events(&self, events: &[NewEvent]) -> StoreResult<Vec<StoredEvent>>;
    /// Queues an event for the writer that commits the message log, so that a send's
    /// message and its `message.sent` share one commit; [`Store::flush_message_log`]
    /// waits for it too. What each commit stored goes to the listener set by
    /// [`Store::on_events_committed`].
    fn queue_event(&self, event: NewEvent);
    /// Sets the one listener for committed queued events (a second is refused).
    fn on_events_committed(&self, listener: EventsCommitted) -> Result<(), EventsCommitted>;

    /// A device's events after `after_seq`, oldest first, at most `limit`.
    fn events_after(
        &self,
        device_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> StoreResult<Vec<StoredEvent>>;

    /// The newest sequence number a device's events have (0 before the first).
    fn latest_event_seq(&self, device_id: &str) -> StoreResult<i64>;

    /// The sequence number of one of a device's events, while it is retained.
    fn event_seq(&self, device_id: &str, event_id: &str) -> StoreResult<Option<i64>>;

    /// Removes events older than `before` (Unix seconds) whose deliveries are all done.
    fn purge_events_before(&self, before: i64) -> StoreResult<usize>;

    // Webhooks (docs/API.md, "Webhooks"; store/sqlite_webhooks.rs says how deliveries move).
    fn webhook(&self, device_id: &str) -> StoreResult<Option<WebhookRecord>>;
    /// Creates or replaces a device's webhook (its id and `created_at` are kept).
    fn set_webhook(&self, webhook: &WebhookRecord) -> StoreResult<WebhookRecord>;
    /// Removes it and its unfinished deliveries; whether there was one.
    fn delete_webhook(&self, device_id: &str) -> StoreResult<bool>;
    fn set_user_webhook(
        &self,
        tenant_id: &str,
        user_id: &str,
        url: &str,
    ) -> StoreResult<UserWebhookRecord>;
    fn user_webhook(&self, user_id: &str) -> StoreResult<Option<UserWebhookRecord>>;
    /// Gives a new device its user's webhook URL (every event), if the user kept one.
    fn apply_user_webhook(&self, device: &DeviceRecord) -> StoreResult<bool>;
    /// Claims up to `limit` due deliveries (the lowest unfinished seq of each device),
    /// leased until `lease_until_ms`.
    fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> StoreResult<Vec<ClaimedDelivery>>;
    /// When the next claimable delivery is due (Unix ms).
    fn next_delivery_due_at(&self) -> StoreResult<Option<i64>>;
    /// Records attempts' outcomes, all in one transaction.
    fn finish_delivery_attempts(&self, finished: &[(String, AttemptOutcome)]) -> StoreResult<()>;
    fn finish_delivery_attempt(
        &self,
        delivery_id: &str,
        outcome: &AttemptOutcome,
    ) -> StoreResult<()> {
        self.finish_delivery_attempts(&[(delivery_id.to_owned(), outcome.clone())])
    }
    fn delivery_failures(&self, device_id: &str, limit: usize)
    -> StoreResult<Vec<DeliveryFailure>>;
    fn delivery_failure(&self, delivery_id: &str) -> StoreResult<Option<DeliveryFailure>>;
    /// Queues failed deliveries again (one, or all of the device's); how many.
    fn replay_failures(&self, device_id: &str, delivery_id: Option<&str>) -> StoreResult<usize>;
}
