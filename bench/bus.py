"""The collector on RabbitMQ: spool and publish rates, and records lost across a SIGKILL.

    python bench/bus.py [--url amqp://guest:guest@127.0.0.1:5672/%2F] [--records 20000]

Needs a running RabbitMQ. Prints: records spooled per second; records published per second
with publisher confirms (two layouts each); and, for a collector killed with SIGKILL while
the broker is unreachable, how many of the records it had spooled were published after a
restart (goal: every one).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pika

sys.path[0] = str(Path(__file__).resolve().parents[1])  # bench/collector.py would shadow the package

from collector import Ended, TransferRecord  # noqa: E402
from collector.formats import Layout  # noqa: E402
from collector.sinks.amqp import AmqpSink, AmqpTarget  # noqa: E402
from collector.spool import Spool  # noqa: E402


def record(k: int) -> TransferRecord:
    """A plausible transfer record, numbered ``k``."""
    return TransferRecord(
        "1234#1700000000", "xrd01.example.org", "192.0.2.1", 1094, "SITE", "alice", "/DC=org/CN=Alice", "cms", "",
        "wn1.example.org", "198.51.100.4", "xroot", False, "", f"/store/data/{k:08d}.root", k, 1 << 30, 4 << 20,
        4 << 20, 0, 0, 40, 0, 0, 0, 4096, 1 << 20, 1e4, None, None, None, None, None, None,
        1.7e9, 1.7e9 + 60, 60.0, Ended.CLOSE, False, "f", False, 1.7e9 + 61, record_id=f"1234#1700000000/{k}",
    )  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="amqp://guest:guest@127.0.0.1:5672/%2F")
    ap.add_argument("--records", type=int, default=20000)
    args = ap.parse_args()
    recs = [record(k) for k in range(args.records)]
    with tempfile.TemporaryDirectory() as tmp:
        spool = Spool(Path(tmp) / "a")
        t0 = time.perf_counter()
        sink = AmqpSink(AmqpTarget("amqp://guest:guest@127.0.0.1:1/%2F", {Layout.OSG: "bench.osg", Layout.WLCG: "bench.wlcg"}), spool, drain_s=0)
        for i in range(0, len(recs), 100):
            sink.write(recs[i : i + 100])
        spooled = time.perf_counter() - t0
        sink.close()
        print(f"spooled {len(recs):,} records (2 layouts) in {spooled:.2f} s: {len(recs) / spooled:,.0f} records/s")
        tag = uuid.uuid4().hex[:6]
        sink = AmqpSink(AmqpTarget(args.url, {Layout.OSG: "bench.osg", Layout.WLCG: "bench.wlcg"}), Spool(Path(tmp) / "a"), drain_s=600)
        t0 = time.perf_counter()
        while sink.spool.pending and not sink.last_error:
            time.sleep(0.05)
        sink.close()
        took = time.perf_counter() - t0
        if sink.last_error:
            sys.exit(f"publishing failed: {sink.last_error}")
        print(f"published {sink.published:,} messages with confirms in {took:.2f} s: {sink.published / took:,.0f} messages/s; left {sink.spool.pending}")
        print(kill_and_restart(args.url, Path(tmp) / "k", tag))


def kill_and_restart(url: str, spool: Path, tag: str) -> str:
    """SIGKILL a collector that spooled records it could not publish; restart it on the spool."""
    import base64
    import json

    from replay import read_datagrams

    fixture = Path(__file__).resolve().parents[1] / "tests/fixtures/real-xrootd-5.5.3/monitoring.pcap"
    lines = [json.dumps({"remote": f"{d.src[0]}:{d.src[1]}", "version": "1", "data": base64.b64encode(d.payload).decode()}) for d in read_datagrams(fixture)]
    exchange = f"bench.kill.{tag}"
    conn = pika.BlockingConnection(pika.URLParameters(url))
    ch = conn.channel()
    ch.exchange_declare(exchange, "fanout", durable=True)
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.queue_bind(q, exchange)
    cmd = [sys.executable, "-m", "xrdsim", "collect", "--shoveler", "-", "--spool", str(spool), "--exchange", f"full={exchange}",
           "--exchange", "osg=", "--exchange", "wlcg="]  # fmt: skip
    proc = subprocess.Popen([*cmd, "--amqp-out", "amqp://guest:guest@127.0.0.1:1/%2F"], stdin=subprocess.PIPE, text=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    proc.stdin.write("\n".join(lines) + "\n")
    proc.stdin.flush()
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    spooled = Spool(spool).pending
    subprocess.run([*cmd, "--amqp-out", url], input="", capture_output=True, text=True, timeout=120, check=True)
    time.sleep(0.5)
    got = ch.queue_declare(q, passive=True).method.message_count
    conn.close()
    return f"SIGKILL with {spooled} records spooled, restart published {got}: {spooled - got} lost"


if __name__ == "__main__":
    main()
