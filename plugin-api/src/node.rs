//! Stanza nodes: the extra XML-like children a message needs on its `<message>` stanza.
//!
//! Plugins build [`Node`] trees; across the ABI a tree travels as a flat list in
//! pre-order where every node names its parent's index (a recursive FFI type would be
//! harder to layout-check and to evolve). The host holds that list as [`StanzaNodes`]:
//! the sandbox keeps it as it came and renders it as JSON only when asked, and the
//! WhatsApp driver builds the tree back ([`StanzaNodes::to_tree`]).

use std::borrow::Cow;

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

use abi_stable::{
    StableAbi,
    std_types::{RCow, RCowStr, ROption, RVec, Tuple2},
};

/// Text in a node: a `&'static str` (tags and most attribute names and values are
/// literals) is borrowed, not copied; computed text is owned.
pub type NodeText = Cow<'static, str>;

/// One stanza node: a tag, attributes, and either child nodes or raw content bytes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Node {
    pub tag: NodeText,
    pub attrs: Vec<(NodeText, NodeText)>,
    pub children: Vec<Node>,
    /// Raw content; a node has either children or content, never both.
    pub content: Option<Vec<u8>>,
}

impl Node {
    pub fn new(tag: impl Into<NodeText>) -> Self {
        Node {
            tag: tag.into(),
            ..Node::default()
        }
    }

    pub fn attr(mut self, name: impl Into<NodeText>, value: impl Into<NodeText>) -> Self {
        self.attrs.push((name.into(), value.into()));
        self
    }

    pub fn child(mut self, child: Node) -> Self {
        self.children.push(child);
        self
    }

    pub fn content(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.content = Some(bytes.into());
        self
    }

    /// The value of attribute `name`, if set.
    pub fn get_attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
    }

    /// Flattens a forest of nodes into the FFI form, moving its strings and bytes rather
    /// than copying them (a send's nodes cross the boundary once; this saves an
    /// allocation and a free per tag, attribute and value).
    pub(crate) fn into_flat(roots: Vec<Node>) -> RVec<FlatNode> {
        let mut out = RVec::new();
        for root in roots {
            push_flat_owned(root, NO_PARENT, &mut out);
        }
        out
    }

    /// Rebuilds the forest from its FFI form. Entries whose parent index is not an
    /// earlier entry are dropped rather than trusted.
    pub(crate) fn unflatten(flat: &[FlatNode]) -> Vec<Node> {
        // Build bottom-up: children lists by index, then assemble from the end.
        let mut children_of: Vec<Vec<usize>> = vec![Vec::new(); flat.len()];
        let mut roots = Vec::new();
        for (index, node) in flat.iter().enumerate() {
            let parent = node.parent as usize;
            if node.parent == NO_PARENT {
                roots.push(index);
            } else if parent < index {
                children_of[parent].push(index);
            }
        }
        let mut built: Vec<Option<Node>> = flat
            .iter()
            .map(|flat_node| {
                Some(Node {
                    tag: node_text(&flat_node.tag),
                    attrs: flat_node
                        .attrs
                        .iter()
                        .map(|pair| (node_text(&pair.0), node_text(&pair.1)))
                        .collect(),
                    children: Vec::new(),
                    content: flat_node
                        .content
                        .as_ref()
                        .map(|bytes| bytes.to_vec())
                        .into(),
                })
            })
            .collect();
        // Children always come after their parent, so filling from the back completes
        // every child before its parent takes it.
        for index in (0..flat.len()).rev() {
            let children: Vec<Node> = children_of[index]
                .iter()
                .filter_map(|&child| built[child].take())
                .collect();
            if let Some(node) = built[index].as_mut() {
                node.children = children;
            }
        }
        roots
            .into_iter()
            .filter_map(|index| built[index].take())
            .collect()
    }
}

/// Borrowed text stays borrowed (it is `'static`); owned text is copied.
fn node_text(text: &RCowStr<'static>) -> NodeText {
    match text {
        RCow::Borrowed(text) => Cow::Borrowed(text.as_str()),
        RCow::Owned(text) => Cow::Owned(text.to_string()),
    }
}

fn flat_text(text: NodeText) -> RCowStr<'static> {
    match text {
        Cow::Borrowed(text) => RCowStr::from(text),
        Cow::Owned(text) => RCowStr::from(text),
    }
}

fn push_flat_owned(node: Node, parent: u32, out: &mut RVec<FlatNode>) {
    let index = out.len() as u32;
    out.push(FlatNode {
        parent,
        tag: flat_text(node.tag),
        attrs: node
            .attrs
            .into_iter()
            .map(|(key, value)| Tuple2(flat_text(key), flat_text(value)))
            .collect(),
        content: node.content.map(RVec::from).into(),
    });
    for child in node.children {
        push_flat_owned(child, index, out);
    }
}

/// `parent` of a top-level node.
pub const NO_PARENT: u32 = u32::MAX;

