//! The webhook deliverer: a task that claims due deliveries from the store and POSTs
//! each to its device's webhook (docs/API.md, "Webhooks"), then records the outcome:
//! delivered, tried again after a backoff, or failed.
//!
//! It wakes when stored events created deliveries it can claim (`EventSink::deliveries_due`,
//! see [`super::wakeup`]), when a delivery finishes, or when the earliest retry is due. Sends never wait for it:
//! they only emit. At most `[webhooks] max_in_flight` deliveries are in flight, so a
//! dead or slow receiver holds rows in the table, not memory. A claim is a lease: the
//! delivery of a process that died is due again when its lease runs out.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::backoff::jittered_delay;
use super::signature::{header_signature, signed_body};
use super::wakeup::DeliveryWakeup;
use super::webhook_target::{self, TargetError};
use crate::fetch::PublicOnlyResolver;
use crate::store::{AttemptOutcome, ClaimedDelivery, Store};

/// The longest the deliverer sleeps without looking at the table.
const IDLE_POLL: Duration = Duration::from_secs(30);
/// How long a failing store call waits before the next try.
const STORE_RETRY: Duration = Duration::from_secs(1);
/// How long connecting to a receiver may take (the whole attempt is bounded by the
/// webhook's own `timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The shortest lease. An attempt never outlasts its lease: with a lease shorter than a
/// webhook's `timeout` (+ 5 s), attempts are cut at the lease less 5 s (at least 1 s).
const MIN_LEASE: Duration = Duration::from_secs(2);
/// What an attempt leaves of its lease for recording the outcome.
const LEASE_MARGIN: Duration = Duration::from_secs(5);
/// The longest `last_error` kept.
const MAX_ERROR_CHARS: usize = 300;

/// What the deliverer needs from the configuration.
#[derive(Debug, Clone)]
pub struct DeliverySettings {
    pub max_in_flight: usize,
    pub claim_lease: Duration,
    /// `[fetch] allow_private_urls`.
    pub allow_private: bool,
}

impl DeliverySettings {
    pub fn from_settings(settings: &crate::config::Settings) -> DeliverySettings {
        DeliverySettings {
            max_in_flight: settings.webhooks.max_in_flight,
            claim_lease: Duration::from_secs(settings.webhooks.claim_lease_seconds),
            allow_private: settings.fetch.allow_private_urls,
        }
    }
}

/// Starts the deliverer on the current tokio runtime.
pub fn start(
    store: Arc<dyn Store>,
    due: Arc<DeliveryWakeup>,
    settings: DeliverySettings,
) -> Result<(), reqwest::Error> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        // A proxy from the environment would resolve the target's name itself, past the
        // address policy: deliveries go direct.
        .no_proxy()
        .user_agent(concat!("wuts/", env!("CARGO_PKG_VERSION")));
    if !settings.allow_private {
        builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
    }
    let (finished, outcomes) = mpsc::unbounded_channel();
    tokio::spawn(record_outcomes(Arc::clone(&store), outcomes));
    let deliverer = Arc::new(Deliverer {
        store,
        finished,
        due,
        client: builder.build()?,
        slots: Arc::new(Semaphore::new(settings.max_in_flight.max(1))),
        lease: settings.claim_lease.max(MIN_LEASE),
        allow_private: settings.allow_private,
    });
    tokio::spawn(deliverer.run());
    Ok(())
}

struct Deliverer {
    store: Arc<dyn Store>,
    /// Where attempts' outcomes go to be recorded (see [`record_outcomes`]).
    finished: mpsc::UnboundedSender<Finished>,
    due: Arc<DeliveryWakeup>,
    client: reqwest::Client,
    slots: Arc<Semaphore>,
    lease: Duration,
    allow_private: bool,
}

/// An attempt's outcome on its way to the store, and who waits for it.
struct Finished {
    delivery_id: String,
    outcome: AttemptOutcome,
    done: oneshot::Sender<bool>,
}

/// The most outcomes recorded in one transaction (the in-flight cap bounds it anyway).
const MAX_RECORD_BATCH: usize = 256;

