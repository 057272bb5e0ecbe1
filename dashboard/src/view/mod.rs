//! Rendering: one widget per panel, drawn from a `&State` and the view's
//! own settings ([`Ui`]). Nothing here reads a clock: times are shown
//! relative to the run's start, taken from event timestamps, so a recorded
//! run renders the same every time.
//!
//! ```text
//!  ┌ title: run, time, events, LIVE/PAUSED (replay: clock, speed) ────┐
//!  │ 1 Cluster table               │ 3 Log replication bars           │
//!  │ 2 Leader timeline (one lane per replica, markers on top)         │
//!  │ 4 Latency histograms          │ 5 Messages by type / replica     │
//!  └ footer: notices, the `g` prompt, keys ───────────────────────────┘
//! ```

pub mod cluster;
pub mod fmt;
pub mod latency;
pub mod messages;
pub mod overlay;
pub mod replication;
pub mod timeline;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Paragraph, Widget, Wrap};
use ratatui::Frame;

use crate::input::Panel;
use crate::replay::{self, ReplayStatus};
use crate::state::State;

/// Time per timeline column, by zoom level.
pub const ZOOMS: [u64; 8] = [
    50_000, 100_000, 250_000, 500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000,
];
pub const DEFAULT_ZOOM: usize = 2;

/// Why there is no data, shown in the panels that have none.
pub const NO_REPLICA_EVENTS: &str = "replicas emit no events: showing the simulator's view";
pub const NO_SIM_EVENTS: &str = "no simulator events: client latency needs run.py --events";

/// How kvdash was started.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Mode {
    /// `kvdash`: shows whatever runs.
    #[default]
    Attach,
    /// `kvdash run CONFIG`.
    Run { config: String },
    /// `kvdash replay FILE`.
    Replay { file: String },
}

/// run.py, under `kvdash run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Child {
    Running,
    Exited(Option<i32>),
}

/// The view's own settings: focus, scrolling, overlays.
#[derive(Debug, Clone)]
pub struct Ui {
    pub focus: Panel,
    /// Vertical scroll per panel, by [`Panel::number`] - 1.
    pub scroll: [usize; 5],
    /// How far back from now the timeline's right edge is, in columns.
    pub back: u64,
    pub zoom: usize,
    pub help: bool,
    /// Show the verdict when there is one.
    pub verdict: bool,
    pub paused: bool,
    /// The event socket, for the waiting message.
    pub socket: String,
    pub mode: Mode,
    pub child: Option<Child>,
    /// A status message (run.py fallback, exit, recording errors).
    pub notice: Option<String>,
    /// Under `kvdash replay`: its clock, speed, play/pause.
    pub replay: Option<ReplayStatus>,
    /// The time typed so far after `g`, while its prompt is open.
    pub prompt: Option<String>,
}

impl Default for Ui {
    fn default() -> Self {
        Ui {
            focus: Panel::Cluster,
            scroll: [0; 5],
            back: 0,
            zoom: DEFAULT_ZOOM,
            help: false,
            verdict: true,
            paused: false,
            socket: String::new(),
            mode: Mode::Attach,
            child: None,
            notice: None,
            replay: None,
            prompt: None,
        }
    }
}

impl Ui {
    pub fn scroll(&self, p: Panel) -> usize {
        self.scroll[p.number() - 1]
    }

    pub fn scroll_mut(&mut self, p: Panel) -> &mut usize {
        &mut self.scroll[p.number() - 1]
    }

    pub fn column_us(&self) -> u64 {
        ZOOMS[self.zoom.min(ZOOMS.len() - 1)]
    }
}

/// Where each part of the screen goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Areas {
    pub title: Rect,
    pub footer: Option<Rect>,
    pub cluster: Rect,
    pub replication: Rect,
    pub timeline: Rect,
    pub latency: Rect,
    pub messages: Rect,
}

impl Areas {
    pub fn panel(&self, p: Panel) -> Rect {
        match p {
            Panel::Cluster => self.cluster,
            Panel::Timeline => self.timeline,
            Panel::Replication => self.replication,
            Panel::Latency => self.latency,
            Panel::Messages => self.messages,
        }
    }
}

