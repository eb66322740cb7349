//! The `[plugin.audio]` configuration table, as the host hands it to `init`.

use std::time::Duration;

use serde_json::Value;
use wuts_plugin_api::PluginError;
use wuts_plugin_api::config::ConfigTable;

/// Settings of the audio plugin; every key is optional (defaults as in `config/wuts.toml`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioConfig {
    /// Base64 audio that decodes to more bytes than this is answered 202 and sent as a job.
    pub async_threshold_bytes: u64,
    /// Longest accepted clip.
    pub max_duration: Duration,
    /// Parallel transcodes in this process; 0 = one per core.
    pub max_concurrent_transcodes: usize,
    /// Deadline of one transcode (and the longest wait for a transcode slot).
    pub transcode_timeout: Duration,
    /// libopus complexity, 0 (fastest) to 10 (best, and ffmpeg's default).
    pub encoder_complexity: u8,
}

impl Default for AudioConfig {
    fn default() -> Self {
        AudioConfig {
            async_threshold_bytes: 2 * 1024 * 1024,
            max_duration: Duration::from_secs(900),
            max_concurrent_transcodes: 0,
            transcode_timeout: Duration::from_secs(120),
            encoder_complexity: crate::codec::DEFAULT_ENCODER_COMPLEXITY,
        }
    }
}

const KEYS: [&str; 5] = [
    "async_threshold_bytes",
    "max_duration_seconds",
    "max_concurrent_transcodes",
    "transcode_timeout_seconds",
    "encoder_complexity",
];

impl AudioConfig {
    /// Reads the table; a wrong value or an unknown key refuses the plugin with a message
    /// naming the key (a typo silently ignored would leave a limit at its default).
    pub fn from_json(config: &Value) -> Result<AudioConfig, PluginError> {
        let Some(table) = ConfigTable::open("audio", config, &KEYS)? else {
            return Ok(AudioConfig::default());
        };
        let defaults = AudioConfig::default();
        let max_duration_seconds = table.number("max_duration_seconds", 1..=24 * 3600)?;
        let timeout_seconds = table.number("transcode_timeout_seconds", 1..=24 * 3600)?;
        Ok(AudioConfig {
            async_threshold_bytes: table
                .number("async_threshold_bytes", 0..=u64::MAX)?
                .unwrap_or(defaults.async_threshold_bytes),
            max_duration: max_duration_seconds
                .map(Duration::from_secs)
                .unwrap_or(defaults.max_duration),
            max_concurrent_transcodes: table
                .number("max_concurrent_transcodes", 0..=1024)?
                .map(|permits| permits as usize)
                .unwrap_or(defaults.max_concurrent_transcodes),
            transcode_timeout: timeout_seconds
                .map(Duration::from_secs)
                .unwrap_or(defaults.transcode_timeout),
            encoder_complexity: table
                .number("encoder_complexity", 0..=10)?
                .map(|complexity| complexity as u8)
                .unwrap_or(defaults.encoder_complexity),
        })
    }

    /// Transcode slots: the configured number, or one per core.
    pub fn transcode_permits(&self) -> usize {
        match self.max_concurrent_transcodes {
            0 => std::thread::available_parallelism().map_or(1, usize::from),
            permits => permits,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_match_the_documented_table() {
        assert_eq!(
            AudioConfig::from_json(&json!({})).unwrap(),
            AudioConfig::default()
        );
        assert_eq!(
            AudioConfig::from_json(&Value::Null).unwrap(),
            AudioConfig::default()
        );
    }

    #[test]
    fn numbers_and_digit_strings_are_read() {
        let config = AudioConfig::from_json(&json!({
            "async_threshold_bytes": 1000,
            "max_duration_seconds": "5",
            "max_concurrent_transcodes": 3,
            "transcode_timeout_seconds": 30,
            "encoder_complexity": 10
        }))
        .unwrap();
        assert_eq!(config.async_threshold_bytes, 1000);
        assert_eq!(config.max_duration, Duration::from_secs(5));
        assert_eq!(config.transcode_permits(), 3);
        assert_eq!(config.transcode_timeout, Duration::from_secs(30));
        assert_eq!(config.encoder_complexity, 10);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_by_name() {
        let error = AudioConfig::from_json(&json!({"max_duration_seconds": -1})).unwrap_err();
        assert!(error.message.contains("max_duration_seconds"), "{error}");
        let error = AudioConfig::from_json(&json!({"max_duration": 10})).unwrap_err();
        assert!(error.message.contains("\"max_duration\""), "{error}");
        assert!(AudioConfig::from_json(&json!({"transcode_timeout_seconds": 0})).is_err());
        let error = AudioConfig::from_json(&json!({"encoder_complexity": 11})).unwrap_err();
        assert!(error.message.contains("encoder_complexity"), "{error}");
        assert!(AudioConfig::default().transcode_permits() >= 1);
    }
}
