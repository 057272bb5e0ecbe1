//! Command-line arguments: which transport, our id, our peers, options.

use std::path::Path;

use shared::Addr;

pub const HELP: &str = "\
3700kvstore: a Raft-replicated key-value store replica for the CS3700-style
cluster simulator.

USAGE:
    3700kvstore [OPTIONS] <ID> <PEER>...            classic simulator (Unix SEQPACKET)
    3700kvstore [OPTIONS] <PORT> <ID> <PEER>...     UDP simulator (localhost:<PORT>)

ARGUMENTS:
    <ID>      this replica's id: 4 hex digits, e.g. 0001. In classic mode the
              simulator listens on a socket file of that name in the working
              directory.
    <PEER>    the ids of the other replicas.
    <PORT>    UDP mode: the simulator's port on localhost. The replica first
              sends a hello there, then talks only to that address.

    The transport is detected from the arguments: a first argument that names
    an existing file is a classic socket; otherwise a decimal port followed by
    a 4-hex-digit id means UDP.

OPTIONS:
    --transport <classic|udp>   force the transport (env KV_TRANSPORT)
    --debug                     log protocol events to stderr (env KV_DEBUG=1);
                                off by default
    --seed <N>                  seed for the randomized election timeouts
                                (env KV_SEED; default: from pid and clock)
    -h, --help                  print this help
    -V, --version               print the version

State events for the kvdash console go, without ever blocking, to the Unix
datagram socket named by KVDASH_SOCKET, else $XDG_RUNTIME_DIR/kvdash.sock,
else /tmp/kvdash-<uid>.sock; they are dropped (and counted) when nobody
listens.

The replica exits on SIGTERM or when the simulator closes its socket.
";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportKind {
    /// Connect to the socket file named by our id (4 upper-case hex digits).
    Classic,
    Udp {
        port: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Args {
    pub transport: TransportKind,
    pub id: Addr,
    pub peers: Vec<Addr>,
    pub debug: bool,
    pub seed: Option<u64>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Args),
    Help,
    Version,
}

/// Parses `argv[1..]`. `env` looks up environment variables and `exists`
/// whether a path exists, so that this stays testable.
pub fn parse(
    argv: &[String],
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&Path) -> bool,
) -> Result<Parsed, String> {
    let mut forced = env("KV_TRANSPORT").filter(|s| !s.is_empty());
    let mut debug = env("KV_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
    let mut seed = match env("KV_SEED").filter(|s| !s.is_empty()) {
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| format!("KV_SEED is not a number: {s:?}"))?,
        ),
        None => None,
    };
    let mut positional = Vec::new();
    let mut it = argv.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "--debug" => debug = true,
            "--transport" => {
                forced = Some(
                    it.next()
                        .ok_or("--transport needs a value: classic or udp")?
                        .clone(),
                )
            }
            "--seed" => {
                let v = it.next().ok_or("--seed needs a number")?;
                seed = Some(
                    v.parse()
                        .map_err(|_| format!("--seed is not a number: {v:?}"))?,
                );
            }
            s if s.starts_with("--transport=") => {
                forced = Some(s["--transport=".len()..].to_string())
            }
            s if s.starts_with('-') && s.len() > 1 => return Err(format!("unknown option {s:?}")),
            _ => positional.push(arg.clone()),
        }
    }
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
    }))
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
}
