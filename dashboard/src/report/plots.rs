//! `kvdash report --plots DIR`: SVG plots of a report, drawn with
//! plotters' SVG backend.
//!
//! - `latency-histogram.svg`: answers per logarithmic latency bucket, by
//!   category (get, put, redirected);
//! - `latency-over-time.svg`: each answer's latency at its time, by
//!   category, partitions shaded, kills (red) and restarts (cyan) marked;
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

/// The plots' size and colours, shared with `kvdash sweep --plots`.
pub(crate) const SIZE: (u32, u32) = (900, 480);
pub(crate) const PALETTE: [RGBColor; 8] = [
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
/// A restart's line (a kill's is red).
const RESTART: RGBColor = RGBColor(23, 190, 207);

pub(crate) fn err(e: impl std::fmt::Debug) -> anyhow::Error {
    anyhow!("cannot draw: {e:?}")
}

fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// Most ticks [`log_ticks`] puts on an axis.
pub const MAX_LOG_TICKS: usize = 10;

/// Most ticks [`log_ticks`] puts on an axis in the 1-2-5 sequence (about
/// two decades); a wider range gets 1-3.
const MAX_1_2_5_TICKS: usize = 7;

/// `m × 10^e`, rounded once (so that `3 × 10^-1` is the double nearest
/// 0.3, which prints as `0.3`).
fn scaled(m: f64, e: i32) -> f64 {
    if e >= 0 {
        m * 10f64.powi(e)
    } else {
        m / 10f64.powi(-e)
    }
}

/// Round ticks for a logarithmic axis over `[min, max]` (either order),
/// ascending and inside the range: 1-2-5 (0.1, 0.2, 0.5, 1...) over
/// about two decades at most, else 1-3 (0.1, 0.3, 1, 3...), else powers
/// of ten (every decade, every second decade...), whichever first gives
/// at most [`MAX_LOG_TICKS`]. Where even 1-2-5 gives fewer than three (a
/// range under about a decade), linear round steps (1, 2 or 5 times a
/// power of ten) instead. `min == max` (or a range narrower than
/// a millionth of its values) gives the lower bound alone; a range that
/// is not finite and positive (zero, negative, NaN) gives none, as a log
/// axis cannot show it.
pub fn log_ticks(min: f64, max: f64) -> Vec<f64> {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0) {
        return Vec::new();
    }
    if hi - lo <= lo * 1e-6 {
        return vec![lo];
    }
    // A hair of slack, so that a bound that is itself round is a tick.
    let (lo_in, hi_in) = (lo * (1.0 - 1e-9), hi * (1.0 + 1e-9));
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let decades = |mantissas: &[f64], every: i32| -> Vec<f64> {
        (e0..=e1)
            .filter(|e| e.rem_euclid(every) == 0)
            .flat_map(|e| mantissas.iter().map(move |&m| scaled(m, e)))
            .filter(|t| (lo_in..=hi_in).contains(t))
            .collect()
    };
    let dense = decades(&[1.0, 2.0, 5.0], 1);
    if dense.len() < 3 {
        return linear_ticks(lo, hi, lo_in, hi_in);
    }
    if dense.len() <= MAX_1_2_5_TICKS {
        return dense;
    }
    let ticks = decades(&[1.0, 3.0], 1);
    if ticks.len() <= MAX_LOG_TICKS {
        return ticks;
    }
    let mut every = 1;
    loop {
        let ticks = decades(&[1.0], every);
        if ticks.len() <= MAX_LOG_TICKS {
            return ticks;
        }
        every += 1;
    }
}

/// The light grid lines of a log axis over `[min, max]`: every integer
/// multiple of each power of ten (1, 2, ... 9, 10, 20...), inside the
/// range; none past six decades (too dense to help).
pub fn log_grid(min: f64, max: f64) -> Vec<f64> {
    let (lo, hi) = if min <= max { (min, max) } else { (max, min) };
    if !(lo.is_finite() && hi.is_finite() && lo > 0.0) || hi / lo > 1e6 {
        return Vec::new();
    }
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    (e0..=e1)
        .flat_map(|e| (1..10).map(move |m| scaled(m as f64, e)))
        .filter(|t| (lo..=hi).contains(t))
        .collect()
}

