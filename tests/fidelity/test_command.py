"""``xrdsim fidelity`` user mistakes: one line on stderr, exit 2, no traceback."""

from __future__ import annotations

from xrdsim.cli import main


def test_scenario_without_sessions_exits_2_on_one_line(tmp_path, capsys):
    path = tmp_path / "plain.yaml"
    path.write_text("duration: 1m\nsites: [{name: S, servers: 1}]\n")
    assert main(["fidelity", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "xrdsim: the scenario has no scripted sessions (workload.sessions) for a fidelity check"


def test_sessions_on_a_second_server_exit_2(tmp_path, capsys):
    path = tmp_path / "two.yaml"
    path.write_text("duration: 1m\nsites: [{name: S, servers: 2}]\nworkload:\n  sessions: [{server: 1, steps: [{op: sleep, duration_s: 1}]}]\n")
    assert main(["fidelity", str(path)]) == 2
    assert "use site 0, server 0" in capsys.readouterr().err


def test_unreadable_scenario_exits_2(tmp_path, capsys):
    assert main(["fidelity", str(tmp_path / "missing.yaml")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_a_capture_that_is_not_one_exits_2_on_one_line(tmp_path, capsys):
    from tests.fidelity.conftest import SCENARIO

    bad = tmp_path / "real.jsonl"
    bad.write_text("not json\n")
    assert main(["fidelity", str(SCENARIO), "--real", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a fidelity capture" in err


def test_the_shipped_capture_compares_without_a_server(capsys):
    """``--real`` plays no server: the repository's real 5.5.3 capture against the simulator."""
    from tests.fidelity.conftest import CAPTURE, SCENARIO

    assert main(["fidelity", str(SCENARIO), "--real", str(CAPTURE)]) == 0
    assert "no structural difference against XRootD v5.5.3" in capsys.readouterr().out
