"""Shared pieces of the fidelity tests: the covering scenario, its captured real run."""

from __future__ import annotations

from pathlib import Path

import pytest

from xrdsim.fidelity import read_capture
from xrdsim.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIO = ROOT / "scenarios" / "fidelity-5.5.3.yaml"
CAPTURE = ROOT / "tests" / "fixtures" / "real-xrootd-5.5.3-fidelity" / "capture.jsonl"


@pytest.fixture(scope="session")
def scenario():
    """The covering scenario."""
    return load_scenario(SCENARIO)


@pytest.fixture(scope="session")
def capture():
    """(datagrams, span) of the real 5.5.3 run of the covering scenario."""
    return read_capture(CAPTURE)
