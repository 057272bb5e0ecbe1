//! State from hand-made event sequences.

use std::collections::BTreeMap;

use shared::events::{
    CheckResult, DashEvent, Event, Fate, FollowerProgress, Op, Outcome, RoleName, RoleReason,
    Status, TrafficRow,
};

use super::*;

const T0: u64 = 1_764_032_400_000_000;
const MS: u64 = 1_000;

fn at(ms: u64, src: &str, event: Event) -> DashEvent {
    DashEvent::new(T0 + ms * MS, src, event)
}

fn ids(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{i:04X}")).collect()
}

fn run_start(n: usize) -> Event {
    Event::RunStart {
        config: "configs/test.json".into(),
        seed: 7,
        replicas: ids(n),
        clients: (n + 16..n + 24).map(|i| format!("{i:04X}")).collect(),
        transport: "classic".into(),
        lifetime: 30.0,
        settings: serde_json::json!({}),
    }
}

fn start(id: &str, peers: &[&str]) -> Event {
    Event::Start {
        id: id.into(),
        peers: peers.iter().map(|p| p.to_string()).collect(),
        pid: 100,
        transport: "classic".into(),
        config: Default::default(),
        tuned: String::new(),
    }
}

fn role(role: RoleName, term: u64, leader: &str, reason: RoleReason) -> Event {
    Event::Role {
        role,
        term,
        leader: leader.into(),
        reason,
    }
}

fn status(role: RoleName, term: u64, leader: &str, last: u64, commit: u64, sent: u64) -> Event {
    let sent: BTreeMap<String, u64> = [("append".to_string(), sent)].into_iter().collect();
    Event::Status(Status {
        role,
        term,
        leader: leader.into(),
        last_index: last,
        last_term: term,
        commit_index: commit,
        applied_index: commit,
        followers: vec![],
        sent,
        received: BTreeMap::new(),
        malformed: 0,
        events_dropped: 3,
    })
}

fn row(src: &str, dst: &str, t: &str, fate: Fate, count: u64) -> TrafficRow {
    TrafficRow {
        src: src.into(),
        dst: dst.into(),
        msg_type: t.into(),
        fate,
        count,
    }
}

fn traffic(leader: &str, rows: Vec<TrafficRow>) -> Event {
    Event::Traffic {
        window_us: 100_000,
        leader: leader.into(),
        rows,
    }
}

fn apply_all(events: &[DashEvent]) -> State {
    let mut s = State::new();
    for e in events {
        s.apply(e);
    }
    s
}

#[test]
fn replica_events_fill_the_cluster_table() {
    let s = apply_all(&[
        at(0, "0000", start("0000", &["0001", "0002"])),
        at(1, "0001", start("0001", &["0000", "0002"])),
        at(
            300,
            "0000",
            role(RoleName::Candidate, 2, "FFFF", RoleReason::PreVoteWon),
        ),
        at(
            310,
            "0000",
            role(RoleName::Leader, 2, "0000", RoleReason::WonElection),
        ),
        at(
            320,
            "0001",
            role(RoleName::Follower, 2, "0000", RoleReason::LeaderFound),
        ),
        at(
            400,
            "0000",
            Event::LogAppended {
                last_index: 10,
                last_term: 2,
            },
        ),
        at(
            410,
            "0000",
            Event::Commit {
                commit_index: 9,
                applied_index: 8,
            },
        ),
        at(
            420,
            "0000",
            Event::Progress {
                followers: vec![FollowerProgress {
                    id: "0001".into(),
                    match_index: 9,
                    next_index: 10,
                }],
            },
        ),
    ]);
    // The peers named in `start` are rows too, before they say anything.
    assert_eq!(s.replicas.len(), 3);
    let leader = s.leader().expect("a leader");
    assert_eq!(leader.id, "0000");
    assert_eq!(
        (
            leader.term,
            leader.last_index,
            leader.commit_index,
            leader.applied_index
        ),
        (2, 10, 9, 8)
    );
    assert_eq!(leader.followers[0].match_index, 9);
    assert_eq!(s.replicas["0001"].leader, "0000");
    assert_eq!(s.replicas["0002"].life, Life::Unknown);
    assert!(s.replicas_report() && !s.sim_reports());
    // One election marker (term 2) and one leader marker.
    let kinds: Vec<_> = s.timeline.markers.iter().map(|m| &m.kind).collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert_eq!(s.elapsed(), 420 * MS);
}

