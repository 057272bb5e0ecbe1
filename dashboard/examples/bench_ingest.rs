//! Ingest benchmark: how many events per second kvdash parses and applies
//! on one core, and how much memory the state holds after a long, large
//! run. `make bench-dash` runs it; it prints numbers and asserts nothing.
//!
//! ```text
//! cargo run --release -p dashboard --example bench_ingest -- [--replicas 21]
//!     [--minutes 10] [--requests-per-s 200] [--replay FILE]...
//! ```
//!
//! The synthetic run is shaped like a real one (see `generate`): every
//! replica's status four times a second, log and commit events every
//! 100 ms, the leader's progress, four events per client request, the
//! simulator's traffic windows with a row per active pair, an election
//! every 30 s and a partition every minute. `--replay` also measures
//! recorded runs, the real mix of events, against their busiest second:
//!
//! ```text
//! ./run.py advanced-4 -s --record /tmp/a4.jsonl     # or kvdash --record FILE
//! cargo run --release -p dashboard --example bench_ingest -- --replay /tmp/a4.jsonl
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use dashboard::ingest::{take_datagram, Batch};
use dashboard::state::State;
use dashboard::view::{self, Ui};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// Counts the bytes held, to measure the state's memory.
struct Counting;

static HELD: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only
// counters are updated besides.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        HELD.fetch_add(l.size(), Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        HELD.fetch_add(new, Ordering::Relaxed);
        HELD.fetch_sub(l.size(), Ordering::Relaxed);
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn held() -> usize {
    HELD.load(Ordering::Relaxed)
}

fn rss_kib() -> String {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let get = |k: &str| {
                s.lines()
                    .find(|l| l.starts_with(k))
                    .map(|l| l[k.len()..].trim().to_string())
            };
            Some(format!("RSS {}, peak {}", get("VmRSS:")?, get("VmHWM:")?))
        })
        .unwrap_or_else(|| "RSS unknown".into())
}

/// Appends one JSON line.
fn push_line(buf: &mut String, line: &str) {
    buf.push_str(line);
    buf.push('\n');
}

/// Ids as a JSON array's items: `"0000","0001"`.
fn quoted(ids: &[String]) -> String {
    ids.iter()
        .map(|i| format!("\"{i}\""))
        .collect::<Vec<_>>()
        .join(",")
}

/// A synthetic run as it goes: who leads in which term, the log's length,
/// requests made so far, and what each replica sent.
struct Synthetic {
    ids: Vec<String>,
    clients: Vec<String>,
    /// Seeded: every run of the benchmark is the same.
    rng: SmallRng,
    leader: usize,
    term: u64,
    last: u64,
    mid: u64,
    sent: Vec<u64>,
}

impl Synthetic {
    fn new(n: usize) -> Synthetic {
        Synthetic {
            ids: (0..n).map(|i| format!("{i:04X}")).collect(),
            clients: (n + 16..n + 24).map(|i| format!("{i:04X}")).collect(),
            rng: SmallRng::seed_from_u64(0x9E37_79B9_7F4A_7C15),
            leader: 0,
            term: 1,
            last: 0,
            mid: 0,
            sent: vec![0; n],
        }
    }

    fn run_start(&self, t0: u64, secs: u64) -> String {
        let mut sim = format!(
            r#"{{"v":1,"ts":{t0},"src":"sim","kind":"run_start","config":"bench.json","seed":1,"replicas":[{}],"clients":[{}],"transport":"classic","lifetime":{secs}.0,"settings":{{}}}}"#,
            quoted(&self.ids),
            quoted(&self.clients)
        );
        sim.push('\n');
        sim
    }

