//! A recorded run as a Trace Event Format document (the JSON that
//! ui.perfetto.dev and chrome://tracing open): the object form
//! `{"traceEvents": [...], "displayTimeUnit": "ms", "otherData": {...}}`,
//! one event per line.
//!
//! Times (`ts`, `dur`) are microseconds since the run's earliest event;
//! `otherData.start_unix_us` is that instant. The events of a recording
//! come out of order (replicas batch theirs), so they are sorted by `ts`
//! first. Tracks:
//!
//! - process 1 `replicas`, a thread per replica: its role as complete
//!   spans (`X`, category `role`) named `follower`, `pre_candidate`,
//!   `candidate`, `leader` (from `role` events, and from `status` when
//!   it shows a role or term that no `role` event announced), and
//!   `killed` from the simulator's `kill` (from the replica's `stop`
//!   just before, if any) to its `restart` (or to its new process's
//!   `start`, which is often stamped a moment before the simulator stamps
//!   the restart), else to the end. A span ends at the next change, at
//!   the replica's `stop`, or at the end of the run; a restarted
//!   replica's spans begin again with its first `role` or `status` after
//!   that. Counters (`C`):
//!   `commit index ID`, and, for a recording without the simulator's
//!   traffic, `messages sent per 100 ms ID` from the replicas' `status`
//!   packet counts (client answers excluded).
//! - process 2 `clients`, a thread per client: each request as a span
//!   named `get` or `put` (category `request`) over its client-observed
//!   latency, ending at `request_answered`, args `mid`, `key`, `target`
//!   (from `request_sent`), `replica`,
//!   `outcome` (`ok`, `redirect`, `fail`; `unanswered` for a request
//!   never answered, drawn to the end) and the latency. A client with
//!   requests in flight at once gets more threads (`0015 (2)`), so that
//!   spans on a thread never overlap. Without simulator events, the
//!   replicas' `client_answer` events instead (replica-side latency).
//! - process 3 `simulator`: global instants (`i`, `s: "g"`) on thread
//!   `run` for `run start`, `kill ID`, `restart ID` (args: the replica,
//!   `down_ms` since its kill), `partition`, `partition healed`,
//!   `run end` (the statistics) and `verdict: pass` / `verdict: FAIL`
//!   (checks and tiers); partitions as spans on thread `partitions`; the
//!   counter `messages per 100 ms` (series `delivered` and `lost`, the
//!   simulator's `total_msgs` per 100 ms bucket).
//! - metadata (`M`): `process_name`, `thread_name`, and sort indexes, for
//!   every process and thread used.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Value};
use shared::events::{DashEvent, Event, Fate, Op, RoleName, SIM_SOURCE};

use crate::report::Report;

const REPLICAS: u64 = 1;
const CLIENTS: u64 = 2;
const SIMULATOR: u64 = 3;
/// The simulator's threads.
const RUN: u64 = 1;
const PARTITIONS: u64 = 2;

/// The message rate's bucket.
pub const BUCKET_US: u64 = 100_000;

/// Client-answer types in a replica's `status.sent`: not messages
/// between replicas.
const ANSWER_TYPES: [&str; 3] = ["ok", "redirect", "fail"];

/// The document of a run's events (in any order), with `report` (of the
/// same run) for the replica ids and the summary.
pub fn render(events: &[DashEvent], report: &Report) -> String {
    let mut sorted: Vec<&DashEvent> = events.iter().collect();
    sorted.sort_by_key(|e| e.ts);
    let origin = sorted.first().map_or(0, |e| e.ts);
    let last = sorted.last().map_or(0, |e| e.ts);
    let mut t = Trace {
        origin,
        end: last.saturating_sub(origin),
        ..Trace::default()
    };
    let replicas: BTreeMap<&str, u64> = report
        .replicas
        .iter()
        .zip(1..)
        .map(|(id, tid)| (id.as_str(), tid))
        .collect();
    roles(&mut t, &sorted, &replicas);
    counters(&mut t, &sorted, &replicas);
    requests(&mut t, &sorted);
    simulator(&mut t, &sorted);
    t.finish(report)
}

/// The document being built.
#[derive(Default)]
struct Trace {
    /// Unix µs of `ts` 0.
    origin: u64,
    /// The last event's `ts`.
    end: u64,
    /// Every event but metadata, with its `ts`.
    events: Vec<(u64, Value)>,
    processes: BTreeMap<u64, String>,
    threads: BTreeMap<(u64, u64), String>,
}

type Track = (u64, u64);

