//! Inbound events: what a device received, as the `data` of the events docs/API.md
//! (section "Events") defines.
//!
//! - [`parse`]: one received `waE2E.Message` -> `message.received`, `message.reaction`,
//!   `message.edited` or `message.revoked` data, for the session drivers.

pub mod parse;
