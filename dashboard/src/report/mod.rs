//! Post-run reports: where the time and the messages of a recorded run
//! went (`kvdash report`), and how two runs differ (`kvdash compare`).
//!
//! Pure: a recording (JSON lines, as written by `run.py --record` or
//! `kvdash --record`) is read line by line; every event goes through the
//! console's own [`State::apply`] and through the report's aggregation
//! ([`Builder`]), which adds what a live view does not keep: phases,
//! every latency, leaderless windows. Lines that are not events are
//! counted, never fatal.
//!
//! Definitions (they are what the tests check by hand):
//!
//! - **Phases.** The run starts in phase `before faults`. Each fault event
//!   closes the current phase and opens the next: a `partition` opens
//!   `partition N`, a `partition_healed` opens `after heal N`, a `kill`
//!   opens `after kill N (ID)`, a `restart` opens `after restart N (ID)`.
//!   The last phase runs until the end. An answer belongs to the phase in
//!   force at its event's `ts`.
//! - **Faults**: the simulator's `kill`, `restart`, `partition` and
//!   `partition_healed` events, counted and listed in order (the first
//!   [`MAX_FAULTS_LISTED`]); a restart's down time is from the replica's
//!   last kill. The counts are run.py's `killed` and `restarted` stats
//!   (kills that found nobody to kill, and restarts skipped, send no
//!   event and count in neither).
//! - **Latency** is client-observed (`request_answered.latency_us`).
//!   `get`/`put`: answers `ok` to that op; `redirected`: answers
//!   `redirect` or `fail`; `all`: every answer. Percentiles are
//!   hdrhistogram's `value_at_quantile` (3 significant digits, so exact
//!   below 2048 µs): the smallest recorded value with at least
//!   `ceil(q * n)` values at or below it (nearest rank). The run's
//!   `median_us` is run.py's: the sorted latencies of all answers,
//!   element `len / 2`.
//! - **Messages** are run.py's `total_msgs`: `traffic` rows between two
//!   replicas with fate `delivered`, `dropped`, `partitioned` or `dead`,
//!   by type and by sending replica. Messages per committed put:
//!   `total_msgs / puts answered ok`.
//! - **Elections (simulator view)**: leaderless windows, from the moment
//!   the simulator's leader belief becomes `FFFF` (the run's start, a
//!   kill of the leader, a `traffic` event naming `FFFF`) until a
//!   `traffic` event names a leader. **Leader changes**: a leader named
//!   that differs from the last leader named (the first is not a change).
//! - **Elections (replica view)**, when replicas report: distinct terms in
//!   which a replica became candidate, distinct terms with a leader.
//! - **Several runs** in one recording (a `kvdash --record` left running):
//!   the console's rule for a new run applies, and the report is of the
//!   last one.
//! - **Events dropped**: `run_end.stats.events_dropped` (run.py) and the
//!   sum of each replica's last `status.events_dropped`.

pub mod compare;
pub mod plots;
pub mod spread;
#[cfg(test)]
mod tests;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead;

use serde::Serialize;
use shared::events::{CheckResult, DashEvent, Event, Fate, Op, Outcome, RoleName, TierResult};

use crate::state::latency::{LatencyHist, QUANTILES};
use crate::state::{State, NO_ID};

/// The latency categories, in report order.
pub const CATEGORIES: [&str; 4] = ["all", "get", "put", "redirected"];

/// What an answer counts as in the latency figures besides `all`: `ok` to
/// a get, `ok` to a put, or redirected (`redirect` or `fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatencyClass {
    Get,
    Put,
    Redirected,
}

impl LatencyClass {
    /// In report order.
    pub const ALL: [LatencyClass; 3] = [
        LatencyClass::Get,
        LatencyClass::Put,
        LatencyClass::Redirected,
    ];