/// Round linear steps over a narrow `[lo, hi]` (0 < lo < hi): 1, 2 or 5
/// times a power of ten, about five ticks.
fn linear_ticks(lo: f64, hi: f64, lo_in: f64, hi_in: f64) -> Vec<f64> {
    let raw = (hi - lo) / 4.0;
    let mut e = raw.log10().floor() as i32;
    let f = raw / scaled(1.0, e);
    let m = match f {
        f if f < 1.5 => 1.0,
        f if f < 3.5 => 2.0,
        f if f < 7.5 => 5.0,
        _ => {
            e += 1;
            1.0
        }
    };
    let step = scaled(m, e);
    let first = (lo / step).ceil();
    // At most a dozen steps by construction; the bound is for safety.
    (0..12)
        .map(|k| scaled((first + k as f64) * m, e))
        .take_while(|t| *t <= hi_in)
        .filter(|t| *t >= lo_in)
        .collect()
}

/// A duration in milliseconds as a tick label: three significant digits
/// at most, without trailing zeros, in ms below a second (`0.3 ms`,
/// `10 ms`) and in seconds from there (`1 s`, `2.5 s`).
pub fn ms_label(ms: f64) -> String {
    let ms = round3(ms);
    if !ms.is_finite() {
        String::new()
    } else if ms.abs() >= 1000.0 {
        format!("{} s", round3(ms / 1000.0))
    } else {
        format!("{ms} ms")
    }
}

