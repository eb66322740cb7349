//! Request bodies described once: the same [`Schema`] validates a body, naming the first
//! field that is wrong, and yields the body's JSON Schema for the manifest (and so for
//! `wuts plugins --json` and the API description), so that a limit is written once.
//!
//! ```
//! use wuts_plugin_api::schema::{Kind, Schema};
//!
//! let schema = Schema::object()
//!     .required("to", Kind::recipient())
//!     .required("latitude", Kind::number(-90.0..=90.0))
//!     .optional("name", Kind::text(0..=256));
//! let error = schema
//!     .validate(&serde_json::json!({"to": "5511999999999", "latitude": 200}))
//!     .unwrap_err();
//! assert_eq!(error.message, "latitude: must be a number from -90 to 90");
//! ```
//!
//! Error texts follow [`crate::fields`]: `field: what is wrong`, with indexed paths for
//! nested values (`sections[0].rows[1].id`). Unknown fields are ignored, as WUTS does.

use std::ops::RangeInclusive;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::error::PluginError;
use crate::fields::{kind as json_kind, length_problem};
use crate::request::Request;

/// The shape of a JSON object: its fields in the order they are checked, and which of
/// them are alternatives.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    fields: Vec<Field>,
    /// Pairs of which exactly one must be given (a media source: `image` | `image_url`).
    exactly_one: Vec<(&'static str, &'static str)>,
}

#[derive(Debug, Clone)]
struct Field {
    name: &'static str,
    kind: Kind,
    required: bool,
    description: Option<&'static str>,
}

/// What a field holds.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A string whose length in characters is within `chars`; when empty is not
    /// allowed, blank text counts as empty.
    Text {
        chars: RangeInclusive<usize>,
    },
    /// A phone number (country code first; spaces, dashes, parentheses and a leading `+`
    /// are stripped, 10 to 15 digits remain) or a JID; see [`crate::normalize_recipient`].
    Recipient,
    /// An `http` or `https` URL.
    Url,
    /// A whole number within the range.
    Integer {
        range: RangeInclusive<i64>,
    },
    /// A number (decimals allowed) within the range.
    Number {
        range: RangeInclusive<f64>,
    },
    Bool,
    /// One of a fixed set of strings.
    OneOf(&'static [&'static str]),
    /// A nested object.
    Object(Box<Schema>),
    /// An array of `count` items of one kind; with `unique`, no two items (objects) may
    /// share the value of that field.
    Array {
        items: Box<Kind>,
        count: RangeInclusive<usize>,
        unique: Option<Unique>,
    },
    /// A quoted message reference, in either shape WUTS accepts:
    /// `{"message_id","participant"?,"body"?}` or `{"key":{"id","fromMe"?,"participant"?},
    /// "message":{"conversation"}?}`. Read it with [`crate::Quoted`].
    Quoted,
    /// An array of JIDs or phone numbers (mentions). Read it with [`crate::Mentioned`].
    Mentioned,
    /// Any JSON value.
    Any,
}

/// No two items of an array may share this field's value.
#[derive(Debug, Clone, Copy)]
pub struct Unique {
    pub field: &'static str,
    /// What the error says after `duplicate <field> "<value>": `, e.g. "button ids must be unique".
    pub rule: &'static str,
}

impl Kind {
    pub fn text(chars: RangeInclusive<usize>) -> Kind {
        Kind::Text { chars }
    }

    pub fn recipient() -> Kind {
        Kind::Recipient
    }

    pub fn url() -> Kind {
        Kind::Url
    }

    pub fn integer(range: RangeInclusive<i64>) -> Kind {
        Kind::Integer { range }
    }

    pub fn number(range: RangeInclusive<f64>) -> Kind {
        Kind::Number { range }
    }

    pub fn boolean() -> Kind {
        Kind::Bool
    }

    pub fn one_of(values: &'static [&'static str]) -> Kind {
        Kind::OneOf(values)
    }

    pub fn object(schema: Schema) -> Kind {
        Kind::Object(Box::new(schema))
    }

    pub fn array(items: Kind, count: RangeInclusive<usize>) -> Kind {
        Kind::Array {
            items: Box::new(items),
            count,
            unique: None,
        }
    }

    /// An array of objects in which no two share `field`'s value.
    pub fn array_unique_by(
        items: Schema,
        count: RangeInclusive<usize>,
        field: &'static str,
        rule: &'static str,
    ) -> Kind {
        Kind::Array {
            items: Box::new(Kind::object(items)),
            count,
            unique: Some(Unique { field, rule }),
        }
    }

    /// `delay` as WUTS has it on every route: milliseconds, 0 to 60,000.
    pub fn delay_ms() -> Kind {
        Kind::integer(0..=60_000)
    }
}

