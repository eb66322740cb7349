//! One session per device, opened on first use through the configured driver.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{DeviceIdentity, Session, SessionDriver, SessionError};

pub struct SessionManager {
    driver: Arc<dyn SessionDriver>,
    sessions: RwLock<HashMap<String, Arc<dyn Session>>>,
}

impl SessionManager {
    pub fn new(driver: Arc<dyn SessionDriver>) -> Self {
        SessionManager {
            driver,
            sessions: RwLock::new(HashMap::new()),
        }
    }

    pub fn driver_name(&self) -> &'static str {
        self.driver.name()
    }

    /// The device's session, opening it on first use.
    pub async fn session(&self, device: &DeviceIdentity) -> Result<Arc<dyn Session>, SessionError> {
        if let Some(session) = self.existing(&device.device_id) {
            return Ok(session);
        }
        let opened = self.driver.open(device).await?;
        let mut sessions = self
            .sessions
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        // Another request may have opened it meanwhile: keep the first.
        Ok(Arc::clone(
            sessions.entry(device.device_id.clone()).or_insert(opened),
        ))
    }

    /// The device's session if it is open.
    pub fn existing(&self, device_id: &str) -> Option<Arc<dyn Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(device_id)
            .cloned()
    }

    /// Every open session, for shutdown.
    pub fn all(&self) -> Vec<Arc<dyn Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .values()
            .cloned()
            .collect()
    }
}
