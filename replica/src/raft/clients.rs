//! What a replica keeps of its clients in every role: requests held while
//! no leader is known, puts it appended as leader and still owes an answer,
//! the MIDs it saw last, and whom it redirected lately. How requests are
//! routed and answered is in `requests.rs`.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::rc::Rc;

use shared::events::Op;
use shared::Addr;

use super::{Config, Micros, RaftLog};

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

    /// Bytes it holds, as counted against the queues' byte budgets.
    pub(super) fn bytes(&self) -> usize {
        REQUEST_OVERHEAD
            + match self {
                Request::Get { mid, key } => mid.len() + key.len(),
                Request::Put { mid, key, value } => mid.len() + key.len() + value.len(),
            }
    }

    pub(super) fn into_mid(self) -> String {
        match self {
            Request::Get { mid, .. } | Request::Put { mid, .. } => mid,
        }
    }
}

/// What a queued request costs beyond its strings (the record and the
/// strings' headers), for the byte budgets.
pub(super) const REQUEST_OVERHEAD: usize = 96;

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

/// The most recent MIDs, to drop a request seen twice: each kept once
/// (the set and the eviction order share it), at most `cap` of them and
/// `byte_cap` bytes of MIDs.
#[derive(Debug)]
pub(super) struct MidFilter {
    set: HashSet<Rc<str>>,
    order: VecDeque<Rc<str>>,
    bytes: usize,
    cap: usize,
    byte_cap: usize,
}

impl MidFilter {
    pub fn new(cap: usize, byte_cap: usize) -> MidFilter {
        MidFilter {
            set: HashSet::new(),
            order: VecDeque::new(),
            bytes: 0,
            cap: cap.max(1),
            byte_cap,
        }
    }

    /// Records `mid`; false if it was already there.
    pub fn insert(&mut self, mid: &str) -> bool {
        if self.set.contains(mid) {
            return false;
        }
        let mid: Rc<str> = Rc::from(mid);
        self.bytes += mid.len();
        self.set.insert(Rc::clone(&mid));
        self.order.push_back(mid);
        while self.order.len() > self.cap || (self.bytes > self.byte_cap && self.order.len() > 1) {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.set.remove(&old);
            self.bytes -= old.len();
        }
        true
    }

    /// Forgets `mid`, so that it is accepted once more (its copy stays in
    /// the eviction order, and in the byte count, until its turn comes).
    pub fn forget(&mut self, mid: &str) {
        self.set.remove(mid);
    }

    #[cfg(test)]
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Clients remembered for the bounce check; beyond this, only recent ones.
const MAX_REDIRECTED: usize = 256;

#[derive(Debug)]
pub(super) struct Clients {
    /// In arrival order; at most `max_held` of them and `max_held_bytes`
    /// bytes (`Request::bytes`).
    held: VecDeque<Held>,
    held_bytes: usize,
    max_held: usize,
    max_held_bytes: usize,
    /// Puts this replica appended as leader and has not answered, by
    /// (index, term): our log can be cut back by a later leader and refilled
    /// by us in a later term, so one index may owe puts from several terms.
    pub owed: BTreeMap<(u64, u64), Owed>,
    pub recent_mids: MidFilter,
    /// When each client was last redirected by us, to spot bounces.
    redirected_at: BTreeMap<Addr, Micros>,
}

impl Clients {
    pub(super) fn new(cfg: &Config) -> Clients {
        Clients {
            held: VecDeque::new(),
            held_bytes: 0,
            max_held: cfg.max_queued_requests,
            max_held_bytes: cfg.max_queued_bytes,
            owed: BTreeMap::new(),
            recent_mids: MidFilter::new(cfg.mid_memory, cfg.mid_memory_bytes),
            redirected_at: BTreeMap::new(),
        }
    }

    /// Holds `h`, or hands it back when the queue is full (by count or
    /// bytes).
    pub(super) fn hold(&mut self, h: Held) -> Result<(), Held> {
        let bytes = h.req.bytes();
        if self.held.len() >= self.max_held || self.held_bytes + bytes > self.max_held_bytes {
            return Err(h);
        }
        self.held_bytes += bytes;
        self.held.push_back(h);
        Ok(())
    }

    pub(super) fn has_held(&self) -> bool {
        !self.held.is_empty()
    }

    /// Every held request, taken out.
    pub(super) fn take_held(&mut self) -> VecDeque<Held> {
        self.held_bytes = 0;
        std::mem::take(&mut self.held)
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
        for h in self.take_held() {
            if keep(self, &h) {
                self.held_bytes += h.req.bytes();
                self.held.push_back(h);
            } else {
                released.push(h);
            }
        }
        released
    }

    /// The indices up to `index` at which puts are owed.
    pub(super) fn owed_indices_through(&self, index: u64) -> Vec<u64> {
        let mut indices: Vec<u64> = self
            .owed
            .range(..=(index, u64::MAX))
            .map(|(&(i, _), _)| i)
            .collect();
        indices.dedup();
        indices
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mid_is_kept_once_and_the_oldest_go_past_the_byte_cap() {
        let mut m = MidFilter::new(100, 10);
        assert!(m.insert("AAAA"));
        assert!(!m.insert("AAAA"), "seen");
        assert!(m.insert("BBBB"));
        assert_eq!(m.bytes(), 8, "one copy of each");
        assert!(m.insert("CCCC"));
        assert_eq!(m.bytes(), 8, "AAAA went for the cap");
        assert!(m.insert("AAAA"), "forgotten, so new again");
        m.forget("CCCC");
        assert!(m.insert("CCCC"));
    }

    #[test]
    fn the_count_cap_still_holds() {
        let mut m = MidFilter::new(2, 1 << 20);
        for mid in ["A", "B", "C"] {
            assert!(m.insert(mid));
        }
        assert!(m.insert("A"), "the oldest was dropped");
        assert!(!m.insert("C"));
    }

    #[test]
    fn held_requests_are_counted_in_bytes_as_they_come_and_go() {
        let cfg = Config {
            max_queued_bytes: 2 * (REQUEST_OVERHEAD + 4),
            ..Config::default()
        };
        let mut c = Clients::new(&cfg);
        let held = |mid: &str| Held {
            client: Addr(9),
            req: Request::Get {
                mid: mid.into(),
                key: "k".into(),
            },
            arrived: 0,
        };
        assert!(c.hold(held("G1a")).is_ok());
        assert!(c.hold(held("G2a")).is_ok());
        assert!(c.hold(held("G3a")).is_err(), "over the byte budget");
        let released = c.release_held(|_, h| h.req.mid() == "G1a");
        assert_eq!(released.len(), 1);
        assert!(c.hold(held("G3a")).is_ok(), "room again");
        assert!(c.hold(held("G4a")).is_err());
        assert_eq!(c.take_held().len(), 2);
        assert!(c.hold(held("G4a")).is_ok());
    }
}
