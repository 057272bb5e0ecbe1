//! The event loop: one channel of [`AppEvent`]s (ingest batches, terminal
//! input, frame ticks, run.py's exit, signals). Events are applied to the
//! state as they come; the screen is redrawn on the frame tick only, and
//! only when something changed. Under `kvdash replay` the frame tick also
//! moves the replay clock, and the recording's events due by then go into
//! the same state.

use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, KeyEvent};
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::ingest::Batch;
use crate::input::{self, Action, Panel, PromptKey};
use crate::replay::{self, Replay};
use crate::state::State;
use crate::view::{self, Child, Ui, ZOOMS};

#[derive(Debug)]
pub enum AppEvent {
    /// Events (and rejection counts) from the socket.
    Ingest(Batch),
    /// A key press, a resize.
    Term(TermEvent),
    /// Time to redraw, if anything changed.
    Tick,
    /// run.py exited (with its status code, if any) and the last line it
    /// printed on stderr.
    ChildExited(Option<i32>, Option<String>),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal,
}

impl From<Batch> for AppEvent {
    fn from(b: Batch) -> Self {
        AppEvent::Ingest(b)
    }
}

/// The console: live state, a frozen copy while paused, and the view's
/// settings.
pub struct App {
    pub state: State,
    /// The view shown while paused; `state` keeps ingesting meanwhile.
    pub frozen: Option<State>,
    pub ui: Ui,
    pub quit: bool,
    /// Something changed since the last draw.
    pub dirty: bool,
    /// Time columns the timeline showed at the last draw.
    pub timeline_cols: u64,
    /// `kvdash replay`: the recording played into `state`.
    pub replay: Option<Replay>,
    /// When the last frame tick came (the replay clock's wall time).
    last_tick: Option<Instant>,
}

/// Timeline columns per ←/→ press, and per PgUp/PgDn.
const STEP: u64 = 4;
const PAGE: usize = 10;
/// Characters a time typed after `g` may have.
const PROMPT_MAX: usize = 12;

impl App {
    pub fn new(ui: Ui) -> App {
        App {
            state: State::new(),
            frozen: None,
            ui,
            quit: false,
            dirty: true,
            timeline_cols: 0,
            replay: None,
            last_tick: None,
        }
    }

    /// The console over a recording (`kvdash replay`): the events at time
    /// 0 are applied at once, the rest as the clock reaches them.
    pub fn replaying(ui: Ui, replay: Replay) -> App {
        let mut app = App::new(ui);
        app.replay = Some(replay);
        app.with_replay(|r, s| {
            r.seek_to(0, s);
        });
        app
    }

    /// Runs `op` on the replay and the state, then does what the live
    /// console does when events come: the verdict shows when it arrives.
    fn with_replay(&mut self, op: impl FnOnce(&mut Replay, &mut State)) {
        let Some(r) = self.replay.as_mut() else {
            return;
        };
        let before = (r.status(), r.fed());
        let had_verdict = self.state.verdict.is_some();
        op(r, &mut self.state);
        if !had_verdict && self.state.verdict.is_some() {
            self.ui.verdict = true;
        }
        let status = r.status();
        self.dirty |= before != (status, r.fed()) || self.ui.replay != Some(status);
        self.ui.replay = Some(status);
    }

    /// Moves the replay clock on by `wall` (times the speed).
    pub fn advance(&mut self, wall: Duration) {
        self.with_replay(|r, s| {
            r.tick(wall, s);
        });
    }

    /// What the screen shows.
    pub fn shown(&self) -> &State {
        self.frozen.as_ref().unwrap_or(&self.state)
    }

