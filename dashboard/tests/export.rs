//! `kvdash export --format chrome-trace`: every fixture exported and the
//! output checked field by field against the Trace Event Format (the
//! object form, `X`, `i`, `C` and `M` events), then against the
//! recording: kills, role spans, requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use dashboard::export::{self, Format};
use serde_json::Value;
use shared::events::{DashEvent, Event, SIM_SOURCE};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    v.sort();
    assert!(v.len() >= 3, "{v:?}");
    v
}

fn export_text(text: &str) -> Value {
    let x = export::from_reader(text.as_bytes(), Format::ChromeTrace).unwrap();
    serde_json::from_str(&x.text).unwrap()
}

fn export_path(path: &Path) -> Value {
    let x = export::from_path(path, Format::ChromeTrace).unwrap();
    serde_json::from_str(&x.text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn events(doc: &Value) -> &Vec<Value> {
    doc["traceEvents"]
        .as_array()
        .expect("traceEvents is an array")
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a u64: {v}"))
}

/// A span: ts, dur, name.
type Span = (u64, u64, String);

/// The spans of each (pid, tid), in order.
fn spans(doc: &Value) -> BTreeMap<(u64, u64), Vec<Span>> {
    let mut by: BTreeMap<(u64, u64), Vec<Span>> = BTreeMap::new();
    for e in events(doc).iter().filter(|e| e["ph"] == "X") {
        by.entry((u(&e["pid"]), u(&e["tid"]))).or_default().push((
            u(&e["ts"]),
            u(&e["dur"]),
            e["name"].as_str().unwrap().to_string(),
        ));
    }
    for v in by.values_mut() {
        v.sort();
    }
    by
}

/// The pid and tid a process or thread is named with.
fn named(doc: &Value, what: &str) -> BTreeMap<(u64, u64), String> {
    events(doc)
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == what)
        .map(|e| {
            let name = e["args"]["name"].as_str().expect("args.name").to_string();
            ((u(&e["pid"]), u(&e["tid"])), name)
        })
        .collect()
}

/// The document against the Trace Event Format, field by field.
fn assert_valid(what: &str, doc: &Value) {
    assert!(doc.is_object(), "{what}: the object form");
    assert_eq!(doc["displayTimeUnit"], "ms", "{what}");
    assert!(doc["otherData"].is_object(), "{what}");
    let evs = events(doc);
    assert!(!evs.is_empty(), "{what}: no events");
    for e in evs {
        let ctx = format!("{what}: {e}");
        assert!(e["name"].is_string(), "{ctx}: name");
        let ts = e["ts"].as_f64().expect("ts is a number");
        assert!(ts >= 0.0, "{ctx}: ts < 0");
        assert!(e["pid"].is_u64(), "{ctx}: pid");
        assert!(e["tid"].is_u64(), "{ctx}: tid");
        match e["ph"].as_str().expect("ph is a string") {
            "X" => {
                let dur = e["dur"].as_f64().expect("X has a numeric dur");
                assert!(dur >= 0.0, "{ctx}: dur < 0");
                assert!(e["args"].is_object(), "{ctx}: args");
            }
            "i" => {
                let s = e["s"].as_str().expect("i has a scope");
                assert!(["g", "p", "t"].contains(&s), "{ctx}: scope {s}");
            }
            "C" => {
                let args = e["args"].as_object().expect("C has args");
                assert!(!args.is_empty(), "{ctx}: no series");
                assert!(args.values().all(Value::is_number), "{ctx}: non-numeric");
            }
            "M" => {
                let name = e["name"].as_str().unwrap();
                match name {
                    "process_name" | "thread_name" => {
                        assert!(e["args"]["name"].is_string(), "{ctx}")
                    }
                    "process_sort_index" | "thread_sort_index" => {
                        assert!(e["args"]["sort_index"].is_i64(), "{ctx}")
                    }
                    other => panic!("{ctx}: metadata {other}"),
                }
            }
            other => panic!("{ctx}: phase {other}"),
        }
    }
    // Every process and thread used is named.
    let processes = named(doc, "process_name");
    let threads = named(doc, "thread_name");
    for e in evs.iter().filter(|e| e["ph"] != "M") {
        let (pid, tid) = (u(&e["pid"]), u(&e["tid"]));
        assert!(
            processes.contains_key(&(pid, 0)),
            "{what}: pid {pid} unnamed"
        );
        assert!(
            threads.contains_key(&(pid, tid)),
            "{what}: {pid}/{tid} unnamed"
        );
    }
    // Spans on one thread never overlap.
    for (track, v) in spans(doc) {
        for w in v.windows(2) {
            assert!(
                w[0].0 + w[0].1 <= w[1].0,
                "{what}: overlap on {track:?}: {:?} {:?}",
                w[0],
                w[1]
            );
        }
    }
}

/// The recording's events, parsed by hand (the fixtures hold one run).
fn recorded(path: &Path) -> Vec<DashEvent> {
    let bytes = std::fs::read(path).unwrap();
    String::from_utf8_lossy(&bytes)
        .lines()
        .filter_map(|l| DashEvent::parse(l.trim()).ok())
        .collect()
}

#[test]
fn every_fixture_exports_a_valid_trace() {
    for path in fixtures() {
        let doc = export_path(&path);
        assert_valid(&path.display().to_string(), &doc);
    }
}

#[test]
fn kill_instants_match_the_kills_recorded() {
    for path in fixtures() {
        let doc = export_path(&path);
        assert_eq!(doc["otherData"]["runs_in_recording"], 1);
        let kills = recorded(&path)
            .iter()
            .filter(|e| e.src == SIM_SOURCE && matches!(e.event, Event::Kill { .. }))
            .count();
        let instants: Vec<&Value> = events(&doc)
            .iter()
            .filter(|e| e["ph"] == "i" && e["cat"] == "kill")
            .collect();
        assert_eq!(instants.len(), kills, "{}", path.display());
        for i in instants {
            assert_eq!(i["s"], "g");
            let id = i["args"]["replica"].as_str().unwrap();
            assert_eq!(i["name"], format!("kill {id}"));
        }
    }
}

/// A replica's role spans run without a gap from its first role (or
/// status, or kill) to its stop, or to the end once killed or never
/// stopped.
#[test]
fn role_spans_cover_each_replicas_life() {
    for name in [
        "kill-partition.jsonl",
        "hand-made.jsonl",
        "fuzz-overlapping-leaderless.jsonl",
    ] {
        let path = fixture(name);
        let doc = export_path(&path);
        let origin = u(&doc["otherData"]["start_unix_us"]);
        let end = u(&doc["otherData"]["duration_us"]);
        let rec = recorded(&path);
        let threads = named(&doc, "thread_name");
        let spans = spans(&doc);
        let mut checked = 0;
        for ((pid, tid), id) in threads.iter().filter(|((pid, _), _)| *pid == 1) {
            let mine = |e: &&DashEvent| match &e.event {
                Event::Kill { replica, .. } => replica == id,
                Event::Role { .. } | Event::Status(_) | Event::Stop { .. } => e.src == *id,
                _ => false,
            };
            let life: Vec<&DashEvent> = rec.iter().filter(mine).collect();
            let Some(first) = life
                .iter()
                .filter(|e| !matches!(e.event, Event::Stop { .. }))
                .map(|e| e.ts)
                .min()
            else {
                assert!(!spans.contains_key(&(*pid, *tid)), "{name} {id}");
                continue;
            };
            let killed = life.iter().any(|e| matches!(e.event, Event::Kill { .. }));
            let stop = life
                .iter()
                .filter(|e| matches!(e.event, Event::Stop { .. }))
                .map(|e| e.ts - origin)
                .max();
            let last = if killed { end } else { stop.unwrap_or(end) };
            let v = &spans[&(*pid, *tid)];
            assert_eq!(v[0].0, first - origin, "{name} {id}: starts late");
            for w in v.windows(2) {
                assert_eq!(w[0].0 + w[0].1, w[1].0, "{name} {id}: a gap: {w:?}");
            }
            let (ts, dur, role) = v.last().unwrap();
            assert_eq!(ts + dur, last, "{name} {id}: ends at {role}");
            assert_eq!(role == "killed", killed, "{name} {id}");
            for (_, _, role) in v {
                assert!(
                    ["follower", "pre_candidate", "candidate", "leader", "killed"]
                        .contains(&role.as_str()),
                    "{name} {id}: {role}"
                );
            }
            checked += 1;
        }
        assert!(checked >= 2, "{name}: {checked} replicas checked");
    }
}

#[test]
fn the_kill_partition_run_in_detail() {
    let doc = export_path(&fixture("kill-partition.jsonl"));
    let evs = events(&doc);
    let threads = named(&doc, "thread_name");
    let processes: BTreeSet<String> = named(&doc, "process_name").into_values().collect();
    assert_eq!(
        processes,
        ["clients", "replicas", "simulator"]
            .map(String::from)
            .into()
    );
    // Five replicas, in order, as threads of process 1.
    let replicas: Vec<&str> = (1..=5).map(|t| threads[&(1, t)].as_str()).collect();
    assert_eq!(replicas, ["0000", "0001", "0002", "0003", "0004"]);
    // The leader of term 1 (0004) was killed: its last span is "killed".
    let spans = spans(&doc);
    let names: Vec<&str> = spans[&(1, 5)].iter().map(|s| s.2.as_str()).collect();
    assert_eq!(names.last(), Some(&"killed"));
    assert!(names.contains(&"leader"));
    // Every request answered is a span: 89 answered, none left open.
    let requests: Vec<&Value> = evs.iter().filter(|e| e["cat"] == "request").collect();
    assert_eq!(requests.len(), 89);
    for r in &requests {
        assert_eq!(r["pid"], 2);
        assert!(["get", "put"].contains(&r["name"].as_str().unwrap()));
        let a = &r["args"];
        assert!(a["mid"].is_string() && a["key"].is_string(), "{r}");
        assert!(["ok", "redirect", "fail"].contains(&a["outcome"].as_str().unwrap()));
        assert_eq!(r["dur"], a["latency_us"], "{r}");
    }
    // The faults and the verdict.
    let instants: Vec<&str> = evs
        .iter()
        .filter(|e| e["ph"] == "i")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        instants,
        [
            "run start",
            "partition",
            "partition healed",
            "kill 0004",
            "run end",
            "verdict: pass"
        ]
    );
    let partitions: Vec<_> = spans[&(3, 2)].iter().collect();
    assert_eq!(partitions.len(), 1);
    // Counters: commit index per replica, messages per 100 ms summing to
    // run.py's total_msgs.
    let commit: BTreeSet<&str> = evs
        .iter()
        .filter(|e| e["ph"] == "C" && e["cat"] == "commit")
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(commit.len(), 5, "{commit:?}");
    let msgs: u64 = evs
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"] == "messages per 100 ms")
        .map(|e| u(&e["args"]["delivered"]) + u(&e["args"]["lost"]))
        .sum();
    let total = dashboard::report::from_path(&fixture("kill-partition.jsonl"))
        .unwrap()
        .messages
        .total_msgs;
    assert_eq!(msgs, total);
    // Sorted by time after the metadata.
    let ts: Vec<u64> = evs
        .iter()
        .filter(|e| e["ph"] != "M")
        .map(|e| u(&e["ts"]))
        .collect();
    assert!(ts.windows(2).all(|w| w[0] <= w[1]));
}

