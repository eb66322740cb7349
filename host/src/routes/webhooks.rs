//! The webhook routes (docs/API.md, "Webhooks"): a device's configuration, the event
//! names, a user's URL for new devices, and failed deliveries with their replay. Another
//! tenant's device or delivery is a 404 (`common::caller_device`).

use std::collections::BTreeMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use wuts_plugin_api::schema::{Kind, Schema};
use wuts_plugin_api::{Envelope, PluginError};

use super::body;
use super::common::{caller_device, check_target, json_object, query_limit, read_body};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::events::names;
use crate::send_path::blocking;
use crate::state::AppState;
use crate::store::{DeliveryFailure, DeviceRecord, WebhookRecord};
use crate::time::rfc3339;

const DEFAULT_RETRY_ATTEMPTS: u32 = 3;
const DEFAULT_TIMEOUT_SECONDS: u32 = 30;
const MAX_HEADERS: usize = 20;
const MAX_HEADER_VALUE_BYTES: usize = 1024;
const DEFAULT_FAILURES_LIMIT: usize = 50;
const MAX_FAILURES_LIMIT: usize = 500;
const WEBHOOK_NOT_FOUND: &str = "WEBHOOK_NOT_FOUND";
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhook", web::post().to(set))
        .route("/webhook", web::get().to(get))
        .route("/webhook", web::delete().to(delete))
        .route("/webhook/events", web::get().to(event_names))
        .route("/webhook/failures", web::get().to(failures))
        .route("/webhook/failures/replay", web::post().to(replay_all))
        .route("/webhook/failures/{id}/replay", web::post().to(replay_one))
        .route("/user/webhook", web::post().to(set_user));
}

fn webhook_schema() -> Schema {
    Schema::object()
        .required("webhook_url", Kind::url())
        .required("enabled_events", Kind::array(Kind::text(1..=64), 1..=64))
        .optional("enabled", Kind::boolean())
        .optional("retry_attempts", Kind::integer(0..=10))
        .optional("timeout", Kind::integer(1..=60))
        .optional("secret", Kind::text(16..=256))
        .optional("headers", Kind::Any)
        .optional("device_id", Kind::text(0..=usize::MAX))
}

/// `POST /webhook`'s body as JSON Schema (for the OpenAPI document).
pub fn request_schema() -> Value {
    webhook_schema().json_schema()
}

/// What a valid `POST /webhook` body sets.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookRequest {
    pub url: String,
    pub events: Vec<String>,
    pub enabled: bool,
    pub retry_attempts: u32,
    pub timeout_seconds: u32,
    pub secret: Option<String>,
    pub headers: BTreeMap<String, String>,
}

fn invalid(field: impl Into<String>, message: impl Into<String>, value: &Value) -> ApiError {
    ApiError::from(PluginError::invalid_field(field, message, value.clone()))
}

