//! Bounded containers: what keeps the console's memory flat however long a
//! run lasts.

use std::collections::VecDeque;

/// A FIFO that forgets its oldest items beyond `cap`.
#[derive(Debug, Clone)]
pub struct Ring<T> {
    items: VecDeque<T>,
    cap: usize,
    /// Items pushed out because the ring was full.
    pub evicted: u64,
}

impl<T> Ring<T> {
    pub fn new(cap: usize) -> Ring<T> {
        assert!(cap > 0, "a ring holds at least one item");
        Ring {
            items: VecDeque::new(),
            cap,
            evicted: 0,
        }
    }

    pub fn push(&mut self, item: T) {
        if self.items.len() == self.cap {
            self.items.pop_front();
            self.evicted += 1;
        }
        self.items.push_back(item);
    }

    pub fn last(&self) -> Option<&T> {
        self.items.back()
    }

    pub fn last_mut(&mut self) -> Option<&mut T> {
        self.items.back_mut()
    }

    pub fn first(&self) -> Option<&T> {
        self.items.front()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn cap(&self) -> usize {
        self.cap
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator {
        self.items.iter()
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.items.get(i)
    }

    /// Drops items from the front while `old` says so.
    pub fn prune_front(&mut self, mut old: impl FnMut(&T) -> bool) {
        while self.items.front().is_some_and(&mut old) {
            self.items.pop_front();
        }
    }

    /// Index of the first item for which `pred` is false, assuming the ring
    /// is partitioned (all `true` first): a binary search.
    pub fn partition_point(&self, pred: impl FnMut(&T) -> bool) -> usize {
        self.items.partition_point(pred)
    }
}

/// Counts per fixed-width time bucket, for rate sparklines: bucket `i`
/// covers `[i * width, (i + 1) * width)` microseconds. At most `cap` buckets
/// are kept, the most recent ones.
#[derive(Debug, Clone)]
pub struct Buckets {
    width_us: u64,
    /// Index of `counts[0]`.
    start: u64,
    counts: VecDeque<u64>,
    cap: usize,
}

impl Buckets {
    pub fn new(width_us: u64, cap: usize) -> Buckets {
        assert!(width_us > 0 && cap > 0);
        Buckets {
            width_us,
            start: 0,
            counts: VecDeque::new(),
            cap,
        }
    }

    pub fn width_us(&self) -> u64 {
        self.width_us
    }

    pub fn add(&mut self, ts: u64, n: u64) {
        let idx = ts / self.width_us;
        if self.counts.is_empty() {
            self.start = idx;
            self.counts.push_back(0);
        }
        if idx < self.start {
            // Older than anything kept (late or out of order): count it in
            // the oldest bucket only if it is close, else forget it.
            if self.start - idx < 4 {
                self.counts[0] = self.counts[0].saturating_add(n);
            }
            return;
        }
        let end = self.start + self.counts.len() as u64;
        if idx >= end {
            let missing = idx - end + 1;
            if missing as usize >= self.cap {
                self.counts.clear();
                self.start = idx;
                self.counts.push_back(0);
            } else {
                for _ in 0..missing {
                    self.counts.push_back(0);
                }
            }
            while self.counts.len() > self.cap {
                self.counts.pop_front();
                self.start += 1;
            }
        }
        let i = (idx - self.start) as usize;
        self.counts[i] = self.counts[i].saturating_add(n);
    }

    /// The `n` buckets that end before the one holding `now` (the current
    /// bucket is still filling), oldest first; missing ones count 0.
    pub fn last_complete(&self, now: u64, n: usize) -> Vec<u64> {
        let now_idx = now / self.width_us;
        (0..n as u64)
            .rev()
            .map(|back| {
                let idx = now_idx.checked_sub(back + 1);
                match idx {
                    Some(idx) if idx >= self.start => self
                        .counts
                        .get((idx - self.start) as usize)
                        .copied()
                        .unwrap_or(0),
                    _ => 0,
                }
            })
            .collect()
    }

    pub fn len(&self) -> usize {
        self.counts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ring_forgets_its_oldest_items_beyond_its_capacity() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(i);
        }
        assert_eq!(r.iter().copied().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(r.evicted, 2);
    }

    #[test]
    fn buckets_fill_gaps_with_zeros_and_stay_bounded() {
        let mut b = Buckets::new(10, 4);
        b.add(5, 1);
        b.add(25, 2);
        assert_eq!(b.last_complete(30, 3), vec![1, 0, 2]);
        b.add(55, 7);
        assert_eq!(b.len(), 4);
        assert_eq!(b.last_complete(60, 5), vec![0, 2, 0, 0, 7]);
        b.add(500, 1);
        assert_eq!(b.len(), 1);
        assert_eq!(b.last_complete(510, 2), vec![0, 1]);
        // The bucket holding `now` is not complete yet.
        assert_eq!(b.last_complete(95, 1), vec![0]);
    }
}
