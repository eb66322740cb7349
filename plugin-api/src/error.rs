//! The error a plugin (or a host service) reports; it becomes the HTTP error response.

use crate::abi::{FieldErrorAbi, PluginErrorAbi};

/// One field that failed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
    pub value: serde_json::Value,
}

/// An error that becomes the HTTP error response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct PluginError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub validation: Vec<ValidationError>,
}

impl PluginError {
    pub fn new(status: u16, code: impl Into<String>, message: impl Into<String>) -> Self {
        PluginError {
            status,
            code: code.into(),
            message: message.into(),
            validation: Vec::new(),
        }
    }

    /// A 400 with a stable code.
    pub fn bad_request(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(400, code, message)
    }

    /// A 400 `VALIDATION_ERROR` naming one field; the text reads `field: message`.
    pub fn invalid_field(
        field: impl Into<String>,
        message: impl Into<String>,
        value: serde_json::Value,
    ) -> Self {
        let field = field.into();
        let message = message.into();
        PluginError {
            status: 400,
            code: "VALIDATION_ERROR".into(),
            message: format!("{field}: {message}"),
            validation: vec![ValidationError {
                field,
                message,
                value,
            }],
        }
    }

    /// A 500 for a fault inside the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(500, "INTERNAL_ERROR", message)
    }
}

impl From<PluginErrorAbi> for PluginError {
    fn from(error: PluginErrorAbi) -> Self {
        PluginError {
            status: error.status,
            code: error.code.into_string(),
            message: error.message.into_string(),
            validation: error
                .validation
                .into_iter()
                .map(|field| ValidationError {
                    field: field.field.into_string(),
                    message: field.message.into_string(),
                    value: serde_json::from_str(&field.value_json)
                        .unwrap_or(serde_json::Value::Null),
                })
                .collect(),
        }
    }
}

impl From<PluginError> for PluginErrorAbi {
    fn from(error: PluginError) -> Self {
        PluginErrorAbi {
            status: error.status,
            code: error.code.into(),
            message: error.message.into(),
            validation: error
                .validation
                .into_iter()
                .map(|field| FieldErrorAbi {
                    field: field.field.into(),
                    message: field.message.into(),
                    value_json: field.value.to_string().into(),
                })
                .collect(),
        }
    }
}
