//! The driver end to end through its seams: a fake transport, a fake HTTP client,
//! credentials in memory or in a scratch SQLite file, and no network.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use whatsapp_rust::anyhow;
use whatsapp_rust::async_channel::{self, Receiver};
use whatsapp_rust::async_trait as wa_async_trait;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::http::{HttpRequest, HttpResponse};
use whatsapp_rust::transport::{Transport, TransportEvent};

use super::credentials::MemoryCredentials;
use super::*;

/// WhatsApp cannot be reached: every socket fails at once.
struct Unreachable;

#[wa_async_trait]
impl TransportFactory for Unreachable {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, Receiver<TransportEvent>), anyhow::Error> {
        Err(anyhow::anyhow!("network is unreachable"))
    }
}

/// A socket opens but the server never answers; what the client writes is kept.
#[derive(Default)]
struct Silent {
    frames: Arc<Mutex<Vec<Bytes>>>,
    // Held so the client's event stream stays open.
    senders: Mutex<Vec<async_channel::Sender<TransportEvent>>>,
}

struct SilentTransport(Arc<Mutex<Vec<Bytes>>>);

#[wa_async_trait]
impl Transport for SilentTransport {
    async fn send(&self, data: Bytes) -> Result<(), anyhow::Error> {
        self.0.lock().unwrap().push(data);
        Ok(())
    }

    async fn disconnect(&self) {}
}

#[wa_async_trait]
impl TransportFactory for Silent {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, Receiver<TransportEvent>), anyhow::Error> {
        let (sender, receiver) = async_channel::unbounded();
        let _ = sender.try_send(TransportEvent::Connected);
        self.senders.lock().unwrap().push(sender);
        Ok((
            Arc::new(SilentTransport(Arc::clone(&self.frames))),
            receiver,
        ))
    }
}

/// Media and version requests go nowhere.
struct NoHttp;

#[wa_async_trait]
impl HttpClient for NoHttp {
    async fn execute(&self, _request: HttpRequest) -> anyhow::Result<HttpResponse> {
        Err(anyhow::anyhow!("no HTTP in tests"))
    }
}

fn session_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    }
}

/// Stands in for an actix worker: a runtime of its own, on the calling thread.
fn caller_runtime() -> tokio::runtime::Runtime {
    match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("runtime: {error}"),
    }
}

fn device(id: &str) -> DeviceIdentity {
    DeviceIdentity {
        device_id: id.into(),
        tenant_id: "tenant".into(),
        user_id: "user".into(),
    }
}

fn settings(path: &std::path::Path) -> WhatsappSettings {
    WhatsappSettings::new(path)
        .with_client_version((2, 3000, 1_027_934_701))
        .with_connect_timeout(Duration::from_millis(300))
}

fn offline_driver(
    runtime: &tokio::runtime::Runtime,
    factory: Arc<dyn TransportFactory>,
) -> WhatsappDriver {
    let driver = WhatsappDriver::new(
        settings(std::path::Path::new("/nonexistent/whatsapp.db")),
        runtime.handle().clone(),
        Arc::new(crate::session::NoReports),
    );
    match driver {
        Ok(driver) => driver
            .with_transport_factory(factory)
            .with_http_client(Arc::new(NoHttp))
            .with_credentials(Arc::new(MemoryCredentials::new())),
        Err(error) => panic!("driver: {error}"),
    }
}

fn message() -> OutgoingMessage {
    let text = wa::Message {
        conversation: Some("hi".into()),
        ..Default::default()
    };
    OutgoingMessage {
        message_id: "3EB0AAAAAAAAAAAAAAAAAA".into(),
        to: "5511999999999@s.whatsapp.net".into(),
        message: text.encode_to_vec(),
        nodes: Default::default(),
        route: "/send/text".into(),
    }
}

/// Polls `status()` until `check` holds, for up to two seconds.
fn wait_for_status(session: &dyn Session, check: impl Fn(&DeviceStatus) -> bool) -> DeviceStatus {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let status = session.status();
        if check(&status) || Instant::now() > deadline {
            return status;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn without_network_open_returns_at_once_and_sends_fail_at_once() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let driver = offline_driver(&runtime, Arc::new(Unreachable));

    let started = Instant::now();
    let session = caller
        .block_on(driver.open(&device("dev_offline")))
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "open took {:?}",
        started.elapsed()
    );

    let status = wait_for_status(session.as_ref(), |status| {
        status
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("cannot reach WhatsApp"))
    });
    assert!(!status.connected);
    assert!(!status.logged_in);
    assert_eq!(status.state, "disconnected");
    assert!(
        status
            .last_error
            .unwrap()
            .contains("network is unreachable")
    );

    let started = Instant::now();
    assert_eq!(
        caller.block_on(session.send(message())).unwrap_err(),
        SessionError::NotConnected
    );
    let upload = MediaUpload {
        bytes: vec![1, 2, 3],
        kind: MediaKind::Audio,
        mimetype: "audio/ogg".into(),
    };
    assert_eq!(
        caller.block_on(session.upload_media(upload)).unwrap_err(),
        SessionError::NotConnected
    );
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "took {:?}",
        started.elapsed()
    );

    runtime.shutdown_background();
}

