"""t-stream entries (spec §5.2): table cases in hex, properties, and the real XRootD 5.5.3
capture (byte-exact round trips, CLOSE totals against the clients' truth)."""

from __future__ import annotations

import dataclasses
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.wire.codes import DiscFlag, TraceMarker
from xrdsim.wire.errors import (
    BadRecordError,
    DecodeError,
    EncodeError,
    TruncatedError,
    UnknownCodeError,
)
from xrdsim.wire.header import decode_header
from xrdsim.wire.tstream import (
    APPID_FIELDS,
    CLOSE_FIELDS,
    DISC_FIELDS,
    IO_FIELDS,
    OPEN_FIELDS,
    READV_FIELDS,
    WINDOW_FIELDS,
    TraceAppid,
    TraceClose,
    TraceDisc,
    TraceIO,
    TraceOpen,
    TracePacket,
    TraceReadv,
    TraceWindow,
    decode_entry,
    decode_trace,
    encode_entry,
    encode_trace,
    encode_trace_close,
)

STOD = 1700000000  # 0x6553f100
LAYOUTS = [
    (TraceIO, IO_FIELDS),
    (TraceOpen, OPEN_FIELDS),
    (TraceReadv, READV_FIELDS),
    (TraceAppid, APPID_FIELDS),
    (TraceClose, CLOSE_FIELDS),
    (TraceDisc, DISC_FIELDS),
    (TraceWindow, WINDOW_FIELDS),
]

# (hex of one 16-byte entry annotated per spec §5.2, the entry it means)
ENTRY_CASES = {
    "read": ("00000000001000000001000000000101", TraceIO(1 << 20, 65536, 0x101)),  # offset, +len, fid
    "write": ("0000000000000000fff54b0700000002", TraceIO(0, -701689, 2)),  # -len = write
    "open": ("80000000001000000000000000000101", TraceOpen(1 << 20, 0x101)),  # 0x80, fsz56, 0, fid
    "readv": ("90070003000000000003000000000101", TraceReadv(TraceMarker.READV, 7, 3, 0x30000, 0x101)),
    "readu": ("91ffffff000000007fffffffffffffff", TraceReadv(TraceMarker.READU, 255, 65535, 2**31 - 1, 2**32 - 1)),
    "appid": ("a00000006d795f617070000000000000", TraceAppid("my_app")),  # marker, unused, text NUL padded
    "close": ("c0020000800000000000100000000101", TraceClose(2, 0, 0x80000000, 0x1000, 0x101)),
    "disc": ("d0010000000000000000003c00000009", TraceDisc(DiscFlag.FORCED, 60, 9)),
    "disc_stale": ("d0020000deadbeef0000000100000003", TraceDisc(DiscFlag.BOUND_PATH, 1, 3, b"\xde\xad\xbe\xef")),
    "window": ("e000123456789abc6553f1006553f13c", TraceWindow(0x123456789ABC, STOD, STOD + 60)),
}


def _decode(data: bytes) -> TracePacket:
    return decode_trace(memoryview(data), decode_header(data))


def _datagram(body: bytes, pseq: int = 0) -> bytes:
    return struct.pack("!BBHi", ord("t"), pseq, 8 + len(body), STOD) + body


@pytest.mark.parametrize("cls, fields", LAYOUTS, ids=lambda v: getattr(v, "__name__", ""))
def test_entry_layout_tables_match_dataclasses_and_spec_size(cls, fields):
    names = sorted(name for name, _ in fields if not name.startswith("_"))
    assert names == sorted(f.name for f in dataclasses.fields(cls))
    assert struct.calcsize("!" + "".join(code for _, code in fields)) == 16


@pytest.mark.parametrize("name", ENTRY_CASES)
def test_entry_table_case_decodes_encodes_and_ignores_trailing_bytes(name):
    hexdata, entry = ENTRY_CASES[name]
    data = bytes.fromhex(hexdata)
    assert decode_entry(data) == (entry, 16)
    assert encode_entry(entry) == data
    assert decode_entry(b"\x99" * 3 + data + b"\xff" * 5, 3) == (entry, 19)


@pytest.mark.parametrize("name", ENTRY_CASES)
def test_entry_table_case_cut_short_raises_truncated(name):
    data = bytes.fromhex(ENTRY_CASES[name][0])
    for cut in range(16):
        with pytest.raises(TruncatedError) as info:
            decode_entry(data[:cut], 0, 4)
        assert info.value.path == "t/entry[4]" and info.value.code == "t"


def test_entry_properties_read_write_and_shifted_close():
    assert ENTRY_CASES["write"][1].is_write and ENTRY_CASES["write"][1].nbytes == 701689
    assert not ENTRY_CASES["read"][1].is_write and ENTRY_CASES["read"][1].nbytes == 65536
    close = ENTRY_CASES["close"][1]
    assert (close.read_bytes, close.write_bytes) == (2**33, 4096)


