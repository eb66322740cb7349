//! The job runner: requests persisted as jobs are encoded and sent in the background,
//! through the same send path as inline requests.
//!
//! - Unfinished jobs are queued again at start, so a job survives a restart. Claiming
//!   one is a single statement tied to this run of the server, so a job queued twice (the
//!   start-up scan and its own request) runs once.
//! - A job waits for its device to be connected (`[jobs] device_wait_seconds`): at start
//!   the devices are still logging in, and a device may drop for a while.
//! - A failure that may pass (not connected, no ack in time, the connection lost) is
//!   tried again after a growing, jittered pause, up to `[jobs] max_attempts` sends; a
//!   refusal (a server nack, a request the plugin rejects) fails at once. Every try
//!   carries the job's message id, so a message whose ack was lost is the same message
//!   to WhatsApp when it comes again.
//! - A job is sent once: one whose message is already in the device's log (logged before
//!   the job is marked sent) is marked sent without sending again.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, mpsc};

use crate::error::ApiError;
use crate::events::EventScope;
use crate::send_path::{self, SendRequest};
use crate::session::Session;
use crate::state::AppState;
use crate::store::{JobRecord, JobStatus, Principal, Role, StoreError};

/// A job claimed at this many starts (the server stopped during each) is given up: a job
/// that brings the server down must not do so forever.
const MAX_STARTS: u32 = 5;
/// How often a job waiting for its device looks at it.
const DEVICE_POLL: Duration = Duration::from_millis(250);
/// The longest pause between two tries.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(60);

/// Why a job failed. Kept typed until it is stored, where its text becomes the job's
/// `error` (what `GET /jobs/{id}` shows).
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("gave up after {MAX_STARTS} starts: the server stopped during each")]
    TooManyStarts,
    #[error("gave up after {attempts} attempts: {}", last.message)]
    Exhausted { attempts: u32, last: ApiError },
    #[error("the device was not connected within {0} s")]
    DeviceNotConnected(u64),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    #[error("the device no longer exists")]
    DeviceGone,
    #[error("route {0} is not served by this host")]
    RouteGone(String),
    /// The send path's refusal, as the HTTP answer would have said it.
    #[error("{}", .0.message)]
    Send(ApiError),
}

impl JobError {
    /// The code `message.failed` carries.
    fn code(&self) -> &str {
        match self {
            JobError::Send(error) | JobError::Exhausted { last: error, .. } => &error.code,
            JobError::DeviceNotConnected(_) => crate::error::codes::DEVICE_NOT_READY,
            _ => crate::error::codes::INTERNAL_ERROR,
        }
    }
}

/// Starts `workers` job workers and queues every unfinished job.
pub fn start(state: Arc<AppState>, receiver: mpsc::UnboundedReceiver<String>, workers: usize) {
    // This run's name on the jobs it claims: a job claimed by an earlier run (which died)
    // is claimed again, one claimed by this run is not.
    let runner: Arc<str> = format!("run_{}", uuid::Uuid::new_v4().simple()).into();
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..workers.max(1) {
        let state = Arc::clone(&state);
        let receiver = Arc::clone(&receiver);
        let runner = Arc::clone(&runner);
        state.runtime.clone().spawn(async move {
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(job_id) = next else { break };
                run(&state, &runner, &job_id).await;
            }
        });
    }
    let resume_state = Arc::clone(&state);
    state.runtime.spawn(async move {
        let store = Arc::clone(&resume_state.store);
        match tokio::task::spawn_blocking(move || store.unfinished_job_ids()).await {
            Ok(Ok(ids)) => {
                if !ids.is_empty() {
                    tracing::info!(count = ids.len(), "resuming unfinished jobs");
                }
                for id in ids {
                    resume_state.jobs.enqueue(id);
                }
            }
            Ok(Err(error)) => tracing::error!(%error, "could not list unfinished jobs"),
            Err(error) => tracing::error!(%error, "could not list unfinished jobs"),
        }
    });
}

async fn run(state: &Arc<AppState>, runner: &Arc<str>, job_id: &str) {
    let store = Arc::clone(&state.store);
    let (id, claimant) = (job_id.to_owned(), Arc::clone(runner));
    let claimed = tokio::task::spawn_blocking(move || store.claim_job(&id, &claimant)).await;
    let job = match claimed {
        Ok(Ok(Some(job))) => job,
        // Finished, or already running here.
        Ok(Ok(None)) => return,
        Ok(Err(error)) => return tracing::error!(job_id, %error, "could not claim a job"),
        Err(error) => return tracing::error!(job_id, %error, "could not claim a job"),
    };
    let outcome = if job.attempts > MAX_STARTS {
        Err(JobError::TooManyStarts)
    } else {
        send_with_retries(state, &job).await
    };
    let (status, error, result) = match outcome {
        Ok(result) => (JobStatus::Sent, None, result),
        Err(error) => {
            tracing::warn!(job_id, %error, "job failed");
            emit_failed(state, &job, &error);
            (JobStatus::Failed, Some(error.to_string()), None)
        }
    };
    tracing::info!(job_id, status = status.as_str(), "job finished");
    let store = Arc::clone(&state.store);
    let id = job.id.clone();
    let finished = tokio::task::spawn_blocking(move || {
        store.finish_job(
            &id,
            status,
            error.as_deref(),
            result
                .as_ref()
                .map(|v: &serde_json::Value| v.to_string())
                .as_deref(),
        )
    })
    .await;
    if !matches!(finished, Ok(Ok(()))) {
        tracing::error!(job_id, "could not record a job's result");
    }
}

