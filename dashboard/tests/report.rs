//! `kvdash report`: a hand-made recording against figures computed by
//! hand, and a real run against run.py's own statistics.

use std::path::{Path, PathBuf};
use std::process::Command;

use dashboard::report::{self, compare, Percentiles};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn p(count: u64, p50: u64, p90: u64, p99: u64, max: u64) -> Percentiles {
    // p99.9 is max for every sample here (n < 1000).
    Percentiles {
        count,
        p50,
        p90,
        p99,
        p999: max,
        max,
    }
}

/// tests/fixtures/hand-made.jsonl: 3 replicas, 13 answers, a partition
/// from 1.0 s to 2.0 s, the leader 0000 killed at 3.0 s. Percentiles are
/// nearest rank: the ceil(q * n)-th smallest value (all values < 2048 µs,
/// where the histogram is exact).
#[test]
fn hand_made_recording_matches_hand_computed_figures() {
    let r = report::from_path(&fixture("hand-made.jsonl")).unwrap();
    // Lines: 31, of which one not JSON, one version 2, one unknown kind.
    assert_eq!(r.lines.lines, 31);
    assert_eq!(r.lines.events, 28);
    assert_eq!(
        (
            r.lines.malformed,
            r.lines.other_version,
            r.lines.unknown_kind
        ),
        (1, 1, 1)
    );
    assert_eq!(r.duration_us, 4_000_000);
    assert!(r.verdict.as_ref().unwrap().passed);

    // All answers sorted: 100 120 200 250 300 400 500 600 700 800 900
    // 1000 1500; run.py's median is element 13 / 2 = 6: 500.
    assert_eq!(r.median_us, Some(500));
    // n=13: p50 7th, p90 ceil(11.7)=12th, p99 13th.
    assert_eq!(r.latency.all, p(13, 500, 1000, 1500, 1500));
    // ok gets 100 120 200 250 300 400: p50 3rd, p90 ceil(5.4)=6th.
    assert_eq!(r.latency.get, p(6, 200, 400, 400, 400));
    // ok puts 500 600 700 800 900: p50 ceil(2.5)=3rd, p90 ceil(4.5)=5th.
    assert_eq!(r.latency.put, p(5, 700, 900, 900, 900));
    // redirect 1000 and fail 1500: p50 1st, p90 ceil(1.8)=2nd.
    assert_eq!(r.latency.redirected, p(2, 1000, 1500, 1500, 1500));

    let names: Vec<&str> = r.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "before faults",
            "partition 1",
            "after heal 1",
            "after kill 1 (0000)"
        ]
    );
    let bounds: Vec<(u64, u64)> = r.phases.iter().map(|p| (p.from_us, p.to_us)).collect();
    assert_eq!(
        bounds,
        [
            (0, 1_000_000),
            (1_000_000, 2_000_000),
            (2_000_000, 3_000_000),
            (3_000_000, 4_000_000)
        ]
    );
    // Before: 100 200 300 400 | 500 600 | 1000.
    let b = &r.phases[0].latency;
    assert_eq!(b.all, p(7, 400, 1000, 1000, 1000));
    assert_eq!(b.get, p(4, 200, 400, 400, 400));
    assert_eq!(b.put, p(2, 500, 600, 600, 600));
    assert_eq!(b.redirected, p(1, 1000, 1000, 1000, 1000));
    // Partition: puts 700 900, a failed get 1500.
    let d = &r.phases[1].latency;
    assert_eq!(d.all, p(3, 900, 1500, 1500, 1500));
    assert_eq!(d.get, Percentiles::default());
    assert_eq!(d.put, p(2, 700, 900, 900, 900));
    assert_eq!(d.redirected, p(1, 1500, 1500, 1500, 1500));
    assert_eq!(r.phases[2].latency.all, p(1, 250, 250, 250, 250));
    // After the kill: put 800, get 120.
    let k = &r.phases[3].latency;
    assert_eq!(k.all, p(2, 120, 800, 800, 800));
    assert_eq!(k.get, p(1, 120, 120, 120, 120));
    assert_eq!(k.put, p(1, 800, 800, 800, 800));

    // Messages: windows of 2 + 2 + 6 + 2 + 3 between replicas; the
    // client row does not count.
    let m = &r.messages;
    assert_eq!(m.total_msgs, 15);
    let by_type: Vec<(&str, u64)> = m.by_type.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(by_type, [("append", 7), ("vote", 5), ("voted", 3)]);
    let by_rep: Vec<(&str, u64)> = m.by_replica.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    assert_eq!(by_rep, [("0000", 7), ("0001", 5), ("0002", 3)]);
    // 1 dropped + 3 partitioned + 1 to the dead 0000.
    assert_eq!(m.lost, 5);
    assert_eq!(m.to_clients, 1);
    // 15 messages / 5 ok puts.
    assert_eq!(m.per_committed_put, Some(3.0));

    // Leaderless 0 to 0.2 s (first leader 0000), 3.0 s (kill) to 3.4 s
    // (0001 named).
    let e = &r.elections;
    assert_eq!(e.count, 2);
    let w: Vec<(u64, Option<u64>, u64)> = e
        .windows
        .iter()
        .map(|w| (w.from_us, w.to_us, w.duration_us))
        .collect();
    assert_eq!(
        w,
        [
            (0, Some(200_000), 200_000),
            (3_000_000, Some(3_400_000), 400_000)
        ]
    );
    assert_eq!(e.leaderless_us, 600_000);
    assert_eq!(e.leader_changes, 1);
    assert_eq!(e.leaders, ["0000", "0001"]);
    let re = r.replica_elections.as_ref().unwrap();
    assert_eq!((re.started, re.won, re.leader_changes), (1, 1, 0));

    assert_eq!((r.requests.redirects, r.requests.fails), (2, 1));
    assert_eq!((r.requests.ok_get, r.requests.ok_put), (6, 5));
    assert_eq!(r.events_dropped_sim, Some(2));
    assert_eq!(r.events_dropped_replicas, 3);
}

