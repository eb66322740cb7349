//! `waE2E.Message` protobuf bytes as JSON and back, for the sandbox: the outbox renders
//! sent messages with [`message_to_json`], and [`message_from_json`] reads a received
//! message a tester posts.
//!
//! The names are the protobuf field names (camelCase) in the spelling WUTS and whatsmeow
//! use, where an `Id`, `Jid` or `Json` word is upper case (`selectedButtonID`,
//! `stanzaID`, `mentionedJID`, `buttonParamsJSON`), as docs/API.md writes them. Oneof
//! members appear under their own field name, enums by name, unset fields not at all,
//! and bytes as arrays of numbers. Reading also takes proto3 JSON's spelling
//! (`stanzaId`, base64 bytes, 64-bit integers as strings, enums as numbers).

use buffa::Message as _;
use serde_json::{Map, Value};
use std::collections::HashMap;
use waproto::whatsapp::Message;

/// Decodes and renders a message; undecodable bytes render as an error object rather
/// than failing the listing.
pub fn message_to_json(bytes: &[u8]) -> Value {
    match Message::decode_from_slice(bytes) {
        Ok(message) => match serde_json::to_value(&message) {
            Ok(value) => proto_json(value),
            Err(error) => {
                serde_json::json!({ "error": format!("could not render message: {error}") })
            }
        },
        Err(error) => serde_json::json!({ "error": format!("could not decode message: {error}") }),
    }
}

/// Rewrites the serde form of a generated message into protobuf JSON names.
fn proto_json(value: Value) -> Value {
    match value {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (key, value) in fields {
                match value {
                    Value::Null => {}
                    Value::Array(items) if items.is_empty() => {}
                    // A oneof: `{"interactive_message": {"NativeFlowMessage": {...}}}` becomes
                    // `{"nativeFlowMessage": {...}}`.
                    Value::Object(inner) if is_oneof(&inner) => {
                        for (variant, value) in inner {
                            out.insert(field_name(&variant), proto_json(value));
                        }
                    }
                    value => {
                        out.insert(field_name(&key), proto_json(value));
                    }
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(proto_json).collect()),
        other => other,
    }
}

/// The serde form of a oneof is an object with one key, a Rust variant name.
fn is_oneof(object: &Map<String, Value>) -> bool {
    object.len() == 1
        && object
            .keys()
            .all(|key| key.starts_with(|c: char| c.is_ascii_uppercase()))
}

/// `selected_button_id` or `SelectedButtonId` -> `selectedButtonID`.
fn field_name(rust_name: &str) -> String {
    let rust_name = rust_name.strip_prefix("r#").unwrap_or(rust_name);
    let words: Vec<String> = split_words(rust_name);
    let mut out = String::new();
    for (index, word) in words.iter().enumerate() {
        let upper = matches!(word.as_str(), "id" | "jid" | "json");
        if index > 0 && upper {
            out.push_str(&word.to_ascii_uppercase());
        } else if index == 0 {
            out.push_str(word);
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                out.push(first.to_ascii_uppercase());
                out.extend(chars);
            }
        }
    }
    out
}

/// Lower-case words of a snake_case or PascalCase name.
fn split_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    for part in name.split('_').filter(|part| !part.is_empty()) {
        let mut current = String::new();
        for character in part.chars() {
            if character.is_ascii_uppercase() && !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            current.push(character.to_ascii_lowercase());
        }
        if !current.is_empty() {
            words.push(current);
        }
    }
    words
}

/// Nesting deeper than this is refused (a quoted message inside a quoted message...).
const MAX_DEPTH: usize = 64;
/// Field numbers looked for; the highest `waE2E` uses is 999 (`waproto::tags`).
const MAX_FIELD_NUMBER: u32 = 1024;
/// Enum values looked for; the highest `waE2E` uses is 10003.
const MAX_ENUM_VALUE: i32 = 16_384;
/// Decodes one call may spend finding the schema; bounds the work a hostile body causes.
const PROBE_BUDGET: usize = 200_000;

/// Protobuf wire types.
const VARINT: u32 = 0;
const I64: u32 = 1;
const LEN: u32 = 2;
const I32: u32 = 5;

