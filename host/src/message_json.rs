//! `waE2E.Message` protobuf bytes as JSON, for the sandbox outbox.
//!
//! The names are the protobuf field names (camelCase) in the spelling WUTS and whatsmeow
//! use, where an `Id`, `Jid` or `Json` word is upper case (`selectedButtonID`,
//! `stanzaID`, `mentionedJID`, `buttonParamsJSON`), as docs/API.md writes them. Oneof
//! members appear under their own field name, enums by name, unset fields not at all,
//! and bytes as arrays of numbers.

use buffa::Message as _;
use serde_json::{Map, Value};
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
}
