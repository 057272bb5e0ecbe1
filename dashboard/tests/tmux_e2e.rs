//! End to end, as a person would use it: `kvdash run` on a short real
//! simulation (run.py and the real replica) inside a detached tmux session
//! of a fixed size, reading the screen with `capture-pane`, quitting with
//! `q`. Skipped, with a message saying why, when tmux, python3 or the
//! replica binary (`make build`) is missing. CI needs `apt-get install tmux`.
//!
//! Each test runs its own tmux server (`tmux -L <name>`) in its own
//! directory, so it disturbs neither a user's tmux nor other simulations.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const KVDASH: &str = env!("CARGO_BIN_EXE_kvdash");

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the crate is in the workspace")
        .to_path_buf()
}

fn have(cmd: &str) -> bool {
    Command::new(cmd)
        .arg("-V")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// The replica binary `make build` puts at the root, else cargo's.
fn replica() -> Option<PathBuf> {
    let r = root();
    [
        r.join("3700kvstore"),
        r.join("target/release/3700kvstore"),
        r.join("target/debug/3700kvstore"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

/// A private tmux server with one session; killed on drop.
struct Tmux {
    server: String,
    dir: PathBuf,
}

impl Tmux {
    fn start(name: &str, width: u16, height: u16, shell_cmd: &str) -> Tmux {
        let server = format!("kvdash-{name}-{}", std::process::id());
        let dir = std::env::temp_dir().join(&server);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let t = Tmux { server, dir };
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "e2e",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            "-c",
            t.dir.to_str().unwrap(),
            shell_cmd,
        ]);
        assert!(out.status.success(), "tmux new-session: {out:?}");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-L")
            .arg(&self.server)
            .args(args)
            .env("TERM", "xterm-256color")
            .output()
            .expect("tmux runs")
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "e2e"]).stdout)
            .into_owned()
    }

    /// The screen with up to 200 lines of scrollback.
    fn history(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-S", "-200", "-t", "e2e"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "e2e", keys]);
    }

    fn alternate_screen(&self) -> bool {
        let out = self.tmux(&["display-message", "-p", "-t", "e2e", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim() == "1"
    }

    /// Polls the screen until `ok` holds, or fails after `secs` showing it.
    fn wait_for(&self, what: &str, secs: u64, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if ok(&s) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "waited {secs} s for {what}; the screen shows:\n{s}"
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The cluster table's rows: (id, role, commit index).
fn cluster_rows(screen: &str) -> Vec<(String, String, u64)> {
    screen
        .lines()
        .filter_map(|l| {
            let l = l.strip_prefix('┃')?;
            let cols: Vec<&str> = l.split_whitespace().collect();
            // id role term leader last commit ...
            if cols.len() < 6
                || cols[0].len() != 4
                || !cols[0].chars().all(|c| c.is_ascii_hexdigit())
            {
                return None;
            }
            Some((
                cols[0].to_string(),
                cols[1].to_string(),
                cols[5].parse().ok()?,
            ))
        })
        .collect()
}

fn skip(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// The shell command that runs `kvdash run` on the short CI config with the
/// real replica, then prints kvdash's exit status; or why it cannot run.
fn kvdash_run_command() -> Result<String, &'static str> {
    if !have("tmux") {
        return Err("tmux is not installed (apt-get install tmux)");
    }
    if !have("python3") {
        return Err("python3 is not installed");
    }
    let replica = replica().ok_or("no 3700kvstore binary: run `make build` first")?;
    let root = root();
    Ok(format!(
        "{kvdash} --socket ./k.sock run --runpy {runpy} {config} -- -s --seed 5 -r {replica}; \
         echo KVDASH_EXIT=$?; sleep 120",
        kvdash = KVDASH,
        runpy = root.join("run.py").display(),
        config = root.join("configs/ci/simple.json").display(),
        replica = replica.display(),
    ))
}

#[test]
fn kvdash_run_shows_replicas_a_leader_and_commit_progress_then_restores_the_terminal() {
    let cmd = match kvdash_run_command() {
        Ok(cmd) => cmd,
        Err(why) => return skip(why),
    };
    let t = Tmux::start("run", 100, 30, &cmd);
    let seen = t.wait_for("five replicas, a leader and commits", 30, |s| {
        let rows = cluster_rows(s);
        rows.len() == 5
            && rows.iter().any(|(_, role, _)| role == "leader")
            && rows.iter().all(|(_, _, commit)| *commit > 0)
    });
    for id in ["0000", "0001", "0002", "0003", "0004"] {
        assert!(seen.contains(id), "{id} missing from:\n{seen}");
    }
    assert!(
        seen.contains("Leader timeline") && seen.contains("LIVE"),
        "{seen}"
    );
    assert!(
        t.alternate_screen(),
        "the console uses the alternate screen"
    );
    // The run lasts 8 s; at its end the verdict shows and the screen stays.
    // (A run.py without --events sends no verdict: then the exit shows.)
    let ended = |s: &str| s.contains("Verdict: ") || s.contains("run.py finished");
    let end = t.wait_for("the verdict", 40, ended);
    if end.contains("Verdict: ") {
        assert!(end.contains("Verdict: PASSED"), "{end}");
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(ended(&t.screen()), "the screen is kept until q");
    t.keys("q");
    let after = t.wait_for("kvdash to exit", 30, |s| s.contains("KVDASH_EXIT="));
    assert!(after.contains("KVDASH_EXIT=0"), "{after}");
    // Once the terminal is restored, run.py's report is printed.
    let history = t.history();
    assert!(history.contains("Simulation Finished"), "{history}");
    assert!(!t.alternate_screen(), "the terminal is restored");
    assert!(
        !t.dir.join("k.sock").exists(),
        "the socket is removed on exit"
    );
}

#[test]
fn a_panic_restores_the_terminal_and_removes_the_socket() {
    if !have("tmux") {
        return skip("tmux is not installed (apt-get install tmux)");
    }
    let cmd = format!(
        "RUST_BACKTRACE=0 KVDASH_TEST_PANIC_MS=1500 {KVDASH} --socket ./k.sock; \
         echo KVDASH_EXIT=$?; sleep 120"
    );
    let t = Tmux::start("panic", 80, 24, &cmd);
    t.wait_for("the console", 10, |s| s.contains("waiting for events"));
    let after = t.wait_for("kvdash to exit", 20, |s| s.contains("KVDASH_EXIT="));
    assert!(after.contains("a deliberate panic"), "{after}");
    assert!(after.contains("KVDASH_EXIT=101"), "{after}");
    assert!(!t.alternate_screen(), "the terminal is restored");
    assert!(!t.dir.join("k.sock").exists(), "the socket is removed");
}

#[test]
fn ctrl_c_quits_and_restores_the_terminal() {
    if !have("tmux") {
        return skip("tmux is not installed (apt-get install tmux)");
    }
    let cmd = format!("{KVDASH} --socket ./k.sock; echo KVDASH_EXIT=$?; sleep 120");
    let t = Tmux::start("ctrlc", 80, 24, &cmd);
    t.wait_for("the console", 10, |s| s.contains("waiting for events"));
    t.keys("C-c");
    let after = t.wait_for("kvdash to exit", 10, |s| s.contains("KVDASH_EXIT="));
    assert!(after.contains("KVDASH_EXIT=0"), "{after}");
    assert!(!t.alternate_screen(), "the terminal is restored");
}

#[test]
fn a_second_kvdash_on_the_same_socket_gets_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("kvdash-second-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("k.sock");
    let first = dashboard::ingest::bind(&path).unwrap();
    let out = Command::new(KVDASH)
        .arg("--socket")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("another kvdash is already listening"), "{err}");
    drop(first);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn help_explains_attach_run_record_and_the_socket() {
    let out = Command::new(KVDASH).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "kvdash run CONFIG",
        "--record",
        "--socket",
        "KVDASH_SOCKET",
        "0600",
        "stale",
        "Keys:",
    ] {
        assert!(help.contains(needle), "--help lacks {needle:?}:\n{help}");
    }
    let out = Command::new(KVDASH)
        .args(["run", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("--runpy") && help.contains("RUN.PY OPTIONS"),
        "{help}"
    );
}

/// The living `3700kvstore` processes running in `dir` (from /proc),
/// whoever their parent is now.
fn replicas_in(dir: &Path) -> Vec<u32> {
    let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return vec![];
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let proc = PathBuf::from(format!("/proc/{pid}"));
            let cmd = std::fs::read(proc.join("cmdline")).unwrap_or_default();
            let exe = cmd.split(|b| *b == 0).next().unwrap_or_default();
            let zombie = std::fs::read_to_string(proc.join("stat"))
                .ok()
                .and_then(|s| Some(s.rsplit_once(')')?.1.split_whitespace().next()? == "Z"))
                .unwrap_or(true);
            String::from_utf8_lossy(exe).ends_with("3700kvstore")
                && !zombie
                && std::fs::read_link(proc.join("cwd")).ok().as_deref() == Some(dir.as_path())
        })
        .collect()
}

#[test]
fn quitting_mid_run_stops_run_py_and_leaves_no_replica_or_socket() {
    if !cfg!(target_os = "linux") {
        return skip("reads /proc");
    }
    // run.py runs in the session's folder (an explicit --runpy), and so do
    // its replicas and their socket files.
    let cmd = match kvdash_run_command() {
        Ok(cmd) => cmd,
        Err(why) => return skip(why),
    };
    let t = Tmux::start("quit", 100, 30, &cmd);
    t.wait_for("five replicas and a leader", 30, |s| {
        let rows = cluster_rows(s);
        rows.len() == 5 && rows.iter().any(|(_, role, _)| role == "leader")
    });
    let before = replicas_in(&t.dir);
    assert_eq!(before.len(), 5, "the run's replicas: {before:?}");
    let screen = t.screen();
    assert!(!screen.contains("Verdict: "), "mid-run:\n{screen}");
    t.keys("q");
    let after = t.wait_for("kvdash to exit", 15, |s| s.contains("KVDASH_EXIT="));
    // run.py was stopped, not left to finish: it says so and exits 130.
    assert!(after.contains("KVDASH_EXIT=130"), "{after}");
    assert!(t.history().contains("interrupted"), "{}", t.history());
    let deadline = Instant::now() + Duration::from_secs(2);
    let sockets = || {
        std::fs::read_dir(&t.dir)
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .filter(|e| {
                        use std::os::unix::fs::FileTypeExt;
                        e.file_type().is_ok_and(|f| f.is_socket())
                    })
                    .map(|e| e.file_name())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default()
    };
    while !(replicas_in(&t.dir).is_empty() && sockets().is_empty()) {
        assert!(
            Instant::now() < deadline,
            "2 s after kvdash quit: replicas {:?}, sockets {:?}",
            replicas_in(&t.dir),
            sockets()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The replica's state column of the cluster table ("alive", "killed"…).
fn states(screen: &str) -> Vec<(String, String)> {
    screen
        .lines()
        .filter_map(|l| {
            let cols: Vec<&str> = l.strip_prefix('┃')?.split_whitespace().collect();
            let id = cols.first()?;
            if id.len() != 4 || !id.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            let state = cols
                .iter()
                .find(|c| ["alive", "killed", "stopped", "ended", "silent"].contains(c))?;
            Some((id.to_string(), state.to_string()))
        })
        .collect()
}

fn title(screen: &str) -> String {
    screen.lines().next().unwrap_or_default().to_string()
}

#[test]
fn kvdash_replay_pauses_seeks_changes_speed_and_shows_the_verdict() {
    if !have("tmux") {
        return skip("tmux is not installed (apt-get install tmux)");
    }
    // The fixture: a hard partition from 2.5 s to 4.5 s, 0004 killed at
    // 6.0 s, the verdict at 8.0 s. KVDASH_SOCKET points here: a replay
    // must not bind it.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kill-partition.jsonl");
    let cmd = format!(
        "KVDASH_SOCKET=./k.sock {KVDASH} replay {} --paused; echo KVDASH_EXIT=$?; sleep 120",
        fixture.display()
    );
    let t = Tmux::start("replay", 100, 30, &cmd);
    let s = t.wait_for("the replay, paused at 0", 10, |s| {
        title(s).contains(" PAUSED ") && title(s).contains("t=0.0 s / 8.0 s 1x")
    });
    assert!(s.contains("Space play"), "the footer's keys:\n{s}");
    assert!(
        t.alternate_screen(),
        "the console uses the alternate screen"
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        title(&t.screen()).contains("t=0.0 s"),
        "paused, the clock stands"
    );
    assert!(!t.dir.join("k.sock").exists(), "no socket is bound");

    // Forward 1 s three times: in the partition.
    for _ in 0..3 {
        t.keys(".");
    }
    let s = t.wait_for("3 s", 5, |s| title(s).contains("t=3.0 s / 8.0 s"));
    assert!(
        s.contains(" min "),
        "0000 and 0003 on the minority side:\n{s}"
    );
    // Go to 7 s: after the kill.
    t.keys("g");
    t.wait_for("the prompt", 5, |s| s.contains("go to (seconds or m:ss)"));
    t.keys("7");
    t.keys("Enter");
    let s = t.wait_for("7 s", 5, |s| title(s).contains("t=7.0 s / 8.0 s"));
    assert!(
        states(&s).contains(&("0004".into(), "killed".into())),
        "0004 killed at 6 s:\n{s}"
    );
    // Back 1 s, before the kill: the state is rebuilt without it.
    t.keys(",");
    let s = t.wait_for("6 s", 5, |s| title(s).contains("t=6.0 s / 8.0 s"));
    let rows = states(&s);
    assert_eq!(rows.len(), 5, "{s}");
    assert!(rows.iter().all(|(_, st)| st == "alive"), "{s}");
    assert!(title(&s).contains(" PAUSED "), "{s}");
    // Faster: 4x; play; the end comes in half a second or so.
    t.keys("]");
    t.keys("]");
    t.wait_for("4x", 5, |s| title(s).contains("8.0 s 4x"));
    t.keys("Space");
    let s = t.wait_for("the end and its verdict", 10, |s| {
        title(s).contains(" ENDED ") && s.contains("Verdict: PASSED")
    });
    assert!(title(&s).contains("t=8.0 s / 8.0 s 4x"), "{s}");
    // v hides the verdict, as live.
    t.keys("v");
    t.wait_for("the verdict hidden", 5, |s| !s.contains("Verdict: "));
    t.keys("q");
    let after = t.wait_for("kvdash to exit", 10, |s| s.contains("KVDASH_EXIT="));
    assert!(after.contains("KVDASH_EXIT=0"), "{after}");
    assert!(!t.alternate_screen(), "the terminal is restored");
}

#[test]
fn kvdash_replay_of_a_missing_or_empty_file_fails_before_the_terminal() {
    let dir = std::env::temp_dir().join(format!("kvdash-replay-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let empty = dir.join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let garbage = dir.join("garbage.jsonl");
    std::fs::write(&garbage, "not an event\n\u{0}\u{1}\n").unwrap();
    let run = |args: &[&std::ffi::OsStr]| {
        let out = Command::new(KVDASH).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout,
        )
    };
    let missing = dir.join("missing.jsonl");
    for (file, says) in [
        (&missing, "cannot read the recording"),
        (&empty, "is empty"),
        (&garbage, "holds no events"),
    ] {
        let (code, err, out) = run(&["replay".as_ref(), file.as_os_str()]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!err.contains("panicked"), "{err}");
        // Nothing was written to the terminal (no alternate screen).
        assert!(out.is_empty(), "{}", String::from_utf8_lossy(&out));
    }
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/hand-made.jsonl");
    for opt in ["--socket", "--record"] {
        let other = dir.join("x");
        let (code, err, _) = run(&[
            opt.as_ref(),
            other.as_os_str(),
            "replay".as_ref(),
            fixture.as_os_str(),
        ]);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains("not for replay"), "{err}");
        assert!(!other.exists(), "{opt} created nothing");
    }
    let (code, err, _) = run(&[
        "replay".as_ref(),
        fixture.as_os_str(),
        "--speed".as_ref(),
        "128".as_ref(),
    ]);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
