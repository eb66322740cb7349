//! Stanza nodes as JSON, the outbox's form: `[{"tag","attrs":{..},"content":[..]}]`, with
//! children in `content`, or the raw content as text.
//!
//! Rendered straight from the flat nodes a plugin hands over (pre-order, parent indices),
//! without building a tree, and only when `/sandbox/outbox` is read: the sandbox keeps
//! each message's nodes as they came, so a send pays nothing for a view seldom asked for.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use wuts_plugin_api::node::{FlatNode, NO_PARENT};

/// The nodes as a JSON array. Like [`wuts_plugin_api::Node::unflatten`], an entry whose
/// parent is not an earlier entry is left out, with its subtree.
pub fn to_json(nodes: &[FlatNode]) -> serde_json::Value {
    serde_json::to_value(Children {
        nodes,
        parent: NO_PARENT,
        depth: 0,
    })
    // Maps with string keys and strings cannot fail to serialise.
    .unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
}

/// Nesting past this depth is not rendered (a stanza has a handful of levels; this only
/// bounds the recursion).
const MAX_DEPTH: usize = 32;

/// The entries whose parent is `parent` (for `NO_PARENT`, the roots). Children come
/// after their parent in pre-order, so only later entries are looked at.
struct Children<'a> {
    nodes: &'a [FlatNode],
    parent: u32,
    depth: usize,
}

impl Children<'_> {
    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        let start = match self.parent {
            NO_PARENT => 0,
            parent => parent as usize + 1,
        };
        (start..self.nodes.len()).filter(move |&index| self.nodes[index].parent == self.parent)
    }
}

impl Serialize for Children<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        if self.depth < MAX_DEPTH {
            for index in self.indices() {
                seq.serialize_element(&OneNode {
                    nodes: self.nodes,
                    index,
                    depth: self.depth,
                })?;
            }
        }
        seq.end()
    }
}

struct OneNode<'a> {
    nodes: &'a [FlatNode],
    index: usize,
    depth: usize,
}

impl Serialize for OneNode<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let node = &self.nodes[self.index];
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("tag", &*node.tag)?;
        map.serialize_entry("attrs", &Attrs(node))?;
        match node.content.as_ref().into_option() {
            Some(bytes) => {
                map.serialize_entry("content", &String::from_utf8_lossy(bytes.as_slice()))?
            }
            None => map.serialize_entry(
                "content",
                &Children {
                    nodes: self.nodes,
                    parent: self.index as u32,
                    depth: self.depth + 1,
                },
            )?,
        }
        map.end()
    }
}

struct Attrs<'a>(&'a FlatNode);

impl Serialize for Attrs<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.attrs.len()))?;
        for pair in self.0.attrs.iter() {
            map.serialize_entry(&*pair.0, &*pair.1)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};
    use wuts_plugin_api::Node;

    use super::to_json;

    fn rendered(nodes: &[Node]) -> Value {
        to_json(&Node::flatten(nodes))
    }

    #[test]
    fn nodes_render_as_tag_attrs_content() {
        assert_eq!(
            rendered(&[Node::new("biz").attr("a", "1").child(Node::new("x"))]),
            json!([{"tag":"biz","attrs":{"a":"1"},"content":[{"tag":"x","attrs":{},"content":[]}]}])
        );
    }

    #[test]
    fn a_forest_keeps_its_order_and_nesting() {
        let forest = [
            Node::new("bot").attr("biz_bot", "1"),
            Node::new("biz")
                .child(Node::new("interactive").child(Node::new("native_flow").attr("v", "9")))
                .child(Node::new("quality_control")),
            Node::new("raw").content(b"hi".to_vec()),
        ];
        assert_eq!(
            rendered(&forest),
            json!([
                {"tag":"bot","attrs":{"biz_bot":"1"},"content":[]},
                {"tag":"biz","attrs":{},"content":[
                    {"tag":"interactive","attrs":{},"content":[
                        {"tag":"native_flow","attrs":{"v":"9"},"content":[]}
                    ]},
                    {"tag":"quality_control","attrs":{},"content":[]}
                ]},
                {"tag":"raw","attrs":{},"content":"hi"}
            ])
        );
    }

    #[test]
    fn an_entry_with_a_forward_parent_is_left_out() {
        let mut flat = Node::flatten(&[Node::new("a"), Node::new("b")]);
        flat[0].parent = 1;
        let json = to_json(&flat);
        assert_eq!(json, json!([{"tag":"b","attrs":{},"content":[]}]));
    }
}
