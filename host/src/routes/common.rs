//! What several route modules share: a small body read under its cap, the body as a JSON
//! object, the device a caller names, and that device's session. Routes import these from
//! here, never from each other.

use std::sync::Arc;

use actix_web::{HttpRequest, web};
use serde_json::{Map, Value};
use wuts_plugin_api::Envelope;

use super::body;
use crate::error::{ApiError, SessionCall};
use crate::events::webhook_target::{self, TargetError};
use crate::send_path::blocking;
use crate::session::{DeviceIdentity, Session};
use crate::state::AppState;
use crate::store::{DeviceRecord, Principal};

/// Bodies of the device routes are a few fields; `[body_limits]` may set another cap.
pub const DEFAULT_BODY_LIMIT: u64 = 16 * 1024;

/// Reads a device route's body under its cap: `[body_limits]` for `path`, else 16 KiB.
pub async fn read_body(
    state: &AppState,
    request: &HttpRequest,
    payload: web::Payload,
    path: &str,
) -> Result<web::Bytes, ApiError> {
    let limit = state
        .settings
        .body_limits
        .get(path)
        .copied()
        .unwrap_or(DEFAULT_BODY_LIMIT);
    body::read_limited(request, payload, limit, Envelope::Standard).await
}

/// The body as a JSON object; an empty body is an empty object.
pub fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        Ok(_) => Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => Err(ApiError::bad_request(format!("malformed JSON: {error}"))),
    }
}

/// A webhook URL the caller gives in `field`, under the URL policy: 400 when invalid,
/// 400 `URL_FORBIDDEN` for a private address (unless `[fetch] allow_private_urls`).
pub async fn check_target(state: &AppState, field: &str, url: &str) -> Result<(), ApiError> {
    let invalid = |reason: String| {
        ApiError::from(wuts_plugin_api::PluginError::invalid_field(
            field,
            reason,
            Value::String(url.to_owned()),
        ))
    };
    match webhook_target::check(url, state.settings.fetch.allow_private_urls).await {
        // A name that does not resolve now may later: deliveries retry.
        Ok(_) | Err(TargetError::Unresolved(_)) => Ok(()),
        Err(TargetError::Invalid(reason)) => Err(invalid(reason)),
        Err(TargetError::Forbidden(reason)) => {
            let mut error = invalid(reason);
            error.code = crate::fetch::codes::URL_FORBIDDEN.to_owned();
            Err(error)
        }
    }
}

/// `device_id` in the query, when given and not empty.
/// The `limit` query parameter of a listing: `default` when absent, else a whole number
/// from 1 to `max` (a 400 naming `limit` otherwise).
pub fn query_limit(request: &HttpRequest, default: usize, max: usize) -> Result<usize, ApiError> {
    match body::query_param(request, "limit") {
        None => Ok(default),
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=max).contains(&limit) => Ok(limit),
            _ => Err(ApiError::from(wuts_plugin_api::PluginError::invalid_field(
                "limit",
                format!("must be a whole number from 1 to {max}"),
                Value::String(text),
            ))),
        },
    }
}

pub fn query_device_id(request: &HttpRequest) -> Option<String> {
    body::query_param(request, "device_id").filter(|id| !id.is_empty())
}

/// A device the caller may use (its default when `device_id` is `None`), else 404.
pub async fn caller_device(
    state: &Arc<AppState>,
    principal: Arc<Principal>,
    device_id: Option<String>,
) -> Result<DeviceRecord, ApiError> {
    let store = Arc::clone(&state.store);
    blocking(state, move || {
        store.find_device(&principal, device_id.as_deref())
    })
    .await?
    .map_err(|error| ApiError::internal(format!("device lookup failed: {error}")))?
    .ok_or_else(|| ApiError::not_found("device"))
}

/// The device's session, opened (and connecting) on first use.
pub async fn device_session(
    state: &AppState,
    device: &DeviceRecord,
) -> Result<Arc<dyn Session>, ApiError> {
    let identity = DeviceIdentity {
        device_id: device.id.clone(),
        tenant_id: device.tenant_id.clone(),
        user_id: device.user_id.clone(),
    };
    state
        .sessions
        .session(&identity)
        .await
        .map_err(|error| ApiError::from_session(error, SessionCall::Device))
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::*;

    #[test]
    fn an_empty_body_is_an_empty_object_and_others_must_be_objects() {
        assert!(json_object(b"").unwrap().is_empty());
        assert!(json_object(b"  \n").unwrap().is_empty());
        assert_eq!(json_object(br#"{"name":"x"}"#).unwrap()["name"], "x");
        for bad in [&b"[]"[..], b"\"x\"", b"{", b"name=x"] {
            let error = json_object(bad).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
