//! `kvdash replay`: a recorded run played back through the console's own
//! state.
//!
//! Pure: no terminal, no socket, no clock. A [`Recording`] is a file's
//! lines, each event with its time in the recording, in time order. A
//! [`Replay`] is a replay clock, a cursor into the recording, a speed and
//! play/pause. Its caller moves the clock ([`Replay::tick`], with the wall
//! time since the last frame) and every event whose time is at or before
//! the clock goes into the caller's [`State`] through [`State::apply`],
//! exactly as the live console applies events from the socket: there is
//! no second model. Going back in time rebuilds the state: a fresh
//! [`State`], then every event from the start up to the target again.
//!
//! **Time.** Every event carries `ts`, microseconds since the Unix epoch;
//! run.py's events and the replicas' both use it (run.py's monotonic clock
//! anchored to the epoch once, the replicas' wall clocks, on one machine).
//! As in the report ([`crate::report::Builder`]), the recording starts at
//! its first event's `ts`, or at a `run_start`'s that is earlier, and an
//! event's time is its `ts` minus that start (an earlier one counts as 0).
//! Events are replayed in time order; events of the same time, in the
//! file's order. (Senders batch their events, so a file written as they
//! arrived is out of order by up to a quarter of a second.) A silence
//! longer than [`MAX_GAP_US`] is replayed as that long: a `kvdash
//! --record` left running between runs, or a timestamp far off, would
//! otherwise leave minutes (or ages) of nothing to sit through. Within a
//! run events come every 100 ms or so, so its times are its own.
//!
//! **Lines that are not events** are counted and skipped as the report
//! and the live console count them ([`IngestStats::reject`]), each at the
//! time of the event before it in the file.
//!
//! [`IngestStats::reject`]: crate::state::IngestStats::reject

use std::io::BufRead;
use std::path::Path;
use std::time::Duration;

use shared::events::{DashEvent, Event, EventError};

use crate::state::State;

/// Slowest and fastest replay speed (times real time).
pub const MIN_SPEED: u32 = 1;
pub const MAX_SPEED: u32 = 64;
/// The longest silence replayed as it was, in microseconds.
pub const MAX_GAP_US: u64 = 5_000_000;
/// The small and the big jump, in microseconds.
pub const SMALL_STEP_US: i64 = 1_000_000;
pub const BIG_STEP_US: i64 = 10_000_000;

/// One line of a recording, as the state takes it.
#[derive(Debug, Clone)]
enum Item {
    Event(DashEvent),
    Reject(EventError),
}

#[derive(Debug, Clone)]
struct Entry {
    /// Microseconds since the recording's start.
    at: u64,
    item: Item,
}

/// Why a recording cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the recording {path}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("the recording {path} is empty")]
    Empty { path: String },
    #[error(
        "the recording {path} holds no events ({lines} lines, none of them a \
         kvdash event; run.py --record FILE or kvdash --record FILE writes them)"
    )]
    NoEvents { path: String, lines: u64 },
}

/// A recording, loaded: its events in time order.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    entries: Vec<Entry>,
    /// The `ts` its times count from.
    pub start_ts: u64,
    /// Non-blank lines, events among them, and the rest.
    pub lines: u64,
    pub events: u64,
    pub rejected: u64,
}

impl Recording {
    /// Reads a recording (JSON lines, as `run.py --record` and
    /// `kvdash --record` write them). Only an I/O error fails; lines that
    /// are not events are kept as rejects.
    pub fn read(mut reader: impl BufRead) -> std::io::Result<Recording> {
        let mut rec = Recording::default();
        let mut items = Vec::new();
        let mut start: Option<u64> = None;
        let mut buf = Vec::new();
        loop {
            buf.clear();
            if reader.read_until(b'\n', &mut buf)? == 0 {
                break;
            }
            let text = String::from_utf8_lossy(&buf);
            let line = text.trim();
            if line.is_empty() {
                continue;
            }
            rec.lines += 1;
            match DashEvent::parse(line) {
                Ok(ev) => {
                    rec.events += 1;
                    // The report's rule for the start.
                    start = Some(match start {
                        None => ev.ts,
                        Some(s) if matches!(ev.event, Event::RunStart { .. }) => s.min(ev.ts),
                        Some(s) => s,
                    });
                    items.push(Item::Event(ev));
                }
                Err(e) => {
                    rec.rejected += 1;
                    items.push(Item::Reject(e));
                }
            }
        }
        rec.start_ts = start.unwrap_or(0);
        let mut last = 0;
        rec.entries = items
            .into_iter()
            .map(|item| {
                let at = match &item {
                    Item::Event(ev) => ev.ts.saturating_sub(rec.start_ts),
                    Item::Reject(_) => last,
                };
                last = at;
                Entry { at, item }
            })
            .collect();
        // Stable: events of the same time stay in the file's order.
        rec.entries.sort_by_key(|e| e.at);
        // Long silences shortened (times stay in order).
        let (mut prev, mut shift) = (0u64, 0u64);
        for e in &mut rec.entries {
            let gap = e.at - prev;
            prev = e.at;
            shift += gap.saturating_sub(MAX_GAP_US);
            e.at -= shift;
        }
        Ok(rec)
    }

