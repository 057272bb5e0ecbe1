//! Command-line arguments: which transport, our id, our peers, options.
//!
//! clap reads the options; which positional arguments are a port, our id and
//! our peers depends on them (see [`parse`]), so they are checked here.

use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Arg, ArgAction, Command};
use shared::Addr;

use crate::raft::{parse_tune, Config};

const ABOUT: &str = "\
3700kvstore: a Raft-replicated key-value store replica for the CS3700-style
cluster simulator.";

const USAGE: &str = "\
3700kvstore [OPTIONS] <ID> <PEER>...            classic simulator (Unix SEQPACKET)
       3700kvstore [OPTIONS] <PORT> <ID> <PEER>...     UDP simulator (localhost:<PORT>)";

/// clap lays out the usage and the options; the positional arguments are one
/// list to clap, so they are described here.
const TEMPLATE: &str = "\
{about-with-newline}
{usage-heading} {usage}

Arguments:
  <ID>    this replica's id: 4 hex digits, e.g. 0001. In classic mode the
          simulator listens on a socket file of that name in the working
          directory.
  <PEER>  the ids of the other replicas.
  <PORT>  UDP mode: the simulator's port on localhost. The replica first
          sends a hello there, then talks only to that address.

  The transport is detected from the arguments: a first argument that names
  an existing file is a classic socket; otherwise a decimal port followed by
  a 4-hex-digit id means UDP.

Options:
{options}{after-help}";

const AFTER_HELP: &str = "\
State events for the kvdash console go, without ever blocking, to the Unix
datagram socket named by KVDASH_SOCKET, else $XDG_RUNTIME_DIR/kvdash.sock,
else /tmp/kvdash-<uid>.sock; they are dropped (and counted) when nobody
listens.

The replica exits on SIGTERM, SIGINT or SIGHUP, when the simulator closes
its socket, or once the simulator that started it is gone (checked every
200 ms; KV_PARENT_DEATH_SIGNAL=1 also asks the kernel for SIGTERM then).";

fn command() -> Command {
    Command::new("3700kvstore")
        .version(env!("CARGO_PKG_VERSION"))
        .about(ABOUT)
        .override_usage(USAGE)
        .help_template(TEMPLATE)
        .after_help(AFTER_HELP)
        .no_binary_name(true)
        .disable_help_flag(true)
        .disable_version_flag(true)
        // the last --seed or --transport wins, and --debug may repeat
        .args_override_self(true)
        .arg(
            Arg::new("transport")
                .long("transport")
                .value_name("classic|udp")
                .num_args(1)
                .allow_hyphen_values(true)
                .help("force the transport (env KV_TRANSPORT)"),
        )
        .arg(
            Arg::new("debug")
                .long("debug")
                .action(ArgAction::SetTrue)
                .help("log protocol events to stderr (env KV_DEBUG=1);\noff by default"),
        )
        .arg(
            Arg::new("seed")
                .long("seed")
                .value_name("N")
                .num_args(1)
                .allow_hyphen_values(true)
                .value_parser(|v: &str| {
                    v.parse::<u64>()
                        .map_err(|_| format!("--seed is not a number: {v:?}"))
                })
                .help(
                    "seed for the randomized election timeouts\n\
                     (env KV_SEED; default: from pid and clock)",
                ),
        )
        .arg(
            Arg::new("tune")
                .long("tune")
                .value_name("KNOBS")
                .num_args(1)
                .action(ArgAction::Append)
                .allow_hyphen_values(true)
                .help(
                    "set timing and size knobs, e.g.\n\
                     heartbeat=200ms,election=800ms-1600ms (env KV_TUNE,\n\
                     applied first; --tune may repeat). Units: us, ms,\n\
                     s; B, KiB, MiB; %. --print-config lists them all",
                ),
        )
        .arg(
            Arg::new("data-dir")
                .long("data-dir")
                .value_name("DIR")
                .num_args(1)
                .allow_hyphen_values(true)
                .help(
                    "keep term, vote and log in DIR (created if missing)\n\
                     and recover them from it at start (env KV_DATA_DIR).\n\
                     Without it the replica keeps everything in memory",
                ),
        )
        .arg(
            Arg::new("print-config")
                .long("print-config")
                .action(ArgAction::SetTrue)
                .help(
                    "print the effective knobs (after KV_TUNE and --tune),\n\
                     their defaults and what each trades, then exit",
                ),
        )
        .arg(
            Arg::new("help")
                .short('h')
                .long("help")
                .action(ArgAction::Help)
                .help("print this help"),
        )
        .arg(
            Arg::new("version")
                .short('V')
                .long("version")
                .action(ArgAction::Version)
                .help("print the version"),
        )
        .arg(
            Arg::new("args")
                .num_args(0..)
                .action(ArgAction::Append)
                .hide(true),
        )
}

