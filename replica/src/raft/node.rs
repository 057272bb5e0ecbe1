//! The node: state shared by every role, input dispatch, term handling and
//! applying committed entries. Role-specific handlers live in
//! `election.rs`, `replication.rs` and `client.rs`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use shared::events::{Event, FollowerProgress, RoleName, RoleReason};
use shared::{Addr, Body, Message};

use super::client::{Held, MidFilter, Owed, PendingRead};
use super::fanout::Share;
use super::inherited::{Inherited, OwnerWait, PutTiming};
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

/// The leader's view of one follower (Raft §5.3).
#[derive(Debug, Clone, Default)]
pub(super) struct Progress {
    /// Next index to send (advanced optimistically when sending: pipelining).
    pub next: u64,
    /// Highest index known to be replicated on the follower.
    pub matched: u64,
    /// When we last sent it anything.
    pub last_sent: Micros,
    /// When we last received a reply from it in this term.
    pub last_reply: Micros,
    /// The send time of the newest AppendEntries it acknowledged.
    pub acked_ts: Micros,
    /// Send at the next flush even if there is nothing new.
    pub send_now: bool,
    /// When we first sent it something that no reply has answered yet:
    /// silent for a retransmission interval after that, it counts as a
    /// lost round trip in the loss estimate.
    pub waiting_since: Option<Micros>,
    /// That wait was already counted as a lost round trip.
    pub timed_out: bool,
    /// The wait is for a relayed AppendEntries: three hops, not a round
    /// trip, so its outcome stays out of the loss estimate.
    pub relayed: bool,
    /// Retransmissions since its last answer: each doubles the wait before
    /// the next, so a follower that died or was cut off costs a handful of
    /// messages, not one per retransmission timeout.
    pub backoff: u32,
    /// Our last AppendEntries told it to expect the lazy heartbeat
    /// interval. A follower that leaves the eager set still gets one
    /// standard heartbeat first: its election timer was set for that.
    pub told_lazy: bool,
    /// The heartbeat interval our last AppendEntries told it (the standard
    /// one if it told none): its election timer is set for that.
    pub told_interval: Micros,
    /// The highest index ever sent to it in this term (for `Counters`).
    pub sent_up_to: u64,
    /// It acknowledged entries in this term, so `matched` is known to be
    /// in its log: every AppendEntries can then start right after it, and
    /// carry whatever a lost one carried.
    pub acked: bool,
    /// AppendEntries sent since its last answer: one lost round trip is
    /// loss, two in a row look like a dead or cut-off follower.
    pub unanswered: u32,
    /// The commit index it told us last (this term): it has answered
    /// every put it owed up to there (see `inherited.rs`).
    pub commit: u64,
}

/// Counts of inputs the core ignored, by reason, and of what it did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Raft messages from an address that is not a peer.
    pub not_from_peer: u64,
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
        _ => None,
    }
}

pub struct Node {
    pub(super) id: Addr,
    pub(super) peers: Vec<Addr>,
    pub(super) cfg: Config,
    pub(super) rng: Rng,

    // Raft state (§5). Nothing is persisted: the simulator never restarts a
    // killed replica, so a replica's life is one process.
    pub(super) term: u64,
    pub(super) voted_for: Option<Addr>,
    pub(super) log: RaftLog,
    pub(super) commit: u64,
    pub(super) applied: u64,
    pub(super) kv: KvStore,

    pub(super) role: Role,
    pub(super) leader: Option<Addr>,
    pub(super) election_deadline: Micros,
    /// When we last heard from a leader of our term (or, as leader, were
    /// confirmed by a quorum): votes are refused for `election_timeout_min`
    /// after it (thesis §4.2.3), which is what makes the read lease safe.
    pub(super) last_leader_contact: Option<Micros>,
    /// The longest our leader said it would stay silent (its heartbeat
    /// interval for us).
    pub(super) leader_interval: Micros,
    pub(super) votes: BTreeSet<Addr>,
    /// Peers that answered this campaign, either way.
    pub(super) answered: BTreeSet<Addr>,
    /// When unanswered vote requests go out again, and the wait after that.
    pub(super) votes_resend_at: Micros,
    pub(super) vote_backoff: Micros,
    /// Peers that did not answer our previous campaign, when this one
    /// follows it without a leader in between: cut off or dead, most
    /// likely, so they get this campaign's first request but no resends.
    pub(super) silent: BTreeSet<Addr>,

    // Leader state.
    pub(super) progress: BTreeMap<Addr, Progress>,
    pub(super) leader_since: Micros,
    /// Index of this leader's no-op: reads wait until it is committed.
    pub(super) term_start: u64,
    /// Estimated share of AppendEntries round trips that fail to come
    /// back within a retransmission interval, and how many followers new
    /// entries therefore go to at once (see `fanout.rs`).
    pub(super) round_trip_loss: Share,
    /// Estimated share of gets among the requests we lead.
    pub(super) get_share: Share,
    pub(super) eager_count: usize,
    /// Smoothed AppendEntries round-trip time (`None` before the first).
    pub(super) srtt: Option<Micros>,
    pub(super) pending_reads: VecDeque<PendingRead>,

