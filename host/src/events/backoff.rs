//! When a failed webhook attempt is tried again (docs/API.md, "Webhooks"): about 1, 4,
//! 16, 64 s ... (x4), ±20% jitter, at most 15 minutes.

use std::time::Duration;

/// The longest wait between two attempts.
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// How far a wait may stray from its step, either way: spreads a burst of retries.
const JITTER: f64 = 0.2;

/// The wait after the `attempt`-th attempt (1-based) failed, before jitter.
pub fn base_delay(attempt: u32) -> Duration {
    let exponent = attempt.saturating_sub(1).min(10);
    Duration::from_secs(4u64.pow(exponent)).min(MAX_DELAY)
}

/// The wait after the `attempt`-th attempt failed, with `unit` in [0, 1) choosing the
/// jitter.
pub fn delay(attempt: u32, unit: f64) -> Duration {
    let factor = 1.0 - JITTER + 2.0 * JITTER * unit.clamp(0.0, 1.0);
    base_delay(attempt).mul_f64(factor).min(MAX_DELAY)
}

/// [`delay`] with a random jitter.
pub fn jittered_delay(attempt: u32) -> Duration {
    delay(attempt, rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_grow_by_four_and_stop_at_fifteen_minutes() {
        let steps: Vec<u64> = (1..=7).map(|n| base_delay(n).as_secs()).collect();
        assert_eq!(steps, [1, 4, 16, 64, 256, 900, 900]);
        assert_eq!(base_delay(u32::MAX), MAX_DELAY);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_under_the_cap() {
        assert_eq!(delay(2, 0.0), Duration::from_millis(3200));
        assert_eq!(delay(2, 0.5), Duration::from_secs(4));
        assert_eq!(delay(2, 1.0), Duration::from_millis(4800));
        assert_eq!(delay(9, 1.0), MAX_DELAY);
        for _ in 0..100 {
            let wait = jittered_delay(3);
            assert!(wait >= Duration::from_millis(12_800) && wait <= Duration::from_millis(19_200));
        }
    }
}
