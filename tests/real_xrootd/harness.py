"""The pieces of the differential suite against real XRootD: a live collector in a thread
(with a tee of every raw datagram), real ``xrootd`` servers with a generated monitoring
configuration, the client drivers, and deadline polls. No assertions live here except the
record comparison ``assert_records``; the test modules say what they expect.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from collector import Collector, CollectorConfig, Ended, TransferRecord, current_records
from collector.run import run_live
from collector.sinks import MemorySink
from collector.sources import UdpSource
from xrdsim.fidelity.realserver import free_port, listening, log_tail, place_file, start_xrootd, stop_process, wait_for
from xrdsim.wire import FstreamPacket, decode

CLIENTS = Path(__file__).resolve().parent / "clients"
SYSTEM_PYTHON = "/usr/bin/python3"  # the only interpreter where Debian's python3-xrootd imports
PAGE = 4096

#: Both detailed destinations and their masks: dest1 the f-stream (fstat) with the user map,
#: dest2 the t-stream (files io iov) with the redirect stream; different masks on purpose.
DEST1_MASK = "fstat info user"
DEST2_MASK = "files io iov info user redir"


def pgwrite_bytes(size: int) -> int:
    """What XRootD 5.5 reports as written for an ``xrdcp`` upload of ``size`` bytes: xrdcp
    uploads with kXR_pgwrite and the server counts the 4-byte CRC of every 4 KiB page
    (spec §4.9; docs/spec-notes.md)."""
    return size + 4 * math.ceil(size / PAGE)


def scratch_dir(prefix: str) -> Path:
    """A temp dir the ``xrootd`` user can enter (pytest's tmp_path is 0700 and root's)."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(path, 0o777)
    shutil.chown(path, "xrootd", "xrootd")
    return path


class LiveCollector:
    """The reference collector on UDP sockets (two detailed dests and the summary) in a
    thread, events into a MemorySink; every raw datagram is kept too (``raw``)."""

    def __init__(self, config: CollectorConfig | None = None, host: str = "127.0.0.1", summary_host: str | None = None) -> None:
        self.host = host
        # XRootD 5.5.3's xrd.report takes no IPv6 literal ("report dest port missing or
        # invalid in [::1]:PORT"), so the summary socket may sit on another address
        self.summary_host = summary_host or host
        self.source = UdpSource([(host, 0), (host, 0), (self.summary_host, 0)])
        self.dest1, self.dest2, self.summary = (a[1] for a in self.source.addresses)
        self.sink = MemorySink()
        self.collector = Collector(config or CollectorConfig(reorder_seconds=1.0))
        self.raw: list[tuple[float, tuple[str, int], bytes]] = []
        self.report = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        self._ready.wait(5)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        attach = self.source.attach

        def tee_attach(loop, on_datagram, clock=time.time):
            def tee(payload, src, t):
                self.raw.append((t, src, payload))
                on_datagram(payload, src, t)
            attach(loop, tee, clock)

        self.source.attach = tee_attach
        self._ready.set()
        self.report = await run_live(self.collector, self.source, self.sink, stop=self._stop, tick=0.2, strict=True)

    def addr(self, port: int) -> str:
        """``host:port`` as an XRootD ``dest`` wants it (IPv6 in brackets)."""
        host = self.summary_host if port == self.summary else self.host
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    def events(self) -> list:
        """Every event so far (a copy)."""
        return list(self.sink.events)

    def records(self, paths: set[str] | None = None) -> list[TransferRecord]:
        """Transfer records so far, only those of ``paths`` when given."""
        return [e for e in self.events() if type(e) is TransferRecord and (paths is None or e.file_lfn in paths)]

    def live_report(self):
        """``collector.report()`` now (the final one after ``stop``)."""
        if self.report is not None:
            return self.report
        fut = asyncio.run_coroutine_threadsafe(_call(self.collector.report), self._loop)
        return fut.result(5)

    def f_packets(self) -> list[tuple[float, FstreamPacket]]:
        """The f-stream datagrams received, decoded, with their arrival time."""
        out = []
        for t, _src, payload in list(self.raw):
            if payload[:1] == b"f":
                out.append((t, decode(payload)))
        return out

    def stop(self) -> None:
        """Stop the collector: every open record is flushed (``collector_shutdown``)."""
        if not self._thread.is_alive():
            return
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


async def _call(fn):
    return fn()


