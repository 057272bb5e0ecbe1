//! What a replica keeps of its clients in every role: requests held while
//! no leader is known, puts it appended as leader and still owes an answer,
//! the MIDs it saw last, and whom it redirected lately. How requests are
//! routed and answered is in `requests.rs`.

use std::collections::{BTreeMap, HashSet, VecDeque};

use shared::events::Op;
use shared::Addr;

use super::{Micros, RaftLog};

/// A client request as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Request {
    Get {
        mid: String,
        key: String,
    },
    Put {
        mid: String,
        key: String,
        value: String,
    },
}

impl Request {
    pub(super) fn op(&self) -> Op {
        match self {
            Request::Get { .. } => Op::Get,
            Request::Put { .. } => Op::Put,
        }
    }

    pub(super) fn mid(&self) -> &str {
        match self {
            Request::Get { mid, .. } | Request::Put { mid, .. } => mid,
        }
    }

    pub(super) fn into_mid(self) -> String {
        match self {
            Request::Get { mid, .. } | Request::Put { mid, .. } => mid,
        }
    }
}

/// A request held while no leader is known.
#[derive(Debug, Clone)]
pub(super) struct Held {
    pub client: Addr,
    pub req: Request,
    pub arrived: Micros,
}

/// A put this replica appended as leader and has not answered yet.
#[derive(Debug, Clone)]
pub(super) struct Owed {
    pub term: u64,
    pub client: Addr,
    pub mid: String,
    pub arrived: Micros,
    pub appended: Micros,
}

/// The most recent MIDs, to drop a request seen twice.
#[derive(Debug)]
pub(super) struct MidFilter {
    set: HashSet<String>,
    order: VecDeque<String>,
    cap: usize,
}

impl MidFilter {
    pub fn new(cap: usize) -> MidFilter {
        MidFilter {
            set: HashSet::new(),
            order: VecDeque::new(),
            cap: cap.max(1),
        }
    }

    /// Records `mid`; false if it was already there.
    pub fn insert(&mut self, mid: &str) -> bool {
        if self.set.contains(mid) {
            return false;
        }
        self.set.insert(mid.to_string());
        self.order.push_back(mid.to_string());
        if self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        true
    }

    /// Forgets `mid`, so that it is accepted once more.
    pub fn forget(&mut self, mid: &str) {
        self.set.remove(mid);
    }
}

/// Clients remembered for the bounce check; beyond this, only recent ones.
const MAX_REDIRECTED: usize = 256;

#[derive(Debug)]
pub(super) struct Clients {
    pub held: VecDeque<Held>,
    /// Puts this replica appended as leader and has not answered, by
    /// (index, term): our log can be cut back by a later leader and refilled
    /// by us in a later term, so one index may owe puts from several terms.
    pub owed: BTreeMap<(u64, u64), Owed>,
    pub recent_mids: MidFilter,
    /// When each client was last redirected by us, to spot bounces.
    redirected_at: BTreeMap<Addr, Micros>,
}

impl Clients {
    pub(super) fn new(mid_memory: usize) -> Clients {
        Clients {
            held: VecDeque::new(),
            owed: BTreeMap::new(),
            recent_mids: MidFilter::new(mid_memory),
            redirected_at: BTreeMap::new(),
        }
    }

    /// `client` was redirected at `now` and came back within `window`.
    pub(super) fn bounced(&self, client: Addr, now: Micros, window: Micros) -> bool {
        self.redirected_at
            .get(&client)
            .is_some_and(|&t| now < t + window)
    }

    /// `client` is being redirected at `now`; entries older than `window`
    /// make room when the table is full.
    pub(super) fn remember_redirect(&mut self, client: Addr, now: Micros, window: Micros) {
        if self.redirected_at.len() >= MAX_REDIRECTED {
            self.redirected_at.retain(|_, t| now < *t + window);
        }
        if self.redirected_at.len() < MAX_REDIRECTED {
            self.redirected_at.insert(client, now);
        }
    }

    /// A get from `client` on a key whose put from the same client we
    /// appended as leader (still at its index in `log`) and have not
    /// answered yet. Passed on to the leader, it could be answered with the
    /// put's value before our answer to the put reaches the client, which
    /// would then hold a value it had not been told of (the simulator
    /// counts that as incorrect; found with configs/big-7.json: a hard
    /// partition heals, the deposed leader hears of the commit and
    /// redirects its held gets in the same pass). It is held until the put
    /// is settled, past its hold if need be.
    pub(super) fn waits_for_our_put(&self, client: Addr, req: &Request, log: &RaftLog) -> bool {
        let Request::Get { key, .. } = req else {
            return false;
        };
        self.owed.iter().any(|(&(index, term), o)| {
            o.client == client
                && log.get(index).is_some_and(|e| {
                    e.term == term && e.put.as_ref().is_some_and(|p| p.key == *key)
                })
        })
    }

    /// When the first held request that may expire does, held for
    /// `hold_timeout`.
    pub(super) fn held_deadline(&self, log: &RaftLog, hold_timeout: Micros) -> Option<Micros> {
        self.held
            .iter()
            .find(|h| !self.waits_for_our_put(h.client, &h.req, log))
            .map(|h| h.arrived + hold_timeout)
    }

    /// Takes the held requests out, but for those `keep` says stay.
    pub(super) fn release_held(&mut self, keep: impl Fn(&Clients, &Held) -> bool) -> Vec<Held> {
        let mut released = Vec::new();
        for h in std::mem::take(&mut self.held) {
            if keep(self, &h) {
                self.held.push_back(h);
            } else {
                released.push(h);
            }
        }
        released
    }

    /// The puts owed at `index`, whatever their term, taken out.
    pub(super) fn take_owed_at(&mut self, index: u64) -> Vec<Owed> {
        let keys: Vec<(u64, u64)> = self
            .owed
            .range((index, 0)..=(index, u64::MAX))
            .map(|(key, _)| *key)
            .collect();
        keys.into_iter()
            .map(|key| self.owed.remove(&key).expect("key from the same map"))
            .collect()
    }

    /// Requests waiting here (held, or puts not yet answered).
    pub(super) fn queued(&self) -> usize {
        self.held.len() + self.owed.len()
    }
}
