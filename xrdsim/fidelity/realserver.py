"""A real local ``xrootd`` started with a scenario's monitoring configuration, and the UDP
sockets that listen to it (one per ``dest``, one for ``xrd.report``) on loopback.

Owns processes, sockets and the scratch directory; never decodes or compares.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from xrdsim.errors import UserError
from xrdsim.sim import MonitorConfig, ReportConfig

LOOPBACK = "127.0.0.1"
#: Debian's server refuses to run as root; it drops to this user (``-R``).
RUN_AS = "xrootd"


class RealServerError(UserError):
    """The real server cannot be started here (binary missing, config refused): one line."""


@dataclass(slots=True)
class Capture:
    """Datagrams received, as (arrival time, socket index, payload); index ``len(dests)`` is
    the summary socket."""

    items: list[tuple[float, int, bytes]] = field(default_factory=list)


class Listener:
    """UDP sockets on loopback, read by one thread into a ``Capture``."""

    def __init__(self, count: int) -> None:
        self.socks = []
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((LOOPBACK, 0))
            s.settimeout(0.1)
            self.socks.append(s)
        self.ports = [s.getsockname()[1] for s in self.socks]
        self.capture = Capture()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        import selectors

        sel = selectors.DefaultSelector()
        for i, s in enumerate(self.socks):
            sel.register(s, selectors.EVENT_READ, i)
        while not self._stop.is_set():
            for key, _ in sel.select(0.1):
                try:
                    payload = key.fileobj.recv(65536)  # type: ignore[union-attr]
                except OSError:
                    continue
                self.capture.items.append((time.time(), key.data, payload))

    def close(self) -> Capture:
        """Stop listening; everything received."""
        self._stop.set()
        self._thread.join(5)
        for s in self.socks:
            s.close()
        return self.capture


def _secs(value: float) -> str:
    return f"{max(1, int(round(value)))}s"


def monitor_directive(mon: MonitorConfig, ports: list[int]) -> str:
    """The ``xrootd.monitor`` line of ``mon`` with its dests on loopback ``ports``."""
    parts = ["xrootd.monitor"]
    parts += ["all"] if mon.all else []
    parts += ["auth"] if mon.auth else []
    parts += ["flush", _secs(mon.flush_s)]
    if mon.flush_io_s > 0:
        parts += ["flush", "io", _secs(mon.flush_io_s)]
    parts += ["window", _secs(mon.window_s)]
    if mon.fstat_s > 0:
        parts += ["fstat", _secs(mon.fstat_s)] + [k for k in ("lfn", "ops", "ssq") if getattr(mon, k)]
        parts += ["xfr", str(mon.xfr)] if mon.xfr else []
    parts += ["fbsz", str(mon.fbuff_bytes), "mbuff", str(mon.mbuff_bytes), "rbuff", str(mon.rbuff_bytes), "rnums", str(mon.rnums)]
    parts += ["ident", "off" if mon.ident_s < 0 else _secs(mon.ident_s) if mon.ident_s > 0 else "0s"]
    for dest, port in zip(mon.dests, ports):
        events = [getattr(e, "value", e) for e in dest.events] or ["files"]
        parts += ["dest", *events, f"{LOOPBACK}:{port}"]
    return " ".join(parts)


def report_directive(rep: ReportConfig, port: int) -> str:
    """The ``xrd.report`` line (every block, ``sync`` as configured)."""
    return f"xrd.report {LOOPBACK}:{port} every {_secs(rep.every_s)} all{' sync' if rep.sync else ''}"


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port free on ``host`` now (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    """Whether something accepts TCP on ``port`` of loopback (IPv4 or IPv6)."""
    for family, host in ((socket.AF_INET, LOOPBACK), (socket.AF_INET6, "::1")):
        with socket.socket(family) as s:
            if s.connect_ex((host, port)) == 0:
                return True
    return False


def wait_for(predicate, seconds: float, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``seconds`` passed; its last verdict."""
    deadline = time.monotonic() + seconds
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return bool(predicate())
        time.sleep(step)