    /// The class of an answer `outcome` to `op`.
    pub fn of(op: Op, outcome: Outcome) -> LatencyClass {
        match (outcome, op) {
            (Outcome::Ok, Op::Get) => LatencyClass::Get,
            (Outcome::Ok, Op::Put) => LatencyClass::Put,
            _ => LatencyClass::Redirected,
        }
    }

    /// Its name in reports and plots.
    pub fn name(self) -> &'static str {
        match self {
            LatencyClass::Get => "get",
            LatencyClass::Put => "put",
            LatencyClass::Redirected => "redirected",
        }
    }

    /// Its position in [`LatencyClass::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Latency percentiles of one category, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
}

impl Percentiles {
    fn of(h: &LatencyHist) -> Percentiles {
        match h.summary() {
            None => Percentiles::default(),
            Some(s) => Percentiles {
                count: s.count,
                p50: s.quantiles[0],
                p90: s.quantiles[1],
                p99: s.quantiles[2],
                p999: s.quantiles[3],
                max: s.max,
            },
        }
    }
}

/// Latency by category: all, get, put, redirected.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LatencySet {
    pub all: Percentiles,
    pub get: Percentiles,
    pub put: Percentiles,
    pub redirected: Percentiles,
}

impl LatencySet {
    pub fn get(&self, category: &str) -> &Percentiles {
        match category {
            "get" => &self.get,
            "put" => &self.put,
            "redirected" => &self.redirected,
            _ => &self.all,
        }
    }
}

/// One phase of the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Phase {
    pub name: String,
    /// Microseconds since the run's start.
    pub from_us: u64,
    pub to_us: u64,
    pub latency: LatencySet,
}

/// A leaderless window, in microseconds since the run's start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from_us: u64,
    /// `None`: still leaderless at the end.
    pub to_us: Option<u64>,
    pub duration_us: u64,
}

/// Elections as the simulator saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SimElections {
    /// Leaderless windows (the count of elections).
    pub count: u64,
    pub windows: Vec<Window>,
    pub leaderless_us: u64,
    pub leader_changes: u64,
    /// Leaders in the order they were named.
    pub leaders: Vec<String>,
}

/// Elections as the replicas reported them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaElections {
    pub started: u64,
    pub won: u64,
    pub leader_changes: u64,
}

/// The simulator's verdict.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictReport {
    pub passed: bool,
    pub linearizable: Option<bool>,
    pub checks: Vec<CheckResult>,
    pub tiers: Vec<TierResult>,
    pub stats: BTreeMap<String, f64>,
}

/// Lines read and what could not be used.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Lines {
    pub lines: u64,
    pub events: u64,
    pub malformed: u64,
    pub other_version: u64,
    pub unknown_kind: u64,
}

/// Requests as the clients saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    pub sent_get: u64,
    pub sent_put: u64,
    pub answered: u64,
    pub ok_get: u64,
    pub ok_put: u64,
    /// Answers `redirect` or `fail` (run.py's `redirects`).
    pub redirects: u64,
    pub fails: u64,
}

/// Messages between replicas (run.py's `total_msgs`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Messages {
    pub total_msgs: u64,
    pub by_type: BTreeMap<String, u64>,
    /// By sending replica.
    pub by_replica: BTreeMap<String, u64>,
    /// Of `total_msgs`: lost to drops, partitions, dead replicas.
    pub lost: u64,
    /// Replica-to-client packets.
    pub to_clients: u64,
    /// `total_msgs / ok puts`; `None` without an ok put.
    pub per_committed_put: Option<f64>,
}

/// Time series for the plots (not part of the JSON report).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Each answer: (µs since start, latency µs, class).
    pub answers: Vec<(u64, u64, LatencyClass)>,
    /// Messages between replicas per second since start, by type.
    pub rate: BTreeMap<String, Vec<u64>>,
    /// Leader segments: (from µs, to µs, leader id or `FFFF`).
    pub leaders: Vec<(u64, u64, String)>,
    /// Fault windows: (from µs, to µs, label).
    pub faults: Vec<(u64, u64, String)>,
}