/// Records outcomes in batches: whatever finished while the last batch was written goes
/// in the next transaction, so the writer commits once per batch rather than once per
/// delivery (what a delivery cost the sends beside it, README "Events and webhooks").
/// The channel holds at most one outcome per delivery in flight.
async fn record_outcomes(store: Arc<dyn Store>, mut outcomes: mpsc::UnboundedReceiver<Finished>) {
    while let Some(first) = outcomes.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_RECORD_BATCH {
            match outcomes.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (rows, waiters): (Vec<_>, Vec<_>) = batch
            .into_iter()
            .map(|finished| ((finished.delivery_id, finished.outcome), finished.done))
            .unzip();
        let store = Arc::clone(&store);
        let stored = tokio::task::spawn_blocking(move || store.finish_delivery_attempts(&rows))
            .await
            .map_err(|error| error.to_string())
            .and_then(|stored| stored.map_err(|error| error.to_string()));
        if let Err(error) = &stored {
            tracing::error!(%error, "webhook deliveries: recording outcomes failed");
        }
        for waiter in waiters {
            let _ = waiter.send(stored.is_ok());
        }
    }
}

/// Why an attempt got no HTTP answer.
enum NoAnswer {
    /// Tried again later: timeouts, refused connections, names that do not resolve.
    Transient(String),
    /// Never tried again: the URL policy refuses the target.
    Refused(String),
}

