//! Panel 3: log replication bars. For each follower, its match index
//! against the leader's last index, with the commit index marked.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use shared::events::RoleName;

use super::{explain, fmt, panel_block, Ui, NO_REPLICA_EVENTS};
use crate::input::Panel;
use crate::state::{Replica, Side, State};

/// One follower's row: id, matched index, partition side, dimmed.
struct BarRow {
    id: String,
    matched: u64,
    side: Side,
    dim: bool,
}

/// One bar: `matched` of `total` cells, of which `committed` are committed.
fn bar(width: usize, total: u64, matched: u64, commit: u64, dim: bool) -> Vec<Span<'static>> {
    if width == 0 {
        return vec![];
    }
    let cells = |v: u64| -> usize {
        if total == 0 {
            0
        } else {
            ((v.min(total) as u128 * width as u128) / total as u128) as usize
        }
    };
    let m = cells(matched);
    let c = cells(commit.min(matched));
    let (committed, replicated) = if dim {
        (Color::DarkGray, Color::DarkGray)
    } else {
        (Color::Green, Color::Cyan)
    };
    vec![
        Span::styled("█".repeat(c), Style::new().fg(committed)),
        Span::styled("█".repeat(m - c), Style::new().fg(replicated)),
        Span::styled("░".repeat(width - m), Style::new().fg(Color::DarkGray)),
    ]
}

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let mut block = panel_block(Panel::Replication, ui, "");
    let inner = block.inner(area);
    if !state.replicas_report() {
        block.render(area, buf);
        let why = if state.sim_reports() {
            NO_REPLICA_EVENTS
        } else {
            "no replica events yet"
        };
        explain(inner, buf, &[why, "(log progress needs replica events)"]);
        return;
    }
    let leader = state
        .leader()
        .filter(|l| l.reports && l.role == Some(RoleName::Leader));
    // With a leader: its view of each follower. Without one: each
    // replica's own log, against the longest.
    let (head, rows, scale) = match leader {
        Some(l) => (
            leader_head(l, inner.width as usize),
            leader_rows(state, l),
            (l.last_index, l.commit_index),
        ),
        None => (
            Line::styled(
                "no leader: each replica's own log",
                Style::new().fg(Color::Yellow),
            ),
            own_log_rows(state),
            longest_logs(state),
        ),
    };
    let visible = inner.height.saturating_sub(1) as usize;
    let scroll = ui
        .scroll(Panel::Replication)
        .min(rows.len().saturating_sub(visible));
    let below = rows.len().saturating_sub(scroll + visible);
    if below > 0 || scroll > 0 {
        block = block.title_bottom(Line::styled(
            format!("↑{scroll} ↓{below}"),
            Style::new().fg(Color::Gray),
        ));
    }
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    buf.set_line(inner.x, inner.y, &head, inner.width);
    let num_w = fmt::count(scale.0).len().max(3);
    for (i, r) in rows.iter().skip(scroll).take(visible).enumerate() {
        let line = bar_line(r, scale, inner.width as usize, num_w, leader.is_some());
        buf.set_line(inner.x, inner.y + 1 + i as u16, &line, inner.width);
    }
}

/// The most that fits of: who leads, term, commit and last index.
fn leader_head(l: &Replica, width: usize) -> Line<'static> {
    let (c, n, t) = (l.commit_index, l.last_index, l.term);
    let id = &l.id;
    let head = [
        (format!("leader {id}"), format!(" t{t} last {n} commit {c}")),
        (format!("leader {id}"), format!(" t{t} {c}/{n}")),
        (format!("ldr {id}"), format!(" t{t} {c}/{n}")),
    ]
    .into_iter()
    .find(|(a, b)| a.len() + b.len() <= width)
    .unwrap_or((format!("ldr {id}"), String::new()));
    Line::from(vec![
        Span::styled(
            head.0,
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        Span::raw(head.1),
    ])
}

/// The leader's view of each other replica: how far it matched.
fn leader_rows(state: &State, l: &Replica) -> Vec<BarRow> {
    state
        .replicas
        .values()
        .filter(|r| r.id != l.id)
        .map(|r| {
            let m = l.followers.iter().find(|f| f.id == r.id);
            BarRow {
                id: r.id.clone(),
                matched: m.map_or(0, |f| f.match_index),
                side: r.side,
                dim: state.is_out(r) || m.is_none(),
            }
        })
        .collect()
}

/// Each reporting replica's own log.
fn own_log_rows(state: &State) -> Vec<BarRow> {
    state
        .replicas
        .values()
        .filter(|r| r.reports)
        .map(|r| BarRow {
            id: r.id.clone(),
            matched: r.last_index,
            side: r.side,
            dim: state.is_out(r),
        })
        .collect()
}

/// Without a leader, the bars' scale: the longest log and the highest
/// commit index of any replica.
fn longest_logs(state: &State) -> (u64, u64) {
    let max_of = |index: fn(&Replica) -> u64| state.replicas.values().map(index).max().unwrap_or(0);
    (max_of(|r| r.last_index), max_of(|r| r.commit_index))
}

/// One row: the id, the bar against `(total, commit)`, the matched index
/// (`-` for a follower the leader has not heard from).
fn bar_line(
    r: &BarRow,
    (total, commit): (u64, u64),
    width: usize,
    num_w: usize,
    has_leader: bool,
) -> Line<'static> {
    let bar_w = width.saturating_sub(5 + 1 + num_w);
    let id_style = match r.side {
        Side::Minority => Style::new().fg(Color::Magenta),
        _ if r.dim => Style::new().fg(Color::DarkGray),
        _ => Style::new(),
    };
    let mut spans = vec![Span::styled(format!("{} ", r.id), id_style)];
    spans.extend(bar(bar_w, total, r.matched, commit, r.dim));
    let lag = total.saturating_sub(r.matched);
    let num = if r.dim && has_leader && r.matched == 0 {
        "-".to_string()
    } else {
        fmt::count(r.matched)
    };
    let num_style = if lag > 0 && !r.dim {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::Gray)
    };
    spans.push(Span::styled(format!(" {num:>num_w$}"), num_style));
    Line::from(spans)
}
