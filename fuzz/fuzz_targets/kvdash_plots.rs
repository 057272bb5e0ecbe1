//! `kvdash report --plots`: a recording's report drawn as the four SVG
//! plots, kept as strings (no files are written).
#![no_main]

use dashboard::report::{self, plots};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = report::from_reader(data).expect("reading from memory cannot fail");
    // A plot may refuse to draw (an error the CLI reports), never panic.
    let _ = plots::latency_histogram(&r);
    let _ = plots::latency_over_time(&r);
    let _ = plots::message_rate(&r);
    let _ = plots::leader_timeline(&r);
});
