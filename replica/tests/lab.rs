//! Counterparts of the 6.824/6.5840-style lab tests (Raft 2A, 2B, 2C and
//! 2D, the key-value service 3A and 3B), each named after the lab test it stands for
//! and swept over many seeds in the deterministic simulator. The mapping,
//! and what each checks, is in `docs/LAB_TESTS.md`.
//!
//! The lab drives Raft instances directly (`Start`, `disconnect`,
//! `crash1`, `start1`); here a test drives a simulated world step by step
//! (`sim/lab.rs`): a lab "command" is a put sent by a simulated client, a
//! disconnect cuts a replica off from the other replicas (clients still
//! reach it), a crash kills a replica whose disk survives and a restart
//! brings it back from that disk. Every step still goes through the
//! scenario runner's checks (Raft safety, one vote per replica per term,
//! no stale reads), and every run ends with its end checks (the clients'
//! history must be linearizable). Times are in units of the election
//! timeout (`et`, its minimum; `et_max`, its maximum); half of the seeds
//! use a fast timing in which network delays are a sizeable part of it.
//!
//! `SIM_SEEDS=500 cargo test --release -p replica --test lab` sweeps more
//! seeds; `SEED=7 cargo test -p replica --test lab -- --exact rejoin_2b`
//! replays one with a trace of the last events. Each test prints a
//! summary line (with `-- --nocapture`), including the figures it bounds.

#[allow(dead_code)]
mod sim;

use replica::raft::{Micros, Role};
use replica::rng::Rng;

use sim::clients::{Kind, Outcome, Workload};
use sim::lab::{sweep_lab, Cmd, Lab};
use sim::scenario::{pick_config, Scenario};
use sim::world::{Fault, Net, REJECTED_APPEND};

// ----------------------------------------------------------------------
// Worlds

/// A cluster of `n` with a reliable network and no client traffic of its
/// own: the test submits every command. Crashes may take any number of
/// replicas down (the lab's `crash1` does).
fn raft_world(rng: &mut Rng, n: usize, durable: bool) -> Scenario {
    let cfg = pick_config(rng, 0.5);
    let et = cfg.election_timeout_min;
    Scenario {
        replicas: n,
        cfg,
        net: Net {
            min_delay: 50,
            max_delay: rng.range(500, 3_000),
            drops: 0.0,
            slow_chance: 0.0,
            slow_max: et / 10,
        },
        work: Workload {
            clients: 5,
            keys: 3,
            get_fraction: 0.0,
            mean_gap: et,
            from: 0,
            until: 0,
            max_attempts: 1,
            big_values: 0.0,
        },
        faults: Vec::new(),
        fault_window: (0, 0),
        calm_from: None,
        calm_drops: 0.0,
        end: Micros::MAX,
        liveness: None,
        allow_lose_majority: true,
        sticky_clients: false,
        durable,
    }
}

/// The lab's unreliable network: a tenth of the replica packets lost,
/// longer delays, and a few packets very late.
fn unreliable(mut sc: Scenario) -> Scenario {
    let et = sc.cfg.election_timeout_min;
    sc.net.drops = 0.1;
    sc.net.max_delay = sc.net.max_delay.max(et / 40);
    sc.net.slow_chance = 0.02;
    sc.net.slow_max = et / 4;
    sc
}

/// A random replica other than those in `not`.
fn other(lab: &mut Lab, not: &[usize]) -> usize {
    let pool: Vec<usize> = (0..lab.n()).filter(|i| !not.contains(i)).collect();
    pool[lab.rng.range(0, pool.len() as u64 - 1) as usize]
}

fn expect(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond {
        Ok(())
    } else {
        Err(what())
    }
}

// ----------------------------------------------------------------------
// 2A: leader election

#[test]
fn initial_election_2a() {
    // One leader is elected; with no failure it stays, in the same term,
    // and every replica knows it.
    sweep_lab(
        "initial_election_2a",
        300,
        |rng| raft_world(rng, 3, false),
        |lab| {
            let leader = lab.check_one_leader()?;
            let hb = lab.d.world().cfg.heartbeat_interval;
            lab.wait(hb)?;
            let term1 = lab.check_terms()?;
            expect(term1 >= 1, || format!("term is {term1} after an election"))?;
            lab.wait(2 * lab.et_max())?;
            let term2 = lab.check_terms()?;
            expect(term1 == term2, || {
                format!("term changed from {term1} to {term2} with no failure")
            })?;
            let again = lab.check_one_leader()?;
            expect(again == leader, || {
                format!("leader changed from {leader} to {again} with no failure")
            })?;
            let w = lab.d.world();
            for i in 0..lab.n() {
                let belief = w.nodes[i].as_ref().and_then(|n| n.leader_belief());
                expect(belief == Some(w.ids[leader]), || {
                    format!("replica {i} believes {belief:?} leads, not {leader}")
                })?;
            }
            Ok(())
        },
    );
}

#[test]
fn re_election_2a() {
    // A new leader when the leader is cut off; the old one rejoining does
    // not unseat it; no leader among a minority; one again once a
    // majority is back.
    sweep_lab(
        "re_election_2a",
        300,
        |rng| raft_world(rng, 3, false),
        |lab| {
            let leader1 = lab.check_one_leader()?;
            lab.disconnect(leader1)?;
            let leader2 = lab.check_one_leader()?;
            expect(leader2 != leader1, || {
                "the cut-off leader still leads".into()
            })?;
            lab.reconnect(leader1)?;
            let leader3 = lab.check_one_leader()?;
            expect(leader3 == leader2, || {
                format!("the old leader {leader1} rejoining unseated {leader2} for {leader3}")
            })?;
            let next = (leader2 + 1) % 3;
            lab.disconnect(leader2)?;
            lab.disconnect(next)?;
            lab.wait(2 * lab.et_max())?;
            lab.check_no_leader()?;
            lab.reconnect(next)?;
            lab.check_one_leader()?;
            lab.reconnect(leader2)?;
            lab.check_one_leader()?;
            Ok(())
        },
    );
}

#[test]
fn many_elections_2a() {
    // Seven replicas; ten times three random ones are cut off: the four
    // left always have (or elect) one leader.
    sweep_lab(
        "many_elections_2a",
        100,
        |rng| raft_world(rng, 7, false),
        |lab| {
            lab.check_one_leader()?;
            for _ in 0..10 {
                let a = other(lab, &[]);
                let b = other(lab, &[a]);
                let c = other(lab, &[a, b]);
                for i in [a, b, c] {
                    lab.disconnect(i)?;
                }
                lab.check_one_leader()?;
                for i in [a, b, c] {
                    lab.reconnect(i)?;
                }
            }
            lab.check_one_leader()?;
            Ok(())
        },
    );
}

// ----------------------------------------------------------------------
// 2B: log replication

#[test]
fn basic_agree_2b() {
    // Nothing is applied before it is submitted; each command lands right
    // after the leader's last entry and is applied by every replica.
    sweep_lab(
        "basic_agree_2b",
        200,
        |rng| raft_world(rng, 3, false),
        |lab| {
            let leader = lab.check_one_leader()?;
            for _ in 0..3 {
                let next = lab.last_index(leader) + 1;
                let early = lab.n_committed(next);
                expect(early == 0, || {
                    format!("{early} replicas applied {next} before it was submitted")
                })?;
                let at = lab.one(3)?;
                expect(at == next, || {
                    format!("command landed at {at}, expected {next}")
                })?;
            }
            Ok(())
        },
    );
}

