//! The one way a plugin request becomes a sent message: plan, encode (on the blocking
//! pool unless the route is quick), send with the ack timeout, log. The HTTP handler and the job runner both call
//! it; neither has its own copy.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use wuts_plugin_api::library::{EncodedMessage, Services};
use wuts_plugin_api::{ChatPresence, Plan, PluginError, RequestContext, normalize_recipient};

use crate::error::{ApiError, SessionCall};
use crate::events::EventScope;
use crate::pacing::TooFar;
use crate::plugins::PluginRoute;
use crate::plugins::services::RequestServices;
use crate::session::{DeviceIdentity, OutgoingMessage, Session, SessionError, send_timeout};
use crate::state::AppState;
use crate::store::{DeviceRecord, JobRecord, JobStatus, LogEntry};
use crate::work_slots::Wait;

/// One plugin request, ready to run.
#[derive(Clone)]
pub struct SendRequest {
    pub route: Arc<PluginRoute>,
    pub device: Arc<DeviceRecord>,
    pub body: actix_web::web::Bytes,
    pub request_id: String,
    pub message_id: String,
    pub is_job: bool,
}

/// A message the server acknowledged.
#[derive(Debug, Clone)]
pub struct SendOutcome {
    pub message_id: String,
    pub timestamp: DateTime<Utc>,
    pub chat_jid: String,
    /// The plugin's additions to the success body.
    pub extra: Option<serde_json::Value>,
    /// The answer's `status`: `sent`, or `deleted` when the plugin asked for a message
    /// to be forgotten instead of sending.
    pub status: &'static str,
}

/// What became of an accepted request.
pub enum Accepted {
    Sent(SendOutcome),
    Queued { job_id: String, chat_jid: String },
}

impl SendRequest {
    fn identity(&self) -> DeviceIdentity {
        DeviceIdentity {
            device_id: self.device.id.clone(),
            tenant_id: self.device.tenant_id.clone(),
            user_id: self.device.user_id.clone(),
        }
    }

    /// The plugin's view of this request, borrowed from it for one call.
    fn context<'a>(&'a self, own_jid: Option<&'a str>) -> RequestContext<'a> {
        RequestContext {
            request_id: &self.request_id,
            tenant_id: &self.device.tenant_id,
            user_id: &self.device.user_id,
            device_id: &self.device.id,
            message_id: &self.message_id,
            own_jid,
            is_job: self.is_job,
        }
    }

    /// Whose events this request's are.
    fn event_scope(&self) -> EventScope<'_> {
        EventScope {
            device_id: &self.device.id,
            tenant_id: &self.device.tenant_id,
            user_id: &self.device.user_id,
        }
    }

    /// Renders an error in this route's envelope; send failures carry its prefix.
    fn failure(&self, error: ApiError) -> ApiError {
        let mut error = error.in_envelope(self.route.envelope);
        if error.status.is_server_error() && !error.message.starts_with(&self.route.failure_prefix)
        {
            error.message = format!("{}: {}", self.route.failure_prefix, error.message);
        }
        error
    }
}

/// Serves an HTTP request: answers at once, or persists a job and answers 202.
pub async fn accept(state: &Arc<AppState>, request: &SendRequest) -> Result<Accepted, ApiError> {
    state
        .rate_limits
        .device(&request.device.id)
        .map_err(|error| request.failure(error))?;
    let session = open_session(state, request).await?;
    if !session.is_connected() {
        return Err(request.failure(ApiError::not_connected()));
    }
    let quick = request.route.quick;
    // Plan and, when inline, encode in one trip to the blocking pool. Matched in the
    // same statement, so that the plugin's answer is gone before the next await.
    let prepared = match run_plugin_on(
        state,
        request,
        &session,
        Thread::for_route(request),
        move |plugin, route, body, context, host| match plugin.plan(route, body, context, host)? {
            Plan::Job { chat_jid } => Ok(Planned::Job { chat_jid }),
            // On a quick route this ran on an HTTP thread; encode where it may block.
            Plan::OffThread if quick => Ok(Planned::OffThread),
            Plan::Inline | Plan::OffThread => plugin
                .encode(route, body, context, host)
                .map(Planned::Encoded),
        },
    )
    .await?
    {
        Planned::Encoded(outgoing) => prepare(request, outgoing)?,
        Planned::OffThread => {
            let outgoing = run_plugin_on(
                state,
                request,
                &session,
                Thread::BlockingPool,
                |plugin, route, body, context, host| plugin.encode(route, body, context, host),
            )
            .await?;
            prepare(request, outgoing)?
        }
        Planned::Job { chat_jid } => return queue_job(state, request, chat_jid).await,
    };
    send_prepared(state, request, &session, prepared)
        .await
        .map(Accepted::Sent)
}

