//! The prekeys each logged-in client uploaded: what WhatsApp's server hands out as that
//! device's prekey bundle when someone opens a Signal session with it.
//!
//! The client uploads while its store says the server holds none of its keys, at login
//! and whenever the server cannot vouch for them: `<iq xmlns="encrypt" type="set">` with
//! `<registration>` (4 bytes), `<type>`, `<identity>` (32 bytes), `<list>` of
//! `<key><id>`(3 bytes)`<value>`(32 bytes)`</key>`, and `<skey><id><value><signature>`
//! (`wacore` 0.7.0 `src/iq/prekeys.rs:360-455`). A signed-prekey rotation sends only
//! `<rotate><skey>…</skey></rotate>` (`:530-545`). At every login it also asks for the
//! digest of what the server holds (`<digest/>`, `:199-298`): the keys and a SHA-1 over
//! them it compares with its own, or a 404 when the server holds nothing, on which it
//! uploads again (`whatsapp-rust` 0.7.0 `src/prekeys.rs:866-985`). Like the real server,
//! each bundle handed out uses up one one-time prekey; once they run out, bundles
//! carry none.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use whatsapp_rust::Jid;
use whatsapp_rust::wacore::libsignal::protocol::{IdentityKey, PreKeyBundle, PublicKey};
use whatsapp_rust::wacore::prekeys::compute_key_bundle_digest;
use whatsapp_rust::wacore_binary::builder::NodeBuilder;
use whatsapp_rust::wacore_binary::node::Node;

use crate::Shared;
use crate::peers::device_key;
use crate::stanza::{bytes, child, children};

/// How long a sender waits for the client's upload.
const UPLOAD_WAIT: Duration = Duration::from_secs(15);

