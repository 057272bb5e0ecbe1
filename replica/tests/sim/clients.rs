//! Simulated clients, behaving like the course simulator's: each sends a
//! request to the replica it believes leads (a random living one when it
//! believes none), takes the `leader` field of every answer as its new
//! belief, and after a `redirect` or `fail` at once retries with a new MID.
//! Clients do not wait for answers before sending their next request.
//!
//! Every attempt is kept in the history with its outcome, and the contract
//! rules are checked as answers arrive: an answer must name a MID the
//! client sent, and a MID may be answered again only by a second `ok`.

use replica::raft::Micros;
use shared::{Addr, Body, Message};

use super::world::{Event, World};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Put,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Never answered: a put may or may not have taken effect.
    Pending,
    Ok {
        at: Micros,
        value: Option<String>,
    },
    Redirect {
        at: Micros,
    },
    Fail {
        at: Micros,
    },
}

/// One attempt: one MID.
#[derive(Debug, Clone)]
pub struct Op {
    pub client: usize,
    /// The logical request this attempt belongs to (retries share it).
    pub chain: usize,
    pub kind: Kind,
    pub key: String,
    /// The value written (puts only; every put writes a unique value).
    pub value: String,
    pub mid: String,
    pub invoked: Micros,
    pub outcome: Outcome,
}

impl Op {
    /// When the client got its `ok`, if it did.
    pub fn ok_at(&self) -> Option<Micros> {
        match self.outcome {
            Outcome::Ok { at, .. } => Some(at),
            _ => None,
        }
    }
}

/// The MID of attempt `i` of the history, and back.
pub fn mid_of(i: usize) -> String {
    format!("M{i:06}")
}

pub fn op_of_mid(mid: &str) -> Option<usize> {
    mid.strip_prefix('M')?.parse().ok()
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub clients: usize,
    pub keys: usize,
    /// Probability that a new request is a get.
    pub get_fraction: f64,
    /// Mean gap between one client's requests.
    pub mean_gap: Micros,
    pub from: Micros,
    pub until: Micros,
    /// A chain of redirects is abandoned after this many attempts.
    pub max_attempts: usize,
    /// Probability that a put's value is padded to 1–4.2 KB (around the
    /// core's entry size limit, and enough to fill AppendEntries batches).
    pub big_values: f64,
}

pub struct Clients {
    pub ops: Vec<Op>,
    /// Contract violations seen so far (the run fails on the first).
    pub violations: Vec<String>,
    /// Second `ok` answers to a MID (allowed, counted like the simulator).
    pub duplicates: u64,
    pub chains: usize,
    work: Workload,
    addrs: Vec<Addr>,
    belief: Vec<Option<usize>>,
    attempts: Vec<usize>,
}

impl Clients {
    /// Clients get the course simulator's addresses: `N + 16` onwards.
    pub fn new(work: Workload, replicas: usize) -> Clients {
        let addrs = (0..work.clients)
            .map(|c| Addr((replicas + 16 + c) as u16))
            .collect();
        let belief = vec![None; work.clients];
        Clients {
            ops: Vec::new(),
            violations: Vec::new(),
            duplicates: 0,
            chains: 0,
            work,
            addrs,
            belief,
            attempts: Vec::new(),
        }
    }

    pub fn keys(&self) -> Vec<String> {
        (0..self.work.keys).map(key_name).collect()
    }

    pub fn start(&mut self, world: &mut World) {
        for c in 0..self.work.clients {
            let at = self.work.from + world.rng().range(0, self.work.mean_gap);
            world.schedule(at, Event::ClientWake(c));
        }
    }

    /// The client wakes up: a new request, and the next wake-up.
    pub fn wake(&mut self, world: &mut World, c: usize) {
        if world.now >= self.work.until {
            return;
        }
        let kind = if world.rng().chance(self.work.get_fraction) {
            Kind::Get
        } else {
            Kind::Put
        };
        let key = key_name(world.rng().range(0, self.work.keys as u64 - 1) as usize);
        let chain = self.chains;
        self.chains += 1;
        self.attempts.push(0);
        self.send(world, c, chain, kind, key);
        let gap = world
            .rng()
            .range(self.work.mean_gap / 2, self.work.mean_gap * 3 / 2);
        world.schedule(world.now + gap, Event::ClientWake(c));
    }

