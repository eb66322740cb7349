//! Bearer-token authentication.
//!
//! Tokens are random UUID v4s (122 bits), so a fast hash is enough at rest: SHA-256
//! cannot be reversed and there is nothing to brute-force that a slow KDF would protect.
//! The first 8 bytes of the hash index the row; the full hash is then compared in
//! constant time. Verified principals are cached in memory so the hot path never
//! touches the database.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use futures_util::future::{Either, Ready, ready};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use wuts_plugin_api::Envelope;

use crate::error::ApiError;
use crate::state::AppState;
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

/// The token in an `Authorization` header value: `Bearer <t>` (any case) or a bare token.
pub fn token_from_header(value: &str) -> Option<&str> {
    let value = value.trim();
    let token = match value.split_once(char::is_whitespace) {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None => value,
    };
    (!token.is_empty()).then_some(token)
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

/// The authenticated caller, extracted from the `Authorization` header. A failure
/// renders in the envelope of the route being served.
#[derive(Debug, Clone)]
pub struct Caller(pub Arc<Principal>);

/// A cached token is settled at once; only a cache miss needs a future of its own.
type CallerFuture = Either<
    Ready<Result<Caller, ApiError>>,
    Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>,
>;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = CallerFuture;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let envelope = request
            .app_data::<Envelope>()
            .copied()
            .unwrap_or(Envelope::Standard);
        let unauthorized = move || ApiError::unauthorized().in_envelope(envelope);
        let state = request.app_data::<web::Data<AppState>>();
        let token = request
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(token_from_header);
        let (Some(state), Some(token)) = (state, token) else {
            return Either::Left(ready(Err(unauthorized())));
        };
        if let Some(principal) = state.tokens.verify_cached(token) {
            return Either::Left(ready(Ok(Caller(principal))));
        }
        let state = state.clone();
        let token = token.to_string();
        Either::Right(Box::pin(async move {
            let store = Arc::clone(&state.store);
            let cache = Arc::clone(&state.tokens);
            let verified =
                tokio::task::spawn_blocking(move || cache.verify(store.as_ref(), &token))
                    .await
                    .map_err(|_| ApiError::internal("authentication failed").in_envelope(envelope))?
                    .map_err(|error| {
                        tracing::error!(%error, "token lookup failed");
                        ApiError::internal("authentication failed").in_envelope(envelope)
                    })?;
            verified.map(Caller).ok_or_else(unauthorized)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_header_takes_bearer_in_any_case_or_a_bare_token() {
        assert_eq!(token_from_header("Bearer abc"), Some("abc"));
        assert_eq!(token_from_header("bearer abc"), Some("abc"));
        assert_eq!(token_from_header("BEARER   abc "), Some("abc"));
        assert_eq!(token_from_header("abc"), Some("abc"));
        assert_eq!(token_from_header("Basic abc"), None);
        assert_eq!(token_from_header(""), None);
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
