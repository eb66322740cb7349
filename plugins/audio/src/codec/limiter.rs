//! A counting semaphore that bounds how many transcodes run at once (each uses ~4 threads and a core).

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Limits concurrent transcodes. Blocking by design: callers are on a blocking thread pool.
#[derive(Debug)]
pub struct TranscodeLimiter {
    capacity: usize,
    free: Mutex<usize>,
    released: Condvar,
}

/// One slot; it is given back when dropped.
#[derive(Debug)]
#[must_use = "the slot is released as soon as the permit is dropped"]
pub struct TranscodePermit<'a> {
    limiter: &'a TranscodeLimiter,
}

impl TranscodeLimiter {
    /// A limiter with `permits` slots (at least one).
    pub fn new(permits: usize) -> Self {
        let capacity = permits.max(1);
        Self {
            capacity,
            free: Mutex::new(capacity),
            released: Condvar::new(),
        }
    }

    /// One slot per available core (transcoding is CPU bound).
    pub fn with_available_cores() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// Total slots.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Slots free right now.
    pub fn available(&self) -> usize {
        *self.lock()
    }

    /// Waits up to `timeout` for a slot; None if none became free in time.
    pub fn acquire(&self, timeout: Duration) -> Option<TranscodePermit<'_>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut free = self.lock();
        while *free == 0 {
            let remaining = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if remaining.is_zero() {
                return None;
            }
            free = self
                .released
                .wait_timeout(free, remaining)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        *free -= 1;
        Some(TranscodePermit { limiter: self })
    }

    /// A slot if one is free now.
    pub fn try_acquire(&self) -> Option<TranscodePermit<'_>> {
        self.acquire(Duration::ZERO)
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.free.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for TranscodeLimiter {
    fn default() -> Self {
        Self::with_available_cores()
    }
}

impl Drop for TranscodePermit<'_> {
    fn drop(&mut self) {
        let mut free = self.limiter.lock();
        *free = (*free + 1).min(self.limiter.capacity);
        self.limiter.released.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn times_out_when_full_and_frees_on_drop() {
        let limiter = TranscodeLimiter::new(2);
        let a = limiter.try_acquire().unwrap();
        let _b = limiter.try_acquire().unwrap();
        assert_eq!(limiter.available(), 0);
        let started = Instant::now();
        assert!(limiter.acquire(Duration::from_millis(50)).is_none());
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(a);
        assert_eq!(limiter.available(), 1);
        assert!(limiter.acquire(Duration::from_millis(50)).is_some());
    }

    #[test]
    fn zero_permits_means_one() {
        let limiter = TranscodeLimiter::new(0);
        assert_eq!(limiter.capacity(), 1);
        assert!(limiter.try_acquire().is_some());
        assert!(TranscodeLimiter::default().capacity() >= 1);
    }

    #[test]
    fn never_more_than_capacity_in_parallel() {
        let limiter = Arc::new(TranscodeLimiter::new(3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..12)
            .map(|_| {
                let (limiter, running, peak) = (limiter.clone(), running.clone(), peak.clone());
                std::thread::spawn(move || {
                    let _permit = limiter.acquire(Duration::from_secs(30)).unwrap();
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                    running.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert_eq!(limiter.available(), 3);
    }
}