#[test]
fn a_status_alone_makes_a_console_attached_mid_run_complete() {
    let s = apply_all(&[at(
        5_000,
        "0003",
        status(RoleName::Leader, 4, "0003", 120, 118, 900),
    )]);
    let r = &s.replicas["0003"];
    assert_eq!(r.role, Some(RoleName::Leader));
    assert_eq!((r.term, r.last_index, r.commit_index), (4, 120, 118));
    assert_eq!(r.events_dropped, 3);
    assert_eq!(r.life, Life::Alive);
    let lane = &s.timeline.lanes["0003"];
    assert_eq!(lane.current().unwrap().role, LaneRole::Leader);
}

#[test]
fn the_message_rate_comes_from_the_replicas_own_counters() {
    let mut events = vec![];
    for i in 0..=8 {
        // 100 packets every 250 ms: 400 per second.
        events.push(at(
            i * 250,
            "0000",
            status(RoleName::Leader, 1, "0000", 1, 1, 100 * i),
        ));
    }
    let s = apply_all(&events);
    let rate = s.replicas["0000"].rate(s.now(), false).unwrap();
    assert!((rate - 400.0).abs() < 1.0, "{rate}");
    // The rate sparkline got the deltas: 200 per half-second bucket.
    assert_eq!(
        s.traffic.replica_rate.last_complete(s.now(), 2),
        vec![200, 200]
    );
}

#[test]
fn the_simulator_alone_gives_leaders_traffic_latency_and_faults() {
    let s = apply_all(&[
        at(0, "sim", run_start(3)),
        at(
            100,
            "sim",
            traffic(
                "0001",
                vec![
                    row("0001", "0000", "append", Fate::Delivered, 4),
                    row("0001", "0002", "append", Fate::Dropped, 1),
                    row("0001", "0013", "ok", Fate::Client, 2),
                    row("0013", "0001", "put", Fate::Delivered, 2),
                ],
            ),
        ),
        at(
            150,
            "sim",
            Event::RequestSent {
                mid: "M1".into(),
                client: "0013".into(),
                op: Op::Put,
                key: "K".into(),
                target: "0001".into(),
            },
        ),
        at(
            151,
            "sim",
            Event::RequestAnswered {
                mid: "M1".into(),
                client: "0013".into(),
                op: Op::Put,
                outcome: Outcome::Ok,
                latency_us: 700,
                replica: "0001".into(),
            },
        ),
        at(
            200,
            "sim",
            Event::Kill {
                replica: "0001".into(),
                leader: true,
            },
        ),
        at(200, "sim", traffic("FFFF", vec![])),
    ]);
    assert!(!s.replicas_report() && s.sim_reports());
    // Clients are not replicas.
    assert_eq!(s.replicas.keys().cloned().collect::<Vec<_>>(), ids(3));
    // total_msgs counts replica-to-replica packets, delivered or not.
    assert_eq!(s.traffic.total_msgs, 5);
    assert_eq!(s.traffic.by_type["append"].dropped, 1);
    assert_eq!(s.traffic.by_replica["0001"].sent, 7);
    assert_eq!(s.traffic.by_replica["0001"].received, 2);
    assert_eq!(s.traffic.clients.received, 2);
    assert_eq!(s.latency.client[1].count(), 1);
    assert_eq!(s.outstanding(), 0);
    assert_eq!(s.replicas["0001"].life, Life::Killed);
    let lane = &s.timeline.sim_lanes["0001"];
    assert_eq!(lane.at(T0 + 150 * MS).unwrap().role, LaneRole::Leader);
    assert_eq!(lane.current().unwrap().role, LaneRole::Dead);
    // Without replica events the simulator's leader change is marked.
    assert!(s.timeline.markers.iter().any(|m| m.kind
        == MarkerKind::Leader {
            leader: "0001".into()
        }));
    assert!(s
        .timeline
        .markers
        .iter()
        .any(|m| matches!(m.kind, MarkerKind::Kill { leader: true, .. })));
    assert_eq!(s.sim_leader, "FFFF");
}

