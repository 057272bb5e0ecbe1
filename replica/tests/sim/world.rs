//! The simulated world: a clock, one event queue, the replicas, and a
//! network that delays, reorders, drops and partitions replica traffic.
//!
//! Like the course simulator, client traffic is never dropped and ignores
//! partitions. A killed replica comes back only in a durable world (the
//! 6.824-style labs' crash and restart): it restarts from exactly what its
//! core asked to persist, as a real disk would hold it. Replicas are driven
//! the way the shell (`io/shell.rs`) drives the core: a replica wakes when
//! packets arrive (a little later, so that packets arriving close together
//! are handled as one burst) or when its deadline comes; it handles every
//! packet waiting, then a tick, then flushes, and each packet it sends is
//! stamped with `leader = node.leader_hint()` at that moment.

use std::collections::BTreeMap;

use replica::raft::{Config, Input, Micros, Node, Persist, Recovered, Role};
use replica::rng::Rng;
use shared::{Addr, Body, Message};

/// Per-packet delay range and drop probability for replica-to-replica
/// traffic. A few packets may be slow: up to `slow_max` late, so that old
/// packets turn up long after newer ones.
#[derive(Debug, Clone)]
pub struct Net {
    pub min_delay: Micros,
    pub max_delay: Micros,
    pub drops: f64,
    pub slow_chance: f64,
    pub slow_max: Micros,
}

/// The course simulator's events, plus a change of drop rate.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    KillLeader,
    KillNonLeader,
    /// The majority side holds the known leader.
    PartEasy,
    /// A random majority side; the leader may end up alone.
    PartHard,
    PartEnd,
    SetDrops(f64),
    /// Kill this replica (any role).
    Crash(usize),
    /// Kill this replica at its next wake that persists, between sending
    /// the packets that promise nothing and writing the batch (the
    /// shell's order): the rest of that wake never happened.
    CrashMidFlush(usize),
    /// Restart this replica from its disk, if it is dead.
    Restart(usize),
    /// Restart the replica killed most recently that is still dead.
    RestartLatest,
    /// Restart every dead replica.
    RestartAll,
    /// Cut this replica off from every other replica (the 6.824-style
    /// labs' disconnect); clients still reach it.
    Disconnect(usize),
    Reconnect(usize),
    ReconnectAll,
}

#[derive(Debug)]
pub enum Event {
    /// A packet arrives at its destination (a replica or a client).
    Deliver(Message),
    /// A replica wakes up: its deadline came, or packets are waiting.
    Wake(usize),
    /// A client wakes up to issue its next request.
    ClientWake(usize),
    Fault(Fault),
}

/// What a replica did when it woke.
#[derive(Debug, Default)]
pub struct Woken {
    /// The packets it sent, for [`World::dispatch`].
    pub sent: Vec<Message>,
    /// The client requests it handled: MID, and whether it is a get.
    pub requests: Vec<(String, bool)>,
}

/// The active partition: who is on the majority side, and since when.
#[derive(Debug, Clone)]
pub struct Partition {
    pub majority: Vec<bool>,
    pub since: Micros,
}

/// The key under which [`NetStats::sent_by_kind`] counts AppendEntries
/// answers that refuse (the log did not match).
#[allow(dead_code)] // only the lab tests read it
pub const REJECTED_APPEND: &str = "appended (refused)";

#[derive(Debug, Default, Clone)]
pub struct NetStats {
    pub sent: u64,
    pub dropped: u64,
    pub kills: u64,
    pub restarts: u64,
    /// Persist batches written, and the largest.
    pub persists: u64,
    /// Replica-to-replica packets sent (dropped or not), by `type`; the
    /// AppendEntries answers that refuse are also counted under
    /// [`REJECTED_APPEND`].
    #[allow(dead_code)] // only the lab tests read it
    pub sent_by_kind: BTreeMap<&'static str, u64>,
}

