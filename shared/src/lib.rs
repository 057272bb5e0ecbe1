//! The vocabulary shared by the `3700kvstore` replica and the `kvdash`
//! console: the simulator's JSON wire messages (client traffic and our own
//! replica-to-replica Raft messages). Data types only: no IO, no sockets.

pub mod wire;

pub use wire::{
    Addr, AddrError, AppendEntries, AppendReply, Body, Entry, Message, PutCmd, RequestVote,
    VoteReply,
};