/// One fault of the run, in microseconds since its start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    pub at_us: u64,
    /// `kill`, `restart`, `partition` or `heal`.
    pub kind: &'static str,
    /// A kill's or a restart's replica.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replica: Option<String>,
    /// A kill: of the leader (`kill_leader`) or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<bool>,
    /// A restart: since the replica's last kill.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub down_us: Option<u64>,
    /// A partition: the minority side.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub minority: Vec<String>,
}

/// The simulator's faults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Faults {
    pub kills: u64,
    pub restarts: u64,
    pub partitions: u64,
    pub heals: u64,
    /// In order, the first [`MAX_FAULTS_LISTED`].
    pub list: Vec<Fault>,
    /// Faults past those.
    pub not_listed: u64,
}

/// One run's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub config: Option<String>,
    pub seed: Option<u64>,
    pub replicas: Vec<String>,
    pub duration_us: u64,
    pub from_simulator: bool,
    pub from_replicas: bool,
    /// Runs in the recording; the report is of the last.
    pub runs: u64,
    pub verdict: Option<VerdictReport>,
    pub lines: Lines,
    pub requests: RequestCounts,
    /// run.py's median: sorted latencies of all answers, element len / 2.
    pub median_us: Option<u64>,
    pub latency: LatencySet,
    pub phases: Vec<Phase>,
    pub faults: Faults,
    pub messages: Messages,
    pub elections: SimElections,
    pub replica_elections: Option<ReplicaElections>,
    /// run.py's `events_dropped`, when it ended the run.
    pub events_dropped_sim: Option<u64>,
    /// Sum of the replicas' last `status.events_dropped`.
    pub events_dropped_replicas: u64,
    /// Per replica that reported its knobs at start: the ones set away
    /// from their defaults (`--tune` syntax; "" for none).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub knobs: BTreeMap<String, String>,
    #[serde(skip)]
    pub series: Series,
}

#[derive(Debug, Clone, Default)]
struct Hists {
    all: LatencyHist,
    get: LatencyHist,
    put: LatencyHist,
    redirected: LatencyHist,
}

impl Hists {
    fn record(&mut self, class: LatencyClass, us: u64) {
        self.all.record(us);
        match class {
            LatencyClass::Get => self.get.record(us),
            LatencyClass::Put => self.put.record(us),
            LatencyClass::Redirected => self.redirected.record(us),
        }
    }

    fn set(&self) -> LatencySet {
        LatencySet {
            all: Percentiles::of(&self.all),
            get: Percentiles::of(&self.get),
            put: Percentiles::of(&self.put),
            redirected: Percentiles::of(&self.redirected),
        }
    }
}

/// Folds a recording in, one line at a time.
#[derive(Debug, Default)]
pub struct Builder {
    pub state: State,
    lines: Lines,
    start: Option<u64>,
    end: u64,
    overall: Hists,
    /// (name, from ts, histograms).
    phases: Vec<(String, u64, Hists)>,
    faults: Faults,
    /// When each replica was last killed (for a restart's down time).
    killed_at: BTreeMap<String, u64>,
    latencies: Vec<u64>,
    requests: RequestCounts,
    messages: Messages,
    series: Series,
    /// The simulator's leader belief and since when.
    leader: (String, u64),
    last_named: Option<String>,
    elections: SimElections,
    open_fault: Option<(u64, String)>,
    candidate_terms: BTreeSet<u64>,
    leader_terms: BTreeSet<u64>,
    replica_leader: Option<String>,
    replica_leader_changes: u64,
    dropped: BTreeMap<String, u64>,
    /// Each replica's knobs away from the defaults, from its start.
    knobs: BTreeMap<String, String>,
    /// Faults past `MAX_PHASES`, folded into the last phase.
    folded_faults: u64,
}

