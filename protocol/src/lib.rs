//! Sotto wire protocol, version 1: the MQTT topics and the JSON messages that cross them.
//!
//! ## Topics
//! - `sotto/v1/pharmacy/{pharmacy_id}/state` — server → pharmacy ([`ServerMessage`], QoS 1).
//! - `sotto/v1/pharmacy/{pharmacy_id}/reports` — pharmacy → server ([`ClientMessage`], QoS 1).
//!
//! ## Ordering and loss
//! Every state message for a pharmacy carries that pharmacy's sequence number `seq`, bumped in
//! the same database transaction as the change. The client applies a delta only when
//! `seq == last + 1`, ignores `seq <= last` (duplicates, replays), and on a gap — and on every
//! (re)connect — sends [`ClientBody::ResyncRequest`]; the server answers with a
//! [`ServerBody::Snapshot`] at its current `seq`, after which deltas continue. Heartbeats carry
//! the current `seq`, so a lost *last* delta is noticed too, and the client answers each with
//! [`ClientBody::HeartbeatAck`] (QoS 0), so the server knows a quiet counter is still there.
//! Nothing relies on the broker keeping messages: the server's database is the record.
//!
//! ## The web front ends
//! [`web`] holds what the staff console and the counter page both send browsers with every
//! answer (security headers), so the two stay alike.
//!
//! ## Privacy
//! A message carries only what the counter needs: who the person is (to find them at the
//! counter), their schedule and which kinds of hold are active. Never a hold reason, a clinical
//! note, a keyworker or prescriber.

mod message;
mod signing;
mod topics;
pub mod web;

pub use message::*;
pub use signing::{PublicKey, ServerKey, open};
pub use topics::*;

/// The protocol version every message carries as `v`.
pub const VERSION: u16 = 1;

/// Largest message either side accepts; a snapshot of ~500 people with 14-day schedules is
/// well under this.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024 * 1024;