pub struct World {
    pub now: Micros,
    pub cfg: Config,
    pub ids: Vec<Addr>,
    /// `None` once killed.
    pub nodes: Vec<Option<Node>>,
    pub net: Net,
    pub partition: Option<Partition>,
    pub stats: NetStats,
    /// Kills may leave fewer than a quorum alive.
    pub allow_lose_majority: bool,
    /// Replicas persist, and killed ones may restart (`Some` disks).
    disks: Option<Vec<Recovered>>,
    /// Dead replicas, most recently killed last.
    dead: Vec<usize>,
    /// Replicas cut off from every other (`Fault::Disconnect`).
    pub disconnected: Vec<bool>,
    /// Restarted since the last `take_restarted`.
    restarted: Vec<usize>,
    /// Replicas to kill mid-flush at their next wake that persists.
    crash_mid_flush: Vec<bool>,
    /// Each replica's restarts so far.
    lives: Vec<u32>,
    rng: Rng,
    queue: BTreeMap<(Micros, u64), Event>,
    seq: u64,
    /// Packets that reached each replica and wait for it to wake.
    inbox: Vec<Vec<Message>>,
    /// Each replica's one pending wake-up: the time it asked for (its
    /// deadline, or `now` for waiting packets) and the queue key.
    wakes: Vec<Option<(Micros, (Micros, u64))>>,
}

impl World {
    pub fn new(n: usize, cfg: Config, net: Net, seed: u64) -> World {
        let mut rng = Rng::new(seed);
        let ids: Vec<Addr> = (0..n).map(|i| Addr(i as u16)).collect();
        let nodes = ids
            .iter()
            .map(|&id| Some(Node::new(id, ids.clone(), cfg.clone(), rng.next_u64(), 0)))
            .collect();
        let mut world = World {
            now: 0,
            cfg,
            ids,
            nodes,
            net,
            partition: None,
            stats: NetStats::default(),
            allow_lose_majority: false,
            disks: None,
            dead: Vec::new(),
            restarted: Vec::new(),
            crash_mid_flush: vec![false; n],
            disconnected: vec![false; n],
            lives: vec![0; n],
            rng,
            queue: BTreeMap::new(),
            seq: 0,
            inbox: vec![Vec::new(); n],
            wakes: vec![None; n],
        };
        for i in 0..n {
            world.schedule_wake(i);
        }
        world
    }

    /// A world whose replicas persist what their cores ask to and can
    /// restart from it.
    pub fn new_durable(n: usize, cfg: Config, net: Net, seed: u64) -> World {
        let mut world = World::new(n, cfg, net, seed);
        let disks = vec![Recovered::default(); n];
        for (i, disk) in disks.iter().enumerate() {
            let node = world.nodes[i].take().expect("just made");
            let seed = world.rng.next_u64();
            world.nodes[i] = Some(Node::recover(
                node.id(),
                world.ids.clone(),
                world.cfg.clone(),
                seed,
                0,
                disk.clone(),
            ));
        }
        world.disks = Some(disks);
        world
    }

    pub fn n(&self) -> usize {
        self.ids.len()
    }

    pub fn quorum(&self) -> usize {
        self.n() / 2 + 1
    }

    /// The replica index an address names, if it names one.
    pub fn index_of(&self, a: Addr) -> Option<usize> {
        let i = a.0 as usize;
        (i < self.n()).then_some(i)
    }

    pub fn is_alive(&self, i: usize) -> bool {
        self.nodes[i].is_some()
    }

    pub fn alive(&self) -> Vec<usize> {
        (0..self.n()).filter(|&i| self.is_alive(i)).collect()
    }

    pub fn rng(&mut self) -> &mut Rng {
        &mut self.rng
    }

    pub fn schedule(&mut self, at: Micros, ev: Event) -> (Micros, u64) {
        self.seq += 1;
        let key = (at, self.seq);
        self.queue.insert(key, ev);
        key
    }

