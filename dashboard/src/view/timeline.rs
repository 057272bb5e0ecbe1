//! Panel 2: the leader timeline. One lane per replica over time, coloured
//! by role; a marker row above for elections (E), new leaders (L + term),
//! kills (K), restarts (R), stops (X), partitions (P) and heals (H);
//! a killed lane is crossed out (✕) where the kill was and marked ↻ where
//! the replica was restarted; minority-side lanes shaded while a partition
//! lasts. The right edge is "now" unless scrolled
//! back with ←; columns are aligned to the run's start so that they do not
//! shift as time passes.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

use super::{fmt, panel_block, Ui};
use crate::input::Panel;
use crate::state::timeline::{Lane, LaneRole, MarkerKind};
use crate::state::State;

const LABEL_W: u16 = 5;
/// Background of a lane cut off on the minority side.
pub const CUT_BG: Color = Color::Indexed(53);
/// A restart: its marker and its lane symbol.
pub const RESTART_STYLE: Style = Style::new().fg(Color::Cyan).add_modifier(Modifier::BOLD);
/// A kill: its marker and its lane symbol.
pub const KILL_STYLE: Style = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);

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
        MarkerKind::Kill { .. } => ('K', 7, KILL_STYLE),
        MarkerKind::Restart { .. } => ('R', 6, RESTART_STYLE),
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
    "█ leader ▓ candidate ▒ pre-vote ─ follower · down ↻ restarted, shaded: cut off │ E election L new leader K kill R restart X stop P partition H heal";

/// Time columns a timeline panel of this size shows.
pub fn columns(area: Rect) -> u64 {
    area.width.saturating_sub(2 + LABEL_W) as u64
}

/// The time span the lanes show: `cols` columns of `col_us` each, whose
/// right edge is aligned to whole columns since the run's start.
struct Window {
    start: u64,
    col_us: u64,
    cols: u64,
    /// Absolute times of the left and right edges (the left may be before
    /// the start, or before the epoch).
    left: i128,
    right: i128,
    /// The screen column of the first time column.
    x0: u16,
}

impl Window {
    fn new(inner: Rect, start: u64, now: u64, ui: &Ui) -> Window {
        let col_us = ui.column_us();
        let cols = (inner.width - LABEL_W) as u64;
        // The right edge, aligned to whole columns since the start.
        let elapsed = now.saturating_sub(start);
        let end_rel = (elapsed / col_us + 1).saturating_mul(col_us);
        // A run shorter than the panel fills it from the left.
        let end_rel = end_rel
            .saturating_sub(ui.back.saturating_mul(col_us))
            .max(cols * col_us);
        let right = start as i128 + end_rel as i128;
        let left = right - (cols * col_us) as i128;
        Window {
            start,
            col_us,
            cols,
            left,
            right,
            x0: inner.x + LABEL_W,
        }
    }

    /// Column `i`'s time span, from the start at the earliest; `None` for
    /// a column wholly before the start.
    fn span(&self, i: u64) -> Option<(u64, u64)> {
        let a = self.left + (i * self.col_us) as i128;
        let b = a + self.col_us as i128;
        if b <= self.start as i128 {
            None
        } else {
            Some((a.max(0) as u64, b as u64))
        }
    }
}

/// The rows of the panel: which lanes show, and whether the time axis does.
struct Rows {
    axis: bool,
    /// Lanes shown.
    visible: usize,
    /// Lanes scrolled past, above and below.
    scroll: usize,
    below: usize,
}

impl Rows {
    fn new(inner: Rect, lanes: usize, ui: &Ui) -> Rows {
        let axis = inner.height as usize >= lanes + 2 && inner.height >= 4;
        let visible = (inner.height as usize).saturating_sub(1 + axis as usize);
        let scroll = ui
            .scroll(Panel::Timeline)
            .min(lanes.saturating_sub(visible));
        let below = lanes.saturating_sub(scroll + visible);
        Rows {
            axis,
            visible,
            scroll,
            below,
        }
    }
}

/// One column's marker: symbol, priority, style and term.
type Mark = (char, u8, Style, u64);

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let sim_view = !state.replicas_report();
    let block = panel_block(Panel::Timeline, ui, &title_extra(state, ui, sim_view));
    let inner = block.inner(area);
    let ids: Vec<&String> = state.replicas.keys().collect();
    let rows = Rows::new(inner, ids.len(), ui);
    with_legend(block, area.width, &rows).render(area, buf);
    if inner.width <= LABEL_W || inner.height < 2 {
        return;
    }
    let Some(start) = state.start() else {
        return;
    };
    let w = Window::new(inner, start, state.now(), ui);
    let (marks, faults) = place_markers(state, &w);
    draw_markers(buf, inner, &w, &marks);
    draw_leader_terms(buf, inner.y, &w, &marks);
    let shown = &ids[rows.scroll..(rows.scroll + rows.visible).min(ids.len())];
    draw_lanes(buf, inner, state, &w, shown, sim_view, &faults);
    if rows.axis {
        draw_axis(buf, inner, &w);
    }
}

/// The title's addition: the scale, how far back, whose view.
fn title_extra(state: &State, ui: &Ui, sim_view: bool) -> String {
    let col_us = ui.column_us();
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
    extra
}

