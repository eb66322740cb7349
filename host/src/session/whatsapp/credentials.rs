//! Where each device's WhatsApp credentials live: one SQLite file for all devices.
//!
//! `whatsapp-rust`'s `SqliteStore` keeps several accounts in one file, each under an
//! integer id (`new_for_device`, `whatsapp-rust-sqlite-storage` `src/sqlite_store.rs:444`).
//! WUTS device ids are strings, so a small table in the same file maps one to the other;
//! the same device always gets the same slot, so a restart logs in without pairing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use whatsapp_rust::store::SqliteStore;
use whatsapp_rust::store::traits::{Backend, DeviceStore};
use whatsapp_rust::wacore::store::InMemoryBackend;

use crate::session::{DeviceIdentity, SessionError};

/// Gives each device the storage its client keeps credentials and Signal state in.
#[async_trait]
pub trait CredentialStore: Send + Sync + 'static {
    async fn backend_for(&self, device: &DeviceIdentity) -> Result<Arc<dyn Backend>, SessionError>;

    /// Drops the device's credentials, so its next client pairs afresh (after a logout:
    /// the library keeps the revoked keys and would only be refused again).
    async fn forget(&self, device: &DeviceIdentity) -> Result<(), SessionError>;

    /// The devices whose credentials carry a phone number: paired at least once (a
    /// device logged out since has been forgotten, see [`CredentialStore::forget`]).
    async fn linked_devices(&self) -> Result<HashSet<String>, SessionError>;
}

/// All devices in one SQLite file (the default).
pub struct SqliteCredentials {
    path: PathBuf,
    /// Opening a store runs the library's migrations; two at once on a new file fail.
    opening: tokio::sync::Mutex<()>,
}

impl SqliteCredentials {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        SqliteCredentials {
            path: path.into(),
            opening: tokio::sync::Mutex::new(()),
        }
    }
}

#[async_trait]
impl CredentialStore for SqliteCredentials {
    async fn backend_for(&self, device: &DeviceIdentity) -> Result<Arc<dyn Backend>, SessionError> {
        let _one_at_a_time = self.opening.lock().await;
        let path = self.path.clone();
        let device_id = device.device_id.clone();
        let slot = tokio::task::spawn_blocking(move || device_slot(&path, &device_id))
            .await
            .map_err(|error| SessionError::Failed(format!("credential store: {error}")))??;
        let url = self.path.to_string_lossy().into_owned();
        let store = SqliteStore::new_for_device(&url, slot)
            .await
            .map_err(|error| {
                SessionError::Failed(format!(
                    "cannot open the WhatsApp credential store {url}: {error}"
                ))
            })?;
        Ok(Arc::new(store))
    }

    async fn forget(&self, device: &DeviceIdentity) -> Result<(), SessionError> {
        let path = self.path.clone();
        let device_id = device.device_id.clone();
        tokio::task::spawn_blocking(move || forget_slot(&path, &device_id))
            .await
            .map_err(|error| SessionError::Failed(format!("credential store: {error}")))?
    }

    async fn linked_devices(&self) -> Result<HashSet<String>, SessionError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || linked_in(&path))
            .await
            .map_err(|error| SessionError::Failed(format!("credential store: {error}")))?
    }
}

/// The devices of the file at `path` whose account has a phone number. The library
/// keeps an unpaired account's `pn` empty and fills it at `pair-success`
/// (whatsapp-rust-sqlite-storage `src/sqlite_store.rs`, `src/schema.rs`). No file, or no
/// table yet: nothing was ever paired.
pub fn linked_in(path: &Path) -> Result<HashSet<String>, SessionError> {
    let failed = |error: rusqlite::Error| {
        SessionError::Failed(format!("credential store {}: {error}", path.display()))
    };
    if !path.exists() {
        return Ok(HashSet::new());
    }
    let connection = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(failed)?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(failed)?;
    if !table_exists(&connection, "wuts_device_slot").map_err(failed)?
        || !table_exists(&connection, "device").map_err(failed)?
    {
        return Ok(HashSet::new());
    }
    connection
        .prepare(
            "SELECT s.device_id FROM wuts_device_slot s JOIN device d ON d.id = s.slot
             WHERE d.pn <> ''",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<HashSet<String>>>()
        })
        .map_err(failed)
}