/// Reads a message in the outbox's spelling (and, leniently, proto3 JSON's: `stanzaId`,
/// 64-bit integers and enums given as strings or numbers, bytes as base64) back into a
/// `waE2E.Message`. Unknown fields, wrong types, unknown enum names, two members of one
/// oneof and nesting deeper than 64 are refused with a one-line reason that names the
/// path, e.g. `buttonsResponseMessage.contextInfo.stanzaID: expected a string`.
///
/// waproto builds `Message` without `Deserialize` (its `serde-deserialize` feature is
/// off) and without buffa's proto3 JSON, so the schema is learnt from the crate itself:
/// a field number is encoded with a probe value, decoded as a `Message` and serialised,
/// and the key that changes names the field and shows its type. The JSON is then
/// encoded on the wire and decoded once more, so what comes back is whatever waproto
/// decodes, never a value it would refuse.
pub fn message_from_json(value: &Value) -> Result<Message, String> {
    let Value::Object(fields) = value else {
        return Err("expected a JSON object (a waE2E.Message)".into());
    };
    let mut decoder = Decoder::default();
    let bytes = decoder.encode_object(fields, &mut Vec::new(), "")?;
    Message::decode_from_slice(&bytes).map_err(|error| format!("could not decode message: {error}"))
}

/// How a field is written on the wire, as its probe showed.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Message,
    String,
    Bytes,
    /// int32, int64, uint32, uint64: a plain varint.
    Int,
    /// sint32, sint64: a zigzag varint.
    SInt,
    Bool,
    Enum,
    Float,
    Fixed32,
    Double,
    Fixed64,
    /// A map, which this reader does not write.
    Map,
}

/// A field of the message at some path, as probing found it.
#[derive(Clone, Debug)]
struct Field {
    number: u32,
    /// The serde key in its message: the oneof's name for a oneof member.
    key: String,
    /// The Rust variant of a oneof member (`SelectedDisplayText`).
    variant: Option<String>,
    kind: Kind,
    repeated: bool,
}

impl Field {
    fn rust_name(&self) -> &str {
        self.variant.as_deref().unwrap_or(&self.key)
    }

    /// `selectedButtonID`, `selectedButtonId`, `selected_button_id`, `ID`: one field.
    fn is_named(&self, json_key: &str) -> bool {
        let rust_name = self.rust_name();
        json_key == field_name(rust_name) || loose(json_key) == loose(rust_name)
    }
}

/// A name without case or underscores.
fn loose(name: &str) -> String {
    name.strip_prefix("r#")
        .unwrap_or(name)
        .chars()
        .filter(|c| *c != '_')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// One message field on the way from the top-level `Message` to a nested message.
#[derive(Clone)]
struct Step {
    number: u32,
    key: String,
    variant: Option<String>,
    repeated: bool,
}

/// What is known of the message at one path.
#[derive(Default)]
struct Schema {
    /// The serde form of the message with nothing set.
    empty: Map<String, Value>,
    fields: Vec<Field>,
    /// Field numbers up to this one have been probed.
    probed_to: u32,
}

/// An enum's names found so far, and the next value to probe.
type EnumNames = (HashMap<String, i32>, i32);

/// One call's schema knowledge and probe budget.
struct Decoder {
    probes_left: usize,
    schemas: HashMap<Vec<u32>, Schema>,
    /// Enum names per (path, field number), as far as they have been probed.
    enums: HashMap<(Vec<u32>, u32), EnumNames>,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            probes_left: PROBE_BUDGET,
            schemas: HashMap::new(),
            enums: HashMap::new(),
        }
    }
}

impl Decoder {
    /// Encodes a JSON object as the message at `path`.
    fn encode_object(
        &mut self,
        object: &Map<String, Value>,
        path: &mut Vec<Step>,
        at: &str,
    ) -> Result<Vec<u8>, String> {
        if path.len() >= MAX_DEPTH {
            return Err(format!("{}: nested deeper than {MAX_DEPTH}", or_top(at)));
        }
        let mut out = Vec::new();
        let mut seen: Vec<(u32, Option<String>, &str)> = Vec::new();
        for (key, value) in object {
            let here = join(at, key);
            if value.is_null() {
                continue;
            }
            let field = self
                .lookup(path, key)?
                .ok_or_else(|| format!("{here}: unknown field"))?;
            for (number, oneof, other) in &seen {
                if *number == field.number {
                    return Err(format!("{here}: the same field as {}", join(at, other)));
                }
                if field.variant.is_some() && oneof.as_deref() == Some(field.key.as_str()) {
                    return Err(format!(
                        "{here}: in the same oneof as {}; give one",
                        join(at, other)
                    ));
                }
            }
            seen.push((
                field.number,
                field.variant.as_ref().map(|_| field.key.clone()),
                key,
            ));
            if field.kind == Kind::Map {
                return Err(format!("{here}: map fields are not supported"));
            }
            if field.repeated {
                let Value::Array(items) = value else {
                    return Err(format!("{here}: expected an array"));
                };
                for (index, item) in items.iter().enumerate() {
                    let here = format!("{here}[{index}]");
                    self.encode_field(&field, item, path, &here, &mut out)?;
                }
            } else {
                self.encode_field(&field, value, path, &here, &mut out)?;
            }
        }
        Ok(out)
    }

