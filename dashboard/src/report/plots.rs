//! `kvdash report --plots DIR`: SVG plots of a report, drawn with
//! plotters' SVG backend.
//!
//! - `latency-histogram.svg`: answers per logarithmic latency bucket, by
//!   category (get, put, redirected);
//! - `latency-over-time.svg`: each answer's latency at its time, by
//!   category, partitions shaded and kills marked;
//! - `message-rate.svg`: messages between replicas per second, by type;
//! - `leader-timeline.svg`: the simulator's leader over time, one lane per
//!   replica and one for "no leader", faults shaded.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use plotters::prelude::*;

use super::{LatencyClass, Report};

/// The files written, in order.
pub const FILES: [&str; 4] = [
    "latency-histogram.svg",
    "latency-over-time.svg",
    "message-rate.svg",
    "leader-timeline.svg",
];

const SIZE: (u32, u32) = (900, 480);
const PALETTE: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];
const FAULT: RGBColor = RGBColor(255, 200, 200);

fn err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow!("cannot draw: {e:?}")
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Writes every plot into `dir` (created if needed); returns the paths.
pub fn write_all(r: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let svgs = [
        latency_histogram(r)?,
        latency_over_time(r)?,
        message_rate(r)?,
        leader_timeline(r)?,
    ];
    let mut out = Vec::new();
    for (name, svg) in FILES.iter().zip(svgs) {
        let p = dir.join(name);
        std::fs::write(&p, svg).with_context(|| format!("cannot write {}", p.display()))?;
        out.push(p);
    }
    Ok(out)
}

/// Answers per logarithmic latency bucket (4 per decade), by category.
pub fn latency_histogram(r: &Report) -> Result<String> {
    let answers = &r.series.answers;
    let lo = answers.iter().map(|a| a.1.max(1)).min().unwrap_or(1);
    let hi = answers.iter().map(|a| a.1.max(1)).max().unwrap_or(10);
    let (d0, d1) = (
        (lo as f64).log10().floor(),
        (hi as f64).log10().floor() + 1.0,
    );
    const PER_DECADE: f64 = 4.0;
    let n = ((d1 - d0) * PER_DECADE) as usize;
    let mut counts = vec![[0u64; 3]; n.max(1)];
    for &(_, us, class) in answers {
        let x = (us.max(1) as f64).log10();
        let i = (((x - d0) * PER_DECADE).floor() as usize).min(counts.len() - 1);
        counts[i][class.index()] += 1;
    }
    let ymax = counts.iter().flatten().copied().max().unwrap_or(0).max(1);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Client latency histogram", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(d0..d1, 0f64..(ymax as f64 * 1.1))
            .map_err(err)?;
        let fmt = |x: &f64| format!("{:.3}", 10f64.powf(*x) / 1000.0);
        chart
            .configure_mesh()
            .x_desc("latency (ms, log scale)")
            .y_desc("answers")
            .x_label_formatter(&fmt)
            .draw()
            .map_err(err)?;
        let w = 1.0 / PER_DECADE / 3.0;
        for class in LatencyClass::ALL {
            let c = class.index();
            let col = color(c);
            chart
                .draw_series(
                    counts
                        .iter()
                        .enumerate()
                        .filter(|(_, k)| k[c] > 0)
                        .map(|(i, k)| {
                            let x0 = d0 + i as f64 / PER_DECADE + c as f64 * w;
                            Rectangle::new([(x0, 0.0), (x0 + w, k[c] as f64)], col.filled())
                        }),
                )
                .map_err(err)?
                .label(class.name())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], col.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// Shades the fault windows of `r` on a chart whose x axis is seconds.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, impl Ranged<ValueType = f64>>,
    >,
    r: &Report,
    y: (f64, f64),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    // Faults are clipped to the plotted time span: plotters maps a far-off
    // coordinate to pixels in i32 arithmetic that overflows.
    let x = chart.x_range();
    let clip = |us: u64| secs(us).clamp(x.start, x.end);
    let parts: Vec<_> = r
        .series
        .faults
        .iter()
        .filter(|f| f.1 > f.0 && clip(f.1) > clip(f.0))
        .collect();
    let kills: Vec<_> = r
        .series
        .faults
        .iter()
        .filter(|f| f.1 == f.0 && x.contains(&secs(f.0)))
        .collect();
    if !parts.is_empty() {
        chart
            .draw_series(
                parts
                    .iter()
                    .map(|f| Rectangle::new([(clip(f.0), y.0), (clip(f.1), y.1)], FAULT.filled())),
            )
            .map_err(err)?
            .label("partition")
            .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], FAULT.filled()));
    }
    if !kills.is_empty() {
        chart
            .draw_series(kills.iter().map(|f| {
                PathElement::new(
                    vec![(secs(f.0), y.0), (secs(f.0), y.1)],
                    RED.stroke_width(2),
                )
            }))
            .map_err(err)?
            .label("kill")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], RED.stroke_width(2)));
    }
    Ok(())
}