impl Trace {
    fn rel(&self, ts: u64) -> u64 {
        ts.saturating_sub(self.origin)
    }

    /// Names a process (the first name given stays).
    fn process(&mut self, pid: u64, name: &str) {
        self.processes
            .entry(pid)
            .or_insert_with(|| name.to_string());
    }

    /// Names a thread (the first name given stays).
    fn thread(&mut self, (pid, tid): Track, name: &str) {
        self.threads
            .entry((pid, tid))
            .or_insert_with(|| name.to_string());
    }

    fn span(
        &mut self,
        (pid, tid): Track,
        cat: &str,
        name: &str,
        from: u64,
        to: u64,
        mut args: Value,
    ) {
        let dur = to.saturating_sub(from);
        // What is not known is left out rather than `null`.
        if let Value::Object(m) = &mut args {
            m.retain(|_, v| !v.is_null());
        }
        self.events.push((
            from,
            json!({"name": name, "cat": cat, "ph": "X", "ts": from, "dur": dur,
                   "pid": pid, "tid": tid, "args": args}),
        ));
    }

    /// A global instant, on the simulator's `run` thread.
    fn instant(&mut self, cat: &str, name: &str, ts: u64, args: Value) {
        self.events.push((
            ts,
            json!({"name": name, "cat": cat, "ph": "i", "s": "g", "ts": ts,
                   "pid": SIMULATOR, "tid": RUN, "args": args}),
        ));
    }

    fn counter(&mut self, (pid, tid): Track, cat: &str, name: &str, ts: u64, args: Value) {
        self.events.push((
            ts,
            json!({"name": name, "cat": cat, "ph": "C", "ts": ts, "pid": pid, "tid": tid,
                   "args": args}),
        ));
    }

    /// The document: metadata, then the events by time, one a line.
    fn finish(mut self, report: &Report) -> String {
        let mut lines: Vec<String> = Vec::new();
        let mut meta = |pid: u64, tid: u64, name: &str, args: Value| {
            let ev = json!({"name": name, "ph": "M", "ts": 0, "pid": pid, "tid": tid,
                            "args": args});
            lines.push(ev.to_string());
        };
        for (&pid, name) in &self.processes {
            if self.threads.keys().any(|(p, _)| *p == pid) {
                meta(pid, 0, "process_name", json!({ "name": name }));
                meta(pid, 0, "process_sort_index", json!({ "sort_index": pid }));
            }
        }
        for (&(pid, tid), name) in &self.threads {
            meta(pid, tid, "thread_name", json!({ "name": name }));
            meta(pid, tid, "thread_sort_index", json!({ "sort_index": tid }));
        }
        self.events.sort_by_key(|(ts, _)| *ts);
        lines.extend(self.events.iter().map(|(_, ev)| ev.to_string()));
        let l = &report.lines;
        let other = json!({
            "source": "kvdash export",
            "config": report.config,
            "seed": report.seed,
            "start_unix_us": self.origin,
            "duration_us": self.end,
            "passed": report.verdict.as_ref().map(|v| v.passed),
            "runs_in_recording": report.runs,
            "lines": l.lines,
            "skipped_lines": l.lines.saturating_sub(l.events),
        });
        format!(
            "{{\"traceEvents\":[\n{}\n],\n\"displayTimeUnit\":\"ms\",\n\"otherData\":{other}}}\n",
            lines.join(",\n")
        )
    }
}

fn role_name(role: RoleName) -> &'static str {
    match role {
        RoleName::Follower => "follower",
        RoleName::PreCandidate => "pre_candidate",
        RoleName::Candidate => "candidate",
        RoleName::Leader => "leader",
    }
}

fn op_name(op: Op) -> &'static str {
    match op {
        Op::Get => "get",
        Op::Put => "put",
    }
}

/// A replica's role track.
#[derive(Default)]
struct Lane {
    tid: u64,
    /// The span in progress: from, name, (term, leader), args.
    open: Option<(u64, &'static str, (u64, String), Value)>,
    /// When the replica reported `stop`, until it starts again.
    stopped_at: Option<u64>,
    killed: bool,
    term: u64,
}

impl Lane {
    fn close(&mut self, t: &mut Trace, ts: u64) {
        if let Some((from, name, _, args)) = self.open.take() {
            t.span((REPLICAS, self.tid), "role", name, from, ts.max(from), args);
        }
    }