/// Persists the request as a job, queues it, and answers for the 202.
async fn queue_job(
    state: &Arc<AppState>,
    request: &SendRequest,
    chat_jid: String,
) -> Result<Accepted, ApiError> {
    let job_id = crate::ids::job_id();
    let job = JobRecord {
        id: job_id.clone(),
        tenant_id: request.device.tenant_id.clone(),
        user_id: request.device.user_id.clone(),
        device_id: request.device.id.clone(),
        route: request.route.path.clone(),
        body: request.body.to_vec(),
        message_id: request.message_id.clone(),
        chat_jid: chat_jid.clone(),
        status: JobStatus::Processing,
        error: None,
        result_json: None,
        created_at: Utc::now(),
        finished_at: None,
        attempts: 0,
    };
    let store = Arc::clone(&state.store);
    // Persisted before the 202 goes out, so it survives a restart.
    blocking(state, move || store.create_job(&job))
        .await?
        .map_err(|error| {
            request.failure(ApiError::internal(format!(
                "could not persist the job: {error}"
            )))
        })?;
    state.jobs.enqueue(job_id.clone());
    tracing::info!(request_id = %request.request_id, job_id = %job_id, route = %request.route.path, "request queued as a job");
    Ok(Accepted::Queued { job_id, chat_jid })
}

enum Planned {
    Job {
        chat_jid: String,
    },
    Encoded(EncodedMessage),
    /// A quick route's request whose encode must run on the blocking pool.
    OffThread,
}

/// Encodes through the plugin, sends, waits for the ack, and logs the message.
pub async fn encode_and_send(
    state: &Arc<AppState>,
    request: &SendRequest,
    session: Arc<dyn Session>,
) -> Result<SendOutcome, ApiError> {
    // A job runs in the background: its encode may block, whatever the route.
    let outgoing = run_plugin_on(
        state,
        request,
        &session,
        Thread::BlockingPool,
        |plugin, route, body, context, host| plugin.encode(route, body, context, host),
    )
    .await?;
    let prepared = prepare(request, outgoing)?;
    send_prepared(state, request, &session, prepared).await
}

/// What the plugin encoded, checked and ready for the session.
struct Prepared {
    message: OutgoingMessage,
    chat_jid: String,
    extra: Option<serde_json::Value>,
    /// The plugin's wait before sending (WUTS's `delay`).
    delay: Duration,
    /// A presence to show the chat first ("typing...").
    presence: Option<ChatPresence>,
    /// A logged message to forget instead of sending (delete "for me").
    forget: Option<String>,
}

/// Checks the plugin's recipient, reads its response additions, and builds the message
/// the session sends.
fn prepare(request: &SendRequest, outgoing: EncodedMessage) -> Result<Prepared, ApiError> {
    let chat_jid = normalize_recipient(&outgoing.to).map_err(|reason| {
        request.failure(ApiError::internal(format!(
            "the plugin produced an invalid recipient: {reason}"
        )))
    })?;
    Ok(Prepared {
        message: OutgoingMessage {
            message_id: request.message_id.clone(),
            to: chat_jid.clone(),
            message: outgoing.message,
            nodes: outgoing.nodes,
            route: request.route.path.clone(),
        },
        chat_jid,
        extra: outgoing.response_extra,
        delay: outgoing.delay,
        presence: outgoing.presence,
        forget: outgoing.forget_message,
    })
}

/// How long showing or clearing a presence may take before the send goes on without it.
const PRESENCE_TIMEOUT: Duration = Duration::from_secs(5);