    /// A new leader in the next term: every replica's role and vote.
    fn election(&mut self, ts: u64, rep: &mut [String]) {
        let n = self.ids.len();
        self.leader = (self.leader + 1 + self.rng.random_range(0..n - 1)) % n;
        self.term += 1;
        let (term, leader) = (self.term, &self.ids[self.leader]);
        for (i, id) in self.ids.iter().enumerate() {
            let (role, reason) = if i == self.leader {
                ("leader", "won_election")
            } else {
                ("follower", "higher_term")
            };
            push_line(
                &mut rep[i],
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"{id}","kind":"role","role":"{role}","term":{term},"leader":"{leader}","reason":"{reason}"}}"#
                ),
            );
            push_line(
                &mut rep[i],
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"{id}","kind":"vote","candidate":"{leader}","term":{term},"granted":true,"pre":false}}"#
                ),
            );
        }
    }

    /// A partition every minute, healed after 5 s.
    fn partition(&self, tick: u64, ts: u64, sim: &mut String) {
        if tick % 600 == 200 {
            let (maj, min) = self.ids.split_at(self.ids.len() / 2 + 1);
            push_line(
                sim,
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"sim","kind":"partition","majority":[{}],"minority":[{}],"hard":true}}"#,
                    quoted(maj),
                    quoted(min)
                ),
            );
        }
        if tick % 600 == 250 {
            push_line(
                sim,
                &format!(r#"{{"v":1,"ts":{ts},"src":"sim","kind":"partition_healed"}}"#),
            );
        }
    }

    /// This tick's client requests, each sent, handled by the leader and
    /// answered; returns the puts among them.
    fn client_requests(&mut self, ts: u64, rps: u64, sim: &mut String, rep: &mut [String]) -> u64 {
        let reqs = rps / 10 + u64::from(self.rng.random_range(0..10) < rps % 10);
        let mut puts = 0;
        for _ in 0..reqs {
            self.mid += 1;
            let mid = self.mid;
            let m = format!("M{mid:015}");
            let c = &self.clients[self.rng.random_range(0..self.clients.len())];
            let op = if self.rng.random_bool(0.2) {
                "get"
            } else {
                "put"
            };
            puts += u64::from(op == "put");
            let lat = 200 + self.rng.random_range(0..2000u64);
            let l = &self.ids[self.leader];
            push_line(
                sim,
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"sim","kind":"request_sent","mid":"{m}","client":"{c}","op":"{op}","key":"KEY{mid:028}","target":"{l}"}}"#
                ),
            );
            let leader = &mut rep[self.leader];
            push_line(
                leader,
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"{l}","kind":"client_request","mid":"{m}","client":"{c}","op":"{op}"}}"#
                ),
            );
            push_line(
                leader,
                &format!(
                    r#"{{"v":1,"ts":{},"src":"{l}","kind":"client_answer","mid":"{m}","client":"{c}","op":"{op}","outcome":"ok","latency_us":{lat}}}"#,
                    ts + lat
                ),
            );
            push_line(
                sim,
                &format!(
                    r#"{{"v":1,"ts":{},"src":"sim","kind":"request_answered","mid":"{m}","client":"{c}","op":"{op}","outcome":"ok","latency_us":{},"replica":"{l}"}}"#,
                    ts + lat + 100,
                    lat + 100
                ),
            );
        }
        puts
    }

    /// The followers' progress as the leader reports it, all matched at
    /// `mat`.
    fn followers(&self, mat: u64) -> String {
        self.ids
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != self.leader)
            .map(|(_, f)| {
                format!(
                    r#"{{"id":"{f}","match_index":{mat},"next_index":{}}}"#,
                    mat + 1
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Replication of `puts` new entries: log and commit on every replica,
    /// progress from the leader.
    fn replication(&mut self, ts: u64, puts: u64, rep: &mut [String]) {
        self.last += puts;
        let (last, term, n) = (self.last, self.term, self.ids.len() as u64);
        for (i, id) in self.ids.iter().enumerate() {
            self.sent[i] += if i == self.leader { 2 * n } else { 2 };
            push_line(
                &mut rep[i],
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"{id}","kind":"log_appended","last_index":{last},"last_term":{term}}}"#
                ),
            );
            push_line(
                &mut rep[i],
                &format!(
                    r#"{{"v":1,"ts":{ts},"src":"{id}","kind":"commit","commit_index":{last},"applied_index":{last}}}"#
                ),
            );
        }
        push_line(
            &mut rep[self.leader],
            &format!(
                r#"{{"v":1,"ts":{ts},"src":"{}","kind":"progress","followers":[{}]}}"#,
                self.ids[self.leader],
                self.followers(last)
            ),
        );
    }

    /// Status four times a second, staggered.
    fn statuses(&self, tick: u64, ts: u64, rep: &mut [String]) {
        let (last, term, mid) = (self.last, self.term, self.mid);
        for (i, id) in self.ids.iter().enumerate() {
            if (tick * 100 + i as u64 * 37) % 250 < 100 {
                let is_leader = i == self.leader;
                let role = if is_leader { "leader" } else { "follower" };
                let fl = if is_leader {
                    format!(r#","followers":[{}]"#, self.followers(last))
                } else {
                    String::new()
                };
                push_line(
                    &mut rep[i],
                    &format!(
                        r#"{{"v":1,"ts":{ts},"src":"{id}","kind":"status","role":"{role}","term":{term},"leader":"{}","last_index":{last},"last_term":{term},"commit_index":{last},"applied_index":{last}{fl},"sent":{{"append":{},"ok":{}}},"received":{{"appended":{},"put":{}}},"malformed":0,"events_dropped":0}}"#,
                        self.ids[self.leader], self.sent[i], mid, self.sent[i], mid
                    ),
                );
            }
        }
    }

    /// The simulator's traffic window: appends both ways between the
    /// leader and each follower, answers to every client.
    fn traffic(&self, ts: u64, sim: &mut String) {
        let l = &self.ids[self.leader];
        let mut rows = vec![];
        for (i, f) in self.ids.iter().enumerate() {
            if i != self.leader {
                rows.push(format!(
                    r#"{{"src":"{l}","dst":"{f}","type":"append","fate":"delivered","count":2}}"#
                ));
                rows.push(format!(
                    r#"{{"src":"{f}","dst":"{l}","type":"appended","fate":"delivered","count":2}}"#
                ));
            }
        }
        for c in &self.clients {
            rows.push(format!(
                r#"{{"src":"{l}","dst":"{c}","type":"ok","fate":"client","count":1}}"#
            ));
        }
        push_line(
            sim,
            &format!(
                r#"{{"v":1,"ts":{ts},"src":"sim","kind":"traffic","window_us":100000,"leader":"{l}","rows":[{}]}}"#,
                rows.join(",")
            ),
        );
    }
}

