//! Bounds the plugin calls that may block (downloads, transcodes, uploads: every call the
//! host runs on its blocking pool), overall and per tenant, so that one tenant's flood of
//! media cannot take every thread and leave the others waiting.
//!
//! A request waits for its slots on an async semaphore (no thread is held while it
//! waits), up to `[limits] media_call_wait_ms`; then it is refused, 503 with
//! `Retry-After`. A job waits as long as it takes: it was accepted, and it holds only a
//! task. The slots are held by the plugin call itself, so a call past its deadline keeps
//! them until its thread really finishes: the bound counts threads, not answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use actix_web::http::StatusCode;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LimitSettings;
use crate::error::{ApiError, codes};

pub struct WorkSlots {
    overall: Arc<Semaphore>,
    overall_limit: usize,
    per_tenant_limit: usize,
    /// One semaphore per tenant that ever asked; tenants are few (an operator creates
    /// them), so the map is kept, not pruned.
    tenants: Mutex<HashMap<String, Arc<Semaphore>>>,
    wait: Duration,
}

/// A tenant's slot and one of the host's; both are given back when it is dropped.
#[must_use = "the slots are given back as soon as the permit is dropped"]
pub struct WorkPermit {
    _tenant: OwnedSemaphorePermit,
    _overall: OwnedSemaphorePermit,
}

/// How long a caller waits for slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// An HTTP request: up to `[limits] media_call_wait_ms`, then 503.
    Bounded,
    /// A job: until slots are free.
    Unbounded,
}

impl WorkSlots {
    pub fn new(settings: &LimitSettings) -> Self {
        let overall_limit = settings.media_call_slots();
        let per_tenant_limit = match settings.media_calls_per_tenant {
            0 => (overall_limit / 2).max(1),
            limit => limit.min(overall_limit),
        };
        WorkSlots {
            overall: Arc::new(Semaphore::new(overall_limit)),
            overall_limit,
            per_tenant_limit,
            tenants: Mutex::new(HashMap::new()),
            wait: Duration::from_millis(settings.media_call_wait_ms),
        }
    }

    /// Takes a slot of `tenant` first, then one of the host's, so that a tenant at its
    /// own bound never holds a host slot while it waits.
    pub async fn acquire(&self, tenant: &str, wait: Wait) -> Result<WorkPermit, ApiError> {
        let tenant_slots = self.tenant_semaphore(tenant);
        let acquiring = async {
            let tenant = Arc::clone(&tenant_slots)
                .acquire_owned()
                .await
                .map_err(|_| Full::Tenant)?;
            let overall = Arc::clone(&self.overall)
                .acquire_owned()
                .await
                .map_err(|_| Full::Host)?;
            Ok::<_, Full>(WorkPermit {
                _tenant: tenant,
                _overall: overall,
            })
        };
        match wait {
            Wait::Unbounded => acquiring.await.map_err(|full| self.busy(full)),
            Wait::Bounded => match tokio::time::timeout(self.wait, acquiring).await {
                Ok(permit) => permit.map_err(|full| self.busy(full)),
                // Which bound was full decides the answer: the tenant's own, or the host's.
                Err(_) if tenant_slots.available_permits() == 0 => Err(self.busy(Full::Tenant)),
                Err(_) => Err(self.busy(Full::Host)),
            },
        }
    }

    fn tenant_semaphore(&self, tenant: &str) -> Arc<Semaphore> {
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slots) = tenants.get(tenant) {
            return Arc::clone(slots);
        }
        let slots = Arc::new(Semaphore::new(self.per_tenant_limit));
        tenants.insert(tenant.to_owned(), Arc::clone(&slots));
        slots
    }

    fn busy(&self, full: Full) -> ApiError {
        let waited = self.wait.as_secs_f64();
        let (code, message) = match full {
            Full::Tenant => (
                codes::TENANT_BUSY,
                format!(
                    "this account already has {} media requests in progress (no slot free within {waited} s); try again later",
                    self.per_tenant_limit
                ),
            ),
            Full::Host => (
                codes::SERVER_BUSY,
                format!(
                    "the server is busy with {} media requests (no slot free within {waited} s); try again later",
                    self.overall_limit
                ),
            ),
        };
        let mut error = ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message);
        error.retry_after = Some(self.wait.as_secs().max(1));
        error
    }
}

enum Full {
    Tenant,
    Host,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slots(overall: usize, per_tenant: usize, wait_ms: u64) -> WorkSlots {
        WorkSlots::new(&LimitSettings {
            media_calls: overall,
            media_calls_per_tenant: per_tenant,
            media_call_wait_ms: wait_ms,
            plugin_call_timeout_seconds: 60,
            devices_per_user: 0,
        })
    }

    #[tokio::test]
    async fn a_tenant_at_its_bound_is_refused_while_another_tenant_is_served() {
        let slots = slots(3, 1, 50);
        let _held = slots.acquire("a", Wait::Bounded).await.unwrap();
        let refused = slots.acquire("a", Wait::Bounded).await.err().unwrap();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.code, codes::TENANT_BUSY);
        assert_eq!(refused.retry_after, Some(1));
        assert!(slots.acquire("b", Wait::Bounded).await.is_ok());
    }

    #[tokio::test]
    async fn a_full_host_is_refused_as_such_and_a_freed_slot_serves_the_next() {
        let slots = slots(2, 1, 50);
        let held_a = slots.acquire("a", Wait::Bounded).await.unwrap();
        let _held_b = slots.acquire("b", Wait::Bounded).await.unwrap();
        let refused = slots.acquire("c", Wait::Bounded).await.err().unwrap();
        assert_eq!(refused.code, codes::SERVER_BUSY);
        // The refused wait left nothing behind: c's own slot is free again.
        drop(held_a);
        assert!(slots.acquire("c", Wait::Bounded).await.is_ok());
    }

    #[tokio::test]
    async fn a_job_waits_for_its_slot_instead_of_failing() {
        let slots = Arc::new(slots(1, 1, 10));
        let held = slots.acquire("a", Wait::Bounded).await.unwrap();
        let waiting = {
            let slots = Arc::clone(&slots);
            tokio::spawn(async move { slots.acquire("a", Wait::Unbounded).await.is_ok() })
        };
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(
            !waiting.is_finished(),
            "the job waits while the slot is held"
        );
        drop(held);
        assert!(waiting.await.unwrap());
    }

    #[test]
    fn zero_means_two_per_core_and_half_of_that_per_tenant() {
        let slots = slots(0, 0, 10);
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(slots.overall_limit, 2 * cores);
        assert_eq!(slots.per_tenant_limit, cores.max(1));
        // A tenant's bound is never above the host's.
        assert_eq!(self::slots(2, 5, 10).per_tenant_limit, 2);
    }
}
