"""Floods against the collector: fuzz accounting, peak memory under hostile tables, and the
cost of the text parsers that used to backtrack.

    python bench/flood.py [--fuzz 1000000] [--scale 1.0] [--code DIR] [--only NAME ...]

Each flood runs in its own process (its peak RSS is its own, ``ru_maxrss``). ``--code DIR``
imports the collector from another tree (e.g. a copy from before a change) to compare;
only default ``CollectorConfig`` values are used, so any version runs. Floods:

* ``fuzz``: N datagrams — valid packets of every stream from 3 servers with f sent to two
  destinations, mutated and random bytes — with 0 escapes allowed and the report invariant
  checked: every datagram fed is exactly one of received / duplicated / malformed / stale.
* ``json``: five 64 kB ``{"code":"d"`` datagrams that never close (the old regex: 3.5 s each).
* ``paths``: ``d`` records with 60 kB paths; ``trace``: t I/O entries for never-opened files;
  ``servers``: new servers one after the other (ingest rate of the last thousand);
  ``groups``: g packets of every provider code from 64 source ports; ``series``: summary
  reports from distinct senders.
* ``units``: a 20,000-digit number to the unit parser; ``frags``: 8,124 overlapping IP fragments.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def _setup(code: str) -> None:
    sys.path.insert(0, code)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ---------------------------------------------------------------------------- fuzz


def _pool(rng: random.Random) -> list[tuple[bytes, tuple[str, int]]]:
    from xrdsim.wire import (FileClose, FileDisc, FileOpen, FileXfr, FstreamPacket, GStreamPacket, MapPacket, TraceClose,
                             TraceIO, TraceOpen, TracePacket, TraceWindow, encode, make_tod)  # fmt: skip

    out = []
    for k in range(3):
        sid, stod, ip = 0x100000000000 + k, 1_700_000_000 + k, f"10.0.0.{k + 1}"
        dests = [(ip, 40001), (ip, 40002)]
        mseq = [0, 0]
        fseq = 0
        for i in range(400):
            d = rng.randrange(2)
            code = rng.choice("udiT=")
            text = f"xroot/u.{i % 9}:{sid}@h{i % 5}\n" + rng.choice(["/store/f%d" % i, "&p=gsi&n=a&o=cms", "&Uc=1&s=x", "&site=S&port=1094"])
            out.append((encode(MapPacket(ord(code), mseq[d] & 255, stod, 1 + i % 50, text)), dests[d]))
            mseq[d] += 1
            fid = 1 + i % 50
            recs = rng.choice([[FileOpen(fid, 1000, False, 1, f"/store/f{fid}")], [FileXfr(fid, i, 0, 0)],
                               [FileClose(fid, i * 10, 0, rng.choice([0, -5])), FileDisc(1)]])  # fmt: skip
            f = encode(FstreamPacket(fseq & 255, stod, make_tod(recs, 1_700_000_100 + i, 1_700_000_100 + i, sid), recs))
            fseq += 1
            out.append((f, dests[0]))
            out.append((f, dests[1]))  # the same f packet to the second destination: a copy
            entries = [TraceWindow(sid, i, i + 1), TraceOpen(100, fid), TraceIO(0, rng.randrange(-99, 99), fid), TraceClose(0, 0, i, 0, fid)]
            out.append((encode(TracePacket(mseq[d] & 255, stod, entries)), dests[d]))
            mseq[d] += 1
            out.append((encode(GStreamPacket(i & 255, stod, 1, 2, ord(rng.choice("PCRT")), sid, ['{"TPC":"xroot","Xeq":{"RC":"x"}}'])), dests[d]))
    return out


def flood_fuzz(n: int) -> dict:
    from collector import Collector

    rng = random.Random(7)
    pool = _pool(rng)
    c = Collector()
    escapes = 0
    t0 = time.perf_counter()
    for i in range(n):
        payload, src = pool[i % len(pool)]
        r = rng.random()
        if r < 0.25:
            b = bytearray(payload)
            for _ in range(rng.randint(1, 3)):
                lo = 8 if len(b) > 8 and rng.random() < 0.9 else 0  # mostly the body: the header's stod would make a new incarnation
                b[rng.randrange(lo, len(b))] = rng.randrange(256)
            payload = bytes(b[: rng.randint(0, len(b))])
        elif r < 0.3:
            payload = rng.randbytes(rng.randint(0, 64))
        try:
            c.feed(payload, src, i * 1e-3)
            if i % 5000 == 4999:
                c.flush(i * 1e-3)
        except Exception:  # noqa: BLE001 — counting escapes is the point
            escapes += 1
    c.close(n * 1e-3 + 1e6)
    rep = c.report()
    accounted = sum(g.received + g.duplicated + g.malformed for g in rep.groups) + rep.stale
    return {"datagrams": rep.datagrams, "escapes": escapes, "accounted": accounted, "exact": accounted == rep.datagrams == n,
            "copies": sum(g.copies for g in rep.groups), "malformed": rep.malformed, "stale": rep.stale,
            "seconds": round(time.perf_counter() - t0, 1), "peak_rss_mb": round(_rss_mb(), 1)}  # fmt: skip


# ---------------------------------------------------------------------------- floods


def flood_json(n: int) -> dict:
    from xrdsim.wire import decode

    body = (b'{"code":"d"' + b',"data":"' * 7300)[:65000]
    t0 = time.perf_counter()
    for _ in range(5):
        try:
            decode(body)
        except Exception:  # noqa: BLE001
            pass
    return {"datagrams": 5, "seconds_each": round((time.perf_counter() - t0) / 5, 4)}


def _report(c, t0: float, n: int) -> dict:
    rep = c.report()
    keep = ("servers", "paths", "path_bytes", "trace_files", "counter_groups", "summary_series", "open_files", "sessions")
    return {"fed": n, "seconds": round(time.perf_counter() - t0, 2), "peak_rss_mb": round(_rss_mb(), 1),
            "tables": {k: v for k, v in rep.tables.items() if k in keep},
            "evicted": {k: v for k, v in rep.evicted.items() if v}}  # fmt: skip


def flood_paths(n: int) -> dict:
    from collector import Collector
    from xrdsim.wire import MapPacket, encode

    c = Collector()
    stod, sid = 1_700_000_000, 0x5C0FFEE12345
    tail = "/" + "p" * 60_000
    t0 = time.perf_counter()
    for i in range(n):
        c.feed(encode(MapPacket(ord("d"), i & 255, stod, i + 1, f"xroot/u.1:{sid}@h\n{tail}{i}")), ("192.0.2.1", 4000), float(i))
    return _report(c, t0, n)


def flood_trace(n: int) -> dict:
    from collector import Collector
    from xrdsim.wire import TraceIO, TracePacket, TraceWindow, encode

    c = Collector()
    stod, sid = 1_700_000_000, 0x5C0FFEE12345
    t0 = time.perf_counter()
    per = 1000
    for p in range(n // per):
        entries = [TraceWindow(sid, p, p + 1)] + [TraceIO(0, 100, p * per + k + 1) for k in range(per)]
        c.feed(encode(TracePacket(p & 255, stod, entries)), ("192.0.2.1", 4000), float(p))
    return _report(c, t0, n)


def flood_servers(n: int) -> dict:
    from collector import Collector
    from xrdsim.wire import MapPacket, encode

    c = Collector()
    t0 = time.perf_counter()
    last = t0
    for k in range(n):
        if k == n - 1000:
            last = time.perf_counter()
        sid = 0x100000000000 + k
        text = f"=/xrootd.1:{sid}@h{k}.example.org\n&site=S&port=1094&inst=anon&pgm=xrootd&ver=v5"
        c.feed(encode(MapPacket(ord("="), 0, 1_700_000_000, 0, text)), (f"10.{k >> 16 & 255}.{k >> 8 & 255}.{k & 255}", 4000), float(k))
    out = _report(c, t0, n)
    out["last_1000_per_s"] = round(1000 / (time.perf_counter() - last))
    return out


def flood_groups(n: int) -> dict:
    from collector import Collector
    from xrdsim.wire import GStreamPacket, encode

    c = Collector()
    sid, stod = 0x5C0FFEE12345, 1_700_000_000
    t0 = time.perf_counter()
    for i in range(n):
        port, provider = 40000 + (i // 256) % 64, i % 256
        c.feed(encode(GStreamPacket(0, stod, 1, 2, provider, sid, ["{}"])), ("192.0.2.1", port), float(i))
    out = _report(c, t0, n)
    rep = c.report()
    out["accounted"] = sum(g.received + g.duplicated + g.malformed for g in rep.groups) + rep.stale
    return out


def flood_series(n: int) -> dict:
    from collector import Collector

    c = Collector()
    t0 = time.perf_counter()
    for k in range(n):
        xml = (f'<statistics tod="1" ver="v5" src="h{k}.example.org:1094" tos="1" pgm="xrootd" ins="a" pid="1" site="">'
               '<stats id="link"><num>1</num><maxn>1</maxn><tot>1</tot><in>5</in><out>0</out><ctime>0</ctime>'
               "<tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats></statistics>")  # fmt: skip
        c.feed(xml.encode(), (f"10.1.{k >> 8 & 255}.{k & 255}", 9000), float(k))
    out = _report(c, t0, n)
    rep = c.report()
    out["summary_received"] = rep.totals().get("summary", {}).get("received", 0)
    return out


def flood_units(n: int) -> dict:
    from xrdsim.units import parse_number, parse_size

    t0 = time.perf_counter()
    for f, text in ((parse_number, "1" * n + "x"), (parse_size, "1" + " " * n + "x")):
        try:
            f(text)
        except ValueError:
            pass
    return {"chars": n, "seconds": round(time.perf_counter() - t0, 4)}


def flood_frags(n: int) -> dict:
    from replay.reassembly import Reassembler

    r = Reassembler()
    key = (4, b"a", b"b", 1, 17)
    rng = random.Random(1)
    offsets = list(range(8, 65000, 8))
    rng.shuffle(offsets)
    t0 = time.perf_counter()
    r.add(key, 65000, False, 8, b"x" * 8, 0.0)
    r.add(key, 16, True, 64984, b"z" * 16, 0.0)
    for off in offsets[:n]:
        r.add(key, off, True, 8, b"y" * 8, 0.0)
    done = r.add(key, 0, True, 8, b"h" * 8, 0.0)
    return {"fragments": n + 3, "completed": done is not None, "seconds": round(time.perf_counter() - t0, 3)}


FLOODS = {"fuzz": (flood_fuzz, 1_000_000), "json": (flood_json, 5), "paths": (flood_paths, 60_000), "trace": (flood_trace, 1_000_000),
          "servers": (flood_servers, 30_000), "groups": (flood_groups, 64 * 256), "series": (flood_series, 30_000),
          "units": (flood_units, 20_000), "frags": (flood_frags, 8124)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fuzz", type=int, default=1_000_000, help="datagrams of the fuzz flood")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply the size of the other floods")
    ap.add_argument("--code", default=str(HERE), help="tree to import the collector from")
    ap.add_argument("--only", nargs="*", choices=sorted(FLOODS), help="floods to run (default all)")
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds before a flood is stopped")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        _setup(args.code)
        print(json.dumps(FLOODS[args.one][0](args.n)))
        return
    for name in args.only or FLOODS:
        n = args.fuzz if name == "fuzz" else max(1, int(FLOODS[name][1] * (args.scale if name not in ("json", "units", "frags") else 1)))
        cmd = [sys.executable, __file__, "--one", name, "--n", str(n), "--code", args.code]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
            line = res.stdout.strip().splitlines()[-1] if res.stdout.strip() else json.dumps({"error": res.stderr.strip().splitlines()[-1:]})
        except subprocess.TimeoutExpired:
            line = json.dumps({"error": f"stopped after {args.timeout:.0f} s"})
        print(f"{name:<8} {line}", flush=True)


if __name__ == "__main__":
    main()
