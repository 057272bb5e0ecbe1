//! State events: what replicas and the simulator tell the console.
//!
//! JSON lines: one [`DashEvent`] per line, one or more lines per datagram,
//! sent to a Unix datagram socket (see [`default_socket_path`]). Every event
//! carries the schema version `v`, a timestamp `ts` (microseconds since the
//! Unix epoch), its source `src` (a replica id such as `"0003"`, or `"sim"`
//! for the simulator) and a `kind`. The full description, with an example of
//! every kind, is in `shared/README.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Version of this schema. Readers refuse (and count) other versions.
pub const SCHEMA_VERSION: u32 = 1;

/// `src` of the events the simulator itself emits.
pub const SIM_SOURCE: &str = "sim";

/// Environment variable naming the event socket.
pub const SOCKET_ENV: &str = "KVDASH_SOCKET";

/// Where events go: `$KVDASH_SOCKET`, else `$XDG_RUNTIME_DIR/kvdash.sock`,
/// else `/tmp/kvdash-<uid>.sock`. `env` looks variables up and `uid` is the
/// user id, so that this stays free of IO.
pub fn default_socket_path(env: impl Fn(&str) -> Option<String>, uid: u32) -> PathBuf {
    if let Some(p) = env(SOCKET_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    if let Some(dir) = env("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir).join("kvdash.sock");
    }
    PathBuf::from(format!("/tmp/kvdash-{uid}.sock"))
}

/// One event.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DashEvent {
    /// Schema version ([`SCHEMA_VERSION`]).
    pub v: u32,
    /// Microseconds since the Unix epoch.
    pub ts: u64,
    /// A replica id, or `"sim"`.
    pub src: String,
    #[serde(flatten)]
    pub event: Event,
}

impl DashEvent {
    pub fn new(ts: u64, src: impl Into<String>, event: Event) -> DashEvent {
        DashEvent {
            v: SCHEMA_VERSION,
            ts,
            src: src.into(),
            event,
        }
    }

    /// Parses one line, checking the version first so that a newer schema
    /// is reported as such rather than as garbage.
    pub fn parse(line: &str) -> Result<DashEvent, EventError> {
        #[derive(Deserialize)]
        struct Version {
            v: u32,
        }
        let version: Version =
            serde_json::from_str(line).map_err(|e| EventError::Malformed(e.to_string()))?;
        if version.v != SCHEMA_VERSION {
            return Err(EventError::Version(version.v));
        }
        let ev: DashEvent =
            serde_json::from_str(line).map_err(|e| EventError::Malformed(e.to_string()))?;
        if ev.event == Event::Unknown {
            return Err(EventError::UnknownKind);
        }
        Ok(ev)
    }

    /// The event as one JSON line, without the newline.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("events always serialize")
    }
}

/// Why a line is not an event we can use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventError {
    Malformed(String),
    Version(u32),
    UnknownKind,
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::Malformed(e) => write!(f, "malformed event: {e}"),
            EventError::Version(v) => {
                write!(f, "event schema version {v}, expected {SCHEMA_VERSION}")
            }
            EventError::UnknownKind => write!(f, "unknown event kind"),
        }
    }
}

impl std::error::Error for EventError {}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum RoleName {
    Follower,
    PreCandidate,
    Candidate,
    Leader,
}

/// Why a replica's role, term or leader belief changed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum RoleReason {
    /// The replica started.
    Start,
    /// No word from a leader for an election timeout: a pre-vote begins.
    ElectionTimeout,
    /// A pre-vote majority: a real election begins.
    PreVoteWon,
    WonElection,
    /// A message carried a higher term.
    HigherTerm,
    /// An AppendEntries named a (new) leader.
    LeaderFound,
    /// A leader not confirmed by a quorum for an election timeout stepped
    /// down (reported by it, and by a follower that leader then asks for
    /// a vote).
    CheckQuorumLost,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    Get,
    Put,
}

/// How a client request ended (at a replica, or as the client saw it).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Ok,
    Redirect,
    Fail,
}

/// What became of a packet the simulator routed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Delivered,
    /// Lost to the drop rate.
    Dropped,
    /// Cut by the partition.
    Partitioned,
    /// Addressed to a dead replica.
    Dead,
    /// Replica to client (never dropped).
    Client,
    /// Counted as incorrect and dropped.
    Invalid,
}

/// The leader's view of one follower.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct FollowerProgress {
    pub id: String,
    pub match_index: u64,
    pub next_index: u64,
}

/// A replica's complete state, sent at least every 250 ms so that a console
/// attaching mid-run is complete within a second.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub role: RoleName,
    pub term: u64,
    pub leader: String,
    pub last_index: u64,
    pub last_term: u64,
    pub commit_index: u64,
    pub applied_index: u64,
    /// Leader only: each follower's progress.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub followers: Vec<FollowerProgress>,
    /// Packets sent and received since start, by message `type`.
    pub sent: BTreeMap<String, u64>,
    pub received: BTreeMap<String, u64>,
    /// Packets that did not decode.
    pub malformed: u64,
    /// Events this replica could not deliver since start.
    pub events_dropped: u64,
}

