"""Shards on Dask: ``--workers N`` starts a local ``dask.distributed`` cluster of N worker
processes (one thread each: the simulator is pure Python), ``--scheduler ADDRESS`` uses a
running one. Each shard is one task (``xrdsim.shards.run_shard``); results come back as
they finish, and the merge is the same whatever finished first."""

from __future__ import annotations

from typing import Callable

from xrdsim.errors import UserError
from xrdsim.harness import Clock, Collected, Progress
from xrdsim.scenario import CollectorMode, Scenario
from xrdsim.shards import MergedRun, ShardResult, check_shard_count, check_shardable, run_shard, run_sharded
from xrdsim.sim.plan import RunPlan

#: Shards per worker: more than one evens out sites of unequal load and bounds each task's memory.
SHARDS_PER_WORKER = 4
#: How long to try to reach a running scheduler (``--scheduler-timeout``), seconds.
SCHEDULER_TIMEOUT_S = 10.0


class ClusterError(UserError):
    """Dask is missing, the scheduler cannot be reached, or the worker count is wrong (a run
    that cannot be sharded is a ``shards.ShardError``)."""


def _client(workers: int | None, scheduler: str | None, timeout_s: float = SCHEDULER_TIMEOUT_S):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a run-time dependency
        raise ClusterError("--workers/--scheduler need dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout=f"{timeout_s}s"), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    import dask

    # The statistical profiler samples the task's thread every 10 ms: with one pure-Python
    # thread per worker that is several per cent of the run, for a picture nobody looks at.
    with dask.config.set({"distributed.worker.profile.enabled": False}):
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


class DaskRunner:
    """A ``shards.Runner`` that runs each shard as a task on Dask; after a run,
    ``worker_peaks_gib`` holds each worker's peak RSS. As a context manager it holds one
    connection (and local cluster) for ``worker_count`` and the run; called outside one, it
    opens its own for the call."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
        self.workers, self.scheduler, self.timeout_s = workers, scheduler, timeout_s
        self.worker_peaks_gib: list[float] = []
        self._client = self._cluster = None

    def __enter__(self) -> "DaskRunner":
        self._client, self._cluster = _client(self.workers, self.scheduler, self.timeout_s)
        return self

    def __exit__(self, *exc: object) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        self._client = self._cluster = None

    def worker_count(self) -> int:
        """Workers of the connected cluster (at least 1)."""
        return max(1, len(self._client.scheduler_info().get("workers", {})))

    def __call__(self, scenario: Scenario, ranges: list[range], done: Callable[[int, int], None],
                 keep_truth: bool = False, plan: RunPlan | None = None) -> list[ShardResult]:
        if self._client is None:
            with self:
                return self._run(scenario, ranges, done, keep_truth, plan)
        return self._run(scenario, ranges, done, keep_truth, plan)

    def _run(self, scenario: Scenario, ranges: list[range], done: Callable[[int, int], None], keep_truth: bool,
             plan: RunPlan | None) -> list[ShardResult]:
        from dask.distributed import as_completed

        client = self._client
        n = len(ranges)
        # The plan travels once to each worker, not once per task, nor is it rebuilt there.
        shared = client.scatter(plan, broadcast=True) if plan is not None else None
        futures = client.map(run_shard, [scenario] * n, ranges, [keep_truth] * n, [shared] * n, pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        results: list[ShardResult | None] = [None] * len(ranges)
        for k, fut in enumerate(as_completed(futures), 1):
            results[index[fut.key]] = fut.result()
            fut.release()
            done(k, len(ranges))
        peaks = client.run(_peak_rss_gib)
        self.worker_peaks_gib = [peaks[w] for w in sorted(peaks)]
        return results  # type: ignore[return-value]


def _peak_rss_gib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def dask_runner(workers: int | None = None, scheduler: str | None = None) -> DaskRunner:
    """A ``shards.Runner`` that runs each shard as a task on Dask."""
    return DaskRunner(workers, scheduler)


class Sharded:
    """The ``simulate_and_collect`` of ``harness.run_scenario`` for a run on Dask (``how``);
    ``mode`` is the collector asked for on the command line, if any; ``timeout_s`` how long
    to try to reach ``scheduler``. After a run, ``worker_peaks_gib`` holds each worker's peak RSS."""

    def __init__(self, workers: int | None, scheduler: str | None, shards: int | None = None,
                 mode: CollectorMode | None = None, timeout_s: float = SCHEDULER_TIMEOUT_S) -> None:
        check_shard_count(shards)
        if workers is not None and workers < 1:
            raise ClusterError(f"--workers: expected at least 1, got {workers}")
        self.workers, self.scheduler, self.shards, self.mode = workers, scheduler, shards, mode
        if not timeout_s > 0:
            raise ClusterError(f"--scheduler-timeout: expected more than 0 seconds, got {timeout_s:g}")
        self.runner = DaskRunner(workers, scheduler, timeout_s)

    @property
    def worker_peaks_gib(self) -> list[float]:
        return self.runner.worker_peaks_gib

    def __call__(self, scenario: Scenario, clock: Clock, progress: Progress) -> tuple[MergedRun, Collected]:
        check_shardable(scenario, self.mode)
        with self.runner as runner:
            n = self.shards or SHARDS_PER_WORKER * runner.worker_count()
            return run_sharded(scenario, n, runner, progress, clock)


def sharded(workers: int | None, scheduler: str | None, shards: int | None = None, mode: CollectorMode | None = None,
            timeout_s: float = SCHEDULER_TIMEOUT_S) -> Sharded:
    """A run on Dask: ``workers`` local processes, or the cluster at ``scheduler`` (tried for
    ``timeout_s`` seconds)."""
    return Sharded(workers, scheduler, shards, mode, timeout_s)


__all__ = ["SCHEDULER_TIMEOUT_S", "SHARDS_PER_WORKER", "ClusterError", "DaskRunner", "Sharded", "dask_runner", "sharded"]
