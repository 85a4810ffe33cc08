"""The collector as a service: the datagrams queued in the socket at a stop are read, a state
checkpoint carries open transfers across a restart, and an output that cannot be written
stops the run with one line."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket

import pytest

from collector import Collector
from collector.run import run_live
from collector.sinks import MemorySink
from collector.sources import UdpSource
from replay import read_datagrams, write_pcap
from xrdsim.cli import main
from xrdsim.wire import FileOpen

from .conftest import Emitter


def test_a_stop_reads_what_the_kernel_already_queued():
    source = UdpSource([("127.0.0.1", 0)])
    em = Emitter()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        for k in range(3000):  # queued before the loop ever reads
            tx.sendto(em.f([FileOpen(k + 1, 0, False, 0, f"/q/{k}")]), source.addresses[0])
    stop = asyncio.Event()
    stop.set()
    sink = MemorySink()
    report = asyncio.run(run_live(Collector(), source, sink, stop=stop, strict=True))
    assert report.totals()["f"]["received"] == 3000 and report.io["drained_at_stop"] == 3000
    assert len(sink.records) == 3000  # each open file emitted at shutdown, none lost in the socket


def _transfers(path):
    return sorted((r["server_key"], r["file_lfn"], r["read_bytes"], r["write_bytes"], r["ended"], r["user"], r["start_time"])
                  for r in map(json.loads, path.read_text().splitlines()) if r["kind"] == "transfer")  # fmt: skip


def test_a_restart_with_the_state_file_neither_loses_nor_splits_transfers(real_capture_path, tmp_path):
    """The real capture cut in two in the middle of its transfers: two runs with --state give
    exactly the records of one run over the whole capture."""
    dgrams = list(read_datagrams(real_capture_path))
    first, second = tmp_path / "a.pcap", tmp_path / "b.pcap"
    cut = next(i for i, d in enumerate(dgrams) if d.payload[:1] == b"f")  # OPENs mapped, the f packet with the CLOSEs not yet
    write_pcap(first, dgrams[:cut])
    write_pcap(second, dgrams[cut:])
    state, whole = tmp_path / "state", tmp_path / "whole.jsonl"
    assert main(["collect", "--pcap", str(real_capture_path), "--out", str(whole)]) == 0
    assert main(["collect", "--pcap", str(first), "--out", str(tmp_path / "1.jsonl"), "--state", str(state)]) == 0
    assert state.exists() and not _transfers(tmp_path / "1.jsonl")  # nothing closed yet, nothing emitted as shutdown
    assert main(["collect", "--pcap", str(second), "--out", str(tmp_path / "2.jsonl"), "--state", str(state)]) == 0
    assert _transfers(tmp_path / "2.jsonl") == _transfers(whole) and len(_transfers(whole)) == 10


def test_a_state_file_that_is_not_ours_is_one_line(real_capture_path, tmp_path, capsys):
    bad = tmp_path / "state"
    bad.write_bytes(b"\x80\x04garbage")
    assert main(["collect", "--pcap", str(real_capture_path), "--out", str(tmp_path / "o.jsonl"), "--state", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not an xrdsim collector state file" in err[0]


@pytest.mark.skipif(not shutil.os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_disk_stops_the_run_with_one_line(real_capture_path, capsys):
    assert main(["collect", "--pcap", str(real_capture_path), "--out", "/dev/full"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "No space left on device" in err[0] and "Traceback" not in err[0]


def test_the_capture_is_never_its_own_output(real_capture_path, tmp_path, capsys):
    copy = tmp_path / "mon.pcap"
    shutil.copy(real_capture_path, copy)
    assert main(["collect", "--pcap", str(copy), "--out", str(copy)]) == 2
    assert "would be overwritten" in capsys.readouterr().err
    assert copy.read_bytes() == real_capture_path.read_bytes()


def test_an_output_that_is_a_directory_is_one_line(real_capture_path, tmp_path, capsys):
    assert main(["collect", "--pcap", str(real_capture_path), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_records_need_an_output(real_capture_path, capsys):
    assert main(["collect", "--pcap", str(real_capture_path)]) == 2
    assert "--out FILE or --amqp-out URL" in capsys.readouterr().err
