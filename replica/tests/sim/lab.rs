//! The vocabulary of the 6.824/6.5840-style lab tests, on top of a
//! [`Driver`]: find the one leader, find none, agree on a term, submit a
//! command and wait until enough replicas applied it, cut a replica off,
//! crash and restart one, count packets by kind.
//!
//! A lab test drives its world step by step: every event still goes
//! through the scenario runner's checks (Raft safety after every step, one
//! vote per replica per term, no stale reads, packet sizes, the client
//! contract), and the end of a run applies its end checks (the logs
//! against everything ever seen, and the clients' history for
//! linearizability). [`sweep_lab`] runs a test over many seeds the way
//! [`super::seeds::sweep`] does: `SIM_SEEDS=n` for more, `SEED=s` to
//! replay one with a trace of the last events.
//!
//! With log compaction (the 2D and 3B tests), [`Lab::bound_logs`] adds
//! one more check between every two events: every replica's log, in
//! memory and on its disk, holds at most twice `compact_entries` applied
//! entries, and its disk's snapshot covers the rest.
//!
//! The lab's "command" is a put here: its value is unique, so its MID
//! names one entry of the committed log. "Applied by `k` replicas" is
//! the lab's `nCommitted`: living replicas whose applied index reached
//! the entry (the invariants already check that they agree on it).

use std::collections::{BTreeMap, HashMap};
use std::panic::{catch_unwind, AssertUnwindSafe};

use replica::raft::{entry_wire_size, Micros, Role};
use replica::rng::Rng;

use super::clients::{Kind, Outcome};
use super::scenario::{Driver, Report, Scenario};
use super::world::{Fault, Partition};

/// A command submitted with [`Lab::submit`]: the chains of attempts made
/// for it, the last of them sent at `sent`.
#[derive(Debug, Clone)]
pub struct Cmd {
    pub chains: Vec<usize>,
    pub sent: Micros,
    pub target: Option<usize>,
}

pub struct Lab {
    pub d: Driver,
    /// The test's own random choices (which replica to cut off, how long
    /// to wait), apart from the world's.
    pub rng: Rng,
    /// Figures a test reports (largest, sum, count), for the summary.
    pub metrics: BTreeMap<&'static str, (u64, u64, u64)>,
    next_client: usize,
    /// MID -> its index in the committed log, for the prefix scanned.
    positions: HashMap<String, u64>,
    scanned: usize,
    /// [`Lab::bound_logs`] was called: the compaction bounds are checked
    /// between every two events.
    logs_bounded: bool,
    /// The most entries any replica held in memory or on disk meanwhile.
    longest_log: u64,
}

impl Lab {
    pub fn new(sc: &Scenario, seed: u64, trace: bool) -> Lab {
        Lab {
            d: Driver::new(sc, seed, trace),
            rng: Rng::new(seed ^ 0x1AB5_7E57),
            metrics: BTreeMap::new(),
            next_client: 0,
            positions: HashMap::new(),
            scanned: 0,
            logs_bounded: false,
            longest_log: 0,
        }
    }

    pub fn n(&self) -> usize {
        self.d.world().n()
    }

    pub fn now(&self) -> Micros {
        self.d.now()
    }

    /// The minimum election timeout.
    pub fn et(&self) -> Micros {
        self.d.world().cfg.election_timeout_min
    }

    pub fn et_max(&self) -> Micros {
        self.d.world().cfg.election_timeout_max
    }

    /// How long an election may take: the lab polls ten times over about
    /// five of its election timeouts.
    pub fn election_bound(&self) -> Micros {
        5 * self.et_max()
    }

    /// How long one command may take to be applied: the lab's `one` gives
    /// up after ten election timeouts.
    pub fn agreement_bound(&self) -> Micros {
        10 * self.et_max()
    }

    /// Records a figure for the test's summary line.
    pub fn measure(&mut self, name: &'static str, v: u64) {
        let m = self.metrics.entry(name).or_insert((0, 0, 0));
        m.0 = m.0.max(v);
        m.1 += v;
        m.2 += 1;
    }

    pub fn wait(&mut self, d: Micros) -> Result<(), String> {
        let until = self.now() + d;
        self.run_until(until)
    }

    /// Plays every event up to `until` (as [`Driver::run_until`]), with
    /// the compaction bounds checked between events once
    /// [`Lab::bound_logs`] was called.
    pub fn run_until(&mut self, until: Micros) -> Result<(), String> {
        self.run_until_or(until, |_| false).map(|_| ())
    }

