//! Answers to the client's `<iq>` requests: device lists, prekey bundles, the client's
//! own prekey uploads and count queries (kept in [`crate::keys`]), media hosts, group
//! metadata, and an empty result for everything else.
//!
//! Shapes follow the client's parsers in `wacore` 0.7.0: `iq/usync/query.rs:1160-1400`
//! (device lists), `prekeys.rs:196-330` (bundles), `iq/prekeys.rs:199-545` (digests,
//! uploads, rotations, counts), `iq/mediaconn.rs:359` (media hosts),
//! `iq/groups.rs:1090-1200` (group info). IQ replies are matched by id only.

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::iq::mediaconn::{
    HostType, MediaConnHostExtended, MediaConnResponseExtended,
};
use whatsapp_rust::wacore::protocol::ProtocolNode as _;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;

use crate::Shared;
use crate::stanza::{attr, child, children, iq_error, iq_result, unix_now};

/// The host named in `media_conn`. Never resolvable: the driver's `media_base_url`
/// rewrites it to this server's HTTP listener, and anything not rewritten fails fast.
pub const MEDIA_HOST: &str = "media.fake-whatsapp.invalid";

/// The reply to an `<iq>` from the client, or `None` for answers to the server's own IQs.
pub async fn answer(shared: &Shared, me: &Jid, iq: &Node) -> Option<Node> {
    let kind = attr(iq, "type").unwrap_or_default();
    if kind == "result" || kind == "error" {
        return None;
    }
    let namespace = attr(iq, "xmlns").unwrap_or_default();
    let reply = match namespace.as_str() {
        "usync" => usync(iq),
        "encrypt" if child(iq, "key").is_some() => prekey_bundles(shared, iq).await,
        "encrypt" if child(iq, "count").is_some() => iq_result(
            iq,
            vec![
                NodeBuilder::new("count")
                    .attr("value", shared.keys().count(me).to_string())
                    .build(),
            ],
        ),
        "encrypt" if child(iq, "digest").is_some() => match shared.keys().digest(me) {
            Some(digest) => iq_result(iq, vec![digest]),
            None => iq_error(iq, 404, "item-not-found"),
        },
        "encrypt" if child(iq, "registration").is_some() => {
            let uploaded = shared.keys().upload(me, iq);
            shared.keys_changed();
            match uploaded {
                Ok(count) => {
                    shared.log(format!("{me} uploaded {count} prekeys"));
                    iq_result(iq, Vec::new())
                }
                Err(error) => {
                    shared.log(format!("prekey upload from {me}: {error}"));
                    iq_error(iq, 400, "bad-request")
                }
            }
        }
        "encrypt" if child(iq, "rotate").is_some() => {
            let rotated = child(iq, "rotate").map(|rotate| shared.keys().rotate(me, rotate));
            shared.keys_changed();
            match rotated {
                Some(Ok(())) => iq_result(iq, Vec::new()),
                Some(Err(error)) => {
                    shared.log(format!("signed prekey rotation from {me}: {error}"));
                    iq_error(iq, 400, "bad-request")
                }
                None => iq_result(iq, Vec::new()),
            }
        }
        "w:m" if child(iq, "media_conn").is_some() => {
            let host = MediaConnHostExtended::simple(MEDIA_HOST.into(), HostType::Primary);
            iq_result(
                iq,
                vec![
                    MediaConnResponseExtended::mock("FAKE_MEDIA_AUTH".into(), 3600, vec![host])
                        .into_node(),
                ],
            )
        }
        "w:g2" => group_info(shared, me, iq),
        // A companion logging itself out (`wacore` `iq/devices.rs:25`): noted, so a test
        // can see that the phone would drop it from its linked devices.
        "md" if child(iq, "remove-companion-device").is_some() => {
            let removed = child(iq, "remove-companion-device")
                .and_then(|node| attr(node, "jid"))
                .unwrap_or_default();
            shared.log(format!("{me} removed companion device {removed}"));
            iq_result(iq, Vec::new())
        }
        _ => iq_result(iq, Vec::new()),
    };
    Some(reply)
}

/// Every user asked about has exactly one device, id 0 (the client then also encrypts a
/// copy for its own account's phone); `<lid>` queries get no LID, so the client keeps
/// addressing by phone number; `<contact>` queries say the user is on WhatsApp.
fn usync(iq: &Node) -> Node {
    let Some(usync) = child(iq, "usync") else {
        return iq_result(iq, Vec::new());
    };
    let query = child(usync, "query");
    let wants = |tag: &str| query.is_some_and(|query| child(query, tag).is_some());
    let mut users = Vec::new();
    for user in child(usync, "list")
        .map(|list| children(list, "user"))
        .into_iter()
        .flatten()
    {
        let Some(jid) = attr(user, "jid") else {
            continue;
        };
        let mut results = Vec::new();
        if wants("devices") {
            let devices = vec![NodeBuilder::new("device").attr("id", "0").build()];
            results.push(
                NodeBuilder::new("devices")
                    .children([NodeBuilder::new("device-list").children(devices).build()])
                    .build(),
            );
        }
        if wants("contact") {
            results.push(NodeBuilder::new("contact").attr("type", "in").build());
        }
        users.push(
            NodeBuilder::new("user")
                .attr("jid", jid)
                .children(results)
                .build(),
        );
    }
    iq_result(
        iq,
        vec![
            NodeBuilder::new("usync")
                .attr("sid", attr(usync, "sid").unwrap_or_default())
                .attr("index", "0")
                .attr("last", "true")
                .children([NodeBuilder::new("list").children(users).build()])
                .build(),
        ],
    )
}

/// One bundle per device asked for, from that device's simulated identity.
async fn prekey_bundles(shared: &Shared, iq: &Node) -> Node {
    let mut users = Vec::new();
    let requested: Vec<String> = child(iq, "key")
        .map(|key| {
            children(key, "user")
                .filter_map(|user| attr(user, "jid"))
                .collect()
        })
        .unwrap_or_default();
    for jid in requested {
        let Ok(parsed) = jid.parse::<Jid>() else {
            continue;
        };
        let peer = shared.peer(&parsed);
        users.push(peer.bundle_node(&parsed).await);
    }
    iq_result(iq, vec![NodeBuilder::new("list").children(users).build()])
}

/// Metadata of a group made with `FakeWhatsApp::add_group`; 404 for any other.
fn group_info(shared: &Shared, me: &Jid, iq: &Node) -> Node {
    let Some(to) = attr(iq, "to") else {
        return iq_result(iq, Vec::new());
    };
    if child(iq, "query").is_none() {
        return iq_result(iq, Vec::new());
    }
    let Some(members) = shared.group_members(&to) else {
        return iq_error(iq, 404, "item-not-found");
    };
    let own = format!("{}@s.whatsapp.net", me.user);
    let mut participants: Vec<Node> = vec![
        NodeBuilder::new("participant")
            .attr("jid", own.clone())
            .attr("type", "admin")
            .build(),
    ];
    for member in members.into_iter().filter(|member| *member != own) {
        participants.push(NodeBuilder::new("participant").attr("jid", member).build());
    }
    let id = to.split('@').next().unwrap_or_default().to_owned();
    iq_result(
        iq,
        vec![
            NodeBuilder::new("group")
                .attr("id", id)
                .attr("subject", "Fake group")
                .attr("creation", unix_now().to_string())
                .attr("creator", own)
                .attr("addressing_mode", "pn")
                .children(participants)
                .build(),
        ],
    )
}
