//! The leader's handling of inherited puts (see `inherited.rs` for what
//! they are and the state kept of them): remembering one when we commit
//! it, deciding what a get on its key waits for, and the gets held for an
//! owner's word.

use shared::{Addr, PutCmd};

use super::inherited::BeforeGet;
use super::leader::reads::PendingRead;
use super::node::Node;
use super::Micros;

/// A get waits this many retransmission intervals at most for an inherited
/// put's owner to say it has applied (and so answered) the put, and the
/// owner is sent our commit index once per interval meanwhile.
pub(super) const OWNER_WAIT_INTERVALS: u64 = 4;

impl Node {
    /// We committed, as leader, the put at `index` that the leader of the
    /// earlier `term` appended: unless its owner already told us it
    /// applied it, it is remembered until the client's next get on its key.
    pub(super) fn commit_inherited(&mut self, put: PutCmd, index: u64, term: u64) {
        let owner = self.inheritance.leader_of(term);
        let told = |o: &Addr| {
            self.leading
                .as_ref()
                .and_then(|l| l.tracker.get(o))
                .map_or(0, |p| p.told_commit())
        };
        if owner.is_some_and(|o| told(&o) >= index) {
            // Its owner has already said it applied it.
            return;
        }
        let owner = owner.filter(|o| *o != self.id);
        self.inheritance
            .remember(put.client, put.key, put.mid, index, owner);
    }

    /// A get from `client` on `key` is about to be answered: what must
    /// happen first (see `Inheritance::before_get`).
    pub(super) fn before_get(&mut self, now: Micros, client: Addr, key: &str) -> BeforeGet {
        let wait = OWNER_WAIT_INTERVALS * self.cfg.retransmit_interval;
        let (cfg, leading) = (&self.cfg, &self.leading);
        // Silent since our election, an owner is presumed live until the
        // wait ends; once it answered us, while it keeps doing so.
        let may_answer = |owner: Addr| {
            leading
                .as_ref()
                .and_then(|l| l.tracker.get(&owner))
                .is_some_and(|p| p.may_answer(cfg, now))
        };
        self.inheritance
            .before_get(now, client, key, wait, may_answer)
    }

    /// Holds `read` until `owner` says it applied the inherited put on its
    /// key, and sends the owner our commit index now. Hands the read back
    /// when the reads are full.
    pub(super) fn wait_for_owner(
        &mut self,
        now: Micros,
        read: PendingRead,
        owner: Addr,
        until: Micros,
    ) -> Result<(), PendingRead> {
        let nudge_at = now + self.cfg.retransmit_interval;
        let Some(lead) = self.leading.as_mut() else {
            return Err(read);
        };
        lead.tracker.request_send(&owner);
        lead.reads.wait_for_owner(read, owner, until, nudge_at)
    }

    /// `from` told us its commit index: the inherited puts it appended up
    /// to there are answered; gets that waited for that go back to the
    /// reads, which the caller serves (`handle_append_reply`).
    pub(super) fn owner_applied(&mut self, now: Micros, from: Addr, commit: u64) {
        if self.inheritance.is_empty() || commit == 0 {
            return;
        }
        let settled = self.inheritance.owner_applied(from, commit);
        if settled
            && self
                .leading
                .as_ref()
                .is_some_and(|l| l.reads.has_owner_waits())
        {
            self.end_owner_waits(now);
        }
    }

    /// Timers of gets waiting for an owner: each interval the owner is sent
    /// our commit index again (it or its answer may be lost); at the end of
    /// the wait the get goes on without it.
    pub(super) fn owner_wait_tick(&mut self, now: Micros) {
        let Some(lead) = self.leading.as_ref() else {
            return;
        };
        if !lead.reads.has_owner_waits() {
            return;
        }
        if lead.reads.owner_wait_over(now) {
            self.end_owner_waits(now);
            self.serve_reads(now);
        }
        let interval = self.cfg.retransmit_interval;
        if let Some(lead) = self.leading.as_mut() {
            for owner in lead.reads.owners_to_nudge(now, interval) {
                lead.tracker.request_send(&owner);
            }
        }
    }

