//! Inherited puts: a put appended by an earlier term's leader (its owner)
//! that we commit as leader. The owner answers a put it owes whenever it
//! applies it, as leader or follower; a new leader learns that it did only
//! from the owner itself (the commit index in its AppendReply), and never
//! from a dead one. Answered twice, the put costs a duplicate; never
//! answered, the client's next get on its key shows a value it was never
//! told of, which the simulator counts as incorrect.
//!
//! We answer such a put only when the client's next get on its key comes,
//! and only if its owner will not:
//!
//! ```text
//!   get on (client, key) of an inherited put
//!     owner alive and answering us ─> the get waits (OWNER_WAIT_INTERVALS) for
//!                                     the owner's reply saying it applied
//!                                     the put: it answered first, we never do
//!     owner dead, cut off or slow  ─> PutTiming: answer the put first if the
//!                                     owner more likely died before
//!                                     committing it than after (taking
//!                                     its commit at least as long as we
//!                                     saw the put pending, as its
//!                                     follower)
//! ```

//!
//! This file keeps what a replica remembers for that in every role (the
//! state, `Inheritance`); the leader's handling is in `inheriting.rs`.

use std::collections::BTreeMap;

use shared::Addr;

use super::Micros;

/// Inherited puts remembered; beyond this, one is forgotten for each new
/// one (the first by client and key).
const MAX_UNCONFIRMED: usize = 4096;

/// Who led each term is remembered for this many terms.
const MAX_TERM_LEADERS: usize = 64;

/// Arrival times of uncommitted puts kept as a follower; beyond this, the
/// oldest is forgotten.
const MAX_ARRIVALS: usize = 4096;

/// A put we committed as leader but that an earlier term's leader appended.
#[derive(Debug, Clone)]
struct Inherited {
    mid: String,
    index: u64,
    /// The leader of the put's term, when we know who that was.
    owner: Option<Addr>,
    /// Once a get waits for the owner: when it stops waiting.
    wait_until: Option<Micros>,
    /// How long, at least, the owner took to commit it: we kept hearing
    /// from it this long after the put reached us, and it never said the
    /// put was committed.
    pending: Micros,
}

/// How long our puts take to commit as leader and how far apart puts are
/// appended (by us, or by the leader we follow), as running averages
/// (microseconds), to judge whether a dead owner more likely answered a
/// put it appended or died before it committed.
#[derive(Debug, Default, Clone)]
pub(super) struct PutTiming {
    commit_us: Option<f64>,
    gap_us: Option<f64>,
    last_put: Option<Micros>,
}

/// Weight of each new sample in the running averages.
const TIMING_WEIGHT: f64 = 0.1;

/// A get shown a value its client was never told of fails the run; a
/// second `ok` costs one duplicate. The former is counted this many times
/// as bad.
const INCORRECT_COST: f64 = 10.0;

impl PutTiming {
    /// `count` puts were appended since the last ones: by us as leader,
    /// or, as a follower, by the leader whose puts we may inherit.
    pub(super) fn record_puts(&mut self, now: Micros, count: u64) {
        if count == 0 {
            return;
        }
        if let Some(last) = self.last_put {
            average(
                &mut self.gap_us,
                now.saturating_sub(last) as f64 / count as f64,
            );
        }
        self.last_put = Some(now);
    }

    /// One of our puts committed `latency` after we appended it as leader.
    pub(super) fn record_commit(&mut self, latency: Micros) {
        average(&mut self.commit_us, latency as f64);
    }

    /// Whether to answer an inherited put whose answer may be missing,
    /// which its owner took at least `pending` to commit. An owner that
    /// died a random moment after appending its last put died before
    /// committing it with a chance of about commit / gap (and answered it,
    /// its commit index not yet sent on, otherwise): answer when the
    /// expected cost of silence exceeds that of a duplicate. The gap was
    /// largely the owner's, seen as its follower; our commit latency
    /// stands in for its, unless this put is known to have taken longer.
    /// Without both, answer.
    pub(super) fn answer_inherited(&self, pending: Micros) -> bool {
        match (self.commit_us, self.gap_us) {
            (Some(commit), Some(gap)) => {
                let commit = commit.max(pending as f64);
                let died_first = (commit / gap.max(1.0)).min(1.0);
                died_first * INCORRECT_COST >= 1.0 - died_first
            }
            _ => true,
        }
    }
}