    /// [`Driver::run_until_or`], with the compaction bounds checked
    /// between events once [`Lab::bound_logs`] was called.
    pub fn run_until_or(
        &mut self,
        until: Micros,
        mut done: impl FnMut(&Driver) -> bool,
    ) -> Result<bool, String> {
        if !self.logs_bounded {
            return self.d.run_until_or(until, done);
        }
        let (mut broken, mut longest) = (None, self.longest_log);
        let held = self.d.run_until_or(until, |d| match log_bounds(d) {
            Ok(l) => {
                longest = longest.max(l);
                done(d)
            }
            Err(e) => {
                broken = Some(e);
                true
            }
        })?;
        self.longest_log = longest;
        match broken {
            Some(e) => Err(e),
            None => Ok(held),
        }
    }

    /// From now on, between every two events: every living replica's log
    /// holds at most twice `compact_entries` applied entries, plus those it
    /// has not applied (each wake ends with a flush, which compacts once
    /// `compact_entries` piled up, keeping the newest half; a leader may
    /// keep more for followers that lack them, up to twice that, and a
    /// replica restarts with what its disk kept); in a durable world its
    /// disk holds no more, and its disk's snapshot is of an index it
    /// applied, covering all but those it may keep. Either way, in
    /// proportion to `compact_entries`, not to the entries ever appended.
    pub fn bound_logs(&mut self) {
        self.logs_bounded = true;
    }

    /// The compaction threshold.
    pub fn compact_entries(&self) -> u64 {
        self.d.world().cfg.compact_entries as u64
    }

    /// The last index replica `i`'s log compacted into a snapshot (0: none).
    pub fn snapshot_index(&self, i: usize) -> u64 {
        self.d.world().nodes[i]
            .as_ref()
            .map_or(0, |n| n.log().snapshot_index())
    }

    /// Snapshots replica `i` installed from a leader in its current life.
    pub fn snapshots_installed(&self, i: usize) -> u64 {
        self.d.world().nodes[i]
            .as_ref()
            .map_or(0, |n| n.counters().snapshots_installed)
    }

    /// Replica `i`, just restarted, is what its disk held: its log starts
    /// after the disk's log base and ends where the disk's does, and its
    /// store is the disk's snapshot, applied through the snapshot's index
    /// (the invariants then check the store against the committed log).
    pub fn check_recovered(&self, i: usize) -> Result<(), String> {
        let w = self.d.world();
        let (Some(node), Some(disk)) = (w.nodes[i].as_ref(), w.disk(i)) else {
            return Err(format!("replica {i} is not a living durable replica"));
        };
        let snap = disk.snapshot.as_ref();
        let (snap_index, pairs) = snap.map_or((0, 0), |s| (s.index, s.pairs.len()));
        let disk_last = disk.log_base.0 + disk.entries.len() as u64;
        let log = node.log();
        let got = (
            log.snapshot_index(),
            log.last_index(),
            node.applied_index(),
            node.kv().len(),
        );
        let want = (disk.log_base.0, disk_last, snap_index, pairs);
        if got != want {
            return Err(format!(
                "{} restarted with (log base, last index, applied, keys) {got:?}, \
                 its disk holds {want:?}",
                node.id()
            ));
        }
        Ok(())
    }

    /// Replica `i`'s disk image in bytes, as JSON: (its snapshot's pairs
    /// and term runs, its log's entries).
    pub fn image_bytes(&self, i: usize) -> (u64, u64) {
        let Some(disk) = self.d.world().disk(i) else {
            return (0, 0);
        };
        let json = |v: Result<Vec<u8>, _>| v.map_or(0, |b: Vec<u8>| b.len() as u64);
        let snap = disk.snapshot.as_ref().map_or(0, |s| {
            json(serde_json::to_vec(&s.pairs)) + json(serde_json::to_vec(&s.terms))
        });
        let log = disk.entries.iter().map(|e| entry_wire_size(e) as u64).sum();
        (snap, log)
    }

    pub fn alive(&self, i: usize) -> bool {
        self.d.world().is_alive(i)
    }

    /// Alive and able to reach the others: not cut off, not on the
    /// minority side of a partition (the lab's "connected").
    pub fn connected(&self, i: usize) -> bool {
        self.alive(i) && !self.d.world().on_minority_side(i)
    }

