//! Panel 1: the cluster table, one row per replica.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use shared::events::RoleName;

use super::{explain, fmt, panel_block, Ui, NO_REPLICA_EVENTS};
use crate::input::Panel;
use crate::state::{Life, Replica, Side, State};

struct Col {
    title: &'static str,
    width: usize,
    right: bool,
}

const fn col(title: &'static str, width: usize, right: bool) -> Col {
    Col {
        title,
        width,
        right,
    }
}

const WIDE: [Col; 10] = [
    col("id", 4, false),
    col("role", 9, false),
    col("term", 5, true),
    col("leader", 6, false),
    col("last", 6, true),
    col("commit", 6, true),
    col("state", 7, false),
    col("side", 4, false),
    col("msg/s", 6, true),
    col("drop", 5, true),
];

const NARROW: [Col; 10] = [
    col("id", 4, false),
    col("role", 5, false),
    col("term", 4, true),
    col("ldr", 4, false),
    col("last", 5, true),
    col("cmt", 5, true),
    col("state", 6, false),
    col("side", 4, false),
    col("msg/s", 5, true),
    col("drop", 4, true),
];

fn width(cols: &[Col]) -> usize {
    cols.iter().map(|c| c.width).sum::<usize>() + cols.len() - 1
}

fn role_name(r: RoleName, wide: bool) -> &'static str {
    match (r, wide) {
        (RoleName::Leader, true) => "leader",
        (RoleName::Leader, false) => "lead",
        (RoleName::Candidate, true) => "candidate",
        (RoleName::Candidate, false) => "cand",
        (RoleName::PreCandidate, true) => "pre-cand",
        (RoleName::PreCandidate, false) => "pre",
        (RoleName::Follower, true) => "follower",
        (RoleName::Follower, false) => "foll",
    }
}

pub fn role_color(r: RoleName) -> Color {
    match r {
        RoleName::Leader => Color::Green,
        RoleName::Candidate => Color::Yellow,
        RoleName::PreCandidate => Color::LightYellow,
        RoleName::Follower => Color::Blue,
    }
}

/// The cells of one replica's row, with their styles.
fn cells(r: &Replica, state: &State, wide: bool) -> Vec<(String, Style)> {
    let now = state.now();
    let plain = Style::new();
    let dim = Style::new().fg(Color::Gray);
    let dash = || ("-".to_string(), dim);
    let mut out = vec![(r.id.clone(), Style::new().add_modifier(Modifier::BOLD))];
    let down = state.is_out(r);
    if r.reports {
        match r.role {
            Some(role) => out.push((
                role_name(role, wide).to_string(),
                Style::new().fg(if down {
                    Color::DarkGray
                } else {
                    role_color(role)
                }),
            )),
            None => out.push(dash()),
        }
        out.push((r.term.to_string(), plain));
        let leader = if r.leader == "FFFF" { "-" } else { &r.leader };
        out.push((leader.to_string(), plain));
        out.push((r.last_index.to_string(), plain));
        out.push((r.commit_index.to_string(), plain));
    } else {
        // The simulator's belief is all there is.
        if state.sim_leader == r.id {
            out.push((
                role_name(RoleName::Leader, wide).to_string(),
                Style::new().fg(Color::Green).add_modifier(Modifier::ITALIC),
            ));
        } else {
            out.push(dash());
        }
        for _ in 0..4 {
            out.push(dash());
        }
    }
    let life = match r.life {
        Life::Killed => (
            "killed",
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        ),
        Life::Stopped if state.run_over() => ("ended", Style::new().fg(Color::Gray)),
        Life::Stopped => ("stopped", Style::new().fg(Color::Red)),
        _ if r.is_silent(now) => ("silent", Style::new().fg(Color::Yellow)),
        Life::Alive => ("alive", Style::new().fg(Color::Green)),
        Life::Unknown if state.sim_reports() => ("alive", dim),
        Life::Unknown => ("?", dim),
    };
    let life_text = if !wide && life.0 == "stopped" {
        "stop"
    } else {
        life.0
    };
    // Running again after a restart: ↻ and how many times ("alive↻1";
    // "live↻1" where narrow).
    let life_text = match (life.0, r.restarts) {
        ("alive", n @ 1..) => {
            let n = if n < 10 { n.to_string() } else { "+".into() };
            format!("{}↻{n}", if wide { "alive" } else { "live" })
        }
        _ => life_text.to_string(),
    };
    out.push((life_text, life.1));
    out.push(match r.side {
        Side::Whole => dash(),
        Side::Majority => ("maj".to_string(), Style::new().fg(Color::Cyan)),
        Side::Minority => (
            "min".to_string(),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ),
    });
    out.push(match r.rate(now, state.traffic.from_sim()) {
        Some(x) if !(down && x == 0.0) => (fmt::rate(x), plain),
        _ => dash(),
    });
    out.push(if r.reports {
        let style = if r.events_dropped > 0 {
            Style::new().fg(Color::Yellow)
        } else {
            plain
        };
        (fmt::count(r.events_dropped), style)
    } else {
        dash()
    });
    out
}

