//! Why a file is refused, and the API error each reason becomes (docs/API.md, "Media").

use serde_json::json;
use wuts_plugin_api::PluginError;

/// Why a file cannot become a sticker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StickerError {
    /// Empty, not an image, of another format, corrupt or truncated: `STICKER_UNSUPPORTED`.
    Unsupported(String),
    /// Over a cap (bytes, pixels, frames), or over 500 KB at the lowest quality:
    /// `STICKER_TOO_LARGE`.
    TooLarge(String),
    /// The caller's `is_animated` says otherwise than the file: a `VALIDATION_ERROR` on
    /// that field, which names what the file is.
    Mismatch { claimed: bool, file: String },
    /// Our fault (the encoder failing on pixels it was given whole): a 500.
    Internal(String),
}

impl StickerError {
    pub fn code(&self) -> &'static str {
        match self {
            StickerError::Unsupported(_) => "STICKER_UNSUPPORTED",
            StickerError::TooLarge(_) => "STICKER_TOO_LARGE",
            StickerError::Mismatch { .. } => "VALIDATION_ERROR",
            StickerError::Internal(_) => "STICKER_INTERNAL",
        }
    }

    /// The API error, its text prefixed with the field the file came from (`sticker` or
    /// `sticker_url`); a mismatch names `is_animated` instead.
    pub fn into_plugin_error(self, field: &str) -> PluginError {
        let code = self.code();
        match self {
            StickerError::Unsupported(reason) | StickerError::TooLarge(reason) => {
                PluginError::new(400, code, format!("{field}: {reason}"))
            }
            StickerError::Mismatch { claimed, file } => PluginError::invalid_field(
                "is_animated",
                format!("is {claimed}, but the file is {file}"),
                json!(claimed),
            ),
            StickerError::Internal(reason) => {
                PluginError::new(500, code, format!("{field}: {reason}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_are_400_and_name_the_field() {
        let error = StickerError::Unsupported("the sticker is empty".into())
            .into_plugin_error("sticker_url");
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "STICKER_UNSUPPORTED")
        );
        assert_eq!(error.message, "sticker_url: the sticker is empty");
        let error = StickerError::TooLarge("too many frames".into()).into_plugin_error("sticker");
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "STICKER_TOO_LARGE")
        );
    }

    #[test]
    fn a_mismatch_is_a_validation_error_on_is_animated() {
        let error = StickerError::Mismatch {
            claimed: false,
            file: "an animated WebP (12 frames)".into(),
        }
        .into_plugin_error("sticker");
        assert_eq!(
            (error.status, error.code.as_str()),
            (400, "VALIDATION_ERROR")
        );
        assert_eq!(error.validation[0].field, "is_animated");
        assert_eq!(error.validation[0].value, json!(false));
        assert_eq!(
            error.message,
            "is_animated: is false, but the file is an animated WebP (12 frames)"
        );
    }
}
