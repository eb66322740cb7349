//! Identifies the input with GStreamer's type finders and refuses what cannot carry audio.

use gstreamer as gst;
use gstreamer_base as gst_base;

use super::error::AudioError;

/// What GStreamer's type detection made of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Detected {
    /// Media type for callers ("audio/mpeg", "video/mp4", ...).
    pub mime: String,
}

impl Detected {
    /// The media type once demuxing has shown whether a video track exists: a container that
    /// can hold video but held none is reported as its audio variant (an M4A with an "isom"
    /// brand is audio/mp4, not video/mp4).
    pub fn mime_given_video(&self, has_video: bool) -> String {
        if has_video {
            return self.mime.clone();
        }
        match self.mime.as_str() {
            "video/mp4" | "video/quicktime" => "audio/mp4".to_string(),
            "video/webm" => "audio/webm".to_string(),
            "video/x-matroska" => "audio/x-matroska".to_string(),
            "video/3gpp" => "audio/3gpp".to_string(),
            other => other.to_string(),
        }
    }
}

/// Runs the type finders over the whole input (they only read the bytes they need).
pub(crate) fn detect(input: &[u8]) -> Result<Detected, AudioError> {
    let (caps, probability) =
        gst_base::functions::type_find_helper_for_data(None::<&gst::Object>, input).map_err(
            |_| AudioError::Unsupported("the data is not a recognised audio format".to_string()),
        )?;
    let structure = caps.structure(0).ok_or_else(|| {
        AudioError::Unsupported("the data is not a recognised audio format".to_string())
    })?;
    let name = structure.name().as_str();
    if !may_carry_audio(name) {
        return Err(AudioError::Unsupported(format!(
            "the data is {name}, not audio"
        )));
    }
    if probability < minimum_probability(name) {
        // Noise matches weak signatures now and then (random bytes pass as H.263 video).
        return Err(AudioError::Unsupported(
            "the data is not a recognised audio format".to_string(),
        ));
    }
    let mpeg_version = structure.get::<i32>("mpegversion").ok();
    Ok(Detected {
        mime: public_mime(name, mpeg_version).to_string(),
    })
}

/// Audio streams, audio/video containers, and tag wrappers that usually hold MP3.
fn may_carry_audio(caps_name: &str) -> bool {
    caps_name.starts_with("audio/")
        || caps_name.starts_with("video/")
        || matches!(
            caps_name,
            "application/ogg"
                | "application/x-ogg"
                | "application/x-id3"
                | "application/x-apetag"
                | "application/x-3gp"
                | "application/vnd.rn-realmedia"
        )
}

/// How sure the type finder must be: audio formats with frame sync (MP3, AAC) report
/// "possible" on short clips, while a guessed video elementary stream is rarely real input.
fn minimum_probability(caps_name: &str) -> gst::TypeFindProbability {
    if caps_name.starts_with("audio/") || caps_name == "application/x-id3" {
        gst::TypeFindProbability::Possible
    } else {
        gst::TypeFindProbability::Likely
    }
}

/// The usual MIME name for a GStreamer caps name.
fn public_mime(caps_name: &str, mpeg_version: Option<i32>) -> &str {
    match caps_name {
        "audio/mpeg" if matches!(mpeg_version, Some(2) | Some(4)) => "audio/aac",
        "audio/mpeg" | "application/x-id3" | "application/x-apetag" => "audio/mpeg",
        "audio/x-wav" | "audio/x-rf64" => "audio/x-wav",
        "audio/x-m4a" => "audio/mp4",
        "video/quicktime" => "video/mp4",
        "application/x-3gp" => "video/3gpp",
        "application/ogg" | "application/x-ogg" | "audio/ogg" | "audio/x-vorbis" => "audio/ogg",
        "audio/x-flac" => "audio/flac",
        "audio/x-aiff" => "audio/aiff",
        "audio/AMR" | "audio/x-amr-nb-sh" => "audio/amr",
        "audio/AMR-WB" | "audio/x-amr-wb-sh" => "audio/amr-wb",
        "audio/webm" | "video/webm" => "video/webm",
        "audio/x-matroska" | "video/x-matroska" => "video/x-matroska",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn containers_without_video_become_audio_types() {
        let mp4 = Detected {
            mime: public_mime("video/quicktime", None).to_string(),
        };
        assert_eq!(mp4.mime_given_video(true), "video/mp4");
        assert_eq!(mp4.mime_given_video(false), "audio/mp4");
        let webm = Detected {
            mime: public_mime("video/webm", None).to_string(),
        };
        assert_eq!(webm.mime_given_video(false), "audio/webm");
        let mp3 = Detected {
            mime: public_mime("application/x-id3", None).to_string(),
        };
        assert_eq!(mp3.mime_given_video(false), "audio/mpeg");
    }

    #[test]
    fn mpeg_versions() {
        assert_eq!(public_mime("audio/mpeg", Some(1)), "audio/mpeg");
        assert_eq!(public_mime("audio/mpeg", Some(4)), "audio/aac");
    }

    #[test]
    fn only_audio_capable_types_pass() {
        assert!(may_carry_audio("audio/x-flac"));
        assert!(may_carry_audio("video/quicktime"));
        assert!(may_carry_audio("application/ogg"));
        assert!(!may_carry_audio("image/png"));
        assert!(!may_carry_audio("text/plain"));
        assert!(!may_carry_audio("application/pdf"));
        assert!(!may_carry_audio("application/zip"));
    }
}