/// Checks a `POST /webhook` body (all but the URL policy, which may resolve a name).
pub fn parse_webhook(fields: &Map<String, Value>) -> Result<WebhookRequest, ApiError> {
    let value = Value::Object(fields.clone());
    webhook_schema().validate(&value)?;
    let text = |name: &str| fields.get(name).and_then(Value::as_str).map(str::to_owned);
    let number = |name: &str, default: u32| {
        fields
            .get(name)
            .and_then(Value::as_u64)
            .map_or(default, |n| u32::try_from(n).unwrap_or(default))
    };
    let mut events = Vec::new();
    for (index, name) in fields["enabled_events"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let name = name.as_str().unwrap_or_default();
        if !names::is_known(name) {
            return Err(invalid(
                format!("enabled_events[{index}]"),
                format!("unknown event {name:?}: GET /webhook/events lists them, or use \"*\""),
                &json!(name),
            ));
        }
        if !events.iter().any(|known| known == name) {
            events.push(name.to_owned());
        }
    }
    if events.iter().any(|name| name == "*") {
        events = vec!["*".to_owned()];
    }
    Ok(WebhookRequest {
        url: text("webhook_url").unwrap_or_default(),
        events,
        enabled: fields
            .get("enabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        retry_attempts: number("retry_attempts", DEFAULT_RETRY_ATTEMPTS),
        timeout_seconds: number("timeout", DEFAULT_TIMEOUT_SECONDS),
        secret: text("secret"),
        headers: parse_headers(fields.get("headers"))?,
    })
}

/// An HTTP token (RFC 9110, section 5.6.2): what a header name may be.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

/// Header names the server sets itself.
fn is_reserved(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    matches!(lower.as_str(), "content-type" | "host" | "content-length")
        || lower.starts_with("x-wuts-")
}

/// The configured headers: up to 20, token names the server does not set itself,
/// values of visible text up to 1 KiB.
pub fn parse_headers(value: Option<&Value>) -> Result<BTreeMap<String, String>, ApiError> {
    let fields = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Object(fields)) => fields,
        Some(other) => {
            return Err(invalid(
                "headers",
                "must be an object of names to texts",
                other,
            ));
        }
    };
    if fields.len() > MAX_HEADERS {
        return Err(invalid(
            "headers",
            format!("at most {MAX_HEADERS} headers, got {}", fields.len()),
            &json!(fields.len()),
        ));
    }
    let mut headers = BTreeMap::new();
    for (name, value) in fields {
        let field = format!("headers.{name}");
        if !is_token(name) {
            return Err(invalid(
                field,
                "is not a valid HTTP header name",
                &json!(name),
            ));
        }
        if is_reserved(name) {
            return Err(invalid(
                field,
                "is set by the server (Content-Type, Host, Content-Length and X-Wuts-* cannot be configured)",
                &json!(name),
            ));
        }
        let Some(text) = value.as_str() else {
            return Err(invalid(field, "must be a string", value));
        };
        if text.len() > MAX_HEADER_VALUE_BYTES {
            return Err(invalid(
                field,
                format!("must be at most {MAX_HEADER_VALUE_BYTES} bytes"),
                &json!(text.len()),
            ));
        }
        if text
            .bytes()
            .any(|byte| byte.is_ascii_control() && byte != b'\t')
        {
            return Err(invalid(field, "must not contain control characters", value));
        }
        headers.insert(name.clone(), text.to_owned());
    }
    Ok(headers)
}

/// The URL policy of host/src/fetch.rs for `field`: a 400 naming it.
fn webhook_json(webhook: &WebhookRecord) -> Value {
    json!({
        "id": webhook.id,
        "webhook_url": webhook.url,
        "enabled_events": webhook.events,
        "enabled": webhook.enabled,
        "retry_attempts": webhook.retry_attempts,
        "timeout": webhook.timeout_seconds,
        "headers": webhook.headers,
        "has_secret": webhook.secret.is_some(),
        "created_at": rfc3339(webhook.created_at),
        "updated_at": rfc3339(webhook.updated_at),
    })
}

fn failure_json(failure: &DeliveryFailure) -> Value {
    json!({
        "id": failure.id,
        "event_id": failure.event_id,
        "event": failure.event,
        "attempts": failure.attempts,
        "last_status": failure.last_status,
        "last_error": failure.last_error,
        "failed_at": rfc3339(failure.failed_at),
    })
}

fn store_failed(error: impl std::fmt::Display) -> ApiError {
    ApiError::internal(format!("webhook storage failed: {error}"))
}

fn webhook_not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        WEBHOOK_NOT_FOUND,
        "no webhook is configured for this device",
    )
}

/// The device named in the query, else in the body, else the caller's default.
async fn named_device(
    state: &Arc<AppState>,
    caller: &Caller,
    request: &HttpRequest,
    body: &[u8],
) -> Result<DeviceRecord, ApiError> {
    let device_id = body::device_id(request, body, Envelope::Standard)?;
    caller_device(state, Arc::clone(&caller.0), device_id).await
}

