//! Panel 5: message counts by type and by replica, with a rate sparkline.
//! From the simulator's traffic when it reports it (every routed packet
//! and its fate), else from the replicas' own counters.

use std::collections::BTreeMap;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Sparkline, Widget};

use super::{explain, fmt, panel_block, Ui};
use crate::input::Panel;
use crate::state::State;

/// Rows of one of the two tables: a name and up to three numbers.
struct Table {
    head: [&'static str; 4],
    rows: Vec<(String, [Option<u64>; 3])>,
}

impl Table {
    /// Number columns in use.
    fn columns(&self) -> usize {
        self.head[1..].iter().filter(|h| !h.is_empty()).count()
    }

    fn width(&self, name_w: usize) -> usize {
        name_w + 6 * self.columns()
    }

    fn lines(&self, name_w: usize) -> Vec<Line<'static>> {
        let mut out = vec![];
        let k = self.columns();
        let mut head = format!("{:<name_w$}", self.head[0]);
        for h in &self.head[1..=k] {
            head.push_str(&format!("{h:>6}"));
        }
        out.push(Line::styled(
            head,
            Style::new()
                .fg(Color::Gray)
                .add_modifier(Modifier::UNDERLINED),
        ));
        for (name, nums) in &self.rows {
            let mut spans = vec![Span::raw(format!("{:<name_w$}", fmt::fit(name, name_w)))];
            for (i, n) in nums.iter().take(k).enumerate() {
                let text = n.map_or(String::new(), fmt::count);
                let style = if i == 2 && n.is_some_and(|n| n > 0) {
                    Style::new().fg(Color::Yellow)
                } else {
                    Style::new()
                };
                spans.push(Span::styled(format!("{text:>6}"), style));
            }
            out.push(Line::from(spans));
        }
        out
    }
}

fn tables(state: &State) -> Option<(Table, Table)> {
    let t = &state.traffic;
    if t.from_sim() {
        let mut types: Vec<_> = t
            .by_type
            .iter()
            .map(|(k, c)| (k.clone(), [Some(c.total()), Some(c.lost()), None]))
            .collect();
        types.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
        let mut reps: Vec<_> = state
            .replicas
            .keys()
            .map(|id| {
                let p = t.by_replica.get(id).copied().unwrap_or_default();
                (id.clone(), [Some(p.sent), Some(p.received), Some(p.lost)])
            })
            .collect();
        reps.push((
            "cli".to_string(),
            [
                (t.clients.sent > 0).then_some(t.clients.sent),
                Some(t.clients.received),
                None,
            ],
        ));
        return Some((
            Table {
                head: ["type", "routed", "lost", ""],
                rows: types,
            },
            Table {
                head: ["id", "sent", "recv", "lost"],
                rows: reps,
            },
        ));
    }
    if !state.replicas_report() {
        return None;
    }
    let mut by_type: BTreeMap<&str, u64> = BTreeMap::new();
    for r in state.replicas.values() {
        for (k, n) in &r.sent_by_type {
            let c = by_type.entry(k).or_insert(0);
            *c = c.saturating_add(*n);
        }
    }
    let mut types: Vec<_> = by_type
        .into_iter()
        .map(|(k, n)| (k.to_string(), [Some(n), None, None]))
        .collect();
    types.sort_by(|a, b| b.1[0].cmp(&a.1[0]).then(a.0.cmp(&b.0)));
    let reps = state
        .replicas
        .values()
        .map(|r| {
            (
                r.id.clone(),
                [Some(r.sent_total), Some(r.received_total), None],
            )
        })
        .collect();
    Some((
        Table {
            head: ["type", "sent", "", ""],
            rows: types,
        },
        Table {
            head: ["id", "sent", "recv", ""],
            rows: reps,
        },
    ))
}

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let from_sim = state.traffic.from_sim();
    let extra = if from_sim {
        "(as routed)"
    } else if state.replicas_report() {
        "(from replicas)"
    } else {
        ""
    };
    let mut block = panel_block(Panel::Messages, ui, extra);
    if from_sim && area.width > 30 {
        block = block.title_bottom(Line::styled(
            format!("total_msgs {}", fmt::count(state.traffic.total_msgs)),
            Style::new().fg(Color::Gray),
        ));
    }
    let inner = block.inner(area);
    block.render(area, buf);
    let Some((types, reps)) = tables(state) else {
        explain(
            inner,
            buf,
            &["no traffic yet (from run.py --events, or the replicas' status counters)"],
        );
        return;
    };
    if inner.height == 0 || inner.width < 10 {
        return;
    }
    let spark_h: u16 = if inner.height >= 9 { 2 } else { 1 };
    draw_rate(buf, inner, spark_h, state);
    let body = Rect::new(
        inner.x,
        inner.y + spark_h,
        inner.width,
        inner.height.saturating_sub(spark_h),
    );
    draw_tables(buf, body, &types, &reps, ui.scroll(Panel::Messages));
}

/// The rate sparkline: packets sent by replicas per second, `spark_h`
/// rows high, the current and peak rates on its left.
fn draw_rate(buf: &mut Buffer, inner: Rect, spark_h: u16, state: &State) {
    let series = if state.traffic.from_sim() {
        &state.traffic.sim_rate
    } else {
        &state.traffic.replica_rate
    };
    let per_s = 1_000_000 / series.width_us();
    let label_w = 12u16;
    let spark_w = inner.width.saturating_sub(label_w) as usize;
    let data = series.last_complete(state.now(), spark_w);
    let current = data.last().copied().unwrap_or(0).saturating_mul(per_s);
    let peak = data
        .iter()
        .copied()
        .max()
        .unwrap_or(0)
        .saturating_mul(per_s);
    buf.set_string(
        inner.x,
        inner.y,
        format!("{:>5}/s now", fmt::count(current)),
        Style::new().add_modifier(Modifier::BOLD),
    );
    if spark_h > 1 {
        buf.set_string(
            inner.x,
            inner.y + 1,
            format!("{:>5}/s max", fmt::count(peak)),
            Style::new().fg(Color::Gray),
        );
    }
    Sparkline::default()
        .data(&data)
        .style(Style::new().fg(Color::Cyan))
        .render(
            Rect::new(inner.x + label_w, inner.y, spark_w as u16, spark_h),
            buf,
        );
}

/// The two tables in `body`: side by side when they fit, each scrolling
/// under its header, else one after the other.
fn draw_tables(buf: &mut Buffer, body: Rect, types: &Table, reps: &Table, scroll: usize) {
    let side_by_side = body.width as usize >= types.width(8) + reps.width(4) + 2;
    if side_by_side {
        let rw = reps.width(4) as u16 + 1;
        let lw = body.width - rw;
        let lt = types.lines((lw as usize).saturating_sub(types.width(0) + 1).min(14));
        let rt = reps.lines(4);
        for (col, lines, width) in [(0u16, lt, lw), (lw + 1, rt, rw - 1)] {
            let n = lines.len();
            let skip = scroll.min(n.saturating_sub(body.height as usize));
            // The header stays; rows scroll under it.
            for (i, line) in std::iter::once(&lines[0])
                .chain(lines.iter().skip(1 + skip))
                .take(body.height as usize)
                .enumerate()
            {
                buf.set_line(body.x + col, body.y + i as u16, line, width);
            }
        }
    } else {
        let name_w = (body.width as usize)
            .saturating_sub(types.width(0).max(reps.width(0)))
            .clamp(4, 12);
        let mut lines = types.lines(name_w);
        lines.extend(reps.lines(name_w));
        super::draw_scrolled(body, buf, &lines, scroll);
    }
}