    /// Client `c` sends one request now, outside the workload's own timing
    /// (for tests that script their requests): to replica `target` if
    /// given, else as [`Clients::wake`] would (its believed leader, or a
    /// random living replica). Without `retry`, a redirect or fail ends the
    /// chain. Returns the chain.
    #[allow(dead_code)] // only the lab tests use it
    pub fn request(
        &mut self,
        world: &mut World,
        c: usize,
        target: Option<usize>,
        kind: Kind,
        key: String,
        retry: bool,
    ) -> usize {
        let chain = self.chains;
        self.chains += 1;
        let used = if retry { 0 } else { self.work.max_attempts };
        self.attempts.push(used.saturating_sub(1));
        if let Some(t) = target {
            self.belief[c] = Some(t);
        }
        self.send(world, c, chain, kind, key);
        chain
    }

    /// Every client forgets who leads (the simulator does this when it
    /// kills the leader or starts a hard partition).
    pub fn forget_leader(&mut self) {
        self.belief.iter_mut().for_each(|b| *b = None);
    }

    fn send(&mut self, world: &mut World, c: usize, chain: usize, kind: Kind, key: String) {
        let target = match self.belief[c].filter(|&b| world.is_alive(b)) {
            Some(b) => b,
            None => {
                self.belief[c] = None;
                let alive = world.alive();
                if alive.is_empty() {
                    return;
                }
                alive[world.rng().range(0, alive.len() as u64 - 1) as usize]
            }
        };
        let i = self.ops.len();
        let mid = mid_of(i);
        let value = match kind {
            Kind::Put if world.rng().chance(self.work.big_values) => {
                let len = world.rng().range(1_000, 4_200) as usize;
                format!("v{i}-{}", "x".repeat(len))
            }
            Kind::Put => format!("v{i}"),
            Kind::Get => String::new(),
        };
        let body = match kind {
            Kind::Get => Body::Get {
                mid: mid.clone(),
                key: key.clone(),
            },
            Kind::Put => Body::Put {
                mid: mid.clone(),
                key: key.clone(),
                value: value.clone(),
            },
        };
        self.attempts[chain] += 1;
        self.ops.push(Op {
            client: c,
            chain,
            kind,
            key,
            value,
            mid,
            invoked: world.now,
            outcome: Outcome::Pending,
        });
        let leader = self.belief[c].map_or(Addr::UNKNOWN, |b| world.ids[b]);
        let msg = Message {
            src: self.addrs[c],
            dst: world.ids[target],
            leader,
            body,
        };
        world.dispatch(vec![msg]);
    }

    /// An answer reaches a client.
    pub fn receive(&mut self, world: &mut World, msg: Message) {
        let now = world.now;
        let (mid, outcome) = match msg.body {
            Body::Ok { mid, value } => (mid, Outcome::Ok { at: now, value }),
            Body::Redirect { mid } => (mid, Outcome::Redirect { at: now }),
            Body::Fail { mid } => (mid, Outcome::Fail { at: now }),
            other => {
                let t = other.type_name();
                self.violate(format!(
                    "{} sent a {t:?} packet to client {}",
                    msg.src, msg.dst
                ));
                return;
            }
        };
        let Some(i) = op_of_mid(&mid).filter(|&i| i < self.ops.len()) else {
            self.violate(format!("{} answered an unknown MID {mid:?}", msg.src));
            return;
        };
        let op = &self.ops[i];
        if self.addrs[op.client] != msg.dst {
            self.violate(format!(
                "{} sent the answer for {mid} to {}, not its client",
                msg.src, msg.dst
            ));
            return;
        }
        match (&op.outcome, &outcome) {
            (Outcome::Pending, _) => {}
            (Outcome::Ok { .. }, Outcome::Ok { .. }) => {
                self.duplicates += 1;
                return;
            }
            (before, _) => {
                let v = format!(
                    "{} answered {mid} with {outcome:?} after {before:?}",
                    msg.src
                );
                self.violate(v);
                return;
            }
        }
        let (c, chain, kind, key) = (op.client, op.chain, op.kind, op.key.clone());
        if let (Kind::Get, Outcome::Ok { value: None, .. }) = (kind, &outcome) {
            self.violate(format!(
                "{} answered get {mid} with ok but no value",
                msg.src
            ));
        }
        self.belief[c] = world.index_of(msg.leader);
        let retry = matches!(outcome, Outcome::Redirect { .. } | Outcome::Fail { .. });
        self.ops[i].outcome = outcome;
        if retry && self.attempts[chain] < self.work.max_attempts {
            self.send(world, c, chain, kind, key);
        }
    }

    fn violate(&mut self, v: String) {
        self.violations.push(v);
    }
}

fn key_name(k: usize) -> String {
    format!("k{k}")
}