    /// Appends one value of `field` (one element of a repeated field).
    fn encode_field(
        &mut self,
        field: &Field,
        value: &Value,
        path: &mut Vec<Step>,
        at: &str,
        out: &mut Vec<u8>,
    ) -> Result<(), String> {
        let number = field.number;
        match field.kind {
            Kind::Message => {
                let Value::Object(object) = value else {
                    return Err(format!("{at}: expected an object"));
                };
                path.push(Step {
                    number,
                    key: field.key.clone(),
                    variant: field.variant.clone(),
                    repeated: field.repeated,
                });
                let inner = self.encode_object(object, path, at);
                path.pop();
                put_field(out, number, LEN, &inner?);
            }
            Kind::String => {
                let Value::String(text) = value else {
                    return Err(format!("{at}: expected a string"));
                };
                put_field(out, number, LEN, text.as_bytes());
            }
            Kind::Bytes => {
                let bytes = bytes_of(value).ok_or_else(|| {
                    format!("{at}: expected an array of numbers 0-255 or a base64 string")
                })?;
                put_field(out, number, LEN, &bytes);
            }
            Kind::Bool => {
                let Value::Bool(flag) = value else {
                    return Err(format!("{at}: expected true or false"));
                };
                put_field(out, number, VARINT, &varint(u64::from(*flag)));
            }
            Kind::Int | Kind::SInt | Kind::Fixed32 | Kind::Fixed64 => {
                let number_value =
                    integer_of(value).ok_or_else(|| format!("{at}: expected an integer"))?;
                let (wire, payload) = match (field.kind, number_value) {
                    (Kind::Int, Integer::Signed(n)) => (VARINT, varint(n as u64)),
                    (Kind::Int, Integer::Unsigned(n)) => (VARINT, varint(n)),
                    (Kind::SInt, Integer::Signed(n)) => {
                        (VARINT, varint(((n << 1) ^ (n >> 63)) as u64))
                    }
                    (Kind::Fixed32, Integer::Signed(n)) => match i32::try_from(n) {
                        Ok(n) => (I32, n.to_le_bytes().to_vec()),
                        Err(_) => return Err(format!("{at}: out of range")),
                    },
                    (Kind::Fixed32, Integer::Unsigned(n)) => match u32::try_from(n) {
                        Ok(n) => (I32, n.to_le_bytes().to_vec()),
                        Err(_) => return Err(format!("{at}: out of range")),
                    },
                    (Kind::Fixed64, Integer::Signed(n)) => (I64, n.to_le_bytes().to_vec()),
                    (Kind::Fixed64, Integer::Unsigned(n)) => (I64, n.to_le_bytes().to_vec()),
                    _ => return Err(format!("{at}: out of range")),
                };
                let mut bytes = Vec::new();
                put_field(&mut bytes, number, wire, &payload);
                // The wire does not say int32 from int64 or uint64: a value the field
                // cannot hold decodes as another one.
                let decoded = self.probe_value(path, field, bytes.clone())?;
                if decoded.as_ref().and_then(integer_of) != Some(number_value) {
                    return Err(format!("{at}: out of range"));
                }
                out.extend_from_slice(&bytes);
            }
            Kind::Float | Kind::Double => {
                let float = float_of(value).ok_or_else(|| format!("{at}: expected a number"))?;
                if field.kind == Kind::Float {
                    put_field(out, number, I32, &(float as f32).to_le_bytes());
                } else {
                    put_field(out, number, I64, &float.to_le_bytes());
                }
            }
            Kind::Enum => {
                let enum_value = match value {
                    Value::String(name) => match name.parse::<i32>() {
                        Ok(number) => self.enum_number(path, field, number, at)?,
                        Err(_) => self
                            .enum_value(path, field, name)?
                            .ok_or_else(|| format!("{at}: not a value of this enum: {name:?}"))?,
                    },
                    Value::Number(n) => {
                        let n = n
                            .as_i64()
                            .and_then(|n| i32::try_from(n).ok())
                            .ok_or_else(|| format!("{at}: not a value of this enum"))?;
                        self.enum_number(path, field, n, at)?
                    }
                    _ => return Err(format!("{at}: expected an enum name")),
                };
                put_field(out, number, VARINT, &varint(i64::from(enum_value) as u64));
            }
            Kind::Map => return Err(format!("{at}: map fields are not supported")),
        }
        Ok(())
    }