    pub fn role(&self, i: usize) -> Option<Role> {
        self.d.world().nodes[i].as_ref().map(|n| n.role())
    }

    pub fn term(&self, i: usize) -> u64 {
        self.d.world().nodes[i].as_ref().map_or(0, |n| n.term())
    }

    pub fn applied(&self, i: usize) -> u64 {
        self.d.world().nodes[i]
            .as_ref()
            .map_or(0, |n| n.applied_index())
    }

    pub fn commit(&self, i: usize) -> u64 {
        self.d.world().nodes[i]
            .as_ref()
            .map_or(0, |n| n.commit_index())
    }

    pub fn last_index(&self, i: usize) -> u64 {
        self.d.world().nodes[i]
            .as_ref()
            .map_or(0, |n| n.log().last_index())
    }

    /// The longest committed prefix any replica has reported.
    pub fn committed_len(&self) -> u64 {
        self.d.invariants().committed.len() as u64
    }

    /// Connected replicas that believe they lead.
    pub fn connected_leaders(&self) -> Vec<usize> {
        (0..self.n())
            .filter(|&i| self.connected(i) && self.role(i) == Some(Role::Leader))
            .collect()
    }

    /// The connected leader of the highest term, if any.
    pub fn leader_now(&self) -> Option<usize> {
        self.connected_leaders()
            .into_iter()
            .max_by_key(|&i| self.term(i))
    }

    /// The lab's `checkOneLeader`: within [`Lab::election_bound`], a
    /// moment when exactly one connected replica leads. Two leaders of one
    /// term are caught by the invariants at any time.
    pub fn check_one_leader(&mut self) -> Result<usize, String> {
        let start = self.now();
        let until = start + self.election_bound();
        let found = self.run_until_or(until, |d| {
            let w = d.world();
            (0..w.n())
                .filter(|&i| !w.on_minority_side(i))
                .filter(|&i| {
                    w.nodes[i]
                        .as_ref()
                        .is_some_and(|n| n.role() == Role::Leader)
                })
                .count()
                == 1
        })?;
        match (found, self.connected_leaders().as_slice()) {
            (true, [one]) => {
                let took = self.now() - start;
                self.measure("wait for one leader µs", took);
                Ok(*one)
            }
            (_, many) => Err(format!(
                "expected one leader among the connected replicas within {}µs, got {many:?}",
                self.election_bound()
            )),
        }
    }

    /// The lab's `checkNoLeader`: no connected replica believes it leads.
    pub fn check_no_leader(&self) -> Result<(), String> {
        match self.connected_leaders().as_slice() {
            [] => Ok(()),
            some => Err(format!(
                "expected no leader among the connected replicas, but {some:?} lead"
            )),
        }
    }

    /// The lab's `checkTerms`: every connected replica is in one term.
    pub fn check_terms(&self) -> Result<u64, String> {
        let terms: Vec<(usize, u64)> = (0..self.n())
            .filter(|&i| self.connected(i))
            .map(|i| (i, self.term(i)))
            .collect();
        let first = terms.first().map_or(0, |t| t.1);
        if terms.iter().any(|t| t.1 != first) {
            return Err(format!("replicas disagree on the term: {terms:?}"));
        }
        Ok(first)
    }

    pub fn disconnect(&mut self, i: usize) -> Result<(), String> {
        self.d.fault(Fault::Disconnect(i))
    }

    pub fn reconnect(&mut self, i: usize) -> Result<(), String> {
        self.d.fault(Fault::Reconnect(i))
    }

    /// Kills replica `i`; its disk stays.
    pub fn crash(&mut self, i: usize) -> Result<(), String> {
        self.d.fault(Fault::Crash(i))?;
        if self.alive(i) {
            return Err(format!("replica {i} could not be crashed"));
        }
        Ok(())
    }

    /// Restarts replica `i` from its disk (the lab's `start1`): a living
    /// one is crashed first.
    pub fn restart(&mut self, i: usize) -> Result<(), String> {
        if self.alive(i) {
            self.crash(i)?;
        }
        self.d.fault(Fault::Restart(i))?;
        if !self.alive(i) {
            return Err(format!("replica {i} did not restart"));
        }
        Ok(())
    }

    /// Splits the replicas in two: `majority` and the rest.
    pub fn partition(&mut self, majority: &[usize]) {
        let mut side = vec![false; self.n()];
        for &i in majority {
            side[i] = true;
        }
        let now = self.now();
        self.d.world_mut().partition = Some(Partition {
            majority: side,
            since: now,
        });
    }

