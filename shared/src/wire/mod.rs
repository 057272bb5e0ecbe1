//! Wire messages: one JSON object per packet.
//!
//! Every packet carries `src`, `dst`, `leader` (4 hex digits each, `FFFF`
//! meaning broadcast or unknown) and `type`. Client messages (`get`, `put`,
//! `ok`, `fail`, `redirect`) follow the simulator contract exactly; the Raft
//! messages are ours, with short field names to keep packets small (the
//! classic simulator cuts packets at 16 KiB).

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

mod decode;

/// A simulator address: exactly four hexadecimal digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(pub u16);

impl Addr {
    /// `FFFF`: broadcast as a destination, "unknown" as a leader belief.
    pub const BROADCAST: Addr = Addr(0xFFFF);
    /// `FFFF` read as a leader belief.
    pub const UNKNOWN: Addr = Addr(0xFFFF);

    /// Parses exactly four hexadecimal digits (either case).
    pub fn parse(s: &str) -> Result<Addr, AddrError> {
        if s.len() != 4 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(AddrError(s.chars().take(16).collect()));
        }
        u16::from_str_radix(s, 16)
            .map(Addr)
            .map_err(|_| AddrError(s.to_string()))
    }

    pub fn is_broadcast(self) -> bool {
        self == Addr::BROADCAST
    }

    /// The four upper-case hex digits. Every packet carries three or more
    /// addresses; this is cheaper than the formatting machinery.
    fn digits(self) -> [u8; 4] {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let d = |shift: u16| HEX[usize::from((self.0 >> shift) & 0xF)];
        [d(12), d(8), d(4), d(0)]
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.digits();
        f.pad(std::str::from_utf8(&digits).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for Addr {
    type Err = AddrError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Addr::parse(s)
    }
}

/// A string that is not a 4-hex-digit address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddrError(pub String);

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not a 4-hex-digit address: {:?}", self.0)
    }
}

impl std::error::Error for AddrError {}

impl Serialize for Addr {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let digits = self.digits();
        s.serialize_str(std::str::from_utf8(&digits).expect("hex digits are ASCII"))
    }
}

impl<'de> Deserialize<'de> for Addr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Addr::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// One packet. Read by the single-pass decoder in `decode.rs`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub src: Addr,
    pub dst: Addr,
    /// The sender's current belief of who leads (`FFFF`: unknown).
    pub leader: Addr,
    #[serde(flatten)]
    pub body: Body,
}

/// The message itself, tagged by `type`.
#[derive(Serialize, Debug, Clone, PartialEq, Eq)]
#[serde(tag = "type")]
pub enum Body {
    /// UDP generation: a replica's first packet, so the simulator learns its address.
    #[serde(rename = "hello")]
    Hello,
    #[serde(rename = "get")]
    Get {
        #[serde(rename = "MID")]
        mid: String,
        key: String,
    },
    #[serde(rename = "put")]
    Put {
        #[serde(rename = "MID")]
        mid: String,
        key: String,
        value: String,
    },
    #[serde(rename = "ok")]
    Ok {
        #[serde(rename = "MID")]
        mid: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    #[serde(rename = "fail")]
    Fail {
        #[serde(rename = "MID")]
        mid: String,
    },
    #[serde(rename = "redirect")]
    Redirect {
        #[serde(rename = "MID")]
        mid: String,
    },
    #[serde(rename = "vote")]
    RequestVote(RequestVote),
    #[serde(rename = "voted")]
    VoteReply(VoteReply),
    #[serde(rename = "append")]
    AppendEntries(AppendEntries),
    #[serde(rename = "appended")]
    AppendReply(AppendReply),
    #[serde(rename = "ping")]
    Ping(Ping),
    #[serde(rename = "snapshot")]
    InstallSnapshot(InstallSnapshot),
    #[serde(rename = "snapshot_ack")]
    SnapshotAck(SnapshotAck),
}

impl Body {
    /// The `type` string this body travels under.
    pub fn type_name(&self) -> &'static str {
        match self {
            Body::Hello => "hello",
            Body::Get { .. } => "get",
            Body::Put { .. } => "put",
            Body::Ok { .. } => "ok",
            Body::Fail { .. } => "fail",
            Body::Redirect { .. } => "redirect",
            Body::RequestVote(_) => "vote",
            Body::VoteReply(_) => "voted",
            Body::AppendEntries(_) => "append",
            Body::AppendReply(_) => "appended",
            Body::Ping(_) => "ping",
            Body::InstallSnapshot(_) => "snapshot",
            Body::SnapshotAck(_) => "snapshot_ack",
        }
    }
}

