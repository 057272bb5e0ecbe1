//! Client requests. The leader appends puts and answers them once applied;
//! it answers gets from its own state while its read lease holds, or after a
//! quorum confirms it is still leader (read-index, thesis §6.4). A replica
//! that knows the leader redirects to it; one that knows none holds the
//! request for a while, since an election is usually about to end.
//!
//! Every MID is answered at most once unless the answer is `ok`: a put that
//! may sit in some log is never redirected or failed, except once the log
//! has provably replaced it (a different entry committed at its index).
//!
//! A put is answered by its owner, the leader that appended it, once it
//! applies the put, whatever its role by then. A put whose owner lost its
//! leadership first is committed by a later leader, which may have to
//! answer it: see `inheriting.rs`.

use shared::events::{Event, Op, Outcome};
use shared::{Addr, Body, Entry, Ping, PutCmd};

use super::clients::{Held, Owed, Request};
use super::inherited::BeforeGet;
use super::leader::reads::PendingRead;
use super::log::entry_wire_size;
use super::node::Node;
use super::Micros;

/// How a request is answered (the `type` of the reply).
#[derive(Debug)]
enum Answer {
    /// `ok`, with the value for a get.
    Ok(Option<String>),
    Redirect,
    Fail,
}

impl Node {
    /// A request from `client`, which believes `believed` leads (`FFFF`:
    /// it knows no leader).
    pub(super) fn handle_request(
        &mut self,
        now: Micros,
        client: Addr,
        believed: Addr,
        req: Request,
    ) {
        // Refused before anything keeps a copy: events, queues, MIDs.
        if req.mid().len() > self.cfg.max_mid_bytes {
            self.counters.oversized_requests += 1;
            return;
        }
        if self.too_large(&req) {
            self.counters.oversized_requests += 1;
            let op = req.op();
            self.answer_with(now, client, req.into_mid(), op, Answer::Fail, Some(0));
            return;
        }
        if self.reporter.request_events {
            let event = Event::ClientRequest {
                mid: req.mid().to_string(),
                client: client.to_string(),
                op: req.op(),
            };
            self.emit(now, event);
        }
        if self.leading.is_some() {
            self.lead_request(now, client, req, now);
            return;
        }
        // Redirect only to a leader heard from lately, and not a client
        // that bounced straight back: the leader it was sent to is
        // evidently unreachable, and redirecting again would ping-pong
        // until an election ends. Held requests go out with the next word
        // from a leader.
        let fresh = self.leader_fresh_for(now, believed);
        let may_redirect = self.leader.is_some()
            && !self.clients.bounced(client, now, self.cfg.bounce_window)
            && !self.clients.waits_for_our_put(client, &req, &self.log);
        if may_redirect && fresh {
            self.clients
                .remember_redirect(client, now, self.cfg.bounce_window);
            self.redirect(now, client, req, now);
        } else {
            if may_redirect {
                // Only its silence keeps us from redirecting: ask it.
                self.ping_leader(now);
            }
            let held = Held {
                client,
                req,
                arrived: now,
            };
            self.hold(now, held);
        }
    }

    fn lead_request(&mut self, now: Micros, client: Addr, req: Request, arrived: Micros) {
        if !self.clients.recent_mids.insert(req.mid()) {
            self.counters.duplicate_mids += 1;
            return;
        }
        let is_get = matches!(req, Request::Get { .. });
        if let Some(lead) = self.leading.as_mut() {
            lead.tracker.record_request(is_get);
        }
        match req {
            Request::Get { mid, key } => self.lead_get(now, client, mid, key, arrived),
            Request::Put { mid, key, value } => {
                self.lead_put(now, client, mid, key, value, arrived)
            }
        }
    }

    fn lead_get(&mut self, now: Micros, client: Addr, mid: String, key: String, arrived: Micros) {
        if self.lease_valid(now) {
            self.answer_get(now, client, mid, &key, arrived);
            return;
        }
        let Some(lead) = self.leading.as_mut() else {
            return;
        };
        let read = PendingRead {
            client,
            mid,
            key,
            arrived,
        };
        if let Err(r) = lead.reads.push(read) {
            self.redirect_read(now, r);
            return;
        }
        // Ask every follower to confirm us, unless that is already under way.
        lead.tracker.request_confirmation(now);
    }

    /// A get of a key no put could have stored, or a put whose strings
    /// alone exceed `max_entry_bytes`. (The leader checks a put's exact
    /// entry size when it appends it: JSON escapes can make a put within
    /// this bound too large still.)
    fn too_large(&self, req: &Request) -> bool {
        let limit = self.cfg.max_entry_bytes;
        match req {
            Request::Get { key, .. } => key.len() > limit,
            Request::Put { mid, key, value } => mid.len() + key.len() + value.len() > limit,
        }
    }

