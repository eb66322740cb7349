//! The buttons plugin: `POST /send/buttons`, up to three native quick-reply buttons.
//!
//! The message is an `InteractiveMessage` whose native flow holds `quick_reply` buttons;
//! on its own it is accepted by WhatsApp but renders nothing. The `<biz>` stanza node
//! (and `<bot biz_bot="1"/>` in 1:1 chats) is what makes the buttons render
//! (shared/research/peers-and-wire-shapes.md, section 3.2).

mod request;
mod stanza;

use buffa::{Message as _, MessageField};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::InteractiveMessage;
use waproto::whatsapp::message::interactive_message::{
    self, Body, Footer, NativeFlowMessage, native_flow_message::NativeFlowButton,
};
use wuts_plugin_api::{
    Envelope, Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{ButtonsRequest, QuickReply};

pub struct ButtonsPlugin;

impl Plugin for ButtonsPlugin {
    fn info() -> PluginInfo {
        PluginInfo {
            name: "buttons".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            routes: vec![Route {
                method: "POST".into(),
                path: "/send/buttons".into(),
                operation: "sendButtonsMessage".into(),
                summary: "Send a quick-reply buttons message".into(),
                request_schema: request::schema(),
                success_message: "Buttons message sent successfully".into(),
                failure_prefix: "Failed to send buttons message".into(),
                envelope: Envelope::Legacy,
                max_body_bytes: 64 * 1024,
                quick: true,
            }],
        }
    }

    fn init(_config: serde_json::Value) -> Result<Self, PluginError> {
        Ok(ButtonsPlugin)
    }

    fn encode(&self, request: &Request<'_>, _host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let buttons = ButtonsRequest::parse(request)?;
        let nodes = stanza::render_nodes(&buttons.to, chrono_now());
        Ok(Outgoing {
            message: encode_message(&buttons),
            to: buttons.to,
            nodes,
            response_extra: None,
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

/// The `waE2E.Message` protobuf for a validated request.
pub fn encode_message(request: &ButtonsRequest) -> Vec<u8> {
    let buttons = request
        .buttons
        .iter()
        .map(|button| NativeFlowButton {
            name: Some("quick_reply".into()),
            button_params_json: Some(button_params_json(button)),
        })
        .collect();
    let message = Message {
        interactive_message: MessageField::some(InteractiveMessage {
            body: MessageField::some(Body {
                text: Some(request.message.clone()),
            }),
            footer: match &request.footer {
                Some(text) => MessageField::some(Footer {
                    text: Some(text.clone()),
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
        }),
        ..Default::default()
    };
    message.encode_to_vec()
}

export_plugin!(ButtonsPlugin);
