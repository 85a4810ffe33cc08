"""Runs a scenario end to end: simulate → path → collector → score → report.

The collector runs in process (default), behind real UDP on loopback (paced by a speed-up
factor), or as an external command fed over UDP whose JSON lines are read back through a
field map. Times every phase; progress goes to stderr. Computes no metric itself.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector import Collector, SummarySample, TransferRecord, current_records
from xrdsim.datagram import Datagram
from xrdsim.errors import UserError
from xrdsim.scenario import CollectorMode, Scenario
from xrdsim.score import (
    Overhead,
    Rec,
    RunInputs,
    ScoreCard,
    Verdict,
    judge,
    score_run,
    to_rec,
)
from xrdsim.score.formats import RecordFormat, field_map
from xrdsim.sim import CounterRow, DatagramRow, FaultRow, SimRun, TransferRow, simulate

#: Seconds of datagram time between two ``Collector.flush`` calls in process.
FLUSH_TICK_S = 10.0
#: Seconds a UDP collector gets to drain its socket after the last datagram.
DRAIN_S = 10.0
#: Longest wait of the unpaced UDP sender for the in-process receiver to take a datagram.
LOCKSTEP_WAIT_S = 0.05


class HarnessError(UserError):
    """The run cannot go on: an external collector that fails to start, a bad mode."""


class Progress:
    """One ``\\r`` line on stderr, at most twice a second; silent when disabled."""

    def __init__(self, enabled: bool, total_s: float) -> None:
        self.enabled, self.total_s, self.last = enabled, total_s, 0.0

    def show(self, phase: str, sim_s: float, datagrams: int, records: int, force: bool = False) -> None:
        """Redraw the line."""
        now = time.monotonic()
        if not self.enabled or (not force and now - self.last < 0.5):
            return
        self.last = now
        pct = 100.0 * min(sim_s / self.total_s, 1.0) if self.total_s else 100.0
        print(f"\r{phase}: {pct:5.1f}% simulated  datagrams {datagrams:,}  records {records:,}   ",
              end="", file=sys.stderr, flush=True)

    def note(self, text: str) -> None:
        """A line of its own."""
        if self.enabled:
            print(f"\r{text}" + " " * 20, file=sys.stderr, flush=True)


@dataclass(slots=True)
class Collected:
    """What a collector gave back, normalised for the scorer."""

    records: list[Rec] = field(default_factory=list)
    summaries: list[Any] = field(default_factory=list)
    groups: list[Any] | None = None
    record_hosts: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    datagrams: int = 0

    def take(self, events: Iterable[Any]) -> None:
        """Keep the transfer records (as ``Rec``) and summary samples among ``events``."""
        for ev in events:
            if type(ev) is TransferRecord:
                self.records.append(to_rec(ev))
                self.record_hosts.setdefault(ev.server_key, ev.server_host)
            elif type(ev) is SummarySample:
                self.summaries.append(ev)


@dataclass(slots=True)
class RunResult:
    """A scored run: the scenario, its card, verdicts, phase wall times, and where it wrote."""

    scenario: Scenario
    card: ScoreCard
    verdicts: list[Verdict]
    phases: dict[str, float]
    collected: Collected
    sim_stats: dict[str, Any]
    out_dir: Path | None = None
    collector: str = ""  # the collector that ran (the mode, after any --collector override)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second of simulate + collect + score (the one speed
        figure both the terminal and the report print); NaN when nothing was simulated."""
        busy = sum(v for k, v in self.phases.items() if k in ("simulate", "collect", "score"))
        return self.scenario.sim.duration_s / busy if busy and "simulate" in self.phases else float("nan")

    @property
    def passed(self) -> bool:
        """True when every expectation holds."""
        return all(v.passed for v in self.verdicts)

    @property
    def failures(self) -> list[Verdict]:
        """The expectations that failed."""
        return [v for v in self.verdicts if not v.passed]


class Clock:
    """Phase wall times: ``with clock("score"): …``; a phase may be entered many times."""

    def __init__(self) -> None:
        self.phases: dict[str, float] = {}

    def add(self, name: str, seconds: float) -> None:
        """Book ``seconds`` on phase ``name``."""
        self.phases[name] = self.phases.get(name, 0.0) + seconds

    def timed(self, name: str, it: Iterable[Any]) -> Iterator[Any]:
        """Iterate ``it``, booking the time spent producing items on ``name``."""
        source = iter(it)
        while True:
            t = time.perf_counter()
            try:
                item = next(source)
            except StopIteration:
                self.add(name, time.perf_counter() - t)
                return
            self.add(name, time.perf_counter() - t)
            yield item