fn average(avg: &mut Option<f64>, sample: f64) {
    *avg = Some(match *avg {
        Some(a) => a + (sample - a) * TIMING_WEIGHT,
        None => sample,
    });
}

/// What to do before answering a get on the key of an inherited put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum BeforeGet {
    /// Nothing: no inherited put of the client's on that key is unsettled.
    Nothing,
    /// Answer the inherited put with this MID first.
    AnswerPut { mid: String },
    /// Leave the put unanswered: its dead owner most likely answered it.
    LeaveToOwner,
    /// Hold the get until the put's owner says it answered it, or until
    /// `until`.
    WaitFor { owner: Addr, until: Micros },
}

/// Inherited puts and what judging them needs. Kept across terms: a put
/// we committed as leader stays ours to answer if we lead again, since the
/// leaders in between applied it as followers and never took it for
/// inherited.
#[derive(Debug, Default)]
pub(super) struct Inheritance {
    /// Inherited puts whose answer may never have been sent, by (client,
    /// key).
    unconfirmed: BTreeMap<(Addr, String), Inherited>,
    /// Who led recent terms, to know the owner of an inherited put.
    term_leaders: BTreeMap<u64, Addr>,
    pub timing: PutTiming,
    /// As a follower: when each put entry not yet known committed reached
    /// us, by index, and when we last heard from a leader.
    arrivals: BTreeMap<u64, Micros>,
    last_heard: Micros,
}

impl Inheritance {
    /// `leader` leads `term` (we heard from it, or won it ourselves).
    pub(super) fn record_term_leader(&mut self, term: u64, leader: Addr) {
        if self.term_leaders.insert(term, leader).is_none()
            && self.term_leaders.len() > MAX_TERM_LEADERS
        {
            self.term_leaders.pop_first();
        }
    }

    /// As a follower at `now`: the leader's AppendEntries brought put
    /// entries at `indexes` (maybe none), and says entries up to `commit`
    /// are committed.
    pub(super) fn heard_from_leader(
        &mut self,
        now: Micros,
        indexes: impl Iterator<Item = u64>,
        commit: u64,
    ) {
        self.last_heard = now;
        for index in indexes {
            if self.arrivals.len() >= MAX_ARRIVALS {
                self.arrivals.pop_first();
            }
            self.arrivals.insert(index, now);
        }
        // Every AppendEntries passes here: cut the committed prefix off
        // rather than visit every entry.
        self.arrivals = self.arrivals.split_off(&commit.saturating_add(1));
    }

    /// How long we kept hearing from a leader after the put at `index`
    /// reached us, none of it saying the put was committed.
    pub(super) fn pending_for(&self, index: u64) -> Micros {
        self.arrivals
            .get(&index)
            .map_or(0, |&t| self.last_heard.saturating_sub(t))
    }

    /// Who led `term`, if we know.
    pub(super) fn leader_of(&self, term: u64) -> Option<Addr> {
        self.term_leaders.get(&term).copied()
    }

    /// We committed `client`'s put `mid` on `key` at `index` as leader;
    /// `owner` (not us) appended it and may never have answered it.
    pub(super) fn remember(
        &mut self,
        client: Addr,
        key: String,
        mid: String,
        index: u64,
        owner: Option<Addr>,
    ) {
        if self.unconfirmed.len() >= MAX_UNCONFIRMED {
            self.unconfirmed.pop_first();
        }
        let inherited = Inherited {
            mid,
            index,
            owner,
            wait_until: None,
            pending: self.pending_for(index),
        };
        self.unconfirmed.insert((client, key), inherited);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.unconfirmed.is_empty()
    }

    /// An inherited put of `client`'s on `key` is still unsettled.
    pub(super) fn is_unsettled(&self, client: Addr, key: &str) -> bool {
        self.unconfirmed.contains_key(&(client, key.to_string()))
    }