    pub fn heal(&mut self) -> Result<(), String> {
        self.d.fault(Fault::PartEnd)
    }

    /// Packets of these kinds sent between replicas so far.
    pub fn sent(&self, kinds: &[&str]) -> u64 {
        let by = &self.d.world().stats.sent_by_kind;
        kinds.iter().map(|k| by.get(k).copied().unwrap_or(0)).sum()
    }

    /// Every packet sent between replicas so far.
    pub fn sent_all(&self) -> u64 {
        self.d.world().stats.sent
    }

    fn clients(&self) -> usize {
        self.d.scenario().work.clients
    }

    fn key(&mut self) -> String {
        let keys = self.d.clients().keys();
        keys[self.rng.range(0, keys.len() as u64 - 1) as usize].clone()
    }

    /// The lab's `Start`: a put sent now to `target` (by default the
    /// connected leader of the highest term, or any replica when there is
    /// none), answered or not; no retries.
    pub fn submit(&mut self, target: Option<usize>) -> Cmd {
        let target = target.or_else(|| self.leader_now());
        let chain = self.send_put(target);
        Cmd {
            chains: vec![chain],
            sent: self.now(),
            target,
        }
    }

    fn send_put(&mut self, target: Option<usize>) -> usize {
        let c = self.next_client % self.clients();
        self.next_client += 1;
        let key = self.key();
        self.d.request(c, target, Kind::Put, key, false)
    }

    /// Where `mid` sits in the committed log, if it does.
    pub fn position(&mut self, mid: &str) -> Option<u64> {
        let committed = &self.d.invariants().committed;
        for (i, e) in committed.iter().enumerate().skip(self.scanned) {
            if let Some(p) = &e.put {
                self.positions.insert(p.mid.clone(), i as u64 + 1);
            }
        }
        self.scanned = committed.len();
        self.positions.get(mid).copied()
    }

    /// The MIDs of a chain's attempts.
    pub fn mids(&self, chain: usize) -> Vec<String> {
        self.d
            .clients()
            .ops
            .iter()
            .filter(|o| o.chain == chain)
            .map(|o| o.mid.clone())
            .collect()
    }

    /// Where a command landed in the committed log, if it did (an earlier
    /// attempt of it may have landed too: the first is taken).
    pub fn cmd_position(&mut self, cmd: &Cmd) -> Option<u64> {
        let mids: Vec<String> = cmd.chains.iter().flat_map(|&c| self.mids(c)).collect();
        mids.iter().filter_map(|m| self.position(m)).min()
    }

    /// Where an uncommitted command sits in replica `i`'s log, if it does.
    pub fn cmd_in_log(&self, i: usize, cmd: &Cmd) -> Option<u64> {
        let node = self.d.world().nodes[i].as_ref()?;
        let mids: Vec<String> = cmd.chains.iter().flat_map(|&c| self.mids(c)).collect();
        let log = node.log();
        (1..=log.last_index()).find(|&x| {
            log.get(x)
                .and_then(|e| e.put.as_ref())
                .is_some_and(|p| mids.contains(&p.mid))
        })
    }

    /// The lab's `nCommitted`: living replicas that applied index `index`.
    pub fn n_committed(&self, index: u64) -> usize {
        (0..self.n()).filter(|&i| self.applied(i) >= index).count()
    }

    /// The outcome of a chain's last attempt.
    fn last_outcome(&self, chain: usize) -> Option<Outcome> {
        self.d
            .clients()
            .ops
            .iter()
            .rev()
            .find(|o| o.chain == chain)
            .map(|o| o.outcome.clone())
    }

    /// The lab's `one`, for several commands at once: each is submitted
    /// to the current leader and re-submitted while it has not been
    /// applied (its attempt was refused, two election timeouts passed, or
    /// it was sent while no leader was known and one is now),
    /// until `expected` replicas applied it; fails after
    /// [`Lab::agreement_bound`]. Returns the commands' log indices.
    pub fn agree(&mut self, count: usize, expected: usize) -> Result<Vec<u64>, String> {
        let cmds: Vec<Cmd> = (0..count).map(|_| self.submit(None)).collect();
        self.await_cmds(cmds, expected)
    }

    pub fn one(&mut self, expected: usize) -> Result<u64, String> {
        Ok(self.agree(1, expected)?[0])
    }

