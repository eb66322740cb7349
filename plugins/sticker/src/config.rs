//! The `[plugin.sticker]` configuration table, as the host hands it to `init` (read through
//! the SDK's `wuts_plugin_api::config`, as plugins/image/src/config.rs reads its own).

use serde_json::Value;
use wuts_plugin_api::PluginError;
use wuts_plugin_api::config::ConfigTable;

/// Settings of the sticker plugin; every key is optional. The sticker sent is capped at
/// [`crate::picture::MAX_STICKER_BYTES`] whatever these say: that is WhatsApp's limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StickerConfig {
    /// The largest file accepted, in bytes (decoded base64, or the download): a PNG or a
    /// GIF to convert may be much larger than the sticker it becomes.
    pub max_input_bytes: u64,
    /// The most pixels decoded for one request, in millions: a still picture's, or every
    /// frame of an animation added up. Headers are read first, so a picture over the cap is
    /// refused before its pixels are decoded.
    pub max_megapixels: u64,
    /// The most frames an animation may have. Each frame is kept as a 512x512 RGBA
    /// picture (1 MiB) until the animation is encoded, so this bounds the memory too.
    pub max_frames: u64,
    /// The longest a conversion may take (decoding, fitting, every quality step), in
    /// seconds: past it the sticker is refused as too large to convert.
    pub conversion_timeout_seconds: u64,
}

/// docs/API.md ("Media"): 16 MiB and 50 megapixels, the image plugin's caps. 120 frames is
/// 10 seconds at 12 frames a second, about what an animated sticker within 500 KB holds.
impl Default for StickerConfig {
    fn default() -> Self {
        StickerConfig {
            max_input_bytes: 16 * 1024 * 1024,
            max_megapixels: 50,
            max_frames: 120,
            conversion_timeout_seconds: 30,
        }
    }
}

const KEYS: [&str; 4] = [
    "max_input_bytes",
    "max_megapixels",
    "max_frames",
    "conversion_timeout_seconds",
];

impl StickerConfig {
    /// Reads the table; a wrong value or an unknown key refuses the plugin with a message
    /// naming the key (a typo silently ignored would leave a limit at its default).
    pub fn from_json(config: &Value) -> Result<StickerConfig, PluginError> {
        let Some(table) = ConfigTable::open("sticker", config, &KEYS)? else {
            return Ok(StickerConfig::default());
        };
        let defaults = StickerConfig::default();
        Ok(StickerConfig {
            // Up to 64 MiB: the route's body limit is sized for 16 MiB and is set apart
            // (`[body_limits]`); beyond 64 MiB no sticker source is reasonable.
            max_input_bytes: table
                .number("max_input_bytes", 1..=64 * 1024 * 1024)?
                .unwrap_or(defaults.max_input_bytes),
            // 1000 megapixels of RGBA is 4 GB: beyond that no server should decode.
            max_megapixels: table
                .number("max_megapixels", 1..=1000)?
                .unwrap_or(defaults.max_megapixels),
            // 1000 frames held as 512x512 RGBA is 1 GiB.
            max_frames: table
                .number("max_frames", 2..=1000)?
                .unwrap_or(defaults.max_frames),
            conversion_timeout_seconds: table
                .number("conversion_timeout_seconds", 1..=600)?
                .unwrap_or(defaults.conversion_timeout_seconds),
        })
    }

    /// [`StickerConfig::max_megapixels`] in pixels.
    pub fn conversion_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.conversion_timeout_seconds)
    }

    pub fn max_pixels(&self) -> u64 {
        self.max_megapixels * 1_000_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_caps() {
        let config = StickerConfig::from_json(&json!({})).unwrap();
        assert_eq!(config, StickerConfig::default());
        assert_eq!(StickerConfig::from_json(&Value::Null).unwrap(), config);
        assert_eq!(config.max_input_bytes, 16 * 1024 * 1024);
        assert_eq!(config.max_pixels(), 50_000_000);
        assert_eq!(config.max_frames, 120);
    }

    #[test]
    fn numbers_and_digit_strings_are_read() {
        let config = StickerConfig::from_json(&json!({
            "max_input_bytes": 1000, "max_megapixels": "2", "max_frames": 10
        }))
        .unwrap();
        assert_eq!(config.max_input_bytes, 1000);
        assert_eq!(config.max_pixels(), 2_000_000);
        assert_eq!(config.max_frames, 10);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_by_name() {
        let error = StickerConfig::from_json(&json!({"max_frames": 1})).unwrap_err();
        assert!(error.message.contains("max_frames"), "{error}");
        let error = StickerConfig::from_json(&json!({"max_bytes": 10})).unwrap_err();
        assert!(error.message.contains("\"max_bytes\""), "{error}");
        assert!(StickerConfig::from_json(&json!({"max_input_bytes": 0})).is_err());
        assert!(StickerConfig::from_json(&json!({"max_megapixels": 1001})).is_err());
        assert!(StickerConfig::from_json(&json!("x")).is_err());
    }
}
