//! Hostile input. Random bytes and mutated valid packets (broken JSON,
//! wrong types, missing and unknown fields, unknown types, huge values, bad
//! addresses, binary garbage, negative and huge numbers, Raft messages from
//! strangers, AppendEntries with absurd indices and terms) go through
//! `codec::decode` and, when they parse, into replicas. Nothing may panic,
//! and a cluster that received them must still elect and commit.
//!
//! Deterministic: `FUZZ_SEEDS=n` runs more seeds, `SEED=s` replays one;
//! a failure names its seed and the replay command.

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};

use replica::io::codec::{decode, encode};
use replica::raft::{Config, Input, Micros, Node, Role};
use replica::rng::Rng;
use shared::{
    Addr, AppendEntries, AppendReply, Body, Entry, Message, PutCmd, RelayAck, Relayed, RequestVote,
    VoteReply,
};

/// Replicas `0000`..`0002`; clients use the course simulator's `N + 16` on.
const REPLICAS: [Addr; 3] = [Addr(0), Addr(1), Addr(2)];
const CLIENT: Addr = Addr(0x13);

/// Random packets, valid and not.
mod hostile {
    use super::*;

    pub fn pick<T: Clone>(rng: &mut Rng, items: &[T]) -> T {
        items[rng.range(0, items.len() as u64 - 1) as usize].clone()
    }

    /// Numbers that break careless arithmetic, and ordinary ones.
    pub fn number(rng: &mut Rng) -> u64 {
        match rng.range(0, 9) {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX - 1,
            3 => 1 << 63,
            4 => u32::MAX as u64 + 1,
            5 => rng.next_u64(),
            _ => rng.range(0, 20),
        }
    }

    pub fn text(rng: &mut Rng) -> String {
        match rng.range(0, 14) {
            0 => String::new(),
            1 => "x".repeat(rng.range(4_000, 17_000) as usize),
            2 => "é✓😀\u{0}\u{7f}\"\\/\n".into(),
            3 => "FFFF".into(),
            _ => (0..rng.range(1, 20))
                .map(|_| (b'A' + rng.range(0, 25) as u8) as char)
                .collect(),
        }
    }

    pub fn addr(rng: &mut Rng) -> Addr {
        match rng.range(0, 5) {
            0 => Addr::BROADCAST,
            1 => Addr(rng.range(0, u16::MAX as u64) as u16),
            2 => CLIENT,
            _ => pick(rng, &REPLICAS),
        }
    }

    fn entry(rng: &mut Rng) -> Entry {
        let put = rng.chance(0.7).then(|| PutCmd {
            key: text(rng),
            value: text(rng),
            client: addr(rng),
            mid: text(rng),
        });
        Entry {
            term: number(rng),
            put,
        }
    }

    pub fn body(rng: &mut Rng) -> Body {
        match rng.range(0, 9) {
            0 => Body::Hello,
            1 => Body::Get {
                mid: text(rng),
                key: text(rng),
            },
            2 => Body::Put {
                mid: text(rng),
                key: text(rng),
                value: text(rng),
            },
            3 => Body::Ok {
                mid: text(rng),
                value: rng.chance(0.5).then(|| text(rng)),
            },
            4 if rng.chance(0.5) => Body::Fail { mid: text(rng) },
            4 => Body::Redirect { mid: text(rng) },
            5 => Body::RequestVote(RequestVote {
                term: number(rng),
                last_index: number(rng),
                last_term: number(rng),
                pre: rng.chance(0.5),
            }),
            6 => Body::VoteReply(VoteReply {
                term: number(rng),
                granted: rng.chance(0.5),
                pre: rng.chance(0.5),
            }),
            7 => Body::AppendEntries(AppendEntries {
                term: number(rng),
                prev_index: number(rng),
                prev_term: number(rng),
                commit: number(rng),
                ts: number(rng),
                heartbeat: number(rng),
                entries: (0..rng.range(0, 4)).map(|_| entry(rng)).collect(),
                relay_to: rng.chance(0.3).then(|| addr(rng)),
                relayed: rng.chance(0.3).then(|| Relayed {
                    leader: addr(rng),
                    index: number(rng),
                }),
            }),
            _ => Body::AppendReply(AppendReply {
                term: number(rng),
                success: rng.chance(0.5),
                index: number(rng),
                conflict_term: rng.chance(0.5).then(|| number(rng)),
                ts: number(rng),
                commit: number(rng),
                relay_ack: rng.chance(0.3).then(|| RelayAck {
                    from: addr(rng),
                    index: number(rng),
                }),
            }),
        }
    }

