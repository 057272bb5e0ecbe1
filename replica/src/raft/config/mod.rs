//! Timing and size knobs of the Raft core. All times are microseconds.
//!
//! The defaults are below; `tune` reads a `name=value,...` string that
//! changes them at start (`3700kvstore --tune`, `KV_TUNE`), and
//! [`Config::check`] refuses a set the core cannot run with.

mod tune;

pub use tune::{changed_tune, describe, parse_tune, render_tune, TuneError, KNOBS};

use super::Micros;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Election timeouts are drawn uniformly from `[min, max]` (Raft §5.2).
    /// `min` is also the check-quorum window and the base of the read lease.
    pub election_timeout_min: Micros,
    pub election_timeout_max: Micros,
    /// A leader sends an AppendEntries to a follower that has been sent
    /// nothing for this long.
    pub heartbeat_interval: Micros,
    /// The same for followers that get new entries only with their
    /// heartbeats (see `leader/fanout.rs`); they are told so, and stretch their
    /// election timeout by the difference.
    pub lazy_heartbeat_interval: Micros,
    /// The lazy interval while the network loses next to nothing (see
    /// `lazy_heartbeat_interval` in `leader/tracker.rs`): those heartbeats then
    /// serve only to keep the follower from campaigning and to catch it up.
    pub quiet_lazy_heartbeat_interval: Micros,
    /// Once the quorum's last confirmation is old enough that every
    /// follower gets heartbeats, live followers that have not confirmed
    /// the leader since are probed, so that lost answers do not make it
    /// step down (check-quorum): a retransmission interval apart at first,
    /// backing off to at most this.
    pub probe_interval: Micros,
    /// Unanswered vote requests are resent after this long (then backing
    /// off). Unacknowledged entries are resent after four smoothed round
    /// trips, but never sooner than `retransmit_min` nor later than this.
    pub retransmit_interval: Micros,
    pub retransmit_min: Micros,
    /// The read lease lasts `election_timeout_min * lease_percent / 100`
    /// from the send time of the last AppendEntries a quorum acknowledged.
    pub lease_percent: u64,
    /// How long a replica that knows no leader holds a client request
    /// before redirecting it. Most elections end well within it; one that
    /// does not (no quorum is reachable) holds every request that long,
    /// and each such answer is a latency sample of the whole timeout.
    pub hold_timeout: Micros,
    /// A client that comes back within this long of being redirected did
    /// not reach the leader: hold its request instead of redirecting again.
    pub bounce_window: Micros,
    /// Byte budget for the entries of one AppendEntries (packets must stay
    /// under 16 KiB).
    pub max_batch_bytes: usize,
    /// A put whose log entry would be larger than this is refused.
    pub max_entry_bytes: usize,
    /// Requests held, or reads pending, beyond this many or this many bytes
    /// (MIDs, keys, values and a fixed overhead each) are redirected.
    pub max_queued_requests: usize,
    pub max_queued_bytes: usize,
    /// How many recent client MIDs the leader remembers to drop duplicates,
    /// and how many bytes of them at most.
    pub mid_memory: usize,
    pub mid_memory_bytes: usize,
    /// A request whose MID is longer than this is dropped (an answer would
    /// echo it back); one whose key, or put entry, is larger than
    /// `max_entry_bytes` is answered `fail`. Either way before it reaches
    /// any queue or table.
    pub max_mid_bytes: usize,
    /// From this round-trip loss estimate on, new entries are relayed
    /// through pairs of followers (see `leader/fanout.rs`); infinity never relays.
    pub relay_loss: f64,
    /// Once this many applied entries are in the log, the store is
    /// snapshotted and the older half of them dropped (`snapshot.rs`).
    pub compact_entries: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            election_timeout_min: 1_000_000,
            election_timeout_max: 2_000_000,
            heartbeat_interval: 300_000,
            lazy_heartbeat_interval: 1_000_000,
            quiet_lazy_heartbeat_interval: 3_000_000,
            probe_interval: 100_000,
            retransmit_interval: 25_000,
            retransmit_min: 2_000,
            lease_percent: 85,
            // 1.5 s was tried for the tail latency of quorumless periods
            // on lossy networks: lossy-40's p99 went 4.5 -> 3.2 s, but with
            // partitions, redirected sooner, requests went round the
            // minority side twice as often (big-7 19% -> 28% redirects).
            hold_timeout: 3_000_000,
            bounce_window: 20_000,
            max_batch_bytes: 12 * 1024,
            max_entry_bytes: 4 * 1024,
            max_queued_requests: 10_000,
            max_queued_bytes: 4 << 20,
            mid_memory: 16_384,
            mid_memory_bytes: 1 << 20,
            max_mid_bytes: 256,
            // About 6% drops per hop. Below it few puts wait for a
            // retransmission, and the hop a relay adds costs more latency
            // than its messages are worth; a crash on a network that loses
            // nothing counts a loss or two before the follower is passed
            // over (0.02-0.04).
            relay_loss: 0.12,
            // About 2.5 MB of log at the course's ~300 bytes a put, and
            // more puts than any course scenario makes, so that those never
            // compact.
            compact_entries: 8192,
        }
    }
}

