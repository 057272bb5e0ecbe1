//! `kvdash sweep` end to end on a short CI scenario with the real replica:
//! the table agrees with the recordings it kept, Ctrl-C still prints the
//! runs that finished, bad input stops before any run; and `kvdash compare`
//! of two of its setting folders.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dashboard::report::{self, Report};
use dashboard::sweep::table::{Row, COLUMNS};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn replica() -> PathBuf {
    let r = root().join("3700kvstore");
    assert!(
        r.is_file(),
        "{} is missing: run `make build` first",
        r.display()
    );
    r
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("kvdash-sweep-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn kvdash(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kvdash"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("kvdash runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn a_two_by_two_sweep_keeps_every_run_and_its_table_agrees_with_them() {
    let out = scratch("2x2");
    let replica = replica();
    let o = kvdash(&[
        "sweep",
        "configs/ci/simple.json",
        "--vary",
        "heartbeat=150ms,300ms",
        "--seeds",
        "2",
        "--first-seed",
        "11",
        "--out",
        out.to_str().unwrap(),
        "--replica",
        replica.to_str().unwrap(),
        "--plots",
    ]);
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(0), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("run 4/4: heartbeat=300ms seed 12"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(out.join("sweep.txt")).unwrap(),
        stdout
    );

    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(summary["seeds"], serde_json::json!([11, 12]));
    assert_eq!(summary["interrupted"], false);
    let settings = summary["settings"].as_array().unwrap();
    assert_eq!(settings.len(), 2);
    for (i, (setting, hb)) in settings.iter().zip(["150ms", "300ms"]).enumerate() {
        let label = format!("heartbeat={hb}");
        assert_eq!(setting["setting"], label.as_str());
        assert!(stdout.contains(&label), "{stdout}");
        let dir = out.join(format!("0{}-heartbeat={hb}", i + 1));
        // Every run kept: recording, run.py's JSON and output.
        let mut reports: Vec<Report> = Vec::new();
        for seed in [11, 12] {
            let rec = dir.join(format!("seed-{seed}.jsonl"));
            let r = report::from_path(&rec).unwrap();
            assert_eq!(r.seed, Some(seed));
            // The replicas ran with the setting.
            let events = std::fs::read_to_string(&rec).unwrap();
            let tuned = format!("\"tuned\":\"heartbeat={hb}\"");
            // 300ms is the default: no knob is away from it then.
            assert_eq!(
                events.matches(&tuned).count(),
                if hb == "300ms" { 0 } else { 5 }
            );
            let json: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(dir.join(format!("seed-{seed}.json"))).unwrap(),
            )
            .unwrap();
            assert_eq!(json["seed"], seed);
            assert_eq!(json["tune"], label.as_str());
            // The table's messages are run.py's own count.
            let msgs = (COLUMNS[0].get)(&r).unwrap();
            assert_eq!(
                msgs,
                json["counters"]["total_msgs"].as_f64().unwrap(),
                "{json}"
            );
            assert!(
                std::fs::metadata(dir.join(format!("seed-{seed}.txt")))
                    .unwrap()
                    .len()
                    > 0
            );
            reports.push(r);
        }
        // The row recomputed from the recordings is the row of the table.
        let row = Row::of(label.clone(), &reports.iter().collect::<Vec<_>>());
        // (equal but for the last bit: the medians of two runs are sums)
        assert_eq!(
            rounded(&setting["row"]),
            rounded(&serde_json::to_value(&row).unwrap())
        );
        assert_eq!(row.runs, 2);
        assert_eq!(row.judged, 2);
    }
    for c in COLUMNS {
        assert!(out.join("plots").join(format!("{}.svg", c.key)).is_file());
    }

    // Two setting folders compared as sets of runs.
    let o = kvdash(&[
        "compare",
        out.join("01-heartbeat=150ms").to_str().unwrap(),
        "--vs",
        out.join("02-heartbeat=300ms").to_str().unwrap(),
    ]);
    let t = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(t.contains("(2 runs)"), "{t}");
    assert!(t.contains("vs spread"), "{t}");
    assert!(t.contains("within") || t.contains("beyond"), "{t}");
    let o = kvdash(&[
        "compare",
        out.join("01-heartbeat=150ms").to_str().unwrap(),
        out.join("02-heartbeat=300ms").to_str().unwrap(),
        "--json",
    ]);
    let rows: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let msgs = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["figure"] == "total_msgs")
        .unwrap();
    assert_eq!(msgs["a"]["n"], 2);
    assert!(msgs["beyond_spread"].is_boolean());
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn ctrl_c_stops_the_sweep_and_prints_the_runs_that_finished() {
    let out = scratch("interrupt");
    let replica = replica();
    let child = Command::new(env!("CARGO_BIN_EXE_kvdash"))
        .current_dir(root())
        .args([
            "sweep",
            "configs/ci/simple.json",
            "--vary",
            "hold=2s,3s",
            "--seeds",
            "3",
        ])
        .arg("--out")
        .arg(&out)
        .arg("--replica")
        .arg(&replica)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Once the first run is done, Ctrl-C during the second.
    let t0 = Instant::now();
    let first = out.join("01-hold=2s/seed-1.json");
    while !first.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the first run never ended"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    let o = child.wait_with_output().unwrap();
    let (stdout, stderr) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(130), "{stdout}\n{stderr}");
    assert!(stdout.contains("INTERRUPTED"), "{stdout}");
    // The first run counts; the interrupted one does not.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["settings"][0]["row"]["runs"], 1, "{summary}");
    assert_eq!(summary["settings"][1]["row"]["runs"], 0);
    assert!(line_has(&stdout, "hold=2s", " 1 "), "{stdout}");
    let _ = std::fs::remove_dir_all(&out);
}

