"""score.json: every metric with its expectation and pass/fail, per-site scores, loss rows,
detections, faults, counts and phase times — the machine-readable result for CI."""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from typing import Any

from xrdsim.score.causes import cause_counts


def _num(x: Any) -> Any:
    """JSON has no NaN: undefined values become null."""
    return None if isinstance(x, float) and (math.isnan(x) or math.isinf(x)) else x


def clean_json(obj: Any) -> Any:
    """JSON-ready: NaN and infinities become null, tuples lists, keys strings."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    return _num(obj)


#: At most this many missed/extra/wrong transfers are listed in score.json (counts are whole).
MAX_MISSES = 1000


def score_document(result: Any) -> dict[str, Any]:
    """The score.json content of ``result`` (a ``harness.RunResult``)."""
    sc, card = result.scenario, result.card
    verdicts = {v.name: v for v in result.verdicts}
    metrics = []
    for m in card.metrics:
        v = verdicts.get(m.name)
        metrics.append({"name": m.name, "value": m.value, "unit": m.unit, "description": m.description,
                        "expectation": v.expectation if v else None, "passed": v.passed if v else None,
                        "reason": v.reason if v else None})  # fmt: skip
    return clean_json({
        "scenario": sc.name, "source": sc.source, "seed": sc.seed, "duration_s": sc.sim.duration_s,
        "collector": result.collector or sc.collector.mode.value, "passed": result.passed,
        "failures": [{"name": v.name, "value": v.value, "expectation": v.expectation, "reason": v.reason} for v in result.failures],
        "metrics": metrics,
        "sites": [asdict(s) for s in card.sites],
        "loss": [asdict(r) for r in card.loss],
        "detections": [asdict(d) for d in card.detections],
        "faults": [asdict(f) for f in card.faults],
        "anomaly_kinds": [asdict(k) for k in card.kinds],
        "causes": [{"outcome": o, "cause": c, "count": n} for (o, c), n in sorted(cause_counts(card.misses).items())],
        "misses": [asdict(x) for x in card.misses[:MAX_MISSES]],
        "counts": card.counts, "run": result.sim_stats, "phases_s": result.phases,
    })  # fmt: skip


def render_score_json(result: Any) -> str:
    """score.json as text (sorted metric order kept, two-space indent)."""
    return json.dumps(score_document(result), indent=2, allow_nan=False) + "\n"


__all__ = ["render_score_json", "score_document"]
