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

use shared::Addr;

use super::node::{Node, Progress};
use super::{Config, Micros};

/// Weight of each new round-trip outcome in the loss estimate (about the
/// last 50 outcomes count). A shorter memory made the estimate swing
/// enough (±0.07 at 15% drops per hop) to take a third eager follower
/// much of the time where two do (0.29 is the line for five replicas).
const LOSS_WEIGHT: f64 = 0.02;

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
const QUIET_LOSS: f64 = 0.01;

/// Round trips a leader must have seen before it may call the network
/// quiet. With none seen, the estimate says nothing: a leader elected on a
/// network losing 30% per hop that took it as quiet sent the longer
/// heartbeats, lost its quorum's answers to them and stepped down a second
/// after winning (advanced-3). Eight round trips all on time are a
/// one-in-300 chance there; where few hops are lost, the first loss ends
/// the quiet. Each round trip more costs a quiet network a few heartbeats
/// (32 cost simple-1 some 30 messages of its ~570).
pub(super) const QUIET_SAMPLES: u32 = 8;

/// Weight of each request in the estimate of the share of gets (about the
/// last 50 requests count).
const GET_SHARE_WEIGHT: f64 = 0.02;

impl Node {
    /// The followers new entries go to at once: `eager_count` live,
    /// answering followers, those already eager first (every change costs
    /// a heartbeat, and each AppendEntries carries whatever the follower
    /// has not acknowledged, so one a lost round trip left behind is as
    /// good as any), then the most up to date, then by id.
    pub(super) fn eager_followers(&self, now: Micros) -> Vec<Addr> {
        let mut ranked: Vec<(bool, bool, std::cmp::Reverse<u64>, Addr)> = self
            .progress
            .iter()
            .map(|(&a, p)| {
                let slow = self.is_slow(p, now);
                (slow, p.told_lazy, std::cmp::Reverse(p.matched), a)
            })
            .collect();
        ranked.sort_unstable();
        ranked
            .into_iter()
            .take(self.eager_count)
            .map(|(_, _, _, a)| a)
            .collect()
    }

    /// It answered within the last election timeout, or, if longer,
    /// within a heartbeat after the interval it was last told (a lazy
    /// follower answers only what it is sent).
    pub(super) fn is_live(&self, p: &Progress, now: Micros) -> bool {
        p.answered_within(live_window(&self.cfg, p), now)
    }

    /// Dead, or left the last two things we sent unanswered, the latter
    /// for a retransmission interval: a single lost round trip is loss,
    /// and passing over a live follower for it would cost a heartbeat when
    /// it leaves the eager set.
    pub(super) fn is_slow(&self, p: &Progress, now: Micros) -> bool {
        !self.is_live(p, now)
            || (p.unanswered >= 2 && now >= p.last_sent + self.retransmit_timeout())
    }

    /// `from` answered the AppendEntries sent at `ts`: a round trip on
    /// time unless it was already counted as lost.
    pub(super) fn note_answer(&mut self, from: Addr, ts: Micros, now: Micros) {
        let Some(p) = self.progress.get_mut(&from) else {
            return;
        };
        let on_time = p.waiting_since.is_some() && !p.timed_out && !p.relayed;
        // An answer to the newest thing we sent leaves nothing outstanding;
        // an older one shows the follower is alive: restart the clock.
        let newer_outstanding = ts < p.last_sent;
        p.waiting_since = newer_outstanding.then_some(now);
        p.unanswered = u32::from(newer_outstanding);
        p.timed_out = false;
        p.backoff = 0;
        if ts <= now {
            let rtt = now - ts;
            self.srtt = Some(match self.srtt {
                Some(s) => s - s / 8 + rtt / 8,
                None => rtt,
            });
        }
        if on_time {
            self.note_round_trip(false);
        }
    }

    /// Counts, once each, the live followers that have left something
    /// unanswered for a retransmission interval. Followers that stopped
    /// answering altogether are dead or cut off, not lossy, and are not
    /// counted.
    pub(super) fn note_timeouts(&mut self, now: Micros) {
        let interval = self.retransmit_timeout();
        let mut lost = 0;
        for p in self.progress.values_mut() {
            if p.answered_within(live_window(&self.cfg, p), now)
                && !p.timed_out
                && p.waiting_since.is_some_and(|t| now >= t + interval)
            {
                p.timed_out = true;
                lost += u32::from(!p.relayed);
            }
        }
        for _ in 0..lost {
            self.note_round_trip(true);
        }
    }

    /// How long an AppendEntries may go unanswered before it counts as
    /// lost and is resent: four smoothed round trips (as TCP's RTO, without
    /// the variance term), within `[retransmit_min, retransmit_interval]`.
    pub(super) fn retransmit_timeout(&self) -> Micros {
        match self.srtt {
            Some(s) => s
                .saturating_mul(4)
                .clamp(self.cfg.retransmit_min, self.cfg.retransmit_interval),
            None => self.cfg.retransmit_interval,
        }
    }