    /// Waits for commands already submitted, re-submitting them as
    /// [`Lab::agree`] does.
    pub fn await_cmds(&mut self, mut cmds: Vec<Cmd>, expected: usize) -> Result<Vec<u64>, String> {
        let start = self.now();
        let until = start + self.agreement_bound();
        let slice = (self.et() / 20).max(1);
        let mut done: Vec<Option<u64>> = vec![None; cmds.len()];
        loop {
            for (k, cmd) in cmds.iter_mut().enumerate() {
                if done[k].is_some() {
                    continue;
                }
                if let Some(p) = self.cmd_position(cmd) {
                    if self.n_committed(p) >= expected {
                        done[k] = Some(p);
                        continue;
                    }
                }
                let last = *cmd.chains.last().expect("one attempt at least");
                let refused = matches!(
                    self.last_outcome(last),
                    Some(Outcome::Redirect { .. } | Outcome::Fail { .. })
                );
                let stale = self.now() >= cmd.sent + 2 * self.et_max();
                // Sent while no leader was known: sent again once one is.
                let blind = cmd.target.is_none() && self.leader_now().is_some();
                if (refused || stale || blind) && self.cmd_position(cmd).is_none() {
                    let target = self.leader_now();
                    let chain = self.send_put(target);
                    cmd.chains.push(chain);
                    cmd.sent = self.now();
                    cmd.target = target;
                }
            }
            if done.iter().all(Option::is_some) {
                self.measure("agreement µs", self.now() - start);
                return Ok(done.into_iter().flatten().collect());
            }
            if self.now() >= until {
                let missing = done.iter().filter(|d| d.is_none()).count();
                return Err(format!(
                    "{missing} of {} commands not applied by {expected} replicas within {}µs",
                    cmds.len(),
                    self.agreement_bound()
                ));
            }
            self.wait(slice)?;
        }
    }

    /// Every entry of the committed log is held, identically, by at least
    /// a quorum of the living replicas' logs: with every replica up, what
    /// Raft's persistence promises after any crash. (An index a log
    /// covers but cannot show was compacted into a snapshot, which holds
    /// only committed entries.)
    pub fn committed_survives(&self) -> Result<(), String> {
        let w = self.d.world();
        let committed = &self.d.invariants().committed;
        for (k, entry) in committed.iter().enumerate() {
            let i = k as u64 + 1;
            let holders = w
                .nodes
                .iter()
                .flatten()
                .filter(|n| match n.log().get(i) {
                    Some(e) => e == entry,
                    None => n.log().last_index() >= i,
                })
                .count();
            if holders < w.quorum() {
                return Err(format!(
                    "committed entry {i} ({entry:?}) is held by only {holders} living replicas"
                ));
            }
        }
        Ok(())
    }

    /// All living replicas hold the same log and applied all of it.
    pub fn logs_converged(&self) -> Result<(), String> {
        let w = self.d.world();
        let nodes: Vec<_> = w.nodes.iter().flatten().collect();
        let Some(first) = nodes.first() else {
            return Ok(());
        };
        for n in &nodes {
            let (a, b) = (first.log(), n.log());
            // (Indices either log compacted away are not compared.)
            let same = a.last_index() == b.last_index()
                && (1..=a.last_index()).all(|x| match (a.get(x), b.get(x)) {
                    (Some(p), Some(q)) => p == q,
                    _ => true,
                });
            if !same || n.applied_index() != b.last_index() {
                return Err(format!(
                    "logs differ: {} holds {} entries and applied {}, {} holds {} and applied {}",
                    first.id(),
                    a.last_index(),
                    first.applied_index(),
                    n.id(),
                    b.last_index(),
                    n.applied_index()
                ));
            }
        }
        Ok(())
    }

    /// Of the chains first sent in `from..until`: (how many ended `ok`,
    /// how many).
    pub fn ok_ratio(&self, from: Micros, until: Micros) -> (usize, usize) {
        let ops = &self.d.clients().ops;
        let mut first: BTreeMap<usize, (Micros, bool)> = BTreeMap::new();
        for op in ops {
            let e = first.entry(op.chain).or_insert((op.invoked, false));
            e.0 = e.0.min(op.invoked);
            e.1 |= op.ok_at().is_some();
        }
        let counted: Vec<bool> = first
            .values()
            .filter(|(at, _)| (from..until).contains(at))
            .map(|&(_, ok)| ok)
            .collect();
        (counted.iter().filter(|&&o| o).count(), counted.len())
    }
}

