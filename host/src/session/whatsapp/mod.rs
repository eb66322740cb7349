//! The `whatsapp` session driver: each device is a real WhatsApp linked device.
//!
//! Built on `whatsapp-rust` 0.7.0 (pinned exactly). One client per device, every client
//! task on the host's session runtime. The driver adds what the library leaves to its
//! user: sends that wait for the server's ack ([`acks`]), the stanza node rule
//! ([`nodes`]), honest state from events ([`state`], [`events`]), per-device credentials
//! in one SQLite file ([`credentials`]), and seams for an offline test server
//! ([`settings`], [`seams`]).
//!
//! Reconnecting is the library's: its run loop retries with Fibonacci backoff up to 900 s
//! (`src/client/lifecycle.rs:660-693`, `src/client.rs:1682`) and stops by itself after a
//! logout, a stream replacement or a refused login. The driver only reflects that.
//! `disconnect()` stops the client for good (the library's shutdown signal is terminal,
//! `lifecycle.rs:554`), so `connect()` builds a fresh client on the same credentials.

pub mod acks;
pub mod credentials;
pub mod events;
pub mod nodes;
pub mod runtime;
pub mod seams;
pub mod settings;
pub mod state;

use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::runtime::Handle;
use tokio::sync::mpsc;
use whatsapp_rust::ChatStateType;
use whatsapp_rust::bot::Bot;
use whatsapp_rust::buffa::Message as _;
use whatsapp_rust::download::{DownloadParams, MediaType};
use whatsapp_rust::http::{HttpClient, UreqHttpClient};
use whatsapp_rust::pair_code::PairCodeOptions;
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::transport::{TokioWebSocketTransportFactory, TransportFactory};
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{Client, ClientError, Jid, SendError, SendOptions, UploadOptions};
use wuts_plugin_api::recipient::normalize_phone;
use wuts_plugin_api::{MediaKind, MediaReference, PresenceKind};

use self::acks::AckWaiters;
use self::credentials::{CredentialStore, SqliteCredentials};
use self::events::DeviceEvents;
use self::runtime::HandleRuntime;
use self::seams::{MediaHttpClient, ObservedTransportFactory};
pub use self::settings::{WhatsappSettings, parse_client_version};
use self::state::{LiveFlags, Phase, SessionState};
use super::{
    DeviceIdentity, DeviceReport, DeviceReports, DeviceStatus, InboundMessage, MediaDownload,
    MediaUpload, OutgoingMessage, PairingStep, QrCode, SendReceipt, Session, SessionDriver,
    SessionError,
};

/// A new session's generation, before its first client starts.
const OPENED_GENERATION: u64 = 0;

/// Opens WhatsApp linked-device sessions.
#[derive(Clone)]
pub struct WhatsappDriver {
    settings: WhatsappSettings,
    runtime: Handle,
    reports: Arc<dyn DeviceReports>,
    transport: Arc<dyn TransportFactory>,
    http: Arc<dyn HttpClient>,
    credentials: Arc<dyn CredentialStore>,
}

impl WhatsappDriver {
    /// A driver with WhatsApp's own endpoints (or the settings' overrides), credentials
    /// in `settings.store_path`, and every client on `runtime`.
    pub fn new(
        settings: WhatsappSettings,
        runtime: Handle,
        reports: Arc<dyn DeviceReports>,
    ) -> Result<Self, SessionError> {
        let mut transport = TokioWebSocketTransportFactory::new();
        if let Some(url) = &settings.socket_url {
            if !(url.starts_with("ws://") || url.starts_with("wss://")) {
                return Err(SessionError::Failed(format!(
                    "socket URL {url}: must start with ws:// or wss://"
                )));
            }
            transport = transport.with_url(url.clone());
        }
        if let Some(base) = &settings.media_base_url
            && !(base.starts_with("http://") || base.starts_with("https://"))
        {
            return Err(SessionError::Failed(format!(
                "media base URL {base}: must start with http:// or https://"
            )));
        }
        Ok(WhatsappDriver {
            credentials: Arc::new(SqliteCredentials::new(settings.store_path.clone())),
            settings,
            runtime,
            reports,
            transport: Arc::new(transport),
            http: Arc::new(UreqHttpClient::new()),
        })
    }

