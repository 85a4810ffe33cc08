"""Decode speed of the codec on one core: f-stream records/s and datagrams/s of a mix.

    python bench/decode.py [--seconds 3]

The mix is what a busy server sends: f packets of ~30 records (OPEN with LFN, CLOSE with
OPS+SSQ, XFR, DISC), u and d map packets, and the real capture's summary XML. Decoding is
with full validation (every size, flag and count checked).
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path

from xrdsim.wire import FileClose, FileDisc, FileOpen, FileOps, FileSSQ, FileXfr, FstreamPacket, MapPacket, decode, encode, make_tod

FIXTURE = Path(__file__).resolve().parents[1] / "tests/fixtures/real-xrootd-5.5.3/monitoring.pcap"


def f_packet(rng: random.Random, pseq: int, n: int = 30) -> bytes:
    """An f datagram of ``n`` records in a realistic proportion."""
    recs = []
    for i in range(n):
        kind = rng.random()
        fid = rng.randrange(1, 2**31)
        if kind < 0.3:
            recs.append(FileOpen(fid, rng.randrange(2**34), rng.random() < 0.2, fid - 1, f"/store/mc/Run3/AOD/{fid:012d}/file.root"))
        elif kind < 0.6:
            ops = FileOps(40, 2, 0, 3, 9, 60, 4096, 2**20, 8192, 2**22, 0, 0)
            recs.append(FileClose(fid, rng.randrange(2**30), rng.randrange(2**24), 0, False, ops, FileSSQ(1e12, 1e13, 900.0, 0.0)))
        elif kind < 0.9:
            recs.append(FileXfr(fid, rng.randrange(2**30), 0, 0))
        else:
            recs.append(FileDisc(fid))
    return encode(FstreamPacket(pseq, 1700000000, make_tod(recs, 1700000100, 1700000160, 0x123456789ABC), recs))


def summary_xml() -> list[bytes]:
    """Summary XML documents of the real capture (if the fixture is beside the repo)."""
    if not FIXTURE.exists():
        return []
    from replay import read_datagrams

    return [d.payload for d in read_datagrams(FIXTURE) if d.payload[:1] == b"<"]


def measure(datagrams: list[bytes], seconds: float) -> tuple[int, float]:
    """Decode ``datagrams`` round and round for ``seconds``; (datagrams decoded, elapsed)."""
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for d in datagrams:
            decode(d)
        done += len(datagrams)
    return done, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()
    rng = random.Random(7)
    fpk = [f_packet(rng, i % 256) for i in range(200)]
    n, dt = measure(fpk, args.seconds)
    print(f"f-stream: {n * 30 / dt:,.0f} records/s, {n / dt:,.0f} datagrams/s (30 records, {len(fpk[0])} B each)")
    maps = [encode(MapPacket(ord("u"), i % 256, 1700000000, i, f"xroot/user{i}.{i}:1234@wn{i}.example.org\n&p=gsi&n=u{i}&o=cms&I=4")) for i in range(100)]
    maps += [encode(MapPacket(ord("d"), i % 256, 1700000000, i, f"xroot/user{i}.{i}:1234@wn{i}.example.org\n/store/x/{i}.root")) for i in range(100)]
    n, dt = measure(maps, args.seconds)
    print(f"map u/d: {n / dt:,.0f} datagrams/s")
    xml = summary_xml()
    if xml:
        n, dt = measure(xml, args.seconds)
        print(f"summary XML: {n / dt:,.0f} datagrams/s ({len(xml[0])} B each)")
    mix = fpk[:20] + maps[:60] + xml[:4]
    n, dt = measure(mix, args.seconds)
    print(f"mix (20 f : 60 map : {len(xml[:4])} XML): {n / dt:,.0f} datagrams/s")


if __name__ == "__main__":
    main()
