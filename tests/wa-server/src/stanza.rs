//! Small helpers over `wacore_binary` nodes: reading attributes, finding children, and
//! building the stanzas the server sends.

use std::collections::BTreeMap;

use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::{Node, NodeContent};

/// The attribute as text (JID attributes in their string form).
pub fn attr(node: &Node, name: &str) -> Option<String> {
    node.attrs
        .get(name)
        .map(|value| value.as_str().into_owned())
}

/// Every attribute as text, by name.
pub fn attrs(node: &Node) -> BTreeMap<String, String> {
    node.attrs
        .iter()
        .map(|(name, value)| (name.to_string(), value.as_str().into_owned()))
        .collect()
}

pub fn children<'a>(node: &'a Node, tag: &'a str) -> impl Iterator<Item = &'a Node> {
    node.children()
        .unwrap_or_default()
        .iter()
        .filter(move |child| child.tag == tag)
}

pub fn child<'a>(node: &'a Node, tag: &'a str) -> Option<&'a Node> {
    children(node, tag).next()
}

/// Every node named `tag` in the tree under `node` (not `node` itself), depth first.
pub fn descendants<'a>(node: &'a Node, tag: &str) -> Vec<&'a Node> {
    let mut found = Vec::new();
    for child in node.children().unwrap_or_default() {
        if child.tag == tag {
            found.push(child);
        }
        found.extend(descendants(child, tag));
    }
    found
}

pub fn bytes(node: &Node) -> Option<&[u8]> {
    match &node.content {
        Some(NodeContent::Bytes(bytes)) => Some(bytes),
        _ => None,
    }
}

/// The node in a compact XML-like form, bytes shown as their length.
pub fn render(node: &Node) -> String {
    let mut out = format!("<{}", node.tag);
    for (name, value) in node.attrs.iter() {
        out.push_str(&format!(" {name}=\"{}\"", value.as_str()));
    }
    match &node.content {
        None => out.push_str("/>"),
        Some(NodeContent::Bytes(bytes)) => {
            out.push_str(&format!(">[{} bytes]</{}>", bytes.len(), node.tag))
        }
        Some(NodeContent::String(text)) => out.push_str(&format!(">{text}</{}>", node.tag)),
        Some(NodeContent::Nodes(nodes)) => {
            out.push('>');
            for child in nodes {
                out.push_str(&render(child));
            }
            out.push_str(&format!("</{}>", node.tag));
        }
    }
    out
}

/// `<iq type="result" id=… from=…>` with `children`.
pub fn iq_result(request: &Node, children: Vec<Node>) -> Node {
    let from = attr(request, "to").unwrap_or_else(|| "s.whatsapp.net".into());
    let mut builder = NodeBuilder::new("iq")
        .attr("type", "result")
        .attr("id", attr(request, "id").unwrap_or_default())
        .attr("from", from);
    if !children.is_empty() {
        builder = builder.children(children);
    }
    builder.build()
}

/// `<iq type="error" id=…><error code=… text=…/></iq>`.
pub fn iq_error(request: &Node, code: u16, text: &str) -> Node {
    let from = attr(request, "to").unwrap_or_else(|| "s.whatsapp.net".into());
    NodeBuilder::new("iq")
        .attr("type", "error")
        .attr("id", attr(request, "id").unwrap_or_default())
        .attr("from", from)
        .children([NodeBuilder::new("error")
            .attr("code", code.to_string())
            .attr("text", text.to_owned())
            .build()])
        .build()
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}
