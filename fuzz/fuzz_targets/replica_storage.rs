//! Recovery from a data dir: any bytes as the wal and the snapshot file
//! through `Storage::open`, which must return the state or a clear error,
//! never panic; a state it returns must start a `Node`.
//!
//! Input: a little-endian u32 n, then n bytes of snapshot file (none if
//! n is past the end), then the wal. The files go in a folder on tmpfs
//! when there is one (opening a fresh dir fsyncs).
#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use replica::io::storage::Storage;
use replica::raft::{Config, Node};
use shared::Addr;

fn dir() -> PathBuf {
    let base = if std::path::Path::new("/dev/shm").is_dir() {
        PathBuf::from("/dev/shm")
    } else {
        std::env::temp_dir()
    };
    base.join(format!("kvstore-fuzz-storage-{}", std::process::id()))
}

fuzz_target!(|data: &[u8]| {
    let (snapshot, wal) = match data.get(..4) {
        Some(n) => {
            let n = u32::from_le_bytes(n.try_into().unwrap()) as usize;
            match data[4..].split_at_checked(n) {
                Some((s, w)) => (Some(s), w),
                None => (None, &data[4..]),
            }
        }
        None => (None, data),
    };
    let dir = dir();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("wal"), wal).unwrap();
    if let Some(s) = snapshot {
        std::fs::write(dir.join("snapshot"), s).unwrap();
    }
    if let Ok((storage, disk, _)) = Storage::open(&dir, Addr(1)) {
        drop(storage);
        let node = Node::recover(Addr(1), vec![Addr(2), Addr(3)], Config::default(), 1, 0, disk);
        assert!(node.commit_index() <= node.log().last_index().max(node.applied_index()));
    }
});