/// Phases a report keeps apart; a crafted recording of many faults must
/// not cost half a MiB of histograms each.
pub const MAX_PHASES: usize = 64;
/// Faults a report lists (all are counted).
pub const MAX_FAULTS_LISTED: usize = 256;
/// Replicas whose last kill is remembered for a restart's down time (the
/// simulator has 21 at most).
const MAX_KILLED_TRACKED: usize = 64;

/// Message types counted apart (the protocol has a handful); the rest are
/// counted as [`OTHER_TRAFFIC`].
pub const MAX_TRAFFIC_TYPES: usize = 32;
pub const OTHER_TRAFFIC: &str = "other";

impl Builder {
    pub fn new() -> Builder {
        Builder {
            state: State::new(),
            leader: (NO_ID.to_string(), 0),
            ..Builder::default()
        }
    }

    /// Reads a whole recording; only an I/O error fails.
    pub fn read(mut self, reader: impl BufRead) -> std::io::Result<Builder> {
        each_line(reader, |line| {
            self.line(line);
        })?;
        Ok(self)
    }

    /// Folds one line in (blank lines are skipped, others counted);
    /// returns the event it held, if any.
    pub fn line(&mut self, line: &str) -> Option<DashEvent> {
        let line = line.trim();
        if line.is_empty() {
            return None;
        }
        self.lines.lines += 1;
        match DashEvent::parse(line) {
            Ok(ev) => {
                self.lines.events += 1;
                self.event(&ev);
                Some(ev)
            }
            Err(e) => {
                match e {
                    shared::events::EventError::Malformed(_) => self.lines.malformed += 1,
                    shared::events::EventError::Version(_) => self.lines.other_version += 1,
                    shared::events::EventError::UnknownKind => self.lines.unknown_kind += 1,
                }
                self.state.ingest.reject(&e);
                None
            }
        }
    }

    fn rel(&self, ts: u64) -> u64 {
        ts.saturating_sub(self.start.unwrap_or(ts))
    }

    /// A fault opens a phase; past `MAX_PHASES`, later faults fold into
    /// the last one (each phase's histograms take half a MiB).
    fn new_phase(&mut self, name: String, ts: u64) {
        if self.phases.len() >= MAX_PHASES {
            self.folded_faults += 1;
            return;
        }
        self.phases.push((name, ts, Hists::default()));
    }

    /// The key a traffic type is counted under: itself, or `other` once
    /// `MAX_TRAFFIC_TYPES` are known (each has a per-second series).
    fn traffic_key(&self, msg_type: &str) -> String {
        if self.messages.by_type.contains_key(msg_type)
            || self.messages.by_type.len() < MAX_TRAFFIC_TYPES
        {
            msg_type.to_string()
        } else {
            OTHER_TRAFFIC.to_string()
        }
    }

    /// The simulator's leader belief becomes `id` at `ts`.
    fn sim_leader(&mut self, ts: u64, id: &str) {
        if id == self.leader.0 {
            return;
        }
        let (old, since) = std::mem::replace(&mut self.leader, (id.to_string(), ts));
        let (from, to) = (self.rel(since), self.rel(ts));
        self.series.leaders.push((from, to, old.clone()));
        if old == NO_ID {
            self.elections.windows.push(Window {
                from_us: from,
                to_us: Some(to),
                duration_us: to.saturating_sub(from),
            });
        }
        if id != NO_ID {
            if self.last_named.as_deref().is_some_and(|l| l != id) {
                self.elections.leader_changes += 1;
            }
            self.last_named = Some(id.to_string());
            self.elections.leaders.push(id.to_string());
        }
    }