    pub fn message(rng: &mut Rng) -> Message {
        Message {
            src: addr(rng),
            dst: addr(rng),
            leader: addr(rng),
            body: body(rng),
        }
    }

    fn json_value(rng: &mut Rng) -> serde_json::Value {
        use serde_json::json;
        match rng.range(0, 14) {
            0 => json!(null),
            1 => json!(true),
            2 => json!(-1),
            3 => json!(-1.5),
            4 => json!(1e300),
            5 => serde_json::from_str("18446744073709551616").expect("a JSON number"),
            6 => json!(u64::MAX),
            7 => json!(""),
            8 => json!("ZZZZ"),
            9 => json!(text(rng)),
            10 => json!([]),
            11 => json!({}),
            12 => json!(pick(
                rng,
                &["vote", "voted", "append", "appended", "get", "put", "ok", "nope", "APPEND"]
            )),
            _ => serde_json::from_str(&format!("{}1{}", "[".repeat(300), "]".repeat(300)))
                .unwrap_or(json!(0)),
        }
    }

    /// Changes, removes or adds one field, at the top or inside an entry.
    fn mutate_json(rng: &mut Rng, text: &str) -> Vec<u8> {
        let Ok(mut v) = serde_json::from_str::<serde_json::Value>(text) else {
            return text.as_bytes().to_vec();
        };
        let target = match v.get_mut("e").and_then(|e| e.get_mut(0)) {
            Some(entry) if rng.chance(0.3) => entry,
            _ => &mut v,
        };
        if let Some(obj) = target.as_object_mut() {
            let keys: Vec<String> = obj.keys().cloned().collect();
            let key = if keys.is_empty() || rng.chance(0.15) {
                "extra".to_string()
            } else {
                pick(rng, &keys)
            };
            if rng.chance(0.3) {
                obj.remove(&key);
            } else {
                obj.insert(key, json_value(rng));
            }
        }
        serde_json::to_vec(&v).unwrap_or_default()
    }

    /// A packet: valid, mutated, or garbage.
    pub fn packet(rng: &mut Rng) -> Vec<u8> {
        let valid = serde_json::to_string(&message(rng)).expect("messages serialize");
        let mut bytes = valid.clone().into_bytes();
        let len = bytes.len() as u64;
        match rng.range(0, 9) {
            0 => return valid.into_bytes(),
            1 => {
                return (0..rng.range(0, 64))
                    .map(|_| rng.next_u64() as u8)
                    .collect()
            }
            2 => bytes.truncate(rng.range(0, len) as usize),
            3 => {
                for _ in 0..rng.range(1, 4) {
                    let i = rng.range(0, len - 1) as usize;
                    bytes[i] = pick(
                        rng,
                        &[0xFF, 0xC0, 0x00, b'{', b'}', b'"', b'\\', b',', b'9', b'-'],
                    );
                }
            }
            4 => {
                let (a, b) = (rng.range(0, len) as usize, rng.range(0, len) as usize);
                bytes.drain(a.min(b)..a.max(b));
            }
            5 => {
                let other = serde_json::to_vec(&message(rng)).expect("messages serialize");
                bytes.truncate(rng.range(0, len) as usize);
                bytes.extend_from_slice(&other[rng.range(0, other.len() as u64) as usize..]);
            }
            _ => return mutate_json(rng, &valid),
        }
        bytes
    }
}

