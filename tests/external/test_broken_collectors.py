"""Broken external commands: each gives one clear line and a status of its own (2 a bad
command, 3 a collector that died, 4 one that never listened, 5 one that would not stop), or,
when it only misbehaves (floods stderr), is scored as usual."""

from __future__ import annotations

import json

import pytest

from tests.external.conftest import prodlike


def one_line(err: str) -> str:
    assert err.startswith("xrdsim: ") and err.count("\n") == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize(("command", "says"), [
    ("collector {nope} {port}", "unknown placeholder {nope}"),
    ("collector ${XRDSIM_NO_SUCH_VARIABLE}", "${XRDSIM_NO_SUCH_VARIABLE}: no such environment variable"),
    ("collector {port", "unbalanced brace"),
    ("'collector", "No closing quotation"),
    ("/no/such/collector {port}", "cannot start external collector '/no/such/collector'"),
])  # fmt: skip
def test_a_bad_command_is_one_line_and_status_2(run, command, says):
    status, err, _ = run(f"{{mode: external, command: {json.dumps(command)}}}")
    assert status == 2 and says in one_line(err)


def test_a_collector_that_dies_mid_run_is_reported_with_its_last_words(run):
    status, err, _ = run(f"{{mode: external, format: osg, command: {json.dumps(prodlike('--crash-after 40'))}}}")
    assert status == 3
    assert "exited" in one_line(err) and "status 1" in err and "simulated crash" in err


def test_a_collector_that_never_listens_is_status_4(run):
    status, err, _ = run(f"{{mode: external, format: osg, startup_s: 1s, command: {json.dumps(prodlike('--no-bind'))}}}")
    assert status == 4 and "did not bind its UDP port within startup_s = 1 s" in one_line(err)


def test_a_collector_that_ignores_sigterm_is_killed_and_its_records_kept(run, tmp_path):
    status, err, _ = run(f"{{mode: external, format: osg, stop_s: 1s, grace_s: 3s, command: {json.dumps(prodlike('--ignore-term'))}}}")
    assert status == 5 and "did not stop within 1 s of SIGTERM" in one_line(err)
    kept = tmp_path / "out" / "external-records.jsonl"
    assert str(kept) in err and kept.read_text().count('"filename"') > 0


def test_a_collector_flooding_stderr_is_scored_and_its_chatter_logged(run, tmp_path, reference):
    status, err, m = run(f"{{mode: external, format: osg, command: {json.dumps(prodlike('--flood-stderr 3'))}}}")
    assert status == 0, err
    assert m["transfer_recall"] == reference["transfer_recall"]
    assert (tmp_path / "out" / "collector.log").stat().st_size > 2_000_000
