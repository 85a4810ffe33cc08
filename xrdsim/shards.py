"""A run cut into shards of sites, run apart (on Dask workers, or one after another) and
merged back into the very run one process would have made.

Every site of a run is simulated on its own (``xrdsim.sim.run``), so a shard — a range of
sites — simulates exactly its part: the same datagrams, truth rows and counters. Each shard
runs the whole path for its sites: their paths, then an in-process reference collector of
its own, which holds only its sites' servers (the collector partitioned by server). The
merge puts the truth back in (chunk, site) order, sums the uplink shares, and puts the
collected records in their canonical order (``Collected.canonical``), so the scores are
the same whatever the number of shards or workers.

Each shard also scores what its own servers alone tell: it matches its truth transfers with
its records and adds the matching up (``xrdsim.score.tally``), and digests its records and
NIC counters into per-host series and signals (``xrdsim.score.digest``). Only the tally,
the digest, the summaries, the declared losses and the counts travel back; the truth rows
and the records stay where they were made (``keep_truth`` sends them too, for the tests
that compare them).

The one exception is a collector table at its bound: shards evict apart. The merged report
counts evictions (``report["evicted"]``); with none, the merge is exact.
"""

from __future__ import annotations

import dataclasses
import functools
import resource
import time
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any, Callable

from collector.report import CollectorReport, merge_reports
from collector import current_records
from xrdsim.errors import UserError
from xrdsim.gcpolicy import fewer_collections
from xrdsim.harness import FLUSH_TICK_S, Clock, Collected, Progress, canonical_report, collect_inprocess, nic_overhead, run_end
from xrdsim.scenario import CollectorMode, Scenario
from xrdsim.score import Rec, TransferTally, tally_transfers
from xrdsim.score.card import run_bins
from xrdsim.score.digest import RecordDigest, digest_records
from xrdsim.score.stream import OpenTransfers, StreamTally
from xrdsim.score.tally import record_host
from xrdsim.sim.plan import RunPlan, fault_rows
from xrdsim.sim.run import SimRun, summed
from xrdsim.sim.truth import TABLES, Truth
from xrdsim.sim.uplinks import PackedParts, UplinkSum


def shard_ranges(sites: int, shards: int) -> list[range]:
    """``sites`` cut into at most ``shards`` contiguous ranges of near-equal length."""
    shards = max(1, min(shards, sites))
    q, r = divmod(sites, shards)
    out, start = [], 0
    for i in range(shards):
        n = q + (i < r)
        out.append(range(start, start + n))
        start += n
    return out


@dataclass
class ShardResult:
    """What one shard sends back: its truth rows with each chunk's end (``marks``; without
    ``keep_truth`` no transfer, datagram or host-counter rows and no records, only their
    counts), its uplink shares per chunk, what its collector gave, the tally of its matching,
    the digest of its records and counters, and the counts of its run."""

    sites: range
    tables: dict[str, list]
    marks: list[dict[str, int]]
    uplink_parts: list[PackedParts]
    collected: Collected
    report: CollectorReport
    stats: Counter
    sent: tuple[int, int]
    path_counts: Counter
    servers: list[str]  # host names of its data servers
    tally: TransferTally
    digest: RecordDigest
    totals: dict[str, int]  # rows made per truth table
    phases: dict[str, float] = field(default_factory=dict)
    peak_rss_mib: float = 0.0  # of the process that ran it, by the end of the shard
    held: dict[str, int] = field(default_factory=dict)  # streamed: rounds, most rows + records held, of how many

    def __getstate__(self) -> dict[str, Any]:
        # Rows travel as plain tuples: pickling a slotted dataclass calls Python per row,
        # a tuple of str/int/float is C all the way (half the time, both ways).
        state = dict(self.__dict__)
        state["tables"] = {t: _pack(rows) for t, rows in self.tables.items()}
        got = dataclasses.replace(self.collected, records=[])
        state["collected"] = (got, _pack(self.collected.records))
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["tables"] = {t: _unpack(TABLES[t], rows) for t, rows in state["tables"].items()}
        got, records = state["collected"]
        got.records = _unpack(Rec, records)
        state["collected"] = got
        self.__dict__.update(state)


def _pack(rows: list) -> list[tuple]:
    if not rows:
        return []
    get = attrgetter(*(f.name for f in dataclasses.fields(rows[0])))
    return [get(r) for r in rows]


def _unpack(row_type: type, rows: list[tuple]) -> list:
    return [row_type(*r) for r in rows]


