//! `kvdash report` and `kvdash compare` on a recording: the JSONL parser
//! (`report::from_reader`), the text report, the JSON report and the
//! comparison table. The SVG plots are `kvdash_plots`: they cost fifty
//! times the rest.
#![no_main]

use dashboard::report::{self, compare, text};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let r = report::from_reader(data).expect("reading from memory cannot fail");
    text::render(&r);
    serde_json::to_string(&r).expect("a report serializes");
    let rows = compare::compare(&r, &r);
    compare::text("a.jsonl", "b.jsonl", &rows);
});
