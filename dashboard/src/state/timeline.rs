//! The leader timeline: for each replica a lane of role segments over time,
//! plus cluster-wide markers (elections, leader changes, kills, restarts,
//! partitions).
//!
//! Two sets of lanes are kept: the replicas' own (from their `role`,
//! `status` and `stop` events) and the simulator's view (from the leader
//! belief in its `traffic` events and its `kill` and `restart` events), so
//! that the timeline works for a replica that emits nothing.

use std::collections::BTreeMap;

use shared::events::RoleName;

use super::ring::Ring;

/// Role segments kept per lane.
pub const LANE_CAP: usize = 4096;
/// Markers kept.
pub const MARKER_CAP: usize = 4096;
/// Partitions kept.
pub const PARTITION_CAP: usize = 512;

/// What a lane shows at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LaneRole {
    /// Nothing known.
    Unknown,
    Follower,
    PreCandidate,
    Candidate,
    Leader,
    /// Killed or stopped.
    Dead,
}

impl LaneRole {
    pub fn from_role(r: RoleName) -> LaneRole {
        match r {
            RoleName::Follower => LaneRole::Follower,
            RoleName::PreCandidate => LaneRole::PreCandidate,
            RoleName::Candidate => LaneRole::Candidate,
            RoleName::Leader => LaneRole::Leader,
        }
    }

    /// Which role wins when several share one column of the timeline:
    /// the rarer, more interesting one.
    pub fn weight(self) -> u8 {
        match self {
            LaneRole::Unknown => 0,
            LaneRole::Follower => 1,
            LaneRole::Dead => 2,
            LaneRole::PreCandidate => 3,
            LaneRole::Candidate => 4,
            LaneRole::Leader => 5,
        }
    }
}

/// From `from` on (until the next segment), the lane shows `role` in `term`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub from: u64,
    pub role: LaneRole,
    pub term: u64,
}

#[derive(Debug, Clone)]
pub struct Lane {
    pub segments: Ring<Segment>,
}

impl Default for Lane {
    fn default() -> Self {
        Lane {
            segments: Ring::new(LANE_CAP),
        }
    }
}

impl Lane {
    /// Records that from `ts` on the lane shows `role`. Out-of-order
    /// reports are clamped to the last segment's start, and a late report
    /// from before a death does not bring the replica back.
    pub fn set(&mut self, ts: u64, role: LaneRole, term: u64) {
        if let Some(last) = self.segments.last_mut() {
            if last.role == role && last.term == term {
                return;
            }
            if last.role == LaneRole::Dead && role != LaneRole::Dead && ts <= last.from {
                return;
            }
            if ts <= last.from {
                // Same instant (or late): the newer report wins.
                last.role = role;
                last.term = term;
                return;
            }
        }
        self.segments.push(Segment {
            from: ts,
            role,
            term,
        });
    }

    pub fn current(&self) -> Option<Segment> {
        self.segments.last().copied()
    }

    /// The segment in force at `ts`.
    pub fn at(&self, ts: u64) -> Option<Segment> {
        let i = self.segments.partition_point(|s| s.from <= ts);
        if i == 0 {
            None
        } else {
            self.segments.get(i - 1).copied()
        }
    }

    /// The most significant role shown during `[from, to)` (see
    /// [`LaneRole::weight`]), with the highest term seen then.
    pub fn dominant(&self, from: u64, to: u64) -> Option<Segment> {
        let mut best = self.at(from);
        let start = self.segments.partition_point(|s| s.from <= from);
        for s in self.segments.iter().skip(start) {
            if s.from >= to {
                break;
            }
            best = match best {
                Some(b) if b.role.weight() >= s.role.weight() => Some(Segment {
                    term: b.term.max(s.term),
                    ..b
                }),
                _ => Some(*s),
            };
        }
        best
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MarkerKind {
    /// A replica started a real election (after winning a pre-vote).
    Election {
        candidate: String,
    },
    /// A new leader: won an election (replica view) or newly believed by
    /// the simulator (simulator view only).
    Leader {
        leader: String,
    },
    /// The simulator killed a replica.
    Kill {
        replica: String,
        leader: bool,
    },
    /// The simulator started a killed replica again.
    Restart {
        replica: String,
    },
    /// A replica stopped by itself (or was killed by a simulator that does
    /// not report).
    Stop {
        replica: String,
    },
    Partition,
    Heal,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub ts: u64,
    pub term: u64,
    pub kind: MarkerKind,
}

/// One partition: from `from` until `to` (open while `None`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionSpan {
    pub from: u64,
    pub to: Option<u64>,
    pub majority: Vec<String>,
    pub minority: Vec<String>,
    pub hard: bool,
}

#[derive(Debug, Clone)]
pub struct Timeline {
    /// The replicas' own view, by id.
    pub lanes: BTreeMap<String, Lane>,
    /// The simulator's view, by id.
    pub sim_lanes: BTreeMap<String, Lane>,
    pub markers: Ring<Marker>,
    pub partitions: Ring<PartitionSpan>,
    /// The highest term an election marker was placed for.
    election_term: u64,
    /// The last leader marked, and its term.
    marked_leader: Option<(String, u64)>,
}

impl Default for Timeline {
    fn default() -> Self {
        Timeline {
            lanes: BTreeMap::new(),
            sim_lanes: BTreeMap::new(),
            markers: Ring::new(MARKER_CAP),
            partitions: Ring::new(PARTITION_CAP),
            election_term: 0,
            marked_leader: None,
        }
    }
}

impl Timeline {
    pub fn mark(&mut self, ts: u64, term: u64, kind: MarkerKind) {
        self.markers.push(Marker { ts, term, kind });
    }