/// A packet carries at most 16 KiB - 1 bytes; an AppendEntries adds its
/// header and per-entry framing to the entries' own bytes.
pub const MAX_BATCH_BYTES: usize = 15 * 1024;
/// A MID is echoed in every answer and remembered by every replica.
pub const MAX_MID_BYTES: usize = 1024;

impl Config {
    pub fn lease(&self) -> Micros {
        self.election_timeout_min * self.lease_percent / 100
    }

    /// Whether the core can run with these values: the first knob (by its
    /// `--tune` name) that breaks a rule, and the rule.
    pub fn check(&self) -> Result<(), TuneError> {
        let bad = |knob: &'static str, why: String| Err(TuneError::Inconsistent { knob, why });
        if self.election_timeout_min == 0 || self.election_timeout_min >= self.election_timeout_max
        {
            return bad(
                "election",
                "needs MIN-MAX with 0 < MIN < MAX: the spread is what breaks split votes".into(),
            );
        }
        if self.heartbeat_interval == 0 || self.heartbeat_interval >= self.election_timeout_min {
            return bad(
                "heartbeat",
                format!(
                    "must be above 0 and below the election timeout's minimum ({}), or followers \
                     campaign between heartbeats",
                    tune::render_micros(self.election_timeout_min)
                ),
            );
        }
        if self.lazy_heartbeat_interval < self.heartbeat_interval {
            return bad("lazy-heartbeat", "must be at least heartbeat".into());
        }
        if self.quiet_lazy_heartbeat_interval < self.lazy_heartbeat_interval {
            return bad(
                "quiet-lazy-heartbeat",
                "must be at least lazy-heartbeat".into(),
            );
        }
        if self.probe_interval == 0 {
            return bad("probe", "must be above 0".into());
        }
        if self.retransmit_min == 0 || self.retransmit_min > self.retransmit_interval {
            return bad("retransmit", "needs MIN-MAX with 0 < MIN <= MAX".into());
        }
        if self.lease_percent >= 100 {
            return bad(
                "lease",
                "must be below 100%: a new leader can be elected an election timeout's \
                 minimum after the quorum last heard from the old one"
                    .into(),
            );
        }
        if self.max_batch_bytes < 1024 || self.max_batch_bytes > MAX_BATCH_BYTES {
            return bad(
                "batch",
                "must be between 1KiB and 15KiB (packets stay under 16KiB)".into(),
            );
        }
        if self.max_entry_bytes < 64 || self.max_entry_bytes > self.max_batch_bytes {
            return bad("entry", "must be between 64B and batch".into());
        }
        if self.max_mid_bytes == 0 || self.max_mid_bytes > MAX_MID_BYTES {
            return bad("mid", "must be between 1B and 1KiB".into());
        }
        for (knob, v) in [
            ("queue", self.max_queued_requests),
            ("queue-bytes", self.max_queued_bytes),
            ("mids", self.mid_memory),
            ("mids-bytes", self.mid_memory_bytes),
        ] {
            if v == 0 {
                return bad(knob, "must be above 0".into());
            }
        }
        if self.compact_entries < 2 {
            return bad(
                "compact",
                "must be at least 2 (half the entries stay after compacting)".into(),
            );
        }
        if self.relay_loss.is_nan() || self.relay_loss < 0.0 {
            return bad("relay-loss", "must be a loss rate or off".into());
        }
        Ok(())
    }
}
