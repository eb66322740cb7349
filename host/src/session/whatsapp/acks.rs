//! Matches the server's `<ack>` to the send that is waiting for it, by message id.
//!
//! `send_message_with_options` returns once the stanza is written, before the server has
//! said anything (`whatsapp-rust` `src/send/mod.rs:1838`). A send registers its id here
//! before the stanza goes out, and the `ServerAck` event resolves it. Dropping the waiter
//! (the caller's timeout) removes the registration, so nothing leaks.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use tokio::sync::oneshot;

use crate::session::{SendReceipt, SessionError};

/// What the server said about one stanza.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AckReport {
    pub id: String,
    /// `message`, `receipt`, `notification`, ...; absent when the server left it out.
    pub class: Option<String>,
    /// The ack's `t` attribute: the message's server time.
    pub timestamp: Option<DateTime<Utc>>,
    /// The nack code, e.g. `479`.
    pub error: Option<String>,
}

type Outcome = Result<AckReport, SessionError>;

/// Sends waiting for their acks, by message id.
#[derive(Default)]
pub struct AckWaiters {
    pending: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
}

impl AckWaiters {
    pub fn new() -> Arc<Self> {
        Arc::new(AckWaiters::default())
    }

    fn pending(&self) -> MutexGuard<'_, HashMap<String, oneshot::Sender<Outcome>>> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Registers a send; must happen before the stanza is written.
    pub fn register(self: &Arc<Self>, message_id: &str) -> Result<AckWaiter, SessionError> {
        let (sender, receiver) = oneshot::channel();
        let mut pending = self.pending();
        if pending.contains_key(message_id) {
            return Err(SessionError::Failed(format!(
                "message id {message_id} is already being sent"
            )));
        }
        pending.insert(message_id.to_owned(), sender);
        Ok(AckWaiter {
            message_id: message_id.to_owned(),
            receiver,
            waiters: Arc::clone(self),
        })
    }

    /// Hands an ack to the send waiting for its id; false when nobody waits for it.
    pub fn resolve(&self, ack: AckReport) -> bool {
        // Acks for receipts and notifications can carry ids of received messages.
        if ack.class.as_deref().is_some_and(|class| class != "message") {
            return false;
        }
        let Some(sender) = self.pending().remove(&ack.id) else {
            return false;
        };
        sender.send(Ok(ack)).is_ok()
    }

    /// Fails every waiting send: the connection they were sent on is gone.
    pub fn fail_all(&self, reason: &str) {
        let senders: Vec<_> = self.pending().drain().map(|(_, sender)| sender).collect();
        for sender in senders {
            let _ = sender.send(Err(SessionError::Failed(reason.to_owned())));
        }
    }

    pub fn waiting(&self) -> usize {
        self.pending().len()
    }
}

/// One send's wait for its ack. Dropping it unregisters the id.
pub struct AckWaiter {
    message_id: String,
    receiver: oneshot::Receiver<Outcome>,
    waiters: Arc<AckWaiters>,
}

impl AckWaiter {
    /// Waits for the ack; the caller bounds the wait. A nack is `Refused(code)`.
    pub async fn wait(mut self) -> Result<SendReceipt, SessionError> {
        let outcome = (&mut self.receiver).await.map_err(|_| {
            SessionError::Failed("the session closed before the server acknowledged".into())
        })?;
        receipt_from(outcome?)
    }
}

impl Drop for AckWaiter {
    fn drop(&mut self) {
        self.waiters.pending().remove(&self.message_id);
    }
}

/// The receipt an ack stands for: a nack is a refusal naming the code; the ack's time is
/// the message's time, and only an ack without one falls back to now.
pub fn receipt_from(ack: AckReport) -> Result<SendReceipt, SessionError> {
    if let Some(code) = ack.error {
        return Err(SessionError::Rejected { code });
    }
    Ok(SendReceipt {
        message_id: ack.id,
        timestamp: ack.timestamp.unwrap_or_else(Utc::now),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn ack(id: &str, error: Option<&str>, seconds: Option<i64>) -> AckReport {
        AckReport {
            id: id.into(),
            class: Some("message".into()),
            timestamp: seconds.and_then(|s| DateTime::from_timestamp(s, 0)),
            error: error.map(str::to_owned),
        }
    }

    #[tokio::test]
    async fn the_matching_ack_among_others_gives_the_servers_time() {
        let waiters = AckWaiters::new();
        let waiter = waiters.register("3EB0AAA").unwrap();
        let other = waiters.register("3EB0BBB").unwrap();
        assert!(!waiters.resolve(ack("3EB0CCC", None, Some(1))));
        assert!(!waiters.resolve(AckReport {
            class: Some("receipt".into()),
            ..ack("3EB0AAA", None, Some(2))
        }));
        assert!(waiters.resolve(ack("3EB0AAA", None, Some(1_700_000_000))));
        let receipt = waiter.wait().await.unwrap();
        assert_eq!(receipt.message_id, "3EB0AAA");
        assert_eq!(receipt.timestamp.timestamp(), 1_700_000_000);
        assert_eq!(waiters.waiting(), 1);
        drop(other);
        assert_eq!(waiters.waiting(), 0);
    }

    #[tokio::test]
    async fn an_ack_that_arrives_before_the_wait_starts_is_kept() {
        let waiters = AckWaiters::new();
        let waiter = waiters.register("3EB0EARLY").unwrap();
        assert!(waiters.resolve(AckReport {
            class: None,
            ..ack("3EB0EARLY", None, Some(5))
        }));
        assert_eq!(waiter.wait().await.unwrap().timestamp.timestamp(), 5);
    }

    #[tokio::test]
    async fn a_nack_is_a_refusal_that_names_the_code() {
        let waiters = AckWaiters::new();
        let waiter = waiters.register("3EB0NACK").unwrap();
        waiters.resolve(ack("3EB0NACK", Some("479"), Some(5)));
        let error = waiter.wait().await.unwrap_err();
        assert_eq!(error, SessionError::Rejected { code: "479".into() });
        assert!(error.to_string().contains("479"));
    }

    #[tokio::test]
    async fn an_ack_without_a_time_falls_back_to_now() {
        let before = Utc::now();
        let receipt = receipt_from(ack("3EB0NOW", None, None)).unwrap();
        assert!(receipt.timestamp >= before);
    }

    #[tokio::test]
    async fn an_ack_that_never_comes_ends_in_the_callers_timeout_and_leaves_nothing() {
        let waiters = AckWaiters::new();
        let waiter = waiters.register("3EB0LOST").unwrap();
        let waited = tokio::time::timeout(Duration::from_millis(30), waiter.wait()).await;
        assert!(waited.is_err());
        assert_eq!(waiters.waiting(), 0);
        // A late ack finds nobody; the id can be used again.
        assert!(!waiters.resolve(ack("3EB0LOST", None, Some(1))));
        assert!(waiters.register("3EB0LOST").is_ok());
    }

    #[tokio::test]
    async fn the_same_id_cannot_wait_twice() {
        let waiters = AckWaiters::new();
        let _first = waiters.register("3EB0DUP").unwrap();
        assert!(matches!(
            waiters.register("3EB0DUP"),
            Err(SessionError::Failed(_))
        ));
    }

    #[tokio::test]
    async fn a_lost_connection_fails_the_waiting_sends() {
        let waiters = AckWaiters::new();
        let waiter = waiters.register("3EB0GONE").unwrap();
        waiters.fail_all("connection lost");
        assert_eq!(
            waiter.wait().await.unwrap_err(),
            SessionError::Failed("connection lost".into())
        );
        assert_eq!(waiters.waiting(), 0);
    }
}
