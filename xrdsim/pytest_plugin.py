"""pytest plugin: every ``*.yaml`` in a ``scenarios/`` directory is a test item that runs the
scenario end to end and fails with the metrics that missed their expectations.

    pytest scenarios/ -n auto                     # each scenario one item, in parallel
    pytest scenarios/ --xrdsim-reports reports/   # also write each scenario's reports

Enabled by the ``pytest11`` entry point (or ``-p xrdsim.pytest_plugin``). Runs nothing itself
beyond ``harness.run_scenario``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

#: Directory names whose YAML files are scenarios (ini option ``xrdsim_scenario_dirs``).
DEFAULT_DIRS = "scenarios"


class ScenarioFailed(Exception):
    """A scenario ran but missed expectations; the message lists them."""


def pytest_addoption(parser: pytest.Parser) -> None:
    """``--xrdsim-reports DIR`` and the ini option naming scenario directories."""
    group = parser.getgroup("xrdsim")
    group.addoption("--xrdsim-reports", metavar="DIR", default=None, help="write each scenario's reports into DIR/NAME")
    parser.addini("xrdsim_scenario_dirs", "directory names whose *.yaml files are xrdsim scenarios", default=DEFAULT_DIRS)
    parser.addini("xrdsim_heavy_scenarios", "scenario names marked `heavy` (minutes each: deselect them with -m 'not heavy')",
                  default="")


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    """Collect ``scenarios/*.yaml`` (and ``.yml``) as ``ScenarioFile``s."""
    dirs = str(parent.config.getini("xrdsim_scenario_dirs")).split()
    if file_path.suffix in (".yaml", ".yml") and file_path.parent.name in dirs:
        return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    """One scenario file; it holds one item."""

    def collect(self) -> list[pytest.Item]:
        """The scenario's single item, named after the file; marked ``heavy`` when the ini
        option ``xrdsim_heavy_scenarios`` names it."""
        item = ScenarioItem.from_parent(self, name=self.path.stem)
        if self.path.stem in str(self.config.getini("xrdsim_heavy_scenarios")).split():
            item.add_marker(pytest.mark.heavy)
        return [item]


class ScenarioItem(pytest.Item):
    """Runs one scenario; fails with the list of missed expectations."""

    def runtest(self) -> None:
        """Load, run, and raise ``ScenarioFailed`` when an expectation fails."""
        from xrdsim.harness import run_scenario
        from xrdsim.scenario import load_scenario

        scenario = load_scenario(self.path)
        reports = self.config.getoption("--xrdsim-reports")
        out = Path(reports) / scenario.name if reports else None
        result = run_scenario(scenario, out)
        self.user_properties.append(("agreement", result.card.value("agreement")))
        if not result.passed:
            lines = [f"{v.name}: {v.reason} (expected {v.expectation})" for v in result.failures]
            raise ScenarioFailed(f"{len(lines)} of {len(result.verdicts)} expectations failed:\n  " + "\n  ".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        """Missed expectations, or the one-line scenario error; tracebacks only for bugs."""
        from xrdsim.errors import UserError

        if isinstance(excinfo.value, (ScenarioFailed, UserError)):
            return str(excinfo.value)
        return str(super().repr_failure(excinfo, style))

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the item comes from."""
        return self.path, 0, f"scenario: {self.name}"