    pub fn handle(&mut self, ev: AppEvent) {
        match ev {
            AppEvent::Ingest(batch) => {
                let had_verdict = self.state.verdict.is_some();
                for e in &batch.events {
                    self.state.apply(e);
                }
                self.state.note_rejects(&batch.stats);
                if let Some(err) = batch.record_error {
                    self.ui.notice = Some(format!("recording stopped: {err}"));
                }
                if !had_verdict && self.state.verdict.is_some() {
                    self.ui.verdict = true;
                }
                self.dirty |= self.frozen.is_none();
                // Counters in the title stay live even when paused.
                if let Some(f) = &mut self.frozen {
                    f.ingest = self.state.ingest.clone();
                    self.dirty = true;
                }
            }
            AppEvent::Term(TermEvent::Key(k)) if self.ui.prompt.is_some() => self.prompt_key(k),
            AppEvent::Term(TermEvent::Key(k)) => {
                if let Some(a) = input::action(k) {
                    self.act(a);
                }
            }
            AppEvent::Term(_) => self.dirty = true,
            AppEvent::Tick => {
                let now = Instant::now();
                let wall = self.last_tick.map_or(Duration::ZERO, |t| now - t);
                self.last_tick = Some(now);
                self.advance(wall);
            }
            AppEvent::ChildExited(code, last) => {
                self.ui.child = Some(Child::Exited(code));
                let status = code.map_or("by a signal".to_string(), |c| format!("with status {c}"));
                let mut notice = format!("run.py exited {status}: q quits and prints its report");
                if code.is_some_and(|c| c >= 2) {
                    if let Some(l) = last {
                        notice = format!("run.py exited {status}: {l}");
                    }
                }
                self.ui.notice = Some(notice);
                self.ui.verdict = true;
                self.dirty = true;
            }
            AppEvent::Signal => self.quit = true,
        }
    }

    pub fn act(&mut self, a: Action) {
        self.dirty = true;
        let focus = self.ui.focus;
        match a {
            Action::Quit => self.quit = true,
            Action::TogglePause if self.replay.is_some() => {
                self.with_replay(|r, s| r.toggle_pause(s));
            }
            Action::TogglePause => {
                self.ui.paused = !self.ui.paused;
                self.frozen = self.ui.paused.then(|| self.state.clone());
            }
            Action::Faster => self.with_replay(|r, _| r.faster()),
            Action::Slower => self.with_replay(|r, _| r.slower()),
            Action::Seek(us) => self.with_replay(|r, s| {
                r.seek_by(us, s);
            }),
            Action::GoTo if self.replay.is_some() => {
                self.ui.prompt = Some(String::new());
                self.ui.notice = None;
            }
            Action::GoTo => {}
            Action::FocusNext => self.ui.focus = focus.next(),
            Action::FocusPrev => self.ui.focus = focus.prev(),
            Action::Focus(p) => self.ui.focus = p,
            Action::Up => {
                let s = self.ui.scroll_mut(focus);
                *s = s.saturating_sub(1);
            }
            Action::Down => self.scroll_down(1),
            Action::PageUp if focus == Panel::Timeline => self.back(STEP * 10),
            Action::PageDown if focus == Panel::Timeline => self.forward(STEP * 10),
            Action::PageUp => {
                let s = self.ui.scroll_mut(focus);
                *s = s.saturating_sub(PAGE);
            }
            Action::PageDown => self.scroll_down(PAGE),
            Action::Left => self.back(STEP),
            Action::Right => self.forward(STEP),
            Action::Home => {
                self.ui.back = 0;
                *self.ui.scroll_mut(focus) = 0;
            }
            Action::End => {
                self.ui.back = self.oldest();
            }
            Action::ZoomIn | Action::ZoomOut => {
                let old = self.ui.column_us();
                let z = if a == Action::ZoomIn {
                    self.ui.zoom.saturating_sub(1)
                } else {
                    (self.ui.zoom + 1).min(ZOOMS.len() - 1)
                };
                self.ui.zoom = z;
                // Keep the right edge at the same moment.
                self.ui.back = self.ui.back * old / self.ui.column_us();
            }
            Action::ToggleHelp => self.ui.help = !self.ui.help,
            Action::ToggleVerdict => self.ui.verdict = !self.ui.verdict,
        }
    }

    /// A key while the time prompt of `g` is open.
    fn prompt_key(&mut self, k: KeyEvent) {
        let Some(p) = input::prompt_key(k) else {
            return;
        };
        self.dirty = true;
        let text = self.ui.prompt.get_or_insert_default();
        match p {
            PromptKey::Char(c) => {
                if text.chars().count() < PROMPT_MAX {
                    text.push(c);
                }
            }
            PromptKey::Back => {
                text.pop();
            }
            PromptKey::Cancel => self.ui.prompt = None,
            PromptKey::Quit => self.quit = true,
            PromptKey::Enter => {
                let text = self.ui.prompt.take().unwrap_or_default();
                match replay::parse_time(&text) {
                    Some(us) => self.with_replay(|r, s| {
                        r.seek_to(us, s);
                    }),
                    None if text.trim().is_empty() => {}
                    None => {
                        self.ui.notice = Some(format!(
                            "not a time: {text} (seconds, e.g. 12.5, or m:ss; g to try again)"
                        ));
                    }
                }
            }
        }
    }