/// Packets routed in one traffic window with the same source, destination,
/// type and fate.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct TrafficRow {
    pub src: String,
    pub dst: String,
    #[serde(rename = "type")]
    pub msg_type: String,
    pub fate: Fate,
    pub count: u64,
}

/// One correctness check of the simulator's verdict.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    #[serde(default)]
    pub detail: String,
}

/// One performance metric and its tier.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct TierResult {
    /// `total_msgs`, `failures`, `duplicates` or `median_latency`.
    pub metric: String,
    pub value: f64,
    pub thresholds: Vec<f64>,
    /// `Bonus`, `Passed`, `Partial credit` or `Failed`.
    pub tier: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    // ---- from replicas ----------------------------------------------
    Start {
        id: String,
        peers: Vec<String>,
        pid: u32,
        /// `classic` or `udp`.
        transport: String,
        /// Every knob's effective value in `--tune` syntax, by name.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        config: BTreeMap<String, String>,
        /// The knobs set away from their defaults, as one `--tune`
        /// string; empty when all are defaults.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        tuned: String,
    },
    Role {
        role: RoleName,
        term: u64,
        leader: String,
        reason: RoleReason,
    },
    Vote {
        candidate: String,
        term: u64,
        granted: bool,
        pre: bool,
    },
    LogAppended {
        last_index: u64,
        last_term: u64,
    },
    Commit {
        commit_index: u64,
        applied_index: u64,
    },
    Progress {
        followers: Vec<FollowerProgress>,
    },
    ClientRequest {
        mid: String,
        client: String,
        op: Op,
    },
    ClientAnswer {
        mid: String,
        client: String,
        op: Op,
        outcome: Outcome,
        /// From arrival at this replica to the answer; absent when this
        /// replica did not receive the request (a new leader answering a
        /// put it inherited).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_us: Option<u64>,
    },
    Status(Status),
    Stop {
        reason: String,
    },

    // ---- from the simulator -------------------------------------------
    RunStart {
        /// The config's path or name.
        config: String,
        seed: u64,
        replicas: Vec<String>,
        clients: Vec<String>,
        transport: String,
        /// Seconds the run lasts.
        lifetime: f64,
        /// The config object itself.
        #[serde(default)]
        settings: serde_json::Value,
    },
    RequestSent {
        mid: String,
        client: String,
        op: Op,
        key: String,
        /// The replica it was sent to (`FFFF` if none was alive).
        target: String,
    },
    RequestAnswered {
        mid: String,
        client: String,
        op: Op,
        outcome: Outcome,
        /// Client-observed: from sending to receiving the answer.
        latency_us: u64,
        replica: String,
    },
    Kill {
        replica: String,
        /// Killed as the leader (`kill_leader`) or not.
        leader: bool,
    },
    /// A killed replica started again (run.py's `restart` and
    /// `kill_restart` events): the same id, socket and data dir. Its own
    /// `start` follows, with a new pid. Added within version 1: a reader
    /// that predates it counts it as an unknown kind and skips it.
    Restart {
        replica: String,
    },
    Partition {
        majority: Vec<String>,
        minority: Vec<String>,
        /// `part_hard` (random majority) rather than `part_easy`.
        hard: bool,
    },
    PartitionHealed {},
    Traffic {
        /// The window's length; it ends at `ts`.
        window_us: u64,
        /// The leader the simulator believes in at the window's end.
        leader: String,
        rows: Vec<TrafficRow>,
    },
    RunEnd {
        passed: bool,
        /// Every statistic of the report, by the JSON results' names.
        stats: BTreeMap<String, f64>,
        checks: Vec<CheckResult>,
        tiers: Vec<TierResult>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        linearizable: Option<bool>,
    },

    /// Any kind this version does not know; [`DashEvent::parse`] rejects it.
    #[serde(other)]
    Unknown,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Event> {
        let fp = FollowerProgress {
            id: "0001".into(),
            match_index: 9,
            next_index: 10,
        };
        let counts: BTreeMap<String, u64> = [("append".to_string(), 4u64)].into_iter().collect();
        vec![
            Event::Start {
                id: "0000".into(),
                peers: vec!["0001".into()],
                pid: 42,
                transport: "classic".into(),
                config: [("heartbeat".to_string(), "300ms".to_string())]
                    .into_iter()
                    .collect(),
                tuned: "heartbeat=300ms".into(),
            },
            Event::Role {
                role: RoleName::Leader,
                term: 3,
                leader: "0000".into(),
                reason: RoleReason::WonElection,
            },
            Event::Vote {
                candidate: "0001".into(),
                term: 3,
                granted: true,
                pre: false,
            },
            Event::LogAppended {
                last_index: 10,
                last_term: 3,
            },
            Event::Commit {
                commit_index: 9,
                applied_index: 9,
            },
            Event::Progress {
                followers: vec![fp.clone()],
            },
            Event::ClientRequest {
                mid: "M".into(),
                client: "0015".into(),
                op: Op::Get,
            },
            Event::ClientAnswer {
                mid: "M".into(),
                client: "0015".into(),
                op: Op::Put,
                outcome: Outcome::Ok,
                latency_us: Some(120),
            },
            Event::Status(Status {
                role: RoleName::Follower,
                term: 3,
                leader: "0000".into(),
                last_index: 10,
                last_term: 3,
                commit_index: 9,
                applied_index: 9,
                followers: vec![fp],
                sent: counts.clone(),
                received: counts,
                malformed: 0,
                events_dropped: 2,
            }),
            Event::Stop {
                reason: "signal".into(),
            },
            Event::RunStart {
                config: "configs/simple-1.json".into(),
                seed: 7,
                replicas: vec!["0000".into()],
                clients: vec!["0015".into()],
                transport: "classic".into(),
                lifetime: 30.0,
                settings: serde_json::json!({"replicas": 5}),
            },
            Event::RequestSent {
                mid: "M".into(),
                client: "0015".into(),
                op: Op::Put,
                key: "K".into(),
                target: "0001".into(),
            },
            Event::RequestAnswered {
                mid: "M".into(),
                client: "0015".into(),
                op: Op::Put,
                outcome: Outcome::Redirect,
                latency_us: 300,
                replica: "0001".into(),
            },
            Event::Kill {
                replica: "0001".into(),
                leader: true,
            },
            Event::Restart {
                replica: "0001".into(),
            },
            Event::Partition {
                majority: vec!["0000".into()],
                minority: vec!["0001".into()],
                hard: false,
            },
            Event::PartitionHealed {},
            Event::Traffic {
                window_us: 100_000,
                leader: "0000".into(),
                rows: vec![TrafficRow {
                    src: "0000".into(),
                    dst: "0001".into(),
                    msg_type: "append".into(),
                    fate: Fate::Dropped,
                    count: 3,
                }],
            },
            Event::RunEnd {
                passed: true,
                stats: [("total_msgs".to_string(), 370.0)].into_iter().collect(),
                checks: vec![CheckResult {
                    name: "incorrect".into(),
                    passed: true,
                    detail: String::new(),
                }],
                tiers: vec![TierResult {
                    metric: "total_msgs".into(),
                    value: 370.0,
                    thresholds: vec![1000.0, 2000.0, 3000.0],
                    tier: "Bonus".into(),
                }],
                linearizable: Some(true),
            },
        ]
    }

    #[test]
    fn every_kind_round_trips_through_a_line() {
        for (i, event) in samples().into_iter().enumerate() {
            let ev = DashEvent::new(1_700_000_000_000_000 + i as u64, "0000", event);
            let line = ev.to_line();
            assert!(!line.contains('\n'));
            assert_eq!(DashEvent::parse(&line), Ok(ev), "{line}");
        }
    }

    #[test]
    fn the_reader_checks_the_version_and_the_kind() {
        let line = r#"{"v":2,"ts":1,"src":"sim","kind":"kill","replica":"0001","leader":true}"#;
        assert_eq!(DashEvent::parse(line), Err(EventError::Version(2)));
        let line = r#"{"v":1,"ts":1,"src":"sim","kind":"teleport"}"#;
        assert_eq!(DashEvent::parse(line), Err(EventError::UnknownKind));
        for bad in [
            "",
            "{",
            "[]",
            r#"{"v":1}"#,
            r#"{"v":1,"ts":1,"src":"sim","kind":"kill"}"#,
        ] {
            assert!(
                matches!(DashEvent::parse(bad), Err(EventError::Malformed(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_restart_reads_and_writes_as_the_simulator_sends_it() {
        let line = r#"{"v":1,"ts":1764032404000000,"src":"sim","kind":"restart","replica":"0001"}"#;
        let ev = DashEvent::parse(line).unwrap();
        assert_eq!(
            ev,
            DashEvent::new(
                1_764_032_404_000_000,
                SIM_SOURCE,
                Event::Restart {
                    replica: "0001".into()
                }
            )
        );
        assert_eq!(ev.to_line(), line);
        // Its version is checked first, as for every kind; without its
        // replica it is malformed, not unknown.
        let v2 = line.replace(r#""v":1"#, r#""v":2"#);
        assert_eq!(DashEvent::parse(&v2), Err(EventError::Version(2)));
        let bare = r#"{"v":1,"ts":1,"src":"sim","kind":"restart"}"#;
        assert!(matches!(
            DashEvent::parse(bare),
            Err(EventError::Malformed(_))
        ));
    }

    #[test]
    fn the_socket_path_follows_the_documented_order() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                vars.iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            default_socket_path(
                env(&[("KVDASH_SOCKET", "/x.sock"), ("XDG_RUNTIME_DIR", "/run")]),
                5
            ),
            PathBuf::from("/x.sock")
        );
        assert_eq!(
            default_socket_path(env(&[("XDG_RUNTIME_DIR", "/run/user/5")]), 5),
            PathBuf::from("/run/user/5/kvdash.sock")
        );
        assert_eq!(
            default_socket_path(env(&[]), 5),
            PathBuf::from("/tmp/kvdash-5.sock")
        );
    }
}