    /// Replaces how sockets are opened (an in-process WhatsApp server, for tests).
    pub fn with_transport_factory(mut self, factory: Arc<dyn TransportFactory>) -> Self {
        self.transport = factory;
        self
    }

    /// Replaces the HTTP client for media and the version fetch.
    pub fn with_http_client(mut self, client: Arc<dyn HttpClient>) -> Self {
        self.http = client;
        self
    }

    /// Replaces where credentials are kept (e.g. in memory, for tests).
    pub fn with_credentials(mut self, credentials: Arc<dyn CredentialStore>) -> Self {
        self.credentials = credentials;
        self
    }

    pub fn settings(&self) -> &WhatsappSettings {
        &self.settings
    }

    /// Opens a device's session and starts connecting in the background: it returns at
    /// once, also when WhatsApp cannot be reached.
    pub fn open_session(&self, device: &DeviceIdentity) -> Arc<WhatsappSession> {
        let (report_sender, report_receiver) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            device: device.clone(),
            driver: self.clone(),
            state: Arc::new(SessionState::new()),
            acks: AckWaiters::new(),
            generation: Arc::new(AtomicU64::new(OPENED_GENERATION)),
            client: Mutex::new(None),
            lifecycle: tokio::sync::Mutex::new(None),
            backend: tokio::sync::Mutex::new(None),
            reports: report_sender,
        });
        self.runtime.spawn(forward_reports(
            report_receiver,
            Arc::clone(&self.reports),
            Arc::downgrade(&inner),
        ));
        let starting = Arc::clone(&inner);
        self.runtime.spawn(async move {
            // Skipped if a `disconnect()` got in first: a device stopped right after it
            // was opened stays stopped.
            if let Err(error) = starting.start(Some(OPENED_GENERATION)).await {
                tracing::warn!(device = %starting.device.device_id, %error, "WhatsApp session did not start");
            }
        });
        Arc::new(WhatsappSession { inner })
    }
}

#[async_trait]
impl SessionDriver for WhatsappDriver {
    fn name(&self) -> &'static str {
        "whatsapp"
    }

    async fn open(&self, device: &DeviceIdentity) -> Result<Arc<dyn Session>, SessionError> {
        Ok(self.open_session(device))
    }

    async fn forget(&self, device: &DeviceIdentity) -> Result<(), SessionError> {
        self.credentials.forget(device).await
    }

    async fn linked_devices(
        &self,
    ) -> Result<Option<std::collections::HashSet<String>>, SessionError> {
        self.credentials.linked_devices().await.map(Some)
    }
}

/// Hands the device's reports to the host in order, off the client's read loop, after
/// filling in what the client knows and the event did not say: the device's own JID,
/// and the phone number behind a LID sender (or the LID behind a phone number) from the
/// mappings the client has learnt. Ends with the session.
async fn forward_reports(
    mut reports: mpsc::UnboundedReceiver<DeviceReport>,
    sink: Arc<dyn DeviceReports>,
    session: std::sync::Weak<Inner>,
) {
    while let Some(mut report) = reports.recv().await {
        let Some(inner) = session.upgrade() else {
            return;
        };
        let client = inner.client();
        match &mut report {
            DeviceReport::Received(message) => {
                if let Some(client) = &client {
                    complete_sender(client, message).await;
                }
            }
            DeviceReport::Connected { jid } => {
                *jid = client
                    .as_ref()
                    .and_then(|client| client.pn())
                    .map(|own| own.to_non_ad_string());
            }
            _ => {}
        }
        let device = inner.device.clone();
        let runtime = inner.driver.runtime.clone();
        drop(inner);
        let sink = Arc::clone(&sink);
        // The sink may write to the store; keep that off the async workers.
        let _ = runtime
            .spawn_blocking(move || sink.report(&device, report))
            .await;
    }
}