    // Client bookkeeping for every role.
    pub(super) held: VecDeque<Held>,
    /// Puts this replica appended as leader and has not answered, by
    /// (index, term): our log can be cut back by a later leader and refilled
    /// by us in a later term, so one index may owe puts from several terms.
    pub(super) owed: BTreeMap<(u64, u64), Owed>,
    pub(super) recent_mids: MidFilter,
    /// Puts this replica committed as leader but inherited from an earlier
    /// term's leader, whose answer may never have been sent, by (client,
    /// key) (see `InheritedPuts::BeforeGet`).
    pub(super) unconfirmed: BTreeMap<(Addr, String), Inherited>,
    /// Gets held until the owner of such a put says it answered it.
    pub(super) owner_waits: Vec<OwnerWait>,
    /// Who led recent terms, to know the owner of an inherited put.
    pub(super) term_leaders: BTreeMap<u64, Addr>,
    pub(super) put_timing: PutTiming,
    /// When each client was last redirected by us, to spot bounces.
    pub(super) redirected_at: BTreeMap<Addr, Micros>,

    pub(super) outbox: Vec<Outgoing>,
    pub(super) counters: Counters,

    /// State events for the console, with when they happened.
    pub(super) events: Vec<(Micros, Event)>,
    /// Whether to build the per-request events (two per request, each with
    /// strings to allocate): the shell turns them off while its emitter
    /// would drop them unread.
    pub(super) request_events: bool,
    /// What the last events said, so that only changes are reported.
    reported: Reported,
}

/// The last state reported through events.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Reported {
    role: Option<(Role, u64, Addr)>,
    log: (u64, u64),
    commit: (u64, u64),
    progress: Vec<(Addr, u64, u64)>,
    progress_at: Micros,
}

/// Events kept until [`Node::take_events`]; beyond this they are counted
/// and dropped.
const MAX_PENDING_EVENTS: usize = 4096;

/// `progress` events are rate-limited to one per this long.
const PROGRESS_EVERY: Micros = 50_000;