#[test]
fn a_partition_puts_replicas_on_sides_until_it_heals() {
    let mut s = apply_all(&[
        at(0, "sim", run_start(5)),
        at(
            1_000,
            "sim",
            Event::Partition {
                majority: vec!["0000".into(), "0002".into(), "0004".into()],
                minority: vec!["0001".into(), "0003".into()],
                hard: true,
            },
        ),
    ]);
    assert_eq!(s.replicas["0001"].side, Side::Minority);
    assert_eq!(s.replicas["0000"].side, Side::Majority);
    assert!(s.timeline.cut_off("0003", T0 + 1_500 * MS, T0 + 1_600 * MS));
    s.apply(&at(2_000, "sim", Event::PartitionHealed {}));
    assert!(s.replicas.values().all(|r| r.side == Side::Whole));
    assert!(!s.timeline.cut_off("0003", T0 + 2_500 * MS, T0 + 2_600 * MS));
    assert!(s.timeline.cut_off("0003", T0 + 1_900 * MS, T0 + 2_600 * MS));
    let marks: Vec<_> = s.timeline.markers.iter().map(|m| m.kind.clone()).collect();
    assert_eq!(marks, vec![MarkerKind::Partition, MarkerKind::Heal]);
}

#[test]
fn a_kill_ends_the_replicas_lane_even_if_a_late_status_follows() {
    let s = apply_all(&[
        at(0, "sim", run_start(3)),
        at(
            100,
            "0000",
            role(RoleName::Leader, 1, "0000", RoleReason::WonElection),
        ),
        at(
            500,
            "sim",
            Event::Kill {
                replica: "0000".into(),
                leader: true,
            },
        ),
        // Sent before the kill, received after it.
        at(450, "0000", status(RoleName::Leader, 1, "0000", 5, 5, 10)),
        at(
            510,
            "0000",
            Event::Stop {
                reason: "signal".into(),
            },
        ),
    ]);
    let r = &s.replicas["0000"];
    assert_eq!(r.life, Life::Killed);
    assert!(s.leader().is_none_or(|l| l.id != "0000"));
    assert_eq!(
        s.timeline.lanes["0000"].current().unwrap().role,
        LaneRole::Dead
    );
    // The simulator reports, so the replica's own stop adds no marker.
    assert!(!s
        .timeline
        .markers
        .iter()
        .any(|m| matches!(m.kind, MarkerKind::Stop { .. })));
}

#[test]
fn replica_and_client_latency_are_split_by_op() {
    let mut events = vec![];
    for i in 0..100u64 {
        events.push(at(
            i,
            "0000",
            Event::ClientAnswer {
                mid: format!("M{i}"),
                client: "0015".into(),
                op: if i % 2 == 0 { Op::Get } else { Op::Put },
                outcome: Outcome::Ok,
                latency_us: Some(100 + i),
            },
        ));
        events.push(at(
            i,
            "sim",
            Event::RequestAnswered {
                mid: format!("M{i}"),
                client: "0015".into(),
                op: Op::Get,
                outcome: if i < 90 {
                    Outcome::Ok
                } else {
                    Outcome::Redirect
                },
                latency_us: 1000 + i,
                replica: "0000".into(),
            },
        ));
    }
    let s = apply_all(&events);
    assert_eq!(s.latency.replica[0].count(), 50);
    assert_eq!(s.latency.replica[1].count(), 50);
    assert_eq!(s.latency.client[0].count(), 100);
    let sum = s.latency.client[0].summary().unwrap();
    assert_eq!(sum.max, 1099);
    assert_eq!(s.client_outcome(Outcome::Redirect), 10);
}

