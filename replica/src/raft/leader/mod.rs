//! What only a leader has: its view of the followers and the network
//! (`tracker.rs`, with the fan-out policy in `fanout.rs`), the gets it
//! holds (`reads.rs`) and its account of the replication-traffic floor
//! (`ledger.rs`). A replica has a `Leader` exactly while it leads:
//! stepping down drops it (see `Node::become_follower`).

pub(super) mod fanout;
pub(super) mod ledger;
pub(super) mod reads;
pub(super) mod tracker;

use ledger::Ledger;
use reads::Reads;
use tracker::Tracker;

use super::Micros;

#[derive(Debug)]
pub(super) struct Leader {
    pub tracker: Tracker,
    pub reads: Reads,
    pub ledger: Ledger,
    /// When we won the election: check-quorum counts from here until a
    /// quorum confirms us.
    pub since: Micros,
    /// Index of this leader's no-op: reads wait until it is applied.
    pub term_start: u64,
    /// The snapshot being sent to followers that need it, if any.
    pub snapshot: Option<super::snapshot::Outbound>,
}

impl Leader {
    /// The newest time a quorum is known to have accepted us, or when we
    /// won if none has yet.
    pub(super) fn confirmed_since(&self) -> Micros {
        self.tracker.quorum_contact().max(self.since)
    }
}
