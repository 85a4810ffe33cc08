"""Runs a scenario end to end: simulate → path → collector → score → report.

The collector runs in process (default), behind real UDP on loopback (paced by a speed-up
factor), or as an external command fed over UDP whose JSON lines are read back through a
field map. Times every phase; progress goes to stderr. Computes no metric itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector import Anomaly, AnomalyKind, Collector, SummarySample, TransferRecord, current_records
from collector.report import CollectorReport
from xrdsim import external
from xrdsim.datagram import Datagram
from xrdsim.errors import UserError
from xrdsim.external.records import ExternalRecords
from xrdsim.external.run import adapter_of
from xrdsim.gcpolicy import fewer_collections
from xrdsim.scenario import CollectorChoice, CollectorMode, Scenario
from xrdsim.score import (
    Overhead,
    Rec,
    RunInputs,
    ScoreCard,
    Verdict,
    judge,
    score_run,
)
from xrdsim.score.formats import RecordFormat, adapter
from xrdsim.score.match import record_key, stod_of
from xrdsim.score.signals import LossEvent, loss_event
from xrdsim.sim import CounterRow, DatagramRow, FaultRow, SimRun, TransferRow, simulate

#: Seconds of datagram time between two ``Collector.flush`` calls in process.
FLUSH_TICK_S = 10.0
#: Seconds a UDP collector gets to drain its socket after the last datagram.
DRAIN_S = 10.0


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


def rec_of_record(ev: TransferRecord) -> Rec:
    """``to_rec(ev)`` for one of our own records, read field by field: the general path
    looks every field up through a layout (a fifth of a streamed shard's scoring time)."""
    return Rec(
        ev.server_host or "", ev.server_ip or "", stod_of(ev.server_key or ""), ev.file_dictid, ev.file_lfn or "",
        ev.site or "", ev.user_dn or "", ev.vo or "", ev.client_host or "",
        ev.read_single_bytes, ev.read_vector_bytes, ev.write_bytes,
        _seconds(ev.start_time), _seconds(ev.end_time), _seconds(ev.t_emitted), ev.ended.value,
        ev.record_id or "", ev.revision, ev.protocol or "", bool(ev.rw),
    )  # fmt: skip


def _seconds(t: float | None) -> float | None:
    return None if t is None else float(t)


@dataclass(slots=True)
class Collected:
    """What a collector gave back, normalised for the scorer."""

    records: list[Rec] = field(default_factory=list)
    summaries: list[Any] = field(default_factory=list)
    groups: list[Any] | None = None
    record_hosts: dict[str, str] = field(default_factory=dict)
    losses: list[LossEvent] = field(default_factory=list)
    report: dict[str, Any] = field(default_factory=dict)
    datagrams: int = 0
    simulated_ip: Callable[[str], str] | None = None  # a loopback sender alias → the simulated address
    collector_report: CollectorReport | None = None  # the in-process collector's (shards merge them)
    left_behind: int = 0  # records digested where they were collected (a shard's) and not kept in ``records``

    @property
    def record_count(self) -> int:
        """Every record the collector gave, kept here or left behind."""
        return len(self.records) + self.left_behind

    def take(self, events: Iterable[Any]) -> None:
        """Keep the transfer records (as ``Rec``) and summary samples among ``events``."""
        for ev in events:
            if type(ev) is TransferRecord:
                rec = rec_of_record(ev)
                if self.simulated_ip is not None and rec.server_ip:
                    rec = dataclasses.replace(rec, server_ip=self.simulated_ip(rec.server_ip))
                self.records.append(rec)
                self.record_hosts.setdefault(ev.server_key, ev.server_host)
            elif type(ev) is SummarySample:
                self.summaries.append(ev)
            elif type(ev) is Anomaly and ev.anomaly is AnomalyKind.PSEQ_LOSS:
                loss = loss_event(ev.server_key, ev.detail, ev.t_emitted)
                if loss is not None:
                    self.losses.append(loss)

    def canonical(self) -> None:
        """Put every list in an order of its contents alone, not of the order the collector
        met its servers in: a run cut into shards then scores as the whole does."""
        self.records.sort(key=record_key)
        self.summaries.sort(key=lambda s: (s.t_emitted, s.server, s.tod, s.tos))
        self.losses.sort(key=lambda e: (e.t, e.server, e.group, e.count))
        if self.groups is not None:
            self.groups.sort(key=repr)
        self.record_hosts = dict(sorted(self.record_hosts.items()))


def canonical_report(report: CollectorReport) -> CollectorReport:
    """``report`` with its per-group rows and summary series in an order of their contents."""
    report.groups.sort(key=repr)
    report.summary.sort(key=repr)
    return report


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
        busy = sum(v for k, v in self.phases.items() if k in ("simulate", "collect", "shards", "merge", "score"))
        ran = "simulate" in self.phases or "shards" in self.phases
        return self.scenario.sim.duration_s / busy if busy and ran else float("nan")

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


def run_end(scenario: Scenario, t0: float) -> float:
    """The collector time a run ends at: the simulated span plus the longest a datagram
    can be on the path, the same for every shard of the run."""
    p = scenario.sim.path
    return t0 + scenario.sim.duration_s + p.delay_s + p.jitter_s + p.reorder_delay_s + max(p.jitter_s, 0.001)


def collect_inprocess(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress,
                      on_flush: Callable[[float, Collected], None] | None = None, label: str = "run") -> Collected:
    """Feed the reference collector directly, flushing at every ``FLUSH_TICK_S`` mark of
    datagram time before the first datagram past it: a server's records then come out the
    same whichever other servers share the collector (``xrdsim.shards``). ``on_flush(mark,
    out)`` runs after each mark's flush (a streamed shard takes the records made so far);
    ``label`` names the run on the progress line."""
    with fewer_collections():  # the collector's many small objects beside the simulation's heap
        return _collect_inprocess(stream, scenario, t0, clock, progress, on_flush, label)


def _collect_inprocess(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress,
                       on_flush: Callable[[float, Collected], None] | None, label: str) -> Collected:
    c = Collector(scenario.collector.config)
    out = Collected()
    next_flush, t, n = t0 + FLUSH_TICK_S, t0, 0
    for d in stream:
        start = time.perf_counter()
        t = t0 + (d.t_arrival if d.t_arrival is not None else d.t_send)
        while t >= next_flush:
            out.take(c.flush(next_flush))
            if on_flush is not None:
                aside = time.perf_counter()
                on_flush(next_flush, out)
                start += time.perf_counter() - aside  # booked by the callback, not as collect
            next_flush += FLUSH_TICK_S
        out.take(c.feed(d.payload, d.src, t))
        n += 1
        clock.add("collect", time.perf_counter() - start)
        if n % 2000 == 0:
            progress.show(label, t - t0, n, out.record_count)
    start = time.perf_counter()
    end = max(t, run_end(scenario, t0))
    out.take(c.flush(end))
    out.take(c.close(end))
    report = canonical_report(c.report())
    out.groups, out.report, out.datagrams, out.collector_report = report.groups, report.to_dict(), n, report
    out.canonical()
    clock.add("collect", time.perf_counter() - start)
    return out


def collect_udp(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress, speed: float) -> Collected:
    """The reference collector's live loop on a loopback socket, in a thread of its own."""
    from collector.run import run_live
    from collector.sinks import MemorySink
    from collector.sources import UdpSource

    source, sink, c = UdpSource([("127.0.0.1", 0)]), MemorySink(), Collector(scenario.collector.config)
    port = source.addresses[0][1]
    plan = external.AddressPlan.probe()
    sender = external.Sender(external.Ports(port, port), speed, plan, received=lambda: c.datagrams)
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
    out = Collected(simulated_ip=plan.to_simulated)
    out.take(sink.events)
    report = box["report"]
    out.groups, out.report, out.datagrams = report.groups, report.to_dict(), sender.sent
    return out


def _collected(got: ExternalRecords) -> Collected:
    return Collected(records=got.records, summaries=list(got.summaries), record_hosts=got.record_hosts, losses=got.losses)


def read_records(path: Path, fields: dict[str, str], fmt: RecordFormat = RecordFormat.OURS,
                 choice: CollectorChoice | None = None) -> Collected:
    """Transfer records (and summary samples) from JSON lines, or the Parquet ``xrdsim collect``
    writes, through the record adapter of ``choice`` (else the preset ``fmt`` refined by
    ``fields``); see ``xrdsim.external.records``."""
    adapt = adapter_of(choice) if choice is not None else adapter(fmt, fields)
    return _collected(external.read_records(path, adapt))


def collect_external(stream: Iterable[Datagram], scenario: Scenario, t0: float, clock: Clock, progress: Progress,
                     speed: float, workdir: Path) -> Collected:
    """The scenario's collector command, run by ``xrdsim.external``: its records, and its
    loss estimate where it exports one (None: no estimate)."""
    start = time.perf_counter()
    run = external.run_external(stream, scenario.collector, scenario.sim, t0, speed, workdir, progress)
    clock.add("collect", time.perf_counter() - start)
    out = _collected(run.records)
    out.groups, out.datagrams = run.estimate, run.sent - (run.dropped or 0)
    out.report = {"external": run.report()}
    for note in run.notes:
        progress.note(f"{scenario.name}: {note}")
    return out


# ---------------------------------------------------------------- the whole run

#: collector mode → how the datagrams reach it.
COLLECTORS: dict[CollectorMode, Callable[..., Collected]] = {
    CollectorMode.INPROCESS: lambda stream, sc, t0, clock, prog, speed, work: collect_inprocess(stream, sc, t0, clock, prog),
    CollectorMode.UDP: lambda stream, sc, t0, clock, prog, speed, work: collect_udp(stream, sc, t0, clock, prog, speed),
    CollectorMode.EXTERNAL: collect_external,
}


def nic_overhead(scenario: Scenario) -> Overhead:
    """The network model the scenario's NICs were simulated with, for inverting counters
    (``xrdsim.netmodel.NetworkModel``: it inverts as ``Overhead`` does, with the same parameters)."""
    return scenario.sim.nic.model()  # type: ignore[return-value]


def score_inputs(sim: Any, got: Collected, scenario: Scenario) -> RunInputs:
    """The scorer's inputs from a finished simulation (a ``SimRun``, or shards merged:
    ``xrdsim.shards.MergedRun``) and a collector's output."""
    cfg, truth = scenario.sim, sim.truth
    return RunInputs(
        truth.transfers, truth.datagrams, truth.faults, truth.counters, current_records(got.records),
        float(cfg.start_time), cfg.duration_s, scenario.report.bin_s,
        nic_overhead(scenario),
        got.groups, got.summaries, got.record_hosts, got.losses, getattr(sim, "tally", None), getattr(sim, "digest", None),
    )  # fmt: skip


def sim_stats(sim: Any, got: Collected) -> dict[str, Any]:
    """Counts of the run for the report: sites, servers, transfers, datagrams, path fates."""
    return {
        "sites": len(sim.world.sites) if sim.world else 0,
        "servers": len(sim.servers),
        "transfers": sim.truth.totals["transfers"],
        "datagrams_sent": sim.truth.totals["datagrams"],
        "datagrams_collected": got.datagrams,
        "path_fates": dict(sorted(sim.path_counts.items())) if sim.paths else {},
        "records": got.record_count,
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


#: How a run is simulated and collected: (scenario, clock, progress) → (run, collected).
SimulateCollect = Callable[[Scenario, Clock, Progress], tuple[Any, Collected]]


def run_scenario(scenario: Scenario, out_dir: str | Path | None = None, mode: CollectorMode | None = None,
                 speed: float | None = None, progress: bool = False, how: SimulateCollect | None = None) -> RunResult:
    """Simulate, collect, score and (with ``out_dir``) write every report of ``scenario``.

    ``mode``/``speed`` override the scenario's collector choice; ``how`` replaces the one
    process's simulate-and-collect (``xrdsim.cluster.sharded``: shards on Dask). Raises
    ``UserError`` for a collector that cannot run; a failed expectation is in
    ``RunResult.failures``.
    """
    mode = mode or scenario.collector.mode
    speed = scenario.collector.speed if speed is None else speed
    clock, prog = Clock(), Progress(progress, scenario.sim.duration_s)
    if how is None:
        sim, got = simulate_and_collect(scenario, mode, speed, clock, prog, out_dir)
    else:
        sim, got = how(scenario, clock, prog)
    prog.note(f"{scenario.name}: {got.datagrams:,} datagrams, {got.record_count:,} records; scoring")
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
    got = read_records(Path(records), {}, choice=scenario.collector)
    if report_json is not None:
        groups = json.loads(Path(report_json).read_text()).get("groups", [])
        got.groups = [GroupRow(g["server_key"], g["socket"], g["group"], g["lost"]) for g in groups]
    cfg = scenario.sim
    t0 = min((c.t for c in truth["counters"]), default=float(cfg.start_time))
    inputs = RunInputs(truth["transfers"], truth["datagrams"], truth["faults"], truth["counters"], current_records(got.records), t0,
                       cfg.duration_s, scenario.report.bin_s, nic_overhead(scenario),
                       got.groups, got.summaries, got.record_hosts, got.losses)  # fmt: skip
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


__all__ = ["COLLECTORS", "Collected", "HarnessError", "RunResult", "read_records", "run_scenario", "score_inputs", "score_saved", "simulate_and_collect"]
