"""Hand-written walkers over the simulator's datagrams, written from the spec's byte tables
(§4, §5.2, §6, §7.1) independently of ``xrdsim.wire``, so tests can check the codec's
output too."""

from __future__ import annotations

import struct
from types import SimpleNamespace

import pytest


def f_walk(payload: bytes):
    """f-stream: TOD (flag, size, nXfr, nRecs), then (type, flag, size, id, body) by recSize."""
    _, flag, tsize, n_xfr, n_recs = struct.unpack_from("!BBhhh", payload, 8)
    recs, off = [], 8 + tsize
    while off < len(payload):
        t, f, s, ident = struct.unpack_from("!BBhI", payload, off)
        recs.append((t, f, s, ident, payload[off : off + s]))
        off += s
    return (flag, tsize, n_xfr, n_recs), recs


def t_walk(payload: bytes) -> list[tuple]:
    """t-stream entries as tuples: ("io", offset, length, fid), ("open", fsz, fid),
    ("readv"|"readu", seq, nsegs, total, fid), ("close", rshift, wshift, rv, wv, fid),
    ("disc", flags, seconds, uid), ("window", sid, prev_end, next_start)."""
    out = []
    for off in range(8, len(payload), 16):
        b0 = payload[off]
        if b0 < 0x80:
            out.append(("io", *struct.unpack_from("!qiI", payload, off)))
        elif b0 == 0x80:
            word, _, fid = struct.unpack_from("!QII", payload, off)
            out.append(("open", word & ((1 << 56) - 1), fid))
        elif b0 in (0x90, 0x91):
            _, seq, nsegs, _, total, fid = struct.unpack_from("!BBHIiI", payload, off)
            out.append(("readv" if b0 == 0x90 else "readu", seq, nsegs, total, fid))
        elif b0 == 0xC0:
            out.append(("close", *struct.unpack_from("!xBBxIII", payload, off)))
        elif b0 == 0xD0:
            out.append(("disc", *struct.unpack_from("!xBxxxxxxiI", payload, off)))
        else:
            assert b0 == 0xE0, hex(b0)
            word, prev_end, next_start = struct.unpack_from("!Qii", payload, off)
            out.append(("window", word & ((1 << 56) - 1), prev_end, next_start))
    return out


def header(payload: bytes) -> tuple[str, int, int, int]:
    """(code, pseq, plen, stod) of a binary monitoring packet (spec §2.1)."""
    code, pseq, plen, stod = struct.unpack_from("!BBHi", payload)
    return chr(code), pseq, plen, stod


@pytest.fixture(scope="session")
def walk():
    """The walkers above: ``walk.f``, ``walk.t``, ``walk.header``."""
    return SimpleNamespace(f=f_walk, t=t_walk, header=header)
