//! One session per device, opened on first use through the configured driver.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::{DeviceIdentity, Session, SessionDriver, SessionError};

pub struct SessionManager {
    driver: Arc<dyn SessionDriver>,
    sessions: RwLock<HashMap<String, Arc<dyn Session>>>,
    /// Opens one session at a time: two requests for a device that is not open yet must
    /// not start two WhatsApp clients on the same credentials, even briefly (they would
    /// replace each other's stream). Opening returns at once, so this never waits long.
    opening: tokio::sync::Mutex<()>,
}

impl SessionManager {
    pub fn new(driver: Arc<dyn SessionDriver>) -> Self {
        SessionManager {
            driver,
            sessions: RwLock::new(HashMap::new()),
            opening: tokio::sync::Mutex::new(()),
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
        let _one_at_a_time = self.opening.lock().await;
        // Another request may have opened it while this one waited.
        if let Some(session) = self.existing(&device.device_id) {
            return Ok(session);
        }
        let opened = self.driver.open(device).await?;
        self.sessions
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .insert(device.device_id.clone(), Arc::clone(&opened));
        Ok(opened)
    }

    /// The devices linked to a phone, per the driver ([`SessionDriver::linked_devices`]).
    pub async fn linked_devices(
        &self,
    ) -> Result<Option<std::collections::HashSet<String>>, SessionError> {
        self.driver.linked_devices().await
    }

    /// The device's session if it is open.
    pub fn existing(&self, device_id: &str) -> Option<Arc<dyn Session>> {
        self.sessions
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .get(device_id)
            .cloned()
    }

    /// A deleted device: its open session is removed (unlinked and stopped), or, when it
    /// has none, the driver forgets what it keeps of it. Called after the device's row
    /// is deleted, so no new request finds the device to open it again.
    pub async fn remove(&self, device: &DeviceIdentity) -> Result<(), SessionError> {
        let open = self
            .sessions
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .remove(&device.device_id);
        match open {
            Some(session) => session.remove().await,
            None => self.driver.forget(device).await,
        }
    }

    /// The devices with an open session.
    pub fn open_ids(&self) -> std::collections::HashSet<String> {
        self.sessions
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
            .keys()
            .cloned()
            .collect()
    }

    /// Removes the sessions of `candidates` (devices open before `stored` was read) that
    /// are not in `stored`: deleted by another process. Removed as a deleted device's
    /// are; how many. A session opened since is left alone, its device too new for the
    /// list.
    pub async fn remove_missing(
        &self,
        candidates: &std::collections::HashSet<String>,
        stored: &std::collections::HashSet<String>,
    ) -> usize {
        let orphans: Vec<(String, Arc<dyn Session>)> = {
            let mut sessions = self
                .sessions
                .write()
                .unwrap_or_else(|poison| poison.into_inner());
            let gone: Vec<String> = sessions
                .keys()
                .filter(|id| candidates.contains(*id) && !stored.contains(*id))
                .cloned()
                .collect();
            gone.into_iter()
                .filter_map(|id| sessions.remove(&id).map(|session| (id, session)))
                .collect()
        };
        let count = orphans.len();
        for (device_id, session) in orphans {
            if let Err(error) = session.remove().await {
                tracing::warn!(device = %device_id, %error, "a deleted device's session did not end cleanly");
            }
        }
        count
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

#[cfg(test)]
mod tests {
    use std::any::Any;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use async_trait::async_trait;
    use wuts_plugin_api::MediaReference;

    use super::*;
    use crate::session::{
        DeviceStatus, MediaDownload, MediaUpload, OutgoingMessage, QrCode, SendReceipt,
        SessionError,
    };

    struct Idle;

    #[async_trait]
    impl Session for Idle {
        fn status(&self) -> DeviceStatus {
            DeviceStatus {
                connected: false,
                logged_in: false,
                jid: None,
                state: "stopped".into(),
                last_error: None,
            }
        }
        async fn send(&self, _: OutgoingMessage) -> Result<SendReceipt, SessionError> {
            Err(SessionError::NotConnected)
        }
        async fn upload_media(&self, _: MediaUpload) -> Result<MediaReference, SessionError> {
            Err(SessionError::NotConnected)
        }
        async fn download_media(&self, _: MediaDownload) -> Result<Vec<u8>, SessionError> {
            Err(SessionError::NotConnected)
        }
        async fn send_presence(
            &self,
            _: &str,
            _: Option<wuts_plugin_api::PresenceKind>,
        ) -> Result<(), SessionError> {
            Err(SessionError::NotConnected)
        }
        async fn connect(&self) -> Result<(), SessionError> {
            Ok(())
        }
        async fn disconnect(&self) -> Result<(), SessionError> {
            Ok(())
        }
        async fn qr_code(&self, _: Duration) -> Result<QrCode, SessionError> {
            Err(SessionError::NotConnected)
        }
        async fn pair_code(&self, _: &str) -> Result<String, SessionError> {
            Err(SessionError::NotConnected)
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    /// Counts opens, and takes a while over each so that callers overlap.
    #[derive(Default)]
    struct SlowDriver {
        opened: AtomicUsize,
    }

    #[async_trait]
    impl SessionDriver for SlowDriver {
        fn name(&self) -> &'static str {
            "slow"
        }
        async fn open(&self, _: &DeviceIdentity) -> Result<Arc<dyn Session>, SessionError> {
            self.opened.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok(Arc::new(Idle))
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_first_uses_open_a_device_once() {
        let driver = Arc::new(SlowDriver::default());
        let manager = Arc::new(SessionManager::new(
            Arc::clone(&driver) as Arc<dyn SessionDriver>
        ));
        let device = DeviceIdentity {
            device_id: "dev".into(),
            tenant_id: "t".into(),
            user_id: "u".into(),
        };
        let mut opening = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let manager = Arc::clone(&manager);
            let device = device.clone();
            opening.spawn(async move { manager.session(&device).await.map(|_| ()) });
        }
        while let Some(opened) = opening.join_next().await {
            assert!(matches!(opened, Ok(Ok(()))));
        }
        assert_eq!(driver.opened.load(Ordering::SeqCst), 1);
        assert_eq!(manager.all().len(), 1);
        let other = DeviceIdentity {
            device_id: "dev2".into(),
            ..device
        };
        manager.session(&other).await.map(|_| ()).unwrap();
        assert_eq!(driver.opened.load(Ordering::SeqCst), 2);
    }
}