def run_shard(scenario: Scenario, sites: range, keep_truth: bool = False, plan: RunPlan | None = None,
              progress: Progress | None = None, label: str = "run") -> ShardResult:
    """Simulate, carry, collect, tally and digest ``sites`` of ``scenario`` (a Dask task:
    plain data in, plain data out). The rows and records stream into a ``StreamTally`` in
    rounds (``Rounds``), so the shard holds what is open and a horizon of what closed, not its
    whole run; ``keep_truth`` instead keeps every row and record, tallies them at the end and
    sends them back too (the tests that compare rows). ``plan`` is the run's plan when the
    caller has it (else built here: it is the same). ``progress`` shows the shard's progress
    under ``label`` (a shard run in this process; a Dask task has none)."""
    clock = Clock()
    start = time.perf_counter()
    plan = plan or RunPlan(scenario.sim)
    clock.add("plan", time.perf_counter() - start)
    sim = SimRun(scenario.sim, sites=sites, plan=plan)
    stream = clock.timed("simulate", sim.delivered())
    t0 = float(scenario.sim.start_time)
    bins = run_bins(t0, scenario.sim.duration_s, scenario.report.bin_s)
    faults = fault_rows(scenario.sim, plan.faults)
    world = {srv.host.name for site in plan.world.sites for srv in site.servers}
    truth = sim.truth
    held: dict[str, int] = {}
    if keep_truth:
        got = collect_inprocess(stream, scenario, t0, clock, Progress(False, 0.0))
        start = time.perf_counter()
        records = current_records(got.records)
        tally = tally_transfers(truth.transfers, records, truth.datagrams, faults, t0)
        clock.add("tally", time.perf_counter() - start)
        start = time.perf_counter()
        digest = digest_records(((r, record_host(r, tally.ip_hosts)) for r in records), bins, tally.site_of,
                                truth.counters, nic_overhead(scenario), peer_hosts=world)
        clock.add("digest", time.perf_counter() - start)
    else:
        rounds = Rounds(sim, StreamTally(bins, faults, t0, settle_horizon(scenario), world), t0, clock)
        got = collect_inprocess(stream, scenario, t0, clock, progress or Progress(False, 0.0), rounds, label)
        start = time.perf_counter()
        with fewer_collections():
            rounds.take(got)
            held = {"rounds": rounds.tally.rounds, "peak": rounds.tally.peak_held, "of": truth.totals["transfers"] + got.record_count}
            tally, digest = rounds.tally.finish(nic_overhead(scenario))
        clock.add("tally", time.perf_counter() - start)
    report, got.collector_report = got.collector_report, None
    tables = {t: getattr(truth, t) if keep_truth or t not in SCORED_APART else [] for t in TABLES}
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return ShardResult(sites, tables, sim.marks, sim.uplink_parts, got, report, sim.stats, sim.sent, sim.path_counts,
                       [srv.name for srv in sim.servers], tally, digest, dict(truth.totals), clock.phases, peak_mib, held)


#: The shortest time between two rounds of a streamed shard (``Rounds``), seconds of the
#: collector's clock; rounds come every half horizon past it (a row waits a horizon and at
#: most half of one more, and is looked at about three times).
ROUND_S = 900.0


def settle_horizon(scenario: Scenario) -> float:
    """The longest after a transfer's close that the reference collector can still emit a
    record of it (any revision): the servers' f-stream flush and the path bring its CLOSE;
    without one (lost, a restart, a DISC without CLOSE) the file's timeout past its last news
    ends it at the latest (an incarnation outlives its files: its idle timeout comes later);
    then the collector's flush ticks."""
    path_s = run_end(scenario, 0.0) - scenario.sim.duration_s
    return scenario.sim.monitor.flush_s + path_s + scenario.collector.config.open_ttl + 3 * FLUSH_TICK_S + 60.0