/// A follower that holds client requests because it has not heard from
/// its leader lately asks it for a word: the leader answers with an
/// AppendEntries at once (a follower that is only sent entries with its
/// heartbeats would otherwise wait up to its whole heartbeat interval).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ping {
    #[serde(rename = "t")]
    pub term: u64,
}

/// InstallSnapshot (Raft §7), in chunks: a follower that needs entries
/// the leader has compacted away gets the store as of (`index`,
/// `last_term`) instead, `chunks` packets of key-value pairs, each under the
/// packet cap. The follower acknowledges each with the next chunk it wants,
/// so a lost one is simply sent again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct InstallSnapshot {
    #[serde(rename = "t")]
    pub term: u64,
    /// The last log index the snapshot covers, and that entry's term.
    #[serde(rename = "i")]
    pub index: u64,
    #[serde(rename = "lt")]
    pub last_term: u64,
    /// This chunk's number, from 0, of `chunks`.
    #[serde(rename = "n")]
    pub chunk: u64,
    #[serde(rename = "of")]
    pub chunks: u64,
    #[serde(rename = "kv", default, skip_serializing_if = "Vec::is_empty")]
    pub pairs: Vec<(String, String)>,
    /// The terms of the log the snapshot covers, as (first index, term)
    /// runs, the newest at least (after all the pairs).
    #[serde(rename = "tr", default, skip_serializing_if = "Vec::is_empty")]
    pub terms: Vec<(u64, u64)>,
    pub ts: u64,
}

/// The answer to a snapshot chunk: the next chunk the follower wants
/// (`chunks` once it has installed the snapshot).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotAck {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "i")]
    pub index: u64,
    #[serde(rename = "n")]
    pub next: u64,
    pub ts: u64,
}

/// RequestVote (Raft §5.2), also used for the pre-vote round (thesis §9.6):
/// with `pre`, `term` is the term the candidate would campaign in and the
/// receiver changes no state.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestVote {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "li")]
    pub last_index: u64,
    #[serde(rename = "lt")]
    pub last_term: u64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct VoteReply {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "g")]
    pub granted: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub pre: bool,
}

/// AppendEntries (Raft §5.3). `ts` is an opaque leader timestamp that the
/// follower echoes, so the leader knows when a quorum last confirmed it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct AppendEntries {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "pi")]
    pub prev_index: u64,
    #[serde(rename = "pt")]
    pub prev_term: u64,
    #[serde(rename = "c")]
    pub commit: u64,
    pub ts: u64,
    /// The longest the leader means to leave this follower without an
    /// AppendEntries, when longer than the standard heartbeat (0): a
    /// follower that gets entries only with its heartbeats is sent fewer,
    /// and waits that much longer before it suspects the leader.
    #[serde(rename = "hb", default, skip_serializing_if = "is_zero")]
    pub heartbeat: u64,
    #[serde(rename = "e", default, skip_serializing_if = "Vec::is_empty")]
    pub entries: Vec<Entry>,
    /// Relay: once it has appended the entries, the follower passes this
    /// AppendEntries on to `relay_to` instead of answering, and that
    /// follower answers the leader for both (three messages where two
    /// round trips take four).
    #[serde(rename = "rt", default, skip_serializing_if = "Option::is_none")]
    pub relay_to: Option<Addr>,
    /// Set by the follower that relays it.
    #[serde(rename = "rl", default, skip_serializing_if = "Option::is_none")]
    pub relayed: Option<Relayed>,
}

