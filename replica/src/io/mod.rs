//! The shell around the Raft core: the only code that touches sockets,
//! clocks, signals and JSON. It makes no protocol decisions.

pub mod cli;
pub mod codec;
pub mod shell;
pub mod signals;
pub mod storage;
pub mod transport;
