//! Starting and stopping the server: store, plugins, session driver, job runner, HTTP.

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};

use crate::config::Settings;
use crate::events::EventSink;
use crate::events::inbound::DeviceReportHandler;
use crate::fetch::Fetcher;
use crate::job_queue::JobQueue;
use crate::jobs;
use crate::plugins::PluginRegistry;
use crate::routes;
use crate::session::sandbox::SandboxDriver;
use crate::session::{DeviceIdentity, DeviceReports, SessionDriver, SessionManager};
use crate::state::AppState;
use crate::store::{SqliteStore, Store};
use crate::tokens::TokenCache;
use crate::work_slots::WorkSlots;

/// How long one session may take to disconnect at shutdown. The WhatsApp client bounds
/// its own flushes at 5 s each (inbound commits, outbound receipts) before it writes the
/// device state; this leaves room for both.
const SESSION_STOP_TIMEOUT: Duration = Duration::from_secs(12);

/// How long shutdown waits for queued events to be stored.

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("plugins: {0}")]
    Plugins(String),
    #[error("session driver: {0}")]
    Driver(String),
    #[error("HTTP client: {0}")]
    HttpClient(#[from] reqwest::Error),
    #[error("server: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the plugins and logs each refusal once, with its file and reason.
pub fn load_plugins(settings: &Settings) -> PluginRegistry {
    let registry = PluginRegistry::load(settings);
    for refusal in &registry.refused {
        tracing::error!(
            "plugin refused: {}: {}",
            refusal.path.display(),
            refusal.reason
        );
    }
    for plugin in &registry.plugins {
        tracing::info!(plugin = %plugin.name, version = %plugin.version, path = %plugin.path.display(), "plugin loaded");
    }
    for route in registry.routes.values() {
        tracing::info!(method = %route.method, path = %route.path, plugin = %route.plugin.name, "route served");
    }
    for path in &registry.disabled_routes {
        tracing::info!(%path, "route disabled by [routes]");
    }
    registry
}

fn session_driver(
    settings: &Settings,
    reports: Arc<dyn DeviceReports>,
) -> Result<Arc<dyn SessionDriver>, ServeError> {
    match settings.session.driver.as_str() {
        "sandbox" => Ok(Arc::new(
            SandboxDriver::with_media_budget(
                settings
                    .session
                    .sandbox_media_budget_mb
                    .saturating_mul(1024 * 1024),
            )
            .with_reports(reports),
        )),
        #[cfg(feature = "whatsapp")]
        "whatsapp" => whatsapp_driver(settings, reports),
        #[cfg(not(feature = "whatsapp"))]
        "whatsapp" => Err(ServeError::Driver(
            "this wuts was built without the whatsapp driver (cargo feature `whatsapp`): \
             rebuild with it, or set [session] driver = \"sandbox\""
                .into(),
        )),
        other => Err(ServeError::Driver(format!(
            "unknown driver {other:?}: use \"sandbox\" or \"whatsapp\""
        ))),
    }
}

/// Where the `whatsapp` driver keeps every device's credentials: `whatsapp.db` beside the
/// host's own database, so that one folder holds everything to back up.
pub fn whatsapp_store_path(store_path: &Path) -> PathBuf {
    store_path
        .parent()
        .map_or_else(PathBuf::new, Path::to_path_buf)
        .join("whatsapp.db")
}

#[cfg(feature = "whatsapp")]
fn whatsapp_driver(
    settings: &Settings,
    reports: Arc<dyn DeviceReports>,
) -> Result<Arc<dyn SessionDriver>, ServeError> {
    use crate::session::whatsapp::{WhatsappDriver, WhatsappSettings, parse_client_version};

    let session = &settings.session;
    let mut whatsapp = WhatsappSettings::new(whatsapp_store_path(&settings.store.path))
        .with_socket_url(session.socket_url.trim())
        .with_media_base_url(session.media_base_url.trim());
    if !session.client_version.trim().is_empty() {
        let version = parse_client_version(&session.client_version).ok_or_else(|| {
            ServeError::Driver(format!(
                "[session] client_version {:?}: give three numbers such as \"2.3000.1027934701\", \
                 or leave it empty to fetch the current version",
                session.client_version
            ))
        })?;
        whatsapp = whatsapp.with_client_version(version);
    }
    tracing::info!(credentials = %whatsapp.store_path.display(), "whatsapp driver");
    let driver = WhatsappDriver::new(whatsapp, tokio::runtime::Handle::current(), reports)
        .map_err(|error| ServeError::Driver(error.to_string()))?;
    Ok(Arc::new(driver))
}

/// Opens the session of every linked device in the store, so paired devices reconnect
/// (with their stored credentials) without waiting for a request. A device never paired
/// stays closed until someone asks for its QR code or status: opened, it would take QR
/// codes from WhatsApp with nobody to scan them. Opening returns at once; a device that
/// cannot connect says why in `GET /status`.
async fn bring_up_devices(state: &Arc<AppState>) -> Result<(), ServeError> {
    let store = Arc::clone(&state.store);
    let devices = tokio::task::spawn_blocking(move || store.all_devices())
        .await
        .map_err(|error| ServeError::Driver(format!("listing devices failed: {error}")))??;
    let linked = match state.sessions.linked_devices().await {
        Ok(linked) => linked,
        Err(error) => {
            // Unknown: better every device up (as before) than a paired one left down.
            tracing::warn!(%error, "cannot tell which devices are paired; bringing up all");
            None
        }
    };
    let (devices, never_paired): (Vec<_>, Vec<_>) = devices.into_iter().partition(|device| {
        linked
            .as_ref()
            .is_none_or(|linked| linked.contains(&device.id))
    });
    let count = devices.len();
    for device in devices {
        let identity = DeviceIdentity {
            device_id: device.id,
            tenant_id: device.tenant_id,
            user_id: device.user_id,
        };
        if let Err(error) = state.sessions.session(&identity).await {
            tracing::warn!(device = %identity.device_id, %error, "device not brought up");
        }
    }
    tracing::info!(
        devices = count,
        never_paired = never_paired.len(),
        "devices brought up"
    );
    Ok(())
}

/// Disconnects every session at once, each within [`SESSION_STOP_TIMEOUT`]; a WhatsApp
/// client flushes its device state to the credential store as it disconnects.
async fn disconnect_all(sessions: &SessionManager) {
    let mut stopping = tokio::task::JoinSet::new();
    for session in sessions.all() {
        stopping.spawn(async move {
            tokio::time::timeout(SESSION_STOP_TIMEOUT, session.disconnect()).await
        });
    }
    while let Some(stopped) = stopping.join_next().await {
        match stopped {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "a session did not disconnect cleanly"),
            Ok(Err(_)) => {
                tracing::warn!("a session did not disconnect within {SESSION_STOP_TIMEOUT:?}")
            }
            Err(error) => tracing::warn!(%error, "a session's disconnect failed"),
        }
    }
}

