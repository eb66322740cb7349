//! Votes on polls this device sent, read into `poll.vote` (docs/API.md, "Events"):
//! `{"poll_message_id", "voter", "voter_lid", "selected_options": [...], "message_id",
//! "chat_jid", "timestamp"}`, the options by name, in the poll's order.
//!
//! A vote is a `pollUpdateMessage`: the poll's key (`pollCreationMessageKey`, whose `id`
//! is the poll's message id) and `vote { encPayload, encIv }`, the encrypted
//! `PollVoteMessage { selectedOptions }` whose entries are the SHA-256 of the chosen
//! option names. Only who holds the poll's `messageContextInfo.messageSecret` can read
//! it; for a poll this device sent, that is the message log, which keeps every sent
//! message with its protobuf bytes (`Store::find_message`). An empty selection is a vote
//! taken back, and arrives as `selected_options: []`.
//!
//! # The derivation
//!
//! ```text
//! key = HKDF-SHA256(ikm = messageSecret, salt = none (32 zero bytes),
//!                   info = pollId || pollCreatorJid || voterJid || "Poll Vote", 32 bytes)
//!     = HMAC-SHA256(key = HMAC-SHA256(key = 0^32, messageSecret),
//!                   pollId || pollCreatorJid || voterJid || "Poll Vote" || 0x01)
//! PollVoteMessage = AES-256-GCM-Open(key, iv = encIv (12 bytes),
//!                   aad = pollId || 0x00 || voterJid, encPayload (ciphertext || 16-byte tag))
//! ```
//!
//! Both JIDs are user JIDs without a device part (`5511...@s.whatsapp.net`, `1234...@lid`).
//! Sources: whatsapp-rust 0.7.0, `wacore/src/secret_enc_addon.rs`
//! (`derive_use_case_secret`: `HKDF-SHA256(salt = zeros[32], ikm = messageSecret, info)`;
//! `build_aad`: `stanzaId || 0x00 || modificationSenderJid` for `PollVote`) and
//! `wacore/src/poll.rs` (`compute_option_hash`, `decrypt_poll_vote_with_fallback`);
//! whatsmeow (tulir/whatsmeow 33cfac5) `msgsecret.go` (`generateMsgSecretKey`:
//! `hkdfutil.SHA256(origMsgSecret, nil, origMsgID + origMsgSender.ToNonAD() +
//! modificationSender.ToNonAD() + "Poll Vote", 32)`, additional data
//! `"%s\x00%s", origMsgID, modificationSender`; `DecryptPollVote`; `HashPollOptions`);
//! Baileys (WhiskeySockets/Baileys 78e7e4e) `src/Utils/process-message.ts`
//! (`decryptPollVote`: the two HMACs above, written out, and `aesDecryptGCM` with that
//! AAD).
//!
//! # Whose JIDs
//!
//! The voter signs with the JIDs in the namespace it addresses the poll in: phone numbers
//! (`@s.whatsapp.net`) or, in chats migrated to LIDs, LIDs for both, never mixed
//! (whatsapp-rust `src/features/polls.rs`, `resolve_voter_jid` and `decrypt_vote`, which
//! retries "under the opposite namespace", as WhatsApp Web's `decryptAddOn` does; whatsmeow
//! votes as `getOwnLID()`). So a vote is tried under each candidate pair in one
//! namespace: the creator as this device's phone number (or the poll's logged sender),
//! as the poll key's `participant` or (outside groups) `remoteJID`, which name the creator
//! as the voter sees them, or as the sender itself for a vote from this account's other
//! devices; the voter as the sender's phone number or LID, whichever matches. GCM's tag
//! decides: a wrong pair fails, it never yields a wrong vote, and the voter is the
//! sender WhatsApp authenticated, whatever the key says.
//!
//! A vote that cannot be read (an unknown poll, a poll this device did not send, no
//! secret, a tag that does not verify) is not an error for anyone: it is logged at debug
//! and the message stays a `message.received` of type `poll_vote`.

use aes_gcm::aead::{Aead, Payload};
use aes_gcm::{Aes256Gcm, KeyInit, Nonce};
use buffa::Message as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use waproto::whatsapp::Message;
use waproto::whatsapp::message::{PollUpdateMessage, PollVoteMessage};

use super::parse::{Inbound, bounded, is_lid, poll_creation, poll_update, user_jid};
use crate::store::{Store, StoreError};
use crate::time::rfc3339;