/// How long a LID lookup may take before the event goes out without it.
const LID_LOOKUP_TIMEOUT: Duration = Duration::from_secs(2);

/// Fills in the sender's phone number or LID from the client's mappings, and the
/// device's own JID.
async fn complete_sender(client: &Client, message: &mut InboundMessage) {
    message.own_jid = client.pn().map(|own| own.to_non_ad_string());
    let known = match (&message.sender_pn, &message.sender_lid) {
        (Some(_), Some(_)) => return,
        (None, Some(lid)) => lid.clone(),
        (Some(phone), None) => phone.clone(),
        (None, None) => return,
    };
    let Ok(jid) = known.parse::<Jid>() else {
        return;
    };
    let lookup = tokio::time::timeout(LID_LOOKUP_TIMEOUT, client.get_lid_pn_entry(&jid)).await;
    let Ok(Ok(Some(entry))) = lookup else {
        return;
    };
    message
        .sender_pn
        .get_or_insert_with(|| format!("{}@s.whatsapp.net", entry.phone_number));
    message
        .sender_lid
        .get_or_insert_with(|| format!("{}@lid", entry.lid));
}

/// One device's WhatsApp session.
pub struct WhatsappSession {
    inner: Arc<Inner>,
}

impl Drop for WhatsappSession {
    /// A dropped session's client must not live on beside a new one for the same
    /// credentials (the two would replace each other's stream forever).
    fn drop(&mut self) {
        let inner = Arc::clone(&self.inner);
        self.inner
            .driver
            .runtime
            .spawn(async move { inner.stop().await });
    }
}

struct Inner {
    device: DeviceIdentity,
    driver: WhatsappDriver,
    state: Arc<SessionState>,
    acks: Arc<AckWaiters>,
    /// Bumped for every client started or stopped; events of older clients are ignored.
    generation: Arc<AtomicU64>,
    /// The latest client, also after it stopped (it still knows the device's JID).
    client: Mutex<Option<Arc<Client>>>,
    /// Serialises `connect()` and `disconnect()`.
    lifecycle: tokio::sync::Mutex<Option<Running>>,
    backend: tokio::sync::Mutex<Option<Arc<dyn Backend>>>,
    reports: mpsc::UnboundedSender<DeviceReport>,
}

/// A started client and the task running its connection loop.
struct Running {
    client: Arc<Client>,
    task: tokio::task::JoinHandle<()>,
}

