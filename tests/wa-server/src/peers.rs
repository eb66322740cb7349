//! Simulated WhatsApp users: each device has its own Signal identity, publishes a prekey
//! bundle, and decrypts what the client encrypts for it (pairwise and group messages).
//!
//! Built on the library's own store: a `whatsapp_rust::store::Device` generates the
//! identity, signed prekey and registration id (`src/store/mod.rs`), and
//! `SignalProtocolStoreAdapter` (`src/store/signal_adapter.rs`) gives libsignal its
//! stores over it. The adapter's cache keeps the sessions, so a peer keeps decrypting
//! across the client's reconnects.
//!
//! A peer also writes first: it opens a session from the client's uploaded bundle
//! ([`crate::keys`]) with libsignal's `process_prekey_bundle`, as a phone does, and posts
//! in groups under a sender key it distributes to the client first.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use async_lock::RwLock;
use whatsapp_rust::Jid;
use whatsapp_rust::store::Device;
use whatsapp_rust::store::signal_adapter::SignalProtocolStoreAdapter;
use whatsapp_rust::store::signal_cache::SignalStoreCache;
use whatsapp_rust::wacore::iq::prekeys::{PreKeyBundleUserNode, SignedPreKeyNode};
use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, PreKeyBundle, PreKeySignalMessage, SenderKeyDistributionMessage,
    SessionStore as _, SignalMessage, UsePQRatchet, create_sender_key_distribution_message,
    group_decrypt, group_encrypt, message_decrypt, message_encrypt, process_prekey_bundle,
    process_sender_key_distribution_message,
};
use whatsapp_rust::wacore::messages::{MessageUtils, decode_plaintext};
use whatsapp_rust::wacore::protocol::ProtocolNode as _;
use whatsapp_rust::wacore::store::InMemoryBackend;
use whatsapp_rust::wacore::types::jid::{JidExt as _, make_sender_key_name};
use whatsapp_rust::wacore_binary::node::Node;
use whatsapp_rust::waproto::whatsapp as wa;

/// One simulated device: its keys and its Signal sessions with the client.
pub struct Peer {
    device: Arc<RwLock<Device>>,
    cache: Arc<SignalStoreCache>,
    /// Groups whose sender key this peer gave the client, as `group|client device`.
    distributed: Mutex<HashSet<String>>,
}

impl Peer {
    pub fn new() -> Self {
        Peer {
            device: Arc::new(RwLock::new(Device::new(Arc::new(InMemoryBackend::new())))),
            cache: Arc::new(SignalStoreCache::new()),
            distributed: Mutex::new(HashSet::new()),
        }
    }

    fn stores(&self) -> SignalProtocolStoreAdapter {
        SignalProtocolStoreAdapter::new(Arc::clone(&self.device), Arc::clone(&self.cache))
    }

    /// `<user jid=…><registration/><type/><identity/><skey/></user>` for a key fetch.
    pub async fn bundle_node(&self, jid: &Jid) -> Node {
        let device = self.device.read().await;
        PreKeyBundleUserNode {
            jid: jid.clone(),
            registration_id: device.registration_id,
            identity_key: device.identity_key.public_key.public_key_bytes().to_vec(),
            signed_pre_key: SignedPreKeyNode::new(
                device.signed_pre_key_id,
                device.signed_pre_key.public_key.public_key_bytes().to_vec(),
                device.signed_pre_key_signature.to_vec(),
            ),
            one_time_pre_key: None,
            device_identity: None,
        }
        .into_node()
    }

