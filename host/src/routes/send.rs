//! The plugin routes: one generic handler serves every route a plugin declared.

use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Value, json};
use wuts_plugin_api::Envelope;

use super::body;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::plugins::{PluginRegistry, PluginRoute};
use crate::send_path::{self, Accepted, SendOutcome, SendRequest};
use crate::state::AppState;
use crate::store::DeviceRecord;
use crate::time::{now_rfc3339, rfc3339};

pub fn configure(cfg: &mut web::ServiceConfig, plugins: &PluginRegistry) {
    // Static paths first, then those with a `{parameter}`: actix tries resources in
    // order, and `/messages/{messageId}` must not take `/messages/delete`.
    let (patterns, statics): (Vec<_>, Vec<_>) = plugins
        .routes
        .values()
        .partition(|route| route.parameter.is_some());
    for route in statics.into_iter().chain(patterns) {
        let method = Method::from_bytes(route.method.as_bytes()).unwrap_or(Method::POST);
        cfg.service(
            web::resource(route.path.as_str())
                .app_data(web::Data::new(Arc::clone(route)))
                .app_data(route.envelope)
                .route(web::method(method).to(dispatch)),
        );
    }
}

/// The handler of every plugin route.
async fn dispatch(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
    route: web::Data<Arc<PluginRoute>>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    // Built in a block of its own, so that what went into it is not kept alongside.
    let request = {
        let envelope = route.envelope;
        let mut body = body::read_limited(&request, payload, route.body_limit, envelope).await?;
        if let Some(name) = &route.parameter {
            let value = request.match_info().get(name).unwrap_or_default();
            body = with_path_parameter(body, name, value);
        }
        let device_id = body::device_id(&request, &body, envelope)?;
        let device = match state.store.cached_device(&caller.0, device_id.as_deref()) {
            Some(device) => device,
            None => find_device(&state, caller, device_id, envelope).await?,
        };
        SendRequest {
            message_id: crate::ids::message_id(),
            // The id the access line and the answer carry (`crate::access`).
            request_id: request
                .extensions()
                .get::<crate::access::RequestId>()
                .map_or_else(crate::ids::request_id, |id| id.0.to_string()),
            route: Arc::clone(route.get_ref()),
            device,
            body,
            is_job: false,
        }
    };
    Ok(match send_path::accept(&state, &request).await? {
        Accepted::Sent(outcome) => HttpResponse::Ok().json(SuccessBody {
            route: &request.route,
            outcome: &outcome,
        }),
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

/// The body with a path parameter's matched value put in as the field `name` (the path
/// wins over a body field of that name). An empty body becomes `{name: value}`; a body
/// that is not a JSON object is left as it is, for the plugin to refuse. The plugin reads
/// and validates the value like any field, and a job keeps it, since jobs store the body.
fn with_path_parameter(body: web::Bytes, name: &str, value: &str) -> web::Bytes {
    let mut object = if body.iter().all(u8::is_ascii_whitespace) {
        serde_json::Map::new()
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(object)) => object,
            _ => return body,
        }
    };
    object.insert(name.to_string(), Value::String(value.to_string()));
    web::Bytes::from(Value::Object(object).to_string())
}

/// The caller's device (the default one when the body names none) from the store.
async fn find_device(
    state: &Arc<AppState>,
    caller: Caller,
    device_id: Option<String>,
    envelope: Envelope,
) -> Result<Arc<DeviceRecord>, ApiError> {
    let store = Arc::clone(&state.store);
    send_path::blocking(state, move || {
        store.find_device(&caller.0, device_id.as_deref())
    })
    .await?
    .map_err(|error| {
        ApiError::internal(format!("device lookup failed: {error}")).in_envelope(envelope)
    })?
    .map(Arc::new)
    .ok_or_else(|| ApiError::not_found("device").in_envelope(envelope))
}

/// The 200 body: the short shape (`message`; legacy routes, and the standard routes whose
/// WUTS page prints it, see [`PluginRoute::short_success`]) or the standard one, then the
/// plugin's additions (which never replace the host's fields, but for `message_id`: a
/// route whose WUTS answer names another message than the one sent, a revoke naming
/// the revoked message, gives it). Serialised straight from
/// the outcome: building a `Value` first cost an allocation per key on every send.
struct SuccessBody<'a> {
    route: &'a PluginRoute,
    outcome: &'a SendOutcome,
}

impl Serialize for SuccessBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let outcome = self.outcome;
        let mut body = serializer.serialize_map(None)?;
        body.serialize_entry("success", &true)?;
        let message_id = match &outcome.extra {
            Some(Value::Object(extra)) => extra.get("message_id").and_then(Value::as_str),
            _ => None,
        };
        body.serialize_entry("message_id", message_id.unwrap_or(&outcome.message_id))?;
        body.serialize_entry("timestamp", &rfc3339(outcome.timestamp))?;
        let host_fields: &[&str] = if self.route.short_success() {
            body.serialize_entry("message", &self.route.success_message)?;
            &["success", "message_id", "timestamp", "message"]
        } else {
            body.serialize_entry("status", outcome.status)?;
            body.serialize_entry("chat_jid", &outcome.chat_jid)?;
            &["success", "message_id", "timestamp", "status", "chat_jid"]
        };
        if let Some(Value::Object(extra)) = &outcome.extra {
            for (key, value) in extra {
                if !host_fields.contains(&key.as_str()) {
                    body.serialize_entry(key, value)?;
                }
            }
        }
        body.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_parameter_goes_into_the_body_and_wins() {
        let merged = |body: &'static str| {
            let bytes = with_path_parameter(web::Bytes::from(body), "messageId", "3EB0AB");
            serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null)
        };
        assert_eq!(
            merged(r#"{"to":"55","messageId":"other"}"#),
            json!({"to": "55", "messageId": "3EB0AB"})
        );
        assert_eq!(merged(" "), json!({"messageId": "3EB0AB"}));
        assert_eq!(
            merged("[1]"),
            json!([1]),
            "not an object: left for the plugin"
        );
        let malformed = with_path_parameter(web::Bytes::from("{"), "messageId", "x");
        assert_eq!(&malformed[..], b"{");
    }
}