    /// From `ts` the replica is `name` in `term`, believing in `leader`
    /// (`reason` says why): a new span unless that is the span in
    /// progress.
    fn change(
        &mut self,
        t: &mut Trace,
        ts: u64,
        name: &'static str,
        term: u64,
        leader: &str,
        reason: Value,
    ) {
        if matches!(&self.open, Some((_, n, (tm, l), _)) if *n == name && *tm == term && l == leader)
        {
            return;
        }
        self.close(t, ts);
        let args = json!({"term": term, "leader": leader, "reason": reason});
        self.open = Some((ts, name, (term, leader.to_string()), args));
        self.term = term;
        self.stopped_at = None;
    }
}

/// Role spans, one thread per replica.
fn roles(t: &mut Trace, events: &[&DashEvent], replicas: &BTreeMap<&str, u64>) {
    t.process(REPLICAS, "replicas");
    for (id, tid) in replicas {
        t.thread((REPLICAS, *tid), id);
    }
    let mut lanes: BTreeMap<u64, Lane> = BTreeMap::new();
    for ev in events {
        let id = match &ev.event {
            Event::Kill { replica, .. } | Event::Restart { replica } if ev.src == SIM_SOURCE => {
                replica.as_str()
            }
            _ if ev.src != SIM_SOURCE => ev.src.as_str(),
            _ => continue,
        };
        let Some(&tid) = replicas.get(id) else {
            continue;
        };
        let ts = t.rel(ev.ts);
        let lane = lanes.entry(tid).or_insert_with(|| Lane {
            tid,
            ..Lane::default()
        });
        match &ev.event {
            Event::Kill { leader, .. } => {
                if lane.killed {
                    continue;
                }
                // It died when it stopped, if it did (the signal's effect).
                let from = lane.stopped_at.unwrap_or(ts);
                lane.close(t, ts);
                let args = json!({"term": lane.term, "as_leader": leader});
                lane.open = Some((from, "killed", (lane.term, String::new()), args));
                lane.killed = true;
            }
            Event::Restart { .. } => {
                // Its new process reports its role: until then, nothing.
                if lane.killed {
                    lane.close(t, ts);
                    lane.killed = false;
                }
                lane.stopped_at = None;
            }
            Event::Start { .. } => {
                if lane.killed {
                    lane.close(t, ts);
                    lane.killed = false;
                }
                lane.stopped_at = None;
            }
            _ if lane.killed => {}
            Event::Role {
                role,
                term,
                leader,
                reason,
            } => {
                lane.change(t, ts, role_name(*role), *term, leader, json!(reason));
            }
            Event::Status(s) => {
                let name = role_name(s.role);
                lane.change(t, ts, name, s.term, &s.leader, json!("status"));
            }
            Event::Stop { .. } => {
                lane.close(t, ts);
                lane.stopped_at = Some(ts);
            }
            _ => {}
        }
    }
    let end = t.end;
    for lane in lanes.values_mut() {
        lane.close(t, end);
    }
}

/// Commit index per replica, and the message rate.
fn counters(t: &mut Trace, events: &[&DashEvent], replicas: &BTreeMap<&str, u64>) {
    let traffic = events
        .iter()
        .any(|e| matches!(e.event, Event::Traffic { .. }));
    let mut commit: HashMap<u64, u64> = HashMap::new();
    // Last `status` of each replica: ts, packets sent to replicas.
    let mut sent: HashMap<u64, (u64, u64)> = HashMap::new();
    // Messages between replicas per bucket: delivered, lost.
    let mut buckets: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for ev in events {
        let ts = t.rel(ev.ts);
        if ev.src == SIM_SOURCE {
            if let Event::Traffic { rows, .. } = &ev.event {
                // The window ends at `ts`.
                let slot = buckets.entry(ts.saturating_sub(1) / BUCKET_US).or_default();
                for r in rows {
                    if !(replicas.contains_key(r.src.as_str())
                        && replicas.contains_key(r.dst.as_str()))
                    {
                        continue;
                    }
                    match r.fate {
                        Fate::Delivered => slot.0 = slot.0.saturating_add(r.count),
                        Fate::Dropped | Fate::Partitioned | Fate::Dead => {
                            slot.1 = slot.1.saturating_add(r.count)
                        }
                        Fate::Client | Fate::Invalid => {}
                    }
                }
            }
            continue;
        }
        let Some(&tid) = replicas.get(ev.src.as_str()) else {
            continue;
        };
        let index = match &ev.event {
            Event::Commit { commit_index, .. } => *commit_index,
            Event::Status(s) => {
                if !traffic {
                    let total = s
                        .sent
                        .iter()
                        .filter(|(k, _)| !ANSWER_TYPES.contains(&k.as_str()))
                        .fold(0u64, |a, (_, n)| a.saturating_add(*n));
                    if let Some((from, before)) = sent.insert(tid, (ts, total)) {
                        if ts > from {
                            let rate = total.saturating_sub(before) as f64 * BUCKET_US as f64
                                / (ts - from) as f64;
                            let name = format!("messages sent per 100 ms {}", ev.src);
                            let rate = (rate * 10.0).round() / 10.0;
                            t.counter(
                                (REPLICAS, tid),
                                "messages",
                                &name,
                                from,
                                json!({ "sent": rate }),
                            );
                        }
                    }
                }
                s.commit_index
            }
            _ => continue,
        };
        if commit.insert(tid, index) != Some(index) {
            let name = format!("commit index {}", ev.src);
            t.counter(
                (REPLICAS, tid),
                "commit",
                &name,
                ts,
                json!({ "commit_index": index }),
            );
        }
    }
    if buckets.is_empty() {
        return;
    }
    t.process(SIMULATOR, "simulator");
    t.thread((SIMULATOR, RUN), "run");
    let name = "messages per 100 ms";
    let at = |b: u64| b.saturating_mul(BUCKET_US);
    let mut prev: Option<u64> = None;
    for (&b, &(delivered, lost)) in &buckets {
        if let Some(p) = prev.filter(|p| p.saturating_add(1) < b) {
            let zero = json!({"delivered": 0, "lost": 0});
            t.counter((SIMULATOR, RUN), "messages", name, at(p + 1), zero);
        }
        let args = json!({"delivered": delivered, "lost": lost});
        t.counter((SIMULATOR, RUN), "messages", name, at(b), args);
        prev = Some(b);
    }
    if let Some(p) = prev {
        let zero = json!({"delivered": 0, "lost": 0});
        t.counter(
            (SIMULATOR, RUN),
            "messages",
            name,
            at(p.saturating_add(1)),
            zero,
        );
    }
}

/// A client request: its client, span and args.
struct Request {
    client: String,
    from: u64,
    to: u64,
    op: Op,
    args: Value,
}

/// Client requests, a thread per client (more while several overlap).
fn requests(t: &mut Trace, events: &[&DashEvent]) {
    let from_sim = events.iter().any(|e| {
        e.src == SIM_SOURCE
            && matches!(
                e.event,
                Event::RequestSent { .. } | Event::RequestAnswered { .. }
            )
    });
    let mut reqs = Vec::new();
    if from_sim {
        // MID -> sent at, client, op, key, target.
        let mut open: BTreeMap<&str, (u64, &str, Op, &str, &str)> = BTreeMap::new();
        for ev in events.iter().filter(|e| e.src == SIM_SOURCE) {
            let ts = t.rel(ev.ts);
            match &ev.event {
                Event::RequestSent {
                    mid,
                    client,
                    op,
                    key,
                    target,
                } => {
                    open.insert(mid, (ts, client, *op, key, target));
                }
                Event::RequestAnswered {
                    mid,
                    client,
                    op,
                    outcome,
                    latency_us,
                    replica,
                } => {
                    // The latency measured by the client, rather than
                    // the `request_sent` stamp (taken apart, a few µs off).
                    let sent = open.remove(mid.as_str());
                    reqs.push(Request {
                        client: client.clone(),
                        from: ts.saturating_sub(*latency_us),
                        to: ts,
                        op: *op,
                        args: json!({
                            "mid": mid, "key": sent.map(|s| s.3), "target": sent.map(|s| s.4),
                            "replica": replica, "outcome": outcome,
                            "latency_us": latency_us, "latency_ms": *latency_us as f64 / 1000.0,
                        }),
                    });
                }
                _ => {}
            }
        }
        for (mid, (from, client, op, key, target)) in open {
            reqs.push(Request {
                client: client.to_string(),
                from,
                to: t.end.max(from),
                op,
                args: json!({"mid": mid, "key": key, "target": target, "outcome": "unanswered"}),
            });
        }
        t.process(CLIENTS, "clients");
    } else {
        // (replica, MID) -> arrival.
        let mut arrived: HashMap<(&str, &str), u64> = HashMap::new();
        for ev in events.iter().filter(|e| e.src != SIM_SOURCE) {
            let ts = t.rel(ev.ts);
            match &ev.event {
                Event::ClientRequest { mid, .. } => {
                    arrived.insert((ev.src.as_str(), mid.as_str()), ts);
                }
                Event::ClientAnswer {
                    mid,
                    client,
                    op,
                    outcome,
                    latency_us,
                } => {
                    let came = arrived.remove(&(ev.src.as_str(), mid.as_str()));
                    let from = latency_us.map(|l| ts.saturating_sub(l)).or(came);
                    reqs.push(Request {
                        client: client.clone(),
                        from: from.unwrap_or(ts).min(ts),
                        to: ts,
                        op: *op,
                        args: json!({
                            "mid": mid, "replica": ev.src, "outcome": outcome,
                            "latency_us": latency_us,
                            "latency_ms": latency_us.map(|l| l as f64 / 1000.0),
                        }),
                    });
                }
                _ => {}
            }
        }
        t.process(CLIENTS, "clients (replica-side latency)");
    }
    reqs.sort_by(|a, b| (&a.client, a.from, a.to).cmp(&(&b.client, b.from, b.to)));
    let mut next_tid = 1;
    // The current client's threads: tid, end of its last span.
    let mut lanes: Vec<(u64, u64)> = Vec::new();
    for (i, r) in reqs.iter().enumerate() {
        if i > 0 && reqs[i - 1].client != r.client {
            lanes.clear();
        }
        let tid = match lanes.iter_mut().find(|l| l.1 <= r.from) {
            Some(lane) => {
                lane.1 = r.to;
                lane.0
            }
            None => {
                let tid = next_tid;
                next_tid += 1;
                let name = match lanes.len() {
                    0 => r.client.clone(),
                    n => format!("{} ({})", r.client, n + 1),
                };
                t.thread((CLIENTS, tid), &name);
                lanes.push((tid, r.to));
                tid
            }
        };
        t.span(
            (CLIENTS, tid),
            "request",
            op_name(r.op),
            r.from,
            r.to,
            r.args.clone(),
        );
    }
}

/// The simulator's instants and partition spans.
fn simulator(t: &mut Trace, events: &[&DashEvent]) {
    let mut partition: Option<(u64, Value)> = None;
    // Each replica's last kill, for its restart's down time.
    let mut killed_at: HashMap<&str, u64> = HashMap::new();
    for ev in events.iter().filter(|e| e.src == SIM_SOURCE) {
        let ts = t.rel(ev.ts);
        match &ev.event {
            Event::RunStart {
                config,
                seed,
                replicas,
                clients,
                transport,
                lifetime,
                ..
            } => {
                let args = json!({"config": config, "seed": seed, "replicas": replicas,
                                  "clients": clients, "transport": transport,
                                  "lifetime_s": lifetime});
                t.instant("run", "run start", ts, args);
            }
            Event::Kill { replica, leader } => {
                let args = json!({"replica": replica, "leader": leader});
                t.instant("kill", &format!("kill {replica}"), ts, args);
                killed_at.insert(replica.as_str(), ts);
            }
            Event::Restart { replica } => {
                let mut args = json!({ "replica": replica });
                if let Some(k) = killed_at.remove(replica.as_str()) {
                    args["down_ms"] = json!(ts.saturating_sub(k) as f64 / 1000.0);
                }
                t.instant("restart", &format!("restart {replica}"), ts, args);
            }
            Event::Partition {
                majority,
                minority,
                hard,
            } => {
                let args = json!({"majority": majority, "minority": minority, "hard": hard});
                if let Some((from, args)) = partition.take() {
                    partition_span(t, from, ts, args);
                }
                t.instant("partition", "partition", ts, args.clone());
                partition = Some((ts, args));
            }
            Event::PartitionHealed {} => {
                if let Some((from, args)) = partition.take() {
                    partition_span(t, from, ts, args);
                }
                t.instant("heal", "partition healed", ts, json!({}));
            }
            Event::RunEnd {
                passed,
                stats,
                checks,
                tiers,
                linearizable,
            } => {
                t.instant("run", "run end", ts, json!({ "stats": stats }));
                let name = if *passed {
                    "verdict: pass"
                } else {
                    "verdict: FAIL"
                };
                let args = json!({"passed": passed, "linearizable": linearizable,
                                  "checks": checks, "tiers": tiers});
                t.instant("verdict", name, ts, args);
            }
            _ => continue,
        }
        t.process(SIMULATOR, "simulator");
        t.thread((SIMULATOR, RUN), "run");
    }
    if let Some((from, args)) = partition {
        let end = t.end.max(from);
        partition_span(t, from, end, args);
    }
}

fn partition_span(t: &mut Trace, from: u64, to: u64, args: Value) {
    t.thread((SIMULATOR, PARTITIONS), "partitions");
    t.span(
        (SIMULATOR, PARTITIONS),
        "partition",
        "partition",
        from,
        to,
        args,
    );
}
