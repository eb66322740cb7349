//! The buttons plugin: `POST /send/buttons`, up to three native quick-reply buttons.
//!
//! The message is an `InteractiveMessage` whose native flow holds `quick_reply` buttons;
//! on its own it is accepted by WhatsApp but renders nothing. The `<biz>` stanza node
//! (and `<bot biz_bot="1"/>` in 1:1 chats) is what makes the buttons render
//! (docs/wire-shapes.md, section 1).

mod request;

use buffa::encoding::{Tag, WireType};
use buffa::{Message as _, MessageField};
use waproto::whatsapp::message::InteractiveMessage;
use waproto::whatsapp::message::interactive_message::{
    self, Body, Footer, NativeFlowMessage, native_flow_message::NativeFlowButton,
};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{ButtonsRequest, QuickReply};

#[derive(Default)]
pub struct ButtonsPlugin;

impl Plugin for ButtonsPlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("buttons").route(
            Route::post("/send/buttons")
                .operation("sendButtonsMessage")
                .summary("Send a quick-reply buttons message")
                .request(&request::schema())
                .legacy()
                .success_message("Buttons message sent successfully")
                .failure_prefix("Failed to send buttons message")
                .quick(),
        )
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let mut buttons = ButtonsRequest::parse(request)?;
        let to = std::mem::take(&mut buttons.to);
        let nodes = wuts_plugin_api::interactive::native_flow_nodes(&to, chrono_now());
        Ok(Outgoing {
            message: encode_message(buttons),
            to,
            nodes,
            response_extra: None,
            ..Outgoing::default()
        })
    }
}

fn chrono_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// A quick reply's `buttonParamsJson`: `{"display_text":...,"id":...}`.
fn button_params_json(button: &QuickReply) -> String {
    #[derive(serde::Serialize)]
    struct Params<'a> {
        display_text: &'a str,
        id: &'a str,
    }
    serde_json::to_string(&Params {
        display_text: &button.display_text,
        id: &button.id,
    })
    .unwrap_or_default()
}

/// The `waE2E.Message` protobuf for a validated request: a `Message` whose only field is
/// `interactiveMessage`.
///
/// Written as that one field (its tag, then the `InteractiveMessage`, length-delimited),
/// which is byte for byte what encoding a whole `Message` gives (a unit test holds the
/// two together). A `Message` has hundreds of fields: building, sizing, writing and
/// dropping one for a single set field was a third of this plugin's cost per send.
pub fn encode_message(request: ButtonsRequest) -> Vec<u8> {
    let interactive = interactive_message(request);
    let mut bytes = Vec::with_capacity(256);
    Tag::new(
        waproto::tags::message::INTERACTIVE_MESSAGE,
        WireType::LengthDelimited,
    )
    .encode(&mut bytes);
    interactive.encode_length_delimited(&mut bytes);
    bytes
}

/// The message's `InteractiveMessage`: body, optional footer, and a native flow of
/// `quick_reply` buttons. Takes the request, so its texts move rather than copy.
fn interactive_message(request: ButtonsRequest) -> InteractiveMessage {
    let buttons = request
        .buttons
        .iter()
        .map(|button| NativeFlowButton {
            name: Some("quick_reply".into()),
            button_params_json: Some(button_params_json(button)),
        })
        .collect();
    InteractiveMessage {
        body: MessageField::some(Body {
            text: Some(request.message),
        }),
        footer: match request.footer {
            Some(text) => MessageField::some(Footer {
                text: Some(text),
                ..Default::default()
            }),
            None => MessageField::none(),
        },
        interactive_message: Some(interactive_message::InteractiveMessage::NativeFlowMessage(
            Box::new(NativeFlowMessage {
                buttons,
                message_version: Some(1),
                ..Default::default()
            }),
        )),
        ..Default::default()
    }
}

export_plugin!(ButtonsPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use waproto::whatsapp::Message;

    fn request(footer: Option<&str>, message: &str) -> ButtonsRequest {
        ButtonsRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            message: message.into(),
            footer: footer.map(Into::into),
            buttons: ["Yes", "No ✅", "Maybe"]
                .iter()
                .enumerate()
                .map(|(index, text)| QuickReply {
                    id: format!("b{index}"),
                    display_text: (*text).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_one_field_encoding_is_the_whole_messages_encoding() {
        // A body past 127 bytes makes the length prefix two bytes long.
        let long = "x".repeat(300);
        for request in [
            request(Some("footer"), "Pick one"),
            request(None, "Pick one 🎉"),
            request(Some("f"), &long),
        ] {
            let whole = Message {
                interactive_message: MessageField::some(interactive_message(request.clone())),
                ..Default::default()
            };
            assert_eq!(encode_message(request), whole.encode_to_vec());
        }
    }

    #[test]
    fn the_encoding_decodes_to_the_buttons() {
        let request = request(Some("footer"), "Pick one");
        let decoded = Message::decode_from_slice(&encode_message(request)).expect("decodes");
        let interactive = decoded
            .interactive_message
            .as_option()
            .expect("interactive");
        assert_eq!(
            interactive.body.as_option().and_then(|b| b.text.as_deref()),
            Some("Pick one")
        );
        let Some(interactive_message::InteractiveMessage::NativeFlowMessage(flow)) =
            &interactive.interactive_message
        else {
            panic!("a native flow message")
        };
        assert_eq!(flow.buttons.len(), 3);
        assert_eq!(
            flow.buttons[1].button_params_json.as_deref(),
            Some(r#"{"display_text":"No ✅","id":"b1"}"#)
        );
    }
}
