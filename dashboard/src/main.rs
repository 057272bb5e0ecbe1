//! kvdash: arguments, terminal setup and restore, and the wiring of the
//! ingest task, the input thread, the frame ticker and run.py.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use tokio::sync::mpsc;

use dashboard::app::{self, App, AppEvent};
use dashboard::ingest::{self, BindError, Recorder};
use dashboard::runpy::{self, RunPy};
use dashboard::view::{Child, Mode, Ui};

const ABOUT: &str = "A live console for a running 3700kvstore simulation";

const LONG_ABOUT: &str = "\
kvdash shows a running Raft simulation live: the cluster table, a leader
timeline, log replication, client and replica latency, and message counts.

  kvdash                     attach: bind the event socket and show whatever
                             simulation is running or starts next
  kvdash run CONFIG [-- RUN.PY OPTIONS]
                             start ./run.py CONFIG with the socket wired in,
                             show the run, keep the screen at the end until
                             you quit, then print run.py's report
  kvdash report RUN.jsonl [--json] [--plots DIR]
                             a post-run report of a recording (run.py
                             --record FILE, or kvdash --record FILE):
                             verdict, latency percentiles per phase,
                             messages by type and replica, elections;
                             --plots DIR also writes SVG plots
  kvdash compare A.jsonl B.jsonl [--json]
                             the same figures of two runs side by side,
                             with the relative change from A to B;
                             A... --vs B...: two sets of runs (seeds),
                             median and range, change vs the spread
  kvdash sweep CONFIG --vary KNOB=V1,V2 [--tune KNOBS] [--seeds N]
                             run.py over knob values x seeds; one table of
                             medians and spreads, the best marked
  kvdash export RUN.jsonl [--format chrome-trace] [--out PATH]
                             a recording as a trace for ui.perfetto.dev or
                             chrome://tracing: roles per replica, client
                             requests, faults, commit index, message rate
  kvdash replay RUN.jsonl [--speed N] [--paused]
                             play a recording back in the console, through
                             the same panels: play/pause, 1x to 64x, jump
                             back and forth, go to a time; no socket

Events are JSON lines on a Unix datagram socket (schema: shared/README.md),
at --socket, else $KVDASH_SOCKET, else $XDG_RUNTIME_DIR/kvdash.sock, else
/tmp/kvdash-<uid>.sock. kvdash creates it with mode 0600 and removes it on
exit; a stale socket left by a kvdash that died is replaced, a live one is
an error (exit status 2).

Replicas (3700kvstore) send their own events to that path, so attaching
works under any simulator, the course's own included: the console then works
from replica events alone and the client-side panels say why they are empty.
run.py adds the simulator's view with --events PATH: client latency,
routed messages, kills and partitions, the verdict. Replicas that emit no
events (a replica of your own) still get those panels under run.py.";

const AFTER_HELP: &str = "\
Keys: q/Esc/Ctrl-C quit, p pause (keeps ingesting), Tab and 1-5 focus a
panel, arrows scroll (left/right: back and forth in time), +/- zoom the
timeline, v verdict, ? help. Replay: Space play/pause, [ ] half/double
speed, , . back/forward 1 s, < > 10 s, g go to a time (seconds, Enter).

Examples:
  make demo                                   build, then kvdash run configs/advanced-1.json
  kvdash run configs/crash-3.json -- --seed 7 -s
  kvdash --record run.jsonl                   attach and record every event
  ./run.py crash-3 -s --record a.jsonl && kvdash report a.jsonl
  kvdash compare before.jsonl after.jsonl     judge a tuning change
  kvdash sweep crash-3 --vary heartbeat=100ms,200ms,300ms --seeds 5 --plots
  kvdash compare sweep-x/01-heartbeat=100ms --vs sweep-x/02-heartbeat=200ms
  kvdash export a.jsonl > a.json              then open a.json in ui.perfetto.dev
  kvdash replay a.jsonl --speed 4             watch a recorded run again, 4x
  kvdash --socket /tmp/x.sock                 in one terminal, then in another:
  ./run.py crash-1 -s --events /tmp/x.sock    (or any simulator, with
                                              KVDASH_SOCKET=/tmp/x.sock set)

