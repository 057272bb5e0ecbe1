//! The event loop: poll the transport, decode packets, feed the core, send
//! what it asks, sleep until its next deadline. Outbound packets wait in a
//! queue when the socket is full, so the replica never blocks.

use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use shared::events::{Event, Status};
use shared::{Addr, Message};

use super::codec::{decode, encode};
use super::signals;
use super::storage::Storage;
use super::transport::{Recv, Sent, Transport};
use crate::raft::{changed_tune, Input, Micros, Node, Outgoing, KNOBS};
use crate::telemetry::Emitter;

/// Packets read per wake-up before the core's outputs are flushed: enough
/// to batch a burst, few enough to keep answers flowing.
const READ_BURST: usize = 256;
/// Longest sleep, so that a missed signal wake-up costs at most this.
const MAX_SLEEP_MICROS: Micros = 100_000;
/// A full `status` event at least this often.
const STATUS_EVERY: Micros = 250_000;
/// How often the shell checks that the simulator is still there, in case
/// nothing closed (UDP) and no parent-death signal came: a replica
/// outlives its simulator by at most about this (plus the ~1 s a UDP
/// refusal must last).
const LIVENESS_EVERY: Micros = 200_000;

/// Bytes of packets kept for a simulator that is not reading; beyond
/// this, new packets are dropped. A few hundred full AppendEntries.
const MAX_QUEUED_OUT_BYTES: usize = 4 << 20;

/// What the shell counted that the core never saw.
#[derive(Debug, Default, Clone)]
pub struct ShellStats {
    pub received: u64,
    pub sent: u64,
    /// Packets that did not decode as a message.
    pub malformed: u64,
    /// Packets addressed to someone else.
    pub misaddressed: u64,
    /// Outputs that would have been too large a packet (never expected).
    pub oversized: u64,
    /// Outputs dropped because the queue to a simulator that is not
    /// reading held `MAX_QUEUED_OUT_BYTES` already (Raft and the clients
    /// recover from them as from any lost packet).
    pub queue_full: u64,
    /// Packets by message `type`.
    pub sent_by_type: BTreeMap<&'static str, u64>,
    pub received_by_type: BTreeMap<&'static str, u64>,
}

#[derive(Debug)]
pub enum Exit {
    Signal,
    Closed(String),
    /// The data dir could not be written: going on would break promises.
    Disk(String),
}

pub struct Shell<T: Transport> {
    transport: T,
    node: Node,
    epoch: Instant,
    outq: VecDeque<Vec<u8>>,
    outq_bytes: usize,
    debug: bool,
    pub stats: ShellStats,
    buf: Vec<u8>,
    telemetry: Emitter,
    next_status: Micros,
    next_liveness: Micros,
    /// With durability on (the node came from `Node::recover`), where
    /// each `Persist` batch goes.
    storage: Option<Storage>,
}

impl<T: Transport> Shell<T> {
    pub fn new(
        transport: T,
        node: Node,
        epoch: Instant,
        telemetry: Emitter,
        debug: bool,
        storage: Option<Storage>,
    ) -> Shell<T> {
        Shell {
            transport,
            node,
            epoch,
            outq: VecDeque::new(),
            outq_bytes: 0,
            debug,
            stats: ShellStats::default(),
            buf: vec![0u8; 65536],
            telemetry,
            next_status: 0,
            next_liveness: LIVENESS_EVERY,
            storage,
        }
    }

    fn now(&self) -> Micros {
        self.epoch.elapsed().as_micros() as Micros
    }

    /// Queues a packet from this replica (used for the UDP hello).
    pub fn queue(&mut self, msg: &Message) {
        match encode(msg) {
            Some(bytes) if self.outq_bytes + bytes.len() > MAX_QUEUED_OUT_BYTES => {
                self.stats.queue_full += 1;
            }
            Some(bytes) => {
                self.outq_bytes += bytes.len();
                self.outq.push_back(bytes);
            }
            None => self.stats.oversized += 1,
        }
    }

