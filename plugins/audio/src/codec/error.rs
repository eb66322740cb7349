//! The one error type of the audio codec, with a stable machine-readable code per variant.

use thiserror::Error;

/// Why a transcode failed. Messages describe the problem, never the audio bytes themselves.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum AudioError {
    /// The input has no bytes at all, or decodes to no samples.
    #[error("the audio is empty")]
    Empty,
    /// The input is not audio (text, an image, random bytes) or has no decoder here.
    #[error("unsupported input: {0}")]
    Unsupported(String),
    /// The input looks like audio but cannot be decoded (truncated, damaged).
    #[error("the audio could not be decoded: {0}")]
    Corrupt(String),
    /// A media file without any audio track (e.g. a silent video).
    #[error("the input has no audio stream")]
    NoStream,
    /// Longer than the configured cap; decoding stops as soon as the cap is passed.
    #[error("the audio is too long: at least {seconds:.1} s, the limit is {max_seconds} s")]
    TooLong { seconds: f64, max_seconds: u64 },
    /// The transcode did not finish before its deadline; the pipeline was torn down.
    #[error("the audio conversion took too long and was stopped")]
    Timeout,
    /// A fault on our side (GStreamer missing an element, encoder failure, ...).
    #[error("internal audio conversion error: {0}")]
    Internal(String),
}

impl AudioError {
    /// Stable code for API responses; never changes for a given variant.
    pub fn code(&self) -> &'static str {
        match self {
            AudioError::Empty => "AUDIO_EMPTY",
            AudioError::Unsupported(_) => "AUDIO_UNSUPPORTED",
            AudioError::Corrupt(_) => "AUDIO_CORRUPT",
            AudioError::NoStream => "AUDIO_NO_STREAM",
            AudioError::TooLong { .. } => "AUDIO_TOO_LONG",
            AudioError::Timeout => "AUDIO_TIMEOUT",
            AudioError::Internal(_) => "AUDIO_INTERNAL",
        }
    }

    /// True when the caller sent bad audio (a 400), false for our own faults and timeouts.
    pub fn is_client_error(&self) -> bool {
        !matches!(self, AudioError::Timeout | AudioError::Internal(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        let cases = [
            (AudioError::Empty, "AUDIO_EMPTY"),
            (AudioError::Unsupported("x".into()), "AUDIO_UNSUPPORTED"),
            (AudioError::Corrupt("x".into()), "AUDIO_CORRUPT"),
            (AudioError::NoStream, "AUDIO_NO_STREAM"),
            (
                AudioError::TooLong {
                    seconds: 1.0,
                    max_seconds: 0,
                },
                "AUDIO_TOO_LONG",
            ),
            (AudioError::Timeout, "AUDIO_TIMEOUT"),
            (AudioError::Internal("x".into()), "AUDIO_INTERNAL"),
        ];
        for (err, code) in cases {
            assert_eq!(err.code(), code);
        }
    }

    #[test]
    fn too_long_message_names_both_lengths() {
        let msg = AudioError::TooLong {
            seconds: 12.34,
            max_seconds: 10,
        }
        .to_string();
        assert!(msg.contains("12.3 s") && msg.contains("10 s"), "{msg}");
    }
}
