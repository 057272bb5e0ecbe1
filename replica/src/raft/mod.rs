//! The Raft core: a pure state machine. It does no IO and reads no clock;
//! the shell feeds it inputs with the current time and sends what it asks.
//!
//! ```text
//!   shell (io/)                        core (this module)
//!   ─────────────                      ──────────────────────────────
//!   packet ─ parse ─> Input::Message ─>  Node::handle(now, input)   node.rs
//!   timer  ─────────> Input::Tick    ─>    election.rs     votes, pre-votes, timeouts
//!   fsync  ─────────> Input::Durable ─>    durability.rs   what is on disk (if on)
//!                                          follower.rs     AppendEntries as a follower
//!                                          replication.rs  AppendEntries as the leader, commit
//!                                          requests.rs     gets, puts, held requests
//!                                          inheriting.rs   puts an earlier leader appended
//!                                          snapshot.rs     compaction, InstallSnapshot
//!   after each batch of inputs:        Node::flush(now) -> Vec<Outgoing>
//!   Node::take_persist(): write it,    (durability on: nothing is sent
//!   fsync, then Input::Durable           before what it promises is on disk)
//!   send each Outgoing, stamped with   (AppendEntries are built here, so
//!   Node::leader_hint()                 everything queued goes in one batch)
//!   sleep until Node::next_deadline()
//! ```
//!
//! The handlers above are `impl Node` blocks; the state they change has
//! owners that know nothing of `Node`:
//!
//! ```text
//!   Node ─┬─ campaign: Option<Campaign>   campaign.rs   while (pre-)candidate
//!         ├─ leading: Option<Leader>      leader/       while leader
//!         │    ├─ tracker: Tracker        leader/tracker.rs  followers, estimates, what is due
//!         │    │                          leader/fanout.rs   how many get entries at once
//!         │    └─ reads: Reads            leader/reads.rs    gets not answered yet
//!         ├─ clients: Clients             clients.rs    held requests, owed puts, MIDs
//!         ├─ inheritance: Inheritance     inherited.rs  inherited puts, put timings
//!         └─ reporter: Reporter           report.rs     state events
//! ```
//!
//! Time is a plain microsecond count (`Micros`); randomness comes from a
//! seeded [`crate::rng::Rng`]; iteration is over ordered maps only. The same
//! seed and inputs therefore give the same outputs.

mod campaign;
mod clients;
mod config;
mod durability;
mod election;
mod follower;
mod inherited;
mod inheriting;
mod leader;
mod log;
mod node;
mod replication;
mod report;
mod requests;
mod snapshot;
#[cfg(test)]
mod testkit;

pub use config::{changed_tune, describe, parse_tune, render_tune, Config, TuneError, KNOBS};
pub use durability::{HardState, Persist, Recovered};
pub use log::{entry_wire_size, RaftLog};
pub use node::{Counters, Node, Role, MAX_TERM};
pub use snapshot::Snapshot;

use shared::{Addr, Body, Message};

/// Microseconds on the shell's monotonic clock.
pub type Micros = u64;

/// What the shell feeds the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A parsed packet from a peer or a client.
    Message(Message),
    /// Time passed; the core checks its timers.
    Tick,
    /// The shell made a [`Persist`] batch durable ([`Persist::done`]).
    Durable { last_index: u64, last_term: u64 },
}

/// A packet the core wants sent: a Raft message to a peer or an answer to a
/// client. The shell adds `src` and the current `leader` belief.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub to: Addr,
    pub body: Body,
}
