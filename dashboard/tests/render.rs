//! Rendering snapshots: each panel and the whole screen, drawn on a
//! `TestBackend` from a recorded run (`fixtures/kill-partition.jsonl`: five
//! replicas, a hard partition from 2.5 s to 4.5 s, the leader killed at
//! 6 s, recorded with `kvdash --record` under `kvdash run`).
//!
//! Snapshots live in `tests/snapshots/`. A mismatch fails the test; review
//! and accept an intended change with `cargo insta review` (or rerun with
//! `INSTA_UPDATE=always` and check the diff).

use std::io::BufRead;

use dashboard::input::Panel;
use dashboard::state::State;
use dashboard::view::{self, Child, Mode, Ui};
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::Terminal;
use shared::events::{DashEvent, Event, FollowerProgress, RoleName, Status};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/kill-partition.jsonl"
);

fn events() -> Vec<DashEvent> {
    let f = std::fs::File::open(FIXTURE).expect("the fixture is in the repository");
    std::io::BufReader::new(f)
        .lines()
        .map(|l| DashEvent::parse(&l.unwrap()).expect("the fixture holds valid events"))
        .collect()
}

/// The state after the events up to `secs` into the run that `keep` keeps.
fn state_at(secs: f64, keep: impl Fn(&DashEvent) -> bool) -> State {
    let evs = events();
    let start = evs.iter().map(|e| e.ts).min().unwrap();
    let until = start + (secs * 1e6) as u64;
    let mut s = State::new();
    for e in evs.iter().filter(|e| e.ts <= until && keep(e)) {
        s.apply(e);
    }
    s
}

fn all(_: &DashEvent) -> bool {
    true
}

fn ui() -> Ui {
    Ui {
        socket: "/tmp/kvdash-test.sock".into(),
        mode: Mode::Run {
            config: "kill-partition.json".into(),
        },
        child: Some(Child::Running),
        ..Ui::default()
    }
}

fn screen(w: u16, h: u16, state: &State, ui: &Ui) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::draw(f, state, ui)).unwrap();
    t.backend().clone()
}

fn panel(
    w: u16,
    h: u16,
    state: &State,
    ui: &Ui,
    render: fn(Rect, &mut Buffer, &State, &Ui),
) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| {
        let area = f.area();
        render(area, f.buffer_mut(), state, ui)
    })
    .unwrap();
    t.backend().clone()
}

#[test]
fn whole_screen_after_the_kill_at_100x30() {
    let s = state_at(7.0, all);
    insta::assert_snapshot!(screen(100, 30, &s, &ui()));
}

#[test]
fn whole_screen_during_the_partition_at_80x24() {
    let s = state_at(3.5, all);
    insta::assert_snapshot!(screen(80, 24, &s, &ui()));
}

#[test]
fn whole_screen_at_the_end_shows_the_verdict() {
    let s = state_at(60.0, all);
    let ui = Ui {
        child: Some(Child::Exited(Some(0))),
        notice: Some("run.py exited with status 0: q quits and prints its report".into()),
        ..ui()
    };
    insta::assert_snapshot!(screen(120, 36, &s, &ui));
}

#[test]
fn whole_screen_paused_with_help() {
    let s = state_at(5.0, all);
    let ui = Ui {
        paused: true,
        help: true,
        focus: Panel::Timeline,
        ..ui()
    };
    insta::assert_snapshot!(screen(100, 30, &s, &ui));
}

#[test]
fn whole_screen_waiting_for_a_run() {
    let ui = Ui {
        mode: Mode::Attach,
        child: None,
        ..ui()
    };
    insta::assert_snapshot!(screen(100, 30, &State::new(), &ui));
}

#[test]
fn replica_events_alone_under_the_course_simulator() {
    let s = state_at(7.0, |e| e.src != "sim");
    let ui = Ui {
        mode: Mode::Attach,
        child: None,
        ..ui()
    };
    insta::assert_snapshot!(screen(100, 30, &s, &ui));
}

#[test]
fn simulator_events_alone_for_a_replica_that_emits_none() {
    let s = state_at(7.0, |e| e.src == "sim");
    insta::assert_snapshot!(screen(100, 30, &s, &ui()));
}

#[test]
fn panel_cluster() {
    let s = state_at(3.5, all);
    insta::assert_snapshot!(panel(69, 8, &s, &ui(), view::cluster::render));
}

#[test]
fn panel_timeline_scrolled_back_and_zoomed() {
    let s = state_at(60.0, all);
    let ui = Ui {
        focus: Panel::Timeline,
        zoom: 1,
        back: 20,
        ..ui()
    };
    insta::assert_snapshot!(panel(100, 9, &s, &ui, view::timeline::render));
}

#[test]
fn panel_replication() {
    let s = state_at(7.0, all);
    insta::assert_snapshot!(panel(40, 7, &s, &ui(), view::replication::render));
}

