//! A campaign for leadership: the pre-vote round, then the vote (see
//! `election.rs`). A replica has one exactly while it is a pre-candidate
//! or candidate.

use std::collections::BTreeSet;

use shared::Addr;

use super::Micros;

#[derive(Debug, Clone)]
pub(super) struct Campaign {
    /// Who granted us their (pre-)vote in this round, ourselves included.
    pub votes: BTreeSet<Addr>,
    /// Peers that answered this round, either way.
    pub answered: BTreeSet<Addr>,
    /// Peers that did not answer our previous campaign, when this one
    /// follows it without a leader in between, and that we have not heard
    /// from since: cut off or dead, most likely, so they get this
    /// campaign's first request but no resends.
    pub silent: BTreeSet<Addr>,
    /// When unanswered vote requests go out again, and the wait after that.
    pub resend_at: Micros,
    pub backoff: Micros,
}

impl Campaign {
    /// A campaign by `me`, with resends starting after `backoff`.
    pub(super) fn new(me: Addr, silent: BTreeSet<Addr>, backoff: Micros) -> Campaign {
        Campaign {
            votes: BTreeSet::from([me]),
            answered: BTreeSet::new(),
            silent,
            resend_at: 0,
            backoff,
        }
    }

    /// The pre-vote round won: the vote round starts afresh, and the
    /// peers silent before stay so.
    pub(super) fn next_round(&mut self, me: Addr, backoff: Micros) {
        self.votes = BTreeSet::from([me]);
        self.answered.clear();
        self.backoff = backoff;
    }

    /// A message came from `peer`: it is reachable again (a partition
    /// healed, or only its answers were lost), so it gets resends.
    pub(super) fn heard_from(&mut self, peer: Addr) {
        self.silent.remove(&peer);
    }

    /// The peers among `peers` that did not answer this campaign.
    pub(super) fn unanswered(&self, peers: &[Addr]) -> BTreeSet<Addr> {
        peers
            .iter()
            .copied()
            .filter(|p| !self.answered.contains(p))
            .collect()
    }
}
