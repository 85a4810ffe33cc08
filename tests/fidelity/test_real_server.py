"""``xrdsim fidelity`` against Debian's real XRootD 5.5.3 (skipped without it, without root,
the Python bindings or curl): the covering scenario has no structural difference, and a
simulator told the wrong server version is caught."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.fidelity.conftest import SCENARIO
from xrdsim.cli import main

pytestmark = pytest.mark.real_xrootd


def _missing() -> str:
    if not shutil.which("xrootd") or not shutil.which("curl"):
        return "xrootd or curl not installed (Debian xrootd-server, curl)"
    if os.geteuid() != 0:
        return "XRootD is started as root with -R xrootd (DESIGN.md)"
    ok = os.path.exists("/usr/bin/python3") and subprocess.run(["/usr/bin/python3", "-c", "import XRootD.client"],
                                                               capture_output=True).returncode == 0
    return "" if ok else "python3-xrootd not installed"


@pytest.fixture(autouse=True)
def _needs_real_server():
    reason = _missing()
    if reason:
        pytest.skip(reason)


def test_covering_scenario_has_no_structural_difference_and_a_wrong_version_is_caught(capsys, tmp_path):
    """One real run: no structural difference; then the simulator told the server is 5.7.3,
    against the same real bytes (``--real``): its ident says so and it counts the HTTP PUT's
    bytes, which the real 5.5.3 does not."""
    out, capture = tmp_path / "rows.json", tmp_path / "real.jsonl"
    status = main(["fidelity", str(SCENARIO), "--json", str(out), "--capture", str(capture)])
    text = capsys.readouterr().out
    assert status == 0, text
    assert "| property | real | simulator | verdict |" in text
    assert "no structural difference against XRootD v5.5.3" in text
    assert '"rows"' in out.read_text()

    assert main(["fidelity", str(SCENARIO), "--real", str(capture)]) == 0  # the capture holds the real run
    capsys.readouterr()
    wrong = tmp_path / "wrong.yaml"
    wrong.write_text(SCENARIO.read_text().replace("xrootd_version: v5.5.3", "xrootd_version: v5.7.3"))
    status = main(["fidelity", str(wrong), "--real", str(capture)])
    text = capsys.readouterr().out
    assert status == 1
    assert "= ident text" in text.split("structural difference(s)")[1]
    assert "f records (OPEN/CLOSE/DISC) in order" in text.split("structural difference(s)")[1]