/// Sends the job, trying again after failures that may pass.
async fn send_with_retries(
    state: &Arc<AppState>,
    job: &JobRecord,
) -> Result<Option<serde_json::Value>, JobError> {
    let settings = &state.settings.jobs;
    let max_attempts = settings.max_attempts.max(1);
    let mut attempt = 1;
    loop {
        match execute(state, job).await {
            Ok(result) => return Ok(result),
            Err(JobError::Send(error)) if error.transient => {
                if attempt >= max_attempts {
                    return Err(JobError::Exhausted {
                        attempts: attempt,
                        last: error,
                    });
                }
                let wait = retry_delay(
                    Duration::from_millis(settings.retry_delay_ms),
                    attempt,
                    rand::random::<f64>(),
                );
                tracing::info!(
                    job_id = %job.id, attempt, error = %error.message,
                    wait_ms = wait.as_millis() as u64, "job send failed; will try again"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(error) => return Err(error),
        }
    }
}

/// The pause after the `attempt`th try: `base`, doubled at each try, at most a minute,
/// then spread by ±20% (`unit` in 0..1) so that jobs failed together do not come back
/// together.
fn retry_delay(base: Duration, attempt: u32, unit: f64) -> Duration {
    let doubled = base.saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
    let spread = 0.8 + 0.4 * unit.clamp(0.0, 1.0);
    doubled.min(MAX_RETRY_DELAY).mul_f64(spread)
}

/// Encodes and sends a job once its device is connected; the result is the plugin's
/// response extras.
async fn execute(
    state: &Arc<AppState>,
    job: &JobRecord,
) -> Result<Option<serde_json::Value>, JobError> {
    let store = Arc::clone(&state.store);
    let (device_id, message_id, user_id, tenant_id) = (
        job.device_id.clone(),
        job.message_id.clone(),
        job.user_id.clone(),
        job.tenant_id.clone(),
    );
    let looked_up = tokio::task::spawn_blocking(move || {
        let already_sent = store.find_message(&device_id, &message_id)?.is_some();
        // The job's owner, as an admin of the tenant, so the stored device id resolves.
        let owner = Principal {
            tenant_id,
            user_id,
            role: Role::Admin,
        };
        let device = store.find_device(&owner, Some(&device_id))?;
        Ok::<_, StoreError>((already_sent, device))
    })
    .await??;
    let (already_sent, device) = looked_up;
    if already_sent {
        tracing::info!(job_id = %job.id, "job's message was already sent before a restart");
        return Ok(None);
    }
    let device = device.ok_or(JobError::DeviceGone)?;
    let route = state
        .plugins
        .routes
        .get(&job.route)
        .cloned()
        .ok_or_else(|| JobError::RouteGone(job.route.clone()))?;
    let request = SendRequest {
        route,
        device: std::sync::Arc::new(device),
        body: actix_web::web::Bytes::from(job.body.clone()),
        request_id: job.id.clone(),
        message_id: job.message_id.clone(),
        is_job: true,
    };
    let session = send_path::open_session(state, &request)
        .await
        .map_err(JobError::Send)?;
    wait_for_device(
        &session,
        Duration::from_secs(state.settings.jobs.device_wait_seconds),
    )
    .await?;
    let outcome = send_path::encode_and_send(state, &request, session)
        .await
        .map_err(JobError::Send)?;
    Ok(outcome.extra)
}

/// Waits, on a timer, until the session is connected or `limit` has passed.
async fn wait_for_device(session: &Arc<dyn Session>, limit: Duration) -> Result<(), JobError> {
    // A wait too long to add to the clock (a configured u64::MAX) has no deadline.
    let deadline = tokio::time::Instant::now().checked_add(limit);
    while !session.is_connected() {
        if deadline.is_some_and(|deadline| tokio::time::Instant::now() >= deadline) {
            return Err(JobError::DeviceNotConnected(limit.as_secs()));
        }
        tokio::time::sleep(DEVICE_POLL).await;
    }
    Ok(())
}

/// `message.failed` for a job that gave up (its tries announce nothing: they may pass).
fn emit_failed(state: &AppState, job: &JobRecord, error: &JobError) {
    let scope = EventScope {
        device_id: &job.device_id,
        tenant_id: &job.tenant_id,
        user_id: &job.user_id,
    };
    let data = serde_json::json!({
        "message_id": job.message_id,
        "chat_jid": job.chat_jid,
        "error": error.to_string(),
        "error_code": error.code(),
        "job_id": job.id,
    });
    state.events.emit(scope, "message.failed", data);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tries_wait_twice_as_long_each_time_spread_by_a_fifth_and_at_most_a_minute() {
        let base = Duration::from_secs(2);
        let middle: Vec<u64> = (1..=7)
            .map(|attempt| retry_delay(base, attempt, 0.5).as_secs())
            .collect();
        assert_eq!(middle, [2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(retry_delay(base, 1, 0.0), Duration::from_millis(1600));
        assert_eq!(retry_delay(base, 1, 1.0), Duration::from_millis(2400));
        assert_eq!(retry_delay(base, u32::MAX, 1.0), Duration::from_secs(72));
    }
}