async fn set(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/webhook").await?;
    let fields = json_object(&body)?;
    let wanted = parse_webhook(&fields)?;
    check_target(&state, "webhook_url", &wanted.url).await?;
    let device = named_device(&state, &caller, &request, &body).await?;
    let now = chrono::Utc::now();
    let record = WebhookRecord {
        id: String::new(),
        device_id: device.id,
        tenant_id: device.tenant_id,
        user_id: device.user_id,
        url: wanted.url,
        events: wanted.events,
        enabled: wanted.enabled,
        retry_attempts: wanted.retry_attempts,
        timeout_seconds: wanted.timeout_seconds,
        secret: wanted.secret,
        headers: wanted.headers,
        created_at: now,
        updated_at: now,
    };
    let store = Arc::clone(&state.store);
    let events = Arc::clone(&state.events);
    let stored = blocking(&state, move || {
        // Events emitted before the change are stored first (the writer commits every
        // few milliseconds): they are matched against the webhook in force when they
        // happened, not the one that replaces it.
        events.flush();
        store.set_webhook(&record)
    })
    .await?
    .map_err(store_failed)?;
    tracing::info!(device_id = %stored.device_id, webhook = %stored.id, "webhook configured");
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Webhook configured successfully",
        "webhook": webhook_json(&stored),
    })))
}

async fn get(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = named_device(&state, &caller, &request, &[]).await?;
    let store = Arc::clone(&state.store);
    let webhook = blocking(&state, move || store.webhook(&device.id))
        .await?
        .map_err(store_failed)?
        .ok_or_else(webhook_not_found)?;
    Ok(HttpResponse::Ok().json(json!({ "success": true, "webhook": webhook_json(&webhook) })))
}

async fn delete(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/webhook").await?;
    json_object(&body)?; // a body, when given, must be a JSON object
    let device = named_device(&state, &caller, &request, &body).await?;
    let store = Arc::clone(&state.store);
    let events = Arc::clone(&state.events);
    let removed = blocking(&state, move || {
        events.flush();
        store.delete_webhook(&device.id)
    })
    .await?
    .map_err(store_failed)?;
    if !removed {
        return Err(webhook_not_found());
    }
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Webhook configuration deleted successfully",
    })))
}

async fn event_names(_caller: Caller) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "success": true, "events": names::ALL }))
}

async fn set_user(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/user/webhook").await?;
    let fields = json_object(&body)?;
    Schema::object()
        .required("webhook_url", Kind::url())
        .validate(&Value::Object(fields.clone()))?;
    let url = fields["webhook_url"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    check_target(&state, "webhook_url", &url).await?;
    let store = Arc::clone(&state.store);
    let principal = Arc::clone(&caller.0);
    let stored = blocking(&state, move || {
        store.set_user_webhook(&principal.tenant_id, &principal.user_id, &url)
    })
    .await?
    .map_err(store_failed)?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Webhook URL configured. It will be automatically applied to new devices with ALL available events",
        "data": {
            "webhook_url": stored.url,
            "available_events": names::ALL,
            "events_count": names::ALL.len(),
        },
    })))
}

async fn failures(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let limit = query_limit(&request, DEFAULT_FAILURES_LIMIT, MAX_FAILURES_LIMIT)?;
    let device = named_device(&state, &caller, &request, &[]).await?;
    let store = Arc::clone(&state.store);
    let listed = blocking(&state, move || store.delivery_failures(&device.id, limit))
        .await?
        .map_err(store_failed)?;
    let listed: Vec<Value> = listed.iter().map(failure_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "success": true, "failures": listed })))
}

fn replayed(state: &Arc<AppState>, count: usize) -> HttpResponse {
    if count > 0 {
        state.events.deliveries_due().wake();
    }
    HttpResponse::build(StatusCode::ACCEPTED).json(json!({ "success": true, "replayed": count }))
}

async fn replay_all(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/webhook/failures/replay").await?;
    json_object(&body)?; // a body, when given, must be a JSON object
    let device = named_device(&state, &caller, &request, &body).await?;
    let store = Arc::clone(&state.store);
    let count = blocking(&state, move || store.replay_failures(&device.id, None))
        .await?
        .map_err(store_failed)?;
    Ok(replayed(&state, count))
}

