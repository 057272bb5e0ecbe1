//! The data dir: where a durable replica keeps its term, vote and log.
//!
//! One append-only file, `wal`, of frames: a 4-byte magic, the payload's
//! length and CRC-32 (little-endian u32s), then the payload, a JSON
//! record. The first frame names the replica; each later one is one
//! [`Persist`] batch, written with one `write` and made durable with one
//! `fdatasync`. At start the frames are replayed in order. A batch with a
//! snapshot writes the `snapshot` file (one frame: the store as of an
//! index) and replaces the wal by one holding only the log kept after
//! compaction, so both files stay bounded.
//!
//! A crash can leave only the last frame incomplete: cut short, or longer
//! than the file, or (on some file systems) zeros. Such a tail is dropped
//! and the file truncated to the last whole frame; it was never
//! acknowledged, since nothing is sent before its fsync returns. A frame
//! that fails its checksum with whole frames after it is corruption, not a
//! crash: the replica refuses to start rather than lose what follows.
//!
//! A `lock` file held with `flock` keeps two processes off one data dir.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use shared::{Addr, Entry};

use crate::raft::{HardState, Persist, Recovered, Snapshot};

const MAGIC: &[u8; 4] = b"KVW1";
const FRAME_HEADER: usize = 12;
/// No batch comes near this (a flush holds at most a few thousand puts);
/// a longer length field is corruption.
const MAX_FRAME: usize = 256 << 20;
/// A restarted replica may find its predecessor still exiting.
const LOCK_WAIT: Duration = Duration::from_secs(3);

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is in use by another process (its lock is held)")]
    Locked { path: PathBuf },
    #[error("{path} belongs to replica {found}, not {ours}")]
    WrongReplica {
        path: PathBuf,
        found: String,
        ours: Addr,
    },
    #[error(
        "{path}: corrupt record at byte {offset} ({why}); not a torn last write, so \
         the replica refuses to start rather than drop what is there"
    )]
    Corrupt {
        path: PathBuf,
        offset: u64,
        why: String,
    },
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "record", rename_all = "snake_case")]
enum Record {
    Header {
        replica: Addr,
    },
    Batch {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        term: Option<u64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vote: Option<Option<Addr>>,
        /// The log starts after this (index, term) from here on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        base: Option<(u64, u64)>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        log_from: Option<u64>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        entries: Vec<Entry>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commit: Option<u64>,
    },
}

/// The `snapshot` file's one frame.
#[derive(Serialize, Deserialize)]
struct SnapshotRecord {
    index: u64,
    term: u64,
    pairs: Vec<(String, String)>,
    #[serde(default)]
    terms: Vec<(u64, u64)>,
}

/// What opening a data dir found besides the state.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Bytes of an incomplete last frame that were dropped.
    pub torn_bytes: u64,
    /// Frames replayed (the header included).
    pub frames: u64,
    pub wal_bytes: u64,
    pub snapshot_bytes: u64,
}

