"""Shards on Dask: ``--workers N`` starts a local ``dask.distributed`` cluster of N worker
processes (one thread each: the simulator is pure Python), ``--scheduler ADDRESS`` uses a
running one. Each shard is one task (``xrdsim.shards.run_shard``); results come back as
they finish, and the merge is the same whatever finished first."""

from __future__ import annotations

from typing import Callable

from xrdsim.errors import UserError
from xrdsim.harness import Clock, Collected, Progress
from xrdsim.scenario import CollectorMode, Scenario
from xrdsim.shards import MergedRun, Runner, ShardResult, run_shard, run_sharded

#: Shards per worker: more than one evens out sites of unequal load and bounds each task's memory.
SHARDS_PER_WORKER = 2


class ClusterError(UserError):
    """Dask is missing, the scheduler cannot be reached, or the run cannot be sharded."""


def _client(workers: int | None, scheduler: str | None):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - dask is a run-time dependency
        raise ClusterError("--workers/--scheduler need dask.distributed: pip install 'dask[distributed]'") from None
    if scheduler:
        try:
            return Client(scheduler, timeout="10s"), None
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None)
    return Client(cluster), cluster


def dask_runner(workers: int | None = None, scheduler: str | None = None) -> Runner:
    """A ``shards.Runner`` that runs each shard as a task on Dask."""

    def run(scenario: Scenario, ranges: list[range], done: Callable[[int, int], None]) -> list[ShardResult]:
        from dask.distributed import as_completed

        client, cluster = _client(workers, scheduler)
        try:
            futures = client.map(run_shard, [scenario] * len(ranges), ranges, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            results: list[ShardResult | None] = [None] * len(ranges)
            for k, fut in enumerate(as_completed(futures), 1):
                results[index[fut.key]] = fut.result()
                fut.release()
                done(k, len(ranges))
            return results  # type: ignore[return-value]
        finally:
            client.close()
            if cluster is not None:
                cluster.close()

    return run


def worker_count(workers: int | None, scheduler: str | None) -> int:
    """Workers the run will have: ``workers``, or those of the scheduler's cluster."""
    if not scheduler:
        return max(1, workers or 1)
    client, _ = _client(None, scheduler)
    try:
        return max(1, len(client.scheduler_info().get("workers", {})))
    finally:
        client.close()


def sharded(workers: int | None, scheduler: str | None, shards: int | None = None, mode: CollectorMode | None = None):
    """The ``simulate_and_collect`` of ``harness.run_scenario`` for a run on Dask; ``mode``
    is the collector asked for on the command line, if any."""
    if workers is not None and workers < 1:
        raise ClusterError(f"--workers: expected at least 1, got {workers}")

    def simulate_and_collect(scenario: Scenario, clock: Clock, progress: Progress) -> tuple[MergedRun, Collected]:
        asked = mode or scenario.collector.mode
        if asked is not CollectorMode.INPROCESS:
            raise ClusterError(f"{scenario.name}: --workers/--scheduler run the in-process collector only, not {asked.value}")
        n = shards or SHARDS_PER_WORKER * worker_count(workers, scheduler)
        return run_sharded(scenario, n, dask_runner(workers, scheduler), progress, clock)

    return simulate_and_collect


__all__ = ["ClusterError", "SHARDS_PER_WORKER", "dask_runner", "sharded", "worker_count"]
