"""The outcome of a run: its statistics, checks, tiers and verdict."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .clients import RequestRecord
from .config import Config
from .counters import Counters
from .numeric import median, percentile

TIER_BONUS = "Bonus"
TIER_PASSED = "Passed"
TIER_PARTIAL = "Partial"
TIER_FAILED = "Failed"

@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    message: str



@dataclass(frozen=True)
class Tier:
    metric: str
    value: float
    thresholds: Tuple[float, float, float]
    tier: str



@dataclass
class RunResult:
    config: Config
    seed: int
    transport: str
    replica: str
    counters: Counters
    leaders: List[str]
    latencies: List[float]
    records: List[RequestRecord]
    hop_ns: List[int]
    duration: float
    packet_storm: bool = False
    checks: List[Check] = field(default_factory=list)
    tiers: List[Tier] = field(default_factory=list)
    linearizability: Dict[str, Any] = field(default_factory=dict)
    replica_pids: List[int] = field(default_factory=list)
    events: Dict[str, Any] = field(default_factory=dict)     # EventSink.summary(), if any
    course_checks: bool = False     # graded with --course-checks: linearizability not a check
    pace: str = "native"            # --pace, as Pace.label names it
    tune: str = ""                  # --tune: the replicas' $KV_TUNE ("" = their defaults)
    durable: bool = False           # the replicas had data dirs (restarts, --durable)
    data_dir: Optional[str] = None  # where they are, when kept (--keep-data)
    restart_errors: List[str] = field(default_factory=list)   # restarts that could not start

    @property
    def correct(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def passed(self) -> bool:
        """PASS: every correctness check holds and no metric is in the Failed tier."""
        return self.correct and not self.packet_storm and all(t.tier != TIER_FAILED for t in self.tiers)

    @property
    def mean_latency(self) -> float:
        return sum(self.latencies) / len(self.latencies) if self.latencies else 0.0

    @property
    def median_latency(self) -> float:
        return median(self.latencies)

    def metric_values(self) -> Dict[str, float]:
        c = self.counters
        return {"total_msgs": c.total_msgs, "failures": c.failures,
                "duplicates": c.duplicates, "median_latency": self.median_latency}

    def overhead(self) -> Dict[str, Any]:
        s = sorted(self.hop_ns)
        us = [v / 1000.0 for v in s]
        return {
            "packets": len(us),
            "median_us": median(us),
            "p99_us": percentile(us, 99),
            "mean_us": (sum(us) / len(us)) if us else 0.0,
            "max_us": us[-1] if us else 0.0,
        }
