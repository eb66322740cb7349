//! The user routes (docs/API.md, "Administration"; WUTS §5): a tenant's users, their
//! roles and activation, token rotation and deletion. Who may do what is
//! [`crate::roles`]; another tenant's user is a 404. Tokens are shown once, when made
//! (creation, rotation), and never listed: the store keeps only their hashes.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Map, Value, json};
use wuts_plugin_api::PluginError;
use wuts_plugin_api::schema::{Kind, Schema};

use super::common::{check_target, json_object, read_body};
use crate::auth::{Caller, mint};
use crate::error::ApiError;
use crate::roles::{self, Refusal};
use crate::send_path::blocking;
use crate::session::DeviceIdentity;
use crate::state::AppState;
use crate::store::{AccountChange, AccountRecord, NewAccount, Removed, Role, StoreError};
use crate::time::rfc3339;

pub const LAST_ADMIN: &str = "LAST_ADMIN";
pub const CANNOT_DELETE_SELF: &str = "CANNOT_DELETE_SELF";
pub const USER_EXISTS: &str = "USER_EXISTS";

const ROLES: &[&str] = &["admin", "manager", "user"];
const MAX_EMAIL_CHARS: usize = 254;
const MAX_NAME_CHARS: usize = 100;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/users", web::post().to(create))
        .route("/users", web::get().to(list))
        .route("/users/{id}", web::get().to(show))
        .route("/users/{id}", web::put().to(update))
        .route("/users/{id}", web::delete().to(delete))
        .route("/users/{id}/promote", web::post().to(promote))
        .route("/users/{id}/token", web::post().to(rotate_token));
}

/// A user as the routes show it; `token` only when one was just made.
pub fn account_json(account: &AccountRecord, token: Option<&str>) -> Value {
    let mut user = json!({
        "id": account.id,
        "tenant_id": account.tenant_id,
        "email": account.email,
        "name": account.name,
        "role": account.role.as_str(),
        "active": account.active,
        "created_at": rfc3339(account.created_at),
        "updated_at": rfc3339(account.updated_at),
    });
    if let Some(token) = token {
        user["token"] = json!(token);
    }
    user
}

/// What a `POST /users` (or `POST /register`) body asks for.
pub struct AccountRequest {
    pub email: Option<String>,
    pub name: String,
    pub role: Role,
    pub webhook_url: Option<String>,
}

fn account_schema() -> Schema {
    Schema::object()
        .optional("email", Kind::text(3..=MAX_EMAIL_CHARS))
        .optional("name", Kind::text(1..=MAX_NAME_CHARS))
        .optional("role", Kind::one_of(ROLES))
        .optional("webhook_url", Kind::url())
        .optional("password", Kind::Any)
}

fn change_schema() -> Schema {
    Schema::object()
        .optional("active", Kind::boolean())
        .optional("role", Kind::one_of(ROLES))
}

fn promotion_schema() -> Schema {
    Schema::object().required("new_role", Kind::one_of(ROLES))
}

/// The bodies' JSON Schemas, for the OpenAPI document.
pub fn create_schema() -> Value {
    account_schema().json_schema()
}

pub fn update_schema() -> Value {
    change_schema().json_schema()
}

pub fn promote_schema() -> Value {
    promotion_schema().json_schema()
}

fn invalid(field: &str, message: impl Into<String>, value: Value) -> ApiError {
    ApiError::from(PluginError::invalid_field(field, message, value))
}

/// Checks the account fields of a body: `email` and/or `name` (one is required),
/// `role` (default `default_role`), `webhook_url`; `password` is accepted and ignored
/// (tokens are the only credential).
pub fn parse_account(
    fields: &Map<String, Value>,
    default_role: Role,
) -> Result<AccountRequest, ApiError> {
    account_schema().validate(&Value::Object(fields.clone()))?;
    let text = |name: &str| {
        fields
            .get(name)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    let email = text("email");
    if let Some(email) = &email {
        let well_formed = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
            && !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if !well_formed {
            return Err(invalid("email", "must be an email address", json!(email)));
        }
    }
    let name = text("name");
    if name
        .as_deref()
        .is_some_and(|name| name.chars().any(char::is_control))
    {
        return Err(invalid(
            "name",
            "must not contain control characters",
            fields["name"].clone(),
        ));
    }
    let name = match (name, &email) {
        (Some(name), _) => name,
        (None, Some(email)) => email.clone(),
        (None, None) => {
            return Err(invalid("email", "email or name is required", Value::Null));
        }
    };
    Ok(AccountRequest {
        email,
        name,
        role: text("role").map_or(default_role, |role| Role::parse(&role)),
        webhook_url: text("webhook_url"),
    })
}

fn refused(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Forbidden(reason) => ApiError::new(
            StatusCode::FORBIDDEN,
            crate::error::codes::FORBIDDEN,
            reason,
        ),
        Refusal::CannotDeleteSelf => ApiError::new(
            StatusCode::BAD_REQUEST,
            CANNOT_DELETE_SELF,
            "you cannot delete your own account",
        ),
    }
}

