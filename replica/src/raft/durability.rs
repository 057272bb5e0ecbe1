//! What the core asks the shell to keep on disk, and what it knows is kept.
//!
//! Off by default: a replica of the course simulator lives one process, so
//! it persists nothing and nothing waits for a disk. With durability on
//! ([`Node::recover`]), after each [`Node::flush`] the shell takes a
//! [`Persist`] batch with [`Node::take_persist`], sends the packets that
//! promise nothing ([`Outgoing::promises`]), makes the batch durable (one
//! write, one fsync), sends the rest, and feeds [`Persist::done`] back as
//! an input. So every promise is on disk before anyone hears it (a vote,
//! an acknowledged entry or snapshot, a relayed AppendEntries), while the
//! leader's AppendEntries travel during its own fsync (thesis §10.2.1):
//! its own entries count toward a quorum only once durable
//! ([`Node::own_durable_index`]). A candidate's vote for itself needs no
//! such care: the shell finishes the write before it reads any answer.

use std::rc::Rc;

use shared::{Addr, Body, Entry};

use super::node::Node;
use super::snapshot::{Snapshot, TermRuns};
use super::{Input, Outgoing};
use crate::kv::KvStore;

/// Raft's persistent scalars (§5, Figure 2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HardState {
    pub term: u64,
    pub voted_for: Option<Addr>,
}

/// One batch to make durable before this flush's packets are sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Persist {
    /// The term and vote, when they changed since the last batch.
    pub hard_state: Option<HardState>,
    /// A new snapshot (compacted, or installed from the leader). With it,
    /// the batch carries the whole log the node holds: it starts after
    /// `log_base` (index, term), and `entries` follow from `log_from`.
    pub snapshot: Option<Rc<Snapshot>>,
    pub log_base: Option<(u64, u64)>,
    /// When the log changed: it now is, from this index on, exactly
    /// `entries` (whatever the disk held from there on is replaced).
    pub log_from: Option<u64>,
    pub entries: Vec<Entry>,
    /// The log's last index and term once this batch is applied.
    pub last_index: u64,
    pub last_term: u64,
    /// Our commit index, when it grew since the last batch: never a write
    /// of its own, only carried by batches written anyway.
    pub commit: Option<u64>,
}

impl Persist {
    /// The input that tells the core this batch is on disk.
    pub fn done(&self) -> Input {
        Input::Durable {
            last_index: self.last_index,
            last_term: self.last_term,
        }
    }
}

impl Outgoing {
    /// Whether this packet promises something our disk must hold first:
    /// a granted vote, an acknowledgement of entries or of a snapshot,
    /// or an AppendEntries we relay (its answer acknowledges us too).
    pub fn promises(&self) -> bool {
        match &self.body {
            Body::VoteReply(r) => r.granted && !r.pre,
            Body::AppendReply(r) => r.success,
            Body::SnapshotAck(_) => true,
            Body::AppendEntries(ae) => ae.relayed.is_some(),
            _ => false,
        }
    }
}

/// What a restarted replica read back from its disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recovered {
    pub hard_state: HardState,
    /// The newest snapshot, if any.
    pub snapshot: Option<Snapshot>,
    /// The log starts after this (index, term): (0, 0) unless compacted.
    pub log_base: (u64, u64),
    /// The log, from `log_base.0 + 1`.
    pub entries: Vec<Entry>,
    /// The highest commit index a batch carried: a lower bound of what
    /// this replica had applied, and answered as the owner, before.
    pub commit: u64,
}

