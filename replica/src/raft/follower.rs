//! The follower's side of log replication (Raft §5.3): the consistency
//! check, appending and truncating, fast-backtracking hints on conflicts,
//! learning the commit index, and relaying an AppendEntries on to the next
//! follower when the leader asks (see `leader/fanout.rs`).

use shared::events::RoleReason;
use shared::{Addr, AppendEntries, AppendReply, Body, RelayAck, Relayed};

use super::node::{Node, Role};
use super::Micros;

impl Node {
    pub(super) fn handle_append_entries(&mut self, now: Micros, from: Addr, ae: AppendEntries) {
        // A relayed AppendEntries comes from the relaying follower, and
        // names the leader it comes from (see `leader/fanout.rs`).
        let leader = match ae.relayed {
            None => from,
            Some(r) if r.leader != self.id && self.is_peer(r.leader) => r.leader,
            Some(_) => {
                self.counters.not_from_peer += 1;
                return;
            }
        };
        if ae.term < self.term {
            self.counters.stale += 1;
            // No relay acknowledgement: it was for an older term than ours.
            let reply = AppendReply {
                term: self.term,
                success: false,
                index: 0,
                conflict_term: None,
                ts: ae.ts,
                commit: 0,
                relay_ack: None,
            };
            self.send(leader, Body::AppendReply(reply));
            return;
        }
        if ae.term > self.term || self.role != Role::Follower || self.leader != Some(leader) {
            let reason = if ae.term > self.term {
                RoleReason::HigherTerm
            } else {
                RoleReason::LeaderFound
            };
            self.become_follower(now, ae.term, Some(leader), reason);
            self.inheritance.record_term_leader(ae.term, leader);
        }
        // Bounded: a corrupt hint must not silence our election timer.
        let cfg = &self.cfg;
        let longest = cfg
            .election_timeout_max
            .max(cfg.quiet_lazy_heartbeat_interval);
        let interval = ae.heartbeat.min(longest).max(cfg.heartbeat_interval);
        self.heard_from_leader(now, interval);
        let mut reply = self.append_from_leader(now, &ae);
        // After the append: puts it settles are answered before the held
        // requests go (see `waits_for_our_put`).
        if self.clients.has_held() {
            self.release_held(now);
        }
        match ae.relay_to {
            // Pass it on instead of answering: the next follower answers
            // for both. One hop only, and never back to the leader.
            Some(next)
                if reply.success
                    && ae.relayed.is_none()
                    && next != self.id
                    && next != leader
                    && self.is_peer(next) =>
            {
                let relayed = Relayed {
                    leader,
                    index: reply.index,
                };
                let onward = AppendEntries {
                    relay_to: None,
                    relayed: Some(relayed),
                    ..ae
                };
                self.send(next, Body::AppendEntries(onward));
            }
            _ => {
                reply.relay_ack = ae.relayed.map(|r| RelayAck {
                    from,
                    index: r.index,
                });
                // Puts we owed up to here were answered above, before this.
                reply.commit = self.commit;
                self.send(leader, Body::AppendReply(reply));
            }
        }
    }

    /// The consistency check and append; returns the reply to send.
    fn append_from_leader(&mut self, now: Micros, ae: &AppendEntries) -> AppendReply {
        let mut reply = AppendReply {
            term: self.term,
            success: false,
            index: 0,
            conflict_term: None,
            ts: ae.ts,
            commit: 0,
            relay_ack: None,
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
        let mut new_puts = Vec::new();
        for (i, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + i as u64;
            match self.log.term(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => self.log.truncate_from(index),
                None => {}
            }
            if entry.put.is_some() {
                new_puts.push(index);
            }
            self.log.append(entry.clone());
        }
        self.inheritance
            .timing
            .record_puts(now, new_puts.len() as u64);
        let last_new = prev_index + entries.len() as u64;
        let commit = ae.commit.min(last_new);
        self.inheritance
            .heard_from_leader(now, new_puts.into_iter(), self.commit.max(commit));
        if commit > self.commit {
            self.commit = commit;
            self.apply_committed(now);
        }
        reply.success = true;
        reply.index = last_new;
        reply
    }
}

#[cfg(test)]
mod tests {
    use super::super::Outgoing;
    use super::*;
    use crate::raft::testkit::{append, append_reply, deliver, put_entry, A, B, C};
    use crate::raft::Config;

    #[test]
    fn a_follower_appends_and_learns_the_commit_index() {
        // Raft §5.3; the answer also tells the commit index (inherited.rs).
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let out = deliver(
            &mut b,
            10,
            A,
            append(
                1,
                (0, 0),
                1,
                vec![put_entry(1, "k", "v"), put_entry(1, "k", "w")],
            ),
        );
        let Body::AppendReply(expected) = append_reply(1, true, 2, None) else {
            unreachable!()
        };
        let expected = AppendReply {
            commit: 1,
            ..expected
        };
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: Body::AppendReply(expected)
            }]
        );
        assert_eq!(b.commit_index(), 1);
        assert_eq!(b.kv().get("k"), "v");
        assert_eq!(b.leader_hint(), A);
    }

    #[test]
    fn a_gap_is_reported_with_the_next_index_we_need() {
        // Asked to relay or not: what it cannot append goes no further.
        for relay_to in [None, Some(C)] {
            let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
            let Body::AppendEntries(mut gap) = append(1, (5, 1), 0, vec![put_entry(1, "k", "v")])
            else {
                unreachable!()
            };
            gap.relay_to = relay_to;
            let out = deliver(&mut b, 10, A, Body::AppendEntries(gap));
            assert_eq!(
                out,
                vec![Outgoing {
                    to: A,
                    body: append_reply(1, false, 1, None)
                }]
            );
        }
    }

    #[test]
    fn a_conflict_reports_its_term_and_where_that_term_starts() {
        // fast backtracking (Raft §5.3, the optimisation at its end)
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        deliver(
            &mut b,
            10,
            A,
            append(
                1,
                (0, 0),
                1,
                vec![
                    put_entry(1, "a", "1"),
                    put_entry(2, "b", "1"),
                    put_entry(2, "c", "1"),
                ],
            ),
        );
        let out = deliver(&mut b, 20, C, append(3, (3, 3), 1, vec![]));
        let Body::AppendReply(expected) = append_reply(3, false, 2, Some(2)) else {
            unreachable!()
        };
        assert_eq!(
            out,
            vec![Outgoing {
                to: C,
                body: Body::AppendReply(AppendReply {
                    commit: 1,
                    ..expected
                })
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
            append(
                1,
                (0, 0),
                0,
                vec![
                    put_entry(1, "a", "1"),
                    put_entry(1, "b", "1"),
                    put_entry(1, "c", "1"),
                ],
            ),
        );
        // a reordered, older AppendEntries carrying only the first entry
        deliver(
            &mut b,
            20,
            A,
            append(1, (0, 0), 0, vec![put_entry(1, "a", "1")]),
        );
        assert_eq!(b.log().last_index(), 3);
        deliver(
            &mut b,
            30,
            C,
            append(2, (1, 1), 0, vec![put_entry(2, "x", "9")]),
        );
        assert_eq!(b.log().last_index(), 2);
        assert_eq!(b.log().term(2), Some(2));
    }

    #[test]
    fn a_stale_leader_is_told_the_newer_term() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        b.set_term_for_test(4);
        let out = deliver(&mut b, 10, A, append(3, (0, 0), 0, vec![]));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: append_reply(4, false, 0, None)
            }]
        );
    }
}
