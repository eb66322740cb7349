//! Per-device send pacing (`[session] send_interval_ms`): one device's messages leave at
//! least the interval apart, however many requests and jobs send through it at once.
//! WhatsApp bans numbers that send too fast; this spreads a burst over time instead.
//!
//! Each send reserves the device's next free turn and waits for it on a timer, so the
//! turns are handed out in arrival order and nobody polls. A rate limiter's bucket
//! (host/src/rate_limits.rs) only refuses; a queue of turns is what pacing needs.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// When the table of turns holds this many devices, those whose turn has passed are
/// dropped.
const PRUNE_AT: usize = 1024;

pub struct SendPacing {
    interval: Duration,
    max_wait: Duration,
    next_turn: Mutex<HashMap<String, Instant>>,
}

/// A turn further away than the caller may wait: how long until it would be free.
#[derive(Debug, PartialEq, Eq)]
pub struct TooFar(pub Duration);

impl SendPacing {
    pub fn new(interval: Duration, max_wait: Duration) -> SendPacing {
        SendPacing {
            interval,
            max_wait,
            next_turn: Mutex::new(HashMap::new()),
        }
    }

    pub fn from_settings(settings: &crate::config::SessionSettings) -> SendPacing {
        SendPacing::new(
            Duration::from_millis(settings.send_interval_ms),
            Duration::from_millis(settings.send_queue_max_wait_ms),
        )
    }

    /// Waits for the device's next turn. `bounded` (an HTTP request): a turn further
    /// away than `send_queue_max_wait_ms` is not taken, and its distance returned; a
    /// job always takes its turn.
    pub async fn wait_turn(&self, device_id: &str, bounded: bool) -> Result<(), TooFar> {
        if self.interval.is_zero() {
            return Ok(());
        }
        let turn = self.reserve(device_id, bounded, Instant::now())?;
        tokio::time::sleep_until(turn).await;
        Ok(())
    }

    fn reserve(&self, device_id: &str, bounded: bool, now: Instant) -> Result<Instant, TooFar> {
        let mut turns = self
            .next_turn
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let turn = turns.get(device_id).map_or(now, |next| (*next).max(now));
        let wait = turn - now;
        if bounded && wait > self.max_wait {
            return Err(TooFar(wait));
        }
        if turns.len() >= PRUNE_AT && !turns.contains_key(device_id) {
            turns.retain(|_, next| *next > now);
        }
        turns.insert(device_id.to_owned(), turn + self.interval);
        Ok(turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_are_an_interval_apart_per_device_and_bounded_callers_refuse_far_ones() {
        let pacing = SendPacing::new(Duration::from_secs(1), Duration::from_millis(1500));
        let now = Instant::now();
        assert_eq!(pacing.reserve("a", true, now), Ok(now));
        assert_eq!(
            pacing.reserve("a", true, now),
            Ok(now + Duration::from_secs(1))
        );
        assert_eq!(
            pacing.reserve("b", true, now),
            Ok(now),
            "devices do not share turns"
        );
        assert_eq!(
            pacing.reserve("a", true, now),
            Err(TooFar(Duration::from_secs(2))),
            "the third turn is 2 s away, past the 1.5 s a request waits"
        );
        assert_eq!(
            pacing.reserve("a", false, now),
            Ok(now + Duration::from_secs(2)),
            "a job waits for it (the refused request took no turn)"
        );
        let later = now + Duration::from_secs(10);
        assert_eq!(
            pacing.reserve("a", true, later),
            Ok(later),
            "an idle device sends at once"
        );
    }

    #[test]
    fn the_table_forgets_devices_whose_turn_has_passed() {
        let pacing = SendPacing::new(Duration::from_millis(1), Duration::ZERO);
        let now = Instant::now();
        for device in 0..PRUNE_AT {
            pacing.reserve(&device.to_string(), false, now).unwrap();
        }
        pacing
            .reserve("new", false, now + Duration::from_secs(1))
            .unwrap();
        assert_eq!(pacing.next_turn.lock().unwrap().len(), 1);
    }
}