    /// Loads a recorded file: a missing, unreadable or empty file, or one
    /// without a single event, is an error.
    pub fn from_path(path: &Path) -> Result<Recording, LoadError> {
        let name = path.display().to_string();
        let io = |source| LoadError::Io {
            path: name.clone(),
            source,
        };
        let f = std::fs::File::open(path).map_err(io)?;
        let rec = Recording::read(std::io::BufReader::new(f)).map_err(io)?;
        if rec.lines == 0 {
            return Err(LoadError::Empty { path: name });
        }
        if rec.events == 0 {
            return Err(LoadError::NoEvents {
                path: name,
                lines: rec.lines,
            });
        }
        Ok(rec)
    }

    /// From the start to the last event, in microseconds.
    pub fn duration_us(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.at)
    }

    /// Lines (events and rejects) in the recording.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Feeds one line into the state as the console does.
fn feed(state: &mut State, item: &Item) {
    match item {
        Item::Event(ev) => {
            state.ingest.events += 1;
            state.apply(ev);
        }
        Item::Reject(e) => state.ingest.reject(e),
    }
}

/// What the view shows of a replay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReplayStatus {
    /// The replay clock, microseconds since the recording's start.
    pub clock_us: u64,
    pub duration_us: u64,
    pub speed: u32,
    pub paused: bool,
    /// The clock is at the end: every event has been applied.
    pub ended: bool,
}

/// A recording being played into a [`State`].
#[derive(Debug, Clone)]
pub struct Replay {
    rec: Recording,
    /// Entries before this one have been fed.
    next: usize,
    clock: u64,
    speed: u32,
    paused: bool,
}

impl Replay {
    /// At the start, nothing fed yet (the first [`Replay::seek_to`] or
    /// [`Replay::tick`] feeds the events at time 0); `speed` is clamped to
    /// 1..=64.
    pub fn new(rec: Recording, speed: u32, paused: bool) -> Replay {
        Replay {
            rec,
            next: 0,
            clock: 0,
            speed: speed.clamp(MIN_SPEED, MAX_SPEED),
            paused,
        }
    }

    pub fn recording(&self) -> &Recording {
        &self.rec
    }

    pub fn clock_us(&self) -> u64 {
        self.clock
    }

    pub fn duration_us(&self) -> u64 {
        self.rec.duration_us()
    }

