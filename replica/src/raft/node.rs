//! The node: the state every role has, input dispatch, term changes and
//! applying committed entries. Each role's state has an owner of its own
//! (`campaign.rs`, `leader/`), as do clients (`clients.rs`), inherited
//! puts (`inherited.rs`) and events (`report.rs`); what each input does is
//! in `election.rs`, `follower.rs`, `replication.rs`, `requests.rs` and
//! `inheriting.rs`.

use shared::events::{Event, FollowerProgress, RoleName, RoleReason};
use shared::{Addr, Body, Message};

use super::campaign::Campaign;
use super::clients::{Clients, Request};
use super::durability::Durability;
use super::inherited::Inheritance;
use super::leader::tracker::Estimates;
use super::leader::Leader;
use super::report::Reporter;
use super::snapshot::{Incoming, TermRuns};
use super::{Config, Input, Micros, Outgoing, RaftLog};
use crate::kv::KvStore;
use crate::rng::Rng;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Follower,
    /// Asking for pre-votes before disrupting anyone with a new term.
    PreCandidate,
    Candidate,
    Leader,
}

impl Role {
    pub fn name(self) -> RoleName {
        match self {
            Role::Follower => RoleName::Follower,
            Role::PreCandidate => RoleName::PreCandidate,
            Role::Candidate => RoleName::Candidate,
            Role::Leader => RoleName::Leader,
        }
    }
}

/// Counts of inputs the core ignored, by reason, and of what it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Raft messages from an address that is not a peer.
    pub not_from_peer: u64,
    /// Pings sent to our leader while holding requests, and answered as
    /// leader.
    pub pings_sent: u64,
    pub pings_answered: u64,
    /// Messages with a stale term or for a campaign that is over.
    pub stale: u64,
    /// Messages a replica never expects (client answers, hello).
    pub unexpected: u64,
    /// Client requests refused because the entry would be too large.
    pub oversized_requests: u64,
    /// Client requests dropped because their MID was just seen.
    pub duplicate_mids: u64,
    /// Raft messages carrying a term above [`MAX_TERM`]: corrupt or forged.
    pub absurd_terms: u64,
    /// State events dropped because nobody took them.
    pub events_overflowed: u64,
    pub elections_started: u64,
    pub terms_won: u64,
    /// AppendEntries sent as leader: carrying an entry never sent to that
    /// follower before, carrying only entries sent before, and empty.
    pub appends_new: u64,
    pub appends_resent: u64,
    pub appends_empty: u64,
    /// Of those, AppendEntries a follower was asked to relay to another.
    pub appends_relayed: u64,
    /// Inherited puts not answered before their client's get, since their
    /// owner had most likely answered them (`PutTiming`).
    pub inherited_left_unanswered: u64,
    /// Snapshot chunks sent as leader, and snapshots installed as follower.
    pub snapshot_chunks_sent: u64,
    pub snapshots_installed: u64,
    /// Puts owed an answer whose entries an installed snapshot replaced,
    /// not shown applied by it, so left unanswered.
    pub owed_dropped_by_snapshot: u64,
}

/// Raft messages with a higher term are ignored (see `handle_message`);
/// half the range leaves room for every `term + 1`.
pub const MAX_TERM: u64 = u64::MAX / 2;

/// The term a Raft message carries; `None` for client traffic.
fn raft_term(body: &Body) -> Option<u64> {
    match body {
        Body::RequestVote(rv) => Some(rv.term),
        Body::VoteReply(r) => Some(r.term),
        Body::AppendEntries(ae) => Some(ae.term),
        Body::AppendReply(r) => Some(r.term),
        Body::Ping(p) => Some(p.term),
        Body::InstallSnapshot(s) => Some(s.term),
        Body::SnapshotAck(a) => Some(a.term),
        _ => None,
    }
}