def monitor_lines(mon: LiveCollector, fstat: bool = True, fbsz: int | None = None, dest_host: str | None = None) -> str:
    """``xrootd.monitor`` and ``xrd.report`` lines: short intervals so the tests wait little."""
    fopts = "fstat 1s lfn ops ssq xfr 2 " if fstat else ""
    size = f"fbsz {fbsz} " if fbsz else ""
    if fstat:
        dests = f"dest {DEST1_MASK} {mon.addr(mon.dest1)} dest {DEST2_MASK} {mon.addr(mon.dest2)}"
    else:  # no fstat anywhere: the t-stream is the only record of a transfer
        dests = f"dest files io iov info user {mon.addr(mon.dest1)} dest files info user redir {mon.addr(mon.dest2)}"
    return (
        f"xrootd.monitor all auth flush 1s window 1s {fopts}{size}ident 5s {dests}\n"
        f"xrd.report {mon.addr(mon.summary)} every 1s all sync\n"
    )


@dataclass
class Server:
    """One real ``xrootd`` process (restartable on the same ports and data dir)."""

    name: str
    root: Path
    config: str
    port: int
    http_port: int | None = None
    proc: subprocess.Popen | None = None
    starts: int = 0
    log_lines: list[str] = field(default_factory=list)

    @property
    def data(self) -> Path:
        return self.root / f"{self.name}.data"

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """A root:// URL of ``path`` on this server."""
        h = f"[{host}]" if ":" in host else host
        return f"root://{h}:{self.port}/{path}"

    def http_url(self, path: str, host: str = "127.0.0.1") -> str:
        """An http:// URL of ``path`` on this server's XrdHttp port."""
        return f"http://{host}:{self.http_port}{path}"

    def put_file(self, path: str, data: bytes) -> None:
        """Write ``data`` at ``path`` straight into the data dir (no monitoring traffic)."""
        place_file(self.data, path, data)

    def start(self) -> None:
        """Start (or restart) the process and wait until it listens."""
        self.starts += 1
        self.proc = start_xrootd(self.root / f"{self.name}.cfg", self.root / f"{self.name}.log",
                                 self.root / f"{self.name}.{self.starts}.err")
        ports = [self.port] + ([self.http_port] if self.http_port else [])
        if not wait_for(lambda: all(listening(p) for p in ports), 10):
            self.proc.kill()
            raise RuntimeError(f"xrootd {self.name} did not listen on {ports}: {self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the process (``sig``, then SIGKILL after 5 s)."""
        stop_process(self.proc, sig)

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log (for failure messages)."""
        return log_tail([self.root / f"{self.name}.log", self.root / f"{self.name}.{self.starts}.err"], chars)


def make_server(root: Path, name: str, site: str, mon: LiveCollector, http: bool = False, extra: str = "", **monitor) -> Server:
    """Write the config of a server monitoring to ``mon`` and start it."""
    port = free_port()
    http_port = free_port() if http else None
    server = Server(name, root, "", port, http_port)
    server.data.mkdir()
    shutil.chown(server.data, "xrootd", "xrootd")
    cfg = f"all.export /\noss.localroot {server.data}\nxrd.port {port}\nall.sitename {site}\n"
    if http:
        cfg += f"xrd.protocol XrdHttp:{http_port} libXrdHttp.so\n"
    cfg += monitor_lines(mon, **monitor) + extra
    server.config = cfg
    (root / f"{name}.cfg").write_text(cfg)
    server.start()
    return server


# ---- clients ---------------------------------------------------------------------------


def run_ops(url: str, ops: list, timeout: float = 60) -> dict:
    """Run the bindings driver ``clients/ops.py`` on one file; its JSON truth."""
    out = subprocess.run(
        [SYSTEM_PYTHON, str(CLIENTS / "ops.py"), json.dumps({"url": url, "ops": ops})],
        capture_output=True, text=True, timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"ops.py failed ({out.returncode}): {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def spawn_ops(url: str, ops: list) -> subprocess.Popen:
    """Start ``clients/ops.py`` without waiting (for kills and restarts); line-buffered stdout."""
    return subprocess.Popen(
        [SYSTEM_PYTHON, str(CLIENTS / "ops.py"), json.dumps({"url": url, "ops": ops})],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )


def read_line(proc: subprocess.Popen, want: str, seconds: float = 20) -> dict:
    """The next JSON line of ``proc`` whose ``event`` is ``want`` (a driver's progress mark)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"client ended before {want!r}: {proc.stderr.read()[-2000:]}")
        msg = json.loads(line)
        if msg.get("event") == want:
            return msg
    raise TimeoutError(want)


def xrdcp(src: str, dst: str, check: bool = True) -> subprocess.CompletedProcess:
    """``xrdcp -s -f SRC DST``."""
    return subprocess.run(["xrdcp", "-s", "-f", src, dst], check=check, timeout=60, capture_output=True)


def curl(*args: str) -> subprocess.CompletedProcess:
    """``curl -sS`` with ``args``; fails on an HTTP error."""
    return subprocess.run(["curl", "-sS", "--fail", *args], check=True, timeout=60, capture_output=True)


# ---- the comparison ------------------------------------------------------------------


Row = tuple[str, int, int, int, Ended]  # path, read (single), readv, write, ended


def row(r: TransferRecord) -> Row:
    """What a case compares of a record."""
    return (r.file_lfn, r.read_single_bytes, r.read_vector_bytes, r.write_bytes, r.ended)


def describe(recs: list[TransferRecord]) -> str:
    """Records as lines, for failure messages."""
    return "\n".join(
        f"  {r.file_lfn} read={r.read_single_bytes} readv={r.read_vector_bytes} write={r.write_bytes} "
        f"ended={r.ended.value} source={r.source} client={r.client_ip} proto={r.protocol} lost={r.lost_packets_around} "
        f"id={getattr(r, 'record_id', '')} rev={getattr(r, 'revision', '')} t_read={getattr(r, 't_read_bytes', '')} t_write={getattr(r, 't_write_bytes', '')}"
        for r in recs
    ) or "  (none)"


def final_records(recs: list[TransferRecord]) -> list[TransferRecord]:
    """One record per transfer (``collector.current_records``: the highest ``revision`` of
    each ``record_id``), plus every record that repeats a revision already seen: that is two
    records of one transfer, kept so that the comparison fails on it."""
    seen: set[tuple[str, int]] = set()
    extra = []
    for r in recs:
        key = (r.record_id, r.revision)
        if r.record_id and key in seen:
            extra.append(r)
        seen.add(key)
    return current_records(recs) + extra


def await_records(mon: LiveCollector, expected: list[Row], seconds: float = 15, settle: float = 2.5) -> list[TransferRecord]:
    """Wait until at least as many transfers of the expected paths as expected rows arrived,
    then ``settle`` seconds more (a duplicate or a revision comes within a flush or two);
    every record of those paths (all revisions)."""
    paths = {e[0] for e in expected}
    wait_for(lambda: len(final_records(mon.records(paths))) >= len(expected), seconds)
    time.sleep(settle)
    return mon.records(paths)


def assert_records(mon: LiveCollector, expected: list[Row], recs: list[TransferRecord] | None = None, exclusive: bool = False) -> list[TransferRecord]:
    """The transfers (last revisions) of the expected paths are exactly ``expected`` (as a
    multiset), and the collector counted no lost, duplicated or malformed datagram.
    ``exclusive`` (a private collector): no record of any other path either (a CLOSE
    without OPEN has no path). Returns the last revisions."""
    if recs is None:
        recs = await_records(mon, expected)
    if exclusive:
        paths = {e[0] for e in expected}
        others = [r for r in mon.records() if r.file_lfn not in paths]
        assert not others, f"records of no expected path:\n{describe(others)}\nof the expected paths:\n{describe(recs)}"
    finals = final_records(recs)
    got = sorted(map(row, finals), key=repr)
    assert got == sorted(expected, key=repr), f"records:\n{describe(recs)}\nexpected:\n" + "\n".join(f"  {e}" for e in expected)
    assert_clean(mon)
    return finals


def assert_clean(mon: LiveCollector) -> None:
    """Zero lost / duplicated / malformed datagrams in ``collector.report()``."""
    report = mon.live_report()
    bad = [g for g in report.groups if g.lost or g.duplicated or g.malformed]
    assert not bad, f"collector report: {report.totals()}"


def t_totals(mon: LiveCollector, file_id: int) -> dict:
    """What the raw t-stream datagrams say of one file dictid: summed READ/WRITE entries,
    readv totals and the CLOSE entry's totals (evidence for failure messages)."""
    from xrdsim.wire import TraceClose, TraceIO, TracePacket, TraceReadv

    out = {"io_read": 0, "io_readv": 0, "io_write": 0, "close_read": None, "close_write": None}
    for _t, _src, payload in list(mon.raw):
        if payload[:1] != b"t":
            continue
        pkt = decode(payload)
        if not isinstance(pkt, TracePacket):
            continue
        for e in pkt.entries:
            if isinstance(e, TraceIO) and e.file_id == file_id:
                out["io_write" if e.is_write else "io_read"] += e.nbytes
            elif isinstance(e, TraceReadv) and e.file_id == file_id:
                out["io_readv"] += e.total
            elif isinstance(e, TraceClose) and e.file_id == file_id:
                out["close_read"], out["close_write"] = e.read_bytes, e.write_bytes
    return out


def mismatches(mon: LiveCollector, rec: TransferRecord) -> list:
    """The anomalies saying that the f and t sides of ``rec``'s file disagree
    (``stream_mismatch``, or ``io_mismatch`` where the collector has that kind)."""
    from collector import Anomaly

    return [
        e for e in mon.events()
        if type(e) is Anomaly and e.anomaly.value in ("stream_mismatch", "io_mismatch") and e.file_dictid == rec.file_dictid and e.server_key == rec.server_key
    ]
