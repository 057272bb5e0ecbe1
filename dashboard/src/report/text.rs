//! A report as terminal text.

use std::fmt::Write;

use super::{LatencySet, Report, CATEGORIES};

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

fn latency_table(out: &mut String, set: &LatencySet, indent: &str) {
    let _ = writeln!(
        out,
        "{indent}{:<11} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "(ms)", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    for cat in CATEGORIES {
        let p = set.get(cat);
        if p.count == 0 {
            let _ = writeln!(out, "{indent}{cat:<11} {:>7}", 0);
            continue;
        }
        let _ = writeln!(
            out,
            "{indent}{cat:<11} {:>7} {:>10} {:>10} {:>10} {:>10} {:>10}",
            p.count,
            ms(p.p50),
            ms(p.p90),
            ms(p.p99),
            ms(p.p999),
            ms(p.max)
        );
    }
}

/// The report as text.
pub fn render(r: &Report) -> String {
    let mut o = String::new();
    write_header(&mut o, r);
    write_verdict(&mut o, r);
    write_faults(&mut o, r);
    write_client_latency(&mut o, r);
    write_messages(&mut o, r);
    write_leadership(&mut o, r);
    write_events(&mut o, r);
    o
}

/// Which run, and who reported it.
fn write_header(o: &mut String, r: &Report) {
    let _ = writeln!(
        o,
        "# Run report: {} (seed {}), {:.1} s, replicas {}",
        r.config.as_deref().unwrap_or("unknown config"),
        r.seed.map_or("-".into(), |s| s.to_string()),
        r.duration_us as f64 / 1e6,
        if r.replicas.is_empty() {
            "-".into()
        } else {
            r.replicas.join(" ")
        }
    );
    let _ = writeln!(
        o,
        "Sources: simulator {}, replicas {}{}",
        if r.from_simulator { "yes" } else { "no" },
        if r.from_replicas { "yes" } else { "no" },
        if r.runs > 1 {
            format!("; {} runs recorded, this is the last", r.runs)
        } else {
            String::new()
        }
    );
    if !r.knobs.is_empty() {
        let distinct: std::collections::BTreeSet<&String> = r.knobs.values().collect();
        let distinct: Vec<&String> = distinct.into_iter().collect();
        let knobs = match distinct[..] {
            [one] if one.is_empty() => "defaults".to_string(),
            [one] => one.clone(),
            _ => r
                .knobs
                .iter()
                .map(|(id, t)| format!("{id}: {}", if t.is_empty() { "defaults" } else { t }))
                .collect::<Vec<_>>()
                .join("; "),
        };
        let _ = writeln!(o, "Replica knobs: {knobs}");
    }
}

/// The simulator's verdict: pass or fail, failed checks, tiers.
fn write_verdict(o: &mut String, r: &Report) {
    let _ = writeln!(o, "\n## Verdict");
    match &r.verdict {
        None => {
            let _ = writeln!(o, "  no run_end from run.py in this recording");
        }
        Some(v) => {
            let _ = writeln!(
                o,
                "  {}{}",
                if v.passed { "PASSED" } else { "FAILED" },
                match v.linearizable {
                    Some(true) => ", linearizable",
                    Some(false) => ", NOT linearizable",
                    None => "",
                }
            );
            for c in v.checks.iter().filter(|c| !c.passed) {
                let _ = writeln!(o, "  failed check {}: {}", c.name, c.detail);
            }
            for t in &v.tiers {
                let value = if t.value.fract() == 0.0 {
                    format!("{:.0}", t.value)
                } else {
                    format!("{:.6}", t.value)
                };
                let _ = writeln!(o, "  {:<15} {value:>12} {}", t.metric, t.tier);
            }
        }
    }
}

