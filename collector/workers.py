"""The live collector on several cores: N worker processes, each with its own ``Collector``,
reading one UDP port through ``SO_REUSEPORT`` sockets; their events go through a pipe to
this (the parent) process, which writes them to the one sink and merges their reports.

The kernel picks the socket of a datagram by a hash of its 4-tuple, so every datagram of
one sender socket reaches the same worker: the counter groups (one per sender socket and
stream), the maps and the f-stream of a server stay in one process. What a server sends
from two sockets to the same port may reach two workers (docs/deploy.md).

Every socket of the group is bound here before the workers are forked (a port 0 resolves
once, and no datagram reaches a socket nobody reads); each worker keeps its own and closes
the others. SIGINT/SIGTERM (or ``duration``) are passed on to the workers as SIGTERM: each
drains its socket, closes its collector and sends its last events and report. A worker
that dies without its report is counted (``worker_failures``), never waited for.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable

from collector.config import CollectorConfig
from collector.core import Collector
from collector.records import Event, TransferRecord, values_getter
from collector.report import CollectorReport, merge_reports
from collector.run import Sink, run_live, write_events, write_lines
from collector.sinks.jsonl import json_lines
from collector.sources.udp import UdpSource

#: Events a worker gathers before it sends them (one pipe message per batch, not per datagram).
BATCH = 512
Held = dict[str, str]
Publish = Callable[[CollectorReport, Held], None]


@dataclass(frozen=True, slots=True)
class WorkerPlan:
    """What every worker runs: ``processes`` workers on ``addresses``, each a ``Collector``
    of ``config`` flushed every ``tick`` seconds; ``keep_open`` as in ``run_live``.
    ``jsonl``: the parent's one output is a JSONL sink, so each worker renders its events'
    lines itself and the parent only writes text (unpickling and rendering every worker's
    events took the parent 0.66 of a 30,000/s run's 3.5 CPU seconds; writing takes 0.10)."""

    addresses: list[tuple[str, int]]
    processes: int
    config: CollectorConfig
    tick: float = 1.0
    keep_open: bool = False
    rcvbuf: int = 16 << 20
    jsonl: bool = False


def bind_group(addresses: list[tuple[str, int]], n: int, rcvbuf: int = 16 << 20) -> list[UdpSource]:
    """``n`` sources on the same addresses (``SO_REUSEPORT``); port 0 is resolved by the
    first, the others bind what it got."""
    first = UdpSource(addresses, rcvbuf, reuse_port=True)
    resolved = first.addresses
    group = [first]
    try:
        group += [UdpSource(resolved, rcvbuf, reuse_port=True) for _ in range(n - 1)]
    except OSError:
        for source in group:
            source.close()
        raise
    return group


_transfer_values = values_getter(TransferRecord)


def pack_events(events: list[Event]) -> list[Any]:
    """``events`` for the pipe: a transfer record as the tuple of its values (pickling a
    tuple of plain values costs a fifth of pickling the dataclass), any other event as is."""
    return [_transfer_values(ev) if type(ev) is TransferRecord else ev for ev in events]


def unpack_events(packed: list[Any]) -> list[Event]:
    """The events ``pack_events`` packed."""
    return [TransferRecord(*ev) if type(ev) is tuple else ev for ev in packed]


class _Forward:
    """A worker's sink: events batched into pipe messages to the parent, packed
    (``pack_events``) or, with ``jsonl``, as their JSON lines."""

    def __init__(self, conn: Connection, jsonl: bool) -> None:
        self.conn, self.jsonl, self.buffer = conn, jsonl, []  # type: ignore[var-annotated]

    def write(self, events: list[Event]) -> None:
        self.buffer.extend(events)
        if len(self.buffer) >= BATCH:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            if self.jsonl:
                self.conn.send(("lines", (json_lines(self.buffer), len(self.buffer))))
            else:
                self.conn.send(("events", pack_events(self.buffer)))
            self.buffer = []

    def close(self) -> None:
        self.flush()


def _worker(index: int, sources: list[UdpSource], conn: Connection, plan: WorkerPlan) -> None:
    """One worker process: its own socket, its own collector, events and reports to ``conn``."""
    early: list[int] = []  # a SIGTERM before the event loop took over the signal
    signal.signal(signal.SIGTERM, lambda signum, frame: early.append(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent turns a Ctrl-C into SIGTERM for all
    source = sources[index]
    for other in sources:
        if other is not source:
            other.close()
    collector = Collector(plan.config)
    sink = _Forward(conn, plan.jsonl)

    def publish(report: CollectorReport) -> None:
        sink.flush()  # at every tick: records do not wait for a full batch
        conn.send(("report", (report, _held(collector))))

    async def main() -> CollectorReport:
        stop = asyncio.Event()
        if early:
            stop.set()
        return await run_live(collector, source, sink, publish=publish, stop=stop, tick=plan.tick, keep_open=plan.keep_open)

    report = asyncio.run(main())
    sink.flush()
    conn.send(("done", report))
    conn.close()


def _held(collector: Collector) -> Held:
    from collector.sinks.prometheus import held_hosts

    return held_hosts(collector)


class Workers:
    """Started workers seen from the parent: which still talk, their last reports, the stop."""

    def __init__(self, plan: WorkerPlan, sources: list[UdpSource] | None = None) -> None:
        """Fork one worker per source of ``sources`` (default: ``bind_group`` on the plan's
        addresses). Fork before opening outputs or starting threads: a worker inherits every
        open file of its parent."""
        group = sources if sources is not None else bind_group(plan.addresses, plan.processes, plan.rcvbuf)
        self.plan = plan
        self.addresses = group[0].addresses
        ctx = multiprocessing.get_context("fork")  # the bound sockets are inherited, not passed
        self.procs: list[Any] = []
        conns: list[Connection] = []
        try:
            for i in range(len(group)):
                read, write = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_worker, args=(i, group, write, plan), name=f"xrdsim-collector-{i}", daemon=True)
                proc.start()
                write.close()
                self.procs.append(proc)
                conns.append(read)
        finally:
            for source in group:  # the workers hold them now
                source.close()
        self.cpu = time.process_time()  # the parent's share: writing what the workers send
        self.live = dict(zip(conns, range(len(conns))))
        self.last: list[CollectorReport | None] = [None] * len(conns)
        self.held: list[Held] = [{} for _ in conns]
        self.done = [False] * len(conns)
        self.failures = 0
        self.stop_requested = False
        self.stopping = False

    def request_stop(self, *_: object) -> None:
        """Ask for a stop (a signal handler: the loop of ``run`` passes it on)."""
        self.stop_requested = True

    def stop_workers(self) -> None:
        """SIGTERM to every worker still running."""
        self.stopping = True
        for proc in self.procs:
            if proc.is_alive():
                try:
                    os.kill(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def abort(self) -> None:
        """Stop the workers and wait for them, their events unread (an output failed)."""
        self.stop_workers()
        self._join()

    def _join(self) -> None:
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join()

    def _receive(self, conn: Connection, sink: Sink) -> None:
        i = self.live[conn]
        try:
            kind, body = conn.recv()
        except (EOFError, OSError):  # the worker is gone: after its report, or dead without it
            del self.live[conn]
            if not self.done[i]:
                self.failures += 1
            return
        if kind == "events":
            write_events(sink, unpack_events(body))
        elif kind == "lines":
            write_lines(sink, *body)  # type: ignore[arg-type]
        elif kind == "report":
            self.last[i], self.held[i] = body
        else:  # "done": its final report
            self.last[i], self.done[i] = body, True

    def merged(self) -> tuple[CollectorReport, Held]:
        """The workers' last reports as one, and the hosts of the servers they hold."""
        reports = [r for r in self.last if r is not None]
        held: Held = {}
        for part in self.held:
            held.update(part)
        report = merge_reports(reports) if reports else Collector(self.plan.config).report()
        report.io["processes"] = len(self.procs)
        report.io["datagrams_by_process"] = " ".join(str(r.datagrams if r is not None else 0) for r in self.last)
        report.io["cpu_s_by_process"] = " ".join(f"{r.io.get('cpu_s', 0):g}" if r is not None else "0" for r in self.last)
        report.io["parent_cpu_s"] = round(time.process_time() - self.cpu, 3)
        report.io["worker_failures"] = self.failures
        return report, held

    def run(self, sink: Sink, publish: Publish | None = None, duration: float | None = None) -> CollectorReport:
        """Write every event of the workers to ``sink`` until they are over; SIGINT/SIGTERM
        or ``duration`` seconds stop them. Returns their merged report."""
        previous = {sig: signal.signal(sig, self.request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        deadline = time.monotonic() + duration if duration is not None else None
        last_publish = time.monotonic()
        try:
            while self.live:
                if not self.stopping and (self.stop_requested or (deadline is not None and time.monotonic() >= deadline)):
                    self.stop_workers()
                for conn in wait(list(self.live), timeout=0.2):
                    self._receive(conn, sink)  # type: ignore[arg-type]
                if publish is not None and time.monotonic() - last_publish >= self.plan.tick:
                    publish(*self.merged())
                    last_publish = time.monotonic()
        except BaseException:
            self.stop_workers()
            raise
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._join()
        report, held = self.merged()
        if publish is not None:
            publish(report, held)
        return report
