"""Capture reading for ``validate`` on one core: one read for monitoring and TCP together
against the three reads it used to make (datagrams, listeners, TCP payload).

    python bench/validate_read.py [--segments 400000] [--flows 200]

Writes a pcap of ``--flows`` TCP connections to port 1094 (SYN, SYN+ACK, then in-order 1448-byte
segments with a retransmission every 100, and pure ACKs back) interleaved with a UDP
monitoring datagram every 50 segments, then times (best of three) ``read_datagrams`` with a
``TcpScan`` plus ``accounting`` and ``listeners``, against ``read_datagrams``,
``tcp_listeners`` and ``count_tcp_payload`` one after the other; checks both agree.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from replay import TcpScan, count_tcp_payload, read_datagrams, tcp_listeners  # noqa: E402

ETH = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00"
SERVER, CLIENT = bytes([10, 0, 0, 1]), bytes([10, 0, 1, 0])


def ip4(src: bytes, dst: bytes, proto: int, body: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0x4000, 64, proto, 0, src, dst) + body


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes) -> bytes:
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport: int, dport: int, payload: bytes) -> bytes:
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def write(path: Path, segments: int, flows: int) -> int:
    """The capture; returns the payload bytes sent to the server (each byte once)."""
    frames, sent = [], 0
    seqs = {f: 1000 * f + 1000 for f in range(flows)}
    client = {f: CLIENT[:3] + bytes([f % 250]) for f in range(flows)}
    for f in range(flows):
        frames.append(ip4(client[f], SERVER, 6, tcp(40000 + f, 1094, seqs[f] - 1, 0x02, b"")))
        frames.append(ip4(SERVER, client[f], 6, tcp(1094, 40000 + f, 5, 0x12, b"")))
    payload = b"x" * 1448
    for k in range(segments):
        f = k % flows
        if k % 100 == 99 and k >= flows:  # the flow's segment before, again
            frames.append(ip4(client[f], SERVER, 6, tcp(40000 + f, 1094, seqs[f] - 1448, 0x10, payload)))
        else:
            frames.append(ip4(client[f], SERVER, 6, tcp(40000 + f, 1094, seqs[f], 0x10, payload)))
            seqs[f] += 1448
            sent += 1448
        if k % 2 == 0:
            frames.append(ip4(SERVER, client[f], 6, tcp(1094, 40000 + f, 6, 0x10, b"")))
        if k % 50 == 0:
            frames.append(ip4(SERVER, bytes([10, 0, 9, 9]), 17, udp(33000, 9930, b"=" + bytes(40))))
    with path.open("wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for k, body in enumerate(frames):
            frame = ETH + body
            fh.write(struct.pack("<IIII", 1_700_000_000 + k // 10_000, (k % 10_000) * 100, len(frame), len(frame)) + frame)
    return sent


def best(fn, n: int = 3) -> tuple[float, object]:
    out, wall = None, float("inf")
    for _ in range(n):
        t = time.perf_counter()
        out = fn()
        wall = min(wall, time.perf_counter() - t)
    return wall, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--segments", type=int, default=400_000)
    ap.add_argument("--flows", type=int, default=200)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "site.pcap"
        sent = write(path, args.segments, args.flows)

        def one():
            scan = TcpScan(60.0)
            n = sum(1 for _ in read_datagrams(path, tcp=scan))
            return n, scan.listeners(), scan.accounting({1094})

        def three():
            n = sum(1 for _ in read_datagrams(path))
            return n, tcp_listeners(path), count_tcp_payload(path, {1094}, 60.0)

        t1, a = best(one)
        t3, b = best(three)
    assert a == b, "the one read and the three reads disagree"
    assert a[2].payload_bytes(direction="in") == sent
    frames = a[2].frames
    print(f"capture: {frames:,} frames ({args.segments:,} data segments, {args.flows} flows, {a[0]:,} monitoring datagrams)")
    print(f"one read (datagrams + TCP scan):      {t1:6.2f} s  {frames / t1:,.0f} frames/s")
    print(f"three reads (datagrams, listeners, TCP): {t3:6.2f} s  {frames / t3:,.0f} frames/s  -> one read is {t3 / t1:.2f}x faster")


if __name__ == "__main__":
    main()
