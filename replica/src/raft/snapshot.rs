//! Log compaction and InstallSnapshot (Raft §7).
//!
//! Compaction: once `compact_entries` applied entries sit in the log, the
//! store is snapshotted as of the applied index (for the disk, with
//! durability on) and the log keeps only the newest half of them, so that
//! a follower a little behind still gets entries, not a snapshot. A leader
//! keeps more while a live follower still lacks them (followers that get
//! entries only with their heartbeats can lag by a thousand entries at a
//! high rate), up to twice `compact_entries`. Memory and disk then hold at
//! most that many entries plus what is not applied yet, and one store
//! image.
//!
//! A follower whose next entry the leader no longer holds gets the
//! leader's store instead, as of its applied index, in chunks of pairs
//! that each fit a packet. The image is frozen when the transfer starts
//! (shared by every follower that needs it), each chunk is acknowledged
//! with the next one wanted, and the acknowledgement sends it: a lost
//! chunk or acknowledgement is covered by the leader's usual
//! retransmission, which resends the chunk last asked for.
//!
//! Besides the store, a snapshot keeps the terms of the log it replaces,
//! as runs: a replica that owed a client an answer for a put it appended
//! at (index, term), and installs a snapshot covering that index, learns
//! from them whether its entry is the one committed there (answer `ok`)
//! or not (redirect), exactly as if it had applied the entry. The rest of
//! our exactly-once state (recent MIDs, puts owed) is per replica and
//! about entries after the applied index.

use std::collections::BTreeMap;
use std::ops::Range;
use std::rc::Rc;

use shared::events::RoleReason;
use shared::{Addr, Body, InstallSnapshot, SnapshotAck};

use super::node::Node;
use super::Micros;
use crate::kv::KvStore;

/// The store as of a log index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The last index it covers, and that entry's term.
    pub index: u64,
    pub term: u64,
    /// Every key and its value, sorted by key.
    pub pairs: Pairs,
    /// The terms of the log up to `index`: (first index, term) runs, the
    /// newest [`MAX_TERM_RUNS`] of them.
    pub terms: Vec<(u64, u64)>,
}

/// Key-value pairs, as a snapshot holds them.
pub type Pairs = Vec<(String, String)>;

/// Runs of terms kept: one per term that had a leader that appended, so
/// hundreds of elections back.
pub const MAX_TERM_RUNS: usize = 256;

/// The terms of the applied log as runs, the newest [`MAX_TERM_RUNS`].
#[derive(Debug, Clone, Default)]
pub(super) struct TermRuns {
    runs: std::collections::VecDeque<(u64, u64)>,
}

impl TermRuns {
    pub fn from_runs(runs: &[(u64, u64)]) -> TermRuns {
        TermRuns {
            runs: runs.iter().copied().collect(),
        }
    }

    /// Entry `index` of `term` was applied (indices come in order).
    pub fn record(&mut self, index: u64, term: u64) {
        if self.runs.back().is_some_and(|&(_, t)| t == term) {
            return;
        }
        self.runs.push_back((index, term));
        if self.runs.len() > MAX_TERM_RUNS {
            self.runs.pop_front();
        }
    }

    /// The term of applied entry `index`, if the runs reach back to it
    /// (the caller knows `index` was applied).
    pub fn term_at(&self, index: u64) -> Option<u64> {
        let (first, _) = *self.runs.front()?;
        if index < first {
            return None;
        }
        self.runs
            .iter()
            .rev()
            .find(|&&(from, _)| from <= index)
            .map(|&(_, t)| t)
    }

    pub fn to_vec(&self) -> Vec<(u64, u64)> {
        self.runs.iter().copied().collect()
    }
}

impl Snapshot {
    fn of(kv: &KvStore, terms: &TermRuns, index: u64, term: u64) -> Snapshot {
        Snapshot {
            index,
            term,
            pairs: kv.sorted_pairs(),
            terms: terms.to_vec(),
        }
    }