/// Three replicas in lockstep: every packet is delivered within the
/// millisecond it is sent, and every replica ticks each millisecond.
mod cluster {
    use super::*;

    pub struct Cluster {
        pub nodes: Vec<Node>,
        pub now: Micros,
        queue: VecDeque<Message>,
        /// What clients received.
        pub answers: Vec<Message>,
    }

    impl Cluster {
        pub fn new(seed: u64) -> Cluster {
            let mut rng = Rng::new(seed);
            let nodes = REPLICAS
                .iter()
                .map(|&id| Node::new(id, REPLICAS.to_vec(), Config::default(), rng.next_u64(), 0))
                .collect();
            Cluster {
                nodes,
                now: 0,
                queue: VecDeque::new(),
                answers: Vec::new(),
            }
        }

        /// Feeds one input to replica `i` and queues what it sends. Replica
        /// traffic must always fit in a packet.
        pub fn step(&mut self, i: usize, input: Input) {
            let node = &mut self.nodes[i];
            node.handle(self.now, input);
            let (src, leader) = (node.id(), node.leader_hint());
            for o in node.flush(self.now) {
                let msg = Message {
                    src,
                    dst: o.to,
                    leader,
                    body: o.body,
                };
                let raft = matches!(
                    msg.body,
                    Body::RequestVote(_)
                        | Body::VoteReply(_)
                        | Body::AppendEntries(_)
                        | Body::AppendReply(_)
                );
                assert!(
                    !raft || encode(&msg).is_some(),
                    "an unsendable Raft packet: {}",
                    short(&msg)
                );
                self.queue.push_back(msg);
            }
        }

        /// One millisecond: deliver everything queued, then tick everyone.
        pub fn millisecond(&mut self) {
            self.now += 1_000;
            while let Some(msg) = self.queue.pop_front() {
                let to: Vec<usize> = if msg.dst.is_broadcast() {
                    (0..3).filter(|&i| REPLICAS[i] != msg.src).collect()
                } else {
                    (0..3).filter(|&i| REPLICAS[i] == msg.dst).collect()
                };
                if to.is_empty() {
                    self.answers.push(msg.clone());
                }
                for i in to {
                    self.step(i, Input::Message(msg.clone()));
                }
            }
            for i in 0..3 {
                if self.nodes[i].next_deadline(self.now) <= self.now {
                    self.step(i, Input::Tick);
                }
            }
        }

        pub fn run_for(&mut self, us: Micros) {
            let end = self.now + us;
            while self.now < end {
                self.millisecond();
            }
        }

        pub fn leader(&self) -> Option<usize> {
            let top = self.nodes.iter().map(Node::term).max()?;
            (0..3).find(|&i| self.nodes[i].role() == Role::Leader && self.nodes[i].term() == top)
        }

        /// Sends a client request, following redirects, until it is
        /// answered `ok` (returning the value) or `budget` runs out.
        pub fn request(
            &mut self,
            body: impl Fn(String) -> Body,
            budget: Micros,
        ) -> Option<Option<String>> {
            let end = self.now + budget;
            let mut attempt = 0;
            while self.now < end {
                attempt += 1;
                let mid = format!("CHECK{}-{attempt}", self.now);
                let to = self.leader().unwrap_or(0);
                let msg = Message {
                    src: CLIENT,
                    dst: REPLICAS[to],
                    leader: Addr::UNKNOWN,
                    body: body(mid.clone()),
                };
                self.queue.push_back(msg);
                let deadline = (self.now + 300_000).min(end);
                while self.now < deadline {
                    self.millisecond();
                    let answer = self.answers.iter().find_map(|m| match &m.body {
                        Body::Ok { mid: x, value } if *x == mid => Some(Some(value.clone())),
                        Body::Redirect { mid: x } | Body::Fail { mid: x } if *x == mid => {
                            Some(None)
                        }
                        _ => None,
                    });
                    match answer {
                        Some(Some(value)) => return Some(value),
                        Some(None) => break,
                        None => {}
                    }
                }
            }
            None
        }
    }
}