#[test]
fn panel_latency() {
    let s = state_at(60.0, all);
    insta::assert_snapshot!(panel(90, 8, &s, &ui(), view::latency::render));
}

#[test]
fn panel_messages() {
    let s = state_at(60.0, all);
    insta::assert_snapshot!(panel(60, 12, &s, &ui(), view::messages::render));
}

/// 21 replicas, the most the simulator allows: rows scroll, nothing breaks.
fn big_cluster() -> State {
    let ids: Vec<String> = (0..21).map(|i| format!("{i:04X}")).collect();
    let mut s = State::new();
    let t0 = 1_800_000_000_000_000u64;
    s.apply(&DashEvent::new(
        t0,
        "sim",
        Event::RunStart {
            config: "configs/big-21.json".into(),
            seed: 1,
            replicas: ids.clone(),
            clients: (37..45).map(|i| format!("{i:04X}")).collect(),
            transport: "classic".into(),
            lifetime: 30.0,
            settings: serde_json::json!({}),
        },
    ));
    for step in 1..=20u64 {
        for (i, id) in ids.iter().enumerate() {
            let leader = i == 3;
            let last = step * 10;
            s.apply(&DashEvent::new(
                t0 + step * 250_000 + i as u64,
                id,
                Event::Status(Status {
                    role: if leader {
                        RoleName::Leader
                    } else {
                        RoleName::Follower
                    },
                    term: 2,
                    leader: "0003".into(),
                    last_index: if leader { last } else { last - (i as u64 % 4) },
                    last_term: 2,
                    commit_index: last - 1,
                    applied_index: last - 1,
                    followers: if leader {
                        ids.iter()
                            .filter(|f| *f != id)
                            .enumerate()
                            .map(|(k, f)| FollowerProgress {
                                id: f.clone(),
                                match_index: last - (k as u64 % 4),
                                next_index: last + 1,
                            })
                            .collect()
                    } else {
                        vec![]
                    },
                    sent: [("append".to_string(), step * 40)].into_iter().collect(),
                    received: [("appended".to_string(), step * 38)].into_iter().collect(),
                    malformed: 0,
                    events_dropped: 0,
                }),
            ));
        }
    }
    s
}

#[test]
fn twenty_one_replicas_at_100x30() {
    insta::assert_snapshot!(screen(100, 30, &big_cluster(), &ui()));
}

#[test]
fn twenty_one_replicas_scrolled_at_80x24() {
    let mut ui = ui();
    *ui.scroll_mut(Panel::Cluster) = 15;
    *ui.scroll_mut(Panel::Timeline) = 3;
    insta::assert_snapshot!(screen(80, 24, &big_cluster(), &ui));
}