    pub fn speed(&self) -> u32 {
        self.speed
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Lines fed into the state so far.
    pub fn fed(&self) -> usize {
        self.next
    }

    /// The clock is at the end and every line has been fed.
    pub fn ended(&self) -> bool {
        self.clock >= self.duration_us() && self.next == self.rec.len()
    }

    pub fn status(&self) -> ReplayStatus {
        ReplayStatus {
            clock_us: self.clock,
            duration_us: self.duration_us(),
            speed: self.speed,
            paused: self.paused,
            ended: self.ended(),
        }
    }

    /// Twice as fast, up to [`MAX_SPEED`].
    pub fn faster(&mut self) {
        self.speed = (self.speed * 2).min(MAX_SPEED);
    }

    /// Half as fast, down to [`MIN_SPEED`].
    pub fn slower(&mut self) {
        self.speed = (self.speed / 2).max(MIN_SPEED);
    }

    pub fn set_paused(&mut self, paused: bool) {
        self.paused = paused;
    }

    /// Play or pause; at the end, play again from the start.
    pub fn toggle_pause(&mut self, state: &mut State) {
        if self.ended() {
            self.seek_to(0, state);
            self.paused = false;
        } else {
            self.paused = !self.paused;
        }
    }

    /// Moves the clock on by `wall` times the speed (not past the end, not
    /// at all when paused) and feeds what is due; returns how many lines
    /// were fed.
    pub fn tick(&mut self, wall: Duration, state: &mut State) -> usize {
        if self.paused {
            return 0;
        }
        let step = wall.as_micros().saturating_mul(self.speed as u128);
        let step = u64::try_from(step).unwrap_or(u64::MAX);
        self.clock = self.clock.saturating_add(step).min(self.duration_us());
        self.release(state)
    }

    /// Sets the clock to `to_us` (at most the end), paused or not. Forward,
    /// the events up to it are fed; back, the state is rebuilt from the
    /// start. Returns how many lines were fed.
    pub fn seek_to(&mut self, to_us: u64, state: &mut State) -> usize {
        let to = to_us.min(self.duration_us());
        let undo = self.next > 0 && self.rec.entries[self.next - 1].at > to;
        if undo {
            *state = State::new();
            self.next = 0;
        }
        self.clock = to;
        self.release(state)
    }

    /// Seeks by `delta_us` from the clock (negative: back), within the
    /// recording.
    pub fn seek_by(&mut self, delta_us: i64, state: &mut State) -> usize {
        let to = (self.clock as i128 + delta_us as i128).clamp(0, self.duration_us() as i128);
        self.seek_to(to as u64, state)
    }

    /// Feeds every line due by the clock.
    fn release(&mut self, state: &mut State) -> usize {
        let clock = self.clock;
        let due = self.rec.entries[self.next..].partition_point(|e| e.at <= clock);
        for e in &self.rec.entries[self.next..self.next + due] {
            feed(state, &e.item);
        }
        self.next += due;
        due
    }
}

/// The replay clock as the status shows it: `12.3 s` (tenths, rounded
/// down, so that the end shows only at the end).
pub fn clock_text(us: u64) -> String {
    format!("{}.{} s", us / 1_000_000, (us / 100_000) % 10)
}

/// A time typed after `g`: seconds (`12`, `12.5`) or minutes and seconds
/// (`1:30`, `1:30.5`), in microseconds.
pub fn parse_time(text: &str) -> Option<u64> {
    let text = text.trim();
    let seconds = |s: &str| -> Option<f64> {
        let ok = !s.is_empty()
            && s.chars().all(|c| c.is_ascii_digit() || c == '.')
            && s.chars().any(|c| c.is_ascii_digit());
        ok.then(|| s.parse::<f64>().ok()).flatten()
    };
    let secs = match text.split_once(':') {
        Some((m, s)) => {
            let m: u64 = m.parse().ok()?;
            let s = seconds(s)?;
            if s >= 60.0 {
                return None;
            }
            m as f64 * 60.0 + s
        }
        None => seconds(text)?,
    };
    let us = (secs * 1e6).round();
    (us.is_finite() && us < u64::MAX as f64).then_some(us as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::{CheckResult, Event};

    const T0: u64 = 1_800_000_000_000_000;

    fn line(ts: u64, src: &str, event: Event) -> String {
        DashEvent::new(ts, src, event).to_line()
    }

    fn run_start(ts: u64) -> String {
        line(
            ts,
            "sim",
            Event::RunStart {
                config: "t.json".into(),
                seed: 1,
                replicas: vec!["0000".into(), "0001".into(), "0002".into()],
                clients: vec!["0010".into()],
                transport: "classic".into(),
                lifetime: 4.0,
                settings: Default::default(),
            },
        )
    }

    fn kill(ts: u64, id: &str) -> String {
        line(
            ts,
            "sim",
            Event::Kill {
                replica: id.into(),
                leader: false,
            },
        )
    }

    fn run_end(ts: u64) -> String {
        line(
            ts,
            "sim",
            Event::RunEnd {
                passed: true,
                stats: Default::default(),
                checks: vec![CheckResult {
                    name: "incorrect".into(),
                    passed: true,
                    detail: String::new(),
                }],
                tiers: vec![],
                linearizable: Some(true),
            },
        )
    }

    /// 0 s run_start, 1 s kill 0000, (garbage), 2.5 s kill 0001, 4 s run_end.
    fn recording() -> Recording {
        let text = [
            run_start(T0),
            kill(T0 + 1_000_000, "0000"),
            "not json at all".to_string(),
            kill(T0 + 2_500_000, "0001"),
            String::new(),
            run_end(T0 + 4_000_000),
        ]
        .join("\n");
        Recording::read(text.as_bytes()).unwrap()
    }

    fn killed(s: &State) -> usize {
        s.replicas
            .values()
            .filter(|r| r.life == crate::state::Life::Killed)
            .count()
    }

    /// The state after feeding the whole file in its order.
    fn straight(text: &str) -> State {
        State::replay(text.as_bytes()).unwrap()
    }

    #[test]
    fn a_recording_is_its_events_in_time_order_with_garbage_counted() {
        let r = recording();
        assert_eq!((r.lines, r.events, r.rejected), (5, 4, 1));
        assert_eq!(r.start_ts, T0);
        assert_eq!(r.duration_us(), 4_000_000);
        let ats: Vec<u64> = r.entries.iter().map(|e| e.at).collect();
        // The garbage line counts at the time of the event before it.
        assert_eq!(ats, [0, 1_000_000, 1_000_000, 2_500_000, 4_000_000]);
    }

    #[test]
    fn events_out_of_order_are_replayed_by_time_and_the_start_is_the_reports() {
        // As a recording written on arrival: the replica's event of 0.1 s
        // came after the simulator's of 0.2 s; run_start is not first.
        let text = [
            kill(T0 + 200_000, "0000"),
            run_start(T0),
            kill(T0 + 100_000, "0001"),
        ]
        .join("\n");
        let r = Recording::read(text.as_bytes()).unwrap();
        assert_eq!(r.start_ts, T0);
        let ats: Vec<u64> = r.entries.iter().map(|e| e.at).collect();
        assert_eq!(ats, [0, 100_000, 200_000]);
        // Without a run_start, the first event in the file is the start,
        // and an earlier one counts as time 0.
        let text = [kill(T0 + 200_000, "0000"), kill(T0 + 100_000, "0001")].join("\n");
        let r = Recording::read(text.as_bytes()).unwrap();
        assert_eq!(r.start_ts, T0 + 200_000);
        assert_eq!(r.duration_us(), 0);
    }

    #[test]
    fn long_silences_are_replayed_as_five_seconds() {
        // Two runs a minute apart, and a timestamp ages off.
        let text = [
            run_start(T0),
            kill(T0 + 1_000_000, "0000"),
            run_start(T0 + 61_000_000),
            kill(T0 + 62_000_000, "0001"),
            kill(u64::MAX, "0002"),
        ]
        .join("\n");
        let r = Recording::read(text.as_bytes()).unwrap();
        let ats: Vec<u64> = r.entries.iter().map(|e| e.at).collect();
        assert_eq!(ats, [0, 1_000_000, 6_000_000, 7_000_000, 12_000_000]);
        let mut s = State::new();
        let mut replay = Replay::new(r, 1, false);
        replay.seek_to(6_500_000, &mut s);
        // The state sees the events' own times: the second run began.
        assert_eq!(s.runs, 2);
        assert_eq!(s.now(), T0 + 61_000_000);
    }

    #[test]
    fn ticks_release_the_events_due_and_the_speed_multiplies_the_wall_time() {
        let mut s = State::new();
        let mut r = Replay::new(recording(), 1, false);
        assert_eq!(r.seek_to(0, &mut s), 1);
        assert!(s.run.is_some());
        assert_eq!(r.tick(Duration::from_millis(999), &mut s), 0);
        assert_eq!(r.tick(Duration::from_millis(1), &mut s), 2);
        assert_eq!(killed(&s), 1);
        assert_eq!(s.ingest.malformed, 1);
        r.faster();
        r.faster();
        assert_eq!(r.speed(), 4);
        // 0.5 s of wall time at 4x: 2 s of the recording.
        r.tick(Duration::from_millis(500), &mut s);
        assert_eq!(r.clock_us(), 3_000_000);
        assert_eq!(killed(&s), 2);
        assert!(s.verdict.is_none());
    }

    #[test]
    fn the_speed_stays_between_1x_and_64x() {
        let mut r = Replay::new(recording(), 1000, false);
        assert_eq!(r.speed(), MAX_SPEED);
        r.faster();
        assert_eq!(r.speed(), 64);
        for _ in 0..10 {
            r.slower();
        }
        assert_eq!(r.speed(), MIN_SPEED);
        assert_eq!(Replay::new(recording(), 0, false).speed(), 1);
        let mut r = Replay::new(recording(), 3, false);
        r.faster();
        assert_eq!(r.speed(), 6);
        r.slower();
        r.slower();
        assert_eq!(r.speed(), 1);
    }

    #[test]
    fn paused_nothing_moves_or_is_released() {
        let mut s = State::new();
        let mut r = Replay::new(recording(), 8, true);
        r.seek_to(0, &mut s);
        assert_eq!(r.tick(Duration::from_secs(10), &mut s), 0);
        assert_eq!(r.clock_us(), 0);
        assert_eq!(killed(&s), 0);
        r.toggle_pause(&mut s);
        assert!(!r.paused());
        r.tick(Duration::from_millis(200), &mut s);
        assert_eq!(r.clock_us(), 1_600_000);
        assert_eq!(killed(&s), 1);
    }

    #[test]
    fn seeking_back_rebuilds_the_same_state_as_playing_up_to_there() {
        let mut s = State::new();
        let mut r = Replay::new(recording(), 1, false);
        r.seek_to(u64::MAX, &mut s);
        assert!(r.ended());
        assert!(s.verdict.is_some());
        assert_eq!(killed(&s), 2);
        assert_eq!(s.ingest.malformed, 1);
        // Back to 1.5 s: one kill, the garbage counted once, no verdict.
        r.seek_by(-2_500_000, &mut s);
        assert_eq!(r.clock_us(), 1_500_000);
        assert_eq!(killed(&s), 1);
        assert!(s.verdict.is_none());
        assert_eq!(s.ingest.malformed, 1);
        assert_eq!(s.ingest.events, 2);
        let mut fresh = State::new();
        let mut again = Replay::new(recording(), 1, false);
        again.seek_to(0, &mut fresh);
        again.tick(Duration::from_millis(1500), &mut fresh);
        assert_eq!(fresh.events(), s.events());
        assert_eq!(fresh.now(), s.now());
        assert_eq!(fresh.ingest, s.ingest);
        assert_eq!(killed(&fresh), killed(&s));
        // Before the start and past the end: clamped.
        r.seek_by(-BIG_STEP_US, &mut s);
        assert_eq!(r.clock_us(), 0);
        assert_eq!(s.events(), 1);
        r.seek_by(BIG_STEP_US, &mut s);
        assert_eq!(r.clock_us(), 4_000_000);
        assert!(s.verdict.is_some());
    }

    #[test]
    fn a_seek_back_that_undoes_nothing_keeps_the_state() {
        let mut s = State::new();
        let mut r = Replay::new(recording(), 1, false);
        r.seek_to(2_000_000, &mut s);
        s.ingest.overflow = 7; // a mark a rebuild would wipe
        r.seek_to(1_200_000, &mut s);
        assert_eq!(s.ingest.overflow, 7);
        r.seek_to(900_000, &mut s);
        assert_eq!(s.ingest.overflow, 0);
        assert_eq!(killed(&s), 0);
    }

    #[test]
    fn at_the_end_the_verdict_is_there_and_play_starts_over() {
        let text = [
            run_start(T0),
            kill(T0 + 1_000_000, "0000"),
            run_end(T0 + 4_000_000),
        ]
        .join("\n");
        let mut s = State::new();
        let mut r = Replay::new(Recording::read(text.as_bytes()).unwrap(), 64, false);
        r.seek_to(0, &mut s);
        r.tick(Duration::from_secs(1), &mut s);
        assert!(r.ended());
        assert!(r.status().ended);
        assert_eq!(r.clock_us(), 4_000_000);
        // The same state as the file fed straight in.
        let whole = straight(&text);
        assert_eq!(s.verdict, whole.verdict);
        assert_eq!(s.events(), whole.events());
        assert_eq!(s.now(), whole.now());
        // More ticks change nothing; play goes back to the start.
        assert_eq!(r.tick(Duration::from_secs(1), &mut s), 0);
        r.toggle_pause(&mut s);
        assert!(!r.paused());
        assert_eq!(r.clock_us(), 0);
        assert!(s.verdict.is_none());
        assert_eq!(s.events(), 1);
    }

    #[test]
    fn the_largest_fixture_replays_to_the_state_of_feeding_it_straight() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/kill-partition.jsonl"
        );
        let text = std::fs::read_to_string(path).unwrap();
        let rec = Recording::from_path(Path::new(path)).unwrap();
        assert_eq!(rec.events, 1151);
        let mut s = State::new();
        let mut r = Replay::new(rec, 1, false);
        r.seek_to(u64::MAX, &mut s);
        let whole = straight(&text);
        assert_eq!(s.verdict, whole.verdict);
        assert_eq!(s.events(), whole.events());
        assert_eq!(s.now(), whole.now());
        assert_eq!(s.requests, whole.requests);
        let lives = |s: &State| -> Vec<_> {
            s.replicas
                .values()
                .map(|r| (r.id.clone(), r.life, r.commit_index))
                .collect()
        };
        assert_eq!(lives(&s), lives(&whole));
    }

