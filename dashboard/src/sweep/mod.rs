//! `kvdash sweep`: run.py over every combination of knob values and every
//! seed, one run at a time, keeping each recording, then one table of the
//! figures' medians and spreads.
//!
//! Layout of `--out DIR`: one folder per setting (`01-heartbeat=100ms/`)
//! holding each seed's recording (`seed-1.jsonl`), run.py's JSON results
//! (`seed-1.json`) and its output (`seed-1.txt`); then `sweep.txt` (the
//! table) and `sweep.json` (the table and every run) at the top.

pub mod plan;
pub mod plots;
pub mod table;

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::report::{self, Report};
use crate::runpy::{self, Located};
use plan::{Setting, Vary};
use table::Row;

/// What the user asked for: `kvdash sweep`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// The scenario: a path, or a name under configs/
    pub config: String,
    /// KNOB=V1,V2,...: the values of one knob (repeat for more knobs;
    /// every combination runs). Values in the replica's --tune syntax,
    /// e.g. heartbeat=100ms,200ms or election=800ms-1600ms,1s-2s
    #[arg(long = "vary", required = true, value_name = "KNOB=V1,V2", value_parser = plan::parse_vary)]
    pub varies: Vec<Vary>,
    /// Knobs fixed for every run (the replica's --tune syntax)
    #[arg(long, value_name = "KNOBS", default_value = "")]
    pub tune: String,
    /// Seeds per setting: N, N+1, ... from --first-seed
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub seeds: u64,
    /// The first seed
    #[arg(long, value_name = "S", default_value_t = 1)]
    pub first_seed: u64,
    /// Where the runs go; must be new or empty [default: sweep-<config>-<unix time>]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Also draw each column against the setting: DIR/plots/*.svg
    #[arg(long)]
    pub plots: bool,
    /// run.py to use [default: ./run.py, else the one beside kvdash's workspace]
    #[arg(long, value_name = "PATH")]
    pub runpy: Option<PathBuf>,
    /// The replica run.py starts (its -r) [default: 3700kvstore where run.py runs]
    #[arg(long, value_name = "PATH")]
    pub replica: Option<PathBuf>,
    /// More run.py options, as they are (after `--`), e.g. -- --pace course
    #[arg(last = true, value_name = "RUN.PY OPTIONS")]
    pub args: Vec<String>,
}

/// One finished run.
#[derive(Debug, Serialize)]
pub struct RunRecord {
    pub seed: u64,
    pub recording: PathBuf,
    /// run.py's exit status (`None`: killed by a signal).
    pub exit: Option<i32>,
    pub seconds: f64,
    /// Why the recording could not be read, if it could not.
    pub error: Option<String>,
    #[serde(skip)]
    pub report: Option<Report>,
}

/// What `sweep.json` holds.
#[derive(Serialize)]
struct Summary<'a> {
    config: &'a str,
    seeds: Vec<u64>,
    tune: &'a str,
    varies: &'a [Vary],
    interrupted: bool,
    settings: Vec<SettingSummary<'a>>,
    columns: Vec<&'static str>,
}

#[derive(Serialize)]
struct SettingSummary<'a> {
    setting: String,
    tune: String,
    row: &'a Row,
    runs: &'a [RunRecord],
}

/// run.py exits 2 for a bad config, replica or option: no other run
/// would go better.
const RUNPY_USAGE: i32 = 2;