    /// Folds one event in.
    pub fn event(&mut self, ev: &DashEvent) {
        let runs = self.state.runs;
        self.state.apply(ev);
        if runs > 0 && self.state.runs != runs {
            // The state began a new run: so does the report.
            let state = std::mem::take(&mut self.state);
            let lines = self.lines.clone();
            *self = Builder {
                state,
                lines,
                ..Builder::new()
            };
        }
        let ts = ev.ts;
        if self.start.is_none() {
            self.start = Some(ts);
            self.leader.1 = ts;
            self.new_phase("before faults".into(), ts);
        }
        if let Event::RunStart { .. } = ev.event {
            // The run's start is its run_start, when it comes first.
            if self.lines.events == 1 || self.start.is_some_and(|s| ts < s) {
                self.start = Some(ts);
                self.leader.1 = ts;
                if let Some(p) = self.phases.first_mut() {
                    p.1 = ts;
                }
            }
        }
        self.end = self.end.max(ts);
        if ev.src == shared::events::SIM_SOURCE {
            self.sim_event(ts, &ev.event);
        } else {
            self.replica_event(&ev.src, &ev.event);
        }
    }

    /// Lists a fault, while fewer than [`MAX_FAULTS_LISTED`] are.
    fn list_fault(&mut self, ts: u64, kind: &'static str, fill: impl FnOnce(&mut Fault)) {
        if self.faults.list.len() >= MAX_FAULTS_LISTED {
            self.faults.not_listed += 1;
            return;
        }
        let mut f = Fault {
            at_us: self.rel(ts),
            kind,
            replica: None,
            leader: None,
            down_us: None,
            minority: Vec::new(),
        };
        fill(&mut f);
        self.faults.list.push(f);
    }

    fn close_fault(&mut self, ts: u64) {
        if let Some((from, label)) = self.open_fault.take() {
            let (f, t) = (self.rel(from), self.rel(ts));
            self.series.faults.push((f, t, label));
        }
    }

