//! Quorum-first replication: which followers get a new entry at once.
//!
//! Sending each entry to every follower costs 2(N-1) messages per put, yet
//! a commit needs answers from only a quorum. The leader sends new entries
//! right away to just enough "eager" followers that, at the round-trip loss
//! rate it observes, their answers alone usually commit the entry within a
//! retransmission interval; the other followers get the entries with their
//! next heartbeat. Every AppendEntries starts right after what the
//! follower acknowledged, so a lost one is repaired by the next. An eager
//! follower that leaves an entry a commit waits on unanswered gets it again
//! after a retransmission interval; one that leaves two AppendEntries in a
//! row unanswered is passed over, so a dead or cut-off follower costs a
//! put about two retransmission intervals, and a lossy one keeps its place.
//!
//! Relay: on a lossy network, new entries go to the eager followers in
//! pairs. The leader sends one AppendEntries to the first of a pair, which
//! appends and passes it on to the second, which answers for both: three
//! messages and three hops where two round trips take four messages and
//! two hops. All three hops must arrive, against all four of the two
//! round trips, so fewer puts wait for a retransmission too; what it costs
//! is one hop on a put that is not lost, so a quiet network does without.
//! Retransmissions go straight to the follower that missed them.

use crate::raft::{Config, Micros};

/// Weight of each new round-trip outcome in the loss estimate (about the
/// last 50 outcomes count). A shorter memory made the estimate swing
/// enough (±0.07 at 15% drops per hop) to take a third eager follower
/// much of the time where two do (0.29 is the line for five replicas).
pub(super) const LOSS_WEIGHT: f64 = 0.02;

/// How likely the eager followers alone must be to commit an entry on
/// time. A put that misses waits a retransmission interval, and every
/// extra eager follower costs two messages per put. The median answer
/// stays fast while more than half the answers are: gets, answered from
/// the read lease, always are, so the fewer puts there are, the more of
/// them may wait. The target aims at `FAST_SHARE` of all answers being
/// fast (a margin over half), but never lets more than half the puts wait.
const FAST_SHARE: f64 = 0.6;
const MIN_ON_TIME: f64 = 0.5;

/// Below this round-trip loss estimate, eager followers get heartbeats
/// less often (see `eager_heartbeat_interval`). One loss in a quiet run
/// lifts the estimate to 0.02; it decays below this again in ~35 outcomes.
pub(super) const QUIET_LOSS: f64 = 0.01;

/// Round trips a leader must have seen before it may call the network
/// quiet. With none seen, the estimate says nothing: a leader elected on a
/// network losing 30% per hop that took it as quiet sent the longer
/// heartbeats, lost its quorum's answers to them and stepped down a second
/// after winning (advanced-3). Eight round trips all on time are a
/// one-in-300 chance there; where few hops are lost, the first loss ends
/// the quiet. Each round trip more costs a quiet network a few heartbeats
/// (32 cost simple-1 some 30 messages of its ~570).
pub(in crate::raft) const QUIET_SAMPLES: u32 = 8;

/// Weight of each request in the estimate of the share of gets (about the
/// last 50 requests count).
pub(super) const GET_SHARE_WEIGHT: f64 = 0.02;

/// Slack kept by the quiet heartbeat intervals for scheduling delays.
const QUIET_MARGIN: Micros = 50_000;

/// The quiet eager heartbeat interval `I`: a follower told it waits at
/// least `election_timeout_min + I - heartbeat_interval`, and hears two
/// heartbeats in that when `I <= election_timeout_min - heartbeat_interval`
/// (less a margin); each answer renews the read lease well before it
/// lapses (`I` is under the lease by more than the margin). Never shorter
/// than the standard heartbeat.
pub(in crate::raft) fn quiet_eager_interval(cfg: &Config) -> Micros {
    cfg.election_timeout_min
        .saturating_sub(cfg.heartbeat_interval + QUIET_MARGIN)
        .min(cfg.lease().saturating_sub(2 * QUIET_MARGIN))
        .max(cfg.heartbeat_interval)
}

/// How long a live follower may go without answering: an election
/// timeout, or a heartbeat beyond the longest interval it may have been
/// told (`told_interval`, or the lazy one).
pub(super) fn live_window(cfg: &Config, told_interval: Micros) -> Micros {
    let told = told_interval.max(cfg.lazy_heartbeat_interval);
    cfg.election_timeout_min.max(told + cfg.heartbeat_interval)
}

/// The estimated share of outcomes that are `true`: the plain mean of the
/// first `1 / weight` samples, then an exponentially weighted average.
/// Starting the average from a guess instead would take some 50 samples
/// to forget the guess: a new leader on a lossy network would send new
/// entries to too few followers for its first few dozen puts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(in crate::raft) struct Share {
    value: f64,
    samples: u32,
}

impl Share {
    pub(in crate::raft) fn value(&self) -> f64 {
        self.value
    }

    pub(in crate::raft) fn samples(&self) -> u32 {
        self.samples
    }

    /// One more sample; `weight` is its share of the average once the
    /// first samples are in.
    pub(super) fn note(&mut self, sample: bool, weight: f64) {
        self.samples = self.samples.saturating_add(1);
        let x = if sample { 1.0 } else { 0.0 };
        let w = (1.0 / f64::from(self.samples)).max(weight);
        self.value += (x - self.value) * w;
    }

