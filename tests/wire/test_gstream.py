"""Binary g-stream (spec §7.1) and the TPC / cache record views (§7.3): annotated hex,
truncation, bad text, and decode/encode properties."""

from __future__ import annotations

import struct
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.wire.codes import GProvider
from xrdsim.wire.errors import (
    BadRecordError,
    BadTextError,
    DecodeError,
    EncodeError,
    TruncatedError,
)
from xrdsim.wire.gstream import (
    GS,
    GS_FIELDS,
    CacheRecord,
    GStreamPacket,
    TpcRecord,
    decode_cache_record,
    decode_gstream,
    decode_tpc_record,
    decode_tpc_time,
    encode_cache_record,
    encode_gstream,
    encode_tpc_record,
)
from xrdsim.wire.header import decode_header

STOD = 1700000000

# What XrdXrootdTpcMon::Report prints (json_fmt); ".123" is tv_usec 123 printed with %03u.
TPC_TEXT = (
    '{"TPC":"xroot","Client":"alice.123:45@host","Xeq":{"Beg":"2024-01-02T03:04:05.123Z",'
    '"End":"2024-01-02T03:04:07.654321Z","RC":0,"Strm":1,"Type":"pull","IPv":6},'
    '"Src":"root://src:1094//a","Dst":"root://dst:1094//a","Size":1048576}'
)
TPC = TpcRecord(
    "xroot",
    "alice.123:45@host",
    datetime(2024, 1, 2, 3, 4, 5, 123, tzinfo=UTC),
    datetime(2024, 1, 2, 3, 4, 7, 654321, tzinfo=UTC),
    0,
    1,
    "pull",
    6,
    "root://src:1094//a",
    "root://dst:1094//a",
    1048576,
)
# XrdPfc.cc's file_close format (5.6+ keys, incl. b_todisk and b_prefetch).
CACHE_TEXT = (
    '{"event":"file_close","lfn":"/store/f","size":4096,"blk_size":1024,"n_blks":4,"n_blks_done":4,'
    '"access_cnt":2,"attach_t":1700000000,"detach_t":1700000009,"remotes":["origin:1094"],'
    '"b_hit":1024,"b_miss":3072,"b_bypass":0,"b_todisk":3072,"b_prefetch":0,"n_cks_errs":0}'
)
CACHE = CacheRecord("/store/f", 4096, 1024, 4, 4, 2, STOD, STOD + 9, ("origin:1094",), 1024, 3072, 0, 0, 3072, 0)

RECORDS_TEXT = TPC_TEXT.encode() + b"\n" + b'{"TPC":"http"}' + b"\x00"  # '\n' between, NUL last
PACKET = (
    bytes.fromhex(
        "67"
        "01"
        "010c"
        "6553f100"  # header: g, pseq 1 (per provider), plen 268, stod
        "6553f101"
        "6553f102"  # tBeg, tEnd
        "50"
        "00"
        "5c008611e231"  # sID: provider 'P', 0, 48-bit fingerprint
    )
    + RECORDS_TEXT
)
PACKET_VALUE = GStreamPacket(1, STOD, STOD + 1, STOD + 2, GProvider.TPC, 0x5C008611E231, [TPC_TEXT, '{"TPC":"http"}'])


def _decode(data: bytes) -> GStreamPacket:
    return decode_gstream(memoryview(data), decode_header(data))


def _with_plen(data: bytes, cut: int) -> bytes:
    out = bytearray(data[:cut])
    struct.pack_into("!H", out, 2, cut)
    return bytes(out)


def test_header_layout_is_the_spec_table():
    assert GS.size == 16 and [n for n, _ in GS_FIELDS] == ["t_beg", "t_end", "sid"]


def test_packet_table_case_round_trips():
    assert len(PACKET) == 268
    assert _decode(PACKET) == PACKET_VALUE
    assert encode_gstream(PACKET_VALUE) == PACKET


@pytest.mark.parametrize("cut", range(8, len(PACKET)))
def test_packet_cut_short_raises_or_is_empty(cut):
    data = _with_plen(PACKET, cut)
    if cut == 24:
        assert _decode(data).records == []
        return
    with pytest.raises(TruncatedError if cut < 24 else BadRecordError):
        _decode(data)


def test_unknown_provider_byte_is_kept_as_int():
    data = bytearray(PACKET)
    data[16] = ord("Z")
    pkt = _decode(bytes(data))
    assert pkt.provider == ord("Z") and encode_gstream(pkt) == bytes(data)


def test_json_records_parse_and_typed_views():
    pkt = _decode(PACKET)
    assert pkt.json_records()[1] == {"TPC": "http"}
    assert decode_tpc_record(pkt.records[0]) == TPC
    assert decode_tpc_record(pkt.json_records()[0]) == TPC
    assert encode_tpc_record(TPC) == TPC_TEXT