/// A node in its flat FFI form.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FlatNode {
    /// Index of the parent in the same list, or [`NO_PARENT`].
    pub parent: u32,
    /// Borrowed text points into the plugin's static data, which stays valid: a loaded
    /// library is never unloaded.
    pub tag: RCowStr<'static>,
    pub attrs: RVec<Tuple2<RCowStr<'static>, RCowStr<'static>>>,
    pub content: ROption<RVec<u8>>,
}

/// A message's extra stanza nodes as the host holds them: the flat list the plugin handed
/// over, moved rather than rebuilt (a send's nodes cross the boundary once).
///
/// Serialises as the sandbox outbox shows nodes: `[{"tag","attrs":{..},"content":[..]}]`,
/// children in `content`, or the raw content as text; an entry whose parent is not an
/// earlier entry is left out, with its subtree.
#[derive(Debug, Clone, Default)]
pub struct StanzaNodes(RVec<FlatNode>);

impl StanzaNodes {
    /// The nodes of a forest, in order.
    pub fn from_tree(roots: Vec<Node>) -> StanzaNodes {
        StanzaNodes(Node::into_flat(roots))
    }

    pub(crate) fn from_flat(flat: RVec<FlatNode>) -> StanzaNodes {
        StanzaNodes(flat)
    }

    /// The forest, rebuilt.
    pub fn to_tree(&self) -> Vec<Node> {
        Node::unflatten(&self.0)
    }

    /// How many nodes, at every depth.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The nodes as JSON, the outbox's form.
    pub fn to_json(&self) -> serde_json::Value {
        // Maps with string keys and strings cannot fail to serialise.
        serde_json::to_value(self).unwrap_or_else(|_| serde_json::Value::Array(Vec::new()))
    }
}

impl Serialize for StanzaNodes {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Children {
            nodes: &self.0,
            parent: NO_PARENT,
            depth: 0,
        }
        .serialize(serializer)
    }
}

/// Nesting past this depth is not rendered (a stanza has a handful of levels; this only
/// bounds the recursion).
const MAX_RENDER_DEPTH: usize = 32;

/// The entries whose parent is `parent` (for `NO_PARENT`, the roots). Children come
/// after their parent in pre-order, so only later entries are looked at.
struct Children<'a> {
    nodes: &'a [FlatNode],
    parent: u32,
    depth: usize,
}

impl Serialize for Children<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(None)?;
        if self.depth < MAX_RENDER_DEPTH {
            let start = match self.parent {
                NO_PARENT => 0,
                parent => parent as usize + 1,
            };
            for index in (start..self.nodes.len()).filter(|&i| self.nodes[i].parent == self.parent)
            {
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
    use super::*;

    #[test]
    fn a_tree_survives_the_flat_form() {
        let tree = vec![
            Node::new("bot").attr("biz_bot", "1"),
            Node::new("biz")
                .attr("actual_actors", "2")
                .child(Node::new("interactive").child(Node::new("native_flow").attr("v", "9")))
                .child(Node::new("quality_control").child(Node::new("decision_source"))),
            Node::new("raw").content(vec![1, 2, 3]),
        ];
        let flat = Node::into_flat(tree.clone());
        assert_eq!(flat.len(), 7);
        assert_eq!(Node::unflatten(&flat), tree);
        let moved = Node::into_flat(tree.clone());
        assert_eq!(Node::unflatten(&moved), tree);
    }

    #[test]
    fn a_forward_parent_index_is_dropped() {
        let mut flat = Node::into_flat(vec![Node::new("a"), Node::new("b")]);
        flat[0].parent = 1;
        let rebuilt = Node::unflatten(&flat);
        assert_eq!(rebuilt, vec![Node::new("b")]);
    }
    fn rendered(nodes: Vec<Node>) -> serde_json::Value {
        StanzaNodes::from_tree(nodes).to_json()
    }

    #[test]
    fn nodes_render_as_tag_attrs_content() {
        assert_eq!(
            rendered(vec![Node::new("biz").attr("a", "1").child(Node::new("x"))]),
            serde_json::json!([{"tag":"biz","attrs":{"a":"1"},"content":[{"tag":"x","attrs":{},"content":[]}]}])
        );
    }

    #[test]
    fn a_forest_renders_in_order_and_nesting() {
        let forest = vec![
            Node::new("bot").attr("biz_bot", "1"),
            Node::new("biz")
                .child(Node::new("interactive").child(Node::new("native_flow").attr("v", "9")))
                .child(Node::new("quality_control")),
            Node::new("raw").content(b"hi".to_vec()),
        ];
        assert_eq!(
            rendered(forest),
            serde_json::json!([
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
    fn an_entry_with_a_forward_parent_is_not_rendered() {
        let mut flat = Node::into_flat(vec![Node::new("a"), Node::new("b")]);
        flat[0].parent = 1;
        assert_eq!(
            StanzaNodes::from_flat(flat).to_json(),
            serde_json::json!([{"tag":"b","attrs":{},"content":[]}])
        );
    }
}