/// Colours carry meaning that text snapshots do not show: check a few.
#[test]
fn roles_and_partition_sides_are_coloured() {
    let s = state_at(3.5, all);
    let b = screen(100, 30, &s, &ui());
    let buf = b.buffer();
    let find = |text: &str| -> Vec<(u16, u16)> {
        let mut out = vec![];
        for y in 0..buf.area.height {
            let row: String = (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect();
            if let Some(i) = row.find(text) {
                let x = row[..i].chars().count() as u16;
                out.push((x, y));
            }
        }
        out
    };
    // The leader's row in the cluster table ("0004 leader   ..."), after
    // the header's "leader" column title.
    let (x, y) = *find(" leader  ").last().unwrap();
    assert_eq!(
        buf[(x + 1, y)].fg,
        Color::Green,
        "the leader's role is green"
    );
    let (x, y) = find(" min ")[0];
    assert_eq!(buf[(x + 1, y)].fg, Color::Magenta, "the minority side");
    // Some lane cell is shaded as cut off by the partition.
    let shaded = buf.content().iter().any(|c| c.bg == Color::Indexed(53));
    assert!(shaded, "minority lanes are shaded during the partition");
}

/// `kvdash replay` of the fixture, driven through the console's own
/// `App` as the keys and the frame tick drive it.
fn replay_app() -> dashboard::app::App {
    use dashboard::replay::{Recording, Replay};
    let rec = Recording::from_path(std::path::Path::new(FIXTURE)).unwrap();
    let ui = Ui {
        socket: "kill-partition.jsonl".into(),
        mode: Mode::Replay {
            file: "kill-partition.jsonl".into(),
        },
        ..Ui::default()
    };
    dashboard::app::App::replaying(ui, Replay::new(rec, 1, false))
}

fn app_screen(w: u16, h: u16, app: &mut dashboard::app::App) -> TestBackend {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    app.dirty = true;
    app.draw(&mut t).unwrap();
    t.backend().clone()
}

fn text(b: &TestBackend) -> String {
    let buf = b.buffer();
    (0..buf.area.height)
        .map(|y| {
            (0..buf.area.width)
                .map(|x| buf[(x, y)].symbol())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn replay_paused_after_the_kill_at_4x_at_100x30() {
    use dashboard::input::Action;
    let mut app = replay_app();
    // 2 s played, then 4x for 1 s of wall time: 6 s; pause; forward 1 s.
    app.advance(std::time::Duration::from_secs(2));
    app.act(Action::Faster);
    app.act(Action::Faster);
    app.advance(std::time::Duration::from_secs(1));
    app.act(Action::TogglePause);
    app.advance(std::time::Duration::from_secs(5));
    app.act(Action::Seek(1_000_000));
    let b = app_screen(100, 30, &mut app);
    let top = text(&b).lines().next().unwrap().to_string();
    assert!(top.contains(" PAUSED "), "{top}");
    assert!(top.contains("t=7.0 s / 8.0 s 4x"), "{top}");
    // The same screen as the live console's at 7 s, but for the title
    // and the footer: the same state code.
    let live = screen(100, 30, &state_at(7.0, all), &ui());
    let body = |t: &str| t.lines().skip(1).take(28).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&text(&b)), body(&text(&live)));
    insta::assert_snapshot!(b);
}

#[test]
fn replay_playing_with_the_go_to_prompt_at_80x24() {
    use crossterm::event::{Event as TermEvent, KeyCode, KeyEvent, KeyModifiers};
    use dashboard::input::Action;
    let mut app = replay_app();
    app.advance(std::time::Duration::from_millis(3500));
    app.act(Action::GoTo);
    let key =
        |c| dashboard::app::AppEvent::Term(TermEvent::Key(KeyEvent::new(c, KeyModifiers::NONE)));
    for c in "1:0x2".chars() {
        app.handle(key(KeyCode::Char(c)));
    }
    let b = app_screen(80, 24, &mut app);
    let top = text(&b).lines().next().unwrap().to_string();
    // Without a footer (24 rows), the prompt is in the title; `x` is not
    // a time's character.
    assert!(top.contains(" REPLAY "), "{top}");
    assert!(top.contains("go to (seconds or m:ss): 1:02"), "{top}");
    insta::assert_snapshot!(b);
    // Enter: 62 s is past the end: the end, and its verdict shows.
    app.handle(key(KeyCode::Enter));
    let b = app_screen(120, 36, &mut app);
    let all_text = text(&b);
    assert!(all_text.contains(" ENDED "), "{all_text}");
    assert!(all_text.contains("t=8.0 s / 8.0 s 1x"), "{all_text}");
    assert!(all_text.contains("Verdict: PASSED"), "{all_text}");
    // `v` hides it; `,` goes back before the verdict, and it is gone.
    app.handle(key(KeyCode::Char('v')));
    assert!(!text(&app_screen(120, 36, &mut app)).contains("Verdict: "));
    app.handle(key(KeyCode::Char(',')));
    assert!(app.state.verdict.is_none());
    let r = app.replay.as_ref().unwrap();
    assert_eq!(r.clock_us(), r.duration_us() - 1_000_000);
}

/// `fixtures/restart.jsonl` (`run.py configs/ci/restart.json --seed 1
/// --record`): the leader 0000 killed at 3.0 s and restarted at 4.0 s,
/// the follower 0001 killed at 4.5 s and restarted at 5.0 s.
fn restart_state_at(secs: f64) -> State {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/restart.jsonl");
    let text = std::fs::read_to_string(path).unwrap();
    let mut evs: Vec<DashEvent> = text.lines().map(|l| DashEvent::parse(l).unwrap()).collect();
    // In time order, as `kvdash replay` plays them.
    evs.sort_by_key(|e| e.ts);
    let until = evs[0].ts + (secs * 1e6) as u64;
    let mut s = State::new();
    for e in evs.iter().filter(|e| e.ts <= until) {
        s.apply(e);
    }
    s
}

/// Between the two restarts: 0000 runs again (↻ in its lane where it was
/// restarted, `alive↻1`), 0001 is down (✕ where it was killed); the
/// marker row has K and R.
#[test]
fn whole_screen_between_two_restarts_at_100x30() {
    let s = restart_state_at(4.8);
    let ui = Ui {
        mode: Mode::Run {
            config: "restart.json".into(),
        },
        ..ui()
    };
    let b = screen(100, 30, &s, &ui);
    let t = text(&b);
    assert!(t.contains("alive↻1"), "{t}");
    assert!(t.contains("killed"), "{t}");
    for sym in ["↻", "✕"] {
        assert!(
            t.lines().any(|l| l.contains("0000") && l.contains(sym)),
            "{sym}: {t}"
        );
    }
    // In the lane, a restart is cyan, a kill red.
    let cells = b.buffer().content();
    assert!(cells
        .iter()
        .any(|c| c.symbol() == "↻" && c.fg == Color::Cyan));
    assert!(cells
        .iter()
        .any(|c| c.symbol() == "✕" && c.fg == Color::Red));
    insta::assert_snapshot!(b);
}
