"""Number helpers shared by validation, grading and the report."""

from __future__ import annotations

import math
from typing import Any, Sequence


def is_number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def median(values: Sequence[float]) -> float:
    """The contract's median: the element at len // 2 of the sorted list."""
    if not values:
        return 0.0
    s = sorted(values)
    return s[len(s) // 2]


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return 0.0
    idx = min(len(sorted_values) - 1, max(0, math.ceil(p / 100.0 * len(sorted_values)) - 1))
    return sorted_values[idx]


def fmt_num(value: Any) -> str:
    """Print a number the way a config writes it: 1000, 0.0002, 2.5."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        if "e" in text or "E" in text:
            text = f"{value:.10f}".rstrip("0").rstrip(".")
        return text
    return str(value)
