//! The replicated log, 1-indexed; index 0 is a sentinel of term 0. Once
//! compacted, the log starts after a snapshot: entries up to its index are
//! gone, and that index keeps only its term (the new sentinel).
//! Each entry's serialized size is kept beside it so that batches can be cut
//! to the packet budget without serializing twice. The log also knows
//! what of it changed since the shell last took it for the disk, and how
//! much of it the shell said is durable (`durability.rs`).

use shared::Entry;

#[derive(Debug, Default, Clone)]
pub struct RaftLog {
    /// Entry `base + 1 + i` is `entries[i]`.
    entries: Vec<Entry>,
    sizes: Vec<usize>,
    /// The last index the snapshot covers (0 without one), and its term.
    base: u64,
    base_term: u64,
    /// The first index changed (appended or cut) since `take_unsaved`.
    unsaved_from: Option<u64>,
    /// Entries through this index are on disk.
    durable: u64,
}

impl RaftLog {
    pub fn last_index(&self) -> u64 {
        self.base + self.entries.len() as u64
    }

    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(self.base_term, |e| e.term)
    }

    /// The last index compacted into the snapshot (0: none), and its term.
    pub fn snapshot_index(&self) -> u64 {
        self.base
    }

    pub fn snapshot_term(&self) -> u64 {
        self.base_term
    }

    /// Entries held in memory (after the snapshot).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, index: u64) -> Option<usize> {
        (index > self.base).then(|| (index - self.base - 1) as usize)
    }

    /// The term of the entry at `index`: the sentinel's (0, or the
    /// snapshot's) at the snapshot index, `None` before it (compacted) or
    /// past the end.
    pub fn term(&self, index: u64) -> Option<u64> {
        if index == self.base {
            return Some(self.base_term);
        }
        self.get(index).map(|e| e.term)
    }

    /// The entry at `index`; `None` for the sentinel, compacted entries
    /// and past the end.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        self.entries.get(self.position(index)?)
    }

    pub fn append(&mut self, entry: Entry) -> u64 {
        self.sizes.push(entry_wire_size(&entry));
        self.entries.push(entry);
        let index = self.last_index();
        self.changed_from(index);
        index
    }

    /// Removes every entry at `index` and after (never the snapshot's:
    /// those are committed).
    pub fn truncate_from(&mut self, index: u64) {
        let index = index.max(self.base + 1);
        if index > self.last_index() {
            return;
        }
        let keep = (index - self.base - 1) as usize;
        self.entries.truncate(keep);
        self.sizes.truncate(keep);
        self.durable = self.durable.min(index - 1);
        self.changed_from(index);
    }

    /// Drops the entries through `index` (applied, and now in a snapshot),
    /// keeping its term as the sentinel's.
    pub fn compact_through(&mut self, index: u64) {
        let Some(term) = self.term(index).filter(|_| index > self.base) else {
            return;
        };
        let drop = (index - self.base) as usize;
        self.entries.drain(..drop);
        self.sizes.drain(..drop);
        self.base = index;
        self.base_term = term;
    }

    /// A leader's snapshot through (`index`, `term`) replaces what the log
    /// holds up to there: the entries after it stay if the log holds that
    /// very entry (Raft §7), otherwise the log is emptied.
    pub fn reset_to_snapshot(&mut self, index: u64, term: u64) {
        if index <= self.last_index() && self.term(index) == Some(term) {
            self.compact_through(index);
            return;
        }
        self.entries.clear();
        self.sizes.clear();
        self.base = index;
        self.base_term = term;
        self.durable = self.durable.min(index);
        self.unsaved_from = None;
    }

    fn changed_from(&mut self, index: u64) {
        self.unsaved_from = Some(self.unsaved_from.map_or(index, |f| f.min(index)));
    }

    /// The entries from the first index changed since the last call on
    /// (none when the change was a cut), and that index.
    pub fn take_unsaved(&mut self) -> Option<(u64, Vec<Entry>)> {
        let from = self.unsaved_from.take()?.max(self.base + 1);
        let start = self.position(from).unwrap_or(0).min(self.entries.len());
        Some((from, self.entries[start..].to_vec()))
    }

    /// Every entry held, for a snapshot's rewrite of the disk (which
    /// covers whatever was unsaved).
    pub fn take_all(&mut self) -> Vec<Entry> {
        self.unsaved_from = None;
        self.entries.clone()
    }

    /// The shell wrote the log through (`index`, `term`): durable, unless
    /// that entry was cut since.
    pub fn mark_durable(&mut self, index: u64, term: u64) {
        if index > self.durable && self.term(index) == Some(term) {
            self.durable = index;
        }
    }

    /// The log as it is came from the disk.
    pub fn mark_all_durable(&mut self) {
        self.durable = self.last_index();
        self.unsaved_from = None;
    }

    pub fn durable_index(&self) -> u64 {
        self.durable
    }

    /// Entries from `from` on, as many as fit in `budget` bytes (at least
    /// one when there is one, so that progress is always possible); none
    /// from before the snapshot (the follower needs the snapshot).
    pub fn batch(&self, from: u64, budget: usize) -> Vec<Entry> {
        let Some(start) = self.position(from.max(1)) else {
            return Vec::new();
        };
        let mut used = 0;
        let mut end = start;
        while end < self.entries.len() {
            let size = self.sizes[end] + 1;
            if end > start && used + size > budget {
                break;
            }
            used += size;
            end += 1;
        }
        self.entries[start.min(end)..end].to_vec()
    }

    /// Whether the entries from `from` on all fit one batch of `budget`
    /// bytes (as [`RaftLog::batch`] counts them).
    pub fn fits_in_batch(&self, from: u64, budget: usize) -> bool {
        let Some(start) = self.position(from.max(1)) else {
            return from > self.last_index();
        };
        let mut used = 0;
        for size in self.sizes.iter().skip(start) {
            used += size + 1;
            if used > budget {
                return false;
            }
        }
        true
    }

    /// The first index of the run of `term` that contains `index` (not
    /// before the first entry held).
    pub fn first_index_of_term_at(&self, index: u64) -> u64 {
        let Some(term) = self.term(index) else {
            return index;
        };
        let mut i = index;
        while i > self.base + 1 && self.term(i - 1) == Some(term) {
            i -= 1;
        }
        i
    }

    /// The last index holding `term`, if any entry held does.
    pub fn last_index_of_term(&self, term: u64) -> Option<u64> {
        self.entries
            .iter()
            .rposition(|e| e.term == term)
            .map(|p| self.base + p as u64 + 1)
    }

    /// Is a log ending at (`last_index`, `last_term`) at least as up to date
    /// as this one? (Raft §5.4.1)
    pub fn is_up_to_date(&self, last_index: u64, last_term: u64) -> bool {
        last_term > self.last_term()
            || (last_term == self.last_term() && last_index >= self.last_index())
    }
}

