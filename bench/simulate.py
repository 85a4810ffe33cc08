"""Simulator speed on one core: transfers and datagrams per wall-second, simulated/wall, and
a bare SimPy loop in the same run for scale.

    python bench/simulate.py [--sites 100] [--hours 24] [--jobs-per-hour 600] [--trace]

The bare loop schedules as many SimPy events as the simulation did, spread over one process
per transfer (a timeout each, nothing else): what the event loop alone costs per transfer,
so the gap between the two figures is the simulator's own work (goal: ≥ 10,000 transfers/s).

An f-stream scenario (the WLCG default monitor: fstat 60 s lfn ops ssq xfr 5, user, info,
tpc) with the truth streamed to Parquet in a temporary directory, so memory stays flat; peak
RSS is printed at each simulated hour to show it. ``--trace`` adds a second dest with
``files iov user``: the t-stream with every I/O entry.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from xrdsim.sim import DestConfig, DestEvent, SimConfig, WorkloadConfig, simulate, wlcg_monitor  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=100)
    ap.add_argument("--hours", type=float, default=24.0)
    ap.add_argument("--jobs-per-hour", type=float, default=600.0, help="per site")
    ap.add_argument("--trace", action="store_true", help="add a files/iov/user dest (t-stream)")
    args = ap.parse_args()
    monitor = wlcg_monitor()
    if args.trace:
        trace_dest = DestConfig("collector2.example.org", 9930, [DestEvent.FILES, DestEvent.IOV, DestEvent.USER])
        monitor = dataclasses.replace(monitor, dests=[*monitor.dests, trace_dest])
    cfg = SimConfig(seed=1, duration_s=args.hours * 3600, site_count=args.sites, step_s=300, monitor=monitor,
                    workload=WorkloadConfig(jobs_per_hour=args.jobs_per_hour))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run = simulate(cfg, stream_dir=tmp)
        n, next_hour = 0, 3600.0
        for _ in run.datagrams():
            n += 1
            if run.now >= next_hour:
                rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                print(f"  sim {run.now / 3600:5.1f} h  transfers {run.truth.totals['transfers']:>9,}  "
                      f"datagrams {n:>9,}  wall {time.perf_counter() - t0:7.1f} s  peak RSS {rss:6.0f} MiB", flush=True)
                next_hour += 3600.0
        run.truth.write(tmp)
        wall = time.perf_counter() - t0
    xfers = run.truth.totals["transfers"]
    events = run.events  # SimPy's event counters: how many events the run scheduled
    bare = bare_loop(xfers, events)
    print(f"sites {args.sites}, servers {len(run.servers)}, simulated {args.hours:g} h in {wall:.1f} s wall")
    print(f"transfers {xfers:,} -> {xfers / wall:,.0f} transfers/s  (SimPy events {events:,}, {events / xfers:.1f} per transfer)")
    print(f"bare SimPy loop, same events over {xfers:,} processes -> {xfers / bare:,.0f} transfers/s "
          f"(the simulator costs {wall / bare:.1f}x the bare loop)")
    print(f"datagrams {n:,} -> {n / wall:,.0f} datagrams/s")
    print(f"simulated/wall time ratio {cfg.duration_s / wall:,.0f}x")


def bare_loop(processes: int, events: int) -> float:
    """Wall seconds of a SimPy run of ``events`` timeouts over ``processes`` processes."""
    import simpy

    env = simpy.Environment()
    per = max(1, events // max(processes, 1) - 2)  # the spawner's timeout and the process start are events too

    def proc(k: int):
        for _ in range(per):
            yield env.timeout(1.0 + k % 7)

    def spawner():  # transfers arrive one after the other, as jobs do, so a few hundred run at once
        for k in range(processes):
            env.process(proc(k))
            yield env.timeout(0.05)

    t0 = time.perf_counter()
    env.process(spawner())
    env.run()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
