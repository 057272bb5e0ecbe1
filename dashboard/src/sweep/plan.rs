//! What a sweep runs: the knob values to vary, their combinations, and the
//! `--tune` string each combination gives the replicas.

use serde::Serialize;

/// One `--vary KNOB=V1,V2,...`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Vary {
    pub knob: String,
    pub values: Vec<String>,
}

/// Reads `KNOB=V1,V2,...`. The values are the replica's own syntax; the
/// replica judges them (see [`super::check_settings`]).
pub fn parse_vary(s: &str) -> Result<Vary, String> {
    let (knob, values) = s.split_once('=').ok_or_else(|| {
        format!("--vary {s:?}: expected KNOB=VALUE,VALUE,... (e.g. heartbeat=100ms,200ms)")
    })?;
    let knob = knob.trim();
    if knob.is_empty() || !knob.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(format!("--vary {s:?}: {knob:?} is not a knob name"));
    }
    let values: Vec<String> = values
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect();
    if values.is_empty() {
        return Err(format!("--vary {s:?}: no values for {knob}"));
    }
    if let Some(v) = values.iter().find(|v| v.contains('=')) {
        return Err(format!(
            "--vary {s:?}: {v:?} is not a value; give each knob its own --vary"
        ));
    }
    let mut seen: Vec<&String> = Vec::new();
    for v in &values {
        if seen.contains(&v) {
            return Err(format!("--vary {s:?}: {v} is listed twice"));
        }
        seen.push(v);
    }
    Ok(Vary {
        knob: knob.to_string(),
        values,
    })
}

/// The knob names a `--tune` string sets.
fn tuned_knobs(tune: &str) -> Vec<&str> {
    tune.split(',')
        .filter_map(|item| item.split_once('=').map(|(k, _)| k.trim()))
        .filter(|k| !k.is_empty())
        .collect()
}

/// One combination of the varied values.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Setting {
    /// `(knob, value)` in `--vary` order.
    pub values: Vec<(String, String)>,
}

impl Setting {
    /// `heartbeat=100ms election=1s-2s`
    pub fn label(&self) -> String {
        self.values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The replicas' `--tune`: the fixed knobs, then this setting's.
    pub fn tune(&self, fixed: &str) -> String {
        let mut parts: Vec<String> = fixed
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        parts.extend(self.values.iter().map(|(k, v)| format!("{k}={v}")));
        parts.join(",")
    }

    /// A folder name: `03-heartbeat=100ms` (`/` and spaces replaced).
    pub fn folder(&self, index: usize) -> String {
        let label: String = self
            .values
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("_")
            .chars()
            .map(|c| {
                if c == '/' || c.is_whitespace() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        format!("{:02}-{label}", index + 1)
    }
}

/// Every combination, the first `--vary` changing slowest. Refuses a knob
/// varied twice, or both varied and fixed by `--tune`.
pub fn settings(varies: &[Vary], fixed: &str) -> Result<Vec<Setting>, String> {
    if varies.is_empty() {
        return Err("nothing to vary: give at least one --vary KNOB=VALUE,VALUE".into());
    }
    let fixed_knobs = tuned_knobs(fixed);
    for (i, v) in varies.iter().enumerate() {
        if varies[..i].iter().any(|w| w.knob == v.knob) {
            return Err(format!(
                "{} is varied twice; list its values in one --vary",
                v.knob
            ));
        }
        if fixed_knobs.contains(&v.knob.as_str()) {
            return Err(format!(
                "{} is both varied (--vary) and fixed (--tune)",
                v.knob
            ));
        }
    }
    let mut out = vec![Setting { values: Vec::new() }];
    for v in varies {
        out = out
            .into_iter()
            .flat_map(|s| {
                v.values.iter().map(move |val| {
                    let mut values = s.values.clone();
                    values.push((v.knob.clone(), val.clone()));
                    Setting { values }
                })
            })
            .collect();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varies_read_knob_and_values() {
        let v = parse_vary("heartbeat=100ms, 200ms,300ms").unwrap();
        assert_eq!(v.knob, "heartbeat");
        assert_eq!(v.values, ["100ms", "200ms", "300ms"]);
        let v = parse_vary("election=800ms-1600ms,1s-2s").unwrap();
        assert_eq!(v.values, ["800ms-1600ms", "1s-2s"]);
    }

    #[test]
    fn bad_varies_are_clear_errors() {
        for (s, want) in [
            ("heartbeat", "expected KNOB=VALUE,VALUE"),
            ("=1ms", "\"\" is not a knob name"),
            ("heart beat=1ms", "is not a knob name"),
            ("heartbeat=", "no values for heartbeat"),
            ("heartbeat=,,", "no values"),
            ("heartbeat=1ms,hold=2s", "\"hold=2s\" is not a value"),
            ("heartbeat=1ms,1ms", "1ms is listed twice"),
        ] {
            let e = parse_vary(s).unwrap_err();
            assert!(e.contains(want), "{s}: {e}");
        }
    }

    #[test]
    fn settings_are_every_combination_first_vary_slowest() {
        let a = parse_vary("heartbeat=100ms,200ms").unwrap();
        let b = parse_vary("hold=1s,2s,3s").unwrap();
        let s = settings(&[a, b], "lease=80%").unwrap();
        assert_eq!(s.len(), 6);
        assert_eq!(s[0].label(), "heartbeat=100ms hold=1s");
        assert_eq!(s[1].label(), "heartbeat=100ms hold=2s");
        assert_eq!(s[3].label(), "heartbeat=200ms hold=1s");
        assert_eq!(s[5].tune("lease=80%"), "lease=80%,heartbeat=200ms,hold=3s");
        assert_eq!(s[0].tune(""), "heartbeat=100ms,hold=1s");
        assert_eq!(s[5].folder(5), "06-heartbeat=200ms_hold=3s");
    }

    #[test]
    fn a_knob_varied_twice_or_also_fixed_is_refused() {
        let a = parse_vary("heartbeat=100ms").unwrap();
        assert!(settings(&[a.clone(), a.clone()], "")
            .unwrap_err()
            .contains("varied twice"));
        assert!(settings(&[a], "hold=1s, heartbeat=5ms")
            .unwrap_err()
            .contains("both varied (--vary) and fixed (--tune)"));
        assert!(settings(&[], "").unwrap_err().contains("nothing to vary"));
    }
}