/// The block with, at the bottom, the lanes scrolled past and the legend
/// (or a short one), as the width allows.
fn with_legend<'a>(block: Block<'a>, width: u16, rows: &Rows) -> Block<'a> {
    let mut bottom = String::new();
    if rows.scroll > 0 || rows.below > 0 {
        bottom.push_str(&format!("↑{} ↓{} ", rows.scroll, rows.below));
    }
    if (width as usize) > LEGEND.chars().count() + bottom.len() + 6 {
        bottom.push_str(LEGEND);
    } else if width > 60 {
        bottom.push_str("E elect L leader K kill R restart P part H heal · ? legend");
    }
    if bottom.is_empty() {
        return block;
    }
    block.title_bottom(Line::styled(
        fmt::fit(&bottom, width.saturating_sub(4) as usize),
        Style::new().fg(Color::Gray),
    ))
}

/// What happened to a replica in one column: killed (or stopped), or
/// restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LaneFault {
    Down,
    Restart,
}

/// (replica, column, what) of each kill, stop and restart in the window.
type LaneFaults = Vec<(String, u64, LaneFault)>;

/// The most significant marker per column, and the kills, stops and
/// restarts that mark the lanes.
fn place_markers(state: &State, w: &Window) -> (Vec<Option<Mark>>, LaneFaults) {
    let mut marks: Vec<Option<Mark>> = vec![None; w.cols as usize];
    let mut faults: LaneFaults = vec![];
    for m in state.timeline.markers.iter() {
        let rel = m.ts as i128 - w.left;
        if rel < 0 || rel >= (w.cols * w.col_us) as i128 {
            continue;
        }
        let c = (rel as u64 / w.col_us) as usize;
        let (ch, prio, style) = marker(&m.kind);
        if marks[c].is_none_or(|(_, p, _, _)| p < prio) {
            marks[c] = Some((ch, prio, style, m.term));
        }
        match &m.kind {
            MarkerKind::Kill { replica, .. } | MarkerKind::Stop { replica } => {
                faults.push((replica.clone(), c as u64, LaneFault::Down));
            }
            MarkerKind::Restart { replica } => {
                faults.push((replica.clone(), c as u64, LaneFault::Restart));
            }
            _ => {}
        }
    }
    (marks, faults)
}

/// The marker row.
fn draw_markers(buf: &mut Buffer, inner: Rect, w: &Window, marks: &[Option<Mark>]) {
    buf.set_string(inner.x, inner.y, "mark ", Style::new().fg(Color::DarkGray));
    for (c, m) in marks.iter().enumerate() {
        if let Some((ch, _, style, _)) = m {
            buf.set_string(w.x0 + c as u16, inner.y, ch.to_string(), *style);
        }
    }
}

/// Terms after new-leader markers, where there is room.
fn draw_leader_terms(buf: &mut Buffer, y: u16, w: &Window, marks: &[Option<Mark>]) {
    for (c, m) in marks.iter().enumerate() {
        if let Some(('L', _, style, term)) = m {
            if *term == 0 {
                continue;
            }
            let digits = term.to_string();
            let fits = (1..=digits.len()).all(|k| marks.get(c + k).is_some_and(|x| x.is_none()));
            if fits {
                buf.set_string(w.x0 + c as u16 + 1, y, &digits, *style);
            }
        }
    }
}

/// One lane per replica shown: its label, then each column's role, kills
/// crossed out, restarts marked (a column holding both shows the restart:
/// the replica runs again) and the cut-off side shaded.
fn draw_lanes(
    buf: &mut Buffer,
    inner: Rect,
    state: &State,
    w: &Window,
    shown: &[&String],
    sim_view: bool,
    faults: &[(String, u64, LaneFault)],
) {
    let empty = Lane::default();
    for (row, id) in shown.iter().enumerate() {
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
        for c in 0..w.cols {
            let Some((a, b)) = w.span(c) else { continue };
            if a > state.now() {
                break;
            }
            let (sym, mut style) = lane
                .dominant(a, b)
                .map_or(cell(LaneRole::Unknown), |s| cell(s.role));
            let here = |f: LaneFault| {
                faults
                    .iter()
                    .any(|(r, fc, k)| r == *id && *fc == c && *k == f)
            };
            let sym = if here(LaneFault::Restart) {
                style = RESTART_STYLE;
                "↻"
            } else if here(LaneFault::Down) {
                style = KILL_STYLE;
                "✕"
            } else {
                sym
            };
            if state.timeline.cut_off(id, a, b) {
                style = style.bg(CUT_BG);
            }
            buf.set_string(w.x0 + c as u16, y, sym, style);
        }
    }
}

/// The time axis on the last row, relative to the start.
fn draw_axis(buf: &mut Buffer, inner: Rect, w: &Window) {
    let (start, left, col_us) = (w.start as i128, w.left, w.col_us as i128);
    let y = inner.y + inner.height - 1;
    let tick = tick_us(w.col_us) as i128;
    // Offsets from the start, in i128: no overflow whatever the times.
    let first = left.max(start) - start;
    let mut t = (first + tick - 1) / tick * tick;
    let mut next_free = 0i128;
    let dim = Style::new().fg(Color::DarkGray);
    buf.set_string(inner.x, y, "t", dim);
    while start + t < w.right {
        let c = (start + t - left) / col_us;
        let label = format!("╵{}", fmt::axis_time(t as u64));
        let width = label.chars().count() as i128;
        if c >= next_free && c + width <= w.cols as i128 {
            buf.set_string(w.x0 + c as u16, y, &label, dim);
            next_free = c + width + 1;
        }
        t += tick;
    }
}