use cluster::Cluster;

/// Debug text cut to a readable length (hostile values can be huge).
fn short(x: &impl std::fmt::Debug) -> String {
    let text = format!("{x:?}");
    match text.char_indices().nth(300) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

fn seeds(default: u64) -> Vec<u64> {
    let var = |name: &str| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
    };
    match var("SEED") {
        Some(s) => vec![s],
        None => (1..=var("FUZZ_SEEDS").unwrap_or(default)).collect(),
    }
}

/// Runs `case` for every seed, turning a panic into a message that names
/// the seed and how to replay it.
fn for_each_seed(test: &str, default: u64, case: impl Fn(u64)) {
    for seed in seeds(default) {
        if let Err(p) = catch_unwind(AssertUnwindSafe(|| case(seed))) {
            let text = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!(
                "{test}: seed {seed} failed: {text}\n\
                 replay: SEED={seed} cargo test -p replica --test robustness -- --exact {test}"
            );
        }
    }
}

/// A cluster that has elected a leader and committed its no-op.
fn settled_cluster(seed: u64) -> Cluster {
    let mut c = Cluster::new(seed);
    c.run_for(3_000_000);
    let l = c.leader().expect("a quiet cluster elects a leader");
    assert!(
        c.nodes[l].commit_index() >= 1,
        "the leader commits its no-op"
    );
    c
}

/// The cluster still works: one leader, and a put then a get through it.
fn assert_cluster_works(c: &mut Cluster, tag: &str) {
    c.run_for(4_000_000);
    assert!(c.leader().is_some(), "no leader after the hostile packets");
    let key = format!("key-{tag}");
    let put = c.request(
        |mid| Body::Put {
            mid,
            key: key.clone(),
            value: tag.to_string(),
        },
        5_000_000,
    );
    assert_eq!(
        put,
        Some(None),
        "a put is committed after the hostile packets"
    );
    let got = c.request(
        |mid| Body::Get {
            mid,
            key: key.clone(),
        },
        5_000_000,
    );
    assert_eq!(got, Some(Some(tag.to_string())), "the get reads the put");
}

#[test]
fn decoding_never_panics_and_round_trips_what_it_accepts() {
    for_each_seed(
        "decoding_never_panics_and_round_trips_what_it_accepts",
        40,
        |seed| {
            let mut rng = Rng::new(seed);
            for _ in 0..400 {
                let packet = hostile::packet(&mut rng);
                if let Ok(msg) = decode(&packet) {
                    if let Some(bytes) = encode(&msg) {
                        assert!(
                            decode(&bytes).ok() == Some(msg),
                            "re-decoding {}",
                            short(&packet)
                        );
                    }
                }
            }
        },
    );
}

#[test]
fn a_follower_and_a_leader_survive_any_packet_that_decodes() {
    // Including forged Raft traffic from peers: no safety can be promised
    // then, but nothing may panic and each replica must keep answering.
    for_each_seed(
        "a_follower_and_a_leader_survive_any_packet_that_decodes",
        40,
        |seed| {
            let mut rng = Rng::new(seed);
            let mut c = settled_cluster(seed);
            let leader = c.leader().expect("settled");
            let follower = (leader + 1) % 3;
            for _ in 0..300 {
                let Ok(msg) = decode(&hostile::packet(&mut rng)) else {
                    continue;
                };
                c.now += rng.range(0, 200_000);
                for i in [leader, follower] {
                    let node = &mut c.nodes[i];
                    node.handle(c.now, Input::Message(msg.clone()));
                    node.handle(c.now, Input::Tick);
                    node.flush(c.now);
                    node.next_deadline(c.now);
                    assert!(node.applied_index() <= node.commit_index());
                    assert!(node.commit_index() <= node.log().last_index());
                }
            }
            // Each still answers a client, within its hold timeout at worst.
            for i in [leader, follower] {
                let node = &mut c.nodes[i];
                let get = Body::Get {
                    mid: "LAST".into(),
                    key: "k".into(),
                };
                node.handle(
                    c.now,
                    Input::Message(Message {
                        src: CLIENT,
                        dst: node.id(),
                        leader: Addr::UNKNOWN,
                        body: get,
                    }),
                );
                let mut answered = false;
                let end = c.now + 2 * Config::default().hold_timeout;
                while c.now < end && !answered {
                    c.now += 10_000;
                    node.handle(c.now, Input::Tick);
                    answered = node.flush(c.now).iter().any(|o| o.to == CLIENT);
                }
                assert!(answered, "{} stopped answering clients", node.id());
            }
        },
    );
}