    /// An enum value given as a number, if the enum has it.
    fn enum_number(
        &mut self,
        path: &[Step],
        field: &Field,
        number: i32,
        at: &str,
    ) -> Result<i32, String> {
        let mut bytes = Vec::new();
        put_field(
            &mut bytes,
            field.number,
            VARINT,
            &varint(i64::from(number) as u64),
        );
        match self.probe_value(path, field, bytes)? {
            Some(Value::String(_)) => Ok(number),
            _ => Err(format!("{at}: not a value of this enum: {number}")),
        }
    }

    /// The number of an enum value by name, probing values in order until it shows.
    fn enum_value(
        &mut self,
        path: &[Step],
        field: &Field,
        name: &str,
    ) -> Result<Option<i32>, String> {
        let key = (numbers(path), field.number);
        loop {
            let (names, next) = self.enums.entry(key.clone()).or_default();
            if let Some(value) = names.get(name) {
                return Ok(Some(*value));
            }
            if *next > MAX_ENUM_VALUE {
                return Ok(None);
            }
            let candidate = *next;
            *next += 1;
            let mut bytes = Vec::new();
            put_field(&mut bytes, field.number, VARINT, &varint(candidate as u64));
            if let Some(Value::String(found)) = self.probe_value(path, field, bytes)?
                && let Some((names, _)) = self.enums.get_mut(&key)
            {
                names.insert(found, candidate);
            }
        }
    }

    /// The field of the message at `path` a JSON key names, probing field numbers in
    /// order until it shows.
    fn lookup(&mut self, path: &[Step], json_key: &str) -> Result<Option<Field>, String> {
        let key = numbers(path);
        if !self.schemas.contains_key(&key) {
            let empty = self.render(path, Vec::new())?.ok_or_else(|| {
                format!(
                    "{}: could not decode an empty message here",
                    or_top(&dotted(path))
                )
            })?;
            self.schemas.insert(
                key.clone(),
                Schema {
                    empty,
                    ..Schema::default()
                },
            );
        }
        loop {
            let Some(schema) = self.schemas.get_mut(&key) else {
                return Ok(None);
            };
            if let Some(field) = schema.fields.iter().find(|field| field.is_named(json_key)) {
                return Ok(Some(field.clone()));
            }
            if schema.probed_to >= MAX_FIELD_NUMBER {
                return Ok(None);
            }
            schema.probed_to += 1;
            let number = schema.probed_to;
            let empty = std::mem::take(&mut schema.empty);
            let found = self.discover(path, number, &empty);
            if let Some(schema) = self.schemas.get_mut(&key) {
                schema.empty = empty;
                if let Some(field) = found? {
                    schema.fields.push(field);
                }
            }
        }
    }

