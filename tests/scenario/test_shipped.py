"""Every shipped scenario loads, teaches something (a comment block) and sets expectations;
the quickstart one also passes them (the others run under `pytest scenarios/`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrdsim.harness import run_scenario
from xrdsim.scenario import load_scenario

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.yaml"))
SHIPPED = {"quickstart", "wlcg-day", "lossy-wan", "restarts", "long-lived", "tpc-heavy", "dcache-dialect", "multi-dest", "collector-outage",
           "silent-servers", "config-drift", "clock-skew", "old-xrootd"}


def test_the_promised_scenarios_are_shipped():
    assert {p.stem for p in SCENARIOS} >= SHIPPED


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_scenario_loads_with_description_and_expectations(path):
    sc = load_scenario(path)
    assert sc.name == path.stem
    assert len(sc.description.splitlines()) >= 3
    assert len(sc.expect) >= 3


def test_quickstart_meets_its_expectations():
    result = run_scenario(load_scenario(SCENARIOS[[p.stem for p in SCENARIOS].index("quickstart")]))
    assert result.passed, [f"{v.name}: {v.reason}" for v in result.failures]