# A buffer of one client (spec §5.3): WINDOW, OPEN, READ, CLOSE, closing WINDOW.
PACKET = bytes.fromhex(
    "74"
    "05"
    "0058"
    "6553f100"  # header: t, pseq 5, plen 88, stod
    "e0005c008611e231"
    "6553f100"
    "6553f100"  # WINDOW sid, prev end, next start
    "8000000000000400"
    "00000000"
    "00000007"  # OPEN fsz 1024, fid 7
    "0000000000000000"
    "00000400"
    "00000007"  # READ 1024 @ 0
    "c000000000000400"
    "00000000"
    "00000007"  # CLOSE read 1024, write 0
    "e0005c008611e231"
    "6553f101"
    "6553f101"  # WINDOW closing mark
)
PACKET_ENTRIES = [
    TraceWindow(0x5C008611E231, STOD, STOD),
    TraceOpen(1024, 7),
    TraceIO(0, 1024, 7),
    TraceClose(0, 0, 1024, 0, 7),
    TraceWindow(0x5C008611E231, STOD + 1, STOD + 1),
]


def test_packet_table_case_round_trips():
    pkt = _decode(PACKET)
    assert pkt == TracePacket(5, STOD, PACKET_ENTRIES)
    assert encode_trace(pkt) == PACKET


@pytest.mark.parametrize("cut", range(8, len(PACKET)))
def test_packet_cut_short_is_bad_record_or_a_shorter_packet(cut):
    data = bytearray(PACKET[:cut])
    struct.pack_into("!H", data, 2, cut)
    whole, partial = divmod(cut - 8, 16)
    if partial:
        with pytest.raises(BadRecordError) as info:
            _decode(bytes(data))
        assert info.value.path == f"t/entry[{whole}]" and info.value.offset == 8 + 16 * whole
    else:
        assert _decode(bytes(data)).entries == PACKET_ENTRIES[:whole]


def test_first_and_last_entries_need_not_be_windows():
    body = encode_entry(TraceIO(5, -5, 1))
    assert _decode(_datagram(body)).entries == [TraceIO(5, -5, 1)]


@pytest.mark.parametrize("marker", [0x81, 0x92, 0xB0, 0xC1, 0xF0, 0xFF])
def test_unknown_marker_names_entry_and_offset(marker):
    body = encode_entry(PACKET_ENTRIES[0]) + bytes([marker]) + bytes(15)
    with pytest.raises(UnknownCodeError) as info:
        _decode(_datagram(body))
    assert (info.value.offset, info.value.path) == (24, "t/entry[1]")


@pytest.mark.parametrize(
    "entry",
    [
        TraceIO(-1, 1, 1),
        TraceIO(0, 2**31, 1),
        TraceOpen(1 << 56, 1),
        TraceReadv(TraceMarker.OPEN, 0, 0, 0, 0),
        TraceAppid("x" * 13),
        TraceAppid("ends\x00"),
        TraceClose(256, 0, 0, 0, 0),
        TraceDisc(0, 0, 0, b"12"),
        TraceWindow(-1, 0, 0),
        "not an entry",
    ],
)
def test_out_of_range_entries_raise_encode_error(entry):
    with pytest.raises(EncodeError):
        encode_entry(entry)


def test_packet_out_of_range_raises_encode_error():
    with pytest.raises(EncodeError):
        encode_trace(TracePacket(256, 0, []))


@pytest.mark.parametrize(
    "total, shift, value",
    [
        (0, 0, 0),
        (2**32 - 1, 0, 2**32 - 1),
        (2**32, 1, 2**31),
        (2**40 + 12345, 9, (2**40 + 12345) >> 9),
        (2**63 - 1, 31, 2**32 - 1),
    ],
)
def test_close_shift_is_xrootds_do_shift(total, shift, value):
    assert encode_trace_close(3, total, 0) == TraceClose(shift, 0, value, 0, 3)
    assert encode_trace_close(3, 0, total) == TraceClose(0, shift, 0, value, 3)


@pytest.mark.parametrize("total", [-1, 2**63])
def test_close_totals_outside_int64_raise_encode_error(total):
    with pytest.raises(EncodeError):
        encode_trace_close(1, total, 0)


# ---------------------------------------------------------------------------- properties

_BOUNDS = {
    "B": (0, 2**8 - 1),
    "H": (0, 2**16 - 1),
    "I": (0, 2**32 - 1),
    "i": (-(2**31), 2**31 - 1),
    "Q": (0, 2**56 - 1),
}
_SPECIAL = {
    "offset": st.integers(0, 2**63 - 1),  # byte 0 must stay below 0x80
    "kind": st.sampled_from([TraceMarker.READV, TraceMarker.READU]),
    "text": st.text(st.characters(min_codepoint=1, max_codepoint=0x7F), max_size=12),
    "reserved": st.binary(min_size=4, max_size=4),
}


