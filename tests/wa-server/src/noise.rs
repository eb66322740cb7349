//! The server side of WhatsApp's Noise handshake (XX, IK, and XXfallback when an IK
//! hello used another server's key), its certificate chain, and the encrypted frames
//! that follow.
//!
//! Mirrors the initiator in `wacore-noise` 0.7.0 `src/handshake.rs` token by token
//! (`process_xx_server_hello_into`, `IkHandshakeState`, `XxFallbackHandshakeState`). The chain is this server's own,
//! signed by nobody: the client accepts it only when built with `danger-skip-cert-chain-verify`,
//! which skips the two XEdDSA checks and keeps the serial and key checks (`:169-250`).

use whatsapp_rust::buffa::{Message as _, MessageField};
use whatsapp_rust::wacore::libsignal::protocol::KeyPair;
use whatsapp_rust::wacore::noise::framing::FrameDecoder;
use whatsapp_rust::wacore::noise::{NoiseCipher, NoiseHandshake};
use whatsapp_rust::wacore_binary::consts::{
    NOISE_PATTERN_IK, NOISE_PATTERN_XX, NOISE_PATTERN_XXFALLBACK, WA_CONN_HEADER,
};
use whatsapp_rust::wacore_binary::marshal::{marshal, unmarshal_ref};
use whatsapp_rust::wacore_binary::node::Node;
use whatsapp_rust::wacore_binary::util::unpack;
use whatsapp_rust::waproto::whatsapp::{self as wa, cert_chain::noise_certificate};

/// Errors of the wire: handshake, framing, decryption.
pub type WireError = String;

/// The server's long-lived Noise identity and the chain that names its public key.
pub struct ServerIdentity {
    pub static_key: KeyPair,
    pub cert_chain: Vec<u8>,
}

impl ServerIdentity {
    pub fn generate() -> Self {
        let static_key = KeyPair::generate(&mut rand::rng());
        let public: [u8; 32] = static_key
            .public_key
            .public_key_bytes()
            .try_into()
            .unwrap_or([0; 32]);
        ServerIdentity {
            cert_chain: cert_chain_for(&public),
            static_key,
        }
    }
}

/// An intermediate (issuer serial 0) and a leaf naming `leaf_key`, valid from 2023 to
/// 2100 so the client's IK window check (`whatsapp-rust` `src/handshake.rs:131-157`)
/// passes. Signatures are zeros: nothing can sign for WhatsApp's root.
fn cert_chain_for(leaf_key: &[u8; 32]) -> Vec<u8> {
    let not_before = 1_700_000_000;
    let not_after = 4_102_444_800; // 2100-01-01
    let intermediate = noise_certificate::Details {
        serial: Some(1),
        issuer_serial: Some(0),
        key: Some(vec![0x11; 32]),
        not_before: Some(not_before),
        not_after: Some(not_after),
    };
    let leaf = noise_certificate::Details {
        serial: Some(2),
        issuer_serial: Some(1),
        key: Some(leaf_key.to_vec()),
        not_before: Some(not_before),
        not_after: Some(not_after),
    };
    let certificate = |details: noise_certificate::Details| wa::cert_chain::NoiseCertificate {
        details: Some(details.encode_to_vec()),
        signature: Some(vec![0; 64]),
    };
    wa::CertChain {
        intermediate: MessageField::some(certificate(intermediate)),
        leaf: MessageField::some(certificate(leaf)),
    }
    .encode_to_vec()
}

/// Which handshake the client chose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pattern {
    Xx,
    Ik,
    /// IK with another server's key, answered as XX (`Noise_XXfallback`).
    XxFallback,
}

/// The ciphers of an established connection, and the client's login payload.
pub struct Established {
    pub pattern: Pattern,
    pub payload: wa::ClientPayload,
    pub reader: NoiseCipher,
    pub writer: NoiseCipher,
}

/// Strips what precedes the first frame: an optional edge-routing pre-intro
/// (`ED`, 0, 1, 3-byte length, data; `wacore-noise` `src/edge_routing.rs`) and the
/// 4-byte connection header. `None` while more bytes are needed.
pub fn strip_intro(buffer: &[u8]) -> Result<Option<usize>, WireError> {
    let mut at = 0;
    if buffer.len() >= 2 && &buffer[..2] == b"ED" {
        if buffer.len() < 7 {
            return Ok(None);
        }
        let length =
            (usize::from(buffer[4]) << 16) | (usize::from(buffer[5]) << 8) | usize::from(buffer[6]);
        at = 7 + length;
    }
    if buffer.len() < at + 4 {
        return Ok(None);
    }
    if buffer[at..at + 4] != WA_CONN_HEADER {
        return Err(format!(
            "unexpected connection header {:02x?}",
            &buffer[at..at + 4]
        ));
    }
    Ok(Some(at + 4))
}