#[test]
fn a_new_run_resets_the_view_but_not_the_ingest_counters() {
    let mut s = apply_all(&[
        at(0, "sim", run_start(3)),
        at(
            100,
            "0000",
            role(RoleName::Leader, 1, "0000", RoleReason::WonElection),
        ),
        at(
            200,
            "sim",
            Event::RunEnd {
                passed: true,
                stats: BTreeMap::new(),
                checks: vec![CheckResult {
                    name: "incorrect".into(),
                    passed: true,
                    detail: String::new(),
                }],
                tiers: vec![],
                linearizable: Some(true),
            },
        ),
    ]);
    s.apply_line("{not json");
    assert!(s.verdict.as_ref().unwrap().passed);
    s.apply(&at(300, "sim", run_start(5)));
    assert!(s.verdict.is_none());
    assert_eq!(s.replicas.len(), 5);
    assert!(s.replicas.values().all(|r| r.role.is_none()));
    assert_eq!(s.ingest.malformed, 1);
    assert_eq!(s.runs, 2);
    assert_eq!(s.elapsed(), 0);
}

#[test]
fn a_replica_restart_after_a_long_silence_is_a_new_run() {
    let mut s = apply_all(&[
        at(0, "0000", start("0000", &["0001"])),
        at(
            100,
            "0000",
            role(RoleName::Leader, 7, "0000", RoleReason::WonElection),
        ),
    ]);
    s.apply(&at(10_000, "0001", start("0001", &["0000"])));
    assert_eq!(s.runs, 2);
    assert_eq!(s.replicas["0000"].term, 0);
}

#[test]
fn rejected_lines_are_counted_by_reason_and_never_applied() {
    let text = [
        r#"{"v":1,"ts":1764032400000000,"src":"0000","kind":"start","id":"0000","peers":["0001"],"pid":1,"transport":"classic"}"#,
        r#"{"v":2,"ts":1764032400000000,"src":"0000","kind":"start"}"#,
        r#"{"v":1,"ts":1764032400000000,"src":"0000","kind":"teleport"}"#,
        "garbage",
        "",
        r#"{"v":1,"ts":1764032400000000,"src":"0000","kind":"commit","commit_index":"x"}"#,
    ]
    .join("\n");
    let s = State::replay(text.as_bytes()).unwrap();
    assert_eq!(s.ingest.events, 1);
    assert_eq!(s.ingest.bad_version, 1);
    assert_eq!(s.ingest.unknown_kind, 1);
    assert_eq!(s.ingest.malformed, 2);
    assert_eq!(s.replicas.len(), 2);
}

#[test]
fn sources_that_are_not_replica_ids_are_ignored_and_counted() {
    let mut s = State::new();
    s.apply(&at(0, "not-an-id", start("x", &[])));
    for i in 0..(MAX_REPLICAS + 5) {
        let id = format!("{i:04X}");
        s.apply(&at(1, &id, start(&id, &[])));
    }
    assert_eq!(s.replicas.len(), MAX_REPLICAS);
    assert_eq!(s.ingest.ignored, 6);
}