pub struct Node {
    pub(super) id: Addr,
    pub(super) peers: Vec<Addr>,
    pub(super) cfg: Config,
    pub(super) rng: Rng,

    // Raft state (§5). Term, vote and log are persisted only with
    // durability on (`durability.rs`).
    pub(super) term: u64,
    pub(super) voted_for: Option<Addr>,
    pub(super) log: RaftLog,
    pub(super) commit: u64,
    pub(super) applied: u64,
    pub(super) kv: KvStore,
    pub(super) durability: Durability,

    /// Our role. Its state goes with it: `campaign` is `Some` exactly while
    /// we are a pre-candidate or candidate, `leading` exactly while we lead.
    pub(super) role: Role,
    pub(super) campaign: Option<Campaign>,
    pub(super) leading: Option<Leader>,
    /// Who we believe leads.
    pub(super) leader: Option<Addr>,
    /// The last leader we knew of (see `leader_hint`).
    pub(super) last_leader: Option<Addr>,

    // The election timer, in every role.
    pub(super) election_deadline: Micros,
    /// When we last heard from a leader of our term (or, as leader, were
    /// confirmed by a quorum): votes are refused for `election_timeout_min`
    /// after it (thesis §4.2.3), which is what makes the read lease safe.
    pub(super) last_leader_contact: Option<Micros>,
    /// The longest our leader said it would stay silent (its heartbeat
    /// interval for us).
    pub(super) leader_interval: Micros,
    /// When we last asked our leader for a word (`Body::Ping`), holding
    /// client requests: at most one a heartbeat interval.
    pub(super) last_ping: Option<Micros>,
    /// A leader's snapshot we are receiving (`snapshot.rs`).
    pub(super) incoming_snapshot: Option<Incoming>,
    /// The terms of the applied log, for snapshots (`snapshot.rs`).
    pub(super) applied_terms: TermRuns,

    /// While we do not lead: the estimates of our last term as leader, for
    /// the next (see `Estimates`).
    pub(super) kept_estimates: Estimates,
    pub(super) clients: Clients,
    pub(super) inheritance: Inheritance,

    pub(super) outbox: Vec<Outgoing>,
    pub(super) counters: Counters,
    pub(super) reporter: Reporter,
}

impl Node {
    /// A follower in term 0 with an empty log. `seed` drives its election
    /// timeouts.
    pub fn new(id: Addr, peers: Vec<Addr>, cfg: Config, seed: u64, now: Micros) -> Node {
        let mut peers = peers;
        peers.retain(|p| *p != id);
        peers.sort();
        peers.dedup();
        let clients = Clients::new(&cfg);
        let heartbeat = cfg.heartbeat_interval;
        let mut node = Node {
            id,
            peers,
            cfg,
            rng: Rng::new(seed),
            term: 0,
            voted_for: None,
            log: RaftLog::default(),
            commit: 0,
            applied: 0,
            kv: KvStore::default(),
            durability: Durability::default(),
            role: Role::Follower,
            campaign: None,
            leading: None,
            leader: None,
            last_leader: None,
            election_deadline: 0,
            last_leader_contact: None,
            leader_interval: heartbeat,
            last_ping: None,
            incoming_snapshot: None,
            applied_terms: TermRuns::default(),
            kept_estimates: Estimates::default(),
            clients,
            inheritance: Inheritance::default(),
            outbox: Vec::new(),
            counters: Counters::default(),
            reporter: Reporter::default(),
        };
        node.report_role(now, RoleReason::Start);
        // Nobody leads at start-up, so the first election need not wait a
        // whole timeout; the draw still spreads the replicas out.
        let (lo, hi) = (
            node.cfg.election_timeout_min / 4,
            node.cfg.election_timeout_min / 2,
        );
        node.election_deadline = now + node.rng.range(lo, hi);
        node
    }

