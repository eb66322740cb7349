//! The stanza node that makes a `listMessage` render: WhatsApp's product-list business
//! node.
//!
//! ```text
//! <biz actual_actors="2" host_storage="2" privacy_mode_ts="<unix seconds>">
//!   <list v="2" type="product_list"/>
//!   <quality_control source_type="third_party"/>
//! </biz>
//! ```
//!
//! The same node in direct chats and groups, and no `<bot>`: the clients that send lists
//! add none. whatsapp-rust 0.7.0 adds no business node to a `listMessage` (only to
//! interactive messages), so this one goes out as given (docs/wire-shapes.md §7).

use wuts_plugin_api::Node;

pub fn render_nodes(now_unix_seconds: u64) -> Vec<Node> {
    vec![
        Node::new("biz")
            .attr("actual_actors", "2")
            .attr("host_storage", "2")
            .attr("privacy_mode_ts", now_unix_seconds.to_string())
            .child(
                Node::new("list")
                    .attr("v", "2")
                    .attr("type", "product_list"),
            )
            .child(Node::new("quality_control").attr("source_type", "third_party")),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_biz_with_the_product_list_node() {
        let nodes = render_nodes(1_750_000_000);
        assert_eq!(nodes.len(), 1);
        let biz = &nodes[0];
        assert_eq!(biz.tag, "biz");
        assert_eq!(biz.get_attr("privacy_mode_ts"), Some("1750000000"));
        assert_eq!(biz.children[0].tag, "list");
        assert_eq!(biz.children[0].get_attr("type"), Some("product_list"));
        assert_eq!(biz.children[0].get_attr("v"), Some("2"));
        assert_eq!(biz.children[1].get_attr("source_type"), Some("third_party"));
    }
}