/// The `--help` text.
pub fn help() -> String {
    command().render_help().to_string()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Connect to the socket file named by our id (4 upper-case hex digits).
    Classic,
    Udp {
        port: u16,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    pub transport: TransportKind,
    pub id: Addr,
    pub peers: Vec<Addr>,
    pub debug: bool,
    pub seed: Option<u64>,
    /// The defaults with `KV_TUNE` then each `--tune` applied, checked.
    pub config: Config,
    /// Durability on, kept in this directory (`--data-dir`, `KV_DATA_DIR`).
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, PartialEq)]
pub enum Parsed {
    Run(Args),
    Help,
    Version,
    PrintConfig(Config),
}

/// Parses `argv[1..]`. `env` looks up environment variables and `exists`
/// whether a path exists, so that this stays testable.
///
/// Arguments are read in order: `-h`/`--help` and `-V`/`--version` win over
/// whatever follows them, not over an error before them. `KV_SEED` is checked
/// first of all.
pub fn parse(
    argv: &[String],
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<Parsed, String> {
    let env_debug = env("KV_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
    let env_seed = match env("KV_SEED").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| format!("KV_SEED is not a number: {s:?}"))?,
        ),
        None => None,
    };
    let (readable, unknown) = split_at_unknown_form(argv);
    let matches = match command().try_get_matches_from(readable) {
        Ok(m) => m,
        Err(e) => {
            return match e.kind() {
                ErrorKind::DisplayHelp => Ok(Parsed::Help),
                ErrorKind::DisplayVersion => Ok(Parsed::Version),
                _ => Err(message(&e)),
            }
        }
    };
    if let Some(arg) = unknown {
        return Err(format!("unknown option {arg:?}"));
    }
    let forced = matches
        .get_one::<String>("transport")
        .cloned()
        .or_else(|| env("KV_TRANSPORT").filter(|s| !s.is_empty()));
    let debug = matches.get_flag("debug") || env_debug;
    let seed = matches.get_one::<u64>("seed").copied().or(env_seed);
    let data_dir = matches
        .get_one::<String>("data-dir")
        .cloned()
        .or_else(|| env("KV_DATA_DIR").filter(|d| !d.is_empty()))
        .map(|d| match d.as_str() {
            "" => Err("--data-dir is empty".to_string()),
            _ => Ok(PathBuf::from(d)),
        })
        .transpose()?;
    let config = tuned_config(
        env("KV_TUNE").as_deref(),
        matches.get_many::<String>("tune").into_iter().flatten(),
    )?;
    if matches.get_flag("print-config") {
        return Ok(Parsed::PrintConfig(config));
    }
    let positional: Vec<String> = matches
        .get_many::<String>("args")
        .map(|v| v.cloned().collect())
        .unwrap_or_default();
    let kind = match forced.as_deref() {
        Some("classic") => false,
        Some("udp") => true,
        Some(other) => {
            return Err(format!(
                "unknown transport {other:?} (expected classic or udp)"
            ))
        }
        None => {
            let first = positional
                .first()
                .ok_or("missing arguments: <ID> <PEER>... or <PORT> <ID> <PEER>...")?;
            let names_a_socket = Addr::parse(first).is_ok() && exists(Path::new(first));
            let looks_udp = first.parse::<u16>().is_ok()
                && positional.get(1).is_some_and(|s| Addr::parse(s).is_ok());
            !names_a_socket && looks_udp
        }
    };
    let (transport, ids) = if kind {
        let port = positional.first().ok_or("missing <PORT>")?;
        let port: u16 = port
            .parse()
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("not a UDP port: {port:?}"))?;
        (TransportKind::Udp { port }, &positional[1..])
    } else {
        (TransportKind::Classic, &positional[..])
    };
    let mut addrs = Vec::new();
    for s in ids {
        addrs.push(Addr::parse(s).map_err(|e| format!("bad replica id: {e}"))?);
    }
    let Some((&id, peers)) = addrs.split_first() else {
        return Err("missing <ID>".into());
    };
    if peers.is_empty() {
        return Err("missing <PEER>...: a replica needs at least one peer".into());
    }
    Ok(Parsed::Run(Args {
        transport,
        id,
        peers: peers.to_vec(),
        debug,
        seed,
        config,
        data_dir,
    }))
}