/// The event a readable vote makes.
pub const EVENT: &str = "poll.vote";
/// The use case WhatsApp names in the key derivation (`WAUseCaseSecret`'s
/// `UseCaseSecretModificationType`).
pub const MODIFICATION_TYPE: &str = "Poll Vote";
/// `messageSecret`'s length, as every client makes it.
pub const SECRET_BYTES: usize = 32;
/// AES-GCM's nonce (WhatsApp's `encIv`) and tag.
const IV_BYTES: usize = 12;
const TAG_BYTES: usize = 16;
/// A vote is tried under at most this many (creator, voter) pairs.
const MAX_ADDRESSINGS: usize = 6;

type HmacSha256 = Hmac<Sha256>;

/// Why a vote makes no `poll.vote`.
#[derive(Debug, thiserror::Error)]
pub enum Unreadable {
    #[error("the vote names no poll")]
    NoPollId,
    #[error("this device sent no poll with id {0}")]
    UnknownPoll(String),
    #[error("message {0} is not a poll")]
    NotAPoll(String),
    #[error("the poll has no {SECRET_BYTES}-byte messageSecret")]
    NoSecret,
    #[error("the vote has no encrypted payload with a {IV_BYTES}-byte IV")]
    NoPayload,
    #[error("the vote did not decrypt under any of its {0} creator and voter JID pairs")]
    DoesNotDecrypt(usize),
    #[error("the decrypted vote is not a PollVoteMessage: {0}")]
    NotAVote(String),
    #[error("the message log failed: {0}")]
    Store(#[from] StoreError),
}

/// The `poll.vote` data of a received message, or `None` when it is not a poll vote.
pub fn read(store: &dyn Store, inbound: &Inbound<'_>) -> Option<Result<Value, Unreadable>> {
    let update = poll_update(inbound.message)?;
    Some(read_update(store, inbound, update))
}

fn read_update(
    store: &dyn Store,
    inbound: &Inbound<'_>,
    update: &PollUpdateMessage,
) -> Result<Value, Unreadable> {
    let key = update.poll_creation_message_key.as_option();
    let poll_id = key
        .and_then(|key| key.id.as_deref())
        .filter(|id| !id.is_empty())
        .ok_or(Unreadable::NoPollId)?;
    let logged = store
        .find_message(inbound.device_id, poll_id)?
        .filter(|logged| logged.from_me)
        .ok_or_else(|| Unreadable::UnknownPoll(bounded(poll_id)))?;
    let poll_message = Message::decode_from_slice(&logged.message)
        .map_err(|_| Unreadable::NotAPoll(bounded(poll_id)))?;
    let poll =
        poll_creation(&poll_message).ok_or_else(|| Unreadable::NotAPoll(bounded(poll_id)))?;
    // `messageSecret` is where every current client puts it; `encKey` is the poll's own
    // older field for the same secret.
    let secret: &[u8; SECRET_BYTES] = poll_message
        .message_context_info
        .as_option()
        .and_then(|context| context.message_secret.as_deref())
        .or(poll.enc_key.as_deref())
        .and_then(|secret| secret.try_into().ok())
        .ok_or(Unreadable::NoSecret)?;
    let vote = update.vote.as_option().ok_or(Unreadable::NoPayload)?;
    let (Some(payload), Some(iv)) = (vote.enc_payload.as_deref(), vote.enc_iv.as_deref()) else {
        return Err(Unreadable::NoPayload);
    };
    let iv: &[u8; IV_BYTES] = iv.try_into().map_err(|_| Unreadable::NoPayload)?;

    let candidates = addressings(inbound, key, logged.sender_jid.as_deref());
    let plaintext = candidates
        .iter()
        .find_map(|(creator, voter)| decrypt_vote(secret, poll_id, creator, voter, iv, payload))
        .ok_or(Unreadable::DoesNotDecrypt(candidates.len()))?;
    let chosen = PollVoteMessage::decode_from_slice(&plaintext)
        .map_err(|error| Unreadable::NotAVote(error.to_string()))?;

    // In the poll's order, each once; a hash of no option of the poll is dropped.
    let selected: Vec<&str> = poll
        .options
        .iter()
        .filter_map(|option| option.option_name.as_deref())
        .filter(|name| {
            let hash = option_hash(name);
            chosen
                .selected_options
                .iter()
                .any(|selected| selected.as_slice() == hash)
        })
        .collect();
    Ok(json!({
        "poll_message_id": bounded(poll_id),
        "voter": user_jid(inbound.sender_pn.unwrap_or(inbound.sender_jid)),
        "voter_lid": voter_lid(inbound).map(user_jid),
        "selected_options": selected,
        "message_id": bounded(inbound.message_id),
        "chat_jid": bounded(inbound.chat_jid),
        "timestamp": rfc3339(inbound.timestamp),
    }))
}

/// The sender's LID, when the device knows it.
fn voter_lid<'a>(inbound: &Inbound<'a>) -> Option<&'a str> {
    inbound
        .sender_lid
        .or_else(|| Some(inbound.sender_jid).filter(|jid| is_lid(jid)))
}

