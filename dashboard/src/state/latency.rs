//! Latency histograms: client-observed (the simulator's `request_answered`)
//! and replica-side (`client_answer`), each split into get and put.

use hdrhistogram::Histogram;
use shared::events::{Op, Outcome};

/// Largest latency told apart, in microseconds (longer ones count as this).
pub const MAX_LATENCY_US: u64 = 60_000_000;

/// The quantiles shown, with their labels.
pub const QUANTILES: [(&str, f64); 4] =
    [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p99.9", 0.999)];

#[derive(Debug, Clone)]
pub struct LatencyHist {
    pub hist: Histogram<u64>,
}

impl Default for LatencyHist {
    /// Starts small and grows with the largest value recorded: a report
    /// keeps several per phase, most of them empty or short.
    fn default() -> Self {
        LatencyHist {
            hist: Histogram::new(3).expect("3 significant figures are valid"),
        }
    }
}

/// A histogram's summary, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub count: u64,
    /// Values at [`QUANTILES`].
    pub quantiles: [u64; 4],
    pub max: u64,
}

impl LatencyHist {
    pub fn record(&mut self, us: u64) {
        // `saturating_record` would clamp to the current size, not grow.
        let us = us.clamp(1, MAX_LATENCY_US);
        if self.hist.record(us).is_err() {
            self.hist.saturating_record(us);
        }
    }

    pub fn count(&self) -> u64 {
        self.hist.len()
    }

    pub fn summary(&self) -> Option<Summary> {
        if self.hist.is_empty() {
            return None;
        }
        Some(Summary {
            count: self.hist.len(),
            quantiles: QUANTILES.map(|(_, q)| self.hist.value_at_quantile(q)),
            max: self.hist.max(),
        })
    }

    /// How many values fall in each of `n` logarithmic buckets between
    /// `lo` and `hi` microseconds (values outside go to the end buckets).
    pub fn log_buckets(&self, lo: u64, hi: u64, n: usize) -> Vec<u64> {
        let mut out = vec![0; n];
        if n == 0 || self.hist.is_empty() {
            return out;
        }
        let (llo, lhi) = ((lo.max(1) as f64).ln(), (hi.max(lo + 1) as f64).ln());
        for v in self.hist.iter_recorded() {
            let x = (v.value_iterated_to().max(1) as f64).ln();
            let i = ((x - llo) / (lhi - llo) * n as f64).floor();
            let i = i.clamp(0.0, (n - 1) as f64) as usize;
            out[i] += v.count_at_value();
        }
        out
    }
}

#[derive(Debug, Clone, Default)]
pub struct Latency {
    /// Client-observed, from the simulator: get, put.
    pub client: [LatencyHist; 2],
    /// Replica-side, from arrival to answer: get, put.
    pub replica: [LatencyHist; 2],
    /// Client answers by outcome: ok, redirect, fail.
    pub client_outcomes: [u64; 3],
}

pub fn op_index(op: Op) -> usize {
    match op {
        Op::Get => 0,
        Op::Put => 1,
    }
}

impl Latency {
    pub fn client_answer(&mut self, op: Op, outcome: Outcome, us: u64) {
        // Like the simulator's own statistic: every answer counts.
        self.client[op_index(op)].record(us);
        match outcome {
            Outcome::Ok => self.client_outcomes[0] += 1,
            Outcome::Redirect => self.client_outcomes[1] += 1,
            Outcome::Fail => self.client_outcomes[2] += 1,
        }
    }

    /// A replica's answer, with the time the request spent there (none
    /// for inherited puts, whose arrival the answering leader never saw).
    pub fn replica_answer(&mut self, op: Op, us: Option<u64>) {
        if let Some(us) = us {
            self.replica[op_index(op)].record(us);
        }
    }

    pub fn client_count(&self) -> u64 {
        self.client.iter().map(LatencyHist::count).sum()
    }

    pub fn replica_count(&self) -> u64 {
        self.replica.iter().map(LatencyHist::count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram() {
        let mut h = LatencyHist::default();
        for us in 1..=1000 {
            h.record(us);
        }
        let s = h.summary().unwrap();
        assert_eq!(s.count, 1000);
        assert_eq!(s.quantiles[0], 500);
        assert_eq!(s.quantiles[2], 990);
        assert_eq!(s.max, 1000);
    }

    #[test]
    fn inherited_puts_are_not_replica_latency() {
        let mut l = Latency::default();
        l.replica_answer(Op::Put, None);
        l.replica_answer(Op::Get, Some(70));
        assert_eq!(l.replica[1].count(), 0);
        assert_eq!(l.replica[0].count(), 1);
    }

    #[test]
    fn log_buckets_put_each_value_in_its_decade() {
        let mut h = LatencyHist::default();
        h.record(30);
        h.record(3000);
        h.record(3000);
        assert_eq!(h.log_buckets(1, 10_000, 4), vec![0, 1, 0, 2]);
    }
}