    fn sim_event(&mut self, ts: u64, event: &Event) {
        match event {
            Event::RequestSent { op, .. } => match op {
                Op::Get => self.requests.sent_get += 1,
                Op::Put => self.requests.sent_put += 1,
            },
            Event::RequestAnswered {
                op,
                outcome,
                latency_us,
                ..
            } => {
                let class = LatencyClass::of(*op, *outcome);
                self.requests.answered += 1;
                match class {
                    LatencyClass::Get => self.requests.ok_get += 1,
                    LatencyClass::Put => self.requests.ok_put += 1,
                    LatencyClass::Redirected => {
                        self.requests.redirects += 1;
                        if *outcome == Outcome::Fail {
                            self.requests.fails += 1;
                        }
                    }
                }
                self.latencies.push(*latency_us);
                self.overall.record(class, *latency_us);
                // The phase in force at `ts` (events may come late).
                let i = self.phases.partition_point(|p| p.1 <= ts).max(1) - 1;
                if let Some(p) = self.phases.get_mut(i) {
                    p.2.record(class, *latency_us);
                }
                let rel = self.rel(ts);
                self.series.answers.push((rel, *latency_us, class));
            }
            Event::Kill { replica, leader } => {
                self.faults.kills += 1;
                let n = self.faults.kills;
                self.new_phase(format!("after kill {n} ({replica})"), ts);
                let rel = self.rel(ts);
                self.series
                    .faults
                    .push((rel, rel, format!("kill {replica}")));
                self.list_fault(ts, "kill", |f| {
                    f.replica = Some(replica.clone());
                    f.leader = Some(*leader);
                });
                if self.killed_at.contains_key(replica) || self.killed_at.len() < MAX_KILLED_TRACKED
                {
                    self.killed_at.insert(replica.clone(), ts);
                }
                if self.leader.0 == *replica {
                    self.sim_leader(ts, NO_ID);
                }
            }
            Event::Restart { replica } => {
                self.faults.restarts += 1;
                let n = self.faults.restarts;
                self.new_phase(format!("after restart {n} ({replica})"), ts);
                let rel = self.rel(ts);
                self.series
                    .faults
                    .push((rel, rel, format!("restart {replica}")));
                let down = self.killed_at.remove(replica).map(|k| ts.saturating_sub(k));
                self.list_fault(ts, "restart", |f| {
                    f.replica = Some(replica.clone());
                    f.down_us = down;
                });
            }
            Event::Partition { minority, .. } => {
                self.close_fault(ts);
                self.faults.partitions += 1;
                let n = self.faults.partitions;
                self.new_phase(format!("partition {n}"), ts);
                self.open_fault = Some((ts, format!("partition {n}")));
                self.list_fault(ts, "partition", |f| f.minority = minority.clone());
            }
            Event::PartitionHealed {} => {
                self.close_fault(ts);
                self.faults.heals += 1;
                self.new_phase(format!("after heal {}", self.faults.heals), ts);
                self.list_fault(ts, "heal", |_| {});
            }
            Event::Traffic { leader, rows, .. } => {
                let rel = self.rel(ts.saturating_sub(1));
                let bucket = (rel / 1_000_000) as usize;
                for r in rows {
                    let between = self.state.replicas.contains_key(&r.src)
                        && self.state.replicas.contains_key(&r.dst);
                    let counted = matches!(
                        r.fate,
                        Fate::Delivered | Fate::Dropped | Fate::Partitioned | Fate::Dead
                    );
                    if r.fate == Fate::Client {
                        self.messages.to_clients = self.messages.to_clients.saturating_add(r.count);
                    }
                    if !(between && counted) {
                        continue;
                    }
                    let m = &mut self.messages;
                    m.total_msgs = m.total_msgs.saturating_add(r.count);
                    if r.fate != Fate::Delivered {
                        m.lost = m.lost.saturating_add(r.count);
                    }
                    let key = self.traffic_key(&r.msg_type);
                    let m = &mut self.messages;
                    *m.by_type.entry(key.clone()).or_default() += r.count;
                    *m.by_replica.entry(r.src.clone()).or_default() += r.count;
                    // A bound on the series: a day of run.
                    if bucket < 86_400 {
                        let v = self.series.rate.entry(key).or_default();
                        if v.len() <= bucket {
                            v.resize(bucket + 1, 0);
                        }
                        v[bucket] = v[bucket].saturating_add(r.count);
                    }
                }
                self.sim_leader(ts, leader);
            }
            _ => {}
        }
    }

    fn replica_event(&mut self, src: &str, event: &Event) {
        match event {
            Event::Role { role, term, .. } => match role {
                RoleName::Candidate => {
                    self.candidate_terms.insert(*term);
                }
                RoleName::Leader => {
                    self.leader_terms.insert(*term);
                    if self.replica_leader.as_deref().is_some_and(|l| l != src) {
                        self.replica_leader_changes += 1;
                    }
                    self.replica_leader = Some(src.to_string());
                }
                _ => {}
            },
            Event::Status(s) if self.state.replicas.contains_key(src) => {
                self.dropped.insert(src.to_string(), s.events_dropped);
            }
            Event::Start { config, tuned, .. } if !config.is_empty() => {
                self.knobs.insert(src.to_string(), tuned.clone());
            }
            _ => {}
        }
    }

