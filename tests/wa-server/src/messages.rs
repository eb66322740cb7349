//! What the client sent: each `<message>` stanza kept whole, and its encrypted payloads
//! decrypted back into `waE2E.Message` by the simulated recipients.
//!
//! A direct message carries one `<enc>` per recipient device under `<participants><to>`
//! (`wacore` `src/send/dm.rs:105-283`); a group message carries the sender-key
//! distribution that way and the content once, as `<enc type="skmsg">`.

use std::collections::BTreeMap;

use whatsapp_rust::Jid;
use whatsapp_rust::wacore_binary::Server;
use whatsapp_rust::wacore_binary::node::Node;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::Shared;
use crate::stanza::{self, attr, bytes, child, children};

/// One `<message>` stanza from the client.
#[derive(Debug, Clone)]
pub struct ReceivedMessage {
    /// The stanza as it arrived.
    pub stanza: Node,
    /// The stanza's attributes (`to`, `id`, `type`, ...).
    pub attrs: BTreeMap<String, String>,
    /// The stanza's child nodes other than the encrypted payloads (`participants`,
    /// `enc`): `<biz>`, `<bot>`, `<device-identity>`, `<reporting>`, ...
    pub nodes: Vec<Node>,
    /// What the recipient reads: the copy for the `to` user's device, or the group content.
    pub message: Option<wa::Message>,
    /// Every copy decrypted, by recipient device JID (the client's own devices included).
    pub copies: Vec<(String, wa::Message)>,
    /// Payloads that did not decrypt, with why.
    pub errors: Vec<String>,
}

impl ReceivedMessage {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }

    pub fn id(&self) -> &str {
        self.attr("id").unwrap_or_default()
    }

    /// The extra child nodes named `tag`.
    pub fn nodes_named(&self, tag: &str) -> Vec<&Node> {
        self.nodes.iter().filter(|node| node.tag == tag).collect()
    }

    /// Every `<enc>` in the stanza, wherever it sits.
    pub fn enc_nodes(&self) -> Vec<&Node> {
        stanza::descendants(&self.stanza, "enc")
    }

    /// The stanza in a compact XML-like form.
    pub fn render(&self) -> String {
        stanza::render(&self.stanza)
    }
}

/// Decrypts what can be decrypted; never fails, errors are kept on the record.
pub async fn receive(shared: &Shared, me: &Jid, stanza: Node) -> ReceivedMessage {
    let to: Option<Jid> = attr(&stanza, "to").and_then(|to| to.parse().ok());
    let is_group = to.as_ref().is_some_and(|to| to.server == Server::Group);
    let mut copies = Vec::new();
    let mut errors = Vec::new();

    let pairwise: Vec<(String, &Node)> = child(&stanza, "participants")
        .map(|participants| {
            children(participants, "to")
                .filter_map(|to| Some((attr(to, "jid")?, child(to, "enc")?)))
                .collect()
        })
        .unwrap_or_default();
    // A direct message may also carry a single `<enc>` for the `to` device itself.
    let direct = (!is_group)
        .then(|| child(&stanza, "enc").zip(to.as_ref().map(|to| to.to_string())))
        .flatten()
        .map(|(enc, jid)| (jid, enc));

    for (jid, enc) in pairwise.into_iter().chain(direct) {
        let Ok(device) = jid.parse::<Jid>() else {
            errors.push(format!("bad recipient JID {jid}"));
            continue;
        };
        let kind = attr(enc, "type").unwrap_or_default();
        let version = padding_version(enc);
        let peer = shared.peer(&device);
        match peer
            .decrypt(me, &kind, bytes(enc).unwrap_or_default(), version)
            .await
        {
            Ok(message) => {
                if let (true, Some(group), Some(distribution)) = (
                    is_group,
                    to.as_ref(),
                    message.sender_key_distribution_message.as_option(),
                ) {
                    let key = distribution
                        .axolotl_sender_key_distribution_message
                        .as_deref()
                        .unwrap_or_default();
                    if let Err(error) = peer.accept_sender_key(group, me, key).await {
                        errors.push(format!("{jid}: {error}"));
                    }
                }
                copies.push((jid, message));
            }
            Err(error) => errors.push(format!("{jid}: {error}")),
        }
    }

    let mut message = None;
    if let (true, Some(group)) = (is_group, to.as_ref()) {
        if let Some(enc) =
            children(&stanza, "enc").find(|enc| attr(enc, "type").as_deref() == Some("skmsg"))
        {
            let version = padding_version(enc);
            let mut last_error = None;
            for (jid, _) in &copies {
                let Ok(device) = jid.parse::<Jid>() else {
                    continue;
                };
                let peer = shared.peer(&device);
                match peer
                    .decrypt_group(group, me, bytes(enc).unwrap_or_default(), version)
                    .await
                {
                    Ok(content) => {
                        message = Some(content);
                        last_error = None;
                        break;
                    }
                    Err(error) => last_error = Some(error),
                }
            }
            if message.is_none() {
                errors.push(last_error.unwrap_or_else(|| {
                    "no participant holds the sender key for the group message".into()
                }));
            }
        }
    } else if let Some(to) = to.as_ref() {
        message = copies
            .iter()
            .find(|(jid, _)| jid.parse::<Jid>().is_ok_and(|jid| jid.user == to.user))
            .map(|(_, message)| message.clone());
    }

    let nodes = stanza
        .children()
        .unwrap_or_default()
        .iter()
        .filter(|node| node.tag != "participants" && node.tag != "enc")
        .cloned()
        .collect();
    ReceivedMessage {
        attrs: stanza::attrs(&stanza),
        nodes,
        message,
        copies,
        errors,
        stanza,
    }
}

fn padding_version(enc: &Node) -> u8 {
    attr(enc, "v").and_then(|v| v.parse().ok()).unwrap_or(2)
}
