//! One simulated run: a scenario (cluster, timing, network, faults,
//! workload) played out from a seed, with every check applied.

use std::collections::{HashMap, VecDeque};

use replica::io::codec::{encode, MAX_PACKET};
use replica::raft::{Config, Micros};
use replica::rng::Rng;
use shared::{Body, Entry};

use super::clients::{Clients, Kind, Outcome, Workload};
use super::invariants::Invariants;
use super::linearizability;
use super::world::{Event, Fault, Net, World};

/// A run that never goes quiet is a bug (a timer the core keeps asking for
/// in the past, or a message storm).
const MAX_STEPS: u64 = 400_000;

/// What the end of a run must show besides safety.
#[derive(Debug, Clone)]
pub struct Liveness {
    /// Requests first sent at or after this time are counted.
    pub from: Micros,
    /// At least this fraction of them must end in `ok`.
    pub min_ok: f64,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub replicas: usize,
    pub cfg: Config,
    pub net: Net,
    pub work: Workload,
    pub faults: Vec<(Micros, Fault)>,
    /// Where scenario builders place faults.
    pub fault_window: (Micros, Micros),
    /// From this time on: partition healed and `calm_drops` drop rate.
    pub calm_from: Option<Micros>,
    pub calm_drops: f64,
    pub end: Micros,
    pub liveness: Option<Liveness>,
    /// Kills may leave fewer than a quorum alive (then only safety is checked).
    pub allow_lose_majority: bool,
    /// Clients keep believing in a leader through a hard partition (the
    /// course simulator makes them forget), so a deposed leader keeps
    /// getting requests.
    pub sticky_clients: bool,
    /// Replicas persist and killed ones may restart (`World::new_durable`).
    pub durable: bool,
}

/// Standard timings in units of the minimum election timeout, and a fast
/// variant in which network delays are a sizeable part of a timeout.
pub fn pick_config(rng: &mut Rng, tight_chance: f64) -> Config {
    if rng.chance(tight_chance) {
        Config {
            election_timeout_min: 40_000,
            election_timeout_max: 80_000,
            heartbeat_interval: 10_000,
            lazy_heartbeat_interval: 40_000,
            quiet_lazy_heartbeat_interval: 120_000,
            retransmit_interval: 4_000,
            retransmit_min: 1_000,
            hold_timeout: 100_000,
            ..Config::default()
        }
    } else {
        Config::default()
    }
}

/// A summary of one run.
#[derive(Debug, Default, Clone)]
pub struct Report {
    pub steps: u64,
    pub requests: usize,
    pub ok_puts: usize,
    pub ok_gets: usize,
    pub duplicates: u64,
    /// Puts never answered that are in the committed log anyway.
    pub unanswered_committed: usize,
    /// Gets the course simulator would count as incorrect (see
    /// `HistoryStats::unacknowledged_reads`).
    pub unacknowledged_reads: usize,
    pub leader_terms: usize,
    pub sent: u64,
    pub dropped: u64,
    pub kills: u64,
    pub restarts: u64,
    /// Of the requests liveness counts: (answered ok, total).
    pub live: (usize, usize),
}

impl Report {
    pub fn add(&mut self, r: &Report) {
        self.steps += r.steps;
        self.requests += r.requests;
        self.ok_puts += r.ok_puts;
        self.ok_gets += r.ok_gets;
        self.duplicates += r.duplicates;
        self.unanswered_committed += r.unanswered_committed;
        self.unacknowledged_reads += r.unacknowledged_reads;
        self.leader_terms += r.leader_terms;
        self.sent += r.sent;
        self.dropped += r.dropped;
        self.kills += r.kills;
        self.restarts += r.restarts;
        self.live.0 += r.live.0;
        self.live.1 += r.live.1;
    }
}

struct Run {
    world: World,
    clients: Clients,
    inv: Invariants,
    trace: Option<VecDeque<String>>,
    steps: u64,
    /// When each get reached the replica it was sent to (looked up, never
    /// iterated, so a hash map keeps the run deterministic).
    get_arrivals: HashMap<String, Micros>,
    /// Which replica handled each request, and in which of its lives.
    handled_by: HashMap<String, (usize, u32)>,
    sticky_clients: bool,
}

/// Plays `sc` out with `seed`. With `trace`, a failure message ends with
/// the last events before it.
pub fn run(sc: &Scenario, seed: u64, trace: bool) -> Result<Report, String> {
    let mut run = Run::new(sc, seed, trace);
    match run.play(sc) {
        Ok(report) => Ok(report),
        Err(e) => Err(run.explain(e)),
    }
}