/// Whether the file has a table of that name yet.
fn table_exists(connection: &Connection, name: &str) -> rusqlite::Result<bool> {
    connection.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1)",
        [name],
        |row| row.get(0),
    )
}

/// The slot handed to `device_id`, if any.
fn slot_of(connection: &Connection, device_id: &str) -> rusqlite::Result<Option<i32>> {
    connection
        .query_row(
            "SELECT slot FROM wuts_device_slot WHERE device_id = ?1",
            [device_id],
            |row| row.get(0),
        )
        .optional()
}

/// Releases the device's slot; its next [`device_slot`] is a fresh one. The old account
/// rows stay in the file, unused (slots are never reused).
pub fn forget_slot(path: &Path, device_id: &str) -> Result<(), SessionError> {
    let failed = |error: rusqlite::Error| {
        SessionError::Failed(format!("credential store {}: {error}", path.display()))
    };
    let mut connection = Connection::open(path).map_err(failed)?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(failed)?;
    if !table_exists(&connection, "wuts_device_slot").map_err(failed)? {
        return Ok(());
    }
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    let Some(slot) = slot_of(&transaction, device_id).map_err(failed)? else {
        return Ok(());
    };
    // The library keys every row of an account by its slot in a `device_id` column
    // (whatsapp-rust-sqlite-storage `src/schema.rs`), and the account itself by `device.id`:
    // the keys, sessions and contacts of the forgotten device go with it.
    let tables: Vec<String> = transaction
        .prepare(
            "SELECT m.name FROM sqlite_master m
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != 'wuts_device_slot'
               AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'device_id')",
        )
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<rusqlite::Result<Vec<String>>>()
        })
        .map_err(failed)?;
    for table in tables {
        let quoted = table.replace('"', "\"\"");
        transaction
            .execute(
                &format!("DELETE FROM \"{quoted}\" WHERE device_id = ?1"),
                [slot],
            )
            .map_err(failed)?;
    }
    if table_exists(&transaction, "device").map_err(failed)? {
        transaction
            .execute("DELETE FROM device WHERE id = ?1", [slot])
            .map_err(failed)?;
    }
    // A tombstone keeps the slot's number taken, so it is never handed out again.
    transaction
        .execute(
            "UPDATE wuts_device_slot SET device_id = 'forgotten:' || slot WHERE device_id = ?1",
            [device_id],
        )
        .map_err(failed)?;
    transaction.commit().map_err(failed)
}

/// The slot of `device_id` in the file at `path`, allocating the next free one the first
/// time. Slots are never reused, so a removed device's leftovers cannot be inherited.
pub fn device_slot(path: &Path, device_id: &str) -> Result<i32, SessionError> {
    let failed = |error: rusqlite::Error| {
        SessionError::Failed(format!("credential store {}: {error}", path.display()))
    };
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(|error| {
            SessionError::Failed(format!("cannot create {}: {error}", folder.display()))
        })?;
    }
    // Whoever reads this file can send as the device's phone.
    crate::store::create_private_file(path).map_err(|error| {
        SessionError::Failed(format!("cannot create {}: {error}", path.display()))
    })?;
    let mut connection = Connection::open(path).map_err(failed)?;
    connection
        .busy_timeout(std::time::Duration::from_secs(5))
        .map_err(failed)?;
    connection
        .execute_batch(
            "CREATE TABLE IF NOT EXISTS wuts_device_slot (
                device_id TEXT PRIMARY KEY NOT NULL,
                slot INTEGER NOT NULL UNIQUE
            )",
        )
        .map_err(failed)?;
    let transaction = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(failed)?;
    if let Some(slot) = slot_of(&transaction, device_id).map_err(failed)? {
        return Ok(slot);
    }
    // Past every slot handed out and every account row the library already holds.
    let highest_account: i32 = if table_exists(&transaction, "device").map_err(failed)? {
        transaction
            .query_row("SELECT COALESCE(MAX(id), 0) FROM device", [], |row| {
                row.get(0)
            })
            .map_err(failed)?
    } else {
        0
    };
    let highest_slot: i32 = transaction
        .query_row(
            "SELECT COALESCE(MAX(slot), 0) FROM wuts_device_slot",
            [],
            |row| row.get(0),
        )
        .map_err(failed)?;
    let slot = highest_account.max(highest_slot) + 1;
    transaction
        .execute(
            "INSERT INTO wuts_device_slot (device_id, slot) VALUES (?1, ?2)",
            rusqlite::params![device_id, slot],
        )
        .map_err(failed)?;
    transaction.commit().map_err(failed)?;
    Ok(slot)
}

