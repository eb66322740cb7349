//! When the webhook deliverer looks at the table again.
//!
//! A device's deliveries go out one at a time, in event order, so while a device's
//! delivery is in flight its newer events cannot be claimed: a claim then would find
//! nothing. Under a burst of sends from one device, waking the deliverer for every
//! committed batch meant a claim query (and a due-time query) per batch, all empty: a
//! tenth of the server's CPU during the events benchmark's load. The deliverer now
//! notes which devices have a delivery in flight, and new deliveries wake it only when
//! one of them is for another device; the in-flight delivery wakes it when it finishes.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use tokio::sync::Notify;

#[derive(Default)]
pub struct DeliveryWakeup {
    notify: Notify,
    in_flight: Mutex<HashSet<String>>,
}

impl DeliveryWakeup {
    /// Deliveries were queued for these devices: wakes the deliverer unless each of them
    /// already has a delivery in flight.
    pub fn queued<'a>(&self, devices: impl IntoIterator<Item = &'a str>) {
        let mut devices = devices.into_iter().peekable();
        // Most committed batches queue no delivery: they take no lock.
        if devices.peek().is_none() {
            return;
        }
        let any_idle = {
            let in_flight = self.in_flight();
            devices.any(|device| !in_flight.contains(device))
        };
        if any_idle {
            self.notify.notify_one();
        }
    }

    /// Wakes the deliverer whatever is in flight (a replay, a finished delivery).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Resolves at the next wake-up (or at once, if one came since the last).
    pub async fn notified(&self) {
        self.notify.notified().await;
    }

    /// Notes that `device` has a delivery in flight until the returned guard is dropped;
    /// dropping it wakes the deliverer, since the device's next delivery may be due.
    pub fn in_flight_for(self: &Arc<Self>, device: &str) -> InFlight {
        self.in_flight().insert(device.to_owned());
        InFlight {
            wakeup: Arc::clone(self),
            device: device.to_owned(),
        }
    }

    fn in_flight(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        // The set is only ever inserted into and removed from: a panic elsewhere while
        // it was held cannot leave it half-changed.
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A device's delivery in flight (see [`DeliveryWakeup::in_flight_for`]).
pub struct InFlight {
    wakeup: Arc<DeliveryWakeup>,
    device: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.wakeup.in_flight().remove(&self.device);
        self.wakeup.wake();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn woken(wakeup: &DeliveryWakeup) -> bool {
        tokio::time::timeout(Duration::from_millis(50), wakeup.notified())
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_device_with_a_delivery_in_flight_does_not_wake_the_deliverer_until_it_finishes() {
        let wakeup = Arc::new(DeliveryWakeup::default());
        wakeup.queued(["dev-a"]);
        assert!(woken(&wakeup).await, "an idle device's delivery wakes it");

        let in_flight = wakeup.in_flight_for("dev-a");
        wakeup.queued(["dev-a", "dev-a"]);
        assert!(
            !woken(&wakeup).await,
            "dev-a's next delivery waits for its head"
        );
        wakeup.queued(["dev-a", "dev-b"]);
        assert!(woken(&wakeup).await, "another device's delivery wakes it");

        drop(in_flight);
        assert!(woken(&wakeup).await, "the finished delivery wakes it");
        wakeup.queued(["dev-a"]);
        assert!(woken(&wakeup).await, "dev-a is idle again");
    }

    #[tokio::test]
    async fn a_replay_wakes_the_deliverer_even_while_its_device_is_busy() {
        let wakeup = Arc::new(DeliveryWakeup::default());
        let _in_flight = wakeup.in_flight_for("dev-a");
        wakeup.wake();
        assert!(woken(&wakeup).await);
    }
}
