"""The gate works: a scenario whose expectations are out of reach makes `xrdsim run` and
`pytest scenarios/` exit non-zero and name the missed metric; a reachable one passes."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

#: ``-p xrdsim.pytest_plugin`` unless the installed package already declares it (pytest11).
PLUGIN = [] if any(e.value == "xrdsim.pytest_plugin" for e in entry_points(group="pytest11")) else ["-p", "xrdsim.pytest_plugin"]

SCENARIO = """\
name: {name}
seed: 1
duration: 3m
sites: [{{name: T2_G_One, servers: 1}}]
workload:
  jobs_per_hour: 0
  scripted: [{{at_s: 5s, op: read, lfn: /gate.root, size_bytes: 5MB}}]
report: {{plots: false, formats: [json]}}
expect:
  transfer_recall: "{recall}"
"""


def write(directory: Path, name: str, recall: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(SCENARIO.format(name=name, recall=recall))
    return path


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *argv], cwd=cwd, capture_output=True, text=True, timeout=300, check=False)


def test_xrdsim_run_exits_1_on_a_missed_expectation(tmp_path):
    bad = write(tmp_path, "unreachable", ">= 1.5")
    done = run("-m", "xrdsim", "run", str(bad), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    assert "FAIL  transfer_recall" in done.stdout


def test_pytest_scenarios_fails_the_unreachable_one_only(tmp_path):
    scenarios = tmp_path / "scenarios"
    write(scenarios, "reachable", "== 1")
    write(scenarios, "unreachable", ">= 1.5")
    done = run("-m", "pytest", *PLUGIN, "-p", "no:cacheprovider", "-q", "scenarios", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout
    assert "transfer_recall: 1 is not at least 1.5" in done.stdout