    /// The gets whose wait is over (the put is settled, or the wait ended)
    /// go back to the front of the reads, in order, to be served again.
    fn end_owner_waits(&mut self, now: Micros) {
        let inheritance = &self.inheritance;
        if let Some(lead) = self.leading.as_mut() {
            lead.reads
                .end_owner_waits(now, |r| inheritance.is_unsettled(r.client, &r.key));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::node::Role;
    use super::super::{Config, Input, Outgoing};
    use super::*;
    use crate::raft::testkit::{ack, client_outputs, deliver, get, ok, put, tick, A, B, C, CLIENT};
    use shared::{AppendEntries, AppendReply, Body, Entry, VoteReply};

    const T0: Micros = 2_000_000;

    /// B inherits A's put M1 (k=v) at index 2 (A led term
    /// 1), B wins term 2 with C's votes and commits its no-op and with it
    /// index 2; A has not answered B. Returns B and what it sent to the
    /// client at that commit.
    fn inherit_a_put() -> (Node, Vec<Outgoing>) {
        inherit_a_put_told(None)
    }

    /// [`inherit_a_put`], where A first answers B's first AppendEntries,
    /// telling commit index `a_commit`, if given.
    fn inherit_a_put_told(a_commit: Option<u64>) -> (Node, Vec<Outgoing>) {
        inherit_a_put_with(a_commit, 10)
    }

    /// [`inherit_a_put_told`], where A keeps sending B heartbeats that say
    /// only its no-op is committed until `heard_until`.
    fn inherit_a_put_with(a_commit: Option<u64>, heard_until: Micros) -> (Node, Vec<Outgoing>) {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
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
        let mut t = 10;
        while t < heard_until {
            t = (t + 300_000).min(heard_until);
            let beat = AppendEntries {
                prev_index: 2,
                prev_term: 1,
                commit: 1,
                ..crate::raft::testkit::empty_append(1, t)
            };
            deliver(&mut b, t, A, Body::AppendEntries(beat));
        }
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
    fn a_dead_owners_put_is_answered_just_before_the_clients_get_on_its_key() {
        let (mut b, out) = inherit_a_put();
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
        let (mut b, _) = inherit_a_put();
        // A answers B, its commit index still short of M1's.
        deliver(&mut b, T0 * 2 + 15, A, a_says_commit(T0 * 2, 1));
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert!(client_outputs(&out).is_empty(), "{out:?}");
        // A has applied M1, and so answered it: G1 goes, M1 is not answered.
        let out = deliver(&mut b, T0 * 2 + 40, A, a_says_commit(T0 * 2 + 30, 3));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
        let out = deliver(&mut b, T0 * 2 + 50, CLIENT, get("G2", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G2", Some("v"))]);
        assert!(!b.leading_for_test().reads.has_owner_waits() && b.inheritance.is_empty());
    }

    #[test]
    fn an_owner_that_told_its_commit_first_leaves_no_get_waiting() {
        let (mut b, _) = inherit_a_put();
        deliver(&mut b, T0 * 2 + 15, A, a_says_commit(T0 * 2, 3));
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }

    #[test]
    fn an_owner_that_applied_its_put_before_we_committed_it_is_not_waited_for() {
        // A committed M1 in term 1 and answered it, then lost its
        // leadership before telling anyone; its first answer to B says so.
        let (mut b, out) = inherit_a_put_told(Some(2));
        assert!(out.is_empty(), "{out:?}");
        let out = deliver(&mut b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
    }

    #[test]
    fn an_owner_is_sent_our_commit_index_again_while_a_get_waits() {
        let (mut b, _) = inherit_a_put();
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
        let (mut b, _) = inherit_a_put();
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
        assert!(b.leading.is_none());
        assert_eq!(b.queued_requests(), 1, "the get is held, not lost");
    }

    /// Our puts commit in 0.5 ms, 100 ms apart; the client's get on "k"
    /// comes, the owner says nothing through the wait: what we send then.
    fn get_after_the_owner_wait_with_fast_commits(b: &mut Node) -> Vec<Outgoing> {
        for i in 0..20 {
            b.inheritance.timing.record_puts(i * 100_000, 1);
            b.inheritance.timing.record_commit(500);
        }
        deliver(b, T0 * 2 + 30, CLIENT, get("G1", "k"));
        let end = T0 * 2 + 30 + OWNER_WAIT_INTERVALS * b.cfg.retransmit_interval;
        tick(b, end)
    }

    #[test]
    fn a_leader_whose_puts_commit_fast_leaves_a_dead_owners_put_to_it() {
        let (mut b, _) = inherit_a_put();
        let out = get_after_the_owner_wait_with_fast_commits(&mut b);
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("v"))]);
        assert_eq!(b.counters().inherited_left_unanswered, 1);
    }

    #[test]
    fn a_put_its_dead_owner_left_uncommitted_for_long_is_answered_first() {
        // As above, but A kept telling B for 1.5 s that only its no-op was
        // committed: it took that long at least, far beyond our commits.
        let (mut b, _) = inherit_a_put_with(None, 1_500_000);
        let out = get_after_the_owner_wait_with_fast_commits(&mut b);
        assert_eq!(
            client_outputs(&out),
            vec![ok("M1", None), ok("G1", Some("v"))]
        );
        assert_eq!(b.counters().inherited_left_unanswered, 0);
    }

    #[test]
    fn an_inherited_put_needs_no_answer_once_a_newer_put_on_its_key_is() {
        let (mut b, _) = inherit_a_put();
        deliver(&mut b, T0 * 2 + 20, CLIENT, put("M2", "k", "w"));
        let out = deliver(&mut b, T0 * 2 + 30, C, ack(2, 4, T0 * 2 + 20));
        assert_eq!(client_outputs(&out), vec![ok("M2", None)]);
        let out = deliver(&mut b, T0 * 2 + 40, CLIENT, get("G1", "k"));
        assert_eq!(client_outputs(&out), vec![ok("G1", Some("w"))]);
    }
}
