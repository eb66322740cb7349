//! What is kept and for how long: every hour, events older than `[events]
//! retention_hours` (with their finished deliveries; pending ones are kept), finished
//! jobs older than `[jobs] retention_hours`, and messages older than `[store]
//! message_retention_hours` are removed. A retention of 0 keeps that kind for ever.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::config::Settings;
use crate::store::{Store, StoreResult};

/// How often the purge runs; the first run is at start.
const PURGE_EVERY: Duration = Duration::from_secs(60 * 60);

/// How long each kind is kept (`None`: for ever).
#[derive(Debug, Clone, Copy)]
struct Retention {
    events: Option<chrono::Duration>,
    jobs: Option<chrono::Duration>,
    messages: Option<chrono::Duration>,
}

/// `value` hours; 0 (and a figure too large to be a time) keep for ever.
fn hours(value: u64) -> Option<chrono::Duration> {
    chrono::Duration::try_hours(i64::try_from(value).ok()?).filter(|keep| !keep.is_zero())
}

/// Starts the hourly purge on the current runtime.
pub fn start(store: Arc<dyn Store>, settings: &Settings) {
    let retention = Retention {
        events: hours(settings.events.retention_hours),
        jobs: hours(settings.jobs.retention_hours),
        messages: hours(settings.store.message_retention_hours),
    };
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(PURGE_EVERY);
        loop {
            ticks.tick().await;
            let store = Arc::clone(&store);
            match tokio::task::spawn_blocking(move || purge(store.as_ref(), retention, Utc::now()))
                .await
            {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "the retention purge failed"),
                Err(error) => tracing::error!(%error, "the retention purge failed"),
            }
        }
    });
}

/// One pass: each kind older than its retention at `now`.
fn purge(store: &dyn Store, retention: Retention, now: DateTime<Utc>) -> StoreResult<()> {
    if let Some(keep) = retention.events {
        let removed = store.purge_events_before((now - keep).timestamp())?;
        if removed > 0 {
            tracing::info!(removed, "old events purged");
        }
    }
    if let Some(keep) = retention.jobs {
        let removed = store.purge_jobs_before(now - keep)?;
        if removed > 0 {
            tracing::info!(removed, "finished jobs purged");
        }
    }
    if let Some(keep) = retention.messages {
        let removed = store.purge_messages_before(now - keep)?;
        if removed > 0 {
            tracing::info!(removed, "old messages purged from the message log");
        }
    }
    Ok(())
}
