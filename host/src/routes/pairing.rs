//! Pairing and connection of one device: `GET /qr`, `GET /qr/status`, `POST /paircode`,
//! `GET /status`, `POST /connect`, `POST /disconnect`. `device_id` in the query (or the
//! body, for POSTs) picks the device; without it, the caller's default device.
//!
//! Status codes beyond the common ones (docs/API.md): a QR code that does not come within
//! `[session] qr_timeout_ms` is **504** `QR_TIMEOUT` ("timeout waiting for QR code": the
//! gateway waited on WhatsApp, not on the client); a device that is connected or paired
//! already is 400 `ALREADY_CONNECTED`; a device whose state allows no pairing now
//! (stopped, logged out) is 400 `PAIRING_UNAVAILABLE`; WhatsApp unreachable for a pair code
//! is 503 `WHATSAPP_UNREACHABLE`, and WhatsApp refusing it 502 `PAIRING_FAILED`. The
//! driver names each case by its `SessionError` kind; `ApiError::from_session`
//! (error.rs) is where they become these statuses.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use wuts_plugin_api::recipient::{PhoneError, normalize_phone};
use wuts_plugin_api::{Envelope, PluginError};

use super::body;
use super::common::{caller_device, device_session, json_object, query_device_id, read_body};
use crate::auth::Caller;
use crate::error::{ApiError, SessionCall};
use crate::qr_image;
use crate::state::AppState;
use crate::time::rfc3339;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/qr", web::get().to(qr))
        .route("/qr/status", web::get().to(qr_status))
        .route("/paircode", web::post().to(pair_code))
        .route("/status", web::get().to(status))
        .route("/connect", web::post().to(connect))
        .route("/disconnect", web::post().to(disconnect));
}

/// The phone a `POST /paircode` body names, as digits with the country code, by the
/// API's one phone rule ([`normalize_phone`]: spaces, dashes, dots, parentheses and a
/// leading `+` are dropped; 7 to 15 digits, not starting with 0).
pub fn pairing_phone(fields: &Map<String, Value>) -> Result<String, ApiError> {
    let invalid = |message: &str, value: &Value| {
        ApiError::from(PluginError::invalid_field("phone", message, value.clone()))
    };
    let value = fields.get("phone").unwrap_or(&Value::Null);
    let Value::String(text) = value else {
        return Err(invalid(
            "required: the phone number to pair, with its country code, e.g. \"5511999999999\"",
            value,
        ));
    };
    normalize_phone(text).map_err(|error| match error {
        PhoneError::Character(_) => invalid(
            "only digits, with spaces, dashes, dots, parentheses and a leading + allowed",
            value,
        ),
        PhoneError::Empty | PhoneError::Length(_) | PhoneError::LeadingZero => invalid(
            "give the number with its country code, 7 to 15 digits, e.g. \"5511999999999\"",
            value,
        ),
    })
}

async fn qr(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let session = device_session(&state, &device).await?;
    let wait = Duration::from_millis(state.settings.session.qr_timeout_ms.max(1));
    let code = session
        .qr_code(wait)
        .await
        .map_err(|error| ApiError::from_session(error, SessionCall::Device))?;
    let text = code.code.clone();
    let image = crate::send_path::blocking(&state, move || qr_image::png_data_uri(&text))
        .await?
        .map_err(|error| ApiError::internal(error.to_string()))?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "device_id": device.id,
        "qr_code": code.code,
        "image": image,
        "expires_at": rfc3339(code.expires_at),
    })))
}

async fn qr_status(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let status = device_session(&state, &device).await?.status();
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "device_id": device.id,
        "paired": status.logged_in || status.jid.is_some(),
        "connected": status.connected,
        "state": status.state,
        "jid": status.jid,
    })))
}

async fn pair_code(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/paircode").await?;
    let phone = pairing_phone(&json_object(&body)?)?;
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let session = device_session(&state, &device).await?;
    let code = session
        .pair_code(&phone)
        .await
        .map_err(|error| ApiError::from_session(error, SessionCall::Device))?;
    tracing::info!(device_id = %device.id, "pair code issued");
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "device_id": device.id,
        "code": code,
    })))
}

async fn status(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let status = device_session(&state, &device).await?.status();
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "device_id": device.id,
        "connected": status.connected,
        "logged_in": status.logged_in,
        "jid": status.jid,
        "state": status.state,
        "last_error": status.last_error,
        "driver": state.sessions.driver_name(),
    })))
}

/// Connects (`true`) or disconnects the device named in the query or body.
async fn switch(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: Arc<AppState>,
    path: &str,
    connect: bool,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&state, &request, payload, path).await?;
    json_object(&body)?;
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let session = device_session(&state, &device).await?;
    if connect {
        session.connect().await
    } else {
        session.disconnect().await
    }
    .map_err(|error| ApiError::from_session(error, SessionCall::Device))?;
    let status = session.status();
    tracing::info!(device_id = %device.id, state = %status.state, "{}", if connect { "device connecting" } else { "device disconnected" });
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "device_id": device.id,
        "state": status.state,
        "connected": status.connected,
    })))
}

async fn connect(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    switch(
        caller,
        request,
        payload,
        state.into_inner(),
        "/connect",
        true,
    )
    .await
}

async fn disconnect(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    switch(
        caller,
        request,
        payload,
        state.into_inner(),
        "/disconnect",
        false,
    )
    .await
}

#[cfg(test)]
mod tests {
    use actix_web::http::StatusCode;

    use super::*;
    use crate::error::codes;

    fn phone(value: Value) -> Result<String, ApiError> {
        pairing_phone(json!({ "phone": value }).as_object().unwrap_or(&Map::new()))
    }

    #[test]
    fn phones_keep_their_digits_with_the_country_code() {
        assert_eq!(phone(json!("5511999999999")).unwrap(), "5511999999999");
        assert_eq!(
            phone(json!("+55 (11) 99999-9999")).unwrap(),
            "5511999999999"
        );
        assert_eq!(phone(json!(" 4915123456789 ")).unwrap(), "4915123456789");
    }

    #[test]
    fn bad_phones_are_400_naming_phone() {
        for bad in [
            json!(null),
            json!(5511999999999u64),
            json!(""),
            json!("123456"),
            json!("1234567890123456"),
            json!("011999999999"),
            json!("55119999x9999"),
            json!("++5511999999999"),
            json!("5511999999999@s.whatsapp.net"),
        ] {
            let error = phone(bad.clone()).unwrap_err();
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{bad}");
            assert_eq!(error.code, codes::VALIDATION_ERROR, "{bad}");
            assert_eq!(error.validation[0].field, "phone", "{bad}");
            assert!(error.message.starts_with("phone: "), "{}", error.message);
        }
        let missing = pairing_phone(&Map::new()).unwrap_err();
        assert_eq!(missing.validation[0].field, "phone");
    }
}
