"""Speed of ``replay`` on one core: capture reading (datagrams/s) and timed sending on loopback.

    python bench/replay_read.py [--datagrams 200000] [--send 20000]

Writes a pcap of synthetic monitoring datagrams (5 % above the MTU, so fragmented) with
``write_pcap`` to a temporary folder, reads it back with ``read_datagrams`` (best of three),
compares scapy's RawPcapReader on the same file (frames only, no parsing), then replays to a
UDP socket on 127.0.0.1 at 10x and at full speed and prints send rate and timing error.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import random
import socket
import struct
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from replay import CaptureStats, read_datagrams, replay, write_pcap
from xrdsim.datagram import Datagram

CODES = b"ffffffdut="


def synthetic(n: int, seed: int = 1) -> list[Datagram]:
    """``n`` monitoring-like datagrams 1 ms apart from 20 servers; 5 % are 2–9 KB."""
    rng = random.Random(seed)
    pool = rng.randbytes(1 << 16)
    out = []
    for i in range(n):
        size = rng.randrange(2000, 9000) if rng.random() < 0.05 else rng.randrange(60, 1400)
        code = CODES[i % len(CODES)]
        head = struct.pack("!BBHI", code, i & 0xFF, size, 1_700_000_000)
        start = rng.randrange(len(pool) - size)
        server = f"10.1.{i % 20}.{1 + i % 7}"
        out.append(Datagram(1.7e9 + i * 1e-3, (server, 1094), ("10.0.0.9", 9930), head + pool[start : start + size - 8]))
    return out


def best_of(runs: int, fn: Callable[[], int]) -> tuple[float, int]:
    """(best seconds, result) of ``runs`` calls."""
    best, result = math.inf, 0
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def bench_read(path: Path, n: int) -> None:
    stats = CaptureStats()
    secs, count = best_of(3, lambda: sum(1 for _ in read_datagrams(path, stats=CaptureStats())))
    for _ in read_datagrams(path, stats=stats):
        pass
    assert count == n, (count, n)
    print(f"read_datagrams: {n / secs:,.0f} datagrams/s ({n:,} in {secs:.2f} s; {stats.summary()})")
    from scapy.utils import RawPcapReader

    secs, frames = best_of(1, lambda: sum(1 for _ in RawPcapReader(str(path))))
    print(f"scapy RawPcapReader, frames only: {frames / secs:,.0f} frames/s ({frames:,} frames)")


def bench_send(datagrams: list[Datagram], speed: float) -> None:
    """Replay to a receiver in another process (a thread would share our GIL and our timing)."""
    ready, result = multiprocessing.Queue(), multiprocessing.Queue()
    receiver = multiprocessing.Process(target=_receive, args=(ready, result), daemon=True)
    receiver.start()
    rep = replay(datagrams, ready.get(timeout=10), speed=speed)
    received = result.get(timeout=30)
    receiver.join()
    timing = (
        f"lateness mean {rep.lateness_mean_s * 1e6:,.0f} µs, p99 {rep.lateness_p99_s * 1e6:,.0f} µs, max {rep.lateness_max_s * 1e6:,.0f} µs"
        if speed != math.inf
        else "no schedule to be late against"
    )
    label = "max" if speed == math.inf else f"{speed:g}x"
    print(f"replay {label:>4}: {rep.sent:,} sent in {rep.wall_s:.2f} s = {rep.rate_pps:,.0f}/s ({rep.bytes_sent / rep.wall_s / 1e6:,.0f} MB/s), {received:,} received; {timing}")


def _receive(ready: multiprocessing.Queue, result: multiprocessing.Queue) -> None:
    """Count datagrams on 127.0.0.1:0 until 0.5 s of silence."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 25)
        rx.bind(("127.0.0.1", 0))
        rx.settimeout(0.5)
        ready.put(rx.getsockname())
        count = 0
        try:
            while True:
                rx.recv(65536)
                count += 1
        except TimeoutError:
            result.put(count)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datagrams", type=int, default=200_000)
    p.add_argument("--send", type=int, default=20_000, help="datagrams per replay run (bounded)")
    args = p.parse_args()
    datagrams = synthetic(args.datagrams)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.pcap"
        t0 = time.perf_counter()
        summary = write_pcap(path, datagrams)
        secs = time.perf_counter() - t0
        print(f"write_pcap: {summary.datagrams / secs:,.0f} datagrams/s ({summary.frames:,} frames, {summary.fragmented:,} fragmented, {path.stat().st_size / 1e6:,.0f} MB)")
        bench_read(path, args.datagrams)
    bench_send(datagrams[: min(args.send, 5_000)], 10.0)
    bench_send(datagrams[: args.send], math.inf)


if __name__ == "__main__":
    main()
