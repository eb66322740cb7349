//! The `metadata` object of the success response (docs/API.md), with the request's real timings.

use std::time::Duration;

use serde_json::{Value, json};

use crate::codec::{OUTPUT_MIME, Transcoded};

/// Wall times of the request's steps.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// The `audio_url` download (zero for base64).
    pub download: Duration,
    pub upload: Duration,
    /// The whole encode, up to (not including) the requested `delay`.
    pub processing: Duration,
}

/// Facts about the request the metadata reports.
#[derive(Debug, Clone, Copy)]
pub struct Facts {
    pub ptt: bool,
    pub mentions: usize,
    pub quoted_message_found: bool,
    pub is_job: bool,
}

/// The metadata object. `sent_at` is left empty: the host writes the server ack's time.
pub fn metadata(transcoded: &Transcoded, facts: &Facts, timings: &Timings) -> Value {
    json!({
        "audio_size_bytes": transcoded.ogg.len(),
        "audio_format": OUTPUT_MIME,
        "audio_duration_seconds": seconds_with_millis(transcoded.duration),
        "original_format": transcoded.original_format,
        "conversion_applied": true,
        "conversion_time_ms": millis(transcoded.conversion_time),
        "download_time_ms": millis(timings.download),
        "upload_time_ms": millis(timings.upload),
        "processing_time_ms": millis(timings.processing),
        "ptt_enabled": facts.ptt,
        "waveform_generated": true,
        "mentions_processed": facts.mentions,
        "quoted_message_found": facts.quoted_message_found,
        "async_processing": facts.is_job,
        "sent_at": "",
    })
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Seconds as a number with millisecond precision (4.01, not 4.0100000001).
fn seconds_with_millis(duration: Duration) -> f64 {
    millis(duration) as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_key_is_there_with_its_type() {
        let transcoded = Transcoded {
            ogg: vec![0; 100],
            duration: Duration::from_micros(4_012_345),
            waveform: vec![0; 64],
            original_format: "audio/mpeg".into(),
            sample_rate: 16_000,
            conversion_time: Duration::from_millis(42),
        };
        let facts = Facts {
            ptt: true,
            mentions: 2,
            quoted_message_found: false,
            is_job: true,
        };
        let timings = Timings {
            download: Duration::from_millis(7),
            upload: Duration::from_millis(3),
            processing: Duration::from_millis(60),
        };
        let value = metadata(&transcoded, &facts, &timings);
        assert_eq!(
            value,
            json!({
                "audio_size_bytes": 100,
                "audio_format": "audio/ogg; codecs=opus",
                "audio_duration_seconds": 4.012,
                "original_format": "audio/mpeg",
                "conversion_applied": true,
                "conversion_time_ms": 42,
                "download_time_ms": 7,
                "upload_time_ms": 3,
                "processing_time_ms": 60,
                "ptt_enabled": true,
                "waveform_generated": true,
                "mentions_processed": 2,
                "quoted_message_found": false,
                "async_processing": true,
                "sent_at": ""
            })
        );
    }
}
