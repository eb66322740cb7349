//! The OpenAPI 3.1 document of `GET /openapi.json` (docs/API.md, "Operations"), assembled
//! at start: every enabled plugin route from its manifest (request schema, summary,
//! envelope), and the host's own routes from the table below. A disabled route, the
//! sandbox's routes under the real driver and the super-admin routes without a master
//! token are absent, as they are from the server.

use serde_json::{Map, Value, json};
use wuts_plugin_api::Envelope;

use crate::config::Settings;
use crate::plugins::{PluginRegistry, PluginRoute};

/// Who a route lets in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Access {
    /// A user's token.
    User,
    /// The master token (super-admin routes).
    Master,
    /// `[metrics] token` or the master token when set.
    Metrics,
    /// No token.
    Open,
}

/// What a host route answers on success.
#[derive(Clone, Copy)]
enum Answer {
    Json(u16),
    /// A JSON array (the sandbox outbox).
    JsonArray,
    EventStream,
    Bytes,
    PrometheusText,
}

struct HostRoute {
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    tag: &'static str,
    access: Access,
    /// The request body's JSON Schema, for routes that read one.
    body: Option<fn() -> Value>,
    /// Query parameters (all optional text unless named in `required_query`).
    query: &'static [&'static str],
    required_query: &'static [&'static str],
    answer: Answer,
    /// Error statuses besides the ones every route may answer (400, 401 and 429 when a
    /// token is needed, 404, 413, 500, 503).
    errors: &'static [u16],
}

fn object() -> Value {
    json!({"type": "object"})
}

fn device_body() -> Value {
    json!({"type": "object", "properties": {"device_id": {"type": "string"}}})
}