/// What a relaying follower adds to the AppendEntries it passes on: who
/// leads (the packet comes from the relayer) and the last index the
/// relayer now shares with the leader.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relayed {
    #[serde(rename = "l")]
    pub leader: Addr,
    #[serde(rename = "i")]
    pub index: u64,
}

/// In the answer to a relayed AppendEntries: the relayer's acknowledgement
/// (the last index it shares with the leader, in the reply's term).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayAck {
    #[serde(rename = "f")]
    pub from: Addr,
    #[serde(rename = "i")]
    pub index: u64,
}

/// The answer to AppendEntries. On success `index` is the last index the
/// follower now shares with the leader; on failure it is where the leader
/// should retry from, and `ct` the conflicting term (fast backtracking).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendReply {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "ok")]
    pub success: bool,
    #[serde(rename = "i")]
    pub index: u64,
    #[serde(rename = "ct", default, skip_serializing_if = "Option::is_none")]
    pub conflict_term: Option<u64>,
    pub ts: u64,
    /// The follower's commit index once it has handled the AppendEntries
    /// (0: not said). It has answered every put it owed up to there,
    /// before this reply: a new leader that inherited such a put learns
    /// that its owner, alive, has answered it.
    #[serde(rename = "c", default, skip_serializing_if = "is_zero")]
    pub commit: u64,
    /// Answering a relayed AppendEntries: the relayer's acknowledgement.
    #[serde(rename = "ra", default, skip_serializing_if = "Option::is_none")]
    pub relay_ack: Option<RelayAck>,
}

/// A log entry: a no-op (written by every new leader) or a client put.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    #[serde(rename = "t")]
    pub term: u64,
    #[serde(rename = "p", default, skip_serializing_if = "Option::is_none")]
    pub put: Option<PutCmd>,
}