Exit status: 0, or under `run` run.py's own (0 pass, 1 fail, 2 bad config);
2 when the socket is in use by another kvdash; under `sweep` 1 when a run
left no readable recording, 2 for a bad option, setting or folder, 130
when interrupted; 1 on other errors.";

#[derive(Parser, Debug)]
#[command(name = "kvdash", version, about = ABOUT, long_about = LONG_ABOUT, after_help = AFTER_HELP)]
struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    /// The event socket to bind [default: $KVDASH_SOCKET, else
    /// $XDG_RUNTIME_DIR/kvdash.sock, else /tmp/kvdash-<uid>.sock]
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Also write every event received to FILE, one JSON line each
    #[arg(long, global = true, value_name = "FILE")]
    record: Option<PathBuf>,
    /// Screen refreshes per second at most
    #[arg(long, global = true, value_name = "N", default_value_t = 15)]
    fps: u32,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Start run.py on CONFIG with the socket wired in and show the run
    ///
    /// run.py gets `--events <socket>` (if it supports it; otherwise only
    /// $KVDASH_SOCKET, so that replica events still arrive) and `-s` unless
    /// you pass run.py options after `--`. Its output is captured and
    /// printed after the console closes.
    Run {
        /// The scenario: a path, or a name under configs/
        config: String,
        /// run.py to use [default: ./run.py, else the one beside kvdash's workspace]
        #[arg(long, value_name = "PATH")]
        runpy: Option<PathBuf>,
        /// Options passed to run.py as they are (after `--`)
        #[arg(last = true, value_name = "RUN.PY OPTIONS")]
        args: Vec<String>,
    },
    /// A post-run report of a recorded run (JSON lines)
    ///
    /// Works from run.py's events alone (any replica); replica events add
    /// the inside view. Figures and their definitions: see the README's
    /// "Reports" section.
    Report {
        /// The recording: `./run.py CONFIG --record FILE` or `kvdash --record FILE`
        file: PathBuf,
        /// Print the report as JSON
        #[arg(long)]
        json: bool,
        /// Also write SVG plots into DIR: latency-histogram.svg,
        /// latency-over-time.svg, message-rate.svg, leader-timeline.svg
        #[arg(long, value_name = "DIR")]
        plots: Option<PathBuf>,
    },
    /// Two recorded runs, or two sets of runs, side by side
    ///
    /// `compare A B`: two recordings, with the relative change from A to B.
    /// `compare A... --vs B...`: two sets of runs (the seeds of two
    /// settings), each named by recordings or folders of recordings
    /// (their *.jsonl files, e.g. two setting folders of a sweep): each
    /// figure's median and range per side, the change of the median, and
    /// whether it is beyond the seed-to-seed spread (the ranges do not
    /// overlap). Two folders without --vs are two sets too.
    Compare {
        /// Run A, or set A's recordings and folders
        #[arg(required = true, value_name = "A")]
        a: Vec<PathBuf>,
        /// Set B's recordings and folders
        #[arg(long, num_args = 1.., value_name = "B")]
        vs: Vec<PathBuf>,
        /// Print the comparison as JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario over knob values and seeds; one table of the spread
    ///
    /// Runs run.py (one run at a time) for every combination of the
    /// --vary values and every seed, with the replica's knobs set through
    /// --tune; keeps every recording, run.py's JSON and output under
    /// --out; prints per setting the median [min-max] over the seeds of
    /// messages, client p50 and p99 latency, failures, duplicates and
    /// redirects, and how many runs passed, the best setting of each column
    /// marked. Ctrl-C stops the current run and still prints the table of
    /// the runs that finished (exit status 130).
    Sweep(dashboard::sweep::Options),
    /// A recorded run as a trace for ui.perfetto.dev or chrome://tracing
    ///
    /// The Trace Event Format (JSON): each replica's role over time, each
    /// client request as a span, kills, partitions and the verdict as
    /// instants, commit index and message rate as counters.
    Export {
        /// The recording: `./run.py CONFIG --record FILE` or `kvdash --record FILE`
        file: PathBuf,
        /// The output format
        #[arg(long, value_enum, default_value_t = dashboard::export::Format::ChromeTrace)]
        format: dashboard::export::Format,
        /// Write the trace to PATH instead of standard output
        #[arg(long, value_name = "PATH")]
        out: Option<PathBuf>,
    },
    /// Play a recorded run back in the console
    ///
    /// The same panels as live, from the recording's events, at the pace
    /// they happened (or faster); no socket is bound. Keys: Space play /
    /// pause, [ ] speed, , . back / forward 1 s, < > 10 s, g go to a time.
    Replay {
        /// The recording: `./run.py CONFIG --record FILE` or `kvdash --record FILE`
        file: PathBuf,
        /// Starting speed, times real time
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..=64))]
        speed: u32,
        /// Start paused (Space plays)
        #[arg(long)]
        paused: bool,
    },
}