impl Recovered {
    /// One batch as the disk holds it afterwards: the hard state
    /// replaced, the log restarted after `base`, cut at `log_from` and
    /// extended with `entries`, the commit index raised. What a data dir's
    /// replay (`io/storage.rs`) and the simulation's disks both do; an
    /// error names a batch no core writes.
    pub fn apply(
        &mut self,
        hard_state: Option<HardState>,
        base: Option<(u64, u64)>,
        log_from: Option<u64>,
        entries: impl IntoIterator<Item = Entry>,
        commit: Option<u64>,
    ) -> Result<(), String> {
        if let Some(h) = hard_state {
            if h.term < self.hard_state.term {
                return Err(format!(
                    "term {} after term {}",
                    h.term, self.hard_state.term
                ));
            }
            self.hard_state = h;
        }
        if let Some(base) = base {
            self.log_base = base;
            self.entries.clear();
        }
        let mut entries = entries.into_iter().peekable();
        match log_from {
            Some(from) => {
                let (base, _) = self.log_base;
                let last = base + self.entries.len() as u64;
                if from <= base || from > last + 1 {
                    return Err(format!(
                        "log from {from} with entries {}..={last} held",
                        base + 1
                    ));
                }
                self.entries.truncate((from - base - 1) as usize);
                self.entries.extend(entries);
            }
            None if entries.peek().is_some() => return Err("entries without a position".into()),
            None => {}
        }
        self.commit = self.commit.max(commit.unwrap_or(0));
        Ok(())
    }
}

/// The core's side of durability: whether it is on, and the hard state
/// the shell last took (so that a batch carries it only when it changed).
#[derive(Debug, Clone, Default)]
pub(super) struct Durability {
    pub on: bool,
    pub taken: HardState,
    /// A snapshot not yet taken for the disk.
    pub snapshot: Option<Rc<Snapshot>>,
    /// The commit index the last batch carried.
    pub taken_commit: u64,
    /// Entries up to here were applied before a restart, when any puts
    /// among them we owned were answered: never answered again as
    /// inherited puts (a restarted leader forgot what it owed).
    pub settled_before_restart: u64,
}

impl Node {
    /// A replica with durability on, starting from what its disk held
    /// (nothing, the first time). A replica that held anything was running
    /// before: it may have acknowledged a leader that still counts on its
    /// lease, so it refuses votes for a minimum election timeout, as if it
    /// had just heard from that leader, and waits a whole timeout before
    /// campaigning itself. (Waiting also a lazy follower's longest silence,
    /// 3 s, kept the simulator's leader list free of the FFFF its pre-votes
    /// stamp, but when the restarted replica was the leader nobody led for
    /// that long: configs/ci/restart.json, 93 requests unanswered.)
    pub fn recover(
        id: Addr,
        peers: Vec<Addr>,
        cfg: super::Config,
        seed: u64,
        now: super::Micros,
        disk: Recovered,
    ) -> Node {
        let mut node = Node::new(id, peers, cfg, seed, now);
        let restarted = disk != Recovered::default();
        node.term = disk.hard_state.term;
        node.voted_for = disk.hard_state.voted_for;
        let (base, base_term) = disk.log_base;
        if base > 0 {
            node.log.reset_to_snapshot(base, base_term);
        }
        for entry in disk.entries {
            node.log.append(entry);
        }
        node.log.mark_all_durable();
        if let Some(snap) = disk.snapshot {
            node.kv = KvStore::from_pairs(&snap.pairs);
            node.applied_terms = TermRuns::from_runs(&snap.terms);
            node.commit = snap.index;
            node.applied = snap.index;
        }
        node.durability = Durability {
            on: true,
            taken: disk.hard_state,
            snapshot: None,
            taken_commit: disk.commit,
            settled_before_restart: disk.commit,
        };
        // The start event said term 0; say what the disk holds.
        node.report_role(now, shared::events::RoleReason::Start);
        if restarted {
            node.last_leader_contact = Some(now);
            node.reset_election_deadline(now);
        }
        node
    }

    pub fn is_durable(&self) -> bool {
        self.durability.on
    }

