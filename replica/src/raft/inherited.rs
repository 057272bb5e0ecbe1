//! Inherited puts: a put appended by an earlier term's leader (its owner)
//! that we commit as leader. The owner answers a put it owes whenever it
//! applies it, as leader or follower; a new leader learns that it did only
//! from the owner itself (the commit index in its AppendReply), and never
//! from a dead one. Answered twice, the put costs a duplicate; never
//! answered, the client's next get on its key shows a value it was never
//! told of, which the simulator counts as incorrect.
//!
//! Under `InheritedPuts::BeforeGet` we answer such a put only when that
//! get comes, and only if its owner will not:
//!
//! ```text
//!   get on (client, key) of an inherited put
//!     owner alive and answering us ─> the get waits (OWNER_WAIT_INTERVALS) for
//!                                     the owner's reply saying it applied
//!                                     the put: it answered first, we never do
//!     owner dead, cut off or slow  ─> PutTiming: answer the put first if the
//!                                     owner more likely died before
//!                                     committing it than after
//! ```

use shared::{Addr, PutCmd};

use super::client::PendingRead;
use super::config::InheritedPuts;
use super::node::{Node, Role};
use super::Micros;

/// Inherited puts remembered for [`InheritedPuts::BeforeGet`]; beyond
/// this, one is forgotten for each new one (the first by client and key).
const MAX_UNCONFIRMED: usize = 4096;

/// Who led each term is remembered for this many terms.
const MAX_TERM_LEADERS: usize = 64;

/// A get waits this many retransmission intervals at most for an inherited
/// put's owner to say it has applied (and so answered) the put, and the
/// owner is sent our commit index once per interval meanwhile.
const OWNER_WAIT_INTERVALS: u64 = 4;

/// A put we committed as leader but that an earlier term's leader appended.
#[derive(Debug, Clone)]
pub(super) struct Inherited {
    pub mid: String,
    pub index: u64,
    /// The leader of the put's term, when we know who that was.
    pub owner: Option<Addr>,
    /// Once a get waits for the owner: when it stops waiting.
    pub wait_until: Option<Micros>,
}

/// A get held at the leader until the owner of an inherited put on its key
/// says it has applied it, or gives up waiting.
#[derive(Debug, Clone)]
pub(super) struct OwnerWait {
    pub read: PendingRead,
    pub owner: Addr,
    pub until: Micros,
    /// When the owner is next sent our commit index.
    pub nudge_at: Micros,
}

/// How long our puts take to commit as leader and how far apart puts are
/// appended (by us, or by the leader we follow), as running averages
/// (microseconds), to judge whether a dead owner more likely answered a
/// put it appended or died before it committed.
#[derive(Debug, Default, Clone)]
pub(super) struct PutTiming {
    commit_us: Option<f64>,
    gap_us: Option<f64>,
    last_put: Option<Micros>,
}

/// Weight of each new sample in the running averages.
const TIMING_WEIGHT: f64 = 0.1;

/// A get shown a value its client was never told of fails the run; a
/// second `ok` costs one duplicate. The former is counted this many times
/// as bad.
const INCORRECT_COST: f64 = 10.0;

impl PutTiming {
    /// `count` puts were appended since the last ones: by us as leader,
    /// or, as a follower, by the leader whose puts we may inherit.
    pub(super) fn note_puts(&mut self, now: Micros, count: u64) {
        if count == 0 {
            return;
        }
        if let Some(last) = self.last_put {
            average(
                &mut self.gap_us,
                now.saturating_sub(last) as f64 / count as f64,
            );
        }
        self.last_put = Some(now);
    }

    pub(super) fn note_commit(&mut self, latency: Micros) {
        average(&mut self.commit_us, latency as f64);
    }

