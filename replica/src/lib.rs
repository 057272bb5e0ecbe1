//! `3700kvstore`: a Raft-replicated key-value store for the CS3700-style
//! cluster simulator.
//!
//! - [`raft`]: the pure consensus core (inputs in, outputs out, no IO).
//! - [`kv`]: the state machine the core applies committed puts to.
//! - [`io`]: the shell: sockets, clock, signals, JSON; no protocol decisions.
//! - [`telemetry`]: state events to the console, never blocking.

pub mod io;
pub mod kv;
pub mod raft;
pub mod rng;
pub mod telemetry;
