"""The live collector on several cores: datagrams/s and loss of ``xrdsim collect --listen
--processes N`` for N = 1 and 2, fed by a sender replaying a generated stream; beside it
the offline feed rate, the flush cost of many quiet servers, and decode against the
OSG-style decoder.

    python bench/collector_processes.py [--seconds 3] [--live-seconds 10] [--rates 20000,30000,...] [--processes 1,2]

The stream is bench/collector.py's (20 servers, two destinations each), long enough that
every datagram is sent once: a stream sent round and round would be duplicates after its
first pass, which the collector drops cheaply (earlier stops measured that way, on 60,000
datagrams: 10,000/s with zero loss, 30,000/s with loss). The sender (its own process) sends from one
socket per original sender socket (40), so the kernel's SO_REUSEPORT hash can spread them
over the workers, at a fixed rate for ``--live-seconds``, long enough that the 16 MiB receive
buffers cannot hide a collector slower than the rate. A rate passes when every datagram
sent was fed to a collector (the merged report's ``datagrams``) and the kernel dropped none;
the records written and the collector's CPU (workers and parent, from its report) are
printed beside it: the CPU per datagram tells what a rate needs where the machine's speed
moves the zero-loss rate. Everything runs on this machine: on two cores the
sender takes CPU from the collectors, so the figures are a floor.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector import Collector, CollectorConfig  # noqa: E402
from decode import versus_osg  # noqa: E402


def _bench_collector():  # type: ignore[no-untyped-def]
    """bench/collector.py (its stream and offline pass): its name is the package's."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_collector", Path(__file__).resolve().parent / "collector.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_bc = _bench_collector()
Item, offline, stream = _bc.Item, _bc.offline, _bc.stream


def send(port: int, rate: float, seconds: float, items: list[Item]) -> tuple[int, float]:
    """Send the first ``rate * seconds`` of ``items``, each once, to 127.0.0.1:``port`` at
    ``rate``/s, each from the socket of its original sender; returns (how many were sent,
    the rate reached: below ``rate`` when the sender could not keep up)."""
    total = int(rate * seconds)
    if total > len(items):
        raise SystemExit(f"{len(items):,} datagrams for {total:,}: generate more")
    socks: dict[tuple[str, int], socket.socket] = {}
    plan = []
    for payload, src in items[:total]:
        if src not in socks:  # connected: a send costs the sender less than a sendto (the CPU is the collectors')
            socks[src] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks[src].connect(("127.0.0.1", port))
        plan.append((socks[src].send, payload))
    i, start = 0, time.perf_counter()
    while i < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        for send_one, payload in plan[i:due]:
            send_one(payload)
        i = max(i, due)
        time.sleep(0.0005)
    reached = total / (time.perf_counter() - start)
    for sock in socks.values():
        sock.close()
    return total, reached


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def live_step(processes: int, rate: float, seconds: float, items: list[Item], tmp: str) -> tuple[int, float, dict]:
    """One run: (sent, the rate the sender reached, the collector's merged report)."""
    port, report = _free_port(), os.path.join(tmp, f"report-{processes}-{int(rate)}.json")
    cmd = [sys.executable, "-m", "xrdsim", "collect", "--listen", f"127.0.0.1:{port}", "--processes", str(processes),
           "--out", os.path.join(tmp, "records.jsonl"), "--report", report]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _wait_bound(port, proc)
        sent, reached = send(port, rate, seconds, items)
        time.sleep(1.0)  # the collectors empty their queues
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    if proc.returncode != 0:
        raise SystemExit(f"collect exited {proc.returncode}: {err[-500:]}")
    return sent, reached, json.loads(Path(report).read_text())


def _wait_bound(port: int, proc: subprocess.Popen) -> None:
    """Until ``proc`` has a UDP socket on ``port`` (every worker binds before any starts)."""
    hexport = f":{port:04X} "
    deadline = time.time() + 30
    while time.time() < deadline and proc.poll() is None:
        if hexport in Path("/proc/net/udp").read_text():
            time.sleep(0.5)  # the workers' event loops start
            return
        time.sleep(0.05)
    raise SystemExit("collect did not bind its port")


