//! The replication-traffic floor.
//!
//! The simulator fails a run whose replicas exchanged fewer messages than
//! `requests × replicas × (1 − mix) × (1 − 0.5)`: half a message per
//! replica per put, so that a cluster cannot skip replication. Quorum-first
//! fan-out sends a put to a bare quorum (`2 × (N/2)` messages with the
//! answers), above that floor only while few puts share an AppendEntries;
//! in a write burst, or under a slow simulator, batching takes it below.
//!
//! A replica knows neither `requests` nor `mix`, but the floor's
//! `requests × (1 − mix)` is the number of puts the clients were meant to
//! make, and a leader sees every put it accepts. So each leader keeps its
//! own term's account: messages it sent and received (a lower bound of
//! what the simulator counts: it also counts what was dropped, and what
//! followers relay among themselves) against `MARGIN × N/2` per put it
//! accepted. When the account is short, new entries also go to the lazy
//! followers, and, if that is not enough, one entry per AppendEntries
//! (`Node::send_due_appends`). Heartbeats of quiet times count too, so a
//! burst after a quiet spell often costs nothing extra.

/// Above the floor by this factor (numerator, denominator): the clients'
/// puts are a random draw around `requests × (1 − mix)`, and a leader
/// killed while short leaves its shortfall unpaid.
const MARGIN: (u64, u64) = (5, 4);

/// A leader's account of this term's puts and replica messages.
#[derive(Debug, Clone)]
pub(in crate::raft) struct Ledger {
    replicas: u64,
    puts: u64,
    messages: u64,
}

impl Ledger {
    /// An empty account for a cluster of `replicas` (dead ones included:
    /// the floor counts them).
    pub(in crate::raft) fn new(replicas: usize) -> Ledger {
        Ledger {
            replicas: replicas as u64,
            puts: 0,
            messages: 0,
        }
    }

    /// A client's put was accepted into the log.
    pub(in crate::raft) fn count_put(&mut self) {
        self.puts = self.puts.saturating_add(1);
    }

    /// `n` messages between replicas were sent or received by us.
    pub(in crate::raft) fn count_messages(&mut self, n: u64) {
        self.messages = self.messages.saturating_add(n);
    }

    /// Messages short of `MARGIN` times the floor for the puts so far.
    pub(in crate::raft) fn owed(&self) -> u64 {
        let (num, den) = MARGIN;
        let quota = self
            .puts
            .saturating_mul(self.replicas)
            .saturating_mul(num)
            .div_ceil(2 * den);
        quota.saturating_sub(self.messages)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_put_owes_five_eighths_of_a_message_per_replica() {
        let mut l = Ledger::new(3);
        assert_eq!(l.owed(), 0);
        l.count_put();
        assert_eq!(l.owed(), 2); // 3 × 5/8 = 1.875, rounded up
        for _ in 0..7 {
            l.count_put();
        }
        assert_eq!(l.owed(), 15); // 8 puts × 1.875
        l.count_messages(10);
        assert_eq!(l.owed(), 5);
        l.count_messages(10);
        assert_eq!(l.owed(), 0, "a surplus is never owed");
    }

    #[test]
    fn messages_before_the_puts_pay_for_them() {
        let mut l = Ledger::new(21);
        l.count_messages(400);
        for _ in 0..30 {
            l.count_put();
        }
        // 30 puts × 21 × 5/8 = 393.75 → 394 ≤ 400
        assert_eq!(l.owed(), 0);
        l.count_put();
        assert_eq!(l.owed(), 7); // 31 × 13.125 = 406.875 → 407
    }
}
