//! Raft's safety properties (Raft §5.4, figure 3), checked after every step
//! of every replica. The checks are incremental: each replica's log is
//! compared with a shadow copy of its terms, and only what changed is looked
//! at closely.
//!
//! - Election safety: at most one leader per term, over the whole run.
//! - Log matching: every `(index, term)` ever seen in any log names one
//!   entry with one predecessor term; by induction, two logs that share an
//!   `(index, term)` are identical up to it.
//! - Committed entries never change or disappear: the longest committed
//!   prefix seen is kept, and every replica's committed prefix must agree
//!   with it; no replica changes an entry at or below its commit index.
//! - State machine safety: a replica's store equals its applied prefix
//!   replayed, and applied prefixes are prefixes of the committed log.
//! - Terms, commit and applied indices never go backwards (but for commit
//!   and applied, which a restart forgets).
//! - One vote per replica per term, across restarts.
//! - Reads: a leader answers a get only if no leader of a newer term had
//!   been elected when the get reached it (what the read lease and
//!   read-index promise; see [`Invariants::check_read`]).

use std::collections::BTreeMap;

use replica::raft::{Micros, Node, Role};
use shared::{Addr, Entry};

#[derive(Default)]
struct Shadow {
    term: u64,
    terms: Vec<u64>,
    commit: u64,
    applied: u64,
    kv: BTreeMap<String, String>,
}

pub struct Invariants {
    /// term -> its leader and when it was first seen leading.
    leaders: BTreeMap<u64, (Addr, Micros)>,
    /// `(index, term)` -> (term at `index - 1`, the entry).
    registry: BTreeMap<(u64, u64), (u64, Entry)>,
    /// The longest committed prefix any replica has reported.
    pub committed: Vec<Entry>,
    shadows: Vec<Shadow>,
    keys: Vec<String>,
    /// (voter, term) -> the candidate it granted its vote to.
    votes: BTreeMap<(Addr, u64), Addr>,
}

impl Invariants {
    /// `keys` are the keys clients use; every store is compared on them.
    pub fn new(replicas: usize, keys: Vec<String>) -> Invariants {
        Invariants {
            leaders: BTreeMap::new(),
            registry: BTreeMap::new(),
            committed: Vec::new(),
            shadows: (0..replicas).map(|_| Shadow::default()).collect(),
            keys,
            votes: BTreeMap::new(),
        }
    }

    /// How many distinct terms had a leader.
    pub fn terms_with_leader(&self) -> usize {
        self.leaders.len()
    }

    /// `node` restarted from its disk: what it forgot (commit, applied,
    /// store) starts again from nothing; its term and log are what it
    /// persisted, which the checks go on from.
    pub fn restarted(&mut self, node: &Node) {
        let log = node.log();
        let first = log.snapshot_index() + 1;
        let compacted = self
            .committed
            .iter()
            .take(first as usize - 1)
            .map(|e| e.term);
        let held = (first..=log.last_index()).filter_map(|i| log.term(i));
        self.shadows[node.id().0 as usize] = Shadow {
            term: node.term(),
            terms: compacted.chain(held).collect(),
            ..Shadow::default()
        };
    }

    /// Votes `from` grants in `out`: never two candidates in one term.
    pub fn check_votes(&mut self, from: Addr, out: &[shared::Message]) -> Result<(), String> {
        for m in out {
            let shared::Body::VoteReply(r) = &m.body else {
                continue;
            };
            if !r.granted || r.pre {
                continue;
            }
            let first = *self.votes.entry((from, r.term)).or_insert(m.dst);
            if first != m.dst {
                return Err(format!(
                    "{from} voted for {first} and for {} in term {}",
                    m.dst, r.term
                ));
            }
        }
        Ok(())
    }

    /// Checks replica `node` after it handled one input at `now`.
    pub fn after_step(&mut self, node: &Node, now: Micros) -> Result<(), String> {
        let id = node.id();
        let s = &mut self.shadows[id.0 as usize];
        if node.term() < s.term {
            return Err(format!(
                "{id}: term went back from {} to {}",
                s.term,
                node.term()
            ));
        }
        s.term = node.term();
        if node.role() == Role::Leader {
            let (first, _) = *self.leaders.entry(node.term()).or_insert((id, now));
            if first != id {
                return Err(format!(
                    "two leaders in term {}: {first} and {id}",
                    node.term()
                ));
            }
        }
        self.check_log(node)?;
        self.check_commit(node)?;
        self.check_state_machine(node)
    }

    /// `node` answers `ok` to a get that reached it at `arrived`. A leader
    /// of a newer term elected before then may have committed writes this
    /// replica has not seen: the answer could be stale. (Under the lease the
    /// answer goes out as the get arrives; under read-index, a quorum
    /// confirmed this leader after the get arrived, which no quorum does
    /// once it has elected a newer leader.)
    pub fn check_read(&self, node: &Node, arrived: Micros) -> Result<(), String> {
        let newer = self
            .leaders
            .range(node.term() + 1..)
            .find(|(_, (_, at))| *at < arrived);
        match newer {
            None => Ok(()),
            Some((term, (leader, at))) => Err(format!(
                "{} (term {}) answered a get that reached it at {arrived}µs, \
                 but {leader} had been elected for term {term} at {at}µs",
                node.id(),
                node.term()
            )),
        }
    }

