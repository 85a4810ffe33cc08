"""junit.xml: one testcase per expectation (CI systems show failed metrics as failed tests)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any


def render_junit(result: Any) -> str:
    """The JUnit XML of ``result`` (a ``harness.RunResult``): suite = scenario, case = metric."""
    name = result.scenario.name
    failures = result.failures
    suite = ET.Element("testsuite", name=f"xrdsim.{name}", tests=str(len(result.verdicts)),
                       failures=str(len(failures)), errors="0", skipped="0",
                       time=f"{sum(result.phases.values()):.3f}")  # fmt: skip
    for v in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=f"xrdsim.scenarios.{name}", name=v.name, time="0")
        value = "none" if v.value is None or math.isnan(v.value) else f"{v.value:.6g}"
        ET.SubElement(case, "system-out").text = f"{v.name} = {value} {v.unit}, expected {v.expectation}".rstrip()
        if not v.passed:
            fail = ET.SubElement(case, "failure", message=f"{v.name}: {v.reason}", type="ExpectationFailed")
            fail.text = f"{v.name} = {value}; expected {v.expectation}: {v.reason}"
    ET.indent(suite)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(suite, encoding="unicode") + "\n"


__all__ = ["render_junit"]
