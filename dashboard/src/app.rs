//! The event loop: one channel of [`AppEvent`]s (ingest batches, terminal
//! input, frame ticks, run.py's exit, signals). Events are applied to the
//! state as they come; the screen is redrawn on the frame tick only, and
//! only when something changed.

use std::time::Duration;

use crossterm::event::Event as TermEvent;
use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::ingest::Batch;
use crate::input::{self, Action, Panel};
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
}

/// Timeline columns per ←/→ press, and per PgUp/PgDn.
const STEP: u64 = 4;
const PAGE: usize = 10;

impl App {
    pub fn new(ui: Ui) -> App {
        App {
            state: State::new(),
            frozen: None,
            ui,
            quit: false,
            dirty: true,
            timeline_cols: 0,
        }
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
            AppEvent::Term(TermEvent::Key(k)) => {
                if let Some(a) = input::action(k) {
                    self.act(a);
                }
            }
            AppEvent::Term(_) => self.dirty = true,
            AppEvent::Tick => {}
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
            Action::TogglePause => {
                self.ui.paused = !self.ui.paused;
                self.frozen = self.ui.paused.then(|| self.state.clone());
            }
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
