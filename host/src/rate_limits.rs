//! Request rate limits (docs/API.md, "Operations"; `[rate_limits]`): token buckets per
//! user and per device, off by default, and one on requests with an unknown token per
//! client address, on by default. Past a limit the answer is 429 `RATE_LIMITED` with
//! `Retry-After`; nothing of the request has run.
//!
//! The buckets are `governor`'s (GCRA: one timestamp a key, checked without a lock).
//! The failed-authentication bucket is spent by every request whose token is not
//! already known to be good, before the token is checked, so that once it is empty a
//! right guess answers 429 like a wrong one: guessing goes no faster than the limit.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use actix_web::HttpRequest;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitSettings;
use crate::error::ApiError;

/// How often keys whose buckets are full again are dropped, so memory follows the
/// active keys rather than every key ever seen.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

pub struct RateLimits {
    users: Option<DefaultKeyedRateLimiter<String>>,
    devices: Option<DefaultKeyedRateLimiter<String>>,
    failed_auth: Option<DefaultKeyedRateLimiter<IpAddr>>,
    trusted_proxies: Vec<IpAddr>,
    clock: DefaultClock,
}

/// A bucket refilled at `per_second` holding `burst` (0: one second's worth, at least
/// one); `None` when `per_second` is not positive (the limit is off).
fn quota(per_second: f64, burst: u32) -> Option<Quota> {
    if !per_second.is_finite() || per_second <= 0.0 {
        return None;
    }
    let period = Duration::from_secs_f64((1.0 / per_second).min(86_400.0));
    let burst = match burst {
        0 => per_second.ceil().min(f64::from(u32::MAX)) as u32,
        burst => burst,
    };
    Some(
        Quota::with_period(period.max(Duration::from_nanos(1)))?
            .allow_burst(NonZeroU32::new(burst.max(1))?),
    )
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        RateLimits {
            users: quota(settings.user_per_second, settings.user_burst).map(RateLimiter::keyed),
            devices: quota(settings.device_per_second, settings.device_burst)
                .map(RateLimiter::keyed),
            failed_auth: quota(
                f64::from(settings.failed_auth_per_minute) / 60.0,
                settings.failed_auth_burst,
            )
            .map(RateLimiter::keyed),
            trusted_proxies: settings.trusted_proxies.clone(),
            clock: DefaultClock::default(),
        }
    }

    /// One request of this user's.
    pub fn user(&self, user_id: &String) -> Result<(), ApiError> {
        self.spend(self.users.as_ref(), user_id)
    }

    /// One send through this device (a job already accepted is not counted again).
    pub fn device(&self, device_id: &String) -> Result<(), ApiError> {
        self.spend(self.devices.as_ref(), device_id)
    }

    /// A request from `request`'s client whose token is not known to be good, before the
    /// token is checked.
    pub fn unproven_token(&self, request: &HttpRequest) -> Result<(), ApiError> {
        match client_address(request, &self.trusted_proxies) {
            Some(address) => self.spend(self.failed_auth.as_ref(), &address),
            None => Ok(()),
        }
    }

    fn spend<K>(
        &self,
        limiter: Option<&DefaultKeyedRateLimiter<K>>,
        key: &K,
    ) -> Result<(), ApiError>
    where
        K: Clone + Eq + std::hash::Hash,
    {
        let Some(limiter) = limiter else {
            return Ok(());
        };
        limiter
            .check_key(key)
            .map_err(|not_until| ApiError::rate_limited(not_until.wait_time_from(self.clock.now())))
    }

    /// Drops the keys whose buckets are full again, every [`PRUNE_EVERY`].
    pub fn start_pruning(self: &Arc<Self>) {
        let limits = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(PRUNE_EVERY);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                let Some(limits) = limits.upgrade() else {
                    return;
                };
                for limiter in [&limits.users, &limits.devices].into_iter().flatten() {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
                if let Some(limiter) = &limits.failed_auth {
                    limiter.retain_recent();
                    limiter.shrink_to_fit();
                }
            }
        });
    }
}

/// The client's address: the connecting peer's, or, when the peer is a trusted proxy,
/// the nearest address in `X-Forwarded-For` that is not one (read from the right: the
/// entries on the left are whatever the client wrote).
pub fn client_address(request: &HttpRequest, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = request.peer_addr()?.ip();
    if !trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = request
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect::<Vec<_>>();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        match entry.trim().parse::<IpAddr>() {
            Ok(address) if trusted_proxies.contains(&address) => client = address,
            Ok(address) => return Some(address),
            // Garbage from here leftwards cannot be trusted: the last good hop stands.
            Err(_) => break,
        }
    }
    Some(client)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn settings() -> RateLimitSettings {
        RateLimitSettings {
            user_per_second: 0.0,
            user_burst: 0,
            device_per_second: 0.0,
            device_burst: 0,
            failed_auth_per_minute: 0,
            failed_auth_burst: 0,
            trusted_proxies: Vec::new(),
        }
    }

    #[test]
    fn a_bucket_lets_its_burst_through_then_answers_429_with_the_wait() {
        let limits = RateLimits::new(&RateLimitSettings {
            user_per_second: 0.5,
            user_burst: 3,
            ..settings()
        });
        let user = "u1".to_string();
        for _ in 0..3 {
            limits.user(&user).unwrap();
        }
        let refused = limits.user(&user).unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert_eq!(refused.code, "RATE_LIMITED");
        assert_eq!(refused.retry_after, Some(2), "one request every 2 s");
        limits.user(&"u2".to_string()).unwrap();
        limits.device(&"d1".to_string()).unwrap();
    }

    #[test]
    fn zero_means_off_and_burst_zero_means_one_seconds_worth() {
        assert!(quota(0.0, 10).is_none());
        assert!(quota(f64::NAN, 10).is_none());
        assert_eq!(quota(5.0, 0).unwrap().burst_size().get(), 5);
        assert_eq!(quota(0.1, 0).unwrap().burst_size().get(), 1);
        assert_eq!(
            quota(0.1, 0).unwrap().replenish_interval(),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn the_client_is_the_peer_unless_the_peer_is_a_trusted_proxy() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let request = |forwarded: &str| {
            TestRequest::default()
                .peer_addr("127.0.0.1:4000".parse().unwrap())
                .insert_header(("X-Forwarded-For", forwarded))
                .to_http_request()
        };
        let untrusted = request("203.0.113.9");
        assert_eq!(client_address(&untrusted, &[]), Some(proxy));
        let trusted = [proxy, "10.0.0.2".parse().unwrap()];
        assert_eq!(
            client_address(&request("1.1.1.1, 203.0.113.9, 10.0.0.2"), &trusted),
            Some("203.0.113.9".parse().unwrap()),
            "the forged left entry is ignored"
        );
        assert_eq!(client_address(&request("junk"), &trusted), Some(proxy));
    }
}