    /// Runs until a signal or the simulator closing; reports start and stop.
    pub fn run(&mut self) -> Exit {
        let start = Event::Start {
            id: self.node.id().to_string(),
            peers: self.node.peers().iter().map(|p| p.to_string()).collect(),
            pid: std::process::id(),
            transport: self.transport.name().to_string(),
            config: KNOBS
                .iter()
                .map(|k| (k.name.to_string(), k.render(self.node.config())))
                .collect(),
            tuned: changed_tune(self.node.config()),
        };
        self.telemetry.emit(self.now(), start);
        let exit = self.serve();
        let now = self.now();
        let reason = match &exit {
            Exit::Signal => "signal".to_string(),
            Exit::Closed(_) => "closed".to_string(),
            Exit::Disk(_) => "disk".to_string(),
        };
        self.report(now);
        self.telemetry.emit(now, Event::Stop { reason });
        self.telemetry.flush(now);
        exit
    }

    fn serve(&mut self) -> Exit {
        loop {
            if signals::stop_requested() {
                return Exit::Signal;
            }
            if let Err(reason) = self.write_queue() {
                return Exit::Closed(reason);
            }
            let now = self.now();
            let sleep = self
                .node
                .next_deadline(now)
                .saturating_sub(now)
                .min(MAX_SLEEP_MICROS);
            let readable = match self.wait(sleep) {
                Ok(r) => r,
                Err(e) => return Exit::Closed(format!("poll failed: {e}")),
            };
            let listened = self.telemetry.accepting(self.now());
            self.node.set_request_events(listened);
            if readable {
                if let Err(reason) = self.read_burst() {
                    return Exit::Closed(reason);
                }
            }
            let now = self.now();
            if now >= self.next_liveness {
                self.next_liveness = now + LIVENESS_EVERY;
                if let Some(reason) = self.simulator_gone() {
                    return Exit::Closed(reason);
                }
            }
            self.step(now, Input::Tick);
            if let Err(e) = self.flush(now) {
                return Exit::Disk(e);
            }
            // Answers first: events must never delay a packet.
            if let Err(reason) = self.write_queue() {
                return Exit::Closed(reason);
            }
            // Events are serialized and sent in passes a timer woke, while
            // no packet is in flight through us, or at the latest with the
            // status that is due every STATUS_EVERY.
            if !readable || now >= self.next_status {
                self.report(now);
            }
        }
    }

    /// Passes the core's events on, adds a status when one is due, and
    /// sends the batch when due (never blocking).
    fn report(&mut self, now: Micros) {
        for (at, event) in self.node.take_events() {
            self.telemetry.emit(at, event);
        }
        if now >= self.next_status {
            self.next_status = now + STATUS_EVERY;
            let status = self.status();
            self.telemetry.emit(now, Event::Status(status));
        }
        self.telemetry.flush_due(now);
    }