/// Waits the plugin's `delay`, then shows its presence for its duration: on timers, so
/// no thread waits. A presence that cannot be shown is skipped (the message matters,
/// the indicator does not), and its wait with it.
async fn before_sending(session: &Arc<dyn Session>, prepared: &Prepared) {
    if !prepared.delay.is_zero() {
        tokio::time::sleep(prepared.delay).await;
    }
    let Some(presence) = prepared.presence else {
        return;
    };
    let chat = prepared.chat_jid.as_str();
    match tokio::time::timeout(
        PRESENCE_TIMEOUT,
        session.send_presence(chat, Some(presence.kind)),
    )
    .await
    {
        Ok(Ok(())) => {}
        Ok(Err(error)) => {
            tracing::warn!(%error, "the chat presence was not shown; sending without it");
            return;
        }
        Err(_) => {
            tracing::warn!("showing the chat presence timed out; sending without it");
            return;
        }
    }
    tokio::time::sleep(presence.duration).await;
    if let Ok(Err(error)) =
        tokio::time::timeout(PRESENCE_TIMEOUT, session.send_presence(chat, None)).await
    {
        tracing::debug!(%error, "the chat presence was not cleared");
    }
}

/// Sends a prepared message, waits for the ack, and logs the message.
async fn send_prepared(
    state: &Arc<AppState>,
    request: &SendRequest,
    session: &Arc<dyn Session>,
    mut prepared: Prepared,
) -> Result<SendOutcome, ApiError> {
    if let Some(message_id) = prepared.forget.take() {
        return forget(state, request, prepared, message_id).await;
    }
    before_sending(session, &prepared).await;
    if let Err(TooFar(wait)) = state
        .pacing
        .wait_turn(&request.device.id, !request.is_job)
        .await
    {
        return Err(request.failure(ApiError::rate_limited(wait)));
    }
    let logged_bytes = prepared.message.message.clone();
    let timeout = send_timeout(state.settings.session.send_timeout_ms);
    let sending = session.send(std::mem::take(&mut prepared.message));
    let receipt = match tokio::time::timeout(timeout, sending).await {
        Ok(Ok(receipt)) => {
            count_send("acked");
            receipt
        }
        Ok(Err(error)) => {
            count_send(if matches!(error, SessionError::Timeout) {
                "timeout"
            } else {
                "failed"
            });
            let error = request.failure(session_error(error));
            emit_failed(state, request, &prepared.chat_jid, &error);
            return Err(error);
        }
        Err(_) => {
            count_send("timeout");
            let error = request.failure(session_error(SessionError::Timeout));
            emit_failed(state, request, &prepared.chat_jid, &error);
            return Err(error);
        }
    };
    emit_sent(
        state,
        request,
        &receipt.message_id,
        &prepared.chat_jid,
        receipt.timestamp,
    );
    let waiting_for_log = {
        let sender = session.own_jid();
        let entry = LogEntry {
            device_id: &request.device.id,
            message_id: &receipt.message_id,
            chat_jid: &prepared.chat_jid,
            sender_jid: sender.as_deref(),
            from_me: true,
            route: Some(&request.route.path),
            message: &logged_bytes,
            timestamp: receipt.timestamp,
        };
        if request.is_job {
            Some(log_and_wait(state, entry))
        } else {
            // The message is out and the answer will not change, so the request does
            // not wait for the commit; the log finds the message meanwhile (a quote of
            // it works at once) and the server flushes the log before it exits.
            state.store.log_message_soon(entry);
            None
        }
    };
    if let Some(waiting) = waiting_for_log {
        waiting.await;
    }
    // Debug, not info: the message log holds every send already, and a line per message
    // cost a measurable share of the throughput (README, Benchmarks). Failures and jobs
    // still log at info.
    tracing::debug!(
        request_id = %request.request_id,
        route = %request.route.path,
        device_id = %request.device.id,
        message_id = %receipt.message_id,
        job = request.is_job,
        "message sent"
    );
    stamp_sent_at(&mut prepared.extra, receipt.timestamp);
    Ok(SendOutcome {
        message_id: receipt.message_id,
        timestamp: receipt.timestamp,
        chat_jid: prepared.chat_jid,
        extra: prepared.extra,
        status: "sent",
    })
}

fn count_send(outcome: &'static str) {
    metrics::counter!(crate::metrics::SEND_ACKS, "outcome" => outcome).increment(1);
}