pub struct Storage {
    dir: PathBuf,
    id: Addr,
    wal: File,
    _lock: File,
    buf: Vec<u8>,
    /// The term, vote and commit index on disk, for rewriting the wal.
    hard: HardState,
    commit: u64,
    /// Bytes in the wal, and in the snapshot file.
    pub wal_bytes: u64,
    pub snapshot_bytes: u64,
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError {
    let path = path.to_path_buf();
    move |source| StorageError::Io { path, source }
}

impl Storage {
    /// Opens (creating it if needed) replica `id`'s data dir and reads
    /// back what it holds.
    pub fn open(dir: &Path, id: Addr) -> Result<(Storage, Recovered, OpenReport), StorageError> {
        std::fs::create_dir_all(dir).map_err(io_error(dir))?;
        let lock = lock_exclusive(&dir.join("lock"))?;
        let snapshot_path = dir.join("snapshot");
        let snapshot = match std::fs::read(&snapshot_path) {
            Ok(bytes) => Some((read_snapshot(&bytes, &snapshot_path)?, bytes.len() as u64)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_error(&snapshot_path)(e)),
        };
        let wal_path = dir.join("wal");
        let mut wal = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&wal_path)
            .map_err(io_error(&wal_path))?;
        let mut bytes = Vec::new();
        wal.read_to_end(&mut bytes).map_err(io_error(&wal_path))?;
        let (mut recovered, mut report, valid_len, header) = replay(&bytes, &wal_path)?;
        if let Some(found) = header.filter(|&found| found != id) {
            return Err(StorageError::WrongReplica {
                path: dir.to_path_buf(),
                found: found.to_string(),
                ours: id,
            });
        }
        // Not one whole frame: a torn first write starts like a frame (or
        // is zeros); anything else is some other file, never ours to cut.
        let prefix = &bytes[..bytes.len().min(MAGIC.len())];
        let torn_start = prefix == &MAGIC[..prefix.len()] || bytes.iter().all(|&b| b == 0);
        if header.is_none() && !torn_start {
            return Err(StorageError::Corrupt {
                path: wal_path,
                offset: 0,
                why: "not a replica's wal".into(),
            });
        }
        if valid_len < bytes.len() as u64 {
            wal.set_len(valid_len).map_err(io_error(&wal_path))?;
            wal.sync_all().map_err(io_error(&wal_path))?;
        }
        if let Some((snap, size)) = snapshot {
            report.snapshot_bytes = size;
            adopt_snapshot(&mut recovered, snap);
        }
        let mut storage = Storage {
            dir: dir.to_path_buf(),
            id,
            wal,
            _lock: lock,
            buf: Vec::new(),
            hard: recovered.hard_state,
            commit: recovered.commit,
            wal_bytes: valid_len,
            snapshot_bytes: report.snapshot_bytes,
        };
        if header.is_none() {
            // A new (or emptied by a torn first write) data dir.
            storage.append(&Record::Header { replica: id })?;
            sync_dir(dir).map_err(io_error(dir))?;
        }
        Ok((storage, recovered, report))
    }

    /// Writes one batch and waits until it is durable. A batch with a
    /// snapshot replaces the snapshot file, then the wal with one that
    /// holds only the log the node still has (so the disk stays bounded);
    /// each replacement is a new file renamed over the old one, so a
    /// crash leaves either.
    pub fn persist(&mut self, batch: &Persist) -> Result<(), StorageError> {
        if let Some(h) = batch.hard_state {
            self.hard = h;
        }
        self.commit = self.commit.max(batch.commit.unwrap_or(0));
        let Some(snap) = &batch.snapshot else {
            let record = Record::Batch {
                term: batch.hard_state.map(|h| h.term),
                vote: batch.hard_state.map(|h| h.voted_for),
                base: batch.log_base,
                log_from: batch.log_from,
                entries: batch.entries.clone(),
                commit: batch.commit,
            };
            return self.append(&record);
        };
        let image = SnapshotRecord {
            index: snap.index,
            term: snap.term,
            pairs: snap.pairs.clone(),
            terms: snap.terms.clone(),
        };
        let bytes = frame(&serde_json::to_vec(&image).expect("snapshots serialize"));
        self.replace("snapshot", &bytes)?;
        self.snapshot_bytes = bytes.len() as u64;
        let full = Record::Batch {
            term: Some(self.hard.term),
            vote: Some(self.hard.voted_for),
            base: batch.log_base,
            log_from: batch.log_from,
            entries: batch.entries.clone(),
            commit: Some(self.commit),
        };
        let header = Record::Header { replica: self.id };
        let mut wal = frame(&serde_json::to_vec(&header).expect("records serialize"));
        wal.extend(frame(
            &serde_json::to_vec(&full).expect("records serialize"),
        ));
        self.replace("wal", &wal)?;
        let path = self.dir.join("wal");
        self.wal = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io_error(&path))?;
        self.wal_bytes = wal.len() as u64;
        Ok(())
    }

    /// Replaces file `name` with `bytes`, durably and atomically.
    fn replace(&self, name: &str, bytes: &[u8]) -> Result<(), StorageError> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        let path = self.dir.join(name);
        let mut f = File::create(&tmp).map_err(io_error(&tmp))?;
        f.write_all(bytes).map_err(io_error(&tmp))?;
        f.sync_all().map_err(io_error(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_error(&path))?;
        sync_dir(&self.dir).map_err(io_error(&self.dir))
    }

    fn append(&mut self, record: &Record) -> Result<(), StorageError> {
        self.buf.clear();
        serde_json::to_writer(&mut self.buf, record).expect("records always serialize");
        let bytes = frame(&self.buf);
        let path = self.dir.join("wal");
        self.wal.write_all(&bytes).map_err(io_error(&path))?;
        self.wal.sync_data().map_err(io_error(&path))?;
        self.wal_bytes += bytes.len() as u64;
        Ok(())
    }
}

