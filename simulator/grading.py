"""Grading: the correctness checks, the performance tiers, and ``grade``.

See docs/simulator.md, "Grading".
"""

from __future__ import annotations

import dataclasses
from typing import Any, Dict, List, Optional, Sequence

from .config import METRICS, Config
from .counters import Counters
from .linearizability import NOT_LINEARIZABLE, UNDECIDED, check_linearizability, history_from_records
from .numeric import fmt_num
from .result import TIER_BONUS, TIER_FAILED, TIER_PARTIAL, TIER_PASSED, Check, RunResult, Tier
from .workload import least_generation_failures


def correctness_checks(config: Config, c: Counters) -> List[Check]:
    """The contract's correctness checks; each failing one carries its error."""
    f = config.fractions
    required_msgs = config.requests * config.replicas * (1 - config.mix) * (
        1 - f["maximum_appends_batched_fraction"])
    get_limit = c.generated_get * f["maximum_get_fail_fraction"]
    put_limit = c.generated_put * f["maximum_put_fail_fraction"]
    gen_limit = c.generated_get * f["maximum_get_generation_fail_fraction"]
    return [
        Check("incorrect", c.incorrect == 0,
              f"Error: {c.incorrect} incorrect or malformed messages and responses (must be 0)"),
        Check("died", c.died == 0,
              f"Error: {c.died} replicas died without being killed (must be 0)"),
        Check("keys_put", c.keys_put > 0,
              "Error: no key was successfully put"),
        Check("unanswered_get", c.unanswered_get <= get_limit,
              f"Error: too many unanswered get() requests: {c.unanswered_get} > {fmt_num(get_limit)}"),
        Check("unanswered_put", c.unanswered_put <= put_limit,
              f"Error: too many unanswered put() requests: {c.unanswered_put} > {fmt_num(put_limit)}"),
        Check("failed_to_generate_get", c.failed_to_generate_get <= gen_limit,
              f"Error: too many get() requests could not be generated: "
              f"{c.failed_to_generate_get} > {fmt_num(gen_limit)}"),
        Check("replication", c.total_msgs >= required_msgs,
              f"Error: too few messages between replicas: {c.total_msgs} < {fmt_num(required_msgs)}"
              f" (puts must be replicated)"),
    ]


def tier_for(value: float, thresholds: Sequence[float]) -> str:
    if value < thresholds[0]:
        return TIER_BONUS
    if value < thresholds[1]:
        return TIER_PASSED
    if value < thresholds[2]:
        return TIER_PARTIAL
    return TIER_FAILED


def performance_tiers(config: Config, values: Dict[str, float]) -> List[Tier]:
    return [Tier(m, values[m], config.benchmarks[m], tier_for(values[m], config.benchmarks[m]))
            for m in METRICS if m in config.benchmarks]


def note_inherent(check: Check, result: RunResult) -> Check:
    """A failed get-generation check that the seed's workload alone fails says so."""
    if check.name != "failed_to_generate_get" or check.passed:
        return check
    least, gets = least_generation_failures(result.config, result.seed)
    limit = gets * result.config.fractions["maximum_get_generation_fail_fraction"]
    if least <= limit:
        return check
    note = (f" (inherent to seed {result.seed}: with every put answered at once"
            f" it would still be {least} > {fmt_num(limit)})")
    return dataclasses.replace(check, message=check.message + note)


def linearizability_check(lin: Dict[str, Any]) -> Check:
    """The check run.py adds to the course's: every key decided linearizable.

    Undecided keys fail it too: a history the checker could not verify is
    not certified correct (the budget scales with the history, so a correct
    replica's history is decided far within it)."""
    status = lin.get("status")
    if status == NOT_LINEARIZABLE:
        ce = lin.get("counterexample", {})
        message = (f"Error: history not linearizable: {len(lin['violating_keys'])} of {lin['keys']} keys "
                   f"(witness for key {ce.get('key')} below)")
        return Check("linearizability", False, message)
    if status == UNDECIDED:
        return Check("linearizability", False,
                     f"Error: linearizability undecided for {lin['undecided']} keys within the budget "
                     f"of {lin['budget_s']:.1f}s (not verified, so not a pass)")
    return Check("linearizability", True, "")


def grade(result: RunResult, lin_time_limit: Optional[float] = None,
          course_checks: bool = False) -> RunResult:
    """Fill in the checks, the tiers and the linearizability verdict.

    ``lin_time_limit`` overrides the linearizability budget (default: it
    scales with the history); ``course_checks`` grades as the course
    simulator does: the linearizability verdict is reported, not a check.
    """
    result.checks = [note_inherent(check, result) for check in
                     correctness_checks(result.config, result.counters)]
    result.tiers = performance_tiers(result.config, result.metric_values())
    result.linearizability = check_linearizability(history_from_records(result.records), lin_time_limit)
    result.course_checks = course_checks
    if not course_checks:
        result.checks.append(linearizability_check(result.linearizability))
    return result
