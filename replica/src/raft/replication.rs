//! Log replication (Raft §5.3): the leader's AppendEntries, the follower's
//! consistency check, fast backtracking on conflicts, commitment by counting
//! replicas for current-term entries only (§5.4.2), and the leader's
//! check-quorum and read lease timing.

use shared::events::RoleReason;
use shared::{Addr, AppendEntries, AppendReply, Body};

use super::node::{Node, Progress, Role};
use super::Micros;

impl Node {
    // ---- follower side -------------------------------------------------

    pub(super) fn handle_append_entries(&mut self, now: Micros, from: Addr, ae: AppendEntries) {
        if ae.term < self.term {
            self.counters.stale += 1;
            let reply = AppendReply {
                term: self.term,
                success: false,
                index: 0,
                conflict_term: None,
                ts: ae.ts,
            };
            self.send(from, Body::AppendReply(reply));
            return;
        }
        if ae.term > self.term || self.role != Role::Follower || self.leader != Some(from) {
            let reason = if ae.term > self.term {
                RoleReason::HigherTerm
            } else {
                RoleReason::LeaderFound
            };
            self.become_follower(now, ae.term, Some(from), reason);
        }
        self.last_leader_contact = Some(now);
        self.reset_election_deadline(now);
        if !self.held.is_empty() {
            self.release_held(now);
        }

        let reply = self.append_from_leader(now, &ae);
        self.send(from, Body::AppendReply(reply));
    }

    /// The consistency check and append; returns the reply to send.
    fn append_from_leader(&mut self, now: Micros, ae: &AppendEntries) -> AppendReply {
        let mut reply = AppendReply {
            term: self.term,
            success: false,
            index: 0,
            conflict_term: None,
            ts: ae.ts,
        };
        // Entries up to our commit index are already known to match.
        let skip = self.commit.saturating_sub(ae.prev_index);
        if skip > ae.entries.len() as u64 {
            reply.success = true;
            reply.index = self.commit;
            return reply;
        }
        let prev_index = ae.prev_index + skip;
        let entries = &ae.entries[skip as usize..];
        let prev_term = if skip > 0 {
            ae.entries[skip as usize - 1].term
        } else {
            ae.prev_term
        };
        match self.log.term(prev_index) {
            None => {
                reply.index = self.log.last_index() + 1;
                return reply;
            }
            Some(t) if t != prev_term => {
                reply.conflict_term = Some(t);
                reply.index = self.log.first_index_of_term_at(prev_index);
                return reply;
            }
            Some(_) => {}
        }
        for (i, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + i as u64;
            match self.log.term(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => self.log.truncate_from(index),
                None => {}
            }
            self.log.append(entry.clone());
        }
        let last_new = prev_index + entries.len() as u64;
        let commit = ae.commit.min(last_new);
        if commit > self.commit {
            self.commit = commit;
            self.apply_committed(now);
        }
        reply.success = true;
        reply.index = last_new;
        reply
    }

    // ---- leader side ---------------------------------------------------

    pub(super) fn handle_append_reply(&mut self, now: Micros, from: Addr, r: AppendReply) {
        if r.term > self.term {
            self.become_follower(now, r.term, None, RoleReason::HigherTerm);
            return;
        }
        if self.role != Role::Leader || r.term < self.term {
            self.counters.stale += 1;
            return;
        }
        let last = self.log.last_index();
        let Some(p) = self.progress.get_mut(&from) else {
            return;
        };
        p.last_reply = now;
        if r.success {
            // A reply cannot acknowledge a message sent after now: a corrupt
            // `ts` must neither stretch the read lease nor overflow the
            // check-quorum deadline (found by tests/robustness.rs).
            p.acked_ts = p.acked_ts.max(r.ts.min(now));
            if r.index > p.matched {
                p.matched = r.index.min(last);
            }
            p.next = p.next.max(p.matched + 1);
            self.advance_commit(now);
        } else {
            // Fast backtracking: skip the whole conflicting term at once.
            let hint = match r.conflict_term {
                Some(t) => self.log.last_index_of_term(t).map_or(r.index, |i| i + 1),
                None => r.index,
            };
            let p = self.progress.get_mut(&from).expect("checked above");
            if hint > p.matched {
                p.next = hint.clamp(p.matched + 1, last + 1);
                p.send_now = true;
            }
        }
        // A reply can confirm leadership for waiting reads, or move the lease.
        self.serve_reads(now);
    }