/// Smallest height of the latency/messages row.
const MIN_BOTTOM: u16 = 7;
/// Height at which a footer line is shown.
const FOOTER_FROM: u16 = 26;

/// Splits the screen for `n` replicas: the cluster table and timeline get
/// a row per replica when there is room, the bottom row the rest.
pub fn layout(area: Rect, n: usize) -> Areas {
    let n = n.max(3) as u16;
    let footer = area.height >= FOOTER_FROM;
    let body_h = area.height.saturating_sub(1 + footer as u16);
    let ideal_a = n + 3;
    let ideal_b = n + 4;
    let (a, b) = if ideal_a + ideal_b + MIN_BOTTOM <= body_h {
        (ideal_a, ideal_b)
    } else {
        let space = body_h.saturating_sub(MIN_BOTTOM);
        let a = ideal_a.min(space / 2).max(5.min(space));
        let b = space.saturating_sub(a).min(ideal_b);
        let a = space.saturating_sub(b).min(ideal_a);
        (a, b)
    };
    let c = body_h.saturating_sub(a + b);
    let x = area.x;
    let w = area.width;
    let title = Rect::new(x, area.y, w, 1.min(area.height));
    let top = area.y + 1;
    // Wide table columns from 100 columns on; the bars get the rest.
    let cluster_w = if w >= 100 { 69 } else { 57.min(w) };
    let lat_w = (w / 2).max(51.min(w)).min(w.saturating_sub(26).max(w / 2));
    Areas {
        title,
        footer: footer.then(|| Rect::new(x, area.y + area.height - 1, w, 1)),
        cluster: Rect::new(x, top, cluster_w, a),
        replication: Rect::new(x + cluster_w, top, w - cluster_w, a),
        timeline: Rect::new(x, top + a, w, b),
        latency: Rect::new(x, top + a + b, lat_w, c),
        messages: Rect::new(x + lat_w, top + a + b, w - lat_w, c),
    }
}