    /// The next event, advancing the clock to it.
    pub fn pop(&mut self) -> Option<Event> {
        let ((at, _), ev) = self.queue.pop_first()?;
        self.now = self.now.max(at);
        Some(ev)
    }

    pub fn peek_time(&self) -> Option<Micros> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// Can packets pass between replicas `a` and `b` right now?
    pub fn connected(&self, a: usize, b: usize) -> bool {
        if self.disconnected[a] || self.disconnected[b] {
            return false;
        }
        match &self.partition {
            None => true,
            Some(p) => p.majority[a] == p.majority[b],
        }
    }

    /// Is replica `i` cut off: on the minority side of a partition, or
    /// disconnected?
    pub fn on_minority_side(&self, i: usize) -> bool {
        self.disconnected[i] || self.partition.as_ref().is_some_and(|p| !p.majority[i])
    }

    /// A packet reached replica `i`: it waits for the replica to wake.
    pub fn arrive(&mut self, i: usize, msg: Message) {
        if self.is_alive(i) {
            self.inbox[i].push(msg);
            self.schedule_wake(i);
        }
    }

    /// Replica `i` wakes: it handles every waiting packet and a tick, and
    /// `check` sees it after each. Returns the packets it sent, stamped with
    /// its address and leader belief, for [`World::dispatch`], and the
    /// client requests it handled (MID, and whether it is a get).
    pub fn wake(
        &mut self,
        i: usize,
        check: &mut dyn FnMut(&Node) -> Result<(), String>,
    ) -> Result<Woken, String> {
        let now = self.now;
        self.wakes[i] = None;
        let inbox = std::mem::take(&mut self.inbox[i]);
        let Some(node) = self.nodes[i].as_mut() else {
            return Ok(Woken::default());
        };
        let mut requests = Vec::new();
        for msg in inbox {
            match &msg.body {
                Body::Get { mid, .. } => requests.push((mid.clone(), true)),
                Body::Put { mid, .. } => requests.push((mid.clone(), false)),
                _ => {}
            }
            node.handle(now, Input::Message(msg));
            check(node)?;
        }
        node.handle(now, Input::Tick);
        check(node)?;
        // As the shell does: the packets that promise nothing go, the
        // batch is written, the rest go, and the core hears it is durable.
        let mut out = Vec::new();
        let mut crashed = false;
        loop {
            let flushed = node.flush(now);
            let Some(batch) = node.take_persist() else {
                out.extend(flushed);
                break;
            };
            if self.crash_mid_flush[i] {
                out.extend(flushed.into_iter().filter(|o| !o.promises()));
                crashed = true;
                break;
            }
            out.extend(flushed);
            let disks = self.disks.as_mut().ok_or("a memory-only core persisted")?;
            write_batch(&mut disks[i], &batch)?;
            self.stats.persists += 1;
            node.handle(now, batch.done());
            check(node)?;
        }
        // The shell passes these to telemetry; here they only must not pile up.
        node.take_events();
        let (src, leader) = (node.id(), node.leader_hint());
        let msgs = out
            .into_iter()
            .map(|o| Message {
                src,
                dst: o.to,
                leader,
                body: o.body,
            })
            .collect();
        if crashed {
            self.crash_mid_flush[i] = false;
            self.kill(i);
        } else {
            self.schedule_wake(i);
        }
        Ok(Woken {
            sent: msgs,
            requests,
        })
    }

    /// Puts packets on the wire: replica traffic may be dropped or cut by
    /// the partition; client traffic always arrives.
    pub fn dispatch(&mut self, msgs: Vec<Message>) {
        for msg in msgs {
            if msg.dst.is_broadcast() {
                for j in 0..self.n() {
                    if Some(j) != self.index_of(msg.src) {
                        let dst = self.ids[j];
                        self.send_one(Message { dst, ..msg.clone() });
                    }
                }
            } else {
                self.send_one(msg);
            }
        }
    }