class Rounds:
    """A shard's truth rows and records streamed into a ``StreamTally``: every round
    (``collect_inprocess``'s ``on_flush``, every half horizon of the collector's time, at
    least ``ROUND_S``) the rows and records made so far move out of the simulation's truth
    and the collector's output into the tally, which settles what can no longer change."""

    def __init__(self, sim: SimRun, tally: StreamTally, t0: float, clock: Clock) -> None:
        self.sim, self.tally, self.clock = sim, tally, clock
        self.every = max(ROUND_S, tally.horizon_s / 2)
        self.next, self.skew_s = t0 + self.every, 0.0

    def take(self, got: Collected) -> None:
        """Move what the simulation and the collector made since the last round into the tally."""
        truth = self.sim.truth
        self.tally.add_rows(truth.transfers)
        self.tally.add_datagrams(truth.datagrams)
        self.tally.add_counters(truth.counters)
        truth.transfers.clear()  # in place: the truth appends to these lists
        truth.datagrams.clear()
        truth.counters.clear()
        self.tally.add_records(got.records)
        got.left_behind += len(got.records)
        got.records.clear()

    def __call__(self, mark: float, got: Collected) -> None:
        if mark < self.next:
            return
        start = time.perf_counter()
        self.next = mark + self.every
        # (Inside ``collect_inprocess``'s loop, so already under ``fewer_collections``.)
        self.take(got)
        self.skew_s = max(self.skew_s, self.sim.max_skew_s)  # rows keep the skew of their close
        open_ = OpenTransfers(skew_s=self.skew_s)
        for server, stod, dictid, lfn, t_open in self.sim.open_transfers():
            open_.keys.add((server, stod, dictid))
            open_.paths.setdefault((server, lfn), []).append(t_open)
        self.tally.settle(mark, open_)
        self.clock.add("tally", time.perf_counter() - start)


#: Truth tables a shard scores where it ran (its tally and digest), so they need not travel.
#: (A shard's host counters; its uplink shares still travel, for the uplink rows.)
SCORED_APART = ("transfers", "datagrams", "counters")


@dataclass
class MergedRun:
    """The whole run made of its shards: what the scorer and the report read of a
    ``SimRun`` (``truth``, ``world``, ``servers``, ``paths``, ``path_counts``, ``stats``)."""

    config: Any
    world: Any
    truth: Truth
    servers: list[str]
    path_counts: Counter
    stats: Counter
    sent: tuple[int, int]
    tally: TransferTally  # the shards' matchings, added (``RunInputs.tally``)
    digest: RecordDigest  # their records and counters digested, added (``RunInputs.digest``)

    @property
    def paths(self) -> bool:
        """Every shard carried its datagrams through its sites' paths (``SimRun.delivered``)."""
        return True


def merge_truth(scenario: Scenario, plan: RunPlan, shards: list[ShardResult]) -> Truth:
    """The truth of the whole run from its shards' rows, in the one process's order:
    the faults first, then chunk by chunk each site's rows, then the chunk's uplink rows."""
    cfg = scenario.sim
    truth = Truth()
    for row in fault_rows(cfg, plan.faults):
        truth.add("faults", row)
    shards = sorted(shards, key=lambda s: s.sites.start)
    sums = UplinkSum([s.name for s in plan.world.sites], cfg.nic.wrap32)
    chunks = len(shards[0].marks)
    starts = [dict.fromkeys(TABLES, 0) for _ in shards]
    for c in range(chunks):
        for i, sh in enumerate(shards):
            for table in ("transfers", "datagrams", "counters"):
                a, b = starts[i][table], sh.marks[c][table]
                getattr(truth, table).extend(sh.tables[table][a:b])
                starts[i][table] = b
        truth.counters.extend(sums.rows(cfg.start_time, (p for sh in shards for p in sh.uplink_parts[c])))
    for table in TABLES:  # the rows here, and those the shards scored where they ran and kept
        truth.totals[table] = len(getattr(truth, table)) + sum(sh.totals[table] - len(sh.tables[table]) for sh in shards)
    return truth


def merge_collected(shards: list[ShardResult]) -> Collected:
    """One collector's output from the shards' collectors (each held its own servers)."""
    out = Collected()
    for sh in sorted(shards, key=lambda s: s.sites.start):
        got = sh.collected
        out.records.extend(got.records)
        out.left_behind += got.left_behind
        out.summaries.extend(got.summaries)
        out.losses.extend(got.losses)
        out.record_hosts.update(got.record_hosts)
        out.groups = (out.groups or []) + list(got.groups or [])
        out.datagrams += got.datagrams
    report = canonical_report(merge_reports([sh.report for sh in sorted(shards, key=lambda s: s.sites.start)]))
    out.report = report.to_dict()
    out.canonical()
    return out


def merge(scenario: Scenario, shards: list[ShardResult], plan: RunPlan | None = None) -> tuple[MergedRun, Collected]:
    """The merged run and collector output of ``shards`` (every site once); ``plan`` is the
    run's plan when the caller has it."""
    plan = plan or RunPlan(scenario.sim)
    covered = sorted(k for sh in shards for k in sh.sites)
    if covered != list(range(len(plan.world.sites))):
        raise ValueError(f"shards cover sites {covered[:5]}…, not each of {len(plan.world.sites)} once")
    truth = merge_truth(scenario, plan, shards)
    stats, paths = summed(sh.stats for sh in shards), summed(sh.path_counts for sh in shards)
    sent = (sum(sh.sent[0] for sh in shards), sum(sh.sent[1] for sh in shards))
    servers = [name for sh in sorted(shards, key=lambda s: s.sites.start) for name in sh.servers]
    tally, digest = TransferTally(), RecordDigest(shards[0].digest.bins)
    for sh in shards:
        tally.add(sh.tally)
        digest.add(sh.digest)
    return (MergedRun(scenario.sim, plan.world, truth, servers, paths, stats, sent, tally.canonical(), digest.canonical()),
            merge_collected(shards))


