//! The console's model: a pure aggregation of events.
//!
//! [`State::apply`] folds one [`DashEvent`] in; nothing here touches the
//! terminal, a socket or the wall clock. "Now" is the latest event
//! timestamp seen ([`State::now`]), so a recorded run replays to the very
//! same state, and the same code can serve a report over a recorded file
//! ([`State::replay`]). Memory stays bounded: histories are rings, counters
//! are capped in number, outstanding requests are pruned.
//!
//! ```text
//!  DashEvent ──apply──> State { run, replicas, timeline, latency, traffic, verdict }
//!  rejects  ──note_rejects──> State.ingest        (malformed, other versions)
//! ```

pub mod cluster;
pub mod latency;
pub mod ring;
pub mod timeline;
pub mod traffic;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;

use shared::events::{
    CheckResult, DashEvent, Event, EventError, Op, Outcome, RoleName, TierResult, TrafficRow,
    SIM_SOURCE,
};

pub use cluster::{Life, Replica, Side};
pub use latency::Latency;
pub use timeline::{LaneRole, Marker, MarkerKind, Timeline};
pub use traffic::Traffic;

/// Replicas tracked at most (the simulator allows 21); events from more
/// sources are counted in [`IngestStats::ignored`].
pub const MAX_REPLICAS: usize = 64;
/// Outstanding client requests tracked at most.
pub const MAX_OUTSTANDING: usize = 20_000;
/// A request unanswered for this long is no longer tracked.
pub const OUTSTANDING_TTL_US: u64 = 30_000_000;
/// Silence after which a new `start` or `run_start` begins a new run.
pub const NEW_RUN_GAP_US: u64 = 3_000_000;
/// The id meaning "none".
pub const NO_ID: &str = "FFFF";

/// What the ingest side could not use, and how much it read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IngestStats {
    pub datagrams: u64,
    pub events: u64,
    /// Lines that are not JSON events.
    pub malformed: u64,
    /// Events of another schema version.
    pub bad_version: u64,
    /// Events of a kind this version does not know.
    pub unknown_kind: u64,
    /// Valid events from more sources than [`MAX_REPLICAS`], or from
    /// sources that are not replica ids.
    pub ignored: u64,
    /// Datagrams kvdash dropped because its own queue was full.
    pub overflow: u64,
    /// The last rejection, for the status line.
    pub last_error: Option<String>,
}

impl IngestStats {
    pub fn rejected(&self) -> u64 {
        self.malformed + self.bad_version + self.unknown_kind
    }

    /// Counts one rejected line.
    pub fn reject(&mut self, err: &EventError) {
        match err {
            EventError::Malformed(_) => self.malformed += 1,
            EventError::Version(_) => self.bad_version += 1,
            EventError::UnknownKind => self.unknown_kind += 1,
        }
        self.last_error = Some(err.to_string());
    }

    /// Adds counts gathered elsewhere (by the ingest task).
    pub fn merge(&mut self, other: &IngestStats) {
        self.datagrams += other.datagrams;
        self.events += other.events;
        self.malformed += other.malformed;
        self.bad_version += other.bad_version;
        self.unknown_kind += other.unknown_kind;
        self.ignored += other.ignored;
        self.overflow += other.overflow;
        if other.last_error.is_some() {
            self.last_error.clone_from(&other.last_error);
        }
    }
}

/// The simulator's description of the run (`run_start`).
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub ts: u64,
    pub config: String,
    pub seed: u64,
    pub replicas: Vec<String>,
    pub clients: Vec<String>,
    pub transport: String,
    pub lifetime: f64,
}

/// The simulator's verdict (`run_end`).
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub ts: u64,
    pub passed: bool,
    pub stats: BTreeMap<String, f64>,
    pub checks: Vec<CheckResult>,
    pub tiers: Vec<TierResult>,
    pub linearizable: Option<bool>,
}

impl Verdict {
    /// The verdict of a `run_end` event (`None` for any other event).
    fn of_run_end(ts: u64, event: &Event) -> Option<Verdict> {
        let Event::RunEnd {
            passed,
            stats,
            checks,
            tiers,
            linearizable,
        } = event
        else {
            return None;
        };
        Some(Verdict {
            ts,
            passed: *passed,
            stats: stats.clone(),
            checks: checks.clone(),
            tiers: tiers.clone(),
            linearizable: *linearizable,
        })
    }
}