    /// Commit the highest index a quorum holds, if it is from this term.
    fn advance_commit(&mut self, now: Micros) {
        let mut matched: Vec<u64> = self.progress.values().map(|p| p.matched).collect();
        matched.push(self.log.last_index());
        matched.sort_unstable_by(|a, b| b.cmp(a));
        let n = matched[self.quorum() - 1];
        if n > self.commit && self.log.term(n) == Some(self.term) {
            self.commit = n;
            self.apply_committed(now);
        }
    }

    /// The newest time at which a quorum (counting ourselves) is known to
    /// have accepted us as leader: the send time of the AppendEntries they
    /// acknowledged.
    pub(super) fn quorum_contact(&self) -> Micros {
        let mut acked: Vec<Micros> = self.progress.values().map(|p| p.acked_ts).collect();
        acked.push(Micros::MAX);
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked[self.quorum() - 1]
    }

    /// When `p` is next due an AppendEntries even with nothing new: a
    /// retransmission for a live follower missing entries, else a heartbeat
    /// (which also probes followers that stopped answering).
    fn due_at(&self, p: &Progress, now: Micros) -> Micros {
        let live = now < p.last_reply + self.cfg.election_timeout_min;
        if live && p.matched < self.log.last_index() {
            p.last_sent.max(p.last_reply) + self.cfg.retransmit_interval
        } else {
            p.last_sent + self.cfg.heartbeat_interval
        }
    }

    /// Check-quorum (thesis §6.2): a leader that has not been confirmed by a
    /// quorum for an election timeout steps down. Otherwise schedule
    /// heartbeats and retransmissions.
    pub(super) fn leader_tick(&mut self, now: Micros) {
        let contact = self.quorum_contact().max(self.leader_since);
        if now >= contact + self.cfg.election_timeout_min {
            self.become_follower(now, self.term, None, RoleReason::CheckQuorumLost);
            return;
        }
        let due: Vec<Addr> = self
            .progress
            .iter()
            .filter(|(_, p)| now >= self.due_at(p, now))
            .map(|(a, _)| *a)
            .collect();
        for peer in due {
            let p = self.progress.get_mut(&peer).expect("key from the same map");
            // Resend whatever is unacknowledged: it may have been dropped.
            p.next = p.matched + 1;
            p.send_now = true;
        }
    }

    /// When the leader next needs a tick: a heartbeat, a retransmission or
    /// the check-quorum deadline.
    pub(super) fn leader_deadline(&self, now: Micros) -> Micros {
        let check = self.quorum_contact().max(self.leader_since) + self.cfg.election_timeout_min;
        self.progress
            .values()
            .map(|p| self.due_at(p, now))
            .fold(check, Micros::min)
    }

