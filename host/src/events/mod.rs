//! Inbound events: what a device received, as the `data` of the events docs/API.md
//! (section "Events") defines.
//!
//! - [`parse`]: one received `waE2E.Message` -> `message.received`, `message.reaction`,
//!   `message.edited` or `message.revoked` data, for the session drivers.
//! - [`poll_vote`]: a vote on a poll this device sent, decrypted into `poll.vote` data.
//! - [`sink`]: where every event enters: stored in its device's sequence, then announced.
//! - [`names`]: every event name this server can emit.
//! - [`inbound`]: received messages and receipts into the sink, for every driver.
//! - [`deliver`]: the webhook deliverer ([`signature`], [`backoff`], [`webhook_target`]),
//!   woken through [`wakeup`].

pub mod backoff;
pub mod deliver;
pub mod inbound;
pub mod names;
pub mod parse;
pub mod poll_vote;
pub mod signature;
pub mod sink;
pub mod wakeup;
pub mod webhook_target;

pub use sink::{EventScope, EventSink};