/// Each answer's latency at its time, by category, faults shaded.
pub fn latency_over_time(r: &Report) -> Result<String> {
    let answers = &r.series.answers;
    let t1 = secs(r.duration_us).max(0.001);
    let hi = answers.iter().map(|a| a.1).max().unwrap_or(1).max(1) as f64 / 1000.0;
    let lo = answers.iter().map(|a| a.1).min().unwrap_or(1).max(1) as f64 / 1000.0;
    let (lo, hi) = (lo / 2.0, hi * 2.0);
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Client latency over time", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..t1, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("latency (ms, log scale)")
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, r, (lo, hi))?;
        for class in LatencyClass::ALL {
            let col = color(class.index());
            chart
                .draw_series(
                    answers.iter().filter(|a| a.2 == class).map(|a| {
                        Circle::new((secs(a.0), a.1.max(1) as f64 / 1000.0), 2, col.filled())
                    }),
                )
                .map_err(err)?
                .label(class.name())
                .legend(move |(x, y)| Circle::new((x + 5, y), 3, col.filled()));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// Messages between replicas per second, one line per type.
pub fn message_rate(r: &Report) -> Result<String> {
    let rate = &r.series.rate;
    let n = rate.values().map(Vec::len).max().unwrap_or(0).max(1);
    let ymax = rate.values().flatten().copied().max().unwrap_or(0).max(1) as f64;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Messages between replicas by type", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..n as f64, 0f64..ymax * 1.1)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("messages per second")
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, r, (0.0, ymax * 1.1))?;
        for (i, (ty, v)) in rate.iter().enumerate() {
            let col = color(i);
            // Each second's count drawn at the second's middle.
            let pts: Vec<(f64, f64)> = (0..n)
                .map(|k| (k as f64 + 0.5, v.get(k).copied().unwrap_or(0) as f64))
                .collect();
            chart
                .draw_series(LineSeries::new(pts, col.stroke_width(2)))
                .map_err(err)?
                .label(ty.as_str())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 15, y)], col.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// The simulator's leader over time: one lane per replica, one for none.
pub fn leader_timeline(r: &Report) -> Result<String> {
    let mut lanes: Vec<String> = r.replicas.clone();
    for (_, _, id) in &r.series.leaders {
        if id != crate::state::NO_ID && !lanes.contains(id) {
            lanes.push(id.clone());
        }
    }
    lanes.push("none".into());
    let lane = |id: &str| {
        let id = if id == crate::state::NO_ID {
            "none"
        } else {
            id
        };
        lanes
            .iter()
            .position(|l| l == id)
            .unwrap_or(lanes.len() - 1) as f64
    };
    let t1 = secs(r.duration_us).max(0.001);
    let ymax = lanes.len() as f64;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Leader timeline (simulator's view)", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d(0f64..t1, 0f64..ymax)
            .map_err(err)?;
        let names = lanes.clone();
        let fmt = move |y: &f64| {
            let i = (y - 0.5).round();
            if (y - 0.5 - i).abs() < 1e-6 && i >= 0.0 {
                names.get(i as usize).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        };
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("leader")
            .y_labels(lanes.len() * 2 + 1)
            .y_label_formatter(&fmt)
            .disable_y_mesh()
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, r, (0.0, ymax))?;
        let segs: Vec<_> = r.series.leaders.iter().filter(|s| s.1 > s.0).collect();
        let mut drawn = |leaderless: bool, label: &str, col: RGBColor| -> Result<()> {
            chart
                .draw_series(
                    segs.iter()
                        .filter(|s| (s.2 == crate::state::NO_ID) == leaderless)
                        .map(|s| {
                            let y = lane(&s.2);
                            Rectangle::new(
                                [(secs(s.0), y + 0.2), (secs(s.1), y + 0.8)],
                                col.filled(),
                            )
                        }),
                )
                .map_err(err)?
                .label(label)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], col.filled()));
            Ok(())
        };
        drawn(false, "leader", color(0))?;
        drawn(true, "no leader", color(3))?;
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(err)?;
        root.present().map_err(err)?;
    }
    Ok(s)
}