#[test]
fn memory_stays_bounded_under_endless_flapping_and_unanswered_requests() {
    let mut s = State::new();
    s.apply(&at(0, "sim", run_start(3)));
    let n = 3 * timeline::LANE_CAP as u64;
    for i in 0..n {
        let r = if i % 2 == 0 {
            RoleName::Candidate
        } else {
            RoleName::Follower
        };
        s.apply(&at(
            i,
            "0000",
            role(r, i, "FFFF", RoleReason::ElectionTimeout),
        ));
    }
    assert_eq!(s.timeline.lanes["0000"].segments.len(), timeline::LANE_CAP);
    assert!(s.timeline.markers.len() <= timeline::MARKER_CAP);
    for i in 0..(MAX_OUTSTANDING as u64 + 10) {
        s.apply(&at(
            n + i,
            "sim",
            Event::RequestSent {
                mid: format!("M{i}"),
                client: "0013".into(),
                op: Op::Get,
                key: "K".into(),
                target: "0000".into(),
            },
        ));
    }
    assert!(s.outstanding() <= MAX_OUTSTANDING);
    for i in 0..(traffic::MAX_TYPES as u64 + 10) {
        s.apply(&at(
            2 * n + i,
            "sim",
            traffic(
                "0000",
                vec![row("0000", "0001", &format!("t{i}"), Fate::Delivered, 1)],
            ),
        ));
    }
    assert_eq!(s.traffic.by_type.len(), traffic::MAX_TYPES + 1);
    assert_eq!(s.traffic.by_type[traffic::OTHER_TYPE].delivered, 10);
}

#[test]
fn the_simulators_rate_per_replica_covers_the_last_second() {
    let mut events = vec![at(0, "sim", run_start(3))];
    for w in 1..=20 {
        events.push(at(
            w * 100,
            "sim",
            traffic(
                "0000",
                vec![row("0000", "0001", "append", Fate::Delivered, 5)],
            ),
        ));
    }
    let s = apply_all(&events);
    let rate = s.replicas["0000"].rate(s.now(), true).unwrap();
    assert!((rate - 50.0).abs() < 0.1, "{rate}");
    assert_eq!(s.replicas["0001"].rate(s.now(), true), Some(0.0));
}

#[test]
fn at_the_end_of_a_run_replicas_stop_but_the_last_leader_is_still_shown() {
    let stop = || Event::Stop {
        reason: "closed".into(),
    };
    let mut s = apply_all(&[
        at(0, "0000", start("0000", &["0001"])),
        at(1, "0001", start("0001", &["0000"])),
        at(
            100,
            "0000",
            role(RoleName::Leader, 1, "0000", RoleReason::WonElection),
        ),
        at(200, "0001", stop()),
    ]);
    // One replica stopping mid-run is out.
    assert!(s.is_out(&s.replicas["0001"]) && !s.run_over());
    s.apply(&at(300, "0000", stop()));
    // Every replica stopped: the run is over and they show as they were.
    assert!(s.run_over());
    assert!(!s.is_out(&s.replicas["0001"]));
    assert_eq!(s.leader().unwrap().id, "0000");
}

#[test]
fn a_leader_that_stepped_down_is_not_shown_as_leader_whatever_the_simulator_believes() {
    let s = apply_all(&[
        at(0, "sim", run_start(3)),
        at(
            100,
            "0001",
            role(RoleName::Leader, 2, "0001", RoleReason::WonElection),
        ),
        at(150, "sim", traffic("0001", vec![])),
        // Check-quorum: it steps down; the simulator still routes to it.
        at(
            200,
            "0001",
            role(RoleName::Follower, 2, "FFFF", RoleReason::CheckQuorumLost),
        ),
        at(250, "sim", traffic("0001", vec![])),
    ]);
    assert_eq!(s.sim_leader, "0001");
    assert!(s.leader().is_none());
    // Without replica events the simulator's belief is all there is.
    let sim_only = apply_all(&[
        at(0, "sim", run_start(3)),
        at(150, "sim", traffic("0001", vec![])),
    ]);
    assert_eq!(sim_only.leader().unwrap().id, "0001");
}