/// A run driven from outside, step by step (the lab tests): the world is
/// set up as [`run`] sets it up, every event goes through the same checks,
/// and [`Driver::finish`] applies the same end checks. The driver decides
/// how far to play, and may inject faults and requests between events.
#[allow(dead_code)] // only the lab tests use it
pub struct Driver {
    run: Run,
    sc: Scenario,
}

#[allow(dead_code)]
impl Driver {
    pub fn new(sc: &Scenario, seed: u64, trace: bool) -> Driver {
        Driver {
            run: Run::new(sc, seed, trace),
            sc: sc.clone(),
        }
    }

    pub fn now(&self) -> Micros {
        self.run.world.now
    }

    pub fn world(&self) -> &World {
        &self.run.world
    }

    /// For changes no [`Fault`] makes (e.g. the network's delays).
    pub fn world_mut(&mut self) -> &mut World {
        &mut self.run.world
    }

    pub fn clients(&self) -> &Clients {
        &self.run.clients
    }

    pub fn invariants(&self) -> &Invariants {
        &self.run.inv
    }

    pub fn scenario(&self) -> &Scenario {
        &self.sc
    }

    /// Plays the next event, if there is one at or before `until`; false
    /// when there is none.
    pub fn step_until(&mut self, until: Micros) -> Result<bool, String> {
        if self.run.world.peek_time().is_none_or(|t| t > until) {
            return Ok(false);
        }
        self.run.next()?;
        Ok(true)
    }

    /// Plays every event up to `until`, then moves the clock there.
    pub fn run_until(&mut self, until: Micros) -> Result<(), String> {
        while self.step_until(until)? {}
        self.run.world.now = self.run.world.now.max(until);
        Ok(())
    }

    /// Plays events until `done` holds (checked before the first and after
    /// each) or the clock would pass `until`; whether `done` held.
    pub fn run_until_or(
        &mut self,
        until: Micros,
        mut done: impl FnMut(&Driver) -> bool,
    ) -> Result<bool, String> {
        loop {
            if done(self) {
                return Ok(true);
            }
            if !self.step_until(until)? {
                self.run.world.now = self.run.world.now.max(until);
                return Ok(done(self));
            }
        }
    }

    /// Applies a fault now, as a scheduled one would be.
    pub fn fault(&mut self, f: Fault) -> Result<(), String> {
        self.run.step(Event::Fault(f))
    }

    /// Client `c` sends one request now (see [`Clients::request`]); its chain.
    pub fn request(
        &mut self,
        c: usize,
        target: Option<usize>,
        kind: Kind,
        key: String,
        retry: bool,
    ) -> usize {
        let run = &mut self.run;
        run.clients
            .request(&mut run.world, c, target, kind, key, retry)
    }

    /// The end checks of [`run`]: logs against the registry, the history's
    /// linearizability, and the scenario's liveness if it has one.
    pub fn finish(&mut self) -> Result<Report, String> {
        let sc = self.sc.clone();
        self.run.finish(&sc)
    }

    /// The failure, with the state of every replica (and the last events,
    /// when tracing).
    pub fn explain(&self, e: String) -> String {
        self.run.explain(e)
    }
}

impl Run {
    fn new(sc: &Scenario, seed: u64, trace: bool) -> Run {
        let mut world = if sc.durable {
            World::new_durable(sc.replicas, sc.cfg.clone(), sc.net.clone(), seed)
        } else {
            World::new(sc.replicas, sc.cfg.clone(), sc.net.clone(), seed)
        };
        world.allow_lose_majority = sc.allow_lose_majority;
        for (at, f) in &sc.faults {
            world.schedule(*at, Event::Fault(f.clone()));
        }
        if let Some(at) = sc.calm_from {
            world.schedule(at, Event::Fault(Fault::PartEnd));
            world.schedule(at, Event::Fault(Fault::SetDrops(sc.calm_drops)));
        }
        let mut clients = Clients::new(sc.work.clone(), sc.replicas);
        clients.start(&mut world);
        let inv = Invariants::new(sc.replicas, clients.keys());
        let trace = trace.then(VecDeque::new);
        Run {
            world,
            clients,
            inv,
            trace,
            steps: 0,
            get_arrivals: HashMap::new(),
            handled_by: HashMap::new(),
            sticky_clients: sc.sticky_clients,
        }
    }

    /// Plays the next event.
    fn next(&mut self) -> Result<(), String> {
        let ev = self.world.pop().expect("an event is due");
        self.steps += 1;
        if self.steps > MAX_STEPS {
            return Err(format!("runaway: more than {MAX_STEPS} steps"));
        }
        self.note(&ev);
        self.step(ev)
    }
}