/// `client`'s bundle for a new session, waiting for its login upload if it has not
/// arrived yet.
pub(crate) async fn bundle_for(shared: &Shared, client: &Jid) -> Result<PreKeyBundle, String> {
    let started = Instant::now();
    loop {
        let notified = shared.changed.notified();
        if let Some(bundle) = shared.keys().take_bundle(client) {
            return bundle;
        }
        if started.elapsed() >= UPLOAD_WAIT {
            return Err(format!(
                "{client} uploaded no prekeys in {UPLOAD_WAIT:?}: no session can be opened with it"
            ));
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
    }
}

/// One device's keys as uploaded.
struct DeviceKeys {
    registration_id: u32,
    identity: [u8; 32],
    signed: SignedKey,
    one_time: VecDeque<(u32, [u8; 32])>,
}

struct SignedKey {
    id: u32,
    public: [u8; 32],
    signature: Vec<u8>,
}

/// Every device's uploaded keys, by device (`user@server:device`).
#[derive(Default)]
pub struct KeyDirectory {
    devices: HashMap<String, DeviceKeys>,
}

impl KeyDirectory {
    /// Keeps the keys of an upload IQ from `device`; returns how many one-time prekeys
    /// it carried. Keys uploaded earlier stay usable (the client keeps their private
    /// halves until a session uses them).
    pub fn upload(&mut self, device: &Jid, iq: &Node) -> Result<usize, String> {
        let registration: [u8; 4] = fixed(child(iq, "registration"), "registration")?;
        let identity: [u8; 32] = fixed(child(iq, "identity"), "identity")?;
        let signed = signed_key(child(iq, "skey").ok_or("the upload has no <skey>")?)?;
        let mut uploaded = Vec::new();
        for key in child(iq, "list")
            .map(|list| children(list, "key"))
            .into_iter()
            .flatten()
        {
            uploaded.push((
                key_id(child(key, "id"))?,
                fixed(child(key, "value"), "value")?,
            ));
        }
        let count = uploaded.len();
        let keys = self
            .devices
            .entry(device_key(device))
            .or_insert_with(|| DeviceKeys {
                registration_id: 0,
                identity,
                signed: SignedKey {
                    id: 0,
                    public: [0; 32],
                    signature: Vec::new(),
                },
                one_time: VecDeque::new(),
            });
        keys.registration_id = u32::from_be_bytes(registration);
        keys.identity = identity;
        keys.signed = signed;
        for (id, public) in uploaded {
            keys.one_time.retain(|(held, _)| *held != id);
            keys.one_time.push_back((id, public));
        }
        Ok(count)
    }

    /// Replaces `device`'s signed prekey with the one a `<rotate>` IQ carries.
    pub fn rotate(&mut self, device: &Jid, rotate: &Node) -> Result<(), String> {
        let signed = signed_key(child(rotate, "skey").ok_or("the rotation has no <skey>")?)?;
        let keys = self
            .devices
            .get_mut(&device_key(device))
            .ok_or("a rotation before any upload")?;
        keys.signed = signed;
        Ok(())
    }

    /// How many one-time prekeys of `device` are left (the answer to its count query).
    pub fn count(&self, device: &Jid) -> usize {
        self.devices
            .get(&device_key(device))
            .map_or(0, |keys| keys.one_time.len())
    }

    /// `<digest>` of `device`'s keys: registration, identity, signed prekey, the ids of the
    /// one-time prekeys left and the SHA-1 the client checks them by; `None` before the
    /// device uploaded.
    pub fn digest(&self, device: &Jid) -> Option<Node> {
        let keys = self.devices.get(&device_key(device))?;
        let publics: Vec<&[u8]> = keys.one_time.iter().map(|(_, key)| &key[..]).collect();
        let hash = compute_key_bundle_digest(
            &keys.identity,
            &keys.signed.public,
            &keys.signed.signature,
            &publics,
        );
        let ids = keys.one_time.iter().map(|(id, _)| {
            NodeBuilder::new("id")
                .bytes(id.to_be_bytes()[1..].to_vec())
                .build()
        });
        let leaf =
            |tag: &'static str, content: Vec<u8>| NodeBuilder::new(tag).bytes(content).build();
        Some(
            NodeBuilder::new("digest")
                .children([
                    leaf("registration", keys.registration_id.to_be_bytes().to_vec()),
                    leaf("type", vec![5]),
                    leaf("identity", keys.identity.to_vec()),
                    NodeBuilder::new("skey")
                        .children([
                            leaf("id", keys.signed.id.to_be_bytes()[1..].to_vec()),
                            leaf("value", keys.signed.public.to_vec()),
                            leaf("signature", keys.signed.signature.clone()),
                        ])
                        .build(),
                    NodeBuilder::new("list").children(ids).build(),
                    leaf("hash", hash),
                ])
                .build(),
        )
    }

    /// `device`'s bundle with its next one-time prekey, which it uses up; `None` before
    /// the device uploaded.
    pub fn take_bundle(&mut self, device: &Jid) -> Option<Result<PreKeyBundle, String>> {
        let keys = self.devices.get_mut(&device_key(device))?;
        let one_time = keys.one_time.pop_front();
        Some(bundle(device, keys, one_time).map_err(|error| format!("bundle of {device}: {error}")))
    }
}

fn bundle(
    device: &Jid,
    keys: &DeviceKeys,
    one_time: Option<(u32, [u8; 32])>,
) -> Result<PreKeyBundle, String> {
    let public = |bytes: &[u8; 32]| {
        PublicKey::from_djb_public_key_bytes(bytes).map_err(|error| error.to_string())
    };
    let one_time = match one_time {
        Some((id, key)) => Some((id.into(), public(&key)?)),
        None => None,
    };
    PreKeyBundle::new(
        keys.registration_id,
        u32::from(device.device).into(),
        one_time,
        keys.signed.id.into(),
        public(&keys.signed.public)?,
        keys.signed.signature.clone(),
        IdentityKey::new(public(&keys.identity)?),
    )
    .map_err(|error| error.to_string())
}

fn signed_key(skey: &Node) -> Result<SignedKey, String> {
    let signature = bytes(child(skey, "signature").ok_or("<skey> has no <signature>")?)
        .ok_or("<signature> has no bytes")?
        .to_vec();
    Ok(SignedKey {
        id: key_id(child(skey, "id"))?,
        public: fixed(child(skey, "value"), "skey value")?,
        signature,
    })
}

/// A key id: three bytes, big-endian.
fn key_id(node: Option<&Node>) -> Result<u32, String> {
    let id: [u8; 3] = fixed(node, "key id")?;
    Ok(u32::from_be_bytes([0, id[0], id[1], id[2]]))
}

fn fixed<const N: usize>(node: Option<&Node>, what: &str) -> Result<[u8; N], String> {
    let content = node
        .and_then(bytes)
        .ok_or_else(|| format!("the upload has no {what}"))?;
    content
        .try_into()
        .map_err(|_| format!("{what} has {} bytes, not {N}", content.len()))
}