#[test]
fn fail_agree_2b() {
    // With one follower of three cut off, the other two still agree; the
    // follower applies none of it until it is back, then catches up.
    sweep_lab(
        "fail_agree_2b",
        200,
        |rng| raft_world(rng, 3, false),
        |lab| {
            lab.one(3)?;
            let leader = lab.check_one_leader()?;
            let f = (leader + 1) % 3;
            lab.disconnect(f)?;
            let mut last = 0;
            for round in 0..2 {
                last = lab.one(2)?;
                last = last.max(lab.one(2)?);
                if round == 0 {
                    lab.wait(lab.et())?;
                }
            }
            expect(lab.applied(f) < last, || {
                format!("cut-off replica {f} applied {}", lab.applied(f))
            })?;
            lab.reconnect(f)?;
            lab.one(3)?;
            lab.wait(lab.et())?;
            let end = lab.one(3)?;
            expect(lab.applied(f) >= end, || format!("{f} did not catch up"))?;
            Ok(())
        },
    );
}

#[test]
fn fail_no_agree_2b() {
    // With three followers of five cut off, the leader appends a command
    // but nothing commits, even after two election timeouts; once they are
    // back a leader is elected and commits again.
    sweep_lab(
        "fail_no_agree_2b",
        200,
        |rng| raft_world(rng, 5, false),
        |lab| {
            lab.one(5)?;
            let leader = lab.check_one_leader()?;
            let cut: Vec<usize> = (1..=3).map(|k| (leader + k) % 5).collect();
            for &i in &cut {
                lab.disconnect(i)?;
            }
            let expected = lab.last_index(leader) + 1;
            let committed = lab.committed_len();
            let cmd = lab.submit(Some(leader));
            lab.wait(lab.et() / 4)?;
            let at = lab.cmd_in_log(leader, &cmd);
            expect(at == Some(expected), || {
                format!("the leader holds the command at {at:?}, expected {expected}")
            })?;
            lab.wait(2 * lab.et_max())?;
            expect(
                lab.committed_len() == committed && lab.n_committed(expected) == 0,
                || {
                    format!(
                        "entry {expected} committed without a majority (committed log {} long)",
                        lab.committed_len()
                    )
                },
            )?;
            for &i in &cut {
                lab.reconnect(i)?;
            }
            lab.check_one_leader()?;
            lab.one(5)?;
            Ok(())
        },
    );
}

#[test]
fn concurrent_starts_2b() {
    // Five commands submitted at once to one leader all commit, at five
    // different indices; retried if the term changes meanwhile.
    sweep_lab(
        "concurrent_starts_2b",
        200,
        |rng| raft_world(rng, 3, false),
        |lab| {
            for _ in 0..5 {
                let leader = lab.check_one_leader()?;
                let term = lab.term(leader);
                let cmds: Vec<Cmd> = (0..5).map(|_| lab.submit(Some(leader))).collect();
                let mut at = lab.await_cmds(cmds, 3)?;
                if lab.term(leader) != term || lab.role(leader) != Some(Role::Leader) {
                    continue;
                }
                at.sort_unstable();
                at.dedup();
                return expect(at.len() == 5, || format!("five commands at {at:?}"));
            }
            Err("the term changed too often".into())
        },
    );
}

#[test]
fn rejoin_2b() {
    // A cut-off leader appends commands that cannot commit; after a new
    // leader commits others and the old one rejoins, its extra entries are
    // replaced and every log converges.
    sweep_lab(
        "rejoin_2b",
        200,
        |rng| raft_world(rng, 3, false),
        |lab| {
            lab.one(3)?;
            let leader1 = lab.check_one_leader()?;
            lab.disconnect(leader1)?;
            let stale: Vec<Cmd> = (0..3).map(|_| lab.submit(Some(leader1))).collect();
            lab.wait(lab.et() / 10)?;
            for c in &stale {
                expect(lab.cmd_in_log(leader1, c).is_some(), || {
                    "the cut-off leader did not append".into()
                })?;
            }
            lab.one(2)?;
            let leader2 = lab.check_one_leader()?;
            lab.disconnect(leader2)?;
            lab.reconnect(leader1)?;
            lab.one(2)?;
            lab.reconnect(leader2)?;
            lab.one(3)?;
            let until = lab.now() + 2 * lab.et_max();
            lab.d.run_until_or(until, converged)?;
            lab.logs_converged()?;
            for c in &stale {
                expect(lab.cmd_position(c).is_none(), || {
                    "a command only the cut-off leader held was committed".into()
                })?;
            }
            Ok(())
        },
    );
}

/// Every living replica holds the same log and applied all of it.
fn converged(d: &sim::scenario::Driver) -> bool {
    let nodes: Vec<_> = d.world().nodes.iter().flatten().collect();
    nodes.windows(2).all(|w| {
        let (a, b) = (w[0].log(), w[1].log());
        a.last_index() == b.last_index() && a.last_term() == b.last_term()
    }) && nodes
        .iter()
        .all(|n| n.applied_index() == n.log().last_index())
}

#[test]
fn backup_2b() {
    // A leader and one follower, cut off, append 50 commands; the other
    // three commit 50 of their own, then a leader of theirs appends 50
    // more it cannot commit. When the first two come back with a replica
    // holding the 50 committed ones, that replica leads and overwrites
    // their 50 stale entries: it must back up over them in a few round
    // trips, not one per entry (bounded refusals), and promptly.
    sweep_lab(
        "backup_2b",
        150,
        |rng| raft_world(rng, 5, false),
        |lab| {
            lab.one(5)?;
            let leader1 = lab.check_one_leader()?;
            let rest: Vec<usize> = (2..=4).map(|k| (leader1 + k) % 5).collect();
            for &i in &rest {
                lab.disconnect(i)?;
            }
            for _ in 0..50 {
                lab.submit(Some(leader1));
            }
            lab.wait(lab.et() / 2)?;
            lab.disconnect(leader1)?;
            lab.disconnect((leader1 + 1) % 5)?;
            for &i in &rest {
                lab.reconnect(i)?;
            }
            lab.agree(50, 3)?;
            let leader2 = lab.check_one_leader()?;
            let mut other = (leader1 + 2) % 5;
            if other == leader2 {
                other = (leader2 + 1) % 5;
            }
            lab.disconnect(other)?;
            for _ in 0..50 {
                lab.submit(Some(leader2));
            }
            lab.wait(lab.et() / 2)?;
            for i in 0..5 {
                lab.disconnect(i)?;
            }
            let refused = lab.sent(&[REJECTED_APPEND]);
            let start = lab.now();
            for i in [leader1, (leader1 + 1) % 5, other] {
                lab.reconnect(i)?;
            }
            // The first command applied by all three shows both stale
            // logs overwritten.
            lab.one(3)?;
            let refusals = lab.sent(&[REJECTED_APPEND]) - refused;
            let took = lab.now() - start;
            lab.measure("refused appends while backing up", refusals);
            lab.measure("backing up, µs", took);
            // Backing up one entry per refusal needs 50 per stale
            // follower; backing up by term, one or two each (a few more
            // when reordered AppendEntries leave gaps).
            expect(refusals <= 10, || {
                format!("{refusals} AppendEntries refused while backing up over 50 entries")
            })?;
            let bound = lab.election_bound() + 2 * lab.et_max();
            expect(took <= bound, || {
                format!("electing a leader and backing up took {took}µs (bound {bound}µs)")
            })?;
            lab.agree(49, 3)?;
            for i in 0..5 {
                lab.reconnect(i)?;
            }
            lab.one(5)?;
            Ok(())
        },
    );
}