/// Whether a line of `text` contains both `a` and `b`.
fn line_has(text: &str, a: &str, b: &str) -> bool {
    text.lines().any(|l| l.contains(a) && l.contains(b))
}

#[test]
fn bad_input_stops_before_any_run() {
    let replica = replica();
    let rep = replica.to_str().unwrap();
    let out = scratch("bad");
    let outs = out.to_str().unwrap();
    for (args, want) in [
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "heartbeat=5s", "--out", outs, "--replica", rep],
            "the replica refused the setting heartbeat=5s: 3700kvstore: tuning: heartbeat: must be above 0",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "heartbeet=5ms", "--out", outs, "--replica", rep],
            "unknown knob \"heartbeet\"",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "heartbeat", "--out", outs],
            "expected KNOB=VALUE,VALUE",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "hold=1s", "--tune", "hold=2s", "--out", outs, "--replica", rep],
            "hold is both varied (--vary) and fixed (--tune)",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "hold=1s", "--seeds", "0", "--out", outs, "--replica", rep],
            "--seeds must be at least 1",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--vary", "hold=1s", "--out", outs, "--replica", "/nonexistent/kv"],
            "the replica /nonexistent/kv does not exist",
        ),
        (
            vec!["sweep", "configs/ci/simple.json", "--out", outs],
            "--vary",
        ),
    ] {
        let o = kvdash(&args);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: {err}");
        assert!(!out.join("01-hold=1s").exists(), "{args:?} ran something");
    }
    // An output folder with something in it is never written into.
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("keep.txt"), "mine").unwrap();
    let o = kvdash(&[
        "sweep",
        "configs/ci/simple.json",
        "--vary",
        "hold=1s",
        "--out",
        outs,
        "--replica",
        rep,
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("exists and is not empty"));
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 1);
    let _ = std::fs::remove_dir_all(&out);
}

/// `v` with every number rounded to 9 decimal places.
fn rounded(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::Number(n) => match n.as_f64() {
            Some(x) if n.is_f64() => serde_json::json!((x * 1e9).round() / 1e9),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(rounded).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, x)| (k.clone(), rounded(x))).collect()),
        _ => v.clone(),
    }
}