impl Inner {
    fn client(&self) -> Option<Arc<Client>> {
        self.client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// The client, when it can send right now: socket open and logged in.
    fn ready_client(&self) -> Result<Arc<Client>, SessionError> {
        match self.client() {
            Some(client) if client.is_connected() && client.is_logged_in() => Ok(client),
            _ => Err(SessionError::NotConnected),
        }
    }

    fn live_flags(&self) -> Option<LiveFlags> {
        self.client().map(|client| LiveFlags {
            socket_open: client.is_connected(),
            logged_in: client.is_logged_in(),
            jid: client.pn().map(|jid| jid.to_non_ad_string()),
        })
    }

    async fn backend(&self) -> Result<Arc<dyn Backend>, SessionError> {
        let mut cached = self.backend.lock().await;
        if let Some(backend) = cached.as_ref() {
            return Ok(Arc::clone(backend));
        }
        let backend = self.driver.credentials.backend_for(&self.device).await?;
        *cached = Some(Arc::clone(&backend));
        Ok(backend)
    }

    /// Starts a client unless one is running (or, with `only_at`, unless the session
    /// moved past that generation: a stop came first). Must run on the session runtime:
    /// building the client opens its store with the ambient runtime's blocking pool.
    async fn start(self: &Arc<Self>, only_at: Option<u64>) -> Result<(), SessionError> {
        let mut lifecycle = self.lifecycle.lock().await;
        if only_at.is_some_and(|generation| self.generation.load(Ordering::SeqCst) != generation) {
            return Ok(());
        }
        if lifecycle
            .as_ref()
            .is_some_and(|running| !running.task.is_finished())
        {
            return Ok(());
        }
        if self.state.snapshot().phase == Phase::LoggedOut {
            // The library keeps the revoked keys (`lifecycle.rs:862`); pairing again needs
            // fresh ones.
            self.driver.credentials.forget(&self.device).await?;
            *self.backend.lock().await = None;
            *self
                .client
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = None;
        }
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        self.state.restart();
        let bot = match self.build_bot(generation).await {
            Ok(bot) => bot,
            Err(error) => {
                self.state.ended(Phase::ConnectFailure, error.to_string());
                return Err(error);
            }
        };
        let client = bot.client();
        *self
            .client
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(Arc::clone(&client));
        let state = Arc::clone(&self.state);
        let current = Arc::clone(&self.generation);
        let task = self.driver.runtime.spawn(async move {
            bot.run().await;
            if current.load(Ordering::SeqCst) == generation {
                state.run_loop_ended();
            }
        });
        tracing::info!(device = %self.device.device_id, "WhatsApp client started");
        *lifecycle = Some(Running { client, task });
        Ok(())
    }

    async fn build_bot(self: &Arc<Self>, generation: u64) -> Result<Bot, SessionError> {
        let driver = &self.driver;
        let backend = self.backend().await?;
        let report_state = Arc::clone(&self.state);
        let report_generation = Arc::clone(&self.generation);
        let reports = self.reports.clone();
        let transport = ObservedTransportFactory::new(
            Arc::clone(&driver.transport),
            Arc::new(move |outcome| {
                if report_generation.load(Ordering::SeqCst) != generation {
                    return;
                }
                match outcome {
                    Ok(()) => {
                        let reason = "socket open; logging in";
                        let _ = reports.send(DeviceReport::State {
                            state: "connecting",
                            reason: Some(reason.into()),
                        });
                        report_state.connecting(reason);
                    }
                    Err(error) => report_state.unreachable(&format!("{error:#}")),
                }
            }),
        );
        let http = MediaHttpClient::new(
            Arc::clone(&driver.http),
            driver.settings.media_base_url.as_deref(),
        );
        let handler = DeviceEvents {
            generation,
            current: Arc::clone(&self.generation),
            state: Arc::clone(&self.state),
            acks: Arc::clone(&self.acks),
            reports: self.reports.clone(),
        };
        let mut builder = Bot::builder()
            .with_backend_arc(backend)
            .with_transport_factory(transport)
            .with_http_client(http)
            .with_runtime(HandleRuntime::new(driver.runtime.clone()))
            .with_event_handler(handler)
            // A gateway sends; the phone's chat history is not its business.
            .skip_history_sync();
        if let Some(version) = driver.settings.client_version {
            builder = builder.with_version(version);
        }
        builder.build().await.map_err(|error| {
            SessionError::Failed(format!("cannot start the WhatsApp client: {error}"))
        })
    }

    /// Logs the device out and forgets it: WhatsApp is asked to unlink the companion
    /// when the client is connected (`Client::logout` sends the request only then and
    /// tears down locally either way), then the client stops and the credentials go.
    async fn remove(self: &Arc<Self>) -> Result<(), SessionError> {
        let client = self
            .lifecycle
            .lock()
            .await
            .as_ref()
            .map(|running| Arc::clone(&running.client));
        if let Some(client) = client {
            let logout = client.logout();
            if tokio::time::timeout(self.driver.settings.connect_timeout, logout)
                .await
                .is_err()
            {
                tracing::warn!(device = %self.device.device_id, "WhatsApp logout did not finish in time");
            }
        }
        self.stop().await;
        self.driver.credentials.forget(&self.device).await?;
        *self.backend.lock().await = None;
        Ok(())
    }

    /// Stops the client, keeping its credentials.
    async fn stop(self: &Arc<Self>) {
        let mut lifecycle = self.lifecycle.lock().await;
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.acks
            .fail_all("disconnected on request before the server acknowledged the message");
        if let Some(running) = lifecycle.take() {
            let abort = running.task.abort_handle();
            let client = running.client;
            let stopping = async move {
                // Flushes the device state and closes the socket (`lifecycle.rs:897`).
                client.disconnect().await;
                let _ = running.task.await;
            };
            if tokio::time::timeout(self.driver.settings.connect_timeout, stopping)
                .await
                .is_err()
            {
                tracing::warn!(device = %self.device.device_id, "WhatsApp client did not stop in time; aborted");
                abort.abort();
            }
        }
        self.state.ended(
            Phase::Stopped,
            "disconnected on request; POST /connect reconnects".into(),
        );
    }

    /// Runs `work` on the session runtime: client calls spawn tasks and read timers on
    /// the runtime they run on, which must not be an actix worker's.
    async fn on_runtime<T: Send + 'static>(
        &self,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<T, SessionError> {
        self.driver
            .runtime
            .spawn(work)
            .await
            .map_err(|error| SessionError::Failed(format!("WhatsApp task failed: {error}")))
    }
}

#[async_trait]
impl Session for WhatsappSession {
    fn status(&self) -> DeviceStatus {
        self.inner
            .state
            .snapshot()
            .status(self.inner.live_flags().as_ref())
    }

