//! `kvdash sweep --plots`: each figure against the setting, the median as
//! a line and the seed-to-seed range as a bar, in the report plots' style.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::RangedCoordusize;
use plotters::prelude::*;

use super::plan::{Setting, Vary};
use super::table::{Row, COLUMNS};
use crate::report::plots::{err, log_ticks, ms_label, PALETTE, SIZE};
use crate::report::spread::num;

/// Writes `<column>.svg` for every column into `dir`; returns the paths.
pub fn write_all(
    varies: &[Vary],
    settings: &[Setting],
    rows: &[Row],
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let x_desc = varies
        .iter()
        .map(|v| v.knob.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let labels: Vec<String> = settings
        .iter()
        .map(|s| {
            s.values
                .iter()
                .map(|(_, v)| v.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let mut paths = Vec::new();
    for (c, col) in COLUMNS.iter().enumerate() {
        let svg = figure(col.title, c, &x_desc, &labels, rows)?;
        let path = dir.join(format!("{}.svg", col.key));
        std::fs::write(&path, svg).with_context(|| format!("cannot write {}", path.display()))?;
        paths.push(path);
    }
    Ok(paths)
}

/// One column's plot. Latencies get a log axis with round ticks.
pub fn figure(
    title: &str,
    column: usize,
    x_desc: &str,
    labels: &[String],
    rows: &[Row],
) -> Result<String> {
    let points: Vec<(usize, f64, f64, f64)> = rows
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.figures[column].map(|s| (i, s.median, s.min, s.max)))
        .collect();
    let latency = title.ends_with("ms");
    let n = labels.len().max(1);
    let label_of = |x: &usize| labels.get(*x).cloned().unwrap_or_default();
    let color = PALETTE[column % PALETTE.len()];
    let mut s = String::new();
    {
        let root = SVGBackend::with_string(&mut s, SIZE).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(format!("{title} by setting"), ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70);
        // Integer ranges include their end: one segment per setting.
        let x_range = (0..n - 1).into_segmented();
        if latency {
            let lo = points.iter().map(|p| p.2).fold(f64::INFINITY, f64::min);
            let hi = points.iter().map(|p| p.3).fold(0.0, f64::max);
            let (lo, hi) = if lo.is_finite() && lo > 0.0 && hi > 0.0 {
                (lo / 1.5, hi * 1.5)
            } else {
                (0.01, 10.0)
            };
            let mut chart = builder
                .build_cartesian_2d(
                    x_range,
                    (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)),
                )
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(format!("{title} (log scale)"))
                .x_labels(n)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) => label_of(i),
                    _ => String::new(),
                })
                .y_label_formatter(&|ms: &f64| ms_label(*ms))
                .draw()
                .map_err(err)?;
            let pts: Vec<(usize, f64, f64, f64)> = points
                .iter()
                .map(|p| (p.0, p.1.max(lo), p.2.max(lo), p.3.max(lo)))
                .collect();
            draw_points(&mut chart, &pts, color)?;
        } else {
            let hi = points.iter().map(|p| p.3).fold(0.0, f64::max);
            let hi = if hi > 0.0 { hi * 1.1 } else { 1.0 };
            let mut chart = builder.build_cartesian_2d(x_range, 0f64..hi).map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(x_desc)
                .y_desc(title)
                .y_label_formatter(&|v: &f64| num(*v))
                .x_labels(n)
                .x_label_formatter(&|x| match x {
                    SegmentValue::CenterOf(i) => label_of(i),
                    _ => String::new(),
                })
                .draw()
                .map_err(err)?;
            draw_points(&mut chart, &points, color)?;
        }
        root.present().map_err(err)?;
    }
    Ok(s)
}

/// Medians joined by a line; each range a bar with caps.
fn draw_points<Y>(
    chart: &mut ChartContext<'_, SVGBackend<'_>, Cartesian2d<SegmentedCoord<RangedCoordusize>, Y>>,
    points: &[(usize, f64, f64, f64)],
    color: RGBColor,
) -> Result<()>
where
    Y: Ranged<ValueType = f64>,
{
    let at = |i: usize| SegmentValue::CenterOf(i);
    chart
        .draw_series(LineSeries::new(
            points.iter().map(|p| (at(p.0), p.1)),
            color.stroke_width(2),
        ))
        .map_err(err)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|p| ErrorBar::new_vertical(at(p.0), p.2, p.1, p.3, color.stroke_width(1), 10)),
        )
        .map_err(err)?;
    chart
        .draw_series(
            points
                .iter()
                .map(|p| Circle::new((at(p.0), p.1), 4, color.filled())),
        )
        .map_err(err)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::spread::Spread;

    fn row(setting: &str, values: &[&[f64]]) -> Row {
        Row {
            setting: setting.into(),
            runs: 2,
            figures: values
                .iter()
                .map(|v| Spread::of(v.iter().copied()))
                .collect(),
            passed: 2,
            judged: 2,
        }
    }

    #[test]
    fn every_setting_gets_one_labelled_point_and_latency_a_round_log_axis() {
        let rows = vec![
            row(
                "heartbeat=100ms",
                &[&[600.0, 640.0], &[0.8, 1.2], &[], &[0.0], &[0.0], &[3.0]],
            ),
            row(
                "heartbeat=300ms",
                &[&[500.0, 520.0], &[2.0, 9.0], &[], &[1.0], &[0.0], &[4.0]],
            ),
            row(
                "heartbeat=1s",
                &[&[450.0], &[30.0], &[], &[], &[0.0], &[5.0]],
            ),
        ];
        let labels: Vec<String> = ["100ms", "300ms", "1s"].map(String::from).to_vec();
        let text = |svg: String| svg.replace('\n', "");
        let svg = text(figure("p50 ms", 1, "heartbeat", &labels, &rows).unwrap());
        for l in &labels {
            assert_eq!(
                svg.matches(&format!(">{l}</text>")).count(),
                1,
                "{l} once:\n{svg}"
            );
        }
        assert!(
            svg.contains(">1 ms</text>") && svg.contains(">10 ms</text>"),
            "round ticks"
        );
        assert!(!svg.contains("3.162"));
        let svg = text(figure("messages", 0, "heartbeat", &labels, &rows).unwrap());
        assert!(svg.contains(">500</text>"), "whole-number ticks:\n{svg}");
        assert!(!svg.contains(".0</text>"));
        // A column no run measured still draws (an empty plot).
        assert!(figure("p99 ms", 2, "heartbeat", &labels, &rows).is_ok());
        assert!(figure("p50 ms", 1, "heartbeat", &[], &[]).is_ok());
    }
}