    /// Sends an AppendEntries to each follower that has new entries (when it
    /// is keeping up), or is due a heartbeat or retransmission.
    pub(super) fn send_due_appends(&mut self, now: Micros) {
        let last = self.log.last_index();
        let live_window = self.cfg.election_timeout_min;
        let peers: Vec<Addr> = self.progress.keys().copied().collect();
        for peer in peers {
            let p = &self.progress[&peer];
            // Pipeline new entries only to followers that answer; probe the
            // others at heartbeat pace.
            let live = now < p.last_reply + live_window;
            let has_new = p.next <= last && live;
            if !(p.send_now || has_new) {
                continue;
            }
            let next = p.next;
            let entries = self.log.batch(next, self.cfg.max_batch_bytes);
            let prev_index = next - 1;
            let ae = AppendEntries {
                term: self.term,
                prev_index,
                prev_term: self.log.term(prev_index).unwrap_or(0),
                commit: self.commit,
                ts: now,
                entries,
            };
            let p = self.progress.get_mut(&peer).expect("key from the same map");
            p.next = prev_index + ae.entries.len() as u64 + 1;
            p.last_sent = now;
            p.send_now = false;
            self.send(peer, Body::AppendEntries(ae));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Input, Outgoing};
    use super::*;
    use crate::raft::testkit::{deliver, A, B, C};
    use shared::{Entry, Message, PutCmd};

    fn put(term: u64, key: &str, value: &str) -> Entry {
        Entry {
            term,
            put: Some(PutCmd {
                key: key.into(),
                value: value.into(),
                client: Addr(0x13),
                mid: format!("M-{key}-{value}"),
            }),
        }
    }

    fn ae(term: u64, prev: (u64, u64), commit: u64, entries: Vec<Entry>) -> Body {
        Body::AppendEntries(AppendEntries {
            term,
            prev_index: prev.0,
            prev_term: prev.1,
            commit,
            ts: 5,
            entries,
        })
    }

    fn reply(term: u64, success: bool, index: u64, ct: Option<u64>) -> Body {
        Body::AppendReply(AppendReply {
            term,
            success,
            index,
            conflict_term: ct,
            ts: 5,
        })
    }

    /// A leader of term 1 for {A, B, C}, its no-op not yet acknowledged.
    fn leader() -> Node {
        let mut a = Node::new(A, vec![B, C], Config::default(), 1, 0);
        a.handle(2_000_000, Input::Tick);
        for pre in [true, false] {
            let body = Body::VoteReply(shared::VoteReply {
                term: 1,
                granted: true,
                pre,
            });
            let msg = Message {
                src: B,
                dst: A,
                leader: Addr::UNKNOWN,
                body,
            };
            a.handle(2_000_000, Input::Message(msg));
        }
        assert_eq!(a.role(), Role::Leader);
        a
    }

    #[test]
    fn a_follower_appends_and_learns_the_commit_index() {
        // Raft §5.3
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let out = deliver(
            &mut b,
            10,
            A,
            ae(1, (0, 0), 1, vec![put(1, "k", "v"), put(1, "k", "w")]),
        );
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: reply(1, true, 2, None)
            }]
        );
        assert_eq!(b.commit_index(), 1);
        assert_eq!(b.kv().get("k"), "v");
        assert_eq!(b.leader_hint(), A);
    }

    #[test]
    fn a_gap_is_reported_with_the_next_index_we_need() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let out = deliver(&mut b, 10, A, ae(1, (5, 1), 0, vec![put(1, "k", "v")]));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: reply(1, false, 1, None)
            }]
        );
    }

    #[test]
    fn a_conflict_reports_its_term_and_where_that_term_starts() {
        // fast backtracking (Raft §5.3, the optimisation at its end)
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        deliver(
            &mut b,
            10,
            A,
            ae(
                1,
                (0, 0),
                1,
                vec![put(1, "a", "1"), put(2, "b", "1"), put(2, "c", "1")],
            ),
        );
        let out = deliver(&mut b, 20, C, ae(3, (3, 3), 1, vec![]));
        assert_eq!(
            out,
            vec![Outgoing {
                to: C,
                body: reply(3, false, 2, Some(2))
            }]
        );
    }

    #[test]
    fn conflicting_suffix_is_replaced_but_a_stale_duplicate_truncates_nothing() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        deliver(
            &mut b,
            10,
            A,
            ae(
                1,
                (0, 0),
                0,
                vec![put(1, "a", "1"), put(1, "b", "1"), put(1, "c", "1")],
            ),
        );
        // a reordered, older AppendEntries carrying only the first entry
        deliver(&mut b, 20, A, ae(1, (0, 0), 0, vec![put(1, "a", "1")]));
        assert_eq!(b.log().last_index(), 3);
        deliver(&mut b, 30, C, ae(2, (1, 1), 0, vec![put(2, "x", "9")]));
        assert_eq!(b.log().last_index(), 2);
        assert_eq!(b.log().term(2), Some(2));
    }

    #[test]
    fn a_stale_leader_is_told_the_newer_term() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        b.set_term_for_test(4);
        let out = deliver(&mut b, 10, A, ae(3, (0, 0), 0, vec![]));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: reply(4, false, 0, None)
            }]
        );
    }

    #[test]
    fn the_leader_commits_once_a_quorum_holds_a_current_term_entry() {
        // Raft §5.4.2
        let mut a = leader();
        let out = a.flush(2_000_000);
        let appends = out
            .iter()
            .filter(|o| matches!(o.body, Body::AppendEntries(_)))
            .count();
        assert_eq!(appends, 2, "the no-op goes to both followers: {out:?}");
        assert_eq!(a.commit_index(), 0);
        deliver(&mut a, 2_000_100, B, reply(1, true, 1, None));
        assert_eq!(a.commit_index(), 1);
    }

    #[test]
    fn entries_of_an_older_term_are_not_committed_by_counting() {
        // Raft §5.4.2, figure 8
        let mut a = leader();
        a.log.truncate_from(1);
        a.log.append(Entry { term: 1, put: None });
        a.set_term_for_test(2);
        deliver(&mut a, 2_000_100, B, reply(2, true, 1, None));
        assert_eq!(a.commit_index(), 0);
    }

    #[test]
    fn a_conflict_reply_moves_next_past_the_whole_term() {
        let mut a = leader();
        a.flush(2_000_000);
        for i in 0..5 {
            a.log.append(put(1, &format!("k{i}"), "v"));
        }
        let out = deliver(&mut a, 2_000_100, B, reply(1, false, 1, None));
        let Body::AppendEntries(sent) = &out[0].body else {
            panic!("{out:?}")
        };
        assert_eq!(out[0].to, B);
        assert_eq!(sent.prev_index, 0);
        assert_eq!(sent.entries.len(), 6);
    }

    #[test]
    fn a_leader_that_loses_its_quorum_steps_down() {
        // thesis §6.2 check-quorum
        let mut a = leader();
        a.flush(2_000_000);
        let timeout = a.cfg.election_timeout_min;
        a.handle(2_000_000 + timeout - 1, Input::Tick);
        assert_eq!(a.role(), Role::Leader);
        a.handle(2_000_000 + timeout, Input::Tick);
        assert_eq!(a.role(), Role::Follower);
        assert_eq!(a.leader_hint(), Addr::UNKNOWN);
    }

    #[test]
    fn idle_followers_get_heartbeats_and_lost_entries_are_resent() {
        let mut a = leader();
        a.flush(2_000_000);
        deliver(&mut a, 2_000_100, B, reply(1, true, 1, None));
        deliver(&mut a, 2_000_100, C, reply(1, true, 1, None));
        let hb = a.cfg.heartbeat_interval;
        assert!(a.next_deadline(2_000_100) <= 2_000_000 + hb);
        a.handle(2_000_000 + hb, Input::Tick);
        let out = a.flush(2_000_000 + hb);
        assert_eq!(out.len(), 2);
        assert!(out
            .iter()
            .all(|o| matches!(&o.body, Body::AppendEntries(ae) if ae.entries.is_empty())));
    }

    #[test]
    fn an_acknowledgement_from_the_future_does_not_extend_leadership() {
        // A corrupt `ts` used to push the check-quorum deadline past
        // u64::MAX (an overflow panic) and would have stretched the lease.
        let mut a = leader();
        a.flush(2_000_000);
        let forged = AppendReply {
            term: 1,
            success: true,
            index: 1,
            conflict_term: None,
            ts: u64::MAX,
        };
        deliver(&mut a, 2_000_100, B, Body::AppendReply(forged));
        let timeout = a.cfg.election_timeout_min;
        assert!(a.next_deadline(2_000_100) <= 2_000_100 + timeout);
        a.handle(2_000_100 + timeout, Input::Tick);
        assert_eq!(
            a.role(),
            Role::Follower,
            "no quorum has heard from it since"
        );
    }
}