    async fn send(&self, message: OutgoingMessage) -> Result<SendReceipt, SessionError> {
        let inner = &self.inner;
        let client = inner.ready_client()?;
        let protobuf = wa::Message::decode_from_slice(&message.message).map_err(|error| {
            SessionError::Failed(format!("the message is not a valid waE2E.Message: {error}"))
        })?;
        let to: Jid = message.to.parse().map_err(|error| {
            SessionError::Failed(format!("invalid recipient JID {}: {error}", message.to))
        })?;
        let extra = nodes::extra_nodes_for(&protobuf, &to, message.nodes.to_tree());
        let options = SendOptions::default()
            .with_message_id(message.message_id.clone())
            .with_extra_stanza_nodes(extra);
        // Registered before the stanza is written, so an early ack is not missed; dropped
        // (by the caller's timeout) it unregisters.
        let waiter = inner.acks.register(&message.message_id)?;
        // Spawned, not awaited in place: if the caller gives up, the stanza is still
        // written whole instead of being cut off halfway through the send pipeline.
        inner
            .on_runtime(async move {
                client
                    .send_message_with_options(to, protobuf, options)
                    .await
            })
            .await?
            .map_err(send_error)?;
        waiter.wait().await
    }

    async fn upload_media(&self, upload: MediaUpload) -> Result<MediaReference, SessionError> {
        let client = self.inner.ready_client()?;
        let media_type = media_type(upload.kind);
        let uploaded = self
            .inner
            .on_runtime(async move {
                client
                    .upload(upload.bytes, media_type, UploadOptions::new())
                    .await
            })
            .await?
            .map_err(|error| SessionError::UploadFailed {
                reason: format!("{error:#}"),
            })?;
        Ok(MediaReference {
            url: uploaded.url,
            direct_path: uploaded.direct_path,
            media_key: uploaded.media_key.to_vec(),
            file_sha256: uploaded.file_sha256.to_vec(),
            file_enc_sha256: uploaded.file_enc_sha256.to_vec(),
            file_length: uploaded.file_length,
            media_key_timestamp: uploaded.media_key_timestamp,
        })
    }

    async fn download_media(&self, media: MediaDownload) -> Result<Vec<u8>, SessionError> {
        let client = self.inner.ready_client()?;
        let params = DownloadParams::encrypted(
            media.direct_path,
            &media.media_key,
            &media.file_sha256,
            &media.file_enc_sha256,
            media.file_length,
            media_type(media.kind),
        );
        self.inner
            .on_runtime(async move { client.download(&params).await })
            .await?
            .map_err(|error| SessionError::DownloadFailed {
                reason: format!("{error:#}"),
            })
    }