    fn send_one(&mut self, msg: Message) {
        let between_replicas = self.index_of(msg.src).zip(self.index_of(msg.dst));
        if let Some((a, b)) = between_replicas {
            self.stats.sent += 1;
            let by_kind = &mut self.stats.sent_by_kind;
            *by_kind.entry(msg.body.type_name()).or_default() += 1;
            if matches!(&msg.body, Body::AppendReply(r) if !r.success) {
                *by_kind.entry(REJECTED_APPEND).or_default() += 1;
            }
            if !self.connected(a, b) || self.rng.chance(self.net.drops) {
                self.stats.dropped += 1;
                return;
            }
        }
        let mut delay = self.rng.range(self.net.min_delay, self.net.max_delay);
        if self.rng.chance(self.net.slow_chance) {
            delay += self.rng.range(0, self.net.slow_max);
        }
        self.schedule(self.now + delay, Event::Deliver(msg));
    }

    /// A packet that reaches a replica while a partition separates it from
    /// the sender is lost (it was in flight when the partition began).
    pub fn arrives(&self, msg: &Message) -> bool {
        match self.index_of(msg.src).zip(self.index_of(msg.dst)) {
            Some((a, b)) => self.connected(a, b),
            None => true,
        }
    }

    /// Keeps exactly one pending wake-up per replica: soon when packets
    /// wait (a burst gathers meanwhile), else at the deadline it asks for,
    /// plus a little lateness, as a real timer has.
    fn schedule_wake(&mut self, i: usize) {
        let Some(node) = self.nodes[i].as_ref() else {
            return;
        };
        let asked = if self.inbox[i].is_empty() {
            node.next_deadline(self.now).max(self.now)
        } else {
            self.now
        };
        if let Some((was, _)) = self.wakes[i] {
            if was <= asked {
                return;
            }
        }
        if let Some((_, key)) = self.wakes[i].take() {
            self.queue.remove(&key);
        }
        let late = self.rng.range(1, 300);
        let key = self.schedule(asked + late, Event::Wake(i));
        self.wakes[i] = Some((asked, key));
    }

    /// The leader the course simulator would know: a living replica that
    /// is leader in the highest term, on the majority side if partitioned.
    pub fn known_leader(&self) -> Option<usize> {
        (0..self.n())
            .filter(|&i| !self.on_minority_side(i))
            .filter_map(|i| self.nodes[i].as_ref().map(|n| (i, n)))
            .filter(|(_, n)| n.role() == Role::Leader)
            .max_by_key(|(_, n)| n.term())
            .map(|(i, _)| i)
    }

    fn may_kill(&self) -> bool {
        self.allow_lose_majority || self.alive().len() > self.quorum()
    }

    pub fn kill(&mut self, i: usize) {
        if self.nodes[i].take().is_some() {
            self.stats.kills += 1;
            self.dead.retain(|&d| d != i);
            self.dead.push(i);
        }
        if let Some((_, key)) = self.wakes[i].take() {
            self.queue.remove(&key);
        }
        self.inbox[i].clear();
    }

    /// Restarts dead replica `i` from its disk; false if it is alive or
    /// the world is memory-only.
    pub fn restart(&mut self, i: usize) -> bool {
        let Some(disks) = &self.disks else {
            return false;
        };
        if self.nodes[i].is_some() {
            return false;
        }
        let disk = disks[i].clone();
        let seed = self.rng.next_u64();
        let node = Node::recover(
            self.ids[i],
            self.ids.clone(),
            self.cfg.clone(),
            seed,
            self.now,
            disk,
        );
        self.nodes[i] = Some(node);
        self.dead.retain(|&d| d != i);
        self.restarted.push(i);
        self.lives[i] += 1;
        self.stats.restarts += 1;
        self.schedule_wake(i);
        true
    }

    /// What replica `i`'s disk holds (`None` in a memory-only world).
    #[allow(dead_code)] // only the lab tests read it
    pub fn disk(&self, i: usize) -> Option<&Recovered> {
        self.disks.as_ref().map(|d| &d[i])
    }