#[test]
fn text_and_json_hold_the_figures() {
    let r = report::from_path(&fixture("hand-made.jsonl")).unwrap();
    let text = report::text::render(&r);
    for needle in [
        "median (run.py's definition): 0.500 ms",
        "phase partition 1",
        "phase after kill 1 (0000)",
        "total 15 (lost 5), per committed put 3.00",
        "elections (leaderless windows) 2",
        "events dropped: run.py 2, replicas 3",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["messages"]["total_msgs"], 15);
    assert_eq!(json["median_us"], 500);
    assert_eq!(json["phases"][1]["latency"]["put"]["p90"], 900);
    assert_eq!(json["elections"]["windows"][1]["duration_us"], 400_000);
}

#[test]
fn compare_shows_the_relative_change() {
    let a = report::from_path(&fixture("hand-made.jsonl")).unwrap();
    let mut b = a.clone();
    b.messages.total_msgs = 30;
    b.median_us = Some(250);
    let rows = compare::compare(&a, &b);
    let row = |n: &str| rows.iter().find(|r| r.figure == n).unwrap().clone();
    assert_eq!(row("total_msgs").change_pct, Some(100.0));
    assert_eq!(row("median_latency_us").change_pct, Some(-50.0));
    assert_eq!(row("elections").change_pct, Some(0.0));
    let t = compare::text("a.jsonl", "b.jsonl", &rows);
    assert!(t.contains("+100.0%"), "{t}");
    assert!(t.contains("-50.0%"), "{t}");
}

