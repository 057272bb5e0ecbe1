"""The report of a run: its text (docs/simulator.md, "The report"), the
one-line summary of ``all`` mode, and the JSON record of ``--json``."""

from __future__ import annotations

import json
import os
from typing import Any, Dict, List, Tuple

from .config import UDP
from .numeric import fmt_num, median, percentile
from .result import TIER_BONUS, TIER_PARTIAL, TIER_PASSED, RunResult, Tier

METRIC_LABELS = {
    "total_msgs": "Total Messages Between Replicas",
    "failures": "Total Failures and Unanswered Requests",
    "duplicates": "Duplicate Responses to Clients",
    "median_latency": "Median Response Latency to Clients",
}

ANSI = {"bold": "1", "green": "32", "yellow": "33", "red": "31", "cyan": "36"}


def paint(text: str, style: str, color: bool) -> str:
    if not color:
        return text
    return f"\033[{ANSI[style]}m{text}\033[0m"


def fmt_metric_value(metric: str, value: float) -> str:
    if metric == "median_latency":
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text or "0"
    return fmt_num(value)


def verdict_text(tier: str, transport: str) -> Tuple[str, str]:
    if tier == TIER_BONUS:
        return "Bonus!", "green"
    if tier == TIER_PASSED:
        return ("Full credit" if transport == UDP else "Passed"), "green"
    if tier == TIER_PARTIAL:
        return "Partial credit, needs improvement", "yellow"
    return ("No credit" if transport == UDP else "Failed"), "red"


def format_tier_line(t: Tier, transport: str, color: bool = False) -> str:
    label = METRIC_LABELS[t.metric]
    value = fmt_metric_value(t.metric, t.value)
    verdict, style = verdict_text(t.tier, transport)
    if t.tier == TIER_BONUS:
        bound = f"< {fmt_num(t.thresholds[0])}"
    elif t.tier == TIER_PASSED:
        bound = f"< {fmt_num(t.thresholds[1])}"
    elif t.tier == TIER_PARTIAL:
        bound = f"< {fmt_num(t.thresholds[2])}"
    else:
        bound = f">= {fmt_num(t.thresholds[2])}"
    return f"        {label}: {value} {bound}, {paint(verdict, style, color)}"


def _fmt_time(t: Any) -> str:
    return "never" if t is None else f"{t:.6f}"


def format_witness_op(o: Dict[str, Any]) -> str:
    """One operation of a witness: who, which request, what, and when."""
    what = f"{o['op']} value={o['value']}"
    if o.get("duplicate_answer"):
        what += " (a second ok to the same get)"
    answered = _fmt_time(o["response"]) if o["definite"] else "not ok (may or may not have happened)"
    return (f"client {o['client']} MID {o['mid']} {what}; invoked {_fmt_time(o['invoke'])}, "
            f"answered {answered}")


def format_linearizability(lin: Dict[str, Any], course_checks: bool = False) -> List[str]:
    """The lines of the linearizability section: one verdict line per
    outcome that occurred, the time spent and the budget, and a witness."""
    if not lin:
        return ["        Not checked"]
    pad = "        "
    lines: List[str] = []
    status = lin["status"]
    decided_ok = lin["decided_keys"] - len(lin["violating_keys"])
    if status == "linearizable":
        lines.append(f"{pad}linearizability: linearizable: all {lin['keys']} keys, "
                     f"{lin['operations']} operations")
    else:
        lines.append(f"{pad}linearizability: linearizable for {decided_ok} of {lin['keys']} keys")
    if lin["violating_keys"]:
        lines.append(f"{pad}linearizability: NOT linearizable for {len(lin['violating_keys'])} keys: "
                     + " ".join(lin["violating_keys"][:5])
                     + (" ..." if len(lin["violating_keys"]) > 5 else ""))
    if lin["undecided"]:
        lines.append(f"{pad}linearizability: undecided for {lin['undecided']} keys within the budget "
                     f"(not verified: this is not a pass)")
    slow = lin.get("slowest_key")
    slow_text = f", slowest key {slow['elapsed_s']:.3f}s" if slow else ""
    lines.append(f"{pad}Time: {lin['elapsed_s']:.3f}s of a {lin['budget_s']:.3f}s budget{slow_text}")
    ce = lin.get("counterexample")
    if ce:
        lines.append(f"{pad}Witness for key {ce['key']}: these {len(ce['witness'])} of its "
                     f"{ce['key_operations']} operations cannot be ordered:")
        lines += [f"{pad}  {format_witness_op(o)}" for o in ce["witness"]]
    if course_checks:
        lines.append(f"{pad}(--course-checks: this verdict does not count in the correctness checks)")
    return lines


