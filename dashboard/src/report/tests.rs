use super::*;

#[test]
fn an_empty_recording_gives_an_empty_report() {
    let r = from_reader(&b""[..]).unwrap();
    assert_eq!(r.lines, Lines::default());
    assert_eq!(r.median_us, None);
    assert_eq!(r.messages.total_msgs, 0);
    assert_eq!(r.messages.per_committed_put, None);
    assert_eq!(r.elections.count, 0);
    assert!(text::render(&r).contains("no run_end"));
}

#[test]
fn garbage_is_counted_never_fatal() {
    let mut input: Vec<u8> = b"{\"v\":1}\n\xff\xfe\x00garbage\n\n{\"v\":1,\"ts\":18446744073709551615,\"src\":\"sim\",\"kind\":\"kill\",\"replica\":\"zz\",\"leader\":true}\n".to_vec();
    input.extend_from_slice(b"{\"v\":1,\"ts\":0,\"src\":\"sim\",\"kind\":\"request_answered\",\"mid\":\"M\",\"client\":\"0013\",\"op\":\"put\",\"outcome\":\"ok\",\"latency_us\":18446744073709551615,\"replica\":\"0000\"}\n");
    input.extend_from_slice(b"{\"v\":1,\"ts\":5,\"src\":\"sim\",\"kind\":\"traffic\",\"window_us\":1,\"leader\":\"0000\",\"rows\":[{\"src\":\"0000\",\"dst\":\"0001\",\"type\":\"x\",\"fate\":\"delivered\",\"count\":18446744073709551615}]}\n");
    let r = from_reader(&input[..]).unwrap();
    assert_eq!(r.lines.lines, 5);
    assert_eq!(r.lines.malformed, 2);
    assert_eq!(r.lines.events, 3);
    let _ = text::render(&r);
    let _ = compare::text("a", "b", &compare::compare(&r, &r));
    let _ = serde_json::to_string(&r).unwrap();
    for svg in [
        plots::latency_histogram(&r),
        plots::latency_over_time(&r),
        plots::message_rate(&r),
        plots::leader_timeline(&r),
    ] {
        assert!(svg.unwrap().starts_with("<svg"));
    }
}

#[test]
fn plots_of_an_empty_recording_are_drawn() {
    let r = from_reader(&b""[..]).unwrap();
    assert!(plots::latency_histogram(&r).is_ok());
    assert!(plots::latency_over_time(&r).is_ok());
    assert!(plots::message_rate(&r).is_ok());
    assert!(plots::leader_timeline(&r).is_ok());
}

#[test]
fn a_recording_of_two_runs_reports_the_last() {
    let one = include_str!("../../tests/fixtures/hand-made.jsonl");
    let single = from_reader(one.as_bytes()).unwrap();
    let twice = format!("{one}{one}");
    let r = from_reader(twice.as_bytes()).unwrap();
    assert_eq!(r.runs, 2);
    assert_eq!(r.lines.lines, 2 * single.lines.lines);
    assert_eq!(r.messages, single.messages);
    assert_eq!(r.phases, single.phases);
    assert_eq!(r.elections, single.elections);
    assert_eq!(r.median_us, single.median_us);
}

#[test]
fn a_fault_far_outside_the_run_is_clipped_in_the_plots() {
    // A partition healed at an absurd time (found by fuzzing): plotters
    // maps it to pixels in i32 arithmetic, which overflowed: a panic with
    // overflow checks, the wrong span shaded without.
    let fixture = include_str!("../../tests/fixtures/hand-made.jsonl");
    let mut lines: Vec<String> = fixture.lines().map(String::from).collect();
    let healed = lines
        .iter()
        .position(|l| l.contains("\"partition_healed\""))
        .expect("the fixture heals its partition");
    lines[healed] = lines[healed].replace("1800000002000000", "18000000020000000000");
    let r = from_reader((lines.join("\n") + "\n").as_bytes()).unwrap();
    assert!(
        r.series.faults.iter().any(|f| f.1 > 1 << 60),
        "{:?}",
        r.series.faults
    );
    for svg in [
        plots::latency_over_time(&r).unwrap(),
        plots::message_rate(&r).unwrap(),
        plots::leader_timeline(&r).unwrap(),
    ] {
        // The partition, still going at the plot's end, is shaded up to
        // the right edge of the 900-pixel image (a wrapped coordinate
        // shaded the time before it instead).
        let attr = |l: &str, name: &str| -> i64 {
            let v = l.split(&format!(" {name}=\"")).nth(1).unwrap_or_default();
            v.split('"').next().unwrap_or_default().parse().unwrap_or(0)
        };
        let right = svg
            .lines()
            .filter(|l| l.contains("fill=\"#FFC8C8\"") && attr(l, "width") > 10)
            .map(|l| attr(l, "x") + attr(l, "width"))
            .max();
        assert!(right.is_some_and(|r| r > 850), "{right:?} in {svg}");
        // Every coordinate is near the image, none wrapped around.
        for attr in [" x=\"", " y=\"", " width=\"", " height=\"", " points=\""] {
            for rest in svg.split(attr).skip(1) {
                let value = rest.split('"').next().unwrap_or_default();
                for n in value.split([' ', ',']).filter(|n| !n.is_empty()) {
                    let v: f64 = n.parse().unwrap_or_else(|_| panic!("{attr}{value}"));
                    assert!((-10_000.0..=10_000.0).contains(&v), "{attr}{value}");
                }
            }
        }
    }
}

#[test]
fn overlapping_leaderless_windows_saturate_their_total() {
    // A fuzzed recording (kvdash_plots) whose out-of-order timestamps make
    // leaderless windows that add up past u64::MAX.
    let r =
        from_reader(&include_bytes!("../../tests/fixtures/fuzz-overlapping-leaderless.jsonl")[..])
            .unwrap();
    let total: u128 = r
        .elections
        .windows
        .iter()
        .map(|w| u128::from(w.duration_us))
        .sum();
    assert!(total > u128::from(u64::MAX), "{:?}", r.elections.windows);
    assert_eq!(r.elections.leaderless_us, u64::MAX);
}

#[test]
fn the_replicas_knobs_are_reported_as_they_started() {
    let start = |id: &str, tuned: &str| {
        format!(
            "{{\"v\":1,\"ts\":1,\"src\":\"{id}\",\"kind\":\"start\",\"id\":\"{id}\",\"peers\":[],\
             \"pid\":1,\"transport\":\"classic\",\"config\":{{\"heartbeat\":\"300ms\"}},\
             \"tuned\":\"{tuned}\"}}\n"
        )
    };
    let header = |lines: String| text::render(&from_reader(lines.as_bytes()).unwrap());
    let same = header(start("0000", "hold=2s") + &start("0001", "hold=2s"));
    assert!(same.contains("\nReplica knobs: hold=2s\n"), "{same}");
    let defaults = header(start("0000", "") + &start("0001", ""));
    assert!(
        defaults.contains("\nReplica knobs: defaults\n"),
        "{defaults}"
    );
    let mixed = header(start("0000", "hold=2s") + &start("0001", ""));
    assert!(
        mixed.contains("\nReplica knobs: 0000: hold=2s; 0001: defaults\n"),
        "{mixed}"
    );
    // A replica without knobs says nothing about them.
    let old = "{\"v\":1,\"ts\":1,\"src\":\"0000\",\"kind\":\"start\",\"id\":\"0000\",\"peers\":[],\
               \"pid\":1,\"transport\":\"classic\"}\n";
    let r = from_reader(old.as_bytes()).unwrap();
    assert!(r.knobs.is_empty());
    assert!(!text::render(&r).contains("Replica knobs"));
}
