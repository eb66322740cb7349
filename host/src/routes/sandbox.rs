//! `/sandbox/*`: the sandbox driver's outbox, media and controls (sandbox driver only).

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use wuts_plugin_api::Envelope;

use super::body;
use super::common::{caller_device, device_session, query_device_id};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::message_json::message_to_json;
use crate::send_path::blocking;
use crate::session::sandbox::{SandboxControls, SandboxSession};
use crate::state::AppState;
use crate::store::DeviceRecord;
use crate::time::rfc3339;

const DEFAULT_LIMIT: usize = 50;
const MAX_LIMIT: usize = 1000;
const MAX_ACK_DELAY_MS: u64 = 600_000;
const STATE_BODY_LIMIT: u64 = 16 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/sandbox/outbox", web::get().to(outbox))
        .route("/sandbox/media/{id}", web::get().to(media))
        .route("/sandbox/state", web::post().to(set_state))
        .route("/sandbox/state", web::get().to(get_state));
}

async fn outbox(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let limit = match body::query_param(&request, "limit") {
        None => DEFAULT_LIMIT,
        Some(text) => match text.parse::<usize>() {
            Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
            _ => {
                return Err(ApiError::bad_request(format!(
                    "limit: must be a whole number from 1 to {MAX_LIMIT}"
                )));
            }
        },
    };
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let session = device_session(&state, &device).await?;
    let records = sandbox(&session)?.records();
    let entries: Vec<Value> = records
        .outbox(&device.id, limit)
        .into_iter()
        .map(|record| {
            let media: Vec<Value> = records
                .media_info(&record.media_ids)
                .into_iter()
                .map(|media| {
                    json!({
                        "id": media.id,
                        "kind": media.kind,
                        "url": format!("{}{}", crate::session::sandbox::MEDIA_PATH, media.id),
                        "mimetype": media.mimetype,
                        "size": media.bytes.len(),
                    })
                })
                .collect();
            json!({
                "message_id": record.message_id,
                "to": record.to,
                "timestamp": rfc3339(record.timestamp),
                "route": record.route,
                "message": message_to_json(&record.message),
                "stanza_nodes": record.nodes.to_json(),
                "media": media,
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(entries))
}

async fn media(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let media_id = path.into_inner();
    let store = Arc::clone(&state.store);
    let principal = caller.0.clone();
    let devices = blocking(&state, move || store.list_devices(&principal))
        .await?
        .map_err(|error| ApiError::internal(format!("device lookup failed: {error}")))?;
    let Some(first) = devices.first() else {
        return Err(ApiError::not_found("media"));
    };
    let session = device_session(&state, first).await?;
    let device_ids: Vec<String> = devices.iter().map(|device| device.id.clone()).collect();
    let found = sandbox(&session)?
        .records()
        .media(&media_id, &device_ids)
        .ok_or_else(|| ApiError::not_found("media"))?;
    Ok(HttpResponse::Ok()
        .content_type(found.mimetype)
        .body(found.bytes.as_ref().clone()))
}

fn sandbox(session: &Arc<dyn crate::session::Session>) -> Result<&SandboxSession, ApiError> {
    session
        .as_any()
        .downcast_ref::<SandboxSession>()
        .ok_or_else(|| ApiError::internal("not a sandbox device"))
}

fn controls_body(device: &DeviceRecord, controls: &SandboxControls) -> Value {
    json!({
        "success": true,
        "device_id": device.id,
        "connected": controls.connected,
        "ack_delay_ms": controls.ack_delay_ms,
        "fail": controls.fail,
    })
}

async fn get_state(
    caller: Caller,
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let device = caller_device(&state, caller.0, query_device_id(&request)).await?;
    let session = device_session(&state, &device).await?;
    Ok(HttpResponse::Ok().json(controls_body(&device, &sandbox(&session)?.controls())))
}

async fn set_state(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = body::read_limited(&request, payload, STATE_BODY_LIMIT, Envelope::Standard).await?;
    let changes: serde_json::Map<String, Value> = match serde_json::from_slice(&body) {
        Ok(Value::Object(changes)) => changes,
        Ok(_) => return Err(ApiError::bad_request("the body must be a JSON object")),
        Err(error) => return Err(ApiError::bad_request(format!("malformed JSON: {error}"))),
    };
    let device_id = body::device_id(&request, &body, Envelope::Standard)?;
    let device = caller_device(&state, caller.0, device_id).await?;
    let session = device_session(&state, &device).await?;
    let sandbox = sandbox(&session)?;
    let controls = apply_changes(sandbox.controls(), &changes)?;
    sandbox.set_controls(controls.clone());
    tracing::info!(device_id = %device.id, connected = controls.connected, ack_delay_ms = controls.ack_delay_ms,
        failing = controls.fail.is_some(), "sandbox state changed");
    Ok(HttpResponse::Ok().json(controls_body(&device, &controls)))
}

/// Applies a `/sandbox/state` body; every field is checked before anything changes.
fn apply_changes(
    mut controls: SandboxControls,
    changes: &serde_json::Map<String, Value>,
) -> Result<SandboxControls, ApiError> {
    for (key, value) in changes {
        match (key.as_str(), value) {
            ("connected", Value::Bool(connected)) => controls.connected = *connected,
            ("connected", _) => {
                return Err(ApiError::bad_request("connected: must be true or false"));
            }
            ("ack_delay_ms", value) => match value.as_u64() {
                Some(delay) if delay <= MAX_ACK_DELAY_MS => controls.ack_delay_ms = delay,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "ack_delay_ms: must be a whole number from 0 to {MAX_ACK_DELAY_MS}"
                    )));
                }
            },
            ("fail", Value::Null) => controls.fail = None,
            ("fail", Value::String(text)) if !text.is_empty() && text.len() <= 200 => {
                controls.fail = Some(text.clone())
            }
            ("fail", _) => {
                return Err(ApiError::bad_request(
                    "fail: must be a text of 1 to 200 characters, or null",
                ));
            }
            ("device_id", _) => {}
            (other, _) => {
                return Err(ApiError::bad_request(format!(
                    "{other}: unknown field; connected, ack_delay_ms and fail are accepted"
                )));
            }
        }
    }
    Ok(controls)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn changes(value: Value) -> serde_json::Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn state_changes_apply_only_when_every_field_is_valid() {
        let controls = apply_changes(
            SandboxControls::default(),
            &changes(json!({"connected": false, "ack_delay_ms": 5, "fail": "boom"})),
        )
        .unwrap();
        assert_eq!(
            controls,
            SandboxControls {
                connected: false,
                ack_delay_ms: 5,
                fail: Some("boom".into())
            }
        );
        let cleared = apply_changes(controls, &changes(json!({"fail": null}))).unwrap();
        assert_eq!(cleared.fail, None);
        for bad in [
            json!({"connected": "no"}),
            json!({"ack_delay_ms": -1}),
            json!({"ack_delay_ms": 1.5}),
            json!({"fail": 3}),
            json!({"other": 1}),
        ] {
            assert!(
                apply_changes(SandboxControls::default(), &changes(bad.clone())).is_err(),
                "{bad}"
            );
        }
    }
}
