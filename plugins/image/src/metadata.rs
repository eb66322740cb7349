//! The `metadata` object of the success response: the keys of the WUTS docs §1.2 200
//! example (plugins/audio/src/metadata.rs and plugins/text/src/lib.rs make theirs alike),
//! plus `was_converted` (as the video example has it), `width` and `height`.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::picture::Picture;

/// Wall times of the request's steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The `image_url` download; None for base64 (the key is then left out, as the WUTS
    /// example prints it only for a URL source).
    pub download: Option<Duration>,
    pub upload: Duration,
    /// The whole encode, up to (not including) the requested `delay`.
    pub processing: Duration,
}

/// Facts about the request the metadata reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub device_id: &'a str,
    pub user_id: &'a str,
    pub mentions: usize,
    pub quoted_message_found: bool,
    pub view_once: bool,
}

/// The metadata object. `sent_at` is left empty: the host writes the server ack's time.
pub fn metadata(picture: &Picture, facts: &Facts<'_>, timings: &Timings) -> Value {
    let mut metadata = Map::new();
    let mut put = |key: &str, value: Value| {
        metadata.insert(key.to_string(), value);
    };
    put("device_id", json!(facts.device_id));
    put("user_id", json!(facts.user_id));
    put("processing_time_ms", json!(millis(timings.processing)));
    put("image_size_bytes", json!(picture.bytes.len()));
    put("image_format", json!(picture.mimetype));
    if let Some(download) = timings.download {
        put("download_time_ms", json!(millis(download)));
    }
    put("upload_time_ms", json!(millis(timings.upload)));
    put("mentions_processed", json!(facts.mentions));
    put("quoted_message_found", json!(facts.quoted_message_found));
    put("view_once_enabled", json!(facts.view_once));
    put("original_format", json!(picture.original_format));
    put("was_converted", json!(picture.was_converted));
    put("width", json!(picture.width));
    put("height", json!(picture.height));
    put("sent_at", json!(""));
    Value::Object(metadata)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn picture() -> Picture {
        Picture {
            bytes: vec![0; 184_320],
            mimetype: "image/png",
            width: 1080,
            height: 1080,
            original_format: "image/png",
            was_converted: false,
            thumbnail: Vec::new(),
        }
    }

    #[test]
    fn the_documented_keys_with_their_types() {
        let facts = Facts {
            device_id: "device-7f3a",
            user_id: "usr_01H9",
            mentions: 1,
            quoted_message_found: false,
            view_once: false,
        };
        let timings = Timings {
            download: Some(Duration::from_millis(211)),
            upload: Duration::from_millis(430),
            processing: Duration::from_millis(842),
        };
        assert_eq!(
            metadata(&picture(), &facts, &timings),
            json!({
                "device_id": "device-7f3a", "user_id": "usr_01H9", "processing_time_ms": 842,
                "image_size_bytes": 184320, "image_format": "image/png", "download_time_ms": 211,
                "upload_time_ms": 430, "mentions_processed": 1, "quoted_message_found": false,
                "view_once_enabled": false, "original_format": "image/png", "was_converted": false,
                "width": 1080, "height": 1080, "sent_at": ""
            })
        );
        let inline = Timings {
            download: None,
            ..timings
        };
        assert!(
            metadata(&picture(), &facts, &inline)
                .get("download_time_ms")
                .is_none()
        );
    }
}
