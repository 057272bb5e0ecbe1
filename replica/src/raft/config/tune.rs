//! The `--tune` syntax: `name=value,name=value`, with explicit units
//! (`us`, `ms`, `s`; `B`, `KiB`, `MiB`; `%`), one [`Knob`] per setting of
//! [`Config`]. Parsing only assigns; [`Config::check`] then judges the set.

use super::Config;
use crate::raft::Micros;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TuneError {
    #[error("{0:?} is not name=value (e.g. heartbeat=200ms)")]
    Syntax(String),
    #[error("unknown knob {0:?}; known: {known}", known = known_names())]
    Unknown(String),
    #[error("{knob}: {why}")]
    BadValue { knob: &'static str, why: String },
    #[error("{knob} is set twice")]
    Twice { knob: &'static str },
    #[error("{knob}: {why}")]
    Inconsistent { knob: &'static str, why: String },
}

/// A parsed value, by kind.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Value {
    Time(Micros),
    TimeRange(Micros, Micros),
    Bytes(usize),
    Count(usize),
    Percent(u64),
    /// A loss rate (0-1); infinity is `off`.
    Loss(f64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Time,
    TimeRange,
    Bytes,
    Count,
    Percent,
    Loss,
}

pub struct Knob {
    pub name: &'static str,
    kind: Kind,
    /// What a higher or lower value trades, for `--print-config`.
    pub trades: &'static str,
    get: fn(&Config) -> Value,
    set: fn(&mut Config, Value),
}

impl Knob {
    /// The value in `--tune` syntax.
    pub fn render(&self, cfg: &Config) -> String {
        render_value((self.get)(cfg))
    }
}

macro_rules! knob {
    ($name:literal, Time, $field:ident, $trades:literal) => {
        Knob {
            name: $name,
            kind: Kind::Time,
            trades: $trades,
            get: |c| Value::Time(c.$field),
            set: |c, v| {
                if let Value::Time(t) = v {
                    c.$field = t
                }
            },
        }
    };
    ($name:literal, TimeRange, $lo:ident, $hi:ident, $trades:literal) => {
        Knob {
            name: $name,
            kind: Kind::TimeRange,
            trades: $trades,
            get: |c| Value::TimeRange(c.$lo, c.$hi),
            set: |c, v| {
                if let Value::TimeRange(a, b) = v {
                    (c.$lo, c.$hi) = (a, b)
                }
            },
        }
    };
    ($name:literal, $kind:ident, $field:ident, $trades:literal) => {
        Knob {
            name: $name,
            kind: Kind::$kind,
            trades: $trades,
            get: |c| Value::$kind(c.$field),
            set: |c, v| {
                if let Value::$kind(x) = v {
                    c.$field = x
                }
            },
        }
    };
}

/// Every knob, in `--print-config` order.
pub const KNOBS: &[Knob] = &[
    knob!("election", TimeRange, election_timeout_min, election_timeout_max,
        "each election timeout is drawn from MIN-MAX; lower replaces a dead leader sooner, higher holds fewer needless elections on a slow or lossy network; MIN also bounds check-quorum and the read lease"),
    knob!("heartbeat", Time, heartbeat_interval,
        "a leader's idle interval to its eager followers; lower costs messages, higher lets drops starve a follower into campaigning"),
    knob!("lazy-heartbeat", Time, lazy_heartbeat_interval,
        "the same for followers not needed for a quorum (they stretch their timeout to match); higher saves messages, lower catches them up sooner"),
    knob!("quiet-lazy-heartbeat", Time, quiet_lazy_heartbeat_interval,
        "lazy-heartbeat while the network loses next to nothing"),
    knob!("probe", Time, probe_interval,
        "the longest gap between check-quorum probes of silent followers; lower spends messages so that lost answers do not make a leader step down"),
    knob!("retransmit", TimeRange, retransmit_min, retransmit_interval,
        "unacknowledged entries are resent after four smoothed round trips, clamped to MIN-MAX (MAX also paces vote resends); lower recovers drops sooner at the cost of duplicate sends"),
    knob!("lease", Percent, lease_percent,
        "the read lease as a share of the election timeout's MIN; higher answers more gets locally, lower leaves more margin for clock drift"),
    knob!("hold", Time, hold_timeout,
        "how long a replica that knows no leader holds a request before redirecting it; higher rides out longer elections, lower bounds the wait when no quorum is reachable"),
    knob!("bounce", Time, bounce_window,
        "a client redirected this recently that comes back is held, not redirected again; higher stops more redirect loops, lower redirects stale clients sooner"),
    knob!("relay-loss", Loss, relay_loss,
        "from this estimated loss on, new entries go through pairs of followers; lower relays sooner (fewer retransmissions, one hop more), off never relays"),
    knob!("batch", Bytes, max_batch_bytes,
        "the entry bytes of one AppendEntries (up to 15KiB); higher sends fewer packets in a burst, lower keeps each retransmission small"),
    knob!("entry", Bytes, max_entry_bytes,
        "a put whose entry is larger is answered fail; at most batch"),
    knob!("queue", Count, max_queued_requests,
        "held or pending requests beyond this many are redirected; bounds memory under a flood"),
    knob!("queue-bytes", Bytes, max_queued_bytes,
        "the same bound in bytes"),
    knob!("mids", Count, mid_memory,
        "how many client MIDs are remembered to drop retried duplicates; higher catches later retries, costs memory"),
    knob!("mids-bytes", Bytes, mid_memory_bytes,
        "the same bound in bytes"),
    knob!("mid", Bytes, max_mid_bytes,
        "requests with a longer MID are dropped (every answer echoes it)"),
    knob!("compact", Count, compact_entries,
        "once this many applied entries are in the log, snapshot the store and drop the older half; lower bounds memory and disk tighter, snapshots more often"),
];

fn known_names() -> String {
    KNOBS.iter().map(|k| k.name).collect::<Vec<_>>().join(", ")
}

/// Applies `spec` (`name=value,...`; empty is nothing) to `cfg`. Values are
/// checked one by one; the set as a whole by [`Config::check`].
pub fn parse_tune(spec: &str, cfg: &mut Config) -> Result<(), TuneError> {
    let mut seen: Vec<&'static str> = Vec::new();
    for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let (name, value) = item
            .split_once('=')
            .ok_or_else(|| TuneError::Syntax(item.to_string()))?;
        let name = name.trim();
        let knob = KNOBS
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| TuneError::Unknown(name.to_string()))?;
        if seen.contains(&knob.name) {
            return Err(TuneError::Twice { knob: knob.name });
        }
        seen.push(knob.name);
        let v = parse_value(knob.kind, value.trim()).map_err(|why| TuneError::BadValue {
            knob: knob.name,
            why,
        })?;
        (knob.set)(cfg, v);
    }
    Ok(())
}

/// Every knob's value, in `--tune` syntax (which [`parse_tune`] reads back).
pub fn render_tune(cfg: &Config) -> String {
    KNOBS
        .iter()
        .map(|k| format!("{}={}", k.name, k.render(cfg)))
        .collect::<Vec<_>>()
        .join(",")
}

/// The knobs set away from their defaults, in `--tune` syntax ("" when
/// none is).
pub fn changed_tune(cfg: &Config) -> String {
    let defaults = Config::default();
    KNOBS
        .iter()
        .filter(|k| k.render(cfg) != k.render(&defaults))
        .map(|k| format!("{}={}", k.name, k.render(cfg)))
        .collect::<Vec<_>>()
        .join(",")
}

/// `--print-config`: each knob's effective value, its default when it
/// differs, and what it trades.
pub fn describe(cfg: &Config) -> String {
    let defaults = Config::default();
    let mut out =
        String::from("# 3700kvstore's effective configuration (set with --tune or KV_TUNE)\n");
    for k in KNOBS {
        let (now, default) = (k.render(cfg), k.render(&defaults));
        let note = if now == default {
            "(default)".to_string()
        } else {
            format!("(default {default})")
        };
        out += &format!(
            "{:<34} {note}\n    {}\n",
            format!("{}={now}", k.name),
            k.trades
        );
    }
    out += &format!("\n# as one string:\n{}\n", render_tune(cfg));
    out
}

const MAX_TIME: u128 = 600_000_000;
const MAX_BYTES: u128 = 1 << 30;
const MAX_COUNT: u128 = 1_000_000_000;

fn parse_value(kind: Kind, s: &str) -> Result<Value, String> {
    match kind {
        Kind::Time => parse_time(s).map(Value::Time),
        Kind::TimeRange => {
            let (a, b) = s
                .split_once('-')
                .ok_or_else(|| format!("{s:?} is not a range MIN-MAX (e.g. 1s-2s)"))?;
            Ok(Value::TimeRange(
                parse_time(a.trim())?,
                parse_time(b.trim())?,
            ))
        }
        Kind::Bytes => {
            let (n, unit) = number_and_unit(s)?;
            let scale = match unit {
                "B" => 1,
                "KiB" => 1024,
                "MiB" => 1 << 20,
                "" => return Err(format!("{s:?} needs a unit: B, KiB or MiB")),
                "KB" | "kB" | "K" | "k" | "kb" => {
                    return Err(format!("{unit:?} is ambiguous; use KiB (1024 bytes) or B"))
                }
                _ => return Err(format!("unknown unit {unit:?}; use B, KiB or MiB")),
            };
            let b = scaled(n, scale, MAX_BYTES, "B")?;
            Ok(Value::Bytes(b as usize))
        }
        Kind::Count => {
            let (n, unit) = number_and_unit(s)?;
            if !unit.is_empty() {
                return Err(format!("{s:?} is a count: a plain number, no unit"));
            }
            Ok(Value::Count(scaled(n, 1, MAX_COUNT, "")? as usize))
        }
        Kind::Percent => Ok(Value::Percent(parse_percent(s)? as u64)),
        Kind::Loss if s == "off" => Ok(Value::Loss(f64::INFINITY)),
        Kind::Loss => {
            let (n, unit) = split_unit(s);
            if unit != "%" {
                return Err(format!("{s:?} is not a percentage (e.g. 12%) or off"));
            }
            let x: f64 = n
                .parse()
                .ok()
                .filter(|x: &f64| x.is_finite() && (0.0..=100.0).contains(x))
                .ok_or_else(|| format!("{s:?} is not a percentage from 0% to 100%"))?;
            Ok(Value::Loss(x / 100.0))
        }
    }
}

fn parse_time(s: &str) -> Result<Micros, String> {
    let (n, unit) = number_and_unit(s)?;
    let scale = match unit {
        "us" | "µs" => 1,
        "ms" => 1_000,
        "s" => 1_000_000,
        "" => return Err(format!("{s:?} needs a unit: us, ms or s")),
        _ => return Err(format!("unknown unit {unit:?}; use us, ms or s")),
    };
    Ok(scaled(n, scale, MAX_TIME, "us")? as Micros)
}

/// A whole percentage.
fn parse_percent(s: &str) -> Result<u128, String> {
    let (n, unit) = number_and_unit(s)?;
    if unit != "%" {
        return Err(format!("{s:?} needs a unit: % (e.g. 85%)"));
    }
    scaled(n, 1, 100, "%")
}

/// The number and the unit after it; the number may be empty.
fn split_unit(s: &str) -> (&str, &str) {
    let at = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    (&s[..at], s[at..].trim())
}

fn number_and_unit(s: &str) -> Result<(&str, &str), String> {
    match split_unit(s) {
        ("", _) => Err(format!("{s:?} does not start with a number")),
        split => Ok(split),
    }
}

/// A decimal `n` times `scale`, which must be a whole number of the base
/// unit and at most `max` of it.
fn scaled(n: &str, scale: u128, max: u128, base: &str) -> Result<u128, String> {
    let (int, frac) = n.split_once('.').unwrap_or((n, ""));
    let digits_ok = |d: &str| d.len() <= 12 && d.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_ok(int) || !digits_ok(frac) {
        return Err(format!("{n:?} is not a number"));
    }
    let int: u128 = if int.is_empty() {
        0
    } else {
        int.parse().expect("digits")
    };
    let frac_value: u128 = if frac.is_empty() {
        0
    } else {
        frac.parse().expect("digits")
    };
    let denom = 10u128.pow(frac.len() as u32);
    let total = int * scale * denom + frac_value * scale;
    if !total.is_multiple_of(denom) {
        return Err(format!("{n} is not a whole number of {}", base_name(base)));
    }
    let v = total / denom;
    if v > max {
        return Err(format!("{n} is more than the limit of {max}{base}"));
    }
    Ok(v)
}

fn base_name(base: &str) -> &str {
    match base {
        "us" => "microseconds",
        "B" => "bytes",
        "%" => "percent",
        _ => "units",
    }
}

fn render_value(v: Value) -> String {
    match v {
        Value::Time(t) => render_micros(t),
        Value::TimeRange(a, b) => format!("{}-{}", render_micros(a), render_micros(b)),
        Value::Bytes(b) => render_bytes(b),
        Value::Count(n) => n.to_string(),
        Value::Percent(p) => format!("{p}%"),
        Value::Loss(x) if x.is_infinite() => "off".into(),
        Value::Loss(x) => {
            let p = format!("{:.4}", x * 100.0);
            format!("{}%", p.trim_end_matches('0').trim_end_matches('.'))
        }
    }
}

/// A time in the largest unit that divides it.
pub(super) fn render_micros(t: Micros) -> String {
    match t {
        0 => "0s".into(),
        t if t.is_multiple_of(1_000_000) => format!("{}s", t / 1_000_000),
        t if t.is_multiple_of(1_000) => format!("{}ms", t / 1_000),
        t => format!("{t}us"),
    }
}

fn render_bytes(b: usize) -> String {
    match b {
        0 => "0B".into(),
        b if b.is_multiple_of(1 << 20) => format!("{}MiB", b >> 20),
        b if b.is_multiple_of(1024) => format!("{}KiB", b >> 10),
        b => format!("{b}B"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tuned(spec: &str) -> Result<Config, TuneError> {
        let mut c = Config::default();
        parse_tune(spec, &mut c)?;
        c.check()?;
        Ok(c)
    }

    fn err(spec: &str) -> String {
        tuned(spec).expect_err(spec).to_string()
    }

    #[test]
    fn the_issue_example_sets_what_it_names_and_nothing_else() {
        let c = tuned("heartbeat=200ms,election=800ms-1600ms").unwrap();
        assert_eq!(c.heartbeat_interval, 200_000);
        assert_eq!(
            (c.election_timeout_min, c.election_timeout_max),
            (800_000, 1_600_000)
        );
        let d = Config::default();
        assert_eq!(c.hold_timeout, d.hold_timeout);
        assert_eq!(c.max_batch_bytes, d.max_batch_bytes);
    }

    #[test]
    fn every_unit_reads_as_documented() {
        let c = tuned(
            " hold = 1.5s , bounce=2500us, retransmit=1ms-30ms, lease=80%, relay-loss=12.5%, \
             batch=8KiB, entry=2048B, queue=50, queue-bytes=1MiB, mid=300B, probe=0.25s",
        )
        .unwrap();
        assert_eq!(c.hold_timeout, 1_500_000);
        assert_eq!(c.bounce_window, 2_500);
        assert_eq!((c.retransmit_min, c.retransmit_interval), (1_000, 30_000));
        assert_eq!(c.lease_percent, 80);
        assert!((c.relay_loss - 0.125).abs() < 1e-12);
        assert_eq!(c.max_batch_bytes, 8192);
        assert_eq!(c.max_entry_bytes, 2048);
        assert_eq!(c.max_queued_requests, 50);
        assert_eq!(c.max_queued_bytes, 1 << 20);
        assert_eq!(c.max_mid_bytes, 300);
        assert_eq!(c.probe_interval, 250_000);
        assert!(tuned("relay-loss=off").unwrap().relay_loss.is_infinite());
        assert_eq!(tuned("").unwrap().heartbeat_interval, 300_000);
        assert_eq!(tuned(",,").unwrap().heartbeat_interval, 300_000);
    }

    #[test]
    fn every_error_names_its_knob_and_what_is_wrong() {
        for (spec, want) in [
            ("heartbeat", "is not name=value"),
            ("=3ms", "unknown knob \"\""),
            (
                "heartbeet=3ms",
                "unknown knob \"heartbeet\"; known: election, heartbeat",
            ),
            (
                "heartbeat=200",
                "heartbeat: \"200\" needs a unit: us, ms or s",
            ),
            ("heartbeat=200mss", "heartbeat: unknown unit \"mss\""),
            (
                "heartbeat=ms",
                "heartbeat: \"ms\" does not start with a number",
            ),
            (
                "heartbeat=-5ms",
                "heartbeat: \"-5ms\" does not start with a number",
            ),
            ("heartbeat=.ms", "heartbeat: \".\" is not a number"),
            ("heartbeat=1.2.3ms", "heartbeat: \"1.2.3\" is not a number"),
            (
                "heartbeat=0.5us",
                "heartbeat: 0.5 is not a whole number of microseconds",
            ),
            (
                "heartbeat=601s",
                "heartbeat: 601 is more than the limit of 600000000us",
            ),
            (
                "heartbeat=99999999999999999999s",
                "heartbeat: \"99999999999999999999\" is not a number",
            ),
            ("heartbeat=1ms,heartbeat=2ms", "heartbeat is set twice"),
            ("election=1s", "election: \"1s\" is not a range MIN-MAX"),
            (
                "election=2s-1s",
                "election: needs MIN-MAX with 0 < MIN < MAX",
            ),
            (
                "election=1s-1s",
                "election: needs MIN-MAX with 0 < MIN < MAX",
            ),
            ("election=0s-1s", "election: needs MIN-MAX"),
            (
                "heartbeat=1s",
                "heartbeat: must be above 0 and below the election timeout's minimum (1s)",
            ),
            (
                "heartbeat=2s,election=1s-3s",
                "heartbeat: must be above 0 and below",
            ),
            ("heartbeat=0ms", "heartbeat: must be above 0"),
            (
                "heartbeat=500ms,election=400ms-800ms",
                "heartbeat: must be above 0 and below the election timeout's minimum (400ms)",
            ),
            (
                "lazy-heartbeat=100ms",
                "lazy-heartbeat: must be at least heartbeat",
            ),
            (
                "quiet-lazy-heartbeat=500ms",
                "quiet-lazy-heartbeat: must be at least lazy-heartbeat",
            ),
            ("probe=0s", "probe: must be above 0"),
            (
                "retransmit=30ms-20ms",
                "retransmit: needs MIN-MAX with 0 < MIN <= MAX",
            ),
            ("retransmit=0us-20ms", "retransmit: needs MIN-MAX"),
            ("lease=100%", "lease: must be below 100%"),
            ("lease=101%", "lease: 101 is more than the limit of 100%"),
            ("lease=85", "lease: \"85\" needs a unit: %"),
            (
                "lease=85.5%",
                "lease: 85.5 is not a whole number of percent",
            ),
            (
                "relay-loss=12",
                "relay-loss: \"12\" is not a percentage (e.g. 12%) or off",
            ),
            (
                "relay-loss=120%",
                "relay-loss: \"120%\" is not a percentage from 0% to 100%",
            ),
            (
                "relay-loss=never",
                "relay-loss: \"never\" is not a percentage",
            ),
            ("batch=16KiB", "batch: must be between 1KiB and 15KiB"),
            ("batch=512B", "batch: must be between 1KiB and 15KiB"),
            ("batch=8KB", "batch: \"KB\" is ambiguous; use KiB"),
            ("batch=8", "batch: \"8\" needs a unit: B, KiB or MiB"),
            ("batch=8GiB", "batch: unknown unit \"GiB\""),
            ("batch=2KiB", "entry: must be between 64B and batch"),
            ("entry=32B", "entry: must be between 64B and batch"),
            ("queue=0", "queue: must be above 0"),
            (
                "queue=5ms",
                "queue: \"5ms\" is a count: a plain number, no unit",
            ),
            ("mids-bytes=0B", "mids-bytes: must be above 0"),
            ("mid=2KiB", "mid: must be between 1B and 1KiB"),
        ] {
            let got = err(spec);
            assert!(got.contains(want), "{spec:?}: {got:?} lacks {want:?}");
        }
    }

    #[test]
    fn the_rendered_string_reads_back_to_the_same_config() {
        for spec in [
            "",
            "election=750ms-1250ms,heartbeat=125ms,lease=90%,relay-loss=off",
            "retransmit=1500us-40ms,batch=10000B,entry=3000B,relay-loss=3.25%",
        ] {
            let c = tuned(spec).unwrap();
            let text = render_tune(&c);
            let back = tuned(&text).unwrap();
            assert_eq!(render_tune(&back), text);
            assert_eq!(format!("{back:?}"), format!("{c:?}"));
        }
        assert!(render_tune(&Config::default()).starts_with("election=1s-2s,heartbeat=300ms,"));
        assert_eq!(changed_tune(&Config::default()), "");
        let c = tuned("hold=2s,heartbeat=300ms,election=1s-3s").unwrap();
        assert_eq!(changed_tune(&c), "election=1s-3s,hold=2s");
    }

    #[test]
    fn the_description_has_every_knob_its_default_and_a_trade() {
        let text = describe(&tuned("heartbeat=200ms").unwrap());
        for k in KNOBS {
            assert!(text.contains(&format!("\n{}=", k.name)), "{}", k.name);
            assert!(text.contains(k.trades));
        }
        assert!(text.contains("heartbeat=200ms"));
        assert!(text.contains("(default 300ms)"));
        assert!(text.contains("election=1s-2s"));
    }
}