fn start_pid(id: &str, peers: &[&str], pid: u32) -> Event {
    match start(id, peers) {
        Event::Start {
            id,
            peers,
            transport,
            config,
            tuned,
            ..
        } => Event::Start {
            id,
            peers,
            pid,
            transport,
            config,
            tuned,
        },
        _ => unreachable!(),
    }
}

fn kill(id: &str, leader: bool) -> Event {
    Event::Kill {
        replica: id.into(),
        leader,
    }
}

fn restart(id: &str) -> Event {
    Event::Restart { replica: id.into() }
}

/// The leader 0000 runs, is killed at 1 s and restarted at 2 s.
fn until_the_restart() -> Vec<DashEvent> {
    vec![
        at(0, "sim", run_start(3)),
        at(10, "0000", start_pid("0000", &["0001", "0002"], 100)),
        at(
            300,
            "0000",
            role(RoleName::Leader, 3, "0000", RoleReason::WonElection),
        ),
        at(
            310,
            "0000",
            Event::Vote {
                candidate: "0000".into(),
                term: 3,
                granted: true,
                pre: false,
            },
        ),
        at(
            500,
            "0000",
            status(RoleName::Leader, 3, "0000", 40, 39, 900),
        ),
        at(1_000, "sim", kill("0000", true)),
        at(
            1_001,
            "0000",
            Event::Stop {
                reason: "signal".into(),
            },
        ),
        at(2_000, "sim", restart("0000")),
    ]
}

#[test]
fn a_restarted_replica_is_alive_again_and_starts_over() {
    let mut s = apply_all(&until_the_restart());
    let r = &s.replicas["0000"];
    assert_eq!((r.life, r.restarts), (Life::Alive, 1));
    // Until its new process reports, nothing it said before holds.
    assert_eq!(
        (r.role, r.term, r.last_index, r.sent_total),
        (None, 0, 0, 0)
    );
    assert!(s.leader().is_none());
    assert!(!s.is_out(r));
    // Received late, from the killed process (sent before the restart's
    // halfway point, 1.5 s): ignored.
    s.apply(&at(
        1_200,
        "0000",
        status(RoleName::Leader, 3, "0000", 41, 40, 950),
    ));
    s.apply(&at(
        1_400,
        "0000",
        Event::Stop {
            reason: "signal".into(),
        },
    ));
    assert_eq!(s.replicas["0000"].life, Life::Alive);
    assert!(s.leader().is_none());
    // The new process: a new pid, recovered term and log, commit 0.
    s.apply(&at(
        2_003,
        "0000",
        start_pid("0000", &["0001", "0002"], 200),
    ));
    s.apply(&at(
        2_030,
        "0000",
        status(RoleName::Follower, 3, "FFFF", 40, 0, 5),
    ));
    let r = &s.replicas["0000"];
    assert_eq!(r.pid, Some(200));
    assert_eq!(r.role, Some(RoleName::Follower));
    assert_eq!((r.term, r.last_index, r.commit_index), (3, 40, 0));
    assert_eq!((r.sent_total, r.votes_granted), (5, 0));
    // Its lanes: dead from the kill, a follower again from the restart
    // (the simulator's view) or from its own start (its view).
    let lane = &s.timeline.lanes["0000"];
    assert_eq!(lane.at(T0 + 1_500 * MS).unwrap().role, LaneRole::Dead);
    assert_eq!(lane.current().unwrap().role, LaneRole::Follower);
    assert_eq!(lane.at(T0 + 2_003 * MS).unwrap().from, T0 + 2_003 * MS);
    let sim = &s.timeline.sim_lanes["0000"];
    assert_eq!(sim.at(T0 + 1_500 * MS).unwrap().role, LaneRole::Dead);
    assert_eq!(sim.at(T0 + 2_000 * MS).unwrap().role, LaneRole::Follower);
    // A restart marker, after the kill's.
    let marks: Vec<_> = s
        .timeline
        .markers
        .iter()
        .filter(|m| !matches!(m.kind, MarkerKind::Leader { .. }))
        .map(|m| (m.ts, m.kind.clone()))
        .collect();
    assert_eq!(
        marks,
        vec![
            (
                T0 + 1_000 * MS,
                MarkerKind::Kill {
                    replica: "0000".into(),
                    leader: true
                }
            ),
            (
                T0 + 2_000 * MS,
                MarkerKind::Restart {
                    replica: "0000".into()
                }
            ),
        ]
    );
    // Killed again, it is down again.
    s.apply(&at(3_000, "sim", kill("0000", false)));
    assert_eq!(s.replicas["0000"].life, Life::Killed);
}

