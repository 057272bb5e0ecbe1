//! The leader's side of log replication (Raft §5.3): sending AppendEntries
//! to the followers the tracker says are due (`leader/tracker.rs`),
//! handling their answers, committing by counting replicas for
//! current-term entries only (§5.4.2), and check-quorum.

use shared::events::RoleReason;
use shared::{Addr, AppendEntries, AppendReply, Body};

use super::leader::tracker::DueAppend;
use super::node::Node;
use super::Micros;

impl Node {
    pub(super) fn handle_append_reply(&mut self, now: Micros, from: Addr, r: AppendReply) {
        // The answer to a relayed AppendEntries acknowledges the relayer
        // too, in the same term: it appended before passing it on.
        if let Some(ack) = r.relay_ack.filter(|a| a.from != from) {
            // The relayer's hop to `from` is a message too.
            self.count_peer_message(ack.from);
            let relayer = AppendReply {
                term: r.term,
                success: true,
                index: ack.index,
                conflict_term: None,
                ts: r.ts,
                // Not said: the relayer's own commit index is not known.
                commit: 0,
                relay_ack: None,
            };
            self.handle_append_reply(now, ack.from, relayer);
        }
        if r.term > self.term {
            self.become_follower(now, r.term, None, RoleReason::HigherTerm);
            return;
        }
        let last = self.log.last_index();
        let Some(lead) = self.leading.as_mut().filter(|_| r.term == self.term) else {
            self.counters.stale += 1;
            return;
        };
        let Some(told_commit) = lead.tracker.on_reply(&from, r.ts, r.commit, last, now) else {
            return;
        };
        self.owner_applied(now, from, told_commit);
        if r.success {
            let lead = self.leading.as_mut().expect("still leading");
            let newest = lead.tracker.answers_newest(&from, r.ts);
            lead.tracker.on_ack(&from, r.ts, r.index, last, now);
            // Catch-up: a follower more than a batch behind (one fed only
            // with its heartbeats, when more than a batch arrives between
            // two) gets the next batch now, not at its next heartbeat, or
            // it would fall further behind for as long as the rate lasts.
            let matched = lead.tracker.get(&from).map_or(last, |p| p.matched());
            if newest
                && !self
                    .log
                    .fits_in_batch(matched + 1, self.cfg.max_batch_bytes)
            {
                lead.tracker.request_send(&from);
            }
            self.advance_commit(now);
        } else {
            // Fast backtracking: skip the whole conflicting term at once.
            let hint = match r.conflict_term {
                Some(t) => self.log.last_index_of_term(t).map_or(r.index, |i| i + 1),
                None => r.index,
            };
            let lead = self.leading.as_mut().expect("still leading");
            lead.tracker.on_reject(&from, hint, last);
        }
        // A reply can confirm leadership for waiting reads, or move the lease.
        self.serve_reads(now);
    }

    /// Commit the highest index a quorum holds, if it is from this term.
    pub(super) fn advance_commit(&mut self, now: Micros) {
        let own = self.own_durable_index();
        let Some(lead) = &self.leading else {
            return;
        };
        let n = lead.tracker.quorum_match(own);
        if n > self.commit && self.log.term(n) == Some(self.term) {
            self.commit = n;
            self.apply_committed(now);
        }
    }

    /// Check-quorum (thesis §6.2): a leader that has not been confirmed by a
    /// quorum for an election timeout steps down. Otherwise schedule
    /// heartbeats and retransmissions.
    pub(super) fn leader_tick(&mut self, now: Micros) {
        let (last, commit) = (self.log.last_index(), self.commit);
        let Some(lead) = self.leading.as_mut() else {
            return;
        };
        let contact = lead.confirmed_since();
        if now >= contact + self.cfg.election_timeout_min {
            self.become_follower(now, self.term, None, RoleReason::CheckQuorumLost);
            return;
        }
        lead.tracker.tick(now, contact, last, commit);
    }

    /// When the leader next needs a tick: a heartbeat, a retransmission,
    /// or the check-quorum deadline.
    pub(super) fn leader_deadline(&self, now: Micros) -> Micros {
        let Some(lead) = &self.leading else {
            return Micros::MAX;
        };
        let contact = lead.confirmed_since();
        let check = contact + self.cfg.election_timeout_min;
        lead.tracker
            .next_due(now, contact, check, self.log.last_index(), self.commit)
    }

    /// Sends an AppendEntries to each eager follower that has new entries
    /// (see `leader/fanout.rs`), and to each one due a heartbeat or
    /// retransmission, each told the heartbeat interval it may expect.
    /// While the traffic account is short (`leader/ledger.rs`), new entries
    /// also go to the lazy followers, and, when even that cannot pay it,
    /// one entry per AppendEntries. Each AppendEntries is counted as paying
    /// two messages: itself and its answer, which comes later.
    pub(super) fn send_due_appends(&mut self, now: Micros) {
        let Some(lead) = &self.leading else {
            return;
        };
        let tracker = &lead.tracker;
        let eager_interval = self.interval_on_wire(now, false);
        let lazy_interval = self.interval_on_wire(now, true);
        let last = self.log.last_index();
        let mut short = lead.ledger.owed();
        let sends = tracker.sends_due(now, last, short > 0);
        for (i, s) in sends.iter().enumerate() {
            if s.optional && short == 0 {
                continue;
            }
            let interval = if s.lazy {
                lazy_interval
            } else {
                eager_interval
            };
            // This send and each after it pay two; past that, split.
            let rest = 2 * (sends.len() - i) as u64;
            let mut resume = false;
            loop {
                let split = short > rest;
                let budget = if split { 0 } else { self.cfg.max_batch_bytes };
                self.send_append(now, s, interval, budget, resume);
                short = short.saturating_sub(2);
                if !split || !self.misses_entries(&s.peer, last) {
                    break;
                }
                resume = true;
            }
        }
    }

