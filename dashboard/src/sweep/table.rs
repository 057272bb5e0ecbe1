//! A sweep's table: per setting, each figure's median and range over the
//! seeds, with the best setting of each column marked.

use serde::Serialize;

use crate::report::spread::{num, Spread};
use crate::report::Report;

/// A figure of one run, read from its report.
pub struct Column {
    pub key: &'static str,
    pub title: &'static str,
    pub get: fn(&Report) -> Option<f64>,
}

fn stat(r: &Report, name: &str) -> Option<f64> {
    r.verdict.as_ref().and_then(|v| v.stats.get(name).copied())
}

/// The columns, every one better when lower.
pub const COLUMNS: &[Column] = &[
    Column {
        key: "messages",
        title: "messages",
        // run.py's graded count, else the recording's traffic rows.
        get: |r| stat(r, "total_msgs").or(Some(r.messages.total_msgs as f64)),
    },
    Column {
        key: "p50_ms",
        title: "p50 ms",
        // The median as run.py grades it (redirected answers included).
        get: |r| r.median_us.map(|us| us as f64 / 1000.0),
    },
    Column {
        key: "p99_ms",
        title: "p99 ms",
        get: |r| (r.latency.all.count > 0).then(|| r.latency.all.p99 as f64 / 1000.0),
    },
    Column {
        key: "failures",
        title: "failures",
        get: |r| stat(r, "failures"),
    },
    Column {
        key: "duplicates",
        title: "duplicates",
        get: |r| stat(r, "duplicates"),
    },
    Column {
        key: "redirects",
        title: "redirects",
        get: |r| Some(r.requests.redirects as f64),
    },
];

/// One setting's row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub setting: String,
    /// Runs with a readable recording.
    pub runs: usize,
    /// Per column of [`COLUMNS`], in order.
    pub figures: Vec<Option<Spread>>,
    /// Runs that passed, of those with a verdict.
    pub passed: usize,
    pub judged: usize,
}

impl Row {
    pub fn of(setting: String, reports: &[&Report]) -> Row {
        let figures = COLUMNS
            .iter()
            .map(|c| Spread::of(reports.iter().filter_map(|r| (c.get)(r))))
            .collect();
        let verdicts: Vec<bool> = reports
            .iter()
            .filter_map(|r| r.verdict.as_ref().map(|v| v.passed))
            .collect();
        Row {
            setting,
            runs: reports.len(),
            figures,
            passed: verdicts.iter().filter(|p| **p).count(),
            judged: verdicts.len(),
        }
    }
}

/// For each column of [`COLUMNS`] then "passed", the rows holding its best
/// value (all of them on a tie); none when no two rows differ.
pub fn best(rows: &[Row]) -> Vec<Vec<usize>> {
    let pick = |values: Vec<Option<f64>>, lower: bool| {
        let known: Vec<f64> = values.iter().flatten().copied().collect();
        if known.len() < 2 || known.iter().all(|v| *v == known[0]) {
            return Vec::new();
        }
        let target = if lower {
            known.iter().copied().fold(f64::INFINITY, f64::min)
        } else {
            known.iter().copied().fold(f64::NEG_INFINITY, f64::max)
        };
        values
            .iter()
            .enumerate()
            .filter(|(_, v)| **v == Some(target))
            .map(|(i, _)| i)
            .collect()
    };
    let mut out: Vec<Vec<usize>> = (0..COLUMNS.len())
        .map(|c| {
            pick(
                rows.iter()
                    .map(|r| r.figures[c].map(|s| s.median))
                    .collect(),
                true,
            )
        })
        .collect();
    out.push(pick(
        rows.iter()
            .map(|r| (r.judged > 0).then(|| r.passed as f64 / r.judged as f64))
            .collect(),
        false,
    ));
    out
}

/// The table as text: one line per setting.
pub fn render(rows: &[Row]) -> String {
    let marks = best(rows);
    let mut cells: Vec<Vec<String>> = vec![std::iter::once("setting".to_string())
        .chain(std::iter::once("runs".to_string()))
        .chain(COLUMNS.iter().map(|c| c.title.to_string()))
        .chain(std::iter::once("passed".to_string()))
        .collect()];
    for (i, r) in rows.iter().enumerate() {
        let mark = |col: usize| if marks[col].contains(&i) { " *" } else { "" };
        let mut line = vec![r.setting.clone(), r.runs.to_string()];
        for (c, f) in r.figures.iter().enumerate() {
            line.push(match f {
                Some(s) => format!("{s}{}", mark(c)),
                None => "-".into(),
            });
        }
        line.push(format!("{}/{}{}", r.passed, r.judged, mark(COLUMNS.len())));
        cells.push(line);
    }
    let widths: Vec<usize> = (0..cells[0].len())
        .map(|c| {
            cells
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in &cells {
        let row: Vec<String> = line
            .iter()
            .enumerate()
            .map(|(c, s)| {
                if c == 0 {
                    format!("{s:<w$}", w = widths[c])
                } else {
                    format!("{s:>w$}", w = widths[c])
                }
            })
            .collect();
        out += row.join("  ").trim_end();
        out.push('\n');
    }
    out += "median [min-max] over the runs; * the best median of its column (lowest; passed: highest)\n";
    out
}

/// A spread's median as a table cell, for tests and plots.
pub fn median_text(s: &Option<Spread>) -> String {
    s.map_or("-".into(), |s| num(s.median))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::from_reader;

    fn run(msgs: u64, passed: bool) -> Report {
        let text = format!(
            "{{\"v\":1,\"ts\":1000000,\"src\":\"sim\",\"kind\":\"run_start\",\"config\":\"c\",\"seed\":1,\
             \"replicas\":[\"0000\"],\"clients\":[],\"transport\":\"classic\",\"lifetime\":1.0}}\n\
             {{\"v\":1,\"ts\":2000000,\"src\":\"sim\",\"kind\":\"run_end\",\"passed\":{passed},\
             \"stats\":{{\"total_msgs\":{msgs},\"failures\":0,\"duplicates\":{d}}},\"checks\":[],\"tiers\":[]}}\n",
            d = u64::from(!passed)
        );
        from_reader(text.as_bytes()).unwrap()
    }

    #[test]
    fn rows_hold_the_median_and_range_and_the_best_is_marked() {
        let (a, b, c) = (run(100, true), run(120, true), run(110, false));
        let (d, e) = (run(90, true), run(95, true));
        let rows = vec![
            Row::of("heartbeat=100ms".into(), &[&a, &b, &c]),
            Row::of("heartbeat=200ms".into(), &[&d, &e]),
        ];
        assert_eq!(rows[0].runs, 3);
        assert_eq!((rows[0].passed, rows[0].judged), (2, 3));
        let msgs = rows[0].figures[0].unwrap();
        assert_eq!((msgs.median, msgs.min, msgs.max), (110.0, 100.0, 120.0));
        let marks = best(&rows);
        assert_eq!(marks[0], vec![1], "fewer messages");
        assert_eq!(marks[4], Vec::<usize>::new(), "median 0 duplicates on both");
        assert_eq!(
            marks[3],
            Vec::<usize>::new(),
            "no failures anywhere: no best"
        );
        assert_eq!(marks[COLUMNS.len()], vec![1], "2/2 passed beats 2/3");
        let text = render(&rows);
        assert!(text.contains("110 [100-120]"), "{text}");
        assert!(text.contains("92.5 [90-95] *"), "{text}");
        assert!(text.contains("2/3"));
        assert!(text.contains("2/2 *"));
    }
}
