//! `kvdash export`: a recorded run in another tool's format.
//!
//! - [`chrome_trace`]: the Trace Event Format (JSON) that Perfetto's UI
//!   and chrome://tracing open.
//!
//! The recording is read by the report's own code
//! ([`report::with_events`]): the same line classification (lines that
//! are not events are counted and skipped), and of several runs in one
//! recording, the last.

pub mod chrome_trace;

use std::io::BufRead;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::report::{self, Lines};

/// The formats `kvdash export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    /// Trace Event Format JSON, for ui.perfetto.dev and chrome://tracing
    #[default]
    ChromeTrace,
}

/// An exported recording.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The document.
    pub text: String,
    /// Lines read, and those skipped as not events.
    pub lines: Lines,
}

impl Exported {
    /// Lines that were not events (malformed, another schema version, an
    /// unknown kind).
    pub fn skipped(&self) -> u64 {
        self.lines.lines.saturating_sub(self.lines.events)
    }
}

/// Exports a recording (JSON lines). Fails on an I/O error, or when not
/// one line is an event.
pub fn from_reader(reader: impl BufRead, format: Format) -> Result<Exported> {
    let (report, events) = report::with_events(reader)?;
    if events.is_empty() {
        let l = &report.lines;
        bail!(
            "not a recording: no events in {} non-blank lines ({} malformed, {} of another \
             schema version, {} of an unknown kind); record one with `run.py CONFIG --record \
             FILE` or `kvdash --record FILE`",
            l.lines,
            l.malformed,
            l.other_version,
            l.unknown_kind
        );
    }
    let text = match format {
        Format::ChromeTrace => chrome_trace::render(&events, &report),
    };
    Ok(Exported {
        text,
        lines: report.lines,
    })
}

/// Exports a recorded file.
pub fn from_path(path: &Path, format: Format) -> Result<Exported> {
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read the recording {}", path.display()))?;
    from_reader(std::io::BufReader::new(file), format)
        .with_context(|| format!("cannot export {}", path.display()))
}