/// The (creator, voter) JID pairs a vote may be encrypted under, most likely first, each
/// in one namespace (see the module documentation).
fn addressings(
    inbound: &Inbound<'_>,
    key: Option<&waproto::whatsapp::MessageKey>,
    poll_sender: Option<&str>,
) -> Vec<(String, String)> {
    let voter_pn = inbound
        .sender_pn
        .or_else(|| Some(inbound.sender_jid).filter(|jid| jid.ends_with("@s.whatsapp.net")))
        .map(user_jid);
    let voter_lid = voter_lid(inbound).map(user_jid);
    let in_group = inbound.chat_jid.ends_with("@g.us");
    let creators = [
        inbound.own_jid,
        poll_sender,
        key.and_then(|key| key.participant.as_deref()),
        key.filter(|_| !in_group)
            .and_then(|key| key.remote_jid.as_deref()),
        // A vote from this account's other devices: the creator is the voter.
        inbound.is_from_me.then_some(inbound.sender_jid),
        inbound.is_from_me.then_some(inbound.sender_lid).flatten(),
    ];
    let mut pairs: Vec<(String, String)> = Vec::new();
    for creator in creators.into_iter().flatten().map(user_jid) {
        let voter = if creator.ends_with("@s.whatsapp.net") {
            voter_pn.clone()
        } else if is_lid(&creator) {
            voter_lid.clone()
        } else {
            None
        };
        if let Some(voter) = voter
            && pairs.len() < MAX_ADDRESSINGS
            && !pairs.iter().any(|(known, _)| *known == creator)
        {
            pairs.push((creator, voter));
        }
    }
    pairs
}

/// SHA-256 of an option's name: how a vote names an option.
pub fn option_hash(name: &str) -> [u8; 32] {
    Sha256::digest(name.as_bytes()).into()
}

