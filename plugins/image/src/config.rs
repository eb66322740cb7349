//! The `[plugin.image]` configuration table, as the host hands it to `init` (read through
//! the SDK's `wuts_plugin_api::config`).

use serde_json::Value;
use wuts_plugin_api::PluginError;
use wuts_plugin_api::config::ConfigTable;

/// Settings of the image plugin; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageConfig {
    /// The largest picture accepted, in bytes (decoded base64, or the download).
    pub max_bytes: u64,
    /// The most pixels a picture may have, in millions (its header is read first, so a
    /// picture over the cap is refused before it is decoded).
    pub max_megapixels: u64,
    /// The longest side sent: larger pictures are scaled down to it (and re-encoded).
    pub max_side: u32,
}

/// docs/API.md ("Media"): image 16 MiB and 50 megapixels. 4096 px is the longest side
/// WhatsApp's own clients send a photo with (the "HD" quality).
impl Default for ImageConfig {
    fn default() -> Self {
        ImageConfig {
            max_bytes: 16 * 1024 * 1024,
            max_megapixels: 50,
            max_side: 4096,
        }
    }
}

const KEYS: [&str; 3] = ["max_bytes", "max_megapixels", "max_side"];

impl ImageConfig {
    /// Reads the table; a wrong value or an unknown key refuses the plugin with a message
    /// naming the key (a typo silently ignored would leave a limit at its default).
    pub fn from_json(config: &Value) -> Result<ImageConfig, PluginError> {
        let Some(table) = ConfigTable::open("image", config, &KEYS)? else {
            return Ok(ImageConfig::default());
        };
        let defaults = ImageConfig::default();
        Ok(ImageConfig {
            // Up to 1 GiB: the route's body limit is sized for 16 MiB and is set apart.
            max_bytes: table
                .number("max_bytes", 1..=1024 * 1024 * 1024)?
                .unwrap_or(defaults.max_bytes),
            // 1000 megapixels of RGBA is 4 GB: beyond that no server should decode.
            max_megapixels: table
                .number("max_megapixels", 1..=1000)?
                .unwrap_or(defaults.max_megapixels),
            // 65,535 is the largest side a JPEG header can state.
            max_side: table
                .number("max_side", 72..=65_535)?
                .map(|side| side as u32)
                .unwrap_or(defaults.max_side),
        })
    }

    /// [`ImageConfig::max_megapixels`] in pixels.
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
        let config = ImageConfig::from_json(&json!({})).unwrap();
        assert_eq!(config, ImageConfig::default());
        assert_eq!(ImageConfig::from_json(&Value::Null).unwrap(), config);
        assert_eq!(config.max_bytes, 16 * 1024 * 1024);
        assert_eq!(config.max_pixels(), 50_000_000);
        assert_eq!(config.max_side, 4096);
    }

    #[test]
    fn numbers_and_digit_strings_are_read() {
        let config = ImageConfig::from_json(&json!({
            "max_bytes": 1000, "max_megapixels": "2", "max_side": 1024
        }))
        .unwrap();
        assert_eq!(config.max_bytes, 1000);
        assert_eq!(config.max_pixels(), 2_000_000);
        assert_eq!(config.max_side, 1024);
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_by_name() {
        let error = ImageConfig::from_json(&json!({"max_side": 10})).unwrap_err();
        assert!(error.message.contains("max_side"), "{error}");
        let error = ImageConfig::from_json(&json!({"max_megapixel": 10})).unwrap_err();
        assert!(error.message.contains("\"max_megapixel\""), "{error}");
        assert!(ImageConfig::from_json(&json!({"max_bytes": 0})).is_err());
        assert!(ImageConfig::from_json(&json!(5)).is_err());
    }
}
