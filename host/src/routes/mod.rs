//! The HTTP routes: each module serves one resource and exposes `configure`.

pub mod body;
pub mod common;
pub mod devices;
pub mod events;
pub mod health;
pub mod jobs;
pub mod messages;
pub mod pairing;
pub mod sandbox;
pub mod send;
pub mod tenants;
pub mod users;
pub mod webhooks;

use actix_web::{HttpResponse, web};

use crate::error::ApiError;
use crate::state::AppState;

/// Mounts every route the host serves.
pub fn configure(cfg: &mut web::ServiceConfig, state: &AppState) {
    // First: actix tries resources in order, and the host's `{id}` patterns cost a regex
    // match each. Plugin paths are static but for at most one `{name}` segment (mounted
    // after the static ones), and never overlap the host's (the registry refuses them
    // otherwise).
    send::configure(cfg, &state.plugins);
    health::configure(cfg);
    jobs::configure(cfg);
    messages::configure(cfg);
    devices::configure(cfg);
    pairing::configure(cfg);
    events::configure(cfg);
    webhooks::configure(cfg);
    users::configure(cfg);
    tenants::configure(cfg, state);
    if state.sessions.driver_name() == "sandbox" {
        sandbox::configure(cfg);
    }
}

/// Unknown routes (and disabled ones) answer 404 in the standard envelope.
pub async fn not_found() -> HttpResponse {
    actix_web::ResponseError::error_response(&ApiError::not_found("route"))
}
