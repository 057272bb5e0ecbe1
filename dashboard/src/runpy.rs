//! `kvdash run`: run.py with the console's socket wired in.
//!
//! run.py is started with `--events <socket>` (when it has that option;
//! otherwise only `KVDASH_SOCKET` is set, so that the replicas' events still
//! arrive) and `-s` unless the user passes run.py options of their own. Its
//! output is captured, never shown over the console, and printed once the
//! terminal is restored.

use std::ffi::OsString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

/// Output kept per stream (the tail, if run.py prints more).
pub const CAPTURE_MAX: usize = 16 << 20;

#[derive(Debug, Error)]
pub enum RunPyError {
    #[error("run.py not found at {0}")]
    NotFound(PathBuf),
    #[error(
        "run.py not found: not in the current directory nor beside kvdash's workspace; \
         give its path with --runpy PATH"
    )]
    NotLocated,
    #[error("cannot start {path}: {source}")]
    Spawn {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where run.py is and where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub script: PathBuf,
    /// The directory to run it in (`None`: the current one).
    pub cwd: Option<PathBuf>,
}

/// Finds run.py: `explicit` if given (run in the current directory, where
/// the user's own replica may be), else `./run.py`, else the nearest
/// `run.py` above the kvdash executable (run in its directory, where `make`
/// puts `./3700kvstore`).
pub fn locate(explicit: Option<&Path>) -> Result<Located, RunPyError> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(Located {
                script: p.to_path_buf(),
                cwd: None,
            })
        } else {
            Err(RunPyError::NotFound(p.to_path_buf()))
        };
    }
    let here = Path::new("run.py");
    if here.is_file() {
        return Ok(Located {
            script: PathBuf::from("./run.py"),
            cwd: None,
        });
    }
    let exe = std::env::current_exe().map_err(|_| RunPyError::NotLocated)?;
    for dir in exe.ancestors().skip(1) {
        let candidate = dir.join("run.py");
        if candidate.is_file() {
            return Ok(Located {
                script: candidate,
                cwd: Some(dir.to_path_buf()),
            });
        }
    }
    Err(RunPyError::NotLocated)
}

/// How to invoke `script`: directly when executable, else with python3.
pub fn program(script: &Path) -> (OsString, Vec<OsString>) {
    let executable = std::fs::metadata(script)
        .map(|m| m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false);
    if executable {
        (script.as_os_str().to_owned(), vec![])
    } else {
        ("python3".into(), vec![script.as_os_str().to_owned()])
    }
}

/// Whether run.py has the `--events` option (from its `--help`).
pub async fn supports_events(loc: &Located) -> bool {
    let (prog, mut args) = program(&loc.script);
    args.push("--help".into());
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(d) = &loc.cwd {
        cmd.current_dir(d);
    }
    match tokio::time::timeout(Duration::from_secs(10), cmd.output()).await {
        Ok(Ok(out)) => String::from_utf8_lossy(&out.stdout).contains("--events"),
        _ => false,
    }
}

/// run.py's arguments: the config, `--events SOCKET` when supported, `-s`
/// when the user gave no options, then the user's options.
pub fn arguments(config: &str, socket: &Path, events: bool, user: &[String]) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![config.into()];
    if events {
        args.push("--events".into());
        args.push(socket.as_os_str().to_owned());
    }
    if user.is_empty() {
        args.push("-s".into());
    }
    args.extend(user.iter().map(OsString::from));
    args
}

/// A running run.py and its captured output.
pub struct RunPy {
    pub child: Child,
    stdout: Captured,
    stderr: Captured,
}

/// A stream being captured: the bytes so far, and the task reading it.
struct Captured {
    buf: Arc<Mutex<Vec<u8>>>,
    task: JoinHandle<()>,
}

impl Captured {
    fn start(r: impl AsyncReadExt + Unpin + Send + 'static) -> Captured {
        let buf = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(capture(r, buf.clone()));
        Captured { buf, task }
    }

    fn snapshot(&self) -> Vec<u8> {
        self.buf.lock().map(|b| b.clone()).unwrap_or_default()
    }