impl Request<'_> {
    /// Checks the body against `schema` (a 400 naming the first field that is wrong),
    /// then reads it into `T`. `T` is the plain Rust form of the same shape; use
    /// [`Recipient`](crate::Recipient), [`Quoted`](crate::Quoted) and
    /// [`Mentioned`](crate::Mentioned) for those fields.
    pub fn parse<T: DeserializeOwned>(&self, schema: &Schema) -> Result<T, PluginError> {
        let value = self.json::<serde_json::Value>()?;
        schema.validate(&value)?;
        serde_json::from_value(value).map_err(|error| {
            PluginError::bad_request("VALIDATION_ERROR", format!("invalid request body: {error}"))
        })
    }
}

impl Schema {
    /// An object with no fields yet.
    pub fn object() -> Schema {
        Schema::default()
    }

    /// Adds a field that must be present (and not `null`).
    pub fn required(mut self, name: &'static str, kind: Kind) -> Schema {
        self.fields.push(Field {
            name,
            kind,
            required: true,
            description: None,
        });
        self
    }

    /// Adds a field that may be absent or `null`.
    pub fn optional(mut self, name: &'static str, kind: Kind) -> Schema {
        self.fields.push(Field {
            name,
            kind,
            required: false,
            description: None,
        });
        self
    }

    /// Describes the field added last, for the JSON Schema.
    pub fn describe(mut self, description: &'static str) -> Schema {
        if let Some(field) = self.fields.last_mut() {
            field.description = Some(description);
        }
        self
    }

    /// A media source: exactly one of `inline` (base64, optionally a `data:` URI) and
    /// `url` (http or https, fetched by the host). A field that is present counts as
    /// given, even when empty. Read it with [`crate::MediaSource::pick`].
    pub fn media_source(mut self, inline: &'static str, url: &'static str) -> Schema {
        self = self
            .optional(inline, Kind::text(0..=usize::MAX))
            .describe("base64 bytes, raw or as a data: URI")
            .optional(url, Kind::url())
            .describe("an http(s) URL the server downloads");
        self.exactly_one.push((inline, url));
        self
    }

    /// The optional `device_id` every send route accepts.
    pub fn device_id(self) -> Schema {
        self.optional("device_id", Kind::text(0..=usize::MAX))
            .describe("the sending device; default: the caller's default device")
    }

    /// Checks `value` against this schema; the first problem, in field order, is the
    /// error (a 400 `VALIDATION_ERROR` naming the field).
    pub fn validate(&self, value: &Value) -> Result<(), PluginError> {
        match value {
            Value::Object(fields) => self.check_object(fields, ""),
            other => Err(PluginError::bad_request(
                "VALIDATION_ERROR",
                format!("the body must be a JSON object, not {}", json_kind(other)),
            )),
        }
    }

    /// The JSON Schema (draft 2020-12 vocabulary) of what [`Schema::validate`] accepts.
    pub fn json_schema(&self) -> Value {
        let mut properties = Map::new();
        let mut required = Vec::new();
        for field in &self.fields {
            let mut schema = field.kind.json_schema();
            if let (Some(description), Value::Object(map)) = (field.description, &mut schema) {
                map.insert("description".into(), json!(description));
            }
            properties.insert(field.name.into(), schema);
            if field.required {
                required.push(json!(field.name));
            }
        }
        let mut schema = json!({"type": "object", "properties": properties});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        if !self.exactly_one.is_empty() {
            schema["allOf"] = self
                .exactly_one
                .iter()
                .map(|(a, b)| json!({"oneOf": [{"required": [a]}, {"required": [b]}]}))
                .collect();
        }
        schema
    }

    fn check_object(&self, fields: &Map<String, Value>, path: &str) -> Result<(), PluginError> {
        self.check_object_among(fields, path, None)
    }