#[test]
fn count_2b() {
    // Packets between replicas stay few: for an election, per agreement,
    // and while idle.
    sweep_lab(
        "count_2b",
        200,
        |rng| raft_world(rng, 3, false),
        |lab| {
            let n = lab.n() as u64;
            let requests = ["vote", "append", "ping"];
            lab.check_one_leader()?;
            let election = lab.sent(&requests);
            lab.measure("election requests", election);
            // The lab's bound. One campaign with a pre-vote round costs
            // 2 (n - 1) requests plus the first heartbeats; 30 leaves
            // room for a split vote or two.
            expect(election <= 30, || {
                format!("{election} requests for the initial election")
            })?;
            let entries = 10;
            let mut measured = false;
            for _ in 0..3 {
                let leader = lab.check_one_leader()?;
                let term = lab.term(leader);
                let (req0, all0) = (lab.sent(&requests), lab.sent_all());
                let cmds: Vec<Cmd> = (0..entries).map(|_| lab.submit(Some(leader))).collect();
                lab.await_cmds(cmds, lab.n())?;
                if lab.term(leader) != term || lab.role(leader) != Some(Role::Leader) {
                    continue;
                }
                let req = lab.sent(&requests) - req0;
                let all = lab.sent_all() - all0;
                lab.measure("requests for 10 agreements", req);
                lab.measure("packets for 10 agreements", all);
                // Each entry needs at most one AppendEntries per follower
                // (batching makes it fewer), plus a few heartbeats while
                // it is under way: the lab's (entries + 1 + 3) * n for
                // requests, and at most one answer each.
                let bound = (entries + 1 + 3) * n;
                expect(req <= bound && all <= 2 * bound, || {
                    format!("{req} requests and {all} packets for {entries} agreements (bound {bound} and {})", 2 * bound)
                })?;
                measured = true;
                break;
            }
            expect(measured, || "the term changed too often".into())?;
            let all0 = lab.sent_all();
            lab.wait(lab.et())?;
            let idle = lab.sent_all() - all0;
            lab.measure("packets in one idle election timeout", idle);
            // At most one heartbeat and its answer per follower per
            // heartbeat interval (idle leaders send fewer).
            let hb = lab.d.world().cfg.heartbeat_interval;
            let bound = 2 * (n - 1) * (lab.et() / hb + 1);
            expect(idle <= bound, || {
                format!("{idle} packets in an idle election timeout (bound {bound})")
            })?;
            Ok(())
        },
    );
}

// ----------------------------------------------------------------------
// 2C: persistence

#[test]
fn persist1_2c() {
    // Restarting every replica, the leader, and a follower from their
    // disks keeps every committed entry and the cluster goes on
    // committing.
    sweep_lab(
        "persist1_2c",
        200,
        |rng| raft_world(rng, 3, true),
        |lab| {
            lab.one(3)?;
            for i in 0..3 {
                lab.crash(i)?;
            }
            for i in 0..3 {
                lab.restart(i)?;
            }
            lab.committed_survives()?;
            lab.one(3)?;
            let leader1 = lab.check_one_leader()?;
            lab.disconnect(leader1)?;
            lab.restart(leader1)?;
            lab.reconnect(leader1)?;
            lab.one(3)?;
            let leader2 = lab.check_one_leader()?;
            lab.disconnect(leader2)?;
            let at = lab.one(2)?;
            lab.restart(leader2)?;
            lab.reconnect(leader2)?;
            let until = lab.now() + lab.agreement_bound();
            let caught_up = lab.d.run_until_or(until, |d| {
                d.world().nodes[leader2]
                    .as_ref()
                    .is_some_and(|n| n.applied_index() >= at)
            })?;
            expect(caught_up, || {
                format!("restarted {leader2} never applied {at}")
            })?;
            let i3 = (lab.check_one_leader()? + 1) % 3;
            lab.disconnect(i3)?;
            lab.one(2)?;
            lab.restart(i3)?;
            lab.reconnect(i3)?;
            lab.one(3)?;
            lab.committed_survives()
        },
    );
}

#[test]
fn persist2_2c() {
    // Five times: two followers cut off, then the other three; the first
    // two restart and come back, then one of the three that holds the
    // newest entry: with it they must elect a leader and commit.
    sweep_lab(
        "persist2_2c",
        100,
        |rng| raft_world(rng, 5, true),
        |lab| {
            for _ in 0..5 {
                lab.one(5)?;
                let l = lab.check_one_leader()?;
                let at = |k: usize| (l + k) % 5;
                lab.disconnect(at(1))?;
                lab.disconnect(at(2))?;
                lab.one(3)?;
                for k in [0, 3, 4] {
                    lab.disconnect(at(k))?;
                }
                for k in [1, 2] {
                    lab.restart(at(k))?;
                    lab.reconnect(at(k))?;
                }
                lab.wait(lab.et())?;
                lab.restart(at(3))?;
                lab.reconnect(at(3))?;
                lab.one(3)?;
                lab.reconnect(at(4))?;
                lab.reconnect(at(0))?;
            }
            lab.one(5)?;
            lab.committed_survives()
        },
    );
}

#[test]
fn persist3_2c() {
    // A follower is cut off; the leader and the other follower crash;
    // the cut-off follower comes back and the leader restarts: the two
    // commit; then the last restarts and all three commit.
    sweep_lab(
        "persist3_2c",
        200,
        |rng| raft_world(rng, 3, true),
        |lab| {
            lab.one(3)?;
            let leader = lab.check_one_leader()?;
            let (f1, f2) = ((leader + 1) % 3, (leader + 2) % 3);
            lab.disconnect(f2)?;
            lab.one(2)?;
            lab.crash(leader)?;
            lab.crash(f1)?;
            lab.reconnect(f2)?;
            lab.restart(leader)?;
            lab.one(2)?;
            lab.restart(f1)?;
            lab.one(3)?;
            lab.committed_survives()
        },
    );
}

/// Submits a command to every connected replica that believes it leads;
/// the last of them.
fn submit_to_leaders(lab: &mut Lab) -> Option<usize> {
    let leaders = lab.connected_leaders();
    for &l in &leaders {
        lab.submit(Some(l));
    }
    leaders.last().copied()
}

/// The Figure 8 tests' pause: mostly a small fraction of a timeout, now
/// and then up to half of one.
fn figure_8_pause(lab: &mut Lab) -> Micros {
    let et = lab.et();
    if lab.rng.chance(0.1) {
        lab.rng.range(0, et / 2)
    } else {
        lab.rng.range(0, et / 75)
    }
}

/// The Figure 8 tests go on until this many leaders were lost (the lab
/// runs a fixed number of short pauses, sized to its timeouts).
const FIGURE_8_LEADERS_LOST: usize = 20;
/// A bound on their pauses, should leaders stop being elected.
const FIGURE_8_MAX_PAUSES: usize = 5_000;