impl Run {
    fn play(&mut self, sc: &Scenario) -> Result<Report, String> {
        while self.world.peek_time().is_some_and(|t| t <= sc.end) {
            self.next()?;
        }
        self.finish(sc)
    }

    fn step(&mut self, ev: Event) -> Result<(), String> {
        match ev {
            Event::Deliver(msg) => match self.world.index_of(msg.dst) {
                Some(i) => {
                    if self.world.arrives(&msg) {
                        self.world.arrive(i, msg);
                    }
                }
                None => {
                    self.clients.receive(&mut self.world, msg);
                    if let Some(v) = self.clients.violations.first() {
                        return Err(format!("contract: {v}"));
                    }
                }
            },
            Event::Wake(i) => {
                let (now, inv) = (self.world.now, &mut self.inv);
                let woken = self.world.wake(i, &mut |node| inv.after_step(node, now))?;
                for (mid, is_get) in woken.requests {
                    if is_get {
                        self.get_arrivals.insert(mid.clone(), now);
                    }
                    self.handled_by.insert(mid, (i, self.world.lives(i)));
                }
                self.after_wake(i, woken.sent)?;
            }
            Event::ClientWake(c) => self.clients.wake(&mut self.world, c),
            Event::Fault(f) => {
                let leader = self.world.known_leader();
                let killed = self.world.apply_fault(&f);
                for i in self.world.take_restarted() {
                    let node = self.world.nodes[i].as_ref().expect("just restarted");
                    self.inv.restarted(node);
                }
                let lost_leader = match f {
                    Fault::KillLeader => killed.is_some(),
                    Fault::Crash(_) => killed.is_some() && killed == leader,
                    _ => false,
                };
                if lost_leader || (f == Fault::PartHard && !self.sticky_clients) {
                    self.clients.forget_leader();
                }
                self.note_text(format!(
                    "fault {f:?}: leader was {leader:?}, killed {killed:?}"
                ));
            }
        }
        Ok(())
    }

    /// Checks what replica `i` sends when it flushes, then sends it.
    fn after_wake(&mut self, i: usize, out: Vec<shared::Message>) -> Result<(), String> {
        let Some(node) = self.world.nodes[i].as_ref() else {
            return Ok(());
        };
        self.inv.check_votes(node.id(), &out)?;
        for m in &out {
            if let Body::Ok {
                mid,
                value: Some(_),
            } = &m.body
            {
                if let Some(&arrived) = self.get_arrivals.get(mid) {
                    self.inv.check_read(node, arrived)?;
                }
            }
        }
        // Cut off on the minority side, a replica's read lease ran out
        // `lease` after the partition began at the latest, so it serves no
        // read after that. (It may still learn that a put committed: the
        // majority-side acknowledgements can have come in before the
        // partition and the minority-side ones after. Puts are checked by
        // the log invariants and the linearizability check instead.)
        if let Some(p) = &self.world.partition {
            let late = self.world.now > p.since + self.world.cfg.lease();
            if !p.majority[i] && late {
                let read = |m: &&shared::Message| matches!(m.body, Body::Ok { value: Some(_), .. });
                if let Some(m) = out.iter().find(read) {
                    return Err(format!(
                        "{} answered {:?} from the minority side {}µs after the partition began",
                        node.id(),
                        m.body,
                        self.world.now - p.since
                    ));
                }
            }
        }
        // Replica traffic must fit the classic simulator's packets; only
        // AppendEntries can grow, so only big ones are serialized to check.
        for m in &out {
            if let Body::AppendEntries(ae) = &m.body {
                let rough: usize = ae.entries.iter().map(rough_size).sum();
                if rough > MAX_PACKET / 2 && encode(m).is_none() {
                    return Err(format!(
                        "{} sent an AppendEntries too large for a packet ({} entries, ~{rough} bytes)",
                        m.src,
                        ae.entries.len()
                    ));
                }
            }
        }
        if self.trace.is_some() {
            for m in &out {
                self.note_text(format!("  {} -> {}: {:?}", m.src, m.dst, m.body));
            }
        }
        self.world.dispatch(out);
        Ok(())
    }

