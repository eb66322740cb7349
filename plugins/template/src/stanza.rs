//! The stanza nodes that make a native-flow message render: the same as the buttons
//! plugin's (docs/wire-shapes.md §1), `<bot biz_bot="1"/>` in 1:1 chats and the nested
//! `<biz>` of the `mixed` native flow. whatsapp-rust announces every non-payment button
//! name (`quick_reply`, `cta_url`, `cta_call`) as `mixed` (its `classify_button`: live
//! probes found the named nested shapes refused), so a template's mix of kinds goes out
//! under the one shape that is delivered. The whatsapp driver drops these two nodes where
//! the library adds its own (docs/wire-shapes.md §3).

use wuts_plugin_api::{Node, is_group};

pub fn render_nodes(to: &str, now_unix_seconds: u64) -> Vec<Node> {
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
        let tags = |nodes: &[Node]| nodes.iter().map(|n| n.tag.to_string()).collect::<Vec<_>>();
        let direct = render_nodes("5511999999999@s.whatsapp.net", 1_750_000_000);
        assert_eq!(tags(&direct), ["bot", "biz"]);
        assert_eq!(
            direct[1].children[0].children[0].get_attr("name"),
            Some("mixed")
        );
        assert_eq!(tags(&render_nodes("120363025246125486@g.us", 1)), ["biz"]);
    }
}
