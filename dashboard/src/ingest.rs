//! Ingest: the event socket to parsed events.
//!
//! [`bind`] creates the console's Unix datagram socket (mode 0600). A socket
//! file left by a console that died is replaced; one that a live console
//! still holds is an error ([`BindError::InUse`]). [`reader`] drains the
//! socket on a thread of its own; [`run`] is the tokio task that splits the
//! datagrams into lines, parses each with [`DashEvent::parse`] and passes
//! them on in batches, counting what it cannot use (never failing on it),
//! and optionally recording every event.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use shared::events::DashEvent;
use thiserror::Error;
use tokio::sync::mpsc;

use crate::state::IngestStats;

/// Largest datagram read (the schema keeps them under 60 KiB).
pub const DATAGRAM_MAX: usize = 64 * 1024;
/// Events passed on at most per batch.
pub const BATCH_MAX: usize = 4096;
/// Receive buffer asked of the kernel, so that bursts wait rather than drop.
pub const RCVBUF: usize = 8 << 20;

#[derive(Debug, Error)]
pub enum BindError {
    #[error(
        "another kvdash is already listening on {0}\n\
         (quit it first, or give this one its own socket with --socket PATH;\n\
         replicas and run.py send to $KVDASH_SOCKET)"
    )]
    InUse(PathBuf),
    #[error("{0} exists and is not a socket; not replacing it")]
    NotASocket(PathBuf),
    #[error("cannot use the event socket {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// The bound event socket; the file is removed when this is dropped (if
/// it is still ours).
#[derive(Debug)]
pub struct Bound {
    pub socket: UnixDatagram,
    pub path: PathBuf,
    /// (device, inode) of the socket file we created.
    id: (u64, u64),
    /// A stale socket was replaced.
    pub replaced_stale: bool,
}

