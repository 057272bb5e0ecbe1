//! `kvdash compare A B`: the same figures of two runs side by side, with
//! the relative change from A to B.

use serde::Serialize;

use super::{Report, CATEGORIES};

/// One figure of a report: its name and value (`None`: not measured).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figure {
    pub figure: String,
    pub value: Option<f64>,
}

/// One row of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub figure: String,
    pub a: Option<f64>,
    pub b: Option<f64>,
    /// `(b - a) / a * 100`; `None` when either is missing or `a` is 0.
    pub change_pct: Option<f64>,
}

/// The figures compared, in order.
pub fn figures(r: &Report) -> Vec<Figure> {
    let mut out = Vec::new();
    let mut push = |name: String, v: Option<f64>| {
        out.push(Figure {
            figure: name,
            value: v,
        })
    };
    push(
        "passed".into(),
        r.verdict.as_ref().map(|v| f64::from(u8::from(v.passed))),
    );
    push("total_msgs".into(), Some(r.messages.total_msgs as f64));
    push(
        "msgs_per_committed_put".into(),
        r.messages.per_committed_put,
    );
    push("median_latency_us".into(), r.median_us.map(|m| m as f64));
    for cat in CATEGORIES {
        let p = r.latency.get(cat);
        push(format!("{cat}.count"), Some(p.count as f64));
        if p.count > 0 {
            for (l, v) in [
                ("p50", p.p50),
                ("p90", p.p90),
                ("p99", p.p99),
                ("p99.9", p.p999),
                ("max", p.max),
            ] {
                push(format!("{cat}.{l}_us"), Some(v as f64));
            }
        }
    }
    for (t, n) in &r.messages.by_type {
        push(format!("msgs.{t}"), Some(*n as f64));
    }
    push("msgs.lost".into(), Some(r.messages.lost as f64));
    push("elections".into(), Some(r.elections.count as f64));
    push(
        "leaderless_ms".into(),
        Some(r.elections.leaderless_us as f64 / 1000.0),
    );
    push(
        "leader_changes".into(),
        Some(r.elections.leader_changes as f64),
    );
    push("redirects".into(), Some(r.requests.redirects as f64));
    push(
        "events_dropped".into(),
        Some((r.events_dropped_sim.unwrap_or(0) + r.events_dropped_replicas) as f64),
    );
    out
}

/// A and B's figures side by side: A's order, then figures only B has.
pub fn compare(a: &Report, b: &Report) -> Vec<Row> {
    let (fa, fb) = (figures(a), figures(b));
    let mut rows: Vec<Row> = fa
        .iter()
        .map(|f| Row {
            figure: f.figure.clone(),
            a: f.value,
            b: fb
                .iter()
                .find(|g| g.figure == f.figure)
                .and_then(|g| g.value),
            change_pct: None,
        })
        .collect();
    for g in &fb {
        if !fa.iter().any(|f| f.figure == g.figure) {
            rows.push(Row {
                figure: g.figure.clone(),
                a: None,
                b: g.value,
                change_pct: None,
            });
        }
    }
    for r in &mut rows {
        r.change_pct = match (r.a, r.b) {
            (Some(a), Some(b)) if a != 0.0 => Some((b - a) / a * 100.0),
            _ => None,
        };
    }
    rows
}

fn num(v: Option<f64>) -> String {
    match v {
        None => "-".into(),
        Some(x) if x.fract() == 0.0 && x.abs() < 1e15 => format!("{x:.0}"),
        Some(x) => format!("{x:.2}"),
    }
}

/// The comparison as a terminal table.
pub fn text(a_name: &str, b_name: &str, rows: &[Row]) -> String {
    let w = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let mut s = format!("A: {a_name}\nB: {b_name}\n\n");
    s.push_str(&format!(
        "{:<w$}  {:>12}  {:>12}  {:>9}\n",
        "figure", "A", "B", "change"
    ));
    for r in rows {
        let change = match r.change_pct {
            Some(c) => format!("{c:+.1}%"),
            None if r.a == r.b => "=".into(),
            None => "-".into(),
        };
        s.push_str(&format!(
            "{:<w$}  {:>12}  {:>12}  {:>9}\n",
            r.figure,
            num(r.a),
            num(r.b),
            change
        ));
    }
    s
}
