//! The job runner: requests persisted as jobs are encoded and sent in the background,
//! through the same send path as inline requests. Unfinished jobs are picked up again
//! at start, so a job survives a restart; it is sent once, because a job whose message
//! is already in the device's log is marked sent without sending again.

use std::sync::Arc;

use tokio::sync::{Mutex, mpsc};

use crate::error::ApiError;
use crate::send_path::{self, SendRequest};
use crate::session::SessionError;
use crate::state::AppState;
use crate::store::{JobRecord, JobStatus, Principal, Role, StoreError};

/// A job that failed this many starts (the host died during each) is given up.
const MAX_ATTEMPTS: u32 = 3;

/// Why a job failed. Kept typed until it is stored, where its text becomes the job's
/// `error` (what `GET /jobs/{id}` shows).
#[derive(Debug, thiserror::Error)]
enum JobError {
    #[error("gave up after {MAX_ATTEMPTS} attempts")]
    GaveUp,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Task(#[from] tokio::task::JoinError),
    #[error("the device no longer exists")]
    DeviceGone,
    #[error("route {0} is not served by this host")]
    RouteGone(String),
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The send path's refusal, as the HTTP answer would have said it.
    #[error("{}", .0.message)]
    Send(ApiError),
}

/// Starts `workers` job workers and queues every unfinished job.
pub fn start(state: Arc<AppState>, receiver: mpsc::UnboundedReceiver<String>, workers: usize) {
    let receiver = Arc::new(Mutex::new(receiver));
    for _ in 0..workers.max(1) {
        let state = Arc::clone(&state);
        let receiver = Arc::clone(&receiver);
        state.runtime.clone().spawn(async move {
            loop {
                let next = receiver.lock().await.recv().await;
                let Some(job_id) = next else { break };
                run(&state, &job_id).await;
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

async fn run(state: &Arc<AppState>, job_id: &str) {
    let store = Arc::clone(&state.store);
    let id = job_id.to_string();
    let loaded =
        tokio::task::spawn_blocking(move || -> Result<Option<(JobRecord, u32)>, StoreError> {
            let job = store.unfinished_job(&id)?;
            match job {
                Some(job) => {
                    let attempt = store.start_job_attempt(&job.id)?;
                    Ok(Some((job, attempt)))
                }
                None => Ok(None),
            }
        })
        .await;
    let (job, attempt) = match loaded {
        Ok(Ok(Some(found))) => found,
        Ok(Ok(None)) => return,
        Ok(Err(error)) => return tracing::error!(job_id, %error, "could not load a job"),
        Err(error) => return tracing::error!(job_id, %error, "could not load a job"),
    };
    let (status, error, result) = if attempt > MAX_ATTEMPTS {
        (JobStatus::Failed, Some(JobError::GaveUp), None)
    } else {
        match execute(state, &job).await {
            Ok(result) => (JobStatus::Sent, None, result),
            Err(error) => (JobStatus::Failed, Some(error), None),
        }
    };
    tracing::info!(job_id, status = status.as_str(), "job finished");
    let store = Arc::clone(&state.store);
    let id = job.id.clone();
    let error = error.map(|error| error.to_string());
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

/// Encodes and sends a job; the result is the plugin's response extras.
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
    if !session.is_connected() {
        return Err(SessionError::NotConnected.into());
    }
    let outcome = send_path::encode_and_send(state, &request, session)
        .await
        .map_err(JobError::Send)?;
    Ok(outcome.extra)
}
