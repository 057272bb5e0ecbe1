//! The replica's packet path: bytes -> `codec::decode` -> `Node::handle`,
//! as the shell does it, for a short sequence of packets and timer ticks.
//!
//! Input: lines separated by `\n`. A line is a packet, except `#` (a tick
//! at the node's next deadline) and `#N` (a tick N microseconds later).
//! A first line of exactly `L` or `F` first makes the node leader of term 1
//! or a follower of `0001` in term 3 with a committed put, by feeding it
//! real messages, so that the fuzzed packets reach the leader's and the
//! follower's code and not only a fresh node's.
#![no_main]

use libfuzzer_sys::fuzz_target;
use replica::io::codec::{decode, encode};
use replica::raft::{Config, Input, Micros, Node, Outgoing, Role};
use shared::{Addr, AppendEntries, AppendReply, Body, Entry, Message, PutCmd, VoteReply};

const ME: Addr = Addr(0);
const PEERS: [Addr; 4] = [Addr(1), Addr(2), Addr(3), Addr(4)];
/// Packets arrive this far apart.
const PACKET_GAP: Micros = 100;
/// The longest a single tick moves the clock: about 11 days.
const MAX_JUMP: Micros = 1_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&b| b == b'\n').peekable();
    let mut now: Micros = 1_000_000;
    let mut node = Node::new(ME, all_peers(), Config::default(), 7, now);
    match lines.peek().copied() {
        Some(b"L") => {
            lines.next();
            make_leader(&mut node, &mut now);
        }
        Some(b"F") => {
            lines.next();
            make_follower(&mut node, &mut now);
        }
        _ => {}
    }
    for line in lines {
        if let Some(arg) = line.strip_prefix(b"#") {
            now = match std::str::from_utf8(arg)
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(n) => now + n.min(MAX_JUMP),
                None => node.next_deadline(now).clamp(now, now + MAX_JUMP),
            };
            node.handle(now, Input::Tick);
        } else {
            now += PACKET_GAP;
            match decode(line) {
                // The shell drops packets addressed to someone else.
                Ok(msg) if msg.dst == ME || msg.dst.is_broadcast() => {
                    node.handle(now, Input::Message(msg))
                }
                Ok(_) | Err(_) => continue,
            }
        }
        check(&mut node, now);
    }
});

fn all_peers() -> Vec<Addr> {
    let mut v = vec![ME];
    v.extend(PEERS);
    v
}

/// What the shell does after each input, plus the invariants that hold
/// whatever the input.
fn check(node: &mut Node, now: Micros) {
    for out in node.flush(now) {
        let msg = Message {
            src: ME,
            dst: out.to,
            leader: node.leader_hint(),
            body: out.body,
        };
        // Whatever the core sends must come back as itself.
        if let Some(bytes) = encode(&msg) {
            let back = decode(&bytes).expect("an encoded packet decodes");
            assert_eq!(back, msg);
        }
    }
    node.next_deadline(now);
    node.take_events();
    assert!(node.applied_index() <= node.commit_index());
    assert!(node.commit_index() <= node.log().last_index());
}

fn deliver(node: &mut Node, now: Micros, from: Addr, body: Body) {
    let msg = Message {
        src: from,
        dst: ME,
        leader: Addr::UNKNOWN,
        body,
    };
    node.handle(now, Input::Message(msg));
}

/// Every peer grants every vote and acknowledges every AppendEntries.
fn answer_all(node: &mut Node, now: Micros, out: Vec<Outgoing>) {
    for Outgoing { to, body } in out {
        let targets: Vec<Addr> = if to.is_broadcast() {
            PEERS.to_vec()
        } else {
            vec![to]
        };
        for peer in targets {
            let reply = match &body {
                Body::RequestVote(rv) => Body::VoteReply(VoteReply {
                    term: rv.term,
                    granted: true,
                    pre: rv.pre,
                }),
                Body::AppendEntries(ae) => Body::AppendReply(AppendReply {
                    term: ae.term,
                    success: true,
                    index: ae.prev_index + ae.entries.len() as u64,
                    conflict_term: None,
                    ts: ae.ts,
                    commit: 0,
                    relay_ack: None,
                }),
                _ => continue,
            };
            deliver(node, now, peer, reply);
        }
    }
}

fn make_leader(node: &mut Node, now: &mut Micros) {
    for _ in 0..10 {
        if node.role() == Role::Leader {
            break;
        }
        *now = node.next_deadline(*now).max(*now + 1);
        node.handle(*now, Input::Tick);
        let out = node.flush(*now);
        answer_all(node, *now, out);
    }
    assert_eq!(node.role(), Role::Leader, "the preamble elects the node");
    // Commit the no-op and a client put.
    *now += 1_000;
    deliver(
        node,
        *now,
        Addr(0x15),
        Body::Put {
            mid: "P1".into(),
            key: "k".into(),
            value: "v".into(),
        },
    );
    for _ in 0..3 {
        *now += 1_000;
        let out = node.flush(*now);
        answer_all(node, *now, out);
    }
    node.flush(*now);
    node.take_events();
}

fn make_follower(node: &mut Node, now: &mut Micros) {
    let leader = PEERS[0];
    let entries = vec![
        Entry { term: 3, put: None },
        Entry {
            term: 3,
            put: Some(PutCmd {
                key: "k".into(),
                value: "v".into(),
                client: Addr(0x15),
                mid: "P1".into(),
            }),
        },
    ];
    for (prev_index, entries, commit) in [(0, entries, 0), (2, Vec::new(), 2)] {
        *now += 1_000;
        let ae = AppendEntries {
            term: 3,
            prev_index,
            prev_term: if prev_index == 0 { 0 } else { 3 },
            commit,
            ts: *now,
            heartbeat: 0,
            entries,
            relay_to: None,
            relayed: None,
        };
        let msg = Message {
            src: leader,
            dst: ME,
            leader,
            body: Body::AppendEntries(ae),
        };
        node.handle(*now, Input::Message(msg));
        node.flush(*now);
    }
    assert_eq!(node.role(), Role::Follower);
    assert_eq!(node.commit_index(), 2, "the preamble commits the put");
    node.take_events();
}
