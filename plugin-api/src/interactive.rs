//! Stanza nodes WhatsApp needs beside a native-flow interactive message (quick-reply
//! buttons, templates) for it to render: docs/wire-shapes.md §1.

use crate::{Node, is_group};

/// `<bot biz_bot="1"/>` (1:1 chats only) and the nested `<biz>` of the `mixed` native
/// flow: the shape WhatsApp delivers and renders (a flat `<biz>` or none is acked but
/// shows nothing).
pub fn native_flow_nodes(to: &str, now_unix_seconds: u64) -> Vec<Node> {
    let biz = Node::new("biz")
        .attr("actual_actors", "2")
        .attr("host_storage", "2")
        .attr("privacy_mode_ts", now_unix_seconds.to_string())
        .child(
            Node::new("interactive")
                .attr("type", "native_flow")
                .attr("v", "1")
                .child(
                    Node::new("native_flow")
                        .attr("v", "9")
                        .attr("name", "mixed"),
                ),
        )
        .child(
            Node::new("quality_control")
                .attr("source_type", "third_party")
                .child(Node::new("decision_source").attr("value", "df")),
        );
    if is_group(to) {
        vec![biz]
    } else {
        vec![Node::new("bot").attr("biz_bot", "1"), biz]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_chats_get_bot_and_biz_groups_only_biz() {
        let direct = native_flow_nodes("5511999999999@s.whatsapp.net", 1_750_000_000);
        assert_eq!(
            direct
                .iter()
                .map(|node| node.tag.as_ref())
                .collect::<Vec<_>>(),
            ["bot", "biz"]
        );
        assert_eq!(direct[0].get_attr("biz_bot"), Some("1"));
        let biz = &direct[1];
        assert_eq!(biz.get_attr("privacy_mode_ts"), Some("1750000000"));
        assert_eq!(biz.children[0].children[0].get_attr("name"), Some("mixed"));
        assert_eq!(biz.children[1].children[0].get_attr("value"), Some("df"));
        let group = native_flow_nodes("120363025246125486@g.us", 1);
        assert_eq!(
            group
                .iter()
                .map(|node| node.tag.as_ref())
                .collect::<Vec<_>>(),
            ["biz"]
        );
    }
}