/// Runs the sweep; the exit status: 0 when every run ran, 1 when some
/// left no readable recording, 130 when interrupted (the partial table is
/// still printed and written).
pub fn run(opts: &Options) -> Result<u8> {
    let settings = plan::settings(&opts.varies, &opts.tune).map_err(anyhow::Error::msg)?;
    if opts.seeds == 0 {
        bail!("--seeds must be at least 1");
    }
    let seeds: Vec<u64> = (0..opts.seeds)
        .map(|i| {
            opts.first_seed
                .checked_add(i)
                .context("--first-seed is too large")
        })
        .collect::<Result<_>>()?;
    let loc = runpy::locate(opts.runpy.as_deref())?;
    let replica = absolute(
        &opts
            .replica
            .clone()
            .unwrap_or_else(|| loc.cwd.clone().unwrap_or_default().join("3700kvstore")),
    )?;
    check_settings(&replica, &settings, &opts.tune)?;
    let config = config_argument(&opts.config);
    let loc = Located {
        script: absolute(&loc.script)?,
        cwd: loc.cwd,
    };
    let out = output_dir(opts.out.as_deref(), &opts.config)?;

    let stop = Arc::new(AtomicBool::new(false));
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        signal_hook::flag::register(sig, stop.clone()).context("cannot handle signals")?;
    }
    eprintln!(
        "kvdash: sweep of {} settings x {} seeds = {} runs of {}, one at a time, into {}",
        settings.len(),
        seeds.len(),
        settings.len() * seeds.len(),
        opts.config,
        out.display()
    );
    let progress = Progress::new((settings.len() * seeds.len()) as u64);
    let mut records: Vec<Vec<RunRecord>> = settings.iter().map(|_| Vec::new()).collect();
    'all: for (i, setting) in settings.iter().enumerate() {
        let dir = out.join(setting.folder(i));
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("cannot create {}", dir.display()))?;
        for &seed in &seeds {
            progress.start(&setting.label(), seed);
            let started = Instant::now();
            let tune = setting.tune(&opts.tune);
            let status = run_one(
                &loc, &config, &replica, &tune, seed, &dir, &opts.args, &stop,
            )?;
            if stop.load(Ordering::SeqCst) {
                // The interrupted run is incomplete: not counted.
                break 'all;
            }
            if status.code() == Some(RUNPY_USAGE) {
                let text = std::fs::read_to_string(dir.join(format!("seed-{seed}.txt")))
                    .unwrap_or_default();
                bail!(
                    "run.py refused the run ({}): {}",
                    setting.label(),
                    runpy::last_line(text.as_bytes()).unwrap_or_default()
                );
            }
            let recording = dir.join(format!("seed-{seed}.jsonl"));
            let (report, error) = match report::from_path(&recording) {
                Ok(r) if r.runs > 0 => (Some(r), None),
                Ok(_) => (None, Some("the recording holds no run".to_string())),
                Err(e) => (None, Some(e.to_string())),
            };
            let rec = RunRecord {
                seed,
                recording,
                exit: status.code(),
                seconds: started.elapsed().as_secs_f64(),
                error,
                report,
            };
            progress.finish(&setting.label(), &rec);
            records[i].push(rec);
        }
    }
    progress.done();
    let interrupted = stop.load(Ordering::SeqCst);

    let rows: Vec<Row> = settings
        .iter()
        .zip(&records)
        .map(|(s, recs)| {
            let reports: Vec<&Report> = recs.iter().filter_map(|r| r.report.as_ref()).collect();
            Row::of(s.label(), &reports)
        })
        .collect();
    let mut text = header(opts, &seeds, &replica);
    if interrupted {
        text += "INTERRUPTED: the table holds the runs that finished\n";
    }
    text += "\n";
    text += &table::render(&rows);
    let failed: usize = records
        .iter()
        .flatten()
        .filter(|r| r.error.is_some())
        .count();
    if failed > 0 {
        text += &format!("{failed} runs left no readable recording (see sweep.json)\n");
    }
    print!("{text}");
    std::fs::write(out.join("sweep.txt"), &text).context("cannot write sweep.txt")?;
    let summary = Summary {
        config: &opts.config,
        seeds,
        tune: &opts.tune,
        varies: &opts.varies,
        interrupted,
        settings: settings
            .iter()
            .zip(&rows)
            .zip(&records)
            .map(|((s, row), runs)| SettingSummary {
                setting: s.label(),
                tune: s.tune(&opts.tune),
                row,
                runs,
            })
            .collect(),
        columns: table::COLUMNS.iter().map(|c| c.key).collect(),
    };
    std::fs::write(
        out.join("sweep.json"),
        serde_json::to_string_pretty(&summary)? + "\n",
    )
    .context("cannot write sweep.json")?;
    if opts.plots {
        for p in plots::write_all(&opts.varies, &settings, &rows, &out.join("plots"))? {
            eprintln!("kvdash: wrote {}", p.display());
        }
    }
    eprintln!(
        "kvdash: recordings, sweep.txt and sweep.json are in {}",
        out.display()
    );
    Ok(if interrupted {
        130
    } else if failed > 0 {
        1
    } else {
        0
    })
}

fn header(opts: &Options, seeds: &[u64], replica: &Path) -> String {
    let mut s = format!(
        "sweep of {} over seeds {}-{}\n",
        opts.config,
        seeds.first().copied().unwrap_or(0),
        seeds.last().copied().unwrap_or(0)
    );
    s += &format!("replica: {}\n", replica.display());
    if !opts.tune.is_empty() {
        s += &format!("fixed knobs (--tune): {}\n", opts.tune);
    }
    if !opts.args.is_empty() {
        s += &format!("run.py options: {}\n", opts.args.join(" "));
    }
    s
}

/// Asks the replica to check every setting's knobs before any run.
pub fn check_settings(replica: &Path, settings: &[Setting], fixed: &str) -> Result<()> {
    if !replica.is_file() {
        bail!(
            "the replica {} does not exist (build it with `make`, or give --replica PATH)",
            replica.display()
        );
    }
    for s in settings {
        let tune = s.tune(fixed);
        let out = Command::new(replica)
            .args(["--tune", &tune, "--print-config"])
            .env_remove("KV_TUNE")
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("cannot run {}", replica.display()))?;
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            bail!(
                "the replica refused the setting {}: {}",
                s.label(),
                err.lines().next().unwrap_or("(no message)").trim()
            );
        }
    }
    Ok(())
}

