//! The stanza node rule: which plugin nodes go on the wire, as `whatsapp-rust` nodes.
//!
//! Plugins always produce `<bot biz_bot="1"/>` and `<biz>` for native-flow buttons, so
//! their messages are complete under any driver. `whatsapp-rust` 0.7.0 adds its own
//! `<bot>` and `<biz>` to some messages (`src/send/mod.rs:671-747`); a second `<biz>` on
//! one stanza is acked by the server and renders as nothing on the phone. So where the
//! library adds its own, the plugin's `<bot>` and `<biz>` are dropped, and everywhere else
//! every plugin node passes through unchanged.

use whatsapp_rust::Jid;
use whatsapp_rust::wacore_binary::JidExt as _;
use whatsapp_rust::wacore_binary::node::{Attrs, Node as WaNode, NodeContent};
use whatsapp_rust::waproto::whatsapp as wa;
use wuts_plugin_api::Node;

/// The extra stanza nodes to send with `message` to `to`, from the plugin's `nodes`.
///
/// When the library builds the business nodes itself it owns both tags: it adds `<biz>`
/// for every such send and `<bot>` only on direct chats (on a group it leaves `<bot>`
/// out on purpose), so a plugin's `<bot>` is dropped on a group as well.
pub fn extra_nodes_for(message: &wa::Message, to: &Jid, nodes: Vec<Node>) -> Vec<WaNode> {
    let library_adds_biz = library_adds_biz_node(message, to);
    nodes
        .into_iter()
        .filter(|node| !(library_adds_biz && (node.tag == "biz" || node.tag == "bot")))
        .map(to_wire_node)
        .collect()
}

/// Whether `whatsapp-rust` 0.7.0 adds `<biz>` (and on direct chats `<bot>`) itself.
///
/// Restates the library's private `infer_biz_node` (`src/send/mod.rs:671`) and its
/// callers: every send except to a newsletter (`:978`, `:1008`), for an interactive
/// message found directly or inside `documentWithCaptionMessage` (`:715`), classified by
/// `classify_interactive` (`:647`). Pinned with the exact crate version; re-read on upgrade.
fn library_adds_biz_node(message: &wa::Message, to: &Jid) -> bool {
    if to.is_newsletter() {
        return false;
    }
    interactive_of(message).is_some_and(announces_business_content)
}

fn interactive_of(message: &wa::Message) -> Option<&wa::message::InteractiveMessage> {
    let wrapped = message
        .document_with_caption_message
        .as_option()
        .and_then(|wrapper| wrapper.message.as_option())
        .and_then(|inner| inner.interactive_message.as_option());
    wrapped.or_else(|| message.interactive_message.as_option())
}

/// The library's classification: the first native-flow button decides when there are
/// buttons (a button without a name gets no node); a storefront never gets one; anything
/// else gets one when it shows something on its own (body, footer, header title or image).
fn announces_business_content(interactive: &wa::message::InteractiveMessage) -> bool {
    use wa::message::interactive_message::InteractiveMessage as Payload;
    match interactive.interactive_message.as_ref() {
        None => false,
        Some(Payload::NativeFlowMessage(flow)) if !flow.buttons.is_empty() => flow
            .buttons
            .first()
            .is_some_and(|button| button.name.is_some()),
        Some(Payload::ShopStorefrontMessage(_)) => false,
        Some(_) => renders_on_its_own(interactive),
    }
}

fn renders_on_its_own(interactive: &wa::message::InteractiveMessage) -> bool {
    use wa::message::interactive_message::header::Media;
    let non_empty = |text: Option<&str>| text.is_some_and(|text| !text.is_empty());
    let body = interactive
        .body
        .as_option()
        .and_then(|body| body.text.as_deref());
    let footer = interactive
        .footer
        .as_option()
        .and_then(|footer| footer.text.as_deref());
    if non_empty(body) || non_empty(footer) {
        return true;
    }
    interactive.header.as_option().is_some_and(|header| {
        non_empty(header.title.as_deref()) || matches!(header.media, Some(Media::ImageMessage(_)))
    })
}