/// The defaults, then `KV_TUNE`, then each `--tune` in order; the result
/// must pass [`Config::check`].
fn tuned_config<'a>(
    env_tune: Option<&str>,
    flags: impl Iterator<Item = &'a String>,
) -> Result<Config, String> {
    let mut config = Config::default();
    if let Some(spec) = env_tune {
        parse_tune(spec, &mut config).map_err(|e| format!("KV_TUNE: {e}"))?;
    }
    for spec in flags {
        parse_tune(spec, &mut config).map_err(|e| format!("--tune: {e}"))?;
    }
    config.check().map_err(|e| format!("tuning: {e}"))?;
    Ok(config)
}

/// The forms clap would read but that were never options here: `--` (to clap,
/// the end of the options), `--name=value` for any option but `--transport`,
/// and bundled short flags such as `-hV`. Returns the arguments before the
/// first of them, and it: clap reads those (so a help, or an error, before it
/// still comes first) and then it is an unknown option.
fn split_at_unknown_form(argv: &[String]) -> (&[String], Option<&String>) {
    let mut i = 0;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--seed" || a == "--transport" || a == "--tune" || a == "--data-dir" {
            // their value is taken whatever it looks like
            i += 2;
            continue;
        }
        let unknown = a == "--"
            || (a.starts_with("--")
                && a.contains('=')
                && !a.starts_with("--transport=")
                && !a.starts_with("--tune="))
            || (a.starts_with('-') && !a.starts_with("--") && a.len() > 2);
        if unknown {
            return (&argv[..i], Some(&argv[i]));
        }
        i += 1;
    }
    (argv, None)
}