/// Serves on `listener` until SIGINT or SIGTERM, then shuts down gracefully. Must run
/// inside the host's multi-thread tokio runtime.
pub async fn run(listener: TcpListener, settings: Settings) -> Result<(), ServeError> {
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&settings.store.path)?);
    let plugins = load_plugins(&settings);
    plugins
        .check_required(&settings.plugins.required)
        .map_err(ServeError::Plugins)?;
    let events = Arc::new(EventSink::start(Arc::clone(&store))?);
    let reports = Arc::new(DeviceReportHandler::new(
        Arc::clone(&store),
        Arc::clone(&events),
    ));
    let driver = session_driver(&settings, Arc::clone(&reports) as Arc<dyn DeviceReports>)?;
    let (job_queue, job_receiver) = JobQueue::new();
    let state = Arc::new(AppState {
        events,
        reports,
        fetcher: Arc::new(Fetcher::new(&settings.fetch)?),
        work_slots: Arc::new(WorkSlots::new(&settings.limits)),
        sessions: Arc::new(SessionManager::new(driver)),
        tokens: Arc::new(TokenCache::default()),
        plugins: Arc::new(plugins),
        runtime: tokio::runtime::Handle::current(),
        jobs: job_queue,
        metrics: crate::metrics::install(&tokio::runtime::Handle::current()),
        rate_limits: Arc::new(crate::rate_limits::RateLimits::new(&settings.rate_limits)),
        pacing: crate::pacing::SendPacing::from_settings(&settings.session),
        settings: Arc::new(settings),
        store,
    });
    bring_up_devices(&state).await?;
    crate::events::deliver::start(
        Arc::clone(&state.store),
        state.events.deliveries_due(),
        crate::events::deliver::DeliverySettings::from_settings(&state.settings),
    )?;
    crate::retention::start(Arc::clone(&state.store), &state.settings);
    state.rate_limits.start_pruning();
    crate::orphans::start(Arc::clone(&state));
    jobs::start(
        Arc::clone(&state),
        job_receiver,
        state.settings.jobs.workers,
    );

    let address = listener.local_addr()?;
    let data = web::Data::from(Arc::clone(&state));
    let route_state = Arc::clone(&state);
    let openapi = crate::openapi::document(
        &state.settings,
        &state.plugins,
        state.sessions.driver_name() == "sandbox",
    );
    let docs = utoipa_swagger_ui::SwaggerUi::new("/docs/{_:.*}")
        .external_urls_from_iter_unchecked([("/openapi.json", openapi)]);
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(crate::access::track))
            .app_data(data.clone())
            .configure(|cfg| routes::configure(cfg, &route_state))
            .service(docs.clone())
            .route(
                "/docs",
                web::get().to(|| async {
                    actix_web::HttpResponse::PermanentRedirect()
                        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .default_service(web::to(routes::not_found))
    })
    .listen(listener)?
    .disable_signals()
    .shutdown_timeout(state.settings.server.shutdown_timeout_seconds);
    if state.settings.server.workers > 0 {
        server = server.workers(state.settings.server.workers);
    }
    let server = server.run();
    let handle = server.handle();
    // Listen for signals before announcing the address: a signal that arrives right
    // after the announcement must stop the server gracefully, not kill it.
    let signals = ShutdownSignals::install();
    tracing::info!(%address, driver = state.sessions.driver_name(), "listening");
    // The one line on stdout: scripts and tests read the bound address from it.
    println!("wuts listening on http://{address}");
    let _ = std::io::stdout().flush();

    tokio::spawn(async move {
        signals.received().await;
        tracing::info!("shutting down");
        handle.stop(true).await;
    });
    server.await?;
    disconnect_all(&state.sessions).await;
    // HTTP sends do not wait for their log commit, nor events for theirs; the last of
    // them commit here.
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || store.flush_message_log()).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the message log was not flushed"),
        Err(error) => tracing::error!(%error, "the message log was not flushed"),
    }
    tracing::info!("stopped");
    Ok(())
}

/// SIGINT and SIGTERM listeners, installed up front.
struct ShutdownSignals {
    #[cfg(unix)]
    listeners: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl ShutdownSignals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let listeners = match (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                (Ok(interrupt), Ok(terminate)) => Some((interrupt, terminate)),
                _ => None,
            };
            ShutdownSignals { listeners }
        }
        #[cfg(not(unix))]
        ShutdownSignals {}
    }

    async fn received(self) {
        #[cfg(unix)]
        if let Some((mut interrupt, mut terminate)) = self.listeners {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