/// The config as run.py should get it from another folder: absolute when
/// it names a file here; a name (`crash-3`) run.py finds beside itself.
fn config_argument(config: &str) -> String {
    if Path::new(config).exists() {
        std::fs::canonicalize(config)
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_else(|_| config.to_string())
    } else {
        config.to_string()
    }
}

fn absolute(p: &Path) -> Result<PathBuf> {
    if p.is_absolute() {
        Ok(p.to_path_buf())
    } else {
        Ok(std::env::current_dir()
            .context("cannot read the current directory")?
            .join(p))
    }
}

/// `--out`, which must be new or empty (nothing is overwritten); by
/// default `sweep-<config>-<unix time>` here.
fn output_dir(out: Option<&Path>, config: &str) -> Result<PathBuf> {
    let dir = match out {
        Some(d) => d.to_path_buf(),
        None => {
            let stem = Path::new(config)
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
            let secs = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            PathBuf::from(format!("sweep-{stem}-{secs}"))
        }
    };
    if dir.exists()
        && std::fs::read_dir(&dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} exists and is not empty: give another --out (nothing is overwritten)",
            dir.display()
        );
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    absolute(&dir)
}

/// One run.py run, in the setting's folder (so that its socket files
/// cannot meet another run's): its output to `seed-N.txt`, recording and
/// JSON beside it. On a stop request, run.py is asked to stop (SIGINT, as a Ctrl-C
/// would), then killed if it does not within 10 s.
#[allow(clippy::too_many_arguments)]
fn run_one(
    loc: &Located,
    config: &str,
    replica: &Path,
    tune: &str,
    seed: u64,
    dir: &Path,
    extra: &[String],
    stop: &AtomicBool,
) -> Result<ExitStatus> {
    let (prog, mut args) = runpy::program(&loc.script);
    let file = |ext: &str| dir.join(format!("seed-{seed}.{ext}"));
    args.extend([
        config.into(),
        "-s".into(),
        "--seed".into(),
        seed.to_string().into(),
        "-r".into(),
        replica.as_os_str().to_owned(),
        "--record".into(),
        file("jsonl").into_os_string(),
        "--json".into(),
        file("json").into_os_string(),
    ]);
    if !tune.is_empty() {
        args.extend(["--tune".into(), tune.into()]);
    }
    args.extend(extra.iter().map(Into::into));
    let log = std::fs::File::create(file("txt"))
        .with_context(|| format!("cannot write {}", file("txt").display()))?;
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .env_remove("KV_TUNE")
        // Its own process group: a Ctrl-C reaches kvdash, which stops
        // run.py and still prints the table.
        .current_dir(dir)
        .process_group(0);
    // SAFETY: prctl only sets this child's parent-death signal.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot start {}", loc.script.display()))?;
    wait(&mut child, stop)
}

fn wait(child: &mut Child, stop: &AtomicBool) -> Result<ExitStatus> {
    let mut asked: Option<Instant> = None;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(status);
        }
        if stop.load(Ordering::SeqCst) {
            match asked {
                None => {
                    // SAFETY: a signal to our own child.
                    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                    asked = Some(Instant::now());
                }
                Some(t) if t.elapsed() > Duration::from_secs(10) => {
                    let _ = child.kill();
                }
                Some(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A progress bar with the time left on a terminal; a line per run
/// otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    started: Instant,
}

impl Progress {
    fn new(total: u64) -> Progress {
        use std::io::IsTerminal;
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(total);
            b.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} runs, {elapsed} elapsed, ~{eta} left: {msg}",
                )
                .expect("a valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(500));
            b
        });
        Progress {
            bar,
            total,
            done: 0.into(),
            started: Instant::now(),
        }
    }

    fn start(&self, setting: &str, seed: u64) {
        if let Some(b) = &self.bar {
            b.set_message(format!("{setting} seed {seed}"));
        }
    }

    fn finish(&self, setting: &str, rec: &RunRecord) {
        self.done.set(self.done.get() + 1);
        let verdict = match (&rec.report, &rec.error) {
            (Some(r), _) => match &r.verdict {
                Some(v) if v.passed => "PASS".to_string(),
                Some(_) => "FAIL".to_string(),
                None => "no verdict".to_string(),
            },
            (None, Some(e)) => format!("no recording: {e}"),
            (None, None) => "?".into(),
        };
        let line = format!(
            "run {}/{}: {setting} seed {}: {verdict} ({:.1} s)",
            self.done.get(),
            self.total,
            rec.seed,
            rec.seconds
        );
        match &self.bar {
            Some(b) => {
                b.println(line);
                b.inc(1);
            }
            None => {
                let done = self.done.get();
                let per = self.started.elapsed().as_secs_f64() / done as f64;
                let left = per * (self.total - done) as f64;
                eprintln!("kvdash: {line}, about {:.0} s left", left);
            }
        }
    }

    fn done(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