    fn lead_put(
        &mut self,
        now: Micros,
        client: Addr,
        mid: String,
        key: String,
        value: String,
        arrived: Micros,
    ) {
        let entry = Entry {
            term: self.term,
            put: Some(PutCmd {
                key,
                value,
                client,
                mid: mid.clone(),
            }),
        };
        if entry_wire_size(&entry) > self.cfg.max_entry_bytes {
            self.counters.oversized_requests += 1;
            self.answer(now, client, mid, Op::Put, Answer::Fail, arrived);
            return;
        }
        let index = self.log.append(entry);
        if let Some(lead) = self.leading.as_mut() {
            lead.ledger.count_put();
        }
        // Held puts released at once when we win are no sample of how
        // often puts come.
        if arrived == now {
            self.inheritance.timing.record_puts(now, 1);
        }
        let owed = Owed {
            term: self.term,
            client,
            mid,
            arrived,
            appended: now,
        };
        self.clients.owed.insert((index, self.term), owed);
    }

    /// Reads may be answered from local state: we lead, our no-op is
    /// applied and no other leader can have been elected since a quorum
    /// last confirmed us.
    fn lease_valid(&self, now: Micros) -> bool {
        self.leading.as_ref().is_some_and(|lead| {
            self.applied >= lead.term_start
                && now
                    < lead
                        .tracker
                        .quorum_contact()
                        .saturating_add(self.cfg.lease())
        })
    }

    /// Answers the reads the lease or a quorum confirmation now allows.
    pub(super) fn serve_reads(&mut self, now: Micros) {
        let Some(lead) = &self.leading else {
            return;
        };
        if self.applied < lead.term_start {
            return;
        }
        let confirmed = lead.tracker.quorum_contact();
        let lease = self.lease_valid(now);
        loop {
            let Some(lead) = self.leading.as_mut() else {
                return;
            };
            let Some(r) = lead.reads.pop_servable(lease, confirmed) else {
                return;
            };
            self.answer_get(now, r.client, r.mid, &r.key, r.arrived);
        }
    }

    /// Answers a linearizable read from our state, after the answer to the
    /// same client's put on that key if one may be missing: the value read
    /// may be that put's, which the client must have been told of (see
    /// `inheriting.rs`). Or it waits for that put's owner to answer it.
    fn answer_get(&mut self, now: Micros, client: Addr, mid: String, key: &str, arrived: Micros) {
        match self.before_get(now, client, key) {
            BeforeGet::WaitFor { owner, until } => {
                let read = PendingRead {
                    client,
                    mid,
                    key: key.to_string(),
                    arrived,
                };
                if let Err(r) = self.wait_for_owner(now, read, owner, until) {
                    // Answered now, the read could show a put never answered.
                    self.redirect_read(now, r);
                }
                return;
            }
            BeforeGet::AnswerPut { mid: put_mid } => {
                self.answer_inherited_put(now, client, put_mid)
            }
            BeforeGet::LeaveToOwner => self.counters.inherited_left_unanswered += 1,
            BeforeGet::Nothing => {}
        }
        let value = self.kv.get(key).to_string();
        self.answer(now, client, mid, Op::Get, Answer::Ok(Some(value)), arrived);
    }

    /// Answers `ok` to a put another leader appended and we committed.
    pub(super) fn answer_inherited_put(&mut self, now: Micros, client: Addr, mid: String) {
        self.answer_with(now, client, mid, Op::Put, Answer::Ok(None), None);
    }

    /// The reads of a leader stepping down, held as a follower holds
    /// requests, in the order they arrived.
    pub(super) fn hold_reads(&mut self, now: Micros, mut reads: Vec<PendingRead>) {
        reads.sort_by_key(|r| r.arrived);
        for r in reads {
            // Never answered: should we lead again, the read must be served,
            // not dropped as a MID already seen (found by the cluster
            // simulation, tests/cluster_sim.rs).
            self.clients.recent_mids.forget(&r.mid);
            let req = Request::Get {
                mid: r.mid,
                key: r.key,
            };
            let held = Held {
                client: r.client,
                req,
                arrived: r.arrived,
            };
            self.hold(now, held);
        }
    }