    /// A replica's own role report.
    pub fn replica_role(&mut self, ts: u64, id: &str, role: RoleName, term: u64) {
        self.lanes
            .entry(id.to_string())
            .or_default()
            .set(ts, LaneRole::from_role(role), term);
        match role {
            RoleName::Candidate if term > self.election_term => {
                self.election_term = term;
                self.mark(
                    ts,
                    term,
                    MarkerKind::Election {
                        candidate: id.to_string(),
                    },
                );
            }
            RoleName::Leader => self.leader_seen(ts, id, term),
            _ => {}
        }
    }

    fn leader_seen(&mut self, ts: u64, id: &str, term: u64) {
        let same = self
            .marked_leader
            .as_ref()
            .is_some_and(|(l, t)| l == id && *t == term);
        if !same {
            self.marked_leader = Some((id.to_string(), term));
            self.mark(
                ts,
                term,
                MarkerKind::Leader {
                    leader: id.to_string(),
                },
            );
        }
    }

    pub fn replica_down(&mut self, ts: u64, id: &str) {
        let lane = self.lanes.entry(id.to_string()).or_default();
        let term = lane.current().map_or(0, |s| s.term);
        lane.set(ts, LaneRole::Dead, term);
    }

    /// The simulator's leader belief changed to `leader` (`FFFF`: none).
    /// `mark` places a leader marker (when replicas do not report).
    pub fn sim_leader(&mut self, ts: u64, old: &str, leader: &str, mark: bool) {
        if let Some(lane) = self.sim_lanes.get_mut(old) {
            if lane.current().is_some_and(|s| s.role == LaneRole::Leader) {
                lane.set(ts, LaneRole::Follower, 0);
            }
        }
        if let Some(lane) = self.sim_lanes.get_mut(leader) {
            if lane.current().is_none_or(|s| s.role != LaneRole::Dead) {
                lane.set(ts, LaneRole::Leader, 0);
                if mark {
                    self.leader_seen(ts, leader, 0);
                }
            }
        }
    }

    pub fn sim_replicas(&mut self, ts: u64, ids: &[String]) {
        for id in ids {
            self.sim_lanes
                .entry(id.clone())
                .or_default()
                .set(ts, LaneRole::Follower, 0);
        }
    }

    pub fn sim_kill(&mut self, ts: u64, id: &str) {
        self.sim_lanes
            .entry(id.to_string())
            .or_default()
            .set(ts, LaneRole::Dead, 0);
    }

    /// A restarted replica starts as a follower, in the simulator's view.
    pub fn sim_restart(&mut self, ts: u64, id: &str) {
        self.sim_lanes
            .entry(id.to_string())
            .or_default()
            .set(ts, LaneRole::Follower, 0);
    }

    pub fn partition(&mut self, ts: u64, majority: &[String], minority: &[String], hard: bool) {
        self.heal(ts, false);
        self.partitions.push(PartitionSpan {
            from: ts,
            to: None,
            majority: majority.to_vec(),
            minority: minority.to_vec(),
            hard,
        });
        self.mark(ts, 0, MarkerKind::Partition);
    }

    /// Ends the open partition; `mark` places a heal marker.
    pub fn heal(&mut self, ts: u64, mark: bool) {
        if let Some(p) = self.partitions.last_mut() {
            if p.to.is_none() {
                p.to = Some(ts.max(p.from));
            }
        }
        if mark {
            self.mark(ts, 0, MarkerKind::Heal);
        }
    }

    /// Whether `id` was cut off on the minority side at some moment in
    /// `[from, to)`.
    pub fn cut_off(&self, id: &str, from: u64, to: u64) -> bool {
        self.partitions.iter().rev().any(|p| {
            p.from < to && p.to.is_none_or(|end| end > from) && p.minority.iter().any(|m| m == id)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lane_answers_what_it_showed_at_any_moment() {
        let mut lane = Lane::default();
        lane.set(10, LaneRole::Follower, 1);
        lane.set(20, LaneRole::Candidate, 2);
        lane.set(25, LaneRole::Leader, 2);
        assert_eq!(lane.at(5), None);
        assert_eq!(lane.at(19).unwrap().role, LaneRole::Follower);
        assert_eq!(lane.at(30).unwrap().role, LaneRole::Leader);
        // A column spanning the short candidacy shows the leader it became.
        assert_eq!(lane.dominant(15, 30).unwrap().role, LaneRole::Leader);
        assert_eq!(lane.dominant(15, 22).unwrap().role, LaneRole::Candidate);
    }

    #[test]
    fn a_late_report_does_not_bring_a_dead_replica_back() {
        let mut lane = Lane::default();
        lane.set(10, LaneRole::Leader, 3);
        lane.set(20, LaneRole::Dead, 3);
        lane.set(15, LaneRole::Leader, 3);
        assert_eq!(lane.current().unwrap().role, LaneRole::Dead);
        lane.set(30, LaneRole::Follower, 4);
        assert_eq!(lane.current().unwrap().role, LaneRole::Follower);
    }

    #[test]
    fn one_election_marker_per_term_and_one_leader_marker_per_leader_and_term() {
        let mut t = Timeline::default();
        t.replica_role(1, "0000", RoleName::Candidate, 2);
        t.replica_role(2, "0001", RoleName::Candidate, 2);
        t.replica_role(3, "0000", RoleName::Leader, 2);
        t.replica_role(4, "0000", RoleName::Leader, 2);
        let kinds: Vec<_> = t.markers.iter().map(|m| m.kind.clone()).collect();
        assert_eq!(
            kinds,
            vec![
                MarkerKind::Election {
                    candidate: "0000".into()
                },
                MarkerKind::Leader {
                    leader: "0000".into()
                }
            ]
        );
    }
}
