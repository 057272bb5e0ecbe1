//! State events for the console: queued with the time of each until the
//! shell takes them, and only when something changed.

use shared::events::{Event, FollowerProgress, RoleName};
use shared::Addr;

use super::Micros;

/// Events kept until [`Reporter::take`]; beyond this they are counted
/// and dropped.
const MAX_PENDING_EVENTS: usize = 4096;

/// `progress` events are rate-limited to one per this long.
const PROGRESS_EVERY: Micros = 50_000;

/// A replica's role, term and leader belief, as reported.
pub(super) type RoleState = (RoleName, u64, Addr);

#[derive(Debug)]
pub(super) struct Reporter {
    events: Vec<(Micros, Event)>,
    /// Whether to build the per-request events (two per request, each with
    /// strings to allocate): the shell turns them off while its emitter
    /// would drop them unread.
    pub request_events: bool,
    /// Events dropped because nobody took them.
    overflowed: u64,
    /// What the last events said, so that only changes are reported.
    role: Option<RoleState>,
    log: (u64, u64),
    commit: (u64, u64),
    progress: Vec<(Addr, u64, u64)>,
    progress_at: Micros,
}

impl Default for Reporter {
    fn default() -> Reporter {
        Reporter {
            events: Vec::new(),
            request_events: true,
            overflowed: 0,
            role: None,
            log: (0, 0),
            commit: (0, 0),
            progress: Vec::new(),
            progress_at: 0,
        }
    }
}

impl Reporter {
    pub(super) fn emit(&mut self, now: Micros, event: Event) {
        // A caller that never takes the events must not make them pile up.
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.overflowed += 1;
            return;
        }
        self.events.push((now, event));
    }

    pub(super) fn take(&mut self) -> Vec<(Micros, Event)> {
        std::mem::take(&mut self.events)
    }

    pub(super) fn overflowed(&self) -> u64 {
        self.overflowed
    }

    /// The role, term or leader belief is now `current`; reported with
    /// `event` (built only if it changed).
    pub(super) fn role_changed(
        &mut self,
        now: Micros,
        current: RoleState,
        event: impl FnOnce() -> Event,
    ) {
        if self.role == Some(current) {
            return;
        }
        self.role = Some(current);
        self.emit(now, event());
    }

    /// The log now ends at `last` (index, term); reported if it moved.
    pub(super) fn log_changed(&mut self, now: Micros, last: (u64, u64)) {
        if last != self.log {
            self.log = last;
            self.emit(
                now,
                Event::LogAppended {
                    last_index: last.0,
                    last_term: last.1,
                },
            );
        }
    }

    /// The commit and applied indexes; reported if they moved.
    pub(super) fn commit_changed(&mut self, now: Micros, commit: (u64, u64)) {
        if commit != self.commit {
            self.commit = commit;
            self.emit(
                now,
                Event::Commit {
                    commit_index: commit.0,
                    applied_index: commit.1,
                },
            );
        }
    }

    /// A `progress` event may go out: the last was `PROGRESS_EVERY` ago.
    pub(super) fn progress_due(&self, now: Micros) -> bool {
        now >= self.progress_at + PROGRESS_EVERY
    }

    /// A leader's followers' (id, match, next): reported if they moved.
    pub(super) fn progress_changed(&mut self, now: Micros, followers: Vec<(Addr, u64, u64)>) {
        if followers == self.progress {
            return;
        }
        let event = Event::Progress {
            followers: followers
                .iter()
                .map(|&(id, match_index, next_index)| FollowerProgress {
                    id: id.to_string(),
                    match_index,
                    next_index,
                })
                .collect(),
        };
        self.progress = followers;
        self.progress_at = now;
        self.emit(now, event);
    }
}