    /// What to make durable before sending the packets of the last flush;
    /// `None` when nothing changed, or durability is off.
    pub fn take_persist(&mut self) -> Option<Persist> {
        if !self.durability.on {
            return None;
        }
        let hard = HardState {
            term: self.term,
            voted_for: self.voted_for,
        };
        let hard_state = (hard != self.durability.taken).then_some(hard);
        let snapshot = self.durability.snapshot.take();
        let (log_base, changed) = match &snapshot {
            Some(_) => {
                let base = (self.log.snapshot_index(), self.log.snapshot_term());
                (Some(base), Some((base.0 + 1, self.log.take_all())))
            }
            None => (None, self.log.take_unsaved()),
        };
        if hard_state.is_none() && changed.is_none() {
            return None;
        }
        self.durability.taken = hard;
        let commit = (self.commit > self.durability.taken_commit).then_some(self.commit);
        self.durability.taken_commit = self.durability.taken_commit.max(self.commit);
        let (log_from, entries) = match changed {
            Some((from, entries)) => (Some(from), entries),
            None => (None, Vec::new()),
        };
        Some(Persist {
            hard_state,
            snapshot,
            log_base,
            log_from,
            entries,
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            commit,
        })
    }

    /// A batch reached the disk: the log through `last_index` is durable
    /// (unless it was cut since), which may commit as leader.
    pub(super) fn handle_durable(&mut self, now: super::Micros, last_index: u64, last_term: u64) {
        self.log.mark_durable(last_index, last_term);
        if self.leading.is_some() {
            self.advance_commit(now);
        }
    }

