"""r-stream (spec §6): REDTIME and REDIRECT/REDLOCAL slots as annotated hex, truncation at
every byte, bad records, and decode/encode properties."""

from __future__ import annotations

import contextlib
import dataclasses
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.wire.codes import RedirKind, RedirOp
from xrdsim.wire.errors import (
    BadRecordError,
    DecodeError,
    EncodeError,
    TruncatedError,
    UnknownCodeError,
)
from xrdsim.wire.header import decode_header
from xrdsim.wire.rstream import (
    REDIRECT,
    REDIRECT_FIELDS,
    REDTIME,
    REDTIME_FIELDS,
    SID,
    Redirect,
    RedirPacket,
    RedirTime,
    decode_redir,
    encode_redir,
    encode_slot,
)

STOD = 1700000000  # 0x6553f100
SID_HEX = "f0005c008611e231"  # REDSID marker, 56-bit server id (48-bit fingerprint)
SID_VALUE = 0x5C008611E231

# (slot bytes annotated per spec §6, the slot they mean)
SLOT_CASES = {
    "redtime": (bytes.fromhex("0000003c6553f100"), RedirTime(60, STOD)),  # type 0, window 60 s, time
    "openr": (
        bytes.fromhex("8505044600000007")  # REDIRECT|openr, 5 text slots, port 1094, user 7
        + b"srv.example.org:/store/data/file.root\0\0\0",  # 37 chars + NUL padding to 40
        Redirect(RedirKind.REDIRECT, RedirOp.OPENR, 1094, 7, "srv.example.org", "/store/data/file.root"),
    ),
    "local_path": (
        bytes.fromhex("9201000000000000") + b":/tmp/x\0",  # REDLOCAL|locate; host was a path
        Redirect(RedirKind.REDLOCAL, RedirOp.LOCATE, 0, 0, "", "/tmp/x"),
    ),
    "ipv6_high_port": (
        bytes.fromhex("8d02ffffffffffff") + b"[::1]:/a" + bytes(8),  # exact 8 chars: a whole NUL slot
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 65535, 2**32 - 1, "[::1]", "/a"),
    ),
    "unknown_op_kept": (
        bytes.fromhex("8001000100000002") + b"h:\0\0\0\0\0\0",  # op nibble 0: not in RedirOp
        Redirect(RedirKind.REDIRECT, 0, 1, 2, "h", ""),
    ),
}


def _packet(*slots: bytes, pseq: int = 3) -> bytes:
    body = bytes.fromhex(SID_HEX) + b"".join(slots)
    return struct.pack("!BBHi", ord("r"), pseq, 8 + len(body), STOD) + body


def _decode(data: bytes) -> RedirPacket:
    return decode_redir(memoryview(data), decode_header(data))


def _with_plen(data: bytes, cut: int) -> bytes:
    out = bytearray(data[:cut])
    if cut >= 4:
        struct.pack_into("!H", out, 2, cut)
    return bytes(out)


def test_layout_tables_match_dataclasses_and_slot_size():
    assert SID.size == REDTIME.size == REDIRECT.size == 8
    assert [n for n, _ in REDTIME_FIELDS] == [f.name for f in dataclasses.fields(RedirTime)]
    assert {n for n, _ in REDIRECT_FIELDS if not n.startswith("_")} <= {f.name for f in dataclasses.fields(Redirect)}


@pytest.mark.parametrize("name", SLOT_CASES)
def test_slot_table_case_decodes_and_encodes(name):
    data, slot = SLOT_CASES[name]
    pkt = _decode(_packet(data))
    assert pkt == RedirPacket(3, STOD, SID_VALUE, [slot])
    assert encode_slot(slot) == data
    assert encode_redir(pkt) == _packet(data)


def _check_every_cut(slots: list[tuple[bytes, object]]) -> None:
    data = _packet(*(b for b, _ in slots))
    bounds = {16: 0}
    for i, (b, _) in enumerate(slots):
        bounds[max(bounds) + len(b)] = i + 1
    for cut in range(len(data)):
        if cut in bounds:
            assert _decode(_with_plen(data, cut)).slots == [s for _, s in slots[: bounds[cut]]]
            continue
        expected = BadRecordError if cut > 16 and (cut - 16) % 8 else TruncatedError
        with pytest.raises(expected):  # below 8 bytes decode_header itself raises TruncatedError
            _decode(_with_plen(data, cut))


