//! Tokens at rest and in memory: how a token is hashed for the database, and the cache
//! of verified principals that keeps the database off the hot path.
//!
//! Tokens are random UUID v4s (122 bits), so a fast hash is enough at rest: SHA-256
//! cannot be reversed and there is nothing to brute-force that a slow KDF would protect.
//! The first 8 bytes of the hash index the row; the full hash is then compared in
//! constant time.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

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

/// A credential as the cache keeps it: its principal is shared, so that a verified
/// request takes a reference, not a copy of the tenant and user ids.
struct CachedCredential {
    token_hash: Vec<u8>,
    principal: Arc<Principal>,
}

/// Verified principals by lookup prefix, filled on first use of each token. Keyed by
/// the prefix's bytes, so that a request looks its token up without building a key.
#[derive(Default)]
pub struct TokenCache {
    entries: RwLock<HashMap<[u8; 8], Vec<CachedCredential>>>,
}

impl TokenCache {
    /// The principal owning `token`, if any.
    pub fn verify(&self, store: &dyn Store, token: &str) -> StoreResult<Option<Arc<Principal>>> {
        let hash = digest(token);
        let prefix = lookup_prefix(&hash);
        if let Some(known) = self.read().get(&prefix) {
            return Ok(matching(known, &hash));
        }
        let credentials: Vec<CachedCredential> = store
            .token_candidates(&hex::encode(prefix))?
            .into_iter()
            .map(|candidate| CachedCredential {
                token_hash: candidate.token_hash,
                principal: Arc::new(candidate.principal),
            })
            .collect();
        let found = matching(&credentials, &hash);
        if !credentials.is_empty() {
            self.entries
                .write()
                .unwrap_or_else(|poison| poison.into_inner())
                .insert(prefix, credentials);
        }
        Ok(found)
    }

    /// Whether `token` is already cached (the caller can then verify without blocking).
    pub fn verify_cached(&self, token: &str) -> Option<Arc<Principal>> {
        let hash = digest(token);
        self.read()
            .get(&lookup_prefix(&hash))
            .and_then(|known| matching(known, &hash))
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<[u8; 8], Vec<CachedCredential>>> {
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
