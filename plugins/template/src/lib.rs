//! The template plugin: `POST /send/template`, a message with a body, an optional header
//! (text, or an image) and footer, and one to three buttons of the kinds `quick_reply`,
//! `url` and `call`.
//!
//! # Request
//!
//! As the WUTS docs §1.15 prints it: `{"number", "body", "footer"?, "header"?:
//! {"type": "text"|"image", "text"?, "image"? | "image_url"?}, "buttons": [{"type":
//! "quick_reply", "text", "id"} | {"type": "url", "text", "url"} | {"type": "call", "text",
//! "phone_number"}], "delay"?, "device_id"?}`. The contract does not print the image
//! header's field names; they are `image` (base64, or a `data:` URI) and `image_url`, as
//! on every WUTS media route. Limits from docs/API.md: `body` 1 to 1,024 characters, 1
//! to 3 buttons, `text` 1 to 20, `url` http(s), `phone_number` digits; a header title and
//! the footer up to 60. Standard envelope: the 200 is `{success, message_id, timestamp,
//! status, chat_jid}`, and a bad field is `"error": "validation failed"` with the
//! specifics in `validation` (`body cannot be empty` for the body), as the contract's
//! example reads.
//!
//! # What goes out
//!
//! ```text
//! Message { interactiveMessage {
//!   header? { title, hasMediaAttachment, imageMessage? },
//!   body { text }, footer? { text },
//!   nativeFlowMessage { messageVersion: 1, buttons: [
//!     { name: "quick_reply", buttonParamsJSON: {"display_text", "id"} },
//!     { name: "cta_url",     buttonParamsJSON: {"display_text", "url", "merchant_url"} },
//!     { name: "cta_call",    buttonParamsJSON: {"display_text", "phone_number": "+<digits>"} } ] } } }
//! ```
//!
//! with the `<bot>` and `<biz>` nodes of `wuts_plugin_api::interactive`. The legacy hydrated
//! `templateMessage` (`hydratedButtons` of `quickReplyButton`, `urlButton`,
//! `callButton`) is not used: Baileys dropped its `templateButtons` path with the other
//! deprecated buttons (WhiskeySockets/Baileys commit 35f6d75, "buttons-deprecation"), and
//! the clients that still send these kinds send them as native-flow buttons.
//!
//! Sources: whatsapp-rust 0.7.0 `src/send/mod.rs` (`infer_biz_node`, `classify_button`:
//! every non-payment name as `mixed`, after issue #1132's probes); buttonParamsJSON shapes
//! as Baileys-based gateways send them (Evolution API's `sendButtons`: `cta_url` with
//! `merchant_url`, `cta_call` with `phone_number`); the `<biz>` shape in
//! docs/wire-shapes.md §1.
//!
//! `delay` is the host's to wait ([`Outgoing::delay`]); an image header is downloaded and
//! uploaded through the host, so the route is not quick.

mod request;

use std::time::Duration;

use buffa::{Message as _, MessageField};
use serde_json::{Value, json};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::interactive_message::{
    self, Body, Footer, Header as HeaderProto, NativeFlowMessage, header,
    native_flow_message::NativeFlowButton,
};
use waproto::whatsapp::message::{ImageMessage, InteractiveMessage};
use wuts_plugin_api::{
    Host, MediaKind, MediaReference, Outgoing, Plugin, PluginError, PluginInfo, Request, Route,
    export_plugin,
};

pub use request::{Button, Header, TemplateRequest, schema};

/// The largest image a header may carry (docs/API.md: image 16 MiB).
pub const MAX_IMAGE_BYTES: u64 = 16 * 1024 * 1024;
/// Room for the base64 of the largest image.
pub const MAX_BODY_BYTES: u64 = 24 * 1024 * 1024;

#[derive(Default)]
pub struct TemplatePlugin;

impl Plugin for TemplatePlugin {
    fn info() -> PluginInfo {
        PluginInfo::new("template").route(
            Route::post("/send/template")
                .operation("sendTemplateMessage")
                .summary("Send a message with a header, footer and up to three buttons")
                .request(&schema())
                .failure_prefix("Failed to send template message")
                .max_body_bytes(MAX_BODY_BYTES),
        )
    }

    fn encode(&self, request: &Request<'_>, host: &Host<'_>) -> Result<Outgoing, PluginError> {
        let template = TemplateRequest::parse(request)?;
        let header = match &template.header {
            None => None,
            Some(Header::Text(title)) => Some(HeaderProto {
                title: Some(title.clone()),
                has_media_attachment: Some(false),
                ..Default::default()
            }),
            Some(Header::Image { source, title }) => {
                let image = source.load(host, MAX_IMAGE_BYTES)?;
                let mimetype = image_mimetype(&image.bytes)?;
                let media = host.upload_media(&image.bytes, MediaKind::Image, mimetype)?;
                Some(HeaderProto {
                    title: title.clone(),
                    has_media_attachment: Some(true),
                    media: Some(header::Media::ImageMessage(Box::new(image_message(
                        &media, mimetype,
                    )))),
                    ..Default::default()
                })
            }
        };
        let delay = Duration::from_millis(template.delay_ms);
        let nodes = wuts_plugin_api::interactive::native_flow_nodes(&template.to, unix_now());
        let message = build(&template, header);
        Ok(Outgoing {
            to: template.to,
            message: message.encode_to_vec(),
            nodes,
            response_extra: None,
            // The host waits on a timer before it sends; no thread sleeps.
            delay,
            ..Outgoing::default()
        })
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default()
}

/// The image's type from its first bytes: JPEG, PNG or WebP; anything else is refused.
fn image_mimetype(bytes: &[u8]) -> Result<&'static str, PluginError> {
    if bytes.is_empty() {
        return Err(PluginError::bad_request(
            "IMAGE_EMPTY",
            "header.image: the image is empty",
        ));
    }
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Ok("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Ok("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Ok("image/webp")
    } else {
        Err(PluginError::bad_request(
            "IMAGE_UNSUPPORTED",
            "header.image: not a JPEG, PNG or WebP image",
        ))
    }
}