/// HMAC-SHA256 under `key` over `parts`, in order.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC takes a key of any length, so `new_from_slice` cannot fail here; were it to,
    // the zero result would only make the vote fail to decrypt.
    let Ok(mut mac) = <HmacSha256 as Mac>::new_from_slice(key) else {
        return [0; 32];
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// The vote's AES-256 key: HKDF-SHA256 of the poll's secret (no salt), `info` = poll id,
/// creator, voter and "Poll Vote", written out as RFC 5869's extract and one expand step.
pub fn vote_key(
    secret: &[u8; SECRET_BYTES],
    poll_id: &str,
    creator: &str,
    voter: &str,
) -> [u8; 32] {
    let pseudo_random_key = hmac_sha256(&[0; 32], &[secret]);
    hmac_sha256(
        &pseudo_random_key,
        &[
            poll_id.as_bytes(),
            creator.as_bytes(),
            voter.as_bytes(),
            MODIFICATION_TYPE.as_bytes(),
            &[1],
        ],
    )
}

/// The data GCM authenticates beside the vote: poll id, a zero byte, the voter's JID.
pub fn vote_aad(poll_id: &str, voter: &str) -> Vec<u8> {
    [poll_id.as_bytes(), &[0], voter.as_bytes()].concat()
}

/// The `PollVoteMessage` bytes of a vote, or `None` when the tag does not verify.
pub fn decrypt_vote(
    secret: &[u8; SECRET_BYTES],
    poll_id: &str,
    creator: &str,
    voter: &str,
    iv: &[u8; IV_BYTES],
    payload: &[u8],
) -> Option<Vec<u8>> {
    if payload.len() < TAG_BYTES {
        return None;
    }
    let key = vote_key(secret, poll_id, creator, voter);
    let cipher = Aes256Gcm::new(&key.into());
    cipher
        .decrypt(
            Nonce::from_slice(iv),
            Payload {
                msg: payload,
                aad: &vote_aad(poll_id, voter),
            },
        )
        .ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use buffa::MessageField;
    use chrono::{TimeZone, Utc};
    use waproto::whatsapp::message::{PollEncValue, poll_creation_message};
    use waproto::whatsapp::{MessageContextInfo, MessageKey};

    use super::*;
    use crate::store::{LogEntry, LoggedMessage, Role, SqliteStore};

    const POLL_ID: &str = "3EB0A1B2C3D4E5F6A7B8C9";
    const CREATOR: &str = "5511888888888@s.whatsapp.net";
    const VOTER: &str = "5511999999999@s.whatsapp.net";
    const OPTIONS: [&str; 3] = [
        "Morning (8h-12h)",
        "Afternoon (12h-18h)",
        "Evening (18h-21h)",
    ];

    fn secret() -> [u8; 32] {
        std::array::from_fn(|i| i as u8)
    }

    fn iv() -> [u8; 12] {
        std::array::from_fn(|i| 0xA0 + i as u8)
    }

    fn unhex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    // The vector below was computed apart from this code, with Python: the key by
    // Baileys' `decryptPollVote` written out with the standard library's `hmac`
    // (`key0 = HMAC(0^32, secret)`, `key = HMAC(key0, id + creator + voter + "Poll Vote"
    // + b"\x01")`, checked equal to `cryptography`'s HKDF(SHA256, salt=None)), the
    // ciphertext by `cryptography`'s `AESGCM(key).encrypt(iv, plaintext, id + "\0" +
    // voter)`, the plaintext a PollVoteMessage selecting options 1 and 3 (`0a 20 <sha256>`
    // twice). Secret: bytes 0 to 31; IV: bytes 0xA0 to 0xAB.
    const KEY: &str = "3a814587328693910926e2d969d0185e40538bbdc17fba6f2f88355998a05a75";
    const MORNING_SHA256: &str = "77224738a1b5612598b8e3ac114e9d04e80a39c26e06a75844a9ab88229cd714";
    const EVENING_SHA256: &str = "2efbc0882258ace6822b75733bcade5d3ad181b65dcf44f703f90afe0c98f56b";
    const CIPHERTEXT: &str = "89f9a649a6a1d0a7d3d228c12527b3c612a8b92618ba9848b9b7f86ccad49b1c\
        589bf7ca5bf9d20e09dca7178d711dcd49ff1d1afb0bcffe6e28e1fb07153e20beb9c4fcb5174eb4780b\
        0730bc4a1abd509db55b";

    #[test]
    fn the_key_and_the_vote_match_a_vector_computed_apart() {
        assert_eq!(
            vote_key(&secret(), POLL_ID, CREATOR, VOTER).to_vec(),
            unhex(KEY)
        );
        assert_eq!(option_hash(OPTIONS[0]).to_vec(), unhex(MORNING_SHA256));
        assert_eq!(option_hash(OPTIONS[2]).to_vec(), unhex(EVENING_SHA256));
        let plaintext = decrypt_vote(
            &secret(),
            POLL_ID,
            CREATOR,
            VOTER,
            &iv(),
            &unhex(CIPHERTEXT),
        )
        .unwrap();
        let vote = PollVoteMessage::decode_from_slice(&plaintext).unwrap();
        assert_eq!(
            vote.selected_options,
            [unhex(MORNING_SHA256), unhex(EVENING_SHA256)]
        );
        // Any other creator, voter, poll or IV: the tag does not verify.
        let ciphertext = unhex(CIPHERTEXT);
        for (poll, creator, voter) in [
            (POLL_ID, VOTER, CREATOR),
            (POLL_ID, CREATOR, "5511999999998@s.whatsapp.net"),
            ("3EB0A1B2C3D4E5F6A7B8C8", CREATOR, VOTER),
        ] {
            assert_eq!(
                decrypt_vote(&secret(), poll, creator, voter, &iv(), &ciphertext),
                None
            );
        }
        assert_eq!(
            decrypt_vote(&secret(), POLL_ID, CREATOR, VOTER, &[0; 12], &ciphertext),
            None
        );
        assert_eq!(
            decrypt_vote(&secret(), POLL_ID, CREATOR, VOTER, &iv(), &ciphertext[..15]),
            None
        );
    }

    /// whatsapp-rust's own implementation (behind the `whatsapp` driver) agrees.
    #[cfg(feature = "whatsapp")]
    #[test]
    fn whatsapp_rust_encrypts_what_this_decrypts() {
        use whatsapp_rust::wacore::poll;
        assert_eq!(
            poll::derive_vote_encryption_key(&secret(), POLL_ID, CREATOR, VOTER).unwrap(),
            vote_key(&secret(), POLL_ID, CREATOR, VOTER)
        );
        let hashes = vec![option_hash(OPTIONS[1]).to_vec()];
        let (payload, iv) =
            poll::encrypt_poll_vote_with_secret(&hashes, &secret(), POLL_ID, CREATOR, VOTER)
                .unwrap();
        let plaintext = decrypt_vote(&secret(), POLL_ID, CREATOR, VOTER, &iv, &payload).unwrap();
        assert_eq!(
            PollVoteMessage::decode_from_slice(&plaintext)
                .unwrap()
                .selected_options,
            hashes
        );
    }

    /// A vote message as a client sends it, encrypted with the vector's key material.
    fn vote_message(poll_id: &str, payload: Vec<u8>, remote_jid: &str) -> Message {
        Message {
            poll_update_message: MessageField::some(PollUpdateMessage {
                poll_creation_message_key: MessageField::some(MessageKey {
                    remote_jid: Some(remote_jid.into()),
                    from_me: Some(false),
                    id: Some(poll_id.into()),
                    participant: None,
                }),
                vote: MessageField::some(PollEncValue {
                    enc_payload: Some(payload),
                    enc_iv: Some(iv().to_vec()),
                }),
                sender_timestamp_ms: Some(1_781_530_330_000),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// `selected` option indexes encrypted for (creator, voter) under the test secret:
    /// AES-256-GCM by the `aes-gcm` crate, under [`vote_key`] (checked above).
    fn encrypt(poll_id: &str, creator: &str, voter: &str, selected: &[usize]) -> Vec<u8> {
        let plaintext = PollVoteMessage {
            selected_options: selected
                .iter()
                .map(|&index| option_hash(OPTIONS[index]).to_vec())
                .collect(),
        }
        .encode_to_vec();
        Aes256Gcm::new(&vote_key(&secret(), poll_id, creator, voter).into())
            .encrypt(
                Nonce::from_slice(&iv()),
                Payload {
                    msg: &plaintext,
                    aad: &vote_aad(poll_id, voter),
                },
            )
            .unwrap()
    }

    struct Fixture {
        store: Arc<dyn Store>,
        device_id: String,
        dir: std::path::PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// A store whose device sent the poll (and received a message with another id).
    fn fixture() -> Fixture {
        let dir = std::env::temp_dir().join(format!("wuts-poll-vote-{}", uuid::Uuid::new_v4()));
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("wuts.db")).unwrap());
        let user = store
            .create_user("acme", "alice", Role::User, "lookup", b"hash")
            .unwrap();
        let poll = Message {
            poll_creation_message_v3: MessageField::some(
                waproto::whatsapp::message::PollCreationMessage {
                    name: Some("Which delivery slot works best for you?".into()),
                    options: OPTIONS
                        .iter()
                        .map(|name| poll_creation_message::Option {
                            option_name: Some((*name).into()),
                            option_hash: None,
                        })
                        .collect(),
                    selectable_options_count: Some(1),
                    ..Default::default()
                },
            ),
            message_context_info: MessageField::some(MessageContextInfo {
                message_secret: Some(secret().to_vec()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let bytes = poll.encode_to_vec();
        let timestamp = Utc.with_ymd_and_hms(2026, 6, 15, 14, 0, 0).unwrap();
        store
            .log_message(LogEntry {
                device_id: &user.default_device_id,
                message_id: POLL_ID,
                chat_jid: VOTER,
                sender_jid: Some(CREATOR),
                from_me: true,
                route: Some("/send/poll"),
                message: &bytes,
                timestamp,
            })
            .unwrap();
        // A poll someone else sent this device: its votes are not this device's to read.
        store
            .log_received(
                &LoggedMessage {
                    device_id: user.default_device_id.clone(),
                    message_id: "3EB0RECEIVEDPOLL".into(),
                    chat_jid: VOTER.into(),
                    sender_jid: Some(VOTER.into()),
                    from_me: false,
                    route: None,
                    message: bytes,
                    timestamp,
                },
                None,
            )
            .unwrap();
        store.flush_message_log().unwrap();
        Fixture {
            store,
            device_id: user.default_device_id,
            dir,
        }
    }

    fn inbound<'a>(fixture: &'a Fixture, message: &'a Message) -> Inbound<'a> {
        Inbound {
            message_id: "3EB0VOTE0001",
            chat_jid: VOTER,
            sender_jid: VOTER,
            sender_pn: None,
            sender_lid: None,
            own_jid: Some(CREATOR),
            is_from_me: false,
            push_name: Some("Maria"),
            timestamp: Utc.with_ymd_and_hms(2026, 6, 15, 14, 1, 0).unwrap(),
            device_id: &fixture.device_id,
            message,
        }
    }

    #[test]
    fn a_vote_for_a_poll_this_device_sent_names_the_options() {
        let fixture = fixture();
        let message = vote_message(POLL_ID, encrypt(POLL_ID, CREATOR, VOTER, &[2, 0]), CREATOR);
        let data = read(&*fixture.store, &inbound(&fixture, &message))
            .expect("a vote")
            .unwrap();
        assert_eq!(
            data,
            json!({
                "poll_message_id": POLL_ID,
                "voter": VOTER,
                "voter_lid": null,
                "selected_options": ["Morning (8h-12h)", "Evening (18h-21h)"],
                "message_id": "3EB0VOTE0001",
                "chat_jid": VOTER,
                "timestamp": "2026-06-15T14:01:00Z",
            })
        );
        // Taken back: no option.
        let message = vote_message(POLL_ID, encrypt(POLL_ID, CREATOR, VOTER, &[]), CREATOR);
        let data = read(&*fixture.store, &inbound(&fixture, &message))
            .unwrap()
            .unwrap();
        assert_eq!(data["selected_options"], json!([]));
    }

    #[test]
    fn a_lid_vote_decrypts_under_the_lids_the_key_and_sender_name() {
        let fixture = fixture();
        let own_lid = "100000000000001@lid";
        let voter_lid = "200000000000002@lid";
        let message = vote_message(POLL_ID, encrypt(POLL_ID, own_lid, voter_lid, &[1]), own_lid);
        let data = read(
            &*fixture.store,
            &Inbound {
                sender_jid: "200000000000002:3@lid",
                chat_jid: voter_lid,
                sender_pn: Some(VOTER),
                ..inbound(&fixture, &message)
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(data["selected_options"], json!(["Afternoon (12h-18h)"]));
        assert_eq!(data["voter"], VOTER);
        assert_eq!(data["voter_lid"], voter_lid);
    }

    #[test]
    fn a_vote_from_this_accounts_phone_is_read_as_its_own() {
        let fixture = fixture();
        let message = vote_message(POLL_ID, encrypt(POLL_ID, CREATOR, CREATOR, &[0]), VOTER);
        let data = read(
            &*fixture.store,
            &Inbound {
                sender_jid: CREATOR,
                is_from_me: true,
                ..inbound(&fixture, &message)
            },
        )
        .unwrap()
        .unwrap();
        assert_eq!(data["voter"], CREATOR);
        assert_eq!(data["selected_options"], json!(["Morning (8h-12h)"]));
    }

    #[test]
    fn votes_that_cannot_be_read_say_why_and_other_messages_are_none() {
        let fixture = fixture();
        let unreadable = |message: &Message| {
            read(&*fixture.store, &inbound(&fixture, message))
                .expect("a vote")
                .unwrap_err()
        };
        let unknown = "3EB0NOSUCHPOLL";
        assert!(matches!(
            unreadable(&vote_message(
                unknown,
                encrypt(unknown, CREATOR, VOTER, &[0]),
                CREATOR
            )),
            Unreadable::UnknownPoll(_)
        ));
        let received = "3EB0RECEIVEDPOLL";
        assert!(matches!(
            unreadable(&vote_message(
                received,
                encrypt(received, VOTER, VOTER, &[0]),
                VOTER
            )),
            Unreadable::UnknownPoll(_)
        ));
        // Encrypted for another voter: no pair opens it.
        let wrong = encrypt(POLL_ID, CREATOR, "5511977776666@s.whatsapp.net", &[0]);
        assert!(matches!(
            unreadable(&vote_message(POLL_ID, wrong, CREATOR)),
            Unreadable::DoesNotDecrypt(1)
        ));
        let mut truncated = vote_message(POLL_ID, vec![1, 2, 3], CREATOR);
        assert!(matches!(
            unreadable(&truncated),
            Unreadable::DoesNotDecrypt(_)
        ));
        if let Some(update) = truncated.poll_update_message.as_option_mut() {
            update.vote = MessageField::none();
        }
        assert!(matches!(unreadable(&truncated), Unreadable::NoPayload));
        let text = Message {
            conversation: Some("hi".into()),
            ..Default::default()
        };
        assert!(read(&*fixture.store, &inbound(&fixture, &text)).is_none());
    }
}
