//! Starting and stopping the server: store, plugins, session driver, job runner, HTTP.

use std::io::Write as _;
use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::{App, HttpServer, web};

use crate::auth::TokenCache;
use crate::config::Settings;
use crate::fetch::Fetcher;
use crate::jobs::{self, JobQueue};
use crate::plugins::PluginRegistry;
use crate::routes;
use crate::session::sandbox::SandboxDriver;
use crate::session::{SessionDriver, SessionManager};
use crate::state::AppState;
use crate::store::{SqliteStore, Store};

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
    store: &Arc<dyn Store>,
) -> Result<Arc<dyn SessionDriver>, ServeError> {
    match settings.session.driver.as_str() {
        "sandbox" => Ok(Arc::new(SandboxDriver::new(Arc::clone(store)))),
        other => Err(ServeError::Driver(format!(
            "unknown driver {other:?}: use \"sandbox\" or \"whatsapp\""
        ))),
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
    let driver = session_driver(&settings, &store)?;
    let (job_queue, job_receiver) = JobQueue::new();
    let state = Arc::new(AppState {
        fetcher: Arc::new(Fetcher::new(&settings.fetch)?),
        sessions: Arc::new(SessionManager::new(driver)),
        tokens: Arc::new(TokenCache::default()),
        plugins: Arc::new(plugins),
        runtime: tokio::runtime::Handle::current(),
        jobs: job_queue,
        settings: Arc::new(settings),
        store,
    });
    jobs::start(
        Arc::clone(&state),
        job_receiver,
        state.settings.jobs.workers,
    );

    let address = listener.local_addr()?;
    let data = web::Data::from(Arc::clone(&state));
    let route_state = Arc::clone(&state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .configure(|cfg| routes::configure(cfg, &route_state))
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
    for session in state.sessions.all() {
        let _ = tokio::time::timeout(Duration::from_secs(5), session.disconnect()).await;
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
