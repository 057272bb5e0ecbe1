//! The leader's view of its followers (Raft §5.3) and what it learns of
//! the network from their answers: round-trip loss, round-trip time, and
//! the share of gets among the requests it leads. From those it decides
//! which followers are live, which get new entries at once (`fanout.rs`),
//! and when each is next due an AppendEntries.

use std::collections::BTreeMap;

use shared::Addr;

use super::fanout::{
    eager_count, live_window, on_time_target, quiet_eager_interval, relay_on_time, Share,
    GET_SHARE_WEIGHT, LOSS_WEIGHT, QUIET_LOSS, QUIET_SAMPLES,
};
use crate::raft::{Config, Micros};

/// One follower, as the leader sees it.
#[derive(Debug, Clone, Default)]
pub(in crate::raft) struct Progress {
    /// Next index to send (advanced optimistically when sending: pipelining).
    next: u64,
    /// Highest index known to be replicated on the follower.
    matched: u64,
    /// When we last sent it anything.
    last_sent: Micros,
    /// When we last received a reply from it in this term.
    last_reply: Micros,
    /// The send time of the newest AppendEntries it acknowledged.
    acked_ts: Micros,
    /// Send at the next flush even if there is nothing new.
    send_now: bool,
    /// When we first sent it something that no reply has answered yet:
    /// silent for a retransmission interval after that, it counts as a
    /// lost round trip in the loss estimate.
    waiting_since: Option<Micros>,
    /// That wait was already counted as a lost round trip.
    timed_out: bool,
    /// The wait is for a relayed AppendEntries: three hops, not a round
    /// trip, so its outcome stays out of the loss estimate.
    relayed: bool,
    /// Retransmissions since its last answer: each doubles the wait before
    /// the next, so a follower that died or was cut off costs a handful of
    /// messages, not one per retransmission timeout.
    backoff: u32,
    /// Our last AppendEntries told it to expect the lazy heartbeat
    /// interval. A follower that leaves the eager set still gets one
    /// standard heartbeat first: its election timer was set for that.
    told_lazy: bool,
    /// The heartbeat interval our last AppendEntries told it (the standard
    /// one if it told none): its election timer is set for that.
    told_interval: Micros,
    /// The highest index ever sent to it in this term (for `Counters`).
    sent_up_to: u64,
    /// It acknowledged entries in this term, so `matched` is known to be
    /// in its log: every AppendEntries can then start right after it, and
    /// carry whatever a lost one carried.
    acked: bool,
    /// AppendEntries sent since its last answer: one lost round trip is
    /// loss, two in a row look like a dead or cut-off follower.
    unanswered: u32,
    /// The commit index it told us last (this term): it has answered
    /// every put it owed up to there (see `inherited.rs`).
    told_commit: u64,
}

impl Progress {
    /// A follower of a new leader: presumed live until it stays silent for
    /// an election timeout, and sent our first AppendEntries at once.
    fn new(next: u64, now: Micros) -> Progress {
        Progress {
            next,
            last_reply: now,
            send_now: true,
            ..Progress::default()
        }
    }

    pub(in crate::raft) fn matched(&self) -> u64 {
        self.matched
    }

    pub(in crate::raft) fn next_index(&self) -> u64 {
        self.next
    }

    /// Where its next AppendEntries starts: right after what it
    /// acknowledged, or at its next index if it acknowledged nothing in
    /// this term.
    pub(in crate::raft) fn send_from(&self) -> u64 {
        if self.acked {
            self.matched + 1
        } else {
            self.next
        }
    }

    /// The commit index it told us last in this term.
    pub(in crate::raft) fn told_commit(&self) -> u64 {
        self.told_commit
    }

    /// It may still answer us: it has not acknowledged anything in this
    /// term yet, or it answered within an election timeout after the
    /// interval it was told.
    pub(in crate::raft) fn may_answer(&self, cfg: &Config, now: Micros) -> bool {
        !self.acked || now < self.last_reply + self.told_interval + cfg.election_timeout_min
    }

    /// It answered within `window` before `now`.
    fn answered_within(&self, window: Micros, now: Micros) -> bool {
        now < self.last_reply + window
    }

    /// It answered within the last election timeout, or, if longer,
    /// within a heartbeat after the interval it was last told (a lazy
    /// follower answers only what it is sent).
    fn is_live(&self, cfg: &Config, now: Micros) -> bool {
        self.answered_within(live_window(cfg, self.told_interval), now)
    }
}