/// How a store failure answers on these routes.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        StoreError::LastAdmin => ApiError::new(
            StatusCode::BAD_REQUEST,
            LAST_ADMIN,
            "the tenant must keep an active admin",
        ),
        StoreError::Conflict(what) => ApiError::new(
            StatusCode::CONFLICT,
            USER_EXISTS,
            format!("{what} already exists"),
        ),
        other => ApiError::internal(format!("user storage failed: {other}")),
    }
}

fn user_not_found() -> ApiError {
    ApiError::not_found("user")
}

/// The tenant's user `id`, else 404.
async fn target(
    state: &Arc<AppState>,
    caller: &Caller,
    id: String,
) -> Result<AccountRecord, ApiError> {
    let store = Arc::clone(&state.store);
    let tenant_id = caller.0.tenant_id.clone();
    blocking(state, move || store.account(&tenant_id, &id))
        .await?
        .map_err(store_error)?
        .ok_or_else(user_not_found)
}

/// Creates the user and stages its webhook URL; the created account and its token.
pub async fn create_account(
    state: &Arc<AppState>,
    tenant_id: String,
    request: &AccountRequest,
) -> Result<(AccountRecord, String), ApiError> {
    if let Some(url) = &request.webhook_url {
        check_target(state, "webhook_url", url).await?;
    }
    let (token, hashed) = mint();
    let account = NewAccount {
        tenant_id,
        email: request.email.clone(),
        name: request.name.clone(),
        role: request.role,
        token_lookup: hashed.lookup,
        token_hash: hashed.hash,
    };
    let store = Arc::clone(&state.store);
    let webhook_url = request.webhook_url.clone();
    let created = blocking(state, move || {
        let created = store.create_account(&account)?;
        if let Some(url) = webhook_url {
            store.set_user_webhook(&created.tenant_id, &created.id, &url)?;
        }
        Ok::<_, StoreError>(created)
    })
    .await?
    .map_err(store_error)?;
    Ok((created, token))
}

/// What `POST /users` and `POST /register` add about a staged webhook URL.
pub fn webhook_fields(answer: &mut Value, webhook_url: Option<&str>) {
    answer["webhook_configured"] = json!(webhook_url.is_some());
    answer["webhook_url"] = json!(webhook_url);
    if webhook_url.is_some() {
        answer["note"] =
            json!("Webhook will be configured when user connects their first WhatsApp device");
    }
}

async fn create(
    caller: Caller,
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/users").await?;
    let asked = parse_account(&json_object(&body)?, Role::User)?;
    roles::may_create(&caller.0, asked.role).map_err(refused)?;
    let (account, token) = create_account(&state, caller.0.tenant_id.clone(), &asked).await?;
    tracing::info!(user = %account.id, tenant = %account.tenant_id, role = account.role.as_str(), "user created");
    let mut answer = json!({ "success": true, "user": account_json(&account, Some(&token)) });
    webhook_fields(&mut answer, asked.webhook_url.as_deref());
    Ok(HttpResponse::build(StatusCode::CREATED).json(answer))
}

async fn list(caller: Caller, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    roles::may_list(&caller.0).map_err(refused)?;
    let store = Arc::clone(&state.store);
    let tenant_id = caller.0.tenant_id.clone();
    let accounts = blocking(&state, move || store.accounts(&tenant_id))
        .await?
        .map_err(store_error)?;
    let users: Vec<Value> = accounts
        .iter()
        .map(|account| account_json(account, None))
        .collect();
    Ok(HttpResponse::Ok().json(json!({ "success": true, "users": users })))
}

async fn show(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let account = target(&state, &caller, path.into_inner()).await?;
    roles::may_view(&caller.0, &account).map_err(refused)?;
    Ok(HttpResponse::Ok().json(json!({ "success": true, "data": account_json(&account, None) })))
}

/// Applies a change the caller may make; the account before and after.
async fn apply_change(
    state: &Arc<AppState>,
    caller: &Caller,
    id: String,
    change: AccountChange,
) -> Result<(AccountRecord, AccountRecord), ApiError> {
    let account = target(state, caller, id).await?;
    roles::may_change(&caller.0, &account, change).map_err(refused)?;
    let store = Arc::clone(&state.store);
    let tenant_id = caller.0.tenant_id.clone();
    let user_id = account.id.clone();
    let changed = blocking(state, move || {
        store.change_account(&tenant_id, &user_id, change)
    })
    .await?
    .map_err(store_error)?
    .ok_or_else(user_not_found)?;
    if changed.0 != changed.1 {
        // The cached principal carries the role, and an inactive user's token must stop.
        state.tokens.forget_users(&[account.id.as_str()]);
        tracing::info!(user = %account.id, role = changed.1.role.as_str(), active = changed.1.active, "user changed");
    }
    Ok(changed)
}

