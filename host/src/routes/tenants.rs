//! The super-admin routes (docs/API.md, "Administration"; WUTS §6), behind the master
//! token of `[admin] master_token`: registering a tenant with its first admin, listing
//! tenants, showing one, deleting one with everything stored for it. Without a master
//! token configured they are not mounted (404 like any unknown route). They answer
//! errors in WUTS's short envelope, `{"success":false,"error"}`.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use serde_json::{Value, json};

use super::common::{json_object, read_body};
use super::users::{AccountRequest, account_json, parse_account, remove_sessions};
use crate::auth::{bearer_token, mint, same_secret};
use crate::error::ApiError;
use crate::send_path::blocking;
use crate::state::AppState;
use crate::store::{NewAccount, Role, StoreError, TenantRecord};
use crate::time::rfc3339;

const MAX_TENANT_NAME_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    if state.settings.admin.master_token.is_empty() {
        return;
    }
    cfg.route("/register", web::post().to(register))
        .route("/tenants", web::get().to(list))
        .route("/global/tenants/{id}", web::get().to(show))
        .route("/global/tenants/{id}", web::delete().to(delete));
}

/// An error in the short envelope.
#[derive(Debug)]
struct MasterError {
    status: StatusCode,
    error: String,
    /// Seconds for `Retry-After` (a 429).
    retry_after: Option<u64>,
}

impl std::fmt::Display for MasterError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{} {}", self.status.as_u16(), self.error)
    }
}

impl ResponseError for MasterError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(seconds) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        response.json(json!({ "success": false, "error": self.error }))
    }
}

fn failed(status: StatusCode, error: impl Into<String>) -> MasterError {
    MasterError {
        status,
        error: error.into(),
        retry_after: None,
    }
}

/// A host error in the short envelope: a validation error says which field.
impl From<ApiError> for MasterError {
    fn from(error: ApiError) -> Self {
        let text = match error.validation.first() {
            Some(invalid) => format!("{}: {}", invalid.field, invalid.message),
            None => error.message,
        };
        MasterError {
            retry_after: error.retry_after,
            ..failed(error.status, text)
        }
    }
}

/// The request carries the master token (compared in constant time). A wrong one
/// spends the client's failed-authentication bucket (crate::rate_limits), and once that
/// is empty answers 429.
fn require_master(state: &AppState, request: &HttpRequest) -> Result<(), MasterError> {
    let given = bearer_token(request)
        .ok_or_else(|| failed(StatusCode::UNAUTHORIZED, "master token required"))?;
    if same_secret(&state.settings.admin.master_token, given) {
        return Ok(());
    }
    state.rate_limits.unproven_token(request)?;
    Err(failed(StatusCode::UNAUTHORIZED, "invalid master token"))
}

fn tenant_json(tenant: &TenantRecord) -> Value {
    json!({
        "id": tenant.id,
        "name": tenant.name,
        "created_at": rfc3339(tenant.created_at),
        "updated_at": rfc3339(tenant.updated_at),
    })
}

fn tenant_name(fields: &serde_json::Map<String, Value>) -> Result<String, MasterError> {
    match fields.get("tenant_name") {
        None | Some(Value::Null) => Err(failed(StatusCode::BAD_REQUEST, "tenant_name is required")),
        Some(Value::String(name))
            if !name.trim().is_empty()
                && name.trim().chars().count() <= MAX_TENANT_NAME_CHARS
                && !name.chars().any(char::is_control) =>
        {
            Ok(name.trim().to_owned())
        }
        Some(_) => Err(failed(
            StatusCode::BAD_REQUEST,
            format!(
                "tenant_name: must be a text of 1 to {MAX_TENANT_NAME_CHARS} characters without control characters"
            ),
        )),
    }
}