    /// A follower holding client requests asks whether we still lead: an
    /// AppendEntries answers at once (with whatever it misses), as its
    /// heartbeat. From a newer term it cannot come from our follower.
    pub(super) fn handle_ping(&mut self, now: Micros, from: Addr, term: u64) {
        let Some(lead) = &self.leading else {
            return;
        };
        let Some(lazy) = lead.tracker.told_lazy(&from) else {
            return;
        };
        if term > self.term {
            return;
        }
        let interval = self.interval_on_wire(now, lazy);
        self.counters.pings_answered += 1;
        let due = DueAppend {
            peer: from,
            relay_to: None,
            lazy,
            optional: false,
        };
        self.send_append(now, &due, interval, self.cfg.max_batch_bytes, false);
    }

    /// The heartbeat interval an AppendEntries tells a lazy or an eager
    /// follower; the standard one goes without saying (0 on the wire).
    fn interval_on_wire(&self, now: Micros, lazy: bool) -> Micros {
        let Some(lead) = &self.leading else {
            return 0;
        };
        if lazy {
            lead.tracker.lazy_heartbeat_interval()
        } else {
            Some(lead.tracker.eager_heartbeat_interval(now))
                .filter(|&i| i > self.cfg.heartbeat_interval)
                .unwrap_or(0)
        }
    }

    /// `peer` has not been sent every entry up to `last`.
    fn misses_entries(&self, peer: &Addr, last: u64) -> bool {
        self.leading
            .as_ref()
            .and_then(|lead| lead.tracker.get(peer))
            .is_some_and(|p| p.next_index() <= last)
    }

    /// One AppendEntries to `s.peer` (relayed on to `s.relay_to`, if
    /// any), starting right after what the follower(s) acknowledged, or at
    /// their next index if they have acknowledged nothing in this term or
    /// we `resume` right after an AppendEntries sent in this flush, with
    /// entries of up to `budget` bytes (at least one, if any is missing);
    /// it tells them to expect the next within `interval` (0: the standard
    /// one).
    fn send_append(
        &mut self,
        now: Micros,
        s: &DueAppend,
        interval: Micros,
        budget: usize,
        resume: bool,
    ) {
        let Some(lead) = self.leading.as_mut() else {
            return;
        };
        let (peer, lazy) = (s.peer, s.lazy);
        let members: Vec<Addr> = std::iter::once(peer).chain(s.relay_to).collect();
        let next = members
            .iter()
            .filter_map(|m| lead.tracker.get(m))
            .map(|p| {
                if resume {
                    p.next_index()
                } else {
                    p.send_from()
                }
            })
            .min()
            .expect("at least the peer");
        if next <= self.log.snapshot_index() {
            // Compacted away: the follower needs our store instead (its
            // relay partner, if any, gets its own send when due).
            self.send_snapshot_chunk(now, peer);
            return;
        }
        let entries = self.log.batch(next, budget);
        let prev_index = next - 1;
        let ae = AppendEntries {
            term: self.term,
            prev_index,
            prev_term: self.log.term(prev_index).unwrap_or(0),
            commit: self.commit,
            ts: now,
            heartbeat: interval,
            entries,
            relay_to: s.relay_to,
            relayed: None,
        };
        // The last index this AppendEntries carries.
        let top = prev_index + ae.entries.len() as u64;
        let told = interval.max(self.cfg.heartbeat_interval);
        let fresh = lead.tracker.on_send(&members, now, top, lazy, told);
        let c = &mut self.counters;
        match ae.entries.len() {
            0 => c.appends_empty += 1,
            _ if fresh => c.appends_new += 1,
            _ => c.appends_resent += 1,
        }
        if s.relay_to.is_some() {
            c.appends_relayed += 1;
        }
        self.send(peer, Body::AppendEntries(ae));
    }
}

#[cfg(test)]
mod tests {
    use super::super::leader::fanout::QUIET_SAMPLES;
    use super::super::node::Role;
    use super::super::{Config, Input, Outgoing};
    use super::*;
    use crate::raft::testkit::{
        self, append, append_reply, deliver, first_heartbeat, put_entry, tick, A, B, C,
    };
    use shared::{Entry, Message, RelayAck, Relayed};
    use std::collections::BTreeMap;

    /// A leader of term 1 for {A, B, C}, its no-op not yet acknowledged.
    fn leader() -> Node {
        let mut a = Node::new(A, vec![B, C], Config::default(), 1, 0);
        testkit::win_election(&mut a, 2_000_000, 1);
        a
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
        deliver(&mut a, 2_000_100, B, append_reply(1, true, 1, None));
        assert_eq!(a.commit_index(), 1);
    }

    #[test]
    fn entries_of_an_older_term_are_not_committed_by_counting() {
        // Raft §5.4.2, figure 8
        let mut a = leader();
        a.log.truncate_from(1);
        a.log.append(Entry { term: 1, put: None });
        a.set_term_for_test(2);
        deliver(&mut a, 2_000_100, B, append_reply(2, true, 1, None));
        assert_eq!(a.commit_index(), 0);
    }

    #[test]
    fn a_conflict_reply_moves_next_past_the_whole_term() {
        let mut a = leader();
        a.flush(2_000_000);
        for i in 0..5 {
            a.log.append(put_entry(1, &format!("k{i}"), "v"));
        }
        let out = deliver(&mut a, 2_000_100, B, append_reply(1, false, 1, None));
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
        deliver(&mut a, 2_000_100, B, ack(1, 2_000_000));
        deliver(&mut a, 2_000_100, C, ack(1, 2_000_000));
        // One follower is a quorum of three: it gets the eager heartbeat,
        // the other the lazy one.
        let (beat, lazy) = (
            a.tracker().eager_heartbeat_interval(2_000_100),
            a.tracker().lazy_heartbeat_interval(),
        );
        assert!(a.next_deadline(2_000_100) <= 2_000_000 + beat);
        let out = tick(&mut a, 2_000_000 + beat);
        assert_eq!(out.len(), 1, "{out:?}");
        let eager = out[0].to;
        deliver(&mut a, 2_000_100 + beat, eager, ack(1, 2_000_000 + beat));
        // The eager follower answers its heartbeats; the other hears
        // nothing until its own is due.
        let sent = run_idle(&mut a, 2_000_100 + beat, 2_000_000 + lazy);
        assert!(sent.iter().all(|(_, o)| o.to == eager), "{sent:?}");
        let out = tick(&mut a, 2_000_000 + lazy);
        assert!(out.iter().any(|o| o.to != eager), "{out:?}");
        assert!(out
            .iter()
            .all(|o| matches!(&o.body, Body::AppendEntries(ae) if ae.entries.is_empty())));
    }