impl Drop for Bound {
    fn drop(&mut self) {
        if let Ok(m) = std::fs::symlink_metadata(&self.path) {
            if (m.dev(), m.ino()) == self.id {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BindError + '_ {
    move |source| BindError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Binds the event socket at `path`, mode 0600, replacing a stale one.
pub fn bind(path: &Path) -> Result<Bound, BindError> {
    let mut replaced_stale = false;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_socket() => {
            let probe = UnixDatagram::unbound().map_err(io_err(path))?;
            match probe.connect(path) {
                Ok(()) => return Err(BindError::InUse(path.to_path_buf())),
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                    std::fs::remove_file(path).map_err(io_err(path))?;
                    replaced_stale = true;
                }
                Err(e) => return Err(io_err(path)(e)),
            }
        }
        Ok(_) => return Err(BindError::NotASocket(path.to_path_buf())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(path)(e)),
    }
    // Created 0600 from the start (umask), then made sure of it (chmod).
    // SAFETY: umask only swaps the process's file-creation mask.
    let old = unsafe { libc::umask(0o177) };
    let bound = UnixDatagram::bind(path);
    // SAFETY: as above, restoring the previous mask.
    unsafe { libc::umask(old) };
    let socket = bound.map_err(io_err(path))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    let m = std::fs::symlink_metadata(path).map_err(io_err(path))?;
    set_rcvbuf(&socket, RCVBUF);
    Ok(Bound {
        socket,
        path: path.to_path_buf(),
        id: (m.dev(), m.ino()),
        replaced_stale,
    })
}

/// Best effort: a larger receive queue (the kernel may cap it).
fn set_rcvbuf(socket: &UnixDatagram, bytes: usize) {
    use std::os::fd::AsRawFd;
    let v = bytes as libc::c_int;
    // SAFETY: a plain setsockopt on a socket we own, with a c_int value.
    unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&v as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}

/// Writes every event received, one JSON line each, as it arrived.
pub struct Recorder {
    out: BufWriter<File>,
    pub path: PathBuf,
}

impl Recorder {
    pub fn create(path: &Path) -> io::Result<Recorder> {
        Ok(Recorder {
            out: BufWriter::with_capacity(1 << 16, File::create(path)?),
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

/// Events and counts passed from the ingest task to the app.
#[derive(Debug, Default)]
pub struct Batch {
    pub events: Vec<DashEvent>,
    pub stats: IngestStats,
    /// Recording stopped for this reason.
    pub record_error: Option<String>,
}

/// Splits one datagram into lines and parses them into `batch`; a line
/// that parses is also written to `rec`. Nothing here can fail: bad lines
/// are counted.
pub fn take_datagram(data: &[u8], batch: &mut Batch, rec: &mut Option<Recorder>) {
    batch.stats.datagrams += 1;
    for raw in data.split(|&b| b == b'\n') {
        let raw = raw.trim_ascii();
        if raw.is_empty() {
            continue;
        }
        let Ok(line) = std::str::from_utf8(raw) else {
            batch
                .stats
                .reject(&shared::EventError::Malformed("not UTF-8".into()));
            continue;
        };
        match DashEvent::parse(line) {
            Ok(ev) => {
                batch.stats.events += 1;
                batch.events.push(ev);
                if let Some(r) = rec {
                    if let Err(e) = r.write(line) {
                        batch.record_error = Some(format!("{}: {e}", r.path.display()));
                        *rec = None;
                    }
                }
            }
            Err(e) => batch.stats.reject(&e),
        }
    }
}

/// Datagrams waiting between the reader thread and the ingest task at
/// most, and bytes of them; beyond either they are dropped and counted.
pub const QUEUE_MAX: usize = 16_384;
pub const QUEUE_BYTES_MAX: usize = 32 << 20;

/// A batch takes no more datagrams once it holds this many bytes of them,
/// so that the batches queued for a stalled UI stay small.
pub const BATCH_BYTES_MAX: usize = 1 << 20;

/// Datagrams read off the socket, and how many kvdash itself dropped
/// because its own queue was full.
pub struct Datagrams {
    rx: mpsc::Receiver<Vec<u8>>,
    pub overflow: Arc<AtomicU64>,
    /// Bytes of the datagrams in `rx`: the reader adds, taking subtracts.
    queued_bytes: Arc<AtomicUsize>,
}

impl Datagrams {
    /// The next datagram, waiting for one.
    pub async fn recv(&mut self) -> Option<Vec<u8>> {
        let d = self.rx.recv().await?;
        self.queued_bytes.fetch_sub(d.len(), Ordering::Relaxed);
        Some(d)
    }

    /// The next datagram if one is queued.
    pub fn try_recv(&mut self) -> Option<Vec<u8>> {
        let d = self.rx.try_recv().ok()?;
        self.queued_bytes.fetch_sub(d.len(), Ordering::Relaxed);
        Some(d)
    }

    /// Bytes of datagrams queued now.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes.load(Ordering::Relaxed)
    }
}

/// Reads the socket on a thread of its own, so that it is drained the
/// moment datagrams arrive: the kernel queues only a few datagrams per
/// socket (net.unix.max_dgram_qlen, often 10) before senders must drop
/// theirs. Parsing happens elsewhere ([`run`]). The thread ends when the
/// receiving side is dropped and one more datagram arrives, or with the
/// process.
pub fn reader(socket: UnixDatagram) -> io::Result<Datagrams> {
    reader_within(socket, QUEUE_MAX, QUEUE_BYTES_MAX)
}

/// [`reader`] with the queue's bounds given.
pub fn reader_within(socket: UnixDatagram, max: usize, max_bytes: usize) -> io::Result<Datagrams> {
    socket.set_nonblocking(false)?;
    let (tx, rx) = mpsc::channel::<Vec<u8>>(max.max(1));
    let overflow = Arc::new(AtomicU64::new(0));
    let queued_bytes = Arc::new(AtomicUsize::new(0));
    let dropped = overflow.clone();
    let queued = queued_bytes.clone();
    std::thread::Builder::new()
        .name("kvdash-socket".into())
        .spawn(move || {
            let mut buf = vec![0u8; DATAGRAM_MAX];
            loop {
                match socket.recv(&mut buf) {
                    Ok(n) if queued.load(Ordering::Relaxed) + n > max_bytes => {
                        dropped.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(n) => {
                        // Counted before it is queued, so that the taker never
                        // subtracts what was not added.
                        queued.fetch_add(n, Ordering::Relaxed);
                        match tx.try_send(buf[..n].to_vec()) {
                            Ok(()) => {}
                            Err(mpsc::error::TrySendError::Full(_)) => {
                                queued.fetch_sub(n, Ordering::Relaxed);
                                dropped.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(mpsc::error::TrySendError::Closed(_)) => return,
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })?;
    Ok(Datagrams {
        rx,
        overflow,
        queued_bytes,
    })
}

/// The ingest task: parses the datagrams [`reader`] passes on and sends a
/// batch for every burst of them, until either side goes away.
pub async fn run<T: From<Batch> + Send + 'static>(
    mut input: Datagrams,
    tx: mpsc::Sender<T>,
    mut rec: Option<Recorder>,
) {
    let mut overflow_seen = 0;
    while let Some(first) = input.recv().await {
        let mut batch = Batch::default();
        let mut bytes = first.len();
        take_datagram(&first, &mut batch, &mut rec);
        // Whatever else is already queued joins this batch.
        while batch.events.len() < BATCH_MAX && bytes < BATCH_BYTES_MAX {
            match input.try_recv() {
                Some(d) => {
                    bytes += d.len();
                    take_datagram(&d, &mut batch, &mut rec);
                }
                None => break,
            }
        }
        let overflow = input.overflow.load(Ordering::Relaxed);
        batch.stats.overflow = overflow - overflow_seen;
        overflow_seen = overflow;
        if let Some(r) = &mut rec {
            if let Err(e) = r.flush() {
                batch.record_error = Some(format!("{}: {e}", r.path.display()));
                rec = None;
            }
        }
        if tx.send(T::from(batch)).await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scratch directory, removed when the test ends (pass or fail).
    struct Scratch(PathBuf);

    impl std::ops::Deref for Scratch {
        type Target = Path;
        fn deref(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn tmp(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("kvdash-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    #[test]
    fn the_reader_queue_is_bounded_in_bytes_while_nobody_takes() {
        let (tx, rx) = UnixDatagram::pair().unwrap();
        let mut q = reader_within(rx, 1_000, 10_000).unwrap();
        let datagram = vec![b'x'; 1_000];
        for _ in 0..25 {
            tx.send(&datagram).unwrap();
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while q.overflow.load(Ordering::Relaxed) < 15 {
            assert!(
                std::time::Instant::now() < deadline,
                "the reader never dropped"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(q.queued_bytes(), 10_000, "ten datagrams fit the budget");
        let mut taken = 0;
        while let Some(d) = q.try_recv() {
            taken += d.len();
        }
        assert_eq!(taken, 10_000);
        assert_eq!(q.queued_bytes(), 0);
        tx.send(&datagram).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while q.queued_bytes() == 0 {
            assert!(std::time::Instant::now() < deadline, "room again");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    #[test]
    fn the_socket_is_private_and_removed_on_drop() {
        let dir = tmp("mode");
        let path = dir.join("k.sock");
        let b = bind(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!b.replaced_stale);
        drop(b);
        assert!(!path.exists());
    }

    #[test]
    fn a_live_socket_is_an_error_and_a_stale_one_is_replaced() {
        let dir = tmp("live");
        let path = dir.join("k.sock");
        let first = bind(&path).unwrap();
        assert!(matches!(bind(&path), Err(BindError::InUse(_))));
        // A console that died leaves its file behind: a socket closed
        // without removing it.
        let stale = UnixDatagram::bind(dir.join("stale.sock")).unwrap();
        drop(stale);
        let b = bind(&dir.join("stale.sock")).unwrap();
        assert!(b.replaced_stale);
        drop(first);
    }

    #[test]
    fn a_file_that_is_not_a_socket_is_left_alone() {
        let dir = tmp("file");
        let path = dir.join("k.sock");
        std::fs::write(&path, "precious").unwrap();
        assert!(matches!(bind(&path), Err(BindError::NotASocket(_))));
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    }

    #[test]
    fn bad_lines_in_a_datagram_are_counted_and_good_ones_kept_and_recorded() {
        let dir = tmp("lines");
        let rec_path = dir.join("rec.jsonl");
        let mut rec = Some(Recorder::create(&rec_path).unwrap());
        let mut batch = Batch::default();
        let good = r#"{"v":1,"ts":5,"src":"sim","kind":"partition_healed"}"#;
        let data = format!(
            "{good}\n\n{{oops\n{}\n{}\r\n{good}",
            r#"{"v":9,"ts":5,"src":"sim","kind":"x"}"#,
            r#"{"v":1,"ts":5,"src":"sim","kind":"warp"}"#
        );
        let mut bytes = data.into_bytes();
        // An invalid UTF-8 line.
        bytes.extend_from_slice(b"\n\xff\xfe\n");
        take_datagram(&bytes, &mut batch, &mut rec);
        assert_eq!(batch.events.len(), 2);
        assert_eq!(batch.stats.datagrams, 1);
        assert_eq!(batch.stats.bad_version, 1);
        assert_eq!(batch.stats.unknown_kind, 1);
        assert_eq!(batch.stats.malformed, 2);
        rec.unwrap().flush().unwrap();
        let recorded = std::fs::read_to_string(&rec_path).unwrap();
        assert_eq!(recorded, format!("{good}\n{good}\n"));
    }

    #[tokio::test]
    async fn the_task_batches_what_arrives_and_survives_garbage() {
        let dir = tmp("task");
        let path = dir.join("k.sock");
        let b = bind(&path).unwrap();
        let input = reader(b.socket.try_clone().unwrap()).unwrap();
        let (tx, mut rx) = mpsc::channel::<Batch>(16);
        let task = tokio::spawn(run(input, tx, None));
        let client = UnixDatagram::unbound().unwrap();
        client.send_to(b"\x00\x01garbage", &path).unwrap();
        let line = r#"{"v":1,"ts":5,"src":"sim","kind":"partition_healed"}"#;
        client.send_to(line.as_bytes(), &path).unwrap();
        let mut events = 0;
        let mut malformed = 0;
        while events < 1 {
            let batch = rx.recv().await.unwrap();
            events += batch.events.len();
            malformed += batch.stats.malformed;
        }
        assert_eq!((events, malformed), (1, 1));
        // The app going away ends the task.
        drop(rx);
        client.send_to(line.as_bytes(), &path).unwrap();
        task.await.unwrap();
    }
}
