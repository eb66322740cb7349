//! Tokens at rest and in memory: how a token is hashed for the database, and the cache
//! of verified principals that keeps the database off the hot path.
//!
//! Tokens are random UUID v4s (122 bits), so a fast hash is enough at rest: SHA-256
//! cannot be reversed and there is nothing to brute-force that a slow KDF would protect.
//! The first 8 bytes of the hash index the row; the full hash is then compared in
//! constant time.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::store::{Principal, Store, StoreResult};

/// A token's stored forms: the lookup key and the full hash.
pub struct HashedToken {
    pub lookup: String,
    pub hash: Vec<u8>,
}

pub fn hash_token(token: &str) -> HashedToken {
    let hash = digest(token);
    HashedToken {
        lookup: hex::encode(lookup_prefix(&hash)),
        hash: hash.to_vec(),
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The hash's first bytes, which index its row (hex-encoded in the database).
fn lookup_prefix(hash: &[u8; 32]) -> [u8; 8] {
    let mut prefix = [0; 8];
    prefix.copy_from_slice(&hash[..8]);
    prefix
}

/// A new token: a UUID v4.
pub fn new_token() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A new token and its stored forms, for a user created or a token rotated.
pub fn mint() -> (String, HashedToken) {
    let token = new_token();
    let hashed = hash_token(&token);
    (token, hashed)
}

/// Whether a configured secret (the master or the metrics token) is `given`, in
/// constant time: both are hashed first, so the comparison takes as long whatever
/// their lengths.
pub fn same_secret(expected: &str, given: &str) -> bool {
    bool::from(digest(expected).ct_eq(&digest(given)))
}

/// What [`TokenCache::cached`] knows.
pub enum Cached {
    Known(Arc<Principal>),
    /// No user has this token (as of the last lookup).
    Unknown,
    /// Not cached: [`TokenCache::verify`] asks the store.
    Miss,
}

/// A credential as the cache keeps it: its principal is shared, so that a verified
/// request takes a reference, not a copy of the tenant and user ids.
struct CachedCredential {
    token_hash: Vec<u8>,
    principal: Arc<Principal>,
}

/// The credentials under one lookup prefix, and when the store was asked for them.
struct CachedEntry {
    credentials: Vec<CachedCredential>,
    fetched: Instant,
}

impl CachedEntry {
    fn fresh(&self) -> Option<&[CachedCredential]> {
        (self.fetched.elapsed() < KNOWN_TTL).then_some(self.credentials.as_slice())
    }
}

/// How long a verified token is trusted without asking the store again: what the CLI
/// changes on a running server's database (a deactivation, a deletion, a rotation)
/// reaches its requests within this. The HTTP routes clear the cache at once.
pub const KNOWN_TTL: Duration = Duration::from_secs(60);
/// How long a token that matched no user is refused without a query: a client that
/// keeps sending a stale or mistyped token reaches the database once a minute. A token
/// that is created later was never sent before (tokens are random), so this never
/// refuses a new user's token.
const UNKNOWN_TTL: Duration = Duration::from_secs(60);
/// The most unknown tokens remembered; beyond it the expired ones go, then all.
const UNKNOWN_MAX: usize = 100_000;

/// Verified principals by lookup prefix, filled on first use of each token. Keyed by
/// the prefix's bytes, so that a request looks its token up without building a key.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<[u8; 8], CachedEntry>>,
    /// Full hashes of tokens that matched no user, and when they were looked up.
    unknown: Mutex<HashMap<[u8; 32], Instant>>,
    /// Lookups that reached the database, for tests and metrics.
    candidate_queries: AtomicU64,
}

impl TokenCache {
    /// The principal owning `token`, if any.
    pub fn verify(&self, store: &dyn Store, token: &str) -> StoreResult<Option<Arc<Principal>>> {
        let hash = digest(token);
        let prefix = lookup_prefix(&hash);
        if let Some(known) = self.read().get(&prefix).and_then(CachedEntry::fresh) {
            return Ok(matching(known, &hash));
        }
        if self.recently_unknown(&hash) {
            return Ok(None);
        }
        self.candidate_queries.fetch_add(1, Ordering::Relaxed);
        let credentials: Vec<CachedCredential> = store
            .token_candidates(&hex::encode(prefix))?
            .into_iter()
            .map(|candidate| CachedCredential {
                token_hash: candidate.token_hash,
                principal: Arc::new(candidate.principal),
            })
            .collect();
        let found = matching(&credentials, &hash);
        if found.is_none() {
            self.remember_unknown(hash);
        }
        let mut entries = self
            .entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner());
        if credentials.is_empty() {
            entries.remove(&prefix);
        } else {
            entries.insert(
                prefix,
                CachedEntry {
                    credentials,
                    fetched: Instant::now(),
                },
            );
        }
        Ok(found)
    }

    fn recently_unknown(&self, hash: &[u8; 32]) -> bool {
        self.unknown()
            .get(hash)
            .is_some_and(|seen| seen.elapsed() < UNKNOWN_TTL)
    }

    fn remember_unknown(&self, hash: [u8; 32]) {
        let mut unknown = self.unknown();
        if unknown.len() >= UNKNOWN_MAX {
            unknown.retain(|_, seen| seen.elapsed() < UNKNOWN_TTL);
            if unknown.len() >= UNKNOWN_MAX {
                unknown.clear();
            }
        }
        unknown.insert(hash, Instant::now());
    }

    fn unknown(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Instant>> {
        self.unknown
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Forgets what the cache knows of these users (after a token rotation, a role or
    /// `active` change, a deletion), and every token remembered as unknown (a
    /// reactivated user's token was one): their next request asks the store.
    pub fn forget_users(&self, user_ids: &[&str]) {
        self.entries
            .write()
            .unwrap_or_else(|poison| poison.into_inner())
            .retain(|_, entry| {
                !entry
                    .credentials
                    .iter()
                    .any(|credential| user_ids.contains(&credential.principal.user_id.as_str()))
            });
        self.unknown().clear();
    }

    /// Token lookups that reached the database so far.
    pub fn queries(&self) -> u64 {
        self.candidate_queries.load(Ordering::Relaxed)
    }

    /// What the cache alone can tell about `token` (the caller then answers without
    /// blocking): its principal, that it matched no user a moment ago, or nothing.
    pub fn cached(&self, token: &str) -> Cached {
        let hash = digest(token);
        if let Some(known) = self
            .read()
            .get(&lookup_prefix(&hash))
            .and_then(CachedEntry::fresh)
        {
            return match matching(known, &hash) {
                Some(principal) => Cached::Known(principal),
                None => Cached::Unknown,
            };
        }
        if self.recently_unknown(&hash) {
            Cached::Unknown
        } else {
            Cached::Miss
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 8], CachedEntry>> {
        self.entries
            .read()
            .unwrap_or_else(|poison| poison.into_inner())
    }
}

fn matching(credentials: &[CachedCredential], hash: &[u8]) -> Option<Arc<Principal>> {
    // Compare against every candidate so the time does not depend on which one matches.
    let mut found = None;
    for credential in credentials {
        if bool::from(credential.token_hash.ct_eq(hash)) {
            found = Some(Arc::clone(&credential.principal));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_that_matched_no_user_is_refused_without_a_query_for_a_while() {
        let dir = std::env::temp_dir().join(format!("wuts-tokens-{}", uuid::Uuid::new_v4()));
        let store = crate::store::SqliteStore::open(&dir.join("wuts.db")).unwrap();
        let alice = new_token();
        let hashed = hash_token(&alice);
        store
            .create_user(
                "acme",
                "alice",
                crate::store::Role::User,
                &hashed.lookup,
                &hashed.hash,
            )
            .unwrap();
        let cache = TokenCache::default();
        assert!(cache.verify(&store, &alice).unwrap().is_some());
        let stale: Vec<String> = (0..10).map(|_| new_token()).collect();
        for _ in 0..2_000 {
            for token in &stale {
                assert!(cache.verify(&store, token).unwrap().is_none());
            }
        }
        assert_eq!(
            cache.queries(),
            11,
            "alice's token and each stale one reached the database once"
        );
        // A user created meanwhile (by the CLI, say) is found at once.
        let bob = new_token();
        let hashed = hash_token(&bob);
        store
            .create_user(
                "acme",
                "bob",
                crate::store::Role::User,
                &hashed.lookup,
                &hashed.hash,
            )
            .unwrap();
        assert!(cache.verify(&store, &bob).unwrap().is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn hashes_are_stable_and_lookup_is_their_prefix() {
        let hashed = hash_token("6f1c1c9e-8d43-4c3e-9b0a-2f6d3c1b7a55");
        assert_eq!(hashed.hash.len(), 32);
        assert_eq!(hashed.lookup, hex::encode(&hashed.hash[..8]));
        assert_eq!(
            hash_token("6f1c1c9e-8d43-4c3e-9b0a-2f6d3c1b7a55").hash,
            hashed.hash
        );
    }

    #[test]
    fn only_the_exact_hash_matches() {
        let principal = Principal {
            tenant_id: "t".into(),
            user_id: "u".into(),
            role: crate::store::Role::User,
        };
        let credentials = vec![CachedCredential {
            token_hash: hash_token("a").hash,
            principal: Arc::new(principal.clone()),
        }];
        assert_eq!(
            matching(&credentials, &hash_token("a").hash).as_deref(),
            Some(&principal)
        );
        assert_eq!(matching(&credentials, &hash_token("b").hash), None);
    }
}