/// Datagrams of a synthetic run: `n` replicas, `secs` seconds, `rps`
/// client requests per second, handed to `sink` as they are made: one per
/// 100 ms tick and source, as replicas and run.py batch their events.
fn generate(n: usize, secs: u64, rps: u64, mut sink: impl FnMut(&str)) {
    let t0: u64 = 1_800_000_000_000_000;
    let mut run = Synthetic::new(n);
    sink(&run.run_start(t0, secs));
    for tick in 0..secs * 10 {
        let ts = t0 + tick * 100_000;
        let mut rep: Vec<String> = vec![String::new(); n];
        let mut sim = String::new();
        // An election every 30 s.
        if tick % 300 == 299 {
            run.election(ts, &mut rep);
        }
        run.partition(tick, ts, &mut sim);
        let puts = run.client_requests(ts, rps, &mut sim, &mut rep);
        run.replication(ts, puts, &mut rep);
        run.statuses(tick, ts, &mut rep);
        run.traffic(ts, &mut sim);
        for r in rep.iter().filter(|r| !r.is_empty()) {
            sink(r);
        }
        sink(&sim);
    }
}

/// Feeds one datagram through the ingest path (split, parse) and `apply`;
/// returns the events it held.
fn ingest_one(d: &str, state: &mut State) -> u64 {
    let mut batch = Batch::default();
    take_datagram(d.as_bytes(), &mut batch, &mut None);
    for e in &batch.events {
        state.apply(e);
    }
    state.note_rejects(&batch.stats);
    batch.events.len() as u64
}

