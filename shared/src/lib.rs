//! The vocabulary shared by the `3700kvstore` replica and the `kvdash`
//! console: the simulator's JSON wire messages (client traffic and our own
//! replica-to-replica Raft messages) and the state events replicas and the
//! simulator stream to the console. Data types only: no IO, no sockets.

pub mod events;
pub mod wire;

pub use events::{DashEvent, Event, EventError, SCHEMA_VERSION};

pub use wire::{
    Addr, AddrError, AppendEntries, AppendReply, Body, Entry, InstallSnapshot, Message, Ping,
    PutCmd, RelayAck, Relayed, RequestVote, SnapshotAck, VoteReply,
};