#[test]
fn figure_8_2c() {
    // Raft's Figure 8: leaders crash right after appending and replicas
    // restart in random order, leaving logs of many terms; entries of an
    // older term must never be committed by counting replicas alone (the
    // invariants check every step). Once all are back, one commits on
    // all five.
    sweep_lab(
        "figure_8_2c",
        150,
        |rng| raft_world(rng, 5, true),
        |lab| {
            lab.one(1)?;
            let (mut up, mut lost) = (5, 0);
            for _ in 0..FIGURE_8_MAX_PAUSES {
                if lost == FIGURE_8_LEADERS_LOST {
                    break;
                }
                let leader = submit_to_leaders(lab);
                let pause = figure_8_pause(lab);
                lab.wait(pause)?;
                if let Some(l) = leader.filter(|&l| lab.alive(l)) {
                    lab.crash(l)?;
                    up -= 1;
                    lost += 1;
                }
                if up < 3 {
                    let s = other(lab, &[]);
                    if !lab.alive(s) {
                        lab.restart(s)?;
                        up += 1;
                    }
                }
            }
            expect(lost == FIGURE_8_LEADERS_LOST, || {
                format!("only {lost} leaders were elected to be crashed")
            })?;
            lab.d.fault(Fault::RestartAll)?;
            lab.committed_survives()?;
            lab.one(5)?;
            Ok(())
        },
    );
}

#[test]
fn unreliable_agree_2c() {
    // On a lossy, reordering network, fifty rounds of five concurrent
    // commands each commit; once the network is reliable all five
    // replicas agree on one more.
    sweep_lab(
        "unreliable_agree_2c",
        60,
        |rng| unreliable(raft_world(rng, 5, false)),
        |lab| {
            for _ in 0..50 {
                lab.agree(5, 1)?;
            }
            lab.d.fault(Fault::SetDrops(0.0))?;
            lab.one(5)?;
            Ok(())
        },
    );
}

#[test]
fn figure_8_unreliable_2c() {
    // Figure 8 on a lossy network that, after a fifth of the leader
    // losses, starts delaying many packets by up to two timeouts: half of
    // the time the leader is cut off right after appending (the lab's
    // version), or, on half of the seeds, crashed; cut-off or crashed
    // replicas come back in random order. Once all are back (still
    // lossy), one commits on all five.
    sweep_lab(
        "figure_8_unreliable_2c",
        150,
        |rng| unreliable(raft_world(rng, 5, true)),
        |lab| {
            let crash = lab.rng.chance(0.5);
            lab.one(1)?;
            let (mut up, mut lost) = (5, 0);
            for _ in 0..FIGURE_8_MAX_PAUSES {
                if lost == FIGURE_8_LEADERS_LOST {
                    break;
                }
                if lost == FIGURE_8_LEADERS_LOST / 5 {
                    let et = lab.et();
                    let net = &mut lab.d.world_mut().net;
                    net.slow_chance = 0.3;
                    net.slow_max = 2 * et;
                }
                let leader = submit_to_leaders(lab);
                let pause = figure_8_pause(lab);
                lab.wait(pause)?;
                if let Some(l) = leader.filter(|&l| lab.connected(l)) {
                    if lab.rng.chance(0.5) {
                        if crash {
                            lab.crash(l)?;
                        } else {
                            lab.disconnect(l)?;
                        }
                        up -= 1;
                        lost += 1;
                    }
                }
                if up < 3 {
                    let s = other(lab, &[]);
                    if !lab.connected(s) {
                        if crash {
                            lab.restart(s)?;
                        } else {
                            lab.reconnect(s)?;
                        }
                        up += 1;
                    }
                }
            }
            expect(lost == FIGURE_8_LEADERS_LOST, || {
                format!("only {lost} leaders were elected to be lost")
            })?;
            lab.d.fault(Fault::RestartAll)?;
            lab.d.fault(Fault::ReconnectAll)?;
            lab.one(5)?;
            Ok(())
        },
    );
}

const CHURN_ROUNDS: u64 = 20;

/// The churn tests' world: clients write (and read a little) from the
/// start until every replica is back.
fn churn_world(rng: &mut Rng, lossy: bool) -> Scenario {
    let mut sc = raft_world(rng, 5, true);
    let et = sc.cfg.election_timeout_min;
    sc.work = Workload {
        clients: 3,
        keys: 3,
        get_fraction: 0.2,
        mean_gap: et / 5,
        from: et * 3 / 10,
        until: churn_end(et),
        max_attempts: 40,
        big_values: 0.0,
    };
    if lossy {
        sc = unreliable(sc);
    }
    sc
}

/// When the churn ends and everything is back: after the rounds (0.7 et
/// each, from 1 et) and one more timeout.
fn churn_end(et: Micros) -> Micros {
    et + CHURN_ROUNDS * et * 7 / 10 + et
}

/// Twenty rounds of random cut-offs, restarts and crashes while clients
/// write; then every replica restarts and reconnects, the network turns
/// reliable, and all five must agree on one more command, holding every
/// put a client was told had succeeded.
fn churn(lab: &mut Lab) -> Result<(), String> {
    let et = lab.et();
    lab.wait(et)?;
    for _ in 0..CHURN_ROUNDS {
        if lab.rng.chance(0.2) {
            let i = other(lab, &[]);
            lab.disconnect(i)?;
        }
        if lab.rng.chance(0.5) {
            let i = other(lab, &[]);
            if !lab.alive(i) {
                lab.restart(i)?;
            }
            lab.reconnect(i)?;
        }
        if lab.rng.chance(0.2) {
            let i = other(lab, &[]);
            if lab.alive(i) {
                lab.crash(i)?;
            }
        }
        lab.wait(et * 7 / 10)?;
    }
    lab.wait(et)?;
    lab.d.fault(Fault::SetDrops(0.0))?;
    lab.d.fault(Fault::RestartAll)?;
    lab.d.fault(Fault::ReconnectAll)?;
    let submitted = lab.now();
    let last = lab.one(5)?;
    // Every put acknowledged before that command was submitted precedes
    // it in the log, which all five replicas applied.
    let acked: Vec<String> = lab
        .d
        .clients()
        .ops
        .iter()
        .filter(|o| o.kind == Kind::Put && o.ok_at().is_some_and(|t| t < submitted))
        .map(|o| o.mid.clone())
        .collect();
    lab.measure("acknowledged puts", acked.len() as u64);
    for mid in acked {
        let at = lab.position(&mid);
        expect(at.is_some_and(|p| p < last), || {
            format!("acknowledged put {mid} is not in the log before {last} (at {at:?})")
        })?;
    }
    Ok(())
}

#[test]
fn reliable_churn_2c() {
    sweep_lab(
        "reliable_churn_2c",
        100,
        |rng| churn_world(rng, false),
        churn,
    );
}

#[test]
fn unreliable_churn_2c() {
    sweep_lab(
        "unreliable_churn_2c",
        100,
        |rng| churn_world(rng, true),
        churn,
    );
}

// ----------------------------------------------------------------------
// 3A: the key-value service

/// One of the lab's generic key-value tests.
#[derive(Clone, Copy)]
struct Kv {
    servers: usize,
    clients: usize,
    unreliable: bool,
    /// Every round ends with every replica crashed and restarted.
    crash: bool,
    /// Random partitions come and go during every round.
    partitions: bool,
    /// The 3B variant: replicas compact their logs (every 5 to 40
    /// applied entries), persist, and are checked for it.
    snapshots: bool,
}

