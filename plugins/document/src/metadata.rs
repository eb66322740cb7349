//! The `metadata` object of the success response: the keys of the WUTS document example
//! (`document_size_bytes`, `mime_type`, `file_name`, ...; filled as
//! plugins/image/src/metadata.rs fills the same ones), plus `page_count` for a counted PDF,
//! the step timings image has, and `async_processing` as the WUTS video example has it.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::file::Document;

/// Wall times of the request's steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The `document_url` download; None for base64 (the key is then left out).
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
    /// Whether this ran as a job (a 202 first).
    pub is_job: bool,
}

/// The metadata object. `sent_at` is left empty: the host writes the server ack's time.
pub fn metadata(document: &Document, facts: &Facts<'_>, timings: &Timings) -> Value {
    let mut metadata = Map::new();
    let mut put = |key: &str, value: Value| {
        metadata.insert(key.to_string(), value);
    };
    put("device_id", json!(facts.device_id));
    put("user_id", json!(facts.user_id));
    put("processing_time_ms", json!(millis(timings.processing)));
    put("document_size_bytes", json!(document.bytes.len()));
    put("mime_type", json!(document.mimetype));
    put("file_name", json!(document.file_name));
    if let Some(pages) = document.page_count {
        put("page_count", json!(pages));
    }
    if let Some(download) = timings.download {
        put("download_time_ms", json!(millis(download)));
    }
    put("upload_time_ms", json!(millis(timings.upload)));
    put("mentions_processed", json!(facts.mentions));
    put("quoted_message_found", json!(facts.quoted_message_found));
    put("async_processing", json!(facts.is_job));
    put("sent_at", json!(""));
    Value::Object(metadata)
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mime::MimeOrigin;
    use std::sync::Arc;

    fn document(page_count: Option<u32>) -> Document {
        Document {
            bytes: Arc::new(vec![0; 524_288]),
            mimetype: "application/pdf".into(),
            mime_origin: MimeOrigin::Given,
            file_name: "invoice-0425.pdf".into(),
            page_count,
        }
    }

    #[test]
    fn the_documented_keys_with_their_types() {
        let facts = Facts {
            device_id: "device-7f3a",
            user_id: "usr_01H9",
            mentions: 0,
            quoted_message_found: false,
            is_job: false,
        };
        let timings = Timings {
            download: Some(Duration::from_millis(211)),
            upload: Duration::from_millis(430),
            processing: Duration::from_millis(1320),
        };
        assert_eq!(
            metadata(&document(Some(2)), &facts, &timings),
            json!({
                "device_id": "device-7f3a", "user_id": "usr_01H9", "processing_time_ms": 1320,
                "document_size_bytes": 524288, "mime_type": "application/pdf",
                "file_name": "invoice-0425.pdf", "page_count": 2, "download_time_ms": 211,
                "upload_time_ms": 430, "mentions_processed": 0, "quoted_message_found": false,
                "async_processing": false, "sent_at": ""
            })
        );
    }

    #[test]
    fn optional_keys_are_left_out_and_a_job_says_so() {
        let facts = Facts {
            is_job: true,
            ..Facts::default()
        };
        let metadata = metadata(&document(None), &facts, &Timings::default());
        assert!(metadata.get("page_count").is_none(), "{metadata}");
        assert!(metadata.get("download_time_ms").is_none(), "{metadata}");
        assert_eq!(metadata["async_processing"], json!(true));
    }
}