    /// Feeds one input. Outputs accumulate until [`Node::flush`].
    pub fn handle(&mut self, now: Micros, input: Input) {
        match input {
            Input::Tick => self.handle_tick(now),
            Input::Message(msg) => self.handle_message(now, msg),
            Input::Durable {
                last_index,
                last_term,
            } => self.handle_durable(now, last_index, last_term),
        }
    }

    /// Builds the AppendEntries that are due and returns every queued output.
    pub fn flush(&mut self, now: Micros) -> Vec<Outgoing> {
        if self.leading.is_some() {
            self.send_due_appends(now);
        }
        // Once a batch, after the sends: what was just applied is seen
        // (and checked, in the simulation) before it can be compacted.
        self.maybe_compact(now);
        self.report_progress(now);
        std::mem::take(&mut self.outbox)
    }

    /// Turns the `client_request` and `client_answer` events on or off (on
    /// at start). The other events are rare and always built.
    pub fn set_request_events(&mut self, on: bool) {
        self.reporter.request_events = on;
    }

    /// The state events since the last call, with the time of each.
    pub fn take_events(&mut self) -> Vec<(Micros, Event)> {
        self.reporter.take()
    }

    /// The leader's view of each follower: (id, match index, next index);
    /// empty unless we lead.
    pub fn follower_progress(&self) -> Vec<FollowerProgress> {
        self.progress_triples()
            .into_iter()
            .map(|(id, match_index, next_index)| FollowerProgress {
                id: id.to_string(),
                match_index,
                next_index,
            })
            .collect()
    }

    fn progress_triples(&self) -> Vec<(Addr, u64, u64)> {
        let Some(lead) = &self.leading else {
            return Vec::new();
        };
        lead.tracker
            .iter()
            .map(|(a, p)| (*a, p.matched(), p.next_index()))
            .collect()
    }

    /// Reports a change of role, term or leader belief, if there was one.
    pub(super) fn report_role(&mut self, now: Micros, reason: RoleReason) {
        let leader = self.leader.unwrap_or(Addr::UNKNOWN);
        let (role, term) = (self.role.name(), self.term);
        self.reporter
            .role_changed(now, (role, term, leader), || Event::Role {
                role,
                term,
                leader: leader.to_string(),
                reason,
            });
    }

    /// Reports log, commit and (rate-limited) follower progress changes,
    /// once per batch of inputs.
    fn report_progress(&mut self, now: Micros) {
        let last = (self.log.last_index(), self.log.last_term());
        self.reporter.log_changed(now, last);
        self.reporter
            .commit_changed(now, (self.commit, self.applied));
        if self.leading.is_some() && self.reporter.progress_due(now) {
            let followers = self.progress_triples();
            self.reporter.progress_changed(now, followers);
        }
    }

    /// When the core next needs a tick.
    pub fn next_deadline(&self, now: Micros) -> Micros {
        let mut at = match &self.leading {
            Some(_) => self.leader_deadline(now),
            None => self.campaign_deadline(),
        };
        if let Some(expiry) = self.clients.held_deadline(&self.log, self.cfg.hold_timeout) {
            at = at.min(expiry);
        }
        if let Some(wait) = self
            .leading
            .as_ref()
            .and_then(|l| l.reads.owner_wait_deadline())
        {
            at = at.min(wait);
        }
        at
    }

    pub fn id(&self) -> Addr {
        self.id
    }
    pub fn peers(&self) -> &[Addr] {
        &self.peers
    }
    pub fn config(&self) -> &Config {
        &self.cfg
    }
    pub fn role(&self) -> Role {
        self.role
    }
    pub fn term(&self) -> u64 {
        self.term
    }
    pub fn commit_index(&self) -> u64 {
        self.commit
    }
    pub fn applied_index(&self) -> u64 {
        self.applied
    }
    pub fn log(&self) -> &RaftLog {
        &self.log
    }
    pub fn kv(&self) -> &KvStore {
        &self.kv
    }
    pub fn counters(&self) -> Counters {
        Counters {
            events_overflowed: self.reporter.overflowed(),
            ..self.counters.clone()
        }
    }
    /// Requests waiting at this replica (held, pending reads, unanswered puts).
    pub fn queued_requests(&self) -> usize {
        self.clients.queued() + self.leading.as_ref().map_or(0, |l| l.reads.len())
    }