    /// The pairs and term runs of `chunk`, a range over the pairs then
    /// the runs.
    fn chunk(&self, chunk: &Range<usize>) -> (Pairs, Vec<(u64, u64)>) {
        let n = self.pairs.len();
        let pairs = self.pairs[chunk.start.min(n)..chunk.end.min(n)].to_vec();
        let terms = self.terms[chunk.start.max(n) - n..chunk.end.max(n) - n].to_vec();
        (pairs, terms)
    }
}

/// Room for a chunk's pairs: the packet cap less the message's other
/// fields, with a margin.
const CHUNK_BYTES: usize = 12 * 1024;

/// Cuts the pairs then the term runs into ranges whose JSON fits
/// [`CHUNK_BYTES`] (an item larger than that goes alone: puts that large
/// are refused long before).
fn chunk_ranges(image: &Snapshot) -> Vec<Range<usize>> {
    let sizes = image
        .pairs
        .iter()
        .map(|p| serde_json::to_vec(p).map_or(CHUNK_BYTES, |v| v.len()))
        .chain(
            image
                .terms
                .iter()
                .map(|r| serde_json::to_vec(r).map_or(CHUNK_BYTES, |v| v.len())),
        );
    let mut ranges = Vec::new();
    let (mut start, mut used, mut count) = (0, 0, 0);
    for (i, size) in sizes.enumerate() {
        count += 1;
        let size = size + 1;
        if i > start && used + size > CHUNK_BYTES {
            ranges.push(start..i);
            (start, used) = (i, 0);
        }
        used += size;
    }
    ranges.push(start..count);
    ranges
}

/// The leader's image being sent, and where each follower is in it.
#[derive(Debug)]
pub(super) struct Outbound {
    image: Rc<Snapshot>,
    chunks: Vec<Range<usize>>,
    next: BTreeMap<Addr, u64>,
}

/// A follower's snapshot being received.
#[derive(Debug, Clone)]
pub(super) struct Incoming {
    index: u64,
    term: u64,
    chunks: u64,
    pairs: Vec<(String, String)>,
    terms: Vec<(u64, u64)>,
    next: u64,
}

impl Node {
    /// Once a flush: compact if enough applied entries piled up.
    pub(super) fn maybe_compact(&mut self, now: Micros) {
        let threshold = self.cfg.compact_entries as u64;
        let base = self.log.snapshot_index();
        if self.applied < base + threshold {
            return;
        }
        let mut upto = self.applied - threshold / 2;
        if let Some(slowest) = self
            .leading
            .as_ref()
            .and_then(|l| l.tracker.slowest_live_match(now))
        {
            upto = upto
                .min(slowest)
                .max(self.applied.saturating_sub(2 * threshold));
        }
        if upto <= base {
            return;
        }
        // Applied entries are held (compaction keeps some, and a snapshot
        // sets the base at the applied index); without one, no image.
        let Some(term) = self.log.term(self.applied) else {
            return;
        };
        if self.durability.on {
            let image = Snapshot::of(&self.kv, &self.applied_terms, self.applied, term);
            self.durability.snapshot = Some(Rc::new(image));
        }
        self.log.compact_through(upto);
    }