    /// [`Schema::check_object`] for an item of an array whose items must differ in
    /// `unique`'s field from the `earlier` ones: checked right after that field, so the
    /// first problem in field order is the one reported.
    fn check_object_among(
        &self,
        fields: &Map<String, Value>,
        path: &str,
        among: Option<(Unique, &[Value])>,
    ) -> Result<(), PluginError> {
        for field in &self.fields {
            let value = fields.get(field.name).filter(|value| !value.is_null());
            let field_path = join(path, field.name);
            match value {
                None if field.required => {
                    return Err(PluginError::invalid_field(
                        field_path,
                        "is required",
                        Value::Null,
                    ));
                }
                None => {}
                Some(value) => {
                    field.kind.check(value, &field_path)?;
                    let earlier = among.and_then(|(unique, earlier)| {
                        (unique.field == field.name).then_some((unique, earlier))
                    });
                    let repeated = earlier.filter(|(_, earlier)| {
                        earlier
                            .iter()
                            .any(|item| item.get(field.name) == Some(value))
                    });
                    if let Some((unique, _)) = repeated {
                        let shown = value
                            .as_str()
                            .map_or_else(|| value.to_string(), str::to_string);
                        return Err(PluginError::invalid_field(
                            field_path,
                            format!("duplicate {} {shown:?}: {}", unique.field, unique.rule),
                            value.clone(),
                        ));
                    }
                }
            }
        }
        for (a, b) in &self.exactly_one {
            let given = |name: &str| fields.get(name).is_some_and(|value| !value.is_null());
            match (given(a), given(b)) {
                (true, true) => {
                    return Err(PluginError::invalid_field(
                        join(path, a),
                        format!("give either {a} or {b}, not both"),
                        Value::Null,
                    ));
                }
                (false, false) => {
                    return Err(PluginError::invalid_field(
                        join(path, a),
                        format!("{a} or {b} is required"),
                        Value::Null,
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// "with a and b" / "with a, b and c": what an object of this schema must carry.
    fn required_names(&self) -> String {
        let names: Vec<&str> = self
            .fields
            .iter()
            .filter(|field| field.required)
            .map(|field| field.name)
            .collect();
        match names.as_slice() {
            [] => String::new(),
            [one] => format!(" with {one}"),
            [rest @ .., last] => format!(" with {} and {last}", rest.join(", ")),
        }
    }
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn wrong_type(path: &str, expected: &str, value: &Value) -> PluginError {
    PluginError::invalid_field(
        path,
        format!("must be {expected}, not {}", json_kind(value)),
        value.clone(),
    )
}

/// `-90` rather than `-90.0` in messages and schemas: the bounds people write.
fn plain_number(number: f64) -> Value {
    if number.fract() == 0.0 && number.abs() < 1e15 {
        json!(number as i64)
    } else {
        json!(number)
    }
}

impl Kind {
    fn check(&self, value: &Value, path: &str) -> Result<(), PluginError> {
        match self {
            Kind::Text { chars } => {
                let text = value
                    .as_str()
                    .ok_or_else(|| wrong_type(path, "a string", value))?;
                match length_problem(text, chars.clone()) {
                    None => Ok(()),
                    Some(problem) => Err(PluginError::invalid_field(path, problem, value.clone())),
                }
            }
            Kind::Recipient => {
                let text = value
                    .as_str()
                    .ok_or_else(|| wrong_type(path, "a string", value))?;
                crate::recipient::normalize_recipient(text)
                    .map(drop)
                    .map_err(|reason| PluginError::invalid_field(path, reason, value.clone()))
            }
            Kind::Url => {
                let text = value
                    .as_str()
                    .ok_or_else(|| wrong_type(path, "a string", value))?;
                if is_http_url(text) {
                    Ok(())
                } else {
                    Err(PluginError::invalid_field(
                        path,
                        "must be an http or https URL",
                        value.clone(),
                    ))
                }
            }
            Kind::Integer { range } => match value.as_i64() {
                Some(number) if range.contains(&number) => Ok(()),
                _ => Err(PluginError::invalid_field(
                    path,
                    format!(
                        "must be a whole number from {} to {}",
                        range.start(),
                        range.end()
                    ),
                    value.clone(),
                )),
            },
            Kind::Number { range } => match value.as_f64() {
                Some(number) if range.contains(&number) => Ok(()),
                _ => Err(PluginError::invalid_field(
                    path,
                    format!(
                        "must be a number from {} to {}",
                        plain_number(*range.start()),
                        plain_number(*range.end())
                    ),
                    value.clone(),
                )),
            },
            Kind::Bool => match value {
                Value::Bool(_) => Ok(()),
                other => Err(wrong_type(path, "true or false", other)),
            },
            Kind::OneOf(values) => match value.as_str() {
                Some(text) if values.contains(&text) => Ok(()),
                _ => Err(PluginError::invalid_field(
                    path,
                    format!("must be one of {}", values.join(", ")),
                    value.clone(),
                )),
            },
            Kind::Object(schema) => match value {
                Value::Object(fields) => schema.check_object(fields, path),
                other => Err(wrong_type(
                    path,
                    &format!("an object{}", schema.required_names()),
                    other,
                )),
            },
            Kind::Array {
                items,
                count,
                unique,
            } => {
                let list = value
                    .as_array()
                    .ok_or_else(|| wrong_type(path, "an array", value))?;
                if !count.contains(&list.len()) {
                    return Err(PluginError::invalid_field(
                        path,
                        count_problem(list.len(), count),
                        json!(list.len()),
                    ));
                }
                for (index, item) in list.iter().enumerate() {
                    let item_path = format!("{path}[{index}]");
                    match (unique, items.as_ref(), item) {
                        (Some(unique), Kind::Object(schema), Value::Object(fields)) => schema
                            .check_object_among(
                                fields,
                                &item_path,
                                Some((*unique, &list[..index])),
                            )?,
                        _ => items.check(item, &item_path)?,
                    }
                }
                Ok(())
            }
            Kind::Quoted => crate::references::Quoted::check(value, path),
            Kind::Mentioned => crate::references::Mentioned::check(value, path),
            Kind::Any => Ok(()),
        }
    }

    fn json_schema(&self) -> Value {
        match self {
            Kind::Text { chars } => {
                let mut schema = json!({"type": "string"});
                if *chars.start() > 0 {
                    schema["minLength"] = json!(chars.start());
                }
                if *chars.end() != usize::MAX {
                    schema["maxLength"] = json!(chars.end());
                }
                schema
            }
            Kind::Recipient => json!({
                "type": "string",
                "description": "a phone number with country code (10 to 15 digits), or a JID",
                "examples": ["5511999999999"]
            }),
            Kind::Url => json!({"type": "string", "format": "uri", "pattern": "^https?://"}),
            Kind::Integer { range } => {
                json!({"type": "integer", "minimum": range.start(), "maximum": range.end()})
            }
            Kind::Number { range } => json!({
                "type": "number",
                "minimum": plain_number(*range.start()),
                "maximum": plain_number(*range.end())
            }),
            Kind::Bool => json!({"type": "boolean"}),
            Kind::OneOf(values) => json!({"type": "string", "enum": values}),
            Kind::Object(schema) => schema.json_schema(),
            Kind::Array { items, count, .. } => {
                let mut schema = json!({"type": "array", "items": items.json_schema()});
                schema["minItems"] = json!(count.start());
                if *count.end() != usize::MAX {
                    schema["maxItems"] = json!(count.end());
                }
                schema
            }
            Kind::Quoted => crate::references::Quoted::json_schema(),
            Kind::Mentioned => crate::references::Mentioned::json_schema(),
            Kind::Any => json!({}),
        }
    }
}

fn count_problem(given: usize, count: &RangeInclusive<usize>) -> String {
    if *count.end() == usize::MAX {
        format!("{given} given, at least {} required", count.start())
    } else {
        format!(
            "{given} given, {} to {} allowed",
            count.start(),
            count.end()
        )
    }
}

/// Whether `text` is an absolute `http` or `https` URL with a host.
pub fn is_http_url(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &text[8..]
    } else if lower.starts_with("http://") {
        &text[7..]
    } else {
        return false;
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    !host.is_empty() && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_schema() -> Schema {
        let row = Schema::object()
            .required("id", Kind::text(1..=200))
            .required("title", Kind::text(1..=24));
        let section = Schema::object()
            .optional("title", Kind::text(0..=24))
            .required(
                "rows",
                Kind::array_unique_by(row, 1..=10, "id", "row ids must be unique"),
            );
        Schema::object()
            .required("to", Kind::recipient())
            .required("sections", Kind::array(Kind::object(section), 1..=10))
            .optional("delay", Kind::delay_ms())
            .optional("latitude", Kind::number(-90.0..=90.0))
    }

    fn error(body: Value) -> String {
        list_schema().validate(&body).unwrap_err().message
    }

    fn valid() -> Value {
        json!({"to": "+55 11 99999-9999", "sections": [
            {"title": "A", "rows": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}]}
        ]})
    }

    #[test]
    fn a_valid_body_passes() {
        assert!(list_schema().validate(&valid()).is_ok());
    }

    #[test]
    fn nested_errors_name_the_indexed_path() {
        let mut body = valid();
        body["sections"][0]["rows"][1]["id"] = json!("");
        assert_eq!(error(body), "sections[0].rows[1].id: must not be empty");
        let mut body = valid();
        body["sections"][0]["rows"][1]["id"] = json!("a");
        assert_eq!(
            error(body),
            r#"sections[0].rows[1].id: duplicate id "a": row ids must be unique"#
        );
        let mut body = valid();
        body["sections"][0]["rows"][0] = json!(5);
        assert_eq!(
            error(body),
            "sections[0].rows[0]: must be an object with id and title, not a number"
        );
        let mut body = valid();
        body["sections"] = json!([]);
        assert_eq!(error(body), "sections: 0 given, 1 to 10 allowed");
    }

    #[test]
    fn missing_wrong_typed_and_out_of_range_values_are_named() {
        assert_eq!(error(json!({"sections": []})), "to: is required");
        assert_eq!(
            error(json!({"to": 5})),
            "to: must be a string, not a number"
        );
        let mut body = valid();
        body["latitude"] = json!(90.5);
        assert_eq!(error(body), "latitude: must be a number from -90 to 90");
        let mut body = valid();
        body["latitude"] = json!("1");
        assert_eq!(error(body), "latitude: must be a number from -90 to 90");
        let mut body = valid();
        body["latitude"] = json!(-23.55052);
        assert!(list_schema().validate(&body).is_ok());
        let mut body = valid();
        body["delay"] = json!(1.5);
        assert_eq!(error(body), "delay: must be a whole number from 0 to 60000");
        assert_eq!(
            list_schema().validate(&json!([1])).unwrap_err().message,
            "the body must be a JSON object, not an array"
        );
    }

    #[test]
    fn a_media_source_takes_exactly_one_of_its_fields() {
        let schema = Schema::object().media_source("image", "image_url");
        assert!(schema.validate(&json!({"image": ""})).is_ok());
        assert!(
            schema
                .validate(&json!({"image_url": "https://example.com/a.png"}))
                .is_ok()
        );
        assert_eq!(
            schema.validate(&json!({})).unwrap_err().message,
            "image: image or image_url is required"
        );
        assert_eq!(
            schema
                .validate(&json!({"image": "aGk=", "image_url": "https://example.com/"}))
                .unwrap_err()
                .message,
            "image: give either image or image_url, not both"
        );
        assert_eq!(
            schema
                .validate(&json!({"image_url": "ftp://example.com/a"}))
                .unwrap_err()
                .message,
            "image_url: must be an http or https URL"
        );
    }

    #[test]
    fn the_json_schema_carries_every_limit() {
        let schema = list_schema().json_schema();
        assert_eq!(schema["required"], json!(["to", "sections"]));
        let rows = &schema["properties"]["sections"]["items"]["properties"]["rows"];
        assert_eq!(rows["maxItems"], 10);
        assert_eq!(rows["items"]["properties"]["id"]["maxLength"], 200);
        assert_eq!(schema["properties"]["latitude"]["minimum"], -90);
        assert_eq!(schema["properties"]["delay"]["maximum"], 60_000);
        let media = Schema::object().media_source("a", "a_url").json_schema();
        assert_eq!(
            media["allOf"][0]["oneOf"],
            json!([{"required": ["a"]}, {"required": ["a_url"]}])
        );
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        for good in ["http://a.b", "HTTPS://example.com/x?y#z"] {
            assert!(is_http_url(good), "{good}");
        }
        for bad in [
            "ftp://a",
            "http://",
            "https:///x",
            "example.com",
            "http://a b",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
    }
}
