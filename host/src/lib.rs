//! The WUTS-rs host: a multi-tenant WhatsApp HTTP gateway whose message types are
//! plugins.
//!
//! # Layout
//!
//! - [`cli`], [`config`], [`telemetry`]: the command line (with `wuts pair`, an HTTP
//!   client of a running server), settings, logs.
//! - [`server`]: wires the parts together and serves until a signal.
//! - [`state`]: what every handler shares; the parts it holds (store, [`tokens`],
//!   sessions, plugins, [`job_queue`]) do not import it.
//! - [`routes`]: HTTP resources, one module each; [`auth`] is the `Caller` extractor,
//!   over [`tokens`] (token hashing and the cache of verified principals);
//!   [`error`] renders both error envelopes.
//! - [`send_path`]: plan -> encode (plugin) -> send (session) -> log, shared by the HTTP
//!   handlers and the [`jobs`] runner, which the handlers reach through its
//!   [`job_queue`].
//! - [`plugins`]: loading plugin libraries and the services they get; [`work_slots`]
//!   bounds the plugin calls that may block, overall and per tenant.
//! - [`session`]: the session drivers (sandbox, whatsapp).
//! - [`events`]: inbound events; [`events::parse`] turns a received message into event data.
//! - [`store`]: persistence (embedded SQLite).
//! - [`fetch`]: URL fetching under the host's network policy.
//! - [`rate_limits`] (request rates per user, device and client address) and [`pacing`]
//!   (the least time between one device's messages): what keeps callers and devices
//!   within bounds.
//! - [`qr_image`]: pairing QR codes as PNG (for `GET /qr`) and terminal text (`wuts pair`).
//!
//! Layers point one way: routes -> send path -> plugins and sessions -> store.

pub mod access;
pub mod auth;
pub mod cli;
pub mod config;
pub mod error;
pub mod events;
pub mod fetch;
pub mod ids;
pub mod job_queue;
pub mod jobs;
pub mod message_json;
pub mod metrics;
pub mod openapi;
pub mod orphans;
pub mod pacing;
pub mod plugins;
pub mod qr_image;
pub mod rate_limits;
pub mod retention;
pub mod roles;
pub mod routes;
pub mod send_path;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
pub mod telemetry;
pub mod time;
pub mod tokens;
pub mod work_slots;

pub use server::run;
