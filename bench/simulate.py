"""Simulator speed on one core: transfers and datagrams per wall-second, simulated/wall.

    python bench/simulate.py [--sites 100] [--hours 24] [--jobs-per-hour 600] [--trace]

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
    print(f"sites {args.sites}, servers {len(run.ctx.servers)}, simulated {args.hours:g} h in {wall:.1f} s wall")
    print(f"transfers {xfers:,} -> {xfers / wall:,.0f} transfers/s")
    print(f"datagrams {n:,} -> {n / wall:,.0f} datagrams/s")
    print(f"simulated/wall time ratio {cfg.duration_s / wall:,.0f}x")


if __name__ == "__main__":
    main()