/// `payload` with its frame header.
fn frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(FRAME_HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// The snapshot file: one whole frame. It is only ever replaced by a
/// rename, so anything else is corruption.
fn read_snapshot(bytes: &[u8], path: &Path) -> Result<Snapshot, StorageError> {
    let corrupt = |why: String| StorageError::Corrupt {
        path: path.to_path_buf(),
        offset: 0,
        why,
    };
    let (payload, end) = read_frame(bytes).map_err(|e| corrupt(e.to_string()))?;
    if end != bytes.len() {
        return Err(corrupt(format!(
            "{} bytes after the snapshot",
            bytes.len() - end
        )));
    }
    let r: SnapshotRecord =
        serde_json::from_slice(payload).map_err(|e| corrupt(format!("unreadable: {e}")))?;
    Ok(Snapshot {
        index: r.index,
        term: r.term,
        pairs: r.pairs,
        terms: r.terms,
    })
}

/// The snapshot covers the log up to its index. A crash between writing
/// it and rewriting the wal leaves the older wal: its entries stay if the
/// log holds the snapshot's own entry, as when a leader's snapshot is
/// installed (Raft §7); otherwise the log starts after the snapshot.
fn adopt_snapshot(state: &mut Recovered, snap: Snapshot) {
    let (base, _) = state.log_base;
    let last = base + state.entries.len() as u64;
    let holds = snap.index == base && snap.term == state.log_base.1
        || (snap.index > base
            && snap.index <= last
            && state.entries[(snap.index - base - 1) as usize].term == snap.term);
    if !holds && snap.index >= base {
        state.log_base = (snap.index, snap.term);
        state.entries.clear();
    }
    state.snapshot = Some(snap);
}

/// Replays the frames of `bytes`: the state, what was found, the length
/// of the whole frames, and the header's replica.
fn replay(
    bytes: &[u8],
    path: &Path,
) -> Result<(Recovered, OpenReport, u64, Option<Addr>), StorageError> {
    let mut state = Recovered::default();
    let mut report = OpenReport {
        wal_bytes: bytes.len() as u64,
        ..OpenReport::default()
    };
    let mut header = None;
    let mut at = 0usize;
    while at < bytes.len() {
        let frame = match read_frame(&bytes[at..]) {
            Ok(frame) => frame,
            Err(why) => {
                let tail = &bytes[at..];
                // The last write is the only one a crash can tear, so
                // nothing whole can follow a torn frame.
                if let Some(next) = next_whole_frame(&tail[1..]) {
                    return Err(StorageError::Corrupt {
                        path: path.to_path_buf(),
                        offset: at as u64,
                        why: format!("{why}, with a whole record at byte {}", at + 1 + next),
                    });
                }
                report.torn_bytes = tail.len() as u64;
                break;
            }
        };
        let (payload, end) = frame;
        let record: Record =
            serde_json::from_slice(payload).map_err(|e| StorageError::Corrupt {
                path: path.to_path_buf(),
                offset: at as u64,
                why: format!("unreadable record: {e}"),
            })?;
        let applied = match record {
            Record::Header { replica } if header.is_none() && at == 0 => {
                header = Some(replica);
                Ok(())
            }
            Record::Header { .. } => Err("a second header".to_string()),
            Record::Batch { .. } if header.is_none() => Err("a batch before the header".into()),
            Record::Batch {
                term,
                vote,
                base,
                log_from,
                entries,
                commit,
            } => {
                let hard = term.map(|term| HardState {
                    term,
                    voted_for: vote.flatten(),
                });
                state.apply(hard, base, log_from, entries, commit)
            }
        };
        if let Err(why) = applied {
            return Err(StorageError::Corrupt {
                path: path.to_path_buf(),
                offset: at as u64,
                why,
            });
        }
        report.frames += 1;
        at += end;
    }
    Ok((state, report, at as u64, header))
}

#[derive(Debug)]
enum FrameError {
    /// Fewer bytes than a frame header.
    Short,
    /// The length runs past the end of the file.
    PastEnd,
    /// Not a frame at all.
    Bad(&'static str),
    /// The payload does not match its checksum.
    Checksum,
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Short => write!(f, "a cut frame header"),
            FrameError::PastEnd => write!(f, "a frame longer than the file"),
            FrameError::Bad(why) => write!(f, "{why}"),
            FrameError::Checksum => write!(f, "checksum mismatch"),
        }
    }
}