/// A real run: the report's total and median agree with run.py's JSON.
#[test]
fn report_agrees_with_run_py_statistics() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    if !root.join("3700kvstore").exists() {
        eprintln!("skipped: ./3700kvstore is not built (make build)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kvdash-report-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rec, json) = (dir.join("r.jsonl"), dir.join("r.json"));
    let out = Command::new("./run.py")
        .current_dir(root)
        .args(["configs/ci/simple.json", "-s", "--seed", "5", "--record"])
        .arg(&rec)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run.py runs");
    assert!(
        out.status.code().is_some() && json.exists(),
        "run.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report::from_path(&rec).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        r.messages.total_msgs,
        j["counters"]["total_msgs"].as_u64().unwrap()
    );
    let median_us = j["latency"]["median"].as_f64().unwrap() * 1e6;
    let ours = r.median_us.expect("answers recorded") as f64;
    assert!(
        (ours - median_us).abs() <= 1.0,
        "report median {ours} µs, run.py {median_us} µs"
    );
    assert_eq!(r.latency.all.count, j["latency"]["count"].as_u64().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
}

/// tests/fixtures/restart.jsonl (`run.py configs/ci/restart.json --seed
/// 1 --record`): the leader 0000 killed at 3.014747 s and restarted at
/// 4.015581 s, the follower 0001 killed at 4.514522 s and restarted at
/// 5.019534 s. Each restart opens a phase and is listed with its down
/// time; the counts are run.py's own.
#[test]
fn restarts_are_faults_counted_as_run_py_counts_them() {
    let r = report::from_path(&fixture("restart.jsonl")).unwrap();
    let stats = &r.verdict.as_ref().unwrap().stats;
    let f = &r.faults;
    assert_eq!((f.kills, f.restarts, f.partitions, f.heals), (2, 2, 0, 0));
    assert_eq!(f.restarts as f64, stats["restarted"]);
    assert_eq!(f.kills as f64, stats["killed"]);
    assert_eq!(stats["restart_skipped"], 0.0);
    let phases: Vec<(&str, u64, u64)> = r
        .phases
        .iter()
        .map(|p| (p.name.as_str(), p.from_us, p.to_us))
        .collect();
    assert_eq!(
        phases,
        [
            ("before faults", 0, 3_014_747),
            ("after kill 1 (0000)", 3_014_747, 4_015_581),
            ("after restart 1 (0000)", 4_015_581, 4_514_522),
            ("after kill 2 (0001)", 4_514_522, 5_019_534),
            ("after restart 2 (0001)", 5_019_534, 7_037_262),
        ]
    );
    // Every answer is in one phase.
    let in_phases: u64 = r.phases.iter().map(|p| p.latency.all.count).sum();
    assert_eq!(in_phases, r.latency.all.count);
    let listed: Vec<(u64, &str, Option<&str>, Option<u64>)> = f
        .list
        .iter()
        .map(|x| (x.at_us, x.kind, x.replica.as_deref(), x.down_us))
        .collect();
    assert_eq!(
        listed,
        [
            (3_014_747, "kill", Some("0000"), None),
            (4_015_581, "restart", Some("0000"), Some(1_000_834)),
            (4_514_522, "kill", Some("0001"), None),
            (5_019_534, "restart", Some("0001"), Some(505_012)),
        ]
    );
    assert_eq!(f.list[0].leader, Some(true));
    let text = report::text::render(&r);
    for needle in [
        "## Faults\n  kills 2, restarts 2 (run.py: killed 2, restarted 2), partitions 0, heals 0\n",
        "       3.015 s  kill 0000 (leader)\n       4.016 s  restart 0000, down 1.001 s\n",
        "       5.020 s  restart 0001, down 0.505 s\n",
        "phase after restart 2 (0001) (5.02 s to 7.04 s)",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let json: serde_json::Value = serde_json::to_value(&r).unwrap();
    assert_eq!(json["faults"]["restarts"], 2);
    assert_eq!(json["faults"]["list"][1]["kind"], "restart");
    assert_eq!(json["faults"]["list"][1]["down_us"], 1_000_834);
    // The plots mark restarts apart from kills.
    let dir = std::env::temp_dir().join(format!("kvdash-restart-plots-{}", std::process::id()));
    report::plots::write_all(&r, &dir).unwrap();
    for file in ["latency-over-time.svg", "message-rate.svg"] {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        let texts = svg_texts(&svg);
        for l in ["kill", "restart"] {
            assert!(
                texts.iter().any(|t| t == l),
                "{file}: no {l:?} in {texts:?}"
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A real run with restarts: the report's count is run.py's.
#[test]
fn report_counts_restarts_as_run_py_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    if !root.join("3700kvstore").exists() {
        eprintln!("skipped: ./3700kvstore is not built (make build)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kvdash-report-restart-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (rec, json) = (dir.join("r.jsonl"), dir.join("r.json"));
    // In a folder of its own: the replicas' sockets go to the working
    // folder, which another run (the test above) may be using.
    let out = Command::new(root.join("run.py"))
        .current_dir(&dir)
        .arg(root.join("configs/ci/restart.json"))
        .arg("-r")
        .arg(root.join("3700kvstore"))
        .args(["-s", "--seed", "1", "--record"])
        .arg(&rec)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("run.py runs");
    assert!(
        out.status.code().is_some() && json.exists(),
        "run.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r = report::from_path(&rec).unwrap();
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let c = &j["counters"];
    assert_eq!(r.faults.restarts, c["restarted"].as_u64().unwrap());
    assert_eq!(r.faults.kills, c["killed"].as_u64().unwrap());
    assert!(r.faults.restarts > 0, "configs/ci/restart.json restarts");
    let restarts = r
        .phases
        .iter()
        .filter(|p| p.name.starts_with("after restart "))
        .count();
    assert_eq!(restarts as u64, r.faults.restarts);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The text of every `<text>` element of an SVG document.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = &t[t.find('>')? + 1..];
            Some(body[..body.find("</text>")?].trim().to_string())
        })
        .collect()
}

/// Checks that `svg` is one `<svg>` element whose tags all balance.
fn assert_balanced_svg(name: &str, svg: &str) {
    let svg = svg.trim();
    assert!(svg.starts_with("<svg"), "{name}: does not start with <svg");
    assert!(svg.ends_with("</svg>"), "{name}: does not end with </svg>");
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(i) = rest.find('<') {
        let end = rest[i..].find('>').map(|j| i + j).expect("tag closed");
        let tag = &rest[i + 1..end];
        if let Some(closing) = tag.strip_prefix('/') {
            assert_eq!(
                stack.pop().as_deref(),
                Some(closing.trim()),
                "{name}: unbalanced"
            );
        } else if !tag.ends_with('/') && !tag.starts_with('?') && !tag.starts_with('!') {
            let tname = tag.split_whitespace().next().unwrap_or("").to_string();
            stack.push(tname);
        }
        rest = &rest[end + 1..];
    }
    assert!(stack.is_empty(), "{name}: unclosed {stack:?}");
}

#[test]
fn plots_are_svg_files_holding_the_expected_series() {
    let r = report::from_path(&fixture("hand-made.jsonl")).unwrap();
    let dir = std::env::temp_dir().join(format!("kvdash-plots-{}", std::process::id()));
    let written = report::plots::write_all(&r, &dir).unwrap();
    assert_eq!(written.len(), report::plots::FILES.len());
    let expect: [(&str, &[&str]); 4] = [
        ("latency-histogram.svg", &["get", "put", "redirected"]),
        (
            "latency-over-time.svg",
            &["get", "put", "redirected", "partition", "kill"],
        ),
        (
            "message-rate.svg",
            &["append", "vote", "voted", "partition", "kill"],
        ),
        (
            "leader-timeline.svg",
            &["0000", "0001", "0002", "none", "leader", "no leader"],
        ),
    ];
    for (file, labels) in expect {
        let svg = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_balanced_svg(file, &svg);
        let texts = svg_texts(&svg);
        for l in labels {
            assert!(
                texts.iter().any(|t| t == l),
                "{file}: no label {l:?} in {texts:?}"
            );
        }
    }
    // One line per message type (the only 2-px polylines of more than
    // two points: axes and legend marks have two), a point per second.
    let rate = std::fs::read_to_string(dir.join("message-rate.svg")).unwrap();
    let lines: Vec<usize> = rate
        .lines()
        .filter(|l| l.starts_with("<polyline") && l.contains("stroke-width=\"2\""))
        .map(|l| {
            let pts = l.split("points=\"").nth(1).unwrap();
            pts[..pts.find('"').unwrap()].split_whitespace().count()
        })
        .filter(|n| *n > 2)
        .collect();
    assert_eq!(lines, [4, 4, 4], "append, vote, voted over 4 seconds");
    // One dot per answer (13), plus one legend dot per category.
    let lot = std::fs::read_to_string(dir.join("latency-over-time.svg")).unwrap();
    assert_eq!(lot.matches("<circle").count(), 13 + 3);
    let _ = std::fs::remove_dir_all(&dir);
}

/// A recording built to cost memory: every fault opens a phase (half a MiB
/// of histograms each) and every traffic type gets a per-second series
/// (up to 86,400 counters), here a type per row at the far end of a day.
fn crafted_recording(faults: usize, types: usize) -> String {
    let mut s = String::new();
    s.push_str(concat!(
        r#"{"v":1,"ts":1000000,"src":"sim","kind":"run_start","config":"crafted","seed":1,"#,
        r#""replicas":["0000","0001","0002"],"clients":["0015"],"transport":"classic","lifetime":9.0}"#,
        "\n"
    ));
    for i in 0..faults {
        let ts = 2_000_000 + i;
        let kind = match i % 3 {
            0 => r#""kind":"kill","replica":"0001","leader":false"#,
            1 => r#""kind":"partition","majority":["0000","0002"],"minority":["0001"],"hard":true"#,
            _ => r#""kind":"partition_healed""#,
        };
        s.push_str(&format!("{{\"v\":1,\"ts\":{ts},\"src\":\"sim\",{kind}}}\n"));
    }
    for i in 0..types {
        let ts = 1_000_000 + 86_000_000_000 + i as u64;
        s.push_str(&format!(
            concat!(
                r#"{{"v":1,"ts":{},"src":"sim","kind":"traffic","window_us":100000,"leader":"0000","#,
                r#""rows":[{{"src":"0000","dst":"0001","type":"t{}","fate":"delivered","count":1}}]}}"#,
                "\n"
            ),
            ts, i
        ));
    }
    s
}

#[test]
fn a_crafted_recording_keeps_phases_and_traffic_types_bounded() {
    let r = report::from_reader(crafted_recording(3_000, 3_000).as_bytes()).unwrap();
    assert_eq!(
        r.lines.malformed, 0,
        "the crafted lines parse: {:?}",
        r.lines
    );
    assert_eq!(r.phases.len(), report::MAX_PHASES);
    let last = &r.phases[report::MAX_PHASES - 1].name;
    assert!(
        last.ends_with(&format!(
            "(and {} later faults)",
            3_000 + 1 - report::MAX_PHASES
        )),
        "{last}"
    );
    assert_eq!(r.messages.by_type.len(), report::MAX_TRAFFIC_TYPES + 1);
    assert_eq!(
        r.messages.by_type[report::OTHER_TRAFFIC],
        3_000 - report::MAX_TRAFFIC_TYPES as u64
    );
    assert_eq!(r.series.rate.len(), report::MAX_TRAFFIC_TYPES + 1);
    assert_eq!(r.messages.total_msgs, 3_000);
}

/// Peak resident memory of a finished child, in KiB.
fn wait_max_rss_kib(child: std::process::Child) -> (i32, i64) {
    let mut status = 0;
    // SAFETY: rusage is plain data, and the pid is our own unreaped child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = child.id() as libc::pid_t;
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    (status, usage.ru_maxrss)
}

#[test]
fn kvdash_report_reads_a_crafted_recording_within_a_memory_bound() {
    // 20,000 faults and 20,000 traffic types in 4 MB: unbounded, that is
    // 10 GiB of phase histograms and 14 GiB of rate series.
    const BOUND_KIB: i64 = 200 * 1024;
    let dir = std::env::temp_dir().join(format!("kvdash-crafted-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("crafted.jsonl");
    std::fs::write(&path, crafted_recording(20_000, 20_000)).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_kvdash"))
        .arg("report")
        .arg(&path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (status, rss) = wait_max_rss_kib(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(status, 0, "kvdash report exits 0");
    println!("kvdash report on a 4 MB crafted recording: peak RSS {rss} KiB");
    assert!(rss < BOUND_KIB, "peak RSS {rss} KiB over {BOUND_KIB} KiB");
}
