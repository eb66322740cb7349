//! Devices deleted by another process: `wuts users delete` and `wuts tenants delete`
//! change the database a running server uses. Every [`SWEEP_EVERY`] the server compares
//! what it holds (open sessions, remembered devices) with the stored devices and lets go
//! of the missing ones, their sessions removed as a deleted device's are (a WhatsApp
//! device is logged out). Tokens follow the same way through the token cache's re-check
//! (host/src/tokens.rs).

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(10);

pub fn start(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SWEEP_EVERY);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let open_before = state.sessions.open_ids();
            let store = Arc::clone(&state.store);
            let stored = match tokio::task::spawn_blocking(move || store.all_devices()).await {
                Ok(Ok(devices)) => devices
                    .into_iter()
                    .map(|device| device.id)
                    .collect::<HashSet<String>>(),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "could not list devices for the sweep");
                    continue;
                }
                Err(_) => continue,
            };
            state.store.forget_devices_not_in(&stored);
            let removed = state.sessions.remove_missing(&open_before, &stored).await;
            if removed > 0 {
                tracing::info!(removed, "sessions of devices deleted elsewhere removed");
            }
        }
    });
}