/// tests/fixtures/restart.jsonl: 0000 (the leader) killed and restarted,
/// then 0001. A restart is an instant on the simulator's track, and the
/// replica's `killed` span ends there (or at its new process's `start`,
/// stamped a moment before); its roles follow.
#[test]
fn a_restart_ends_the_killed_span() {
    let path = fixture("restart.jsonl");
    let doc = export_path(&path);
    let origin = u(&doc["otherData"]["start_unix_us"]);
    let evs = events(&doc);
    let instants: Vec<(&str, u64)> = evs
        .iter()
        .filter(|e| e["ph"] == "i" && (e["cat"] == "kill" || e["cat"] == "restart"))
        .map(|e| (e["name"].as_str().unwrap(), u(&e["ts"])))
        .collect();
    assert_eq!(
        instants,
        [
            ("kill 0000", 3_014_747),
            ("restart 0000", 4_015_581),
            ("kill 0001", 4_514_522),
            ("restart 0001", 5_019_534)
        ]
    );
    let restart = evs.iter().find(|e| e["name"] == "restart 0000").unwrap();
    assert_eq!(restart["s"], "g");
    assert_eq!(
        (restart["pid"].as_u64(), restart["tid"].as_u64()),
        (Some(3), Some(1))
    );
    assert_eq!(restart["args"]["replica"], "0000");
    assert_eq!(restart["args"]["down_ms"], 1000.834);
    let rec = recorded(&path);
    let threads = named(&doc, "thread_name");
    let spans = spans(&doc);
    for (id, restart_ts) in [("0000", 4_015_581), ("0001", 5_019_534)] {
        let tid = threads
            .iter()
            .find(|(k, v)| k.0 == 1 && v.as_str() == id)
            .map(|(k, _)| k.1)
            .unwrap();
        // Its new process's start.
        let started = rec
            .iter()
            .filter(|e| e.src == id && matches!(e.event, Event::Start { .. }))
            .map(|e| e.ts - origin)
            .max()
            .unwrap();
        let v = &spans[&(1, tid)];
        let killed: Vec<&Span> = v.iter().filter(|s| s.2 == "killed").collect();
        assert_eq!(killed.len(), 1, "{id}: {v:?}");
        let end = killed[0].0 + killed[0].1;
        assert_eq!(end, restart_ts.min(started), "{id}: {v:?}");
        assert!(
            restart_ts - end < 1_000,
            "{id}: ends {end}, restart {restart_ts}"
        );
        // It runs again: roles after the killed span, to the end.
        let after: Vec<&str> = v
            .iter()
            .filter(|s| s.0 >= end)
            .map(|s| s.2.as_str())
            .collect();
        assert!(
            !after.is_empty() && !after.contains(&"killed"),
            "{id}: {v:?}"
        );
        // Until it stops at the run's end.
        let stop = rec
            .iter()
            .filter(|e| e.src == id && matches!(e.event, Event::Stop { .. }))
            .map(|e| e.ts - origin)
            .max()
            .unwrap();
        assert!(stop > restart_ts);
        let last = v.last().unwrap();
        assert_eq!(last.0 + last.1, stop, "{id}");
    }
    // 0000 leads again after its restart.
    let tid0 = threads
        .iter()
        .find(|(k, v)| k.0 == 1 && *v == "0000")
        .unwrap()
        .0
         .1;
    assert!(spans[&(1, tid0)]
        .iter()
        .any(|s| s.2 == "leader" && s.0 > 4_015_581));
}

