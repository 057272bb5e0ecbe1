//! A small seeded PRNG: `rand`'s [`SmallRng`] behind the API the Raft core
//! and the simulation tests use. The Raft core draws its randomized election
//! timeouts from it, so a seed replays a whole simulated run. (`SmallRng`'s
//! algorithm may differ between `rand` versions and between 32- and 64-bit
//! targets; Cargo.lock pins the version.)

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

#[derive(Debug, Clone)]
pub struct Rng(SmallRng);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(SmallRng::seed_from_u64(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.random::<u64>()
    }

    /// Uniform in `[lo, hi]` (inclusive); `lo` when the range is empty.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        self.0.random_range(lo..=hi)
    }

    /// True with probability `p`: never when `p <= 0` (or NaN), always when
    /// `p >= 1`.
    pub fn chance(&mut self, p: f64) -> bool {
        if p.is_nan() || p <= 0.0 {
            false
        } else if p >= 1.0 {
            true
        } else {
            self.0.random_bool(p)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sequence_and_range_is_inclusive() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert_eq!(a.range(10, 1_000), b.range(10, 1_000));
            assert_eq!(a.chance(0.3), b.chance(0.3));
        }
        let (mut c, mut d) = (Rng::new(7), Rng::new(8));
        let c: Vec<u64> = (0..8).map(|_| c.next_u64()).collect();
        let d: Vec<u64> = (0..8).map(|_| d.next_u64()).collect();
        assert_ne!(c, d, "another seed, another sequence");
        let mut r = Rng::new(1);
        let draws: Vec<u64> = (0..1000).map(|_| r.range(3, 5)).collect();
        assert!(draws.iter().all(|d| (3..=5).contains(d)));
        assert!(draws.contains(&3) && draws.contains(&5));
        assert_eq!(r.range(9, 9), 9);
        assert_eq!(r.range(9, 2), 9);
        r.range(0, u64::MAX); // the full range does not overflow
    }

    #[test]
    fn chance_follows_its_probability() {
        let mut r = Rng::new(3);
        assert!((0..100).all(|_| !r.chance(0.0) && !r.chance(-1.0) && !r.chance(f64::NAN)));
        assert!((0..100).all(|_| r.chance(1.0) && r.chance(2.0)));
        let hits = (0..10_000).filter(|_| r.chance(0.25)).count();
        assert!((2_200..2_800).contains(&hits), "{hits}");
    }
}