    fn scroll_down(&mut self, n: usize) {
        // Bounded by the number of rows there could be; the view clamps to
        // what fits.
        let max = self.shown().replicas.len().max(40);
        let s = self.ui.scroll_mut(self.ui.focus);
        *s = (*s + n).min(max);
    }

    /// Columns back until the timeline's left edge is the run's start.
    fn oldest(&self) -> u64 {
        (self.shown().elapsed() / self.ui.column_us() + 1).saturating_sub(self.timeline_cols)
    }

    fn back(&mut self, cols: u64) {
        self.ui.back = (self.ui.back + cols).min(self.oldest());
    }

    fn forward(&mut self, cols: u64) {
        self.ui.back = self.ui.back.saturating_sub(cols);
    }

    /// Draws if anything changed.
    pub fn draw<B: Backend>(&mut self, terminal: &mut Terminal<B>) -> Result<(), B::Error> {
        if !self.dirty {
            return Ok(());
        }
        self.dirty = false;
        let size = terminal.size()?;
        let areas = view::layout(
            ratatui::layout::Rect::new(0, 0, size.width, size.height),
            self.shown().replicas.len(),
        );
        self.timeline_cols = view::timeline::columns(areas.timeline);
        let state = self.frozen.as_ref().unwrap_or(&self.state);
        let ui = &self.ui;
        terminal.draw(|f| view::draw(f, state, ui))?;
        Ok(())
    }
}

/// Sends a tick every `1/fps` seconds until the receiver goes away.
pub async fn ticker(tx: mpsc::Sender<AppEvent>, fps: u32) {
    let mut iv = tokio::time::interval(Duration::from_millis(1000 / fps.clamp(1, 60) as u64));
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        iv.tick().await;
        // Behind whatever is queued: under load frames come later, never
        // not at all (and missed ticks do not pile up).
        if tx.send(AppEvent::Tick).await.is_err() {
            return;
        }
    }
}

