//! Helpers shared by the core's unit tests: a three-node cluster {A, B, C}
//! and a way to feed one node a message and collect what it sends.

use shared::{Addr, AppendEntries, AppendReply, Body, Entry, Message, PutCmd};

use super::{Input, Micros, Node, Outgoing};

pub const A: Addr = Addr(0);
pub const B: Addr = Addr(1);
pub const C: Addr = Addr(2);
/// A simulated client.
pub const CLIENT: Addr = Addr(0x13);

pub fn get(mid: &str, key: &str) -> Body {
    Body::Get {
        mid: mid.into(),
        key: key.into(),
    }
}

pub fn put(mid: &str, key: &str, value: &str) -> Body {
    Body::Put {
        mid: mid.into(),
        key: key.into(),
        value: value.into(),
    }
}

/// A successful AppendReply in `term` up to `index`, to the AppendEntries
/// sent at `ts`.
pub fn ack(term: u64, index: u64, ts: Micros) -> Body {
    Body::AppendReply(AppendReply {
        term,
        success: true,
        index,
        conflict_term: None,
        ts,
        commit: 0,
        relay_ack: None,
    })
}

/// What of `out` goes to [`CLIENT`].
pub fn client_outputs(out: &[Outgoing]) -> Vec<Outgoing> {
    out.iter().filter(|o| o.to == CLIENT).cloned().collect()
}

/// An `ok` to [`CLIENT`].
pub fn ok(mid: &str, value: Option<&str>) -> Outgoing {
    Outgoing {
        to: CLIENT,
        body: Body::Ok {
            mid: mid.into(),
            value: value.map(str::to_string),
        },
    }
}

/// Delivers `body` from `from` to `n` at `now`; returns everything `n` sends.
pub fn deliver(n: &mut Node, now: Micros, from: Addr, body: Body) -> Vec<Outgoing> {
    let msg = Message {
        src: from,
        dst: n.id(),
        leader: Addr::UNKNOWN,
        body,
    };
    n.handle(now, Input::Message(msg));
    n.flush(now)
}

/// Makes `n` (a node of {A, B, C} whose election is due at `now`) leader
/// of `term`: it times out, and B grants its pre-vote and its vote.
pub fn win_election(n: &mut Node, now: Micros, term: u64) {
    n.handle(now, Input::Tick);
    for pre in [true, false] {
        let body = Body::VoteReply(shared::VoteReply {
            term,
            granted: true,
            pre,
        });
        let msg = Message {
            src: B,
            dst: n.id(),
            leader: Addr::UNKNOWN,
            body,
        };
        n.handle(now, Input::Message(msg));
    }
    assert_eq!(n.role(), super::Role::Leader);
}

/// Ticks `n` at `now`; returns everything it sends.
pub fn tick(n: &mut Node, now: Micros) -> Vec<Outgoing> {
    n.handle(now, Input::Tick);
    n.flush(now)
}

/// The first, empty AppendEntries of a leader of term 1, sent at 1_000 and
/// telling the follower the heartbeat interval `heartbeat`.
pub fn first_heartbeat(heartbeat: Micros) -> Body {
    Body::AppendEntries(AppendEntries {
        heartbeat,
        ..empty_append(1, 1_000)
    })
}

/// A put entry of `term` from [`CLIENT`], with a MID made of key and value.
pub fn put_entry(term: u64, key: &str, value: &str) -> Entry {
    Entry {
        term,
        put: Some(PutCmd {
            key: key.into(),
            value: value.into(),
            client: CLIENT,
            mid: format!("M-{key}-{value}"),
        }),
    }
}

/// An AppendEntries of `term` after `prev` (index, term), sent at 5.
pub fn append(term: u64, prev: (u64, u64), commit: u64, entries: Vec<Entry>) -> Body {
    Body::AppendEntries(AppendEntries {
        term,
        prev_index: prev.0,
        prev_term: prev.1,
        commit,
        ts: 5,
        heartbeat: 0,
        entries,
        relay_to: None,
        relayed: None,
    })
}

/// An AppendReply of `term` to the AppendEntries sent at 5.
pub fn append_reply(term: u64, success: bool, index: u64, conflict_term: Option<u64>) -> Body {
    Body::AppendReply(AppendReply {
        term,
        success,
        index,
        conflict_term,
        ts: 5,
        commit: 0,
        relay_ack: None,
    })
}

/// An AppendEntries of `term` with nothing in it, sent at `ts`, as a
/// leader's first heartbeat: its log starts empty, nothing committed.
pub fn empty_append(term: u64, ts: Micros) -> AppendEntries {
    AppendEntries {
        term,
        prev_index: 0,
        prev_term: 0,
        commit: 0,
        ts,
        heartbeat: 0,
        entries: vec![],
        relay_to: None,
        relayed: None,
    }
}