    /// Whether to answer an inherited put whose answer may be missing.
    /// An owner that died a random moment after appending its last put
    /// died before committing it with a chance of about commit / gap (and
    /// answered it, its commit index not yet sent on, otherwise): answer
    /// when the expected cost of silence exceeds that of a duplicate. The
    /// gap was largely the owner's, seen as its follower; our commit
    /// latency stands in for its. Without both, answer.
    pub(super) fn answer_inherited(&self) -> bool {
        match (self.commit_us, self.gap_us) {
            (Some(commit), Some(gap)) => {
                let died_first = (commit / gap.max(1.0)).min(1.0);
                died_first * INCORRECT_COST >= 1.0 - died_first
            }
            _ => true,
        }
    }
}

fn average(avg: &mut Option<f64>, sample: f64) {
    *avg = Some(match *avg {
        Some(a) => a + (sample - a) * TIMING_WEIGHT,
        None => sample,
    });
}

/// What to do with a get on the key of an inherited put.
pub(super) enum BeforeGet {
    /// Answer the get now; first the put, when `Some` (its MID).
    Answer(Option<String>),
    /// Hold the get until the put's owner says it answered it.
    WaitFor(Addr, Micros),
}

impl Node {
    /// `leader` leads `term` (we heard from it, or won it ourselves).
    pub(super) fn note_term_leader(&mut self, term: u64, leader: Addr) {
        if self.term_leaders.insert(term, leader).is_none()
            && self.term_leaders.len() > MAX_TERM_LEADERS
        {
            self.term_leaders.pop_first();
        }
    }

    /// We committed, as leader, the put at `index` that the leader of the
    /// earlier `term` appended (see [`InheritedPuts`]).
    pub(super) fn commit_inherited(&mut self, now: Micros, put: PutCmd, index: u64, term: u64) {
        match self.cfg.inherited_puts {
            InheritedPuts::Owner => {}
            InheritedPuts::AtCommit => self.answer_inherited_put(now, put.client, put.mid),
            InheritedPuts::BeforeGet => {
                let owner = self.term_leaders.get(&term).copied();
                let told = |o: &Addr| self.progress.get(o).map_or(0, |p| p.commit);
                if owner.is_some_and(|o| told(&o) >= index) {
                    // Its owner has already said it applied it.
                    return;
                }
                if self.unconfirmed.len() >= MAX_UNCONFIRMED {
                    self.unconfirmed.pop_first();
                }
                let inherited = Inherited {
                    mid: put.mid,
                    index,
                    owner: owner.filter(|o| *o != self.id),
                    wait_until: None,
                };
                self.unconfirmed.insert((put.client, put.key), inherited);
            }
        }
    }

    /// A get from `client` on `key` is about to be answered: settle the
    /// client's inherited put on that key first, if there is one.
    pub(super) fn before_get(&mut self, now: Micros, client: Addr, key: &str) -> BeforeGet {
        if self.unconfirmed.is_empty() {
            return BeforeGet::Answer(None);
        }
        let k = (client, key.to_string());
        let Some(put) = self.unconfirmed.get_mut(&k) else {
            return BeforeGet::Answer(None);
        };
        if let Some(owner) = put.owner {
            let wait = OWNER_WAIT_INTERVALS * self.cfg.retransmit_interval;
            let until = *put.wait_until.get_or_insert(now + wait);
            let may_answer = self.progress.get(&owner).is_some_and(|p| {
                // Silent since our election, it is presumed live until the
                // wait ends; once it answered us, while it keeps doing so.
                !p.acked || now < p.last_reply + p.told_interval + self.cfg.election_timeout_min
            });
            if may_answer && now < until {
                return BeforeGet::WaitFor(owner, until);
            }
        }
        let put = self.unconfirmed.remove(&k).expect("found above");
        if self.put_timing.answer_inherited() {
            BeforeGet::Answer(Some(put.mid))
        } else {
            self.counters.inherited_left_unanswered += 1;
            BeforeGet::Answer(None)
        }
    }

    /// Holds `read` until `owner` says it applied the inherited put on its
    /// key, and sends the owner our commit index now.
    pub(super) fn wait_for_owner(
        &mut self,
        now: Micros,
        read: PendingRead,
        owner: Addr,
        until: Micros,
    ) {
        if let Some(p) = self.progress.get_mut(&owner) {
            p.send_now = true;
        }
        self.owner_waits.push(OwnerWait {
            read,
            owner,
            until,
            nudge_at: now + self.cfg.retransmit_interval,
        });
    }