const KV_ROUNDS: u64 = 3;

/// A round's length in et: 4 of faults (partitions), 1 with every replica
/// down when crashing, then a calm long enough for a restarted replica's
/// election (it waits a whole timeout first) and the liveness window.
fn kv_round(kv: Kv, et: Micros, et_max: Micros) -> Micros {
    4 * et + if kv.crash { et } else { 0 } + 5 * et_max
}

fn kv_world(rng: &mut Rng, kv: Kv) -> Scenario {
    let mut sc = raft_world(rng, kv.servers, kv.crash);
    let (et, et_max) = (sc.cfg.election_timeout_min, sc.cfg.election_timeout_max);
    sc.work = Workload {
        clients: kv.clients,
        keys: if kv.clients == 1 {
            1
        } else {
            rng.range(2, 5) as usize
        },
        get_fraction: 0.5,
        mean_gap: et / 6,
        from: et * 3 / 10,
        until: KV_ROUNDS * kv_round(kv, et, et_max),
        max_attempts: 40,
        big_values: 0.0,
    };
    if kv.unreliable {
        sc = unreliable(sc);
    }
    if kv.snapshots {
        sc.cfg.compact_entries = rng.range(5, 40) as usize;
        sc.durable = true;
    }
    sc
}

/// A random split of the replicas in two; the side holding a quorum (one
/// always does, with an odd count) is marked as the majority.
fn random_split(lab: &mut Lab) -> Vec<usize> {
    let n = lab.n();
    let side: Vec<usize> = (0..n).filter(|_| lab.rng.chance(0.5)).collect();
    if side.len() > n / 2 {
        side
    } else {
        (0..n).filter(|i| !side.contains(i)).collect()
    }
}

/// Clients read and write throughout. Each round: four timeouts of
/// partitions (if any), healed; every replica crashed, and restarted a
/// timeout later (if crashing); then, in the calm, every request sent in
/// a one-timeout window after the new leader had time to be elected must
/// succeed. At the end the whole history must be linearizable. With
/// snapshots, the logs stay trimmed throughout ([`Lab::bound_logs`]) and
/// each restarted replica is exactly its disk's snapshot and log.
fn kv_drive(lab: &mut Lab, kv: Kv) -> Result<(), String> {
    let (et, et_max) = (lab.et(), lab.et_max());
    if kv.snapshots {
        lab.bound_logs();
    }
    for round in 0..KV_ROUNDS {
        let t0 = round * kv_round(kv, et, et_max);
        if kv.partitions {
            let at = t0 + lab.rng.range(0, et / 2);
            lab.run_until(at)?;
            while lab.now() < t0 + 4 * et {
                let side = random_split(lab);
                lab.partition(&side);
                let len = lab.rng.range(et, et + et / 5);
                lab.wait(len)?;
            }
        }
        lab.run_until(t0 + 4 * et)?;
        lab.heal()?;
        if kv.crash {
            for i in 0..lab.n() {
                lab.crash(i)?;
            }
            lab.wait(et)?;
            lab.d.fault(Fault::RestartAll)?;
            if kv.snapshots {
                for i in 0..lab.n() {
                    lab.check_recovered(i)?;
                    let base = lab.snapshot_index(i);
                    lab.measure("log base after a restart", base);
                }
            }
        }
        let calm = lab.now();
        let window = (calm + 3 * et_max, calm + 3 * et_max + et);
        lab.run_until(calm + 5 * et_max)?;
        let (ok, total) = lab.ok_ratio(window.0, window.1);
        lab.measure("requests in a liveness window", total as u64);
        expect(total > 0 && ok == total, || {
            format!(
                "round {round}: {ok} of {total} requests sent {}..{}µs succeeded",
                window.0, window.1
            )
        })?;
    }
    if kv.snapshots {
        let chunks = lab.sent(&["snapshot"]);
        lab.measure("snapshot chunks sent", chunks);
    }
    Ok(())
}

fn kv_test(name: &str, seeds: u64, kv: Kv) {
    sweep_lab(
        name,
        seeds,
        |rng| kv_world(rng, kv),
        |lab| kv_drive(lab, kv),
    );
}

const KV: Kv = Kv {
    servers: 5,
    clients: 1,
    unreliable: false,
    crash: false,
    partitions: false,
    snapshots: false,
};

#[test]
fn basic_3a() {
    kv_test("basic_3a", 100, KV);
}

#[test]
fn concurrent_3a() {
    kv_test("concurrent_3a", 100, Kv { clients: 5, ..KV });
}

#[test]
fn unreliable_3a() {
    kv_test(
        "unreliable_3a",
        100,
        Kv {
            clients: 5,
            unreliable: true,
            ..KV
        },
    );
}

#[test]
fn one_partition_3a() {
    // Five replicas split 3 / 2; on half of the seeds the leader is on
    // the majority side (the lab's case), on the others it is cut off on
    // the minority side with one follower. Progress in the majority: a
    // put and a get through its leader succeed and the get reads the
    // put. No progress in the minority: requests sent there get no `ok`
    // and no minority replica's commit index moves. Completion after the
    // heal: refused requests, sent again to the same replicas, succeed,
    // and a final get reads the minority's put.
    sweep_lab(
        "one_partition_3a",
        300,
        |rng| {
            let mut sc = raft_world(rng, 5, false);
            sc.work.clients = 3;
            sc.work.keys = 1;
            sc.work.max_attempts = 40;
            sc
        },
        |lab| {
            let key = "k0".to_string();
            lab.one(5)?;
            let leader = lab.check_one_leader()?;
            let others: Vec<usize> = (0..5).filter(|&i| i != leader).collect();
            let leader_in_majority = lab.rng.chance(0.5);
            let minority: Vec<usize> = if leader_in_majority {
                others[2..].to_vec()
            } else {
                vec![leader, others[0]]
            };
            let majority: Vec<usize> = (0..5).filter(|i| !minority.contains(i)).collect();
            lab.partition(&majority);
            let commits: Vec<u64> = minority.iter().map(|&i| lab.commit(i)).collect();

            // Progress in the majority.
            let major = lab.check_one_leader()?;
            let put = lab.d.request(0, Some(major), Kind::Put, key.clone(), true);
            let put_value = wait_ok(lab, put)?;
            let get = lab.d.request(0, Some(major), Kind::Get, key.clone(), true);
            let got = wait_ok(lab, get)?;
            expect(got == put_value, || {
                format!("majority get read {got:?} after its put of {put_value:?}")
            })?;

            // No progress in the minority.
            let m_put = lab
                .d
                .request(1, Some(minority[0]), Kind::Put, key.clone(), false);
            let m_get = lab
                .d
                .request(2, Some(minority[1]), Kind::Get, key.clone(), false);
            lab.wait(lab.et_max())?;
            for chain in [m_put, m_get] {
                expect(ok_value(lab, chain).is_none(), || {
                    "a request sent to the minority side succeeded".into()
                })?;
            }
            let now: Vec<u64> = minority.iter().map(|&i| lab.commit(i)).collect();
            expect(now == commits, || {
                format!("minority commit indices moved from {commits:?} to {now:?}")
            })?;

            // Completion after the heal.
            lab.heal()?;
            let m_put = resend_if_refused(lab, m_put, 1, minority[0], Kind::Put)?;
            let m_put_value = wait_ok(lab, m_put)?;
            let m_get = resend_if_refused(lab, m_get, 2, minority[1], Kind::Get)?;
            wait_ok(lab, m_get)?;
            let last = lab.d.request(0, None, Kind::Get, key, true);
            let got = wait_ok(lab, last)?;
            expect(got == m_put_value, || {
                format!("a get after the heal read {got:?}, not the minority's put {m_put_value:?}")
            })?;
            Ok(())
        },
    );
}