    #[test]
    fn a_ping_from_a_follower_is_answered_at_once_with_its_heartbeat() {
        let mut a = leader();
        a.flush(2_000_000);
        deliver(&mut a, 2_000_100, B, ack(1, 2_000_000));
        deliver(&mut a, 2_000_100, C, ack(1, 2_000_000));
        let beat = a.tracker().eager_heartbeat_interval(2_000_100);
        let out = tick(&mut a, 2_000_000 + beat);
        let eager = out[0].to;
        let lazy_one = if eager == B { C } else { B };
        // Long before its lazy heartbeat is due.
        let now = 2_000_000 + beat + 1_000;
        let out = deliver(&mut a, now, lazy_one, Body::Ping(shared::Ping { term: 1 }));
        let [Outgoing {
            to,
            body: Body::AppendEntries(ae),
        }] = &out[..]
        else {
            panic!("{out:?}")
        };
        assert_eq!(*to, lazy_one);
        assert_eq!(ae.heartbeat, a.tracker().lazy_heartbeat_interval());
        assert_eq!(ae.ts, now);
        // From a term we never led: not one of our followers' pings.
        let out = deliver(
            &mut a,
            now + 1,
            lazy_one,
            Body::Ping(shared::Ping { term: 5 }),
        );
        assert!(out.is_empty(), "{out:?}");
        assert_eq!(a.counters().pings_answered, 1);
    }

    const D: Addr = Addr(3);
    const E: Addr = Addr(4);

    /// A leader of term 1 for {A, B, C, D, E} whose no-op every follower
    /// has acknowledged, at time 2_000_100.
    fn leader_of_five() -> Node {
        leader_of_five_with(Config::default())
    }

    /// For the tests of fan-out to single followers under loss.
    fn leader_of_five_without_relays() -> Node {
        leader_of_five_with(Config {
            relay_loss: f64::INFINITY,
            ..Config::default()
        })
    }

    fn leader_of_five_with(cfg: Config) -> Node {
        let mut a = Node::new(A, vec![B, C, D, E], cfg, 1, 0);
        a.handle(2_000_000, Input::Tick);
        for pre in [true, false] {
            for from in [B, C] {
                let body = Body::VoteReply(shared::VoteReply {
                    term: 1,
                    granted: true,
                    pre,
                });
                deliver(&mut a, 2_000_000, from, body);
            }
        }
        assert_eq!(a.role(), Role::Leader);
        a.flush(2_000_000);
        for f in [B, C, D, E] {
            deliver(&mut a, 2_000_100, f, ack(1, 2_000_000));
        }
        assert_eq!(a.commit_index(), 1);
        a
    }

    /// A successful reply in term 1 to the AppendEntries sent at `ts`.
    fn ack(index: u64, ts: Micros) -> Body {
        testkit::ack(1, index, ts)
    }

    fn client_put(a: &mut Node, now: Micros, key: &str) -> Vec<Outgoing> {
        let body = Body::Put {
            mid: format!("M-{key}"),
            key: key.into(),
            value: "v".into(),
        };
        deliver(a, now, Addr(0x13), body)
    }

    fn appends_to(out: &[Outgoing]) -> Vec<Addr> {
        out.iter()
            .filter(|o| matches!(&o.body, Body::AppendEntries(ae) if !ae.entries.is_empty()))
            .map(|o| o.to)
            .collect()
    }

    #[test]
    fn a_new_entry_goes_to_a_quorum_first_and_to_the_rest_with_the_heartbeat() {
        let mut a = leader_of_five();
        let out = client_put(&mut a, 2_000_200, "k");
        assert_eq!(
            appends_to(&out),
            vec![B, C],
            "two followers make a quorum of five"
        );
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        let out = deliver(&mut a, 2_000_300, C, ack(2, 2_000_200));
        assert_eq!(a.commit_index(), 2);
        assert!(out.iter().any(|o| o.to == Addr(0x13)), "answered: {out:?}");
        // D and E hear of it with their next (lazy) heartbeat, not before,
        // while B and C answer theirs.
        let lazy = a.tracker().lazy_heartbeat_interval();
        let sent = run_idle(&mut a, 2_000_300, 2_000_000 + lazy);
        let out: Vec<Outgoing> = sent.into_iter().map(|(_, o)| o).collect();
        assert!(appends_to(&out).is_empty(), "{out:?}");
        assert_eq!(appends_to(&tick(&mut a, 2_000_000 + lazy)), vec![D, E]);
    }

    #[test]
    fn when_the_quorum_confirmation_ages_every_follower_gets_heartbeats() {
        let mut a = leader_of_five();
        let hb = a.cfg.heartbeat_interval;
        // B and C (the eager pair) stop answering: within two heartbeats D
        // and E are asked too, and their answers keep us leader.
        let mut asked = BTreeMap::new();
        let mut t = 2_000_100;
        while t < 2_000_000 + 3 * hb {
            t = a.next_deadline(t).max(t + 1);
            let out = tick(&mut a, t);
            for o in &out {
                *asked.entry(o.to).or_insert(0) += 1;
            }
            let answered: Vec<Outgoing> =
                out.into_iter().filter(|o| o.to == D || o.to == E).collect();
            ack_all(&mut a, t, &answered);
        }
        assert!(
            asked.contains_key(&D) && asked.contains_key(&E),
            "{asked:?}"
        );
        let timeout = a.cfg.election_timeout_min;
        while t < 2_000_000 + 2 * timeout {
            t = a.next_deadline(t).max(t + 1);
            let out: Vec<Outgoing> = tick(&mut a, t)
                .into_iter()
                .filter(|o| o.to == D || o.to == E)
                .collect();
            ack_all(&mut a, t, &out);
        }
        assert_eq!(a.role(), Role::Leader);
    }

    /// Acknowledges, at `now`, every AppendEntries in `out`.
    fn ack_all(a: &mut Node, now: Micros, out: &[Outgoing]) {
        for o in out {
            if let Body::AppendEntries(ae) = &o.body {
                let index = ae.prev_index + ae.entries.len() as u64;
                deliver(a, now, o.to, ack(index, ae.ts));
            }
        }
    }

