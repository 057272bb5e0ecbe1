//! Overlays: the help (`?`) and the final verdict (`v`).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Clear, Paragraph, Widget, Wrap};

use super::{fmt, timeline, Child, Mode, Ui};
use crate::input::{KEYS, PAUSE_KEYS, REPLAY_KEYS};
use crate::state::State;

/// A box of at most `w` x `h` centred in `area`.
fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn popup(
    area: Rect,
    buf: &mut Buffer,
    title: Line<'static>,
    lines: Vec<Line<'static>>,
    color: Color,
) {
    let w = lines
        .iter()
        .map(|l| l.width() as u16)
        .max()
        .unwrap_or(0)
        .max(title.width() as u16)
        + 4;
    let h = lines.len() as u16 + 2;
    let r = centered(area, w.min(area.width.saturating_sub(2)), h);
    Clear.render(r, buf);
    Paragraph::new(lines)
        .wrap(Wrap { trim: false })
        .block(
            Block::bordered()
                .border_type(BorderType::Double)
                .border_style(Style::new().fg(color))
                .title(title),
        )
        .render(r, buf);
}

/// The keys (under `kvdash replay`, with the replay's) and the symbols.
pub fn help(area: Rect, buf: &mut Buffer, ui: &Ui) {
    let key_style = Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD);
    let replay = matches!(ui.mode, Mode::Replay { .. });
    // Under replay, its pause key in place of the live one, its own keys
    // after the rest.
    let keys: Vec<&(&str, &str)> = KEYS
        .iter()
        .map(|kv| match kv.0 {
            PAUSE_KEYS if replay => &REPLAY_KEYS[0],
            _ => kv,
        })
        .chain(REPLAY_KEYS.iter().skip(1).filter(|_| replay))
        .collect();
    let mut lines: Vec<Line> = keys
        .into_iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!(" {k:<16}"), key_style),
                Span::raw(what.to_string()),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    // The symbols as the panels draw them.
    let legend = |title: &'static str, items: &[(&'static str, Style, &'static str)]| {
        let mut spans = vec![Span::styled(format!(" {title:<12}"), key_style)];
        for (sym, style, what) in items {
            spans.push(Span::styled(*sym, *style));
            spans.push(Span::raw(format!(" {what}  ")));
        }
        Line::from(spans)
    };
    let fg = |c: Color| Style::new().fg(c);
    lines.push(legend(
        "Timeline",
        &[
            ("█", fg(Color::Green), "leader"),
            ("▓", fg(Color::Yellow), "candidate"),
            ("▒", fg(Color::LightYellow), "pre-vote"),
            ("─", fg(Color::Blue), "follower"),
            ("✕·", fg(Color::Red), "down"),
            ("↻", timeline::RESTART_STYLE, "restarted"),
        ],
    ));
    lines.push(legend(
        "",
        &[(
            " ",
            Style::new().bg(timeline::CUT_BG),
            "cut off by a partition (minority side)",
        )],
    ));
    lines.push(legend(
        "Markers",
        &[
            ("E", fg(Color::Yellow), "election"),
            ("L3", fg(Color::Green), "new leader, term"),
            ("K", fg(Color::Red), "kill"),
            ("R", timeline::RESTART_STYLE, "restart"),
            ("X", fg(Color::Red), "stop"),
            ("P", fg(Color::Magenta), "partition"),
            ("H", fg(Color::Magenta), "heal"),
        ],
    ));
    lines.push(legend(
        "Replication",
        &[
            ("█", fg(Color::Green), "committed"),
            ("█", fg(Color::Cyan), "replicated"),
            ("░", fg(Color::DarkGray), "missing (of the leader's log)"),
        ],
    ));
    popup(
        area,
        buf,
        Line::styled(" kvdash keys ", Style::new().add_modifier(Modifier::BOLD)),
        lines,
        Color::Cyan,
    );
}

pub fn verdict(area: Rect, buf: &mut Buffer, state: &State, ui: &Ui) {
    let mut lines = vec![];
    let ok = Style::new().fg(Color::Green);
    let bad = Style::new().fg(Color::Red).add_modifier(Modifier::BOLD);
    let (title, color) = match &state.verdict {
        Some(v) => {
            let failed: Vec<_> = v.checks.iter().filter(|c| !c.passed).collect();
            if failed.is_empty() {
                lines.push(Line::styled(
                    format!(" correctness: all {} checks passed", v.checks.len()),
                    ok,
                ));
            } else {
                for c in failed {
                    let detail = if c.detail.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", c.detail)
                    };
                    lines.push(Line::styled(
                        fmt::fit(&format!(" ✗ {}{detail}", c.name), 70),
                        bad,
                    ));
                }
            }
            if let Some(lin) = v.linearizable {
                lines.push(if lin {
                    Line::styled(" linearizable: yes", ok)
                } else {
                    Line::styled(" linearizable: NO", bad)
                });
            }
            for t in &v.tiers {
                let style = match t.tier.as_str() {
                    "Bonus" | "Passed" => ok,
                    "Partial credit" => Style::new().fg(Color::Yellow),
                    _ => bad,
                };
                let value = if t.metric.contains("latency") {
                    fmt::micros((t.value * 1e6).round() as u64)
                } else {
                    format!("{}", t.value)
                };
                lines.push(Line::from(vec![
                    Span::raw(format!(" {:<16}{:>9}  ", t.metric, value)),
                    Span::styled(t.tier.clone(), style),
                ]));
            }
            if v.passed {
                (" Verdict: PASSED ", Color::Green)
            } else {
                (" Verdict: FAILED ", Color::Red)
            }
        }
        None => {
            let why = match ui.child {
                // 0 and 1 are a run's pass and fail: it ran, silently.
                Some(Child::Exited(Some(0 | 1))) => " no verdict event (run.py without --events?)",
                _ => " no verdict: run.py ended before the run did (its output follows on q)",
            };
            lines.push(Line::raw(why));
            (" run.py finished ", Color::Yellow)
        }
    };
    match &ui.child {
        Some(Child::Exited(code)) => {
            let code = code.map_or("a signal".to_string(), |c| c.to_string());
            lines.push(Line::styled(
                format!(" run.py exited with status {code}"),
                Style::new().fg(Color::Gray),
            ));
        }
        Some(Child::Running) => lines.push(Line::styled(
            " run.py is finishing…",
            Style::new().fg(Color::Gray),
        )),
        None => {}
    }
    let hint = match ui.mode {
        Mode::Run { .. } => " q: quit and print run.py's report · v: hide",
        Mode::Attach => " q: quit · v: hide · the next run replaces this one",
        Mode::Replay { .. } => " q: quit · v: hide · , < g: back in time · Space: again",
    };
    lines.push(Line::styled(hint, Style::new().fg(Color::Gray)));
    let title = Line::styled(title, Style::new().fg(color).add_modifier(Modifier::BOLD));
    // Over the lower part of the screen, leaving the cluster table visible.
    let lower = Rect::new(
        area.x,
        area.y + area.height / 3,
        area.width,
        area.height - area.height / 3,
    );
    popup(lower, buf, title, lines, color);
}
