//! A deterministic in-process cluster simulator for the Raft core.
//!
//! ```text
//!   scenario.rs   one seed -> cluster size, timing, faults, workload
//!        │
//!   world.rs      simulated clock, event queue, network (delay, reorder,
//!        │        drop, partition), kills; steps one Node at a time
//!        ├── clients.rs        clients: requests, redirects, retries; records
//!        │                     the history and the contract rules per MID
//!        ├── invariants.rs     Raft safety, checked after every step
//!        └── linearizability.rs  the history against the committed log, at the end
//!   seeds.rs      sweeps seeds (SIM_SEEDS), replays one (SEED), and turns a
//!                 failure or a panic into a message with the replay command
//! ```
//!
//! One seed drives every random choice and all iteration is over ordered
//! containers, so a seed replays a run exactly.

pub mod clients;
pub mod invariants;
// Only the lab tests use it.
#[allow(dead_code)]
pub mod lab;
pub mod linearizability;
pub mod scenario;
pub mod seeds;
pub mod world;