def format_reasons(reasons: Dict[str, int]) -> str:
    """``{"not utf-8": 2, "unknown dst": 1}`` as "2 not utf-8, 1 unknown dst", most first."""
    return ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0])))


def format_restarts(result: RunResult) -> List[str]:
    """The restarts line, beside the died/killed one: only in runs that can
    restart a replica (restart events, --durable), so that every other
    report reads exactly as the course's."""
    c = result.counters
    if not (result.durable or result.config.has_restarts or c.restarted or c.restart_skipped):
        return []
    line = f"Replicas restarted: {c.restarted}"
    if c.restart_skipped:
        line += f" (skipped: {format_reasons(c.restart_skip_reasons)})"
    lines = [line]
    lines += [f"Restart failed: {e}" for e in result.restart_errors[:5]]
    return lines


def format_report(result: RunResult, color: bool = False) -> str:
    """The report text of the contract, plus the seed and the extra sections."""
    c = result.counters
    h = lambda text: paint(text, "bold", color)  # noqa: E731
    lines: List[str] = []
    if result.packet_storm:
        lines.append(paint(
            f"Error: packet storm: {c.total_msgs} messages reached max_packets "
            f"({result.config.max_packets}), the simulation was stopped early", "red", color))
    lines += [
        h("# Simulation Finished"),
        "",
        h("## Useful Information and Statistics"),
        "Leaders: " + " ".join(result.leaders),
        f"Replicas that died/were killed: {c.died}/{c.killed}",
        *format_restarts(result),
        f"Total messages sent: {c.total_msgs}",
        f"Total messages dropped: {c.total_drops}",
    ]
    if result.transport == UDP:
        lines.append(f"Total messages blocked by full sockets: {c.blocked}")
    lines += [
        f"Total client get()/put() requests: {c.generated_get}/{c.generated_put}",
        f"Total duplicate responses: {c.duplicates}",
        f"Total unanswered get()/put() requests: {c.unanswered_get}/{c.unanswered_put}",
        f"Total redirects: {c.redirects}",
        f"Total get()/put() failures: {c.failed_get}/{c.failed_put}",
        f"Total get() with incorrect response: {c.incorrect}",
    ]
    if c.invalid_packets:
        lines.append(f"Invalid packets from replicas: {sum(c.invalid_packets.values())} "
                     f"({format_reasons(c.invalid_packets)})")
    lines += [
        f"Mean/Median query latency: {result.mean_latency:.6f}sec/{result.median_latency:.6f}sec",
        f"Seed: {result.seed}",
        "",
        h("## Correctness Checks"),
    ]
    failing = [chk for chk in result.checks if not chk.passed]
    if not failing:
        lines.append("        " + paint("All correctness tests passed", "green", color))
        lines += [
            "",
            h("## Performance Tests"),
            h("## <test metric>: <your score> <benchmark score>, <test result>"),
        ]
        lines += [format_tier_line(t, result.transport, color) for t in result.tiers]
    else:
        lines += ["        " + paint(chk.message, "red", color) for chk in failing]
        lines += ["", h("## Correctness Checks Failed, Skipping Performance Tests")]
    ov = result.overhead()
    lines += [
        "",
        h("## Linearizability Check (per key, Wing-Gong search)"),
        *format_linearizability(result.linearizability, result.course_checks),
        "",
        h("## Simulator"),
        f"        Per-hop overhead: median {ov['median_us']:.1f}us, p99 {ov['p99_us']:.1f}us "
        f"over {ov['packets']} packets",
        f"        Pace: {result.pace}",
    ]
    if result.tune:
        lines.append(f"        Replica knobs (--tune): {result.tune}")
    if result.durable:
        where = (f"kept in {result.data_dir}" if result.data_dir
                 else "removed at the end (--keep-data keeps them)")
        lines.append(f"        Replica data dirs ($KV_DATA_DIR): {where}")
    ev = result.events
    if ev:
        parts = [f"{ev['emitted']} emitted"]
        if ev.get("record"):
            parts.append(f"{ev['received']} from the replicas ({ev['malformed']} malformed lines skipped), "
                         f"recorded to {ev['record']}")
        if ev.get("socket"):
            owner = " (the socket is another user's: not used)" if ev.get("socket_not_owned") else ""
            parts.append(f"{ev['sent']} sent to {ev['socket']}, {ev['dropped']} dropped{owner}")
        lines.append("        State events: " + "; ".join(parts))
    return "\n".join(lines) + "\n"