/// Client requests as the simulator saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requests {
    /// Sent, by op: get, put.
    pub sent: [u64; 2],
    /// Answered (accepted by the client), by op.
    pub answered: [u64; 2],
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub run: Option<RunInfo>,
    pub replicas: BTreeMap<String, Replica>,
    pub timeline: Timeline,
    pub latency: Latency,
    pub traffic: Traffic,
    pub requests: Requests,
    pub verdict: Option<Verdict>,
    pub ingest: IngestStats,
    /// The simulator's current leader belief (`FFFF`: none).
    pub sim_leader: String,
    /// Events applied in this run, from the simulator and from replicas.
    pub sim_events: u64,
    pub replica_events: u64,
    /// Runs seen since the console started (a new one resets the view).
    pub runs: u64,
    /// Requests sent and not yet answered: MID -> when sent.
    outstanding: HashMap<String, u64>,
    /// Ids known to be clients (from traffic without a `run_start`).
    clients: BTreeSet<String>,
    first_ts: Option<u64>,
    last_ts: u64,
}

impl State {
    pub fn new() -> State {
        State {
            sim_leader: NO_ID.to_string(),
            ..State::default()
        }
    }

    /// Replays a recording (JSON lines), counting what does not parse.
    pub fn replay(reader: impl BufRead) -> std::io::Result<State> {
        let mut state = State::new();
        for line in reader.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            state.apply_line(&line);
        }
        Ok(state)
    }

    /// Parses and applies one line, counting it if it is not an event.
    pub fn apply_line(&mut self, line: &str) {
        match DashEvent::parse(line.trim()) {
            Ok(ev) => {
                self.ingest.events += 1;
                self.apply(&ev);
            }
            Err(e) => self.ingest.reject(&e),
        }
    }

    /// The latest event time seen: the console's "now", in microseconds
    /// since the Unix epoch.
    pub fn now(&self) -> u64 {
        self.last_ts
    }

    /// When the run started: its `run_start`, else the first event.
    pub fn start(&self) -> Option<u64> {
        self.run.as_ref().map(|r| r.ts).or(self.first_ts)
    }

    /// Microseconds since the run started.
    pub fn elapsed(&self) -> u64 {
        self.start().map_or(0, |s| self.last_ts.saturating_sub(s))
    }

    /// Whether any replica reports itself.
    pub fn replicas_report(&self) -> bool {
        self.replica_events > 0
    }

    /// Whether the simulator reports (run.py `--events`).
    pub fn sim_reports(&self) -> bool {
        self.sim_events > 0
    }

    pub fn events(&self) -> u64 {
        self.sim_events + self.replica_events
    }

    /// Requests sent and not answered yet (tracked ones).
    pub fn outstanding(&self) -> usize {
        self.outstanding.len()
    }

    /// The run is over: the simulator gave its verdict, or every replica
    /// that reports has stopped or been killed.
    pub fn run_over(&self) -> bool {
        self.verdict.is_some()
            || (self.replicas.values().any(|r| r.reports)
                && self
                    .replicas
                    .values()
                    .filter(|r| r.reports)
                    .all(|r| r.is_down()))
    }

    /// Whether `r` is out of the cluster: killed, or stopped before the
    /// run's end (at the end every replica stops; they are shown as they
    /// were).
    pub fn is_out(&self, r: &Replica) -> bool {
        match r.life {
            Life::Killed => true,
            Life::Stopped => !self.run_over(),
            _ => false,
        }
    }

    /// The leader: the replica that reports itself leader in the highest
    /// term, else the simulator's belief about a replica that does not
    /// report (one that does is believed about itself).
    pub fn leader(&self) -> Option<&Replica> {
        self.replicas
            .values()
            .filter(|r| r.role == Some(RoleName::Leader) && !self.is_out(r))
            .max_by_key(|r| r.term)
            .or_else(|| {
                self.replicas
                    .get(&self.sim_leader)
                    .filter(|r| !r.reports && !self.is_out(r))
            })
    }

    pub fn note_rejects(&mut self, stats: &IngestStats) {
        self.ingest.merge(stats);
    }

    fn replica_mut(&mut self, id: &str) -> Option<&mut Replica> {
        if !self.replicas.contains_key(id) {
            if self.replicas.len() >= MAX_REPLICAS || id == NO_ID || !is_id(id) {
                return None;
            }
            self.replicas.insert(id.to_string(), Replica::new(id));
        }
        self.replicas.get_mut(id)
    }

    fn is_replica(&self, id: &str) -> bool {
        match &self.run {
            Some(run) => run.replicas.iter().any(|r| r == id),
            None => self.replicas.contains_key(id) || (!self.clients.contains(id) && id != NO_ID),
        }
    }

    /// Whether `ev` begins a new run, so that the old one is forgotten.
    fn begins_new_run(&self, ev: &DashEvent) -> bool {
        if self.events() == 0 {
            return false;
        }
        let gap = ev.ts > self.last_ts.saturating_add(NEW_RUN_GAP_US);
        match &ev.event {
            Event::RunStart { .. } => self.run.is_some() || self.verdict.is_some() || gap,
            Event::Start { .. } => gap || (self.verdict.is_some() && self.run.is_none()),
            _ => false,
        }
    }

    fn reset_run(&mut self) {
        let ingest = std::mem::take(&mut self.ingest);
        let runs = self.runs;
        *self = State::new();
        self.ingest = ingest;
        self.runs = runs;
    }

    /// Folds one event in.
    pub fn apply(&mut self, ev: &DashEvent) {
        if self.begins_new_run(ev) {
            self.reset_run();
        }
        if self.events() == 0 {
            self.runs += 1;
        }
        let ts = ev.ts;
        self.first_ts = Some(self.first_ts.map_or(ts, |f| f.min(ts)));
        self.last_ts = self.last_ts.max(ts);
        if ev.src == SIM_SOURCE {
            self.sim_events += 1;
            self.apply_sim(ts, &ev.event);
        } else if is_id(&ev.src) && self.replica_mut(&ev.src).is_some() {
            self.replica_events += 1;
            self.apply_replica(ts, &ev.src, &ev.event);
        } else {
            self.ingest.ignored += 1;
        }
    }

    fn apply_replica(&mut self, ts: u64, src: &str, event: &Event) {
        let Some(rep) = self.replica_mut(src) else {
            self.ingest.ignored += 1;
            return;
        };
        // Sent by the process killed before a restart, received after
        // it: not about the replica as it now is.
        let start = matches!(event, Event::Start { .. });
        if !start && rep.incarnation_from.is_some_and(|from| ts < from) {
            return;
        }
        let was_down = rep.is_down();
        rep.heard(ts);
        match event {
            Event::Start { peers, pid, .. } => {
                // A new process the simulator's restart has not announced
                // (yet: its own events may come first): it starts over,
                // a follower as its first start made it.
                if was_down || rep.pid.is_some_and(|p| p != *pid) {
                    rep.new_incarnation();
                    rep.role = Some(RoleName::Follower);
                }
                rep.pid = Some(*pid);
                rep.life = Life::Alive;
                let peers = peers.clone();
                for p in &peers {
                    self.replica_mut(p);
                }
                self.timeline.lanes.entry(src.to_string()).or_default().set(
                    ts,
                    LaneRole::Follower,
                    0,
                );
            }
            Event::Role {
                role, term, leader, ..
            } => {
                rep.role = Some(*role);
                rep.term = *term;
                rep.leader.clone_from(leader);
                if *role != RoleName::Leader {
                    rep.followers.clear();
                }
                self.timeline.replica_role(ts, src, *role, *term);
            }
            Event::Vote { granted, .. } => {
                if *granted {
                    rep.votes_granted += 1;
                } else {
                    rep.votes_denied += 1;
                }
            }
            Event::LogAppended {
                last_index,
                last_term,
            } => {
                rep.last_index = *last_index;
                rep.last_term = *last_term;
            }
            Event::Commit {
                commit_index,
                applied_index,
            } => {
                rep.commit_index = *commit_index;
                rep.applied_index = *applied_index;
            }
            Event::Progress { followers } => {
                rep.followers.clone_from(followers);
            }
            Event::ClientRequest { .. } => {}
            Event::ClientAnswer { op, latency_us, .. } => {
                self.latency.replica_answer(*op, *latency_us);
            }
            Event::Status(s) => {
                rep.apply_status(ts, s);
                let delta = rep.sent_delta();
                let (role, term) = (s.role, s.term);
                self.traffic.replica_rate.add(ts, delta);
                let lane = self.timeline.lanes.entry(src.to_string()).or_default();
                if lane
                    .current()
                    .is_none_or(|c| c.role != LaneRole::from_role(role) || c.term != term)
                {
                    self.timeline.replica_role(ts, src, role, term);
                }
            }
            Event::Stop { reason } => {
                let killed = rep.life == Life::Killed;
                if !killed {
                    rep.life = Life::Stopped;
                }
                // A simulator that reports tells its kills itself; "closed"
                // is the simulator ending the run, not a fault.
                if !killed && self.sim_events == 0 && reason != "closed" {
                    self.timeline.mark(
                        ts,
                        0,
                        MarkerKind::Stop {
                            replica: src.to_string(),
                        },
                    );
                }
                self.timeline.replica_down(ts, src);
            }
            // A simulator event from a replica's source: nothing to do.
            _ => {}
        }
    }

    fn apply_sim(&mut self, ts: u64, event: &Event) {
        match event {
            Event::RunStart { .. } => self.sim_run_start(ts, event),
            Event::RequestSent { mid, op, .. } => self.sim_request_sent(ts, mid, *op),
            Event::RequestAnswered {
                mid,
                op,
                outcome,
                latency_us,
                ..
            } => self.sim_request_answered(mid, *op, *outcome, *latency_us),
            Event::Kill { replica, leader } => self.sim_kill(ts, replica, *leader),
            Event::Restart { replica } => self.sim_restart(ts, replica),
            Event::Partition {
                majority,
                minority,
                hard,
            } => self.sim_partition(ts, majority, minority, *hard),
            Event::PartitionHealed {} => self.sim_heal(ts),
            Event::Traffic { leader, rows, .. } => self.sim_traffic(ts, leader, rows),
            Event::RunEnd { .. } => self.verdict = Verdict::of_run_end(ts, event),
            // A replica's event kind from the simulator's source: ignore.
            _ => {}
        }
    }

    /// `run_start`: the run's description, and its replicas tracked.
    fn sim_run_start(&mut self, ts: u64, event: &Event) {
        let Event::RunStart {
            config,
            seed,
            replicas,
            clients,
            transport,
            lifetime,
            ..
        } = event
        else {
            return;
        };
        self.run = Some(RunInfo {
            ts,
            config: config.clone(),
            seed: *seed,
            replicas: replicas.iter().take(MAX_REPLICAS).cloned().collect(),
            clients: clients.clone(),
            transport: transport.clone(),
            lifetime: *lifetime,
        });
        for id in replicas.iter().take(MAX_REPLICAS) {
            self.replica_mut(id);
        }
        // Replica entries made by mistake for clients go.
        self.replicas
            .retain(|id, r| r.reports || replicas.iter().any(|x| x == id));
        let ids: Vec<String> = self.replicas.keys().cloned().collect();
        self.timeline.sim_replicas(ts, &ids);
    }

    /// `request_sent`: counted, and outstanding until answered (the
    /// oldest are pruned when too many are).
    fn sim_request_sent(&mut self, ts: u64, mid: &str, op: Op) {
        self.requests.sent[latency::op_index(op)] += 1;
        if self.outstanding.len() >= MAX_OUTSTANDING {
            let horizon = self.last_ts.saturating_sub(OUTSTANDING_TTL_US);
            self.outstanding.retain(|_, t| *t > horizon);
            if self.outstanding.len() >= MAX_OUTSTANDING {
                self.outstanding.clear();
            }
        }
        self.outstanding.insert(mid.to_string(), ts);
    }

    /// `request_answered`: counted, no longer outstanding, its latency
    /// recorded.
    fn sim_request_answered(&mut self, mid: &str, op: Op, outcome: Outcome, latency_us: u64) {
        self.requests.answered[latency::op_index(op)] += 1;
        self.outstanding.remove(mid);
        self.latency.client_answer(op, outcome, latency_us);
    }

    /// `kill`: the replica is down, marked on the timeline, and no longer
    /// the simulator's leader if it was.
    fn sim_kill(&mut self, ts: u64, replica: &str, leader: bool) {
        let term = self.replicas.get(replica).map_or(0, |r| r.term);
        if let Some(r) = self.replica_mut(replica) {
            r.life = Life::Killed;
            r.killed_at = Some(ts);
        }
        self.timeline.mark(
            ts,
            term,
            MarkerKind::Kill {
                replica: replica.to_string(),
                leader,
            },
        );
        self.timeline.sim_kill(ts, replica);
        self.timeline.replica_down(ts, replica);
        if self.sim_leader == replica {
            let old = std::mem::replace(&mut self.sim_leader, NO_ID.to_string());
            self.timeline.sim_leader(ts, &old, NO_ID, false);
        }
    }

    /// `restart`: a killed replica runs again. Unless its new process
    /// has already said `start`, what it reported starts over now (its
    /// role is unknown until it reports again); marked on the timeline,
    /// where its lane in the simulator's view is a follower again (in
    /// its own view, its `start` does that).
    fn sim_restart(&mut self, ts: u64, replica: &str) {
        let Some(r) = self.replica_mut(replica) else {
            return;
        };
        let term = r.term;
        if r.is_down() {
            r.new_incarnation();
            r.life = if r.reports {
                Life::Alive
            } else {
                Life::Unknown
            };
        }
        r.restarts += 1;
        if let Some(k) = r.killed_at.filter(|k| *k <= ts) {
            let from = k + (ts - k) / 2;
            r.incarnation_from = Some(r.incarnation_from.map_or(from, |f| f.max(from)));
        }
        self.timeline.mark(
            ts,
            term,
            MarkerKind::Restart {
                replica: replica.to_string(),
            },
        );
        self.timeline.sim_restart(ts, replica);
    }

    /// `partition`: each replica's side.
    fn sim_partition(&mut self, ts: u64, majority: &[String], minority: &[String], hard: bool) {
        for r in self.replicas.values_mut() {
            r.side = if minority.contains(&r.id) {
                Side::Minority
            } else if majority.contains(&r.id) {
                Side::Majority
            } else {
                Side::Whole
            };
        }
        self.timeline.partition(ts, majority, minority, hard);
    }

    /// `partition_healed`: every replica whole again.
    fn sim_heal(&mut self, ts: u64) {
        for r in self.replicas.values_mut() {
            r.side = Side::Whole;
        }
        self.timeline.heal(ts, true);
    }

    /// `traffic`: clients and replicas learnt from it (without a
    /// `run_start`), the window counted, the simulator's leader belief.
    fn sim_traffic(&mut self, ts: u64, leader: &str, rows: &[TrafficRow]) {
        if self.run.is_none() {
            for r in rows {
                if r.msg_type == "get" || r.msg_type == "put" {
                    self.clients.insert(r.src.clone());
                }
            }
        }
        let replicas: BTreeSet<String> = rows
            .iter()
            .flat_map(|r| [&r.src, &r.dst])
            .filter(|id| !self.replicas.contains_key(id.as_str()) && self.is_replica(id))
            .cloned()
            .collect();
        for id in &replicas {
            self.replica_mut(id);
        }
        let known: BTreeSet<String> = self.replicas.keys().cloned().collect();
        let sent = self.traffic.window(ts, rows, |id| known.contains(id));
        for (id, n) in sent {
            if let Some(r) = self.replicas.get_mut(&id) {
                r.note_sim_sent(ts, n);
            }
        }
        if leader != self.sim_leader {
            let old = std::mem::replace(&mut self.sim_leader, leader.to_string());
            let mark = !self.replicas_report();
            self.timeline.sim_leader(ts, &old, leader, mark);
        }
    }

    /// Requests answered with each outcome, as the client saw them.
    pub fn client_outcome(&self, outcome: Outcome) -> u64 {
        match outcome {
            Outcome::Ok => self.latency.client_outcomes[0],
            Outcome::Redirect => self.latency.client_outcomes[1],
            Outcome::Fail => self.latency.client_outcomes[2],
        }
    }

    /// Requests sent for an op.
    pub fn sent(&self, op: Op) -> u64 {
        self.requests.sent[latency::op_index(op)]
    }
}

/// A replica or client id: four hexadecimal digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests;