    /// How long loading and re-feeding a whole recording take (a seek
    /// back to the end is the worst case): `cargo test --release -p
    /// dashboard --lib replay::tests::timing -- --ignored --nocapture`,
    /// with `KVDASH_REPLAY_FILE=RUN.jsonl` for another file than the
    /// largest fixture.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn timing() {
        let path = std::env::var("KVDASH_REPLAY_FILE").unwrap_or_else(|_| {
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/kill-partition.jsonl"
            )
            .to_string()
        });
        let t = std::time::Instant::now();
        let rec = Recording::from_path(Path::new(&path)).unwrap();
        let load = t.elapsed();
        let lines = rec.len();
        let mut r = Replay::new(rec, 1, false);
        let mut s = State::new();
        r.seek_to(u64::MAX, &mut s);
        let rounds = 20;
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            // Back to the start, then all the way to the end again.
            r.seek_to(0, &mut s);
            r.seek_to(u64::MAX, &mut s);
        }
        let refeed = t.elapsed() / rounds;
        println!(
            "{path}: {lines} lines, {:.1} s; load {load:?}; re-feed of all {refeed:?}",
            r.duration_us() as f64 / 1e6
        );
    }

    #[test]
    fn missing_empty_and_eventless_files_are_errors() {
        let dir = std::env::temp_dir().join(format!("kvdash-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = Recording::from_path(&dir.join("nope.jsonl")).unwrap_err();
        assert!(matches!(missing, LoadError::Io { .. }), "{missing}");
        let empty = dir.join("empty.jsonl");
        std::fs::write(&empty, "\n\n").unwrap();
        let e = Recording::from_path(&empty).unwrap_err();
        assert!(e.to_string().contains("is empty"), "{e}");
        let junk = dir.join("junk.jsonl");
        std::fs::write(&junk, "hello\n{\"v\":2}\n").unwrap();
        let e = Recording::from_path(&junk).unwrap_err();
        assert!(e.to_string().contains("holds no events"), "{e}");
        let e = Recording::from_path(&dir).unwrap_err();
        assert!(e.to_string().contains("cannot read"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn times_typed_after_g() {
        assert_eq!(parse_time("12"), Some(12_000_000));
        assert_eq!(parse_time("12.5"), Some(12_500_000));
        assert_eq!(parse_time(".5"), Some(500_000));
        assert_eq!(parse_time("1:30"), Some(90_000_000));
        assert_eq!(parse_time("0:02.5"), Some(2_500_000));
        for bad in ["", ".", "1.2.3", "1:75", "-3", "1e3", "inf", "x", ":5"] {
            assert_eq!(parse_time(bad), None, "{bad:?}");
        }
        assert_eq!(clock_text(12_345_678), "12.3 s");
        assert_eq!(clock_text(29_999_999), "29.9 s");
        assert_eq!(clock_text(0), "0.0 s");
    }
}
