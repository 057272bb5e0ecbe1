//! Helpers shared by the core's unit tests: a three-node cluster {A, B, C}
//! and a way to feed one node a message and collect what it sends.

use shared::{Addr, Body, Message};

use super::{Input, Micros, Node, Outgoing};

pub const A: Addr = Addr(0);
pub const B: Addr = Addr(1);
pub const C: Addr = Addr(2);

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

/// Ticks `n` at `now`; returns everything it sends.
pub fn tick(n: &mut Node, now: Micros) -> Vec<Outgoing> {
    n.handle(now, Input::Tick);
    n.flush(now)
}