    /// Settles a put this replica appended as leader (its owner), now that
    /// its index is committed: `ok` if the entry there is still ours, else a
    /// redirect, which is safe since our put can then never commit. The
    /// owner answers whatever its role by now.
    ///
    /// Every put owed at this index is settled, whatever its term: after a
    /// later leader cut our log back, we may have reused the index in a later
    /// term (the older put was once forgotten then, and never answered;
    /// found by tests/cluster_sim.rs).
    pub(super) fn settle_put(&mut self, now: Micros, index: u64, term: u64) {
        for o in self.clients.take_owed_at(index) {
            if o.term != term {
                self.answer(now, o.client, o.mid, Op::Put, Answer::Redirect, o.arrived);
                continue;
            }
            if self.leading.is_some() {
                self.inheritance
                    .timing
                    .record_commit(now.saturating_sub(o.appended));
            }
            // The client now holds this put's value: an older put of its on
            // the key needs no answer before its gets.
            if !self.inheritance.is_empty() {
                if let Some(put) = self.log.get(index).and_then(|e| e.put.as_ref()) {
                    self.inheritance.settle(o.client, &put.key);
                }
            }
            self.answer(now, o.client, o.mid, Op::Put, Answer::Ok(None), o.arrived);
        }
    }

    /// A snapshot through `index` replaced the entries of puts we owed:
    /// its term runs say which term each index committed in, so each is
    /// settled as if applied (`ok` if the entry was ours, else a
    /// redirect). One older than the runs kept is dropped unanswered:
    /// either answer could be wrong.
    pub(super) fn settle_owed_through_snapshot(&mut self, now: Micros, index: u64) {
        for i in self.clients.owed_indices_through(index) {
            match self.applied_terms.term_at(i) {
                Some(term) => self.settle_put(now, i, term),
                None => {
                    let dropped = self.clients.take_owed_at(i).len() as u64;
                    self.counters.owed_dropped_by_snapshot += dropped;
                }
            }
        }
    }

    /// Sends a client its answer and reports it, with the time the
    /// request has spent here since it `arrived`.
    fn answer(
        &mut self,
        now: Micros,
        client: Addr,
        mid: String,
        op: Op,
        answer: Answer,
        arrived: Micros,
    ) {
        let latency = Some(now.saturating_sub(arrived));
        self.answer_with(now, client, mid, op, answer, latency);
    }

    /// [`Node::answer`] for a request whose arrival we may not know.
    fn answer_with(
        &mut self,
        now: Micros,
        client: Addr,
        mid: String,
        op: Op,
        answer: Answer,
        latency: Option<Micros>,
    ) {
        let (outcome, body) = match answer {
            Answer::Ok(value) => (
                Outcome::Ok,
                Body::Ok {
                    mid: mid.clone(),
                    value,
                },
            ),
            Answer::Redirect => (Outcome::Redirect, Body::Redirect { mid: mid.clone() }),
            Answer::Fail => (Outcome::Fail, Body::Fail { mid: mid.clone() }),
        };
        if self.reporter.request_events {
            let event = Event::ClientAnswer {
                mid,
                client: client.to_string(),
                op,
                outcome,
                latency_us: latency,
            };
            self.emit(now, event);
        }
        self.send(client, body);
    }

    fn redirect(&mut self, now: Micros, client: Addr, req: Request, arrived: Micros) {
        let op = req.op();
        self.answer(now, client, req.into_mid(), op, Answer::Redirect, arrived);
    }

    /// Holds a request, or redirects it when the held requests are full.
    fn hold(&mut self, now: Micros, held: Held) {
        if let Err(h) = self.clients.hold(held) {
            self.redirect(now, h.client, h.req, h.arrived);
        }
    }

    /// A get with no room to wait among the reads: a redirect is safe.
    fn redirect_read(&mut self, now: Micros, r: PendingRead) {
        self.answer(now, r.client, r.mid, Op::Get, Answer::Redirect, r.arrived);
    }

    /// Heard from our leader lately enough to redirect a client that
    /// believes `believed` leads: within one heartbeat after the one it
    /// said was due, or, for a client that names no leader, within one
    /// heartbeat. Such a client was told of no leader, or found dead the
    /// one it was told of (the simulator forgets a client's leader when its
    /// target has died and on a leader kill). Sent to a leader we last
    /// heard from a while ago, which may be the dead one, it would go round
    /// the followers, redirected by each, until the election ends (a
    /// quarter of all requests were redirects in a 21-replica run with two
    /// leader kills); it waits for our leader's next word, or a new leader.
    fn leader_fresh_for(&self, now: Micros, believed: Addr) -> bool {
        let hb = self.cfg.heartbeat_interval;
        let window = if believed == Addr::UNKNOWN {
            hb
        } else {
            self.leader_interval + hb
        };
        self.last_leader_contact.is_some_and(|t| now < t + window)
    }

