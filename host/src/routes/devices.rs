//! `POST /devices`, `GET /devices`: a user's devices and how each is doing. Another user's
//! or tenant's device is a 404 (`common::caller_device`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use wuts_plugin_api::PluginError;

use super::common::{device_session, json_object, read_body};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::send_path::blocking;
use crate::session::DeviceStatus;
use crate::state::AppState;
use crate::store::{DeviceRecord, StoreError};
use crate::time::rfc3339;

/// The longest device name.
const MAX_NAME_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/devices", web::post().to(create))
        .route("/devices", web::get().to(list));
}

/// A device as `GET /devices` lists it.
pub fn device_json(device: &DeviceRecord, status: &DeviceStatus) -> Value {
    json!({
        "id": device.id,
        "name": device.name,
        "user_id": device.user_id,
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
    let devices_per_user = state.settings.limits.devices_per_user;
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
        let device = store.create_device(&principal, &name, devices_per_user)?;
        // A user's webhook URL (POST /user/webhook) is given to each device it creates.
        store.apply_user_webhook(&device)?;
        Ok::<_, StoreError>(device)
    })
    .await?
    .map_err(|error| match error {
        StoreError::DeviceLimit(most) => ApiError::new(
            StatusCode::FORBIDDEN,
            crate::error::codes::DEVICE_LIMIT,
            format!("device limit reached: at most {most} devices per user"),
        ),
        error => ApiError::internal(format!("could not create the device: {error}")),
    })?;
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