def live(processes: list[int], rates: list[float], seconds: float, items: list[Item]) -> None:
    """Each process count at increasing rates until datagrams go missing."""
    with tempfile.TemporaryDirectory() as tmp:
        for n in processes:
            best = 0.0
            for rate in rates:
                sent, reached, rep = live_step(n, rate, seconds, items, tmp)
                fed, drops = rep["datagrams"], rep["io"].get("kernel_drops", 0)
                lost, records = sent - fed, sum(rep["records_by_ended"].values())
                ok = lost == 0 and drops == 0
                split = rep["io"].get("datagrams_by_process", fed)
                cpu = rep["io"].get("cpu_s", 0.0) + rep["io"].get("parent_cpu_s", 0.0)
                print(f"live --processes {n} {rate:>7,.0f}/s (sender reached {reached:,.0f}/s): sent {sent:>8,} fed {fed:>8,} "
                      f"(by process {split}) records {records:,} lost {lost:>6,} ({lost / sent:.2%}) kernel drops {drops:>6,} "
                      f"{'ok' if ok else 'LOSS'}; collector CPU {cpu:.1f} s, {cpu * 1e6 / max(fed, 1):.1f} us a datagram")  # fmt: skip
                if not ok:
                    break
                best = rate
            print(f"live --processes {n}: highest zero-loss rate {best:,.0f} datagrams/s")


def flush_share(servers: int = 2000, hours: float = 1.0) -> None:
    """CPU share of the 1-second flush in an offline run of many quiet servers (one
    datagram each every few minutes): what deadlines save over a walk of every server."""
    items = stream(int(servers * hours * 12), servers=servers, seed=3)
    span = hours * 3600.0
    c = Collector(CollectorConfig())
    flush_cpu, next_flush, start = 0.0, 0.0, time.process_time()
    for i, (payload, src) in enumerate(items):
        t = i * span / len(items)
        if t >= next_flush:
            t0 = time.process_time()
            c.flush(t)
            flush_cpu += time.process_time() - t0
            next_flush = t + 1.0
        c.feed(payload, src, t)
    feed_cpu = time.process_time() - start - flush_cpu
    share = flush_cpu / (flush_cpu + feed_cpu)
    print(f"offline, {servers} servers over {hours:g} h ({len(items):,} datagrams, {int(span):,} ticks): flush {share:.1%} of the CPU "
          f"({flush_cpu * 1e6 / span:,.0f} us per tick)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each offline measure")
    parser.add_argument("--live-seconds", type=float, default=10.0, help="seconds of sending per rate")
    parser.add_argument("--rates", default="20000,30000,40000,50000,60000,70000,80000")
    parser.add_argument("--processes", default="1,2")
    parser.add_argument("--no-live", action="store_true", help="only the offline figures")
    args = parser.parse_args()
    items = stream(60_000)
    dgrams, recs = offline(items, args.seconds)
    print(f"offline decode+correlate+JSONL: {dgrams:,.0f} datagrams/s, {recs:,.0f} records/s (one core, median pass, CPU time)")
    cpu = time.process_time()
    c = Collector()
    for i, (payload, src) in enumerate(items):
        c.feed(payload, src, 1000.0 + i * 1e-4)
    print(f"offline Collector.feed alone: {len(items) / (time.process_time() - cpu):,.0f} datagrams/s (one pass, CPU time)")
    flush_share()
    versus_osg(args.seconds)
    if not args.no_live:
        rates = [float(r) for r in args.rates.split(",")]
        unique = stream(int(max(rates) * args.live_seconds))  # every datagram sent once
        live([int(n) for n in args.processes.split(",")], rates, args.live_seconds, unique)


if __name__ == "__main__":
    main()
