"""``--processes N``: workers on one port (SO_REUSEPORT), one merged output and report,
SIGTERM drains every worker; the report merge sums what the workers counted."""

from __future__ import annotations

import json
import pickle
import signal
import socket
import subprocess
import sys
import time

import pytest

from collector import Collector
from collector.records import Malformed, TransferRecord
from collector.report import merge_reports
from collector.workers import pack_events, unpack_events
from xrdsim.cli import main
from xrdsim.wire import FileClose, FileOpen

from .test_cli import free_udp_port


def _records(out) -> list[dict]:
    if out.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(out).to_pylist()
    return [json.loads(line) for line in out.read_text().splitlines()]


# JSONL: the workers render the lines; Parquet: the parent gets the events (packed) and writes them.
@pytest.mark.parametrize("name", ["mp.jsonl", "mp.parquet"])
def test_two_workers_write_one_output_and_one_report_and_drain_at_sigterm(tmp_path, emitter, name):
    port, out, rep = free_udp_port(), tmp_path / name, tmp_path / "rep.json"
    cmd = [sys.executable, "-m", "xrdsim", "collect", "--listen", f"127.0.0.1:{port}", "--processes", "2", "--out", str(out), "--report", str(rep)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and f":{port:04X} " not in open("/proc/net/udp").read():
            time.sleep(0.05)
        time.sleep(0.5)
        senders = []
        for k in range(12):  # 12 sender sockets: the kernel's hash spreads them over both workers
            em = emitter(sid=0x100000000000 + k, ip="127.0.0.1")
            tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            for d in [em.ident(), em.user(1), em.f([FileOpen(2, 0, False, 1, f"/done{k}")]), em.f([FileClose(2, 42, 0, 0)]), em.f([FileOpen(3, 0, False, 1, f"/open{k}")])]:
                tx.sendto(d, ("127.0.0.1", port))
            senders.append(tx)
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
        for tx in locals().get("senders", []):
            tx.close()
    assert proc.returncode == 0, stderr
    recs = _records(out)
    assert sorted((r["file_lfn"], r["ended"], r["read_bytes"]) for r in recs) == sorted(
        [(f"/done{k}", "close", 42) for k in range(12)] + [(f"/open{k}", "collector_shutdown", 0) for k in range(12)])
    report = json.loads(rep.read_text())
    split = [int(n) for n in report["io"]["datagrams_by_process"].split()]
    assert report["datagrams"] == 60 and sum(split) == 60 and len(split) == 2
    assert report["io"]["worker_failures"] == 0 and report["io"]["kernel_drops"] == 0
    cpu = [float(x) for x in report["io"]["cpu_s_by_process"].split()]
    assert len(cpu) == 2 and all(x > 0 for x in cpu) and report["io"]["cpu_s"] == pytest.approx(sum(cpu), abs=0.01)
    assert report["io"]["parent_cpu_s"] > 0
    assert "datagrams 60" in stdout and "collector_shutdown=12" in stdout


def test_processes_needs_listen_and_refuses_state(tmp_path, capsys):
    capture = tmp_path / "c.pcap"
    capture.write_bytes(b"")
    assert main(["collect", "--pcap", str(capture), "--processes", "2", "--out", "/tmp/never.jsonl"]) == 2
    assert "--processes: only with --listen" in capsys.readouterr().err
    assert main(["collect", "--listen", "127.0.0.1:0", "--processes", "2", "--state", "/tmp/never.state", "--out", "/tmp/never.jsonl"]) == 2
    assert "--processes with --state" in capsys.readouterr().err


def test_merged_report_sums_the_workers_counts(emitter):
    parts = []
    for k in range(2):
        c, em = Collector(), emitter(sid=0x100 + k)
        em.send(c, [em.ident(), em.f([FileOpen(1, 0, False, 0, "/a"), FileClose(1, 5, 0, 0)])])
        rep = c.report()
        rep.io.update(kernel_drops=k + 1, rcvbuf_granted=1000 * (k + 1), udp_sockets="127.0.0.1:9930")
        parts.append(rep)
    merged = merge_reports(parts)
    assert merged.datagrams == 4 and merged.records_by_ended == {"close": 2}
    assert len(merged.groups) == len(parts[0].groups) + len(parts[1].groups)
    assert merged.io["kernel_drops"] == 3 and merged.io["rcvbuf_granted"] == 1000 and merged.io["udp_sockets"] == "127.0.0.1:9930"


def test_events_cross_the_pipe_unchanged(emitter):
    c, em = Collector(), emitter()
    events = em.send(c, [em.ident(), em.user(1), em.f([FileOpen(2, 9, False, 1, "/a"), FileClose(2, 42, 7, 0)]), b"\xff\x00junk"])
    events += c.close(2000.0)
    kinds = {type(ev) for ev in events}
    assert TransferRecord in kinds and Malformed in kinds
    packed = pickle.loads(pickle.dumps(pack_events(events)))
    assert unpack_events(packed) == events
