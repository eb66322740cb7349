//! Why a video is refused. Every variant but [`VideoError::Internal`] is the caller's
//! input (a 400 with its code, docs/API.md "Media"); messages are short English
//! sentences and never carry media data.

use wuts_plugin_api::PluginError;

#[derive(Debug, Clone, PartialEq)]
pub enum VideoError {
    /// No bytes at all.
    Empty,
    /// Not a video container or stream we can read (text, a picture, random bytes).
    Unsupported(String),
    /// Looks like video but cannot be read whole: truncated, damaged, no decodable frame.
    Corrupt(String),
    /// A container without any video stream (an audio-only MP4).
    NoStream,
    /// Longer than `max_duration_seconds`.
    TooLong { seconds: f64, max_seconds: u64 },
    /// Over `max_bytes`, or frames over `max_megapixels`.
    TooLarge(String),
    /// The conversion did not finish within `transcode_timeout_seconds`: the video is
    /// too heavy for this server, told as too large (a 400: the same video will never
    /// fit, so a retry would not help).
    Timeout { seconds: u64 },
    /// Our fault (an element missing, an encoder failing on frames it was given): a 500.
    Internal(String),
}

impl VideoError {
    pub fn code(&self) -> &'static str {
        match self {
            VideoError::Empty => "VIDEO_EMPTY",
            VideoError::Unsupported(_) => "VIDEO_UNSUPPORTED",
            VideoError::Corrupt(_) => "VIDEO_CORRUPT",
            VideoError::NoStream => "VIDEO_NO_STREAM",
            VideoError::TooLong { .. } => "VIDEO_TOO_LONG",
            VideoError::TooLarge(_) | VideoError::Timeout { .. } => "VIDEO_TOO_LARGE",
            VideoError::Internal(_) => "VIDEO_INTERNAL",
        }
    }

    /// The reason, without the field.
    pub fn reason(&self) -> String {
        match self {
            VideoError::Empty => "the video is empty".to_string(),
            VideoError::Unsupported(reason)
            | VideoError::Corrupt(reason)
            | VideoError::TooLarge(reason) => reason.clone(),
            VideoError::NoStream => "the file has no video stream".to_string(),
            VideoError::TooLong {
                seconds,
                max_seconds,
            } => format!("the video is {seconds:.1} s long, at most {max_seconds} s allowed"),
            VideoError::Timeout { seconds } => {
                format!("the video could not be converted within {seconds} s")
            }
            VideoError::Internal(reason) => format!("internal video processing error: {reason}"),
        }
    }

    /// The API error, its text prefixed with the field the video came from.
    pub fn into_plugin_error(self, field: &str) -> PluginError {
        let status = if matches!(self, VideoError::Internal(_)) {
            500
        } else {
            400
        };
        PluginError::new(status, self.code(), format!("{field}: {}", self.reason()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_400_with_its_code_and_ours_500() {
        let cases = [
            (VideoError::Empty, "VIDEO_EMPTY"),
            (VideoError::Unsupported("x".into()), "VIDEO_UNSUPPORTED"),
            (VideoError::Corrupt("x".into()), "VIDEO_CORRUPT"),
            (VideoError::NoStream, "VIDEO_NO_STREAM"),
            (
                VideoError::TooLong {
                    seconds: 3.0,
                    max_seconds: 2,
                },
                "VIDEO_TOO_LONG",
            ),
            (VideoError::TooLarge("x".into()), "VIDEO_TOO_LARGE"),
            (VideoError::Timeout { seconds: 9 }, "VIDEO_TOO_LARGE"),
        ];
        for (error, code) in cases {
            let api = error.into_plugin_error("video");
            assert_eq!((api.status, api.code.as_str()), (400, code));
            assert!(api.message.starts_with("video: "), "{}", api.message);
        }
        let internal = VideoError::Internal("x".into()).into_plugin_error("video_url");
        assert_eq!(
            (internal.status, internal.code.as_str()),
            (500, "VIDEO_INTERNAL")
        );
    }
}