def own(path: Path) -> None:
    """Give ``path`` to the server's user when we run as root (the server drops to it)."""
    if os.geteuid() == 0:
        shutil.chown(path, RUN_AS, RUN_AS)


def place_file(data: Path, lfn: str, content: bytes) -> None:
    """Write ``content`` at ``lfn`` under the data dir ``data``, owned by the server's user
    up to ``data`` (no monitoring traffic)."""
    full = data / lfn.lstrip("/")
    full.parent.mkdir(parents=True, exist_ok=True)
    full.write_bytes(content)
    for p in [full, *full.parents]:
        if p == data:
            break
        own(p)


def start_xrootd(cfg: Path, log: Path, err: Path) -> subprocess.Popen:
    """``xrootd -c cfg -l log`` (``-R xrootd`` as root, which it refuses to run as), its
    stderr into ``err``."""
    cmd = ["xrootd", "-c", str(cfg), "-l", str(log)]
    if os.geteuid() == 0:
        cmd[1:1] = ["-R", RUN_AS]
    with open(err, "wb") as out:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=out)


def stop_process(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Send ``sig`` (SIGTERM by default), then SIGKILL after 5 s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def log_tail(paths: list[Path], chars: int) -> str:
    """The end of the first of ``paths`` that has anything in it (log, then stderr)."""
    for p in paths:
        if p.exists() and p.stat().st_size:
            return p.read_text(errors="replace")[-chars:]
    return ""


class RealServer:
    """One ``xrootd`` (xroot port, optionally XrdHttp) in a scratch dir the ``xrootd`` user owns."""

    def __init__(self, site: str, directives: list[str], http: bool, extra: str = "") -> None:
        missing = [b for b in ("xrootd",) if not shutil.which(b)]
        if missing:
            raise RealServerError("xrootd is not installed (Debian: apt-get install xrootd-server xrootd-client)")
        self.root = Path(tempfile.mkdtemp(prefix="xrdsim-fidelity-"))
        os.chmod(self.root, 0o777)
        self.data = self.root / "data"
        self.data.mkdir()
        own(self.data)
        self.port = free_port()
        self.http_port = free_port() if http else None
        cfg = f"all.export /\noss.localroot {self.data}\nxrd.port {self.port}\nall.sitename {site}\n"
        if self.http_port:
            cfg += f"xrd.protocol XrdHttp:{self.http_port} libXrdHttp.so\n"
        self.config_text = cfg + "\n".join(directives) + "\n" + extra
        (self.root / "xrootd.cfg").write_text(self.config_text)
        self.proc: subprocess.Popen | None = None

    def put_file(self, lfn: str, data: bytes) -> None:
        """Place ``data`` at ``lfn`` in the data dir (no monitoring traffic)."""
        place_file(self.data, lfn, data)

    def start(self) -> None:
        """Start the process and wait until its ports listen."""
        self.proc = start_xrootd(self.root / "xrootd.cfg", self.root / "xrootd.log", self.root / "xrootd.err")
        ports = [self.port] + ([self.http_port] if self.http_port else [])
        if not wait_for(lambda: all(listening(p) for p in ports) or self.proc.poll() is not None, 15) or self.proc.poll() is not None:
            self.stop()
            raise RealServerError(f"xrootd did not start: {self.log_tail().strip().splitlines()[-1:] or ['no log']}")

    def url(self, lfn: str) -> str:
        """``root://`` URL of ``lfn``."""
        return f"root://{LOOPBACK}:{self.port}/{lfn}"

    def http_url(self, lfn: str) -> str:
        """``http://`` URL of ``lfn`` on the XrdHttp port."""
        return f"http://{LOOPBACK}:{self.http_port}{lfn}"

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log."""
        return log_tail([self.root / "xrootd.log", self.root / "xrootd.err"], chars)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        stop_process(self.proc)

    def cleanup(self) -> None:
        """Stop and remove the scratch dir."""
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


__all__ = ["Capture", "Listener", "RealServer", "RealServerError", "free_port", "listening", "log_tail", "monitor_directive", "own",
           "place_file", "report_directive", "start_xrootd", "stop_process", "wait_for"]
