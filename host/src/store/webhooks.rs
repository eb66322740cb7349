//! What the store keeps about webhooks (docs/API.md, "Webhooks"): a device's
//! configuration, a user's pending URL for new devices, and deliveries on their way.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

/// A device's webhook configuration. One per device.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRecord {
    /// `wh_` + a ULID; kept when the configuration is replaced.
    pub id: String,
    pub device_id: String,
    pub tenant_id: String,
    pub user_id: String,
    pub url: String,
    /// Event names, or `["*"]` for every event.
    pub events: Vec<String>,
    pub enabled: bool,
    /// Retries after the first attempt.
    pub retry_attempts: u32,
    pub timeout_seconds: u32,
    /// Never returned by the API; it only signs deliveries.
    pub secret: Option<String>,
    pub headers: BTreeMap<String, String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A URL a user keeps for the devices it creates later (`POST /user/webhook`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserWebhookRecord {
    pub user_id: String,
    pub tenant_id: String,
    pub url: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A delivery claimed for one attempt: everything the deliverer needs to send it.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub event_id: String,
    pub event_name: String,
    pub device_id: String,
    pub seq: i64,
    /// The stored event envelope (JSON text).
    pub envelope: String,
    /// This attempt's number: 1 for the first.
    pub attempt: u32,
    pub webhook: WebhookRecord,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum AttemptOutcome {
    /// A 2xx answer.
    Delivered { status: u16 },
    /// Tried again at `at_ms` (Unix milliseconds).
    Retry {
        at_ms: i64,
        status: Option<u16>,
        error: String,
    },
    /// No more attempts: listed in `GET /webhook/failures`.
    Failed { status: Option<u16>, error: String },
}

/// A delivery that failed every attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryFailure {
    pub id: String,
    pub device_id: String,
    pub event_id: String,
    pub event: String,
    pub attempts: u32,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub failed_at: DateTime<Utc>,
}
