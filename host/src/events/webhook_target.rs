//! Whether a webhook URL may be called: the host's URL policy (host/src/fetch.rs,
//! `[fetch] allow_private_urls`) applied to webhook targets, when one is configured and
//! again before each delivery, since a name may come to resolve elsewhere.

use std::net::SocketAddr;
use std::time::Duration;

use crate::fetch::{self, is_public};

/// How long a name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not an http(s) URL with a host.
    #[error("{0}")]
    Invalid(String),
    /// The policy refuses where it points (`URL_FORBIDDEN`).
    #[error("{0}")]
    Forbidden(String),
    /// The name did not resolve (now): a delivery tries again later.
    #[error("{0}")]
    Unresolved(String),
}

/// Scheme and host checks that need no DNS (host/src/fetch.rs's `check_url`): what
/// `POST /webhook` can refuse at once.
pub fn check_literal(url: &str, allow_private: bool) -> Result<url::Url, TargetError> {
    let parsed = url::Url::parse(url)
        .map_err(|error| TargetError::Invalid(format!("not a valid URL: {error}")))?;
    match fetch::check_url(&parsed, allow_private) {
        Ok(()) => Ok(parsed),
        Err(error) if error.code == fetch::codes::URL_FORBIDDEN => {
            Err(TargetError::Forbidden(error.message))
        }
        Err(error) => Err(TargetError::Invalid(error.message)),
    }
}

/// [`check_literal`], then the name resolved: refused when it resolves only to
/// non-public addresses.
pub async fn check(url: &str, allow_private: bool) -> Result<url::Url, TargetError> {
    let parsed = check_literal(url, allow_private)?;
    if allow_private {
        return Ok(parsed);
    }
    let Some(url::Host::Domain(name)) = parsed.host() else {
        return Ok(parsed);
    };
    let port = parsed.port_or_known_default().unwrap_or(443);
    let resolved = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)))
        .await
        .map_err(|_| TargetError::Unresolved(format!("{name} did not resolve in time")))?
        .map_err(|error| TargetError::Unresolved(format!("{name} did not resolve: {error}")))?
        .collect::<Vec<SocketAddr>>();
    if resolved.iter().any(|address| is_public(address.ip())) {
        Ok(parsed)
    } else {
        Err(TargetError::Forbidden(format!(
            "{name} resolves only to non-public addresses, which are refused"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fetch_policy_applies_to_webhook_urls() {
        let forbidden = |url| matches!(check_literal(url, false), Err(TargetError::Forbidden(_)));
        let invalid = |url| matches!(check_literal(url, false), Err(TargetError::Invalid(_)));
        assert!(forbidden("http://127.0.0.1:9000/hook"));
        assert!(forbidden("http://localhost/hook"));
        assert!(forbidden("http://[::1]/hook"));
        assert!(forbidden("http://169.254.169.254/latest"));
        assert!(invalid("ftp://example.com/hook"));
        assert!(invalid("not a url"));
        assert!(check_literal("https://example.com/hook", false).is_ok());
        assert!(check_literal("http://127.0.0.1:9000/hook", true).is_ok());
    }

    #[tokio::test]
    async fn a_name_is_checked_where_it_resolves() {
        assert!(matches!(
            check("http://localhost:1/hook", false).await,
            Err(TargetError::Forbidden(_))
        ));
        assert!(check("http://localhost:1/hook", true).await.is_ok());
    }
}