    /// Who this replica believes leads.
    pub fn leader_belief(&self) -> Option<Addr> {
        self.leader
    }

    /// The `leader` field of every packet, which the simulator takes as
    /// the cluster's leader (and whose leader a `kill_leader` kills): who
    /// we believe leads, or, while we know of none (an election is under
    /// way, a newer term was seen), the last leader we knew of, candidates
    /// included. A pre-vote, a vote request or a newer term does not show
    /// that leader gone: stamping `FFFF` then made the simulator's leader
    /// list flip between a leader and `FFFF` while the leader stayed, and
    /// naming the candidates instead flipped it between them and the old
    /// leader while an election went on (33 entries for two leader kills
    /// in large-15). A leader that steps down knows it no longer leads and
    /// stamps `FFFF`.
    pub fn leader_hint(&self) -> Addr {
        self.leader
            .or(self.last_leader.filter(|&l| l != self.id))
            .unwrap_or(Addr::UNKNOWN)
    }

    pub(super) fn quorum(&self) -> usize {
        let cluster = self.peers.len() + 1;
        cluster / 2 + 1
    }

    pub(super) fn is_peer(&self, a: Addr) -> bool {
        self.peers.binary_search(&a).is_ok()
    }

    pub(super) fn send(&mut self, to: Addr, body: Body) {
        self.count_peer_message(to);
        self.outbox.push(Outgoing { to, body });
    }

    /// A message to or from `addr`: when that is a peer and we lead, one
    /// for the traffic account (`leader/ledger.rs`).
    pub(super) fn count_peer_message(&mut self, addr: Addr) {
        if self.is_peer(addr) {
            if let Some(lead) = self.leading.as_mut() {
                lead.ledger.count_messages(1);
            }
        }
    }

    pub(super) fn emit(&mut self, now: Micros, event: Event) {
        self.reporter.emit(now, event);
    }

    pub(super) fn reset_election_deadline(&mut self, now: Micros) {
        let (lo, hi) = (self.cfg.election_timeout_min, self.cfg.election_timeout_max);
        self.election_deadline = now + self.rng.range(lo, hi);
    }

    /// Heard from the leader, which will be silent for up to `interval`:
    /// the election timeout runs from now, stretched by however much longer
    /// than the standard heartbeat that is.
    pub(super) fn heard_from_leader(&mut self, now: Micros, interval: Micros) {
        self.last_leader_contact = Some(now);
        self.leader_interval = interval;
        self.reset_election_deadline(now);
        self.election_deadline += interval.saturating_sub(self.cfg.heartbeat_interval);
    }

