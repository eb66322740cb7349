//! Prometheus metrics (docs/API.md, "Operations"): counters and histograms are recorded
//! where things happen through the `metrics` facade; what is a state rather than an event
//! (jobs by status, devices by state, the webhook outbox's depth) is read when
//! `GET /metrics` asks. Every name starts with `wuts_`; no label holds a tenant, a user or
//! anything a request carried, only route patterns, plugin names and outcomes.

use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Requests by `route` pattern, `method` and `status`.
pub const HTTP_REQUESTS: &str = "wuts_http_requests_total";
/// Request latency by `route` pattern.
pub const HTTP_SECONDS: &str = "wuts_http_request_duration_seconds";
/// A plugin call's time (plan and encode; the audio plugin's transcode is in it) by
/// `plugin` and `route`.
pub const PLUGIN_CALL_SECONDS: &str = "wuts_plugin_call_seconds";
/// Sends by `outcome`: `acked`, `timeout` (no ack within `send_timeout_ms`), `failed`.
pub const SEND_ACKS: &str = "wuts_send_acks_total";
/// Webhook attempts by `outcome`: `delivered`, `retry`, `failed`.
pub const WEBHOOK_DELIVERIES: &str = "wuts_webhook_deliveries_total";
/// Jobs in the store by `status`.
pub const JOBS: &str = "wuts_jobs";
/// Open device sessions by `state` (`connected`, `connecting`, `pairing`, ...).
pub const DEVICES: &str = "wuts_devices";
/// Devices in the store, open or not.
pub const DEVICES_STORED: &str = "wuts_devices_stored";
/// Webhook deliveries not yet finished (pending or in flight).
pub const OUTBOX_DEPTH: &str = "wuts_webhook_outbox_depth";

/// Latency buckets in seconds, from a quick send to a long transcode.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];
/// How often histogram samples are folded into their buckets, so memory stays flat
/// between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the process's recorder once; `None` when one was installed before (a second
/// server in one process, in tests), which then records into the first.
pub fn install(runtime: &tokio::runtime::Handle) -> Option<PrometheusHandle> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
        .ok()?
        .build_recorder();
    let handle = recorder.handle();
    metrics::set_global_recorder(recorder).ok()?;
    let upkeep = handle.clone();
    runtime.spawn(async move {
        let mut ticks = tokio::time::interval(UPKEEP_EVERY);
        loop {
            ticks.tick().await;
            upkeep.run_upkeep();
        }
    });
    Some(handle)
}
