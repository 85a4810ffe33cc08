"""The summary table ``xrdsim run`` prints: headline, every expectation with PASS/FAIL."""

from __future__ import annotations

import math
from typing import Any

from xrdsim.report.document import fmt


def render_terminal(result: Any) -> str:
    """A few lines for a terminal (plain text, no colour)."""
    sc, card = result.scenario, result.card
    speed = "" if math.isnan(result.speed) else f", {result.speed:,.0f}× real time (simulate + collect + score)"
    lines = [(f"{sc.name}: agreement {fmt(card.value('agreement'))}  (worst site {fmt(card.value('min_site_agreement'))}); "
              f"{card.counts['truth_transfers']:,} transfers, {card.counts['records']:,} records{speed}")]  # fmt: skip
    if result.verdicts:
        width = max(len(v.name) for v in result.verdicts)
        for v in result.verdicts:
            mark = "PASS" if v.passed else "FAIL"
            tail = "" if v.passed else f"  — {v.reason}"
            lines.append(f"  {mark}  {v.name:<{width}}  {fmt(v.value, v.unit):>14}  expected {v.expectation}{tail}")
    verdict = "all expectations met" if result.passed else f"{len(result.failures)} of {len(result.verdicts)} expectations FAILED"
    lines.append(f"{sc.name}: {verdict}" + (f"; report in {result.out_dir}" if result.out_dir else ""))
    return "\n".join(lines)


__all__ = ["render_terminal"]