/// Feeds datagrams through [`ingest_one`]: returns (events, seconds).
fn ingest(datagrams: &[String], state: &mut State) -> (u64, f64) {
    let started = Instant::now();
    let events = datagrams.iter().map(|d| ingest_one(d, state)).sum();
    (events, started.elapsed().as_secs_f64())
}

/// A recording's events grouped into datagrams of up to 32 lines.
fn read_recording(path: &str) -> std::io::Result<(Vec<String>, u64, f64)> {
    let text = std::fs::read_to_string(path)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let ts: Vec<u64> = lines
        .iter()
        .filter_map(|l| shared::DashEvent::parse(l).ok().map(|e| e.ts))
        .collect();
    let span = (ts.iter().max().unwrap_or(&0) - ts.iter().min().unwrap_or(&0)) as f64 / 1e6;
    // The busiest second, by event timestamps.
    let mut per_s = std::collections::BTreeMap::<u64, u64>::new();
    for t in &ts {
        *per_s.entry(t / 1_000_000).or_default() += 1;
    }
    let peak = per_s.values().copied().max().unwrap_or(0);
    let grams = lines.chunks(32).map(|c| c.join("\n")).collect();
    Ok((grams, peak, span))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: &str, d: u64| -> u64 {
        args.iter()
            .position(|a| a == k)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let n = get("--replicas", 21) as usize;
    let minutes = get("--minutes", 10);
    let rps = get("--requests-per-s", 200);
    let replays: Vec<&String> = args
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && args[i - 1] == "--replay")
        .map(|(_, a)| a)
        .collect();

    println!("kvdash ingest benchmark (parse + apply on one core)");
    for path in replays {
        match read_recording(path) {
            Ok((grams, peak, span)) => {
                let mut best = f64::MAX;
                let mut count = 0;
                for _ in 0..5 {
                    let mut s = State::new();
                    let (e, secs) = ingest(&grams, &mut s);
                    count = e;
                    best = best.min(secs);
                }
                let rate = count as f64 / best;
                println!(
                    "  replay {path}: {count} events over {span:.1} s of run, busiest second {peak} events/s; \
                     ingest {rate:.0} events/s = {:.0}x the busiest second",
                    rate / peak.max(1) as f64
                );
            }
            Err(e) => println!("  replay {path}: cannot read: {e}"),
        }
    }

    let secs = minutes * 60;
    let rss_before = rss_kib();
    let before = held();
    let mut state = State::new();
    let (mut events, mut bytes, mut took) = (0u64, 0usize, 0f64);
    generate(n, secs, rps, |d| {
        bytes += d.len();
        let t = Instant::now();
        events += ingest_one(d, &mut state);
        took += t.elapsed().as_secs_f64();
    });
    let after = held();
    println!(
        "  synthetic: {n} replicas, {minutes} min of run at {rps} requests/s: {events} events \
         ({:.0} events/s of run time, {:.1} MB of JSON)",
        events as f64 / secs as f64,
        bytes as f64 / 1e6
    );
    println!(
        "  ingest: {:.0} events/s ({:.2} s for the whole run)",
        events as f64 / took,
        took
    );
    println!(
        "  memory held by the state after the run: {:.2} MiB (process before: {rss_before}; after: {})",
        after.saturating_sub(before) as f64 / (1 << 20) as f64,
        rss_kib()
    );
    let t = Instant::now();
    let copy = state.clone();
    println!(
        "  pause (a copy of the state): {:.2} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    drop(copy);
    let mut term = Terminal::new(TestBackend::new(100, 30)).expect("test backend");
    let ui = Ui::default();
    let frames = 200;
    let t = Instant::now();
    for _ in 0..frames {
        term.draw(|f| view::draw(f, &state, &ui)).expect("draw");
    }
    println!(
        "  one frame at 100x30: {:.0} µs",
        t.elapsed().as_secs_f64() * 1e6 / frames as f64
    );
}