/// What the panic hook must clean up.
static SOCKET_PATH: OnceLock<PathBuf> = OnceLock::new();
static CHILD_PID: Mutex<Option<u32>> = Mutex::new(None);
static TUI_ACTIVE: AtomicBool = AtomicBool::new(false);

/// Restores the terminal, removes the socket, stops run.py, then reports
/// the panic and exits, whichever thread panicked.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if TUI_ACTIVE.swap(false, Ordering::SeqCst) {
            ratatui::restore();
        }
        if let Some(p) = SOCKET_PATH.get() {
            let _ = std::fs::remove_file(p);
        }
        if let Some(pid) = CHILD_PID.lock().ok().and_then(|g| *g) {
            // SAFETY: a signal to our own child.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        previous(info);
        std::process::exit(101);
    }));
}

fn default_socket() -> PathBuf {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    shared::events::default_socket_path(|k| std::env::var(k).ok(), uid)
}

/// `kvdash report`, `kvdash compare` and `kvdash export`: no socket, no
/// terminal.
fn offline(cmd: &Cmd) -> Option<Result<ExitCode>> {
    use dashboard::report;
    let load = |p: &PathBuf| {
        report::from_path(p).with_context(|| format!("cannot read the recording {}", p.display()))
    };
    let out = match cmd {
        Cmd::Report { file, json, plots } => load(file).and_then(|r| {
            if let Some(dir) = plots {
                for p in report::plots::write_all(&r, dir)? {
                    eprintln!("kvdash: wrote {}", p.display());
                }
            }
            Ok(if *json {
                serde_json::to_string_pretty(&r)? + "\n"
            } else {
                report::text::render(&r)
            })
        }),
        Cmd::Compare { a, vs, json } => compare_main(a, vs, *json),
        Cmd::Export { file, format, out } => {
            dashboard::export::from_path(file, *format).and_then(|x| {
                if x.skipped() > 0 {
                    eprintln!(
                        "kvdash: skipped {} of {} lines: not events",
                        x.skipped(),
                        x.lines.lines
                    );
                }
                let Some(p) = out else {
                    return Ok(x.text);
                };
                std::fs::write(p, &x.text)
                    .with_context(|| format!("cannot write {}", p.display()))?;
                eprintln!("kvdash: wrote {}", p.display());
                Ok(String::new())
            })
        }
        Cmd::Run { .. } | Cmd::Replay { .. } | Cmd::Sweep(_) => return None,
    };
    Some(out.and_then(|s| {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(s.as_bytes())?;
        stdout.flush()?;
        Ok(ExitCode::SUCCESS)
    }))
}