/// A plugin node as the library's node: same tag, attributes in order, children or bytes.
pub fn to_wire_node(node: Node) -> WaNode {
    let mut attrs = Attrs::with_capacity(node.attrs.len());
    for (name, value) in node.attrs {
        attrs.push(name, value.into_owned());
    }
    let content = if !node.children.is_empty() {
        Some(NodeContent::Nodes(
            node.children.into_iter().map(to_wire_node).collect(),
        ))
    } else {
        node.content.map(NodeContent::Bytes)
    };
    WaNode {
        tag: node.tag,
        attrs,
        content,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_rust::buffa::MessageField;
    use whatsapp_rust::waproto::whatsapp::message::interactive_message::native_flow_message::NativeFlowButton;
    use whatsapp_rust::waproto::whatsapp::message::interactive_message::{
        Body, InteractiveMessage as Payload, NativeFlowMessage,
    };

    fn plugin_business_nodes() -> Vec<Node> {
        vec![
            Node::new("bot").attr("biz_bot", "1"),
            Node::new("biz").child(
                Node::new("interactive")
                    .attr("type", "native_flow")
                    .attr("v", "1")
                    .child(
                        Node::new("native_flow")
                            .attr("v", "9")
                            .attr("name", "mixed"),
                    ),
            ),
        ]
    }

    fn quick_reply_buttons() -> wa::Message {
        let button = NativeFlowButton {
            name: Some("quick_reply".into()),
            button_params_json: Some(r#"{"display_text":"Yes","id":"yes"}"#.into()),
        };
        let interactive = wa::message::InteractiveMessage {
            body: MessageField::some(Body {
                text: Some("Pick one".into()),
            }),
            interactive_message: Some(Payload::NativeFlowMessage(Box::new(NativeFlowMessage {
                buttons: vec![button],
                ..Default::default()
            }))),
            ..Default::default()
        };
        wa::Message {
            interactive_message: MessageField::some(interactive),
            ..Default::default()
        }
    }

    fn jid(text: &str) -> Jid {
        match text.parse() {
            Ok(jid) => jid,
            Err(error) => panic!("bad test JID {text}: {error}"),
        }
    }

    fn tags(nodes: &[WaNode]) -> Vec<String> {
        nodes.iter().map(|node| node.tag.to_string()).collect()
    }

    #[test]
    fn native_flow_buttons_in_a_direct_chat_drop_the_plugins_bot_and_biz() {
        let mut nodes = plugin_business_nodes();
        nodes.push(Node::new("custom").attr("k", "v"));
        let wire = extra_nodes_for(
            &quick_reply_buttons(),
            &jid("5511999999999@s.whatsapp.net"),
            nodes,
        );
        assert_eq!(tags(&wire), ["custom"]);
    }

    #[test]
    fn native_flow_buttons_in_a_group_drop_the_plugins_bot_and_biz() {
        let wire = extra_nodes_for(
            &quick_reply_buttons(),
            &jid("120363025246125486@g.us"),
            plugin_business_nodes(),
        );
        assert!(wire.is_empty(), "got {:?}", tags(&wire));
    }

    #[test]
    fn native_flow_buttons_inside_a_document_wrapper_count_too() {
        let wrapped = wa::Message {
            document_with_caption_message: MessageField::some(wa::message::FutureProofMessage {
                message: MessageField::some(quick_reply_buttons()),
            }),
            ..Default::default()
        };
        let wire = extra_nodes_for(
            &wrapped,
            &jid("5511999999999@s.whatsapp.net"),
            plugin_business_nodes(),
        );
        assert!(wire.is_empty());
    }

    #[test]
    fn a_newsletter_keeps_the_plugins_nodes_because_the_library_adds_none() {
        let wire = extra_nodes_for(
            &quick_reply_buttons(),
            &jid("120363144038483540@newsletter"),
            plugin_business_nodes(),
        );
        assert_eq!(tags(&wire), ["bot", "biz"]);
    }

    #[test]
    fn a_button_reply_keeps_every_plugin_node() {
        let reply = wa::Message {
            buttons_response_message: MessageField::some(wa::message::ButtonsResponseMessage {
                selected_button_id: Some("yes".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let wire = extra_nodes_for(
            &reply,
            &jid("5511999999999@s.whatsapp.net"),
            plugin_business_nodes(),
        );
        assert_eq!(tags(&wire), ["bot", "biz"]);
    }

    #[test]
    fn audio_passes_its_nodes_through_with_attributes_children_and_bytes() {
        let audio = wa::Message {
            audio_message: MessageField::some(wa::message::AudioMessage {
                ptt: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        };
        let custom = Node::new("meta")
            .attr("view_once", "true")
            .child(Node::new("data").content(vec![1u8, 2, 3]));
        let wire = extra_nodes_for(&audio, &jid("5511999999999@s.whatsapp.net"), vec![custom]);
        assert_eq!(wire.len(), 1);
        let meta = &wire[0];
        assert_eq!(meta.tag, "meta");
        assert_eq!(
            meta.attrs
                .get("view_once")
                .map(|value| value.as_str().into_owned())
                .as_deref(),
            Some("true")
        );
        let children = meta.children().unwrap_or_default();
        assert_eq!(children.len(), 1);
        assert_eq!(children[0].tag, "data");
        assert!(
            matches!(&children[0].content, Some(NodeContent::Bytes(bytes)) if bytes == &[1u8, 2, 3])
        );
    }

    #[test]
    fn interactive_without_a_named_button_or_visible_text_gets_no_library_biz() {
        let unnamed = wa::Message {
            interactive_message: MessageField::some(wa::message::InteractiveMessage {
                interactive_message: Some(Payload::NativeFlowMessage(Box::new(
                    NativeFlowMessage {
                        buttons: vec![NativeFlowButton::default()],
                        ..Default::default()
                    },
                ))),
                ..Default::default()
            }),
            ..Default::default()
        };
        let wire = extra_nodes_for(
            &unnamed,
            &jid("5511999999999@s.whatsapp.net"),
            plugin_business_nodes(),
        );
        assert_eq!(tags(&wire), ["bot", "biz"]);
    }
}
