//! The `3700kvstore` binary's command line: what it prints and its exit
//! status (0 for help and version, 2 for a usage error, 1 when it cannot
//! reach the simulator). How each argument vector parses is tested in
//! `io::cli`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn run_in(dir: &PathBuf, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_3700kvstore"));
    cmd.args(args).current_dir(dir);
    for var in ["KV_TRANSPORT", "KV_DEBUG", "KV_SEED"] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("run 3700kvstore")
}

/// An empty working directory: no socket files in it.
fn empty_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kvcli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).unwrap()
}

#[test]
fn help_and_version_go_to_stdout_and_exit_0() {
    let dir = empty_dir("help");
    for args in [&["--help"][..], &["-h"], &["0001", "--help", "--bogus"]] {
        let out = run_in(&dir, args, &[]);
        assert_eq!(out.status.code(), Some(0), "{args:?}");
        assert_eq!(text(&out.stderr), "");
        let help = text(&out.stdout);
        assert!(help.starts_with("3700kvstore: a Raft-replicated"), "{help}");
        assert!(help.contains("--transport <classic|udp>") && help.contains("KV_SEED"));
    }
    for args in [&["--version"][..], &["-V", "--help"]] {
        let out = run_in(&dir, args, &[]);
        assert_eq!(out.status.code(), Some(0));
        let version = format!("3700kvstore {}\n", env!("CARGO_PKG_VERSION"));
        assert_eq!(text(&out.stdout), version);
        assert_eq!(text(&out.stderr), "");
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn usage_errors_are_one_message_and_exit_2() {
    let dir = empty_dir("errors");
    // arguments, environment, message
    type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);
    let cases: &[Case] = &[
        (
            &[],
            &[],
            "missing arguments: <ID> <PEER>... or <PORT> <ID> <PEER>...",
        ),
        (
            &["0001"],
            &[],
            "missing <PEER>...: a replica needs at least one peer",
        ),
        (
            &["0001", "XYZ"],
            &[],
            "bad replica id: not a 4-hex-digit address: \"XYZ\"",
        ),
        (
            &["--transport", "udp", "70000", "0001", "0002"],
            &[],
            "not a UDP port: \"70000\"",
        ),
        (
            &["--bogus", "0001", "0002"],
            &[],
            "unknown option \"--bogus\"",
        ),
        (&["-hV"], &[], "unknown option \"-hV\""),
        (&["--", "0001", "0002"], &[], "unknown option \"--\""),
        (
            &["--seed=5", "0001", "0002"],
            &[],
            "unknown option \"--seed=5\"",
        ),
        (
            &["--seed", "x", "--help"],
            &[],
            "--seed is not a number: \"x\"",
        ),
        (&["0001", "0002", "--seed"], &[], "--seed needs a number"),
        (
            &["--transport"],
            &[],
            "--transport needs a value: classic or udp",
        ),
        (
            &["--transport", "tcp", "0001", "0002"],
            &[],
            "unknown transport \"tcp\" (expected classic or udp)",
        ),
        (
            &["0001", "0002"],
            &[("KV_TRANSPORT", "tcp")],
            "unknown transport \"tcp\" (expected classic or udp)",
        ),
        (
            &["--help"],
            &[("KV_SEED", "x")],
            "KV_SEED is not a number: \"x\"",
        ),
    ];
    for (args, env, message) in cases {
        let out = run_in(&dir, args, env);
        assert_eq!(out.status.code(), Some(2), "{args:?} {env:?}");
        assert_eq!(text(&out.stdout), "");
        assert_eq!(
            text(&out.stderr),
            format!("3700kvstore: {message}\nRun `3700kvstore --help` for usage.\n"),
            "{args:?} {env:?}"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn valid_arguments_without_a_simulator_exit_1() {
    let dir = empty_dir("nosim");
    for (args, env) in [
        (&["--transport", "classic", "0001", "0002"][..], &[][..]),
        (
            &[
                "--debug",
                "--seed",
                "5",
                "--transport=classic",
                "0001",
                "0002",
            ],
            &[],
        ),
        (
            &["0001", "0002"],
            &[
                ("KV_TRANSPORT", "classic"),
                ("KV_DEBUG", "1"),
                ("KV_SEED", "7"),
            ],
        ),
    ] {
        let out = run_in(&dir, args, env);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert_eq!(
            text(&out.stderr),
            "3700kvstore: cannot connect to the simulator socket \"0001\": \
             No such file or directory (os error 2)\n"
        );
    }
    std::fs::remove_dir_all(dir).ok();
}