    /// Log matching, and no change at or below the commit index.
    fn check_log(&mut self, node: &Node) -> Result<(), String> {
        let id = node.id();
        let log = node.log();
        let last = log.last_index();
        let s = &mut self.shadows[id.0 as usize];
        let old_len = s.terms.len() as u64;
        // Compacted entries were committed and checked when they came.
        let first = log.snapshot_index() + 1;
        if first > old_len + 1 {
            // Installed from a leader's snapshot past what we saw: the
            // terms in between are the committed log's.
            let known = self.committed.iter().skip(old_len as usize);
            s.terms
                .extend(known.take((first - 1 - old_len) as usize).map(|e| e.term));
        }
        let old_len = s.terms.len() as u64;
        let mut d = first.min(old_len + 1);
        while d <= old_len.min(last) && log.term(d) == Some(s.terms[d as usize - 1]) {
            d += 1;
        }
        if d <= old_len && d <= s.commit {
            return Err(format!(
                "{id} changed or removed committed entry {d} (commit index {}, log now ends at {last})",
                s.commit
            ));
        }
        s.terms.truncate(d as usize - 1);
        for i in d..=last {
            let entry = log.get(i).expect("index within the log");
            let prev = log.term(i - 1).expect("index within the log");
            s.terms.push(entry.term);
            match self.registry.get(&(i, entry.term)) {
                None => {
                    self.registry.insert((i, entry.term), (prev, entry.clone()));
                }
                Some((p, e)) if *p == prev && e == entry => {}
                Some((p, e)) => {
                    return Err(format!(
                        "log matching: {id} holds ({i}, term {}) = {entry:?} after term {prev}, \
                         but another log held {e:?} after term {p}",
                        entry.term
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_commit(&mut self, node: &Node) -> Result<(), String> {
        let id = node.id();
        let log = node.log();
        let s = &mut self.shadows[id.0 as usize];
        let commit = node.commit_index();
        if commit < s.commit {
            return Err(format!(
                "{id}: commit index went back from {} to {commit}",
                s.commit
            ));
        }
        if commit > log.last_index() {
            return Err(format!(
                "{id}: commit index {commit} beyond its log ({})",
                log.last_index()
            ));
        }
        for i in s.commit + 1..=commit {
            let Some(entry) = log.get(i) else {
                // Installed from a snapshot: committed by the leader that
                // sent it, so already in the committed log.
                if i as usize > self.committed.len() {
                    return Err(format!(
                        "{id}: commit index {commit} past any committed log"
                    ));
                }
                continue;
            };
            match self.committed.get(i as usize - 1) {
                Some(c) if c.term == entry.term => {}
                Some(c) => {
                    return Err(format!(
                        "{id} committed {entry:?} at {i}, but {c:?} was committed there"
                    ));
                }
                None => self.committed.push(entry.clone()),
            }
        }
        s.commit = commit;
        Ok(())
    }

    /// Replays newly applied entries into the shadow store and compares.
    fn check_state_machine(&mut self, node: &Node) -> Result<(), String> {
        let id = node.id();
        let s = &mut self.shadows[id.0 as usize];
        let applied = node.applied_index();
        if applied < s.applied || applied > s.commit {
            return Err(format!(
                "{id}: applied index {applied} (was {}, commit {})",
                s.applied, s.commit
            ));
        }
        for i in s.applied + 1..=applied {
            if let Some(put) = &self.committed[i as usize - 1].put {
                s.kv.insert(put.key.clone(), put.value.clone());
            }
        }
        s.applied = applied;
        let kv = node.kv();
        if kv.len() != s.kv.len() {
            return Err(format!(
                "{id}: store has {} keys, its applied log {}",
                kv.len(),
                s.kv.len()
            ));
        }
        for k in &self.keys {
            let want = s.kv.get(k).map_or("", String::as_str);
            if kv.get(k) != want {
                return Err(format!(
                    "{id}: store says {k} = {:?}, its applied log says {want:?}",
                    kv.get(k)
                ));
            }
        }
        Ok(())
    }

    /// At the end: every entry of every log (living or not) still matches
    /// the registry, content included.
    pub fn final_check<'a>(&self, nodes: impl Iterator<Item = &'a Node>) -> Result<(), String> {
        for node in nodes {
            let log = node.log();
            for i in log.snapshot_index() + 1..=log.last_index() {
                let entry = log.get(i).expect("index within the log");
                let known = self.registry.get(&(i, entry.term)).map(|(_, e)| e);
                if known != Some(entry) {
                    return Err(format!(
                        "{}: entry {i} is {entry:?}, registry has {known:?}",
                        node.id()
                    ));
                }
            }
        }
        Ok(())
    }
}
