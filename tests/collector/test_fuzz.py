"""Property: ``feed`` never raises on any bytes, and every datagram fed lands in exactly one
counter (received, duplicated, malformed, or stale) — STYLE §7.10."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from collector import Collector, CollectorConfig
from xrdsim.wire import (
    FileClose,
    FileDisc,
    FileOpen,
    FileXfr,
    FstreamPacket,
    GStreamPacket,
    MapPacket,
    Redirect,
    RedirKind,
    RedirPacket,
    RedirTime,
    TraceClose,
    TraceDisc,
    TraceIO,
    TraceMarker,
    TraceOpen,
    TracePacket,
    TraceReadv,
    TraceWindow,
    encode,
    make_tod,
)

SIDS = st.sampled_from([0x1, 0xABCDEF012345, 0])
STODS = st.sampled_from([100, 200, 300])
IDS = st.integers(0, 6)


@st.composite
def f_packets(draw):
    recs = draw(st.lists(st.one_of(
        st.builds(FileOpen, IDS, st.integers(0, 2**40), st.booleans(), IDS, st.text("/ab", max_size=8)),
        st.builds(FileClose, IDS, st.integers(0, 2**40), st.integers(0, 9), st.integers(0, 9), st.booleans()),
        st.builds(FileXfr, IDS, st.integers(0, 99), st.integers(0, 9), st.integers(0, 9)),
        st.builds(FileDisc, IDS),
    ), max_size=6))  # fmt: skip
    t = draw(st.integers(0, 2**31 - 1))
    return encode(FstreamPacket(draw(st.integers(0, 255)), draw(STODS), make_tod(recs, t, t, draw(SIDS)), recs))


@st.composite
def map_packets(draw):
    code = draw(st.sampled_from("=udiTUxp"))
    text = draw(st.sampled_from(["xroot/u.1:1@h", "=/x.1:12345@h", "a.b:1@[::1]", ""])) + draw(st.sampled_from(["", "\n&Uc=1&s=x&I=6", "\n/p", "\n&site=S&port=1"]))
    return encode(MapPacket(ord(code), draw(st.integers(0, 255)), draw(STODS), draw(IDS), text))


I32 = st.integers(-(2**31), 2**31 - 1)
U32 = st.integers(0, 2**32 - 1)


@st.composite
def t_packets(draw):
    entry = st.one_of(
        st.builds(TraceIO, st.integers(0, 2**40), I32, IDS),
        st.builds(TraceOpen, st.integers(0, 2**50), IDS),
        st.builds(TraceReadv, st.sampled_from([TraceMarker.READV, TraceMarker.READU]), st.integers(0, 255), st.integers(0, 9), I32, IDS),
        st.builds(TraceClose, st.integers(0, 40), st.integers(0, 40), U32, U32, IDS),
        st.builds(TraceDisc, st.integers(0, 3), I32, IDS),
        st.builds(TraceWindow, st.sampled_from([0xE000ABCDEF012345 & ((1 << 56) - 1), 1]), I32, I32),
    )
    return encode(TracePacket(draw(st.integers(0, 255)), draw(STODS), draw(st.lists(entry, max_size=8))))


@st.composite
def r_packets(draw):
    slot = st.one_of(
        st.builds(RedirTime, st.integers(0, 2**24 - 1), I32),
        st.builds(Redirect, st.sampled_from([RedirKind.REDIRECT, RedirKind.REDLOCAL]), st.integers(1, 14), st.integers(0, 65535), IDS, st.sampled_from(["h", ""]), st.sampled_from(["/p", "/"])),
    )
    return encode(RedirPacket(draw(st.integers(0, 255)), draw(STODS), draw(SIDS), draw(st.lists(slot, max_size=4))))


@st.composite
def g_packets(draw):
    record = st.sampled_from(['{"TPC":"xroot","Xeq":{"RC":"x"},"Size":[1]}', '{"lfn":1,"remotes":"no"}', "[]", "text", '{"Xeq":5}'])
    return encode(GStreamPacket(draw(st.integers(0, 255)), draw(STODS), 1, 2, ord(draw(st.sampled_from("PCR"))), draw(SIDS), draw(st.lists(record, max_size=3))))


@st.composite
def summaries(draw):
    lin, pid = draw(st.integers(0, 2**40)), draw(st.integers(0, 3))
    return (
        f'<statistics tod="1" ver="v5" src="h:1" tos="{pid}" pgm="xrootd" ins="a" pid="{pid}" site="">'
        f'<stats id="link"><num>1</num><maxn>1</maxn><tot>1</tot><in>{lin}</in><out>0</out><ctime>0</ctime>'
        f"<tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats></statistics>"
    ).encode()


PACKETS = st.one_of(f_packets(), map_packets(), t_packets(), r_packets(), g_packets(), summaries())


@st.composite
def mutated(draw):
    base = bytearray(draw(PACKETS))
    for _ in range(draw(st.integers(1, 3))):
        base[draw(st.integers(0, len(base) - 1))] = draw(st.integers(0, 255))
    return bytes(base[: draw(st.integers(0, len(base)))])


DATAGRAMS = st.lists(
    st.tuples(st.one_of(PACKETS, mutated(), st.binary(max_size=40)), st.sampled_from([("10.0.0.1", 1), ("10.0.0.1", 2), ("::1", 3)])),
    max_size=25,
)


@given(DATAGRAMS, st.booleans())
def test_fuzz_feed_never_raises_and_counters_sum_to_datagrams(datagrams, with_dups):
    c = Collector(CollectorConfig(reorder_count=3, max_open_files=5, max_sessions=3, max_servers=2))
    fed = 0
    for i, (payload, src) in enumerate(datagrams):
        for _ in range(2 if with_dups else 1):
            c.feed(payload, src, float(i))
            fed += 1
        if i % 7 == 6:
            c.flush(float(i) + 10_000.0)
    c.close(1e9)
    rep = c.report()
    counted = sum(g.received + g.duplicated + g.malformed for g in rep.groups) + rep.stale
    assert counted == rep.datagrams == fed
    assert rep.tables["open_files"] == rep.tables["sessions"] == rep.tables["paths"] == 0
