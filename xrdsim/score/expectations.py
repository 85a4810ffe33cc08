"""Expectations on metric values, parsed from scenario strings: ``">= 0.999"``, ``"< 0.5%"``,
``"== 0"``, ``"0.98..1.02"``; ``check(value)`` returns None or a sentence saying why not.

Parsing and comparing only; which metric an expectation guards is the scenario's business.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from xrdsim.units import parse_loose

#: operator text → (comparison, words for a failure sentence).
OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    ">=": (operator.ge, "at least"),
    "<=": (operator.le, "at most"),
    ">": (operator.gt, "above"),
    "<": (operator.lt, "below"),
    "==": (operator.eq, "exactly"),
    "!=": (operator.ne, "not"),
}
_COMPARE = re.compile(r"\s*(>=|<=|==|!=|>|<)\s*(\S.*?)\s*$")
_RANGE = re.compile(r"\s*(\S+?)\s*(?:\.\.|…)\s*(\S+)\s*$")
_TOLERANCE = 1e-12


@dataclass(frozen=True, slots=True)
class Expectation:
    """``low <= value <= high`` or ``value OP bound``; ``text`` is what the scenario said."""

    text: str
    op: str
    bound: float
    high: float | None = None

    def check(self, value: float | None) -> str | None:
        """None when ``value`` meets the expectation, else a one-sentence reason."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return f"no value (the metric is undefined for this run), expected {self.describe()}"
        if self.high is not None:
            ok = self.bound - _TOLERANCE <= value <= self.high + _TOLERANCE
        else:
            compare = OPERATORS[self.op][0]
            ok = compare(value, self.bound) or (self.op in ("==", ">=", "<=") and abs(value - self.bound) <= _TOLERANCE)
        return None if ok else f"{_fmt(value)} is not {self.describe()}"

    def describe(self) -> str:
        """The expectation in words: "at least 0.999", "between 0.98 and 1.02"."""
        if self.high is not None:
            return f"between {_fmt(self.bound)} and {_fmt(self.high)}"
        return f"{OPERATORS[self.op][1]} {_fmt(self.bound)}"


def _fmt(x: float) -> str:
    return f"{x:.6g}"


def parse_expectation(text: object) -> Expectation:
    """An ``Expectation`` from ``">= 0.999"``, ``"<0.5%"``, ``"== 0"`` or ``"0.98..1.02"``.

    Raises ``ValueError`` naming the accepted forms.

    >>> parse_expectation("<0.5%").check(0.004) is None
    True
    """
    raw = str(text)
    m = _COMPARE.fullmatch(raw)
    try:
        if m:
            return Expectation(raw.strip(), m.group(1), parse_loose(m.group(2)))
        r = _RANGE.fullmatch(raw)
        if r:
            low, high = parse_loose(r.group(1)), parse_loose(r.group(2))
            if low > high:
                raise ValueError(f"range {raw!r} has its low end above its high end")
            return Expectation(raw.strip(), "..", low, high)
    except ValueError as exc:
        if "range" in str(exc):
            raise
    raise ValueError(f"expected a comparison like '>= 0.999', '< 0.5%', '== 0' or a range '0.98..1.02', got {raw!r}")


__all__ = ["OPERATORS", "Expectation", "parse_expectation"]
