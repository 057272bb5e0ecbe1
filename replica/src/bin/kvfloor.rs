//! `kvfloor`: the benchmark's floor, NOT a correct replica.
//!
//! The lowest-id replica leads forever and never fails over. It answers a
//! get at once (two hops: client -> leader -> client) and a put after one
//! round trip to a bare quorum (four hops, and 2 x (quorum - 1) messages
//! between replicas: four in a 5-replica cluster). No heartbeats, no
//! retransmissions, no elections: whatever a real replica adds on top of
//! this is its own cost. `make bench` reports our figures as ratios of it.
//!
//! Same arguments as `3700kvstore` (classic or UDP).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::Path;
use std::process::ExitCode;

use replica::io::cli::{self, Parsed, TransportKind};
use replica::io::signals;
use replica::io::transport::{Recv, Sent, SeqPacket, Transport, Udp};
use serde_json::{json, Value};

struct Pending {
    client: String,
    mid: String,
    key: String,
    value: String,
    acks: usize,
}

struct Floor {
    id: String,
    leader: String,
    /// The followers a put goes to: just enough for a quorum.
    quorum_followers: Vec<String>,
    kv: HashMap<String, String>,
    pending: BTreeMap<u64, Pending>,
    next_seq: u64,
    outq: VecDeque<Vec<u8>>,
}

impl Floor {
    fn send(&mut self, msg: Value) {
        self.outq.push_back(msg.to_string().into_bytes());
    }

    fn reply(&mut self, to: &str, kind: &str, mid: &str, value: Option<&str>) {
        let mut msg =
            json!({"src": self.id, "dst": to, "leader": self.leader, "type": kind, "MID": mid});
        if let Some(v) = value {
            msg["value"] = json!(v);
        }
        self.send(msg);
    }

    fn handle(&mut self, msg: &Value) {
        let field = |k: &str| msg.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let (src, kind, mid, key) = (field("src"), field("type"), field("MID"), field("key"));
        let leading = self.id == self.leader;
        match kind.as_str() {
            "get" | "put" if !leading => self.reply(&src, "redirect", &mid, None),
            "get" => {
                let value = self.kv.get(&key).cloned().unwrap_or_default();
                self.reply(&src, "ok", &mid, Some(&value));
            }
            "put" => {
                let seq = self.next_seq;
                self.next_seq += 1;
                let value = field("value");
                for f in self.quorum_followers.clone() {
                    let m = json!({"src": self.id, "dst": f, "leader": self.leader,
                                   "type": "fput", "seq": seq, "key": key, "value": value});
                    self.send(m);
                }
                let p = Pending {
                    client: src,
                    mid,
                    key,
                    value,
                    acks: 0,
                };
                self.pending.insert(seq, p);
            }
            "fput" => {
                self.kv.insert(key, field("value"));
                let seq = msg.get("seq").cloned().unwrap_or(Value::Null);
                let m = json!({"src": self.id, "dst": src, "leader": self.leader,
                               "type": "fack", "seq": seq});
                self.send(m);
            }
            "fack" => {
                let Some(seq) = msg.get("seq").and_then(Value::as_u64) else {
                    return;
                };
                let needed = self.quorum_followers.len();
                let done = self.pending.get_mut(&seq).is_some_and(|p| {
                    p.acks += 1;
                    p.acks == needed
                });
                if done {
                    let p = self.pending.remove(&seq).expect("just seen");
                    self.kv.insert(p.key, p.value);
                    self.reply(&p.client, "ok", &p.mid, None);
                }
            }
            _ => {}
        }
    }
}

fn serve<T: Transport>(mut t: T, mut floor: Floor) -> ExitCode {
    let mut buf = vec![0u8; 65536];
    loop {
        if signals::stop_requested() {
            return ExitCode::SUCCESS;
        }
        while let Some(p) = floor.outq.front() {
            match t.send(p) {
                Sent::Sent => {
                    floor.outq.pop_front();
                }
                Sent::WouldBlock => break,
                Sent::Closed(_) => return ExitCode::SUCCESS,
            }
        }
        let events = if floor.outq.is_empty() {
            libc::POLLIN
        } else {
            libc::POLLIN | libc::POLLOUT
        };
        let mut pfd = libc::pollfd {
            fd: t.fd(),
            events,
            revents: 0,
        };
        // SAFETY: one valid pollfd.
        unsafe { libc::poll(&mut pfd, 1, 100) };
        loop {
            match t.recv(&mut buf) {
                Recv::Packet(n) => {
                    if let Ok(msg) = serde_json::from_slice::<Value>(&buf[..n]) {
                        floor.handle(&msg);
                    }
                }
                Recv::Empty => break,
                Recv::Closed(_) => return ExitCode::SUCCESS,
            }
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match cli::parse(&argv, |k| std::env::var(k).ok(), |p| p.exists()) {
        Ok(Parsed::Run(a)) => a,
        Ok(_) => {
            println!("kvfloor: the benchmark's latency/message floor (not a correct replica).\nArguments as for 3700kvstore.");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("kvfloor: {e}");
            return ExitCode::from(2);
        }
    };
    // Like the replica: gone with the simulator that started it.
    if signals::install().is_err() || !signals::watch_parent(signals::death_signal_requested()) {
        return ExitCode::FAILURE;
    }
    let mut all: Vec<String> = args.peers.iter().map(|p| p.to_string()).collect();
    all.push(args.id.to_string());
    all.sort();
    let leader = all[0].clone();
    let quorum = all.len() / 2 + 1;
    let quorum_followers: Vec<String> = all
        .iter()
        .filter(|a| **a != leader)
        .take(quorum - 1)
        .cloned()
        .collect();
    let id = args.id.to_string();
    let floor = Floor {
        id: id.clone(),
        leader,
        quorum_followers,
        kv: HashMap::new(),
        pending: BTreeMap::new(),
        next_seq: 0,
        outq: VecDeque::new(),
    };
    match args.transport {
        TransportKind::Classic => match SeqPacket::connect(Path::new(&id)) {
            Ok(t) => serve(t, floor),
            Err(e) => {
                eprintln!("kvfloor: {e}");
                ExitCode::FAILURE
            }
        },
        TransportKind::Udp { port } => match Udp::connect(port) {
            Ok(t) => {
                let mut floor = floor;
                floor.send(json!({"src": id, "dst": "FFFF", "leader": "FFFF", "type": "hello"}));
                serve(t, floor)
            }
            Err(e) => {
                eprintln!("kvfloor: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