/// The bounds of [`Lab::bound_logs`], now; the most entries a replica
/// holds in memory or on disk.
fn log_bounds(d: &Driver) -> Result<u64, String> {
    let w = d.world();
    let ce = w.cfg.compact_entries as u64;
    let mut longest = 0;
    for (i, node) in w.nodes.iter().enumerate() {
        let Some(node) = node else {
            continue;
        };
        let (log, applied) = (node.log(), node.applied_index());
        let unapplied = log.last_index().saturating_sub(applied);
        let kept = 2 * ce;
        let bound = kept + unapplied;
        let held = log.len() as u64;
        let disk = w.disk(i);
        let on_disk = disk.map_or(0, |k| k.entries.len() as u64);
        if held > bound || on_disk > bound {
            return Err(format!(
                "{} holds {held} log entries in memory and {on_disk} on disk, with {unapplied} \
                 not applied (compact_entries {ce}: at most {bound})",
                node.id()
            ));
        }
        longest = longest.max(held).max(on_disk);
        let Some(disk) = disk else {
            continue;
        };
        let snap = disk.snapshot.as_ref().map_or(0, |s| s.index);
        if snap > applied || applied.saturating_sub(snap) > kept || disk.log_base.0 > snap {
            return Err(format!(
                "{} applied {applied}, but its disk holds a snapshot of index {snap} and a log \
                 from {} (compact_entries {ce}: at most {kept} applied entries kept)",
                node.id(),
                disk.log_base.0 + 1
            ));
        }
    }
    Ok(longest)
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// Runs a lab test over its seeds, like [`super::seeds::sweep`]: `make`
/// builds the scenario (the world's size, timing, network, clients) from
/// the seed, `drive` plays the test's script on it; then the run's end
/// checks apply. Panics listing every failing seed, with the first
/// failure and the command that replays it.
pub fn sweep_lab(
    test: &str,
    default_seeds: u64,
    make: impl Fn(&mut Rng) -> Scenario,
    drive: impl Fn(&mut Lab) -> Result<(), String>,
) {
    let replay = env_u64("SEED");
    let seeds: Vec<u64> = match replay {
        Some(s) => vec![s],
        None => (1..=env_u64("SIM_SEEDS").unwrap_or(default_seeds)).collect(),
    };
    let mut total = Report::default();
    let mut metrics: BTreeMap<&'static str, (u64, u64, u64)> = BTreeMap::new();
    let mut failures = Vec::new();
    for &seed in &seeds {
        let sc = make(&mut Rng::new(seed ^ 0x5CE7_A210));
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut lab = Lab::new(&sc, seed, replay.is_some());
            let outcome = drive(&mut lab).and_then(|()| lab.d.finish());
            if lab.logs_bounded {
                let longest = lab.longest_log;
                lab.measure("longest log held", longest);
            }
            for (k, v) in &lab.metrics {
                let m = metrics.entry(k).or_insert((0, 0, 0));
                m.0 = m.0.max(v.0);
                m.1 += v.1;
                m.2 += v.2;
            }
            outcome.map_err(|e| lab.d.explain(e))
        }))
        .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&*p))));
        match result {
            Ok(r) => total.add(&r),
            Err(e) => failures.push((seed, e)),
        }
    }
    let figures: Vec<String> = metrics
        .iter()
        .map(|(k, (max, sum, n))| format!("{k} max {max} mean {}", sum / (*n).max(1)))
        .collect();
    eprintln!(
        "{test}: {} seeds, {} failed; {} steps, {} requests ({} puts and {} gets ok), \
         {} leader terms, {}/{} replica packets cut or dropped, {} kills, {} restarts; {}",
        seeds.len(),
        failures.len(),
        total.steps,
        total.requests,
        total.ok_puts,
        total.ok_gets,
        total.leader_terms,
        total.dropped,
        total.sent,
        total.kills,
        total.restarts,
        figures.join(", "),
    );
    if let Some((seed, first)) = failures.first() {
        let all: Vec<String> = failures.iter().map(|(s, _)| s.to_string()).collect();
        panic!(
            "{test}: {} of {} seeds failed: {}\n\nseed {seed}: {first}\n\
             replay: SEED={seed} cargo test -p replica --test {} -- --exact {test}\n",
            failures.len(),
            seeds.len(),
            all.join(" "),
            env!("CARGO_CRATE_NAME"),
        );
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic)".into()
    }
}
