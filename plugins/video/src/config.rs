//! The `[plugin.video]` configuration table, as the host hands it to `init` (read through
//! the SDK's `wuts_plugin_api::config`).

use std::time::Duration;

use serde_json::Value;
use wuts_plugin_api::PluginError;
use wuts_plugin_api::config::{ConfigTable, invalid};

/// Settings of the video plugin; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoConfig {
    /// The largest video accepted, in bytes (decoded base64, or the download).
    pub max_bytes: u64,
    /// The longest video accepted.
    pub max_duration_seconds: u64,
    /// The most pixels a frame may have, in millions: checked on the stream's caps before
    /// a decoder is plugged.
    pub max_megapixels: u64,
    /// The longest side of a transcoded video (a video sent as it came keeps its size).
    pub max_side: u32,
    /// Base64 videos larger than this (decoded) are answered 202 and sent as a job.
    pub async_threshold_bytes: u64,
    /// Budget of the media work on one video: the probe and the conversion.
    pub transcode_timeout_seconds: u64,
    /// x264's speed preset: slower presets make smaller files for the same quality.
    pub speed_preset: String,
}

/// docs/API.md ("Media"): video 64 MiB and 15 minutes. 36 megapixels admits 8K
/// (7680x4320 = 33.2 MP). 1280 px is the longest side WhatsApp's clients send a video
/// with. `veryfast` is about three times faster than x264's `medium` for a few percent
/// more bytes at the same quality: a conversion is on a request's path.
impl Default for VideoConfig {
    fn default() -> Self {
        VideoConfig {
            max_bytes: 64 * 1024 * 1024,
            max_duration_seconds: 15 * 60,
            max_megapixels: 36,
            max_side: 1280,
            async_threshold_bytes: 16 * 1024 * 1024,
            transcode_timeout_seconds: 240,
            speed_preset: "veryfast".to_string(),
        }
    }
}

const KEYS: [&str; 7] = [
    "max_bytes",
    "max_duration_seconds",
    "max_megapixels",
    "max_side",
    "async_threshold_bytes",
    "transcode_timeout_seconds",
    "speed_preset",
];

/// x264's preset names (x264enc's `speed-preset` nicks).
pub const SPEED_PRESETS: [&str; 9] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
];

impl VideoConfig {
    /// Reads the table; a wrong value or an unknown key refuses the plugin with a message
    /// naming the key.
    pub fn from_json(config: &Value) -> Result<VideoConfig, PluginError> {
        let Some(table) = ConfigTable::open("video", config, &KEYS)? else {
            return Ok(VideoConfig::default());
        };
        let defaults = VideoConfig::default();
        let gib = 1024 * 1024 * 1024;
        Ok(VideoConfig {
            // Up to 1 GiB: the route's body limit is sized for 64 MiB and is set apart.
            max_bytes: table
                .number("max_bytes", 1..=gib)?
                .unwrap_or(defaults.max_bytes),
            max_duration_seconds: table
                .number("max_duration_seconds", 1..=24 * 3600)?
                .unwrap_or(defaults.max_duration_seconds),
            // 1000 megapixels of RGB is 3 GB a frame: beyond that no server should decode.
            max_megapixels: table
                .number("max_megapixels", 1..=1000)?
                .unwrap_or(defaults.max_megapixels),
            // x264 encodes at most 16,384 px a side (its level 6.2 limit is far below).
            max_side: table
                .number("max_side", 16..=16_384)?
                .map(|side| side as u32)
                .unwrap_or(defaults.max_side),
            async_threshold_bytes: table
                .number("async_threshold_bytes", 0..=gib)?
                .unwrap_or(defaults.async_threshold_bytes),
            transcode_timeout_seconds: table
                .number("transcode_timeout_seconds", 1..=3600)?
                .unwrap_or(defaults.transcode_timeout_seconds),
            speed_preset: speed_preset(config)?.unwrap_or(defaults.speed_preset),
        })
    }

    pub fn max_pixels(&self) -> u64 {
        self.max_megapixels * 1_000_000
    }

    pub fn max_duration(&self) -> Duration {
        Duration::from_secs(self.max_duration_seconds)
    }

    pub fn transcode_timeout(&self) -> Duration {
        Duration::from_secs(self.transcode_timeout_seconds)
    }
}

/// `speed_preset`, one of [`SPEED_PRESETS`] (ConfigTable reads numbers only).
fn speed_preset(config: &Value) -> Result<Option<String>, PluginError> {
    match config.get("speed_preset") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(name)) if SPEED_PRESETS.contains(&name.trim()) => {
            Ok(Some(name.trim().to_string()))
        }
        Some(other) => Err(invalid(format!(
            "[plugin.video] speed_preset must be one of {}, not {other}",
            SPEED_PRESETS.join(", ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_caps() {
        let config = VideoConfig::from_json(&json!({})).unwrap();
        assert_eq!(config, VideoConfig::default());
        assert_eq!(VideoConfig::from_json(&Value::Null).unwrap(), config);
        assert_eq!(config.max_bytes, 64 * 1024 * 1024);
        assert_eq!(config.max_duration(), Duration::from_secs(900));
        assert_eq!(config.max_pixels(), 36_000_000);
        assert_eq!(config.speed_preset, "veryfast");
    }

    #[test]
    fn numbers_strings_and_presets_are_read() {
        let config = VideoConfig::from_json(&json!({
            "max_bytes": "1000", "max_duration_seconds": 5, "max_megapixels": 2,
            "max_side": 640, "async_threshold_bytes": 0, "transcode_timeout_seconds": 60,
            "speed_preset": "ultrafast"
        }))
        .unwrap();
        assert_eq!(config.max_bytes, 1000);
        assert_eq!(config.max_side, 640);
        assert_eq!(config.async_threshold_bytes, 0);
        assert_eq!(config.speed_preset, "ultrafast");
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_by_name() {
        let error = VideoConfig::from_json(&json!({"speed_preset": "warp"})).unwrap_err();
        assert!(error.message.contains("speed_preset"), "{error}");
        let error = VideoConfig::from_json(&json!({"max_sides": 10})).unwrap_err();
        assert!(error.message.contains("\"max_sides\""), "{error}");
        assert!(VideoConfig::from_json(&json!({"max_side": 2})).is_err());
        assert!(VideoConfig::from_json(&json!({"transcode_timeout_seconds": 0})).is_err());
    }
}