    /// An estimate as if long established at `value` (for tests).
    #[cfg(test)]
    pub(super) fn settled(value: f64) -> Share {
        Share {
            value,
            samples: u32::MAX,
        }
    }
}

/// The chance of committing on the first round trip that makes
/// `FAST_SHARE` of all answers fast when a share `gets` of the requests
/// are gets, within `[MIN_ON_TIME, FAST_SHARE]`.
pub(super) fn on_time_target(gets: f64) -> f64 {
    let gets = gets.clamp(0.0, 0.99);
    ((FAST_SHARE - gets) / (1.0 - gets)).clamp(MIN_ON_TIME, FAST_SHARE)
}

/// The chance that a relay's three hops all arrive when a round trip (two
/// hops) is lost with probability `loss`.
pub(super) fn relay_on_time(loss: f64) -> f64 {
    (1.0 - loss).clamp(0.0, 1.0).powf(1.5)
}

/// The fewest followers (at least `needed`, at most `max`) whose round
/// trips, each lost with probability `loss`, include `needed` successes
/// with probability `target`; `max` if none does.
pub(super) fn eager_count(loss: f64, needed: usize, max: usize, target: f64) -> usize {
    let success = (1.0 - loss).clamp(0.0, 1.0);
    (needed..=max)
        .find(|&k| at_least(needed, k, success) >= target)
        .unwrap_or(max)
}

/// P(at least `needed` of `k` independent trials succeed), each with
/// probability `p`.
fn at_least(needed: usize, k: usize, p: f64) -> f64 {
    let mut total = 0.0;
    let mut choose = 1.0; // C(k, i), built up as i grows
    for i in 0..=k {
        if i > 0 {
            choose = choose * (k - i + 1) as f64 / i as f64;
        }
        if i >= needed {
            total += choose * p.powi(i as i32) * (1.0 - p).powi((k - i) as i32);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_loss_a_bare_quorum_is_enough() {
        assert_eq!(eager_count(0.0, 2, 4, 0.6), 2);
        assert_eq!(eager_count(0.0, 10, 20, 0.6), 10);
        assert_eq!(eager_count(0.0, 1, 2, 0.6), 1);
    }

    #[test]
    fn more_loss_takes_more_followers_up_to_all() {
        // five replicas: two answers needed from four followers
        assert_eq!(eager_count(0.10, 2, 4, 0.6), 2); // 0.81 on time
        assert_eq!(eager_count(0.19, 2, 4, 0.6), 2); // 0.66
        assert_eq!(eager_count(0.28, 2, 4, 0.6), 3); // 0.52 with two, 0.81 with three
        assert_eq!(eager_count(0.28, 2, 4, 0.5), 2); // ...unless 0.52 will do
        assert_eq!(eager_count(0.51, 2, 4, 0.6), 4); // even four are on time only 0.67
        assert_eq!(eager_count(0.90, 2, 4, 0.6), 4);
        let mut last = 0;
        for step in 0..=100 {
            let k = eager_count(step as f64 / 100.0, 3, 6, 0.6);
            assert!(k >= last && (3..=6).contains(&k));
            last = k;
        }
    }

    #[test]
    fn the_more_gets_the_more_puts_may_wait_but_never_most() {
        assert!((on_time_target(0.0) - FAST_SHARE).abs() < 1e-12);
        assert!((on_time_target(0.1) - 5.0 / 9.0).abs() < 1e-12);
        assert!((on_time_target(0.2) - 0.5).abs() < 1e-12);
        assert!((on_time_target(0.8) - MIN_ON_TIME).abs() < 1e-12);
        for gets in [0.0, 0.1, 0.2, 0.5] {
            // with the target met, at least FAST_SHARE of answers are fast
            let fast = gets + (1.0 - gets) * on_time_target(gets);
            assert!(fast >= FAST_SHARE - 1e-12, "{gets}: {fast}");
        }
    }

    #[test]
    fn a_relay_is_on_time_when_its_three_hops_arrive() {
        assert!((relay_on_time(0.0) - 1.0).abs() < 1e-12);
        // 15% drops per hop: a round trip is lost 0.2775 of the time
        let hop: f64 = 0.85;
        assert!((relay_on_time(1.0 - hop * hop) - hop.powi(3)).abs() < 1e-12);
        assert_eq!(relay_on_time(1.5), 0.0);
    }

    #[test]
    fn a_share_is_the_mean_of_its_first_samples_then_a_moving_average() {
        let mut s = Share::default();
        s.note(true, 0.02);
        assert_eq!(s.value(), 1.0);
        s.note(false, 0.02);
        assert!((s.value() - 0.5).abs() < 1e-12);
        for _ in 0..48 {
            s.note(false, 0.02);
        }
        assert!((s.value() - 1.0 / 50.0).abs() < 1e-12);
        // From here on each sample weighs 0.02, not 1/51.
        s.note(true, 0.02);
        assert!((s.value() - (0.02 + 0.98 * 0.02)).abs() < 1e-12);
        assert_eq!(s.samples(), 51);
    }

    #[test]
    fn binomial_tail() {
        assert!((at_least(2, 2, 0.9) - 0.81).abs() < 1e-12);
        assert!((at_least(2, 3, 0.5) - 0.5).abs() < 1e-12);
        assert!((at_least(0, 4, 0.3) - 1.0).abs() < 1e-12);
        assert!((at_least(1, 2, 0.49) - (1.0 - 0.51 * 0.51)).abs() < 1e-12);
    }
}
