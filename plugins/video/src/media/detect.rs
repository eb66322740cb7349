//! What the input is, from its bytes alone (a URL's `Content-Type` or a `data:` URI's type
//! is not trusted): GStreamer's type finders, as plugins/audio/src/codec/detect.rs uses them.

use gstreamer as gst;
use gstreamer_base as gst_base;

use super::error::VideoError;

/// The container (or stream) type the type finders gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    /// GStreamer's caps name: `video/quicktime`, `video/webm`, ...
    pub caps_name: String,
}

impl Detected {
    pub fn is_quicktime(&self) -> bool {
        self.caps_name == "video/quicktime"
    }

    /// The usual mimetype of the container; a QuickTime-family file's comes from its brand
    /// ([`super::mp4_boxes::Layout::mimetype`]).
    pub fn mimetype(&self) -> &str {
        match self.caps_name.as_str() {
            "video/quicktime" => "video/mp4",
            "video/mpegts" => "video/mp2t",
            "application/ogg" | "application/x-ogg" => "video/ogg",
            "application/x-3gp" => "video/3gpp",
            other => other,
        }
    }
}

/// Types that may hold video besides `video/...`.
const OTHER_CONTAINERS: [&str; 4] = [
    "application/ogg",
    "application/x-ogg",
    "application/x-3gp",
    "application/vnd.rn-realmedia",
];

fn unsupported() -> VideoError {
    VideoError::Unsupported("the data is not a recognised video format".to_string())
}

/// Runs the type finders over `input` (they read only what they need).
pub(crate) fn detect(input: &[u8]) -> Result<Detected, VideoError> {
    let (caps, probability) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, input)
            .map_err(|_| unsupported())?;
    let name = caps
        .structure(0)
        .map(|structure| structure.name().to_string())
        .ok_or_else(unsupported)?;
    let may_hold_video = name.starts_with("video/") || OTHER_CONTAINERS.contains(&name.as_str());
    if !may_hold_video {
        return Err(VideoError::Unsupported(format!(
            "the data is {name}, not video"
        )));
    }
    // Noise matches weak signatures now and then (random bytes pass as H.263 video with
    // "possible"); every real container is found "likely" or better.
    if probability < gst::TypeFindProbability::Likely {
        return Err(unsupported());
    }
    Ok(Detected { caps_name: name })
}