    fn finish(&mut self, sc: &Scenario) -> Result<Report, String> {
        self.inv.final_check(self.world.nodes.iter().flatten())?;
        let hist = linearizability::check(&self.clients.ops, &self.inv.committed)
            .map_err(|e| format!("linearizability: {e}"))?;
        let mut report = Report {
            steps: self.steps,
            requests: self.clients.ops.len(),
            ok_puts: hist.ok_puts,
            ok_gets: hist.ok_gets,
            duplicates: self.clients.duplicates,
            unanswered_committed: hist.unanswered_committed,
            unacknowledged_reads: hist.unacknowledged_reads,
            leader_terms: self.inv.terms_with_leader(),
            sent: self.world.stats.sent,
            dropped: self.world.stats.dropped,
            kills: self.world.stats.kills,
            restarts: self.world.stats.restarts,
            live: (0, 0),
        };
        if let Some(l) = &sc.liveness {
            self.nothing_dropped(sc)?;
            report.live = self.liveness(l.from);
            let (ok, total) = report.live;
            if self.world.known_leader().is_none() {
                return Err("liveness: no leader at the end of a calm period".into());
            }
            if total == 0 || (ok as f64) < l.min_ok * total as f64 {
                return Err(format!(
                    "liveness: only {ok} of {total} requests sent after {}µs were answered ok \
                     (need {:.0}%)",
                    l.from,
                    l.min_ok * 100.0
                ));
            }
        }
        Ok(report)
    }

    /// After a calm period every request is answered, one way or another,
    /// by the replica that got it, unless that replica was killed since
    /// (even if it restarted: it forgot the request): a put
    /// commits or is replaced (and its owner says so), a get is served or
    /// redirected, a held request times out into a redirect.
    fn nothing_dropped(&self, sc: &Scenario) -> Result<(), String> {
        for op in &self.clients.ops {
            if op.outcome != Outcome::Pending || op.invoked >= sc.work.until {
                continue;
            }
            let Some(&(i, life)) = self.handled_by.get(&op.mid) else {
                continue;
            };
            if self.world.is_alive(i) && self.world.lives(i) == life {
                return Err(format!(
                    "{} never answered {:?} {} (sent at {}µs)",
                    self.world.ids[i], op.kind, op.mid, op.invoked
                ));
            }
        }
        Ok(())
    }

    /// Requests (chains of retries) first sent at or after `from`: how
    /// many ended in `ok`, out of how many.
    fn liveness(&self, from: Micros) -> (usize, usize) {
        let mut first_sent = vec![Micros::MAX; self.clients.chains];
        let mut ok = vec![false; self.clients.chains];
        for op in &self.clients.ops {
            first_sent[op.chain] = first_sent[op.chain].min(op.invoked);
            ok[op.chain] |= op.ok_at().is_some();
        }
        let counted: Vec<bool> = (0..self.clients.chains)
            .filter(|&c| first_sent[c] >= from && first_sent[c] != Micros::MAX)
            .map(|c| ok[c])
            .collect();
        (counted.iter().filter(|&&o| o).count(), counted.len())
    }

    fn note(&mut self, ev: &Event) {
        if self.trace.is_some() {
            let text = match ev {
                Event::Deliver(m) => format!("{} -> {}: {:?}", m.src, m.dst, m.body),
                other => format!("{other:?}"),
            };
            self.note_text(text);
        }
    }

    fn note_text(&mut self, mut text: String) {
        let now = self.world.now;
        if let Some((cut, _)) = text.char_indices().nth(240) {
            text.truncate(cut);
            text.push('…');
        }
        if self.trace.is_some() && std::env::var_os("SIM_TRACE").is_some() {
            eprintln!("{now:>10}µs {text}");
        }
        if let Some(t) = self.trace.as_mut() {
            if t.len() == 120 {
                t.pop_front();
            }
            t.push_back(format!("{now:>10}µs {text}"));
        }
    }

    /// The failure, plus the state of every replica and the trace tail.
    fn explain(&self, e: String) -> String {
        let mut s = format!(
            "{e}\n  at {}µs after {} steps\n",
            self.world.now, self.steps
        );
        for (i, n) in self.world.nodes.iter().enumerate() {
            match n {
                None => s += &format!("  {}: killed\n", self.world.ids[i]),
                Some(n) => {
                    s += &format!(
                        "  {}: {:?} term {} leader {} log {} commit {} applied {}{}\n",
                        n.id(),
                        n.role(),
                        n.term(),
                        n.leader_hint(),
                        n.log().last_index(),
                        n.commit_index(),
                        n.applied_index(),
                        if self.world.on_minority_side(i) {
                            " (minority side)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        if let Some(t) = &self.trace {
            s += "  last events:\n";
            for line in t {
                s += &format!("  {line}\n");
            }
        }
        s
    }
}

/// An entry's size in a packet, give or take JSON punctuation.
fn rough_size(e: &Entry) -> usize {
    40 + e
        .put
        .as_ref()
        .map_or(0, |p| p.key.len() + p.value.len() + p.mid.len())
}
