//! The client history against the committed log, key by key.
//!
//! Raft orders writes by log position, so that order is the witness: the
//! history is linearizable iff it is with the puts placed in the order the
//! committed log holds them. Every put writes a unique value, so a get's
//! value names the write it read (the empty string names "no write yet").
//!
//! Definite: `ok` puts (they must be in the committed log) and `ok` gets.
//! A put never answered may or may not be in the log. A put answered
//! `redirect` or `fail` must not be (the core promises to refuse only puts
//! that can never commit; a retry would otherwise write twice). A get not
//! answered `ok` constrains nothing.
//!
//! With the write order fixed, real-time order gives these conditions
//! (`a < b` below: `a` was answered before `b` was sent):
//! - a write later in the log never precedes an earlier one;
//! - a get reads a write that was sent before the get was answered, and no
//!   write at or before that one was sent after the get was answered;
//! - no write after the one read was answered before the get was sent;
//! - two gets in real-time order read in log order.

use std::collections::BTreeMap;

use replica::raft::Micros;
use shared::Entry;

use super::clients::{op_of_mid, Kind, Op, Outcome};

/// What the history held, for the run summary.
#[derive(Debug, Default, Clone)]
pub struct HistoryStats {
    pub ok_puts: usize,
    pub ok_gets: usize,
    /// Puts never answered that are in the committed log anyway.
    pub unanswered_committed: usize,
    /// `ok` gets that read their own client's put before that put's `ok`
    /// reached it (or when none ever did): linearizable, but the course
    /// simulator, whose clients each hold the value they were told of,
    /// counts every one as incorrect.
    pub unacknowledged_reads: usize,
}

pub fn check(ops: &[Op], committed: &[Entry]) -> Result<HistoryStats, String> {
    let mut stats = HistoryStats::default();
    // Where each put landed in the committed log.
    let mut position: BTreeMap<usize, u64> = BTreeMap::new();
    for (i, entry) in committed.iter().enumerate() {
        let Some(put) = &entry.put else { continue };
        let Some(op) = op_of_mid(&put.mid).filter(|&o| o < ops.len()) else {
            return Err(format!(
                "committed entry {} has a MID no client sent: {put:?}",
                i + 1
            ));
        };
        let o = &ops[op];
        if o.kind != Kind::Put || o.key != put.key || o.value != put.value {
            return Err(format!(
                "committed entry {} does not match request {o:?}: {put:?}",
                i + 1
            ));
        }
        if let Some(first) = position.insert(op, i as u64 + 1) {
            return Err(format!(
                "{} committed twice, at {first} and {}",
                put.mid,
                i + 1
            ));
        }
    }
    for (i, op) in ops.iter().enumerate() {
        if op.kind != Kind::Put {
            continue;
        }
        let in_log = position.contains_key(&i);
        match &op.outcome {
            Outcome::Ok { .. } if !in_log => {
                return Err(format!("acknowledged put lost: {op:?}"));
            }
            Outcome::Redirect { .. } | Outcome::Fail { .. } if in_log => {
                return Err(format!(
                    "put refused yet committed at {}: {op:?}",
                    position[&i]
                ));
            }
            Outcome::Ok { .. } => stats.ok_puts += 1,
            Outcome::Pending if in_log => stats.unanswered_committed += 1,
            _ => {}
        }
    }
    stats.unacknowledged_reads = unacknowledged_reads(ops);
    let mut keys: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in ops.iter().enumerate() {
        keys.entry(op.key.as_str()).or_default().push(i);
    }
    for (key, idx) in keys {
        stats.ok_gets += check_key(key, ops, &idx, &position)?;
    }
    Ok(stats)
}

/// How many `ok` gets read a put of their own client that had not been
/// answered `ok` to it by then (see [`HistoryStats`]).
fn unacknowledged_reads(ops: &[Op]) -> usize {
    // A put's retries write the same value: the client is told when the
    // first of them is answered `ok`.
    let mut told: BTreeMap<&str, (usize, Option<Micros>)> = BTreeMap::new();
    for put in ops.iter().filter(|o| o.kind == Kind::Put) {
        let entry = told.entry(put.value.as_str()).or_insert((put.client, None));
        if let Some(at) = put.ok_at() {
            entry.1 = Some(entry.1.map_or(at, |t| t.min(at)));
        }
    }
    ops.iter()
        .filter(|get| {
            let Outcome::Ok {
                at,
                value: Some(value),
            } = &get.outcome
            else {
                return false;
            };
            get.kind == Kind::Get
                && told.get(value.as_str()).is_some_and(|&(client, ok_at)| {
                    client == get.client && ok_at.is_none_or(|t| t > *at)
                })
        })
        .count()
}

