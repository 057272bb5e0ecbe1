//! kvdash's live path: datagrams -> `ingest::take_datagram` -> events
//! applied to `State`, as the app does for each batch. The screen is left
//! out: drawing it costs 20 times the rest, and dashboard/tests/robust.rs
//! draws random states at every size.
//!
//! Input: datagrams separated by NUL bytes (a datagram itself holds one or
//! more JSON event lines).
#![no_main]

use dashboard::ingest::{take_datagram, Batch};
use dashboard::state::State;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut state = State::new();
    for datagram in data.split(|&b| b == 0) {
        let mut batch = Batch::default();
        take_datagram(datagram, &mut batch, &mut None);
        assert_eq!(
            batch.stats.events,
            batch.events.len() as u64,
            "every parsed event is counted"
        );
        for e in &batch.events {
            state.apply(e);
        }
        state.note_rejects(&batch.stats);
    }
    state.leader();
    state.outstanding();
    state.run_over();
    state.elapsed();
});
