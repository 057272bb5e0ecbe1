//! Non-blocking state-event emission to the console's Unix datagram socket.
//!
//! Events are serialized into a batch and sent with a non-blocking send
//! from the loop, at most every `SEND_EVERY` (a datagram per loop pass
//! would wake the console thousands of times a second and take CPU from
//! the replicas on a small machine). When nobody listens, or the socket is full, the batch
//! is dropped and counted, and while nobody listens no serialization is
//! done at all for a while: Raft timing never depends on a console.
//!
//! The socket's path is predictable (`/tmp/kvdash-<uid>.sock`), so the
//! emitter connects to it only if it is a socket owned by this user. The
//! check is made when connecting (a stat, at most every `RETRY_AFTER` while
//! nobody listens), not per datagram: once connected, sends go to the
//! socket that was checked, whatever happens to the path.

use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};

use shared::events::{DashEvent, Event};

use crate::raft::Micros;

/// Largest batch per datagram (the schema allows up to 60 KiB).
const MAX_BATCH: usize = 56 * 1024;
/// After a send finds nobody listening, events are dropped unserialized for
/// this long before trying again.
const RETRY_AFTER: Micros = 250_000;
/// Batches go out this often (or sooner when large).
const SEND_EVERY: Micros = 50_000;

pub struct Emitter {
    sock: Option<UnixDatagram>,
    /// `sock` is connected to `path`, whose owner was checked.
    connected: bool,
    path: PathBuf,
    /// Our effective uid: the owner `path` must have.
    uid: u32,
    src: String,
    /// Unix time in microseconds at shell time 0.
    epoch_unix_us: u64,
    batch: String,
    batched: u64,
    dropped: u64,
    delivered: u64,
    retry_at: Micros,
    next_send: Micros,
}

impl Emitter {
    /// An emitter for events from `src` to the socket at `path`. It never
    /// fails: without a usable socket every event is counted as dropped.
    pub fn new(path: &Path, src: &str, epoch_unix_us: u64) -> Emitter {
        let sock = UnixDatagram::unbound()
            .and_then(|s| s.set_nonblocking(true).map(|_| s))
            .ok();
        Emitter {
            sock,
            connected: false,
            path: path.to_path_buf(),
            // SAFETY: geteuid has no preconditions and cannot fail.
            uid: unsafe { libc::geteuid() },
            src: src.to_string(),
            epoch_unix_us,
            batch: String::new(),
            batched: 0,
            dropped: 0,
            delivered: 0,
            retry_at: 0,
            next_send: 0,
        }
    }

    /// Whether an event emitted at `at` would be kept for sending (not
    /// dropped at once because nobody listened lately).
    pub fn accepting(&self, at: Micros) -> bool {
        self.sock.is_some() && at >= self.retry_at
    }

    /// Queues an event that happened at shell time `at`.
    pub fn emit(&mut self, at: Micros, event: Event) {
        if !self.accepting(at) {
            self.dropped += 1;
            return;
        }
        let line = DashEvent::new(self.epoch_unix_us + at, self.src.clone(), event).to_line();
        if !self.batch.is_empty() && self.batch.len() + line.len() + 1 > MAX_BATCH {
            self.flush(at);
        }
        self.batch.push_str(&line);
        self.batch.push('\n');
        self.batched += 1;
    }

    /// Sends the batch if one is due (see `SEND_EVERY`).
    pub fn flush_due(&mut self, now: Micros) {
        if now >= self.next_send || self.batch.len() >= MAX_BATCH / 2 {
            self.flush(now);
        }
    }

    /// Sends the batch now, without blocking; on any failure it is dropped.
    pub fn flush(&mut self, now: Micros) {
        self.next_send = now + SEND_EVERY;
        if self.batch.is_empty() {
            return;
        }
        match self.send_batch() {
            Ok(_) => self.delivered += self.batched,
            Err(e) => {
                self.dropped += self.batched;
                if e.kind() != io::ErrorKind::WouldBlock {
                    // Nobody listening (no socket file, refused, gone) or a
                    // socket that is not ours: check again later.
                    self.connected = false;
                    self.retry_at = now + RETRY_AFTER;
                }
            }
        }
        self.batch.clear();
        self.batched = 0;
    }

    /// Sends the batch on the connected socket, connecting first if needed.
    fn send_batch(&mut self) -> io::Result<usize> {
        let Some(sock) = &self.sock else {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        };
        if !self.connected {
            connect_if_owned(sock, &self.path, self.uid)?;
            self.connected = true;
        }
        sock.send(self.batch.as_bytes())
    }

    /// Events that could not be delivered so far.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Events handed to the socket so far.
    pub fn delivered(&self) -> u64 {
        self.delivered
    }
}