#: Runs shards: (scenario, site ranges, done(k, n), keep_truth, the run's plan) → their results.
Runner = Callable[[Scenario, list[range], Callable[[int, int], None], bool, RunPlan], list[ShardResult]]


def run_here(scenario: Scenario, ranges: list[range], done: Callable[[int, int], None], keep_truth: bool = False,
             plan: RunPlan | None = None, progress: Progress | None = None) -> list[ShardResult]:
    """Run the shards one after another in this process, from one plan: the process then
    holds one shard's truth and records at a time, and every shard's tally and digest
    (``progress``: each shard's progress shown as it runs)."""
    plan = plan or RunPlan(scenario.sim)
    out = []
    for i, r in enumerate(ranges):
        label = "run" if len(ranges) == 1 else f"shard {i + 1}/{len(ranges)}"
        out.append(run_shard(scenario, r, keep_truth, plan, progress, label))
        done(i + 1, len(ranges))
    return out


def run_sharded(scenario: Scenario, shards: int, runner: Runner = run_here, progress: Progress | None = None,
                clock: Clock | None = None, keep_truth: bool = False) -> tuple[MergedRun, Collected]:
    """Run ``scenario`` as ``shards`` shards through ``runner`` and merge them (``keep_truth``:
    with every truth row, not only the tables the scorer reads)."""
    clock = clock or Clock()
    prog = progress or Progress(False, scenario.sim.duration_s)
    ranges = shard_ranges(_site_count(scenario), shards)
    start = time.perf_counter()
    plan = RunPlan(scenario.sim)  # once: every shard and the merge use it
    clock.add("plan", time.perf_counter() - start)
    start = time.perf_counter()

    def done(k: int, n: int) -> None:
        if n > 1:
            prog.note(f"{scenario.name}: shard {k}/{n} done ({time.perf_counter() - start:.0f} s)")

    results = runner(scenario, ranges, done, keep_truth, plan)
    for sh in results:
        for name, secs in sh.phases.items():
            clock.add(f"shard_{name}", secs)
    clock.add("shards", time.perf_counter() - start)
    start = time.perf_counter()
    merged = merge(scenario, results, plan)
    clock.add("merge", time.perf_counter() - start)
    return merged


class ShardError(UserError):
    """A run that cannot be cut into shards: a bad shard count, a collector that is not in
    process."""


def check_shard_count(shards: int | None) -> None:
    """Raise ``ShardError`` for a shard count below 1 (None: the default)."""
    if shards is not None and shards < 1:
        raise ShardError(f"--shards: expected at least 1, got {shards}")


def check_shardable(scenario: Scenario, mode: CollectorMode | None, shards: int | None = None) -> None:
    """Raise ``ShardError`` unless ``scenario`` can run as ``shards`` shards with collector ``mode``."""
    check_shard_count(shards)
    asked = mode or scenario.collector.mode
    if asked is not CollectorMode.INPROCESS:
        raise ShardError(f"{scenario.name}: --shards/--workers/--scheduler run the in-process collector only, not {asked.value}")


class InProcess:
    """The ``simulate_and_collect`` of ``harness.run_scenario`` for a run cut into ``shards``
    shards run one after another in this process (``how``): the scores of one process, in
    the memory of one shard (``mode``: the collector asked for on the command line)."""

    def __init__(self, shards: int, mode: CollectorMode | None = None) -> None:
        self.shards, self.mode = shards, mode

    def __call__(self, scenario: Scenario, clock: Clock, progress: Progress) -> tuple[MergedRun, Collected]:
        check_shardable(scenario, self.mode, self.shards)
        runner = functools.partial(run_here, progress=progress)
        return run_sharded(scenario, self.shards, runner, progress, clock)


def _site_count(scenario: Scenario) -> int:
    cfg = scenario.sim
    return len(cfg.sites) if cfg.sites else cfg.site_count


__all__ = ["SCORED_APART", "InProcess", "MergedRun", "Runner", "ShardError", "check_shard_count", "check_shardable", "ShardResult", "merge", "merge_collected", "merge_truth", "run_here", "run_shard",
           "run_sharded", "shard_ranges"]
