//! `POST /devices`, `GET /devices`: a user's devices and how each is doing; and the lookup
//! every device route shares (another user's or tenant's device is a 404).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use wuts_plugin_api::{Envelope, PluginError};

use super::body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::send_path::blocking;
use crate::session::{DeviceIdentity, DeviceStatus, Session};
use crate::state::AppState;
use crate::store::{DeviceRecord, Principal};
use crate::time::rfc3339;

/// Bodies of the device routes are a few fields; `[body_limits]` may set another cap.
pub const DEFAULT_BODY_LIMIT: u64 = 16 * 1024;
/// The longest device name.
const MAX_NAME_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::post().to(create))
        .route("/devices", web::get().to(list));
}

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
        .map_err(super::pairing::session_error)
}

/// A device as `GET /devices` lists it.
pub fn device_json(device: &DeviceRecord, status: &DeviceStatus) -> Value {
    json!({
        "id": device.id,
        "name": device.name,
        "is_default": device.is_default,
        "connected": status.connected,
        "logged_in": status.logged_in,
        "state": status.state,
        "jid": status.jid,
        "last_error": status.last_error,
        "created_at": rfc3339(device.created_at),
    })
}

/// The name a `POST /devices` body gives, if any: 1 to 100 characters, no control
/// characters, trimmed.
pub fn requested_name(fields: &Map<String, Value>) -> Result<Option<String>, ApiError> {
    let invalid = |value: &Value| {
        ApiError::from(PluginError::invalid_field(
            "name",
            format!(
                "must be a text of 1 to {MAX_NAME_CHARS} characters without control characters"
            ),
            value.clone(),
        ))
    };
    match fields.get("name") {
        None | Some(Value::Null) => Ok(None),
        Some(value @ Value::String(text)) => {
            let name = text.trim();
            if name.is_empty()
                || name.chars().count() > MAX_NAME_CHARS
                || name.chars().any(char::is_control)
            {
                return Err(invalid(value));
            }
            Ok(Some(name.to_owned()))
        }
        Some(other) => Err(invalid(other)),
    }
}

async fn create(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/devices").await?;
    let name = requested_name(&json_object(&body)?)?;
    let store = Arc::clone(&state.store);
    let principal = caller.0;
    let device = blocking(&state, move || {
        let name = match name {
            Some(name) => name,
            None => {
                let own = store
                    .list_devices(&principal)?
                    .into_iter()
                    .filter(|device| device.user_id == principal.user_id)
                    .count();
                format!("Device {}", own + 1)
            }
        };
        store.create_device(&principal, &name)
    })
    .await?
    .map_err(|error| ApiError::internal(format!("could not create the device: {error}")))?;
    // A new device starts connecting at once, so its first QR code is ready soon.
    let session = device_session(&state, &device).await?;
    tracing::info!(device_id = %device.id, tenant = %device.tenant_id, "device created");
    Ok(HttpResponse::build(StatusCode::CREATED).json(json!({
        "success": true,
        "device": device_json(&device, &session.status()),
    })))
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let store = Arc::clone(&state.store);
    let principal = caller.0;
    let devices = blocking(&state, move || store.list_devices(&principal))
        .await?
        .map_err(|error| ApiError::internal(format!("device lookup failed: {error}")))?;
    let mut listed = Vec::with_capacity(devices.len());
    for device in &devices {
        let session = device_session(&state, device).await?;
        listed.push(device_json(device, &session.status()));
    }
    Ok(HttpResponse::Ok().json(json!({ "success": true, "devices": listed })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

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

    #[test]
    fn device_names_are_optional_trimmed_and_bounded() {
        assert_eq!(requested_name(&fields(json!({}))).unwrap(), None);
        assert_eq!(
            requested_name(&fields(json!({"name": null}))).unwrap(),
            None
        );
        assert_eq!(
            requested_name(&fields(json!({"name": "  Shop phone "}))).unwrap(),
            Some("Shop phone".into())
        );
        let longest = "n".repeat(MAX_NAME_CHARS);
        assert_eq!(
            requested_name(&fields(json!({ "name": longest }))).unwrap(),
            Some(longest.clone())
        );
        for bad in [
            json!({"name": ""}),
            json!({"name": "   "}),
            json!({"name": "a\nb"}),
            json!({"name": 5}),
            json!({ "name": format!("{longest}n") }),
        ] {
            let error = requested_name(&fields(bad.clone())).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(error.validation[0].field, "name", "{bad}");
            assert!(error.message.starts_with("name: "), "{}", error.message);
        }
    }
}