@pytest.mark.parametrize("name", SLOT_CASES)
def test_slot_table_case_cut_at_every_byte(name):
    _check_every_cut([SLOT_CASES[name]])


def test_full_packet_between_time_marks_round_trips_and_cuts():
    slots = [SLOT_CASES["redtime"], SLOT_CASES["openr"], (bytes.fromhex("0000003c6553f13c"), RedirTime(60, STOD + 60))]
    data = _packet(*(b for b, _ in slots))
    assert len(data) == 16 + 8 * (1 + 6 + 1)  # plen = 16 + 8·(n+1), spec §6
    assert encode_redir(_decode(data)) == data
    _check_every_cut(slots)


def test_wrong_sid_marker_is_bad_record():
    data = bytearray(_packet(SLOT_CASES["redtime"][0]))
    data[8] = 0xE0
    with pytest.raises(BadRecordError) as info:
        _decode(bytes(data))
    assert (info.value.offset, info.value.path) == (8, "r/sid")


@pytest.mark.parametrize("byte0", [0x01, 0x40, 0xA5, 0xF0])
def test_unknown_slot_type_names_slot(byte0):
    with pytest.raises(UnknownCodeError) as info:
        _decode(_packet(SLOT_CASES["redtime"][0], bytes([byte0]) + bytes(7)))
    assert (info.value.offset, info.value.path) == (24, "r/slot[1]")


def test_redirect_text_without_colon_is_bad_record():
    with pytest.raises(BadRecordError) as info:
        _decode(_packet(bytes.fromhex("8501000000000000") + b"nocolon\0"))
    assert info.value.path == "r/slot[0].text"


@pytest.mark.parametrize(
    "slot",
    [
        RedirTime(1 << 24, 0),
        RedirTime(0, 2**31),
        Redirect(RedirKind.REDTIME, RedirOp.STAT, 0, 0, "h", "/p"),
        Redirect(RedirKind.REDIRECT, 16, 0, 0, "h", "/p"),
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 65536, 0, "h", "/p"),
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 0, 0, "h/x", "/p"),  # would split elsewhere
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 0, 0, "h", "a:b"),
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 0, 0, "h", "/p\0"),
        Redirect(RedirKind.REDIRECT, RedirOp.STAT, 0, 0, "h", "/" + "p" * 2100),  # > 255 slots
        "not a slot",
    ],
)
def test_unencodable_slots_raise_encode_error(slot):
    with pytest.raises(EncodeError):
        encode_slot(slot)


def test_packet_sid_out_of_range_raises_encode_error():
    with pytest.raises(EncodeError):
        encode_redir(RedirPacket(0, 0, 1 << 56, []))


# ---------------------------------------------------------------------------- properties

_HOST = st.one_of(
    st.just(""),
    st.from_regex(r"[a-z0-9][a-z0-9.-]{0,40}", fullmatch=True),
    st.from_regex(r"\[[0-9a-f:]{2,39}\]", fullmatch=True),
)
_PATH = st.one_of(
    st.just(""), st.text(st.characters(min_codepoint=1, max_codepoint=0x2FF), max_size=60).map(lambda s: "/" + s)
)
SLOTS = st.one_of(
    st.builds(RedirTime, st.integers(0, 2**24 - 1), st.integers(-(2**31), 2**31 - 1)),
    st.builds(
        Redirect,
        st.sampled_from([RedirKind.REDIRECT, RedirKind.REDLOCAL]),
        st.integers(0, 15),
        st.integers(0, 2**16 - 1),
        st.integers(0, 2**32 - 1),
        _HOST,
        _PATH,
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 255), st.integers(0, 2**56 - 1), st.lists(SLOTS, max_size=12))
def test_packet_decode_encode_round_trip(pseq, sid, slots):
    pkt = RedirPacket(pseq, STOD, sid, slots)
    data = encode_redir(pkt)
    assert _decode(data) == pkt and encode_redir(_decode(data)) == data


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.binary(max_size=120))
def test_random_bytes_decode_or_raise_decode_error(after_valid_sid, tail):
    header = _packet()[:8]
    data = _packet(tail) if after_valid_sid else _with_plen(header + tail, 8 + len(tail))
    with contextlib.suppress(DecodeError):
        _decode(data)
