//! Whatever arrives, and whatever the terminal's size, nothing panics:
//! seeded random events (extreme numbers, odd ids, any order) and random
//! bytes go through ingest, state and every screen size from 1x1 up.
//! `SEED=<n>` replays one seed (the failing one is printed);
//! `ROBUST_SEEDS=<count>` tries more than the default 60.

use dashboard::ingest::{take_datagram, Batch};
use dashboard::input::Panel;
use dashboard::state::State;
use dashboard::view::{self, Child, Ui};
use rand::rngs::SmallRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use shared::events::*;

/// Random parts of events, from a seeded generator: a seed always gives
/// the same run.
struct Rng(SmallRng);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(SmallRng::seed_from_u64(seed))
    }
    fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n.max(1))
    }
    fn coin(&mut self) -> bool {
        self.0.random_bool(0.5)
    }
    fn one_in(&mut self, n: u32) -> bool {
        self.0.random_ratio(1, n)
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        *items.choose(&mut self.0).expect("not empty")
    }
    fn num(&mut self) -> u64 {
        match self.below(6) {
            0 => 0,
            1 => u64::MAX,
            2 => u64::MAX / 2,
            3 => self.below(10),
            _ => self.0.random::<u64>() >> self.below(64),
        }
    }
    fn id(&mut self) -> String {
        match self.below(8) {
            0 => "FFFF".into(),
            1 => "sim".into(),
            2 => "zz".into(),
            3 => String::new(),
            _ => format!("{:04X}", self.below(30)),
        }
    }
    fn ids(&mut self) -> Vec<String> {
        (0..self.below(6)).map(|_| self.id()).collect()
    }
    fn role(&mut self) -> RoleName {
        self.pick(&[
            RoleName::Follower,
            RoleName::PreCandidate,
            RoleName::Candidate,
            RoleName::Leader,
        ])
    }
    fn op(&mut self) -> Op {
        if self.coin() {
            Op::Get
        } else {
            Op::Put
        }
    }
    fn outcome(&mut self) -> Outcome {
        self.pick(&[Outcome::Ok, Outcome::Redirect, Outcome::Fail])
    }
}

