//! The `metadata` object of the success response: the keys of the WUTS docs §1.3 200
//! example (plugins/image/src/metadata.rs makes its own alike), plus `download_time_ms`
//! for a URL source, `width`, `height` and `original_format`.

use std::time::Duration;

use serde_json::{Map, Value, json};

/// What the metadata reports about the video sent.
#[derive(Debug, Clone, Default)]
pub struct Sent<'a> {
    pub size_bytes: usize,
    pub mimetype: &'a str,
    pub original_format: &'a str,
    /// Rounded up, as the message's `seconds`.
    pub duration_seconds: u32,
    pub width: u32,
    pub height: u32,
    pub was_converted: bool,
    pub has_custom_thumbnail: bool,
}

/// Wall times of the request's steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The `video_url` download; None for base64 (the key is then left out).
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
    /// Whether this encode runs as a job (the request was answered 202).
    pub is_job: bool,
}

/// The metadata object. `sent_at` is left empty: the host writes the server ack's time.
pub fn metadata(sent: &Sent<'_>, facts: &Facts<'_>, timings: &Timings) -> Value {
    let mut metadata = Map::new();
    let mut put = |key: &str, value: Value| {
        metadata.insert(key.to_string(), value);
    };
    put("device_id", json!(facts.device_id));
    put("user_id", json!(facts.user_id));
    put("processing_time_ms", json!(millis(timings.processing)));
    put("video_size_bytes", json!(sent.size_bytes));
    put("video_format", json!(sent.mimetype));
    put("video_duration_seconds", json!(sent.duration_seconds));
    if let Some(download) = timings.download {
        put("download_time_ms", json!(millis(download)));
    }
    put("upload_time_ms", json!(millis(timings.upload)));
    put("mentions_processed", json!(facts.mentions));
    put("quoted_message_found", json!(facts.quoted_message_found));
    put("view_once_enabled", json!(facts.view_once));
    put("was_converted", json!(sent.was_converted));
    put("has_custom_thumbnail", json!(sent.has_custom_thumbnail));
    put("async_processing", json!(facts.is_job));
    put("original_format", json!(sent.original_format));
    put("width", json!(sent.width));
    put("height", json!(sent.height));
    put("sent_at", json!(""));
    Value::Object(metadata)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_keys_with_their_types() {
        let sent = Sent {
            size_bytes: 8_388_608,
            mimetype: "video/mp4",
            original_format: "video/mp4",
            duration_seconds: 38,
            width: 1280,
            height: 720,
            was_converted: false,
            has_custom_thumbnail: false,
        };
        let facts = Facts {
            device_id: "device-7f3a",
            user_id: "usr_01H9",
            ..Facts::default()
        };
        let timings = Timings {
            download: None,
            upload: Duration::from_millis(2900),
            processing: Duration::from_millis(4210),
        };
        assert_eq!(
            metadata(&sent, &facts, &timings),
            json!({
                "device_id": "device-7f3a", "user_id": "usr_01H9", "processing_time_ms": 4210,
                "video_size_bytes": 8388608, "video_format": "video/mp4",
                "video_duration_seconds": 38, "upload_time_ms": 2900, "mentions_processed": 0,
                "quoted_message_found": false, "view_once_enabled": false,
                "was_converted": false, "has_custom_thumbnail": false, "async_processing": false,
                "original_format": "video/mp4", "width": 1280, "height": 720, "sent_at": ""
            })
        );
        let downloaded = Timings {
            download: Some(Duration::from_millis(5)),
            ..timings
        };
        assert_eq!(
            metadata(&sent, &facts, &downloaded)["download_time_ms"],
            json!(5)
        );
    }
}