/// Connects `sock` to `path` if it is a socket owned by `uid`.
fn connect_if_owned(sock: &UnixDatagram, path: &Path, uid: u32) -> io::Result<()> {
    let meta = std::fs::metadata(path)?;
    if meta.uid() != uid {
        return Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            "the event socket belongs to another user",
        ));
    }
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the event socket path is not a socket",
        ));
    }
    sock.connect(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn stop() -> Event {
        Event::Stop {
            reason: "test".into(),
        }
    }

    #[test]
    fn with_nobody_listening_events_are_dropped_and_counted_at_once() {
        let dir = std::env::temp_dir().join(format!("kvtel-none-{}", std::process::id()));
        let mut e = Emitter::new(&dir.join("absent.sock"), "0001", 0);
        let start = Instant::now();
        for i in 0..1000 {
            e.emit(i, stop());
            e.flush(i);
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "emission must not wait"
        );
        assert_eq!(e.dropped(), 1000);
        assert_eq!(e.delivered(), 0);
    }

    #[test]
    fn a_listener_receives_json_lines_and_a_full_socket_drops_without_blocking() {
        let dir = std::env::temp_dir().join(format!("kvtel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dash.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        let mut e = Emitter::new(&path, "0002", 1_000_000);
        e.emit(5, stop());
        e.emit(6, stop());
        e.flush(6);
        let mut buf = vec![0u8; 65536];
        let n = listener.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let events: Vec<DashEvent> = text.lines().map(|l| DashEvent::parse(l).unwrap()).collect();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].src, "0002");
        assert_eq!(events[0].ts, 1_000_005);

        // Nobody reads any more: the socket fills, and sends must not block.
        let start = Instant::now();
        for i in 0..20_000u64 {
            e.emit(10 + i, stop());
            e.flush(10 + i);
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "emission must not wait"
        );
        assert!(e.dropped() > 0, "a full socket drops events");
        assert_eq!(e.dropped() + e.delivered(), 20_002);
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A socket bound at a fresh path under the temporary directory.
    fn listener(name: &str) -> (PathBuf, UnixDatagram) {
        let dir = std::env::temp_dir().join(format!("kvtel-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dash.sock");
        let _ = std::fs::remove_file(&path);
        let listener = UnixDatagram::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        (path, listener)
    }

    fn lines_waiting(listener: &UnixDatagram) -> usize {
        let mut buf = vec![0u8; 65536];
        let mut n = 0;
        while let Ok(len) = listener.recv(&mut buf) {
            n += buf[..len].iter().filter(|&&b| b == b'\n').count();
        }
        n
    }

    #[test]
    fn a_socket_owned_by_another_user_is_never_sent_to() {
        const NOBODY: u32 = 65534;
        let (path, listener) = listener("owner");
        let me = unsafe { libc::geteuid() };
        if me == NOBODY {
            eprintln!("skipped: running as uid 65534, no other user to give the socket to");
            return;
        }
        if let Err(e) = std::os::unix::fs::chown(&path, Some(NOBODY), None) {
            assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
            eprintln!("skipped: chown to uid 65534 is not permitted (not root): {e}");
            return;
        }
        let mut e = Emitter::new(&path, "0001", 0);
        e.emit(1, stop());
        e.emit(2, stop());
        e.flush(2);
        assert_eq!(lines_waiting(&listener), 0, "sent to another user's socket");
        assert_eq!((e.delivered(), e.dropped()), (0, 2));
        // Like an unreachable socket: dropped unserialized until the retry.
        e.emit(3, stop());
        assert_eq!(e.dropped(), 3);

        // Ours again: the next connection attempt checks again and sends.
        std::os::unix::fs::chown(&path, Some(me), None).unwrap();
        let later = 2 + RETRY_AFTER;
        e.emit(later, stop());
        e.flush(later);
        assert_eq!(lines_waiting(&listener), 1);
        assert_eq!((e.delivered(), e.dropped()), (1, 3));
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[test]
    fn the_owner_is_checked_when_connecting_not_per_datagram() {
        let (path, listener) = listener("connected");
        let mut e = Emitter::new(&path, "0001", 0);
        e.emit(1, stop());
        e.flush(1);
        assert_eq!(lines_waiting(&listener), 1);
        // Without the path, a send by path (or a stat) would fail: a
        // connected socket still reaches the listener it checked.
        std::fs::remove_file(&path).unwrap();
        for i in 0..10 {
            e.emit(100 + i, stop());
            e.flush(100 + i);
        }
        assert_eq!(lines_waiting(&listener), 10);
        assert_eq!((e.delivered(), e.dropped()), (11, 0));
        // The listener goes away: refused, then dropped until a new one.
        drop(listener);
        e.emit(200, stop());
        e.flush(200);
        assert_eq!(e.dropped(), 1);
        let listener = UnixDatagram::bind(&path).unwrap();
        listener.set_nonblocking(true).unwrap();
        let later = 200 + RETRY_AFTER;
        e.emit(later, stop());
        e.flush(later);
        assert_eq!(lines_waiting(&listener), 1);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
