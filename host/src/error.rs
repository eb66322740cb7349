//! The host's HTTP error: a status, a stable code, a text, and the envelope of the route
//! it answers (docs/API.md, "Envelopes").

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use wuts_plugin_api::{Envelope, PluginError, ValidationError};

use crate::session::SessionError;

/// Stable error codes the host itself uses (plugins add their own).
pub mod codes {
    pub const UNAUTHORIZED: &str = "UNAUTHORIZED";
    pub const NOT_FOUND: &str = "NOT_FOUND";
    pub const VALIDATION_ERROR: &str = "VALIDATION_ERROR";
    pub const PAYLOAD_TOO_LARGE: &str = "PAYLOAD_TOO_LARGE";
    pub const DEVICE_NOT_READY: &str = "DEVICE_NOT_READY";
    pub const SEND_FAILED: &str = "SEND_FAILED";
    pub const INTERNAL_ERROR: &str = "INTERNAL_ERROR";
    pub const FORBIDDEN: &str = "FORBIDDEN";
    pub const UNSUPPORTED: &str = "UNSUPPORTED";
    /// `GET /qr`, `POST /paircode` on a device that is connected or already paired.
    pub const ALREADY_CONNECTED: &str = "ALREADY_CONNECTED";
    /// WhatsApp did not answer in time.
    pub const TIMEOUT: &str = "TIMEOUT";
    /// No pairing QR code came within `[session] qr_timeout_ms`.
    pub const QR_TIMEOUT: &str = "QR_TIMEOUT";
    /// The device's state allows no pairing now (stopped, logged out, ...): `POST /connect`.
    pub const PAIRING_UNAVAILABLE: &str = "PAIRING_UNAVAILABLE";
    /// WhatsApp could not be reached for a pairing step.
    pub const WHATSAPP_UNREACHABLE: &str = "WHATSAPP_UNREACHABLE";
    /// WhatsApp answered a pairing step with an error.
    pub const PAIRING_FAILED: &str = "PAIRING_FAILED";
    /// A plugin's media upload through the device failed.
    pub const UPLOAD_FAILED: &str = "UPLOAD_FAILED";
    /// A received message's media could not be fetched or decrypted.
    pub const MEDIA_DOWNLOAD_FAILED: &str = "MEDIA_DOWNLOAD_FAILED";
    /// Every slot for blocking plugin calls was taken (`[limits] media_calls`): 503.
    pub const SERVER_BUSY: &str = "SERVER_BUSY";
    /// The tenant's own slots were taken (`[limits] media_calls_per_tenant`): 503.
    pub const TENANT_BUSY: &str = "TENANT_BUSY";
    /// A plugin call outlived `[limits] plugin_call_timeout_seconds`: 504.
    pub const PLUGIN_TIMEOUT: &str = "PLUGIN_TIMEOUT";
    /// A rate limit (`[rate_limits]`) or the device's send pacing: 429.
    pub const RATE_LIMITED: &str = "RATE_LIMITED";
    /// The user has `[limits] devices_per_user` devices already: 403.
    pub const DEVICE_LIMIT: &str = "DEVICE_LIMIT";
}

/// What a 503 says to wait when its cause gave no better figure, in seconds.
const DEFAULT_RETRY_AFTER_SECONDS: u64 = 5;