def format_summary_line(result: RunResult, color: bool = False) -> str:
    """One line for ``all`` mode."""
    verdict = paint("PASS", "green", color) if result.passed else paint("FAIL", "red", color)
    head = f"{result.config.name:<13} {verdict}  "
    if not result.correct:
        first = next(chk for chk in result.checks if not chk.passed)
        return f"{head}correctness: {first.message[len('Error: '):]}  seed={result.seed}"
    short = {"total_msgs": "msgs", "failures": "failures", "duplicates": "dup", "median_latency": "median"}
    parts = []
    for t in result.tiers:
        verdict_word, _ = verdict_text(t.tier, result.transport)
        verdict_word = verdict_word.split(",")[0].rstrip("!")
        parts.append(f"{short[t.metric]}={fmt_metric_value(t.metric, t.value)} ({verdict_word})")
    storm = "  PACKET STORM" if result.packet_storm else ""
    return f"{head}{' '.join(parts)}{storm}  seed={result.seed}"


def result_counters(result: RunResult) -> Dict[str, int]:
    """The ``counters`` of the JSON results (also ``run_end``'s stats)."""
    c = result.counters
    counters = {k: getattr(c, k) for k in c.__dataclass_fields__
                if k not in ("invalid_packets", "restart_skip_reasons")}
    counters["failures"] = c.failures
    counters["events_dropped"] = int(result.events.get("dropped", 0))
    return counters


def result_to_json(result: RunResult) -> Dict[str, Any]:
    ok_get = [r.latency for r in result.records if r.type == "get" and r.answer_type == "ok"]
    ok_put = [r.latency for r in result.records if r.type == "put" and r.answer_type == "ok"]
    counters = result_counters(result)
    return {
        "config": {"name": result.config.name, "path": result.config.path,
                   "settings": result.config.settings()},
        "seed": result.seed,
        "transport": result.transport,
        "replica": result.replica,
        "duration_s": result.duration,
        "packet_storm": result.packet_storm,
        "counters": counters,
        "invalid_packets": dict(sorted(result.counters.invalid_packets.items())),
        "restart_skip_reasons": dict(sorted(result.counters.restart_skip_reasons.items())),
        "restart_errors": list(result.restart_errors),
        "durable": result.durable,
        "data_dir": result.data_dir,
        "leaders": result.leaders,
        "latency": {
            "count": len(result.latencies),
            "mean": result.mean_latency,
            "median": result.median_latency,
            "p99": percentile(sorted(result.latencies), 99) if result.latencies else None,
            "median_ok_get": median([x for x in ok_get if x is not None]),
            "median_ok_put": median([x for x in ok_put if x is not None]),
            "ok_get_count": len(ok_get),
            "ok_put_count": len(ok_put),
        },
        "correctness": {
            "passed": result.correct,
            "checks": [{"name": k.name, "passed": k.passed, "message": None if k.passed else k.message}
                       for k in result.checks],
        },
        "performance": {
            t.metric: {"label": METRIC_LABELS[t.metric], "value": t.value,
                       "thresholds": list(t.thresholds), "tier": t.tier,
                       "printed": result.correct}
            for t in result.tiers
        },
        "verdict": "PASS" if result.passed else "FAIL",
        "course_checks": result.course_checks,
        "linearizability": result.linearizability,
        "overhead": result.overhead(),
        "pace": result.pace,
        "tune": result.tune,
        "events": result.events or None,
        "requests": [r.to_json() for r in result.records],
    }



def write_json(path: str, payload: Any) -> None:
    """Write ``payload`` to ``path`` as ``--json`` does (via a temporary file)."""
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=1, allow_nan=False, default=str)
        fh.write("\n")
    os.replace(tmp, path)
