"""Collector speed: decode + correlate + JSONL sink per core, and live UDP zero-loss rate.

    python bench/collector.py [--seconds 3] [--live] [--live-seconds 2]

The stream is what busy servers send: per session a ``u`` map packet, per file a ``d`` map
packet (second destination) and OPEN / XFR / CLOSE(OPS+SSQ) records, DISC at the end; f
records go out in packets of 30. Offline: datagrams/s and records/s on one core. Live: a
second process sends on loopback at increasing rates; the highest rate whose datagrams all
reached the collector (fed == sent, kernel drops 0) is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from collector import Collector, CollectorConfig  # noqa: E402
from collector.run import run_live  # noqa: E402
from collector.sinks import JsonlSink  # noqa: E402
from collector.sources import UdpSource  # noqa: E402
from xrdsim.wire import FileClose, FileDisc, FileOpen, FileOps, FileSSQ, FileXfr, FstreamPacket, MapPacket, encode, make_tod  # noqa: E402

Item = tuple[bytes, tuple[str, int]]


class Server:
    """One simulated server: two destinations (map on both, f on the first)."""

    def __init__(self, k: int, rng: random.Random) -> None:
        self.sid, self.stod, self.rng = 0x100000000000 + k, 1_700_000_000 + k, rng
        self.src1, self.src2 = (f"10.0.{k // 250}.{k % 250 + 1}", 40001), (f"10.0.{k // 250}.{k % 250 + 1}", 40002)
        self.seq1 = self.seq2 = self.fseq = 0
        self.dictid = 0
        self.pending: list = []
        self.t = 1_700_000_100

    def _map(self, code: str, text: str, dest: int) -> Item:
        self.dictid += 1
        seq = self.seq1 if dest == 1 else self.seq2
        pkt = encode(MapPacket(ord(code), seq & 255, self.stod, self.dictid, text))
        if dest == 1:
            self.seq1 += 1
            return pkt, self.src1
        self.seq2 += 1
        return pkt, self.src2

    def _rec(self, rec, out: list[Item]) -> None:
        self.pending.append(rec)
        if len(self.pending) == 30:
            self.t += 1
            tod = make_tod(self.pending, self.t - 1, self.t, self.sid)
            out.append((encode(FstreamPacket(self.fseq & 255, self.stod, tod, self.pending)), self.src1))
            self.fseq += 1
            self.pending = []

    def session(self, out: list[Item]) -> None:
        """A login, 1–3 files read or written, a disconnect."""
        rng = self.rng
        uid = f"xroot/u{self.dictid}.{self.dictid}:{self.sid}@wn{rng.randrange(999)}.example.org"
        out.append(self._map("u", f"{uid}\n&p=gsi&n=cms{rng.randrange(99)}&h=wn&o=cms&r=NULL&g=/cms&m=/DC=org/CN=u&I=4", 1))
        user = self.dictid
        for _ in range(rng.randrange(1, 4)):
            out.append(self._map("d", f"{uid}\n/store/mc/Run3/AOD/{rng.randrange(10**9):09d}/file.root", 2))
            fid = self.dictid
            self._rec(FileOpen(fid, rng.randrange(2**32), False, user, f"/store/mc/Run3/AOD/{fid:09d}/file.root"), out)
            if rng.random() < 0.3:
                self._rec(FileXfr(fid, rng.randrange(2**30), 0, 0), out)
            ops = FileOps(40, 2, 0, 3, 9, 60, 4096, 2**20, 8192, 2**22, 0, 0)
            self._rec(FileClose(fid, rng.randrange(2**30), rng.randrange(2**24), 0, False, ops, FileSSQ(1e12, 1e13, 900.0, 0.0)), out)
        self._rec(FileDisc(user), out)


def stream(n_datagrams: int, servers: int = 20, seed: int = 7) -> list[Item]:
    """At least ``n_datagrams`` datagrams of ``servers`` servers, sessions interleaved."""
    rng = random.Random(seed)
    pool = [Server(k, rng) for k in range(servers)]
    out: list[Item] = []
    while len(out) < n_datagrams:
        rng.choice(pool).session(out)
    return out


def offline(items: list[Item], seconds: float) -> tuple[float, float]:
    """Feed ``items`` through fresh collectors into a JSONL file, pass after pass, for
    ``seconds``; the median pass in CPU seconds gives (datagrams/s, records/s) of one core."""
    rates = []
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        while time.perf_counter() - start < seconds or len(rates) < 3:
            c, sink = Collector(), JsonlSink(os.path.join(tmp, "records.jsonl"))
            cpu = time.process_time()
            for i, (payload, src) in enumerate(items):
                events = c.feed(payload, src, 1000.0 + i * 1e-4)
                if events:
                    sink.write(events)
            sink.close()
            dt = time.process_time() - cpu
            rates.append((len(items) / dt, sum(c.report().records_by_ended.values()) / dt))
    rates.sort()
    return rates[len(rates) // 2]


def send(target: str, rate: float, seconds: float, path: str) -> None:
    """The second process: send the datagrams in ``path`` (length-prefixed) at ``rate``/s."""
    host, port = target.rsplit(":", 1)
    data, items, off = Path(path).read_bytes(), [], 0
    while off < len(data):
        n, sport = struct.unpack_from("!HH", data, off)
        items.append(data[off + 4 : off + 4 + n])
        off += 4 + n
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest, total, i, start = (host, int(port)), int(rate * seconds), 0, time.perf_counter()
    while i < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while i < due:
            sock.sendto(items[i % len(items)], dest)
            i += 1
        time.sleep(0.0005)
    print(total)


def live_step(rate: float, seconds: float, blob: str) -> tuple[int, int, dict]:
    """One rate: (sent, fed to the collector, the source's figures incl. kernel drops)."""
    source = UdpSource([("127.0.0.1", 0)])
    port = source.addresses[0][1]
    collector = Collector(CollectorConfig())
    sink = JsonlSink(os.devnull)

    async def main() -> tuple[int, dict]:
        stop = asyncio.Event()
        proc = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--send", f"127.0.0.1:{port}", "--rate", str(rate), "--live-seconds", str(seconds), "--blob", blob,
            stdout=subprocess.PIPE,
        )  # fmt: skip
        task = asyncio.create_task(run_live(collector, source, sink, stop=stop, tick=0.5))
        out, _ = await proc.communicate()
        await asyncio.sleep(0.5)
        stop.set()
        report = await task
        return int(out.decode().strip() or 0), report.io

    sent, io = asyncio.run(main())
    sink.close()
    return sent, collector.datagrams, io


