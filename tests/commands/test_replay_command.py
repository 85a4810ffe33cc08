"""``xrdsim replay``: every datagram of a capture reaches a listening socket on loopback, in order;
``--dry-run`` prints the plan; bad arguments give one line and exit 2."""

from __future__ import annotations

import socket
import threading

import pytest

from replay import write_pcap
from xrdsim.cli import main
from xrdsim.datagram import Datagram

COUNT = 40


@pytest.fixture
def capture(tmp_path):
    """COUNT datagrams 10 ms apart, each payload naming its index; two senders, two ports."""
    datagrams = [Datagram(1_700_000_000 + k / 100, ("10.0.0.1", 4000 + k % 2), ("10.0.0.9", 9930 + k % 2), b"=" + f"#{k:03d}".encode() * (k + 1))
                 for k in range(COUNT)]  # fmt: skip
    path = tmp_path / "mon.pcap"
    write_pcap(path, datagrams)
    return path


def receive(sock: socket.socket, n: int, got: list[bytes]) -> None:
    sock.settimeout(5.0)
    try:
        while len(got) < n:
            got.append(sock.recv(65535))
    except OSError:
        pass


def test_every_datagram_arrives_in_order(capture, capsys):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        got: list[bytes] = []
        thread = threading.Thread(target=receive, args=(sock, COUNT, got))
        thread.start()
        status = main(["replay", str(capture), "--to", f"127.0.0.1:{sock.getsockname()[1]}", "--speed", "20"])
        thread.join()
    assert status == 0
    assert got == [b"=" + f"#{k:03d}".encode() * (k + 1) for k in range(COUNT)]
    out = capsys.readouterr().out
    total = sum(1 + 4 * (k + 1) for k in range(COUNT))
    assert out.startswith(f"sent {COUNT} datagrams ({total:,} bytes) from 2 socket(s) to 127.0.0.1:") and "lateness mean" in out and "p99" in out


def test_dry_run_prints_offset_source_destination_size_and_code(capture, capsys):
    assert main(["replay", str(capture), "--dry-run", "--speed", "2", "--port", "9931"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == COUNT // 2 + 1
    # the odd datagrams go to 9931: k = 1, 3, …; 20 ms apart on the capture, 10 ms at speed 2
    first, second = lines[0].split(), lines[1].split()
    assert first == ["0.000000", "10.0.0.1:4001", "->", "10.0.0.9:9931", "9", "B", "="]
    assert second[0] == "0.010000" and second[4] == "17"
    assert lines[-1] == f"would send {COUNT // 2} datagrams, {sum(1 + 4 * (k + 1) for k in range(1, COUNT, 2)):,} bytes"


def test_dry_run_with_a_target_and_a_rate(capture, capsys):
    assert main(["replay", str(capture), "--dry-run", "--to", "[::1]:9999", "--rate", "100", "--loop", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 * COUNT + 1 and lines[-2].split()[0] == f"{(2 * COUNT - 1) / 100:.6f}"
    assert lines[0].split()[3] == "[::1]:9999"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "xrdsim: --to HOST:PORT is required (or use --dry-run)"),
        (["--to", "collector"], "xrdsim: --to 'collector': expected HOST:PORT"),
        (["--to", "127.0.0.1:9", "--loop", "0"], "xrdsim: need --speed ≥ 0, --rate > 0 and --loop ≥ 1 (got 1.0, None, 0)"),
    ],
)
def test_bad_arguments_exit_2(capture, capsys, args, message):
    assert main(["replay", str(capture), *args]) == 2
    assert capsys.readouterr().err == message + "\n"


def test_a_bad_file_exits_2(tmp_path, capsys):
    path = tmp_path / "empty.pcap"
    path.write_bytes(b"")
    assert main(["replay", str(path), "--dry-run"]) == 2
    assert capsys.readouterr().err == f"xrdsim: {path}: empty file\n"


def test_a_replayed_capture_into_the_live_collector_gives_the_records_of_collect_pcap(real_capture_path, tmp_path):
    """Two servers that started in the same second, replayed from one socket into
    ``xrdsim collect --listen``: the same transfers as ``xrdsim collect --pcap`` (server ids
    keep the servers apart, so nothing is lost and no CLOSE lacks its OPEN)."""
    import json
    import signal
    import subprocess
    import sys
    import time

    offline, live = tmp_path / "offline.jsonl", tmp_path / "live.jsonl"
    assert main(["collect", "--pcap", str(real_capture_path), "--out", str(offline)]) == 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    report = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "xrdsim", "collect", "--listen", f"127.0.0.1:{port}", "--out", str(live), "--report", str(report)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.time() + 20
        while time.time() < deadline and not live.exists():  # the sink opens once the socket is bound
            time.sleep(0.05)
        assert live.exists(), "xrdsim collect never opened its output"
        assert main(["replay", str(real_capture_path), "--to", f"127.0.0.1:{port}", "--speed", "20"]) == 0
        time.sleep(1.0)
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    assert proc.returncode == 0, stderr

    def transfers(path):
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        return sorted((r["server_key"], r["site"], r["file_lfn"], r["read_bytes"], r["write_bytes"], r["ended"], r["user"])
                      for r in rows if r.get("kind") == "transfer")  # fmt: skip

    want = transfers(offline)
    assert len(want) == 10 and {site for _, site, *_ in want} == {"SITE_A"}
    assert transfers(live) == want
    groups = json.loads(report.read_text())["groups"]
    assert sum(g["received"] for g in groups) == 56 and not any(g["lost"] or g["duplicated"] for g in groups)
    assert {g["server_key"] for g in groups if g["group"] == "map"} == {"101157319074353#1795912899", "142211717556586#1795912899"}