    /// What field `number` of the message at `path` is, if it exists.
    fn discover(
        &mut self,
        path: &[Step],
        number: u32,
        empty: &Map<String, Value>,
    ) -> Result<Option<Field>, String> {
        let probes: [(u32, &[u8]); 6] = [
            (LEN, &[]),
            (VARINT, &[1]),
            // Enums without a 1.
            (VARINT, &[0]),
            (VARINT, &[2]),
            (I32, &[0, 0, 0x80, 0x3f]),
            (I64, &[0, 0, 0, 0, 0, 0, 0xf0, 0x3f]),
        ];
        for (wire, payload) in probes {
            let mut bytes = Vec::new();
            put_field(&mut bytes, number, wire, payload);
            let Some(object) = self.render(path, bytes)? else {
                continue;
            };
            let changed = object
                .into_iter()
                .find(|(key, value)| empty.get(key) != Some(value));
            let Some((key, value)) = changed else {
                continue;
            };
            if matches!(empty.get(&key), Some(Value::Object(_))) {
                return Ok(Some(Field {
                    number,
                    key,
                    variant: None,
                    kind: Kind::Map,
                    repeated: false,
                }));
            }
            let (variant, value) = match value {
                Value::Object(inner) if is_oneof(&inner) => match inner.into_iter().next() {
                    Some((variant, value)) => (Some(variant), value),
                    None => continue,
                },
                value => (None, value),
            };
            let (repeated, value) = match value {
                Value::Array(mut items) if items.len() == 1 => (true, items.remove(0)),
                value => (false, value),
            };
            let kind = match (wire, &value) {
                (LEN, Value::String(_)) => Kind::String,
                (LEN, Value::Array(items)) if items.is_empty() => Kind::Bytes,
                (LEN, Value::Object(_)) => Kind::Message,
                (VARINT, Value::Bool(_)) => Kind::Bool,
                (VARINT, Value::String(_)) => Kind::Enum,
                (VARINT, Value::Number(n)) if n.as_i64() == Some(-1) => Kind::SInt,
                (VARINT, Value::Number(_)) => Kind::Int,
                (I32, Value::Number(n)) if n.is_f64() => Kind::Float,
                (I32, Value::Number(_)) => Kind::Fixed32,
                (I64, Value::Number(n)) if n.is_f64() => Kind::Double,
                (I64, Value::Number(_)) => Kind::Fixed64,
                _ => continue,
            };
            return Ok(Some(Field {
                number,
                key,
                variant,
                kind,
                repeated,
            }));
        }
        Ok(None)
    }

    /// How one field's value decodes: the field's serde value with its oneof and a
    /// one-element array unwrapped.
    fn probe_value(
        &mut self,
        path: &[Step],
        field: &Field,
        bytes: Vec<u8>,
    ) -> Result<Option<Value>, String> {
        let Some(mut object) = self.render(path, bytes)? else {
            return Ok(None);
        };
        let mut value = object.remove(&field.key).unwrap_or(Value::Null);
        if let Some(variant) = &field.variant {
            value = take(value, variant);
        }
        if field.repeated {
            value = match value {
                Value::Array(mut items) if items.len() == 1 => items.remove(0),
                _ => Value::Null,
            };
        }
        Ok(Some(value))
    }

    /// Decodes `inner` as the message at `path` inside a `Message` and returns the
    /// serde form of that message; `None` if it does not decode.
    fn render(
        &mut self,
        path: &[Step],
        inner: Vec<u8>,
    ) -> Result<Option<Map<String, Value>>, String> {
        if self.probes_left == 0 {
            return Err("the message is too large to decode".into());
        }
        self.probes_left -= 1;
        let mut bytes = inner;
        for step in path.iter().rev() {
            let mut outer = Vec::with_capacity(bytes.len() + 8);
            put_field(&mut outer, step.number, LEN, &bytes);
            bytes = outer;
        }
        let Ok(message) = Message::decode_from_slice(&bytes) else {
            return Ok(None);
        };
        let Ok(mut value) = serde_json::to_value(&message) else {
            return Ok(None);
        };
        for step in path {
            value = take(value, &step.key);
            if let Some(variant) = &step.variant {
                value = take(value, variant);
            }
            if step.repeated {
                value = match value {
                    Value::Array(mut items) if !items.is_empty() => items.swap_remove(0),
                    _ => Value::Null,
                };
            }
        }
        match value {
            Value::Object(object) => Ok(Some(object)),
            _ => Ok(None),
        }
    }
}

/// An integer as JSON gives it: a number, or proto3 JSON's decimal string.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Integer {
    Signed(i64),
    Unsigned(u64),
}

fn integer_of(value: &Value) -> Option<Integer> {
    let normal = |signed: Option<i64>, unsigned: Option<u64>| match (signed, unsigned) {
        (Some(n), _) => Some(Integer::Signed(n)),
        (None, Some(n)) => Some(Integer::Unsigned(n)),
        (None, None) => None,
    };
    match value {
        Value::Number(n) => normal(n.as_i64(), n.as_u64()),
        Value::String(text) => normal(text.parse().ok(), text.parse().ok()),
        _ => None,
    }
}

fn float_of(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(text) => match text.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            text => text.parse().ok().filter(|n: &f64| n.is_finite()),
        },
        _ => None,
    }
}

/// Bytes as the outbox writes them (numbers) or as proto3 JSON does (base64).
fn bytes_of(value: &Value) -> Option<Vec<u8>> {
    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE};
    match value {
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect(),
        Value::String(text) => {
            let text = text.trim_end_matches('=');
            let padded = format!("{text}{}", "=".repeat((4 - text.len() % 4) % 4));
            STANDARD
                .decode(&padded)
                .or_else(|_| URL_SAFE.decode(&padded))
                .ok()
        }
        _ => None,
    }
}