impl Deliverer {
    async fn run(self: Arc<Self>) {
        loop {
            let wait = match self.claim_and_send().await {
                Ok(wait) => wait,
                Err(error) => {
                    tracing::error!(%error, "webhook deliveries: the store failed");
                    STORE_RETRY
                }
            };
            tokio::select! {
                () = self.due.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Claims what the free slots allow and starts sending it; how long to sleep next.
    async fn claim_and_send(self: &Arc<Self>) -> Result<Duration, String> {
        let free = self.slots.available_permits();
        if free == 0 {
            // A finishing delivery wakes the loop.
            return Ok(IDLE_POLL);
        }
        let store = Arc::clone(&self.store);
        let lease_ms = i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX);
        // One trip to the blocking pool: the claim and, when it took fewer than it could
        // (nothing else is due now), when the next delivery falls due. Claiming again at
        // once after every claim, and asking for the due time apart, cost three trips and
        // an empty write transaction per delivery of a busy device (README, "Events and
        // webhooks").
        let (claimed, next_due) = tokio::task::spawn_blocking(move || {
            let now = chrono::Utc::now().timestamp_millis();
            let claimed = store.claim_deliveries(now, now.saturating_add(lease_ms), free)?;
            let next_due = if claimed.len() < free {
                Some(store.next_delivery_due_at()?)
            } else {
                None
            };
            Ok::<_, crate::store::StoreError>((claimed, next_due))
        })
        .await
        .map_err(|error| error.to_string())?
        .map_err(|error| error.to_string())?;
        for delivery in claimed {
            let Ok(slot) = Arc::clone(&self.slots).try_acquire_owned() else {
                // Cannot happen (only this loop acquires); the lease brings it back.
                break;
            };
            // Dropped when the attempt is over, which wakes the loop: the device's next
            // event may be due now.
            let in_flight = self.due.in_flight_for(&delivery.device_id);
            let deliverer = Arc::clone(self);
            tokio::spawn(async move {
                deliverer.deliver(delivery).await;
                drop(slot);
                drop(in_flight);
            });
        }
        let Some(next) = next_due else {
            // Every free slot took a delivery: the next loop finds none free and waits
            // for one to finish.
            return Ok(Duration::ZERO);
        };
        let now = chrono::Utc::now().timestamp_millis();
        Ok(match next {
            // Due but not claimed: in flight elsewhere; look again shortly, not at once.
            Some(at) if at <= now => STORE_RETRY,
            Some(at) => Duration::from_millis((at - now).unsigned_abs()).min(IDLE_POLL),
            None => IDLE_POLL,
        })
    }

    /// One attempt, and its outcome stored.
    async fn deliver(&self, delivery: ClaimedDelivery) {
        let outcome = self.attempt(&delivery).await;
        let counted = match &outcome {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Retry { .. } => "retry",
            AttemptOutcome::Failed { .. } => "failed",
        };
        metrics::counter!(crate::metrics::WEBHOOK_DELIVERIES, "outcome" => counted).increment(1);
        match &outcome {
            AttemptOutcome::Delivered { status } => tracing::debug!(
                delivery = %delivery.id, event = %delivery.event_name, attempt = delivery.attempt,
                status, "webhook delivered"
            ),
            AttemptOutcome::Retry { error, .. } => tracing::info!(
                delivery = %delivery.id, webhook = %delivery.webhook.id, event = %delivery.event_name,
                attempt = delivery.attempt, %error, "webhook attempt failed; will retry"
            ),
            AttemptOutcome::Failed { error, .. } => tracing::warn!(
                delivery = %delivery.id, webhook = %delivery.webhook.id, event = %delivery.event_name,
                attempt = delivery.attempt, %error, "webhook delivery failed"
            ),
        }
        // Waits for the record: the device's next delivery is claimed only after it.
        let (done, recorded) = oneshot::channel();
        let finished = Finished {
            delivery_id: delivery.id.clone(),
            outcome,
            done,
        };
        let stored = self.finished.send(finished).is_ok() && recorded.await.unwrap_or(false);
        if !stored {
            // The lease brings the delivery back; the receiver may see it twice.
            tracing::error!(delivery = %delivery.id, "could not record a webhook attempt");
        }
    }

    async fn attempt(&self, delivery: &ClaimedDelivery) -> AttemptOutcome {
        let last_attempt = delivery.attempt > delivery.webhook.retry_attempts;
        let retry_or_fail = |status: Option<u16>, error: String| {
            if last_attempt {
                AttemptOutcome::Failed { status, error }
            } else {
                let wait = jittered_delay(delivery.attempt);
                let at_ms = chrono::Utc::now().timestamp_millis()
                    + i64::try_from(wait.as_millis()).unwrap_or(i64::MAX / 2);
                AttemptOutcome::Retry {
                    at_ms,
                    status,
                    error,
                }
            }
        };
        match self.send(delivery).await {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome::Delivered { status },
            Ok(status) if (400..500).contains(&status) && status != 408 && status != 429 => {
                AttemptOutcome::Failed {
                    status: Some(status),
                    error: format!("HTTP {status}"),
                }
            }
            Ok(status) => retry_or_fail(Some(status), format!("HTTP {status}")),
            Err(NoAnswer::Transient(error)) => retry_or_fail(None, error),
            Err(NoAnswer::Refused(error)) => AttemptOutcome::Failed {
                status: None,
                error,
            },
        }
    }

    /// POSTs the delivery; the answer's status.
    async fn send(&self, delivery: &ClaimedDelivery) -> Result<u16, NoAnswer> {
        let webhook = &delivery.webhook;
        let url = webhook_target::check(&webhook.url, self.allow_private)
            .await
            .map_err(|error| match error {
                TargetError::Unresolved(reason) => NoAnswer::Transient(reason),
                TargetError::Invalid(reason) | TargetError::Forbidden(reason) => {
                    NoAnswer::Refused(reason)
                }
            })?;
        let timestamp = chrono::Utc::now().timestamp();
        let body = signed_body(webhook.secret.as_deref(), &delivery.envelope);
        let timeout = Duration::from_secs(u64::from(webhook.timeout_seconds.max(1)))
            .min(self.lease.saturating_sub(LEASE_MARGIN))
            .max(Duration::from_secs(1));
        let mut request = self
            .client
            .post(url)
            .timeout(timeout)
            .header(CONTENT_TYPE, "application/json");
        for (name, value) in &webhook.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request = request
            .header("X-Wuts-Event-Id", delivery.event_id.as_str())
            .header("X-Wuts-Event", delivery.event_name.as_str())
            .header("X-Wuts-Timestamp", timestamp.to_string())
            .header("X-Wuts-Delivery-Attempt", delivery.attempt.to_string());
        if let Some(secret) = webhook.secret.as_deref() {
            request = request.header(
                "X-Wuts-Signature",
                header_signature(secret, timestamp, body.as_bytes()),
            );
        }
        let response = request.body(body).send().await.map_err(|error| {
            if error.is_builder() {
                NoAnswer::Refused(bounded(format!("request refused: {}", innermost(&error))))
            } else if error.is_timeout() {
                NoAnswer::Transient(format!("timed out after {} s", timeout.as_secs()))
            } else {
                NoAnswer::Transient(bounded(innermost(&error)))
            }
        })?;
        // The answer's body is not read: only its status counts.
        Ok(response.status().as_u16())
    }
}

/// The deepest cause's text, without the URL (which may carry credentials).
fn innermost(error: &reqwest::Error) -> String {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(source) = current.source() {
        current = source;
    }
    let text = current.to_string();
    match error.url() {
        Some(url) => text.replace(url.as_str(), "<webhook_url>"),
        None => text,
    }
}

fn bounded(text: String) -> String {
    if text.chars().count() <= MAX_ERROR_CHARS {
        return text;
    }
    text.chars().take(MAX_ERROR_CHARS).collect()
}
