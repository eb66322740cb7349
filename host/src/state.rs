//! What every request handler shares.

use std::sync::Arc;

use crate::config::Settings;
use crate::events::EventSink;
use crate::events::inbound::DeviceReportHandler;
use crate::fetch::Fetcher;
use crate::job_queue::JobQueue;
use crate::pacing::SendPacing;
use crate::plugins::PluginRegistry;
use crate::rate_limits::RateLimits;
use crate::session::SessionManager;
use crate::store::Store;
use crate::tokens::TokenCache;
use crate::work_slots::WorkSlots;

pub struct AppState {
    pub settings: Arc<Settings>,
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenCache>,
    pub sessions: Arc<SessionManager>,
    pub plugins: Arc<PluginRegistry>,
    pub fetcher: Arc<Fetcher>,
    /// Slots for the plugin calls that may block (downloads, transcodes, uploads).
    pub work_slots: Arc<WorkSlots>,
    /// The host's own multi-thread runtime: sessions, jobs and plugin calls run here,
    /// not on actix's per-worker runtimes.
    pub runtime: tokio::runtime::Handle,
    pub jobs: JobQueue,
    /// Where every event enters (docs/API.md, "Events").
    pub events: Arc<EventSink>,
    /// What devices report (received messages, receipts, connection changes) becomes
    /// stored messages and events here; the drivers hold it too.
    pub reports: Arc<DeviceReportHandler>,
    /// Renders `GET /metrics`; `None` when another server in this process installed the
    /// recorder first (tests only).
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Request rates per user, device and client address (`[rate_limits]`).
    pub rate_limits: Arc<RateLimits>,
    /// The least time between one device's messages (`[session] send_interval_ms`).
    pub pacing: SendPacing,
}