    /// Asks our leader for a word, at most once a heartbeat interval: its
    /// AppendEntries, which comes at once if it is alive, sends the held
    /// requests its way (`release_held`).
    fn ping_leader(&mut self, now: Micros) {
        let Some(leader) = self.leader else {
            return;
        };
        if self
            .last_ping
            .is_some_and(|t| now < t + self.cfg.heartbeat_interval)
        {
            return;
        }
        self.last_ping = Some(now);
        self.counters.pings_sent += 1;
        self.send(leader, Body::Ping(Ping { term: self.term }));
    }

    /// A leader is known again: send the held requests its way, but for
    /// gets that must wait for a put we owe (`Clients::waits_for_our_put`).
    pub(super) fn release_held(&mut self, now: Micros) {
        let log = &self.log;
        let released = self
            .clients
            .release_held(|c, h| c.waits_for_our_put(h.client, &h.req, log));
        for h in released {
            self.redirect(now, h.client, h.req, h.arrived);
        }
    }

    /// We became the leader: the held requests are ours to serve.
    pub(super) fn adopt_held(&mut self, now: Micros) {
        for h in self.clients.take_held() {
            self.lead_request(now, h.client, h.req, h.arrived);
        }
    }

    /// Requests held too long are redirected (the client then tries another
    /// replica), but for gets that wait for a put we owe: redirected, they
    /// would reach the leader just as well (a hard partition can keep us
    /// from settling the put for longer than the hold).
    pub(super) fn expire_held(&mut self, now: Micros) {
        let timeout = self.cfg.hold_timeout;
        match self.clients.held_deadline(&self.log, timeout) {
            Some(at) if now >= at => {}
            _ => return,
        }
        let log = &self.log;
        let expired = self.clients.release_held(|c, h| {
            now < h.arrived + timeout || c.waits_for_our_put(h.client, &h.req, log)
        });
        for h in expired {
            self.redirect(now, h.client, h.req, h.arrived);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::node::Role;
    use super::super::{Config, Input, Outgoing};
    use super::*;
    use crate::raft::testkit::{
        ack, client_outputs, deliver, empty_append, get, ok, put, tick, A, B, C, CLIENT,
    };
    use shared::{AppendEntries, Message, VoteReply};

    const T0: Micros = 2_000_000;

    /// Leader of term 1 over {A, B, C}, no-op committed, lease fresh at T0.
    fn leader() -> Node {
        let mut a = Node::new(A, vec![B, C], Config::default(), 1, 0);
        a.handle(T0, Input::Tick);
        for pre in [true, false] {
            deliver(
                &mut a,
                T0,
                B,
                Body::VoteReply(VoteReply {
                    term: 1,
                    granted: true,
                    pre,
                }),
            );
        }
        a.flush(T0);
        deliver(&mut a, T0, B, ack(1, 1, T0));
        assert_eq!(a.commit_index(), 1);
        a
    }

    #[test]
    fn a_put_is_answered_only_after_a_quorum_holds_it() {
        let mut a = leader();
        let out = deliver(&mut a, T0 + 10, CLIENT, put("M1", "k", "v"));
        assert!(client_outputs(&out).is_empty());
        let to: Vec<Addr> = out.iter().map(|o| o.to).collect();
        assert_eq!(to, vec![B], "one follower makes a quorum of three: {out:?}");
        let out = deliver(&mut a, T0 + 20, B, ack(1, 2, T0 + 10));
        assert_eq!(
            client_outputs(&out),
            vec![Outgoing {
                to: CLIENT,
                body: Body::Ok {
                    mid: "M1".into(),
                    value: None
                }
            }]
        );
        assert_eq!(a.kv().get("k"), "v");
    }

    #[test]
    fn a_get_under_a_valid_lease_is_answered_at_once() {
        let mut a = leader();
        let out = deliver(&mut a, T0 + 10, CLIENT, get("G1", "k"));
        assert_eq!(
            out,
            vec![Outgoing {
                to: CLIENT,
                body: Body::Ok {
                    mid: "G1".into(),
                    value: Some(String::new())
                }
            }]
        );
    }

    #[test]
    fn a_get_after_the_lease_expires_waits_for_a_quorum_confirmation() {
        // thesis §6.4: read-index
        let mut a = leader();
        let late = T0 + a.cfg.lease() + 1;
        let out = deliver(&mut a, late, CLIENT, get("G1", "k"));
        assert!(client_outputs(&out).is_empty());
        assert_eq!(out.len(), 2, "a confirmation round goes out: {out:?}");
        // an old ack proves nothing about now (nor does it renew the lease)
        let out = deliver(&mut a, late + 5, C, ack(1, 1, T0 + 1));
        assert!(client_outputs(&out).is_empty());
        let out = deliver(&mut a, late + 5, C, ack(1, 1, late));
        assert_eq!(client_outputs(&out).len(), 1);
    }

    #[test]
    fn a_deposed_leader_never_answers_a_read_itself() {
        let mut a = leader();
        let late = T0 + a.cfg.lease() + 1;
        deliver(&mut a, late, CLIENT, get("G1", "k"));
        let ae = AppendEntries {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            commit: 1,
            ts: 0,
            heartbeat: 0,
            entries: vec![],
            relay_to: None,
            relayed: None,
        };
        let out = deliver(&mut a, late + 5, B, Body::AppendEntries(ae));
        assert_eq!(a.role(), Role::Follower);
        assert_eq!(
            client_outputs(&out),
            vec![Outgoing {
                to: CLIENT,
                body: Body::Redirect { mid: "G1".into() }
            }]
        );
        assert_eq!(a.leader_hint(), B);
    }

    #[test]
    fn a_follower_that_knows_the_leader_redirects() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let ae = empty_append(1, 0);
        deliver(&mut b, 10, A, Body::AppendEntries(ae));
        let out = deliver(&mut b, 20, CLIENT, put("M1", "k", "v"));
        assert_eq!(
            out,
            vec![Outgoing {
                to: CLIENT,
                body: Body::Redirect { mid: "M1".into() }
            }]
        );
        assert_eq!(b.leader_hint(), A);
    }

    #[test]
    fn a_follower_whose_leader_went_quiet_holds_until_it_hears_again() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let ae = empty_append(1, 0);
        deliver(&mut b, 10, A, Body::AppendEntries(ae.clone()));
        let quiet = 10 + 2 * b.cfg.heartbeat_interval;
        // Held, and the leader is asked for a word.
        let ping = Outgoing {
            to: A,
            body: Body::Ping(Ping { term: 1 }),
        };
        assert_eq!(
            deliver(&mut b, quiet, CLIENT, get("G1", "k")),
            vec![ping.clone()]
        );
        // Once a heartbeat interval at most.
        assert!(deliver(&mut b, quiet + 1, CLIENT, get("G2", "k")).is_empty());
        let later = quiet + b.cfg.heartbeat_interval;
        assert_eq!(deliver(&mut b, later, CLIENT, get("G3", "k")), vec![ping]);
        let out = deliver(&mut b, later + 5, A, Body::AppendEntries(ae));
        for mid in ["G1", "G2", "G3"] {
            assert!(out.contains(&Outgoing {
                to: CLIENT,
                body: Body::Redirect { mid: mid.into() }
            }));
        }
        assert_eq!(b.counters().pings_sent, 2);
    }

