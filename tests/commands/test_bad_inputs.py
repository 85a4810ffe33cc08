"""User mistakes on the command line are one line naming what is wrong, exit 2 — never a
traceback, and never minutes of work first (issue: collector in production, bad-input cases)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from xrdsim.cli import main

QUICK = "name: q\nduration: 2m\nsites: {generate: {count: 1, servers: 1}}\n"


def one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    return err[0]


@pytest.mark.parametrize("body, needle", [
    ("name: !!python/object:os.system x\n", "cannot read 'tag:yaml.org,2002:python/object:os.system'"),
    ("name: ../../escape\n", "name: expected letters, digits"),
    ("name: x\nduration: 1000000000h\n", "duration_s: expected a positive duration of at most 366 days"),
    ("name: x\nsites: {generate: {count: 1000000000, servers: 2}}\n", "site_count: expected 1..100000 sites"),
    ("name: x\nmonitoring: {window_s: 1e-9s}\n", "monitor.window_s: expected at least 0.001 s"),
])  # fmt: skip
def test_scenarios_that_cannot_run_are_refused_at_once(tmp_path, capsys, body, needle):
    path = tmp_path / "s.yaml"
    path.write_text(body)
    assert main(["run", str(path), "-o", str(tmp_path / "out")]) == 2
    assert needle in one_line(capsys)
    assert not (tmp_path / "out").exists()


def test_an_unwritable_report_folder_is_refused_before_the_run(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(QUICK)
    (tmp_path / "file").write_text("")
    assert main(["run", str(tmp_path / "s.yaml"), "-o", str(tmp_path / "file" / "out")]) == 2
    assert "cannot write reports there" in one_line(capsys)


def test_score_refuses_a_folder_without_truth(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(QUICK)
    (tmp_path / "records.jsonl").write_text("")
    (tmp_path / "empty").mkdir()
    assert main(["score", str(tmp_path / "s.yaml"), "--truth", str(tmp_path / "empty"), "--records", str(tmp_path / "records.jsonl")]) == 2
    assert "no transfers.parquet" in one_line(capsys)


def test_score_reads_the_parquet_that_collect_writes(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(QUICK)
    truth = tmp_path / "truth"
    assert main(["simulate", str(tmp_path / "s.yaml"), "-o", str(truth)]) == 0
    assert main(["collect", "--pcap", str(truth / "datagrams.pcap"), "--out", str(tmp_path / "r.parquet")]) == 0
    assert main(["collect", "--pcap", str(truth / "datagrams.pcap"), "--out", str(tmp_path / "r.jsonl")]) == 0
    capsys.readouterr()
    outs = []
    for records in ("r.parquet", "r.jsonl"):
        main(["score", str(tmp_path / "s.yaml"), "--truth", str(truth), "--records", str(tmp_path / records), "-o", str(tmp_path / records[2:])])
        outs.append((tmp_path / records[2:] / "score.json").read_text())
    import json

    a, b = ({m["name"]: m["value"] for m in json.loads(o)["metrics"]} for o in outs)
    assert a["transfer_recall"] == b["transfer_recall"] > 0.9 and a["byte_recall"] == b["byte_recall"] and a == b


def test_records_that_are_neither_json_nor_parquet_are_one_line(tmp_path, capsys):
    (tmp_path / "s.yaml").write_text(QUICK)
    truth = tmp_path / "truth"
    assert main(["simulate", str(tmp_path / "s.yaml"), "-o", str(truth)]) == 0
    (tmp_path / "bin").write_bytes(b"\x80\x81\x82\n")
    capsys.readouterr()
    assert main(["score", str(tmp_path / "s.yaml"), "--truth", str(truth), "--records", str(tmp_path / "bin")]) == 2
    assert "neither JSON lines" in one_line(capsys)


def test_collect_refuses_a_non_finite_time_out(real_capture_path, tmp_path, capsys):
    assert main(["collect", "--pcap", str(real_capture_path), "--out", str(tmp_path / "o.jsonl"), "--open-ttl", "nan"]) == 2
    assert "--open-ttl: nan out of range" in one_line(capsys)


def test_a_failed_gate_keeps_its_exit_status_when_stdout_is_closed(tmp_path):
    """`xrdsim run … | head -0`: the table cannot be printed; the verdict is still the exit status."""
    (tmp_path / "s.yaml").write_text(QUICK + "expect: {transfer_recall: '>= 1.5'}\n")
    proc = subprocess.run(f"{sys.executable} -m xrdsim run {tmp_path / 's.yaml'} -o {tmp_path / 'out'} | head -c 0",
                          shell=True, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert (tmp_path / "out" / "score.json").exists()
    status = subprocess.run(f"set -o pipefail; {sys.executable} -m xrdsim run {tmp_path / 's.yaml'} -o {tmp_path / 'out'} | head -c 0",
                            shell=True, executable="/bin/bash", capture_output=True, text=True, timeout=120)  # fmt: skip
    assert status.returncode == 1 and "FAIL" in status.stderr, (proc.stderr, status.stderr)
