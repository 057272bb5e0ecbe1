//! Panel 2: the leader timeline. One lane per replica over time, coloured
//! by role; a marker row above for elections (E), new leaders (L + term),
//! kills (K), stops (X), partitions (P) and heals (H); minority-side lanes
//! shaded while a partition lasts. The right edge is "now" unless scrolled
//! back with ←; columns are aligned to the run's start so that they do not
//! shift as time passes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::Widget;

use super::{fmt, panel_block, Ui};
use crate::input::Panel;
use crate::state::timeline::{Lane, LaneRole, MarkerKind};
use crate::state::State;

const LABEL_W: u16 = 5;
/// Background of a lane cut off on the minority side.
pub const CUT_BG: Color = Color::Indexed(53);

fn cell(role: LaneRole) -> (&'static str, Style) {
    match role {
        LaneRole::Leader => (
            "█",
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        LaneRole::Candidate => ("▓", Style::new().fg(Color::Yellow)),
        LaneRole::PreCandidate => ("▒", Style::new().fg(Color::LightYellow)),
        LaneRole::Follower => ("─", Style::new().fg(Color::Blue)),
        LaneRole::Dead => ("·", Style::new().fg(Color::Red)),
        LaneRole::Unknown => (" ", Style::new()),
    }
}

fn marker(kind: &MarkerKind) -> (char, u8, Style) {
    match kind {
        MarkerKind::Kill { .. } => (
            'K',
            6,
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        MarkerKind::Stop { .. } => ('X', 5, Style::new().fg(Color::Red)),
        MarkerKind::Partition => (
            'P',
            4,
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ),
        MarkerKind::Heal => ('H', 3, Style::new().fg(Color::Magenta)),
        MarkerKind::Leader { .. } => (
            'L',
            2,
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
        ),
        MarkerKind::Election { .. } => ('E', 1, Style::new().fg(Color::Yellow)),
    }
}

/// Axis tick spacing: the smallest that leaves room for a label.
fn tick_us(column_us: u64) -> u64 {
    const TICKS: [u64; 12] = [
        500_000,
        1_000_000,
        2_000_000,
        5_000_000,
        10_000_000,
        15_000_000,
        30_000_000,
        60_000_000,
        120_000_000,
        300_000_000,
        600_000_000,
        1_800_000_000,
    ];
    TICKS
        .into_iter()
        .find(|t| t / column_us >= 8)
        .unwrap_or(3_600_000_000)
}

pub const LEGEND: &str =
    "█ leader ▓ candidate ▒ pre-vote ─ follower · down, shaded: cut off │ E election L new leader K kill X stop P partition H heal";

/// Time columns a timeline panel of this size shows.
pub fn columns(area: Rect) -> u64 {
    area.width.saturating_sub(2 + LABEL_W) as u64
}

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let col_us = ui.column_us();
    let sim_view = !state.replicas_report();
    let mut extra = format!("{}/col", fmt::scale(col_us));
    if ui.back > 0 {
        extra.push_str(&format!(
            " · {} ago",
            fmt::axis_time(ui.back.saturating_mul(col_us))
        ));
    } else {
        extra.push_str(" · now");
    }
    if sim_view && state.sim_reports() {
        extra.push_str(" · simulator's view");
    }
    let mut block = panel_block(Panel::Timeline, ui, &extra);
    let inner = block.inner(area);
    let ids: Vec<&String> = state.replicas.keys().collect();
    let axis = inner.height as usize >= ids.len() + 2 && inner.height >= 4;
    let visible = (inner.height as usize).saturating_sub(1 + axis as usize);
    let scroll = ui
        .scroll(Panel::Timeline)
        .min(ids.len().saturating_sub(visible));
    let below = ids.len().saturating_sub(scroll + visible);
    let mut bottom = String::new();
    if scroll > 0 || below > 0 {
        bottom.push_str(&format!("↑{scroll} ↓{below} "));
    }
    if (area.width as usize) > LEGEND.chars().count() + bottom.len() + 6 {
        bottom.push_str(LEGEND);
    } else if area.width > 60 {
        bottom.push_str("E elect L leader K kill P part H heal · ? legend");
    }
    if !bottom.is_empty() {
        block = block.title_bottom(Line::styled(
            fmt::fit(&bottom, area.width.saturating_sub(4) as usize),
            Style::new().fg(Color::Gray),
        ));
    }
    block.render(area, buf);
    if inner.width <= LABEL_W || inner.height < 2 {
        return;
    }
    let Some(start) = state.start() else {
        return;
    };
    let cols = (inner.width - LABEL_W) as u64;
    // The right edge, aligned to whole columns since the start.
    let elapsed = state.now().saturating_sub(start);
    let end_rel = (elapsed / col_us + 1).saturating_mul(col_us);
    // A run shorter than the panel fills it from the left.
    let end_rel = end_rel
        .saturating_sub(ui.back.saturating_mul(col_us))
        .max(cols * col_us);
    let right = start as i128 + end_rel as i128;
    let left = right - (cols * col_us) as i128;
    let span = |i: u64| -> Option<(u64, u64)> {
        let a = left + (i * col_us) as i128;
        let b = a + col_us as i128;
        if b <= start as i128 {
            None
        } else {
            Some((a.max(0) as u64, b as u64))
        }
    };
    let x0 = inner.x + LABEL_W;

    // Markers, the most significant per column.
    let mut marks: Vec<Option<(char, u8, Style, u64)>> = vec![None; cols as usize];
    let mut kills: Vec<(String, u64)> = vec![];
    for m in state.timeline.markers.iter() {
        let rel = m.ts as i128 - left;
        if rel < 0 || rel >= (cols * col_us) as i128 {
            continue;
        }
        let c = (rel as u64 / col_us) as usize;
        let (ch, prio, style) = marker(&m.kind);
        if marks[c].is_none_or(|(_, p, _, _)| p < prio) {
            marks[c] = Some((ch, prio, style, m.term));
        }
        if let MarkerKind::Kill { replica, .. } | MarkerKind::Stop { replica } = &m.kind {
            kills.push((replica.clone(), c as u64));
        }
    }
    buf.set_string(inner.x, inner.y, "mark ", Style::new().fg(Color::DarkGray));
    for (c, m) in marks.iter().enumerate() {
        if let Some((ch, _, style, _)) = m {
            buf.set_string(x0 + c as u16, inner.y, ch.to_string(), *style);
        }
    }
    // Terms after new-leader markers, where there is room.
    for (c, m) in marks.iter().enumerate() {
        if let Some(('L', _, style, term)) = m {
            if *term == 0 {
                continue;
            }
            let digits = term.to_string();
            let fits = (1..=digits.len()).all(|k| marks.get(c + k).is_some_and(|x| x.is_none()));
            if fits {
                buf.set_string(x0 + c as u16 + 1, inner.y, &digits, *style);
            }
        }
    }

    // Lanes.
    let empty = Lane::default();
    for (row, id) in ids.iter().skip(scroll).take(visible).enumerate() {
        let y = inner.y + 1 + row as u16;
        let lane = if sim_view {
            state.timeline.sim_lanes.get(*id)
        } else {
            state.timeline.lanes.get(*id)
        }
        .unwrap_or(&empty);
        let is_leader = lane.current().is_some_and(|s| s.role == LaneRole::Leader);
        let label_style = if is_leader {
            Style::new().fg(Color::Green).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        buf.set_string(inner.x, y, id.as_str(), label_style);
        for c in 0..cols {
            let Some((a, b)) = span(c) else { continue };
            if a > state.now() {
                break;
            }
            let (sym, mut style) = lane
                .dominant(a, b)
                .map_or(cell(LaneRole::Unknown), |s| cell(s.role));
            let killed_here = kills.iter().any(|(r, kc)| r == *id && *kc == c);
            let sym = if killed_here {
                style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
                "✕"
            } else {
                sym
            };
            if state.timeline.cut_off(id, a, b) {
                style = style.bg(CUT_BG);
            }
            buf.set_string(x0 + c as u16, y, sym, style);
        }
    }

    // Time axis, relative to the start.
    if axis {
        let y = inner.y + inner.height - 1;
        let tick = tick_us(col_us);
        let tick = tick as i128;
        // Offsets from the start, in i128: no overflow whatever the times.
        let first = left.max(start as i128) - start as i128;
        let mut t = (first + tick - 1) / tick * tick;
        let mut next_free = 0i128;
        let dim = Style::new().fg(Color::DarkGray);
        buf.set_string(inner.x, y, "t", dim);
        while start as i128 + t < right {
            let c = (start as i128 + t - left) / col_us as i128;
            let label = format!("╵{}", fmt::axis_time(t as u64));
            let w = label.chars().count() as i128;
            if c >= next_free && c + w <= cols as i128 {
                buf.set_string(x0 + c as u16, y, &label, dim);
                next_free = c + w + 1;
            }
            t += tick;
        }
    }
}
