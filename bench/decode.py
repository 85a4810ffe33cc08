"""Decode speed of the codec on one core: f-stream records/s and datagrams/s of a mix, and
the real captures' small f packets against an OSG-style decoder.

    python bench/decode.py [--seconds 3]

The mix is what a busy server sends: f packets of ~30 records (OPEN with LFN, CLOSE with
OPS+SSQ, XFR, DISC), u and d map packets, and the real capture's summary XML. Decoding is
with full validation (every size, flag and count checked).

The reference is the way the OSG collector decodes an f packet (its ``decoding.py``): a
header namedtuple, then per record a ``struct.unpack`` of a slice into a namedtuple and a
new slice of the rest; no validation. Both are timed in CPU seconds on the f packets of
the real XRootD 5.5.3 captures in tests/fixtures (2–27 records each).
"""

from __future__ import annotations

import argparse
import random
import struct
import time
from collections import namedtuple
from pathlib import Path
from typing import Callable

from xrdsim.wire import FileClose, FileDisc, FileOpen, FileOps, FileSSQ, FileXfr, FstreamPacket, MapPacket, decode, encode, make_tod

FIXTURES = Path(__file__).resolve().parents[1] / "tests/fixtures"
FIXTURE = FIXTURES / "real-xrootd-5.5.3/monitoring.pcap"
REAL_F = (FIXTURE, FIXTURES / "real-xrootd-5.5.3-http/capture.pcap")

_OsgHeader = namedtuple("_OsgHeader", "code pseq plen server_start")
_OsgOpen = namedtuple("_OsgOpen", "rectype recFlag recSize fileID fileSize userID fileName")
_OsgXfr = namedtuple("_OsgXfr", "rectype recFlag recSize fileID read readv write")
_OsgClose = namedtuple("_OsgClose", "rectype recFlag recSize fileID read readv write ops")
_OsgTime = namedtuple("_OsgTime", "rectype recFlag recSize isXfr_recs total_recs sid reserved tBeg tEnd")
_OsgDisc = namedtuple("_OsgDisc", "rectype recFlag recSize userID")
_OsgOps = namedtuple("_OsgOps", "read readv write rsMin rsMax rsegs rdMin rdMax rvMin rvMax wrMin wrMax")


def _osg_record(d: bytes):  # type: ignore[no-untyped-def]
    """One f record the OSG way: unpack the file header, then the record by its type."""
    up = struct.unpack("!BBHI", d[:8])
    if up[0] == 0:
        ops = _OsgOps._make(struct.unpack("!IIIHHQIIIIII", d[32:80])) if up[1] & 0b010 else ()
        return _OsgClose._make(struct.unpack("!BBHIQQQ", d[:32]) + (ops,))
    if up[0] == 1:
        head = struct.unpack("!BBHIQ", d[:16])
        if up[1] == 1:
            user = struct.unpack("!I", d[16:20])[0]
            name = struct.unpack("!" + str(up[2] - 20) + "s", d[20 : up[2]])[0].rstrip(b"\0")
        else:
            user, name = 0, b""
        return _OsgOpen._make(head + (user, name))
    if up[0] == 2:
        if up[2] == 16:
            t = struct.unpack("!BBHHHII", d[:16])
            return _OsgTime(t[0], t[1], t[2], t[3], t[4], 0, 0, t[5], t[6])
        return _OsgTime._make(struct.unpack("!BBHHHIIII", d[:24]))
    if up[0] == 3:
        return _OsgXfr._make(struct.unpack("!BBHIQQQ", d[:32]))
    return _OsgDisc._make(up)


def osg_decode_f(d: bytes) -> list:
    """An f datagram the OSG way: header, TOD, then ``total_recs`` records."""
    _OsgHeader._make(struct.unpack("!cBHI", d[:8]))
    d = d[8:]
    tod = _osg_record(d)
    d = d[tod.recSize :]
    recs = []
    for _ in range(tod.total_recs):
        rec = _osg_record(d)
        recs.append(rec)
        d = d[rec.recSize :]
    return recs


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


def measure(datagrams: list[bytes], seconds: float, decoder: Callable[[bytes], object] = decode) -> tuple[int, float]:
    """Decode ``datagrams`` round and round for ``seconds`` of CPU time; (datagrams
    decoded, CPU seconds)."""
    done, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        for d in datagrams:
            decoder(d)
        done += len(datagrams)
    return done, time.process_time() - start


def real_f_packets() -> list[bytes]:
    """The f datagrams of the real captures in tests/fixtures (present in a checkout)."""
    from replay import read_datagrams

    return [d.payload for path in REAL_F if path.exists() for d in read_datagrams(path) if d.payload[:1] == b"f"]


def versus_osg(seconds: float) -> None:
    """Ours against the OSG-style decoder on the real small f packets, rounds alternated."""
    fpk = real_f_packets()
    if not fpk:
        print("real f packets: fixtures not found")
        return
    assert [len(osg_decode_f(d)) for d in fpk] == [len(decode(d).records) for d in fpk]  # type: ignore[union-attr]
    ours = osg = 0.0
    for _ in range(3):
        n, dt = measure(fpk, seconds / 6)
        ours = max(ours, n / dt)
        n, dt = measure(fpk, seconds / 6, osg_decode_f)
        osg = max(osg, n / dt)
    sizes = sorted(len(d) for d in fpk)
    print(f"real f packets ({len(fpk)}, {sizes[0]}-{sizes[-1]} B): ours {ours:,.0f}/s, OSG-style {osg:,.0f}/s, ratio {ours / osg:.2f}x (CPU time, best of 3)")


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
    versus_osg(args.seconds)


if __name__ == "__main__":
    main()
