//! Messages the server delivers to the logged-in client as another user's: the
//! `<message>` stanza WhatsApp's server would relay, encrypted by a simulated peer.
//!
//! The stanza's attributes are the ones the client's parser reads (`wacore` 0.7.0
//! `parse_message_info`):
//!
//! * a direct message: `from` is the sender; the sender's other identity rides in
//!   `sender_pn` when `from` is a LID, in `sender_lid` when it is a phone number;
//! * a group message: `from` is the group, `participant` the sender,
//!   `addressing_mode` says which kind `participant` is (`lid` or `pn`), and the other
//!   identity rides in `participant_pn` (LID mode) or `participant_lid` (PN mode). The
//!   client reads neither without `addressing_mode`;
//! * `notify` is the sender's push name, `id`, `t`, and `type` (`text`, `media`, ...)
//!   as the client classifies its own sends (`stanza_type_from_message`), with the
//!   `<enc mediatype>` of media likewise (`media_type_from_message`).
//!
//! A direct message carries one `<enc type="pkmsg"|"msg">`. A group message carries
//! `<enc type="skmsg">`, preceded the first time by the sender key for the group in a
//! pairwise `<enc>`. A sender without a session with the client opens one from the
//! client's uploaded bundle ([`crate::keys`]): its messages are `pkmsg` until the client's
//! delivery receipt comes back ([`crate::receipts`]), `msg` afterwards.

use std::sync::Arc;

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::send::{media_type_from_message, stanza_type_from_message};
use whatsapp_rust::wacore_binary::Server;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;
use whatsapp_rust::waproto::whatsapp as wa;

use crate::peers::Peer;
use crate::stanza::unix_now;
use crate::{Command, Shared, keys};

/// Who a pushed message is from and how the server names them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundOptions {
    /// The sender: a phone-number JID (`NNN@s.whatsapp.net`) or a LID (`NNN@lid`).
    pub from: String,
    /// The sender's other identity: its phone-number JID when `from` is a LID, its LID
    /// when `from` is a phone number.
    pub sender_alt: Option<String>,
    /// The sender's push name (the stanza's `notify`); none when `None`.
    pub push_name: Option<String>,
    /// The message id; a fresh `3EB0…` id when `None`.
    pub id: Option<String>,
    /// A group (`…@g.us`) to post in, `from` being the participant who posts.
    pub group: Option<String>,
}

impl InboundOptions {
    /// A direct message from `from`, nothing else set.
    pub fn new(from: &str) -> Self {
        InboundOptions {
            from: from.to_owned(),
            ..InboundOptions::default()
        }
    }

    /// With the sender's other identity (see [`Self::sender_alt`]).
    pub fn sender_alt(mut self, alt: &str) -> Self {
        self.sender_alt = Some(alt.to_owned());
        self
    }

    /// With a push name.
    pub fn push_name(mut self, name: &str) -> Self {
        self.push_name = Some(name.to_owned());
        self
    }

    /// With this message id.
    pub fn id(mut self, id: &str) -> Self {
        self.id = Some(id.to_owned());
        self
    }

    /// Posted in `group` by the sender.
    pub fn in_group(mut self, group: &str) -> Self {
        self.group = Some(group.to_owned());
        self
    }
}

/// The sender's JIDs, checked: the alternate is of the other kind.
struct Sender {
    jid: Jid,
    alt: Option<Jid>,
    group: Option<Jid>,
}

fn is_lid(jid: &Jid) -> bool {
    jid.server == Server::Lid
}

fn parse(options: &InboundOptions) -> Result<Sender, String> {
    let jid: Jid = options
        .from
        .parse()
        .map_err(|error| format!("sender JID {}: {error}", options.from))?;
    if !matches!(jid.server, Server::Lid | Server::Pn) {
        return Err(format!(
            "sender {} is neither a LID nor a phone-number JID",
            options.from
        ));
    }
    let alt = match &options.sender_alt {
        Some(alt) => {
            let parsed: Jid = alt
                .parse()
                .map_err(|error| format!("alternate sender JID {alt}: {error}"))?;
            let other_kind = if is_lid(&jid) {
                parsed.server == Server::Pn
            } else {
                parsed.server == Server::Lid
            };
            if !other_kind {
                return Err(format!(
                    "the alternate of {} must be its {}, not {alt}",
                    options.from,
                    if is_lid(&jid) {
                        "phone-number JID"
                    } else {
                        "LID"
                    }
                ));
            }
            Some(parsed)
        }
        None => None,
    };
    let group = match &options.group {
        Some(group) => {
            let parsed: Jid = group
                .parse()
                .map_err(|error| format!("group JID {group}: {error}"))?;
            if parsed.server != Server::Group {
                return Err(format!("{group} is not a group JID (…@g.us)"));
            }
            Some(parsed)
        }
        None => None,
    };
    Ok(Sender { jid, alt, group })
}