/// One key. Returns how many `ok` gets it had.
fn check_key(
    key: &str,
    ops: &[Op],
    idx: &[usize],
    position: &BTreeMap<usize, u64>,
) -> Result<usize, String> {
    // Writes in log order; position 0 is the initial empty value.
    let mut writes: Vec<usize> = idx
        .iter()
        .copied()
        .filter(|i| position.contains_key(i))
        .collect();
    writes.sort_by_key(|i| position[i]);
    let m = writes.len();
    let answered = |i: usize| ops[i].ok_at().unwrap_or(Micros::MAX);
    // sent_max[p]: latest send among writes 1..=p; done_min[p]: earliest
    // answer among writes p..=m (MAX past the end).
    let mut sent_max = vec![0; m + 1];
    for p in 1..=m {
        sent_max[p] = sent_max[p - 1].max(ops[writes[p - 1]].invoked);
    }
    let mut done_min = vec![Micros::MAX; m + 2];
    for p in (1..=m).rev() {
        done_min[p] = done_min[p + 1].min(answered(writes[p - 1]));
    }
    for p in 1..=m {
        let w = &ops[writes[p - 1]];
        if done_min[p + 1] < w.invoked {
            return Err(format!(
                "{key}: a put later in the log was answered before {} was sent: {w:?}",
                w.mid
            ));
        }
    }
    let by_value: BTreeMap<&str, usize> = (1..=m)
        .map(|p| (ops[writes[p - 1]].value.as_str(), p))
        .collect();
    // (sent, answered, position) of every ok get.
    let mut gets: Vec<(Micros, Micros, usize, usize)> = Vec::new();
    for &i in idx {
        let op = &ops[i];
        let (Kind::Get, Outcome::Ok { at, value }) = (op.kind, &op.outcome) else {
            continue;
        };
        let value = value.as_deref().unwrap_or("");
        let p = if value.is_empty() {
            0
        } else {
            match by_value.get(value) {
                Some(&p) => p,
                None => {
                    return Err(format!(
                        "{key}: get read {value:?}, never committed for it: {op:?}"
                    ));
                }
            }
        };
        if sent_max[p] > *at {
            return Err(format!(
                "{key}: get {} read {value:?}, but a put at or before it in the log was sent \
                 only after the get was answered",
                op.mid
            ));
        }
        if done_min[p + 1] < op.invoked {
            let stale = writes[p..].iter().find(|&&w| answered(w) < op.invoked);
            return Err(format!(
                "{key}: stale read: get {} read {value:?}, but {:?} was acknowledged before it was sent",
                op.mid,
                stale.map(|&w| &ops[w])
            ));
        }
        gets.push((op.invoked, *at, p, i));
    }
    // Gets in real-time order must read in log order: sweep by send time,
    // folding in every get answered before it.
    let mut by_answer = gets.clone();
    by_answer.sort_by_key(|g| g.1);
    gets.sort_by_key(|g| g.0);
    let mut j = 0;
    let mut seen_max: Option<(usize, usize)> = None;
    for &(sent, _, p, i) in &gets {
        while j < by_answer.len() && by_answer[j].1 < sent {
            let (_, _, q, k) = by_answer[j];
            if seen_max.is_none_or(|(mq, _)| q > mq) {
                seen_max = Some((q, k));
            }
            j += 1;
        }
        if let Some((q, k)) = seen_max.filter(|&(q, _)| q > p) {
            return Err(format!(
                "{key}: get {} read write #{p} after get {} had read write #{q}",
                ops[i].mid, ops[k].mid
            ));
        }
    }
    Ok(gets.len())
}

#[cfg(test)]
mod tests {
    //! The checker itself: it must accept what Raft allows and reject
    //! each kind of anomaly.

    use super::*;
    use crate::sim::clients::mid_of;
    use shared::{Addr, PutCmd};

    struct History {
        ops: Vec<Op>,
        log: Vec<Entry>,
    }

    impl History {
        fn new() -> History {
            History {
                ops: Vec::new(),
                log: vec![Entry { term: 1, put: None }],
            }
        }

        fn op(&mut self, kind: Kind, key: &str, sent: Micros, outcome: Outcome) -> usize {
            let i = self.ops.len();
            let value = if kind == Kind::Put {
                format!("v{i}")
            } else {
                String::new()
            };
            self.ops.push(Op {
                client: 0,
                chain: i,
                kind,
                key: key.into(),
                value,
                mid: mid_of(i),
                invoked: sent,
                outcome,
            });
            i
        }

