//! The buttons-response plugin: `POST /send/buttons-response`, the message WhatsApp
//! produces when a person taps a quick-reply button, quoting the buttons message.
//!
//! It carries no `<biz>` node: WhatsApp refuses a button reply that has one
//! (docs/wire-shapes.md, section 2).

mod quoted;
mod request;

use buffa::{Message as _, MessageField};
use waproto::whatsapp::message::ButtonsResponseMessage;
use waproto::whatsapp::message::buttons_response_message::{Response, Type};
use waproto::whatsapp::{ContextInfo, Message};
use wuts_plugin_api::{
    Host, Outgoing, Plugin, PluginError, PluginInfo, Request, Route, export_plugin,
};

pub use request::{QuotedReference, ResponseRequest};

#[derive(Default)]
pub struct ButtonsResponsePlugin;

impl Plugin for ButtonsResponsePlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("buttons-response").route(
            Route::post("/send/buttons-response")
                .operation("sendButtonsResponseMessage")
                .summary("Reply to a buttons message by selecting a button")
                .request(&request::schema())
                .legacy()
                .success_message("Buttons response sent successfully")
                .failure_prefix("Failed to send buttons response")
                .quick(),
        )
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let reply = ResponseRequest::parse(request)?;
        let known = host.find_message(&reply.quoted.message_id);
        let resolved = quoted::resolve(&reply, known.as_ref())?;
        let message = Message {
            buttons_response_message: MessageField::some(ButtonsResponseMessage {
                selected_button_id: Some(reply.selected_button_id.clone()),
                response: Some(Response::SelectedDisplayText(resolved.display_text)),
                r#type: Some(Type::DISPLAY_TEXT),
                context_info: MessageField::some(ContextInfo {
                    stanza_id: Some(reply.quoted.message_id.clone()),
                    participant: Some(reply.quoted.participant.clone()),
                    quoted_message: MessageField::some(resolved.quoted_message),
                    ..Default::default()
                }),
            }),
            ..Default::default()
        };
        Ok(Outgoing {
            to: reply.to,
            message: message.encode_to_vec(),
            nodes: Vec::new(),
            response_extra: None,
            ..Outgoing::default()
        })
    }
}

export_plugin!(ButtonsResponsePlugin);
