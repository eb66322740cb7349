//! Reading request fields with errors that name the field and say what is accepted.
//!
//! Plugins parse the body as a JSON object and read each field through these helpers,
//! so a wrong type reads `to: must be a string`, not a serde position.

use serde_json::{Map, Value};

use crate::error::PluginError;
use crate::request::Request;

/// The request body as a JSON object.
pub fn body_object(request: &Request<'_>) -> Result<Map<String, Value>, PluginError> {
    match request.json::<Value>()? {
        Value::Object(fields) => Ok(fields),
        other => Err(PluginError::bad_request(
            "VALIDATION_ERROR",
            format!("the body must be a JSON object, not {}", kind(&other)),
        )),
    }
}

/// A value's JSON kind, for messages.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `field`'s value, treating `null` as absent.
pub fn present<'a>(fields: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    fields.get(field).filter(|value| !value.is_null())
}

fn wrong_type(field: &str, expected: &str, value: &Value) -> PluginError {
    PluginError::invalid_field(
        field,
        format!("must be {expected}, not {}", kind(value)),
        value.clone(),
    )
}

/// A required string.
pub fn required_string<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, PluginError> {
    match present(fields, field) {
        None => Err(PluginError::invalid_field(
            field,
            "is required",
            Value::Null,
        )),
        Some(Value::String(text)) => Ok(text),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// An optional string.
pub fn optional_string<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, PluginError> {
    match present(fields, field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(wrong_type(field, "a string", other)),
    }
}

/// An optional boolean.
pub fn optional_bool(
    fields: &Map<String, Value>,
    field: &str,
) -> Result<Option<bool>, PluginError> {
    match present(fields, field) {
        None => Ok(None),
        Some(Value::Bool(flag)) => Ok(Some(*flag)),
        Some(other) => Err(wrong_type(field, "true or false", other)),
    }
}

/// An optional whole number within `range`.
pub fn optional_u64(
    fields: &Map<String, Value>,
    field: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Option<u64>, PluginError> {
    match present(fields, field) {
        None => Ok(None),
        Some(value) => match value.as_u64() {
            Some(number) if range.contains(&number) => Ok(Some(number)),
            _ => Err(PluginError::invalid_field(
                field,
                format!(
                    "must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ),
                value.clone(),
            )),
        },
    }
}

/// A required array.
pub fn required_array<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a [Value], PluginError> {
    match present(fields, field) {
        None => Err(PluginError::invalid_field(
            field,
            "is required",
            Value::Null,
        )),
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(wrong_type(field, "an array", other)),
    }
}

/// An optional object.
pub fn optional_object<'a>(
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a Map<String, Value>>, PluginError> {
    match present(fields, field) {
        None => Ok(None),
        Some(Value::Object(object)) => Ok(Some(object)),
        Some(other) => Err(wrong_type(field, "an object", other)),
    }
}

/// Checks a text's length in characters (not bytes: an emoji is one).
pub fn check_length(
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), PluginError> {
    match length_problem(text, range) {
        None => Ok(()),
        Some(message) => Err(PluginError::invalid_field(
            field,
            message,
            Value::String(text.to_string()),
        )),
    }
}

/// What is wrong with `text`'s length (in characters), if anything: the message
/// [`check_length`] reports. For a caller whose field name costs work to build.
pub fn length_problem(text: &str, range: std::ops::RangeInclusive<usize>) -> Option<String> {
    let length = text.chars().count();
    let blank = *range.start() > 0 && text.trim().is_empty();
    if range.contains(&length) && !blank {
        return None;
    }
    Some(if blank {
        "must not be empty".to_string()
    } else if *range.start() == 0 {
        format!("{length} characters given, at most {} allowed", range.end())
    } else {
        format!(
            "{length} characters given, {} to {} allowed",
            range.start(),
            range.end()
        )
    })
}

/// A recipient (`to`, `number`, ...) normalised to a JID.
pub fn recipient(fields: &Map<String, Value>, field: &str) -> Result<String, PluginError> {
    let text = required_string(fields, field)?;
    crate::recipient::normalize_recipient(text).map_err(|reason| {
        PluginError::invalid_field(field, reason, Value::String(text.to_string()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn wrong_types_and_missing_fields_name_the_field() {
        let fields = object(json!({"to": 5, "buttons": "x", "footer": null}));
        assert_eq!(
            required_string(&fields, "to").unwrap_err().message,
            "to: must be a string, not a number"
        );
        assert_eq!(
            required_array(&fields, "buttons").unwrap_err().message,
            "buttons: must be an array, not a string"
        );
        assert_eq!(
            required_string(&fields, "message").unwrap_err().message,
            "message: is required"
        );
        assert_eq!(optional_string(&fields, "footer").unwrap(), None);
    }

    #[test]
    fn lengths_count_characters() {
        assert!(check_length("t", &"😀".repeat(20), 1..=20).is_ok());
        assert_eq!(
            check_length("t", &"😀".repeat(21), 1..=20)
                .unwrap_err()
                .message,
            "t: 21 characters given, 1 to 20 allowed"
        );
        assert_eq!(
            check_length("t", " ", 1..=20).unwrap_err().message,
            "t: must not be empty"
        );
        assert_eq!(
            check_length("f", &"a".repeat(61), 0..=60)
                .unwrap_err()
                .message,
            "f: 61 characters given, at most 60 allowed"
        );
    }

    #[test]
    fn numbers_must_be_whole_and_in_range() {
        let fields = object(json!({"delay": 1.5, "ok": 10}));
        assert!(optional_u64(&fields, "delay", 0..=100).is_err());
        assert_eq!(optional_u64(&fields, "ok", 0..=100).unwrap(), Some(10));
    }
}
