//! Leader election (Raft §5.2) with pre-vote (thesis §9.6) and leader
//! stickiness (thesis §4.2.3): a replica that heard from a leader within
//! the minimum election timeout neither grants votes nor adopts the
//! candidate's term, so a replica returning from a partition cannot depose
//! a healthy leader, and the leader's read lease holds.

use std::collections::BTreeSet;

use shared::events::{Event, RoleReason};
use shared::{Addr, Body, Entry, RequestVote, VoteReply};

use super::campaign::Campaign;
use super::leader::fanout::quiet_eager_interval;
use super::leader::ledger::Ledger;
use super::leader::reads::Reads;
use super::leader::tracker::Tracker;
use super::leader::Leader;
use super::node::{Node, Role};
use super::Micros;

/// Unanswered vote requests are resent this many times per campaign (after
/// 1, 3, 7, 15 and 31 retransmit intervals, all within the shortest
/// election timeout): at 50% drops per hop, all six round trips to a
/// reachable peer fail about one time in six (one in three with four
/// tries), and a vote that needs two of three such peers in each of two
/// rounds came through in 58% of campaigns instead of 83%. A peer that is
/// dead costs five more messages per campaign.
const VOTE_RESENDS: u32 = 5;

impl Node {
    /// Election timeout: ask for pre-votes for term + 1 without changing
    /// any state anyone else can see.
    pub(super) fn start_pre_vote(&mut self, now: Micros) {
        // The leader belief stays: a pre-vote only asks whether the leader
        // is gone, and most often (a few lost heartbeats) it is not.
        let silent = match &self.campaign {
            Some(previous) => previous.unanswered(&self.peers),
            None => BTreeSet::new(),
        };
        self.role = Role::PreCandidate;
        self.campaign = Some(Campaign::new(self.id, silent, self.cfg.retransmit_interval));
        self.reset_election_deadline(now);
        self.counters.elections_started += 1;
        self.report_role(now, RoleReason::ElectionTimeout);
        self.request_votes(now, true);
    }

    /// Sends our RequestVote to every peer that has not answered this
    /// campaign yet. Called when a campaign starts and resent after a
    /// retransmit interval that doubles each time, `VOTE_RESENDS` times at
    /// most: on a lossy network, waiting a whole election timeout for a
    /// lost vote makes failover slow, but a replica cut off by a partition
    /// should not keep shouting (each request counts as a message whether
    /// or not it arrives). Peers silent through the previous campaign get
    /// no resends, and none are sent where our last leader found the
    /// network quiet.
    fn request_votes(&mut self, now: Micros, first: bool) {
        let quiet = self.leader_said_quiet();
        let Some(campaign) = self.campaign.as_mut() else {
            return;
        };
        let pre = self.role == Role::PreCandidate;
        let rv = RequestVote {
            term: if pre { self.term + 1 } else { self.term },
            last_index: self.log.last_index(),
            last_term: self.log.last_term(),
            pre,
        };
        let resends = campaign.backoff < self.cfg.retransmit_interval << VOTE_RESENDS;
        campaign.resend_at = if resends && !quiet {
            now + campaign.backoff
        } else {
            Micros::MAX
        };
        campaign.backoff = campaign.backoff.saturating_mul(2);
        let waiting: Vec<Addr> = self
            .peers
            .iter()
            .copied()
            .filter(|p| !campaign.answered.contains(p) && (first || !campaign.silent.contains(p)))
            .collect();
        for p in waiting {
            self.send(p, Body::RequestVote(rv));
        }
    }

    /// Our last leader's heartbeat interval for us was a quiet one (see
    /// `leader/tracker.rs`): it saw a network that loses next to nothing, where a
    /// vote request that goes unanswered went to a replica that is dead or
    /// cut off, and resending it only adds messages. A network whose
    /// quiet intervals cannot be told from the others (they coincide) is
    /// taken as lossy.
    fn leader_said_quiet(&self) -> bool {
        let cfg = &self.cfg;
        let told = self.leader_interval;
        told > cfg.heartbeat_interval
            && told != cfg.lazy_heartbeat_interval
            && (told == quiet_eager_interval(cfg) || told == cfg.quiet_lazy_heartbeat_interval)
    }