/// The new process is often stamped before the simulator stamps its
/// restart, and its `start` may arrive first: the same result.
#[test]
fn a_restarted_replica_that_reports_before_the_restart_event() {
    let mut events = until_the_restart();
    let restart_ev = events.pop().unwrap();
    events.push(at(
        1_999,
        "0000",
        role(RoleName::Follower, 0, "FFFF", RoleReason::Start),
    ));
    events.push(at(1_999, "0000", start_pid("0000", &["0001", "0002"], 200)));
    events.push(restart_ev);
    events.push(at(
        2_030,
        "0000",
        status(RoleName::Follower, 3, "FFFF", 40, 0, 5),
    ));
    let s = apply_all(&events);
    let r = &s.replicas["0000"];
    assert_eq!((r.life, r.restarts, r.pid), (Life::Alive, 1, Some(200)));
    assert_eq!(
        (r.role, r.term, r.sent_total),
        (Some(RoleName::Follower), 3, 5)
    );
    assert_eq!(
        s.timeline.lanes["0000"].current().unwrap().role,
        LaneRole::Follower
    );
}

/// tests/fixtures/restart.jsonl, `run.py configs/ci/restart.json --seed
/// 1 --record`: 3 replicas; the leader 0000 killed at 3.0 s and restarted
/// at 4.0 s, then the follower 0001 killed at 4.5 s and restarted at
/// 5.0 s; 0000 leads again from 5.66 s.
#[test]
fn a_recorded_restart_replayed() {
    let text = include_str!("../../tests/fixtures/restart.jsonl");
    let events: Vec<DashEvent> = text.lines().map(|l| DashEvent::parse(l).unwrap()).collect();
    let t0 = events[0].ts;
    // In time order, as `kvdash replay` applies them.
    let mut sorted = events.clone();
    sorted.sort_by_key(|e| e.ts);
    let until = |secs: f64| {
        let mut s = State::new();
        for e in sorted.iter().filter(|e| e.ts <= t0 + (secs * 1e6) as u64) {
            s.apply(e);
        }
        s
    };
    let life = |s: &State, id: &str| (s.replicas[id].life, s.replicas[id].restarts);
    let s = until(3.5);
    assert_eq!(life(&s, "0000"), (Life::Killed, 0));
    let s = until(4.7);
    assert_eq!(life(&s, "0000"), (Life::Alive, 1));
    assert_eq!(life(&s, "0001"), (Life::Killed, 0));
    // Recovered from its data dir: its term, not its commit index.
    let r = &s.replicas["0000"];
    assert_eq!(
        (r.role, r.term, r.commit_index),
        (Some(RoleName::Follower), 1, 0)
    );
    assert!(r.last_index > 0);
    for s in [until(60.0), apply_all(&events)] {
        assert_eq!(life(&s, "0000").1, 1);
        assert_eq!(life(&s, "0001").1, 1);
        assert_eq!(s.leader().map(|r| r.id.as_str()), Some("0000"));
        assert_eq!(s.verdict.as_ref().unwrap().stats["restarted"], 2.0);
        let restarts = s
            .timeline
            .markers
            .iter()
            .filter(|m| matches!(m.kind, MarkerKind::Restart { .. }))
            .count();
        assert_eq!(restarts, 2);
    }
}
