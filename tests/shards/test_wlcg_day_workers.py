"""The shipped day of 100 sites scores the same on two Dask workers as in one process: the
score.json documents agree in every value but their wall times (heavy: CI's heavy step)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xrdsim.harness import run_scenario
from xrdsim.report import score_document
from xrdsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]


def document(result) -> dict:
    doc = json.loads(json.dumps(score_document(result)))
    doc.pop("phases_s")
    return doc


@pytest.mark.heavy
def test_wlcg_day_on_two_workers_scores_as_one_process():
    pytest.importorskip("dask.distributed")
    from xrdsim.cluster import sharded

    scenario = load_scenario(ROOT / "scenarios" / "wlcg-day.yaml")
    one = run_scenario(scenario)
    two = run_scenario(scenario, how=sharded(2, None))
    assert one.passed, [v.name for v in one.failures]
    assert document(two) == document(one)
    assert document(one)["run"]["transfers"] > 300_000
