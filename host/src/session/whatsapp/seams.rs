//! The replaceable parts around the client: a transport factory that reports whether the
//! socket opened, and an HTTP client that can send media to another base URL.

use std::sync::Arc;

use whatsapp_rust::anyhow;
use whatsapp_rust::async_channel::Receiver;
use whatsapp_rust::async_trait;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse};
use whatsapp_rust::transport::{Transport, TransportEvent, TransportFactory};
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};

/// Told the outcome of every attempt to open the socket.
pub type TransportReport = Arc<dyn Fn(Result<(), &anyhow::Error>) + Send + Sync>;

/// Wraps a transport factory to see its failures.
///
/// The client's run loop logs a failed connect and retries with backoff, emitting no
/// event (`whatsapp-rust` `src/client/lifecycle.rs:577-587`); without this the device
/// would say "connecting" forever when WhatsApp is unreachable.
pub struct ObservedTransportFactory {
    inner: Arc<dyn TransportFactory>,
    report: TransportReport,
}

impl ObservedTransportFactory {
    pub fn new(inner: Arc<dyn TransportFactory>, report: TransportReport) -> Self {
        ObservedTransportFactory { inner, report }
    }
}

#[async_trait]
impl TransportFactory for ObservedTransportFactory {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, Receiver<TransportEvent>), anyhow::Error> {
        let created = self.inner.create_transport().await;
        (self.report)(created.as_ref().map(|_| ()));
        created
    }
}

/// The client's HTTP: the chosen client, optionally sending every request to `base`
/// (scheme, host and port) while keeping path and query.
pub struct MediaHttpClient {
    inner: Arc<dyn HttpClient>,
    base: Option<String>,
}

impl MediaHttpClient {
    pub fn new(inner: Arc<dyn HttpClient>, base: Option<&str>) -> Self {
        MediaHttpClient {
            inner,
            base: base.map(|base| base.trim_end_matches('/').to_owned()),
        }
    }

    fn rebase(&self, mut request: HttpRequest) -> HttpRequest {
        if let Some(base) = &self.base {
            request.url = rebase_url(&request.url, base);
        }
        request
    }
}

/// `https://mmg.whatsapp.net/mms/audio/x?auth=y` on `http://127.0.0.1:9000` becomes
/// `http://127.0.0.1:9000/mms/audio/x?auth=y`.
pub fn rebase_url(url: &str, base: &str) -> String {
    let after_scheme = url.find("://").map_or(0, |index| index + 3);
    let path_start = url[after_scheme..]
        .find(['/', '?'])
        .map_or(url.len(), |index| after_scheme + index);
    format!("{}{}", base.trim_end_matches('/'), &url[path_start..])
}

#[async_trait]
impl HttpClient for MediaHttpClient {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        self.inner.execute(self.rebase(request)).await
    }

    fn supports_streaming(&self) -> bool {
        self.inner.supports_streaming()
    }

    fn execute_streaming(&self, request: HttpRequest) -> anyhow::Result<StreamingHttpResponse> {
        self.inner.execute_streaming(self.rebase(request))
    }

    fn supports_upload_streaming(&self) -> bool {
        self.inner.supports_upload_streaming()
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> anyhow::Result<HttpResponse> {
        self.inner
            .execute_upload(self.rebase(request), body, content_length)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    #[test]
    fn urls_keep_their_path_and_query_on_the_new_base() {
        let base = "http://127.0.0.1:9000/";
        assert_eq!(
            rebase_url(
                "https://mmg.whatsapp.net/mms/audio/abc?auth=x&token=y",
                base
            ),
            "http://127.0.0.1:9000/mms/audio/abc?auth=x&token=y"
        );
        assert_eq!(
            rebase_url("https://web.whatsapp.com", base),
            "http://127.0.0.1:9000"
        );
        assert_eq!(
            rebase_url("https://host?x=1", base),
            "http://127.0.0.1:9000?x=1"
        );
    }

    struct Recorder(Mutex<Vec<String>>);

    #[async_trait]
    impl HttpClient for Recorder {
        async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
            self.0.lock().unwrap().push(request.url);
            Ok(HttpResponse {
                status_code: 200,
                body: Vec::new(),
            })
        }
    }

    #[tokio::test]
    async fn the_rebased_client_sends_to_the_base() {
        let recorder = Arc::new(Recorder(Mutex::new(Vec::new())));
        let client = MediaHttpClient::new(recorder.clone(), Some("http://127.0.0.1:9000"));
        client
            .execute(HttpRequest::post("https://mmg.whatsapp.net/mms/image/h"))
            .await
            .unwrap();
        let untouched = MediaHttpClient::new(recorder.clone(), None);
        untouched
            .execute(HttpRequest::get("https://web.whatsapp.com/sw.js"))
            .await
            .unwrap();
        assert_eq!(
            recorder.0.lock().unwrap().as_slice(),
            [
                "http://127.0.0.1:9000/mms/image/h",
                "https://web.whatsapp.com/sw.js"
            ]
        );
    }

    struct Unreachable;

    #[async_trait]
    impl TransportFactory for Unreachable {
        async fn create_transport(
            &self,
        ) -> Result<(Arc<dyn Transport>, Receiver<TransportEvent>), anyhow::Error> {
            Err(anyhow::anyhow!("network is unreachable"))
        }
    }

    #[tokio::test]
    async fn failed_sockets_are_reported() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let factory = ObservedTransportFactory::new(
            Arc::new(Unreachable),
            Arc::new(move |outcome: Result<(), &anyhow::Error>| {
                sink.lock()
                    .unwrap()
                    .push(outcome.map_err(|e| e.to_string()));
            }),
        );
        assert!(factory.create_transport().await.is_err());
        assert_eq!(
            seen.lock().unwrap().as_slice(),
            [Err("network is unreachable".to_owned())]
        );
    }
}