/// The value a chain's `ok` carried (a get's value, or the value a put
/// wrote), if it got one.
fn ok_value(lab: &Lab, chain: usize) -> Option<String> {
    lab.d
        .clients()
        .ops
        .iter()
        .filter(|o| o.chain == chain)
        .find_map(|o| match &o.outcome {
            Outcome::Ok { value, .. } => Some(match o.kind {
                Kind::Get => value.clone().unwrap_or_default(),
                Kind::Put => o.value.clone(),
            }),
            _ => None,
        })
}

/// Plays until `chain` gets an `ok`, within the agreement bound.
fn wait_ok(lab: &mut Lab, chain: usize) -> Result<String, String> {
    let until = lab.now() + lab.agreement_bound();
    lab.run_until_or(until, |d| {
        d.clients()
            .ops
            .iter()
            .any(|o| o.chain == chain && o.ok_at().is_some())
    })?;
    ok_value(lab, chain).ok_or_else(|| format!("request chain {chain} got no ok in time"))
}

/// The chain, or, once it was refused (or is still unanswered after the
/// agreement bound), a new one sent by client `c` to the same replica,
/// which may be redirected onwards.
fn resend_if_refused(
    lab: &mut Lab,
    chain: usize,
    c: usize,
    target: usize,
    kind: Kind,
) -> Result<usize, String> {
    let until = lab.now() + lab.agreement_bound();
    let answered = |d: &sim::scenario::Driver| {
        d.clients()
            .ops
            .iter()
            .any(|o| o.chain == chain && o.outcome != Outcome::Pending)
    };
    lab.run_until_or(until, answered)?;
    if ok_value(lab, chain).is_some() {
        return Ok(chain);
    }
    Ok(lab.d.request(c, Some(target), kind, "k0".into(), true))
}

#[test]
fn many_partitions_one_client_3a() {
    kv_test(
        "many_partitions_one_client_3a",
        120,
        Kv {
            partitions: true,
            ..KV
        },
    );
}

#[test]
fn many_partitions_many_clients_3a() {
    kv_test(
        "many_partitions_many_clients_3a",
        120,
        Kv {
            clients: 5,
            partitions: true,
            ..KV
        },
    );
}

#[test]
fn persist_one_client_3a() {
    kv_test("persist_one_client_3a", 120, Kv { crash: true, ..KV });
}

#[test]
fn persist_concurrent_3a() {
    kv_test(
        "persist_concurrent_3a",
        120,
        Kv {
            clients: 5,
            crash: true,
            ..KV
        },
    );
}

#[test]
fn persist_concurrent_unreliable_3a() {
    kv_test(
        "persist_concurrent_unreliable_3a",
        120,
        Kv {
            clients: 5,
            crash: true,
            unreliable: true,
            ..KV
        },
    );
}

#[test]
fn persist_partition_3a() {
    kv_test(
        "persist_partition_3a",
        120,
        Kv {
            clients: 5,
            crash: true,
            partitions: true,
            ..KV
        },
    );
}

#[test]
fn persist_partition_unreliable_3a() {
    kv_test(
        "persist_partition_unreliable_3a",
        120,
        Kv {
            clients: 5,
            crash: true,
            partitions: true,
            unreliable: true,
            ..KV
        },
    );
}

#[test]
fn persist_partition_unreliable_linearizable_3a() {
    kv_test(
        "persist_partition_unreliable_linearizable_3a",
        60,
        Kv {
            servers: 7,
            clients: 15,
            crash: true,
            partitions: true,
            unreliable: true,
            snapshots: false,
        },
    );
}

// ----------------------------------------------------------------------
// 2D: log compaction and InstallSnapshot
//
// The lab's service calls `Snapshot(index)` every 10 entries; ours never
// does: the core compacts by itself once `compact_entries` applied
// entries pile up (keeping the newest half). These worlds set it to 5 to
// 40, so the lab's "perhaps enough to get a snapshot" batches of 5 to 14
// commands become batches of half to three `compact_entries`.
// Throughout, the logs stay trimmed ([`Lab::bound_logs`]), which stands
// for the lab's bound on the persisted state's size.

/// The lab's 30 iterations of `snapcommon`.
const SNAP_ITERS: u64 = 30;

/// The 2D tests' world: three replicas compacting every 5 to 40 applied
/// entries; durable if `durable`, or else on half of the seeds. With
/// `LAB_BIG_VALUES=1`, on a third of the seeds the commands write 1 to
/// 4.2 KB values to 10 keys, so that snapshots take several chunks (off
/// by default: a follower the leader updates lazily then catches up one
/// packet of entries per quiet heartbeat interval, too slowly for the
/// lab's `one(cmd, 3)` on many seeds; see `docs/LAB_TESTS.md`).
fn snap_world(rng: &mut Rng, durable: bool, lossy: bool) -> Scenario {
    let durable = durable || rng.chance(0.5);
    let mut sc = raft_world(rng, 3, durable);
    sc.cfg.compact_entries = rng.range(5, 40) as usize;
    if rng.chance(1.0 / 3.0) && std::env::var_os("LAB_BIG_VALUES").is_some_and(|v| v == "1") {
        sc.work.keys = 10;
        sc.work.big_values = 1.0;
    }
    if lossy {
        sc = unreliable(sc);
    }
    sc
}

/// Half to three compaction thresholds' worth of commands (a leader may
/// keep up to two thresholds for followers that lack them).
fn snap_batch(lab: &mut Lab) -> u64 {
    let ce = lab.compact_entries();
    ce / 2 + lab.rng.range(0, 5 * ce / 2)
}

