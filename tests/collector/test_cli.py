"""``xrdsim collect``: offline runs through ``main([...])``, the summary it prints, and bad
arguments as one line with exit status 2."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import pyarrow.parquet as pq
import pytest

from xrdsim.cli import main
from xrdsim.wire import FileClose, FileOpen


def shoveler_file(tmp_path, emitter):
    em = emitter()
    packets = [em.ident(), em.user(1), em.f([FileOpen(2, 0, False, 1, "/cli")]), em.f([FileClose(2, 42, 0, 0)]), em.f([FileOpen(3, 0, False, 1, "/left-open")])]
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps({"remote": f"[{'2001:db8::5'}]:{em.port}", "data": base64.b64encode(p).decode(), "t": 100.0 + i}) + "\n" for i, p in enumerate(packets)))
    return path


def test_cli_collect_shoveler_to_jsonl_prints_summary(tmp_path, emitter, capsys):
    out = tmp_path / "out.jsonl"
    assert main(["collect", "--shoveler", str(shoveler_file(tmp_path, emitter)), "--out", str(out), "--report", str(tmp_path / "rep.json")]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted((r["file_lfn"], r["ended"], r["read_bytes"]) for r in recs) == [("/cli", "close", 42), ("/left-open", "collector_shutdown", 0)]
    text = capsys.readouterr().out
    assert "datagrams 5" in text and "close=1" in text and "collector_shutdown=1" in text
    assert json.loads((tmp_path / "rep.json").read_text())["datagrams"] == 5


def test_cli_collect_parquet_by_suffix(tmp_path, emitter):
    out = tmp_path / "out.parquet"
    assert main(["collect", "--shoveler", str(shoveler_file(tmp_path, emitter)), "--out", str(out)]) == 0
    assert pq.read_table(out).num_rows == 2


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--pcap", "/nonexistent.pcap"], "--pcap /nonexistent.pcap: no such file"),
        (["--listen", "nohostport"], "expected HOST:PORT"),
        (["--shoveler", "-", "--reorder-count", "300"], "--reorder-count: 300 out of range"),
        (["--shoveler", "-", "--format", "parquet"], "Parquet needs a file"),
    ],
)
def test_cli_collect_bad_arguments_are_one_line_exit_2(argv, needle, capsys):
    out = "-" if "--format" in argv else "/tmp/never-written.jsonl"
    assert main(["collect", *argv, "--out", out]) == 2
    err = capsys.readouterr().err
    assert needle in err and err.count("\n") == 1


def test_cli_collect_help_subprocess():
    res = subprocess.run([sys.executable, "-m", "xrdsim", "collect", "--help"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0
    assert "--listen HOST:PORT" in res.stdout and "--pcap FILE" in res.stdout and "--metrics HOST:PORT" in res.stdout


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def catches(pid: int, sig: int) -> bool:
    """Whether process ``pid`` has a handler for ``sig`` (the SigCgt mask of /proc/PID/status)."""
    try:
        for line in open(f"/proc/{pid}/status"):
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    except OSError:
        pass
    return False


def unread(pipe) -> int:
    """Bytes written to ``pipe`` that its reader has not read yet."""
    import fcntl
    import struct
    import termios

    return struct.unpack("i", fcntl.ioctl(pipe.fileno(), termios.FIONREAD, b"\0\0\0\0"))[0]


def stop_and_read_one(proc: subprocess.Popen, sig: int, out, lfn: str) -> str:
    """Signal a running ``xrdsim collect``: it must exit 0 having written the one open file
    as ``collector_shutdown``. Returns its stdout."""
    proc.send_signal(sig)
    try:
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    (rec,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert (rec["file_lfn"], rec["ended"]) == (lfn, "collector_shutdown")
    return stdout


@pytest.mark.parametrize("sig", ["SIGTERM", "SIGINT"])
def test_cli_collect_live_signal_flushes_open_records(tmp_path, emitter, sig):
    import signal
    import socket
    import time

    port, out = free_udp_port(), tmp_path / "live.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "xrdsim", "collect", "--listen", f"127.0.0.1:{port}", "--out", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        em = emitter()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            deadline = time.time() + 10
            while time.time() < deadline and not out.exists():  # the sink opens once the socket is bound
                time.sleep(0.05)
            time.sleep(0.2)
            tx.sendto(em.f([FileOpen(1, 0, False, 0, "/still-open")]), ("127.0.0.1", port))
            time.sleep(0.3)
    finally:
        stdout = stop_and_read_one(proc, getattr(signal, sig), out, "/still-open")
    assert "datagrams 1" in stdout and "collector_shutdown=1" in stdout


def test_cli_collect_live_duration_with_metrics(tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    assert main(["collect", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0", "--duration", "0.3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "datagrams 0" in text and "rcvbuf_granted" in text and out.exists()


def test_cli_collect_stdin_shoveler_sigterm_flushes_open_records(tmp_path, emitter):
    import signal
    import time

    em, out = emitter(), tmp_path / "stdin.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "xrdsim", "collect", "--shoveler", "-", "--out", str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = json.dumps({"remote": f"{em.ip}:{em.port}", "data": base64.b64encode(em.f([FileOpen(1, 0, False, 0, "/streamed")])).decode(), "t": 5.0})
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
        deadline = time.time() + 60  # start-up may be slow under load: wait for the handler, not a fixed time
        while time.time() < deadline and not (catches(proc.pid, signal.SIGTERM) and unread(proc.stdin) == 0):
            time.sleep(0.05)
        time.sleep(0.1)  # the line is read; its datagram is fed in the same step
    finally:
        stdout = stop_and_read_one(proc, signal.SIGTERM, out, "/streamed")
    assert "interrupted: True" in stdout