    fn handle_message(&mut self, now: Micros, msg: Message) {
        let from = msg.src;
        // No real cluster reaches such a term (it takes one election each),
        // so it comes from a corrupt or forged packet; adopting it would
        // overflow `term + 1` at our next election. Found by
        // tests/robustness.rs (`absurd_raft_fields_from_a_peer_do_not_panic`).
        if raft_term(&msg.body).is_some_and(|t| t > MAX_TERM) {
            self.counters.absurd_terms += 1;
            return;
        }
        self.count_peer_message(from);
        if let Some(campaign) = self
            .campaign
            .as_mut()
            .filter(|_| self.peers.contains(&from))
        {
            campaign.heard_from(from);
        }
        match msg.body {
            Body::Get { mid, key } => {
                self.handle_request(now, from, msg.leader, Request::Get { mid, key })
            }
            Body::Put { mid, key, value } => {
                self.handle_request(now, from, msg.leader, Request::Put { mid, key, value })
            }
            Body::RequestVote(rv) if self.is_peer(from) => self.handle_request_vote(now, from, rv),
            Body::VoteReply(r) if self.is_peer(from) => self.handle_vote_reply(now, from, r),
            Body::AppendEntries(ae) if self.is_peer(from) => {
                self.handle_append_entries(now, from, ae)
            }
            Body::AppendReply(r) if self.is_peer(from) => self.handle_append_reply(now, from, r),
            Body::Ping(p) if self.is_peer(from) => self.handle_ping(now, from, p.term),
            Body::InstallSnapshot(s) if self.is_peer(from) => {
                self.handle_install_snapshot(now, from, s)
            }
            Body::SnapshotAck(a) if self.is_peer(from) => self.handle_snapshot_ack(now, from, a),
            Body::RequestVote(_)
            | Body::VoteReply(_)
            | Body::AppendEntries(_)
            | Body::AppendReply(_)
            | Body::Ping(_)
            | Body::InstallSnapshot(_)
            | Body::SnapshotAck(_) => self.counters.not_from_peer += 1,
            Body::Hello | Body::Ok { .. } | Body::Fail { .. } | Body::Redirect { .. } => {
                self.counters.unexpected += 1
            }
        }
    }

    fn handle_tick(&mut self, now: Micros) {
        if self.leading.is_some() {
            self.leader_tick(now);
            self.owner_wait_tick(now);
        } else {
            self.campaign_tick(now);
        }
        self.expire_held(now);
    }

    /// Follow `leader` (or nobody yet) in `term`: a newer term was seen
    /// (Raft §5.1), a leader was found, or check-quorum failed. A leader
    /// stepping down drops its leader state here, all but its estimates,
    /// and holds its reads as a follower does.
    pub(super) fn become_follower(
        &mut self,
        now: Micros,
        term: u64,
        leader: Option<Addr>,
        reason: RoleReason,
    ) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        if leader.is_some() {
            self.last_leader = leader;
        }
        self.campaign = None;
        if let Some(lead) = self.leading.take() {
            self.kept_estimates = lead.tracker.into_estimates();
            self.reset_election_deadline(now);
            self.hold_reads(now, lead.reads.into_all());
        }
        self.report_role(now, reason);
        if leader.is_some() {
            self.release_held(now);
        }
    }

    /// Applies every committed entry and settles the puts we owe answers for.
    pub(super) fn apply_committed(&mut self, now: Micros) {
        while self.applied < self.commit {
            self.applied += 1;
            let index = self.applied;
            let Some(entry) = self.log.get(index) else {
                break;
            };
            let term = entry.term;
            self.applied_terms.record(index, term);
            // A put from an earlier term that we commit as leader but did
            // not append ourselves: its owner may never answer it.
            let inherited = self.leading.is_some()
                && term < self.term
                && index > self.durability.settled_before_restart
                && !self.clients.owed.contains_key(&(index, term));
            if let Some(put) = &entry.put {
                self.kv.apply_put(&put.key, &put.value);
            }
            let inherited_put = if inherited { entry.put.clone() } else { None };
            self.settle_put(now, index, term);
            if let Some(put) = inherited_put {
                self.commit_inherited(put, index, term);
            }
        }
        if self.leading.is_some() {
            self.serve_reads(now);
        }
    }

    #[cfg(test)]
    pub(super) fn set_term_for_test(&mut self, term: u64) {
        self.term = term;
    }

    /// Our view of the followers; panics unless we lead.
    #[cfg(test)]
    pub(super) fn tracker(&self) -> &super::leader::tracker::Tracker {
        &self.leading.as_ref().expect("the node leads").tracker
    }

    /// Our leader state; panics unless we lead.
    #[cfg(test)]
    pub(super) fn leading_for_test(&mut self) -> &mut Leader {
        self.leading.as_mut().expect("the node leads")
    }
}
