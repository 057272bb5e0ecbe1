//! `kvdash compare A B`: the same figures of two runs side by side, with
//! the relative change from A to B; of two sets of runs (seeds), each
//! figure's median and range, and whether the change is beyond the range.

use serde::Serialize;

use super::spread::Spread;
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

/// One row of a comparison of two sets of runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetRow {
    pub figure: String,
    pub a: Option<Spread>,
    pub b: Option<Spread>,
    /// The change of the median, `(b - a) / a * 100`.
    pub change_pct: Option<f64>,
    /// Whether the change is larger than the seed-to-seed spread (the
    /// ranges do not overlap); `None` with fewer than two runs a side.
    pub beyond_spread: Option<bool>,
}

/// Each figure's values over `runs`, in the order figures first appear.
pub fn figure_values(runs: &[Report]) -> Vec<(String, Vec<f64>)> {
    let mut out: Vec<(String, Vec<f64>)> = Vec::new();
    for r in runs {
        for f in figures(r) {
            let Some(v) = f.value else { continue };
            match out.iter_mut().find(|(name, _)| *name == f.figure) {
                Some((_, vals)) => vals.push(v),
                None => out.push((f.figure, vec![v])),
            }
        }
    }
    out
}

/// Two sets of runs figure by figure: A's figures in order, then B's own.
pub fn compare_sets(a: &[Report], b: &[Report]) -> Vec<SetRow> {
    let (va, vb) = (figure_values(a), figure_values(b));
    let mut names: Vec<&String> = va.iter().map(|(n, _)| n).collect();
    for (n, _) in &vb {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    let spread = |set: &[(String, Vec<f64>)], name: &String| {
        set.iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| Spread::of(v.iter().copied()))
    };
    names
        .into_iter()
        .map(|name| {
            let (a, b) = (spread(&va, name), spread(&vb, name));
            let change_pct = match (a, b) {
                (Some(a), Some(b)) if a.median != 0.0 => {
                    Some((b.median - a.median) / a.median * 100.0)
                }
                _ => None,
            };
            let beyond_spread = match (a, b) {
                (Some(a), Some(b)) if a.median != b.median => a.beyond(&b),
                (Some(_), Some(_)) => Some(false),
                _ => None,
            };
            SetRow {
                figure: name.clone(),
                a,
                b,
                change_pct,
                beyond_spread,
            }
        })
        .collect()
}

/// The comparison of two sets as a terminal table.
pub fn sets_text(a_name: &str, b_name: &str, rows: &[SetRow]) -> String {
    let runs = |side: fn(&SetRow) -> Option<Spread>| {
        rows.iter().filter_map(side).map(|s| s.n).max().unwrap_or(0)
    };
    let w = rows
        .iter()
        .map(|r| r.figure.len())
        .max()
        .unwrap_or(6)
        .max(6);
    let cell = |s: Option<Spread>| s.map_or("-".to_string(), |s| s.to_string());
    let wa = rows
        .iter()
        .map(|r| cell(r.a).len())
        .max()
        .unwrap_or(1)
        .max(14);
    let wb = rows
        .iter()
        .map(|r| cell(r.b).len())
        .max()
        .unwrap_or(1)
        .max(14);
    let mut s = format!(
        "A: {a_name} ({} runs)\nB: {b_name} ({} runs)\n\
         median [min-max] over the runs; \"beyond\": the ranges do not overlap\n\n",
        runs(|r| r.a),
        runs(|r| r.b)
    );
    s.push_str(&format!(
        "{:<w$}  {:>wa$}  {:>wb$}  {:>9}  {}\n",
        "figure", "A", "B", "change", "vs spread"
    ));
    for r in rows {
        let change = match r.change_pct {
            Some(c) => format!("{c:+.1}%"),
            None if r.a.map(|a| a.median) == r.b.map(|b| b.median) => "=".into(),
            None => "-".into(),
        };
        let judged = match r.beyond_spread {
            Some(true) => "beyond",
            Some(false) => "within",
            None => "-",
        };
        s.push_str(&format!(
            "{:<w$}  {:>wa$}  {:>wb$}  {:>9}  {judged}\n",
            r.figure,
            cell(r.a),
            cell(r.b),
            change
        ));
    }
    s
}
