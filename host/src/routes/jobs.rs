//! `GET /jobs/{id}`: a background job's status. Another tenant's job is a 404.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::auth::Caller;
use crate::error::ApiError;
use crate::send_path::blocking;
use crate::state::AppState;
use crate::store::{JobStatus, Role};
use crate::time::rfc3339;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/jobs/{job_id}", web::get().to(job_status));
}

async fn job_status(
    caller: Caller,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    let job_id = path.into_inner();
    let store = Arc::clone(&state.store);
    let principal = caller.0;
    let tenant_id = principal.tenant_id.clone();
    let job = blocking(&state, move || store.find_job(&tenant_id, &job_id))
        .await?
        .map_err(|error| ApiError::internal(format!("job lookup failed: {error}")))?
        .filter(|job| job.user_id == principal.user_id || principal.role == Role::Admin)
        .ok_or_else(|| ApiError::not_found("job"))?;
    let mut body = json!({
        "success": true,
        "job_id": job.id,
        "status": job.status.as_str(),
        "message_id": if job.status == JobStatus::Sent { job.message_id.as_str() } else { "" },
        "chat_jid": job.chat_jid,
        "created_at": rfc3339(job.created_at),
    });
    if let Some(finished_at) = job.finished_at {
        body["finished_at"] = json!(rfc3339(finished_at));
    }
    if let Some(error) = job.error {
        body["error"] = json!(error);
    }
    let metadata = job
        .result_json
        .as_deref()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
        .and_then(|mut result| result.get_mut("metadata").map(serde_json::Value::take));
    if let Some(metadata) = metadata {
        body["metadata"] = metadata;
    }
    Ok(HttpResponse::Ok().json(body))
}