/// Where the first whole frame in `bytes` starts, if one does.
fn next_whole_frame(bytes: &[u8]) -> Option<usize> {
    (0..bytes.len().saturating_sub(FRAME_HEADER - 1))
        .filter(|&i| bytes[i..].starts_with(MAGIC))
        .find(|&i| read_frame(&bytes[i..]).is_ok())
}

/// The payload of the frame at the start of `bytes`, and where it ends.
fn read_frame(bytes: &[u8]) -> Result<(&[u8], usize), FrameError> {
    if bytes.len() < FRAME_HEADER {
        return Err(FrameError::Short);
    }
    if &bytes[..4] != MAGIC {
        return Err(FrameError::Bad("no frame magic"));
    }
    let len = u32::from_le_bytes(bytes[4..8].try_into().expect("4 bytes")) as usize;
    let crc = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if len > MAX_FRAME {
        return Err(FrameError::Bad("an impossible frame length"));
    }
    let end = FRAME_HEADER + len;
    if end > bytes.len() {
        return Err(FrameError::PastEnd);
    }
    let payload = &bytes[FRAME_HEADER..end];
    if crc32fast::hash(payload) != crc {
        return Err(FrameError::Checksum);
    }
    Ok((payload, end))
}

fn lock_exclusive(path: &Path) -> Result<File, StorageError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|source| StorageError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let started = Instant::now();
    loop {
        // SAFETY: a valid open descriptor; flock has no memory effects.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        if rc == 0 {
            return Ok(file);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::WouldBlock {
            return Err(StorageError::Io {
                path: path.to_path_buf(),
                source: e,
            });
        }
        if started.elapsed() >= LOCK_WAIT {
            return Err(StorageError::Locked {
                path: path.parent().unwrap_or(path).to_path_buf(),
            });
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes a new file's directory entry durable.
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::PutCmd;

    fn put(term: u64, key: &str) -> Entry {
        Entry {
            term,
            put: Some(PutCmd {
                key: key.into(),
                value: format!("value of {key}"),
                client: Addr(0x15),
                mid: format!("mid-{key}"),
            }),
        }
    }

    fn batch(hard: Option<(u64, Option<Addr>)>, from: Option<u64>, entries: Vec<Entry>) -> Persist {
        Persist {
            hard_state: hard.map(|(term, voted_for)| HardState { term, voted_for }),
            snapshot: None,
            log_base: None,
            log_from: from,
            commit: None,
            entries,
            last_index: 0,
            last_term: 0,
        }
    }

    #[test]
    fn a_gap_in_the_log_is_refused_as_corruption() {
        let dir = tempdir("gap");
        clean_history(&dir);
        let (mut s, _, _) = Storage::open(&dir, Addr(1)).unwrap();
        // The core never asks for this; replay must still refuse it.
        s.persist(&batch(None, Some(9), vec![put(3, "e")])).unwrap();
        drop(s);
        let err = Storage::open(&dir, Addr(1))
            .err()
            .expect("a gap is corrupt");
        assert!(
            err.to_string()
                .contains("log from 9 with entries 1..=3 held"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "kvstore-storage-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn clean_history(dir: &Path) -> Recovered {
        let (mut s, _, _) = Storage::open(dir, Addr(1)).unwrap();
        s.persist(&batch(Some((1, Some(Addr(2)))), None, vec![]))
            .unwrap();
        s.persist(&batch(
            None,
            Some(1),
            vec![put(1, "a"), put(1, "b"), put(1, "c")],
        ))
        .unwrap();
        s.persist(&batch(Some((2, None)), Some(3), vec![put(2, "d")]))
            .unwrap();
        Recovered {
            hard_state: HardState {
                term: 2,
                voted_for: None,
            },
            entries: vec![put(1, "a"), put(1, "b"), put(2, "d")],
            ..Recovered::default()
        }
    }

    #[test]
    fn what_was_persisted_reads_back() {
        let dir = tempdir("back");
        let expected = clean_history(&dir);
        let (_, rec, report) = Storage::open(&dir, Addr(1)).unwrap();
        assert_eq!(rec, expected);
        assert_eq!((report.frames, report.torn_bytes), (4, 0));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn another_replicas_data_dir_and_a_held_lock_are_refused() {
        let dir = tempdir("owner");
        clean_history(&dir);
        let err = Storage::open(&dir, Addr(2)).err().unwrap();
        assert!(err.to_string().contains("belongs to replica 0001"), "{err}");
        let _held = Storage::open(&dir, Addr(1)).unwrap();
        let started = Instant::now();
        let err = Storage::open(&dir, Addr(1)).err().unwrap();
        assert!(matches!(err, StorageError::Locked { .. }), "{err}");
        assert!(started.elapsed() >= LOCK_WAIT);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn snapshot_batch(index: u64, term: u64, keys: &[&str], log: Vec<Entry>) -> Persist {
        let base = (index, term);
        Persist {
            hard_state: None,
            snapshot: Some(std::rc::Rc::new(Snapshot {
                index,
                term,
                pairs: keys
                    .iter()
                    .map(|k| (k.to_string(), format!("v{k}")))
                    .collect(),
                terms: vec![(1, 1), (3, 2)],
            })),
            log_base: Some(base),
            log_from: Some(index + 1),
            last_index: index + log.len() as u64,
            last_term: log.last().map_or(term, |e| e.term),
            entries: log,
            commit: Some(index),
        }
    }

    #[test]
    fn a_snapshot_replaces_the_wal_with_the_log_kept_after_it() {
        let dir = tempdir("snap");
        clean_history(&dir);
        let (mut s, _, _) = Storage::open(&dir, Addr(1)).unwrap();
        s.persist(&snapshot_batch(2, 1, &["a", "b"], vec![put(2, "d")]))
            .unwrap();
        s.persist(&batch(None, Some(4), vec![put(2, "e")])).unwrap();
        drop(s);
        let (_, rec, report) = Storage::open(&dir, Addr(1)).unwrap();
        assert_eq!(report.frames, 3, "header, the rewritten state, one batch");
        assert_eq!(rec.hard_state.term, 2, "the term survives the rewrite");
        assert_eq!(rec.log_base, (2, 1));
        assert_eq!(rec.entries, vec![put(2, "d"), put(2, "e")]);
        assert_eq!(rec.commit, 2, "the commit index survives the rewrite");
        let snap = rec.snapshot.unwrap();
        assert_eq!((snap.index, snap.pairs.len(), snap.terms.len()), (2, 2, 2));
        assert!(!dir.join("wal.tmp").exists() && !dir.join("snapshot.tmp").exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A crash after the snapshot file was replaced but before the wal
    /// was: the old wal's log stays where it holds the snapshot's entry,
    /// and is replaced by the snapshot where it does not.
    #[test]
    fn a_crash_between_snapshot_and_wal_rewrite_recovers_either_way() {
        for (index, term, base, len) in [(2, 1, 0, 3), (3, 2, 0, 3), (3, 9, 3, 0), (7, 4, 7, 0)] {
            let dir = tempdir("between");
            clean_history(&dir);
            let (s, _, _) = Storage::open(&dir, Addr(1)).unwrap();
            let full = snapshot_batch(index, term, &["a"], vec![]);
            let image = SnapshotRecord {
                index,
                term,
                pairs: full.snapshot.as_ref().unwrap().pairs.clone(),
                terms: vec![],
            };
            s.replace("snapshot", &frame(&serde_json::to_vec(&image).unwrap()))
                .unwrap();
            drop(s);
            let (_, rec, _) = Storage::open(&dir, Addr(1)).unwrap();
            assert_eq!(
                (rec.log_base.0, rec.entries.len()),
                (base, len),
                "snapshot ({index}, {term})"
            );
            assert_eq!(rec.snapshot.unwrap().index, index);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    #[test]
    fn a_corrupt_snapshot_file_is_refused() {
        let dir = tempdir("badsnap");
        clean_history(&dir);
        let (mut s, _, _) = Storage::open(&dir, Addr(1)).unwrap();
        s.persist(&snapshot_batch(2, 1, &["a"], vec![])).unwrap();
        drop(s);
        let mut bytes = std::fs::read(dir.join("snapshot")).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(dir.join("snapshot"), &bytes).unwrap();
        let err = Storage::open(&dir, Addr(1)).err().unwrap();
        assert!(err.to_string().contains("checksum"), "{err}");
        std::fs::write(dir.join("snapshot"), &bytes[..last]).unwrap();
        assert!(Storage::open(&dir, Addr(1)).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Many batches with a snapshot every 50: the files stay the size of
    /// the kept log, not of the history.
    #[test]
    fn with_snapshots_the_data_dir_stays_bounded() {
        let dir = tempdir("bounded");
        let (mut s, _, _) = Storage::open(&dir, Addr(1)).unwrap();
        s.persist(&batch(Some((1, None)), None, vec![])).unwrap();
        let mut sizes = Vec::new();
        for i in 1..=1000u64 {
            if i % 50 == 0 {
                let kept: Vec<Entry> = (i - 24..=i).map(|k| put(1, &format!("k{k}"))).collect();
                s.persist(&snapshot_batch(i - 25, 1, &["a", "b", "c"], kept))
                    .unwrap();
                sizes.push(s.wal_bytes + s.snapshot_bytes);
            } else {
                s.persist(&batch(None, Some(i), vec![put(1, &format!("k{i}"))]))
                    .unwrap();
            }
        }
        let on_disk: u64 = ["wal", "snapshot"]
            .iter()
            .map(|f| std::fs::metadata(dir.join(f)).unwrap().len())
            .sum();
        assert_eq!(on_disk, s.wal_bytes + s.snapshot_bytes);
        let (first, last) = (sizes[1], *sizes.last().unwrap());
        // (keys grow by a digit from k99 to k999)
        assert!(last <= first + first / 10, "{sizes:?}");
        drop(s);
        let (_, rec, _) = Storage::open(&dir, Addr(1)).unwrap();
        assert_eq!(rec.log_base.0 + rec.entries.len() as u64, 1000);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// Cut at every byte of the last two frames: each cut recovers the
    /// frames before it, truncates the rest, and takes new writes.
    #[test]
    fn a_wal_cut_at_any_byte_of_its_tail_recovers_the_whole_frames() {
        let dir = tempdir("cut");
        let full_state = clean_history(&dir);
        let wal = std::fs::read(dir.join("wal")).unwrap();
        let mut ends = Vec::new();
        let mut at = 0;
        while at < wal.len() {
            at += read_frame(&wal[at..]).unwrap().1;
            ends.push(at);
        }
        let start_of_last_two = ends[ends.len() - 3];
        for cut in start_of_last_two..=wal.len() {
            std::fs::write(dir.join("wal"), &wal[..cut]).unwrap();
            let (mut s, rec, report) = Storage::open(&dir, Addr(1)).unwrap();
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            assert_eq!(report.frames as usize, whole, "cut at {cut}");
            assert_eq!(report.torn_bytes as usize, cut - ends[whole - 1]);
            match whole {
                4 => assert_eq!(rec, full_state),
                3 => assert_eq!(rec.entries.len(), 3),
                _ => assert_eq!(rec.hard_state.term, 1),
            }
            s.persist(&batch(Some((9, None)), None, vec![])).unwrap();
            drop(s);
            let (_, again, report) = Storage::open(&dir, Addr(1)).unwrap();
            assert_eq!(again.hard_state.term, 9, "cut at {cut}");
            assert_eq!(report.torn_bytes, 0);
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_wal_that_is_some_other_file_is_left_alone() {
        let dir = tempdir("other");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("wal"), b"my notes\n").unwrap();
        let err = Storage::open(&dir, Addr(1)).err().unwrap();
        assert!(err.to_string().contains("not a replica's wal"), "{err}");
        assert_eq!(std::fs::read(dir.join("wal")).unwrap(), b"my notes\n");
        std::fs::write(dir.join("wal"), &MAGIC[..3]).unwrap();
        let (_, rec, report) = Storage::open(&dir, Addr(1)).unwrap();
        assert_eq!((rec, report.torn_bytes), (Recovered::default(), 3));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_torn_tail_of_zeros_is_dropped() {
        let dir = tempdir("zeros");
        let full_state = clean_history(&dir);
        let mut wal = std::fs::read(dir.join("wal")).unwrap();
        wal.extend_from_slice(&[0; 4096]);
        std::fs::write(dir.join("wal"), &wal).unwrap();
        let (_, rec, report) = Storage::open(&dir, Addr(1)).unwrap();
        assert_eq!((rec, report.torn_bytes), (full_state, 4096));
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A flipped byte anywhere but in the last frame is an error naming
    /// the offset, and the file is left as it was.
    #[test]
    fn corruption_before_the_tail_is_an_error_never_a_silent_loss() {
        let dir = tempdir("flip");
        clean_history(&dir);
        let wal = std::fs::read(dir.join("wal")).unwrap();
        let last_start = {
            let mut at = 0;
            let mut starts = Vec::new();
            while at < wal.len() {
                starts.push(at);
                at += read_frame(&wal[at..]).unwrap().1;
            }
            *starts.last().unwrap()
        };
        for i in 0..last_start {
            let mut bad = wal.clone();
            bad[i] ^= 0x5a;
            std::fs::write(dir.join("wal"), &bad).unwrap();
            match Storage::open(&dir, Addr(1)) {
                Err(StorageError::Corrupt { .. }) => {}
                Err(e) => panic!("byte {i}: {e}"),
                Ok((_, rec, _)) => panic!("byte {i} flipped, yet it opened: {rec:?}"),
            }
            assert_eq!(std::fs::read(dir.join("wal")).unwrap(), bad, "byte {i}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
