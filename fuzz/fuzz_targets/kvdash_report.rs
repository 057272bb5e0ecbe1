//! `kvdash report` and `kvdash compare` on a recording: the JSONL parser
//! (`report::from_reader`), the text report, the JSON report, the SVG
//! plots (as strings; no files are written) and the comparison table.
#![no_main]

use dashboard::report::{self, compare, plots, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = report::from_reader(data).expect("reading from memory cannot fail");
    text::render(&r);
    serde_json::to_string(&r).expect("a report serializes");
    // A plot may refuse to draw (an error the CLI reports), never panic.
    let _ = plots::latency_histogram(&r);
    let _ = plots::latency_over_time(&r);
    let _ = plots::message_rate(&r);
    let _ = plots::leader_timeline(&r);
    let rows = compare::compare(&r, &r);
    compare::text("a.jsonl", "b.jsonl", &rows);
});