/// The lab's `snapcommon`, 30 times: a follower (every third time the
/// leader) is cut off (`disconnect`) or crashed (`crash`), or neither; a
/// batch of commands goes to the leader (every third time to a follower,
/// which refuses them); the others agree on one more. The victim then
/// comes back (restarted from its disk: exactly its snapshot and log) and
/// all three agree. Whenever every other replica had compacted away the
/// first entry the victim lacked, it must have caught up through
/// InstallSnapshot: snapshot packets were sent since it went away (a
/// chunk sent to a crashed victim may reach it once restarted), it
/// installed a snapshot, and its log now starts after that entry; with
/// victims, that happens at least once per run. Without victims, every
/// replica has compacted by the end.
fn snap_common(lab: &mut Lab, disconnect: bool, crash: bool) -> Result<(), String> {
    let n = lab.n();
    let victims = disconnect || crash;
    lab.bound_logs();
    lab.one(n)?;
    let mut leader1 = lab.check_one_leader()?;
    let mut through_snapshot = 0;
    for iter in 0..SNAP_ITERS {
        let (mut victim, mut sender) = ((leader1 + 1) % n, leader1);
        if iter % 3 == 1 {
            (victim, sender) = (leader1, (leader1 + 1) % n);
        }
        let sent = lab.sent(&["snapshot"]);
        if disconnect {
            lab.disconnect(victim)?;
            lab.one(n - 1)?;
        }
        if crash {
            lab.crash(victim)?;
            lab.one(n - 1)?;
        }
        for _ in 0..snap_batch(lab) {
            lab.submit(Some(sender));
        }
        if !victims {
            // Every follower caught up: no InstallSnapshot is needed.
            lab.one(n)?;
            continue;
        }
        lab.one(n - 1)?;
        let lacks = match lab.d.world().disk(victim).filter(|_| crash) {
            Some(disk) => disk.log_base.0 + disk.entries.len() as u64 + 1,
            None => lab.last_index(victim) + 1,
        };
        let compacted = (0..n)
            .filter(|&j| j != victim)
            .all(|j| lab.snapshot_index(j) >= lacks);
        if crash {
            // Packets sent to the dead victim stay on their way (to find
            // it dead, or restarted): the lab's `start1` is delayed until
            // those sent before the others compacted have landed, so that
            // it can only catch up from what they hold now.
            let net = &lab.d.world().net;
            lab.wait(2 * (net.max_delay + net.slow_max) + 1_000)?;
            lab.restart(victim)?;
            lab.check_recovered(victim)?;
        }
        let installed = lab.snapshots_installed(victim);
        if disconnect {
            lab.reconnect(victim)?;
        }
        let at = lab.one(n)?;
        if compacted {
            through_snapshot += 1;
            let more = lab.sent(&["snapshot"]) - sent;
            let installed = lab.snapshots_installed(victim) - installed;
            let base = lab.snapshot_index(victim);
            expect(more > 0 && installed > 0 && base >= lacks, || {
                format!(
                    "replica {victim} lacked entry {lacks}, which the others had compacted \
                     away, and applied {at} with {more} snapshot packets sent since it went \
                     away, {installed} snapshots installed, and its log starting after {base}"
                )
            })?;
        }
        leader1 = lab.check_one_leader()?;
    }
    lab.measure("catch-ups through a snapshot", through_snapshot);
    let chunks = lab.sent(&["snapshot"]);
    lab.measure("snapshot chunks sent", chunks);
    if victims {
        expect(through_snapshot > 0, || {
            format!("in {SNAP_ITERS} iterations no victim ever needed a snapshot")
        })?;
    } else {
        for j in 0..n {
            expect(lab.snapshot_index(j) > 0, || {
                format!("replica {j} never compacted its log")
            })?;
        }
    }
    if crash {
        lab.committed_survives()?;
    }
    Ok(())
}

#[test]
fn snapshot_basic_2d() {
    sweep_lab(
        "snapshot_basic_2d",
        100,
        |rng| snap_world(rng, false, false),
        |lab| snap_common(lab, false, false),
    );
}

#[test]
fn snapshot_install_2d() {
    sweep_lab(
        "snapshot_install_2d",
        100,
        |rng| snap_world(rng, false, false),
        |lab| snap_common(lab, true, false),
    );
}

#[test]
fn snapshot_install_unreliable_2d() {
    sweep_lab(
        "snapshot_install_unreliable_2d",
        100,
        |rng| snap_world(rng, false, true),
        |lab| snap_common(lab, true, false),
    );
}

#[test]
fn snapshot_install_crash_2d() {
    sweep_lab(
        "snapshot_install_crash_2d",
        100,
        |rng| snap_world(rng, true, false),
        |lab| snap_common(lab, false, true),
    );
}

#[test]
fn snapshot_install_un_crash_2d() {
    sweep_lab(
        "snapshot_install_un_crash_2d",
        100,
        |rng| snap_world(rng, true, true),
        |lab| snap_common(lab, false, true),
    );
}

/// Crashes every replica, restarts them all, and checks each is exactly
/// what its disk held.
fn crash_and_restart_all(lab: &mut Lab) -> Result<(), String> {
    for i in 0..lab.n() {
        lab.crash(i)?;
    }
    for i in 0..lab.n() {
        lab.restart(i)?;
        lab.check_recovered(i)?;
    }
    Ok(())
}

#[test]
fn snapshot_all_crash_2d() {
    // Five times: a batch of commands agreed one by one, then every
    // replica crashes and restarts, each from its snapshot and log; the
    // next command lands after the last one agreed before the crash.
    sweep_lab(
        "snapshot_all_crash_2d",
        100,
        |rng| snap_world(rng, true, false),
        |lab| {
            lab.bound_logs();
            lab.one(3)?;
            for _ in 0..5 {
                for _ in 0..snap_batch(lab) {
                    lab.one(3)?;
                }
                let index1 = lab.one(3)?;
                crash_and_restart_all(lab)?;
                let index2 = lab.one(3)?;
                expect(index2 > index1, || {
                    format!("index decreased from {index1} to {index2}")
                })?;
            }
            for i in 0..3 {
                expect(lab.snapshot_index(i) > 0, || {
                    format!("replica {i} never compacted its log")
                })?;
            }
            lab.committed_survives()
        },
    );
}

#[test]
fn snapshot_init_2d() {
    // Enough commands for a snapshot; every replica crashes and restarts
    // from it; one command (its batch to the disk carries no snapshot);
    // every replica crashes and restarts again: each still starts from a
    // snapshot at least as new, and one more command commits.
    sweep_lab(
        "snapshot_init_2d",
        150,
        |rng| snap_world(rng, true, false),
        |lab| {
            lab.bound_logs();
            lab.one(3)?;
            for _ in 0..=lab.compact_entries() {
                lab.one(3)?;
            }
            crash_and_restart_all(lab)?;
            let first: Vec<u64> = (0..3).map(|i| lab.applied(i)).collect();
            expect(first.iter().all(|&a| a > 0), || {
                format!("restarted from no snapshot: applied {first:?}")
            })?;
            lab.one(3)?;
            crash_and_restart_all(lab)?;
            let second: Vec<u64> = (0..3).map(|i| lab.applied(i)).collect();
            expect(second.iter().zip(&first).all(|(b, a)| b >= a), || {
                format!("restarted from older snapshots: applied {first:?}, then {second:?}")
            })?;
            lab.one(3)?;
            lab.committed_survives()
        },
    );
}

// ----------------------------------------------------------------------
// 3B: the key-value service with log compaction

/// A put of a fresh value to `key` by client 0, through the connected
/// leader if there is one, retried until it succeeds; the value.
fn put_ok(lab: &mut Lab, key: &str) -> Result<String, String> {
    let target = lab.leader_now();
    let chain = lab.d.request(0, target, Kind::Put, key.into(), true);
    wait_ok(lab, chain)
}

/// A get of `key` by client 0 (as [`put_ok`]) must read `want`.
fn check_get(lab: &mut Lab, key: &str, want: &str) -> Result<(), String> {
    let target = lab.leader_now();
    let chain = lab.d.request(0, target, Kind::Get, key.into(), true);
    let got = wait_ok(lab, chain)?;
    expect(got == want, || {
        format!("get {key} read {got:?}, expected {want:?}")
    })
}