#[test]
fn a_cluster_fed_hostile_packets_still_elects_and_commits() {
    // Everything from strangers, and stale Raft traffic from peers, must be
    // harmless: the cluster keeps its leader or elects another, and commits.
    for_each_seed(
        "a_cluster_fed_hostile_packets_still_elects_and_commits",
        12,
        |seed| {
            let mut rng = Rng::new(seed);
            let mut c = settled_cluster(seed);
            let mut fed = 0;
            while fed < 300 {
                let Ok(mut msg) = decode(&hostile::packet(&mut rng)) else {
                    continue;
                };
                let i = rng.range(0, 2) as usize;
                if !harmless_for(&c.nodes[i], &mut msg) {
                    continue;
                }
                fed += 1;
                c.step(i, Input::Message(msg));
                if rng.chance(0.2) {
                    c.millisecond();
                }
            }
            assert_cluster_works(&mut c, &format!("seed{seed}"));
        },
    );
}

/// Packets a correct replica must shrug off: anything from a non-peer, and
/// Raft messages from a peer only with a term older than the receiver's
/// (a newer one is a peer's word, which Raft trusts). Client requests from
/// a peer's address are fine too: they are just odd clients.
fn harmless_for(node: &Node, msg: &mut Message) -> bool {
    if !REPLICAS.contains(&msg.src) || msg.src == node.id() {
        return true;
    }
    let stale = node.term().saturating_sub(1);
    match &mut msg.body {
        Body::RequestVote(rv) => rv.term = rv.term.min(stale),
        Body::VoteReply(r) => r.term = r.term.min(stale),
        Body::AppendEntries(ae) => ae.term = ae.term.min(stale),
        Body::AppendReply(r) => r.term = r.term.min(stale),
        _ => {}
    }
    node.term() > 0
}