async fn replay_one(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let delivery_id = path.into_inner();
    let store = Arc::clone(&state.store);
    let id = delivery_id.clone();
    let failure = blocking(&state, move || store.delivery_failure(&id))
        .await?
        .map_err(store_failed)?
        .ok_or_else(|| ApiError::not_found("failed delivery"))?;
    // Someone else's delivery is not found, as their device is not.
    let device = caller_device(&state, Arc::clone(&caller.0), Some(failure.device_id))
        .await
        .map_err(|_| ApiError::not_found("failed delivery"))?;
    let store = Arc::clone(&state.store);
    let count = blocking(&state, move || {
        store.replay_failures(&device.id, Some(&delivery_id))
    })
    .await?
    .map_err(store_failed)?;
    Ok(replayed(&state, count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    fn rejected_field(value: Value) -> String {
        let error = parse_webhook(&fields(value.clone())).unwrap_err();
        assert_eq!(error.status, StatusCode::BAD_REQUEST, "{value}");
        error.validation[0].field.clone()
    }

    #[test]
    fn a_minimal_body_takes_the_documented_defaults() {
        let parsed = parse_webhook(&fields(json!({
            "webhook_url": "https://example.com/hook",
            "enabled_events": ["message.sent", "message.sent", "device.connected"],
        })))
        .unwrap();
        assert_eq!(parsed.events, ["message.sent", "device.connected"]);
        assert!(parsed.enabled);
        assert_eq!((parsed.retry_attempts, parsed.timeout_seconds), (3, 30));
        assert_eq!(parsed.secret, None);
        let all = parse_webhook(&fields(json!({
            "webhook_url": "https://example.com/hook",
            "enabled_events": ["*", "message.sent"],
        })))
        .unwrap();
        assert_eq!(all.events, ["*"]);
    }

    #[test]
    fn every_bad_field_is_named() {
        let base = json!({"webhook_url": "https://example.com/hook", "enabled_events": ["*"]});
        let with = |key: &str, value: Value| {
            let mut body = base.clone();
            body[key] = value;
            body
        };
        assert_eq!(
            rejected_field(with("webhook_url", json!("ftp://x"))),
            "webhook_url"
        );
        assert_eq!(
            rejected_field(json!({"enabled_events": ["*"]})),
            "webhook_url"
        );
        assert_eq!(
            rejected_field(with("enabled_events", json!(["message.sent", "nope"]))),
            "enabled_events[1]"
        );
        assert_eq!(
            rejected_field(with("enabled_events", json!([]))),
            "enabled_events"
        );
        assert_eq!(
            rejected_field(with("retry_attempts", json!(11))),
            "retry_attempts"
        );
        assert_eq!(rejected_field(with("timeout", json!(0))), "timeout");
        assert_eq!(rejected_field(with("timeout", json!(61))), "timeout");
        assert_eq!(rejected_field(with("secret", json!("short"))), "secret");
        assert_eq!(rejected_field(with("enabled", json!("yes"))), "enabled");
    }

    #[test]
    fn headers_are_tokens_not_reserved_and_bounded() {
        let ok = parse_headers(Some(
            &json!({"X-Tenant-Id": "acme", "Authorization": "Bearer x"}),
        ))
        .unwrap();
        assert_eq!(ok["X-Tenant-Id"], "acme");
        let field = |value: Value| {
            parse_headers(Some(&value)).unwrap_err().validation[0]
                .field
                .clone()
        };
        assert_eq!(field(json!({"Bad Name": "x"})), "headers.Bad Name");
        assert_eq!(field(json!({"": "x"})), "headers.");
        for reserved in [
            "content-type",
            "Host",
            "Content-Length",
            "X-WUTS-Event",
            "x-wuts-anything",
        ] {
            assert_eq!(
                field(json!({ reserved: "x" })),
                format!("headers.{reserved}")
            );
        }
        assert_eq!(field(json!({"X-A": "a\r\nInjected: yes"})), "headers.X-A");
        assert_eq!(field(json!({"X-A": 5})), "headers.X-A");
        assert_eq!(field(json!({"X-A": "v".repeat(1025)})), "headers.X-A");
        assert!(parse_headers(Some(&json!({"X-A": "v".repeat(1024)}))).is_ok());
        let many: Map<String, Value> = (0..21).map(|n| (format!("X-H{n}"), json!("v"))).collect();
        assert_eq!(field(Value::Object(many)), "headers");
        assert_eq!(field(json!(["X-A"])), "headers");
    }
}
