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
    pub const URL_TOO_MANY_REDIRECTS: &str = "URL_TOO_MANY_REDIRECTS";
}

/// The redirect policy's refusal when a URL redirects more than `[fetch] max_redirects`
/// times: its own type, so that it gets its own code.
#[derive(Debug)]
struct TooManyRedirects(usize);

impl std::fmt::Display for TooManyRedirects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "more than {} redirects", self.0)
    }
}

impl std::error::Error for TooManyRedirects {}

fn refused(code: &str, message: impl Into<String>) -> PluginError {
    PluginError::bad_request(code, message)
}

impl Fetcher {
    pub fn new(settings: &FetchSettings) -> Result<Fetcher, reqwest::Error> {
        Fetcher::build(settings, &[])
    }

    /// [`Fetcher::new`], with names pinned to addresses (`pinned`): the tests' stand-in for
    /// a public name, since every server they start is on loopback.
    fn build(
        settings: &FetchSettings,
        pinned: &[(&str, SocketAddr)],
    ) -> Result<Fetcher, reqwest::Error> {
        let allow_private = settings.allow_private_urls;
        let max_redirects = settings.max_redirects;
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= max_redirects {
                return attempt.error(TooManyRedirects(max_redirects));
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
            // A proxy from the environment (HTTP_PROXY, ...) would resolve the name
            // itself, past the address policy below: fetches go direct.
            .no_proxy()
            .user_agent(concat!("wuts/", env!("CARGO_PKG_VERSION")));
        if !allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnlyResolver));
        }
        for (name, address) in pinned {
            builder = builder.resolve(name, *address);
        }
        Ok(Fetcher {
            client: builder.build()?,
            allow_private,
            max_bytes: settings.max_bytes,
        })
    }

    /// Fetches `url`, refusing bodies over `max_bytes` (and over the host's own cap),
    /// within `timeout` when given, else `[fetch] timeout_ms`.
    pub async fn fetch(
        &self,
        url: &str,
        max_bytes: u64,
        timeout: Option<Duration>,
    ) -> Result<FetchedUrl, PluginError> {
        let started = Instant::now();
        let parsed = reqwest::Url::parse(url)
            .map_err(|error| refused(codes::URL_INVALID, format!("not a valid URL: {error}")))?;
        check_url(&parsed, self.allow_private)?;
        let cap = max_bytes.min(self.max_bytes);
        let mut request = self.client.get(parsed);
        if let Some(timeout) = timeout {
            request = request.timeout(timeout);
        }
        let response = request.send().await.map_err(describe)?;
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
        if let Some(limit) = find_source::<TooManyRedirects>(&error) {
            return refused(
                codes::URL_TOO_MANY_REDIRECTS,
                format!("the URL made {limit}"),
            );
        }
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

/// The first cause of type `T` in `error`'s chain.
fn find_source<'a, T: std::error::Error + 'static>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(error);
    while let Some(cause) = current {
        if let Some(found) = cause.downcast_ref::<T>() {
            return Some(found);
        }
        current = cause.source();
    }
    None
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
        url::Host::Domain(name) if is_localhost(name) => {
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

/// `localhost` and its subdomains (RFC 6761), with or without the root's trailing dot.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
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
            let segments = ip.segments();
            !(ip.is_loopback()
                || ip.is_unspecified()
                || ip.is_multicast()
                || ip.is_unique_local()
                || ip.is_unicast_link_local()
                // Documentation (2001:db8::/32).
                || segments[0] == 0x2001 && segments[1] == 0x0db8
                // Site-local (fec0::/10), deprecated but still routed by some stacks.
                || segments[0] & 0xffc0 == 0xfec0
                // Addresses that carry an IPv4 address a gateway or the host's own stack
                // turns into an IPv4 connection, to any IPv4 address: IPv4-compatible
                // (::a.b.c.d), NAT64 (64:ff9b::/96 and the local-use 64:ff9b:1::/48),
                // 6to4 (2002::/16) and Teredo (2001::/32).
                || segments[..6].iter().all(|segment| *segment == 0)
                || segments[0] == 0x0064 && segments[1] == 0xff9b
                || segments[0] == 0x2002
                || segments[0] == 0x2001 && segments[1] == 0)
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
            // Site-local, IPv4-compatible, NAT64, 6to4 and Teredo.
            "fec0::1",
            "feff::1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "2001:0:4136:e378::1",
        ] {
            assert!(!is_public(address.parse().unwrap()), "{address}");
        }
        for address in [
            "1.1.1.1",
            "8.8.8.8",
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "2a00:1450:4001::200e",
        ] {
            assert!(is_public(address.parse().unwrap()), "{address}");
        }
    }

    /// The resolver refuses a name that resolves only to loopback, wherever the name
    /// comes from (the first URL, a redirect, a webhook); a trailing dot does not pass
    /// the literal check.
    #[tokio::test]
    async fn names_that_resolve_only_to_private_addresses_are_refused() {
        let resolved = PublicOnlyResolver
            .resolve("localhost".parse().unwrap())
            .await;
        let error = resolved.err().expect("refused").to_string();
        assert!(error.contains("non-public"), "{error}");
        let check = |url: &str| check_url(&reqwest::Url::parse(url).unwrap(), false);
        assert_eq!(
            check("http://localhost./a").unwrap_err().code,
            codes::URL_FORBIDDEN
        );
        assert_eq!(
            check("http://a.localhost./a").unwrap_err().code,
            codes::URL_FORBIDDEN
        );
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
        assert_eq!(
            check("http://[64:ff9b::7f00:1]/a", false).unwrap_err().code,
            codes::URL_FORBIDDEN
        );
        assert!(check("http://127.0.0.1/a", true).is_ok());
        assert!(check("https://example.com/a.mp3", false).is_ok());
    }

    /// A redirect is held to the policy like the first URL: a name that passes (pinned to
    /// a local server, standing in for a public one) and redirects to loopback, literally
    /// or by `localhost`, is refused; the name's own page is fetched.
    #[tokio::test]
    async fn a_redirect_to_a_private_address_is_refused() {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(3) {
                let Ok(mut stream) = stream else { continue };
                let mut head = [0u8; 1024];
                let read = stream.read(&mut head).unwrap_or(0);
                let head = String::from_utf8_lossy(&head[..read]).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                let response = match path.as_str() {
                    "/to-loopback" => format!(
                        "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:{port}/page\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                    "/to-localhost" => format!(
                        "HTTP/1.1 302 Found\r\nLocation: http://localhost:{port}/page\r\n\
                         Content-Length: 0\r\nConnection: close\r\n\r\n"
                    ),
                    _ => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                        .to_owned(),
                };
                let _ = stream.write_all(response.as_bytes());
            }
        });
        let settings = FetchSettings {
            timeout_ms: 5_000,
            max_bytes: 1024,
            max_redirects: 5,
            allow_private_urls: false,
            route_timeout_ms: Default::default(),
        };
        let pinned = SocketAddr::from(([127, 0, 0, 1], port));
        let fetcher = Fetcher::build(&settings, &[("public.test", pinned)]).unwrap();
        for path in ["/to-loopback", "/to-localhost"] {
            let error = fetcher
                .fetch(&format!("http://public.test:{port}{path}"), 1024, None)
                .await
                .err()
                .unwrap_or_else(|| panic!("{path} was followed"));
            assert_eq!(
                error.code,
                codes::URL_FORBIDDEN,
                "{path}: {}",
                error.message
            );
            assert!(
                error.message.starts_with("redirect refused"),
                "{path}: {}",
                error.message
            );
        }
        let page = fetcher
            .fetch(&format!("http://public.test:{port}/page"), 1024, None)
            .await
            .expect("the pinned name itself is fetched");
        assert_eq!(page.bytes, b"ok");
    }

    #[tokio::test]
    async fn a_route_deadline_replaces_the_default_one() {
        use std::io::{Read as _, Write as _};
        // Answers every request after 600 ms: past the default deadline (200 ms), within
        // the route's (5 s).
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let Ok(mut stream) = stream else { continue };
                let mut head = [0u8; 1024];
                let _ = stream.read(&mut head);
                std::thread::sleep(Duration::from_millis(600));
                let _ = stream.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\nConnection: close\r\n\r\nslow",
                );
            }
        });
        let settings = FetchSettings {
            timeout_ms: 200,
            max_bytes: 1024,
            max_redirects: 0,
            allow_private_urls: true,
            route_timeout_ms: [("/send/video".to_string(), 5_000)].into(),
        };
        let fetcher = Fetcher::new(&settings).unwrap();
        let url = format!("http://127.0.0.1:{port}/clip");
        let error = fetcher.fetch(&url, 1024, None).await.unwrap_err();
        assert_eq!(error.code, codes::URL_TIMEOUT, "{}", error.message);
        assert_eq!(settings.timeout_for("/send/image"), None);
        let slow = fetcher
            .fetch(&url, 1024, settings.timeout_for("/send/video"))
            .await
            .expect("the route's deadline is long enough");
        assert_eq!(slow.bytes, b"slow");
    }
}