    /// As leader: the next chunk `peer` wants, from the image being sent
    /// (made now from our store if there is none, or it is older than
    /// what the log still holds).
    pub(super) fn send_snapshot_chunk(&mut self, now: Micros, peer: Addr) {
        let base = self.log.snapshot_index();
        let term = self.term;
        let heartbeat = self.cfg.heartbeat_interval;
        let Some(lead) = self.leading.as_mut() else {
            return;
        };
        let fresh = lead.snapshot.take().filter(|o| o.image.index >= base);
        let made = match fresh {
            Some(out) => Some(out),
            None => self.log.term(self.applied).map(|applied_term| {
                let image = Snapshot::of(&self.kv, &self.applied_terms, self.applied, applied_term);
                Outbound {
                    chunks: chunk_ranges(&image),
                    image: Rc::new(image),
                    next: BTreeMap::new(),
                }
            }),
        };
        lead.snapshot = made;
        let Some(out) = lead.snapshot.as_mut() else {
            return;
        };
        let n = *out.next.entry(peer).or_insert(0);
        let Some(range) = out.chunks.get(n as usize).cloned() else {
            return;
        };
        let (pairs, terms) = out.image.chunk(&range);
        let msg = InstallSnapshot {
            term,
            index: out.image.index,
            last_term: out.image.term,
            chunk: n,
            chunks: out.chunks.len() as u64,
            pairs,
            terms,
            ts: now,
        };
        // A send like an AppendEntries that carries nothing new: the
        // tracker's retransmission resends the chunk last asked for.
        let lazy = lead.tracker.told_lazy(&peer).unwrap_or(false);
        let told = if lazy {
            lead.tracker.lazy_heartbeat_interval()
        } else {
            heartbeat
        };
        let top = lead
            .tracker
            .get(&peer)
            .map_or(0, |p| p.next_index())
            .saturating_sub(1);
        lead.tracker.on_send(&[peer], now, top, lazy, told);
        self.counters.snapshot_chunks_sent += 1;
        self.send(peer, Body::InstallSnapshot(msg));
    }

    /// As leader: `from` took a chunk. Once it has the whole image it
    /// acknowledges the image's index, like an AppendEntries up to there;
    /// until then the next chunk goes at once.
    pub(super) fn handle_snapshot_ack(&mut self, now: Micros, from: Addr, a: SnapshotAck) {
        if a.term > self.term {
            self.become_follower(now, a.term, None, RoleReason::HigherTerm);
            return;
        }
        let last = self.log.last_index();
        let Some(lead) = self.leading.as_mut().filter(|_| a.term == self.term) else {
            self.counters.stale += 1;
            return;
        };
        if lead.tracker.on_reply(&from, a.ts, 0, last, now).is_none() {
            return;
        }
        let Some(out) = lead.snapshot.as_mut().filter(|o| o.image.index == a.index) else {
            return;
        };
        // The follower's word, even if it goes back: it may have lost what
        // it had (restarted, or started on another image).
        let chunks = out.chunks.len() as u64;
        let next = out.next.entry(from).or_insert(0);
        *next = a.next.min(chunks);
        if *next < chunks {
            self.send_snapshot_chunk(now, from);
            return;
        }
        out.next.remove(&from);
        if out.next.is_empty() {
            lead.snapshot = None;
        }
        lead.tracker.on_ack(&from, a.ts, a.index, last, now);
        lead.tracker.request_send(&from);
        self.advance_commit(now);
        self.serve_reads(now);
    }

    /// As follower: a chunk of the leader's snapshot. Chunks in order
    /// build the image; the last installs it. A snapshot we already have
    /// (our commit index covers it) is acknowledged as installed.
    pub(super) fn handle_install_snapshot(&mut self, now: Micros, from: Addr, s: InstallSnapshot) {
        let ack = |term: u64, next: u64| SnapshotAck {
            term,
            index: s.index,
            next,
            ts: s.ts,
        };
        if s.term < self.term {
            self.counters.stale += 1;
            self.send(from, Body::SnapshotAck(ack(self.term, 0)));
            return;
        }
        if s.term > self.term || self.role != super::Role::Follower || self.leader != Some(from) {
            let reason = if s.term > self.term {
                RoleReason::HigherTerm
            } else {
                RoleReason::LeaderFound
            };
            self.become_follower(now, s.term, Some(from), reason);
            self.inheritance.record_term_leader(s.term, from);
        }
        self.heard_from_leader(now, self.cfg.heartbeat_interval);
        if s.index <= self.commit || s.chunks == 0 {
            self.incoming_snapshot = None;
            self.send(from, Body::SnapshotAck(ack(self.term, s.chunks)));
            return;
        }
        let fresh = self
            .incoming_snapshot
            .as_ref()
            .is_none_or(|i| (i.index, i.term, i.chunks) != (s.index, s.last_term, s.chunks));
        if fresh && s.chunk == 0 {
            self.incoming_snapshot = Some(Incoming {
                index: s.index,
                term: s.last_term,
                chunks: s.chunks,
                pairs: Vec::new(),
                terms: Vec::new(),
                next: 0,
            });
        }
        let next = match self.incoming_snapshot.as_mut() {
            Some(i) if !fresh || s.chunk == 0 => {
                if s.chunk == i.next {
                    i.pairs.extend(s.pairs);
                    i.terms.extend(s.terms);
                    i.next += 1;
                }
                i.next
            }
            // A chunk of an image we are not receiving: start over.
            _ => 0,
        };
        if next == s.chunks {
            let incoming = self.incoming_snapshot.take().expect("matched above");
            self.install_snapshot(now, incoming);
        }
        self.send(from, Body::SnapshotAck(ack(self.term, next)));
    }