fn take(value: Value, key: &str) -> Value {
    match value {
        Value::Object(mut object) => object.remove(key).unwrap_or(Value::Null),
        _ => Value::Null,
    }
}

fn numbers(path: &[Step]) -> Vec<u32> {
    path.iter().map(|step| step.number).collect()
}

/// A path for messages about the schema itself, in the outbox's names.
fn dotted(path: &[Step]) -> String {
    let names: Vec<String> = path
        .iter()
        .map(|step| field_name(step.variant.as_deref().unwrap_or(&step.key)))
        .collect();
    names.join(".")
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() {
        key.to_owned()
    } else {
        format!("{at}.{key}")
    }
}

fn or_top(at: &str) -> &str {
    if at.is_empty() { "the message" } else { at }
}

fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
    out
}

/// Appends a field: its tag, then the payload, length-prefixed for `LEN`.
fn put_field(out: &mut Vec<u8>, number: u32, wire: u32, payload: &[u8]) {
    out.extend(varint(u64::from(number << 3 | wire)));
    if wire == LEN {
        out.extend(varint(payload.len() as u64));
    }
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;
    use buffa::MessageField;
    use waproto::whatsapp::message::{ButtonsResponseMessage, InteractiveMessage};
    use waproto::whatsapp::{ContextInfo, message};

    #[test]
    fn field_names_take_the_wuts_spelling() {
        assert_eq!(field_name("selected_button_id"), "selectedButtonID");
        assert_eq!(field_name("stanza_id"), "stanzaID");
        assert_eq!(field_name("mentioned_jid"), "mentionedJID");
        assert_eq!(field_name("button_params_json"), "buttonParamsJSON");
        assert_eq!(field_name("NativeFlowMessage"), "nativeFlowMessage");
        assert_eq!(field_name("file_sha256"), "fileSha256");
        assert_eq!(field_name("ptt"), "ptt");
        assert_eq!(field_name("r#type"), "type");
    }

    #[test]
    fn a_buttons_response_renders_with_its_oneof_and_enum() {
        let message = Message {
            buttons_response_message: MessageField::some(ButtonsResponseMessage {
                selected_button_id: Some("yes".into()),
                r#type: Some(message::buttons_response_message::Type::DISPLAY_TEXT),
                response: Some(
                    message::buttons_response_message::Response::SelectedDisplayText("Yes".into()),
                ),
                context_info: MessageField::some(ContextInfo {
                    stanza_id: Some("3EB0ABC".into()),
                    participant: Some("1@s.whatsapp.net".into()),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        let json = message_to_json(&message.encode_to_vec());
        let response = &json["buttonsResponseMessage"];
        assert_eq!(response["selectedButtonID"], "yes");
        assert_eq!(response["selectedDisplayText"], "Yes");
        assert_eq!(response["type"], "DISPLAY_TEXT");
        assert_eq!(response["contextInfo"]["stanzaID"], "3EB0ABC");
        assert!(json.get("conversation").is_none());
    }

    #[test]
    fn an_interactive_message_shows_its_native_flow() {
        let message = Message {
            interactive_message: MessageField::some(InteractiveMessage {
                body: MessageField::some(message::interactive_message::Body { text: Some("Hi".into()) }),
                interactive_message: Some(message::interactive_message::InteractiveMessage::NativeFlowMessage(
                    Box::new(message::interactive_message::NativeFlowMessage {
                        buttons: vec![message::interactive_message::native_flow_message::NativeFlowButton {
                            name: Some("quick_reply".into()),
                            button_params_json: Some("{}".into()),
                        }],
                        ..Default::default()
                    }),
                )),
                ..Default::default()
            }),
            ..Default::default()
        };
        let json = message_to_json(&message.encode_to_vec());
        let flow = &json["interactiveMessage"]["nativeFlowMessage"];
        assert_eq!(flow["buttons"][0]["name"], "quick_reply");
        assert_eq!(flow["buttons"][0]["buttonParamsJSON"], "{}");
        assert_eq!(json["interactiveMessage"]["body"]["text"], "Hi");
    }

    #[test]
    fn garbage_renders_as_an_error_object() {
        assert!(message_to_json(&[0xff, 0xff, 0xff]).get("error").is_some());
    }

    /// Outbox-spelled examples: each decodes and renders back to itself.
    fn canonical_examples() -> Vec<Value> {
        vec![
            serde_json::json!({"buttonsResponseMessage":{"selectedButtonID":"confirm_order","selectedDisplayText":"Confirm","type":"DISPLAY_TEXT","contextInfo":{"stanzaID":"3EB0ABC","participant":"5511999999999@s.whatsapp.net","quotedMessage":{"conversation":"hi"}}}}),
            serde_json::json!({"interactiveResponseMessage":{"body":{"text":"Confirm"},"nativeFlowResponseMessage":{"name":"quick_reply","paramsJSON":"{\"id\":\"confirm_order\"}","version":3},"contextInfo":{"stanzaID":"3EB0ABC"}}}),
            serde_json::json!({"listResponseMessage":{"title":"Coffee","listType":"SINGLE_SELECT","singleSelectReply":{"selectedRowID":"coffee"}}}),
            serde_json::json!({"templateButtonReplyMessage":{"selectedID":"track","selectedDisplayText":"Track order","selectedIndex":0}}),
            serde_json::json!({"conversation":"hello"}),
            serde_json::json!({"extendedTextMessage":{"text":"hi","contextInfo":{"mentionedJID":["5511988888888@s.whatsapp.net","5511977777777@s.whatsapp.net"]}}}),
            serde_json::json!({"reactionMessage":{"key":{"id":"3EB0ABC","fromMe":true,"remoteJID":"5511999999999@s.whatsapp.net"},"text":"👍","senderTimestampMs":1_700_000_000_000_i64}}),
            serde_json::json!({"protocolMessage":{"type":"REVOKE","key":{"id":"3EB0ABC"}}}),
            serde_json::json!({"imageMessage":{"mimetype":"image/jpeg","caption":"x","fileLength":1234,"width":10,"height":10,"fileSha256":[1,2,3,255]}}),
            serde_json::json!({"extendedTextMessage":{"text":"reply","contextInfo":{"stanzaID":"B","quotedMessage":{"extendedTextMessage":{"text":"quoted","contextInfo":{"stanzaID":"A","quotedMessage":{"conversation":"first"}}}}}}}),
            serde_json::json!({"interactiveMessage":{"body":{"text":"Hi"},"nativeFlowMessage":{"buttons":[{"name":"quick_reply","buttonParamsJSON":"{}"},{"name":"cta_url","buttonParamsJSON":"{\"url\":\"x\"}"}]}}}),
            serde_json::json!({"locationMessage":{"degreesLatitude":-23.5,"degreesLongitude":-46.625,"name":"SP"}}),
        ]
    }

    fn round_trip(value: &Value) -> Value {
        match message_from_json(value) {
            Ok(message) => message_to_json(&message.encode_to_vec()),
            Err(error) => panic!("{value}: {error}"),
        }
    }

    #[test]
    fn outbox_json_reads_back_to_the_same_message() {
        for example in canonical_examples() {
            assert_eq!(round_trip(&example), example);
        }
    }

    #[test]
    fn the_decoded_message_has_its_fields_in_place() {
        let message = message_from_json(&canonical_examples()[0]).unwrap();
        let response = message.buttons_response_message.as_option().unwrap();
        assert_eq!(
            response.selected_button_id.as_deref(),
            Some("confirm_order")
        );
        assert_eq!(
            response.response,
            Some(
                message::buttons_response_message::Response::SelectedDisplayText("Confirm".into())
            )
        );
        let context = response.context_info.as_option().unwrap();
        assert_eq!(context.stanza_id.as_deref(), Some("3EB0ABC"));
        let quoted = context.quoted_message.as_option().unwrap();
        assert_eq!(quoted.conversation.as_deref(), Some("hi"));
    }

    #[test]
    fn proto3_and_whatsmeow_spellings_read_as_the_outbox_one() {
        let pairs = [
            (
                serde_json::json!({"buttonsResponseMessage":{"selectedButtonId":"confirm_order","selectedDisplayText":"Confirm","type":1,"contextInfo":{"stanzaId":"3EB0ABC","mentionedJid":["1@s.whatsapp.net"]}}}),
                serde_json::json!({"buttonsResponseMessage":{"selectedButtonID":"confirm_order","selectedDisplayText":"Confirm","type":"DISPLAY_TEXT","contextInfo":{"stanzaID":"3EB0ABC","mentionedJID":["1@s.whatsapp.net"]}}}),
            ),
            (
                serde_json::json!({"reactionMessage":{"key":{"ID":"3EB0ABC","fromMe":true,"remoteJid":"1@s.whatsapp.net"},"text":"👍","senderTimestampMS":"1700000000000"}}),
                serde_json::json!({"reactionMessage":{"key":{"id":"3EB0ABC","fromMe":true,"remoteJID":"1@s.whatsapp.net"},"text":"👍","senderTimestampMs":1_700_000_000_000_i64}}),
            ),
            (
                serde_json::json!({"imageMessage":{"mimetype":"image/jpeg","fileLength":"1234","fileSHA256":"AQID/w==","mediaKey":"AQID_w"}}),
                serde_json::json!({"imageMessage":{"mimetype":"image/jpeg","fileLength":1234,"fileSha256":[1,2,3,255],"mediaKey":[1,2,3,255]}}),
            ),
            (
                serde_json::json!({"interactive_response_message":{"native_flow_response_message":{"params_json":"{}"}},"conversation":null}),
                serde_json::json!({"interactiveResponseMessage":{"nativeFlowResponseMessage":{"paramsJSON":"{}"}}}),
            ),
        ];
        for (lenient, canonical) in pairs {
            assert_eq!(
                message_from_json(&lenient).unwrap(),
                message_from_json(&canonical).unwrap()
            );
            assert_eq!(round_trip(&lenient), canonical);
        }
    }

    #[test]
    fn errors_name_the_path() {
        let cases = [
            (
                serde_json::json!({"buttonsResponseMessage":{"contextInfo":{"stanzaID":7}}}),
                "buttonsResponseMessage.contextInfo.stanzaID: expected a string",
            ),
            (
                serde_json::json!({"buttonsResponseMessage":{"selectedButonID":"x"}}),
                "buttonsResponseMessage.selectedButonID: unknown field",
            ),
            (
                serde_json::json!({"listResponseMessage":{"listType":"DOUBLE_SELECT"}}),
                "listResponseMessage.listType: not a value of this enum: \"DOUBLE_SELECT\"",
            ),
            (
                serde_json::json!({"listResponseMessage":{"listType":77}}),
                "listResponseMessage.listType: not a value of this enum: 77",
            ),
            (
                serde_json::json!({"extendedTextMessage":{"contextInfo":{"mentionedJID":"1@s.whatsapp.net"}}}),
                "extendedTextMessage.contextInfo.mentionedJID: expected an array",
            ),
            (
                serde_json::json!({"extendedTextMessage":{"contextInfo":{"mentionedJID":["a", 1]}}}),
                "extendedTextMessage.contextInfo.mentionedJID[1]: expected a string",
            ),
            (
                serde_json::json!({"imageMessage":{"width":-1}}),
                "imageMessage.width: out of range",
            ),
            (
                serde_json::json!({"imageMessage":{"fileSHA256":[256]}}),
                "imageMessage.fileSHA256: expected an array of numbers 0-255 or a base64 string",
            ),
            (
                serde_json::json!({"imageMessage":"x"}),
                "imageMessage: expected an object",
            ),
            (
                serde_json::json!({"buttonsResponseMessage":{"selectedButtonID":"a","selectedButtonId":"b"}}),
                "buttonsResponseMessage.selectedButtonId: the same field as buttonsResponseMessage.selectedButtonID",
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(message_from_json(&value).unwrap_err(), expected, "{value}");
        }
        for top in [serde_json::json!([]), serde_json::json!("hi"), Value::Null] {
            assert_eq!(
                message_from_json(&top).unwrap_err(),
                "expected a JSON object (a waE2E.Message)"
            );
        }
    }

    #[test]
    fn two_members_of_one_oneof_are_refused() {
        let error = message_from_json(&serde_json::json!({"interactiveMessage":{
            "nativeFlowMessage":{}, "shopStorefrontMessage":{}}}))
        .unwrap_err();
        assert!(error.contains("same oneof"), "{error}");
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing() {
        let mut value = serde_json::json!({"conversation":"x"});
        for _ in 0..200 {
            value =
                serde_json::json!({"extendedTextMessage":{"contextInfo":{"quotedMessage":value}}});
        }
        let error = message_from_json(&value).unwrap_err();
        assert!(error.contains("nested deeper than 64"), "{error}");
    }

    #[test]
    fn an_empty_object_is_an_empty_message() {
        assert_eq!(
            message_from_json(&serde_json::json!({})).unwrap(),
            Message::default()
        );
    }
}