    /// The last index of our own log that counts toward a quorum.
    pub(super) fn own_durable_index(&self) -> u64 {
        if self.durability.on {
            self.log.durable_index()
        } else {
            self.log.last_index()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raft::testkit::{
        append_reply, client_outputs, deliver, put, put_entry, tick, win_election, A, B, C, CLIENT,
    };
    use crate::raft::Config;
    use shared::{Body, RequestVote, VoteReply};

    fn vote_request(term: u64, pre: bool) -> Body {
        Body::RequestVote(RequestVote {
            term,
            last_index: 0,
            last_term: 0,
            pre,
        })
    }

    /// A durable leader of term 1 for {A, B, C}, everything persisted.
    fn durable_leader() -> Node {
        let mut a = Node::recover(A, vec![B, C], Config::default(), 1, 0, Recovered::default());
        win_election(&mut a, 2_000_000, 1);
        a.flush(2_000_000);
        let batch = a.take_persist().expect("term, vote and no-op");
        assert_eq!(
            batch.hard_state,
            Some(HardState {
                term: 1,
                voted_for: Some(A)
            })
        );
        assert_eq!((batch.log_from, batch.entries.len()), (Some(1), 1));
        a.handle(2_000_000, batch.done());
        a
    }

    #[test]
    fn only_votes_acknowledgements_and_relays_wait_for_the_disk() {
        use shared::{AppendEntries, AppendReply, Relayed, SnapshotAck};
        let out = |body| Outgoing { to: A, body };
        let vote = |granted, pre| {
            Body::VoteReply(VoteReply {
                term: 2,
                granted,
                pre,
            })
        };
        let reply = |success| {
            Body::AppendReply(AppendReply {
                term: 2,
                success,
                index: 3,
                conflict_term: None,
                ts: 1,
                commit: 0,
                relay_ack: None,
            })
        };
        let append = |relayed| {
            Body::AppendEntries(AppendEntries {
                term: 2,
                prev_index: 0,
                prev_term: 0,
                commit: 0,
                ts: 1,
                heartbeat: 0,
                entries: vec![],
                relay_to: None,
                relayed,
            })
        };
        let relayed = Some(Relayed {
            leader: B,
            index: 3,
        });
        let ack = Body::SnapshotAck(SnapshotAck {
            term: 2,
            index: 9,
            next: 1,
            ts: 1,
        });
        for (body, waits) in [
            (vote(true, false), true),
            (vote(true, true), false),
            (vote(false, false), false),
            (reply(true), true),
            (reply(false), false),
            (append(relayed), true),
            (append(None), false),
            (ack, true),
            (vote_request(3, false), false),
            (put("m", "k", "v"), false),
        ] {
            assert_eq!(out(body.clone()).promises(), waits, "{body:?}");
        }
    }

    #[test]
    fn a_memory_only_node_never_asks_to_persist() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        deliver(&mut b, 10, A, vote_request(1, false));
        assert!(!b.is_durable());
        assert_eq!(b.take_persist(), None);
    }

    #[test]
    fn a_granted_vote_is_persisted_with_the_flush_that_sends_it() {
        let mut b = Node::recover(B, vec![A, C], Config::default(), 2, 0, Recovered::default());
        let out = deliver(&mut b, 10, A, vote_request(1, false));
        assert!(matches!(
            out[0].body,
            Body::VoteReply(VoteReply { granted: true, .. })
        ));
        let batch = b.take_persist().expect("the vote");
        assert_eq!(
            batch.hard_state,
            Some(HardState {
                term: 1,
                voted_for: Some(A)
            })
        );
        assert_eq!(batch.log_from, None);
        assert_eq!(b.take_persist(), None, "taken once");
    }

    #[test]
    fn a_leader_counts_its_own_entry_toward_the_quorum_only_once_durable() {
        let mut a = durable_leader();
        deliver(&mut a, 2_000_100, B, append_reply(1, true, 1, None));
        assert_eq!(a.commit_index(), 1);
        deliver(&mut a, 2_000_200, CLIENT, put("m1", "k", "v"));
        let batch = a.take_persist().expect("the put");
        assert_eq!((batch.log_from, batch.last_index), (Some(2), 2));
        // B acknowledges before our own write is done: one replica of
        // three holds it durably, which is no quorum.
        let out = deliver(&mut a, 2_000_300, B, append_reply(1, true, 2, None));
        assert_eq!(a.commit_index(), 1);
        assert!(client_outputs(&out).is_empty());
        a.handle(2_000_400, batch.done());
        assert_eq!(a.commit_index(), 2);
        let out = a.flush(2_000_400);
        assert_eq!(
            client_outputs(&out).len(),
            1,
            "the put is answered: {out:?}"
        );
    }

    #[test]
    fn a_follower_persists_what_it_appends_and_a_cut_rewrites_from_there() {
        let mut b = Node::recover(B, vec![A, C], Config::default(), 2, 0, Recovered::default());
        let two = vec![put_entry(1, "k", "1"), put_entry(1, "k", "2")];
        deliver(
            &mut b,
            10,
            A,
            crate::raft::testkit::append(1, (0, 0), 0, two),
        );
        let batch = b.take_persist().unwrap();
        assert_eq!((batch.log_from, batch.entries.len()), (Some(1), 2));
        let other = vec![put_entry(2, "k", "3")];
        deliver(
            &mut b,
            20,
            C,
            crate::raft::testkit::append(2, (1, 1), 0, other),
        );
        let batch = b.take_persist().unwrap();
        assert_eq!(
            batch.hard_state,
            Some(HardState {
                term: 2,
                voted_for: None
            })
        );
        assert_eq!(
            (batch.log_from, batch.entries.len(), batch.last_term),
            (Some(2), 1, 2)
        );
    }

    #[test]
    fn a_restarted_replica_keeps_its_state_and_refuses_votes_for_a_lease() {
        let disk = Recovered {
            hard_state: HardState {
                term: 4,
                voted_for: Some(C),
            },
            entries: vec![put_entry(3, "k", "v")],
            ..Recovered::default()
        };
        let cfg = Config::default();
        let lease = cfg.election_timeout_min;
        let mut b = Node::recover(B, vec![A, C], cfg, 2, 50_000_000, disk);
        assert_eq!(
            (b.term(), b.log().last_index(), b.commit_index()),
            (4, 1, 0)
        );
        let mut rv = vote_request(5, false);
        if let Body::RequestVote(r) = &mut rv {
            (r.last_index, r.last_term) = (1, 3);
        }
        let out = deliver(&mut b, 50_000_000 + lease - 1, A, rv.clone());
        assert!(matches!(
            out[0].body,
            Body::VoteReply(VoteReply { granted: false, .. })
        ));
        let out = deliver(&mut b, 50_000_000 + lease, A, rv);
        assert!(matches!(
            out[0].body,
            Body::VoteReply(VoteReply { granted: true, .. })
        ));
        assert!(tick(&mut b, 50_000_000 + lease).is_empty());
    }
}