/// A panel's frame: numbered title, highlighted when focused.
pub fn panel_block<'a>(p: Panel, ui: &Ui, extra: &str) -> Block<'a> {
    let focused = ui.focus == p;
    let border = if focused {
        Style::new().fg(Color::Yellow)
    } else {
        Style::new().fg(Color::DarkGray)
    };
    let title_style = if focused {
        Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let mut title = vec![Span::styled(
        format!("{} {}", p.number(), p.title()),
        title_style,
    )];
    if !extra.is_empty() {
        title.push(Span::styled(
            format!(" {extra}"),
            Style::new().fg(Color::Gray),
        ));
    }
    Block::bordered()
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(border)
        .title(Line::from(title))
}

/// Draws `lines` into `area`, starting `scroll` lines down (clamped so the
/// last line stays at the bottom).
pub fn draw_scrolled(area: Rect, buf: &mut Buffer, lines: &[Line], scroll: usize) {
    let height = area.height as usize;
    let skip = scroll.min(lines.len().saturating_sub(height));
    for (i, line) in lines.iter().skip(skip).take(height).enumerate() {
        buf.set_line(area.x, area.y + i as u16, line, area.width);
    }
}

/// A dim explanation in an empty panel.
pub fn explain(area: Rect, buf: &mut Buffer, lines: &[&str]) {
    let text: Vec<Line> = lines
        .iter()
        .map(|l| Line::styled(l.to_string(), Style::new().fg(Color::Gray)))
        .collect();
    Paragraph::new(text)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// Draws the whole screen.
pub fn draw(frame: &mut Frame, state: &State, ui: &Ui) {
    render(frame.area(), frame.buffer_mut(), state, ui);
}

/// Renders the whole screen into `buf`.
pub fn render(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    if area.is_empty() {
        return;
    }
    let areas = layout(area, state.replicas.len());
    title_line(areas.title, buf, state, ui, areas.footer.is_some());
    if let Some(f) = areas.footer {
        footer_line(f, buf, state, ui);
    }
    cluster::render(areas.cluster, buf, state, ui);
    replication::render(areas.replication, buf, state, ui);
    timeline::render(areas.timeline, buf, state, ui);
    latency::render(areas.latency, buf, state, ui);
    messages::render(areas.messages, buf, state, ui);
    if ui.help {
        overlay::help(area, buf, ui);
    } else if ui.verdict && (state.verdict.is_some() || matches!(ui.child, Some(Child::Exited(_))))
    {
        overlay::verdict(area, buf, state, ui);
    }
}

fn title_line(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui, footer: bool) {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let sep = Span::styled(" │ ", Style::new().fg(Color::DarkGray));
    let badge = |text: &'static str, bg: Color| {
        Span::styled(
            text,
            Style::new()
                .fg(Color::Black)
                .bg(bg)
                .add_modifier(Modifier::BOLD),
        )
    };
    // Most important first: what is cut on a narrow screen is the tail.
    let mut left = vec![badge(" kvdash ", Color::Cyan), Span::raw(" ")];
    left.push(if let Some(r) = &ui.replay {
        if r.ended {
            badge(" ENDED ", Color::Gray)
        } else if r.paused {
            badge(" PAUSED ", Color::Yellow)
        } else {
            badge(" REPLAY ", Color::Magenta)
        }
    } else if ui.paused {
        badge(" PAUSED ", Color::Yellow)
    } else if state.run_over() || matches!(ui.child, Some(Child::Exited(_))) {
        badge(" ENDED ", Color::Gray)
    } else {
        badge(" LIVE ", Color::Green)
    });
    left.push(Span::raw(" "));
    // Without a footer, the prompt of `g` takes the rest of the title:
    // what is typed must show.
    if let (Some(p), false) = (prompt_text(ui), footer) {
        left.push(Span::styled(format!(" {p} "), prompt_style()));
        buf.set_style(area, Style::new().bg(Color::Reset));
        buf.set_line(area.x, area.y, &Line::from(left), area.width);
        return;
    }
    match (&state.run, &ui.mode) {
        (Some(run), _) => {
            let name = std::path::Path::new(&run.config)
                .file_name()
                .map_or(run.config.clone(), |f| f.to_string_lossy().into_owned());
            left.push(Span::styled(fmt::fit(&name, 24), bold));
        }
        (None, Mode::Run { config }) => {
            let name = std::path::Path::new(config)
                .file_name()
                .map_or(config.clone(), |f| f.to_string_lossy().into_owned());
            left.push(Span::styled(fmt::fit(&name, 24), bold));
        }
        (None, Mode::Replay { file }) => {
            let name = std::path::Path::new(file)
                .file_name()
                .map_or(file.clone(), |f| f.to_string_lossy().into_owned());
            left.push(Span::styled(fmt::fit(&name, 24), bold));
        }
        (None, Mode::Attach) => left.push(Span::styled("attached", bold)),
    }
    left.push(sep.clone());
    if let Some(r) = &ui.replay {
        // The recording's clock, not the run's: the one play and seek move.
        left.push(Span::styled(
            format!(
                "t={} / {}",
                replay::clock_text(r.clock_us),
                replay::clock_text(r.duration_us)
            ),
            bold,
        ));
        left.push(Span::styled(
            format!(" {}x", r.speed),
            Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        ));
    } else {
        let lifetime = state
            .run
            .as_ref()
            .map(|r| format!("/{}s", r.lifetime))
            .unwrap_or_default();
        left.push(Span::raw(format!(
            "t {}{lifetime}",
            fmt::run_time(state.elapsed())
        )));
    }
    left.push(sep.clone());
    left.push(Span::raw(format!("{} replicas", state.replicas.len())));
    left.push(sep.clone());
    left.push(Span::raw(format!("{} events", fmt::count(state.events()))));
    let bad = state.ingest.rejected();
    if bad > 0 {
        left.push(Span::styled(
            format!(" ({} rejected)", fmt::count(bad)),
            Style::new().fg(Color::Red),
        ));
    }
    if let Some(run) = &state.run {
        left.push(sep.clone());
        left.push(Span::raw(format!("seed {}", run.seed)));
    }
    let line = Line::from(left);
    buf.set_style(area, Style::new().bg(Color::Reset));
    let (x, _) = buf.set_line(area.x, area.y, &line, area.width);
    // Without a footer, a notice takes the place of the key hint.
    let right = match (&ui.notice, footer) {
        (Some(n), false) => format!("{n} "),
        _ => "? help  q quit ".to_string(),
    };
    let free = (area.x + area.width).saturating_sub(x + 1) as usize;
    let right = match right.chars().count() {
        n if n <= free => right,
        // A notice may be cut; the key hint is whole or shorter.
        _ if ui.notice.is_some() && !footer => fmt::fit(&right, free),
        _ if free >= 7 => "? help ".to_string(),
        _ => String::new(),
    };
    let rx = area.x + area.width - right.chars().count() as u16;
    buf.set_string(rx, area.y, right, Style::new().fg(Color::Gray));
}

/// The prompt of `g`, while open.
fn prompt_text(ui: &Ui) -> Option<String> {
    ui.prompt
        .as_ref()
        .map(|p| format!("go to (seconds or m:ss): {p}▏ Enter go · Esc cancel"))
}

fn prompt_style() -> Style {
    Style::new().fg(Color::Black).bg(Color::Yellow)
}

fn footer_line(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    if ui.replay.is_some() {
        return replay_footer(area, buf, state, ui);
    }
    let dim = Style::new().fg(Color::Gray);
    let mut spans = vec![];
    if let Some(n) = &ui.notice {
        spans.push(Span::styled(
            format!(" {n} "),
            Style::new().fg(Color::Yellow),
        ));
        spans.push(Span::styled("│", Style::new().fg(Color::DarkGray)));
    }
    let i = &state.ingest;
    let mut counts = format!(
        " malformed {} · other version {} · unknown kind {}",
        i.malformed, i.bad_version, i.unknown_kind
    );
    if i.ignored > 0 {
        counts.push_str(&format!(" · ignored {}", i.ignored));
    }
    if i.overflow > 0 {
        counts.push_str(&format!(" · overflow {}", i.overflow));
    }
    let rej_style = if i.rejected() > 0 {
        Style::new().fg(Color::Red)
    } else {
        dim
    };
    spans.push(Span::styled(counts, rej_style));
    if !ui.socket.is_empty() {
        spans.push(Span::styled(format!(" · {}", ui.socket), dim));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    // The key hint, where the left part did not reach.
    let keys = " Tab/1-5 focus  ←→ time  p pause  ? help  q quit ";
    key_hint(area, buf, keys);
}

/// The key hint at the right of the footer, where the left part did not
/// reach.
fn key_hint(area: Rect, buf: &mut Buffer, keys: &str) {
    let kw = keys.chars().count() as u16;
    if area.width > kw {
        let kx = area.x + area.width - kw;
        let occupied = (kx..area.x + area.width).any(|x| buf[(x, area.y)].symbol() != " ");
        if !occupied {
            buf.set_string(kx, area.y, keys, Style::new().fg(Color::DarkGray));
        }
    }
}

/// Under `kvdash replay`: the prompt or a notice, the recording, what of
/// it was skipped, the replay keys.
fn replay_footer(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let dim = Style::new().fg(Color::Gray);
    let mut spans = vec![];
    if let Some(p) = prompt_text(ui) {
        spans.push(Span::styled(format!(" {p} "), prompt_style()));
    } else if let Some(n) = &ui.notice {
        spans.push(Span::styled(
            format!(" {n} "),
            Style::new().fg(Color::Yellow),
        ));
        spans.push(Span::styled("│", Style::new().fg(Color::DarkGray)));
    }
    if let Mode::Replay { file } = &ui.mode {
        // The name: the keys at the right matter more than the folder.
        let name = std::path::Path::new(file)
            .file_name()
            .map_or(file.clone(), |f| f.to_string_lossy().into_owned());
        spans.push(Span::styled(
            format!(" replay of {}", fmt::fit(&name, 40)),
            dim,
        ));
    }
    let i = &state.ingest;
    if i.rejected() > 0 {
        spans.push(Span::styled(
            format!(
                " · skipped: malformed {} · other version {} · unknown kind {}",
                i.malformed, i.bad_version, i.unknown_kind
            ),
            Style::new().fg(Color::Red),
        ));
    }
    if i.ignored > 0 {
        spans.push(Span::styled(format!(" · ignored {}", i.ignored), dim));
    }
    buf.set_line(area.x, area.y, &Line::from(spans), area.width);
    key_hint(
        area,
        buf,
        " Space play  [ ] speed  , . < > seek  g go to  ? help ",
    );
}
