//! A bare `whatsapp-rust` client against the offline server, for tests that read what
//! the client itself reports: every event it emits (`MessageInfo` of received messages,
//! `Receipt`s) and its media downloads. The host's driver keeps only some of that.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use whatsapp_rust::bot::Bot;
use whatsapp_rust::http::UreqHttpClient;
use whatsapp_rust::store::traits::Backend;
use whatsapp_rust::transport::TokioWebSocketTransportFactory;
use whatsapp_rust::types::events::{Event, EventHandler};
use whatsapp_rust::{Client, TokioRuntime};
use wuts_host::session::DeviceIdentity;
use wuts_host::session::whatsapp::credentials::{CredentialStore, MemoryCredentials};
use wuts_host::session::whatsapp::seams::MediaHttpClient;
use wuts_wa_server::{CLIENT_VERSION, FakeWhatsApp, SeededDevice, seed_backend};

pub const WAIT: Duration = Duration::from_secs(15);

/// Every event the client emitted, in order.
#[derive(Default)]
pub struct Events(Mutex<Vec<Arc<Event>>>);

struct Recorder(Arc<Events>);

impl EventHandler for Recorder {
    fn handle_event(&self, event: Arc<Event>) {
        self.0.0.lock().unwrap().push(event);
    }
}

impl Events {
    /// Waits until `pick` finds something in an event, and returns it.
    pub async fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self.0.lock().unwrap().iter().find_map(|event| pick(event));
            if let Some(found) = found {
                return found;
            }
            assert!(Instant::now() < deadline, "no {what} in time");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// A logged-in client of a device seeded as paired, and the server it talks to.
pub struct BareClient {
    pub server: FakeWhatsApp,
    pub client: Arc<Client>,
    pub events: Arc<Events>,
    /// The device's credentials, to log in again elsewhere.
    pub backend: Arc<dyn Backend>,
    run: tokio::task::JoinHandle<()>,
}

/// The account the seeded device belongs to.
pub const OWN_PHONE: &str = "5511888888888";

impl BareClient {
    /// Starts a server and a client of a freshly seeded device logged in to it.
    pub async fn start() -> BareClient {
        let identity = DeviceIdentity {
            device_id: "dev_bare".into(),
            tenant_id: "tenant".into(),
            user_id: "user".into(),
        };
        let backend = MemoryCredentials::new()
            .backend_for(&identity)
            .await
            .expect("a backend");
        seed_backend(Arc::clone(&backend), &SeededDevice::new(OWN_PHONE, 7))
            .await
            .expect("seeded");
        BareClient::start_with(backend).await
    }

    /// Starts a server and a client of the device in `backend` logged in to it.
    pub async fn start_with(backend: Arc<dyn Backend>) -> BareClient {
        let server = FakeWhatsApp::start().await.expect("the server starts");
        let events = Arc::new(Events::default());
        let bot = Bot::builder()
            .with_backend_arc(Arc::clone(&backend))
            .with_transport_factory(
                TokioWebSocketTransportFactory::new().with_url(server.socket_url()),
            )
            .with_http_client(MediaHttpClient::new(
                Arc::new(UreqHttpClient::new()),
                Some(&server.media_base_url()),
            ))
            .with_runtime(TokioRuntime)
            .with_event_handler(Recorder(Arc::clone(&events)))
            .with_version(CLIENT_VERSION)
            .skip_history_sync()
            .build()
            .await
            .expect("a client");
        let client = bot.client();
        let run = tokio::spawn(bot.run());
        let deadline = Instant::now() + WAIT;
        while !(client.is_connected() && client.is_logged_in()) {
            assert!(Instant::now() < deadline, "the client did not log in");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        BareClient {
            server,
            client,
            events,
            backend,
            run,
        }
    }
}

impl Drop for BareClient {
    fn drop(&mut self) {
        self.run.abort();
    }
}