    fn install_snapshot(&mut self, now: Micros, i: Incoming) {
        self.kv = KvStore::from_pairs(&i.pairs);
        self.applied_terms = TermRuns::from_runs(&i.terms);
        self.log.reset_to_snapshot(i.index, i.term);
        self.settle_owed_through_snapshot(now, i.index);
        self.commit = self.commit.max(i.index);
        self.applied = i.index;
        self.counters.snapshots_installed += 1;
        if self.durability.on {
            self.durability.snapshot = Some(Rc::new(Snapshot {
                index: i.index,
                term: i.term,
                pairs: i.pairs,
                terms: i.terms,
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::testkit::{ack, append_reply, deliver, put, win_election, A, B, C, CLIENT};
    use crate::raft::{Config, Outgoing};

    /// A leader of {A, B, C} that has applied and compacted 30 puts of
    /// 1 KB values (about three chunks of store), with C never heard from.
    fn leader_with_a_compacted_log() -> (Node, Micros) {
        let cfg = Config {
            compact_entries: 8,
            ..Config::default()
        };
        let mut a = Node::new(A, vec![B, C], cfg, 1, 0);
        let mut now = 2_000_000;
        win_election(&mut a, now, 1);
        for i in 0..30 {
            now += 1_000;
            deliver(
                &mut a,
                now,
                CLIENT,
                put(&format!("m{i}"), &format!("k{i}"), &"v".repeat(1000)),
            );
            let last = a.log().last_index();
            deliver(&mut a, now + 10, B, ack(1, last, now));
        }
        assert_eq!(a.applied_index(), 31);
        assert!(a.log().snapshot_index() > 0, "compacted");
        (a, now)
    }

    /// (chunk, of, image index) of each snapshot chunk to `to`.
    fn chunks_to(out: &[Outgoing], to: Addr) -> Vec<(u64, u64, u64)> {
        out.iter()
            .filter(|o| o.to == to)
            .filter_map(|o| match &o.body {
                Body::InstallSnapshot(s) => Some((s.chunk, s.chunks, s.index)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_follower_that_lost_its_chunks_is_sent_them_again_from_where_it_says() {
        let (mut a, mut now) = leader_with_a_compacted_log();
        // C answers at last: its log is empty.
        now += 1_000;
        let out = deliver(&mut a, now, C, append_reply(1, false, 1, None));
        let sent = chunks_to(&out, C);
        assert_eq!(sent.len(), 1, "{out:?}");
        let (first, of, index) = sent[0];
        assert_eq!((first, index), (0, a.applied_index()));
        assert!(of >= 3, "{of} chunks");
        let snap_ack = |next| {
            Body::SnapshotAck(SnapshotAck {
                term: 1,
                index,
                next,
                ts: now,
            })
        };
        let out = deliver(&mut a, now + 10, C, snap_ack(1));
        assert_eq!(
            chunks_to(&out, C),
            vec![(1, of, index)],
            "the next chunk at once"
        );
        // C restarted: it has nothing of this image any more.
        let out = deliver(&mut a, now + 20, C, snap_ack(0));
        assert_eq!(
            chunks_to(&out, C),
            vec![(0, of, index)],
            "from the start again"
        );
    }

    #[test]
    fn a_follower_installs_the_chunks_in_order_and_is_then_sent_entries() {
        let (mut a, now) = leader_with_a_compacted_log();
        let mut c = Node::new(C, vec![A, B], a.config().clone(), 3, now);
        let mut t = now + 1_000;
        let mut to_c = chunks_and_bodies(deliver(&mut a, t, C, append_reply(1, false, 1, None)), C);
        let mut acked_entries = false;
        while let Some(body) = to_c.pop() {
            t += 100;
            for o in deliver(&mut c, t, A, body) {
                acked_entries |= matches!(o.body, Body::AppendReply(_));
                to_c.extend(chunks_and_bodies(deliver(&mut a, t + 50, C, o.body), C));
            }
            assert!(t < now + 100_000, "no end to the transfer");
        }
        assert_eq!(c.applied_index(), a.applied_index());
        assert_eq!(c.log().snapshot_index(), a.applied_index());
        for i in 0..30 {
            assert_eq!(c.kv().get(&format!("k{i}")), "v".repeat(1000));
        }
        assert_eq!(c.counters().snapshots_installed, 1);
        assert_eq!(
            a.follower_progress()
                .iter()
                .find(|p| p.id == C.to_string())
                .unwrap()
                .match_index,
            a.applied_index()
        );
        assert!(
            acked_entries,
            "the snapshot is followed by an AppendEntries C answers"
        );
    }

    /// Snapshot chunks and AppendEntries to `to`.
    fn chunks_and_bodies(out: Vec<Outgoing>, to: Addr) -> Vec<Body> {
        out.into_iter()
            .filter(|o| o.to == to)
            .filter(|o| matches!(o.body, Body::InstallSnapshot(_) | Body::AppendEntries(_)))
            .map(|o| o.body)
            .collect()
    }

    #[test]
    fn term_runs_answer_for_the_indices_they_reach_back_to() {
        let mut runs = TermRuns::default();
        assert_eq!(runs.term_at(1), None);
        for (index, term) in [(1, 1), (2, 1), (3, 3), (4, 3), (5, 4)] {
            runs.record(index, term);
        }
        assert_eq!(runs.to_vec(), vec![(1, 1), (3, 3), (5, 4)]);
        let at: Vec<_> = (1..=6).map(|i| runs.term_at(i)).collect();
        assert_eq!(at, [1, 1, 3, 3, 4, 4].map(Some));
        for t in 0..MAX_TERM_RUNS as u64 {
            runs.record(10 + t, 10 + t);
        }
        assert_eq!(runs.term_at(9), None, "older than the runs kept");
        assert_eq!(runs.term_at(10 + 5), Some(15));
    }

    #[test]
    fn chunks_cover_every_pair_and_term_run_once_and_fit_a_packet() {
        let image = Snapshot {
            index: 9,
            term: 2,
            pairs: (0..500)
                .map(|i| (format!("key{i}"), "x\"".repeat(i % 97)))
                .collect(),
            terms: (0..300).map(|i| (i * 1000 + 1, i + 1)).collect(),
        };
        let ranges = chunk_ranges(&image);
        assert!(ranges.len() > 3);
        let (mut pairs, mut terms) = (Vec::new(), Vec::new());
        let mut at = 0;
        for r in &ranges {
            assert_eq!(r.start, at);
            at = r.end;
            let (p, m) = image.chunk(r);
            let bytes = serde_json::to_vec(&(&p, &m)).unwrap().len();
            assert!(bytes <= CHUNK_BYTES + 8, "{bytes}");
            pairs.extend(p);
            terms.extend(m);
        }
        assert_eq!((pairs, terms), (image.pairs.clone(), image.terms.clone()));
        let empty = Snapshot {
            pairs: vec![],
            terms: vec![],
            ..image
        };
        assert_eq!(
            chunk_ranges(&empty),
            vec![0..0],
            "an empty store is one empty chunk"
        );
    }
}
