//! The `[plugin.document]` configuration table, as the host hands it to `init` (read through
//! the SDK's `wuts_plugin_api::config`, as plugins/image/src/config.rs reads its own).

use serde_json::Value;
use wuts_plugin_api::PluginError;
use wuts_plugin_api::config::ConfigTable;

const MIB: u64 = 1024 * 1024;

/// The default [`DocumentConfig::max_bytes`]; the route's body limit is sized for it.
pub const DEFAULT_MAX_BYTES: u64 = 100 * MIB;

/// Settings of the document plugin; every key is optional.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentConfig {
    /// The largest file accepted, in bytes (decoded base64, or the download).
    pub max_bytes: u64,
    /// Base64 documents that decode to more bytes than this are answered 202 and sent as a
    /// job (a URL's size is only known after the download, so URL sources run inline).
    pub async_threshold_bytes: u64,
    /// PDFs up to this size have their pages counted; larger ones are sent without
    /// `pageCount`. 0 turns counting off.
    pub page_count_max_bytes: u64,
}

/// The API's media caps: a document 100 MiB (a picture 16 MiB, plugins/image/src/config.rs).
/// A 16 MiB threshold keeps the upload of most office files inline, while a large base64
/// body does not hold its HTTP request open.
/// Counting reads the cross-reference table, the catalog and the page tree only, but a
/// file whose table is broken is scanned whole to rebuild it: 32 MiB bounds that scan.
impl Default for DocumentConfig {
    fn default() -> Self {
        DocumentConfig {
            max_bytes: DEFAULT_MAX_BYTES,
            async_threshold_bytes: 16 * MIB,
            page_count_max_bytes: 32 * MIB,
        }
    }
}

const KEYS: [&str; 3] = ["max_bytes", "async_threshold_bytes", "page_count_max_bytes"];

impl DocumentConfig {
    /// Reads the table; a wrong value or an unknown key refuses the plugin with a message
    /// naming the key (a typo silently ignored would leave a limit at its default).
    pub fn from_json(config: &Value) -> Result<DocumentConfig, PluginError> {
        let Some(table) = ConfigTable::open("document", config, &KEYS)? else {
            return Ok(DocumentConfig::default());
        };
        let defaults = DocumentConfig::default();
        Ok(DocumentConfig {
            // Up to 2 GiB, WhatsApp's own cap on a document. The route's body limit is
            // sized for the default and is set apart (`[body_limits]`).
            max_bytes: table
                .number("max_bytes", 1..=2048 * MIB)?
                .unwrap_or(defaults.max_bytes),
            // 0: every base64 document is a job.
            async_threshold_bytes: table
                .number("async_threshold_bytes", 0..=u64::MAX)?
                .unwrap_or(defaults.async_threshold_bytes),
            page_count_max_bytes: table
                .number("page_count_max_bytes", 0..=1024 * MIB)?
                .unwrap_or(defaults.page_count_max_bytes),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_are_the_documented_caps() {
        let config = DocumentConfig::from_json(&json!({})).unwrap();
        assert_eq!(config, DocumentConfig::default());
        assert_eq!(DocumentConfig::from_json(&Value::Null).unwrap(), config);
        assert_eq!(config.max_bytes, 100 * 1024 * 1024);
        assert_eq!(config.async_threshold_bytes, 16 * 1024 * 1024);
        assert_eq!(config.page_count_max_bytes, 32 * 1024 * 1024);
    }

    #[test]
    fn numbers_and_digit_strings_are_read() {
        let config = DocumentConfig::from_json(&json!({
            "max_bytes": 1000, "async_threshold_bytes": "0", "page_count_max_bytes": 0
        }))
        .unwrap();
        assert_eq!(
            config,
            DocumentConfig {
                max_bytes: 1000,
                async_threshold_bytes: 0,
                page_count_max_bytes: 0,
            }
        );
    }

    #[test]
    fn bad_values_and_unknown_keys_are_refused_by_name() {
        let error = DocumentConfig::from_json(&json!({"max_bytes": 0})).unwrap_err();
        assert!(error.message.contains("max_bytes"), "{error}");
        let error = DocumentConfig::from_json(&json!({"max_bytes": 3u64 << 30})).unwrap_err();
        assert!(error.message.contains("max_bytes"), "{error}");
        let error = DocumentConfig::from_json(&json!({"async_threshold": 10})).unwrap_err();
        assert!(error.message.contains("\"async_threshold\""), "{error}");
        assert!(DocumentConfig::from_json(&json!({"page_count_max_bytes": -1})).is_err());
        assert!(DocumentConfig::from_json(&json!("x")).is_err());
    }
}