async fn register(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MasterError> {
    let state = state.into_inner();
    require_master(&state, &request)?;
    let body = read_body(&state, &request, payload, "/register").await?;
    let mut fields = json_object(&body)?;
    let name = tenant_name(&fields)?;
    // The first user of a tenant is always its admin, whatever `role` says.
    fields.remove("role");
    fields.remove("tenant_name");
    if !fields.contains_key("email") && !fields.contains_key("name") {
        fields.insert("name".into(), json!("admin"));
    }
    let asked: AccountRequest = parse_account(&fields, Role::Admin)?;
    if let Some(url) = &asked.webhook_url {
        super::common::check_target(&state, "webhook_url", url).await?;
    }
    let (token, hashed) = mint();
    let first = NewAccount {
        tenant_id: String::new(),
        email: asked.email.clone(),
        name: asked.name.clone(),
        role: Role::Admin,
        token_lookup: hashed.lookup,
        token_hash: hashed.hash,
    };
    let store = Arc::clone(&state.store);
    let webhook_url = asked.webhook_url.clone();
    let registered = blocking(&state, move || {
        let (tenant, admin) = store.register_tenant(&name, first)?;
        if let Some(url) = webhook_url {
            store.set_user_webhook(&tenant.id, &admin.id, &url)?;
        }
        Ok::<_, StoreError>((tenant, admin))
    })
    .await?;
    let (tenant, admin) = match registered {
        Ok(registered) => registered,
        Err(StoreError::Conflict(_)) => {
            return Err(failed(StatusCode::CONFLICT, "tenant already exists"));
        }
        Err(error) => {
            tracing::error!(%error, "tenant registration failed");
            return Err(failed(
                StatusCode::INTERNAL_SERVER_ERROR,
                "failed to register tenant",
            ));
        }
    };
    tracing::info!(tenant = %tenant.id, user = %admin.id, "tenant registered");
    let mut answer = json!({
        "success": true,
        "user": account_json(&admin, Some(&token)),
        "tenant": tenant_json(&tenant),
        "token": token,
        "webhook_configured": asked.webhook_url.is_some(),
        "webhook_url": asked.webhook_url,
    });
    if asked.webhook_url.is_some() {
        answer["note"] = json!("Webhook will be auto-configured when WhatsApp device is connected");
    }
    Ok(HttpResponse::build(StatusCode::CREATED).json(answer))
}

async fn list(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MasterError> {
    let state = state.into_inner();
    require_master(&state, &request)?;
    let store = Arc::clone(&state.store);
    let tenants = blocking(&state, move || store.tenants())
        .await?
        .map_err(|error| {
            tracing::error!(%error, "listing tenants failed");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "failed to list tenants")
        })?;
    let tenants: Vec<Value> = tenants.iter().map(tenant_json).collect();
    Ok(HttpResponse::Ok().json(json!({ "success": true, "tenants": tenants })))
}

async fn show(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MasterError> {
    let state = state.into_inner();
    require_master(&state, &request)?;
    let id = path.into_inner();
    let store = Arc::clone(&state.store);
    let tenant = blocking(&state, move || store.tenant(&id))
        .await?
        .map_err(|error| {
            tracing::error!(%error, "reading a tenant failed");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "failed to get tenant")
        })?
        .ok_or_else(|| failed(StatusCode::NOT_FOUND, "tenant not found"))?;
    Ok(HttpResponse::Ok().json(json!({ "success": true, "data": tenant_json(&tenant) })))
}

async fn delete(
    request: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, MasterError> {
    let state = state.into_inner();
    require_master(&state, &request)?;
    let id = path.into_inner();
    let store = Arc::clone(&state.store);
    let (tenant, removed) = blocking(&state, move || store.remove_tenant(&id))
        .await?
        .map_err(|error| {
            tracing::error!(%error, "deleting a tenant failed");
            failed(StatusCode::INTERNAL_SERVER_ERROR, "failed to delete tenant")
        })?
        .ok_or_else(|| failed(StatusCode::NOT_FOUND, "tenant not found"))?;
    let user_ids: Vec<&str> = removed.users.iter().map(String::as_str).collect();
    state.tokens.forget_users(&user_ids);
    tracing::warn!(tenant = %tenant.id, users = removed.users.len(), devices = removed.devices.len(), "tenant and all its data deleted");
    remove_sessions(&state, &tenant.id, removed);
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "Tenant and all related data permanently deleted",
        "data": {
            "tenant_id": tenant.id,
            "tenant_name": tenant.name,
            "deleted_at": rfc3339(chrono::Utc::now()),
        },
    })))
}
