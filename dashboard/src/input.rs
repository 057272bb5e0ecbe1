//! Keys to actions. The mapping is the only place that knows which key does
//! what; the help overlay is generated from [`KEYS`] (and, under `kvdash
//! replay`, [`REPLAY_KEYS`]).

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::replay::{BIG_STEP_US, SMALL_STEP_US};

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
    /// Replay: twice / half as fast.
    Faster,
    Slower,
    /// Replay: jump by this many microseconds (negative: back).
    Seek(i64),
    /// Replay: open the prompt for a time to go to.
    GoTo,
}

/// A key while the prompt of [`Action::GoTo`] is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKey {
    /// A digit, `.` or `:`.
    Char(char),
    Back,
    Enter,
    Cancel,
    Quit,
}

/// The pause key's label in [`KEYS`] and [`REPLAY_KEYS`].
pub const PAUSE_KEYS: &str = "p  Space";

/// Key, what it does: shown by `?`.
pub const KEYS: &[(&str, &str)] = &[
    ("q  Esc  Ctrl-C", "quit (the terminal is restored)"),
    (PAUSE_KEYS, "pause: freeze the view, keep ingesting"),
    ("Tab  Shift-Tab", "focus the next / previous panel"),
    ("1 2 3 4 5", "focus a panel"),
    ("↑ ↓  PgUp PgDn", "scroll the focused panel"),
    ("← →", "timeline: back / forward in time"),
    ("Home  End", "back to now / the top; the oldest"),
    ("+  -", "timeline: zoom in / out"),
    ("v", "show / hide the verdict"),
    ("?", "show / hide this help"),
];

/// Under `kvdash replay`: these, and [`KEYS`] but for the pause key.
pub const REPLAY_KEYS: &[(&str, &str)] = &[
    (PAUSE_KEYS, "play / pause the replay (at the end: again)"),
    ("[  ]", "replay half / twice as fast (1x to 64x)"),
    (",  .", "replay: back / forward 1 s"),
    ("<  >", "replay: back / forward 10 s"),
    ("g", "go to a time: seconds or m:ss, then Enter"),
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
        KeyCode::Char(']') => Action::Faster,
        KeyCode::Char('[') => Action::Slower,
        KeyCode::Char('.') => Action::Seek(SMALL_STEP_US),
        KeyCode::Char(',') => Action::Seek(-SMALL_STEP_US),
        KeyCode::Char('>') => Action::Seek(BIG_STEP_US),
        KeyCode::Char('<') => Action::Seek(-BIG_STEP_US),
        KeyCode::Char('g') => Action::GoTo,
        _ => return None,
    })
}

/// The prompt's meaning of a key press; other keys are ignored.
pub fn prompt_key(key: KeyEvent) -> Option<PromptKey> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    Some(match key.code {
        KeyCode::Char('c') | KeyCode::Char('d') if ctrl => PromptKey::Quit,
        KeyCode::Char(c @ ('0'..='9' | '.' | ':')) if !ctrl => PromptKey::Char(c),
        KeyCode::Backspace => PromptKey::Back,
        KeyCode::Enter => PromptKey::Enter,
        KeyCode::Esc => PromptKey::Cancel,
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
    fn the_replay_keys_are_keys_the_live_console_does_not_use() {
        assert_eq!(action(key(KeyCode::Char(']'))), Some(Action::Faster));
        assert_eq!(action(key(KeyCode::Char('['))), Some(Action::Slower));
        assert_eq!(
            action(key(KeyCode::Char(','))),
            Some(Action::Seek(-1_000_000))
        );
        assert_eq!(
            action(KeyEvent::new(KeyCode::Char('>'), KeyModifiers::SHIFT)),
            Some(Action::Seek(10_000_000))
        );
        assert_eq!(action(key(KeyCode::Char('g'))), Some(Action::GoTo));
        // The live keys are as they were.
        assert_eq!(action(key(KeyCode::PageUp)), Some(Action::PageUp));
        assert_eq!(action(key(KeyCode::Char(' '))), Some(Action::TogglePause));
        assert_eq!(action(key(KeyCode::Char('+'))), Some(Action::ZoomIn));
        assert_eq!(action(key(KeyCode::Char('-'))), Some(Action::ZoomOut));
        assert_eq!(action(key(KeyCode::Home)), Some(Action::Home));
        assert_eq!(REPLAY_KEYS[0].0, PAUSE_KEYS);
    }

    #[test]
    fn the_time_prompt_takes_digits_and_ends_with_enter_or_esc() {
        assert_eq!(
            prompt_key(key(KeyCode::Char('7'))),
            Some(PromptKey::Char('7'))
        );
        assert_eq!(
            prompt_key(key(KeyCode::Char(':'))),
            Some(PromptKey::Char(':'))
        );
        assert_eq!(prompt_key(key(KeyCode::Char('q'))), None);
        assert_eq!(prompt_key(key(KeyCode::Enter)), Some(PromptKey::Enter));
        assert_eq!(prompt_key(key(KeyCode::Esc)), Some(PromptKey::Cancel));
        assert_eq!(prompt_key(key(KeyCode::Backspace)), Some(PromptKey::Back));
        assert_eq!(
            prompt_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
            Some(PromptKey::Quit)
        );
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