#[test]
fn of_two_runs_in_one_recording_the_last_is_exported() {
    let one = std::fs::read_to_string(fixture("hand-made.jsonl")).unwrap();
    let single = export_text(&one);
    let twice = export_text(&format!("{one}{one}"));
    assert_valid("twice", &twice);
    assert_eq!(twice["otherData"]["runs_in_recording"], 2);
    assert_eq!(events(&twice).len(), events(&single).len());
}

/// Replicas alone (the course's simulator): requests from the replicas'
/// answers, the message rate from their status counts.
#[test]
fn a_recording_of_replica_events_alone() {
    let t0 = 1_800_000_000_000_000u64;
    let status = |ts: u64, append: u64| {
        format!(
            r#"{{"v":1,"ts":{ts},"src":"0000","kind":"status","role":"leader","term":1,"leader":"0000","last_index":3,"last_term":1,"commit_index":2,"applied_index":2,"sent":{{"append":{append},"ok":7}},"received":{{}},"malformed":0,"events_dropped":0}}"#,
            ts = t0 + ts
        )
    };
    let lines = [
        format!(
            r#"{{"v":1,"ts":{t0},"src":"0000","kind":"start","id":"0000","peers":["0001"],"pid":1,"transport":"classic"}}"#
        ),
        format!(
            r#"{{"v":1,"ts":{},"src":"0000","kind":"role","role":"leader","term":1,"leader":"0000","reason":"won_election"}}"#,
            t0 + 10
        ),
        status(100_000, 0),
        status(300_000, 40),
        format!(
            r#"{{"v":1,"ts":{},"src":"0000","kind":"client_request","mid":"M1","client":"0015","op":"put"}}"#,
            t0 + 400_000
        ),
        format!(
            r#"{{"v":1,"ts":{},"src":"0000","kind":"client_answer","mid":"M1","client":"0015","op":"put","outcome":"ok","latency_us":700}}"#,
            t0 + 400_700
        ),
        format!(
            r#"{{"v":1,"ts":{},"src":"0000","kind":"stop","reason":"signal"}}"#,
            t0 + 500_000
        ),
    ];
    let doc = export_text(&lines.join("\n"));
    assert_valid("replica events", &doc);
    let evs = events(&doc);
    let rate: Vec<&Value> = evs
        .iter()
        .filter(|e| e["name"] == "messages sent per 100 ms 0000")
        .collect();
    assert_eq!(rate.len(), 1);
    // 40 appends in 200 ms (the 7 client answers left out).
    assert_eq!(rate[0]["args"]["sent"], 20.0);
    assert_eq!(rate[0]["ts"], 100_000);
    let req: Vec<&Value> = evs.iter().filter(|e| e["cat"] == "request").collect();
    assert_eq!(req.len(), 1);
    assert_eq!(
        (req[0]["ts"].clone(), req[0]["dur"].clone()),
        (400_000.into(), 700.into())
    );
    assert_eq!(
        named(&doc, "process_name")[&(2, 0)],
        "clients (replica-side latency)"
    );
    let roles = spans(&doc)[&(1, 1)].clone();
    assert_eq!(roles, [(10, 499_990, "leader".to_string())]);
}