/// Bytes the entry takes inside an AppendEntries packet: counted as it
/// is serialized, without building the text (this runs for every put the
/// leader takes and every entry a follower appends).
pub fn entry_wire_size(entry: &Entry) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, entry).map_or(usize::MAX / 4, |()| count.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{Addr, PutCmd};

    fn put(term: u64, key: &str) -> Entry {
        Entry {
            term,
            put: Some(PutCmd {
                key: key.into(),
                value: "v".repeat(100),
                client: Addr(0x15),
                mid: "M".into(),
            }),
        }
    }

    fn log_of_terms(terms: &[u64]) -> RaftLog {
        let mut log = RaftLog::default();
        for &t in terms {
            log.append(Entry { term: t, put: None });
        }
        log
    }

    #[test]
    fn terms_and_sentinel() {
        let log = log_of_terms(&[1, 1, 2]);
        assert_eq!(log.term(0), Some(0));
        assert_eq!(log.term(3), Some(2));
        assert_eq!(log.term(4), None);
        assert_eq!((log.last_index(), log.last_term()), (3, 2));
    }

    #[test]
    fn term_runs_for_fast_backtracking() {
        let log = log_of_terms(&[1, 1, 2, 2, 2, 4]);
        assert_eq!(log.first_index_of_term_at(5), 3);
        assert_eq!(log.first_index_of_term_at(2), 1);
        assert_eq!(log.last_index_of_term(2), Some(5));
        assert_eq!(log.last_index_of_term(3), None);
    }

    #[test]
    fn batches_respect_the_byte_budget_but_always_carry_one_entry() {
        let mut log = RaftLog::default();
        for i in 0..50 {
            log.append(put(1, &format!("key{i}")));
        }
        let size = entry_wire_size(log.get(1).unwrap()) + 1;
        assert_eq!(log.batch(1, size * 10).len(), 10);
        assert_eq!(log.batch(45, size * 10).len(), 6);
        assert_eq!(log.batch(1, 1).len(), 1);
        assert!(log.batch(51, 1000).is_empty());
        for from in 1..=51 {
            let all = log.batch(from, size * 10).len() as u64 == 51 - from;
            assert_eq!(log.fits_in_batch(from, size * 10), all, "from {from}");
        }
        assert!(log.fits_in_batch(51, 1), "nothing left fits");
    }

    #[test]
    fn wire_size_is_the_serialized_length() {
        let mut e = put(3, "k\"ey\u{1}é");
        for entry in [e.clone(), Entry { term: 9, put: None }, {
            e.put.as_mut().unwrap().value = "\\\n".repeat(40);
            e
        }] {
            assert_eq!(
                entry_wire_size(&entry),
                serde_json::to_vec(&entry).unwrap().len()
            );
        }
    }

    #[test]
    fn truncation_removes_the_suffix() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        log.truncate_from(3);
        assert_eq!((log.last_index(), log.last_term()), (2, 1));
    }

    #[test]
    fn changes_are_taken_once_from_the_lowest_index_touched() {
        let mut log = log_of_terms(&[1, 1, 1]);
        assert_eq!(log.take_unsaved().map(|(f, e)| (f, e.len())), Some((1, 3)));
        assert_eq!(log.take_unsaved(), None);
        log.append(Entry { term: 2, put: None });
        log.truncate_from(2);
        log.append(Entry { term: 3, put: None });
        let (from, entries) = log.take_unsaved().unwrap();
        assert_eq!((from, entries.len(), entries[0].term), (2, 1, 3));
        log.truncate_from(9);
        assert_eq!(
            log.take_unsaved(),
            None,
            "cutting past the end changes nothing"
        );
        log.truncate_from(2);
        assert_eq!(log.take_unsaved(), Some((2, Vec::new())));
    }

    #[test]
    fn a_cut_takes_back_durability_and_a_stale_confirmation_is_ignored() {
        let mut log = log_of_terms(&[1, 1, 1]);
        log.mark_durable(3, 1);
        assert_eq!(log.durable_index(), 3);
        log.truncate_from(2);
        log.append(Entry { term: 2, put: None });
        assert_eq!(log.durable_index(), 1);
        log.mark_durable(3, 1);
        assert_eq!(log.durable_index(), 1, "index 3 of term 1 is gone");
        log.mark_durable(2, 2);
        assert_eq!(log.durable_index(), 2);
    }

    #[test]
    fn a_compacted_log_keeps_indices_and_the_snapshot_term() {
        let mut log = log_of_terms(&[1, 1, 2, 2, 3]);
        log.compact_through(3);
        assert_eq!(
            (log.snapshot_index(), log.snapshot_term(), log.len()),
            (3, 2, 2)
        );
        assert_eq!((log.last_index(), log.last_term()), (5, 3));
        assert_eq!(
            (log.term(2), log.term(3), log.term(4)),
            (None, Some(2), Some(2))
        );
        assert!(log.get(3).is_none() && log.get(4).is_some());
        assert!(
            log.batch(3, 1000).is_empty(),
            "the follower needs the snapshot"
        );
        assert_eq!(log.batch(4, 1000).len(), 2);
        assert_eq!(log.first_index_of_term_at(4), 4);
        assert_eq!(log.last_index_of_term(3), Some(5));
        log.truncate_from(2);
        assert_eq!(log.last_index(), 3, "a cut never reaches into the snapshot");
        log.compact_through(3);
        assert_eq!(log.last_term(), 2);
    }

    #[test]
    fn a_snapshot_keeps_the_suffix_only_when_the_log_holds_its_entry() {
        let mut log = log_of_terms(&[1, 1, 2, 2]);
        log.reset_to_snapshot(2, 1);
        assert_eq!((log.snapshot_index(), log.last_index()), (2, 4));
        log.reset_to_snapshot(3, 5);
        assert_eq!(
            (log.snapshot_index(), log.last_index(), log.last_term()),
            (3, 3, 5)
        );
        log.reset_to_snapshot(9, 6);
        assert_eq!((log.last_index(), log.len()), (9, 0));
        log.append(Entry { term: 6, put: None });
        assert_eq!(log.take_unsaved().map(|(f, e)| (f, e.len())), Some((10, 1)));
    }

    #[test]
    fn up_to_date_compares_last_term_then_length() {
        let log = log_of_terms(&[1, 2, 2]);
        assert!(log.is_up_to_date(1, 3));
        assert!(log.is_up_to_date(3, 2));
        assert!(!log.is_up_to_date(2, 2));
        assert!(!log.is_up_to_date(9, 1));
    }
}