/// Reads terminal input on a thread of its own (crossterm's reads block),
/// until `stop` is set or the receiver goes away.
pub fn input_thread(
    tx: mpsc::Sender<AppEvent>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        use std::sync::atomic::Ordering;
        while !stop.load(Ordering::Relaxed) {
            match crossterm::event::poll(Duration::from_millis(100)) {
                Ok(true) => match crossterm::event::read() {
                    Ok(ev) => {
                        if tx.blocking_send(AppEvent::Term(ev)).is_err() {
                            return;
                        }
                    }
                    Err(_) => return,
                },
                Ok(false) => {}
                Err(_) => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::events::{DashEvent, Event};

    fn healed(ts: u64) -> DashEvent {
        DashEvent::new(ts, "sim", Event::PartitionHealed {})
    }

    #[test]
    fn pausing_freezes_the_view_while_events_keep_arriving() {
        let mut app = App::new(Ui::default());
        app.handle(AppEvent::Ingest(Batch {
            events: vec![healed(1_000_000)],
            ..Batch::default()
        }));
        app.act(Action::TogglePause);
        app.handle(AppEvent::Ingest(Batch {
            events: vec![healed(5_000_000)],
            ..Batch::default()
        }));
        assert_eq!(app.shown().now(), 1_000_000);
        assert_eq!(app.state.now(), 5_000_000);
        app.act(Action::TogglePause);
        assert_eq!(app.shown().now(), 5_000_000);
    }

    #[test]
    fn the_timeline_scrolls_back_no_further_than_the_start() {
        let mut app = App::new(Ui::default());
        app.handle(AppEvent::Ingest(Batch {
            events: vec![healed(1_000_000), healed(3_000_000)],
            ..Batch::default()
        }));
        // 2 s at 250 ms per column: 9 columns of history, 1 shown.
        app.timeline_cols = 1;
        for _ in 0..5 {
            app.act(Action::Left);
        }
        assert_eq!(app.ui.back, 8);
        app.act(Action::Right);
        assert_eq!(app.ui.back, 4);
        app.act(Action::ZoomOut);
        assert_eq!(app.ui.back, 2);
        app.act(Action::Home);
        assert_eq!(app.ui.back, 0);
    }

    fn key(c: crossterm::event::KeyCode) -> AppEvent {
        AppEvent::Term(TermEvent::Key(KeyEvent::new(
            c,
            crossterm::event::KeyModifiers::NONE,
        )))
    }

    /// A replay of: heal at 0 s, 1 s, 2 s; the verdict at 3 s.
    fn replay_app(paused: bool) -> App {
        let mut lines: Vec<String> = (0..3).map(|i| healed(i * 1_000_000).to_line()).collect();
        lines.push(
            DashEvent::new(
                3_000_000,
                "sim",
                Event::RunEnd {
                    passed: true,
                    stats: Default::default(),
                    checks: vec![],
                    tiers: vec![],
                    linearizable: None,
                },
            )
            .to_line(),
        );
        let rec = replay::Recording::read(lines.join("\n").as_bytes()).unwrap();
        let ui = Ui {
            verdict: false,
            ..Ui::default()
        };
        App::replaying(ui, Replay::new(rec, 1, paused))
    }

    #[test]
    fn a_replay_moves_on_the_tick_and_its_verdict_shows_at_the_end() {
        let mut app = replay_app(false);
        assert_eq!(app.state.events(), 1);
        app.dirty = false;
        app.advance(Duration::from_millis(1500));
        assert!(app.dirty);
        assert_eq!(app.state.events(), 2);
        assert_eq!(app.ui.replay.unwrap().clock_us, 1_500_000);
        // Space pauses the replay itself: no frozen copy.
        app.act(Action::TogglePause);
        assert!(app.frozen.is_none());
        app.dirty = false;
        app.advance(Duration::from_secs(5));
        assert!(!app.dirty, "paused: nothing to redraw");
        assert!(app.ui.replay.unwrap().paused);
        app.act(Action::Faster);
        app.act(Action::TogglePause);
        app.advance(Duration::from_secs(1));
        assert!(app.state.verdict.is_some());
        assert!(app.ui.verdict, "the verdict shows when reached");
        assert!(app.ui.replay.unwrap().ended);
        app.act(Action::ToggleVerdict);
        assert!(!app.ui.verdict);
        app.act(Action::Seek(-10_000_000));
        assert_eq!(app.state.events(), 1);
        assert!(app.state.verdict.is_none());
    }

    #[test]
    fn g_opens_a_prompt_that_takes_the_keys_until_enter_or_esc() {
        use crossterm::event::KeyCode;
        let mut app = replay_app(true);
        app.handle(key(KeyCode::Char('g')));
        assert_eq!(app.ui.prompt.as_deref(), Some(""));
        // q is not a quit while typing.
        for c in ['2', 'q', '.', '5'] {
            app.handle(key(KeyCode::Char(c)));
        }
        assert!(!app.quit);
        assert_eq!(app.ui.prompt.as_deref(), Some("2.5"));
        app.handle(key(KeyCode::Enter));
        assert_eq!(app.ui.prompt, None);
        assert_eq!(app.ui.replay.unwrap().clock_us, 2_500_000);
        assert_eq!(app.state.events(), 3);
        app.handle(key(KeyCode::Char('g')));
        app.handle(key(KeyCode::Char('1')));
        app.handle(key(KeyCode::Esc));
        assert_eq!(app.ui.prompt, None);
        assert_eq!(app.ui.replay.unwrap().clock_us, 2_500_000);
        // Live, g does nothing.
        let mut live = App::new(Ui::default());
        live.handle(key(KeyCode::Char('g')));
        assert_eq!(live.ui.prompt, None);
    }

    #[test]
    fn a_run_that_ends_shows_its_verdict_and_quitting_is_a_key_away() {
        let mut app = App::new(Ui::default());
        app.act(Action::ToggleVerdict);
        app.handle(AppEvent::ChildExited(Some(0), None));
        assert!(app.ui.verdict);
        assert!(app.ui.notice.as_deref().unwrap().contains("status 0"));
        app.handle(AppEvent::Term(TermEvent::Key(
            crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char('q'),
                crossterm::event::KeyModifiers::NONE,
            ),
        )));
        assert!(app.quit);
    }
}
