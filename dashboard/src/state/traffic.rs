//! Message counts by type and by replica, and the message rate over time.
//!
//! From the simulator's `traffic` events when there are any (every packet
//! it routed, with its fate); otherwise from the replicas' own `status`
//! counters.

use std::collections::BTreeMap;

use shared::events::{Fate, TrafficRow};

use super::ring::Buckets;

/// Distinct message types kept; more are summed under [`OTHER_TYPE`].
pub const MAX_TYPES: usize = 32;
pub const OTHER_TYPE: &str = "(other)";
/// Width of one rate bucket, and how many are kept (10 minutes).
pub const RATE_BUCKET_US: u64 = 500_000;
pub const RATE_BUCKETS: usize = 1200;

/// Packets by fate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FateCounts {
    pub delivered: u64,
    pub dropped: u64,
    pub partitioned: u64,
    pub dead: u64,
    pub client: u64,
    pub invalid: u64,
}

impl FateCounts {
    pub fn add(&mut self, fate: Fate, n: u64) {
        let slot = match fate {
            Fate::Delivered => &mut self.delivered,
            Fate::Dropped => &mut self.dropped,
            Fate::Partitioned => &mut self.partitioned,
            Fate::Dead => &mut self.dead,
            Fate::Client => &mut self.client,
            Fate::Invalid => &mut self.invalid,
        };
        *slot = slot.saturating_add(n);
    }

    pub fn total(&self) -> u64 {
        [
            self.delivered,
            self.dropped,
            self.partitioned,
            self.dead,
            self.client,
            self.invalid,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }

    /// Routed but not delivered.
    pub fn lost(&self) -> u64 {
        self.dropped
            .saturating_add(self.partitioned)
            .saturating_add(self.dead)
    }
}

/// One replica's packets as the simulator routed them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerCounts {
    pub sent: u64,
    pub received: u64,
    /// Of those it sent: dropped, cut by a partition, or to a dead replica.
    pub lost: u64,
}

#[derive(Debug, Clone)]
pub struct Traffic {
    /// `traffic` events seen.
    pub windows: u64,
    pub by_type: BTreeMap<String, FateCounts>,
    /// By replica id (clients are summed in `clients`).
    pub by_replica: BTreeMap<String, PeerCounts>,
    pub clients: PeerCounts,
    pub total: FateCounts,
    /// The simulator's `total_msgs`: replica-to-replica packets routed.
    pub total_msgs: u64,
    /// Packets sent by replicas per bucket, as the simulator routed them.
    pub sim_rate: Buckets,
    /// Packets sent by replicas per bucket, from their own counters.
    pub replica_rate: Buckets,
}

impl Default for Traffic {
    fn default() -> Self {
        Traffic {
            windows: 0,
            by_type: BTreeMap::new(),
            by_replica: BTreeMap::new(),
            clients: PeerCounts::default(),
            total: FateCounts::default(),
            total_msgs: 0,
            sim_rate: Buckets::new(RATE_BUCKET_US, RATE_BUCKETS),
            replica_rate: Buckets::new(RATE_BUCKET_US, RATE_BUCKETS),
        }
    }
}

impl Traffic {
    /// Whether the simulator reports traffic (then it is the source).
    pub fn from_sim(&self) -> bool {
        self.windows > 0
    }

    /// One window's rows. `is_replica` tells replica ids from client ids.
    /// Returns packets sent per replica in this window.
    pub fn window(
        &mut self,
        ts: u64,
        rows: &[TrafficRow],
        is_replica: impl Fn(&str) -> bool,
    ) -> BTreeMap<String, u64> {
        self.windows += 1;
        let mut sent_by: BTreeMap<String, u64> = BTreeMap::new();
        let mut sent = 0u64;
        for r in rows {
            let key = if self.by_type.len() < MAX_TYPES || self.by_type.contains_key(&r.msg_type) {
                r.msg_type.as_str()
            } else {
                OTHER_TYPE
            };
            match self.by_type.get_mut(key) {
                Some(c) => c.add(r.fate, r.count),
                None => {
                    let mut c = FateCounts::default();
                    c.add(r.fate, r.count);
                    self.by_type.insert(key.to_string(), c);
                }
            }
            self.total.add(r.fate, r.count);
            let lost = matches!(r.fate, Fate::Dropped | Fate::Partitioned | Fate::Dead);
            let (src_rep, dst_rep) = (is_replica(&r.src), is_replica(&r.dst));
            if src_rep && dst_rep && (lost || r.fate == Fate::Delivered) {
                self.total_msgs = self.total_msgs.saturating_add(r.count);
            }
            if src_rep {
                let p = self.by_replica.entry(r.src.clone()).or_default();
                p.sent = p.sent.saturating_add(r.count);
                if lost {
                    p.lost = p.lost.saturating_add(r.count);
                }
                let s = sent_by.entry(r.src.clone()).or_insert(0);
                *s = s.saturating_add(r.count);
                sent = sent.saturating_add(r.count);
            } else {
                self.clients.sent = self.clients.sent.saturating_add(r.count);
                if lost {
                    self.clients.lost = self.clients.lost.saturating_add(r.count);
                }
            }
            if r.fate == Fate::Delivered || r.fate == Fate::Client {
                let to = if dst_rep {
                    &mut self.by_replica.entry(r.dst.clone()).or_default().received
                } else {
                    &mut self.clients.received
                };
                *to = to.saturating_add(r.count);
            }
        }
        // The window ends at `ts`: count it in the bucket it mostly covers.
        self.sim_rate.add(ts.saturating_sub(1), sent);
        sent_by
    }
}
