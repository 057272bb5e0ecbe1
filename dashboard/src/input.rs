//! Keys to actions. The mapping is the only place that knows which key does
//! what; the help overlay is generated from [`KEYS`].

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// The five panels, in focus order (keys 1–5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Panel {
    #[default]
    Cluster,
    Timeline,
    Replication,
    Latency,
    Messages,
}

impl Panel {
    pub const ALL: [Panel; 5] = [
        Panel::Cluster,
        Panel::Timeline,
        Panel::Replication,
        Panel::Latency,
        Panel::Messages,
    ];

    pub fn number(self) -> usize {
        Panel::ALL.iter().position(|p| *p == self).expect("listed") + 1
    }

    pub fn title(self) -> &'static str {
        match self {
            Panel::Cluster => "Cluster",
            Panel::Timeline => "Leader timeline",
            Panel::Replication => "Log replication",
            Panel::Latency => "Latency",
            Panel::Messages => "Messages",
        }
    }

    pub fn next(self) -> Panel {
        Panel::ALL[self.number() % 5]
    }

    pub fn prev(self) -> Panel {
        Panel::ALL[(self.number() + 3) % 5]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    /// Freeze the view (events keep being ingested) or thaw it.
    TogglePause,
    FocusNext,
    FocusPrev,
    Focus(Panel),
    Up,
    Down,
    /// Back in time (timeline) or left.
    Left,
    Right,
    PageUp,
    PageDown,
    /// Back to the top, or to "now" on the timeline.
    Home,
    /// The oldest history.
    End,
    ZoomIn,
    ZoomOut,
    ToggleHelp,
    ToggleVerdict,
}

/// Key, what it does: shown by `?`.
pub const KEYS: &[(&str, &str)] = &[
    ("q  Esc  Ctrl-C", "quit (the terminal is restored)"),
    ("p  Space", "pause: freeze the view, keep ingesting"),
    ("Tab  Shift-Tab", "focus the next / previous panel"),
    ("1 2 3 4 5", "focus a panel"),
    ("↑ ↓  PgUp PgDn", "scroll the focused panel"),
    ("← →", "timeline: back / forward in time"),
    ("Home  End", "back to now / the top; the oldest"),
    ("+  -", "timeline: zoom in / out"),
    ("v", "show / hide the verdict"),
    ("?", "show / hide this help"),
];

/// The action for a key press, if any. Releases and repeats of keys that
/// toggle are ignored.
pub fn action(key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') | KeyCode::Char('d') if ctrl => Action::Quit,
        KeyCode::Char('q') | KeyCode::Esc => Action::Quit,
        KeyCode::Char('p') | KeyCode::Char(' ') => Action::TogglePause,
        KeyCode::Tab => Action::FocusNext,
        KeyCode::BackTab => Action::FocusPrev,
        KeyCode::Char(c @ '1'..='5') => Action::Focus(Panel::ALL[(c as u8 - b'1') as usize]),
        KeyCode::Up | KeyCode::Char('k') => Action::Up,
        KeyCode::Down | KeyCode::Char('j') => Action::Down,
        KeyCode::Left | KeyCode::Char('h') => Action::Left,
        KeyCode::Right | KeyCode::Char('l') => Action::Right,
        KeyCode::PageUp => Action::PageUp,
        KeyCode::PageDown => Action::PageDown,
        KeyCode::Home => Action::Home,
        KeyCode::End => Action::End,
        KeyCode::Char('+') | KeyCode::Char('=') => Action::ZoomIn,
        KeyCode::Char('-') | KeyCode::Char('_') => Action::ZoomOut,
        KeyCode::Char('?') => Action::ToggleHelp,
        KeyCode::Char('v') => Action::ToggleVerdict,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn the_documented_keys_do_what_the_help_says() {
        assert_eq!(action(key(KeyCode::Char('q'))), Some(Action::Quit));
        assert_eq!(action(key(KeyCode::Esc)), Some(Action::Quit));
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(action(key(KeyCode::Char('p'))), Some(Action::TogglePause));
        assert_eq!(action(key(KeyCode::Tab)), Some(Action::FocusNext));
        assert_eq!(
            action(key(KeyCode::Char('3'))),
            Some(Action::Focus(Panel::Replication))
        );
        assert_eq!(action(key(KeyCode::Char('?'))), Some(Action::ToggleHelp));
        assert_eq!(action(key(KeyCode::Left)), Some(Action::Left));
        assert_eq!(action(key(KeyCode::Char('x'))), None);
    }

    #[test]
    fn focus_cycles_through_the_five_panels() {
        let mut p = Panel::Cluster;
        for _ in 0..5 {
            assert_eq!(p.next().prev(), p);
            p = p.next();
        }
        assert_eq!(p, Panel::Cluster);
        assert_eq!(Panel::Messages.number(), 5);
    }
}