    /// How often eager followers hear from us when there is nothing new:
    /// the standard heartbeat, or, while the network loses next to nothing
    /// (`QUIET_LOSS`) and some live follower is not eager, the longest
    /// interval (`quiet_eager_interval`) at which a quiet follower still
    /// hears from us twice before its (stretched) election timeout; it is
    /// told the interval, as lazy followers are. Without a spare follower,
    /// the eager ones' answers are the only confirmation check-quorum gets:
    /// two delayed ones in a row would depose us (found by the cluster
    /// simulation, seed 5906 of `survives_non_leader_kills`: six replicas,
    /// two killed).
    pub(super) fn eager_heartbeat_interval(&self, now: Micros) -> Micros {
        let live = self
            .progress
            .values()
            .filter(|p| self.is_live(p, now))
            .count();
        if self.quiet() && live > self.eager_count {
            quiet_eager_interval(&self.cfg)
        } else {
            self.cfg.heartbeat_interval
        }
    }

    /// How often lazy followers hear from us: the configured interval, or
    /// while the network loses next to nothing (`QUIET_LOSS`) the longer
    /// quiet one. Their heartbeats then only keep them from campaigning
    /// and bring them up to date; the eager followers' answers confirm us,
    /// and a crash among those turns to the lazy ones at once (they are
    /// told the interval and stretch their election timeout to match).
    pub(super) fn lazy_heartbeat_interval(&self) -> Micros {
        let cfg = &self.cfg;
        if self.quiet() {
            cfg.quiet_lazy_heartbeat_interval
                .max(cfg.lazy_heartbeat_interval)
        } else {
            cfg.lazy_heartbeat_interval
        }
    }

    /// The network loses next to nothing, as far as enough round trips
    /// show (`QUIET_SAMPLES`).
    fn quiet(&self) -> bool {
        self.round_trip_loss.samples() >= QUIET_SAMPLES && self.round_trip_loss.value() < QUIET_LOSS
    }

    pub(super) fn note_round_trip(&mut self, lost: bool) {
        self.round_trip_loss.note(lost, LOSS_WEIGHT);
        self.refresh_eager_count();
    }

    /// A client request reached us as leader.
    pub(super) fn note_request(&mut self, is_get: bool) {
        self.get_share.note(is_get, GET_SHARE_WEIGHT);
        self.refresh_eager_count();
    }

    /// New entries go to the eager followers in relayed pairs: a commit
    /// needs at least two followers, the network loses enough to make the
    /// messages saved worth a hop, and not so much that a pair would
    /// commit on time less often than the target asks (at 30% drops per
    /// hop a pair is on time 0.34 of the time; more followers at once do
    /// better, at a price in messages).
    pub(super) fn relaying(&self) -> bool {
        let loss = self.round_trip_loss.value();
        self.quorum() >= 3
            && loss >= self.cfg.relay_loss
            && relay_on_time(loss) >= on_time_target(self.get_share.value())
    }

    /// How many followers new entries go to at once, for the current loss
    /// and request mix estimates (also on election, for the new set of
    /// followers). While relaying, a bare quorum: a pair's answer comes
    /// for both or for neither, so a spare follower beside it would be
    /// one answer short whenever the pair is.
    pub(super) fn refresh_eager_count(&mut self) {
        let needed = self.quorum() - 1;
        self.eager_count = if self.relaying() {
            needed
        } else {
            eager_count(
                self.round_trip_loss.value(),
                needed,
                self.progress.len(),
                on_time_target(self.get_share.value()),
            )
        };
    }
}

impl Progress {
    /// It answered within `window` before `now`.
    fn answered_within(&self, window: Micros, now: Micros) -> bool {
        now < self.last_reply + window
    }
}

/// Slack kept by the quiet heartbeat intervals for scheduling delays.
const QUIET_MARGIN: Micros = 50_000;

/// The quiet eager heartbeat interval `I`: a follower told it waits at
/// least `election_timeout_min + I - heartbeat_interval`, and hears two
/// heartbeats in that when `I <= election_timeout_min - heartbeat_interval`
/// (less a margin); each answer renews the read lease well before it
/// lapses (`I` is under the lease by more than the margin). Never shorter
/// than the standard heartbeat.
pub(super) fn quiet_eager_interval(cfg: &Config) -> Micros {
    cfg.election_timeout_min
        .saturating_sub(cfg.heartbeat_interval + QUIET_MARGIN)
        .min(cfg.lease().saturating_sub(2 * QUIET_MARGIN))
        .max(cfg.heartbeat_interval)
}

/// How long a live follower may go without answering: an election
/// timeout, or a heartbeat beyond the longest interval it may have been
/// told.
fn live_window(cfg: &Config, p: &Progress) -> Micros {
    let told = p.told_interval.max(cfg.lazy_heartbeat_interval);
    cfg.election_timeout_min.max(told + cfg.heartbeat_interval)
}

/// The estimated share of outcomes that are `true`: the plain mean of the
/// first `1 / weight` samples, then an exponentially weighted average.
/// Starting the average from a guess instead would take some 50 samples
/// to forget the guess: a new leader on a lossy network would send new
/// entries to too few followers for its first few dozen puts.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(super) struct Share {
    value: f64,
    samples: u32,
}

impl Share {
    pub(super) fn value(&self) -> f64 {
        self.value
    }

    pub(super) fn samples(&self) -> u32 {
        self.samples
    }

    /// One more sample; `weight` is its share of the average once the
    /// first samples are in.
    fn note(&mut self, sample: bool, weight: f64) {
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
