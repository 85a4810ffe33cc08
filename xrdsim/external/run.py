"""One external-collector run: build the command, start it supervised, wait until it binds
its port, send it the datagrams wire-faithfully, wait until it consumed them all and went
quiet, read its loss estimate, stop it, and read its records through the adapter.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xrdsim.datagram import Datagram
from xrdsim.external.command import build_argv
from xrdsim.external.delivery import LOOPBACK, AddressPlan, Ports, Sender, Shows, free_tcp_port, free_udp_port, udp_bound, udp_queue
from xrdsim.external.errors import CollectorFailed, RecordsError
from xrdsim.external.lossmetric import EstimateRow, scrape
from xrdsim.external.records import ExternalRecords, read_records, window_misfits
from xrdsim.external.supervise import Supervisor, wait_ready
from xrdsim.external.tail import BusTail, FileTail, StreamTail, Tail
from xrdsim.scenario import CollectorChoice, RecordSource
from xrdsim.score.formats import Adapter, adapter
from xrdsim.sim import SimConfig

#: Records lying this far outside the run's time window are counted as misfits.
WINDOW_SLACK_S = 86_400.0


@dataclass(slots=True)
class ExternalRun:
    """What an external collector gave back, and how its run went."""

    records: ExternalRecords
    estimate: list[EstimateRow] | None
    sent: int
    dropped: int | None
    argv: list[str]
    log: Path
    records_path: Path
    notes: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """The run's facts for the report (``Collected.report["external"]``)."""
        return {"argv": self.argv, "log": str(self.log), "records_file": str(self.records_path), "datagrams_sent": self.sent,
                "datagrams_dropped_by_kernel": self.dropped, "lines_skipped": self.records.skipped,
                "loss_estimate": "per server" if self.estimate is not None else "none", "notes": self.notes}  # fmt: skip


def adapter_of(choice: CollectorChoice) -> Adapter:
    """The record adapter of a scenario's collector keys."""
    return adapter(choice.format, choice.fields, choice.units, choice.transforms, choice.layout_field, choice.layouts)


def plan_ports(choice: CollectorChoice, sim: SimConfig) -> Ports:
    """The detailed port (the scenario's ``collector.port``, else a free one) and, when the
    scenario's summary stream has a port of its own, a second free one for it."""
    dest_ports = {d.port for d in sim.monitor.dests} or {9930}
    summary_sim = sim.report.port if sim.report.host and sim.report.port not in dest_ports else 0
    detailed = choice.port or free_udp_port()
    summary = free_udp_port() if summary_sim else detailed
    while summary == detailed and summary_sim:
        summary = free_udp_port()
    return Ports(detailed, summary, summary_sim)


def _reads_bus(choice: CollectorChoice) -> bool:
    return bool(choice.records_exchange) or choice.records is RecordSource.AMQP


def _local_tail(choice: CollectorChoice, workdir: Path, out_path: Path, sup: Supervisor) -> Tail:
    """The tail of a file or of the collector's stdout (a bus tail is bound before it starts)."""
    if choice.records is RecordSource.STDOUT and sup.stdout is not None:
        return StreamTail(workdir / "external-stdout.jsonl", sup.stdout)
    return FileTail(out_path)


def _wait_done(sup: Supervisor, tail: Tail, ports: Ports, choice: CollectorChoice, sent: int) -> list[str]:
    """Until the collector consumed every datagram and wrote nothing for ``quiet_s``; at
    most ``grace_s``. Notes what cut the wait short."""
    deadline = time.monotonic() + choice.grace_s
    while time.monotonic() < deadline:
        sup.check_alive(f"after all {sent:,} datagrams were sent")
        if tail.error:
            break
        q = udp_queue({ports.detailed, ports.summary})
        consumed = q is None or q.queued == 0
        if consumed and time.monotonic() - max(tail.last_activity, tail.quiet_from) >= choice.quiet_s:
            return []
        time.sleep(0.05)
    return [f"the collector was still busy (unread datagrams or new output) after grace_s = {choice.grace_s:g} s; stopped anyway"]


def run_external(stream: Iterable[Datagram], choice: CollectorChoice, sim: SimConfig, t0: float, speed: float,
                 workdir: Path, progress: Shows) -> ExternalRun:
    """Run the scenario's external collector on ``stream`` and read back what it wrote."""
    adapt = adapter_of(choice)
    workdir.mkdir(parents=True, exist_ok=True)
    ports, out_path, log = plan_ports(choice, sim), workdir / "external-records.jsonl", workdir / "collector.log"
    out_path.unlink(missing_ok=True)  # a previous run's records must not be read as this one's
    metrics_port = free_tcp_port()
    values = {"host": LOOPBACK, "port": str(ports.detailed), "summary_port": str(ports.summary), "out": str(out_path),
              "metrics_port": str(metrics_port), "workdir": str(workdir)}  # fmt: skip
    argv = build_argv(choice.command, values, os.environ)
    bus = BusTail(out_path, choice.records_amqp, choice.records_exchange) if _reads_bus(choice) else None
    sup = Supervisor(argv, log, capture_stdout=choice.records is RecordSource.STDOUT)
    tail: Tail = bus or _local_tail(choice, workdir, out_path, sup)
    tail.start()
    plan = AddressPlan.probe()
    sender = Sender(ports, speed, plan, alive=lambda: sup.check_alive(f"after {sender.sent:,} datagrams"))
    notes: list[str] = []
    try:
        needed = {ports.detailed, ports.summary}
        wait_ready(sup, lambda: all(udp_bound(p) for p in needed), choice.startup_s)
        sender.now = t0
        sender.send(stream, t0, progress)
        sender.clock.finish(max(sender.now, t0 + sim.duration_s))
        tail.quiet_from = time.monotonic()  # quiet is counted from the last datagram on
        notes += _wait_done(sup, tail, ports, choice, sender.sent)
        q = udp_queue(needed)
        estimate = scrape(choice.loss_url.replace("{metrics_port}", str(metrics_port)), choice.loss_metric, choice.loss_label,
                          plan.to_simulated) if choice.loss_url else None  # fmt: skip
    except BaseException:
        sup.kill()
        tail.stop()
        sender.close()
        raise
    records_path = tail.path
    try:
        sup.stop(choice.stop_s, kept=f"what it wrote is kept in {records_path}")
    finally:
        tail.stop()
        sender.close()
    if tail.error:
        raise CollectorFailed(f"reading the collector's records failed: {tail.error}")
    got = read_records(records_path, adapt, received=lambda n: _at(sender, tail, n), local_ip=plan.to_simulated) \
        if records_path.exists() else ExternalRecords()  # fmt: skip
    if not records_path.exists():
        notes.append(f"the collector wrote no records file {records_path}")
    bad, timed = window_misfits(got.records, t0, t0 + sim.duration_s, WINDOW_SLACK_S)
    if timed and bad * 2 > timed:
        raise RecordsError(f"{bad:,} of {timed:,} records lie more than a day outside the run's time window: a wrong "
                            "time unit? (collector.units, e.g. {start_time: ms, end_time: ms})")  # fmt: skip
    if bad:
        notes.append(f"{bad:,} of {timed:,} records lie more than a day outside the run's time window")
    return ExternalRun(got, estimate, sender.sent, q.dropped if q else None, argv, log, records_path, notes)


def _at(sender: Sender, tail: Tail, n: int) -> float | None:
    wall = tail.received(n)
    return sender.clock.at(wall) if wall is not None else None


__all__ = ["ExternalRun", "adapter_of", "plan_ports", "run_external"]