    async fn finish(self) -> Vec<u8> {
        let _ = self.task.await;
        let mut b = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut *b)
    }
}

async fn capture(mut r: impl AsyncReadExt + Unpin, out: Arc<Mutex<Vec<u8>>>) {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let mut out = out.lock().unwrap_or_else(|e| e.into_inner());
                out.extend_from_slice(&buf[..n]);
                if out.len() > CAPTURE_MAX {
                    let cut = out.len() - CAPTURE_MAX;
                    out.drain(..cut);
                }
            }
        }
    }
}

impl RunPy {
    /// Starts run.py. Call from the thread that lives as long as kvdash:
    /// run.py is asked to stop (SIGTERM) if that thread dies.
    pub fn spawn(
        loc: &Located,
        config: &str,
        socket: &Path,
        events: bool,
        user: &[String],
    ) -> Result<RunPy, RunPyError> {
        let (prog, mut args) = program(&loc.script);
        // A config given relative to here still works from run.py's folder.
        let config = match &loc.cwd {
            Some(_) if Path::new(config).exists() => std::fs::canonicalize(config)
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|_| config.to_string()),
            _ => config.to_string(),
        };
        args.extend(arguments(&config, socket, events, user));
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .env(shared::events::SOCKET_ENV, socket)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Some(d) = &loc.cwd {
            cmd.current_dir(d);
        }
        // Its own process group: the terminal's signals (a hang-up, a
        // Ctrl-C outside raw mode) go to kvdash, which stops run.py cleanly.
        cmd.process_group(0);
        // SAFETY: prctl is async-signal-safe; it only sets this child's
        // parent-death signal.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|source| RunPyError::Spawn {
            path: loc.script.clone(),
            source,
        })?;
        let stdout = Captured::start(child.stdout.take().expect("piped"));
        let stderr = Captured::start(child.stderr.take().expect("piped"));
        Ok(RunPy {
            child,
            stdout,
            stderr,
        })
    }

    /// Asks run.py to stop (SIGTERM: it then stops its replicas, removes
    /// its sockets and folders, and says it was interrupted), waits up to
    /// `grace`, then kills it (SIGKILL: its watchdog and the replicas'
    /// parent-death signal then clean up after it).
    pub async fn stop(&mut self, grace: Duration) -> Option<i32> {
        if let Ok(Some(status)) = self.child.try_wait() {
            return status.code();
        }
        if let Some(pid) = self.child.id() {
            // SAFETY: a signal to our own child process.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGTERM);
            }
        }
        match tokio::time::timeout(grace, self.child.wait()).await {
            Ok(Ok(status)) => status.code(),
            _ => {
                let _ = self.child.kill().await;
                None
            }
        }
    }

    /// What it printed on stderr so far.
    pub fn stderr_so_far(&self) -> Vec<u8> {
        self.stderr.snapshot()
    }

    /// Its whole output, stdout and stderr (once it has exited).
    pub async fn output(self) -> (Vec<u8>, Vec<u8>) {
        let out = self.stdout.finish().await;
        let err = self.stderr.finish().await;
        (out, err)
    }
}

/// The last non-empty line of `text`, for the status line.
pub fn last_line(text: &[u8]) -> Option<String> {
    String::from_utf8_lossy(text)
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_py_gets_the_socket_and_is_silenced_unless_told_otherwise() {
        let s = Path::new("/tmp/k.sock");
        let args = arguments("configs/ci/simple.json", s, true, &[]);
        assert_eq!(
            args,
            ["configs/ci/simple.json", "--events", "/tmp/k.sock", "-s"]
                .map(OsString::from)
                .to_vec()
        );
        let user = vec!["--seed".to_string(), "7".to_string()];
        let args = arguments("c.json", s, false, &user);
        assert_eq!(args, ["c.json", "--seed", "7"].map(OsString::from).to_vec());
    }

    #[test]
    fn an_explicit_run_py_must_exist() {
        assert!(matches!(
            locate(Some(Path::new("/nonexistent/run.py"))),
            Err(RunPyError::NotFound(_))
        ));
    }
}