    async fn send_presence(
        &self,
        chat_jid: &str,
        presence: Option<PresenceKind>,
    ) -> Result<(), SessionError> {
        let client = self.inner.ready_client()?;
        let chat: Jid = chat_jid.parse().map_err(|error| {
            SessionError::Failed(format!("invalid chat JID {chat_jid}: {error}"))
        })?;
        let state = match presence {
            Some(PresenceKind::Composing) => ChatStateType::Composing,
            Some(PresenceKind::Recording) => ChatStateType::Recording,
            None => ChatStateType::Paused,
        };
        self.inner
            .on_runtime(async move { client.chatstate().send(&chat, state).await })
            .await?
            .map_err(|error| SessionError::Failed(format!("chat presence: {error}")))
    }

    async fn connect(&self) -> Result<(), SessionError> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .on_runtime(async move { inner.start(None).await })
            .await?
    }

    async fn disconnect(&self) -> Result<(), SessionError> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .on_runtime(async move { inner.stop().await })
            .await
    }

    async fn remove(&self) -> Result<(), SessionError> {
        let inner = Arc::clone(&self.inner);
        self.inner
            .on_runtime(async move { inner.remove().await })
            .await?
    }

    async fn qr_code(&self, wait: Duration) -> Result<QrCode, SessionError> {
        let inner = Arc::clone(&self.inner);
        let no_code_coming = move || {
            let flags = inner.live_flags().unwrap_or_default();
            if flags.logged_in {
                return Some(SessionError::AlreadyConnected);
            }
            let snapshot = inner.state.snapshot();
            if snapshot.phase.is_terminal() {
                return Some(SessionError::PairingUnavailable {
                    step: PairingStep::Qr,
                    state: snapshot.phase.word().to_string(),
                    reason: snapshot.last_error.unwrap_or_default(),
                });
            }
            // A paired device logs in with its keys; no QR code will come.
            flags.jid.map(|jid| SessionError::AlreadyPaired { jid })
        };
        self.inner.state.wait_for_qr(wait, no_code_coming).await
    }

    async fn pair_code(&self, phone: &str) -> Result<String, SessionError> {
        let phone_number = pairing_phone(phone)?;
        let client = self.inner.client().ok_or(SessionError::NotStarted)?;
        if client.is_logged_in() {
            return Err(SessionError::AlreadyConnected);
        }
        // A stopped client opens no socket again: waiting for one would only time out.
        let snapshot = self.inner.state.snapshot();
        if snapshot.phase.is_terminal() {
            return Err(SessionError::PairingUnavailable {
                step: PairingStep::PairCode,
                state: snapshot.phase.word().to_string(),
                reason: snapshot.last_error.unwrap_or_default(),
            });
        }
        let wait = self.inner.driver.settings.connect_timeout;
        let state = Arc::clone(&self.inner.state);
        self.inner
            .on_runtime(async move {
                if client.wait_for_socket(wait).await.is_err() {
                    let reason = state.snapshot().last_error.unwrap_or_default();
                    return Err(SessionError::Unreachable { reason });
                }
                let options = PairCodeOptions {
                    phone_number,
                    ..PairCodeOptions::default()
                };
                client
                    .pair_with_code(options)
                    .await
                    .map_err(|error| SessionError::PairingFailed {
                        reason: error.to_string(),
                    })
            })
            .await?
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The library's send errors as the host's: not logged in is "not connected".
fn send_error(error: SendError) -> SessionError {
    match error {
        SendError::NotLoggedIn => SessionError::NotConnected,
        SendError::Client(ClientError::NotConnected | ClientError::NotLoggedIn) => {
            SessionError::NotConnected
        }
        other => SessionError::Failed(other.to_string()),
    }
}

fn media_type(kind: MediaKind) -> MediaType {
    match kind {
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Document => MediaType::Document,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// The number the pair code is for, by the API's one phone rule
/// ([`wuts_plugin_api::recipient::normalize_phone`]): digits only, with the country code.
fn pairing_phone(phone: &str) -> Result<String, SessionError> {
    normalize_phone(phone).map_err(|_| SessionError::InvalidPhone {
        phone: phone.to_string(),
        reason: "give the number with its country code, 7 to 15 digits, e.g. 5511999999999"
            .to_string(),
    })
}

#[cfg(test)]
mod tests;