/// What a leader estimates of the network and of its clients. These
/// describe the cluster, not a term, so a replica that leads again starts
/// from what it last learned (see `Node::become_follower`).
#[derive(Debug, Clone, Default)]
pub(in crate::raft) struct Estimates {
    /// Share of AppendEntries round trips that fail to come back within a
    /// retransmission interval.
    round_trip_loss: Share,
    /// Share of gets among the requests we lead.
    get_share: Share,
    /// Smoothed AppendEntries round-trip time (`None` before the first).
    srtt: Option<Micros>,
}

/// A live follower's retransmissions back off to at most 2^this
/// retransmission intervals apart. Losses on a live link are independent:
/// waiting longer after a few in a row only delays the put (at 50% per
/// hop, a commit that needs two followers' answers takes more than five
/// tries two times in five, and unbounded doubling put the sixth 31
/// intervals after the first, where this puts it 23 after). A
/// follower cut off gets them until it is no longer live (an election
/// timeout), then heartbeats only.
const MAX_RETRANSMIT_BACKOFF: u32 = 3;

/// One AppendEntries to send at a flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::raft) struct DueAppend {
    pub peer: Addr,
    /// Who `peer` passes it on to, if relayed.
    pub relay_to: Option<Addr>,
    /// `peer` is not eager (it is told the lazy heartbeat interval).
    pub lazy: bool,
    /// Only to pay the traffic account (`ledger.rs`): skipped when paid.
    pub optional: bool,
}

impl DueAppend {
    fn straight(peer: Addr, lazy: bool, optional: bool) -> DueAppend {
        DueAppend {
            peer,
            relay_to: None,
            lazy,
            optional,
        }
    }
}

/// The leader's followers and estimates.
#[derive(Debug)]
pub(in crate::raft) struct Tracker {
    followers: BTreeMap<Addr, Progress>,
    estimates: Estimates,
    /// How many followers new entries go to at once (see `fanout.rs`).
    eager_count: usize,
    /// Replicas (counting the leader) that make a majority.
    quorum: usize,
    cfg: Config,
}

/// The `leader_tick` pass's view of who is due what: the eager followers,
/// their heartbeat interval, and, once every follower is due heartbeats
/// (`heartbeat_all_from`), the quorum's last confirmation.
pub(in crate::raft) struct Schedule {
    pub eager: Vec<Addr>,
    pub eager_interval: Micros,
    pub confirm_all_since: Option<Micros>,
}

impl Tracker {
    /// Whether our last AppendEntries told `peer` the lazy interval
    /// (`None`: not a follower of ours).
    pub(in crate::raft) fn told_lazy(&self, peer: &Addr) -> Option<bool> {
        self.followers.get(peer).map(|p| p.told_lazy)
    }

    /// The followers `peers` of a leader whose log ends before `next`,
    /// where `quorum` replicas (the leader included) make a majority.
    pub(in crate::raft) fn new(
        cfg: &Config,
        peers: &[Addr],
        quorum: usize,
        next: u64,
        now: Micros,
        estimates: Estimates,
    ) -> Tracker {
        let mut tracker = Tracker {
            followers: peers
                .iter()
                .map(|&p| (p, Progress::new(next, now)))
                .collect(),
            estimates,
            eager_count: 0,
            quorum,
            cfg: cfg.clone(),
        };
        tracker.refresh_eager_count();
        tracker
    }

    pub(in crate::raft) fn into_estimates(self) -> Estimates {
        self.estimates
    }

    pub(in crate::raft) fn get(&self, peer: &Addr) -> Option<&Progress> {
        self.followers.get(peer)
    }

    pub(in crate::raft) fn iter(&self) -> impl Iterator<Item = (&Addr, &Progress)> {
        self.followers.iter()
    }

    fn progress_mut(&mut self, peer: &Addr) -> &mut Progress {
        self.followers
            .get_mut(peer)
            .expect("a follower of this tracker")
    }

    // ---- what happens to a follower -------------------------------------

    /// `peer` gets an AppendEntries at the next flush even with nothing new.
    /// Whether an answer to what was sent at `ts` answers the newest
    /// AppendEntries `peer` was sent.
    pub(in crate::raft) fn answers_newest(&self, peer: &Addr, ts: Micros) -> bool {
        self.followers.get(peer).is_some_and(|p| ts >= p.last_sent)
    }

