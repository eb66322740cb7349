//! The plugin routes: one generic handler serves every route a plugin declared.

use std::sync::Arc;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use wuts_plugin_api::Envelope;

use super::body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::plugins::{PluginRegistry, PluginRoute};
use crate::send_path::{self, Accepted, SendOutcome, SendRequest};
use crate::state::AppState;
use crate::time::{now_rfc3339, rfc3339};

pub fn configure(cfg: &mut web::ServiceConfig, plugins: &PluginRegistry) {
    for route in plugins.routes.values() {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap_or(Method::POST);
        cfg.service(
            web::resource(route.path.as_str())
                .app_data(web::Data::new(Arc::clone(route)))
                .app_data(route.envelope)
                .route(web::method(method).to(dispatch)),
        );
    }
}

async fn dispatch(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    route: web::Data<Arc<PluginRoute>>,
) -> Result<HttpResponse, ApiError> {
    let route = Arc::clone(route.get_ref());
    let envelope = route.envelope;
    let body = body::read_limited(&request, payload, route.body_limit, envelope).await?;
    let device_id = body::device_id(&request, &body, envelope)?;
    let state = state.into_inner();
    let principal = caller.0;
    let device = match state.store.cached_device(&principal, device_id.as_deref()) {
        Some(device) => device,
        None => {
            let store = Arc::clone(&state.store);
            send_path::blocking(&state, move || {
                store.find_device(&principal, device_id.as_deref())
            })
            .await?
            .map_err(|error| {
                ApiError::internal(format!("device lookup failed: {error}")).in_envelope(envelope)
            })?
            .ok_or_else(|| ApiError::not_found("device").in_envelope(envelope))?
        }
    };
    let request = SendRequest {
        message_id: crate::ids::message_id(),
        request_id: crate::ids::request_id(),
        route: Arc::clone(&route),
        device,
        body,
        is_job: false,
    };
    Ok(match send_path::accept(&state, request).await? {
        Accepted::Sent(outcome) => HttpResponse::Ok().json(success_body(&route, outcome)),
        Accepted::Queued { job_id, chat_jid } => {
            HttpResponse::build(StatusCode::ACCEPTED).json(json!({
                "success": true,
                "message_id": "",
                "timestamp": now_rfc3339(),
                "status": "processing",
                "chat_jid": chat_jid,
                "job_id": job_id,
            }))
        }
    })
}

/// The 200 body: the legacy routes' documented shape, or the standard one.
fn success_body(route: &PluginRoute, outcome: SendOutcome) -> Value {
    let mut body = match route.envelope {
        Envelope::Legacy => json!({
            "success": true,
            "message_id": outcome.message_id,
            "timestamp": rfc3339(outcome.timestamp),
            "message": route.success_message,
        }),
        Envelope::Standard => json!({
            "success": true,
            "message_id": outcome.message_id,
            "timestamp": rfc3339(outcome.timestamp),
            "status": "sent",
            "chat_jid": outcome.chat_jid,
        }),
    };
    if let (Some(Value::Object(extra)), Value::Object(fields)) = (outcome.extra, &mut body) {
        for (key, value) in extra {
            fields.entry(key).or_insert(value);
        }
    }
    body
}