/// `kvdash compare`: two runs, or two sets of runs.
fn compare_main(a: &[PathBuf], vs: &[PathBuf], json: bool) -> Result<String> {
    use dashboard::report::{self, compare};
    let (a, b): (Vec<PathBuf>, Vec<PathBuf>) = if vs.is_empty() {
        match a {
            [x, y] => (vec![x.clone()], vec![y.clone()]),
            _ => anyhow::bail!(
                "compare takes two runs (A B), or two sets of runs (A... --vs B...); got {} \
                 paths and no --vs",
                a.len()
            ),
        }
    } else {
        (a.to_vec(), vs.to_vec())
    };
    let (files_a, files_b) = (recordings(&a)?, recordings(&b)?);
    let load = |p: &PathBuf| {
        report::from_path(p).with_context(|| format!("cannot read the recording {}", p.display()))
    };
    let name = |paths: &[PathBuf]| {
        paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    if let ([fa], [fb]) = (&files_a[..], &files_b[..]) {
        let rows = compare::compare(&load(fa)?, &load(fb)?);
        return Ok(if json {
            serde_json::to_string_pretty(&rows)? + "\n"
        } else {
            compare::text(&name(&a), &name(&b), &rows)
        });
    }
    let ra = files_a.iter().map(load).collect::<Result<Vec<_>>>()?;
    let rb = files_b.iter().map(load).collect::<Result<Vec<_>>>()?;
    let rows = compare::compare_sets(&ra, &rb);
    Ok(if json {
        serde_json::to_string_pretty(&rows)? + "\n"
    } else {
        compare::sets_text(&name(&a), &name(&b), &rows)
    })
}

/// The recordings named: files as they are, folders by their *.jsonl
/// files (sorted; an error when there are none).
fn recordings(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot read the folder {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "jsonl") && f.is_file())
                .collect();
            if found.is_empty() {
                anyhow::bail!("the folder {} holds no recording (*.jsonl)", p.display());
            }
            found.sort();
            out.extend(found);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// `kvdash sweep`.
fn sweep_main(opts: &dashboard::sweep::Options) -> ExitCode {
    match dashboard::sweep::run(opts) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("kvdash: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(
        cli.cmd,
        Some(Cmd::Report { .. } | Cmd::Compare { .. } | Cmd::Export { .. } | Cmd::Sweep(_))
    ) && (cli.socket.is_some() || cli.record.is_some())
    {
        eprintln!(
            "kvdash: --socket and --record are for the console, not for report, compare, export \
             or sweep"
        );
        return ExitCode::from(2);
    }
    if let Some(Cmd::Sweep(opts)) = &cli.cmd {
        return sweep_main(opts);
    }
    if let Some(res) = cli.cmd.as_ref().and_then(offline) {
        return match res {
            Ok(code) => code,
            Err(e) => {
                eprintln!("kvdash: {e:#}");
                ExitCode::from(1)
            }
        };
    }
    if let Some(Cmd::Replay { .. }) = &cli.cmd {
        if cli.socket.is_some() || cli.record.is_some() {
            eprintln!("kvdash: --socket and --record are for the live console, not for replay");
            return ExitCode::from(2);
        }
        return replay_main(cli).unwrap_or_else(|e| {
            eprintln!("kvdash: {e:#}");
            ExitCode::from(1)
        });
    }
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            if let Some(BindError::InUse(_)) = e.downcast_ref::<BindError>() {
                eprintln!("kvdash: {e}");
                return ExitCode::from(2);
            }
            eprintln!("kvdash: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn real_main(cli: Cli) -> Result<ExitCode> {
    let path = cli.socket.clone().unwrap_or_else(default_socket);
    // Bound before anything else: a second kvdash stops here.
    let bound = ingest::bind(&path)?;
    let _ = SOCKET_PATH.set(path.clone());
    install_panic_hook();
    let recorder = match &cli.record {
        Some(p) => Some(
            Recorder::create(p)
                .with_context(|| format!("cannot write the record {}", p.display()))?,
        ),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    // The future runs on this (main) thread, so run.py's parent-death
    // signal follows kvdash's whole life.
    let code = runtime.block_on(console(cli, bound, recorder))?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(code)
}

async fn console(cli: Cli, bound: ingest::Bound, recorder: Option<Recorder>) -> Result<ExitCode> {
    let (tx, mut rx) = mpsc::channel::<AppEvent>(1024);
    spawn_feeds(&bound, recorder, &tx, cli.fps)?;
    let mut ui = Ui {
        socket: bound.path.display().to_string(),
        ..Ui::default()
    };
    if bound.replaced_stale {
        ui.notice = Some("replaced a stale socket left by an earlier kvdash".into());
    }
    let mut child = start_runpy(&cli, &bound, &mut ui).await?;

    let mut app = App::new(ui);
    on_terminal(&mut app, &tx, &mut rx, &mut child).await?;

    let code = match child {
        Some(rp) => finish_runpy(rp).await,
        None => ExitCode::SUCCESS,
    };
    drop(bound);
    Ok(code)
}

/// Starts what feeds the console's channel: the ingest task, the frame
/// ticker, and a task that turns SIGINT, SIGTERM and SIGHUP into
/// [`AppEvent::Signal`].
fn spawn_feeds(
    bound: &ingest::Bound,
    recorder: Option<Recorder>,
    tx: &mpsc::Sender<AppEvent>,
    fps: u32,
) -> Result<()> {
    let datagrams = ingest::reader(
        bound
            .socket
            .try_clone()
            .context("cannot use the event socket")?,
    )
    .context("cannot read the event socket")?;
    tokio::spawn(ingest::run(datagrams, tx.clone(), recorder));
    tokio::spawn(app::ticker(tx.clone(), fps));
    spawn_signals(tx)
}

/// A task that turns SIGINT, SIGTERM and SIGHUP into [`AppEvent::Signal`].
fn spawn_signals(tx: &mpsc::Sender<AppEvent>) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let tx = tx.clone();
    let mut sigs = [
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
    ];
    tokio::spawn(async move {
        let [a, b, c] = &mut sigs;
        tokio::select! {
            _ = a.recv() => {}
            _ = b.recv() => {}
            _ = c.recv() => {}
        }
        let _ = tx.send(AppEvent::Signal).await;
    });
    Ok(())
}

/// Under `kvdash run`: starts run.py with the socket wired in, and tells
/// the view.
async fn start_runpy(cli: &Cli, bound: &ingest::Bound, ui: &mut Ui) -> Result<Option<RunPy>> {
    let Some(Cmd::Run {
        config,
        runpy: explicit,
        args,
    }) = &cli.cmd
    else {
        return Ok(None);
    };
    let loc = runpy::locate(explicit.as_deref())?;
    let events = runpy::supports_events(&loc).await;
    let rp = RunPy::spawn(&loc, config, &bound.path, events, args)?;
    *CHILD_PID.lock().expect("not poisoned") = rp.child.id();
    ui.mode = Mode::Run {
        config: config.clone(),
    };
    ui.child = Some(Child::Running);
    if !events {
        ui.notice =
            Some("run.py has no --events: replica events only (KVDASH_SOCKET set for them)".into());
    }
    Ok(Some(rp))
}

/// Handles events and draws frames until the user quits; notes run.py's
/// exit when it comes.
async fn event_loop(
    app: &mut App,
    terminal: &mut ratatui::DefaultTerminal,
    rx: &mut mpsc::Receiver<AppEvent>,
    child: &mut Option<RunPy>,
) -> Result<()> {
    let mut exited = false;
    app.draw(terminal)?;
    while !app.quit {
        tokio::select! {
            ev = rx.recv() => match ev {
                // The screen is redrawn on the frame tick only (and
                // only if something changed), however many events come.
                // The tick first moves a replay's clock (live: nothing).
                Some(AppEvent::Tick) => {
                    app.handle(AppEvent::Tick);
                    app.draw(terminal)?
                }
                Some(ev) => app.handle(ev),
                None => break,
            },
            status = async { child.as_mut().expect("checked").child.wait().await },
                if child.is_some() && !exited => {
                exited = true;
                let code = status.ok().and_then(|s| s.code());
                // Give the pipes a moment to deliver the last words.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let last = child
                    .as_ref()
                    .and_then(|c| runpy::last_line(&c.stderr_so_far()));
                app.handle(AppEvent::ChildExited(code, last));
            }
        }
    }
    Ok(())
}

/// Stops run.py (if still running), passes on its output, and returns its
/// exit status as kvdash's.
async fn finish_runpy(mut rp: RunPy) -> ExitCode {
    // run.py's own clean-up takes about a second (TERM_GRACE, then SIGKILL).
    let status = rp.stop(Duration::from_secs(5)).await;
    let (out, err) = rp.output().await;
    // The terminal may be gone (a hang-up): nothing more to do then.
    let mut stdout = std::io::stdout();
    let _ = stdout.write_all(&out).and_then(|_| stdout.flush());
    let _ = std::io::stderr().write_all(&err);
    match status {
        Some(c) => ExitCode::from(c.clamp(0, 255) as u8),
        None => ExitCode::from(1),
    }
}

/// For the end-to-end test of the panic path: `KVDASH_TEST_PANIC_MS=N`
/// panics N ms after the console starts.
fn test_panic_hook() {
    if let Some(ms) = std::env::var("KVDASH_TEST_PANIC_MS")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            panic!("KVDASH_TEST_PANIC_MS: a deliberate panic");
        });
    }
}