#[test]
fn without_network_pairing_requests_fail_with_clear_errors() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let driver = offline_driver(&runtime, Arc::new(Unreachable));
    let session = caller
        .block_on(driver.open(&device("dev_pairing")))
        .unwrap();

    let error = caller
        .block_on(session.qr_code(Duration::from_millis(50)))
        .unwrap_err();
    assert_eq!(error, SessionError::QrTimeout);

    let bad_phone = caller.block_on(session.pair_code("call me")).unwrap_err();
    assert!(
        matches!(bad_phone, SessionError::InvalidPhone { .. }),
        "{bad_phone}"
    );
    assert!(
        bad_phone.to_string().contains("country code"),
        "{bad_phone}"
    );

    wait_for_status(session.as_ref(), |status| status.state == "disconnected");
    let no_socket = caller
        .block_on(session.pair_code("+55 11 99999-9999"))
        .unwrap_err();
    assert!(
        matches!(no_socket, SessionError::Unreachable { .. }),
        "{no_socket}"
    );

    runtime.shutdown_background();
}

#[test]
fn disconnect_stops_with_a_reason_and_connect_starts_again() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let driver = offline_driver(&runtime, Arc::new(Unreachable));
    let session = caller.block_on(driver.open(&device("dev_cycle"))).unwrap();
    wait_for_status(session.as_ref(), |status| status.state == "disconnected");

    caller.block_on(session.disconnect()).unwrap();
    let status = session.status();
    assert_eq!(status.state, "stopped");
    assert!(status.last_error.unwrap().contains("POST /connect"));
    let started = Instant::now();
    let no_qr = caller
        .block_on(session.qr_code(Duration::from_secs(5)))
        .unwrap_err();
    assert!(
        no_qr.to_string().starts_with("no QR code while stopped"),
        "{no_qr}"
    );
    let no_code = caller
        .block_on(session.pair_code("5511999999999"))
        .unwrap_err();
    assert!(
        no_code
            .to_string()
            .starts_with("no pair code while stopped"),
        "{no_code}"
    );
    assert!(started.elapsed() < Duration::from_secs(1));
    // Stays stopped: the old client's retries no longer count.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(session.status().state, "stopped");
    assert_eq!(
        caller.block_on(session.send(message())).unwrap_err(),
        SessionError::NotConnected
    );

    caller.block_on(session.connect()).unwrap();
    let status = wait_for_status(session.as_ref(), |status| status.state == "disconnected");
    assert_eq!(status.state, "disconnected");
    assert!(status.last_error.unwrap().contains("cannot reach WhatsApp"));
    // Connecting twice is harmless.
    caller.block_on(session.connect()).unwrap();

    runtime.shutdown_background();
}

#[test]
fn the_client_talks_through_the_injected_transport() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let factory = Arc::new(Silent::default());
    let frames = Arc::clone(&factory.frames);
    let driver = offline_driver(&runtime, factory);
    let session = caller.block_on(driver.open(&device("dev_silent"))).unwrap();

    let status = wait_for_status(session.as_ref(), |status| {
        status.last_error.as_deref() == Some("socket open; logging in")
            || status.last_error.as_deref() == Some("connecting to WhatsApp")
    });
    assert_eq!(status.state, "connecting");
    let deadline = Instant::now() + Duration::from_secs(2);
    while frames.lock().unwrap().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    // The Noise ClientHello, behind WhatsApp's "WA" connection header.
    let first = frames.lock().unwrap().first().cloned().unwrap_or_default();
    assert_eq!(&first[..2], b"WA");
    assert_eq!(
        caller.block_on(session.send(message())).unwrap_err(),
        SessionError::NotConnected
    );

    runtime.shutdown_background();
}