@pytest.mark.parametrize("record", ["{", "[1]", '"x"', "[" * 5000, "1" * 5000, "\udcff"])
def test_bad_json_record_raises_bad_text_naming_record(record):
    pkt = GStreamPacket(1, 0, 0, 0, GProvider.CACHE, 1, ["{}", record])
    with pytest.raises(BadTextError) as info:
        pkt.json_records()
    assert info.value.path == "g/record[1]"


@pytest.mark.parametrize(
    "text, micro",
    [("2024-01-02T03:04:05.000Z", 0), ("2024-01-02T03:04:05.007Z", 7), ("2024-01-02T03:04:05.9999Z", 9999)],
)
def test_tpc_fraction_is_microseconds_printed_with_03u(text, micro):
    assert decode_tpc_time(text) == datetime(2024, 1, 2, 3, 4, 5, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    ["2024-01-02T03:04:05Z", "2024-01-02T03:04:05.12Z", "2024-01-02T03:04:05.1234567Z", "2024-02-30T00:00:00.000Z", 5],
)
def test_bad_tpc_time_raises_bad_text(text):
    with pytest.raises(BadTextError):
        decode_tpc_time(text)


@pytest.mark.parametrize(
    "change",
    [
        lambda d: d.pop("Xeq"),
        lambda d: d["Xeq"].update(RC=True),
        lambda d: d["Xeq"].update(Beg="yesterday"),
        lambda d: d.update(Size="1"),
    ],
)
def test_bad_tpc_record_raises_bad_text(change):
    import json

    obj = json.loads(TPC_TEXT)
    change(obj)
    with pytest.raises(BadTextError):
        decode_tpc_record(obj)


def test_cache_record_decodes_and_encodes_in_xrootd_key_order():
    assert decode_cache_record(CACHE_TEXT) == CACHE
    assert encode_cache_record(CACHE) == CACHE_TEXT


def test_cache_record_before_b_todisk_leaves_them_none():
    old = CACHE_TEXT.replace(',"b_todisk":3072,"b_prefetch":0', "")
    rec = decode_cache_record(old)
    assert (rec.b_todisk, rec.b_prefetch) == (None, None) and encode_cache_record(rec) == old


@pytest.mark.parametrize("text", ['{"event":"other"}', CACHE_TEXT.replace('["origin:1094"]', "[1]"), "{"])
def test_bad_cache_record_raises_bad_text(text):
    with pytest.raises(BadTextError):
        decode_cache_record(text)


@pytest.mark.parametrize(
    "pkt",
    [
        GStreamPacket(0, 0, 0, 0, 256, 0, []),
        GStreamPacket(0, 0, 0, 0, GProvider.TPC, 1 << 56, []),
        GStreamPacket(0, 0, 2**31, 0, GProvider.TPC, 0, []),
        GStreamPacket(0, 0, 0, 0, GProvider.TPC, 0, ["two\nlines"]),
        GStreamPacket(256, 0, 0, 0, GProvider.TPC, 0, []),
    ],
)
def test_unencodable_packets_raise_encode_error(pkt):
    with pytest.raises(EncodeError):
        encode_gstream(pkt)


@pytest.mark.parametrize(
    "change",
    [{"type": "sideways"}, {"ip_version": 5}, {"client": 'say "hi"'}, {"src": "a\\b"}, {"size": -1}],
)
def test_tpc_records_xrootd_could_not_print_raise_encode_error(change):
    import dataclasses

    with pytest.raises(EncodeError):
        encode_tpc_record(dataclasses.replace(TPC, **change))


# ---------------------------------------------------------------------------- properties

_RECORD = st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=40)
PACKETS = st.builds(
    GStreamPacket,
    st.integers(0, 255),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.one_of(st.sampled_from(list(GProvider)), st.integers(0, 255)),
    st.integers(0, 2**48 - 1),
    st.lists(_RECORD, max_size=8),
)
_SAFE = st.text(
    st.characters(min_codepoint=0x20, blacklist_characters='"\\', blacklist_categories=("Cs",)), max_size=30
)
_TIMES = st.datetimes(min_value=datetime(1970, 1, 1), timezones=st.just(UTC))
TPCS = st.builds(
    TpcRecord,
    _SAFE,
    _SAFE,
    _TIMES,
    _TIMES,
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**32 - 1),
    st.sampled_from(["push", "pull"]),
    st.sampled_from([4, 6]),
    _SAFE,
    _SAFE,
    st.integers(0, 2**64 - 1),
)


@settings(max_examples=300, deadline=None)
@given(PACKETS)
def test_packet_decode_encode_round_trip(pkt):
    data = encode_gstream(pkt)
    assert _decode(data) == pkt and encode_gstream(_decode(data)) == data


@settings(max_examples=300, deadline=None)
@given(TPCS)
def test_tpc_record_decode_encode_round_trip(rec):
    text = encode_tpc_record(rec)
    assert decode_tpc_record(text) == rec and encode_tpc_record(decode_tpc_record(text)) == text


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_random_bodies_decode_or_raise_decode_error(body):
    data = struct.pack("!BBHi", ord("g"), 0, 8 + len(body), STOD) + body
    try:
        pkt = _decode(data)
        pkt.json_records()
    except DecodeError:
        pass