    /// `from` told us its commit index: the inherited puts it appended up
    /// to there are answered (it answers a put it owes when it applies it,
    /// and did so before this reply); gets that waited for that go back to
    /// the reads, which the caller serves (`handle_append_reply`).
    pub(super) fn owner_applied(&mut self, now: Micros, from: Addr, commit: u64) {
        if self.unconfirmed.is_empty() || commit == 0 {
            return;
        }
        let before = self.unconfirmed.len();
        self.unconfirmed
            .retain(|_, u| !(u.owner == Some(from) && u.index <= commit));
        if self.unconfirmed.len() < before && !self.owner_waits.is_empty() {
            self.retry_owner_waits(now);
        }
    }

    /// Timers of gets waiting for an owner: each interval the owner is sent
    /// our commit index again (it or its answer may be lost); at the end of
    /// the wait the get goes on without it.
    pub(super) fn owner_wait_tick(&mut self, now: Micros) {
        if self.role != Role::Leader || self.owner_waits.is_empty() {
            return;
        }
        if self.owner_waits.iter().any(|w| now >= w.until) {
            self.retry_owner_waits(now);
            self.serve_reads(now);
        }
        let interval = self.cfg.retransmit_interval;
        for w in self.owner_waits.iter_mut().filter(|w| now >= w.nudge_at) {
            w.nudge_at = now + interval;
            if let Some(p) = self.progress.get_mut(&w.owner) {
                p.send_now = true;
            }
        }
    }

    /// When a get waiting for an owner next needs a tick.
    pub(super) fn owner_wait_deadline(&self) -> Option<Micros> {
        self.owner_waits
            .iter()
            .map(|w| w.until.min(w.nudge_at))
            .min()
    }

    /// The gets whose wait is over (the put is settled, or the wait ended)
    /// go back to the front of the reads, in order, to be served again.
    fn retry_owner_waits(&mut self, now: Micros) {
        let (ready, waiting): (Vec<OwnerWait>, Vec<OwnerWait>) =
            std::mem::take(&mut self.owner_waits)
                .into_iter()
                .partition(|w| {
                    now >= w.until
                        || !self
                            .unconfirmed
                            .contains_key(&(w.read.client, w.read.key.clone()))
                });
        self.owner_waits = waiting;
        for w in ready.into_iter().rev() {
            self.pending_reads.push_front(w.read);
        }
    }

    /// A leader stepping down holds the gets that waited for an owner, as
    /// it does its other reads.
    pub(super) fn take_owner_waits(&mut self) -> Vec<PendingRead> {
        std::mem::take(&mut self.owner_waits)
            .into_iter()
            .map(|w| w.read)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Input, Outgoing};
    use super::*;
    use crate::raft::testkit::{ack, client_outputs, deliver, get, ok, put, tick, A, B, C, CLIENT};
    use shared::{AppendEntries, AppendReply, Body, Entry, VoteReply};

    const T0: Micros = 2_000_000;

    /// B, under `policy`, inherits A's put M1 (k=v) at index 2 (A led term
    /// 1), B wins term 2 with C's votes and commits its no-op and with it
    /// index 2; A has not answered B. Returns B and what it sent to the
    /// client at that commit.
    fn inherit_a_put(policy: InheritedPuts) -> (Node, Vec<Outgoing>) {
        inherit_a_put_told(policy, None)
    }