/// `x` rounded to three significant digits (the double nearest that
/// decimal, which prints without noise).
fn round3(x: f64) -> f64 {
    if x == 0.0 || !x.is_finite() {
        return x;
    }
    let e = x.abs().log10().floor() as i32 - 2;
    scaled((x / scaled(1.0, e)).round(), e)
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
    // Buckets are in log10 of µs; the axis is in ms.
    let ms = |log10_us: f64| 10f64.powf(log10_us) / 1000.0;
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Client latency histogram", ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(
                (ms(d0)..ms(d1))
                    .log_scale()
                    .with_key_points(log_ticks(ms(d0), ms(d1)))
                    .with_light_points(log_grid(ms(d0), ms(d1))),
                0f64..(ymax as f64 * 1.1),
            )
            .map_err(err)?;
        let fmt = |x: &f64| ms_label(*x);
        chart
            .configure_mesh()
            .x_desc("latency (log scale)")
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
                            Rectangle::new([(ms(x0), 0.0), (ms(x0 + w), k[c] as f64)], col.filled())
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
    let instants = |prefix: &str| -> Vec<_> {
        r.series
            .faults
            .iter()
            .filter(|f| f.1 == f.0 && f.2.starts_with(prefix) && x.contains(&secs(f.0)))
            .collect()
    };
    let (kills, restarts) = (instants("kill "), instants("restart "));
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
    if !restarts.is_empty() {
        chart
            .draw_series(restarts.iter().map(|f| {
                PathElement::new(
                    vec![(secs(f.0), y.0), (secs(f.0), y.1)],
                    RESTART.stroke_width(2),
                )
            }))
            .map_err(err)?
            .label("restart")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 10, y)], RESTART.stroke_width(2)));
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
            .build_cartesian_2d(
                0f64..t1,
                (lo..hi)
                    .log_scale()
                    .with_key_points(log_ticks(lo, hi))
                    .with_light_points(log_grid(lo, hi)),
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("time since start (s)")
            .y_desc("latency (log scale)")
            .y_label_formatter(&|ms: &f64| ms_label(*ms))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_decade_gets_1_2_5() {
        assert_eq!(log_ticks(0.1, 1.0), [0.1, 0.2, 0.5, 1.0]);
        assert_eq!(log_ticks(1.0, 10.0), [1.0, 2.0, 5.0, 10.0]);
        // Either order.
        assert_eq!(log_ticks(10.0, 1.0), [1.0, 2.0, 5.0, 10.0]);
    }

    #[test]
    fn three_decades_get_1_3_and_six_get_powers_of_ten() {
        assert_eq!(
            log_ticks(0.1, 100.0),
            [0.1, 0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
        );
        assert_eq!(
            log_ticks(0.01, 10_000.0),
            [0.01, 0.1, 1.0, 10.0, 100.0, 1000.0, 10_000.0]
        );
        // Twelve decades: every second one.
        assert_eq!(log_ticks(1e-6, 1e6), [1e-6, 1e-4, 1e-2, 1.0, 1e2, 1e4, 1e6]);
    }

    #[test]
    fn sub_unit_and_narrow_ranges() {
        assert_eq!(log_ticks(0.02, 0.6), [0.02, 0.05, 0.1, 0.2, 0.5]);
        // Under a decade with too few 1-2-5 values: linear round steps.
        assert_eq!(log_ticks(0.7, 0.9), [0.7, 0.75, 0.8, 0.85, 0.9]);
        assert_eq!(log_ticks(1.5, 6.0), [2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(
            log_ticks(0.0123, 0.0125),
            [0.0123, 0.01235, 0.0124, 0.01245, 0.0125]
        );
    }

    #[test]
    fn degenerate_input_never_panics() {
        assert_eq!(log_ticks(5.0, 5.0), [5.0]);
        assert_eq!(log_ticks(0.7, 0.7), [0.7]);
        for (a, b) in [
            (0.0, 0.0),
            (0.0, 10.0),
            (-1.0, 10.0),
            (-10.0, -1.0),
            (f64::NAN, 1.0),
            (1.0, f64::NAN),
            (f64::NAN, f64::NAN),
            (1.0, f64::INFINITY),
            (f64::NEG_INFINITY, 1.0),
        ] {
            assert_eq!(log_ticks(a, b), Vec::<f64>::new(), "{a}..{b}");
        }
        // Extremes of the doubles: some ticks, all in range.
        for (a, b) in [
            (f64::MIN_POSITIVE, f64::MAX),
            (5e-324, 1e-300),
            (1e300, f64::MAX),
            (1.0, 1.0 + f64::EPSILON),
            (1.0, 1.000_002),
        ] {
            let t = log_ticks(a, b);
            assert!(t.len() <= MAX_LOG_TICKS, "{a}..{b}: {t:?}");
            assert!(
                t.iter().all(|x| *x >= a * 0.999 && *x <= b * 1.001),
                "{a}..{b}: {t:?}"
            );
        }
        for x in [0.0, -1.0, f64::NAN, f64::INFINITY, 5e-324, f64::MAX] {
            let _ = ms_label(x);
        }
    }

    #[test]
    fn ticks_are_ascending_in_range_few_and_print_without_noise() {
        let mut lo = 0.0013;
        while lo < 5000.0 {
            for span in [1.3, 2.0, 3.7, 10.0, 47.0, 300.0, 1e4, 1e6] {
                let hi = lo * span;
                let t = log_ticks(lo, hi);
                assert!(t.len() >= 2, "{lo}..{hi}: {t:?}");
                assert!(t.len() <= MAX_LOG_TICKS, "{lo}..{hi}: {t:?}");
                assert!(t.windows(2).all(|w| w[0] < w[1]), "{lo}..{hi}: {t:?}");
                assert!(
                    t.iter()
                        .all(|x| *x >= lo * 0.999_999 && *x <= hi * 1.000_001),
                    "{lo}..{hi}: {t:?}"
                );
                for x in &t {
                    let shown = x.to_string();
                    let digits = shown.trim_start_matches(['0', '.']).replace('.', "");
                    let digits = digits.trim_end_matches('0');
                    assert!(digits.len() <= 4, "{lo}..{hi}: tick {shown}");
                }
            }
            lo *= 1.7;
        }
    }

    #[test]
    fn the_light_grid_is_every_multiple_of_each_decade() {
        assert_eq!(log_grid(0.5, 3.0), [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 2.0, 3.0]);
        assert_eq!(log_grid(1.0, 1e7), Vec::<f64>::new());
        assert_eq!(log_grid(0.0, 1.0), Vec::<f64>::new());
        assert_eq!(log_grid(f64::NAN, 1.0), Vec::<f64>::new());
        assert_eq!(log_grid(3.0, 0.5).len(), 8);
    }

    #[test]
    fn labels_are_round_with_a_unit() {
        assert_eq!(ms_label(0.3), "0.3 ms");
        assert_eq!(ms_label(0.1 + 0.2), "0.3 ms");
        assert_eq!(ms_label(0.03), "0.03 ms");
        assert_eq!(ms_label(10.0), "10 ms");
        assert_eq!(ms_label(299.999_999_9), "300 ms");
        assert_eq!(ms_label(999.999_9), "1 s");
        assert_eq!(ms_label(1000.0), "1 s");
        assert_eq!(ms_label(2500.0), "2.5 s");
        assert_eq!(ms_label(0.0), "0 ms");
        assert_eq!(ms_label(f64::NAN), "");
        let labels: Vec<String> = log_ticks(0.01, 10_000.0)
            .into_iter()
            .map(ms_label)
            .collect();
        assert_eq!(
            labels,
            ["0.01 ms", "0.1 ms", "1 ms", "10 ms", "100 ms", "1 s", "10 s"]
        );
    }
}