/// `kvdash replay FILE`: the console over a recording. The file is read
/// before the terminal is touched (a missing or empty one is an error,
/// exit 1); no socket is bound.
fn replay_main(cli: Cli) -> Result<ExitCode> {
    use dashboard::replay::{Recording, Replay};
    let Some(Cmd::Replay {
        file,
        speed,
        paused,
    }) = cli.cmd
    else {
        unreachable!("called for `kvdash replay` only");
    };
    let rec = Recording::from_path(&file)?;
    install_panic_hook();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let ui = Ui {
        socket: file.display().to_string(),
        mode: Mode::Replay {
            file: file.display().to_string(),
        },
        ..Ui::default()
    };
    let app = App::replaying(ui, Replay::new(rec, speed, paused));
    runtime.block_on(replay_console(app, cli.fps))?;
    runtime.shutdown_timeout(Duration::from_millis(200));
    Ok(ExitCode::SUCCESS)
}

/// The replay's console: the frame ticker paces it, keys and signals as
/// live.
async fn replay_console(mut app: App, fps: u32) -> Result<()> {
    let (tx, mut rx) = mpsc::channel::<AppEvent>(1024);
    tokio::spawn(app::ticker(tx.clone(), fps));
    spawn_signals(&tx)?;
    on_terminal(&mut app, &tx, &mut rx, &mut None).await
}

/// Takes the terminal, reads keys, runs the event loop until the user
/// quits, and gives the terminal back, however the loop ended.
async fn on_terminal(
    app: &mut App,
    tx: &mpsc::Sender<AppEvent>,
    rx: &mut mpsc::Receiver<AppEvent>,
    child: &mut Option<RunPy>,
) -> Result<()> {
    let mut terminal = ratatui::try_init().context("cannot set up the terminal")?;
    TUI_ACTIVE.store(true, Ordering::SeqCst);
    let stop_input = Arc::new(AtomicBool::new(false));
    let input = app::input_thread(tx.clone(), stop_input.clone());
    test_panic_hook();

    let result = event_loop(app, &mut terminal, rx, child).await;

    // The input thread stops at its next poll; it is not waited for, as a
    // read on a terminal that went away may never return.
    stop_input.store(true, Ordering::Relaxed);
    drop(input);
    if TUI_ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = ratatui::try_restore();
    }
    result
}
