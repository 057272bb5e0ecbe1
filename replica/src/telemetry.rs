//! Non-blocking state-event emission to the console's Unix datagram socket.
//!
//! Events are serialized into a batch and sent with a non-blocking send
//! from the loop, at most every `SEND_EVERY` (a datagram per loop pass
//! would wake the console thousands of times a second and take CPU from
//! the replicas on a small machine). When nobody listens, or the socket is full, the batch
//! is dropped and counted, and while nobody listens no serialization is
//! done at all for a while: Raft timing never depends on a console.

use std::io;
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
    path: PathBuf,
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
            path: path.to_path_buf(),
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
        let result = match &self.sock {
            Some(sock) => sock.send_to(self.batch.as_bytes(), &self.path),
            None => Err(io::Error::from(io::ErrorKind::NotConnected)),
        };
        match result {
            Ok(_) => self.delivered += self.batched,
            Err(e) => {
                self.dropped += self.batched;
                if e.kind() != io::ErrorKind::WouldBlock {
                    // Nobody listening (no socket file, or refused).
                    self.retry_at = now + RETRY_AFTER;
                }
            }
        }
        self.batch.clear();
        self.batched = 0;
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
}
