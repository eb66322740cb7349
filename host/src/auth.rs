//! Bearer-token authentication: the [`Caller`] extractor. How tokens are hashed and
//! cached is [`crate::tokens`]; verified principals are cached in memory so the hot
//! path never touches the database.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpMessage as _, HttpRequest, dev::Payload, web};
use futures_util::future::{Either, Ready, ready};
use wuts_plugin_api::Envelope;

use crate::access::Authenticated;
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::Principal;
use crate::tokens::Cached;

// `wuts users create` mints and hashes its tokens by these paths.
pub use crate::tokens::{HashedToken, hash_token, mint, new_token, same_secret};

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

/// The token of a request's `Authorization` header (see [`token_from_header`]).
pub fn bearer_token(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(token_from_header)
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
        let token = bearer_token(request);
        let (Some(state), Some(token)) = (state, token) else {
            return Either::Left(ready(Err(unauthorized())));
        };
        let limits = &state.rate_limits;
        let limited = move |error: ApiError| Either::Left(ready(Err(error.in_envelope(envelope))));
        match state.tokens.cached(token) {
            Cached::Known(principal) => {
                if let Err(error) = limits.user(&principal.user_id) {
                    return limited(error);
                }
                tag(request, &principal);
                return Either::Left(ready(Ok(Caller(principal))));
            }
            // A token not known to be good spends the client's bucket before it is
            // checked (crate::rate_limits).
            Cached::Unknown => {
                return match limits.unproven_token(request) {
                    Ok(()) => Either::Left(ready(Err(unauthorized()))),
                    Err(error) => limited(error),
                };
            }
            Cached::Miss => {
                if let Err(error) = limits.unproven_token(request) {
                    return limited(error);
                }
            }
        }
        let state = state.clone();
        let token = token.to_string();
        let request = request.clone();
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
            let principal = verified.ok_or_else(unauthorized)?;
            state
                .rate_limits
                .user(&principal.user_id)
                .map_err(|error| error.in_envelope(envelope))?;
            tag(&request, &principal);
            Ok(Caller(principal))
        }))
    }
}

/// Notes who made the request, for its access line (`crate::access`).
fn tag(request: &HttpRequest, principal: &Arc<Principal>) {
    request
        .extensions_mut()
        .insert(Authenticated(Arc::clone(principal)));
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
}
