"""A small lossy scenario with auth, a summary stream and two sites, and a helper that runs
it against one of the suite's external collectors through ``xrdsim run``."""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from xrdsim.cli import main

COLLECTORS = Path(__file__).resolve().parent / "collectors"

SCENARIO = """\
name: ext
seed: 5
duration: 20m
sites: {generate: {count: 2, servers: 2}}
workload: {jobs_per_hour: 240}
monitoring: {auth: true, summary: {host: collector.example.org, every_s: 5m}}
path: {loss: 3%}
report: {bin_s: 5m, plots: false}
"""


def prodlike(*flags: str) -> str:
    """The command line of the production-style collector with ``flags``."""
    return (f"{shlex.quote(sys.executable)} {shlex.quote(str(COLLECTORS / 'prodlike.py'))} --listen {{host}}:{{port}} "
            f"--listen {{host}}:{{summary_port}} --out {{out}} --metrics {{metrics_port}} {' '.join(flags)}").strip()  # fmt: skip


class Run:
    """``xrdsim run`` of the scenario with a collector section: status, stderr, score."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.tmp, self.capsys = tmp_path, capsys

    def __call__(self, collector: str, expect: str = "", out: str = "out") -> tuple[int, str, dict[str, float]]:
        path = self.tmp / "ext.yaml"
        path.write_text(SCENARIO + f"collector: {collector}\n" + (f"expect: {expect}\n" if expect else ""))
        status = main(["run", str(path), "-o", str(self.tmp / out), "-q"])
        err = self.capsys.readouterr().err
        score = self.tmp / out / "score.json"
        metrics = {m["name"]: m["value"] for m in json.loads(score.read_text())["metrics"]} if score.exists() else {}
        return status, err, metrics


@pytest.fixture(scope="session")
def reference() -> dict[str, float]:
    """The reference collector's metrics on the scenario, in process: what a faithful
    external collector should match."""
    from xrdsim.harness import run_scenario
    from xrdsim.scenario import parse_scenario

    return {m.name: m.value for m in run_scenario(parse_scenario(SCENARIO)).card.metrics}


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """Runs the scenario with a given collector section."""
    return Run(tmp_path, capsys)