    /// [`inherit_a_put`], where A first answers B's first AppendEntries,
    /// telling commit index `a_commit`, if given.
    fn inherit_a_put_told(policy: InheritedPuts, a_commit: Option<u64>) -> (Node, Vec<Outgoing>) {
        let cfg = Config {
            inherited_puts: policy,
            ..Config::default()
        };
        let mut b = Node::new(B, vec![A, C], cfg, 2, 0);
        let entries = vec![
            Entry { term: 1, put: None },
            Entry {
                term: 1,
                put: Some(PutCmd {
                    key: "k".into(),
                    value: "v".into(),
                    client: CLIENT,
                    mid: "M1".into(),
                }),
            },
        ];
        let ae = AppendEntries {
            term: 1,
            prev_index: 0,
            prev_term: 0,
            commit: 1,
            ts: 0,
            heartbeat: 0,
            entries,
            relay_to: None,
            relayed: None,
        };
        deliver(&mut b, 10, A, Body::AppendEntries(ae));
        b.handle(T0 * 2, Input::Tick);
        for pre in [true, false] {
            let vote = VoteReply {
                term: 2,
                granted: true,
                pre,
            };
            deliver(&mut b, T0 * 2, C, Body::VoteReply(vote));
        }
        assert_eq!(b.role(), Role::Leader);
        b.flush(T0 * 2);
        if let Some(commit) = a_commit {
            let told = AppendReply {
                index: 2,
                ..a_says(T0 * 2, commit)
            };
            deliver(&mut b, T0 * 2 + 5, A, Body::AppendReply(told));
        }
        let out = deliver(&mut b, T0 * 2 + 10, C, ack(2, 3, T0 * 2));
        assert_eq!(b.commit_index(), 3);
        assert_eq!(b.kv().get("k"), "v");
        (b, client_outputs(&out))
    }

    /// A's answer to B in term 2, telling its commit index.
    fn a_says(ts: Micros, commit: u64) -> AppendReply {
        AppendReply {
            term: 2,
            success: true,
            index: 3,
            conflict_term: None,
            ts,
            commit,
            relay_ack: None,
        }
    }

    fn a_says_commit(ts: Micros, commit: u64) -> Body {
        Body::AppendReply(a_says(ts, commit))
    }