    /// Decrypts a pairwise `<enc type="pkmsg"|"msg">` from `sender` (the client's device JID).
    pub async fn decrypt(
        &self,
        sender: &Jid,
        kind: &str,
        ciphertext: &[u8],
        padding_version: u8,
    ) -> Result<wa::Message, String> {
        let message = match kind {
            "pkmsg" => CiphertextMessage::PreKeySignalMessage(
                PreKeySignalMessage::try_from(ciphertext).map_err(|error| error.to_string())?,
            ),
            "msg" => CiphertextMessage::SignalMessage(
                SignalMessage::try_from(ciphertext).map_err(|error| error.to_string())?,
            ),
            other => return Err(format!("not a pairwise message type: {other}")),
        };
        let mut stores = self.stores();
        let decrypted = message_decrypt(
            &message,
            &sender.to_protocol_address(),
            &mut stores.session_store,
            &mut stores.identity_store,
            &mut stores.pre_key_store,
            &stores.signed_pre_key_store,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await
        .map_err(|error| format!("decrypt from {sender}: {error}"))?;
        decode_plaintext(&decrypted.plaintext, padding_version).map_err(|error| error.to_string())
    }

    /// Keeps the sender key a decrypted message distributed for `group`.
    pub async fn accept_sender_key(
        &self,
        group: &Jid,
        sender: &Jid,
        distribution: &[u8],
    ) -> Result<(), String> {
        let message = SenderKeyDistributionMessage::try_from(distribution)
            .map_err(|error| format!("sender key distribution: {error}"))?;
        let name = make_sender_key_name(group, &sender.to_protocol_address());
        let mut stores = self.stores();
        process_sender_key_distribution_message(&name, &message, &mut stores.sender_key_store)
            .await
            .map_err(|error| format!("sender key distribution: {error}"))
    }

    /// Decrypts a group `<enc type="skmsg">` with a sender key received earlier.
    pub async fn decrypt_group(
        &self,
        group: &Jid,
        sender: &Jid,
        ciphertext: &[u8],
        padding_version: u8,
    ) -> Result<wa::Message, String> {
        let name = make_sender_key_name(group, &sender.to_protocol_address());
        let mut stores = self.stores();
        let plaintext = group_decrypt(ciphertext, &mut stores.sender_key_store, &name)
            .await
            .map_err(|error| format!("group decrypt from {sender}: {error}"))?;
        decode_plaintext(&plaintext, padding_version).map_err(|error| error.to_string())
    }

    /// Whether this peer holds a session with the client's device `to`.
    pub async fn has_session(&self, to: &Jid) -> Result<bool, String> {
        self.stores()
            .session_store
            .has_session(&to.to_protocol_address())
            .await
            .map_err(|error| format!("session with {to}: {error}"))
    }

    /// Opens a session with the client's device `to` from its prekey bundle: later
    /// messages are `pkmsg` until the client acknowledges one ([`Self::acknowledge`]).
    pub async fn open_session(&self, to: &Jid, bundle: &PreKeyBundle) -> Result<(), String> {
        let mut stores = self.stores();
        process_prekey_bundle(
            &to.to_protocol_address(),
            &mut stores.session_store,
            &mut stores.identity_store,
            bundle,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
            UsePQRatchet::No,
        )
        .await
        .map(|_| ())
        .map_err(|error| format!("session with {to} from its bundle: {error}"))
    }

    /// Marks the session with `to` as known to the client, so later messages are plain
    /// `msg`. libsignal does this when the other side writes back; here the client's
    /// delivery receipt for a `pkmsg` stands for that answer. Returns whether a prekey
    /// message was pending.
    pub async fn acknowledge(&self, to: &Jid) -> Result<bool, String> {
        let address = to.to_protocol_address();
        let mut stores = self.stores();
        let Some(mut record) = stores
            .session_store
            .load_session(&address)
            .await
            .map_err(|error| format!("session with {to}: {error}"))?
        else {
            return Ok(false);
        };
        let Some(state) = record.session_state_mut() else {
            return Ok(false);
        };
        let pending = state
            .unacknowledged_pre_key_message_items()
            .map_err(|error| format!("session with {to}: {error}"))?
            .is_some();
        if pending {
            state.clear_unacknowledged_pre_key_message();
            stores
                .session_store
                .store_session(&address, record)
                .await
                .map_err(|error| format!("session with {to}: {error}"))?;
        }
        Ok(pending)
    }

    /// The sender-key distribution for `group`, once per client device `to`: `None` once
    /// the client has it. `me` is this peer's own JID in the group.
    pub async fn sender_key_for(
        &self,
        group: &Jid,
        me: &Jid,
        to: &Jid,
    ) -> Result<Option<wa::Message>, String> {
        let key = format!("{group}|{}", device_key(to));
        if self
            .distributed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .contains(&key)
        {
            return Ok(None);
        }
        let name = make_sender_key_name(group, &me.to_protocol_address());
        let mut stores = self.stores();
        let distribution = create_sender_key_distribution_message(
            &name,
            &mut stores.sender_key_store,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
        )
        .await
        .map_err(|error| format!("sender key for {group}: {error}"))?;
        Ok(Some(wa::Message {
            sender_key_distribution_message: whatsapp_rust::buffa::MessageField::some(
                wa::message::SenderKeyDistributionMessage {
                    group_id: Some(group.to_string()),
                    axolotl_sender_key_distribution_message: Some(
                        distribution.serialized().to_vec(),
                    ),
                },
            ),
            ..Default::default()
        }))
    }

    /// Notes that the client's device `to` received this peer's sender key for `group`.
    pub fn sender_key_sent(&self, group: &Jid, to: &Jid) {
        self.distributed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(format!("{group}|{}", device_key(to)));
    }

    /// Encrypts `message` for `group` under this peer's sender key (`skmsg`).
    pub async fn encrypt_group(
        &self,
        group: &Jid,
        me: &Jid,
        message: &wa::Message,
    ) -> Result<Vec<u8>, String> {
        let plaintext = MessageUtils::encode_and_pad(message);
        let name = make_sender_key_name(group, &me.to_protocol_address());
        let mut stores = self.stores();
        let encrypted = group_encrypt(
            &mut stores.sender_key_store,
            &name,
            &plaintext,
            &mut rand::make_rng::<rand::rngs::StdRng>(),
        )
        .await
        .map_err(|error| format!("group encrypt for {group}: {error}"))?;
        Ok(encrypted.serialized().to_vec())
    }

    /// Encrypts `message` for the client's device `to` over the session this peer holds
    /// with it (opened by the client's prekey message or by [`Self::open_session`]).
    /// `(type, ciphertext)`.
    pub async fn encrypt(
        &self,
        to: &Jid,
        message: &wa::Message,
    ) -> Result<(String, Vec<u8>), String> {
        let plaintext = MessageUtils::encode_and_pad(message);
        let mut stores = self.stores();
        let encrypted = message_encrypt(
            &plaintext,
            &to.to_protocol_address(),
            &mut stores.session_store,
            &mut stores.identity_store,
        )
        .await
        .map_err(|error| format!("encrypt for {to}: {error}"))?;
        let kind = match encrypted {
            CiphertextMessage::PreKeySignalMessage(_) => "pkmsg",
            _ => "msg",
        };
        Ok((kind.to_owned(), encrypted.serialize().to_vec()))
    }
}

impl Default for Peer {
    fn default() -> Self {
        Peer::new()
    }
}

/// Every simulated device, made the first time the client asks about it.
#[derive(Default)]
pub struct Peers {
    devices: HashMap<String, Arc<Peer>>,
}

impl Peers {
    /// The peer for `jid` (user, server and device; agent ignored), made on first use.
    pub fn get(&mut self, jid: &Jid) -> Arc<Peer> {
        Arc::clone(self.devices.entry(device_key(jid)).or_default())
    }

    /// The peer for `jid`, also known as `alias` (its LID and its phone-number JID): one
    /// identity, whichever name the client uses. An existing peer under `jid` wins.
    pub fn get_linked(&mut self, jid: &Jid, alias: &Jid) -> Arc<Peer> {
        let peer = match (
            self.devices.get(&device_key(jid)),
            self.devices.get(&device_key(alias)),
        ) {
            (Some(peer), _) | (None, Some(peer)) => Arc::clone(peer),
            (None, None) => Arc::new(Peer::new()),
        };
        self.devices.insert(device_key(jid), Arc::clone(&peer));
        self.devices.insert(device_key(alias), Arc::clone(&peer));
        peer
    }

    pub fn existing(&self, jid: &Jid) -> Option<Arc<Peer>> {
        self.devices.get(&device_key(jid)).cloned()
    }
}

/// `user@server:device`, the identity of one device.
pub fn device_key(jid: &Jid) -> String {
    format!("{}@{}:{}", jid.user, jid.server, jid.device)
}
