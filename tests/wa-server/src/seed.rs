//! Paired devices without pairing: credentials the client logs in with at once.
//!
//! `Device::is_registered()` is just "has a phone-number JID" (`wacore`
//! `src/store/device.rs:478`) and a fresh device already has its keys, so setting the
//! JID, a push name (an empty one would start the initial app-state sync,
//! `whatsapp-rust` `src/client/node_io.rs:1247`) and a placeholder ADV identity is enough.

use std::path::Path;
use std::sync::Arc;

use whatsapp_rust::store::persistence_manager::PersistenceManager;
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::wacore::store::DeviceCommand;
use whatsapp_rust::waproto::whatsapp as wa;
use wuts_host::session::DeviceIdentity;
use wuts_host::session::whatsapp::credentials::{CredentialStore, SqliteCredentials};

/// Who a seeded device is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeededDevice {
    /// The account's phone number, digits only.
    pub phone: String,
    /// This linked device's number on the account (not 0: that is the phone).
    pub device: u16,
    /// `phone:device@s.whatsapp.net`.
    pub jid: String,
}

impl SeededDevice {
    pub fn new(phone: &str, device: u16) -> Self {
        SeededDevice {
            phone: phone.to_owned(),
            device,
            jid: format!("{phone}:{device}@s.whatsapp.net"),
        }
    }

    /// The account's JID without a device: `phone@s.whatsapp.net`.
    pub fn account_jid(&self) -> String {
        format!("{}@s.whatsapp.net", self.phone)
    }
}

/// Writes a paired device into `backend` (a fresh one, or one already holding a device).
pub async fn seed_backend(backend: Arc<dyn Backend>, device: &SeededDevice) -> Result<(), String> {
    let manager = PersistenceManager::new(backend)
        .await
        .map_err(|error| format!("cannot open the device store: {error}"))?;
    let jid = device
        .jid
        .parse()
        .map_err(|error| format!("bad JID {}: {error}", device.jid))?;
    manager
        .process_command(DeviceCommand::SetId(Some(jid)))
        .await;
    manager
        .process_command(DeviceCommand::SetPushName("WUTS test gateway".into()))
        .await;
    // Only present so the client's retry path does not refuse to encrypt; never checked.
    manager
        .process_command(DeviceCommand::SetAccount(Some(
            wa::ADVSignedDeviceIdentity {
                details: Some(vec![0; 16]),
                account_signature_key: Some(vec![0; 32]),
                account_signature: Some(vec![0; 64]),
                device_signature: Some(vec![0; 64]),
            },
        )))
        .await;
    manager
        .flush()
        .await
        .map_err(|error| format!("cannot save the device: {error}"))
}

/// Seeds WUTS device `device_id` in the driver's credential file (`<store dir>/whatsapp.db`),
/// through the driver's own `SqliteCredentials`: the same slot table, the same account row
/// the driver opens when `wuts serve` starts that device.
pub async fn seed_sqlite(
    store_path: &Path,
    device_id: &str,
    device: &SeededDevice,
) -> Result<(), String> {
    let identity = DeviceIdentity {
        device_id: device_id.to_owned(),
        tenant_id: String::new(),
        user_id: String::new(),
    };
    let backend = SqliteCredentials::new(store_path)
        .backend_for(&identity)
        .await
        .map_err(|error| error.to_string())?;
    seed_backend(backend, device).await
}