#[test]
fn absurd_raft_fields_from_a_peer_do_not_panic() {
    // Terms and indices at the edge of u64, one at a time, to a leader.
    let absurd = [u64::MAX, u64::MAX - 1, 1 << 63];
    let mut bodies = Vec::new();
    for &x in &absurd {
        bodies.push(Body::AppendEntries(AppendEntries {
            term: x,
            prev_index: 0,
            prev_term: 0,
            commit: x,
            ts: x,
            heartbeat: x,
            entries: vec![Entry { term: x, put: None }],
            relay_to: None,
            relayed: None,
        }));
        bodies.push(Body::AppendEntries(AppendEntries {
            term: 1,
            prev_index: x,
            prev_term: x,
            commit: x,
            ts: x,
            heartbeat: 0,
            entries: vec![Entry { term: 1, put: None }],
            relay_to: None,
            relayed: None,
        }));
        bodies.push(Body::AppendReply(AppendReply {
            term: 1,
            success: true,
            index: x,
            conflict_term: None,
            ts: x,
            commit: x,
            relay_ack: None,
        }));
        bodies.push(Body::AppendReply(AppendReply {
            term: 1,
            success: false,
            index: x,
            conflict_term: Some(x),
            ts: x,
            commit: x,
            relay_ack: None,
        }));
        bodies.push(Body::AppendReply(AppendReply {
            term: x,
            success: false,
            index: 0,
            conflict_term: None,
            ts: 0,
            commit: 0,
            relay_ack: None,
        }));
        bodies.push(Body::RequestVote(RequestVote {
            term: x,
            last_index: x,
            last_term: x,
            pre: true,
        }));
        bodies.push(Body::RequestVote(RequestVote {
            term: x,
            last_index: x,
            last_term: x,
            pre: false,
        }));
        bodies.push(Body::VoteReply(VoteReply {
            term: x,
            granted: true,
            pre: true,
        }));
        bodies.push(Body::VoteReply(VoteReply {
            term: x,
            granted: false,
            pre: false,
        }));
    }
    for (n, body) in bodies.into_iter().enumerate() {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut c = settled_cluster(7);
            let l = c.leader().expect("settled");
            let peer = REPLICAS[(l + 1) % 3];
            let msg = Message {
                src: peer,
                dst: REPLICAS[l],
                leader: Addr::UNKNOWN,
                body: body.clone(),
            };
            c.step(l, Input::Message(msg));
            c.run_for(10_000_000);
        }));
        assert!(
            result.is_ok(),
            "case {n}: a replica panicked on {}",
            short(&body)
        );
    }
}

/// The packets that once ended a run of the Python simulator, and their
/// kin: each must be an error (or, where it is valid, a message), never a
/// panic, and never a recursion as deep as the packet.
mod pathological {
    pub const HEAD: &str = r#""src":"0001","dst":"0002","leader":"FFFF""#;

    /// `n` nested arrays around `inner`, closed.
    pub fn nested(n: usize, inner: &str) -> String {
        format!("{}{inner}{}", "[".repeat(n), "]".repeat(n))
    }

