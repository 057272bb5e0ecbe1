//! kvdash: a live console for a running 3700kvstore simulation.
//!
//! ```text
//!  socket ──ingest──> AppEvent::Events ─┐
//!  keys ──input──> AppEvent::Key ───────┼─> app ──apply──> state ──view──> terminal
//!  frame tick ──────────────────────────┘                     (pure)   (one widget per panel)
//! ```
//!
//! - [`ingest`]: the event socket (binding, stale-socket handling, 0600),
//!   datagrams split into lines, parsed, counted, optionally recorded.
//! - [`state`]: pure aggregation, `State::apply(&DashEvent)`, bounded.
//! - [`view`]: one widget per panel, rendered from a `&State`.
//! - [`input`]: keys to actions.
//! - [`app`]: the event loop: one channel, redraw on a frame tick.
//! - [`runpy`]: `kvdash run`: starting run.py with the socket wired in.
//! - [`report`]: `kvdash report` and `kvdash compare`: post-run reports
//!   of recorded runs, on the same state code.
//! - [`export`]: `kvdash export`: a recorded run as a Perfetto /
//!   chrome://tracing trace (Trace Event Format JSON).
//! - [`sweep`]: `kvdash sweep`: run.py over knob values and seeds, one
//!   table of medians and spreads.
//! - [`replay`]: `kvdash replay`: a recorded run played back into the
//!   same state, paced by the frame tick (play, pause, speed, seek).

pub mod app;
pub mod export;
pub mod ingest;
pub mod input;
pub mod replay;
pub mod report;
pub mod runpy;
pub mod state;
pub mod sweep;
pub mod view;
