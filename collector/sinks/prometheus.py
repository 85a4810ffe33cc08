"""The Prometheus text endpoint: collector metrics (datagrams, records by ended, loss per
counter group and per server host, table sizes, UDP socket figures), data metrics (bytes by
site, VO, direction) and process metrics; the names are listed in docs/deploy.md.

The collector's thread renders the report (``publish``); one selector thread serves it with
a per-connection deadline and a cap on open connections, so a slow or hostile client can
neither hold a thread nor keep a scrape out. Only one string is shared between the threads.
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Mapping

from collector.records import Event, TransferRecord
from collector.report import CollectorReport

if TYPE_CHECKING:
    from collector.core import Collector

_OUTCOMES = ("received", "lost", "duplicated", "reordered", "late", "malformed", "copies")
#: ``report.io`` keys that are numbers, each its own family: (name, type, help).
_IO_FAMILIES = {
    "rcvbuf_requested": ("udp_receive_buffer_requested_bytes", "gauge", "UDP receive buffer asked of the kernel per socket."),
    "rcvbuf_granted": ("udp_receive_buffer_bytes", "gauge", "UDP receive buffer the kernel granted (smallest over the sockets)."),
    "kernel_drops": ("udp_kernel_drops_total", "counter", "Datagrams the kernel dropped on our sockets (receive buffer full)."),
    "internal_errors": ("internal_errors_total", "counter", "Datagrams whose handling hit a collector bug (counted, logged once)."),
    "shoveler_bad_lines": ("shoveler_bad_lines_total", "counter", "Shoveler JSON lines that could not be read."),
}
OTHER_HOSTS = "*"  # the aggregate row of every counter group not of a server currently held


def _esc(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: object) -> str:
    return "{" + ",".join(f'{k}="{_esc(v)}"' for k, v in labels.items()) + "}"


def _family(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> list[str]:
    lines = [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
    lines.extend(f"{name}{labels} {value}" for labels, value in samples)
    return lines


class DataMetrics:
    """Transfer bytes and counts by (site, VO, direction), fed by records."""

    def __init__(self) -> None:
        self.bytes: Counter[tuple[str, str, str]] = Counter()
        self.transfers: Counter[tuple[str, str]] = Counter()

    def write(self, events: list[Event]) -> None:
        """Count the transfer records among ``events``."""
        for ev in events:
            if type(ev) is TransferRecord:
                self.transfers[(ev.site, ev.vo)] += 1
                self.bytes[(ev.site, ev.vo, "read")] += ev.read_bytes
                self.bytes[(ev.site, ev.vo, "write")] += ev.write_bytes


def held_hosts(collector: Collector) -> dict[str, str]:
    """Server identity → ``host`` label for every incarnation ``collector`` holds now: the
    host name of its ident, else its identity (server id or sender IP)."""
    return {s.identity: s.host or s.identity for s in collector.tables.servers.values()}


def host_totals(report: CollectorReport, held: Mapping[str, str]) -> dict[str, tuple[int, int]]:
    """(received, lost) per ``host`` label: held servers by name — their ended incarnations
    included, so a restart does not reset the series — and everything else under ``*``."""
    out: dict[str, tuple[int, int]] = {OTHER_HOSTS: (0, 0)}
    for row in report.groups:
        identity, sep, _stod = row.server_key.rpartition("#")
        host = held.get(identity, OTHER_HOSTS) if sep else OTHER_HOSTS
        received, lost = out.get(host, (0, 0))
        out[host] = (received + row.received, lost + row.lost)
    return out


def render_metrics(report: CollectorReport, data: DataMetrics | None = None, held: Mapping[str, str] | None = None) -> str:
    """The exposition text of one report (and the data metrics, when given); ``held`` maps
    the identities of the servers held now to their ``host`` label (``held_hosts``)."""
    p = "xrdsim_collector_"
    lines = _family(p + "datagrams_total", "counter", "Datagrams fed.", [("", report.datagrams)])
    lines += _family(p + "stale_datagrams_total", "counter", "Datagrams of replaced incarnations.", [("", report.stale)])
    lines += _family(p + "events_total", "counter", "Events emitted by kind.", [(_labels(kind=k), v) for k, v in sorted(report.events.items())])
    lines += _family(p + "records_total", "counter", "Transfer records by how they ended.", [(_labels(ended=k), v) for k, v in sorted(report.records_by_ended.items())])
    totals = sorted(report.totals().items())
    groups = [(_labels(group=g, outcome=o), row[o]) for g, row in totals for o in _OUTCOMES]
    lines += _family(p + "group_datagrams_total", "counter", "Datagrams per counter group and outcome (lost: pseq gaps; copies: f packets also delivered by another destination).", groups)
    lines += _family(p + "group_pending_datagrams", "gauge", "pseq gaps still inside the reorder window per counter group.", [(_labels(group=g), row["pending"]) for g, row in totals])
    hosts = sorted(host_totals(report, held or {}).items())
    lines += _family(p + "host_received_datagrams_total", "counter", "Distinct datagrams received per server host (* = servers not held now).", [(_labels(host=h), r) for h, (r, _) in hosts])
    lines += _family(p + "host_lost_datagrams_total", "counter", "Datagrams estimated lost from pseq gaps per server host (* = servers not held now).", [(_labels(host=h), n) for h, (_, n) in hosts])
    lines += _family(p + "malformed_total", "counter", "Malformed datagrams.", [("", report.malformed)])
    lines += _family(p + "table_entries", "gauge", "Entries per state table.", [(_labels(table=k), v) for k, v in report.tables.items()])
    lines += _family(p + "evicted_total", "counter", "Entries evicted per table.", [(_labels(table=k), v) for k, v in report.evicted.items()])
    lines += _io_lines(report.io)
    if data is not None:
        lines += _family("xrdsim_transfer_bytes_total", "counter", "Bytes in transfer records.", [(_labels(site=s, vo=v, direction=d), n) for (s, v, d), n in sorted(data.bytes.items())])
        lines += _family("xrdsim_transfers_total", "counter", "Transfer records.", [(_labels(site=s, vo=v), n) for (s, v), n in sorted(data.transfers.items())])
    return "\n".join(lines) + "\n"


def _io_lines(io: Mapping[str, object]) -> list[str]:
    """One named family per source figure: the old ``io{key}`` mixed bytes with counts."""
    lines: list[str] = []
    for key, (name, kind, help_text) in _IO_FAMILIES.items():
        value = io.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            lines += _family("xrdsim_collector_" + name, kind, help_text, [("", value)])
    sockets = str(io.get("udp_sockets") or "").split()
    if sockets:
        lines += _family("xrdsim_collector_udp_socket_info", "gauge", "One per bound UDP socket.", [(_labels(address=a), 1) for a in sockets])
    return lines


_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_IMPORTED = time.time()


def _proc_start_time() -> float:
    """Seconds since the epoch at which this process started: /proc's start tick plus the
    boot time; where /proc is absent, the time this module was imported."""
    try:
        with open("/proc/self/stat") as fh:
            ticks = int(fh.read().rpartition(")")[2].split()[19])  # field 22; comm may hold spaces
        with open("/proc/stat") as fh:
            btime = next(int(line.split()[1]) for line in fh if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED
    return btime + ticks / _CLK_TCK


_START_TIME = _proc_start_time()


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize()
    except (OSError, ValueError, IndexError):
        return None


def _open_fds() -> int | None:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return None


def render_process_metrics() -> str:
    """The ``process_*`` families of the Prometheus client libraries, from /proc and
    ``resource``; a figure the platform does not give is left out."""
    cpu = os.times()
    lines = _family("process_cpu_seconds_total", "counter", "User and system CPU time spent.", [("", round(cpu.user + cpu.system, 3))])
    lines += _family("process_start_time_seconds", "gauge", "Start time of the process since the epoch.", [("", round(_START_TIME, 2))])
    lines += _family("process_max_fds", "gauge", "Limit on open file descriptors.", [("", resource.getrlimit(resource.RLIMIT_NOFILE)[0])])
    for name, help_text, value in (("process_resident_memory_bytes", "Resident memory size.", _rss_bytes()), ("process_open_fds", "Open file descriptors.", _open_fds())):
        if value is not None:
            lines += _family(name, "gauge", help_text, [("", value)])
    return "\n".join(lines) + "\n"


@dataclass(slots=True)
class HttpStats:
    """What the endpoint did: requests by status, connections it closed early."""

    requests: Counter[int] = field(default_factory=lambda: Counter({200: 0}))  # a scrape sees its own series from the first one
    dropped: int = 0  # closed because ``max_connections`` were open (the oldest goes)
    timed_out: int = 0  # closed at the deadline before the response was sent
    open: int = 0

    def render(self) -> str:
        """Its exposition text."""
        p = "xrdsim_collector_http_"
        lines = _family(p + "requests_total", "counter", "Requests to the metrics endpoint by status code.", [(_labels(code=c), n) for c, n in sorted(self.requests.items())])
        lines += _family(p + "dropped_connections_total", "counter", "Connections closed because the connection cap was reached (oldest first).", [("", self.dropped)])
        lines += _family(p + "timed_out_connections_total", "counter", "Connections closed at the per-connection deadline.", [("", self.timed_out)])
        lines += _family(p + "open_connections", "gauge", "Connections open now.", [("", self.open)])
        return "\n".join(lines) + "\n"


@dataclass(slots=True)
class _Conn:
    sock: socket.socket
    deadline: float
    inbuf: bytes = b""
    out: memoryview | None = None  # what is left to send of the response, once the request is complete


_MAX_REQUEST = 8192  # a scrape's request head is a few hundred bytes
_STATUS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large"}


def response(request_head: bytes | None, body: Callable[[], bytes]) -> tuple[int, bytes]:
    """(status, bytes on the wire) for one request head (None: it grew past the limit);
    only GET or HEAD of /metrics is 200, and ``body`` is called only then."""
    parts = request_head.split(b"\r\n", 1)[0].split() if request_head is not None else []
    if request_head is None:
        status, payload = 431, b""
    elif len(parts) != 3 or not parts[2].startswith(b"HTTP/"):
        status, payload = 400, b""
    elif parts[0] not in (b"GET", b"HEAD"):
        status, payload = 405, b""
    elif parts[1].split(b"?", 1)[0] != b"/metrics":
        status, payload = 404, b"see /metrics\n"
    else:
        status, payload = 200, body()
    head = (
        f"HTTP/1.1 {status} {_STATUS[status]}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
    )
    return status, head.encode() + (b"" if parts[:1] == [b"HEAD"] else payload)


class MetricsServer:
    """Serves ``/metrics`` on ``(host, port)`` from one daemon thread; also a sink for the
    data metrics. ``publish(report)`` replaces the text served.

    An empty ``host`` means 127.0.0.1: the endpoint is for a local scraper unless asked to
    face a network (``0.0.0.0``, ``::``). Each connection must deliver its request and take
    its response within ``timeout_s``; beyond ``max_connections`` open ones the oldest is
    closed, so a flood of half-open connections costs no thread and cannot keep a scrape out.
    ``collector``, when given, names the servers it holds in the per-host loss metrics.
    """

    def __init__(self, host: str, port: int, collector: Collector | None = None, *, max_connections: int = 64, timeout_s: float = 5.0) -> None:
        self.data = DataMetrics()
        self.stats = HttpStats()
        self.collector = collector
        self.max_connections, self.timeout_s = max_connections, timeout_s
        self._text = b""
        self._published = 0.0
        self._conns: dict[int, _Conn] = {}
        self._listener = _listen(host or "127.0.0.1", port)
        self._wake_r, self._wake_w = socket.socketpair()
        self._stopping = False
        self._sel = selectors.DefaultSelector()
        self._sel.register(self._listener, selectors.EVENT_READ)
        self._sel.register(self._wake_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._serve, name="metrics", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        return self._listener.getsockname()[:2]  # type: ignore[no-any-return]

    def write(self, events: list[Event]) -> None:
        """Count data metrics from records."""
        self.data.write(events)

    def publish(self, report: CollectorReport, held: Mapping[str, str] | None = None) -> None:
        """Render and serve ``report`` (call it from the collector's thread); ``held``: the
        hosts of the servers held now, when they are not ``collector``'s (several workers)."""
        if held is None and self.collector is not None:
            held = held_hosts(self.collector)
        self._text = render_metrics(report, self.data, held).encode()
        self._published = time.time()

    def body(self) -> bytes:
        """What a scrape returns now: the last report, the endpoint's and the process's figures."""
        last = _family("xrdsim_collector_last_publish_timestamp_seconds", "gauge", "When the collector last published its report (0: never).", [("", round(self._published, 3))])
        return self._text + ("\n".join(last) + "\n" + self.stats.render() + render_process_metrics()).encode()

    def close(self) -> None:
        """Stop serving and close every socket (again: nothing)."""
        if self._stopping:
            return
        self._stopping = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        for conn in list(self._conns.values()):
            self._drop(conn)
        self._sel.close()
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def _serve(self) -> None:
        while not self._stopping:
            deadlines = [c.deadline for c in self._conns.values()]
            wait = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            for key, mask in self._sel.select(wait):
                if key.fileobj is self._listener:
                    self._accept()
                elif key.fileobj is not self._wake_r:
                    self._step(key.data, mask)
            self._expire(time.monotonic())

    def _accept(self) -> None:
        for _ in range(self.max_connections):  # bounded, so one burst cannot starve the others
            try:
                sock, _addr = self._listener.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # e.g. EMFILE: leave it in the backlog for later
                return
            if len(self._conns) >= self.max_connections:
                self.stats.dropped += 1
                self._drop(min(self._conns.values(), key=lambda c: c.deadline))
            sock.setblocking(False)
            conn = _Conn(sock, time.monotonic() + self.timeout_s)
            self._conns[sock.fileno()] = conn
            self._sel.register(sock, selectors.EVENT_READ, conn)
            self.stats.open = len(self._conns)

    def _step(self, conn: _Conn, mask: int) -> None:
        try:
            if conn.out is None and mask & selectors.EVENT_READ:
                self._read(conn)
            elif conn.out is not None and mask & selectors.EVENT_WRITE:
                conn.out = conn.out[conn.sock.send(conn.out):]
                if not conn.out:
                    self._drop(conn)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # reset by the peer
            self._drop(conn)

    def _read(self, conn: _Conn) -> None:
        chunk = conn.sock.recv(4096)
        if not chunk:
            self._drop(conn)
            return
        conn.inbuf += chunk
        end = conn.inbuf.find(b"\r\n\r\n")
        if end < 0 and len(conn.inbuf) <= _MAX_REQUEST:
            return
        status, reply = response(conn.inbuf[:end] if end >= 0 else None, self.body)
        conn.out = memoryview(reply)  # slices of a view: a partial send copies nothing
        self.stats.requests[status] += 1
        self._sel.modify(conn.sock, selectors.EVENT_WRITE, conn)

    def _expire(self, now: float) -> None:
        for conn in [c for c in self._conns.values() if c.deadline <= now]:
            self.stats.timed_out += 1
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        if self._conns.pop(conn.sock.fileno(), None) is not None:
            self._sel.unregister(conn.sock)
        conn.sock.close()
        self.stats.open = len(self._conns)


def _listen(host: str, port: int) -> socket.socket:
    """A non-blocking listening TCP socket (IPv6 when ``host`` has a colon)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart rebinds while old connections linger
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock
