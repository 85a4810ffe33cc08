"""``xrdsim decode`` in-process: JSON lines, the summary, malformed datagrams, bad files."""

from __future__ import annotations

import json
import subprocess
import sys

from replay import read_datagrams, write_pcap
from xrdsim.cli import main
from xrdsim.datagram import Datagram
import pytest


@pytest.fixture
def capture(real_capture_path) -> str:
    return str(real_capture_path)


def test_json_gives_one_line_per_datagram(capture, capsys):
    assert main(["decode", capture, "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 56
    assert {line["code"] for line in lines} == set("=udtf<")
    f = next(line for line in lines if line["code"] == "f")
    closes = [r for r in f["packet"]["records"] if r["type"] == "FileClose"]
    assert len(closes) == 10 and f["server"].startswith("127.0.0.1:")


def test_summary_counts_codes_and_sites(capture, capsys):
    assert main(["decode", capture]) == 0
    out = capsys.readouterr().out
    assert "56 datagrams, 0 malformed" in out
    assert "SITE_A" in out and "SITE_B" in out and "f=1" in out


def test_malformed_datagrams_are_reported_with_offset_and_counted(capture, tmp_path, capsys):
    good = list(read_datagrams(capture))
    bad = bytearray(next(d.payload for d in good if d.payload[:1] == b"f"))
    bad[8 + 24 + 2 : 8 + 24 + 4] = b"\x00\x03"  # first record's recSize below 8
    pcap = tmp_path / "bad.pcap"
    write_pcap(pcap, good[:5] + [Datagram(1.0, ("10.0.0.1", 1000), ("10.0.0.2", 9930), bytes(bad), 1.0)])
    assert main(["decode", str(pcap), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "6 datagrams, 1 malformed" in out
    assert "malformed from 10.0.0.1:1000" in out and "offset 32" in out
    assert main(["decode", str(pcap), "--json"]) == 0
    errors = [json.loads(x)["error"] for x in capsys.readouterr().out.splitlines() if '"error"' in x]
    assert errors == [{"kind": "BadRecordError", "reason": errors[0]["reason"], "offset": 32, "path": "f/rec[0]"}]


def test_a_file_that_is_not_a_capture_is_one_line_exit_2(tmp_path, capsys):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n" * 10)
    assert main(["decode", str(text)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("xrdsim: ") and err.count("\n") == 1 and "notes.txt" in err


def test_help_lists_the_commands():
    out = subprocess.run([sys.executable, "-m", "xrdsim", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("decode", "simulate", "collect"):
        assert command in out