/// Credentials in memory, one backend per device for the life of the process: for tests
/// and for the offline WhatsApp server's runs.
#[derive(Default)]
pub struct MemoryCredentials {
    backends: Mutex<HashMap<String, Arc<InMemoryBackend>>>,
}

impl MemoryCredentials {
    pub fn new() -> Self {
        MemoryCredentials::default()
    }
}

#[async_trait]
impl CredentialStore for MemoryCredentials {
    async fn backend_for(&self, device: &DeviceIdentity) -> Result<Arc<dyn Backend>, SessionError> {
        let mut backends = self
            .backends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let backend = backends
            .entry(device.device_id.clone())
            .or_insert_with(|| Arc::new(InMemoryBackend::new()));
        Ok(Arc::clone(backend) as Arc<dyn Backend>)
    }

    async fn forget(&self, device: &DeviceIdentity) -> Result<(), SessionError> {
        self.backends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(&device.device_id);
        Ok(())
    }

    async fn linked_devices(&self) -> Result<HashSet<String>, SessionError> {
        let backends: Vec<(String, Arc<InMemoryBackend>)> = self
            .backends
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .map(|(id, backend)| (id.clone(), Arc::clone(backend)))
            .collect();
        let mut linked = HashSet::new();
        for (device_id, backend) in backends {
            let device = DeviceStore::load(&*backend)
                .await
                .map_err(|error| SessionError::Failed(format!("credential store: {error}")))?;
            if device.is_some_and(|device| device.pn.is_some()) {
                linked.insert(device_id);
            }
        }
        Ok(linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn scratch_db(name: &str) -> PathBuf {
        std::env::temp_dir()
            .join(format!("wuts-wa-{name}-{}", uuid::Uuid::new_v4().simple()))
            .join("whatsapp.db")
    }

    #[test]
    fn a_forgotten_device_takes_its_keys_along_and_its_slot_stays_taken() {
        let path = scratch_db("purge");
        let kept = device_slot(&path, "dev_kept").unwrap();
        let gone = device_slot(&path, "dev_gone").unwrap();
        {
            // The library's shape: an account row by id, its data by `device_id`.
            let connection = Connection::open(&path).unwrap();
            connection
                .execute_batch(&format!(
                    "CREATE TABLE device (id INTEGER PRIMARY KEY);
                     CREATE TABLE sessions (address TEXT, device_id INTEGER);
                     INSERT INTO device VALUES ({kept}), ({gone});
                     INSERT INTO sessions VALUES ('a', {kept}), ('b', {gone}), ('c', {gone});"
                ))
                .unwrap();
        }
        forget_slot(&path, "dev_gone").unwrap();
        let connection = Connection::open(&path).unwrap();
        let count = |sql: &str| -> i64 { connection.query_row(sql, [], |row| row.get(0)).unwrap() };
        assert_eq!(
            count(&format!(
                "SELECT COUNT(*) FROM sessions WHERE device_id = {gone}"
            )),
            0
        );
        assert_eq!(
            count(&format!("SELECT COUNT(*) FROM device WHERE id = {gone}")),
            0
        );
        assert_eq!(
            count(&format!(
                "SELECT COUNT(*) FROM sessions WHERE device_id = {kept}"
            )),
            1
        );
        assert_eq!(device_slot(&path, "dev_kept").unwrap(), kept);
        let again = device_slot(&path, "dev_gone").unwrap();
        assert!(
            again > gone,
            "the forgotten slot {gone} is never handed out again ({again})"
        );
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn each_device_keeps_its_own_slot_across_reopenings() {
        let path = scratch_db("slots");
        let first = device_slot(&path, "dev_a").unwrap();
        let second = device_slot(&path, "dev_b").unwrap();
        assert_ne!(first, second);
        assert_eq!(device_slot(&path, "dev_a").unwrap(), first);
        assert_eq!(device_slot(&path, "dev_b").unwrap(), second);
        // Forgotten after a logout: the next slot is new, never an old one.
        forget_slot(&path, "dev_a").unwrap();
        let fresh = device_slot(&path, "dev_a").unwrap();
        assert!(fresh > first && fresh > second);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    /// Gives the device's account a phone number, as `pair-success` does.
    async fn link(backend: &Arc<dyn Backend>) {
        if !backend.exists().await.unwrap() {
            backend.create().await.unwrap();
        }
        let mut account = backend.load().await.unwrap().expect("the account row");
        account.pn = Some("5511888888888@s.whatsapp.net".parse().unwrap());
        backend.save(&account).await.unwrap();
    }

    fn identity(device_id: &str) -> DeviceIdentity {
        DeviceIdentity {
            device_id: device_id.into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
        }
    }

    #[tokio::test]
    async fn only_accounts_with_a_phone_number_count_as_linked() {
        let path = scratch_db("linked");
        let credentials = SqliteCredentials::new(&path);
        // No file yet: nothing was ever paired.
        assert!(credentials.linked_devices().await.unwrap().is_empty());
        let paired = credentials
            .backend_for(&identity("dev_paired"))
            .await
            .unwrap();
        link(&paired).await;
        let fresh = credentials
            .backend_for(&identity("dev_fresh"))
            .await
            .unwrap();
        fresh.create().await.unwrap();
        // Opened but never created its account row.
        credentials
            .backend_for(&identity("dev_bare"))
            .await
            .unwrap();
        drop((paired, fresh));
        let linked = SqliteCredentials::new(&path)
            .linked_devices()
            .await
            .unwrap();
        assert_eq!(linked, HashSet::from(["dev_paired".to_string()]));
        // A forgotten device (logged out) no longer counts.
        credentials.forget(&identity("dev_paired")).await.unwrap();
        assert!(credentials.linked_devices().await.unwrap().is_empty());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());

        let memory = MemoryCredentials::new();
        link(&memory.backend_for(&identity("dev_paired")).await.unwrap()).await;
        let fresh = memory.backend_for(&identity("dev_fresh")).await.unwrap();
        fresh.create().await.unwrap();
        assert_eq!(
            memory.linked_devices().await.unwrap(),
            HashSet::from(["dev_paired".to_string()])
        );
    }

    #[tokio::test]
    async fn the_sqlite_store_opens_in_the_shared_file_and_a_device_row_persists() {
        let path = scratch_db("sqlite");
        let credentials = SqliteCredentials::new(&path);
        let device = DeviceIdentity {
            device_id: "dev_1".into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
        };
        let backend = credentials.backend_for(&device).await.unwrap();
        assert!(!backend.exists().await.unwrap());
        backend.create().await.unwrap();
        drop(backend);
        // A restart: the same device finds its account row again; another device does not.
        let again = SqliteCredentials::new(&path)
            .backend_for(&device)
            .await
            .unwrap();
        assert!(again.exists().await.unwrap());
        let other = DeviceIdentity {
            device_id: "dev_2".into(),
            ..device.clone()
        };
        let other_backend = credentials.backend_for(&other).await.unwrap();
        assert!(!other_backend.exists().await.unwrap());
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
