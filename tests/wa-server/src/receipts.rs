//! Receipts both ways: the ones the server relays to the client for messages it sent
//! (a recipient's phone saying delivered or read), and the ones the client sends for
//! messages it received.
//!
//! To the client: `<receipt from=… id=… t=… [type="read"]>`, with a delivery receipt
//! carrying no `type`; several messages at once put the first id on the stanza and the
//! rest in `<list><item id=…/></list>`. The client collects the list items and the
//! stanza id into one `Receipt` event (`wacore` 0.7.0 `collect_simple_message_ids`).
//!
//! From the client: a delivery receipt for a `pkmsg` this server pushed tells the
//! sending peer the client holds the session ([`crate::peers::Peer::acknowledge`]); a
//! `retry` receipt means it could not decrypt, and is only logged.

use whatsapp_rust::Jid;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;

use crate::Shared;
use crate::stanza::{attr, child, children, unix_now};

/// Which receipt a recipient sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptKind {
    /// The message reached the recipient's phone (no `type` attribute).
    Delivered,
    /// The recipient opened the chat (`type="read"`).
    Read,
}

/// The `<receipt>` `from` sends for `ids`, which the client sent to it.
pub(crate) fn stanza(from: &str, ids: &[&str], kind: ReceiptKind) -> Result<Node, String> {
    from.parse::<Jid>()
        .map_err(|error| format!("receipt sender {from}: {error}"))?;
    let (first, rest) = ids
        .split_first()
        .ok_or("a receipt names at least one message")?;
    let mut receipt = NodeBuilder::new("receipt")
        .attr("from", from.to_owned())
        .attr("id", (*first).to_owned())
        .attr("t", unix_now().to_string());
    if kind == ReceiptKind::Read {
        receipt = receipt.attr("type", "read");
    }
    if !rest.is_empty() {
        let items = rest.iter().map(|id| {
            NodeBuilder::new("item")
                .attr("id", (*id).to_owned())
                .build()
        });
        receipt = receipt.children([NodeBuilder::new("list").children(items).build()]);
    }
    Ok(receipt.build())
}

/// Keeps a receipt from the client and lets the peers whose `pkmsg` it acknowledges
/// switch to `msg`.
pub(crate) async fn from_client(shared: &Shared, receipt: Node) {
    let kind = attr(&receipt, "type").unwrap_or_default();
    let mut ids: Vec<String> = attr(&receipt, "id").into_iter().collect();
    if let Some(list) = child(&receipt, "list") {
        ids.extend(children(list, "item").filter_map(|item| attr(item, "id")));
    }
    if matches!(kind.as_str(), "retry" | "enc_rekey_retry" | "server-error") {
        shared.log(format!("the client sent a {kind} receipt for {ids:?}"));
    } else {
        for id in &ids {
            let Some((peer, client)) = shared.take_unacknowledged(id) else {
                continue;
            };
            if let Err(error) = peer.acknowledge(&client).await {
                shared.log(format!("acknowledging the session of {id}: {error}"));
            }
        }
    }
    // Kept last: whoever sees the receipt sees its sessions acknowledged.
    shared.client_receipt(receipt);
}
