//! Gets the leader cannot answer yet: those waiting for its no-op to
//! commit or for a quorum to confirm its leadership (read-index, thesis
//! §6.4), and those waiting for the owner of an inherited put on their key
//! to say it answered the put (see `inherited.rs`).

use std::collections::VecDeque;

use shared::Addr;

use crate::raft::clients::REQUEST_OVERHEAD;
use crate::raft::{Config, Micros};

/// A get as the leader holds it.
#[derive(Debug, Clone)]
pub(in crate::raft) struct PendingRead {
    pub client: Addr,
    pub mid: String,
    pub key: String,
    pub arrived: Micros,
}

/// A get held until the owner of an inherited put on its key says it has
/// applied it, or gives up waiting.
#[derive(Debug, Clone)]
struct OwnerWait {
    read: PendingRead,
    owner: Addr,
    until: Micros,
    /// When the owner is next sent our commit index.
    nudge_at: Micros,
}

impl PendingRead {
    /// Bytes it holds, as counted against the byte budget.
    fn bytes(&self) -> usize {
        REQUEST_OVERHEAD + self.mid.len() + self.key.len()
    }
}

/// The gets a leader holds: at most `max` pending ones, and `max_bytes`
/// bytes of pending and waiting ones together.
#[derive(Debug)]
pub(in crate::raft) struct Reads {
    /// In arrival order, but for those back from an owner wait.
    pending: VecDeque<PendingRead>,
    owner_waits: Vec<OwnerWait>,
    bytes: usize,
    max: usize,
    max_bytes: usize,
}

impl Reads {
    pub(in crate::raft) fn new(cfg: &Config) -> Reads {
        Reads {
            pending: VecDeque::new(),
            owner_waits: Vec::new(),
            bytes: 0,
            max: cfg.max_queued_requests,
            max_bytes: cfg.max_queued_bytes,
        }
    }

    pub(in crate::raft) fn len(&self) -> usize {
        self.pending.len() + self.owner_waits.len()
    }

    /// Room for `read` within the byte budget.
    fn fits(&self, read: &PendingRead) -> bool {
        self.bytes + read.bytes() <= self.max_bytes
    }

    /// Queues `read`, or hands it back when the reads are full.
    pub(in crate::raft) fn push(&mut self, read: PendingRead) -> Result<(), PendingRead> {
        if self.pending.len() >= self.max || !self.fits(&read) {
            return Err(read);
        }
        self.bytes += read.bytes();
        self.pending.push_back(read);
        Ok(())
    }

    /// The next read, if the quorum's last confirmation at `confirmed`
    /// came after it arrived or the lease holds.
    pub(in crate::raft) fn pop_servable(
        &mut self,
        lease: bool,
        confirmed: Micros,
    ) -> Option<PendingRead> {
        let r = self.pending.front()?;
        if !lease && r.arrived > confirmed {
            return None;
        }
        let r = self.pending.pop_front()?;
        self.bytes -= r.bytes();
        Some(r)
    }

    /// Holds `read` until `owner` says it applied the inherited put on its
    /// key, or until `until`; the owner is nudged again at `nudge_at`. Hands
    /// it back when the reads are full.
    pub(in crate::raft) fn wait_for_owner(
        &mut self,
        read: PendingRead,
        owner: Addr,
        until: Micros,
        nudge_at: Micros,
    ) -> Result<(), PendingRead> {
        if !self.fits(&read) {
            return Err(read);
        }
        self.bytes += read.bytes();
        self.owner_waits.push(OwnerWait {
            read,
            owner,
            until,
            nudge_at,
        });
        Ok(())
    }

    pub(in crate::raft) fn has_owner_waits(&self) -> bool {
        !self.owner_waits.is_empty()
    }

    /// Some get has waited for its owner as long as it may.
    pub(in crate::raft) fn owner_wait_over(&self, now: Micros) -> bool {
        self.owner_waits.iter().any(|w| now >= w.until)
    }

    /// The owners due a nudge at `now` (the next one comes `interval`
    /// later), one entry per waiting get.
    pub(in crate::raft) fn owners_to_nudge(&mut self, now: Micros, interval: Micros) -> Vec<Addr> {
        let mut owners = Vec::new();
        for w in self.owner_waits.iter_mut().filter(|w| now >= w.nudge_at) {
            w.nudge_at = now + interval;
            owners.push(w.owner);
        }
        owners
    }

    /// When a get waiting for an owner next needs a tick.
    pub(in crate::raft) fn owner_wait_deadline(&self) -> Option<Micros> {
        self.owner_waits
            .iter()
            .map(|w| w.until.min(w.nudge_at))
            .min()
    }

    /// The gets whose wait is over (`still_waits` says no, or the wait
    /// ended) go back to the front of the reads, in order, to be served
    /// again.
    pub(in crate::raft) fn end_owner_waits(
        &mut self,
        now: Micros,
        still_waits: impl Fn(&PendingRead) -> bool,
    ) {
        let (ready, waiting): (Vec<OwnerWait>, Vec<OwnerWait>) =
            std::mem::take(&mut self.owner_waits)
                .into_iter()
                .partition(|w| now >= w.until || !still_waits(&w.read));
        self.owner_waits = waiting;
        for w in ready.into_iter().rev() {
            self.pending.push_front(w.read);
        }
    }

    /// Every read, for a leader stepping down: those that waited for an
    /// owner first, then the pending ones.
    pub(in crate::raft) fn into_all(self) -> Vec<PendingRead> {
        let mut reads: Vec<PendingRead> = self.owner_waits.into_iter().map(|w| w.read).collect();
        reads.extend(self.pending);
        reads
    }
}
