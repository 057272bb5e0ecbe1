//! Compact number and duration formatting for narrow columns.

/// A count in at most 5 characters: `999`, `1.2k`, `12k`, `1.2M`.
pub fn count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=99_999 => format!("{:.1}k", n as f64 / 1e3),
        100_000..=999_999 => format!("{}k", n / 1000),
        1_000_000..=99_999_999 => format!("{:.1}M", n as f64 / 1e6),
        _ => format!("{}M", n / 1_000_000),
    }
}

/// A rate per second in at most 5 characters.
pub fn rate(r: f64) -> String {
    if r < 10.0 && r > 0.0 && r.fract() != 0.0 {
        format!("{r:.1}")
    } else {
        count(r.round() as u64)
    }
}

/// A latency in microseconds, in at most 6 characters: `850µs`, `1.25ms`,
/// `12.5ms`, `125ms`, `1.25s`, `12.5s`.
pub fn micros(us: u64) -> String {
    match us {
        0..=999 => format!("{us}µs"),
        1_000..=9_999 => format!("{:.2}ms", us as f64 / 1e3),
        10_000..=99_999 => format!("{:.1}ms", us as f64 / 1e3),
        100_000..=999_999 => format!("{}ms", us / 1000),
        1_000_000..=9_999_999 => format!("{:.2}s", us as f64 / 1e6),
        _ => format!("{:.1}s", us as f64 / 1e6),
    }
}

/// Run time, to the tenth of a second: `12.3s`, `2m05.0s`.
pub fn run_time(us: u64) -> String {
    let tenths = us / 100_000;
    let (m, s, t) = (tenths / 600, (tenths / 10) % 60, tenths % 10);
    if m == 0 {
        format!("{s}.{t}s")
    } else {
        format!("{m}m{s:02}.{t}s")
    }
}

/// A whole-second offset for axis labels: `5s`, `1m30s`.
pub fn axis_time(us: u64) -> String {
    let s = us / 1_000_000;
    let frac = us % 1_000_000;
    let (m, s) = (s / 60, s % 60);
    let base = if m == 0 {
        format!("{s}")
    } else {
        format!("{m}m{s:02}")
    };
    if frac == 0 {
        format!("{base}s")
    } else {
        format!("{base}.{}s", frac / 100_000)
    }
}

/// A column's time scale: `100ms`, `1s`.
pub fn scale(us: u64) -> String {
    if us < 1_000_000 {
        format!("{}ms", us / 1000)
    } else {
        format!("{}s", us / 1_000_000)
    }
}

/// `s` cut to `width` characters, with `…` when cut.
pub fn fit(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_fit_their_columns() {
        assert_eq!(count(999), "999");
        assert_eq!(count(12_345), "12.3k");
        assert_eq!(count(123_456), "123k");
        assert_eq!(count(1_234_567), "1.2M");
        assert_eq!(micros(850), "850µs");
        assert_eq!(micros(1_250), "1.25ms");
        assert_eq!(micros(125_000), "125ms");
        assert_eq!(micros(12_500_000), "12.5s");
        assert_eq!(run_time(125_050_000), "2m05.0s");
        assert_eq!(axis_time(90_000_000), "1m30s");
        assert_eq!(axis_time(2_500_000), "2.5s");
        assert_eq!(fit("configs/advanced-1.json", 10), "configs/a…");
    }
}
