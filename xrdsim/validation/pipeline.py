"""``validate(capture, options)``: a site's own capture through the reference collector, its
monitored bytes against the TCP payload of the data ports (same capture, or another) or
against interface counters, plus configuration findings. Times each phase; writes nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path

from collector import Collector, CollectorReport, SummarySample, TransferRecord
from collector.run import run_offline
from collector.sinks import MemorySink
from replay import CaptureStats, Listener, TcpScan, read_datagrams, scan_tcp
from xrdsim.counters import read_counters
from xrdsim.score import Bins
from xrdsim.validation.compare import compare, server_label, verdicts
from xrdsim.validation.findings import (
    capture_findings,
    collector_findings,
    network_findings,
    server_findings,
    volume_findings,
)
from xrdsim.validation.network import (
    NetworkSide,
    ValidationInputError,
    counters_side,
    tcp_side,
)
from xrdsim.validation.ports import assign_ports
from xrdsim.validation.probe import MonitoringProbe
from xrdsim.validation.result import ValidateOptions, Validation
from xrdsim.validation.servers import ServerFacts, group_servers


def _file(path: str, what: str) -> str:
    if not Path(path).is_file():
        raise ValidationInputError(f"{path}: no such {what}")
    return path


def make_bins(start: float, end: float, width_s: float) -> Bins:
    """Bins of ``width_s`` aligned on multiples of it (as ``count_tcp_payload``'s) covering [start, end]."""
    t0 = math.floor(start / width_s) * width_s
    return Bins(t0, width_s, max(1, math.floor(end / width_s) - math.floor(start / width_s) + 1))


def data_ports(servers: Sequence[ServerFacts], given: Sequence[int], records: Sequence[TransferRecord] = (),
               listeners: Sequence[Listener] = ()) -> dict[int, str]:
    """Port → where it came from: ``--data-port``, else the idents (and summary sources) of the
    xrootd servers and the ports of other protocols learned from ``records`` and ``listeners``
    (see ``xrdsim.validation.ports``); sets each server's ``protocols``."""
    records_of: dict[str, list[TransferRecord]] = {}
    for rec in records:
        records_of.setdefault(server_label(rec, servers), []).append(rec)
    return assign_ports(servers, records_of, listeners, given)


def _collect(capture: str, options: ValidateOptions, probe: MonitoringProbe, stats: CaptureStats,
             tcp: TcpScan | None) -> tuple[MemorySink, CollectorReport]:
    sink = MemorySink()
    datagrams = read_datagrams(capture, ports=options.monitor_ports or None, stats=stats, tcp=tcp)
    report = run_offline(probe.items(datagrams), Collector(options.collector), sink)
    if not probe.datagrams:
        ports = ", ".join(map(str, sorted(probe.other_udp))) or "none"
        raise ValidationInputError(f"{capture}: no XRootD monitoring in the capture: {stats.udp} UDP datagrams to port(s) {ports}, "
                                   f"none decodes as monitoring{_cut(stats)}")  # fmt: skip
    return sink, report


def _cut(stats: CaptureStats) -> str:
    """A hint for messages when the snap length cut monitoring datagrams."""
    return f"; {stats.truncated} UDP datagrams were cut by the snap length (capture with -s 0)" if stats.truncated else ""


def _tcp(capture: str, options: ValidateOptions, servers: Sequence[ServerFacts], ports: dict[int, str],
         span: tuple[float, float], stats: CaptureStats, scan: TcpScan) -> tuple[NetworkSide, Bins, float | None]:
    source = _tcp_source(capture, options)
    if not ports:
        raise ValidationInputError(f"{capture}: no data port known: no `=` ident or summary report names one; "
                                   f"give --data-port (or --counters){_cut(stats)}")  # fmt: skip
    acct = scan.accounting(set(ports))
    if not acct.tcp:
        listed = ", ".join(map(str, sorted(ports)))
        raise ValidationInputError(f"{source}: no TCP segment to or from data port(s) {listed}: capture with "
                                   f"'or tcp port {min(ports)}', or give --tcp FILE or --counters")  # fmt: skip
    times = [t for e in acct.endpoints for t, _ in e.bins]
    bins = make_bins(min(span[0], *times), max(span[1], *times), options.bin_s)
    return tcp_side(acct, servers, bins, source, ports), bins, acct.first_t


def _tcp_source(capture: str, options: ValidateOptions) -> str:
    return _file(options.tcp_capture, "capture") if options.tcp_capture else capture


def _counters(options: ValidateOptions, servers: Sequence[ServerFacts], span: tuple[float, float]) -> tuple[NetworkSide, Bins, None]:
    table = read_counters(_file(options.counters or "", "counters file"))
    bins = make_bins(*span, options.bin_s)
    return counters_side(table, servers, bins, span, options.overhead, options.interfaces or None), bins, None


def _servers_of(side: NetworkSide, subject: str) -> list[str]:
    return next((s.servers for s in side.subjects if s.label == subject), [])


def validate(capture: str | Path, options: ValidateOptions | None = None, name: str | None = None) -> Validation:
    """Validate the monitoring in ``capture`` against its network side.

    >>> v = validate("mon.pcap", ValidateOptions(data_ports=(1094,)))  # doctest: +SKIP
    >>> v.passed, [(c.subject, c.direction.value, round(c.ratio, 4)) for c in v.comparisons]  # doctest: +SKIP
    (True, [('xrootd-01:1094', 'in', 0.9989), ('xrootd-01:1094', 'out', 0.9991)])

    Raises ReplayInputError for a capture that cannot be read, CountersInputError for a bad
    counters file, ValidationInputError for a capture without monitoring, data port or TCP.
    """
    options = options or ValidateOptions()
    capture = _file(str(capture), "capture")
    phases: dict[str, float] = {}
    start = time.perf_counter()
    probe, stats = MonitoringProbe(), CaptureStats()
    # The TCP side comes from the same read as the monitoring, unless it is in a file of its own.
    scan = TcpScan(options.bin_s) if not options.counters and not options.tcp_capture else None
    sink, report = _collect(capture, options, probe, stats, scan)
    servers = group_servers(probe.sockets.values())
    span = (probe.first_t or 0.0, probe.last_t or 0.0)
    phases["collect"] = time.perf_counter() - start
    start = time.perf_counter()
    if scan is None and not options.counters:
        scan = scan_tcp(_tcp_source(capture, options), options.bin_s)
    listeners = scan.listeners() if scan is not None else ()
    ports = data_ports(servers, options.data_ports, sink.records, listeners)
    side, bins, tcp_start = (_counters(options, servers, span) if scan is None
                             else _tcp(capture, options, servers, ports, span, stats, scan))
    phases["network"] = time.perf_counter() - start
    samples = [e for e in sink.events if type(e) is SummarySample]
    capture_start = min(t for t in (probe.first_t, tcp_start) if t is not None) if probe.first_t is not None else tcp_start
    comparisons = compare(side, sink.records, samples, servers, bins, capture_start)
    active = {label for c in comparisons if c.has_traffic for label in _servers_of(side, c.subject)}
    findings = (capture_findings(stats, dict(probe.other_udp)) + server_findings(servers, span[1] - span[0], active)
                + collector_findings(report, servers) + volume_findings(comparisons, sink.records, servers, options.allowance)
                + network_findings(side))  # fmt: skip
    labels = {f"{ip}:{port}": s.label for s in servers for ip, port in (k.address for k in s.sockets)}
    return Validation(name or Path(capture).stem, capture, options, side.method, bins, servers, comparisons,
                      verdicts(comparisons, options.tolerance, options.allowance), findings, sink.records, report, stats, ports,
                      labels, span, phases)  # fmt: skip


__all__ = ["data_ports", "make_bins", "validate"]
