//! The host's HTTP error: a status, a stable code, a text, and the envelope of the route
//! it answers (API.md, "Envelopes").

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};
use wuts_plugin_api::{Envelope, PluginError, ValidationError};

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
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub validation: Vec<ValidationError>,
    pub envelope: Envelope,
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
        Self::new(
            StatusCode::BAD_REQUEST,
            codes::DEVICE_NOT_READY,
            "WhatsApp not connected",
        )
    }

    pub fn too_large(limit: u64) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::PAYLOAD_TOO_LARGE,
            format!("request body too large: at most {limit} bytes accepted"),
        )
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
            status: StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            code: error.code,
            message: error.message,
            validation: error.validation,
            envelope: Envelope::Standard,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
