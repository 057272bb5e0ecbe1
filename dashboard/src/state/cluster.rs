//! One row of the cluster table: what is known about one replica, from its
//! own events and from the simulator's.

use std::collections::BTreeMap;

use shared::events::{FollowerProgress, RoleName, Status};

use super::ring::Ring;

/// Message types kept per replica; more distinct ones are summed as "other".
pub const MAX_TYPES: usize = 32;
/// A replica that reports itself but has said nothing for this long is shown
/// as silent.
pub const SILENT_AFTER_US: u64 = 2_000_000;
/// The window over which messages per second are measured.
pub const RATE_WINDOW_US: u64 = 1_000_000;

/// Alive or not, as far as the console knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Life {
    /// Named by the simulator, not heard from yet.
    Unknown,
    Alive,
    /// Killed by the simulator.
    Killed,
    /// Said `stop` itself.
    Stopped,
}

/// Which side of the current partition a replica is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// No partition.
    Whole,
    Majority,
    Minority,
}

#[derive(Debug, Clone)]
pub struct Replica {
    pub id: String,
    /// Whether this replica emits events of its own.
    pub reports: bool,
    pub role: Option<RoleName>,
    pub term: u64,
    /// Its leader belief (`FFFF`: none).
    pub leader: String,
    pub last_index: u64,
    pub last_term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    /// As leader: each follower's progress, from `progress` or `status`.
    pub followers: Vec<FollowerProgress>,
    pub life: Life,
    pub side: Side,
    pub pid: Option<u32>,
    /// When it was last heard from (its own events).
    pub last_seen: u64,
    /// Events it could not deliver, from its `status`.
    pub events_dropped: u64,
    /// Packets it could not decode, from its `status`.
    pub malformed: u64,
    /// Packets sent and received since start, from its `status`.
    pub sent_total: u64,
    pub received_total: u64,
    pub sent_by_type: BTreeMap<String, u64>,
    /// (ts, sent_total) samples, for its own message rate.
    sent_samples: Ring<(u64, u64)>,
    /// (window end, packets) it sent, as the simulator routed them.
    sim_sent: Ring<(u64, u64)>,
    /// Votes it granted and denied.
    pub votes_granted: u64,
    pub votes_denied: u64,
    /// Times the simulator restarted it (`restart` events).
    pub restarts: u64,
    /// When the simulator last killed it.
    pub killed_at: Option<u64>,
    /// After a restart, the time before which its own events are the
    /// killed process's (arriving late): halfway from the kill to the
    /// restart. Not the restart itself: the new process often reports
    /// before the simulator, which stamps the restart once the process
    /// is started, gets to it.
    pub incarnation_from: Option<u64>,
}

/// A sum that stops at the largest count rather than overflowing.
pub fn sum<'a>(values: impl Iterator<Item = &'a u64>) -> u64 {
    values.fold(0u64, |a, b| a.saturating_add(*b))
}

impl Replica {
    pub fn new(id: &str) -> Replica {
        Replica {
            id: id.to_string(),
            reports: false,
            role: None,
            term: 0,
            leader: "FFFF".to_string(),
            last_index: 0,
            last_term: 0,
            commit_index: 0,
            applied_index: 0,
            followers: Vec::new(),
            life: Life::Unknown,
            side: Side::Whole,
            pid: None,
            last_seen: 0,
            events_dropped: 0,
            malformed: 0,
            sent_total: 0,
            received_total: 0,
            sent_by_type: BTreeMap::new(),
            sent_samples: Ring::new(16),
            sim_sent: Ring::new(32),
            votes_granted: 0,
            votes_denied: 0,
            restarts: 0,
            killed_at: None,
            incarnation_from: None,
        }
    }