    /// Ticks `a` at each of its own deadlines after `from` and before
    /// `until`, every follower answering at once; what it sent, and when.
    fn run_idle(a: &mut Node, from: Micros, until: Micros) -> Vec<(Micros, Outgoing)> {
        let mut sent = Vec::new();
        let mut now = from;
        loop {
            now = a.next_deadline(now).max(now + 1);
            if now >= until {
                return sent;
            }
            let out = tick(a, now);
            ack_all(a, now, &out);
            sent.extend(out.into_iter().map(|o| (now, o)));
        }
    }

    /// The heartbeat interval each follower is told over three idle
    /// seconds in which every follower answers at once.
    fn idle_heartbeats(a: &mut Node) -> BTreeMap<Addr, Vec<Micros>> {
        let mut told: BTreeMap<Addr, Vec<Micros>> = BTreeMap::new();
        for (_, o) in run_idle(a, 2_000_100, 5_000_001) {
            if let Body::AppendEntries(ae) = &o.body {
                told.entry(o.to).or_default().push(ae.heartbeat);
            }
        }
        assert_eq!(a.role(), Role::Leader);
        told
    }

    #[test]
    fn a_leader_short_of_answers_probes_the_silent_followers_before_check_quorum() {
        let mut a = leader_of_five_losing(0.5);
        let (hb, probe) = (a.cfg.heartbeat_interval, a.cfg.probe_interval);
        // All four confirmed the no-op sent at 2_000_000; from now on
        // only B's answers come back.
        let check = 2_000_000 + a.cfg.election_timeout_min;
        let mut to_c = Vec::new();
        let mut now = 2_000_100;
        loop {
            now = a.next_deadline(now).max(now + 1);
            if now >= check {
                break;
            }
            for (to, ae) in appends(&tick(&mut a, now)) {
                if to == B {
                    deliver(&mut a, now + 100, B, ack(1, ae.ts));
                } else if to == C {
                    to_c.push(ae.ts);
                }
            }
        }
        // Heartbeats alone would give C three chances; once every follower
        // is due heartbeats, it is probed a retransmission interval apart,
        // backing off to the probe interval.
        assert!(to_c.len() as u64 > (check - 2_000_000) / hb + 4, "{to_c:?}");
        let gaps: Vec<Micros> = to_c.windows(2).map(|w| w[1] - w[0]).collect();
        let rto = a.leading_for_test().tracker.retransmit_timeout();
        assert!(
            gaps.iter().filter(|&&g| g <= 2 * rto).count() >= 1,
            "{gaps:?}"
        );
        assert!(gaps.iter().filter(|&&g| g < probe).count() >= 4, "{gaps:?}");
        assert!(
            gaps.windows(2)
                .skip_while(|w| w[0] >= hb)
                .all(|w| w[0] <= w[1]),
            "{gaps:?}"
        );
        assert_eq!(gaps.last(), Some(&probe), "{to_c:?}");
        // One probe answered in time keeps us leading.
        deliver(&mut a, check - 1, C, ack(1, *to_c.last().expect("probed")));
        tick(&mut a, check + 1);
        assert_eq!(a.role(), Role::Leader);
    }

    #[test]
    fn lazy_followers_get_fewer_heartbeats_and_are_told_so() {
        let mut a = leader_of_five();
        // Lossy: the eager get the standard heartbeat.
        a.leading_for_test().tracker.settle_loss_for_test(0.1);
        let (hb, lazy) = (a.cfg.heartbeat_interval, a.cfg.lazy_heartbeat_interval);
        let sent = idle_heartbeats(&mut a);
        for f in [B, C] {
            assert_eq!(sent[&f].len() as u64, 3_000_000 / hb, "{f}: {sent:?}");
            assert!(
                sent[&f].iter().all(|&h| h == 0),
                "told the standard interval"
            );
        }
        for f in [D, E] {
            assert_eq!(sent[&f].len() as u64, 3_000_000 / lazy, "{f}: {sent:?}");
            assert!(
                sent[&f].iter().all(|&h| h == lazy),
                "told the lazy interval"
            );
        }
    }

    #[test]
    fn a_new_leader_takes_the_network_as_lossy_until_enough_round_trips_are_on_time() {
        let mut a = leader_of_five();
        let hb = a.cfg.heartbeat_interval;
        // Four round trips (the no-op), all on time, say little yet.
        assert_eq!(a.tracker().round_trip_loss().value(), 0.0);
        assert_eq!(a.tracker().eager_heartbeat_interval(2_000_100), hb);
        assert_eq!(
            a.tracker().lazy_heartbeat_interval(),
            a.cfg.lazy_heartbeat_interval
        );
        // Idle heartbeats answered on time settle it.
        let mut now = 2_000_100;
        while a.tracker().eager_heartbeat_interval(now) == hb {
            assert!(now < 20_000_000, "never called quiet");
            now += hb;
            for (to, ae) in appends(&tick(&mut a, now)) {
                deliver(&mut a, now + 100, to, ack(1, ae.ts));
            }
        }
        assert!(a.tracker().round_trip_loss().samples() >= QUIET_SAMPLES);
        assert!(a.tracker().lazy_heartbeat_interval() > a.cfg.lazy_heartbeat_interval);
        assert_eq!(a.role(), Role::Leader);
    }

    #[test]
    fn on_a_quiet_network_eager_followers_get_fewer_heartbeats_and_are_told_so() {
        let mut a = leader_of_five_losing(0.0);
        let (hb, lazy) = (a.cfg.heartbeat_interval, a.cfg.lazy_heartbeat_interval);
        let beat = a.tracker().eager_heartbeat_interval(2_000_100);
        // Two heartbeats before the follower's stretched election timeout.
        assert!(beat > hb && 2 * beat < a.cfg.election_timeout_min + beat - hb);
        let sent = idle_heartbeats(&mut a);
        for f in [B, C] {
            assert_eq!(sent[&f].len() as u64, 3_000_000 / beat, "{f}: {sent:?}");
            assert!(sent[&f].iter().all(|&h| h == beat), "{sent:?}");
        }
        // The lazy followers' heartbeats only keep them from campaigning.
        let quiet_lazy = a.cfg.quiet_lazy_heartbeat_interval;
        assert!(quiet_lazy > lazy);
        for f in [D, E] {
            assert_eq!(sent[&f], vec![quiet_lazy], "{f}: {sent:?}");
        }
        // The first loss brings the standard heartbeats back.
        a.leading_for_test().tracker.record_loss_for_test();
        assert_eq!(a.tracker().eager_heartbeat_interval(5_000_000), hb);
        assert_eq!(a.tracker().lazy_heartbeat_interval(), lazy);
    }