    #[test]
    fn under_owner_a_new_leader_leaves_inherited_puts_to_their_owner() {
        let (mut b, out) = inherit_a_put(InheritedPuts::Owner);
        assert!(out.is_empty(), "A may have answered: {out:?}");
        let out = deliver(&mut b, T0 * 2 + 20, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }

    #[test]
    fn a_dead_owners_put_is_answered_just_before_the_clients_get_on_its_key() {
        let (mut b, out) = inherit_a_put(InheritedPuts::BeforeGet);
        assert!(out.is_empty(), "A may have answered: {out:?}");
        // Another key, or another client, needs no answer to M1.
        let out = deliver(&mut b, T0 * 2 + 20, CLIENT, get("G0", "other"));
        assert_eq!(client_outputs(&out), vec![ok("G0", Some(""))]);
        let other = Addr(0x14);
        let out = deliver(&mut b, T0 * 2 + 25, other, get("G9", "k"));
        assert!(client_outputs(&out).is_empty());
        // The client's get waits for A, which may answer M1 itself, and A
        // is sent our commit index for that.
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert!(client_outputs(&out).is_empty(), "{out:?}");
        assert!(out.iter().any(|o| o.to == A), "{out:?}");
        // A stays silent: the client hears of M1 first, once, then of G1.
        let end = T0 * 2 + 30 + OWNER_WAIT_INTERVALS * b.cfg.retransmit_interval;
        assert!(b.next_deadline(T0 * 2 + 31) <= T0 * 2 + 30 + b.cfg.retransmit_interval);
        let out = tick(&mut b, end);
        assert_eq!(
            client_outputs(&out),
            vec![ok("M1", None), ok("G1", Some("v"))]
        );
        let out = deliver(&mut b, end + 10, CLIENT, get("G2", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G2", Some("v"))]);
    }

    #[test]
    fn a_live_owner_answers_its_put_and_the_get_waits_for_it_to_say_so() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        // A answers B, its commit index still short of M1's.
        deliver(&mut b, T0 * 2 + 15, A, a_says_commit(T0 * 2, 1));
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert!(client_outputs(&out).is_empty(), "{out:?}");
        // A has applied M1, and so answered it: G1 goes, M1 is not answered.
        let out = deliver(&mut b, T0 * 2 + 40, A, a_says_commit(T0 * 2 + 30, 3));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
        let out = deliver(&mut b, T0 * 2 + 50, CLIENT, get("G2", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G2", Some("v"))]);
        assert!(b.owner_waits.is_empty() && b.unconfirmed.is_empty());
    }

    #[test]
    fn an_owner_that_told_its_commit_first_leaves_no_get_waiting() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        deliver(&mut b, T0 * 2 + 15, A, a_says_commit(T0 * 2, 3));
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }

    #[test]
    fn an_owner_that_applied_its_put_before_we_committed_it_is_not_waited_for() {
        // A committed M1 in term 1 and answered it, then lost its
        // leadership before telling anyone; its first answer to B says so.
        let (mut b, out) = inherit_a_put_told(InheritedPuts::BeforeGet, Some(2));
        assert!(out.is_empty(), "{out:?}");
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }

    #[test]
    fn an_owner_is_sent_our_commit_index_again_while_a_get_waits() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        let rto = b.cfg.retransmit_interval;
        let out = tick(&mut b, T0 * 2 + 30 + rto);
        let to_a: Vec<&Outgoing> = out.iter().filter(|o| o.to == A).collect();
        assert_eq!(to_a.len(), 1, "{out:?}");
        let Body::AppendEntries(ae) = &to_a[0].body else {
            panic!("{to_a:?}");
        };
        assert_eq!(ae.commit, 3);
        assert!(client_outputs(&out).is_empty());
    }

    #[test]
    fn a_wait_for_an_owner_ends_when_we_step_down() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        let newer = AppendReply {
            term: 3,
            success: false,
            index: 0,
            conflict_term: None,
            ts: 0,
            commit: 0,
            relay_ack: None,
        };
        deliver(&mut b, T0 * 2 + 40, C, Body::AppendReply(newer));
        assert_eq!(b.role(), Role::Follower);
        assert!(b.owner_waits.is_empty());
        assert_eq!(b.queued_requests(), 1, "the get is held, not lost");
    }

    #[test]
    fn inherited_puts_are_answered_when_an_owner_likely_died_before_committing() {
        let mut t = PutTiming::default();
        assert!(t.answer_inherited(), "nothing measured yet: answer");
        // Puts 100 ms apart that commit in 0.5 ms: an owner dead after its
        // last put had almost surely committed and answered it.
        for i in 0..20 {
            t.note_puts(i * 100_000, 1);
            t.note_commit(500);
        }
        assert!(!t.answer_inherited());
        // Commits slowed to 30 ms by retransmissions: it may well not have.
        for _ in 0..40 {
            t.note_commit(30_000);
        }
        assert!(t.answer_inherited());
    }

    #[test]
    fn a_leader_whose_puts_commit_fast_leaves_a_dead_owners_put_to_it() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        for i in 0..20 {
            b.put_timing.note_puts(i * 100_000, 1);
            b.put_timing.note_commit(500);
        }
        deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        let end = T0 * 2 + 30 + OWNER_WAIT_INTERVALS * b.cfg.retransmit_interval;
        let out = tick(&mut b, end);
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
        assert_eq!(b.counters().inherited_left_unanswered, 1);
    }

    #[test]
    fn an_inherited_put_needs_no_answer_once_a_newer_put_on_its_key_is() {
        let (mut b, _) = inherit_a_put(InheritedPuts::BeforeGet);
        deliver(&mut b, T0 * 2 + 20, CLIENT, put("M2", "k", "w"));
        let out = deliver(&mut b, T0 * 2 + 30, C, ack(2, 4, T0 * 2 + 20));
        assert_eq!(client_outputs(&out), vec![ok("M2", None)]);
        let out = deliver(&mut b, T0 * 2 + 40, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("w"))]);
    }

    #[test]
    fn under_at_commit_the_leader_that_commits_an_inherited_put_answers_it() {
        let (mut b, out) = inherit_a_put(InheritedPuts::AtCommit);
        assert_eq!(out, vec![ok("M1", None)]);
        let out = deliver(&mut b, T0 * 2 + 20, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }
}