#[test]
fn garbage_is_an_error_not_a_panic() {
    for bad in [
        &b""[..],
        b"\n\n",
        b"garbage\n\xff\xfe\x00\n{\"v\":1}\n[1,2]\n",
        b"{\"v\":2,\"ts\":1,\"src\":\"sim\",\"kind\":\"kill\",\"replica\":\"0001\",\"leader\":true}\n",
        b"{\"v\":1,\"ts\":1,\"src\":\"sim\",\"kind\":\"teleport\"}\n",
    ] {
        let err = export::from_reader(bad, Format::ChromeTrace).unwrap_err();
        assert!(err.to_string().contains("not a recording"), "{err:#}");
    }
    let err =
        export::from_path(Path::new("/nonexistent/run.jsonl"), Format::ChromeTrace).unwrap_err();
    assert!(
        format!("{err:#}").contains("cannot read the recording"),
        "{err:#}"
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    assert!(export::from_path(dir, Format::ChromeTrace).is_err());
    // Garbage among events: counted and skipped.
    let x = export::from_path(&fixture("hand-made.jsonl"), Format::ChromeTrace).unwrap();
    assert_eq!(x.skipped(), 3);
    // Extreme values: still a valid trace.
    let extreme = concat!(
        r#"{"v":1,"ts":18446744073709551615,"src":"sim","kind":"kill","replica":"0001","leader":true}"#,
        "\n",
        r#"{"v":1,"ts":0,"src":"sim","kind":"request_answered","mid":"M","client":"0013","op":"put","outcome":"ok","latency_us":18446744073709551615,"replica":"0000"}"#,
        "\n",
        r#"{"v":1,"ts":5,"src":"sim","kind":"traffic","window_us":1,"leader":"0000","rows":[{"src":"0000","dst":"0001","type":"x","fate":"delivered","count":18446744073709551615}]}"#,
        "\n",
        r#"{"v":1,"ts":7,"src":"0001","kind":"role","role":"leader","term":18446744073709551615,"leader":"0001","reason":"won_election"}"#,
    );
    assert_valid("extreme", &export_text(extreme));
}

fn kvdash(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kvdash"))
        .args(args)
        .env_remove("KVDASH_SOCKET")
        .output()
        .unwrap()
}

#[test]
fn kvdash_export_writes_to_stdout_or_to_a_file() {
    let file = fixture("kill-partition.jsonl");
    let file = file.to_str().unwrap();
    let out = kvdash(&["export", file]);
    assert!(out.status.success(), "{out:?}");
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_valid("stdout", &doc);

    let path = std::env::temp_dir().join(format!("kvdash-export-{}.json", std::process::id()));
    let p = path.to_str().unwrap();
    let out = kvdash(&["export", file, "--format", "chrome-trace", "--out", p]);
    assert!(out.status.success(), "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"));
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(written, doc);
    let _ = std::fs::remove_file(&path);

    // Lines that are not events are counted on stderr.
    let out = kvdash(&["export", fixture("hand-made.jsonl").to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("skipped 3 of 31 lines"));
}

#[test]
fn kvdash_export_refuses_bad_arguments_and_bad_files() {
    let file = fixture("hand-made.jsonl");
    let file = file.to_str().unwrap();
    let out = kvdash(&["export", file, "--format", "svg"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = kvdash(&["--socket", "/tmp/x.sock", "export", file]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("are for the console"));
    let out = kvdash(&["export", file, "--record", "/tmp/x.jsonl"]);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let out = kvdash(&["export", "/nonexistent/run.jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot read the recording /nonexistent/run.jsonl"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
    let garbage = std::env::temp_dir().join(format!("kvdash-garbage-{}.jsonl", std::process::id()));
    std::fs::write(&garbage, b"\x00\x01 not json\n").unwrap();
    let out = kvdash(&["export", garbage.to_str().unwrap()]);
    let _ = std::fs::remove_file(&garbage);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a recording"));
    assert!(out.stdout.is_empty());
}