fn devices_body() -> Value {
    json!({"type": "object", "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 100}}})
}

fn pair_code_body() -> Value {
    json!({"type": "object", "required": ["phone"], "properties": {
        "phone": {"type": "string"}, "device_id": {"type": "string"}}})
}

fn webhook_body() -> Value {
    crate::routes::webhooks::request_schema()
}

fn user_webhook_body() -> Value {
    json!({"type": "object", "required": ["webhook_url"], "properties": {
        "webhook_url": {"type": "string", "format": "uri"}}})
}

fn user_body() -> Value {
    crate::routes::users::create_schema()
}

fn user_change_body() -> Value {
    crate::routes::users::update_schema()
}

fn promote_body() -> Value {
    crate::routes::users::promote_schema()
}

fn register_body() -> Value {
    json!({"type": "object", "required": ["tenant_name"], "properties": {
        "tenant_name": {"type": "string", "minLength": 1, "maxLength": 100},
        "email": {"type": "string"}, "name": {"type": "string"}, "password": {},
        "role": {}, "webhook_url": {"type": "string", "format": "uri"}}})
}

const DEVICE: &[&str] = &["device_id"];

#[rustfmt::skip]
const HOST_ROUTES: &[HostRoute] = &[
    HostRoute { method: "get", path: "/health", summary: "Liveness", tag: "operations", access: Access::Open, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/ready", summary: "Readiness: the store answers and the required plugins are loaded", tag: "operations", access: Access::Open, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/metrics", summary: "Prometheus metrics", tag: "operations", access: Access::Metrics, body: None, query: &[], required_query: &[], answer: Answer::PrometheusText, errors: &[] },
    HostRoute { method: "get", path: "/jobs/{job_id}", summary: "A background job's status", tag: "messages", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/messages/{id}/media", summary: "A received message's media, decrypted", tag: "messages", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Bytes, errors: &[502, 504] },
    HostRoute { method: "post", path: "/devices", summary: "Create a device", tag: "devices", access: Access::User, body: Some(devices_body), query: &[], required_query: &[], answer: Answer::Json(201), errors: &[403] },
    HostRoute { method: "get", path: "/devices", summary: "The caller's devices (a manager's or admin's: the tenant's)", tag: "devices", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/qr", summary: "The pairing QR code", tag: "devices", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[502, 504] },
    HostRoute { method: "get", path: "/qr/status", summary: "Whether a QR code is ready", tag: "devices", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/paircode", summary: "Pair with an 8-character code", tag: "devices", access: Access::User, body: Some(pair_code_body), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[502, 504] },
    HostRoute { method: "get", path: "/status", summary: "A device's connection state", tag: "devices", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/connect", summary: "Connect a device", tag: "devices", access: Access::User, body: Some(device_body), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[502, 504] },
    HostRoute { method: "post", path: "/disconnect", summary: "Disconnect a device", tag: "devices", access: Access::User, body: Some(device_body), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/events", summary: "A device's events as server-sent events", tag: "events", access: Access::User, body: None, query: &["device_id", "after"], required_query: &[], answer: Answer::EventStream, errors: &[] },
    HostRoute { method: "post", path: "/webhook", summary: "Configure a device's webhook", tag: "webhooks", access: Access::User, body: Some(webhook_body), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/webhook", summary: "A device's webhook", tag: "webhooks", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "delete", path: "/webhook", summary: "Delete a device's webhook", tag: "webhooks", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/webhook/events", summary: "The event names", tag: "webhooks", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/webhook/failures", summary: "Failed deliveries", tag: "webhooks", access: Access::User, body: None, query: &["device_id", "limit"], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/webhook/failures/replay", summary: "Replay every failed delivery", tag: "webhooks", access: Access::User, body: Some(device_body), query: DEVICE, required_query: &[], answer: Answer::Json(202), errors: &[] },
    HostRoute { method: "post", path: "/webhook/failures/{id}/replay", summary: "Replay one failed delivery", tag: "webhooks", access: Access::User, body: Some(device_body), query: DEVICE, required_query: &[], answer: Answer::Json(202), errors: &[] },
    HostRoute { method: "post", path: "/user/webhook", summary: "A webhook URL for the caller's new devices", tag: "webhooks", access: Access::User, body: Some(user_webhook_body), query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/users", summary: "Create a user", tag: "users", access: Access::User, body: Some(user_body), query: &[], required_query: &[], answer: Answer::Json(201), errors: &[403, 409] },
    HostRoute { method: "get", path: "/users", summary: "The tenant's users (never their tokens)", tag: "users", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "get", path: "/users/{id}", summary: "A user", tag: "users", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "put", path: "/users/{id}", summary: "Change a user's role or activation", tag: "users", access: Access::User, body: Some(user_change_body), query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "delete", path: "/users/{id}", summary: "Delete a user and everything it owns", tag: "users", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "post", path: "/users/{id}/promote", summary: "Change a user's role", tag: "users", access: Access::User, body: Some(promote_body), query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "post", path: "/users/{id}/token", summary: "Replace a user's token", tag: "users", access: Access::User, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[403] },
    HostRoute { method: "post", path: "/register", summary: "Register a tenant and its first admin", tag: "super-admin", access: Access::Master, body: Some(register_body), query: &[], required_query: &[], answer: Answer::Json(201), errors: &[409] },
    HostRoute { method: "get", path: "/tenants", summary: "Every tenant", tag: "super-admin", access: Access::Master, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/global/tenants/{id}", summary: "A tenant", tag: "super-admin", access: Access::Master, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "delete", path: "/global/tenants/{id}", summary: "Delete a tenant and all its data", tag: "super-admin", access: Access::Master, body: None, query: &[], required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/sandbox/outbox", summary: "What the sandbox device sent", tag: "sandbox", access: Access::User, body: None, query: &["device_id", "limit"], required_query: &[], answer: Answer::JsonArray, errors: &[] },
    HostRoute { method: "get", path: "/sandbox/media/{id}", summary: "A sandbox upload", tag: "sandbox", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Bytes, errors: &[] },
    HostRoute { method: "post", path: "/sandbox/state", summary: "Set the sandbox device's state", tag: "sandbox", access: Access::User, body: Some(object), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "get", path: "/sandbox/state", summary: "The sandbox device's state", tag: "sandbox", access: Access::User, body: None, query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/sandbox/inbound", summary: "Make the sandbox device receive a message", tag: "sandbox", access: Access::User, body: Some(object), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
    HostRoute { method: "post", path: "/sandbox/receipt", summary: "Make the sandbox device receive a receipt", tag: "sandbox", access: Access::User, body: Some(object), query: DEVICE, required_query: &[], answer: Answer::Json(200), errors: &[] },
];

fn served(route: &HostRoute, settings: &Settings, sandbox: bool) -> bool {
    match route.tag {
        "sandbox" => sandbox,
        "super-admin" => !settings.admin.master_token.is_empty(),
        _ => true,
    }
}

fn error_ref(schema: &str) -> Value {
    json!({"content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}})
}

fn error_responses(statuses: &[u16], schema: &str, responses: &mut Map<String, Value>) {
    for status in statuses {
        let mut response = error_ref(schema);
        response["description"] = json!(match status {
            400 => "Bad input (nothing changed), or the device is not connected",
            401 => "Missing or invalid token",
            403 => "The caller's role does not allow it",
            404 => "Unknown, or another tenant's",
            409 => "Already exists",
            413 => "Body over the route's limit",
            429 => "Rate limited; see Retry-After",
            500 => "Failed",
            502 => "WhatsApp answered with an error",
            503 => "Busy or not ready; see Retry-After",
            504 => "No answer in time",
            _ => "Error",
        });
        responses.insert(status.to_string(), response);
    }
}

fn security(access: Access) -> Value {
    match access {
        Access::User => json!([{"bearerToken": []}]),
        Access::Master => json!([{"masterToken": []}]),
        Access::Metrics => json!([{}, {"metricsToken": []}, {"masterToken": []}]),
        Access::Open => json!([]),
    }
}

fn path_parameters(path: &str) -> Vec<Value> {
    path.split('/')
        .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect()
}

fn host_operation(route: &HostRoute) -> Value {
    let mut responses = Map::new();
    let success = match route.answer {
        Answer::Json(status) => (
            status,
            json!({"description": "Done", "content": {"application/json": {"schema": {"type": "object"}}}}),
        ),
        Answer::JsonArray => (
            200,
            json!({"description": "Done", "content": {"application/json": {"schema": {"type": "array"}}}}),
        ),
        Answer::EventStream => (
            200,
            json!({"description": "Server-sent events", "content": {"text/event-stream": {"schema": {"type": "string"}}}}),
        ),
        Answer::Bytes => (
            200,
            json!({"description": "The bytes, with their content type", "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}}}),
        ),
        Answer::PrometheusText => (
            200,
            json!({"description": "Prometheus text", "content": {"text/plain": {"schema": {"type": "string"}}}}),
        ),
    };
    responses.insert(success.0.to_string(), success.1);
    let schema = if route.access == Access::Master {
        "ShortError"
    } else {
        "StandardError"
    };
    let mut statuses = vec![400, 404, 413, 500, 503];
    if route.access != Access::Open {
        // A token can be refused, and so can its client past the rate limits.
        statuses.extend([401, 429]);
    }
    statuses.extend_from_slice(route.errors);
    error_responses(&statuses, schema, &mut responses);
    let mut parameters = path_parameters(route.path);
    for name in route.query {
        parameters.push(
            json!({"name": name, "in": "query", "required": route.required_query.contains(name),
                               "schema": {"type": "string"}}),
        );
    }
    let mut operation = json!({
        "operationId": operation_id(route.method, route.path),
        "summary": route.summary,
        "tags": [route.tag],
        "security": security(route.access),
        "parameters": parameters,
        "responses": responses,
    });
    if let Some(body) = route.body {
        operation["requestBody"] =
            json!({"required": false, "content": {"application/json": {"schema": body()}}});
    }
    operation
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_owned();
    for segment in path.split('/').filter(|segment| !segment.is_empty()) {
        id.push('_');
        id.push_str(
            &segment
                .trim_matches(|c| c == '{' || c == '}')
                .replace(['-', '.'], "_"),
        );
    }
    id
}

fn plugin_operation(route: &PluginRoute) -> Value {
    let success = if route.short_success() {
        "LegacySent"
    } else {
        "StandardSent"
    };
    let error = match route.envelope {
        Envelope::Legacy => "LegacyError",
        Envelope::Standard => "StandardError",
    };
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json!({"description": "Sent", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{success}")}}}}),
    );
    responses.insert(
        "202".into(),
        json!({"description": "Queued as a job (GET /jobs/{job_id})", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Queued"}}}}),
    );
    error_responses(
        &[400, 401, 404, 413, 429, 500, 503, 504],
        error,
        &mut responses,
    );
    let mut parameters = path_parameters(&route.path);
    parameters.push(json!({"name": "device_id", "in": "query", "required": false, "schema": {"type": "string"}}));
    json!({
        "operationId": if route.operation.is_empty() { operation_id(&route.method.to_lowercase(), &route.path) } else { route.operation.clone() },
        "summary": route.summary,
        "description": format!("Served by the `{}` plugin ({} envelope).", route.plugin.name,
                               if route.envelope == Envelope::Legacy { "legacy" } else { "standard" }),
        "tags": ["send"],
        "security": security(Access::User),
        "parameters": parameters,
        "requestBody": {"required": true, "content": {"application/json": {"schema": route.request_schema.clone()}}},
        "responses": responses,
    })
}

fn components() -> Value {
    json!({
        "securitySchemes": {
            "bearerToken": {"type": "http", "scheme": "bearer", "description": "A user's API token"},
            "masterToken": {"type": "http", "scheme": "bearer", "description": "The platform master token ([admin] master_token)"},
            "metricsToken": {"type": "http", "scheme": "bearer", "description": "[metrics] token"}
        },
        "schemas": {
            "StandardError": {"type": "object", "required": ["success", "error", "error_code", "timestamp"], "properties": {
                "success": {"const": false}, "error": {"type": "string"}, "error_code": {"type": "string"},
                "timestamp": {"type": "string"},
                "validation": {"type": "array", "items": {"type": "object", "properties": {
                    "field": {"type": "string"}, "message": {"type": "string"}, "value": {}}}}}},
            "LegacyError": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
            "ShortError": {"type": "object", "required": ["success", "error"], "properties": {
                "success": {"const": false}, "error": {"type": "string"}}},
            "StandardSent": {"type": "object", "required": ["success", "message_id", "timestamp", "status", "chat_jid"], "properties": {
                "success": {"const": true}, "message_id": {"type": "string"}, "timestamp": {"type": "string"},
                "status": {"type": "string"}, "chat_jid": {"type": "string"}}},
            "LegacySent": {"type": "object", "required": ["success", "message_id", "timestamp", "message"], "properties": {
                "success": {"const": true}, "message_id": {"type": "string"}, "timestamp": {"type": "string"},
                "message": {"type": "string"}}},
            "Queued": {"type": "object", "required": ["success", "job_id", "status"], "properties": {
                "success": {"const": true}, "job_id": {"type": "string"}, "status": {"const": "processing"},
                "chat_jid": {"type": "string"}, "message_id": {"type": "string"}, "timestamp": {"type": "string"}}}
        }
    })
}

/// The document for this server's routes.
pub fn document(settings: &Settings, plugins: &PluginRegistry, sandbox: bool) -> Value {
    let mut paths = Map::<String, Value>::new();
    let mut add = |path: &str, method: &str, operation: Value| {
        let entry = paths
            .entry(path.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        entry[method] = operation;
    };
    for route in plugins.routes.values() {
        add(
            &route.path,
            &route.method.to_lowercase(),
            plugin_operation(route),
        );
    }
    for route in HOST_ROUTES
        .iter()
        .filter(|route| served(route, settings, sandbox))
    {
        add(route.path, route.method, host_operation(route));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "WUTS-rs",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "A multi-tenant WhatsApp HTTP gateway compatible with the WUTS API. docs/API.md is the full reference.",
        },
        "paths": paths,
        "components": components(),
    })
}