def _entry_strategy(cls, fields):
    """A strategy built from the layout table: integers bounded by their struct code."""
    kwargs = {
        name: _SPECIAL[name] if name in _SPECIAL else st.integers(*_BOUNDS[code])
        for name, code in fields
        if not name.startswith("_")
    }
    return st.builds(cls, **kwargs)


ENTRIES = st.one_of(*(_entry_strategy(cls, fields) for cls, fields in LAYOUTS))


@settings(max_examples=300, deadline=None)
@given(ENTRIES)
def test_entry_decode_encode_round_trip(entry):
    assert decode_entry(encode_entry(entry)) == (entry, 16)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 255), st.integers(-(2**31), 2**31 - 1), st.lists(ENTRIES, max_size=20))
def test_packet_decode_encode_round_trip(pseq, stod, entries):
    pkt = TracePacket(pseq, stod, entries)
    data = encode_trace(pkt)
    assert _decode(data) == pkt and encode_trace(_decode(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bodies_decode_or_raise_decode_error(body):
    try:
        pkt = _decode(_datagram(body))
    except DecodeError:
        return
    assert len(body) % 16 == 0 and len(pkt.entries) == len(body) // 16


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2**63 - 1))
def test_close_shift_keeps_value_within_precision(total):
    close = encode_trace_close(1, total, total)
    assert close.read_value < 2**32 and (close.rshift == 0 or close.read_value >= 2**31)
    assert close.read_bytes <= total < close.read_bytes + (1 << close.rshift)


# ---------------------------------------------------------------------------- real capture

PAGE, CRC = 4096, 4  # pgwrite: XRootD counts a 4-byte CRC per 4 KiB page (spec §4.9)


def _trace_packets(real_capture):
    return [_decode(p) for _, _, _, p in real_capture if p[:1] == b"t"]


def _paths_by_file_id(real_capture):
    """dictid → path from the ``d`` map packets (spec §3.5), parsed here without map.py."""
    paths = {}
    for _, _, _, p in real_capture:
        if p[:1] == b"d":
            paths[struct.unpack_from("!I", p, 8)[0]] = p[12:].decode().split("\n", 1)[1]
    return paths


def test_real_trace_packets_round_trip_byte_exact(real_capture):
    datagrams = [p for _, _, _, p in real_capture if p[:1] == b"t"]
    assert len(datagrams) == 11
    for data in datagrams:
        assert encode_trace(_decode(data)) == data


def test_real_window_sid_is_the_ident_fingerprint(real_capture):
    idents = {
        p[12:].decode().split("\n")[0].rsplit(":", 1)[1].split("@")[0] for _, _, _, p in real_capture if p[:1] == b"="
    }
    sids = {str(e.sid) for pkt in _trace_packets(real_capture) for e in pkt.entries if isinstance(e, TraceWindow)}
    assert sids and sids <= idents


def _truth_totals(real_truth):
    want = {}
    for row in real_truth:
        size = int(row["bytes"])
        read, write = (size, 0) if row["op"] == "read" else (0, size + CRC * math.ceil(size / PAGE))
        want.setdefault(row["path"], []).append((read, write))
    return {path: sorted(v) for path, v in want.items()}


def test_real_close_totals_match_truth_within_shift_precision(real_capture, real_truth):
    paths = _paths_by_file_id(real_capture)
    closes = {}  # file_id → CLOSE; the shared "files" buffer repeats each one (spec §5.4)
    for pkt in _trace_packets(real_capture):
        for e in pkt.entries:
            if isinstance(e, TraceClose):
                assert closes.setdefault(e.file_id, e) == e
    got = {}
    for fid, c in closes.items():
        got.setdefault(paths[fid], []).append(c)
    want = _truth_totals(real_truth)
    assert sorted(got) == sorted(want)
    for path, cls in got.items():
        cls.sort(key=lambda c: (c.read_bytes, c.write_bytes))
        for c, (read, write) in zip(cls, want[path], strict=True):
            assert c.read_bytes <= read < c.read_bytes + (1 << c.rshift)
            assert c.write_bytes <= write < c.write_bytes + (1 << c.wshift)


def test_real_io_entries_add_up_to_truth(real_capture, real_truth):
    paths = _paths_by_file_id(real_capture)
    moved = {}
    for pkt in _trace_packets(real_capture):
        for e in pkt.entries:
            if isinstance(e, TraceIO):
                key = (paths[e.file_id], "write" if e.is_write else "read")
                moved[key] = moved.get(key, 0) + e.nbytes
    for path, totals in _truth_totals(real_truth).items():
        assert moved[(path, "read")] == sum(r for r, _ in totals)
        assert moved[(path, "write")] == sum(w for _, w in totals)