/// The simulator's faults: counts (with run.py's own, when it gave its
/// verdict), then each in order.
fn write_faults(o: &mut String, r: &Report) {
    let f = &r.faults;
    let _ = writeln!(o, "\n## Faults");
    let stat = |name: &str| {
        r.verdict
            .as_ref()
            .and_then(|v| v.stats.get(name))
            .map(|x| format!("{x:.0}"))
    };
    let run_py = match (stat("killed"), stat("restarted")) {
        (Some(k), Some(rs)) => {
            let skipped = match stat("restart_skipped") {
                Some(n) if n != "0" => format!(", {n} restarts skipped"),
                _ => String::new(),
            };
            format!(" (run.py: killed {k}, restarted {rs}{skipped})")
        }
        (Some(k), None) => format!(" (run.py: killed {k})"),
        _ => String::new(),
    };
    let _ = writeln!(
        o,
        "  kills {}, restarts {}{run_py}, partitions {}, heals {}",
        f.kills, f.restarts, f.partitions, f.heals
    );
    for x in &f.list {
        let what = match x.kind {
            "kill" => format!(
                "kill {}{}",
                x.replica.as_deref().unwrap_or("-"),
                if x.leader == Some(true) {
                    " (leader)"
                } else {
                    ""
                }
            ),
            "restart" => format!(
                "restart {}{}",
                x.replica.as_deref().unwrap_or("-"),
                x.down_us
                    .map_or(String::new(), |d| format!(", down {:.3} s", d as f64 / 1e6))
            ),
            "partition" => format!("partition, minority {}", x.minority.join(" ")),
            other => other.to_string(),
        };
        let _ = writeln!(o, "    {:>8.3} s  {what}", x.at_us as f64 / 1e6);
    }
    if f.not_listed > 0 {
        let _ = writeln!(o, "    (and {} more)", f.not_listed);
    }
}

/// Requests, the median, and latency tables for the run and each phase.
fn write_client_latency(o: &mut String, r: &Report) {
    let _ = writeln!(o, "\n## Client latency");
    let q = &r.requests;
    let _ = writeln!(
        o,
        "  requests sent {} get / {} put; answers {} ({} ok get, {} ok put, {} redirected of which {} fail)",
        q.sent_get, q.sent_put, q.answered, q.ok_get, q.ok_put, q.redirects, q.fails
    );
    let _ = writeln!(
        o,
        "  median (run.py's definition): {}",
        r.median_us.map_or("-".into(), |m| format!("{} ms", ms(m)))
    );
    latency_table(o, &r.latency, "  ");
    for p in &r.phases {
        let _ = writeln!(
            o,
            "\n  phase {} ({:.2} s to {:.2} s)",
            p.name,
            p.from_us as f64 / 1e6,
            p.to_us as f64 / 1e6
        );
        latency_table(o, &p.latency, "    ");
    }
}

/// Messages between replicas: totals, by type, by sender.
fn write_messages(o: &mut String, r: &Report) {
    let m = &r.messages;
    let _ = writeln!(o, "\n## Messages between replicas");
    let _ = writeln!(
        o,
        "  total {} (lost {}), per committed put {}, to clients {}",
        m.total_msgs,
        m.lost,
        m.per_committed_put
            .map_or("-".into(), |x| format!("{x:.2}")),
        m.to_clients
    );
    let _ = writeln!(o, "  by type:");
    for (t, n) in &m.by_type {
        let _ = writeln!(o, "    {t:<12} {n:>9}");
    }
    let _ = writeln!(o, "  by sending replica:");
    for (id, n) in &m.by_replica {
        let _ = writeln!(o, "    {id:<12} {n:>9}");
    }
}

/// Elections and leader changes, as the simulator and the replicas saw
/// them.
fn write_leadership(o: &mut String, r: &Report) {
    let e = &r.elections;
    let _ = writeln!(o, "\n## Leadership (simulator's view)");
    let _ = writeln!(
        o,
        "  elections (leaderless windows) {}, leaderless {} ms, leader changes {}, leaders {}",
        e.count,
        ms(e.leaderless_us),
        e.leader_changes,
        if e.leaders.is_empty() {
            "-".into()
        } else {
            e.leaders.join(" ")
        }
    );
    for w in &e.windows {
        let _ = writeln!(
            o,
            "    from {:.3} s: {} ms{}",
            w.from_us as f64 / 1e6,
            ms(w.duration_us),
            if w.to_us.is_none() {
                " (until the end)"
            } else {
                ""
            }
        );
    }
    if let Some(re) = &r.replica_elections {
        let _ = writeln!(
            o,
            "  replicas' view: elections started {}, won {}, leader changes {}",
            re.started, re.won, re.leader_changes
        );
    }
    let _ = writeln!(o, "  redirects {}", r.requests.redirects);
}

/// The recording itself: lines read, what was not used, what was dropped.
fn write_events(o: &mut String, r: &Report) {
    let l = &r.lines;
    let _ = writeln!(o, "\n## Events");
    let _ = writeln!(
        o,
        "  lines {}, events {}, malformed {}, other versions {}, unknown kinds {}",
        l.lines, l.events, l.malformed, l.other_version, l.unknown_kind
    );
    let _ = writeln!(
        o,
        "  events dropped: run.py {}, replicas {}",
        r.events_dropped_sim.map_or("-".into(), |d| d.to_string()),
        r.events_dropped_replicas
    );
}
