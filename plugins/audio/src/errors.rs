//! How transcoding and download failures become API errors.

use std::time::Duration;

use wuts_plugin_api::PluginError;

use crate::codec::AudioError;

/// Bad audio is the caller's (400 with the codec's code); a timeout or an internal fault
/// is ours (500).
pub fn from_audio(error: &AudioError) -> PluginError {
    let status = if error.is_client_error() { 400 } else { 500 };
    PluginError::new(status, error.code(), error.to_string())
}

/// Every transcode slot stayed busy for the whole wait.
pub fn busy(waited: Duration) -> PluginError {
    PluginError::new(
        503,
        "AUDIO_BUSY",
        format!(
            "the server is busy converting other audio (no slot free within {} s); try again later",
            waited.as_secs()
        ),
    )
}

/// A failed download keeps the host's code (`URL_*`, 400) and says which field it was.
pub fn from_fetch(mut error: PluginError) -> PluginError {
    if !error.message.starts_with("audio_url") {
        error.message = format!("audio_url: {}", error.message);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_errors_are_400_and_ours_500() {
        assert_eq!(from_audio(&AudioError::Empty).status, 400);
        assert_eq!(from_audio(&AudioError::NoStream).code, "AUDIO_NO_STREAM");
        let too_long = from_audio(&AudioError::TooLong {
            seconds: 3.0,
            max_seconds: 2,
        });
        assert_eq!(
            (too_long.status, too_long.code.as_str()),
            (400, "AUDIO_TOO_LONG")
        );
        assert_eq!(from_audio(&AudioError::Timeout).status, 500);
        assert_eq!(
            from_audio(&AudioError::Internal("x".into())).code,
            "AUDIO_INTERNAL"
        );
        assert_eq!(busy(Duration::from_secs(5)).status, 503);
    }

    #[test]
    fn fetch_errors_name_the_field_and_keep_the_code() {
        let error = from_fetch(PluginError::bad_request(
            "URL_HTTP_ERROR",
            "the server answered 404",
        ));
        assert_eq!(error.code, "URL_HTTP_ERROR");
        assert_eq!(error.status, 400);
        assert_eq!(error.message, "audio_url: the server answered 404");
    }
}