fn image_message(media: &MediaReference, mimetype: &str) -> ImageMessage {
    ImageMessage {
        url: Some(media.url.clone()),
        mimetype: Some(mimetype.to_string()),
        file_sha256: Some(media.file_sha256.clone()),
        file_length: Some(media.file_length),
        media_key: Some(media.media_key.clone()),
        file_enc_sha256: Some(media.file_enc_sha256.clone()),
        direct_path: Some(media.direct_path.clone()),
        media_key_timestamp: Some(media.media_key_timestamp),
        ..Default::default()
    }
}

/// A button's native-flow name and `buttonParamsJSON`.
fn native_button(button: &Button) -> NativeFlowButton {
    let (name, params): (&str, Value) = match button {
        Button::QuickReply { text, id } => ("quick_reply", json!({"display_text": text, "id": id})),
        Button::Url { text, url } => (
            "cta_url",
            json!({"display_text": text, "url": url, "merchant_url": url}),
        ),
        Button::Call { text, phone_number } => (
            "cta_call",
            json!({"display_text": text, "phone_number": format!("+{phone_number}")}),
        ),
    };
    NativeFlowButton {
        name: Some(name.to_string()),
        button_params_json: Some(params.to_string()),
    }
}

/// The message for a validated request and its header.
pub fn build(template: &TemplateRequest, header: Option<HeaderProto>) -> Message {
    let interactive = InteractiveMessage {
        header: header.map_or_else(MessageField::none, MessageField::some),
        body: MessageField::some(Body {
            text: Some(template.body.clone()),
        }),
        footer: match &template.footer {
            Some(text) => MessageField::some(Footer {
                text: Some(text.clone()),
                ..Default::default()
            }),
            None => MessageField::none(),
        },
        interactive_message: Some(interactive_message::InteractiveMessage::NativeFlowMessage(
            Box::new(NativeFlowMessage {
                buttons: template.buttons.iter().map(native_button).collect(),
                message_version: Some(1),
                ..Default::default()
            }),
        )),
        ..Default::default()
    };
    Message {
        interactive_message: MessageField::some(interactive),
        ..Default::default()
    }
}

export_plugin!(TemplatePlugin);

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> TemplateRequest {
        TemplateRequest {
            to: "5511999999999@s.whatsapp.net".into(),
            body: "Your order #4821 is ready for pickup.".into(),
            footer: Some("WUTS Store".into()),
            header: Some(Header::Text("Order update".into())),
            buttons: vec![
                Button::QuickReply {
                    text: "Track order".into(),
                    id: "track_4821".into(),
                },
                Button::Url {
                    text: "Open store".into(),
                    url: "https://store.example.com/orders/4821".into(),
                },
                Button::Call {
                    text: "Call us".into(),
                    phone_number: "5511988887777".into(),
                },
            ],
            delay_ms: 0,
        }
    }

    #[test]
    fn every_kind_becomes_its_native_flow_button() {
        let header = HeaderProto {
            title: Some("Order update".into()),
            has_media_attachment: Some(false),
            ..Default::default()
        };
        let message = build(&template(), Some(header));
        let interactive = message.interactive_message.as_option().unwrap();
        assert_eq!(
            interactive
                .header
                .as_option()
                .and_then(|h| h.title.as_deref()),
            Some("Order update")
        );
        let Some(interactive_message::InteractiveMessage::NativeFlowMessage(flow)) =
            &interactive.interactive_message
        else {
            panic!("a native flow")
        };
        let names: Vec<&str> = flow
            .buttons
            .iter()
            .filter_map(|b| b.name.as_deref())
            .collect();
        assert_eq!(names, ["quick_reply", "cta_url", "cta_call"]);
        let params: Vec<Value> = flow
            .buttons
            .iter()
            .map(|b| serde_json::from_str(b.button_params_json.as_deref().unwrap()).unwrap())
            .collect();
        assert_eq!(
            params[0],
            json!({"display_text": "Track order", "id": "track_4821"})
        );
        assert_eq!(
            params[1],
            json!({"display_text": "Open store", "url": "https://store.example.com/orders/4821",
                   "merchant_url": "https://store.example.com/orders/4821"})
        );
        assert_eq!(
            params[2],
            json!({"display_text": "Call us", "phone_number": "+5511988887777"})
        );
        let back = Message::decode_from_slice(&message.encode_to_vec()).unwrap();
        assert_eq!(back, message);
    }

    #[test]
    fn images_are_known_by_their_first_bytes() {
        assert_eq!(
            image_mimetype(&[0xFF, 0xD8, 0xFF, 0xE0]).unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            image_mimetype(b"\x89PNG\r\n\x1a\n....").unwrap(),
            "image/png"
        );
        assert_eq!(
            image_mimetype(b"RIFF\0\0\0\0WEBPVP8 ").unwrap(),
            "image/webp"
        );
        assert_eq!(
            image_mimetype(b"GIF89a").unwrap_err().code,
            "IMAGE_UNSUPPORTED"
        );
        assert_eq!(image_mimetype(b"").unwrap_err().code, "IMAGE_EMPTY");
    }
}
