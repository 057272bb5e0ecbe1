//! Seed sweeps. `SIM_SEEDS=n` runs `n` seeds per test instead of the
//! default; `SEED=s` replays seed `s` alone, with a trace of the last events
//! in any failure message. A failure names its seed and the command that
//! replays it; a panic inside the core is caught and reported the same way.

use std::panic::{catch_unwind, AssertUnwindSafe};

use replica::rng::Rng;

use super::scenario::{run, Report, Scenario};

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    match v.trim().parse() {
        Ok(n) => Some(n),
        Err(_) => panic!("{name}={v:?} is not a number"),
    }
}

/// Runs `test`'s scenarios over its seeds and panics listing every failing
/// seed. `make` builds the scenario for a seed from an RNG seeded by it.
pub fn sweep(test: &str, default_seeds: u64, make: impl Fn(&mut Rng) -> Scenario) {
    sweep_with(test, default_seeds, &[], make);
}

/// [`sweep`], plus `regressions`: seeds that once found a bug, always run
/// (they replay the same runs only while the scenario code is unchanged).
pub fn sweep_with(
    test: &str,
    default_seeds: u64,
    regressions: &[u64],
    make: impl Fn(&mut Rng) -> Scenario,
) {
    let replay = env_u64("SEED");
    let seeds: Vec<u64> = match replay {
        Some(s) => vec![s],
        None => {
            let n = env_u64("SIM_SEEDS").unwrap_or(default_seeds);
            let extra = regressions.iter().copied().filter(|&s| s > n);
            (1..=n).chain(extra).collect()
        }
    };
    let mut total = Report::default();
    let mut failures = Vec::new();
    for &seed in &seeds {
        // The scenario and the run draw from separate streams, so that a
        // change to one does not reshuffle the other.
        let sc = make(&mut Rng::new(seed ^ 0x5CE7_A210));
        let result = catch_unwind(AssertUnwindSafe(|| run(&sc, seed, replay.is_some())))
            .unwrap_or_else(|p| Err(format!("panic: {}", panic_text(&*p))));
        match result {
            Ok(r) => total.add(&r),
            Err(e) => failures.push((seed, e)),
        }
    }
    eprintln!(
        "{test}: {} seeds, {} failed; {} steps, {} requests ({} puts and {} gets ok, \
         {} duplicate oks, {} committed puts never answered, {} gets reading their own unacknowledged put), {} leader terms, {}/{} replica packets cut or dropped, {} kills, {} restarts, \
         liveness {}/{} ok",
        seeds.len(),
        failures.len(),
        total.steps,
        total.requests,
        total.ok_puts,
        total.ok_gets,
        total.duplicates,
        total.unanswered_committed,
        total.unacknowledged_reads,
        total.leader_terms,
        total.dropped,
        total.sent,
        total.kills,
        total.restarts,
        total.live.0,
        total.live.1,
    );
    if let Some((seed, first)) = failures.first() {
        let all: Vec<String> = failures.iter().map(|(s, _)| s.to_string()).collect();
        panic!(
            "{test}: {} of {} seeds failed: {}\n\nseed {seed}: {first}\n\
             replay: SEED={seed} cargo test -p replica --test {} -- --exact {test}\n",
            failures.len(),
            seeds.len(),
            all.join(" "),
            env!("CARGO_CRATE_NAME"),
        );
    }
}

fn panic_text(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "(non-text panic)".into()
    }
}
