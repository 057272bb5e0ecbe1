//! `3700kvstore`: parse arguments, open the transport, run the shell.

use std::path::Path;
use std::process::ExitCode;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use replica::io::cli::{self, Args, Parsed, TransportKind};
use replica::io::shell::{Exit, Shell};
use replica::io::signals;
use replica::io::storage::Storage;
use replica::io::transport::{SeqPacket, Transport, Udp};
use replica::raft::{describe, Node};
use replica::telemetry::Emitter;
use shared::events::default_socket_path;
use shared::{Addr, Body, Message};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    match cli::parse(&argv, |k| std::env::var(k).ok(), |p| p.exists()) {
        Ok(Parsed::Help) => {
            print!("{}", cli::help());
            ExitCode::SUCCESS
        }
        Ok(Parsed::Version) => {
            println!("3700kvstore {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Ok(Parsed::PrintConfig(config)) => {
            print!("{}", describe(&config));
            ExitCode::SUCCESS
        }
        Ok(Parsed::Run(args)) => run(args),
        Err(e) => {
            eprintln!("3700kvstore: {e}\nRun `3700kvstore --help` for usage.");
            ExitCode::from(2)
        }
    }
}

fn run(args: Args) -> ExitCode {
    if let Err(e) = signals::install() {
        eprintln!("3700kvstore: cannot install signal handlers: {e}");
        return ExitCode::FAILURE;
    }
    if !signals::watch_parent(signals::death_signal_requested()) {
        return fail("the simulator that started us is already gone");
    }
    let seed = args.seed.unwrap_or_else(default_seed);
    let epoch = Instant::now();
    let epoch_unix_us = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64);
    // SAFETY: getuid(2) cannot fail.
    let uid = unsafe { libc::getuid() };
    let events_path = default_socket_path(|k| std::env::var(k).ok(), uid);
    let telemetry = || Emitter::new(&events_path, &args.id.to_string(), epoch_unix_us);
    let (node, storage) = match &args.data_dir {
        None => (
            Node::new(args.id, args.peers.clone(), args.config.clone(), seed, 0),
            None,
        ),
        Some(dir) => match Storage::open(dir, args.id) {
            Ok((storage, disk, found)) => {
                if found.torn_bytes > 0 {
                    eprintln!(
                        "3700kvstore: {}: dropped {} bytes of a torn last write",
                        dir.display(),
                        found.torn_bytes
                    );
                }
                let node = Node::recover(
                    args.id,
                    args.peers.clone(),
                    args.config.clone(),
                    seed,
                    0,
                    disk,
                );
                (node, Some(storage))
            }
            Err(e) => return fail(&format!("cannot open the data dir: {e}")),
        },
    };
    match args.transport {
        TransportKind::Classic => {
            let path = args.id.to_string();
            match SeqPacket::connect(Path::new(&path)) {
                Ok(t) => serve(
                    Shell::new(t, node, epoch, telemetry(), args.debug, storage),
                    &args,
                    None,
                ),
                Err(e) => fail(&format!(
                    "cannot connect to the simulator socket {path:?}: {e}"
                )),
            }
        }
        TransportKind::Udp { port } => match Udp::connect(port) {
            Ok(t) => {
                let hello = Message {
                    src: args.id,
                    dst: Addr::BROADCAST,
                    leader: Addr::UNKNOWN,
                    body: Body::Hello,
                };
                serve(
                    Shell::new(t, node, epoch, telemetry(), args.debug, storage),
                    &args,
                    Some(hello),
                )
            }
            Err(e) => fail(&format!(
                "cannot open a UDP socket to localhost:{port}: {e}"
            )),
        },
    }
}

fn serve<T: Transport>(mut shell: Shell<T>, args: &Args, hello: Option<Message>) -> ExitCode {
    if let Some(hello) = hello {
        shell.queue(&hello);
    }
    if args.debug {
        eprintln!("[{}] started with peers {:?}", args.id, args.peers);
    }
    let exit = shell.run();
    if args.debug {
        let n = shell.node();
        eprintln!(
            "[{}] exiting ({exit:?}) in term {} with log {} commit {}; shell {:?}; core {:?}",
            args.id,
            n.term(),
            n.log().last_index(),
            n.commit_index(),
            shell.stats,
            n.counters()
        );
    }
    match exit {
        Exit::Signal | Exit::Closed(_) => ExitCode::SUCCESS,
        Exit::Disk(e) => fail(&e),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("3700kvstore: {msg}");
    ExitCode::FAILURE
}

fn default_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    nanos ^ (u64::from(std::process::id()) << 32)
}
