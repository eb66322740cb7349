//! Reading a plugin's `[plugin.NAME]` table, as the host hands it over at load: a wrong
//! value or an unknown key refuses the plugin with a message naming the key (a typo
//! silently ignored would leave a limit at its default). Environment overrides arrive as
//! strings, so numbers are read from digits too.

use serde_json::{Map, Value};

use crate::PluginError;

/// A plugin's settings table, checked against the keys it knows.
pub struct ConfigTable<'a> {
    section: &'a str,
    table: &'a Map<String, Value>,
}

impl<'a> ConfigTable<'a> {
    /// The table of `[plugin.<name>]`; `None` when there is none (every key at its
    /// default).
    pub fn open(
        name: &'a str,
        config: &'a Value,
        known_keys: &[&str],
    ) -> Result<Option<ConfigTable<'a>>, PluginError> {
        let table = match config {
            Value::Null => return Ok(None),
            Value::Object(table) => table,
            other => {
                return Err(invalid(format!(
                    "[plugin.{name}] must be a table, not {}",
                    crate::fields::kind(other)
                )));
            }
        };
        if let Some(unknown) = table.keys().find(|key| !known_keys.contains(&key.as_str())) {
            return Err(invalid(format!(
                "[plugin.{name}] has an unknown key {unknown:?}; known keys: {}",
                known_keys.join(", ")
            )));
        }
        Ok(Some(ConfigTable {
            section: name,
            table,
        }))
    }

    /// A whole number within `range`, or `None` when the key is absent.
    pub fn number(
        &self,
        key: &str,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<Option<u64>, PluginError> {
        let parsed = match self.table.get(key) {
            None | Some(Value::Null) => return Ok(None),
            Some(Value::Number(number)) => number.as_u64(),
            Some(Value::String(text)) => text.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(value) if range.contains(&value) => Ok(Some(value)),
            _ => Err(invalid(format!(
                "[plugin.{}] {key} must be a whole number from {} to {}, not {}",
                self.section,
                range.start(),
                range.end(),
                self.table
                    .get(key)
                    .map(Value::to_string)
                    .unwrap_or_default()
            ))),
        }
    }
}

/// A setting the plugin cannot start with.
pub fn invalid(message: String) -> PluginError {
    PluginError::new(500, "CONFIG_INVALID", message)
}