/// Answers the client's hello. For XX the connection is not established until the
/// client's finish is read ([`XxPending::finish`]); IK completes in this one step.
pub enum Responded {
    Xx(Box<XxPending>, Vec<u8>),
    Ik(Box<Established>, Vec<u8>),
}

/// An XX handshake waiting for the client's finish.
pub struct XxPending {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
    pattern: Pattern,
}

/// Reads a ClientHello and builds the ServerHello (a bare handshake message, unframed).
pub fn respond_to_hello(identity: &ServerIdentity, hello: &[u8]) -> Result<Responded, WireError> {
    let message = wa::HandshakeMessage::decode_from_slice(hello)
        .map_err(|error| format!("client hello: {error}"))?;
    let hello = message
        .client_hello
        .into_option()
        .ok_or("the first frame is not a client hello")?;
    let client_ephemeral: [u8; 32] = hello
        .ephemeral
        .as_deref()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or("client hello without a 32-byte ephemeral")?;
    let server_private = identity.static_key.private_key.serialize();
    let server_public = identity.static_key.public_key.public_key_bytes();
    let ephemeral = KeyPair::generate(&mut rand::rng());
    let ephemeral_private = ephemeral.private_key.serialize();
    let ephemeral_public = ephemeral.public_key.public_key_bytes().to_vec();
    let failed = |error: whatsapp_rust::wacore::noise::HandshakeError| error.to_string();

    match (hello.r#static, hello.payload) {
        (Some(encrypted_static), Some(encrypted_payload)) => {
            // IK: <- s (pre-message), -> e, es, s, ss, payload; <- e, ee, se, payload.
            let mut noise =
                NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER).map_err(failed)?;
            noise.authenticate(server_public);
            noise.authenticate(&client_ephemeral);
            noise
                .mix_shared_secret(server_private, &client_ephemeral)
                .map_err(failed)?;
            let Ok(client_static) = noise.decrypt(&encrypted_static) else {
                // The client used another server's static key (its credentials outlived
                // that server): answer as XX so it starts over on its same ephemeral.
                let (pending, reply) = xx_reply(
                    identity,
                    NOISE_PATTERN_XXFALLBACK,
                    Pattern::XxFallback,
                    &client_ephemeral,
                    ephemeral,
                )?;
                return Ok(Responded::Xx(Box::new(pending), reply));
            };
            noise
                .mix_shared_secret(server_private, &client_static)
                .map_err(failed)?;
            let payload = noise.decrypt(&encrypted_payload).map_err(failed)?;
            noise.authenticate(&ephemeral_public);
            noise
                .mix_shared_secret(ephemeral_private, &client_ephemeral)
                .map_err(failed)?;
            noise
                .mix_shared_secret(ephemeral_private, &client_static)
                .map_err(failed)?;
            let certificate = noise.encrypt(&identity.cert_chain).map_err(failed)?;
            let reply = server_hello(ephemeral_public, None, certificate);
            let (reader, writer) = noise.finish().map_err(failed)?;
            Ok(Responded::Ik(
                Box::new(Established {
                    pattern: Pattern::Ik,
                    payload: client_payload(&payload)?,
                    reader,
                    writer,
                }),
                reply,
            ))
        }
        _ => {
            let (pending, reply) = xx_reply(
                identity,
                NOISE_PATTERN_XX,
                Pattern::Xx,
                &client_ephemeral,
                ephemeral,
            )?;
            Ok(Responded::Xx(Box::new(pending), reply))
        }
    }
}

/// XX (or XXfallback, the same tokens under another protocol name): -> e; <- e, ee, s,
/// es, payload(cert).
fn xx_reply(
    identity: &ServerIdentity,
    protocol: &str,
    pattern: Pattern,
    client_ephemeral: &[u8; 32],
    ephemeral: KeyPair,
) -> Result<(XxPending, Vec<u8>), WireError> {
    let failed = |error: whatsapp_rust::wacore::noise::HandshakeError| error.to_string();
    let ephemeral_public = ephemeral.public_key.public_key_bytes().to_vec();
    let mut noise = NoiseHandshake::new(protocol, &WA_CONN_HEADER).map_err(failed)?;
    noise.authenticate(client_ephemeral);
    noise.authenticate(&ephemeral_public);
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), client_ephemeral)
        .map_err(failed)?;
    let encrypted_static = noise
        .encrypt(identity.static_key.public_key.public_key_bytes())
        .map_err(failed)?;
    noise
        .mix_shared_secret(
            identity.static_key.private_key.serialize(),
            client_ephemeral,
        )
        .map_err(failed)?;
    let certificate = noise.encrypt(&identity.cert_chain).map_err(failed)?;
    let reply = server_hello(ephemeral_public, Some(encrypted_static), certificate);
    Ok((
        XxPending {
            noise,
            ephemeral,
            pattern,
        },
        reply,
    ))
}