# ---------------------------------------------------------------- collector modes


def collect_inprocess(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress) -> Collected:
    """Feed the reference collector directly, flushing every ``FLUSH_TICK_S`` of datagram time."""
    c = Collector(scenario.collector.config)
    out = Collected()
    next_flush, t, n = t0 + FLUSH_TICK_S, t0, 0
    for d in stream:
        start = time.perf_counter()
        t = t0 + (d.t_arrival if d.t_arrival is not None else d.t_send)
        if t >= next_flush:
            out.take(c.flush(t))
            next_flush = t + FLUSH_TICK_S
        out.take(c.feed(d.payload, d.src, t))
        n += 1
        clock.add("collect", time.perf_counter() - start)
        if n % 2000 == 0:
            progress.show("run", t - t0, n, len(out.records))
    start = time.perf_counter()
    end = max(t, t0 + scenario.sim.duration_s)
    out.take(c.flush(end))
    out.take(c.close(end))
    report = c.report()
    out.groups, out.report, out.datagrams = report.groups, report.to_dict(), n
    clock.add("collect", time.perf_counter() - start)
    return out


class UdpSender:
    """Sends datagrams to ``port`` on loopback, one socket per emitter address (the collector
    tells servers apart by sender socket), paced at ``speed`` simulated seconds per wall second."""

    def __init__(self, port: int, speed: float, received: Callable[[], int] | None = None) -> None:
        self.port, self.speed, self.received = port, speed, received
        self.sockets: dict[tuple[str, int], socket.socket] = {}
        self.now = 0.0
        self.sent = 0

    def _wait_for_receiver(self) -> None:
        """Unpaced, with a receiver count: wait until it has taken every datagram sent (at most
        ``LOCKSTEP_WAIT_S``: one the kernel dropped must not stall the run). The collector's
        clock is ``now``; were the sender ahead, each record would be stamped with a later
        datagram's time and its latency inflated by the backlog."""
        if self.received is None:
            return
        deadline = time.monotonic() + LOCKSTEP_WAIT_S
        while self.received() < self.sent and time.monotonic() < deadline:
            time.sleep(0.00005)

    def _socket(self, src: tuple[str, int]) -> socket.socket:
        sock = self.sockets.get(src)
        if sock is None:
            sock = self.sockets[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
        return sock

    def send(self, stream: Iterable[Datagram], t0: float, progress: Progress) -> None:
        """Send every datagram at its (scaled) arrival time; ``now`` follows simulated time."""
        wall0, first = time.monotonic(), None
        for d in stream:
            t = d.t_arrival if d.t_arrival is not None else d.t_send
            first = t if first is None else first
            if self.speed > 0:
                ahead = (t - first) / self.speed - (time.monotonic() - wall0)
                if ahead > 0:
                    time.sleep(ahead)
            elif self.received is not None:
                self._wait_for_receiver()
            elif self.sent % 256 == 255:
                time.sleep(0.0005)  # unpaced: let the receiver keep up with loopback
            self.now = t0 + t
            self._socket(d.src).sendto(d.payload, ("127.0.0.1", self.port))
            self.sent += 1
            if self.sent % 2000 == 0:
                progress.show("run", t, self.sent, 0)
        if self.speed <= 0:
            self._wait_for_receiver()  # the last datagram too, before ``now`` jumps to the run's end

    def close(self) -> None:
        """Close every socket."""
        for sock in self.sockets.values():
            sock.close()


def collect_udp(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress, speed: float) -> Collected:
    """The reference collector's live loop on a loopback socket, in a thread of its own."""
    from collector.run import run_live
    from collector.sinks import MemorySink
    from collector.sources import UdpSource

    source, sink, c = UdpSource([("127.0.0.1", 0)]), MemorySink(), Collector(scenario.collector.config)
    sender = UdpSender(source.addresses[0][1], speed, received=lambda: c.datagrams)
    sender.now = t0
    ready, box = threading.Event(), {}

    async def live() -> None:
        box["loop"], box["stop"] = asyncio.get_running_loop(), asyncio.Event()
        ready.set()
        box["report"] = await run_live(c, source, sink, stop=box["stop"], tick=0.2, clock=lambda: sender.now)

    thread = threading.Thread(target=lambda: asyncio.run(live()), daemon=True)
    thread.start()
    ready.wait()
    start = time.perf_counter()
    sender.send(stream, t0, progress)
    sender.now = max(sender.now, t0 + scenario.sim.duration_s)
    deadline = time.monotonic() + DRAIN_S
    while c.datagrams < sender.sent and time.monotonic() < deadline:
        time.sleep(0.01)
    box["loop"].call_soon_threadsafe(box["stop"].set)
    thread.join()
    sender.close()
    clock.add("collect", time.perf_counter() - start)
    out = Collected()
    out.take(sink.events)
    report = box["report"]
    out.groups, out.report, out.datagrams = report.groups, report.to_dict(), sender.sent
    return out


def free_udp_port() -> int:
    """A UDP port on loopback that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass(frozen=True, slots=True)
class Sample:
    """A summary sample read back from JSON: the fields the scorer reads."""

    server: str
    link_in_delta: int | None
    link_out_delta: int | None


def read_records(path: Path, fields: dict[str, str], fmt: RecordFormat = RecordFormat.OURS) -> Collected:
    """Transfer records (and summary samples) from JSON lines, or the Parquet ``xrdsim collect``
    writes: ``kind`` transfer or no
    ``kind`` is a record, ``summary`` a sample, anything else is skipped. ``fmt`` names a
    field-map preset (OSG, WLCG) that ``fields`` refines."""
    preset = field_map(fmt, fields)
    fields = preset.fields
    out = Collected()
    if not path.is_file():
        raise HarnessError(f"no records file {path}")
    for n, obj in _record_rows(path):
        if not isinstance(obj, dict):
            raise HarnessError(f"{path}:{n}: not a JSON object")
        kind = obj.get("kind", "transfer")
        if kind == "transfer":
            out.records.append(to_rec(obj, fields, preset.time_scale))
            out.record_hosts.setdefault(str(obj.get("server_key", "")), str(obj.get(fields.get("server_host", "server_host"), "")))
        elif kind == "summary":
            out.summaries.append(Sample(str(obj.get("server", "")), obj.get("link_in_delta"), obj.get("link_out_delta")))
    return out


def _record_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line or row number, object) of a JSON-lines file or of the Parquet ``collect`` writes."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1":
        import pyarrow.parquet as pq

        try:
            rows = pq.read_table(path).to_pylist()
        except Exception as exc:  # pyarrow's errors: ArrowInvalid, OSError, …
            raise HarnessError(f"{path}: not a readable Parquet file: {exc}") from None
        for n, row in enumerate(rows, 1):
            yield n, {"kind": "transfer", **row}
        return
    with path.open(encoding="utf-8", errors="strict") as fh:
        try:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    yield n, json.loads(line)
                except json.JSONDecodeError as exc:
                    raise HarnessError(f"{path}:{n}: not JSON: {exc.msg}") from None
        except UnicodeDecodeError:
            raise HarnessError(f"{path}: neither JSON lines (UTF-8) nor Parquet") from None


class BusRecords:
    """The records an external collector publishes to an AMQP exchange: a queue of our own is
    bound to it before the collector starts, and emptied into a JSON-lines file at the end."""

    def __init__(self, url: str, exchange: str) -> None:
        try:
            import pika

            self._conn = pika.BlockingConnection(pika.URLParameters(url))
            self._ch = self._conn.channel()
            self._ch.exchange_declare(exchange=exchange, exchange_type="fanout", durable=True)
            self.queue = self._ch.queue_declare("", exclusive=True).method.queue
            self._ch.queue_bind(self.queue, exchange)
        except Exception as exc:  # pika's errors: AMQPConnectionError, ChannelClosedByBroker, …
            raise HarnessError(f"collector.records_exchange {exchange}: cannot bind a queue at {url.rpartition('@')[2]}: "
                               f"{type(exc).__name__} {exc}".rstrip()) from None  # fmt: skip

    def save(self, path: Path, quiet_s: float = 2.0) -> int:
        """Write every message (one JSON record each) to ``path`` until the queue has been
        empty for ``quiet_s``; returns how many."""
        n, last = 0, time.monotonic()
        with path.open("w") as fh:
            while time.monotonic() - last < quiet_s:
                method, _props, body = self._ch.basic_get(self.queue, auto_ack=True)
                if method is None:
                    self._conn.sleep(0.05)
                    continue
                fh.write(body.decode("utf-8", errors="replace").replace("\n", " ") + "\n")
                n, last = n + 1, time.monotonic()
        self._conn.close()
        return n


def collect_external(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress,
                     speed: float, workdir: Path) -> Collected:
    """Start the scenario's collector command, send it the datagrams over UDP, stop it with
    SIGTERM and read its records. It reports no loss estimate."""
    choice = scenario.collector
    if not choice.command:
        raise HarnessError("collector.mode external needs collector.command")
    out_path, port = workdir / "external-records.jsonl", free_udp_port()
    workdir.mkdir(parents=True, exist_ok=True)
    bus = BusRecords(choice.records_amqp, choice.records_exchange) if choice.records_exchange else None
    argv = shlex.split(choice.command.format(host="127.0.0.1", port=port, out=out_path))
    try:
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    except OSError as exc:
        raise HarnessError(f"cannot start external collector {argv[0]!r}: {exc.strerror}") from None
    start = time.perf_counter()
    time.sleep(choice.startup_s)
    if proc.poll() is not None:
        raise HarnessError(f"external collector exited with status {proc.returncode}: {proc.stderr.read().decode()[-300:]}")
    sender = UdpSender(port, speed)
    sender.send(stream, t0, progress)
    time.sleep(min(DRAIN_S, max(0.5, choice.startup_s)))
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise HarnessError("external collector did not stop within 60 s of SIGTERM") from None
    sender.close()
    if bus is not None:
        bus.save(out_path)
    clock.add("collect", time.perf_counter() - start)
    out = read_records(out_path, choice.fields, choice.format)
    out.datagrams = sender.sent
    return out


# ---------------------------------------------------------------- the whole run

#: collector mode → how the datagrams reach it.
COLLECTORS: dict[CollectorMode, Callable[..., Collected]] = {
    CollectorMode.INPROCESS: lambda stream, sc, t0, clock, prog, speed, work: collect_inprocess(stream, sc, t0, clock, prog),
    CollectorMode.UDP: lambda stream, sc, t0, clock, prog, speed, work: collect_udp(stream, sc, t0, clock, prog, speed),
    CollectorMode.EXTERNAL: collect_external,
}


def nic_overhead(scenario: Scenario) -> Overhead:
    """The overhead model the scenario's NICs were simulated with, for inverting counters."""
    nic = scenario.sim.nic
    return Overhead(nic.mtu, nic.tcp_header_bytes, nic.ack_every)


def score_inputs(sim: SimRun, got: Collected, scenario: Scenario) -> RunInputs:
    """The scorer's inputs from a finished simulation and a collector's output."""
    cfg, truth = scenario.sim, sim.truth
    return RunInputs(
        truth.transfers, truth.datagrams, truth.faults, truth.counters, current_records(got.records),
        float(cfg.start_time), cfg.duration_s, scenario.report.bin_s,
        nic_overhead(scenario),
        got.groups, got.summaries, got.record_hosts,
    )  # fmt: skip


def sim_stats(sim: SimRun, got: Collected) -> dict[str, Any]:
    """Counts of the run for the report: sites, servers, transfers, datagrams, path fates."""
    ctx = sim.ctx
    return {
        "sites": len(ctx.world.sites) if ctx else 0,
        "servers": len(ctx.servers) if ctx else 0,
        "transfers": sim.truth.totals["transfers"],
        "datagrams_sent": sim.truth.totals["datagrams"],
        "datagrams_collected": got.datagrams,
        "path_fates": dict(sorted(sim.path.counts.items())) if sim.path else {},
        "records": len(got.records),
    }


def simulate_and_collect(scenario: Scenario, mode: CollectorMode | None = None, speed: float | None = None,
                         clock: Clock | None = None, progress: Progress | None = None,
                         out_dir: str | Path | None = None) -> tuple[SimRun, Collected]:
    """Simulate ``scenario`` and feed its datagrams to the chosen collector: the unscored
    run (the broken-collector zoo scores its output many times)."""
    mode = mode or scenario.collector.mode
    speed = scenario.collector.speed if speed is None else speed
    clock = clock or Clock()
    prog = progress or Progress(False, scenario.sim.duration_s)
    sim = simulate(scenario.sim)
    stream = clock.timed("simulate", sim.delivered())
    work = Path(out_dir) if out_dir is not None else Path(tempfile.mkdtemp(prefix=f"xrdsim-{scenario.name}-"))
    got = COLLECTORS[mode](stream, scenario, float(scenario.sim.start_time), clock, prog, speed, work)
    return sim, got


def run_scenario(scenario: Scenario, out_dir: str | Path | None = None, mode: CollectorMode | None = None,
                 speed: float | None = None, progress: bool = False) -> RunResult:
    """Simulate, collect, score and (with ``out_dir``) write every report of ``scenario``.

    ``mode``/``speed`` override the scenario's collector choice. Raises ``UserError`` for
    a collector that cannot run; a failed expectation is in ``RunResult.failures``.
    """
    mode = mode or scenario.collector.mode
    speed = scenario.collector.speed if speed is None else speed
    clock, prog = Clock(), Progress(progress, scenario.sim.duration_s)
    sim, got = simulate_and_collect(scenario, mode, speed, clock, prog, out_dir)
    prog.note(f"{scenario.name}: {got.datagrams:,} datagrams, {len(got.records):,} records; scoring")
    start = time.perf_counter()
    card = score_run(score_inputs(sim, got, scenario))
    verdicts = judge(card, scenario.expect)
    clock.add("score", time.perf_counter() - start)
    result = RunResult(scenario, card, verdicts, clock.phases, got, sim_stats(sim, got), collector=mode.value)
    if out_dir is not None:
        from xrdsim.report import write_reports

        prog.note(f"{scenario.name}: writing reports")
        start = time.perf_counter()
        result.out_dir = Path(out_dir)
        write_reports(result, result.out_dir)
        clock.add("report", time.perf_counter() - start)
    return result


#: truth table → its row type (the Parquet files ``xrdsim simulate`` writes).
TRUTH_TABLES = {"transfers": TransferRow, "datagrams": DatagramRow, "faults": FaultRow, "counters": CounterRow}


@dataclass(frozen=True, slots=True)
class GroupRow:
    """A counter-group row of a collector report read back from JSON."""

    server_key: str
    socket: str
    group: str
    lost: int


def read_truth(directory: Path) -> dict[str, list[Any]]:
    """The truth tables of ``directory`` as rows (a missing table is empty)."""
    import pyarrow.parquet as pq

    if not directory.is_dir():
        raise HarnessError(f"{directory}: no such truth directory")
    if not (directory / "transfers.parquet").is_file():
        raise HarnessError(f"{directory}: no transfers.parquet: give the folder `xrdsim simulate -o DIR` wrote")
    out: dict[str, list[Any]] = {}
    for name, row_type in TRUTH_TABLES.items():
        path = directory / f"{name}.parquet"
        out[name] = [row_type(**r) for r in pq.read_table(path).to_pylist()] if path.exists() else []
    return out


def score_saved(truth_dir: str | Path, records: str | Path, scenario: Scenario, report_json: str | Path | None = None,
                out_dir: str | Path | None = None) -> RunResult:
    """Score outputs already on disk: a truth directory, records as JSON lines (``scenario``'s
    collector field map applies) and optionally the collector's ``--report`` JSON."""
    truth = read_truth(Path(truth_dir))
    got = read_records(Path(records), scenario.collector.fields, scenario.collector.format)
    if report_json is not None:
        groups = json.loads(Path(report_json).read_text()).get("groups", [])
        got.groups = [GroupRow(g["server_key"], g["socket"], g["group"], g["lost"]) for g in groups]
    cfg = scenario.sim
    t0 = min((c.t for c in truth["counters"]), default=float(cfg.start_time))
    inputs = RunInputs(truth["transfers"], truth["datagrams"], truth["faults"], truth["counters"], current_records(got.records), t0,
                       cfg.duration_s, scenario.report.bin_s, nic_overhead(scenario),
                       got.groups, got.summaries, got.record_hosts)  # fmt: skip
    start = time.perf_counter()
    card = score_run(inputs)
    result = RunResult(scenario, card, judge(card, scenario.expect), {"score": time.perf_counter() - start}, got,
                       {"transfers": len(truth["transfers"]), "records": len(got.records)},
                       collector=f"records from {Path(records).name}")  # fmt: skip
    if out_dir is not None:
        from xrdsim.report import write_reports

        result.out_dir = Path(out_dir)
        write_reports(result, result.out_dir)
    return result


__all__ = ["COLLECTORS", "Collected", "HarnessError", "RunResult", "free_udp_port", "read_records", "run_scenario", "score_inputs", "score_saved", "simulate_and_collect"]