impl Node {
    /// A follower in term 0 with an empty log. `seed` drives its election
    /// timeouts.
    pub fn new(id: Addr, peers: Vec<Addr>, cfg: Config, seed: u64, now: Micros) -> Node {
        let mut peers = peers;
        peers.retain(|p| *p != id);
        peers.sort();
        peers.dedup();
        let mid_memory = cfg.mid_memory;
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
            role: Role::Follower,
            leader: None,
            election_deadline: 0,
            last_leader_contact: None,
            leader_interval: heartbeat,
            votes: BTreeSet::new(),
            answered: BTreeSet::new(),
            votes_resend_at: 0,
            vote_backoff: 0,
            silent: BTreeSet::new(),
            progress: BTreeMap::new(),
            leader_since: 0,
            term_start: 0,
            round_trip_loss: Share::default(),
            get_share: Share::default(),
            eager_count: 0,
            srtt: None,
            pending_reads: VecDeque::new(),
            held: VecDeque::new(),
            owed: BTreeMap::new(),
            recent_mids: MidFilter::new(mid_memory),
            unconfirmed: BTreeMap::new(),
            owner_waits: Vec::new(),
            term_leaders: BTreeMap::new(),
            put_timing: PutTiming::default(),
            redirected_at: BTreeMap::new(),
            outbox: Vec::new(),
            counters: Counters::default(),
            events: Vec::new(),
            request_events: true,
            reported: Reported::default(),
        };
        node.note_role(now, RoleReason::Start);
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
        }
    }

    /// Builds the AppendEntries that are due and returns every queued output.
    pub fn flush(&mut self, now: Micros) -> Vec<Outgoing> {
        if self.role == Role::Leader {
            self.send_due_appends(now);
        }
        self.note_progress(now);
        std::mem::take(&mut self.outbox)
    }

    /// Turns the `client_request` and `client_answer` events on or off (on
    /// at start). The other events are rare and always built.
    pub fn set_request_events(&mut self, on: bool) {
        self.request_events = on;
    }

    /// The state events since the last call, with the time of each.
    pub fn take_events(&mut self) -> Vec<(Micros, Event)> {
        std::mem::take(&mut self.events)
    }

    /// The leader's view of each follower: (id, match index, next index).
    pub fn follower_progress(&self) -> Vec<FollowerProgress> {
        self.progress
            .iter()
            .map(|(id, p)| FollowerProgress {
                id: id.to_string(),
                match_index: p.matched,
                next_index: p.next,
            })
            .collect()
    }

    pub(super) fn emit(&mut self, now: Micros, event: Event) {
        // A caller that never takes the events must not make them pile up.
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.counters.events_overflowed += 1;
            return;
        }
        self.events.push((now, event));
    }

    /// Reports a change of role, term or leader belief, if there was one.
    pub(super) fn note_role(&mut self, now: Micros, reason: RoleReason) {
        let current = (self.role, self.term, self.leader_hint());
        if self.reported.role == Some(current) {
            return;
        }
        self.reported.role = Some(current);
        let event = Event::Role {
            role: self.role.name(),
            term: self.term,
            leader: self.leader_hint().to_string(),
            reason,
        };
        self.emit(now, event);
    }

    /// Reports log, commit and (rate-limited) follower progress changes,
    /// once per batch of inputs.
    fn note_progress(&mut self, now: Micros) {
        let log = (self.log.last_index(), self.log.last_term());
        if log != self.reported.log {
            self.reported.log = log;
            self.emit(
                now,
                Event::LogAppended {
                    last_index: log.0,
                    last_term: log.1,
                },
            );
        }
        let commit = (self.commit, self.applied);
        if commit != self.reported.commit {
            self.reported.commit = commit;
            self.emit(
                now,
                Event::Commit {
                    commit_index: commit.0,
                    applied_index: commit.1,
                },
            );
        }
        if self.role != Role::Leader || now < self.reported.progress_at + PROGRESS_EVERY {
            return;
        }
        let progress: Vec<(Addr, u64, u64)> = self
            .progress
            .iter()
            .map(|(a, p)| (*a, p.matched, p.next))
            .collect();
        if progress != self.reported.progress {
            self.reported.progress = progress;
            self.reported.progress_at = now;
            let followers = self.follower_progress();
            self.emit(now, Event::Progress { followers });
        }
    }

    /// When the core next needs a tick.
    pub fn next_deadline(&self, now: Micros) -> Micros {
        let mut at = match self.role {
            Role::Leader => self.leader_deadline(now),
            _ => self.campaign_deadline(),
        };
        if let Some(expiry) = self.held_deadline() {
            at = at.min(expiry);
        }
        if let Some(wait) = self.owner_wait_deadline() {
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
    pub fn counters(&self) -> &Counters {
        &self.counters
    }
    /// Requests waiting at this replica (held, pending reads, unanswered puts).
    pub fn queued_requests(&self) -> usize {
        self.held.len() + self.pending_reads.len() + self.owner_waits.len() + self.owed.len()
    }

    /// Who this replica believes leads, for the `leader` field of every packet.
    pub fn leader_hint(&self) -> Addr {
        self.leader.unwrap_or(Addr::UNKNOWN)
    }

    pub(super) fn quorum(&self) -> usize {
        let cluster = self.peers.len() + 1;
        cluster / 2 + 1
    }

    pub(super) fn is_peer(&self, a: Addr) -> bool {
        self.peers.binary_search(&a).is_ok()
    }

    pub(super) fn send(&mut self, to: Addr, body: Body) {
        self.outbox.push(Outgoing { to, body });
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
        match msg.body {
            Body::Get { mid, key } => self.handle_get(now, from, mid, key),
            Body::Put { mid, key, value } => self.handle_put(now, from, mid, key, value),
            Body::RequestVote(rv) if self.is_peer(from) => self.handle_request_vote(now, from, rv),
            Body::VoteReply(r) if self.is_peer(from) => self.handle_vote_reply(now, from, r),
            Body::AppendEntries(ae) if self.is_peer(from) => {
                self.handle_append_entries(now, from, ae)
            }
            Body::AppendReply(r) if self.is_peer(from) => self.handle_append_reply(now, from, r),
            Body::RequestVote(_)
            | Body::VoteReply(_)
            | Body::AppendEntries(_)
            | Body::AppendReply(_) => self.counters.not_from_peer += 1,
            Body::Hello | Body::Ok { .. } | Body::Fail { .. } | Body::Redirect { .. } => {
                self.counters.unexpected += 1
            }
        }
    }

    fn handle_tick(&mut self, now: Micros) {
        match self.role {
            Role::Leader => {
                self.leader_tick(now);
                self.owner_wait_tick(now);
            }
            _ => self.campaign_tick(now),
        }
        self.expire_held(now);
    }

    /// Follow `leader` (or nobody yet) in `term`: a newer term was seen
    /// (Raft §5.1), a leader was found, or check-quorum failed.
    pub(super) fn become_follower(
        &mut self,
        now: Micros,
        term: u64,
        leader: Option<Addr>,
        reason: RoleReason,
    ) {
        let was_leader = self.role == Role::Leader;
        if term > self.term {
            self.term = term;
            self.voted_for = None;
        }
        self.role = Role::Follower;
        self.leader = leader;
        self.votes.clear();
        if was_leader {
            self.progress.clear();
            self.reset_election_deadline(now);
            self.step_down_reads(now);
        }
        self.note_role(now, reason);
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
            // A put from an earlier term that we commit as leader but did
            // not append ourselves: its owner may never answer it.
            let inherited = self.role == Role::Leader
                && term < self.term
                && !self.owed.contains_key(&(index, term));
            if let Some(put) = &entry.put {
                self.kv.apply_put(&put.key, &put.value);
            }
            let inherited_put = if inherited { entry.put.clone() } else { None };
            self.settle_put(now, index, term);
            if let Some(put) = inherited_put {
                self.commit_inherited(now, put, index, term);
            }
        }
        if self.role == Role::Leader {
            self.serve_reads(now);
        }
    }

    #[cfg(test)]
    pub(super) fn set_term_for_test(&mut self, term: u64) {
        self.term = term;
    }
}