#[test]
fn the_default_store_is_one_sqlite_file_for_all_devices() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let path = std::env::temp_dir()
        .join(format!("wuts-wa-driver-{}", uuid::Uuid::new_v4().simple()))
        .join("whatsapp.db");
    let driver = match WhatsappDriver::new(
        settings(&path),
        runtime.handle().clone(),
        Arc::new(crate::session::NoReports),
    ) {
        Ok(driver) => driver
            .with_transport_factory(Arc::new(Unreachable))
            .with_http_client(Arc::new(NoHttp)),
        Err(error) => panic!("driver: {error}"),
    };
    let first = caller.block_on(driver.open(&device("dev_a"))).unwrap();
    let second = caller.block_on(driver.open(&device("dev_b"))).unwrap();
    for session in [&first, &second] {
        let status = wait_for_status(session.as_ref(), |status| status.state == "disconnected");
        assert_eq!(status.state, "disconnected", "{status:?}");
    }
    assert!(path.exists());
    assert_ne!(
        credentials::device_slot(&path, "dev_a").unwrap(),
        credentials::device_slot(&path, "dev_b").unwrap()
    );
    runtime.shutdown_background();
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn settings_with_bad_urls_are_refused() {
    let runtime = session_runtime();
    let bad_socket = WhatsappDriver::new(
        WhatsappSettings::new("/tmp/x.db").with_socket_url("http://example"),
        runtime.handle().clone(),
        Arc::new(crate::session::NoReports),
    );
    assert!(bad_socket.is_err());
    let bad_media = WhatsappDriver::new(
        WhatsappSettings::new("/tmp/x.db").with_media_base_url("ftp://example"),
        runtime.handle().clone(),
        Arc::new(crate::session::NoReports),
    );
    assert!(bad_media.is_err());
    runtime.shutdown_background();
}

#[test]
fn pairing_phones_are_digits_with_a_country_code() {
    assert_eq!(
        pairing_phone("+55 (11) 99999-9999").unwrap(),
        "5511999999999"
    );
    assert!(pairing_phone("0800123456").is_err());
    assert!(pairing_phone("12345").is_err());
    assert!(pairing_phone("55abc11999999999").is_err());
}

#[test]
fn send_errors_map_not_logged_in_to_not_connected() {
    assert_eq!(
        send_error(SendError::NotLoggedIn),
        SessionError::NotConnected
    );
    assert_eq!(
        send_error(SendError::Client(whatsapp_rust::ClientError::NotConnected)),
        SessionError::NotConnected
    );
    assert!(matches!(
        send_error(SendError::InvalidRequest("x".into())),
        SessionError::Failed(_)
    ));
}

#[test]
fn reports_reach_the_sink_in_order_with_the_device() {
    struct Recorder(Mutex<Vec<String>>);
    impl DeviceReports for Recorder {
        fn report(&self, device: &DeviceIdentity, report: DeviceReport) {
            let what = match report {
                DeviceReport::Received(message) => message.message_id,
                DeviceReport::Disconnected { reason } => reason,
                other => format!("{other:?}"),
            };
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{what}", device.device_id));
        }
    }
    let runtime = session_runtime();
    let caller = caller_runtime();
    let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
    let driver = match WhatsappDriver::new(
        settings(std::path::Path::new("/nonexistent/whatsapp.db")),
        runtime.handle().clone(),
        recorder.clone(),
    ) {
        Ok(driver) => driver
            .with_transport_factory(Arc::new(Unreachable))
            .with_http_client(Arc::new(NoHttp))
            .with_credentials(Arc::new(MemoryCredentials::new())),
        Err(error) => panic!("driver: {error}"),
    };
    let session = driver.open_session(&device("dev_in"));
    caller.block_on(session.disconnect()).unwrap();
    for id in ["1", "2", "3"] {
        let message = InboundMessage {
            message_id: id.into(),
            chat_jid: "1@s.whatsapp.net".into(),
            sender_jid: "1@s.whatsapp.net".into(),
            timestamp: chrono::Utc::now(),
            ..InboundMessage::default()
        };
        session
            .inner
            .reports
            .send(DeviceReport::Received(message))
            .unwrap();
    }
    let received = || {
        recorder
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|line| line.len() == "dev_in:1".len())
            .cloned()
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(5);
    while received().len() < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(received(), ["dev_in:1", "dev_in:2", "dev_in:3"]);
    drop(session);
    runtime.shutdown_background();
}

#[test]
fn a_disconnect_right_after_open_is_not_undone_by_the_first_start() {
    let runtime = session_runtime();
    let caller = caller_runtime();
    let driver = offline_driver(&runtime, Arc::new(Unreachable));
    for attempt in 0..20 {
        let session = caller
            .block_on(driver.open(&device(&format!("dev_early_stop_{attempt}"))))
            .unwrap();
        caller.block_on(session.disconnect()).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let status = session.status();
        assert_eq!(status.state, "stopped", "attempt {attempt}: {status:?}");
    }
    let session = caller
        .block_on(driver.open(&device("dev_early_stop_then_connect")))
        .unwrap();
    caller.block_on(session.disconnect()).unwrap();
    caller.block_on(session.connect()).unwrap();
    let status = wait_for_status(session.as_ref(), |status| status.state == "disconnected");
    assert_eq!(status.state, "disconnected", "{status:?}");
    runtime.shutdown_background();
}