    /// Candidate and pre-candidate timers: a new campaign when the election
    /// times out, else a resend to the peers that have not answered.
    pub(super) fn campaign_tick(&mut self, now: Micros) {
        if now >= self.election_deadline {
            self.start_pre_vote(now);
        } else if self.campaign.as_ref().is_some_and(|c| now >= c.resend_at) {
            self.request_votes(now, false);
        }
    }

    pub(super) fn campaign_deadline(&self) -> Micros {
        match &self.campaign {
            Some(c) => self.election_deadline.min(c.resend_at),
            None => self.election_deadline,
        }
    }

    /// A pre-vote majority: campaign for real (Raft §5.2).
    fn start_election(&mut self, now: Micros) {
        self.term += 1;
        self.role = Role::Candidate;
        self.leader = None;
        self.voted_for = Some(self.id);
        if let Some(c) = self.campaign.as_mut() {
            c.next_round(self.id, self.cfg.retransmit_interval);
        }
        self.reset_election_deadline(now);
        self.report_role(now, RoleReason::PreVoteWon);
        self.request_votes(now, true);
    }

    /// Within the minimum election timeout of hearing from a live leader.
    pub(super) fn in_leader_lease(&self, now: Micros) -> bool {
        match self.role {
            Role::Leader => true,
            _ => self
                .last_leader_contact
                .is_some_and(|t| now < t + self.cfg.election_timeout_min),
        }
    }

    pub(super) fn handle_request_vote(&mut self, now: Micros, from: Addr, rv: RequestVote) {
        if self.leader.or(self.last_leader) == Some(from) && self.role != Role::Leader {
            // The leader we know campaigns: it stepped down, so our packets
            // stop naming it (while they did, they alternated in the
            // simulator's leader list with its own, which name nobody).
            self.leader = None;
            self.last_leader = None;
            self.report_role(now, RoleReason::CheckQuorumLost);
        }
        if rv.term > self.term && self.in_leader_lease(now) {
            // Sticky: a live leader exists; neither vote nor adopt the term.
            self.counters.stale += 1;
            self.reply_vote(now, from, rv, self.term, false);
            return;
        }
        if rv.pre {
            let granted =
                rv.term > self.term && self.log.is_up_to_date(rv.last_index, rv.last_term);
            let term = if granted { rv.term } else { self.term };
            self.reply_vote(now, from, rv, term, granted);
            return;
        }
        if rv.term > self.term {
            self.become_follower(now, rv.term, None, RoleReason::HigherTerm);
        }
        let granted = rv.term == self.term
            && self.voted_for.is_none_or(|v| v == from)
            && self.log.is_up_to_date(rv.last_index, rv.last_term);
        if granted {
            self.voted_for = Some(from);
            self.reset_election_deadline(now);
        }
        self.reply_vote(now, from, rv, self.term, granted);
    }

    fn reply_vote(&mut self, now: Micros, to: Addr, rv: RequestVote, term: u64, granted: bool) {
        let pre = rv.pre;
        self.send(to, Body::VoteReply(VoteReply { term, granted, pre }));
        let event = Event::Vote {
            candidate: to.to_string(),
            term: rv.term,
            granted,
            pre,
        };
        self.emit(now, event);
    }

    pub(super) fn handle_vote_reply(&mut self, now: Micros, from: Addr, r: VoteReply) {
        let echo_of_our_pre_vote = r.pre && r.granted;
        if r.term > self.term && !echo_of_our_pre_vote {
            self.become_follower(now, r.term, None, RoleReason::HigherTerm);
            return;
        }
        let current = if r.pre {
            // A refusal carries the voter's own term, not the one we proposed.
            let term_ok = if r.granted {
                r.term == self.term + 1
            } else {
                r.term <= self.term + 1
            };
            self.role == Role::PreCandidate && term_ok
        } else {
            self.role == Role::Candidate && r.term == self.term
        };
        let quorum = self.quorum();
        let Some(campaign) = self.campaign.as_mut().filter(|_| current) else {
            self.counters.stale += 1;
            return;
        };
        campaign.answered.insert(from);
        if !r.granted {
            return;
        }
        campaign.votes.insert(from);
        if campaign.votes.len() >= quorum {
            if r.pre {
                self.start_election(now);
            } else {
                self.become_leader(now);
            }
        }
    }