    pub(in crate::raft) fn request_send(&mut self, peer: &Addr) {
        if let Some(p) = self.followers.get_mut(peer) {
            p.send_now = true;
        }
    }

    /// Every follower not sent anything yet at `now` gets an AppendEntries
    /// at the next flush, so that their answers confirm us.
    pub(in crate::raft) fn request_confirmation(&mut self, now: Micros) {
        for p in self.followers.values_mut() {
            if p.last_sent < now {
                p.send_now = true;
            }
        }
    }

    /// `from` answered the AppendEntries sent at `ts`, telling its commit
    /// index `commit`. Returns the commit index it has told us (bounded by
    /// our `last` index: a corrupt value must not settle puts we have not
    /// seen), or `None` if it is not our follower.
    pub(in crate::raft) fn on_reply(
        &mut self,
        from: &Addr,
        ts: Micros,
        commit: u64,
        last: u64,
        now: Micros,
    ) -> Option<u64> {
        let p = self.followers.get_mut(from)?;
        p.last_reply = now;
        p.told_commit = p.told_commit.max(commit.min(last));
        let told = p.told_commit;
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
            let srtt = &mut self.estimates.srtt;
            *srtt = Some(match *srtt {
                Some(s) => s - s / 8 + rtt / 8,
                None => rtt,
            });
        }
        if on_time {
            self.record_round_trip(false);
        }
        Some(told)
    }

    /// `from` acknowledged entries up to `index` in the AppendEntries sent
    /// at `ts`.
    pub(in crate::raft) fn on_ack(
        &mut self,
        from: &Addr,
        ts: Micros,
        index: u64,
        last: u64,
        now: Micros,
    ) {
        let p = self.progress_mut(from);
        // A reply cannot acknowledge a message sent after now: a corrupt
        // `ts` must neither stretch the read lease nor overflow the
        // check-quorum deadline (found by tests/robustness.rs).
        p.acked_ts = p.acked_ts.max(ts.min(now));
        p.acked = true;
        if index > p.matched {
            p.matched = index.min(last);
        }
        p.next = p.next.max(p.matched + 1);
    }

    /// `from` refused an AppendEntries; its log may match ours up to
    /// `hint - 1`.
    pub(in crate::raft) fn on_reject(&mut self, from: &Addr, hint: u64, last: u64) {
        let p = self.progress_mut(from);
        if hint > p.matched {
            p.next = hint.clamp(p.matched + 1, last + 1);
            p.send_now = true;
        }
    }

    /// An AppendEntries carrying entries up to `top`, sent to each of
    /// `members` (one follower, and the one it relays to), telling the
    /// heartbeat interval `interval`. Returns whether it carries an entry
    /// one of them was never sent.
    pub(in crate::raft) fn on_send(
        &mut self,
        members: &[Addr],
        now: Micros,
        top: u64,
        lazy: bool,
        interval: Micros,
    ) -> bool {
        let relayed = members.len() > 1;
        let mut fresh = false;
        for m in members {
            let p = self.progress_mut(m);
            p.next = top + 1;
            p.last_sent = now;
            p.told_lazy = lazy;
            p.told_interval = interval;
            p.unanswered = p.unanswered.saturating_add(1);
            // A straight resend after a relayed AppendEntries starts a wait
            // of its own: a round trip for the loss estimate.
            if p.waiting_since.is_none() || (p.relayed && !relayed) {
                p.waiting_since = Some(now);
                p.timed_out = false;
                p.relayed = relayed;
            }
            p.send_now = false;
            fresh |= top > p.sent_up_to;
            p.sent_up_to = p.sent_up_to.max(top);
        }
        fresh
    }

    /// `peer` is due an AppendEntries: it resends whatever is
    /// unacknowledged, since that may have been dropped.
    fn mark_due(&mut self, peer: &Addr) {
        let p = self.progress_mut(peer);
        p.next = p.matched + 1;
        p.send_now = true;
        if p.waiting_since.is_some() {
            p.backoff = p.backoff.saturating_add(1);
        }
    }

    /// A client request reached us as leader: a sample of the share of
    /// gets.
    pub(in crate::raft) fn record_request(&mut self, is_get: bool) {
        self.estimates.get_share.note(is_get, GET_SHARE_WEIGHT);
        self.refresh_eager_count();
    }

    fn record_round_trip(&mut self, lost: bool) {
        self.estimates.round_trip_loss.note(lost, LOSS_WEIGHT);
        self.refresh_eager_count();
    }

    /// Counts, once each, the live followers that have left something
    /// unanswered for a retransmission interval as lost round trips.
    /// Followers that stopped answering altogether are dead or cut off,
    /// not lossy, and are not counted.
    fn record_timeouts(&mut self, now: Micros) {
        let interval = self.retransmit_timeout();
        let mut lost = 0;
        for p in self.followers.values_mut() {
            if p.is_live(&self.cfg, now)
                && !p.timed_out
                && p.waiting_since.is_some_and(|t| now >= t + interval)
            {
                p.timed_out = true;
                lost += u32::from(!p.relayed);
            }
        }
        for _ in 0..lost {
            self.record_round_trip(true);
        }
    }

    /// How many followers new entries go to at once, for the current loss
    /// and request mix estimates. While relaying, a bare quorum: a pair's
    /// answer comes for both or for neither, so a spare follower beside it
    /// would be one answer short whenever the pair is.
    fn refresh_eager_count(&mut self) {
        let needed = self.quorum - 1;
        self.eager_count = if self.relaying() {
            needed
        } else {
            eager_count(
                self.estimates.round_trip_loss.value(),
                needed,
                self.followers.len(),
                on_time_target(self.estimates.get_share.value()),
            )
        };
    }

    // ---- what the leader concludes ----------------------------------------

    /// The newest time at which a quorum (counting ourselves) is known to
    /// have accepted us as leader: the send time of the AppendEntries they
    /// acknowledged.
    pub(in crate::raft) fn quorum_contact(&self) -> Micros {
        let mut acked: Vec<Micros> = self.followers.values().map(|p| p.acked_ts).collect();
        acked.push(Micros::MAX);
        acked.sort_unstable_by(|a, b| b.cmp(a));
        acked[self.quorum - 1]
    }

    /// The highest index a quorum holds, our own log ending at `last`.
    pub(in crate::raft) fn quorum_match(&self, last: u64) -> u64 {
        let mut matched: Vec<u64> = self.followers.values().map(|p| p.matched).collect();
        matched.push(last);
        matched.sort_unstable_by(|a, b| b.cmp(a));
        matched[self.quorum - 1]
    }

    /// The lowest match index of the followers still answering: what
    /// compaction should keep, so that none of them needs a snapshot.
    pub(in crate::raft) fn slowest_live_match(&self, now: Micros) -> Option<u64> {
        self.followers
            .values()
            .filter(|p| p.is_live(&self.cfg, now))
            .map(|p| p.matched)
            .min()
    }

    /// The followers new entries go to at once: `eager_count` live,
    /// answering followers, those already eager first (every change costs
    /// a heartbeat, and each AppendEntries carries whatever the follower
    /// has not acknowledged, so one a lost round trip left behind is as
    /// good as any), then the most up to date, then by id.
    pub(in crate::raft) fn eager_followers(&self, now: Micros) -> Vec<Addr> {
        let mut ranked: Vec<(bool, bool, std::cmp::Reverse<u64>, Addr)> = self
            .followers
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

    /// Dead, or left the last two things we sent unanswered, the latter
    /// for a retransmission interval: a single lost round trip is loss,
    /// and passing over a live follower for it would cost a heartbeat when
    /// it leaves the eager set.
    pub(in crate::raft) fn is_slow(&self, p: &Progress, now: Micros) -> bool {
        !p.is_live(&self.cfg, now)
            || (p.unanswered >= 2 && now >= p.last_sent + self.retransmit_timeout())
    }

    /// How long an AppendEntries may go unanswered before it counts as
    /// lost and is resent: four smoothed round trips (as TCP's RTO, without
    /// the variance term), within `[retransmit_min, retransmit_interval]`.
    pub(in crate::raft) fn retransmit_timeout(&self) -> Micros {
        match self.estimates.srtt {
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
    pub(in crate::raft) fn eager_heartbeat_interval(&self, now: Micros) -> Micros {
        let live = self
            .followers
            .values()
            .filter(|p| p.is_live(&self.cfg, now))
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
    pub(in crate::raft) fn lazy_heartbeat_interval(&self) -> Micros {
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
        let loss = &self.estimates.round_trip_loss;
        loss.samples() >= QUIET_SAMPLES && loss.value() < QUIET_LOSS
    }

    /// New entries go to the eager followers in relayed pairs: a commit
    /// needs at least two followers, the network loses enough to make the
    /// messages saved worth a hop, and not so much that a pair would
    /// commit on time less often than the target asks (at 30% drops per
    /// hop a pair is on time 0.34 of the time; more followers at once do
    /// better, at a price in messages).
    pub(in crate::raft) fn relaying(&self) -> bool {
        let loss = self.estimates.round_trip_loss.value();
        self.quorum >= 3
            && loss >= self.cfg.relay_loss
            && relay_on_time(loss) >= on_time_target(self.estimates.get_share.value())
    }

    // ---- heartbeats and retransmissions -----------------------------------

    /// Who is due what at `now`, with the quorum's last confirmation at
    /// `contact`; counts the round trips lost since the last pass first
    /// when `record` is set (a tick, not a deadline query).
    fn schedule(&self, now: Micros, contact: Micros) -> Schedule {
        let eager_interval = self.eager_heartbeat_interval(now);
        let from = self.heartbeat_all_from(contact, eager_interval);
        Schedule {
            eager: self.eager_followers(now),
            eager_interval,
            confirm_all_since: (now >= from).then_some(contact),
        }
    }

    /// A leader tick that did not step down: counts lost round trips, then
    /// marks every follower due an AppendEntries. The log ends at `last`
    /// and is committed up to `commit`.
    pub(in crate::raft) fn tick(&mut self, now: Micros, contact: Micros, last: u64, commit: u64) {
        self.record_timeouts(now);
        let plan = self.schedule(now, contact);
        let due: Vec<Addr> = self
            .followers
            .iter()
            .filter(|(a, p)| now >= self.due_at(p, &plan, a, last, commit, now))
            .map(|(a, _)| *a)
            .collect();
        for peer in due {
            self.mark_due(&peer);
        }
    }

    /// When a follower is next due an AppendEntries, or check-quorum's
    /// deadline `check` if sooner.
    pub(in crate::raft) fn next_due(
        &self,
        now: Micros,
        contact: Micros,
        check: Micros,
        last: u64,
        commit: u64,
    ) -> Micros {
        let plan = self.schedule(now, contact);
        // Until then, lazy followers become due when the confirmation gets old.
        let start = if plan.confirm_all_since.is_some() {
            check
        } else {
            check.min(self.heartbeat_all_from(contact, plan.eager_interval))
        };
        self.followers
            .iter()
            .map(|(a, p)| self.due_at(p, &plan, a, last, commit, now))
            .fold(start, Micros::min)
    }

    /// When `p` (follower `peer`) is next due an AppendEntries even with
    /// nothing new: a retransmission for an eager live follower missing
    /// entries, else a heartbeat (which also carries the entries a lazy
    /// follower misses, and probes followers that stopped answering).
    fn due_at(
        &self,
        p: &Progress,
        plan: &Schedule,
        peer: &Addr,
        last: u64,
        commit: u64,
        now: Micros,
    ) -> Micros {
        let eager = plan.eager.contains(peer);
        let beat = plan.eager_interval;
        // Only entries a commit waits on are worth a retransmission: entries
        // already committed reach a follower with the next AppendEntries,
        // which starts after what it acknowledged.
        if eager && p.is_live(&self.cfg, now) && p.matched < last && commit < last {
            let wait = self
                .retransmit_timeout()
                .saturating_mul(1 << p.backoff.min(MAX_RETRANSMIT_BACKOFF))
                .min(self.cfg.heartbeat_interval);
            p.last_sent.max(p.last_reply) + wait
        } else if plan
            .confirm_all_since
            .is_some_and(|contact| p.acked_ts <= contact)
            && p.is_live(&self.cfg, now)
        {
            // Check-quorum draws near and this follower has not confirmed
            // us since: probe it more often. With heartbeats alone, a
            // leader idle on a network losing 30% per hop lost all but one
            // follower's answers for a whole election timeout about once
            // in 30 s, and stepped down. Probes start a retransmission
            // interval apart and back off to `probe_interval`: at 40% per
            // hop, the four probes 100 ms apart left a follower silent
            // through the check about one time in six, and a leader that
            // needed both of its two live followers stepped down every few
            // seconds; a follower cut off gets a handful more.
            let wait = self
                .retransmit_timeout()
                .saturating_mul(1 << p.backoff.min(16))
                .min(self.cfg.probe_interval);
            p.last_sent + wait.min(beat)
        } else if eager {
            p.last_sent + beat
        } else if plan.confirm_all_since.is_some() || !p.told_lazy {
            // Lazy but last promised a shorter interval, or needed to
            // confirm us.
            p.last_sent + self.cfg.heartbeat_interval
        } else {
            // Never later than it was told: its timer is set for that.
            p.last_sent + p.told_interval.min(self.lazy_heartbeat_interval())
        }
    }

    /// From when, with the quorum's last confirmation at `contact`, every
    /// follower gets the standard heartbeat: once it is two standard
    /// heartbeats old, or a little older than the eager followers'
    /// interval `eager_interval` (their answers to a heartbeat are missing
    /// or late), until it is fresh again, so that lost answers from the
    /// eager followers alone cannot make us step down (check-quorum) or let
    /// the lease lapse.
    fn heartbeat_all_from(&self, contact: Micros, eager_interval: Micros) -> Micros {
        let hb = self.cfg.heartbeat_interval;
        contact.saturating_add((2 * hb).max(eager_interval + hb / 3))
    }

    /// The followers to send an AppendEntries at this flush. New entries
    /// (the log ends at `last`) go at once only to eager followers that
    /// answer; a silent one gets them with its (backed-off)
    /// retransmission, the others with their heartbeats. While relaying,
    /// eager followers that only have new entries to get go in pairs: one
    /// AppendEntries to the first, relayed to the second. With `widen`
    /// (the traffic account is short), the lazy followers that answer and
    /// miss new entries come last, as sends that may be skipped.
    pub(in crate::raft) fn sends_due(&self, now: Micros, last: u64, widen: bool) -> Vec<DueAppend> {
        let eager = self.eager_followers(now);
        let relaying = self.relaying();
        let mut unpaired: Option<Addr> = None;
        let mut sends: Vec<DueAppend> = Vec::new();
        let mut optional: Vec<DueAppend> = Vec::new();
        for (&peer, p) in &self.followers {
            let lazy = !eager.contains(&peer);
            let missing = p.next <= last && !self.is_slow(p, now);
            let has_new = missing && !lazy;
            if !(p.send_now || has_new) {
                if widen && missing {
                    optional.push(DueAppend::straight(peer, true, true));
                }
                continue;
            }
            // Only a follower waiting on nothing is paired: retransmissions
            // go straight to the follower that missed them.
            if relaying && has_new && p.acked && p.waiting_since.is_none() {
                match unpaired.take() {
                    Some(first) => sends.push(DueAppend {
                        peer: first,
                        relay_to: Some(peer),
                        lazy: false,
                        optional: false,
                    }),
                    None => unpaired = Some(peer),
                }
                continue;
            }
            sends.push(DueAppend::straight(peer, lazy, false));
        }
        if let Some(peer) = unpaired {
            sends.push(DueAppend::straight(peer, false, false));
        }
        sends.extend(optional);
        sends
    }
}

#[cfg(test)]
impl Tracker {
    /// Sets the round-trip loss estimate as if long established (the
    /// eager count stays until refreshed).
    pub(in crate::raft) fn settle_loss_for_test(&mut self, loss: f64) {
        self.estimates.round_trip_loss = Share::settled(loss);
    }

    pub(in crate::raft) fn refresh_eager_count_for_test(&mut self) {
        self.refresh_eager_count();
    }

    pub(in crate::raft) fn round_trip_loss(&self) -> Share {
        self.estimates.round_trip_loss
    }

    pub(in crate::raft) fn eager_count(&self) -> usize {
        self.eager_count
    }

    pub(in crate::raft) fn set_eager_count_for_test(&mut self, n: usize) {
        self.eager_count = n;
    }

    pub(in crate::raft) fn set_last_reply_for_test(&mut self, peer: &Addr, at: Micros) {
        self.progress_mut(peer).last_reply = at;
    }

    pub(in crate::raft) fn record_loss_for_test(&mut self) {
        self.record_round_trip(true);
    }

    pub(in crate::raft) fn is_live_for_test(&self, peer: &Addr, now: Micros) -> bool {
        self.followers[peer].is_live(&self.cfg, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Addr = Addr(1);
    const C: Addr = Addr(2);
    const D: Addr = Addr(3);
    const E: Addr = Addr(4);

    /// A tracker for the four followers of a five-replica leader elected
    /// at 0 with its log ending at 1.
    fn five() -> Tracker {
        Tracker::new(
            &Config::default(),
            &[B, C, D, E],
            3,
            1,
            0,
            Estimates::default(),
        )
    }

    #[test]
    fn a_new_leaders_followers_are_live_and_due_its_first_append() {
        let t = five();
        let sends = t.sends_due(0, 1, false);
        assert_eq!(sends.len(), 4, "{sends:?}");
        assert!(t
            .iter()
            .all(|(_, p)| p.next_index() == 1 && p.matched() == 0));
        assert_eq!(t.quorum_contact(), 0, "nobody has confirmed us yet");
    }

    #[test]
    fn acknowledgements_move_the_commit_quorum_and_the_confirmation() {
        let mut t = five();
        t.on_send(&[B], 10, 3, false, 300_000);
        t.on_send(&[C], 10, 3, false, 300_000);
        assert_eq!(t.on_reply(&B, 10, 0, 3, 20), Some(0));
        t.on_ack(&B, 10, 3, 3, 20);
        // Ourselves and B hold 3; a quorum of five needs a third.
        assert_eq!(t.quorum_match(3), 0);
        assert_eq!(t.on_reply(&C, 10, 0, 3, 25), Some(0));
        t.on_ack(&C, 10, 3, 3, 25);
        assert_eq!(t.quorum_match(3), 3);
        assert_eq!(t.quorum_contact(), 10, "B and C acked what was sent at 10");
        // Unknown followers and acknowledgements from the future change nothing.
        assert_eq!(t.on_reply(&Addr(9), 10, 0, 3, 30), None);
        t.on_ack(&D, 1_000, 2, 3, 30);
        assert_eq!(t.get(&D).map(|p| p.matched()), Some(2));
        t.on_ack(&E, 1_000, 2, 3, 30);
        assert_eq!(t.quorum_contact(), 30, "a reply cannot confirm beyond now");
    }

    #[test]
    fn a_told_commit_index_is_kept_at_its_highest_and_bounded_by_our_log() {
        let mut t = five();
        assert_eq!(t.on_reply(&B, 0, 7, 5, 10), Some(5));
        assert_eq!(t.on_reply(&B, 0, 2, 5, 20), Some(5));
        assert_eq!(t.get(&B).map(|p| p.told_commit()), Some(5));
    }

    #[test]
    fn a_refusal_moves_next_back_within_what_is_matched_and_asks_to_resend() {
        let mut t = five();
        t.on_ack(&B, 0, 4, 10, 5);
        t.on_send(&[B], 10, 10, false, 300_000);
        assert!(
            t.sends_due(10, 10, false).iter().all(|s| s.peer != B),
            "B has all"
        );
        t.on_reject(&B, 2, 10);
        assert_eq!(
            t.get(&B).map(|p| p.next_index()),
            Some(11),
            "a hint within what it acknowledged is stale"
        );
        t.on_reject(&B, 7, 10);
        assert_eq!(t.get(&B).map(|p| p.next_index()), Some(7));
        assert!(t.sends_due(11, 10, false).iter().any(|s| s.peer == B));
    }

    #[test]
    fn round_trip_time_is_smoothed_and_bounds_the_retransmission_timeout() {
        let cfg = Config::default();
        let mut t = five();
        assert_eq!(t.retransmit_timeout(), cfg.retransmit_interval);
        t.on_send(&[B], 100, 1, false, 300_000);
        t.on_reply(&B, 100, 0, 1, 1_100);
        assert_eq!(t.retransmit_timeout(), 4_000, "four round trips of 1 ms");
        t.on_send(&[B], 2_000, 1, false, 300_000);
        t.on_reply(&B, 2_000, 0, 1, 2_100);
        // 1000 - 1000/8 + 100/8
        assert_eq!(t.retransmit_timeout(), 4 * 887);
        for i in 0..50 {
            t.on_reply(&B, 3_000 + i, 0, 1, 3_000 + i);
        }
        assert_eq!(t.retransmit_timeout(), cfg.retransmit_min);
    }

    #[test]
    fn a_live_follower_silent_for_a_retransmission_interval_counts_one_lost_round_trip() {
        let mut t = five();
        t.on_send(&[B], 100, 1, false, 300_000);
        let rto = t.retransmit_timeout();
        t.tick(100 + rto - 1, 100, 1, 0);
        assert_eq!(t.round_trip_loss().samples(), 0);
        t.tick(100 + rto, 100, 1, 0);
        assert_eq!(t.round_trip_loss().samples(), 1);
        assert_eq!(t.round_trip_loss().value(), 1.0);
        t.tick(100 + 2 * rto, 100, 1, 0);
        assert_eq!(t.round_trip_loss().samples(), 1, "counted once");
        // A late answer is no round trip on time.
        t.on_reply(&B, 100, 0, 1, 100 + 3 * rto);
        assert_eq!(t.round_trip_loss().samples(), 1);
        // The next one on time is.
        t.on_send(&[B], 200_000, 1, false, 300_000);
        t.on_reply(&B, 200_000, 0, 1, 200_100);
        assert_eq!(t.round_trip_loss().samples(), 2);
        assert_eq!(t.round_trip_loss().value(), 0.5);
    }

    #[test]
    fn the_eager_followers_answer_and_two_unanswered_sends_pass_one_over() {
        let mut t = five();
        let eager = t.eager_followers(0);
        assert_eq!(eager, vec![B, C], "a bare quorum without loss, by id");
        for at in [10, 20] {
            t.on_send(&[B], at, 1, false, 300_000);
        }
        let rto = t.retransmit_timeout();
        assert_eq!(t.eager_followers(19 + rto), vec![B, C]);
        assert_eq!(t.eager_followers(20 + rto), vec![C, D], "B is slow");
        t.on_reply(&B, 20, 0, 1, 21 + rto);
        assert_eq!(t.eager_followers(22 + rto), vec![B, C]);
    }

    #[test]
    fn a_follower_is_due_a_heartbeat_and_a_silent_one_is_dead_after_its_window() {
        let cfg = Config::default();
        let mut t = five();
        for p in [B, C, D, E] {
            t.on_send(&[p], 0, 1, false, cfg.heartbeat_interval);
            t.on_reply(&p, 0, 0, 1, 10);
            t.on_ack(&p, 0, 1, 1, 10);
        }
        let due = t.next_due(10, 0, cfg.election_timeout_min, 1, 1);
        assert_eq!(
            due, cfg.heartbeat_interval,
            "the eager followers' heartbeat"
        );
        t.tick(due, 0, 1, 1);
        assert!(t.sends_due(due, 1, false).iter().any(|s| s.peer == B));
        assert!(t.is_live_for_test(&E, cfg.election_timeout_min));
        assert!(!t.is_live_for_test(&E, 10 + cfg.election_timeout_min + cfg.heartbeat_interval));
    }

    #[test]
    fn estimates_outlive_the_tracker_that_made_them() {
        let mut t = five();
        t.on_send(&[B], 0, 1, false, 300_000);
        t.on_reply(&B, 0, 0, 1, 1_000);
        t.record_request(true);
        let rto = t.retransmit_timeout();
        let next = Tracker::new(
            &Config::default(),
            &[B, C, D, E],
            3,
            5,
            9,
            t.into_estimates(),
        );
        assert_eq!(next.retransmit_timeout(), rto);
        assert_eq!(next.round_trip_loss().samples(), 1);
    }

    #[test]
    fn on_a_lossy_network_new_entries_go_through_relayed_pairs() {
        let mut t = five();
        t.settle_loss_for_test(0.15);
        t.refresh_eager_count_for_test();
        assert!(t.relaying());
        assert_eq!(t.eager_count(), 2);
        for p in [B, C, D, E] {
            t.on_send(&[p], 0, 1, true, 300_000);
            t.on_reply(&p, 0, 0, 1, 5);
            t.on_ack(&p, 0, 1, 1, 5);
        }
        // Entry 2 goes to B, relayed to C; the lazy D and E get it later.
        let sends = t.sends_due(10, 2, false);
        let pair = DueAppend {
            peer: B,
            relay_to: Some(C),
            lazy: false,
            optional: false,
        };
        assert_eq!(sends, vec![pair], "{sends:?}");
        // Short of traffic: D and E come last, each a send that may be skipped.
        let sends = t.sends_due(10, 2, true);
        let widened = |peer| DueAppend {
            peer,
            relay_to: None,
            lazy: true,
            optional: true,
        };
        assert_eq!(sends, vec![pair, widened(D), widened(E)], "{sends:?}");
    }
}
