//! `GET /health`: liveness, without authentication.

use actix_web::{HttpResponse, web};

use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/health", web::get().to(health));
}

async fn health(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "status": "ok",
        "driver": state.sessions.driver_name(),
        "plugins": state.plugins.plugins.iter().map(|plugin| &plugin.name).collect::<Vec<_>>(),
    }))
}