    /// The report.
    pub fn finish(mut self) -> Report {
        let end = self.end;
        self.close_fault(end);
        let start = self.start.unwrap_or(end);
        let duration = end.saturating_sub(start);
        // The window in force at the end.
        let (id, since) = self.leader.clone();
        let from = self.rel(since);
        self.series.leaders.push((from, duration, id.clone()));
        if id == NO_ID {
            self.elections.windows.push(Window {
                from_us: from,
                to_us: None,
                duration_us: duration.saturating_sub(from),
            });
        }
        // Until a first event of the simulator, no windows are known.
        if !self.state.sim_reports() {
            self.elections.windows.clear();
            self.series.leaders.clear();
        }
        self.elections.count = self.elections.windows.len() as u64;
        // Saturating: out-of-order timestamps can make windows overlap.
        self.elections.leaderless_us = self
            .elections
            .windows
            .iter()
            .fold(0, |sum: u64, w| sum.saturating_add(w.duration_us));

        let mut phases = Vec::new();
        for (i, (name, from, h)) in self.phases.iter().enumerate() {
            let to = self.phases.get(i + 1).map_or(end, |p| p.1);
            let last = i + 1 == self.phases.len();
            let name = match self.folded_faults {
                n if last && n > 0 => format!("{name} (and {n} later faults)"),
                _ => name.clone(),
            };
            phases.push(Phase {
                name,
                from_us: from.saturating_sub(start),
                to_us: to.saturating_sub(start),
                latency: h.set(),
            });
        }
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let median_us = sorted.get(sorted.len() / 2).copied();
        let mut messages = self.messages.clone();
        messages.per_committed_put = if self.requests.ok_put > 0 {
            Some(messages.total_msgs as f64 / self.requests.ok_put as f64)
        } else {
            None
        };
        let state = &self.state;
        let verdict = state.verdict.as_ref().map(|v| VerdictReport {
            passed: v.passed,
            linearizable: v.linearizable,
            checks: v.checks.clone(),
            tiers: v.tiers.clone(),
            stats: v.stats.clone(),
        });
        let replica_elections = state.replicas_report().then_some(ReplicaElections {
            started: self.candidate_terms.len() as u64,
            won: self.leader_terms.len() as u64,
            leader_changes: self.replica_leader_changes,
        });
        Report {
            config: state.run.as_ref().map(|r| r.config.clone()),
            seed: state.run.as_ref().map(|r| r.seed),
            replicas: state.replicas.keys().cloned().collect(),
            duration_us: duration,
            from_simulator: state.sim_reports(),
            from_replicas: state.replicas_report(),
            runs: state.runs,
            events_dropped_sim: verdict
                .as_ref()
                .and_then(|v| v.stats.get("events_dropped"))
                .map(|x| *x as u64),
            verdict,
            lines: self.lines.clone(),
            requests: self.requests.clone(),
            median_us,
            latency: self.overall.set(),
            phases,
            faults: self.faults.clone(),
            messages,
            elections: self.elections.clone(),
            replica_elections,
            events_dropped_replicas: self.dropped.values().sum(),
            knobs: self.knobs.clone(),
            series: std::mem::take(&mut self.series),
        }
    }
}

/// Calls `f` with each line of `reader` (invalid UTF-8 replaced); only
/// an I/O error fails.
fn each_line(mut reader: impl BufRead, mut f: impl FnMut(&str)) -> std::io::Result<()> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader.read_until(b'\n', &mut buf)? == 0 {
            return Ok(());
        }
        f(&String::from_utf8_lossy(&buf));
    }
}

/// The report of a recording, and the events of the run it is of (the
/// last), in file order: what `kvdash export` draws from.
pub fn with_events(reader: impl BufRead) -> std::io::Result<(Report, Vec<DashEvent>)> {
    let mut b = Builder::new();
    let mut events = Vec::new();
    each_line(reader, |line| {
        let runs = b.state.runs;
        if let Some(ev) = b.line(line) {
            if runs > 0 && b.state.runs != runs {
                events.clear();
            }
            events.push(ev);
        }
    })?;
    Ok((b.finish(), events))
}

/// The report of a recording.
pub fn from_reader(reader: impl BufRead) -> std::io::Result<Report> {
    Ok(Builder::new().read(reader)?.finish())
}

/// The report of a recorded file.
pub fn from_path(path: &std::path::Path) -> std::io::Result<Report> {
    let f = std::fs::File::open(path)?;
    from_reader(std::io::BufReader::new(f))
}

/// The percentile labels, in [`Percentiles`] order (then `max`).
pub fn quantile_labels() -> [&'static str; 4] {
    QUANTILES.map(|(l, _)| l)
}