    /// A new process (a restart): what the replica reported about itself
    /// starts over (role unknown until it reports again); the simulator's
    /// view of it (routed messages, partition side) and its kills and
    /// restarts stay.
    pub fn new_incarnation(&mut self) {
        let fresh = Replica::new(&self.id);
        self.role = None;
        self.term = 0;
        self.leader = fresh.leader;
        self.last_index = 0;
        self.last_term = 0;
        self.commit_index = 0;
        self.applied_index = 0;
        self.followers.clear();
        self.pid = None;
        self.events_dropped = 0;
        self.malformed = 0;
        self.sent_total = 0;
        self.received_total = 0;
        self.sent_by_type.clear();
        self.sent_samples = fresh.sent_samples;
        self.votes_granted = 0;
        self.votes_denied = 0;
    }

    /// Any event of its own: it is alive and reports.
    pub fn heard(&mut self, ts: u64) {
        self.reports = true;
        self.last_seen = self.last_seen.max(ts);
        if self.life == Life::Unknown {
            self.life = Life::Alive;
        }
    }

    pub fn is_down(&self) -> bool {
        matches!(self.life, Life::Killed | Life::Stopped)
    }

    /// Reporting, alive, but quiet for a while at `now`.
    pub fn is_silent(&self, now: u64) -> bool {
        self.reports && !self.is_down() && now.saturating_sub(self.last_seen) > SILENT_AFTER_US
    }

    pub fn apply_status(&mut self, ts: u64, s: &Status) {
        self.role = Some(s.role);
        self.term = s.term;
        self.leader.clone_from(&s.leader);
        self.last_index = s.last_index;
        self.last_term = s.last_term;
        self.commit_index = s.commit_index;
        self.applied_index = s.applied_index;
        if s.role == RoleName::Leader {
            self.followers.clone_from(&s.followers);
        } else {
            self.followers.clear();
        }
        self.events_dropped = s.events_dropped;
        self.malformed = s.malformed;
        self.sent_total = sum(s.sent.values());
        self.received_total = sum(s.received.values());
        self.sent_by_type.clear();
        for (i, (t, n)) in s.sent.iter().enumerate() {
            let key = if i < MAX_TYPES { t.as_str() } else { "other" };
            let c = self.sent_by_type.entry(key.to_string()).or_insert(0);
            *c = c.saturating_add(*n);
        }
        if self.sent_samples.last().is_none_or(|&(t, _)| ts > t) {
            self.sent_samples.push((ts, self.sent_total));
        }
    }

    /// Packets sent between its previous status and this one (0 for the
    /// first status, or when the counters went backwards: a restart).
    pub fn sent_delta(&self) -> u64 {
        let n = self.sent_samples.len();
        if n < 2 {
            return 0;
        }
        let (_, a) = *self.sent_samples.get(n - 2).expect("n >= 2");
        let (_, b) = *self.sent_samples.get(n - 1).expect("n >= 2");
        b.saturating_sub(a)
    }

    pub fn note_sim_sent(&mut self, ts: u64, n: u64) {
        match self.sim_sent.last_mut() {
            Some((t, c)) if *t == ts => *c = c.saturating_add(n),
            _ => self.sim_sent.push((ts, n)),
        }
    }

    /// Messages per second: as the simulator routed them when it reports
    /// traffic, else from the replica's own counters.
    pub fn rate(&self, now: u64, from_sim: bool) -> Option<f64> {
        if from_sim {
            let since = now.saturating_sub(RATE_WINDOW_US);
            let n = sum(self
                .sim_sent
                .iter()
                .filter(|(t, _)| *t > since && *t <= now)
                .map(|(_, c)| c));
            return Some(n as f64 * 1e6 / RATE_WINDOW_US as f64);
        }
        let &(t1, c1) = self.sent_samples.last()?;
        if self.is_down() || now.saturating_sub(t1) > SILENT_AFTER_US {
            return Some(0.0);
        }
        // The oldest sample at most two windows back, at least a quarter
        // of one.
        let (t0, c0) = self
            .sent_samples
            .iter()
            .copied()
            .find(|(t, _)| t1 - *t <= 2 * RATE_WINDOW_US)?;
        if t1 - t0 < RATE_WINDOW_US / 4 {
            return None;
        }
        Some(c1.saturating_sub(c0) as f64 * 1e6 / (t1 - t0) as f64)
    }
}