    fn status(&self) -> Status {
        let n = &self.node;
        let counts =
            |m: &BTreeMap<&'static str, u64>| m.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        Status {
            role: n.role().name(),
            term: n.term(),
            leader: n.leader_belief().unwrap_or(Addr::UNKNOWN).to_string(),
            last_index: n.log().last_index(),
            last_term: n.log().last_term(),
            commit_index: n.commit_index(),
            applied_index: n.applied_index(),
            followers: n.follower_progress(),
            sent: counts(&self.stats.sent_by_type),
            received: counts(&self.stats.received_by_type),
            malformed: self.stats.malformed,
            events_dropped: self.telemetry.dropped(),
        }
    }

    /// Waits up to `micros` for input (or for room to write, when packets
    /// are queued). Returns whether the socket is readable.
    fn wait(&self, micros: Micros) -> std::io::Result<bool> {
        let mut events = libc::POLLIN;
        if !self.outq.is_empty() {
            events |= libc::POLLOUT;
        }
        let mut pfd = libc::pollfd {
            fd: self.transport.fd(),
            events,
            revents: 0,
        };
        let ts = libc::timespec {
            tv_sec: (micros / 1_000_000) as libc::time_t,
            tv_nsec: ((micros % 1_000_000) * 1000) as libc::c_long,
        };
        // SAFETY: one valid pollfd, a valid timespec, no signal mask change.
        let rc = unsafe { libc::ppoll(&mut pfd, 1, &ts, std::ptr::null()) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            return if e.kind() == std::io::ErrorKind::Interrupted {
                Ok(false)
            } else {
                Err(e)
            };
        }
        Ok(pfd.revents & (libc::POLLIN | libc::POLLERR | libc::POLLHUP) != 0)
    }

    fn read_burst(&mut self) -> Result<(), String> {
        for _ in 0..READ_BURST {
            let n = match self.transport.recv(&mut self.buf) {
                Recv::Packet(n) => n,
                Recv::Empty => break,
                Recv::Closed(reason) => return Err(reason),
            };
            self.stats.received += 1;
            match decode(&self.buf[..n]) {
                Ok(msg) if msg.dst == self.node.id() || msg.dst.is_broadcast() => {
                    *self
                        .stats
                        .received_by_type
                        .entry(msg.body.type_name())
                        .or_default() += 1;
                    let now = self.now();
                    self.step(now, Input::Message(msg));
                }
                Ok(msg) => {
                    self.stats.misaddressed += 1;
                    self.log(format_args!("ignored a packet for {}", msg.dst));
                }
                Err(e) => {
                    self.stats.malformed += 1;
                    self.log(format_args!("ignored a packet: {e}"));
                }
            }
        }
        if self.transport.peer_gone() {
            return Err("the simulator's port refuses every packet".into());
        }
        Ok(())
    }

    /// Why the simulator is evidently gone, if it is: we were reparented
    /// (it died), or its port kept refusing (UDP). Checked on a timer: one
    /// getppid(2) per check, nothing per packet.
    fn simulator_gone(&self) -> Option<String> {
        if signals::parent_gone() {
            return Some("the simulator that started us is gone".into());
        }
        if self.transport.peer_gone() {
            return Some("the simulator's port refuses every packet".into());
        }
        None
    }

    /// Feeds the core, logging role and leader changes when debugging.
    fn step(&mut self, now: Micros, input: Input) {
        let before = (
            self.node.role(),
            self.node.term(),
            self.node.leader_belief(),
        );
        self.node.handle(now, input);
        let after = (
            self.node.role(),
            self.node.term(),
            self.node.leader_belief(),
        );
        if self.debug && before != after {
            let (role, term, leader) = after;
            let leader = leader.unwrap_or(Addr::UNKNOWN);
            self.log(format_args!(
                "{:?} in term {term}, leader {leader}, log {}, commit {}",
                role,
                self.node.log().last_index(),
                self.node.commit_index()
            ));
        }
    }

    /// Queues the core's outputs. With durability on, the packets that
    /// promise nothing go first, those that do only once the batch is on
    /// disk (`raft/durability.rs`); the core hears that it is, which may
    /// answer clients (a leader's own entries count once durable), so it
    /// flushes again until nothing is left to persist.
    fn flush(&mut self, now: Micros) -> Result<(), String> {
        loop {
            let out = self.node.flush(now);
            let Some(batch) = self.node.take_persist() else {
                self.enqueue(out);
                return Ok(());
            };
            let (late, early): (Vec<Outgoing>, Vec<Outgoing>) =
                out.into_iter().partition(Outgoing::promises);
            self.enqueue(early);
            // A closed socket is found, and reported, by the loop's next write.
            let _ = self.write_queue();
            let storage = self
                .storage
                .as_mut()
                .ok_or("the core persists, but no data dir was opened")?;
            storage
                .persist(&batch)
                .map_err(|e| format!("cannot write the data dir: {e}"))?;
            self.enqueue(late);
            self.node.handle(now, batch.done());
        }
    }

    fn enqueue(&mut self, out: Vec<Outgoing>) {
        let (src, leader) = (self.node.id(), self.node.leader_hint());
        for o in out {
            *self
                .stats
                .sent_by_type
                .entry(o.body.type_name())
                .or_default() += 1;
            let msg = Message {
                src,
                dst: o.to,
                leader,
                body: o.body,
            };
            self.queue(&msg);
        }
    }

    fn write_queue(&mut self) -> Result<(), String> {
        while let Some(packet) = self.outq.front() {
            match self.transport.send(packet) {
                Sent::Sent => {
                    self.stats.sent += 1;
                    self.outq_bytes -= packet.len();
                    self.outq.pop_front();
                }
                Sent::WouldBlock => break,
                Sent::Closed(reason) => return Err(reason),
            }
        }
        Ok(())
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    fn log(&self, what: std::fmt::Arguments<'_>) {
        if self.debug {
            let t = self.epoch.elapsed().as_secs_f64();
            eprintln!("[{} {t:9.4}] {what}", self.node.id());
        }
    }
}