        /// A put, committed (appended to the log) unless `outcome` says otherwise.
        fn put(&mut self, key: &str, sent: Micros, outcome: Outcome, committed: bool) -> String {
            let i = self.op(Kind::Put, key, sent, outcome);
            if committed {
                let o = &self.ops[i];
                let put = PutCmd {
                    key: o.key.clone(),
                    value: o.value.clone(),
                    client: Addr(0x13),
                    mid: o.mid.clone(),
                };
                self.log.push(Entry {
                    term: 1,
                    put: Some(put),
                });
            }
            self.ops[i].value.clone()
        }

        fn get(&mut self, key: &str, sent: Micros, answered: Micros, value: &str) {
            let outcome = Outcome::Ok {
                at: answered,
                value: Some(value.into()),
            };
            self.op(Kind::Get, key, sent, outcome);
        }

        fn check(&self) -> Result<HistoryStats, String> {
            check(&self.ops, &self.log)
        }
    }

    fn ok(at: Micros) -> Outcome {
        Outcome::Ok { at, value: None }
    }

    #[test]
    fn accepts_sequential_and_concurrent_histories() {
        let mut h = History::new();
        h.get("k", 0, 5, "");
        let a = h.put("k", 10, ok(20), true);
        h.get("k", 30, 40, &a);
        // b overlaps two gets: one may see it, the other not yet.
        let b = h.put("k", 50, ok(90), true);
        h.get("k", 55, 60, &a);
        h.get("k", 56, 70, &b);
        // a put never answered takes effect or not; here it did.
        let c = h.put("k", 100, Outcome::Pending, true);
        h.get("k", 200, 210, &c);
        h.put("k", 300, Outcome::Pending, false);
        h.get("k", 400, 410, &c);
        assert!(h.check().is_ok(), "{:?}", h.check());
    }

    #[test]
    fn counts_reads_of_a_put_its_client_was_not_yet_told_of() {
        let mut h = History::new();
        let a = h.put("k", 0, ok(10), true);
        h.get("k", 20, 30, &a);
        // b is read before its ok reaches the client, c is never answered.
        let b = h.put("k", 40, ok(90), true);
        h.get("k", 50, 60, &b);
        h.get("k", 95, 99, &b);
        let c = h.put("k", 100, Outcome::Pending, true);
        h.get("k", 200, 210, &c);
        let stats = h.check().expect("linearizable all the same");
        assert_eq!(stats.unacknowledged_reads, 2);
    }

    #[test]
    fn rejects_a_stale_read() {
        let mut h = History::new();
        let a = h.put("k", 0, ok(10), true);
        h.put("k", 20, ok(30), true);
        h.get("k", 40, 50, &a);
        assert!(h.check().unwrap_err().contains("stale read"));
    }

    #[test]
    fn rejects_a_lost_acknowledged_put() {
        let mut h = History::new();
        h.put("k", 0, ok(10), false);
        assert!(h.check().unwrap_err().contains("acknowledged put lost"));
    }

    #[test]
    fn rejects_a_refused_put_that_was_committed() {
        let mut h = History::new();
        h.put("k", 0, Outcome::Redirect { at: 5 }, true);
        assert!(h.check().unwrap_err().contains("refused yet committed"));
    }

    #[test]
    fn rejects_reading_the_future_or_nothing() {
        let mut h = History::new();
        h.get("k", 0, 5, "v1");
        h.put("k", 10, ok(20), true);
        assert!(h.check().unwrap_err().contains("sent only after"));
        let mut h = History::new();
        h.get("k", 0, 5, "never-written");
        assert!(h.check().unwrap_err().contains("never committed"));
    }

    #[test]
    fn rejects_puts_committed_out_of_real_time_order() {
        let mut h = History::new();
        let i = h.op(Kind::Put, "k", 50, ok(60));
        h.put("k", 0, ok(10), false);
        // the later put lands first in the log
        for j in [i, 1] {
            let o = &h.ops[j];
            let put = PutCmd {
                key: o.key.clone(),
                value: o.value.clone(),
                client: Addr(0x13),
                mid: o.mid.clone(),
            };
            h.log.push(Entry {
                term: 1,
                put: Some(put),
            });
        }
        assert!(h
            .check()
            .unwrap_err()
            .contains("later in the log was answered before"));
    }

    #[test]
    fn rejects_reads_going_back_in_time() {
        let mut h = History::new();
        let a = h.put("k", 0, Outcome::Pending, true);
        let b = h.put("k", 1, Outcome::Pending, true);
        h.get("k", 10, 20, &b);
        h.get("k", 30, 40, &a);
        assert!(h.check().unwrap_err().contains("after get"));
    }

    #[test]
    fn rejects_a_put_committed_twice() {
        let mut h = History::new();
        h.put("k", 0, ok(10), true);
        let again = h.log[1].clone();
        h.log.push(again);
        assert!(h.check().unwrap_err().contains("committed twice"));
    }
}