    /// (packet, whether it decodes).
    pub fn packets() -> Vec<(Vec<u8>, bool)> {
        let big_int = "9".repeat(5000);
        let mib = "x".repeat(1 << 20);
        let text = |s: String, ok: bool| (s.into_bytes(), ok);
        vec![
            text("[".repeat(16_000), false),
            text(nested(16_000, ""), false),
            text("{".repeat(16_000), false),
            // Deep in an unknown field: skipped without recursion.
            text(
                format!(r#"{{{HEAD},"type":"hello","x":{}}}"#, nested(16_000, "1")),
                true,
            ),
            text(
                format!(r#"{{{HEAD},"type":"hello","x":{}"#, "[".repeat(16_000)),
                false,
            ),
            // Deep where a typed field is: the type stops it at once.
            text(
                format!(
                    r#"{{{HEAD},"type":"append","t":1,"pi":0,"pt":0,"c":0,"ts":0,"e":{}}}"#,
                    nested(16_000, "")
                ),
                false,
            ),
            text(
                format!(
                    r#"{{{HEAD},"type":"append","t":1,"pi":0,"pt":0,"c":0,"ts":0,"rl":{}}}"#,
                    "{\"l\":".repeat(16_000)
                ),
                false,
            ),
            // Huge numbers: out of range where a u64 belongs, skipped elsewhere.
            text(
                format!(r#"{{{HEAD},"type":"vote","t":{big_int},"li":0,"lt":0}}"#),
                false,
            ),
            text(
                format!(r#"{{{HEAD},"type":"vote","t":1e999,"li":0,"lt":0}}"#),
                false,
            ),
            text(
                format!(r#"{{{HEAD},"type":"hello","extra":{big_int}}}"#),
                true,
            ),
            text(format!(r#"{{{HEAD},"type":"hello","extra":1e999}}"#), true),
            text(
                format!(r#"{{{HEAD},"type":"hello","extra":-{big_int}.5e-99999}}"#),
                true,
            ),
            text(format!(r#"{{{HEAD},"type":"hello","extra":NaN}}"#), false),
            text(
                format!(r#"{{{HEAD},"type":"hello","extra":Infinity}}"#),
                false,
            ),
            // NUL: raw in a string is not JSON; escaped, it is a character.
            text(format!("{{{HEAD},\"type\":\"hel\0lo\"}}"), false),
            text("\0".repeat(64), false),
            text(
                format!(r#"{{{HEAD},"type":"get","MID":"a\u0000b","key":"k"}}"#),
                true,
            ),
            text(
                r#"{"src":"00\u00001","dst":"0002","leader":"FFFF","type":"hello"}"#.to_string(),
                false,
            ),
            // 1 MiB.
            text(
                format!(r#"{{{HEAD},"type":"put","MID":"m","key":"k","value":"{mib}"}}"#),
                true,
            ),
            text(format!(r#"{{{HEAD},"type":"hello","pad":"{mib}"}}"#), true),
            text(mib.clone(), false),
            text("[".repeat(1 << 20), false),
            // Not an object.
            text("[]".into(), false),
            text(r#""hello""#.into(), false),
            text("null".into(), false),
            text("42".into(), false),
            // Wrong field types, and a dst that is not a string.
            text(
                r#"{"src":1,"dst":"0002","leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":"0002","leader":["FFFF"],"type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":"0002","leader":"FFFF","type":7}"#.into(),
                false,
            ),
            text(
                format!(r#"{{{HEAD},"type":"vote","t":"1","li":0,"lt":0}}"#),
                false,
            ),
            text(
                format!(r#"{{{HEAD},"type":"vote","t":-1,"li":0,"lt":0}}"#),
                false,
            ),
            text(
                format!(r#"{{{HEAD},"type":"get","MID":5,"key":"k"}}"#),
                false,
            ),
            text(
                r#"{"src":"0001","dst":2,"leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":null,"leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":{"a":1},"leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":["0002"],"leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            text(
                r#"{"src":"0001","dst":1e999,"leader":"FFFF","type":"hello"}"#.into(),
                false,
            ),
            // Invalid UTF-8.
            (vec![0xff, 0xfe, 0x00], false),
            (
                [&b"{"[..], HEAD.as_bytes(), b",\"type\":\"\xc3(\"}"].concat(),
                false,
            ),
            (b"\xed\xa0\x80".to_vec(), false),
        ]
    }
}

/// Runs `f` on a thread with a 256 KiB stack: a decoder that recursed once
/// per level of a 16,000-deep packet would overflow it (and abort the test).
fn on_a_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .expect("no panic")
}

#[test]
fn pathological_packets_are_errors_without_panic_or_deep_recursion() {
    let outcomes = on_a_small_stack(|| {
        pathological::packets()
            .into_iter()
            .map(|(packet, ok)| {
                (
                    short(&String::from_utf8_lossy(&packet)),
                    ok,
                    decode(&packet),
                )
            })
            .collect::<Vec<_>>()
    });
    for (packet, ok, got) in outcomes {
        assert_eq!(got.is_ok(), ok, "{packet}: {}", short(&got));
    }
}

#[test]
fn serde_json_stops_at_128_levels() {
    // The limit of serde_json's default features (no `unbounded_depth`):
    // what bounds the recursion of anything read as a generic value, as
    // kvfloor reads packets.
    use serde_json::Value;
    let depth = |n: usize| serde_json::from_str::<Value>(&pathological::nested(n, ""));
    assert!(depth(127).is_ok());
    let err = depth(128).unwrap_err().to_string();
    assert!(err.contains("recursion limit exceeded"), "{err}");
    let err = on_a_small_stack(move || depth(16_000).unwrap_err().to_string());
    assert!(err.contains("recursion limit exceeded"), "{err}");
    let obj = |n: usize| format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
    assert!(serde_json::from_str::<Value>(&obj(127)).is_ok());
    assert!(serde_json::from_str::<Value>(&obj(128)).is_err());
}