/// A clap error in this program's words.
fn message(e: &clap::Error) -> String {
    let arg = match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(s)) => s.as_str(),
        _ => "",
    };
    match e.kind() {
        ErrorKind::UnknownArgument => format!("unknown option {arg:?}"),
        // our value parser's message
        ErrorKind::ValueValidation => match std::error::Error::source(e) {
            Some(source) => source.to_string(),
            None => format!("bad value for {arg}"),
        },
        ErrorKind::InvalidValue if arg.starts_with("--seed") => "--seed needs a number".into(),
        ErrorKind::InvalidValue if arg.starts_with("--transport") => {
            "--transport needs a value: classic or udp".into()
        }
        _ => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or_default();
            first.strip_prefix("error: ").unwrap_or(first).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str, socket_exists: bool) -> Result<Args, String> {
        match parse(&args(s), |_| None, |_| socket_exists)? {
            Parsed::Run(a) => Ok(a),
            other => Err(format!("{other:?}")),
        }
    }

    #[test]
    fn classic_when_the_first_argument_names_a_socket() {
        let a = run("0001 0000 0002", true).unwrap();
        assert_eq!(a.transport, TransportKind::Classic);
        assert_eq!(a.id, Addr(1));
        assert_eq!(a.peers, vec![Addr(0), Addr(2)]);
    }

    #[test]
    fn udp_when_a_port_precedes_the_ids() {
        let a = run("41234 0001 0000 0002", false).unwrap();
        assert_eq!(a.transport, TransportKind::Udp { port: 41234 });
        assert_eq!(a.id, Addr(1));
        // a 4-digit port that is also hex, with no socket file, is a port
        let a = run("1234 0001 0000", false).unwrap();
        assert_eq!(a.transport, TransportKind::Udp { port: 1234 });
    }

    #[test]
    fn the_transport_can_be_forced() {
        let a = parse(&args("--transport classic 1234 0001"), |_| None, |_| false).unwrap();
        assert!(matches!(
            a,
            Parsed::Run(Args {
                transport: TransportKind::Classic,
                ..
            })
        ));
        let env = |k: &str| (k == "KV_TRANSPORT").then(|| "udp".to_string());
        let a = parse(&args("1234 0001 0002"), env, |_| true).unwrap();
        assert!(matches!(
            a,
            Parsed::Run(Args {
                transport: TransportKind::Udp { port: 1234 },
                ..
            })
        ));
    }

    #[test]
    fn bad_arguments_are_clear_errors() {
        assert!(run("", false).unwrap_err().contains("missing"));
        assert!(run("0001", true).unwrap_err().contains("peer"));
        assert!(run("0001 XYZ", true)
            .unwrap_err()
            .contains("bad replica id"));
        assert!(parse(&args("--bogus 0001 0002"), |_| None, |_| true)
            .unwrap_err()
            .contains("--bogus"));
        assert!(parse(&args("--transport tcp 0001 0002"), |_| None, |_| true).is_err());
        assert_eq!(parse(&args("--help"), |_| None, |_| true), Ok(Parsed::Help));
    }

    #[test]
    fn debug_and_seed_come_from_flags_or_environment() {
        let env = |k: &str| match k {
            "KV_DEBUG" => Some("1".to_string()),
            "KV_SEED" => Some("42".to_string()),
            _ => None,
        };
        let Parsed::Run(a) = parse(&args("0001 0002"), env, |_| true).unwrap() else {
            panic!()
        };
        assert!(a.debug);
        assert_eq!(a.seed, Some(42));
        let Parsed::Run(a) = parse(&args("--seed 7 0001 0002"), |_| None, |_| true).unwrap() else {
            panic!()
        };
        assert!(!a.debug);
        assert_eq!(a.seed, Some(7));
    }

    #[test]
    fn knobs_come_from_kv_tune_then_each_tune_flag() {
        let env = |k: &str| (k == "KV_TUNE").then(|| "heartbeat=200ms,hold=2s".to_string());
        let a = run_env("--tune hold=1s --tune=probe=50ms 0001 0002", env).unwrap();
        assert_eq!(a.config.heartbeat_interval, 200_000);
        assert_eq!(a.config.hold_timeout, 1_000_000);
        assert_eq!(a.config.probe_interval, 50_000);
        let a = run_env("0001 0002", |_| None).unwrap();
        assert_eq!(a.config, Config::default());
        assert_eq!(
            parse(
                &args("--tune heartbeat=2s --print-config"),
                |_| None,
                |_| false
            ),
            Err(
                "tuning: heartbeat: must be above 0 and below the election timeout's minimum \
                 (1s), or followers campaign between heartbeats"
                    .into()
            )
        );
        let bad = |k: &str| (k == "KV_TUNE").then(|| "heartbeat=2".to_string());
        assert_eq!(
            run_env("0001 0002", bad).unwrap_err(),
            "KV_TUNE: heartbeat: \"2\" needs a unit: us, ms or s"
        );
        assert!(run_env("--tune nope=1s 0001 0002", |_| None)
            .unwrap_err()
            .starts_with("--tune: unknown knob \"nope\""));
        assert_eq!(
            run_env("--tune", |_| None).unwrap_err(),
            "a value is required for '--tune <KNOBS>' but none was supplied"
        );
    }

    #[test]
    fn print_config_needs_no_ids_and_shows_the_tuned_values() {
        let Ok(Parsed::PrintConfig(c)) = parse(
            &args("--print-config --tune lease=50%"),
            |_| None,
            |_| false,
        ) else {
            panic!()
        };
        assert_eq!(c.lease_percent, 50);
    }

    fn run_env(s: &str, env: impl Fn(&str) -> Option<String>) -> Result<Args, String> {
        match parse(&args(s), env, |p| p == Path::new("0001"))? {
            Parsed::Run(a) => Ok(a),
            other => Err(format!("{other:?}")),
        }
    }

    /// What each argument vector gave before the parser moved to clap, as
    /// recorded from that binary: `KV_*` environment, arguments, files in the
    /// working directory, result (`Run(transport, id, peers, debug, seed)` or
    /// the exact error, which `main` prints after "3700kvstore: " and exits 2).
    #[test]
    fn every_recorded_argument_vector_parses_as_before_clap() {
        use TransportKind::{Classic, Udp};
        enum Want {
            Run(TransportKind, u16, &'static [u16], bool, Option<u64>),
            Help,
            Version,
            Err(&'static str),
        }
        use Want::{Err, Help, Run, Version};
        type Case = (
            &'static [(&'static str, &'static str)],
            &'static [&'static str],
            &'static [&'static str],
            Want,
        );
        #[rustfmt::skip]
        let cases: &[Case] = &[
            (&[], &["0001", "0000", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0000, 0x0002], false, None)),
            (&[], &["000A", "0000", "0002"], &[], Run(Classic, 0x000A, &[0x0000, 0x0002], false, None)),
            (&[], &["0001", "0000", "0002"], &[], Run(Udp { port: 1 }, 0x0000, &[0x0002], false, None)),
            (&[], &["41234", "0001", "0000", "0002"], &[], Run(Udp { port: 41234 }, 0x0001, &[0x0000, 0x0002], false, None)),
            (&[], &["1234", "0001", "0000"], &[], Run(Udp { port: 1234 }, 0x0001, &[0x0000], false, None)),
            (&[], &["41234", "0001", "0000", "0002"], &["41234"], Run(Udp { port: 41234 }, 0x0001, &[0x0000, 0x0002], false, None)),
            (&[], &["0", "0001", "0002"], &[], Err("not a UDP port: \"0\"")),
            (&[], &["70000", "0001", "0002"], &[], Err("bad replica id: not a 4-hex-digit address: \"70000\"")),
            (&[], &["--transport", "udp", "70000", "0001", "0002"], &[], Err("not a UDP port: \"70000\"")),
            (&[], &["--transport", "udp", "0", "0001", "0002"], &[], Err("not a UDP port: \"0\"")),
            (&[], &["--transport", "udp", "abc", "0001", "0002"], &[], Err("not a UDP port: \"abc\"")),
            (&[], &[], &[], Err("missing arguments: <ID> <PEER>... or <PORT> <ID> <PEER>...")),
            (&[], &["0001"], &["0001"], Err("missing <PEER>...: a replica needs at least one peer")),
            (&[], &["41234", "0001"], &[], Err("missing <PEER>...: a replica needs at least one peer")),
            (&[], &["--transport", "udp"], &[], Err("missing <PORT>")),
            (&[], &["--transport", "udp", "41234"], &[], Err("missing <ID>")),
            (&[], &["--transport", "classic"], &[], Err("missing <ID>")),
            (&[], &["0001", "XYZ"], &["0001"], Err("bad replica id: not a 4-hex-digit address: \"XYZ\"")),
            (&[], &["XYZ", "0001"], &[], Err("bad replica id: not a 4-hex-digit address: \"XYZ\"")),
            (&[], &["00001", "0002"], &[], Err("missing <PEER>...: a replica needs at least one peer")),
            (&[], &["000a", "0002"], &[], Run(Classic, 0x000A, &[0x0002], false, None)),
            (&[], &["0001", "0001"], &["0001"], Run(Classic, 0x0001, &[0x0001], false, None)),
            (&[], &["FFFF", "0001"], &[], Run(Classic, 0xFFFF, &[0x0001], false, None)),
            (&[], &["-", "0001"], &[], Err("bad replica id: not a 4-hex-digit address: \"-\"")),
            (&[], &["0001", "-"], &["0001"], Err("bad replica id: not a 4-hex-digit address: \"-\"")),
            (&[], &["--bogus", "0001", "0002"], &["0001"], Err("unknown option \"--bogus\"")),
            (&[], &["-x", "0001", "0002"], &["0001"], Err("unknown option \"-x\"")),
            (&[], &["--bogus=3", "0001", "0002"], &["0001"], Err("unknown option \"--bogus=3\"")),
            (&[], &["0001", "0002", "--bogus"], &["0001"], Err("unknown option \"--bogus\"")),
            (&[], &["--", "0001", "0002"], &["0001"], Err("unknown option \"--\"")),
            (&[], &["0001", "0002", "--"], &["0001"], Err("unknown option \"--\"")),
            (&[], &["-1", "0001", "0002"], &["0001"], Err("unknown option \"-1\"")),
            (&[], &["--help"], &[], Help),
            (&[], &["-h"], &[], Help),
            (&[], &["--version"], &[], Version),
            (&[], &["-V"], &[], Version),
            (&[], &["--help", "--bogus"], &[], Help),
            (&[], &["--bogus", "--help"], &[], Err("unknown option \"--bogus\"")),
            (&[], &["-hV"], &[], Err("unknown option \"-hV\"")),
            (&[], &["-Vh"], &[], Err("unknown option \"-Vh\"")),
            (&[], &["--seed", "x", "--help"], &[], Err("--seed is not a number: \"x\"")),
            (&[], &["--help", "--seed", "x"], &[], Help),
            (&[], &["--seed", "--help"], &[], Err("--seed is not a number: \"--help\"")),
            (&[], &["0001", "--help"], &[], Help),
            (&[], &["--help=1"], &[], Err("unknown option \"--help=1\"")),
            (&[], &["--HELP"], &[], Err("unknown option \"--HELP\"")),
            (&[], &["--hel"], &[], Err("unknown option \"--hel\"")),
            (&[], &["--version", "--help"], &[], Version),
            (&[], &["--seed=5", "0001", "0002"], &["0001"], Err("unknown option \"--seed=5\"")),
            (&[], &["--debug=1", "0001", "0002"], &["0001"], Err("unknown option \"--debug=1\"")),
            (&[], &["--transport=udp", "41234", "0001", "0002"], &["0001"], Run(Udp { port: 41234 }, 0x0001, &[0x0002], false, None)),
            (&[], &["--transport=", "0001", "0002"], &["0001"], Err("unknown transport \"\" (expected classic or udp)")),
            (&[], &["--debug", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[], &["0001", "0002", "--debug"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[], &["--debug", "--debug", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[], &["--seed", "42", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(42))),
            (&[], &["0001", "--seed", "42", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(42))),
            (&[], &["--seed", "1", "--seed", "2", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(2))),
            (&[], &["--seed", "x", "0001", "0002"], &["0001"], Err("--seed is not a number: \"x\"")),
            (&[], &["--seed", "-1", "0001", "0002"], &["0001"], Err("--seed is not a number: \"-1\"")),
            (&[], &["--seed"], &["0001"], Err("--seed needs a number")),
            (&[], &["0001", "0002", "--seed"], &["0001"], Err("--seed needs a number")),
            (&[], &["--seed", "18446744073709551615", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(18446744073709551615))),
            (&[], &["--seed", "18446744073709551616", "0001", "0002"], &["0001"], Err("--seed is not a number: \"18446744073709551616\"")),
            (&[], &["--seed", "+5", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(5))),
            (&[], &["--seed", "", "0001", "0002"], &["0001"], Err("--seed is not a number: \"\"")),
            (&[], &["--seed", "--", "0001", "0002"], &["0001"], Err("--seed is not a number: \"--\"")),
            (&[], &["--transport", "classic", "1234", "0001"], &[], Run(Classic, 0x1234, &[0x0001], false, None)),
            (&[], &["--transport", "udp", "1234", "0001", "0002"], &["1234"], Run(Udp { port: 1234 }, 0x0001, &[0x0002], false, None)),
            (&[], &["--transport", "tcp", "0001", "0002"], &["0001"], Err("unknown transport \"tcp\" (expected classic or udp)")),
            (&[], &["--transport"], &["0001"], Err("--transport needs a value: classic or udp")),
            (&[], &["--transport", "", "0001", "0002"], &["0001"], Err("unknown transport \"\" (expected classic or udp)")),
            (&[], &["--transport", "--debug", "0001", "0002"], &["0001"], Err("unknown transport \"--debug\" (expected classic or udp)")),
            (&[], &["--transport", "classic", "--transport", "udp", "41234", "0001", "0002"], &["0001"], Run(Udp { port: 41234 }, 0x0001, &[0x0002], false, None)),
            (&[], &["--transport", "tcp", "--help"], &[], Help),
            (&[], &["--transport", "--", "0001", "0002"], &["0001"], Err("unknown transport \"--\" (expected classic or udp)")),
            (&[], &["--transport", "UDP", "41234", "0001", "0002"], &[], Err("unknown transport \"UDP\" (expected classic or udp)")),
            (&[("KV_TRANSPORT", "udp")], &["1234", "0001", "0002"], &["1234"], Run(Udp { port: 1234 }, 0x0001, &[0x0002], false, None)),
            (&[("KV_TRANSPORT", "classic")], &["1234", "0001", "0002"], &[], Run(Classic, 0x1234, &[0x0001, 0x0002], false, None)),
            (&[("KV_TRANSPORT", "tcp")], &["0001", "0002"], &["0001"], Err("unknown transport \"tcp\" (expected classic or udp)")),
            (&[("KV_TRANSPORT", "")], &["41234", "0001", "0002"], &[], Run(Udp { port: 41234 }, 0x0001, &[0x0002], false, None)),
            (&[("KV_TRANSPORT", "tcp")], &["--transport", "udp", "41234", "0001", "0002"], &[], Run(Udp { port: 41234 }, 0x0001, &[0x0002], false, None)),
            (&[("KV_TRANSPORT", "tcp")], &["--help"], &[], Help),
            (&[("KV_DEBUG", "1")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[("KV_DEBUG", "0")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, None)),
            (&[("KV_DEBUG", "")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, None)),
            (&[("KV_DEBUG", "yes")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[("KV_DEBUG", "0")], &["--debug", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], true, None)),
            (&[("KV_SEED", "42")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(42))),
            (&[("KV_SEED", "x")], &["0001", "0002"], &["0001"], Err("KV_SEED is not a number: \"x\"")),
            (&[("KV_SEED", "")], &["0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, None)),
            (&[("KV_SEED", "x")], &["--help"], &[], Err("KV_SEED is not a number: \"x\"")),
            (&[("KV_SEED", "x")], &["--seed", "5", "0001", "0002"], &["0001"], Err("KV_SEED is not a number: \"x\"")),
            (&[("KV_SEED", "5")], &["--seed", "7", "0001", "0002"], &["0001"], Run(Classic, 0x0001, &[0x0002], false, Some(7))),
            (&[("KV_SEED", "-1")], &["0001", "0002"], &["0001"], Err("KV_SEED is not a number: \"-1\"")),
        ];
        for (env, argv, files, want) in cases {
            let got = parse(
                &argv.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                |k| {
                    env.iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| v.to_string())
                },
                |p| files.iter().any(|f| Path::new(f) == p),
            );
            let want = match want {
                Run(transport, id, peers, debug, seed) => Ok(Parsed::Run(Args {
                    transport: *transport,
                    id: Addr(*id),
                    peers: peers.iter().map(|&p| Addr(p)).collect(),
                    debug: *debug,
                    seed: *seed,
                    config: Config::default(),
                    data_dir: None,
                })),
                Help => Ok(Parsed::Help),
                Version => Ok(Parsed::Version),
                Err(e) => Result::Err(e.to_string()),
            };
            assert_eq!(got, want, "env {env:?}, args {argv:?}, files {files:?}");
        }
    }

    #[test]
    fn the_data_dir_comes_from_the_flag_else_the_environment() {
        let parse_with = |env: &[(&str, &str)], argv: &[&str]| {
            let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
            let env: Vec<(String, String)> = env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            parse(
                &argv,
                |k| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()),
                |_| true,
            )
            .map(|p| match p {
                Parsed::Run(a) => a.data_dir,
                other => panic!("not a run: {other:?}"),
            })
        };
        let dir = |d: &str| Ok(Some(PathBuf::from(d)));
        assert_eq!(parse_with(&[], &["0001", "0002"]), Ok(None));
        assert_eq!(
            parse_with(&[], &["--data-dir", "d", "0001", "0002"]),
            dir("d")
        );
        assert_eq!(
            parse_with(&[("KV_DATA_DIR", "e")], &["0001", "0002"]),
            dir("e")
        );
        assert_eq!(
            parse_with(
                &[("KV_DATA_DIR", "e")],
                &["--data-dir", "-d", "0001", "0002"]
            ),
            dir("-d")
        );
        assert_eq!(
            parse_with(&[("KV_DATA_DIR", "")], &["0001", "0002"]),
            Ok(None)
        );
        assert_eq!(
            parse_with(&[], &["--data-dir", "", "0001", "0002"]),
            Err("--data-dir is empty".to_string())
        );
        assert!(parse_with(&[], &["0001", "0002", "--data-dir"]).is_err());
    }

    #[test]
    fn the_help_names_every_argument_option_and_variable() {
        let help = help();
        for word in [
            "<ID>",
            "<PEER>",
            "<PORT>",
            "--transport <classic|udp>",
            "--debug",
            "off by default",
            "--seed <N>",
            "from pid and clock",
            "--tune <KNOBS>",
            "KV_TUNE",
            "--print-config",
            "--data-dir <DIR>",
            "KV_DATA_DIR",
            "-h, --help",
            "-V, --version",
            "KV_TRANSPORT",
            "KV_DEBUG=1",
            "KV_SEED",
            "KVDASH_SOCKET",
            "$XDG_RUNTIME_DIR/kvdash.sock",
            "/tmp/kvdash-<uid>.sock",
            "classic simulator (Unix SEQPACKET)",
            "UDP simulator (localhost:<PORT>)",
            "a first argument that names\n  an existing file is a classic socket",
            "SIGTERM",
        ] {
            assert!(help.contains(word), "{word:?} missing from:\n{help}");
        }
        assert!(!help.contains('\x1b'), "no terminal styling");
    }
}