async fn update(
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/users/{id}").await?;
    let fields = json_object(&body)?;
    change_schema().validate(&Value::Object(fields.clone()))?;
    let change = AccountChange {
        active: fields.get("active").and_then(Value::as_bool),
        role: fields.get("role").and_then(Value::as_str).map(Role::parse),
    };
    apply_change(&state, &caller, path.into_inner(), change).await?;
    Ok(HttpResponse::Ok().json(json!({ "success": true, "message": "User updated successfully" })))
}

async fn promote(
    caller: Caller,
    request: HttpRequest,
    path: web::Path<String>,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let body = read_body(&state, &request, payload, "/users/{id}/promote").await?;
    let fields = json_object(&body)?;
    promotion_schema().validate(&Value::Object(fields.clone()))?;
    let role = Role::parse(fields["new_role"].as_str().unwrap_or_default());
    let change = AccountChange {
        active: None,
        role: Some(role),
    };
    let (before, after) = apply_change(&state, &caller, path.into_inner(), change).await?;
    Ok(HttpResponse::Ok().json(json!({
        "success": true,
        "message": "User role updated successfully",
        "data": {
            "user_id": after.id,
            "old_role": before.role.as_str(),
            "new_role": after.role.as_str(),
        },
    })))
}

async fn rotate_token(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let account = target(&state, &caller, path.into_inner()).await?;
    roles::may_rotate_token(&caller.0, &account).map_err(refused)?;
    let (token, hashed) = mint();
    let store = Arc::clone(&state.store);
    let (tenant_id, user_id) = (account.tenant_id.clone(), account.id.clone());
    let replaced = blocking(&state, move || {
        store.set_token(&tenant_id, &user_id, &hashed.lookup, &hashed.hash)
    })
    .await?
    .map_err(store_error)?;
    if !replaced {
        return Err(user_not_found());
    }
    // The old token stops at once: the cache forgets it before this answer goes out.
    state.tokens.forget_users(&[account.id.as_str()]);
    tracing::info!(user = %account.id, "token rotated");
    Ok(HttpResponse::Ok().json(json!({ "success": true, "token": token })))
}

async fn delete(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let account = target(&state, &caller, path.into_inner()).await?;
    roles::may_delete(&caller.0, &account).map_err(refused)?;
    let store = Arc::clone(&state.store);
    let (tenant_id, user_id) = (account.tenant_id.clone(), account.id.clone());
    let removed = blocking(&state, move || store.remove_account(&tenant_id, &user_id))
        .await?
        .map_err(store_error)?
        .ok_or_else(user_not_found)?;
    state.tokens.forget_users(&[account.id.as_str()]);
    remove_sessions(&state, &account.tenant_id, removed);
    tracing::info!(user = %account.id, tenant = %account.tenant_id, "user deleted");
    Ok(HttpResponse::Ok().json(json!({ "success": true, "message": "User permanently deleted" })))
}

/// Logs the removed devices out and drops their sessions, in the background: an
/// unlink may wait on WhatsApp for up to `[session] connect_timeout_ms` per device.
pub fn remove_sessions(state: &Arc<AppState>, tenant_id: &str, removed: Removed) {
    let sessions = Arc::clone(&state.sessions);
    let tenant_id = tenant_id.to_owned();
    state.runtime.spawn(async move {
        for (device_id, user_id) in removed.devices {
            let device = DeviceIdentity {
                device_id,
                tenant_id: tenant_id.clone(),
                user_id,
            };
            if let Err(error) = sessions.remove(&device).await {
                tracing::warn!(device = %device.device_id, %error, "a deleted device's session did not close cleanly");
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn an_account_needs_an_email_or_a_name_and_a_known_role() {
        let only_email =
            parse_account(&fields(json!({"email": "Ana@Example.com"})), Role::User).unwrap();
        assert_eq!(only_email.name, "Ana@Example.com");
        assert_eq!(only_email.role, Role::User);
        let named = parse_account(
            &fields(json!({"name": "Ana", "role": "manager", "password": "ignored"})),
            Role::User,
        )
        .unwrap();
        assert_eq!((named.name.as_str(), named.role), ("Ana", Role::Manager));
        let error = parse_account(&fields(json!({})), Role::User).err().unwrap();
        assert_eq!(error.status, StatusCode::BAD_REQUEST);
        assert!(error.message.contains("email or name"), "{}", error.message);
        for bad in [
            json!({"name": "Ana", "role": "root"}),
            json!({"email": "not-an-address"}),
            json!({"email": 7}),
            json!({"name": "a\u{7}b"}),
            json!({"name": "Ana", "webhook_url": "ftp://example.com"}),
        ] {
            assert!(
                parse_account(&fields(bad.clone()), Role::User).is_err(),
                "{bad}"
            );
        }
    }
}
