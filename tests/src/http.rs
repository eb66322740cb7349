//! A small blocking HTTP client for the tests: every call has a timeout, no status is an error.

use std::io::Read;
use std::time::Duration;

use serde_json::Value;
use ureq::{Agent, SendBody};

/// How long any single HTTP call may take, from connect to the last byte of the response.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);

/// The `Authorization` header a request carries.
#[derive(Debug, Clone, Copy)]
pub enum Auth<'a> {
    /// No `Authorization` header at all.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(&'a str),
    /// `Authorization: <value>`, exactly as given.
    Raw(&'a str),
}

/// A request body.
pub enum Body<'a> {
    /// No body (`Content-Length: 0` on a POST).
    Empty,
    /// These bytes, with this `Content-Type`, sent with a `Content-Length`.
    Bytes {
        content_type: &'a str,
        bytes: &'a [u8],
    },
    /// These bytes, with this `Content-Type`, sent with `Transfer-Encoding: chunked`.
    Chunked {
        content_type: &'a str,
        bytes: &'a [u8],
    },
}

/// A response: its status and the raw body.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    /// The `Retry-After` header, when there was one.
    pub retry_after: Option<String>,
    /// The `X-Request-Id` header, when there was one.
    pub request_id: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    /// The body as text (lossy UTF-8).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    /// If the body is not JSON, showing the status and the text.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "expected a JSON body, got status {} with {:?} ({e})",
                self.status,
                self.text()
            )
        })
    }

    /// The body as JSON; a body that is not JSON becomes a JSON string of its text, so that an
    /// assertion comparing it with an object fails showing what came back; an empty body is null.
    pub fn json_or_text(&self) -> Value {
        if self.body.is_empty() {
            return Value::Null;
        }
        serde_json::from_slice(&self.body).unwrap_or_else(|_| Value::String(self.text()))
    }
}

/// A client bound to one server's base URL.
#[derive(Clone)]
pub struct Client {
    agent: Agent,
    base_url: String,
}

impl Client {
    /// A client for `base_url` (`http://127.0.0.1:PORT`, no trailing slash).
    pub fn new(base_url: &str) -> Self {
        let config = Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(CALL_TIMEOUT))
            // A fresh connection per call: a server that closes a connection after an error
            // (a 413, say) must not make the next call fail on a stale pooled one.
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .build();
        Self {
            agent: config.into(),
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    /// The absolute URL of `path` (which starts with `/`, and may carry a query).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// `GET path`.
    pub fn get(&self, path: &str, auth: Auth<'_>) -> Reply {
        let mut request = self.agent.get(self.url(path));
        if let Some(value) = header_value(auth) {
            request = request.header("Authorization", value);
        }
        finish(path, request.call())
    }

    /// `POST path` with `body`.
    pub fn post(&self, path: &str, auth: Auth<'_>, body: Body<'_>) -> Reply {
        let mut request = self.agent.post(self.url(path));
        if let Some(value) = header_value(auth) {
            request = request.header("Authorization", value);
        }
        let result = match body {
            Body::Empty => request.send_empty(),
            Body::Bytes {
                content_type,
                bytes,
            } => request.content_type(content_type).send(bytes),
            Body::Chunked {
                content_type,
                bytes,
            } => {
                let mut reader: &[u8] = bytes;
                let reader: &mut dyn Read = &mut reader;
                request
                    .content_type(content_type)
                    .send(SendBody::from_reader(reader))
            }
        };
        finish(path, result)
    }

    /// `DELETE path` (no body).
    pub fn delete(&self, path: &str, auth: Auth<'_>) -> Reply {
        let mut request = self.agent.delete(self.url(path));
        if let Some(value) = header_value(auth) {
            request = request.header("Authorization", value);
        }
        finish(path, request.call())
    }

    /// `GET path` with extra request headers.
    pub fn get_with(&self, path: &str, auth: Auth<'_>, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.agent.get(self.url(path));
        if let Some(value) = header_value(auth) {
            request = request.header("Authorization", value);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        finish(path, request.call())
    }

    /// `PUT path` with `body` serialized as JSON.
    pub fn put_json(&self, path: &str, auth: Auth<'_>, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        let mut request = self.agent.put(self.url(path));
        if let Some(value) = header_value(auth) {
            request = request.header("Authorization", value);
        }
        finish(
            path,
            request.content_type("application/json").send(&bytes[..]),
        )
    }

    /// `POST path` with `body` serialized as JSON (`Content-Type: application/json`).
    pub fn post_json(&self, path: &str, auth: Auth<'_>, body: &Value) -> Reply {
        let bytes = serde_json::to_vec(body).expect("a JSON value serializes");
        self.post(
            path,
            auth,
            Body::Bytes {
                content_type: "application/json",
                bytes: &bytes,
            },
        )
    }
}

fn header_value(auth: Auth<'_>) -> Option<String> {
    match auth {
        Auth::None => None,
        Auth::Bearer(token) => Some(format!("Bearer {token}")),
        Auth::Raw(value) => Some(value.to_owned()),
    }
}

fn finish(path: &str, result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Reply {
    let mut response =
        result.unwrap_or_else(|e| panic!("HTTP call to {path} failed without a response: {e}"));
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let content_type = header("content-type");
    let retry_after = header("retry-after");
    let request_id = header("x-request-id");
    let body = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_else(|e| panic!("reading the response body of {path} failed: {e}"));
    Reply {
        status,
        content_type,
        retry_after,
        request_id,
        body,
    }
}