/// Encrypts `message` from `options.from` for the logged-in client and sends it.
/// Returns the message id.
pub(crate) async fn push(
    shared: &Shared,
    options: &InboundOptions,
    message: &wa::Message,
) -> Result<String, String> {
    let sender = parse(options)?;
    let (client, commands) = shared.logged_in_client()?;
    let peer = shared.linked_peer(&sender.jid, sender.alt.as_ref());
    let id = options
        .id
        .clone()
        .unwrap_or_else(|| shared.next_message_id());
    let media_type = media_type_from_message(message);
    let mut encs = Vec::new();
    let mut opened = false;
    match &sender.group {
        None => {
            let (kind, ciphertext) = pairwise(shared, &peer, &client, message).await?;
            opened = kind == "pkmsg";
            encs.push(enc(&kind, ciphertext, media_type));
        }
        Some(group) => {
            if let Some(distribution) = peer.sender_key_for(group, &sender.jid, &client).await? {
                let (kind, ciphertext) = pairwise(shared, &peer, &client, &distribution).await?;
                opened = kind == "pkmsg";
                encs.push(enc(&kind, ciphertext, None));
                peer.sender_key_sent(group, &client);
            }
            let ciphertext = peer.encrypt_group(group, &sender.jid, message).await?;
            encs.push(enc("skmsg", ciphertext, media_type));
        }
    }
    let stanza = stanza(
        options,
        &sender,
        &id,
        stanza_type_from_message(message),
        encs,
    );
    shared.pushed(
        stanza.clone(),
        opened.then(|| (id.clone(), Arc::clone(&peer), client.clone())),
    );
    commands
        .send(Command::Send(stanza))
        .map_err(|_| "the client's connection closed".to_owned())?;
    Ok(id)
}

/// A pairwise `(type, ciphertext)` for the client, opening a session first if needed.
async fn pairwise(
    shared: &Shared,
    peer: &Peer,
    client: &Jid,
    message: &wa::Message,
) -> Result<(String, Vec<u8>), String> {
    if !peer.has_session(client).await? {
        let bundle = keys::bundle_for(shared, client).await?;
        peer.open_session(client, &bundle).await?;
    }
    peer.encrypt(client, message).await
}

fn enc(kind: &str, ciphertext: Vec<u8>, media_type: Option<&'static str>) -> Node {
    let mut enc = NodeBuilder::new("enc")
        .attr("v", "2")
        .attr("type", kind.to_owned());
    if let Some(media_type) = media_type {
        enc = enc.attr("mediatype", media_type);
    }
    enc.bytes(ciphertext).build()
}

fn stanza(
    options: &InboundOptions,
    sender: &Sender,
    id: &str,
    kind: &'static str,
    encs: Vec<Node>,
) -> Node {
    let lid = is_lid(&sender.jid);
    let mut message = NodeBuilder::new("message");
    match &sender.group {
        None => {
            message = message.attr("from", sender.jid.to_string());
            if let Some(alt) = &sender.alt {
                let name = if lid { "sender_pn" } else { "sender_lid" };
                message = message.attr(name, alt.to_string());
            }
        }
        Some(group) => {
            message = message
                .attr("from", group.to_string())
                .attr("participant", sender.jid.to_string())
                .attr("addressing_mode", if lid { "lid" } else { "pn" });
            if let Some(alt) = &sender.alt {
                let name = if lid {
                    "participant_pn"
                } else {
                    "participant_lid"
                };
                message = message.attr(name, alt.to_string());
            }
        }
    }
    message = message
        .attr("id", id.to_owned())
        .attr("t", unix_now().to_string())
        .attr("type", kind);
    if let Some(name) = &options.push_name {
        message = message.attr("notify", name.clone());
    }
    message.children(encs).build()
}