    /// The client now holds a newer put's value on `key`: its older,
    /// inherited put there needs no answer before its gets.
    pub(super) fn settle(&mut self, client: Addr, key: &str) {
        self.unconfirmed.remove(&(client, key.to_string()));
    }

    /// `owner` told us its commit index `commit`: the inherited puts it
    /// appended up to there are answered (it answers a put it owes when it
    /// applies it, and did so before telling us). Returns whether any was.
    pub(super) fn owner_applied(&mut self, owner: Addr, commit: u64) -> bool {
        let before = self.unconfirmed.len();
        self.unconfirmed
            .retain(|_, u| !(u.owner == Some(owner) && u.index <= commit));
        self.unconfirmed.len() < before
    }

    /// What to do before answering `client`'s get on `key` at `now`. A get
    /// waits up to `wait` for a live owner (`owner_may_answer`), the same
    /// deadline for every get on that put; then, or with a dead owner, the
    /// put's timings decide.
    pub(super) fn before_get(
        &mut self,
        now: Micros,
        client: Addr,
        key: &str,
        wait: Micros,
        owner_may_answer: impl Fn(Addr) -> bool,
    ) -> BeforeGet {
        if self.unconfirmed.is_empty() {
            return BeforeGet::Nothing;
        }
        let k = (client, key.to_string());
        let Some(put) = self.unconfirmed.get_mut(&k) else {
            return BeforeGet::Nothing;
        };
        if let Some(owner) = put.owner {
            let until = *put.wait_until.get_or_insert(now + wait);
            if owner_may_answer(owner) && now < until {
                return BeforeGet::WaitFor { owner, until };
            }
        }
        let put = self.unconfirmed.remove(&k).expect("found above");
        if self.timing.answer_inherited(put.pending) {
            BeforeGet::AnswerPut { mid: put.mid }
        } else {
            BeforeGet::LeaveToOwner
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inherited_puts_are_answered_when_an_owner_likely_died_before_committing() {
        let mut t = PutTiming::default();
        assert!(t.answer_inherited(0), "nothing measured yet: answer");
        // Puts 100 ms apart that commit in 0.5 ms: an owner dead after its
        // last put had almost surely committed and answered it.
        for i in 0..20 {
            t.record_puts(i * 100_000, 1);
            t.record_commit(500);
        }
        assert!(!t.answer_inherited(0));
        // Commits slowed to 30 ms by retransmissions: it may well not have.
        for _ in 0..40 {
            t.record_commit(30_000);
        }
        assert!(t.answer_inherited(0));
    }

    #[test]
    fn a_get_waits_for_a_live_owner_until_one_deadline_then_answers_the_put() {
        const K: Addr = Addr(0x13);
        let owner = Addr(1);
        let mut inh = Inheritance::default();
        inh.remember(K, "k".into(), "M1".into(), 2, Some(owner));
        assert_eq!(
            inh.before_get(10, K, "other", 100, |_| true),
            BeforeGet::Nothing
        );
        let wait = BeforeGet::WaitFor { owner, until: 110 };
        assert_eq!(inh.before_get(10, K, "k", 100, |_| true), wait);
        // A later get waits for the same deadline, not a new one.
        assert_eq!(inh.before_get(50, K, "k", 100, |_| true), wait);
        let put = BeforeGet::AnswerPut { mid: "M1".into() };
        assert_eq!(inh.before_get(110, K, "k", 100, |_| true), put);
        assert!(!inh.is_unsettled(K, "k"));
    }

    #[test]
    fn an_owner_that_applied_the_put_settles_it() {
        const K: Addr = Addr(0x13);
        let mut inh = Inheritance::default();
        inh.remember(K, "k".into(), "M1".into(), 5, Some(Addr(1)));
        assert!(!inh.owner_applied(Addr(2), 9), "not its owner");
        assert!(!inh.owner_applied(Addr(1), 4), "not that far yet");
        assert!(inh.owner_applied(Addr(1), 5));
        assert!(inh.is_empty());
    }
}
