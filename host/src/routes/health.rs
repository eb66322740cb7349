//! The operations routes (docs/API.md, "Operations"): `GET /health` (liveness) and
//! `GET /ready` (the store answers, the required plugins are loaded) without a token;
//! `GET /metrics`, Prometheus text, behind `[metrics] token` or the master token when
//! either is set.

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use crate::auth::{bearer_token, same_secret};
use crate::error::ApiError;
use crate::metrics as names;
use crate::send_path::blocking;
use crate::state::AppState;

/// How long `GET /ready` and `GET /metrics` wait for the store (then not ready, or no
/// store gauges in the scrape).
const STORE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);
/// Job statuses always reported, so a series drops to 0 instead of vanishing.
const JOB_STATUSES: &[&str] = &["processing", "sent", "failed"];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/metrics", web::get().to(scrape));
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "status": "ok",
        "driver": state.sessions.driver_name(),
        "plugins": state.plugins.plugins.iter().map(|plugin| &plugin.name).collect::<Vec<_>>(),
    }))
}

/// A store call under [`STORE_TIMEOUT`], its failure as text.
async fn ask_store<T: Send + 'static>(
    state: &Arc<AppState>,
    call: impl FnOnce(&dyn crate::store::Store) -> crate::store::StoreResult<T> + Send + 'static,
) -> Result<T, String> {
    let store = Arc::clone(&state.store);
    let asked = blocking(state, move || call(store.as_ref()));
    match tokio::time::timeout(STORE_TIMEOUT, asked).await {
        Ok(Ok(Ok(answer))) => Ok(answer),
        Ok(Ok(Err(error))) => Err(error.to_string()),
        Ok(Err(error)) => Err(error.message),
        Err(_) => Err(format!("no answer within {} s", STORE_TIMEOUT.as_secs())),
    }
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    let state = state.into_inner();
    let missing: Vec<&String> = state
        .settings
        .plugins
        .required
        .iter()
        .filter(|name| {
            !state
                .plugins
                .plugins
                .iter()
                .any(|plugin| &plugin.name == *name)
        })
        .collect();
    let store = ask_store(&state, |store| store.ping()).await;
    let ready = store.is_ok() && missing.is_empty();
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "checks": {
            "store": match &store { Ok(_) => "ok".to_owned(), Err(error) => error.clone() },
            "plugins": if missing.is_empty() { "ok".to_owned() } else {
                format!("not loaded: {}", missing.iter().map(|name| name.as_str()).collect::<Vec<_>>().join(", "))
            },
        },
    });
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::build(StatusCode::SERVICE_UNAVAILABLE)
            .insert_header((actix_web::http::header::RETRY_AFTER, 5))
            .json(body)
    }
}

/// Whether the request may read the metrics: open when no token is configured.
fn may_scrape(state: &AppState, request: &HttpRequest) -> bool {
    let accepted: Vec<&str> = [
        state.settings.metrics.token.as_str(),
        state.settings.admin.master_token.as_str(),
    ]
    .into_iter()
    .filter(|token| !token.is_empty())
    .collect();
    if accepted.is_empty() {
        return true;
    }
    let Some(given) = bearer_token(request) else {
        return false;
    };
    // Every configured token is compared, whichever matches.
    accepted
        .iter()
        .fold(false, |matched, token| matched | same_secret(token, given))
}

async fn scrape(
    request: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    if !may_scrape(&state, &request) {
        // A wrong token spends the client's failed-authentication bucket.
        state.rate_limits.unproven_token(&request)?;
        return Err(ApiError::unauthorized());
    }
    let Some(handle) = state.metrics.as_ref() else {
        return Err(ApiError::not_found("route"));
    };
    if let Ok(gauges) = ask_store(&state, |store| store.gauges()).await {
        for status in JOB_STATUSES {
            let count = gauges
                .jobs
                .iter()
                .find(|(name, _)| name == status)
                .map_or(0, |(_, count)| *count);
            metrics::gauge!(names::JOBS, "status" => *status).set(count as f64);
        }
        metrics::gauge!(names::DEVICES_STORED).set(gauges.devices as f64);
        metrics::gauge!(names::OUTBOX_DEPTH).set(gauges.outbox_depth as f64);
    }
    let mut by_state = std::collections::BTreeMap::<String, u32>::new();
    for session in state.sessions.all() {
        *by_state.entry(session.status().state).or_default() += 1;
    }
    for word in [
        "connected",
        "connecting",
        "disconnected",
        "pairing",
        "logged_out",
        "stopped",
    ] {
        by_state.entry(word.to_owned()).or_default();
    }
    for (word, count) in by_state {
        metrics::gauge!(names::DEVICES, "state" => word).set(f64::from(count));
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(handle.render()))
}