    #[test]
    fn a_lazy_follower_asks_its_leader_instead_of_holding_a_request_for_a_whole_interval() {
        // Told to expect its leader's word once a second; a client that
        // names no leader comes half a second later.
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let ae = AppendEntries {
            heartbeat: 1_000_000,
            ..empty_append(1, 0)
        };
        deliver(&mut b, 10, A, Body::AppendEntries(ae.clone()));
        let msg = Message {
            src: CLIENT,
            dst: B,
            leader: Addr::UNKNOWN,
            body: put("P1", "k", "v"),
        };
        b.handle(500_000, Input::Message(msg));
        let out = b.flush(500_000);
        assert_eq!(
            out,
            vec![Outgoing {
                to: A,
                body: Body::Ping(Ping { term: 1 })
            }]
        );
        // The leader's answer comes a round trip later, not half a second.
        let out = deliver(&mut b, 501_000, A, Body::AppendEntries(ae));
        assert!(out.contains(&Outgoing {
            to: CLIENT,
            body: Body::Redirect { mid: "P1".into() }
        }));
    }

    #[test]
    fn a_client_that_bounces_straight_back_is_held_not_redirected_again() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let ae = empty_append(1, 0);
        deliver(&mut b, 10, A, Body::AppendEntries(ae.clone()));
        assert_eq!(deliver(&mut b, 20, CLIENT, get("G1", "k")).len(), 1);
        assert!(deliver(&mut b, 120, CLIENT, get("G2", "k")).is_empty());
        let later = 120 + b.cfg.bounce_window;
        deliver(&mut b, later, A, Body::AppendEntries(ae));
        assert_eq!(deliver(&mut b, later + 1, CLIENT, get("G3", "k")).len(), 1);
    }

    #[test]
    fn without_a_leader_requests_are_held_then_released_to_the_new_one() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        assert!(deliver(&mut b, 10, CLIENT, get("G1", "k")).is_empty());
        let ae = empty_append(1, 0);
        let out = deliver(&mut b, 20, A, Body::AppendEntries(ae));
        assert!(out.contains(&Outgoing {
            to: CLIENT,
            body: Body::Redirect { mid: "G1".into() }
        }));
    }

    #[test]
    fn held_requests_expire_into_redirects() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        deliver(&mut b, 10, CLIENT, get("G1", "k"));
        let hold = b.cfg.hold_timeout;
        assert!(b.next_deadline(10) <= 10 + hold);
        b.handle(10 + hold, Input::Tick);
        let out = b.flush(10 + hold);
        assert!(out.contains(&Outgoing {
            to: CLIENT,
            body: Body::Redirect { mid: "G1".into() }
        }));
    }

    #[test]
    fn a_duplicate_mid_is_not_appended_twice() {
        let mut a = leader();
        deliver(&mut a, T0 + 10, CLIENT, put("M1", "k", "v"));
        deliver(&mut a, T0 + 20, CLIENT, put("M1", "k", "v"));
        assert_eq!(a.log().last_index(), 2);
        assert_eq!(a.counters().duplicate_mids, 1);
    }

    #[test]
    fn an_oversized_put_fails_without_touching_the_log() {
        let mut a = leader();
        let huge = "x".repeat(a.cfg.max_entry_bytes);
        let out = deliver(&mut a, T0 + 10, CLIENT, put("M1", "k", &huge));
        assert_eq!(
            out,
            vec![Outgoing {
                to: CLIENT,
                body: Body::Fail { mid: "M1".into() }
            }]
        );
        assert_eq!(a.log().last_index(), 1);
    }

    #[test]
    fn a_former_leaders_replaced_put_is_redirected_once_the_replacement_commits() {
        let mut a = leader();
        deliver(&mut a, T0 + 10, CLIENT, put("M1", "k", "v"));
        // B leads term 2 and committed a different entry at index 2.
        let entries = vec![Entry { term: 2, put: None }];
        let ae = AppendEntries {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            commit: 2,
            ts: 0,
            heartbeat: 0,
            entries,
            relay_to: None,
            relayed: None,
        };
        let out = deliver(&mut a, T0 + 20, B, Body::AppendEntries(ae));
        assert_eq!(
            client_outputs(&out),
            vec![Outgoing {
                to: CLIENT,
                body: Body::Redirect { mid: "M1".into() }
            }]
        );
        assert_eq!(a.kv().get("k"), "");
    }

    /// `a` took put M1 (k=v) at index 2 as leader of term 1; B leads term 2
    /// with it and tells `a` it committed index 3. Returns `a`'s outputs.
    fn successor_commits_our_put(a: &mut Node) -> Vec<Outgoing> {
        deliver(a, T0 + 10, CLIENT, put("M1", "k", "v"));
        let ae = AppendEntries {
            term: 2,
            prev_index: 2,
            prev_term: 1,
            commit: 3,
            ts: 0,
            heartbeat: 0,
            entries: vec![Entry { term: 2, put: None }],
            relay_to: None,
            relayed: None,
        };
        deliver(a, T0 + 20, B, Body::AppendEntries(ae))
    }

    #[test]
    fn a_former_leader_answers_its_own_put_once_a_successor_commits_it() {
        let mut a = leader();
        let out = successor_commits_our_put(&mut a);
        assert_eq!(client_outputs(&out), vec![ok("M1", None)]);
        assert_eq!(a.leader_hint(), B);
    }

    #[test]
    fn a_get_waits_for_our_answer_to_the_clients_put_on_that_key() {
        let mut a = leader();
        deliver(&mut a, T0 + 10, CLIENT, put("M1", "k", "v2"));
        // B takes over in term 2 with our put in its log, not yet committed.
        let from_b = |commit: u64, entries: Vec<Entry>, prev: (u64, u64)| {
            Body::AppendEntries(AppendEntries {
                term: 2,
                prev_index: prev.0,
                prev_term: prev.1,
                commit,
                ts: 0,
                heartbeat: 0,
                entries,
                relay_to: None,
                relayed: None,
            })
        };
        let noop = vec![Entry { term: 2, put: None }];
        deliver(&mut a, T0 + 100, B, from_b(1, noop, (2, 1)));
        assert_eq!(a.role(), Role::Follower);
        // The client's get on k is held, not redirected: B would answer
        // it with v2 before the client hears that its put took effect.
        let out = deliver(&mut a, T0 + 200, CLIENT, get("G1", "k"));
        assert!(client_outputs(&out).is_empty(), "{out:?}");
        // A get on another key goes to B at once.
        let out = deliver(&mut a, T0 + 200, CLIENT, get("G2", "other"));
        assert_eq!(
            client_outputs(&out),
            vec![Outgoing {
                to: CLIENT,
                body: Body::Redirect { mid: "G2".into() }
            }]
        );
        // Not even when its hold expires (say B is cut off from us for a
        // while), and no timer is left set in the past for it.
        let late = T0 + 200 + a.cfg.hold_timeout;
        let out = tick(&mut a, late);
        assert!(client_outputs(&out).is_empty(), "{out:?}");
        assert!(a.next_deadline(late) > late);
        // B commits it: our answer to the put goes first, then the get.
        let out = deliver(&mut a, late + 100, B, from_b(3, vec![], (3, 2)));
        let answers: Vec<Body> = client_outputs(&out).into_iter().map(|o| o.body).collect();
        assert_eq!(
            answers,
            vec![
                Body::Ok {
                    mid: "M1".into(),
                    value: None
                },
                Body::Redirect { mid: "G1".into() }
            ]
        );
    }

    #[test]
    fn a_read_held_through_a_step_down_is_served_if_we_lead_again() {
        // The read waits for a quorum that never answers; check-quorum
        // deposes us with no other leader known, so it is held; we win the
        // next election and must serve it (it was once dropped as a
        // duplicate MID). Found by tests/cluster_sim.rs.
        let mut a = leader();
        // Held longer than our next election timeout can be.
        a.cfg.hold_timeout = 2 * a.cfg.election_timeout_max;
        let late = T0 + a.cfg.lease() + 1;
        deliver(&mut a, late, CLIENT, get("G1", "k"));
        let deposed = T0 + a.cfg.election_timeout_min;
        a.handle(deposed, Input::Tick);
        assert_eq!(a.role(), Role::Follower);
        let campaign = a.next_deadline(deposed);
        assert!(
            campaign < deposed + a.cfg.hold_timeout,
            "the read is still held"
        );
        a.handle(campaign, Input::Tick);
        for pre in [true, false] {
            let vote = VoteReply {
                term: 2,
                granted: true,
                pre,
            };
            deliver(&mut a, campaign, C, Body::VoteReply(vote));
        }
        assert_eq!(a.role(), Role::Leader);
        let out = deliver(&mut a, campaign + 10, C, ack(2, 2, campaign));
        assert_eq!(
            client_outputs(&out),
            vec![Outgoing {
                to: CLIENT,
                body: Body::Ok {
                    mid: "G1".into(),
                    value: Some(String::new())
                }
            }]
        );
    }

    #[test]
    fn a_put_whose_index_is_reused_after_our_log_shrank_is_still_answered() {
        // Leader in term 1 with puts at 2, 3, 4; the term-2 leader's
        // AppendEntries cuts our log back to 2 entries; leading again in
        // term 3 we put our no-op at 3 and a new put at 4. The put first
        // owed at 4 must still be settled (a redirect once 4 commits with
        // another entry), not forgotten. Found by tests/cluster_sim.rs.
        let mut a = leader();
        for (i, mid) in ["M1", "M2", "M3"].into_iter().enumerate() {
            deliver(&mut a, T0 + 10 + i as u64, CLIENT, put(mid, "k", mid));
        }
        let ae = AppendEntries {
            term: 2,
            prev_index: 1,
            prev_term: 1,
            commit: 1,
            ts: 0,
            heartbeat: 0,
            entries: vec![Entry { term: 2, put: None }],
            relay_to: None,
            relayed: None,
        };
        deliver(&mut a, T0 + 100, B, Body::AppendEntries(ae));
        assert_eq!(a.log().last_index(), 2);
        let campaign = a.next_deadline(T0 + 100);
        a.handle(campaign, Input::Tick);
        let mut out = Vec::new();
        for pre in [true, false] {
            let vote = VoteReply {
                term: 3,
                granted: true,
                pre,
            };
            out.extend(deliver(&mut a, campaign, C, Body::VoteReply(vote)));
        }
        assert_eq!(a.role(), Role::Leader);
        out.extend(deliver(&mut a, campaign + 1, CLIENT, put("M4", "k", "v4")));
        assert_eq!(a.log().last_index(), 4);
        out.extend(deliver(&mut a, campaign + 2, C, ack(3, 4, campaign + 1)));
        let answers: Vec<Body> = client_outputs(&out).into_iter().map(|o| o.body).collect();
        let redirect = |mid: &str| Body::Redirect { mid: mid.into() };
        assert_eq!(
            answers,
            vec![
                redirect("M1"),
                redirect("M2"),
                redirect("M3"),
                Body::Ok {
                    mid: "M4".into(),
                    value: None
                }
            ]
        );
    }

    const REQUEST_OVERHEAD_FOR_TEST: usize = super::super::clients::REQUEST_OVERHEAD;

    fn redirect_to(mid: &str) -> Outgoing {
        Outgoing {
            to: CLIENT,
            body: Body::Redirect { mid: mid.into() },
        }
    }

    #[test]
    fn an_oversized_mid_is_dropped_before_any_table_or_event() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let mid = "M".repeat(b.cfg.max_mid_bytes + 1);
        let out = deliver(&mut b, 10, CLIENT, put(&mid, "k", "v"));
        assert!(out.is_empty(), "an answer would echo the MID: {out:?}");
        assert_eq!(b.queued_requests(), 0);
        assert_eq!(b.counters().oversized_requests, 1);
        let events = b.take_events();
        assert!(
            !events
                .iter()
                .any(|(_, e)| matches!(e, shared::events::Event::ClientRequest { .. })),
            "{events:?}"
        );
    }

    #[test]
    fn an_oversized_get_or_put_fails_at_once_in_any_role() {
        let mut b = Node::new(B, vec![A, C], Config::default(), 2, 0);
        let huge = "x".repeat(b.cfg.max_entry_bytes + 1);
        let out = deliver(&mut b, 10, CLIENT, get("G1", &huge));
        assert_eq!(
            out,
            vec![Outgoing {
                to: CLIENT,
                body: Body::Fail { mid: "G1".into() }
            }]
        );
        let out = deliver(&mut b, 10, CLIENT, put("P1", "k", &huge));
        assert_eq!(
            out,
            vec![Outgoing {
                to: CLIENT,
                body: Body::Fail { mid: "P1".into() }
            }]
        );
        assert_eq!(b.queued_requests(), 0, "nothing held");
    }

    #[test]
    fn held_requests_are_bounded_in_bytes_and_the_rest_redirected() {
        let cfg = Config {
            max_queued_bytes: 3 * (REQUEST_OVERHEAD_FOR_TEST + 2 + 1000),
            ..Config::default()
        };
        let mut b = Node::new(B, vec![A, C], cfg, 2, 0);
        let value = "v".repeat(1000 - 1);
        for i in 0..3 {
            let out = deliver(&mut b, 10, CLIENT, put(&format!("P{i}"), "k", &value));
            assert!(out.is_empty(), "held: {out:?}");
        }
        let out = deliver(&mut b, 10, CLIENT, put("P3", "k", &value));
        assert_eq!(out, vec![redirect_to("P3")]);
        // A small get still fits once one is gone, not before.
        let out = deliver(&mut b, 10, CLIENT, get("G1", "k"));
        assert_eq!(out, vec![redirect_to("G1")]);
        assert_eq!(b.queued_requests(), 3);
    }

    #[test]
    fn pending_reads_are_bounded_and_a_step_down_loses_none() {
        let cfg = Config {
            max_queued_requests: 2,
            ..Config::default()
        };
        let mut a = Node::new(A, vec![B, C], cfg, 1, 0);
        a.handle(T0, Input::Tick);
        for pre in [true, false] {
            let vote = VoteReply {
                term: 1,
                granted: true,
                pre,
            };
            deliver(&mut a, T0, B, Body::VoteReply(vote));
        }
        a.flush(T0);
        deliver(&mut a, T0, B, ack(1, 1, T0));
        let late = T0 + a.cfg.lease() + 1;
        for g in ["G1", "G2"] {
            let out = deliver(&mut a, late, CLIENT, get(g, "k"));
            assert!(client_outputs(&out).is_empty(), "{g} waits: {out:?}");
        }
        let out = deliver(&mut a, late, CLIENT, get("G3", "k"));
        assert_eq!(client_outputs(&out), vec![redirect_to("G3")]);
        // Deposed with a queue of held requests already full: the reads
        // that fit are held, the others redirected, none dropped.
        let newer = Body::AppendEntries(empty_append(2, late));
        let out = deliver(&mut a, late + 1, C, newer);
        assert_eq!(a.role(), Role::Follower);
        let answered = client_outputs(&out).len();
        assert_eq!(answered + a.queued_requests(), 2, "{out:?}");
    }
}
