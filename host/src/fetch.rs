//! The host's URL fetching, offered to plugins: http/https only, a total timeout,
//! bounded redirects, a size cap, and no loopback/private/link-local targets unless the
//! operator allows them. Names are resolved by our own resolver so the address check
//! applies to what is actually connected to, redirects included.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use wuts_plugin_api::{FetchedUrl, PluginError};

use crate::config::FetchSettings;

pub struct Fetcher {
    client: reqwest::Client,
    allow_private: bool,
    max_bytes: u64,
}

/// Error codes of failed fetches (all 400: the URL is the caller's input).
pub mod codes {
    pub const URL_INVALID: &str = "URL_INVALID";
    pub const URL_FORBIDDEN: &str = "URL_FORBIDDEN";
    pub const URL_TIMEOUT: &str = "URL_TIMEOUT";
    pub const URL_HTTP_ERROR: &str = "URL_HTTP_ERROR";
    pub const URL_TOO_LARGE: &str = "URL_TOO_LARGE";
    pub const URL_UNREACHABLE: &str = "URL_UNREACHABLE";
}

fn refused(code: &str, message: impl Into<String>) -> PluginError {
    PluginError::bad_request(code, message)
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Fetcher, reqwest::Error> {
        let allow_private = settings.allow_private_urls;
        let max_redirects = settings.max_redirects;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max_redirects {
                return attempt.error(format!("more than {max_redirects} redirects"));
            }
            match check_url(attempt.url(), allow_private) {
                Ok(()) => attempt.follow(),
                Err(error) => attempt.error(error.message),
            }
        });
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_millis(settings.timeout_ms))
            .connect_timeout(Duration::from_millis(settings.timeout_ms.min(10_000)))
            .redirect(redirect)
            .user_agent(concat!("wuts/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        Ok(Fetcher {
            client: builder.build()?,
            allow_private,
            max_bytes: settings.max_bytes,
        })
    }

    /// Fetches `url`, refusing bodies over `max_bytes` (and over the host's own cap).
    pub async fn fetch(&self, url: &str, max_bytes: u64) -> Result<FetchedUrl, PluginError> {
        let started = Instant::now();
        let parsed = reqwest::Url::parse(url)
            .map_err(|error| refused(codes::URL_INVALID, format!("not a valid URL: {error}")))?;
        check_url(&parsed, self.allow_private)?;
        let cap = max_bytes.min(self.max_bytes);
        let response = self.client.get(parsed).send().await.map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(refused(
                codes::URL_HTTP_ERROR,
                format!("the server answered HTTP {status}"),
            ));
        }
        if response.content_length().is_some_and(|length| length > cap) {
            return Err(too_large(cap));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string);
        let mut bytes = Vec::new();
        let mut stream = response.bytes_stream();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(describe)?;
            if bytes.len() as u64 + chunk.len() as u64 > cap {
                return Err(too_large(cap));
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(FetchedUrl {
            bytes,
            content_type,
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

fn too_large(cap: u64) -> PluginError {
    refused(
        codes::URL_TOO_LARGE,
        format!("the download is larger than the {cap}-byte limit"),
    )
}

fn describe(error: reqwest::Error) -> PluginError {
    if error.is_timeout() {
        return refused(codes::URL_TIMEOUT, "the download timed out");
    }
    if error.is_redirect() {
        return refused(
            codes::URL_FORBIDDEN,
            format!("redirect refused: {}", innermost(&error)),
        );
    }
    let reason = innermost(&error);
    if reason.contains("non-public address") {
        return refused(codes::URL_FORBIDDEN, reason);
    }
    refused(
        codes::URL_UNREACHABLE,
        format!("could not download: {reason}"),
    )
}

/// The deepest cause's text: reqwest's own message names only the layer.
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Scheme and literal-address checks that do not need DNS: `URL_INVALID` or
/// `URL_FORBIDDEN` (also applied to webhook targets, host/src/events/webhook_target.rs).
pub fn check_url(url: &reqwest::Url, allow_private: bool) -> Result<(), PluginError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(refused(
            codes::URL_INVALID,
            format!("scheme {:?} refused: http or https only", url.scheme()),
        ));
    }
    let host = url
        .host()
        .ok_or_else(|| refused(codes::URL_INVALID, "the URL has no host"))?;
    if allow_private {
        return Ok(());
    }
    let literal = match host {
        url::Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
        url::Host::Domain(name)
            if name.eq_ignore_ascii_case("localhost") || name.ends_with(".localhost") =>
        {
            return Err(refused(
                codes::URL_FORBIDDEN,
                "loopback addresses are refused",
            ));
        }
        url::Host::Domain(_) => None,
    };
    match literal {
        Some(ip) if !is_public(ip) => Err(refused(
            codes::URL_FORBIDDEN,
            format!("{ip} is a non-public address and is refused"),
        )),
        _ => Ok(()),
    }
}

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, ..] = ip.octets();
            !(ip.is_private()
                || ip.is_loopback()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || ip.is_documentation()
                || ip.is_multicast()
                || a == 0
                || a >= 240
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19))) // benchmarking
        }
        IpAddr::V6(ip) => {
            if let Some(mapped) = ip.to_ipv4_mapped() {
                return is_public(IpAddr::V4(mapped));
            }
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                || ip.segments()[0] == 0x2001 && ip.segments()[1] == 0x0db8)
        }
    }
}

/// Resolves names and keeps only public addresses (the fetcher's and the webhook
/// deliverer's resolver when private addresses are refused).
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let resolved: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|address| is_public(address.ip()))
                .collect();
            if public.is_empty() {
                let error: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to non-public addresses, which are refused")
                        .into();
                return Err(error);
            }
            let addresses: Addrs = Box::new(public.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for address in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in ["1.1.1.1", "8.8.8.8", "2606:4700::1111"] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    #[test]
    fn urls_are_checked_before_any_connection() {
        let check = |url: &str, allow| check_url(&reqwest::Url::parse(url).unwrap(), allow);
        assert_eq!(
            check("ftp://example.com/a", false).unwrap_err().code,
            codes::URL_INVALID
        );
        assert_eq!(
            check("http://127.0.0.1/a", false).unwrap_err().code,
            codes::URL_FORBIDDEN
        );
        assert_eq!(
            check("http://localhost:8080/a", false).unwrap_err().code,
            codes::URL_FORBIDDEN
        );
        assert_eq!(
            check("http://[::1]/a", false).unwrap_err().code,
            codes::URL_FORBIDDEN
        );
        assert!(check("http://127.0.0.1/a", true).is_ok());
        assert!(check("https://example.com/a.mp3", false).is_ok());
    }
}