/// Delete "for me": the message leaves the device's log and nothing goes to WhatsApp.
/// `message.delete_for_me` tells the device's subscribers.
async fn forget(
    state: &Arc<AppState>,
    request: &SendRequest,
    prepared: Prepared,
    message_id: String,
) -> Result<SendOutcome, ApiError> {
    let store = Arc::clone(&state.store);
    let device_id = request.device.id.clone();
    let id = message_id.clone();
    let forgotten = blocking(state, move || store.forget_message(&device_id, &id))
        .await?
        .map_err(|error| {
            request.failure(ApiError::internal(format!(
                "could not delete the message from the log: {error}"
            )))
        })?;
    if !forgotten {
        return Err(request.failure(ApiError::not_found("message")));
    }
    let now = Utc::now();
    state.events.emit(
        request.event_scope(),
        "message.delete_for_me",
        serde_json::json!({
            "message_id": message_id,
            "chat_jid": prepared.chat_jid,
            "timestamp": crate::time::rfc3339(now),
        }),
    );
    tracing::info!(request_id = %request.request_id, device_id = %request.device.id,
        "message deleted from the log (for me)");
    Ok(SendOutcome {
        message_id,
        timestamp: now,
        chat_jid: prepared.chat_jid,
        extra: prepared.extra,
        status: "deleted",
    })
}

/// `message.sent`, for every message the server acknowledged (jobs' included).
fn emit_sent(
    state: &AppState,
    request: &SendRequest,
    message_id: &str,
    chat_jid: &str,
    acked_at: DateTime<Utc>,
) {
    /// `message.sent`'s data, serialised from borrowed fields (every send emits one).
    #[derive(serde::Serialize)]
    struct Sent<'a> {
        message_id: &'a str,
        chat_jid: &'a str,
        to: &'a str,
        message_type: &'a str,
        route: &'a str,
        timestamp: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        job_id: Option<&'a str>,
    }
    let data = Sent {
        message_id,
        chat_jid,
        to: chat_jid,
        message_type: message_type(&request.route.path),
        route: &request.route.path,
        timestamp: crate::time::rfc3339(acked_at),
        job_id: request.is_job.then_some(request.request_id.as_str()),
    };
    state
        .events
        .emit(request.event_scope(), "message.sent", data);
}

/// `message.failed`: the server refused the message, or its ack did not come in time.
/// A job's failures are the job runner's to announce, once it gives up (it may try again).
fn emit_failed(state: &AppState, request: &SendRequest, chat_jid: &str, error: &ApiError) {
    if request.is_job {
        return;
    }
    let data = serde_json::json!({
        "message_id": request.message_id,
        "chat_jid": chat_jid,
        "error": error.message,
        "error_code": error.code,
    });
    state
        .events
        .emit(request.event_scope(), "message.failed", data);
}

/// The kind of message a route sends, for events: its path's last segment
/// (`/send/buttons` -> `buttons`).
fn message_type(route: &str) -> &str {
    route
        .rsplit('/')
        .find(|segment| !segment.is_empty())
        .unwrap_or(route)
}

/// Logs a job's message; the future it returns waits for the commit: the job runner
/// marks a job sent only once its message is logged, and that log is what keeps a
/// resumed job from sending twice. The message is queued before this returns, so the
/// future borrows nothing.
fn log_and_wait(state: &Arc<AppState>, entry: LogEntry<'_>) -> impl Future<Output = ()> + 'static {
    let message_id = entry.message_id.to_owned();
    let (done, committed) = tokio::sync::oneshot::channel();
    state.store.log_message_then(
        entry,
        Box::new(move |result| {
            let _ = done.send(result);
        }),
    );
    async move {
        match committed.await {
            Ok(Ok(())) => {}
            // The message is out; failing the job now would invite a duplicate resend.
            Ok(Err(error)) => {
                tracing::error!(%error, %message_id, "could not log a sent message")
            }
            Err(_) => tracing::error!(%message_id, "could not log a sent message"),
        }
    }
}

/// A plugin cannot know when the server acknowledged; where its response metadata has
/// a `sent_at`, the host writes the ack's time there.
fn stamp_sent_at(extra: &mut Option<serde_json::Value>, acked_at: DateTime<Utc>) {
    if let Some(slot) = extra
        .as_mut()
        .and_then(|extra| extra.get_mut("metadata"))
        .and_then(|m| m.get_mut("sent_at"))
    {
        *slot = serde_json::Value::String(crate::time::rfc3339(acked_at));
    }
}

pub async fn open_session(
    state: &Arc<AppState>,
    request: &SendRequest,
) -> Result<Arc<dyn Session>, ApiError> {
    // The common case, without building an identity to open one.
    if let Some(session) = state.sessions.existing(&request.device.id) {
        return Ok(session);
    }
    state
        .sessions
        .session(&request.identity())
        .await
        .map_err(|error| request.failure(session_error(error)))
}

/// A session error of a send: every failure but "not connected" is the send's.
fn session_error(error: SessionError) -> ApiError {
    ApiError::from_session(error, SessionCall::Send)
}

/// Where a plugin call runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Thread {
    /// The calling (HTTP) thread: quick work only, no blocking host services.
    Caller,
    /// The host runtime's blocking pool: may fetch, upload and wait.
    BlockingPool,
}