/// What the host asked of a session when it failed: the same error answers differently
/// for a send, a plugin's media upload and a device route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionCall {
    /// Sending a message: every failure but "not connected" is the send's, 500
    /// `SEND_FAILED`.
    Send,
    /// A plugin's media upload: every failure but "not connected" is 500 `UPLOAD_FAILED`.
    Upload,
    /// Fetching a received message's media: 502 `MEDIA_DOWNLOAD_FAILED` (504 on a
    /// timeout).
    Download,
    /// A device route (`/devices`, pairing, `/connect`, ...): each kind its own status
    /// (routes/pairing.rs lists them).
    Device,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub validation: Vec<ValidationError>,
    pub envelope: Envelope,
    /// Whether the same request may succeed later (the device was not connected, no ack
    /// came in time, the connection dropped): a job tries these again (host/src/jobs.rs).
    pub transient: bool,
    /// Seconds for `Retry-After`; every 503 has one (5 when not set).
    pub retry_after: Option<u64>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code: code.to_string(),
            message: message.into(),
            validation: Vec::new(),
            envelope: Envelope::Standard,
            transient: false,
            retry_after: None,
        }
    }

    pub fn in_envelope(mut self, envelope: Envelope) -> Self {
        self.envelope = envelope;
        self
    }

    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            codes::UNAUTHORIZED,
            "unauthorized",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            codes::NOT_FOUND,
            format!("{what} not found"),
        )
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, codes::VALIDATION_ERROR, message)
    }

    pub fn not_connected() -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            codes::DEVICE_NOT_READY,
            "WhatsApp not connected",
        );
        error.transient = true;
        error
    }

    /// 429 with `Retry-After` in whole seconds (at least 1); the legacy envelope's text is
    /// `rate limited` (docs/API.md, "Operations").
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let mut error = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            codes::RATE_LIMITED,
            "rate limited",
        );
        error.retry_after = Some(wait.as_secs_f64().ceil().max(1.0) as u64);
        error
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("request body too large: at most {limit} bytes accepted"),
        )
    }

    /// A session's error as HTTP: the one place that decides its status and code, by its
    /// kind. The text is the error's own, so the API answers what the driver said.
    pub fn from_session(error: SessionError, call: SessionCall) -> Self {
        use SessionError as E;
        let transient = matches!(
            error,
            E::NotConnected
                | E::Timeout
                | E::Failed(_)
                | E::Unreachable { .. }
                | E::UploadFailed { .. }
        );
        let mut answer = Self::from_session_kind(error, call);
        answer.transient = transient;
        answer
    }

    fn from_session_kind(error: SessionError, call: SessionCall) -> Self {
        use SessionError as E;
        let (status, code) = match (call, &error) {
            (_, E::NotConnected) => return Self::not_connected(),
            (SessionCall::Send, _) => (StatusCode::INTERNAL_SERVER_ERROR, codes::SEND_FAILED),
            (SessionCall::Upload, E::UploadFailed { .. }) => {
                (StatusCode::INTERNAL_SERVER_ERROR, codes::UPLOAD_FAILED)
            }
            (SessionCall::Upload, _) => {
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    codes::UPLOAD_FAILED,
                    format!("media upload failed: {error}"),
                );
            }
            (SessionCall::Download, E::Timeout) => {
                (StatusCode::GATEWAY_TIMEOUT, codes::MEDIA_DOWNLOAD_FAILED)
            }
            (SessionCall::Download, _) => (StatusCode::BAD_GATEWAY, codes::MEDIA_DOWNLOAD_FAILED),
            (SessionCall::Device, E::Rejected { code }) => {
                return Self::new(
                    StatusCode::BAD_GATEWAY,
                    codes::PAIRING_FAILED,
                    format!("WhatsApp refused the request with error {code}"),
                );
            }
            (SessionCall::Device, E::Timeout) => (StatusCode::GATEWAY_TIMEOUT, codes::TIMEOUT),
            (SessionCall::Device, E::QrTimeout) => (StatusCode::GATEWAY_TIMEOUT, codes::QR_TIMEOUT),
            (SessionCall::Device, E::AlreadyConnected | E::AlreadyPaired { .. }) => {
                (StatusCode::BAD_REQUEST, codes::ALREADY_CONNECTED)
            }
            (SessionCall::Device, E::PairingUnavailable { .. } | E::NotStarted) => {
                (StatusCode::BAD_REQUEST, codes::PAIRING_UNAVAILABLE)
            }
            (SessionCall::Device, E::Unreachable { .. }) => {
                (StatusCode::SERVICE_UNAVAILABLE, codes::WHATSAPP_UNREACHABLE)
            }
            (SessionCall::Device, E::PairingFailed { .. }) => {
                (StatusCode::BAD_GATEWAY, codes::PAIRING_FAILED)
            }
            (SessionCall::Device, E::InvalidPhone { .. }) => {
                (StatusCode::BAD_REQUEST, codes::VALIDATION_ERROR)
            }
            (SessionCall::Device, E::Unsupported(_)) => {
                (StatusCode::BAD_REQUEST, codes::UNSUPPORTED)
            }
            (
                SessionCall::Device,
                E::UploadFailed { .. } | E::DownloadFailed { .. } | E::Failed(_),
            ) => (StatusCode::INTERNAL_SERVER_ERROR, codes::INTERNAL_ERROR),
        };
        Self::new(status, code, error.to_string())
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL_ERROR,
            message,
        )
    }

    /// The JSON body in this error's envelope.
    pub fn body(&self) -> Value {
        match self.envelope {
            Envelope::Legacy => json!({ "error": self.message }),
            Envelope::Standard => {
                let mut body = json!({
                    "success": false,
                    "error": self.message,
                    "error_code": self.code,
                    "timestamp": crate::time::now_rfc3339(),
                });
                if !self.validation.is_empty() {
                    body["validation"] = self
                        .validation
                        .iter()
                        .map(|field| json!({"field": field.field, "message": field.message, "value": field.value}))
                        .collect();
                }
                body
            }
        }
    }
}

