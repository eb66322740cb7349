//! Simulated WhatsApp users: each device has its own Signal identity, publishes a prekey
//! bundle, and decrypts what the client encrypts for it (pairwise and group messages).
//!
//! Built on the library's own store: a `whatsapp_rust::store::Device` generates the
//! identity, signed prekey and registration id (`src/store/mod.rs`), and
//! `SignalProtocolStoreAdapter` (`src/store/signal_adapter.rs`) gives libsignal its
//! stores over it. The adapter's cache keeps the sessions, so a peer keeps decrypting
//! across the client's reconnects.

use std::collections::HashMap;
use std::sync::Arc;

use async_lock::RwLock;
use whatsapp_rust::Jid;
use whatsapp_rust::store::Device;
use whatsapp_rust::store::signal_adapter::SignalProtocolStoreAdapter;
use whatsapp_rust::store::signal_cache::SignalStoreCache;
use whatsapp_rust::wacore::iq::prekeys::{PreKeyBundleUserNode, SignedPreKeyNode};
use whatsapp_rust::wacore::libsignal::protocol::{
    CiphertextMessage, PreKeySignalMessage, SenderKeyDistributionMessage, SignalMessage,
    UsePQRatchet, group_decrypt, message_decrypt, message_encrypt,
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
}

impl Peer {
    pub fn new() -> Self {
        Peer {
            device: Arc::new(RwLock::new(Device::new(Arc::new(InMemoryBackend::new())))),
            cache: Arc::new(SignalStoreCache::new()),
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

    /// Encrypts `message` for the client's device `to`, over the session the client's
    /// own prekey message opened. `(type, ciphertext)`.
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
        .map_err(|error| {
            format!("encrypt for {to}: {error} (the client must have sent to this peer first)")
        })?;
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

    pub fn existing(&self, jid: &Jid) -> Option<Arc<Peer>> {
        self.devices.get(&device_key(jid)).cloned()
    }
}

/// `user@server:device`, the identity of one device.
pub fn device_key(jid: &Jid) -> String {
    format!("{}@{}:{}", jid.user, jid.server, jid.device)
}