impl XxPending {
    /// Reads the ClientFinish: -> s, se, payload.
    pub fn finish(mut self, frame: &[u8]) -> Result<Established, WireError> {
        let failed = |error: whatsapp_rust::wacore::noise::HandshakeError| error.to_string();
        let message = wa::HandshakeMessage::decode_from_slice(frame)
            .map_err(|error| format!("client finish: {error}"))?;
        let finish = message
            .client_finish
            .into_option()
            .ok_or("the second frame is not a client finish")?;
        let encrypted_static = finish
            .r#static
            .ok_or("client finish without a static key")?;
        let encrypted_payload = finish.payload.ok_or("client finish without a payload")?;
        let client_static = self.noise.decrypt(&encrypted_static).map_err(failed)?;
        self.noise
            .mix_shared_secret(self.ephemeral.private_key.serialize(), &client_static)
            .map_err(failed)?;
        let payload = self.noise.decrypt(&encrypted_payload).map_err(failed)?;
        let (reader, writer) = self.noise.finish().map_err(failed)?;
        Ok(Established {
            pattern: self.pattern,
            payload: client_payload(&payload)?,
            reader,
            writer,
        })
    }
}

fn client_payload(bytes: &[u8]) -> Result<wa::ClientPayload, WireError> {
    wa::ClientPayload::decode_from_slice(bytes).map_err(|error| format!("client payload: {error}"))
}

fn server_hello(
    ephemeral: Vec<u8>,
    encrypted_static: Option<Vec<u8>>,
    payload: Vec<u8>,
) -> Vec<u8> {
    wa::HandshakeMessage {
        server_hello: MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral),
            r#static: encrypted_static,
            payload: Some(payload),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// A 3-byte big-endian length and the payload (`wacore-noise` `src/framing.rs`).
pub fn frame(payload: &[u8]) -> Vec<u8> {
    let length = payload.len();
    let mut out = Vec::with_capacity(length + 3);
    out.extend_from_slice(&[(length >> 16) as u8, (length >> 8) as u8, length as u8]);
    out.extend_from_slice(payload);
    out
}

/// The encrypted stream after the handshake: counters from 0 in each direction.
pub struct Channel {
    reader: NoiseCipher,
    writer: NoiseCipher,
    read_counter: u32,
    write_counter: u32,
    frames: FrameDecoder,
}

impl Channel {
    pub fn new(established: Established, frames: FrameDecoder) -> Self {
        Channel {
            reader: established.reader,
            writer: established.writer,
            read_counter: 0,
            write_counter: 0,
            frames,
        }
    }

    pub fn feed(&mut self, bytes: &[u8]) {
        self.frames.feed(bytes);
    }

    /// The next whole node the client sent, if one is buffered.
    pub fn next_node(&mut self) -> Result<Option<Node>, WireError> {
        let Some(frame) = self.frames.decode_frame() else {
            return Ok(None);
        };
        let mut plain = frame.to_vec();
        self.reader
            .decrypt_in_place_with_counter(self.read_counter, &mut plain)
            .map_err(|error| format!("frame {}: {error}", self.read_counter))?;
        self.read_counter += 1;
        let unpacked = unpack(&plain).map_err(|error| format!("unpack: {error}"))?;
        let node = unmarshal_ref(&unpacked).map_err(|error| format!("unmarshal: {error}"))?;
        Ok(Some(node.to_owned()))
    }

    /// A node as one framed, encrypted write.
    pub fn seal(&mut self, node: &Node) -> Result<Vec<u8>, WireError> {
        let plain = marshal(node).map_err(|error| format!("marshal: {error}"))?;
        let sealed = self
            .writer
            .encrypt_with_counter(self.write_counter, &plain)
            .map_err(|error| format!("encrypt: {error}"))?;
        self.write_counter += 1;
        Ok(frame(&sealed))
    }
}