    /// (time, told interval) of each AppendEntries to `f` among `sent`.
    fn beats_to(sent: &[(Micros, Outgoing)], f: Addr) -> Vec<(Micros, Micros)> {
        sent.iter()
            .filter_map(|(t, o)| match &o.body {
                Body::AppendEntries(ae) if o.to == f => Some((*t, ae.heartbeat)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_lazy_follower_hears_from_us_within_the_interval_it_was_told() {
        let mut a = leader_of_five();
        let (lazy, quiet) = (
            a.cfg.lazy_heartbeat_interval,
            a.cfg.quiet_lazy_heartbeat_interval,
        );
        // Lossy: D is told the lazy interval.
        a.leading_for_test().tracker.settle_loss_for_test(0.1);
        let sent = run_idle(&mut a, 2_000_100, 4_500_000);
        let (last, told) = *beats_to(&sent, D).last().expect("a heartbeat to D");
        assert_eq!(told, lazy);
        // The network turns quiet: the next heartbeat still comes within
        // the interval D was told, and tells it the quiet one, which the
        // one after keeps to.
        a.leading_for_test().tracker.settle_loss_for_test(0.0);
        let second = last + lazy + quiet;
        let mut sent = run_idle(&mut a, 4_500_000, second - 1);
        // D answers only every quiet interval, and counts as live for it.
        assert!(a.tracker().is_live_for_test(&D, second - 1));
        sent.extend(run_idle(&mut a, second - 1, second + 1));
        assert_eq!(
            beats_to(&sent, D),
            vec![(last + lazy, quiet), (second, quiet)]
        );
        // Lossy again: within the lazy interval of the last, not the quiet.
        a.leading_for_test().tracker.settle_loss_for_test(0.1);
        let sent = run_idle(&mut a, second + 1, second + lazy + 1);
        assert_eq!(beats_to(&sent, D), vec![(second + lazy, lazy)]);
        assert_eq!(a.role(), Role::Leader);
    }

    #[test]
    fn without_a_spare_live_follower_eager_followers_keep_the_standard_heartbeat() {
        let mut a = leader_of_five_losing(0.0);
        let now = 9_000_000;
        for (f, last_reply) in [(B, now), (C, now), (D, now), (E, 0)] {
            a.leading_for_test()
                .tracker
                .set_last_reply_for_test(&f, last_reply);
        }
        // D is live and not needed for a quorum: the quiet interval.
        assert!(a.tracker().eager_heartbeat_interval(now) > a.cfg.heartbeat_interval);
        // D dies too: B and C are the whole quorum, each answer counts.
        a.leading_for_test().tracker.set_last_reply_for_test(&D, 0);
        assert_eq!(
            a.tracker().eager_heartbeat_interval(now),
            a.cfg.heartbeat_interval
        );
    }

    #[test]
    fn a_follower_leaving_the_eager_set_first_gets_the_heartbeat_it_expects() {
        let mut a = leader_of_five();
        let (hb, lazy) = (a.cfg.heartbeat_interval, a.cfg.lazy_heartbeat_interval);
        // C stops answering a put; D takes its place among the eager.
        let out = client_put(&mut a, 2_000_200, "k");
        assert_eq!(appends_to(&out), vec![B, C]);
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        let r = a.cfg.retransmit_interval;
        let rto = a.tracker().retransmit_timeout();
        assert_eq!(appends_to(&tick(&mut a, 2_000_200 + r)), vec![C]);
        let to = appends_to(&tick(&mut a, 2_000_200 + r + rto));
        assert!(to.contains(&D), "{to:?}");
        deliver(&mut a, 2_000_300 + r + rto, D, ack(2, 2_000_200 + r + rto));
        assert_eq!(a.commit_index(), 2);
        // C was last told the standard interval (its resend at 2_000_200 +
        // r): it gets a heartbeat within that (on the next 1 ms tick), now
        // telling it to be lazy, then lazy ones
        // (and keeps out of the eager set once it has caught up).
        // Everyone answers at once from here on.
        let mut to_c = Vec::new();
        let mut now = 2_000_300 + r + rto;
        while now < 2_000_200 + r + hb + 2 * lazy + 10_000 {
            now += 1_000;
            let out = tick(&mut a, now);
            for o in &out {
                if let (C, Body::AppendEntries(ae)) = (o.to, &o.body) {
                    to_c.push((now, ae.heartbeat));
                }
            }
            ack_all(&mut a, now, &out);
        }
        assert_eq!(a.role(), Role::Leader);
        let (first, told) = to_c[0];
        assert!(first < 2_000_200 + r + hb + 1_000, "{to_c:?}");
        assert_eq!(told, lazy);
        let rest: Vec<Micros> = to_c[1..].iter().map(|(t, _)| t - first).collect();
        assert_eq!(rest, vec![lazy, 2 * lazy], "{to_c:?}");
    }

    #[test]
    fn a_follower_told_of_a_long_heartbeat_waits_that_much_longer() {
        let cfg = Config::default();
        let (min, max, hb) = (
            cfg.election_timeout_min,
            cfg.election_timeout_max,
            cfg.heartbeat_interval,
        );
        for (heartbeat, extra) in [
            (0, 0),
            (
                cfg.lazy_heartbeat_interval,
                cfg.lazy_heartbeat_interval - hb,
            ),
            (
                cfg.quiet_lazy_heartbeat_interval,
                cfg.quiet_lazy_heartbeat_interval - hb,
            ),
            // A corrupt hint is bounded.
            (u64::MAX, max.max(cfg.quiet_lazy_heartbeat_interval) - hb),
        ] {
            let mut b = Node::new(B, vec![A, C], Config::default(), 7, 0);
            deliver(&mut b, 1_000, A, first_heartbeat(heartbeat));
            let deadline = b.next_deadline(1_000);
            assert!(
                (1_000 + min + extra..=1_000 + max + extra).contains(&deadline),
                "hint {heartbeat}: deadline {deadline}"
            );
        }
    }

    #[test]
    fn an_eager_follower_that_stops_answering_is_passed_over() {
        let mut a = leader_of_five();
        client_put(&mut a, 2_000_200, "k1");
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        deliver(&mut a, 2_000_300, C, ack(2, 2_000_200));
        // C goes silent.
        let out = client_put(&mut a, 2_001_000, "k2");
        assert_eq!(appends_to(&out), vec![B, C]);
        deliver(&mut a, 2_001_100, B, ack(3, 2_001_000));
        let r = a.cfg.retransmit_interval;
        let rto = a.tracker().retransmit_timeout();
        // One resend: a single lost round trip is only loss.
        assert_eq!(appends_to(&tick(&mut a, 2_001_000 + r)), vec![C]);
        let out = tick(&mut a, 2_001_000 + r + rto);
        let to = appends_to(&out);
        assert!(
            to.contains(&D) || to.contains(&E),
            "a lazy follower steps in: {to:?}"
        );
        let helper = to.iter().copied().find(|f| *f == D || *f == E).unwrap();
        deliver(
            &mut a,
            2_001_100 + r + rto,
            helper,
            ack(3, 2_001_000 + r + rto),
        );
        assert_eq!(a.commit_index(), 3);
        // From now on C is not among the first two.
        let out = client_put(&mut a, 2_001_200 + r + rto, "k3");
        let to = appends_to(&out);
        assert_eq!(to.len(), 2);
        assert!(!to.contains(&C), "{to:?}");
    }

    #[test]
    fn silent_eager_followers_are_replaced_by_the_others() {
        // Long quiet: two losses do not yet call for a third follower.
        let mut a = leader_of_five_losing(0.0);
        client_put(&mut a, 2_000_200, "k");
        // Neither B nor C answers (dropped packets).
        let r = a.cfg.retransmit_interval;
        let rto = a.tracker().retransmit_timeout();
        assert!(a.next_deadline(2_000_200) <= 2_000_200 + r);
        assert_eq!(appends_to(&tick(&mut a, 2_000_200 + r)), vec![B, C]);
        // Their resends are lost too: a retransmission interval later,
        // the others step in.
        let to = appends_to(&tick(&mut a, 2_000_200 + r + rto));
        assert_eq!(to, vec![D, E]);
        deliver(&mut a, 2_000_300 + r + rto, D, ack(2, 2_000_200 + r + rto));
        deliver(&mut a, 2_000_300 + r + rto, E, ack(2, 2_000_200 + r + rto));
        assert_eq!(a.commit_index(), 2);
    }

    #[test]
    fn a_lost_append_is_repaired_by_the_next_one() {
        let mut a = leader_of_five();
        client_put(&mut a, 2_000_200, "k1");
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        // C's copy of k1 is lost; k2's AppendEntries carries both, from
        // right after what C acknowledged, so no rejection round trip.
        let out = client_put(&mut a, 2_000_400, "k2");
        let to_c = out
            .iter()
            .find_map(|o| match &o.body {
                Body::AppendEntries(ae) if o.to == C => Some(ae.clone()),
                _ => None,
            })
            .expect("k2 goes to C");
        assert_eq!((to_c.prev_index, to_c.entries.len()), (1, 2));
        deliver(&mut a, 2_000_500, C, ack(3, 2_000_400));
        deliver(&mut a, 2_000_500, B, ack(3, 2_000_400));
        assert_eq!(a.commit_index(), 3);
    }

    #[test]
    fn entries_already_committed_are_not_resent() {
        let mut a = leader_of_five_without_relays();
        // Lossy enough for three eager followers: two answers commit.
        a.leading_for_test().tracker.settle_loss_for_test(0.3);
        a.leading_for_test().tracker.set_eager_count_for_test(3);
        let out = client_put(&mut a, 2_000_200, "k");
        assert_eq!(appends_to(&out), vec![B, C, D]);
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        deliver(&mut a, 2_000_300, C, ack(2, 2_000_200));
        assert_eq!(a.commit_index(), 2);
        // D's answer is lost: it hears of the entry with its heartbeat.
        let beat = a.tracker().eager_heartbeat_interval(2_000_300);
        assert_eq!(a.next_deadline(2_000_300), 2_000_200 + beat);
        let out = tick(&mut a, 2_000_200 + beat);
        assert!(appends_to(&out).contains(&D), "{out:?}");
    }

    #[test]
    fn an_entry_a_commit_waits_on_is_resent_after_the_retransmission_timeout() {
        let mut a = leader_of_five();
        client_put(&mut a, 2_000_200, "k");
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        // C's answer is lost and the entry is not committed without it.
        let rto = a.tracker().retransmit_timeout();
        assert!((a.cfg.retransmit_min..=a.cfg.retransmit_interval).contains(&rto));
        assert_eq!(a.next_deadline(2_000_300), 2_000_200 + rto);
        let out = tick(&mut a, 2_000_200 + rto);
        assert_eq!(appends_to(&out), vec![C]);
        deliver(&mut a, 2_000_300 + rto, C, ack(2, 2_000_200 + rto));
        assert_eq!(a.commit_index(), 2);
    }

    #[test]
    fn one_lost_round_trip_keeps_a_follower_eager_two_do_not() {
        let mut a = leader_of_five();
        let r = a.cfg.retransmit_interval;
        client_put(&mut a, 2_000_200, "k1");
        deliver(&mut a, 2_000_300, B, ack(2, 2_000_200));
        // C lost k1: still eager for k2, which carries k1 too.
        let out = client_put(&mut a, 2_000_200 + r, "k2");
        assert_eq!(appends_to(&out), vec![B, C]);
        deliver(&mut a, 2_000_300 + r, B, ack(3, 2_000_200 + r));
        // C lost that too: two in a row, and a lazy follower steps in.
        let out = tick(&mut a, 2_000_200 + 2 * r);
        let to = appends_to(&out);
        assert!(
            !to.contains(&C) && (to.contains(&D) || to.contains(&E)),
            "{to:?}"
        );
    }

    /// The AppendEntries in `out`, by destination.
    fn appends(out: &[Outgoing]) -> Vec<(Addr, AppendEntries)> {
        out.iter()
            .filter_map(|o| match &o.body {
                Body::AppendEntries(ae) => Some((o.to, ae.clone())),
                _ => None,
            })
            .collect()
    }

    /// A leader of five whose round-trip loss estimate is `loss`.
    fn leader_of_five_losing(loss: f64) -> Node {
        let mut a = leader_of_five();
        a.leading_for_test().tracker.settle_loss_for_test(loss);
        a.leading_for_test().tracker.refresh_eager_count_for_test();
        a
    }

    /// Puts a key at 2_000_200 whose relay is lost; returns what the
    /// leader sends once the retransmission timeout passes, and that timeout.
    fn lose_a_relay(a: &mut Node) -> (Vec<Outgoing>, Micros) {
        client_put(a, 2_000_200, "k");
        let rto = a.tracker().retransmit_timeout();
        (tick(a, 2_000_200 + rto), rto)
    }

    /// Puts a key; returns how many followers it went to, each directly.
    fn sent_straight(a: &mut Node) -> usize {
        let sent = appends(&client_put(a, 2_000_200, "k"));
        assert!(sent.iter().all(|(_, ae)| ae.relay_to.is_none()), "{sent:?}");
        sent.len()
    }

    #[test]
    fn on_a_lossy_network_a_new_entry_is_relayed_through_a_pair() {
        let mut a = leader_of_five_losing(0.2);
        assert!(a.tracker().relaying());
        // As the shell does it: the put, a tick, then the flush.
        let put = Message {
            src: Addr(0x13),
            dst: A,
            leader: A,
            body: Body::Put {
                mid: "M-k".into(),
                key: "k".into(),
                value: "v".into(),
            },
        };
        a.handle(2_000_200, Input::Message(put));
        let out = tick(&mut a, 2_000_200);
        let sent = appends(&out);
        assert_eq!(sent.len(), 1, "one message for the pair: {out:?}");
        let (to, ae) = &sent[0];
        assert_eq!((*to, ae.relay_to), (B, Some(C)));
        assert_eq!((ae.prev_index, ae.entries.len()), (1, 1));
        // C's answer, carrying B's acknowledgement, commits the entry.
        let answer = Body::AppendReply(AppendReply {
            relay_ack: Some(RelayAck { from: B, index: 2 }),
            ..match ack(2, 2_000_200) {
                Body::AppendReply(r) => r,
                _ => unreachable!(),
            }
        });
        deliver(&mut a, 2_000_500, C, answer);
        assert_eq!(a.commit_index(), 2);
        assert_eq!(a.counters().appends_relayed, 1);
    }

    #[test]
    fn a_quiet_network_sends_new_entries_straight_to_each_follower() {
        let mut a = leader_of_five();
        assert!(!a.tracker().relaying());
        assert_eq!(sent_straight(&mut a), 2);
    }

    #[test]
    fn a_network_too_lossy_for_a_pair_sends_to_more_followers_instead() {
        // 30% drops per hop: a pair would be on time 0.34 of the time.
        let mut a = leader_of_five_losing(0.51);
        assert!(!a.tracker().relaying());
        assert_eq!(sent_straight(&mut a), 4);
    }

    #[test]
    fn relayed_round_trips_stay_out_of_the_loss_estimate_resends_count() {
        let mut a = leader_of_five_losing(0.2);
        // The relay is lost: both wait, but no round trip was lost.
        let (out, rto) = lose_a_relay(&mut a);
        assert_eq!(a.tracker().round_trip_loss().value(), 0.2);
        // The straight resends are round trips: answered, they count.
        for (to, ae) in appends(&out) {
            deliver(&mut a, 2_000_300 + rto, to, ack(2, ae.ts));
        }
        assert!(a.tracker().round_trip_loss().value() < 0.2);
        assert_eq!(a.commit_index(), 2);
    }

    #[test]
    fn a_relayed_entry_lost_on_the_way_is_resent_straight_to_both() {
        let mut a = leader_of_five_losing(0.2);
        let (out, _) = lose_a_relay(&mut a);
        let sent = appends(&out);
        let to: Vec<Addr> = sent.iter().map(|(t, _)| *t).collect();
        assert_eq!(to, vec![B, C], "{out:?}");
        assert!(sent.iter().all(|(_, ae)| ae.relay_to.is_none()));
    }

    #[test]
    fn a_follower_relays_what_it_appended_and_the_next_answers_for_both() {
        let leader = A;
        let mut b = Node::new(B, vec![A, C, D, E], Config::default(), 2, 0);
        let mut c = Node::new(C, vec![A, B, D, E], Config::default(), 3, 0);
        let Body::AppendEntries(mut first) = append(1, (0, 0), 0, vec![put_entry(1, "k", "v")])
        else {
            unreachable!()
        };
        first.relay_to = Some(C);
        let out = deliver(&mut b, 10, leader, Body::AppendEntries(first));
        assert_eq!(out.len(), 1, "B passes it on and does not answer: {out:?}");
        assert_eq!(out[0].to, C);
        let Body::AppendEntries(onward) = out[0].body.clone() else {
            panic!("{out:?}")
        };
        assert_eq!(onward.relay_to, None);
        assert_eq!(onward.relayed, Some(Relayed { leader, index: 1 }));
        assert_eq!(b.log().last_index(), 1);
        // C takes it as from the leader, and answers the leader for both.
        let out = deliver(&mut c, 20, B, Body::AppendEntries(onward));
        assert_eq!(c.leader_hint(), leader);
        assert_eq!(c.log().last_index(), 1);
        let Body::AppendReply(r) = &out[0].body else {
            panic!("{out:?}")
        };
        assert_eq!(out[0].to, leader);
        assert!(r.success && r.index == 1);
        assert_eq!(r.relay_ack, Some(RelayAck { from: B, index: 1 }));
    }

    #[test]
    fn a_relay_naming_no_peer_as_leader_is_ignored() {
        let mut c = Node::new(C, vec![A, B, D, E], Config::default(), 3, 0);
        let Body::AppendEntries(mut forged) = append(1, (0, 0), 0, vec![put_entry(1, "k", "v")])
        else {
            unreachable!()
        };
        forged.relayed = Some(Relayed {
            leader: Addr(0x99),
            index: 1,
        });
        assert!(deliver(&mut c, 10, B, Body::AppendEntries(forged)).is_empty());
        assert_eq!(c.log().last_index(), 0);
        assert_eq!(c.counters().not_from_peer, 1);
    }

    #[test]
    fn sustained_loss_sends_new_entries_to_more_followers() {
        let mut a = leader_of_five_without_relays();
        let r = a.cfg.retransmit_interval;
        let mut now = 2_001_000;
        // Every other round trip is lost: each put goes to two followers,
        // one of which never answers.
        for i in 0..40 {
            let out = client_put(&mut a, now, &format!("k{i}"));
            let to = appends_to(&out);
            if to.len() > 2 {
                assert!(i > 0, "widened only after a loss was seen");
                return;
            }
            let last = a.log().last_index();
            deliver(&mut a, now + 100, to[0], ack(last, now));
            now += r;
            a.handle(now, Input::Tick);
            for f in [B, C, D, E] {
                deliver(&mut a, now + 100, f, ack(last, now));
            }
            now += 1_000;
        }
        panic!("half the round trips lost, yet entries still go to two followers");
    }

    #[test]
    fn followers_cut_off_get_retransmissions_until_they_are_not_live_then_heartbeats() {
        let mut a = leader_of_five_without_relays();
        let (mut to_cut_off, mut to_cut_off_late) = (0, 0);
        let mut now = 2_001_000;
        let late = now + a.cfg.election_timeout_min + a.cfg.heartbeat_interval;
        // D and E never answer again. B and C answer within 0.5 ms in
        // even-numbered 30 ms periods and lose everything in odd ones, so
        // that half the round trips are lost and entries go to every
        // follower at once. A put every 30 ms for three seconds.
        for i in 0..100 {
            let mut out = client_put(&mut a, now, &format!("k{i}"));
            for step in 1..30 {
                let t = now + step * 1_000;
                for o in std::mem::take(&mut out) {
                    if let Body::AppendEntries(ae) = &o.body {
                        if o.to == D || o.to == E {
                            to_cut_off += 1;
                            to_cut_off_late += u32::from(t > late);
                        } else if i % 2 == 0 {
                            let index = ae.prev_index + ae.entries.len() as u64;
                            out.extend(deliver(&mut a, t - 500, o.to, ack(index, ae.ts)));
                        }
                    }
                }
                out.extend(tick(&mut a, t));
            }
            now += 30_000;
        }
        assert_eq!(a.role(), Role::Leader);
        assert_eq!(
            a.tracker().eager_count(),
            4,
            "loss widened the fan-out to every follower"
        );
        // Backed off to 8 retransmission intervals apart while live (an
        // election timeout), then heartbeats only.
        let rto = a.tracker().retransmit_timeout();
        let hb = a.cfg.heartbeat_interval;
        let early = u64::from(to_cut_off - to_cut_off_late);
        assert!(early <= 2 * ((late - 2_001_000) / (8 * rto) + 4), "{early}");
        let beats = 2 * ((now - late) / hb + 1);
        assert!(
            u64::from(to_cut_off_late) <= beats,
            "{to_cut_off_late} once not live"
        );
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
            commit: 0,
            relay_ack: None,
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

    /// Rounds of `batch` client puts that reach the leader of three
    /// between two flushes, every AppendEntries acknowledged 100 µs
    /// later: the puts and the replica messages, its own and the answers,
    /// the no-op's four included (the account counts them too).
    fn burst(batch: usize, rounds: usize) -> (u64, u64, Node) {
        let mut a = leader();
        let mut now = 2_000_000;
        let out = a.flush(now);
        ack_all(&mut a, now + 100, &out);
        let mut messages = 2 * appends(&out).len() as u64;
        let mut puts = 0;
        for round in 0..rounds {
            now += 1_000;
            for i in 0..batch {
                let msg = Message {
                    src: Addr(0x13),
                    dst: A,
                    leader: Addr::UNKNOWN,
                    body: testkit::put(&format!("M{round}-{i}"), &format!("k{i}"), "v"),
                };
                a.handle(now, Input::Message(msg));
                puts += 1;
            }
            let out: Vec<Outgoing> = a
                .flush(now)
                .into_iter()
                .filter(|o| o.to != Addr(0x13))
                .collect();
            let appends = out
                .iter()
                .filter(|o| matches!(o.body, Body::AppendEntries(_)))
                .count();
            messages += out.len() as u64 + appends as u64;
            ack_all(&mut a, now + 100, &out);
            let answers: Vec<Outgoing> = a
                .flush(now + 100)
                .into_iter()
                .filter(|o| o.to != Addr(0x13))
                .collect();
            messages += answers.len() as u64;
        }
        (puts, messages, a)
    }

    #[test]
    fn batched_puts_keep_the_replication_traffic_above_its_floor() {
        // The floor is 3 replicas × ½ per put; the account keeps 5/4 of it.
        for batch in [2, 3, 5, 8, 20] {
            let (puts, messages, a) = burst(batch, 50);
            assert_eq!(
                a.commit_index(),
                1 + puts,
                "batch {batch}: every put committed"
            );
            assert!(
                messages * 8 >= puts * 15,
                "batch {batch}: {messages} messages for {puts} puts"
            );
            // Not much more: at most two messages too many per flush.
            assert!(
                messages * 8 <= puts * 15 + 8 * 2 * 50,
                "batch {batch}: {messages} messages for {puts} puts"
            );
        }
    }

    #[test]
    fn puts_one_at_a_time_go_to_the_eager_follower_only() {
        // One put per flush already pays 2 ≥ 1.875 messages: nothing extra.
        let (puts, messages, _) = burst(1, 100);
        assert_eq!(puts, 100);
        assert_eq!(messages, 4 + 2 * puts);
    }
}