    /// How many times replica `i` restarted.
    pub fn lives(&self, i: usize) -> u32 {
        self.lives[i]
    }

    /// The replicas restarted since the last call.
    pub fn take_restarted(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.restarted)
    }

    /// Applies a fault; returns the replica killed or restarted, if any.
    pub fn apply_fault(&mut self, f: &Fault) -> Option<usize> {
        let n = self.n();
        match f {
            Fault::KillLeader => {
                let l = self.known_leader().filter(|_| self.may_kill())?;
                self.kill(l);
                return Some(l);
            }
            Fault::KillNonLeader => {
                let leader = self.known_leader();
                let others: Vec<usize> = self
                    .alive()
                    .into_iter()
                    .filter(|&i| Some(i) != leader)
                    .collect();
                if others.is_empty() || !self.may_kill() {
                    return None;
                }
                let victim = others[self.rng.range(0, others.len() as u64 - 1) as usize];
                self.kill(victim);
                return Some(victim);
            }
            Fault::PartEasy | Fault::PartHard => {
                let mut order: Vec<usize> = (0..n).collect();
                self.shuffle(&mut order);
                if *f == Fault::PartEasy {
                    if let Some(l) = self.known_leader() {
                        order.retain(|&i| i != l);
                        order.insert(0, l);
                    }
                }
                let mut majority = vec![false; n];
                for &i in order.iter().take(self.quorum()) {
                    majority[i] = true;
                }
                self.partition = Some(Partition {
                    majority,
                    since: self.now,
                });
            }
            Fault::PartEnd => self.partition = None,
            Fault::SetDrops(p) => self.net.drops = *p,
            Fault::Crash(i) => {
                if self.is_alive(*i) && self.may_kill() {
                    self.kill(*i);
                    return Some(*i);
                }
            }
            Fault::Restart(i) => return self.restart(*i).then_some(*i),
            Fault::CrashMidFlush(i) => {
                if self.is_alive(*i) && self.may_kill() {
                    self.crash_mid_flush[*i] = true;
                }
            }
            Fault::Disconnect(i) => self.disconnected[*i] = true,
            Fault::Reconnect(i) => self.disconnected[*i] = false,
            Fault::ReconnectAll => self.disconnected.fill(false),
            Fault::RestartLatest => {
                let i = *self.dead.last()?;
                return self.restart(i).then_some(i);
            }
            Fault::RestartAll => {
                let mut last = None;
                for i in self.dead.clone() {
                    if self.restart(i) {
                        last = Some(i);
                    }
                }
                return last;
            }
        }
        None
    }

    fn shuffle(&mut self, v: &mut [usize]) {
        for i in (1..v.len()).rev() {
            let j = self.rng.range(0, i as u64) as usize;
            v.swap(i, j);
        }
    }
}

/// Applies a batch to a simulated disk with the same code a data dir's
/// replay uses (`Recovered::apply`), then checks it ends where the core
/// says its log does.
fn write_batch(disk: &mut Recovered, batch: &Persist) -> Result<(), String> {
    if let Some(snap) = &batch.snapshot {
        disk.snapshot = Some((**snap).clone());
    }
    disk.apply(
        batch.hard_state,
        batch.log_base,
        batch.log_from,
        batch.entries.iter().cloned(),
        batch.commit,
    )
    .map_err(|e| format!("persisted a batch no disk takes: {e}"))?;
    let (base, base_term) = disk.log_base;
    let last_term = disk.entries.last().map_or(base_term, |e| e.term);
    let last = base + disk.entries.len() as u64;
    if (last, last_term) != (batch.last_index, batch.last_term) {
        return Err(format!(
            "after a batch the disk ends at ({last}, {last_term}), the core says ({}, {})",
            batch.last_index, batch.last_term
        ));
    }
    Ok(())
}