impl From<PluginError> for ApiError {
    fn from(error: PluginError) -> Self {
        ApiError {
            // A plugin answers errors only: a status outside 400-599 (a 200, a 302) would
            // pass for something else, so it is a fault of the plugin's, a 500.
            status: StatusCode::from_u16(error.status)
                .ok()
                .filter(|status| status.is_client_error() || status.is_server_error())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            // The host's own services answer a plugin these codes when the session is not
            // connected or an upload failed (plugins/services.rs): they pass like the send's.
            transient: error.code == codes::DEVICE_NOT_READY || error.code == codes::UPLOAD_FAILED,
            code: error.code,
            message: error.message,
            validation: error.validation,
            envelope: Envelope::Standard,
            retry_after: None,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        let retry_after = self
            .retry_after
            .or((self.status == StatusCode::SERVICE_UNAVAILABLE)
                .then_some(DEFAULT_RETRY_AFTER_SECONDS));
        if let Some(seconds) = retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, seconds));
        }
        response.json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plugin_error_status_outside_400_to_599_is_a_500() {
        for (given, answered) in [
            (200, 500),
            (302, 500),
            (99, 500),
            (1000, 500),
            (404, 404),
            (503, 503),
        ] {
            let error: ApiError = PluginError::new(given, "X", "x").into();
            assert_eq!(error.status.as_u16(), answered, "{given}");
        }
    }

    #[test]
    fn the_legacy_envelope_holds_only_the_error_text() {
        let body = ApiError::unauthorized()
            .in_envelope(Envelope::Legacy)
            .body();
        assert_eq!(body, json!({"error": "unauthorized"}));
    }

    #[test]
    fn the_standard_envelope_carries_code_timestamp_and_validation() {
        let error: ApiError =
            PluginError::invalid_field("number", "must have 10 to 15 digits", json!("12")).into();
        let body = error.body();
        assert_eq!(body["success"], false);
        assert_eq!(body["error_code"], "VALIDATION_ERROR");
        assert_eq!(body["validation"][0]["field"], "number");
        assert_eq!(body["validation"][0]["value"], "12");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    }

    #[test]
    fn device_routes_answer_each_session_error_with_its_documented_status() {
        use crate::session::PairingStep;
        let unavailable = |step| SessionError::PairingUnavailable {
            step,
            state: "stopped".into(),
            reason: "disconnected on request".into(),
        };
        let cases = [
            (SessionError::NotConnected, 400, codes::DEVICE_NOT_READY),
            (SessionError::QrTimeout, 504, codes::QR_TIMEOUT),
            (
                SessionError::AlreadyConnected,
                400,
                codes::ALREADY_CONNECTED,
            ),
            (
                SessionError::AlreadyPaired {
                    jid: "1@s.whatsapp.net".into(),
                },
                400,
                codes::ALREADY_CONNECTED,
            ),
            (
                unavailable(PairingStep::Qr),
                400,
                codes::PAIRING_UNAVAILABLE,
            ),
            (
                unavailable(PairingStep::PairCode),
                400,
                codes::PAIRING_UNAVAILABLE,
            ),
            (SessionError::NotStarted, 400, codes::PAIRING_UNAVAILABLE),
            (
                SessionError::Unreachable {
                    reason: "cannot reach".into(),
                },
                503,
                codes::WHATSAPP_UNREACHABLE,
            ),
            (
                SessionError::PairingFailed {
                    reason: "bad".into(),
                },
                502,
                codes::PAIRING_FAILED,
            ),
            (
                SessionError::Rejected { code: "401".into() },
                502,
                codes::PAIRING_FAILED,
            ),
            (
                SessionError::InvalidPhone {
                    phone: "x".into(),
                    reason: "digits".into(),
                },
                400,
                codes::VALIDATION_ERROR,
            ),
            (SessionError::Timeout, 504, codes::TIMEOUT),
            (
                SessionError::Failed("something else".into()),
                500,
                codes::INTERNAL_ERROR,
            ),
            (
                SessionError::Unsupported("no".into()),
                400,
                codes::UNSUPPORTED,
            ),
        ];
        for (error, status, code) in cases {
            let text = error.to_string();
            let api = ApiError::from_session(error, SessionCall::Device);
            assert_eq!(api.status.as_u16(), status, "{text}");
            assert_eq!(api.code, code, "{text}");
            assert_eq!(api.envelope, Envelope::Standard);
        }
    }

    #[test]
    fn session_error_texts_are_what_the_api_answered_before_they_were_typed() {
        let device = |error| ApiError::from_session(error, SessionCall::Device).message;
        assert_eq!(
            device(SessionError::QrTimeout),
            "timeout waiting for QR code"
        );
        assert_eq!(
            device(SessionError::PairingUnavailable {
                step: crate::session::PairingStep::Qr,
                state: "logged_out".into(),
                reason: "unlinked".into(),
            }),
            "no QR code while logged_out: unlinked"
        );
        assert_eq!(
            device(SessionError::AlreadyPaired {
                jid: "1@s.whatsapp.net".into()
            }),
            "already paired as 1@s.whatsapp.net; not connected"
        );
        assert_eq!(
            device(SessionError::Rejected { code: "479".into() }),
            "WhatsApp refused the request with error 479"
        );
    }

    #[test]
    fn a_send_fails_as_the_send_and_an_upload_as_the_upload() {
        let send = ApiError::from_session(SessionError::Timeout, SessionCall::Send);
        assert_eq!(
            (send.status.as_u16(), send.code.as_str()),
            (500, "SEND_FAILED")
        );
        assert_eq!(send.message, "timeout");
        let rejected = ApiError::from_session(
            SessionError::Rejected { code: "479".into() },
            SessionCall::Send,
        );
        assert_eq!(
            rejected.message,
            "server refused the message with error 479"
        );
        let not_connected = ApiError::from_session(SessionError::NotConnected, SessionCall::Send);
        assert_eq!(not_connected.code, codes::DEVICE_NOT_READY);
        let upload = ApiError::from_session(
            SessionError::UploadFailed {
                reason: "HTTP 500".into(),
            },
            SessionCall::Upload,
        );
        assert_eq!(
            (upload.status.as_u16(), upload.code.as_str()),
            (500, "UPLOAD_FAILED")
        );
        assert_eq!(upload.message, "media upload failed: HTTP 500");
        let other =
            ApiError::from_session(SessionError::Failed("task".into()), SessionCall::Upload);
        assert_eq!(other.message, "media upload failed: task");
    }
}
