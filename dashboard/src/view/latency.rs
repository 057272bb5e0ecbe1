//! Panel 4: latency histograms, client-observed (from the simulator) and
//! replica-side (arrival to answer), for gets and puts: count, p50, p90,
//! p99, p99.9 and max from hdrhistogram, and where there is room the
//! distribution itself on a logarithmic axis.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use shared::events::Outcome;

use super::{fmt, panel_block, Ui, NO_SIM_EVENTS};
use crate::input::Panel;
use crate::state::latency::{LatencyHist, QUANTILES};
use crate::state::State;

const LABEL_W: usize = 11;
const SHORT_LABEL_W: usize = 8;
const NUM_W: usize = 6;
const VAL_W: usize = 7;
/// The distribution strip's axis, in microseconds.
const DIST_LO: u64 = 10;
const DIST_HI: u64 = 10_000_000;
const SHADES: [&str; 9] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"];

fn table_width(label_w: usize) -> usize {
    label_w + NUM_W + VAL_W * (QUANTILES.len() + 1)
}

fn row(label: &str, label_w: usize, h: &LatencyHist, strip: usize) -> Line<'static> {
    let mut spans = vec![Span::styled(
        format!("{label:<label_w$}"),
        Style::new().add_modifier(Modifier::BOLD),
    )];
    match h.summary() {
        None => spans.push(Span::styled(
            format!("{:>NUM_W$}", "0"),
            Style::new().fg(Color::Gray),
        )),
        Some(s) => {
            spans.push(Span::raw(format!("{:>NUM_W$}", fmt::count(s.count))));
            let colors = [Color::Green, Color::Cyan, Color::Yellow, Color::LightRed];
            for (v, c) in s.quantiles.iter().zip(colors) {
                spans.push(Span::styled(
                    format!("{:>VAL_W$}", fmt::micros(*v)),
                    Style::new().fg(c),
                ));
            }
            spans.push(Span::styled(
                format!("{:>VAL_W$}", fmt::micros(s.max)),
                Style::new().fg(Color::Red),
            ));
            if strip > 0 {
                let buckets = h.log_buckets(DIST_LO, DIST_HI, strip);
                let top = buckets.iter().copied().max().unwrap_or(0).max(1);
                let bars: String = buckets
                    .iter()
                    .map(|&n| {
                        if n == 0 {
                            SHADES[0]
                        } else {
                            SHADES[1 + (n * 7 / top) as usize]
                        }
                    })
                    .collect();
                spans.push(Span::raw(" "));
                spans.push(Span::styled(bars, Style::new().fg(Color::Cyan)));
            }
        }
    }
    Line::from(spans)
}

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let block = panel_block(Panel::Latency, ui, "");
    let inner = block.inner(area);
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let w = inner.width as usize;
    let (label_w, names) = if w >= table_width(LABEL_W) {
        (
            LABEL_W,
            ["client get", "client put", "replica get", "replica put"],
        )
    } else {
        (SHORT_LABEL_W, ["cli get", "cli put", "rep get", "rep put"])
    };
    let strip = w.saturating_sub(table_width(label_w) + 1).min(48);
    let strip = if strip >= 8 { strip } else { 0 };
    let mut lines = vec![];
    let mut head = format!("{:<label_w$}{:>NUM_W$}", "", "n");
    for (q, _) in QUANTILES {
        head.push_str(&format!("{q:>VAL_W$}"));
    }
    head.push_str(&format!("{:>VAL_W$}", "max"));
    if strip > 0 {
        let axis = format!(" {}…{}", fmt::micros(DIST_LO), fmt::micros(DIST_HI));
        head.push_str(&fmt::fit(&axis, strip + 1));
    }
    lines.push(Line::styled(
        head,
        Style::new()
            .fg(Color::Gray)
            .add_modifier(Modifier::UNDERLINED),
    ));
    let dim = Style::new().fg(Color::Gray);
    if state.sim_reports() {
        lines.push(row(names[0], label_w, &state.latency.client[0], strip));
        lines.push(row(names[1], label_w, &state.latency.client[1], strip));
    } else {
        let why = format!("client: {NO_SIM_EVENTS}");
        if why.chars().count() <= w {
            lines.push(Line::styled(why, dim));
        } else {
            // Two lines: the fact, then what to do.
            let (fact, todo) = NO_SIM_EVENTS
                .split_once(": ")
                .unwrap_or((NO_SIM_EVENTS, ""));
            lines.push(Line::styled(fmt::fit(&format!("client: {fact}:"), w), dim));
            lines.push(Line::styled(fmt::fit(&format!("  {todo}"), w), dim));
        }
    }
    if state.replicas_report() {
        lines.push(row(names[2], label_w, &state.latency.replica[0], strip));
        lines.push(row(names[3], label_w, &state.latency.replica[1], strip));
    } else {
        let why = if state.sim_reports() {
            "replica: replicas emit no events"
        } else {
            "replica: no replica events yet"
        };
        lines.push(Line::styled(why, dim));
    }
    if state.sim_reports() {
        let answered: u64 = state.requests.answered.iter().sum();
        let sent: u64 = state.requests.sent.iter().sum();
        lines.push(Line::styled(
            fmt::fit(
                &format!(
                    "requests {} sent, {} answered: ok {} redirect {} fail {}; {} in flight",
                    fmt::count(sent),
                    fmt::count(answered),
                    fmt::count(state.client_outcome(Outcome::Ok)),
                    fmt::count(state.client_outcome(Outcome::Redirect)),
                    fmt::count(state.client_outcome(Outcome::Fail)),
                    state.outstanding()
                ),
                w,
            ),
            dim,
        ));
    }
    super::draw_scrolled(inner, buf, &lines, ui.scroll(Panel::Latency));
}