/// A client's put, with who asked so that any later leader can answer it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct PutCmd {
    #[serde(rename = "k")]
    pub key: String,
    #[serde(rename = "v")]
    pub value: String,
    #[serde(rename = "c")]
    pub client: Addr,
    #[serde(rename = "m")]
    pub mid: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(m: &Message) {
        let s = serde_json::to_string(m).unwrap();
        let back: Message = serde_json::from_str(&s).unwrap();
        assert_eq!(&back, m, "round trip of {s}");
    }

    #[test]
    fn client_messages_use_the_contract_field_names() {
        let m: Message = serde_json::from_str(
            r#"{"src":"0015","dst":"0001","leader":"FFFF","type":"put","MID":"ABC","key":"k","value":"v","extra":1}"#,
        )
        .unwrap();
        assert_eq!(m.src, Addr(0x15));
        assert_eq!(
            m.body,
            Body::Put {
                mid: "ABC".into(),
                key: "k".into(),
                value: "v".into()
            }
        );
        let ok = Message {
            src: Addr(1),
            dst: Addr(0x15),
            leader: Addr(1),
            body: Body::Ok {
                mid: "ABC".into(),
                value: None,
            },
        };
        assert_eq!(
            serde_json::to_string(&ok).unwrap(),
            r#"{"src":"0001","dst":"0015","leader":"0001","type":"ok","MID":"ABC"}"#
        );
    }

    #[test]
    fn every_body_round_trips() {
        let bodies = vec![
            Body::Hello,
            Body::Get {
                mid: "M".into(),
                key: "k".into(),
            },
            Body::Put {
                mid: "M".into(),
                key: "k".into(),
                value: "v".into(),
            },
            Body::Ok {
                mid: "M".into(),
                value: Some("v".into()),
            },
            Body::Fail { mid: "M".into() },
            Body::Redirect { mid: "M".into() },
            Body::RequestVote(RequestVote {
                term: 3,
                last_index: 9,
                last_term: 2,
                pre: true,
            }),
            Body::VoteReply(VoteReply {
                term: 3,
                granted: true,
                pre: false,
            }),
            Body::AppendEntries(AppendEntries {
                term: 3,
                prev_index: 4,
                prev_term: 2,
                commit: 4,
                ts: 77,
                heartbeat: 900_000,
                entries: vec![
                    Entry { term: 3, put: None },
                    Entry {
                        term: 3,
                        put: Some(PutCmd {
                            key: "k".into(),
                            value: "v".into(),
                            client: Addr(0x15),
                            mid: "M".into(),
                        }),
                    },
                ],
                relay_to: None,
                relayed: None,
            }),
            Body::AppendReply(AppendReply {
                term: 3,
                success: false,
                index: 2,
                conflict_term: Some(1),
                ts: 77,
                commit: 0,
                relay_ack: None,
            }),
            Body::AppendEntries(AppendEntries {
                term: 3,
                prev_index: 4,
                prev_term: 2,
                commit: 4,
                ts: 77,
                heartbeat: 0,
                entries: vec![Entry { term: 3, put: None }],
                relay_to: Some(Addr(3)),
                relayed: Some(Relayed {
                    leader: Addr(1),
                    index: 5,
                }),
            }),
            Body::AppendReply(AppendReply {
                term: 3,
                success: true,
                index: 5,
                conflict_term: None,
                ts: 77,
                commit: 4,
                relay_ack: Some(RelayAck {
                    from: Addr(2),
                    index: 5,
                }),
            }),
            Body::Ping(Ping { term: 4 }),
            Body::InstallSnapshot(InstallSnapshot {
                term: 4,
                index: 900,
                last_term: 3,
                chunk: 1,
                chunks: 3,
                pairs: vec![("k".into(), "v\"\u{1}".into()), ("".into(), "".into())],
                terms: vec![(1, 1), (40, 3)],
                ts: 5,
            }),
            Body::InstallSnapshot(InstallSnapshot {
                term: 4,
                index: 900,
                last_term: 3,
                chunk: 0,
                chunks: 1,
                pairs: vec![],
                terms: vec![],
                ts: 5,
            }),
            Body::SnapshotAck(SnapshotAck {
                term: 4,
                index: 900,
                next: 2,
                ts: 5,
            }),
        ];
        for body in bodies {
            roundtrip(&Message {
                src: Addr(0),
                dst: Addr::BROADCAST,
                leader: Addr(2),
                body,
            });
        }
    }

    #[test]
    fn addresses_must_be_exactly_four_hex_digits() {
        for bad in ["", "001", "00001", "00G1", "-001", "0x01"] {
            assert!(Addr::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(Addr::parse("00ff").unwrap(), Addr(0xFF));
        for a in [0u16, 0x9, 0xA, 0x15, 0xABCD, 0xFFFF] {
            assert_eq!(Addr(a).to_string(), format!("{a:04X}"));
            assert_eq!(
                serde_json::to_string(&Addr(a)).unwrap(),
                format!("\"{a:04X}\"")
            );
        }
        assert_eq!(format!("[{:>6}]", Addr(0x15)), "[  0015]");
        let bad = r#"{"src":"1","dst":"0001","leader":"FFFF","type":"get","MID":"A","key":"k"}"#;
        assert!(serde_json::from_str::<Message>(bad).is_err());
    }

    #[test]
    fn malformed_packets_are_errors_not_panics() {
        for bad in [
            "",
            "null",
            "[]",
            "{}",
            r#"{"src":"0001","dst":"0002","leader":"FFFF"}"#,
            r#"{"src":"0001","dst":"0002","leader":"FFFF","type":"nope"}"#,
            r#"{"src":"0001","dst":"0002","leader":"FFFF","type":"get","MID":5,"key":"k"}"#,
            r#"{"src":"0001","dst":"0002","leader":"FFFF","type":"append","t":-1}"#,
        ] {
            assert!(
                serde_json::from_str::<Message>(bad).is_err(),
                "{bad:?} accepted"
            );
        }
    }
}