#[test]
fn snapshot_rpc_3b() {
    // The lab's keys "a" to "e" are k50 to k54 here, and "0" to "49" are
    // k0 to k49. A put and a get; then, with replica 2 cut off, 50 puts
    // and, an election timeout later, one more: replicas 0 and 1 must
    // have compacted most of them away. Then 1 is cut off instead: 0
    // and 2 can only commit once 2 has caught up, which needs the
    // snapshot (the entries 2 lacks are gone). Two puts and four gets,
    // then 2 holds the store through a snapshot. Healed: a put and three
    // gets. On half of the seeds the values are 1 to 4.2 KB, so that the
    // snapshot takes about a dozen chunks.
    sweep_lab(
        "snapshot_rpc_3b",
        150,
        |rng| {
            let mut sc = raft_world(rng, 3, true);
            // At most 20: even keeping twice that, the leader must have
            // compacted away what replica 2 lacks.
            sc.cfg.compact_entries = rng.range(5, 20) as usize;
            sc.work.keys = 55;
            sc.work.max_attempts = 40;
            if rng.chance(0.5) {
                sc.work.big_values = 1.0;
            }
            sc
        },
        |lab| {
            lab.bound_logs();
            let k = |i: usize| format!("k{i}");
            let a = put_ok(lab, &k(50))?;
            check_get(lab, &k(50), &a)?;

            lab.partition(&[0, 1]);
            lab.check_one_leader()?;
            let mut numbered = Vec::new();
            for i in 0..50 {
                numbered.push(put_ok(lab, &k(i))?);
            }
            lab.wait(lab.et())?;
            let b = put_ok(lab, &k(51))?;
            for i in [0, 1] {
                let (base, held) = (lab.snapshot_index(i), lab.last_index(i));
                expect(base > 0 && held - base < 51, || {
                    format!("replica {i}'s log was not trimmed: it holds {base}+1..={held}")
                })?;
            }

            let (lagging, sent) = (lab.last_index(2), lab.sent(&["snapshot"]));
            lab.partition(&[0, 2]);
            lab.check_one_leader()?;
            let c = put_ok(lab, &k(52))?;
            put_ok(lab, &k(53))?;
            check_get(lab, &k(50), &a)?;
            check_get(lab, &k(51), &b)?;
            check_get(lab, &k(1), &numbered[1])?;
            check_get(lab, &k(49), &numbered[49])?;
            let more = lab.sent(&["snapshot"]) - sent;
            let base = lab.snapshot_index(2);
            let held = lab.d.world().nodes[2]
                .as_ref()
                .map(|n| n.kv().get(&k(49)).to_string());
            lab.measure("snapshot packets to the lagging replica", more);
            expect(
                more > 0 && base > lagging && held.as_ref() == Some(&numbered[49]),
                || {
                    format!(
                        "replica 2 lagged at {lagging}; {more} snapshot packets later its log \
                         starts after {base} and its store has k49 = {held:?}"
                    )
                },
            )?;

            lab.heal()?;
            let e = put_ok(lab, &k(54))?;
            check_get(lab, &k(52), &c)?;
            check_get(lab, &k(54), &e)?;
            check_get(lab, &k(1), &numbered[1])
        },
    );
}

/// Bounds on a disk image in JSON bytes, for `snapshot_size_3b`. A pair
/// is `["k2","v123456"],` (MIDs, hence values, have 6 digits): under 24.
const PAIR_BYTES: u64 = 24;
/// A term run is `[123456,78],`: under 16.
const RUN_BYTES: u64 = 16;
/// An entry is `{"t":78,"p":{"k":"k2","v":"v123456","c":"0013","m":
/// "M123456"}}`: under 80.
const ENTRY_BYTES: u64 = 80;

#[test]
fn snapshot_size_3b() {
    // One client, one to three keys: 200 times, a put and a get reading
    // it, twice (800 requests, 400 puts). Then every replica's disk image
    // must be in proportion to the keys, not to the puts: its snapshot at
    // most PAIR_BYTES per key plus RUN_BYTES per term (a run of terms
    // per term that had a leader), its log at most ENTRY_BYTES per entry
    // it may hold (twice `compact_entries` applied, see `Lab::bound_logs`,
    // plus those it has not applied). With `compact_entries` at most 40
    // that is under 6.4 KB of log, where the 400 puts alone would take
    // about 22 KB. (The lab: snapshot under 500 bytes, raft state under
    // 8 KB.)
    sweep_lab(
        "snapshot_size_3b",
        30,
        |rng| {
            let mut sc = raft_world(rng, 3, true);
            sc.cfg.compact_entries = rng.range(5, 40) as usize;
            sc.work.clients = 1;
            sc.work.keys = rng.range(1, 3) as usize;
            sc.work.max_attempts = 40;
            sc
        },
        |lab| {
            lab.bound_logs();
            let keys = lab.d.clients().keys();
            for round in 0..200 {
                let key = &keys[round % keys.len()];
                for _ in 0..2 {
                    let v = put_ok(lab, key)?;
                    check_get(lab, key, &v)?;
                }
            }
            lab.wait(lab.et())?;
            let ce = lab.compact_entries();
            let terms = (0..3).map(|i| lab.term(i)).max().unwrap_or(0);
            for i in 0..3 {
                let (snap, log) = lab.image_bytes(i);
                lab.measure("snapshot bytes", snap);
                lab.measure("log bytes", log);
                let unapplied = lab.last_index(i) - lab.applied(i);
                let snap_bound = PAIR_BYTES * keys.len() as u64 + RUN_BYTES * terms;
                let log_bound = ENTRY_BYTES * (2 * ce + unapplied);
                expect(snap <= snap_bound && log <= log_bound, || {
                    format!(
                        "replica {i}'s disk holds a {snap}-byte snapshot (bound {snap_bound}) \
                         and a {log}-byte log (bound {log_bound})"
                    )
                })?;
            }
            Ok(())
        },
    );
}

const KV_SNAP: Kv = Kv {
    crash: true,
    snapshots: true,
    ..KV
};

#[test]
fn snapshot_recover_3b() {
    kv_test("snapshot_recover_3b", 120, KV_SNAP);
}

#[test]
fn snapshot_recover_many_clients_3b() {
    kv_test(
        "snapshot_recover_many_clients_3b",
        20,
        Kv {
            clients: 20,
            ..KV_SNAP
        },
    );
}

#[test]
fn snapshot_unreliable_3b() {
    kv_test(
        "snapshot_unreliable_3b",
        100,
        Kv {
            clients: 5,
            unreliable: true,
            crash: false,
            ..KV_SNAP
        },
    );
}

#[test]
fn snapshot_unreliable_recover_3b() {
    kv_test(
        "snapshot_unreliable_recover_3b",
        100,
        Kv {
            clients: 5,
            unreliable: true,
            ..KV_SNAP
        },
    );
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_3b() {
    kv_test(
        "snapshot_unreliable_recover_concurrent_partition_3b",
        100,
        Kv {
            clients: 5,
            unreliable: true,
            partitions: true,
            ..KV_SNAP
        },
    );
}

#[test]
fn snapshot_unreliable_recover_concurrent_partition_linearizable_3b() {
    kv_test(
        "snapshot_unreliable_recover_concurrent_partition_linearizable_3b",
        40,
        Kv {
            servers: 7,
            clients: 15,
            unreliable: true,
            partitions: true,
            ..KV_SNAP
        },
    );
}