def live(items: list[Item], seconds: float) -> None:
    """Increase the rate until datagrams go missing; print each step and the best."""
    with tempfile.NamedTemporaryFile(delete=False) as fh:
        for payload, src in items:
            fh.write(struct.pack("!HH", len(payload), src[1]) + payload)
        blob = fh.name
    best = 0
    try:
        for rate in (5_000, 10_000, 20_000, 30_000, 40_000, 50_000, 60_000, 80_000, 100_000, 130_000):
            sent, fed, io = live_step(rate, seconds, blob)
            drops = int(io["kernel_drops"])
            if not best:
                print(f"receive buffer: requested {io['rcvbuf_requested']:,} B, granted {io['rcvbuf_granted']:,} B")
            ok = fed == sent and drops == 0
            print(f"live UDP {rate:>7,}/s: sent {sent:>8,} fed {fed:>8,} kernel drops {drops:>6,} {'ok' if ok else 'LOSS'}")
            if not ok:
                break
            best = rate
    finally:
        os.unlink(blob)
    print(f"live UDP: highest zero-loss rate {best:,} datagrams/s (sender in a second process, loopback; drops from {io['kernel_drops_from']})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--live", action="store_true", help="also measure live UDP")
    parser.add_argument("--live-seconds", type=float, default=2.0)
    parser.add_argument("--send", help=argparse.SUPPRESS)
    parser.add_argument("--rate", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--blob", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.send:
        send(args.send, args.rate, args.live_seconds, args.blob)
        return
    items = stream(60_000)
    kinds = {}
    for payload, _ in items:
        kinds[chr(payload[0])] = kinds.get(chr(payload[0]), 0) + 1
    print("mix: " + " ".join(f"{k}={v}" for k, v in sorted(kinds.items())) + f" ({len(items)} datagrams, 20 servers)")
    dgrams, recs = offline(items, args.seconds)
    print(f"offline decode+correlate+JSONL: {dgrams:,.0f} datagrams/s, {recs:,.0f} records/s (one core, median pass)")
    if args.live:
        live(items, args.live_seconds)


if __name__ == "__main__":
    main()