impl Thread {
    /// A quick route's calls run on the calling thread, every other route's on the pool.
    fn for_route(request: &SendRequest) -> Thread {
        if request.route.quick {
            Thread::Caller
        } else {
            Thread::BlockingPool
        }
    }
}

/// Calls into the plugin on `thread`.
async fn run_plugin_on<T: Send + 'static>(
    state: &Arc<AppState>,
    request: &SendRequest,
    session: &Arc<dyn Session>,
    thread: Thread,
    call: impl FnOnce(
        &crate::plugins::LoadedPlugin,
        &str,
        &[u8],
        &RequestContext<'_>,
        &Services,
    ) -> Result<T, PluginError>
    + Send
    + 'static,
) -> Result<T, ApiError> {
    let own_jid = session.own_jid();
    let services = RequestServices {
        runtime: state.runtime.clone(),
        fetcher: Arc::clone(&state.fetcher),
        session: Arc::clone(session),
        store: Arc::clone(&state.store),
        device_id: request.device.id.clone(),
        upload_timeout: Duration::from_millis(state.settings.session.upload_timeout_ms),
        fetch_timeout: state.settings.fetch.timeout_for(&request.route.path),
        may_block: thread == Thread::BlockingPool,
    }
    .into_services();
    let route = Arc::clone(&request.route);
    let invoke = move |request: &SendRequest| {
        let context = request.context(own_jid.as_deref());
        let started = std::time::Instant::now();
        let answer = call(
            &route.plugin,
            &route.path,
            &request.body,
            &context,
            &services,
        );
        route.record_call(started.elapsed());
        answer
    };
    let result = if thread == Thread::Caller {
        invoke(request)
    } else {
        // A job waits for its slots; a request waits a bounded time, then is refused.
        let wait = if request.is_job {
            Wait::Unbounded
        } else {
            Wait::Bounded
        };
        let permit = state
            .work_slots
            .acquire(&request.device.tenant_id, wait)
            .await
            .map_err(|error| request.failure(error))?;
        // The context borrows from the request, so the blocking pool gets a copy of it.
        let copy = request.clone();
        let call = state.runtime.spawn_blocking(move || {
            // Held by the thread, not the answer: a call past its deadline keeps its
            // slots until it really ends.
            let _permit = permit;
            invoke(&copy)
        });
        let deadline =
            Duration::from_secs(state.settings.limits.plugin_call_timeout_seconds.max(1));
        match tokio::time::timeout(deadline, call).await {
            Ok(Ok(result)) => result,
            Ok(Err(error)) => {
                return Err(ApiError::internal(format!("internal task failed: {error}")));
            }
            Err(_) => {
                tracing::error!(request_id = %request.request_id, plugin = %request.route.plugin.name,
                    deadline_seconds = deadline.as_secs(), "a plugin call outlived its deadline");
                return Err(request.failure(plugin_timeout(deadline)));
            }
        }
    };
    result.map_err(|error| {
        if error.code == "PLUGIN_PANIC" {
            tracing::error!(request_id = %request.request_id, plugin = %request.route.plugin.name, "plugin panicked");
        }
        request.failure(ApiError::from(error))
    })
}

/// A plugin call that did not answer within `[limits] plugin_call_timeout_seconds`.
fn plugin_timeout(deadline: Duration) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::GATEWAY_TIMEOUT,
        crate::error::codes::PLUGIN_TIMEOUT,
        format!(
            "the message was not ready within {} s; try again later",
            deadline.as_secs()
        ),
    )
}

/// Runs blocking work on the host runtime's blocking pool.
pub async fn blocking<T: Send + 'static>(
    state: &Arc<AppState>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    state
        .runtime
        .spawn_blocking(work)
        .await
        .map_err(|error| ApiError::internal(format!("internal task failed: {error}")))
}