    /// Won the election: a no-op in the new term (Raft §8) and an
    /// immediate AppendEntries to everyone. The leader state starts afresh
    /// but for the estimates our last term as leader left.
    fn become_leader(&mut self, now: Micros) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        self.last_leader = self.leader;
        self.campaign = None;
        self.counters.terms_won += 1;
        self.inheritance.record_term_leader(self.term, self.id);
        let next = self.log.last_index() + 1;
        let estimates = std::mem::take(&mut self.kept_estimates);
        let quorum = self.quorum();
        let tracker = Tracker::new(&self.cfg, &self.peers, quorum, next, now, estimates);
        let term_start = self.log.append(Entry {
            term: self.term,
            put: None,
        });
        self.leading = Some(Leader {
            tracker,
            reads: Reads::new(&self.cfg),
            ledger: Ledger::new(self.peers.len() + 1),
            since: now,
            term_start,
            snapshot: None,
        });
        self.report_role(now, RoleReason::WonElection);
        self.adopt_held(now);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Config, Outgoing};
    use super::*;
    use crate::raft::testkit::{deliver, first_heartbeat, tick, A, B, C};

    fn node(id: Addr) -> Node {
        Node::new(id, vec![A, B, C], Config::default(), 1, 0)
    }

    fn vote_reply(term: u64, granted: bool, pre: bool) -> Body {
        Body::VoteReply(VoteReply { term, granted, pre })
    }

    #[test]
    fn election_timeout_starts_a_pre_vote_without_raising_the_term() {
        // thesis §9.6: pre-vote leaves the term alone
        let mut a = node(A);
        let out = tick(&mut a, 2_000_000);
        assert_eq!(a.role(), Role::PreCandidate);
        assert_eq!(a.term(), 0);
        let rv = RequestVote {
            term: 1,
            last_index: 0,
            last_term: 0,
            pre: true,
        };
        assert_eq!(
            out,
            vec![
                Outgoing {
                    to: B,
                    body: Body::RequestVote(rv)
                },
                Outgoing {
                    to: C,
                    body: Body::RequestVote(rv)
                }
            ]
        );
    }

    #[test]
    fn packets_name_the_last_known_leader_until_a_new_one_is_known() {
        // B leads term 1; then A times out and campaigns.
        let mut a = node(A);
        deliver(&mut a, 1_000, B, first_heartbeat(0));
        assert_eq!((a.leader_belief(), a.leader_hint()), (Some(B), B));
        let t = a.election_deadline;
        tick(&mut a, t);
        assert_eq!(a.role(), Role::PreCandidate);
        assert_eq!(a.leader_hint(), B, "a pre-vote does not show B gone");
        deliver(&mut a, t + 100, C, vote_reply(2, true, true));
        assert_eq!((a.role(), a.term()), (Role::Candidate, 2));
        assert_eq!(a.leader_belief(), None);
        assert_eq!(a.leader_hint(), B, "nor does our own vote request");
        // C asks for a pre-vote: granting it shows nothing yet.
        let mut rv = RequestVote {
            term: 3,
            last_index: 0,
            last_term: 0,
            pre: true,
        };
        deliver(&mut a, t + 150, C, Body::RequestVote(rv));
        assert_eq!((a.term(), a.leader_hint()), (2, B));
        // C campaigns in term 3 and gets our vote: still nobody new. (Naming
        // the candidate instead flipped the simulator's list between the
        // candidates and the old leader while elections went on.)
        rv.pre = false;
        deliver(&mut a, t + 200, C, Body::RequestVote(rv));
        assert_eq!((a.role(), a.term()), (Role::Follower, 3));
        assert_eq!((a.leader_belief(), a.leader_hint()), (None, B));
        // C wins: the new leader replaces the old one.
        let ae = crate::raft::testkit::empty_append(3, t + 300);
        deliver(&mut a, t + 300, C, Body::AppendEntries(ae));
        assert_eq!((a.leader_belief(), a.leader_hint()), (Some(C), C));
    }

    #[test]
    fn a_leader_that_asks_for_our_vote_is_no_longer_named() {
        let mut a = node(A);
        deliver(&mut a, 1_000, B, first_heartbeat(0));
        assert_eq!(a.leader_hint(), B);
        // B stepped down and campaigns: we are still in its lease, so the
        // pre-vote is refused, but B no longer leads.
        let rv = RequestVote {
            term: 2,
            last_index: 0,
            last_term: 0,
            pre: true,
        };
        let out = deliver(&mut a, 2_000, B, Body::RequestVote(rv));
        assert!(matches!(
            out[0].body,
            Body::VoteReply(VoteReply { granted: false, .. })
        ));
        assert_eq!((a.leader_belief(), a.leader_hint()), (None, Addr::UNKNOWN));
        // Another replica's campaign does not unseat the leader we know.
        let mut a = node(A);
        deliver(&mut a, 1_000, B, first_heartbeat(0));
        deliver(&mut a, 2_000, C, Body::RequestVote(rv));
        assert_eq!(a.leader_hint(), B);
    }

    #[test]
    fn pre_vote_majority_then_vote_majority_makes_a_leader_with_a_noop() {
        // Raft §5.2 and §8 (no-op on taking office)
        let mut a = node(A);
        tick(&mut a, 2_000_000);
        let out = deliver(&mut a, 2_000_100, B, vote_reply(1, true, true));
        assert_eq!(a.role(), Role::Candidate);
        assert_eq!(a.term(), 1);
        assert_eq!(out.len(), 2);
        deliver(&mut a, 2_000_200, B, vote_reply(1, true, false));
        assert_eq!(a.role(), Role::Leader);
        assert_eq!(a.leader_hint(), A);
        assert_eq!(a.log().last_index(), 1);
        assert_eq!(a.log().get(1).unwrap().put, None);
    }

    #[test]
    fn an_election_reports_each_role_change_with_its_reason() {
        use shared::events::{RoleName, RoleReason};
        let mut a = node(A);
        tick(&mut a, 2_000_000);
        deliver(&mut a, 2_000_100, B, vote_reply(1, true, true));
        deliver(&mut a, 2_000_200, B, vote_reply(1, true, false));
        let roles: Vec<(RoleName, u64, RoleReason)> = a
            .take_events()
            .into_iter()
            .filter_map(|(_, e)| match e {
                Event::Role {
                    role, term, reason, ..
                } => Some((role, term, reason)),
                _ => None,
            })
            .collect();
        assert_eq!(
            roles,
            vec![
                (RoleName::Follower, 0, RoleReason::Start),
                (RoleName::PreCandidate, 0, RoleReason::ElectionTimeout),
                (RoleName::Candidate, 1, RoleReason::PreVoteWon),
                (RoleName::Leader, 1, RoleReason::WonElection),
            ]
        );
    }

    #[test]
    fn pre_vote_grant_does_not_change_the_voters_term() {
        let mut b = node(B);
        let rv = RequestVote {
            term: 1,
            last_index: 0,
            last_term: 0,
            pre: true,
        };
        let out = deliver(&mut b, 2_000_000, A, Body::RequestVote(rv));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: vote_reply(1, true, true)
            }]
        );
        assert_eq!(b.term(), 0);
    }

    #[test]
    fn a_vote_is_granted_once_per_term() {
        // Raft §5.2: at most one vote per term
        let mut c = node(C);
        let rv = RequestVote {
            term: 1,
            last_index: 0,
            last_term: 0,
            pre: false,
        };
        let out = deliver(&mut c, 10, A, Body::RequestVote(rv));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: vote_reply(1, true, false)
            }]
        );
        let out = deliver(&mut c, 20, B, Body::RequestVote(rv));
        assert_eq!(
            out,
            vec![Outgoing {
                to: B,
                body: vote_reply(1, false, false)
            }]
        );
    }

    #[test]
    fn a_stale_log_gets_no_vote() {
        // Raft §5.4.1 election restriction
        let mut c = node(C);
        c.log.append(Entry { term: 2, put: None });
        c.set_term_for_test(2);
        let rv = RequestVote {
            term: 3,
            last_index: 5,
            last_term: 1,
            pre: false,
        };
        let out = deliver(&mut c, 10, A, Body::RequestVote(rv));
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: vote_reply(3, false, false)
            }]
        );
        assert_eq!(c.term(), 3, "the higher term is still adopted");
    }

    #[test]
    fn a_follower_that_hears_from_its_leader_ignores_candidates() {
        // thesis §4.2.3: no term change and no vote within the minimum election timeout
        let mut c = node(C);
        c.set_term_for_test(4);
        c.last_leader_contact = Some(1_000);
        c.leader = Some(A);
        for pre in [true, false] {
            let rv = RequestVote {
                term: 5,
                last_index: 9,
                last_term: 4,
                pre,
            };
            let out = deliver(&mut c, 2_000, B, Body::RequestVote(rv));
            assert_eq!(
                out,
                vec![Outgoing {
                    to: B,
                    body: vote_reply(4, false, pre)
                }]
            );
            assert_eq!(c.term(), 4);
        }
        let rv = RequestVote {
            term: 5,
            last_index: 9,
            last_term: 4,
            pre: false,
        };
        let later = 1_000 + c.cfg.election_timeout_min;
        let out = deliver(&mut c, later, B, Body::RequestVote(rv));
        assert_eq!(
            out,
            vec![Outgoing {
                to: B,
                body: vote_reply(5, true, false)
            }]
        );
    }

    #[test]
    fn a_rejection_with_a_higher_term_ends_the_campaign() {
        let mut a = node(A);
        tick(&mut a, 2_000_000);
        deliver(&mut a, 2_000_100, B, vote_reply(7, false, true));
        assert_eq!(a.role(), Role::Follower);
        assert_eq!(a.term(), 7);
    }

    #[test]
    fn unanswered_vote_requests_are_resent_with_backoff() {
        let mut a = node(A);
        tick(&mut a, 2_000_000);
        deliver(&mut a, 2_000_100, B, vote_reply(0, false, true));
        let resend = 2_000_000 + a.cfg.retransmit_interval;
        assert!(a.next_deadline(2_000_100) <= resend);
        let out = tick(&mut a, resend);
        let rv = RequestVote {
            term: 1,
            last_index: 0,
            last_term: 0,
            pre: true,
        };
        assert_eq!(
            out,
            vec![Outgoing {
                to: C,
                body: Body::RequestVote(rv)
            }]
        );
        // then after twice as long, not sooner: a replica cut off by a
        // partition must not keep shouting
        let again = resend + 2 * a.cfg.retransmit_interval;
        assert_eq!(a.next_deadline(resend), again);
        assert!(tick(&mut a, again - 1).is_empty());
        assert_eq!(tick(&mut a, again).len(), 1);
    }

    /// The peers `out` asks for a vote.
    fn asked(out: &[Outgoing]) -> Vec<Addr> {
        out.iter()
            .filter(|o| matches!(o.body, Body::RequestVote(_)))
            .map(|o| o.to)
            .collect()
    }

    #[test]
    fn vote_requests_are_resent_five_times_then_wait_for_the_next_campaign() {
        // A replica cut off by a partition: nobody ever answers.
        let mut a = node(A);
        let start = 2_000_000;
        assert_eq!(asked(&tick(&mut a, start)), vec![B, C]);
        let r = a.cfg.retransmit_interval;
        for after in [r, 3 * r, 7 * r, 15 * r, 31 * r] {
            assert_eq!(a.next_deadline(start + 1), start + after);
            assert_eq!(asked(&tick(&mut a, start + after)), vec![B, C]);
        }
        let deadline = a.election_deadline;
        assert!(deadline > start + 31 * r);
        assert!(31 * r < a.cfg.election_timeout_min, "all within a campaign");
        assert_eq!(a.next_deadline(start + 31 * r), deadline);
        assert!(asked(&tick(&mut a, deadline - 1)).is_empty());
        assert_eq!(asked(&tick(&mut a, deadline)), vec![B, C]);
    }

    #[test]
    fn where_the_leader_found_the_network_quiet_vote_requests_are_not_resent() {
        let cfg = Config::default();
        let quiet = [
            super::super::leader::fanout::quiet_eager_interval(&cfg),
            cfg.quiet_lazy_heartbeat_interval,
        ];
        let lossy = [0, cfg.lazy_heartbeat_interval];
        for (told, resent) in quiet
            .map(|t| (t, false))
            .into_iter()
            .chain(lossy.map(|t| (t, true)))
        {
            let mut a = node(A);
            deliver(&mut a, 1_000, B, first_heartbeat(told));
            // B dies: A campaigns, and nobody answers.
            let start = a.election_deadline;
            assert_eq!(asked(&tick(&mut a, start)), vec![B, C], "told {told}");
            let r = a.cfg.retransmit_interval;
            let again = asked(&tick(&mut a, start + r));
            assert_eq!(!again.is_empty(), resent, "told {told}: {again:?}");
            if !resent {
                assert_eq!(a.next_deadline(start + r), a.election_deadline);
            }
        }
    }

    #[test]
    fn a_peer_silent_through_a_campaign_gets_no_resends_in_the_next() {
        let mut a = node(A);
        let start = 2_000_000;
        tick(&mut a, start);
        // B refuses (it still hears from a leader); C never answers.
        deliver(&mut a, start + 100, B, vote_reply(0, false, true));
        let next = a.election_deadline;
        assert_eq!(asked(&tick(&mut a, next)), vec![B, C]);
        // B may just have lost this campaign's request: it is asked again.
        let r = a.cfg.retransmit_interval;
        assert_eq!(asked(&tick(&mut a, next + r)), vec![B]);
        // C is heard from (its own pre-vote, say: a partition healed): it
        // is asked again too.
        let c_asks = Body::RequestVote(RequestVote {
            term: 1,
            last_index: 0,
            last_term: 0,
            pre: true,
        });
        deliver(&mut a, next + r + 10, C, c_asks);
        assert_eq!(asked(&tick(&mut a, next + 3 * r)), vec![B, C]);
        // Hearing from a leader ends the streak: C is a peer like any other.
        a.become_follower(next + 3 * r + 1, 0, Some(B), RoleReason::LeaderFound);
        let third = a.election_deadline;
        tick(&mut a, third);
        assert_eq!(asked(&tick(&mut a, third + r)), vec![B, C]);
    }

    #[test]
    fn votes_for_an_old_campaign_are_ignored() {
        let mut a = node(A);
        tick(&mut a, 2_000_000);
        deliver(&mut a, 2_000_100, B, vote_reply(1, true, true));
        assert_eq!(a.term(), 1);
        // a late pre-vote grant for term 1 must not count now that we campaign in 1
        deliver(&mut a, 2_000_200, C, vote_reply(1, true, true));
        assert_eq!(a.role(), Role::Candidate);
        assert_eq!(a.counters().stale, 1);
    }

    #[test]
    fn a_term_no_cluster_can_reach_is_ignored() {
        // A forged or corrupt packet; adopting u64::MAX used to overflow
        // `term + 1` at the next election timeout.
        let mut c = node(C);
        for term in [u64::MAX, super::super::MAX_TERM + 1] {
            let rv = RequestVote {
                term,
                last_index: 0,
                last_term: 0,
                pre: false,
            };
            assert!(deliver(&mut c, 10, A, Body::RequestVote(rv)).is_empty());
            deliver(&mut c, 20, B, vote_reply(term, false, false));
        }
        assert_eq!(c.term(), 0);
        assert_eq!(c.counters().absurd_terms, 4);
        tick(&mut c, 2_000_000);
        assert_eq!(c.role(), Role::PreCandidate);
    }
}