fn row_line(cols: &[Col], cells: Vec<(String, Style)>, row_style: Style) -> Line<'static> {
    let mut spans = vec![];
    for (i, (c, (text, style))) in cols.iter().zip(cells).enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        let text = fmt::fit(&text, c.width);
        let text = if c.right {
            format!("{text:>w$}", w = c.width)
        } else {
            format!("{text:<w$}", w = c.width)
        };
        spans.push(Span::styled(text, row_style.patch(style)));
    }
    Line::from(spans)
}

pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let sim_only = !state.replicas_report() && state.sim_reports();
    let mut block = panel_block(
        Panel::Cluster,
        ui,
        if sim_only { "(simulator's view)" } else { "" },
    );
    let inner = block.inner(area);
    if state.replicas.is_empty() {
        block.render(area, buf);
        let waiting = format!("waiting for events on {}", ui.socket);
        explain(
            inner,
            buf,
            &[
                &waiting,
                "start a run: kvdash run CONFIG, or ./run.py CONFIG --events SOCKET; replicas under any simulator send to $KVDASH_SOCKET or this default path",
            ],
        );
        return;
    }
    let wide = inner.width as usize >= width(&WIDE);
    let cols: &[Col] = if wide { &WIDE } else { &NARROW };
    let visible = inner.height.saturating_sub(1) as usize;
    let n = state.replicas.len();
    let scroll = ui.scroll(Panel::Cluster).min(n.saturating_sub(visible));
    let below = n.saturating_sub(scroll + visible);
    let mut bottom = vec![];
    if sim_only {
        bottom.push(NO_REPLICA_EVENTS.to_string());
    }
    if scroll > 0 {
        bottom.push(format!("↑{scroll}"));
    }
    if below > 0 {
        bottom.push(format!("↓{below} more"));
    }
    if !bottom.is_empty() {
        block = block.title_bottom(Line::styled(
            fmt::fit(&bottom.join(" "), area.width.saturating_sub(4) as usize),
            Style::new().fg(Color::Gray),
        ));
    }
    block.render(area, buf);
    if inner.height == 0 {
        return;
    }
    let header: Vec<(String, Style)> = cols
        .iter()
        .map(|c| (c.title.to_string(), Style::new()))
        .collect();
    let head_style = Style::new()
        .fg(Color::Gray)
        .add_modifier(Modifier::UNDERLINED);
    buf.set_line(
        inner.x,
        inner.y,
        &row_line(cols, header, head_style),
        inner.width,
    );
    let leader = state.leader().map(|r| r.id.clone());
    for (i, r) in state
        .replicas
        .values()
        .skip(scroll)
        .take(visible)
        .enumerate()
    {
        let row_style = if state.is_out(r) {
            Style::new().fg(Color::DarkGray)
        } else if leader.as_deref() == Some(r.id.as_str()) {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        let line = row_line(cols, cells(r, state, wide), row_style);
        buf.set_line(inner.x, inner.y + 1 + i as u16, &line, inner.width);
    }
}