fn event(r: &mut Rng) -> Event {
    match r.below(17) {
        0 => Event::Start {
            id: r.id(),
            peers: r.ids(),
            pid: r.below(99999) as u32,
            transport: "classic".into(),
            config: Default::default(),
            tuned: String::new(),
        },
        1 => Event::Role {
            role: r.role(),
            term: r.num(),
            leader: r.id(),
            reason: RoleReason::HigherTerm,
        },
        2 => Event::Vote {
            candidate: r.id(),
            term: r.num(),
            granted: r.coin(),
            pre: r.coin(),
        },
        3 => Event::LogAppended {
            last_index: r.num(),
            last_term: r.num(),
        },
        4 => Event::Commit {
            commit_index: r.num(),
            applied_index: r.num(),
        },
        5 => Event::Progress {
            followers: (0..r.below(4))
                .map(|_| FollowerProgress {
                    id: r.id(),
                    match_index: r.num(),
                    next_index: r.num(),
                })
                .collect(),
        },
        6 => Event::ClientAnswer {
            mid: format!("M{}", r.below(50)),
            client: r.id(),
            op: r.op(),
            outcome: r.outcome(),
            latency_us: Some(r.num()),
        },
        7 => Event::Status(Status {
            role: r.role(),
            term: r.num(),
            leader: r.id(),
            last_index: r.num(),
            last_term: r.num(),
            commit_index: r.num(),
            applied_index: r.num(),
            followers: vec![],
            sent: [("append".to_string(), r.num()), ("x".to_string(), r.num())]
                .into_iter()
                .collect(),
            received: [("y".to_string(), r.num())].into_iter().collect(),
            malformed: r.num(),
            events_dropped: r.num(),
        }),
        8 => Event::Stop {
            reason: "signal".into(),
        },
        9 => Event::RunStart {
            config: "x".repeat(r.below(300) as usize),
            seed: r.num(),
            replicas: r.ids(),
            clients: r.ids(),
            transport: "udp".into(),
            lifetime: r.num() as f64,
            settings: serde_json::json!(null),
        },
        10 => Event::RequestSent {
            mid: format!("M{}", r.below(50)),
            client: r.id(),
            op: r.op(),
            key: "k".into(),
            target: r.id(),
        },
        11 => Event::RequestAnswered {
            mid: format!("M{}", r.below(50)),
            client: r.id(),
            op: r.op(),
            outcome: r.outcome(),
            latency_us: r.num(),
            replica: r.id(),
        },
        12 => Event::Kill {
            replica: r.id(),
            leader: r.coin(),
        },
        13 => Event::Partition {
            majority: r.ids(),
            minority: r.ids(),
            hard: true,
        },
        14 => Event::PartitionHealed {},
        15 => Event::Traffic {
            window_us: r.num(),
            leader: r.id(),
            rows: (0..r.below(5))
                .map(|_| TrafficRow {
                    src: r.id(),
                    dst: r.id(),
                    msg_type: "t".repeat(r.below(40) as usize),
                    fate: r.pick(&[Fate::Delivered, Fate::Dropped, Fate::Client, Fate::Dead]),
                    count: r.num(),
                })
                .collect(),
        },
        _ => Event::RunEnd {
            passed: r.coin(),
            stats: Default::default(),
            checks: vec![CheckResult {
                name: "incorrect".into(),
                passed: false,
                detail: "d".repeat(r.below(200) as usize),
            }],
            tiers: vec![TierResult {
                metric: "median_latency".into(),
                value: r.num() as f64,
                thresholds: vec![],
                tier: "Failed".into(),
            }],
            linearizable: Some(false),
        },
    }
}

fn run(seed: u64) {
    let mut r = Rng::new(seed);
    let mut s = State::new();
    let base = r.num();
    for _ in 0..400 {
        let ts = match r.below(4) {
            0 => r.num(),
            _ => base.saturating_add(r.below(60_000_000)),
        };
        let src = if r.one_in(3) {
            "sim".to_string()
        } else {
            r.id()
        };
        let ev = DashEvent::new(ts, src, event(&mut r));
        // Through the real ingest path, sometimes with garbage around it.
        let mut data = ev.to_line().into_bytes();
        if r.one_in(5) {
            let n = r.below(data.len() as u64) as usize;
            data[n] = r.0.random::<u8>();
        }
        let mut batch = Batch::default();
        take_datagram(&data, &mut batch, &mut None);
        for e in &batch.events {
            s.apply(e);
        }
        s.note_rejects(&batch.stats);
    }
    let mut ui = Ui {
        child: Some(Child::Exited(None)),
        back: r.below(1000),
        zoom: r.below(10) as usize,
        help: r.one_in(4),
        ..Ui::default()
    };
    for p in Panel::ALL {
        *ui.scroll_mut(p) = r.below(100) as usize;
    }
    for (w, h) in [
        (1, 1),
        (3, 2),
        (20, 5),
        (57, 10),
        (80, 24),
        (100, 30),
        (133, 41),
        (250, 70),
    ] {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::draw(f, &s, &ui)).unwrap();
    }
}

#[test]
fn random_events_and_any_screen_size_never_panic() {
    let seeds: Vec<u64> = match std::env::var("SEED") {
        Ok(s) => vec![s.parse().expect("SEED is a number")],
        Err(_) => {
            let n = std::env::var("ROBUST_SEEDS")
                .ok()
                .and_then(|n| n.parse().ok())
                .unwrap_or(60);
            (1..=n).collect()
        }
    };
    for seed in seeds {
        let result = std::panic::catch_unwind(|| run(seed));
        assert!(
            result.is_ok(),
            "seed {seed} panicked; replay with SEED={seed} cargo test -p dashboard --test robust"
        );
    }
}
