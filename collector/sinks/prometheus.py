"""The Prometheus text endpoint: collector metrics (datagrams, records by ended, loss per
counter group, malformed, table sizes) and data metrics (bytes by site, VO, direction).

The HTTP thread only serves the last published text; the collector's thread renders it
(``publish``), so no state is shared with the server thread but one string.
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from collector.records import Event, TransferRecord
from collector.report import CollectorReport

_OUTCOMES = ("received", "lost", "duplicated", "reordered", "late", "malformed", "copies")


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


def render_metrics(report: CollectorReport, data: DataMetrics | None = None) -> str:
    """The exposition text of one report (and the data metrics, when given)."""
    p = "xrdsim_collector_"
    lines = _family(p + "datagrams_total", "counter", "Datagrams fed.", [("", report.datagrams)])
    lines += _family(p + "stale_datagrams_total", "counter", "Datagrams of replaced incarnations.", [("", report.stale)])
    lines += _family(p + "events_total", "counter", "Events emitted by kind.", [(_labels(kind=k), v) for k, v in sorted(report.events.items())])
    lines += _family(p + "records_total", "counter", "Transfer records by how they ended.", [(_labels(ended=k), v) for k, v in sorted(report.records_by_ended.items())])
    groups = [(_labels(group=g, outcome=o), row[o]) for g, row in sorted(report.totals().items()) for o in _OUTCOMES]
    lines += _family(p + "group_datagrams_total", "counter", "Datagrams per counter group and outcome (lost: pseq gaps; copies: f packets also delivered by another destination).", groups)
    lines += _family(p + "malformed_total", "counter", "Malformed datagrams.", [("", report.malformed)])
    lines += _family(p + "table_entries", "gauge", "Entries per state table.", [(_labels(table=k), v) for k, v in report.tables.items()])
    lines += _family(p + "evicted_total", "counter", "Entries evicted per table.", [(_labels(table=k), v) for k, v in report.evicted.items()])
    io = [(_labels(key=k), v) for k, v in report.io.items() if isinstance(v, (int, float))]
    lines += _family(p + "io", "gauge", "Source figures (receive buffer, kernel drops).", io)
    if data is not None:
        lines += _family("xrdsim_transfer_bytes_total", "counter", "Bytes in transfer records.", [(_labels(site=s, vo=v, direction=d), n) for (s, v, d), n in sorted(data.bytes.items())])
        lines += _family("xrdsim_transfers_total", "counter", "Transfer records.", [(_labels(site=s, vo=v), n) for (s, v), n in sorted(data.transfers.items())])
    return "\n".join(lines) + "\n"


class _Http6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


class MetricsServer:
    """Serves ``/metrics`` on ``(host, port)`` from a daemon thread; also a sink for the
    data metrics. ``publish(report)`` replaces the text served."""

    def __init__(self, host: str, port: int) -> None:
        self.data = DataMetrics()
        self._text = b""
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = owner._text
                self.send_response(200 if self.path.startswith("/metrics") else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return None

        server_class = _Http6 if ":" in host else ThreadingHTTPServer
        self._http = server_class((host, port), Handler)
        self._http.daemon_threads = True
        self._thread = threading.Thread(target=self._http.serve_forever, name="metrics", daemon=True)
        self._thread.start()

    @property
    def address(self) -> tuple[str, int]:
        """The bound (host, port)."""
        return self._http.server_address[:2]  # type: ignore[return-value]

    def write(self, events: list[Event]) -> None:
        """Count data metrics from records."""
        self.data.write(events)

    def publish(self, report: CollectorReport) -> None:
        """Render and serve ``report``."""
        self._text = render_metrics(report, self.data).encode()

    def close(self) -> None:
        """Stop serving."""
        self._http.shutdown()
        self._http.server_close()
