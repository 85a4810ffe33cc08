"""f-stream records: spec tables, the spec §4.10 worked example, round trips, bad records."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrdsim.wire import (
    BadRecordError,
    DecodeError,
    FileClose,
    FileDisc,
    FileOpen,
    FileOps,
    FileSSQ,
    FileTOD,
    FileXfr,
    FstreamPacket,
    TruncatedError,
    UnknownCodeError,
    decode,
    encode,
    make_tod,
    open_rec_size,
)
from xrdsim.wire.fstream import (
    CLOSE32,
    CLOSE80,
    CLOSE112,
    FILE_HDR,
    OPS,
    OPS_FIELDS,
    SSQ,
    SSQ_FIELDS,
    TOD16,
    TOD24,
    XFR,
)

# Spec §4.10, annotated field by field.
WORKED_EXAMPLE = bytes.fromhex(
    "66" "07" "0098" "6553f100"  # header: f, pseq 7, plen 152, stod 1700000000
    "02" "01" "0018" "0000" "0002" "6553f164" "6553f1a0" "0000123456789abc"  # TOD
    "01" "01" "0028" "00000101" "0000000000100000" "00000100"  # OPEN hdr, fsz, user
    "2f73746f72652f612e726f6f74" "00000000000000"  # /store/a.root + 7 NULs
    "00" "02" "0050" "00000101"  # CLOSE hdr, hasOPS
    "0000000000100000" "0000000000000000" "0000000000000000"  # read, readv, write
    "00000010" "00000000" "00000000" "0000" "0000" "0000000000000000"  # ops counts
    "00010000" "00010000" "00000000" "00000000" "00000000" "00000000"  # min/max
)


def test_struct_sizes_match_spec_tables():
    assert (FILE_HDR.size, TOD16.size, TOD24.size) == (8, 16, 24)
    assert (CLOSE32.size, CLOSE80.size, CLOSE112.size, XFR.size) == (32, 80, 112, 32)
    assert (OPS.size, SSQ.size) == (48, 32)
    assert [name for name, _ in OPS_FIELDS] == list(FileOps._fields)
    assert [name for name, _ in SSQ_FIELDS] == list(FileSSQ._fields)


def test_worked_example_decodes_to_the_spec_values():
    pkt = decode(WORKED_EXAMPLE)
    assert isinstance(pkt, FstreamPacket)
    assert (pkt.pseq, pkt.stod) == (7, 1700000000)
    assert pkt.tod == FileTOD(0, 2, 1700000100, 1700000160, 0x123456789ABC)
    opn, cls = pkt.records
    assert opn == FileOpen(0x101, 1 << 20, False, 0x100, "/store/a.root")
    assert cls.file_id == 0x101 and cls.read == 1 << 20 and not cls.forced and cls.ssq is None
    assert cls.ops.read == 16 and cls.ops.rd_min == cls.ops.rd_max == 65536
    assert encode(pkt) == WORKED_EXAMPLE


@pytest.mark.parametrize("cut", range(9, len(WORKED_EXAMPLE)))
def test_worked_example_cut_short_raises_decode_error(cut):
    data = bytearray(WORKED_EXAMPLE[:cut])
    struct.pack_into("!H", data, 2, cut)  # a consistent plen: the records themselves are cut
    with pytest.raises((TruncatedError, BadRecordError)):
        decode(bytes(data))


@pytest.mark.parametrize("length, size", [(1, 28), (4, 32), (5, 32), (12, 40), (13, 40), (16, 44)])
def test_open_padding_gives_five_to_eight_nuls(length, size):
    assert open_rec_size(length) == size
    assert 5 <= size - 20 - length <= 8 and size % 4 == 0


def test_flags_are_bit_masks_not_equalities():
    # hasLFN | hasRW = 3: an equality test for 1 would lose the path of every write-open.
    rec = FileOpen(5, 0, True, 9, "/w")
    pkt = decode(encode(FstreamPacket(0, 1, make_tod([rec], 1, 2, 7), [rec])))
    assert pkt.records[0] == rec


def test_old_16_byte_tod_and_unpadded_open_decode():
    path = b"/store/x"
    tod = TOD16.pack(2, 0, 16, 0, 1, 10, 20)
    rec = struct.pack("!BBhIqI", 1, 1, 20 + len(path), 3, 99, 4) + path  # dCache: no padding
    body = tod + rec
    data = struct.pack("!BBHi", ord("f"), 0, 8 + len(body), 5) + body
    pkt = decode(data)
    assert pkt.tod.sid is None
    assert pkt.records == [FileOpen(3, 99, False, 4, "/store/x", padded=False)]
    assert encode(pkt) == data  # the dCache bytes come back as they were


def test_close_size_must_match_its_flags():
    rec = bytearray(CLOSE32.pack(0, 0x02, 32, 1, 0, 0, 0))  # claims OPS in 32 bytes
    body = TOD24.pack(2, 1, 24, 0, 1, 0, 0, 0) + bytes(rec)
    data = struct.pack("!BBHi", ord("f"), 0, 8 + len(body), 5) + body
    with pytest.raises(BadRecordError) as info:
        decode(data)
    assert info.value.path == "f/CLOSE[0]" and info.value.offset == 32


def test_unknown_record_type_names_its_offset():
    body = TOD24.pack(2, 1, 24, 0, 1, 0, 0, 0) + FILE_HDR.pack(9, 0, 8, 0)
    data = struct.pack("!BBHi", ord("f"), 0, 8 + len(body), 5) + body
    with pytest.raises(UnknownCodeError) as info:
        decode(data)
    assert info.value.offset == 32 and info.value.code == "f"


def test_first_record_must_be_a_tod():
    body = FILE_HDR.pack(4, 0, 8, 1) * 3
    data = struct.pack("!BBHi", ord("f"), 0, 8 + len(body), 5) + body
    with pytest.raises(BadRecordError):
        decode(data)


def test_ssq_doubles_are_big_endian():
    ssq = FileSSQ(2.5, 0.0, 0.0, 1e10)
    ops = FileOps(2, 0, 1, 0, 0, 0, 1, 2, 0, 0, 3, 3)
    rec = FileClose(1, 3, 0, 3, False, ops, ssq)
    data = encode(FstreamPacket(0, 1, make_tod([rec], 0, 0, 1), [rec]))
    assert data[8 + 24 + 80 : 8 + 24 + 88] == struct.pack(">d", 2.5)


# ------------------------------------------------------------------ properties

i32 = st.integers(-(2**31), 2**31 - 1)
u32 = st.integers(0, 2**32 - 1)
i64 = st.integers(-(2**63), 2**63 - 1)
i16 = st.integers(-(2**15), 2**15 - 1)
finite = st.floats(allow_nan=False)
lfn = st.text(st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=200)
ops = st.builds(FileOps, i32, i32, i32, i16, i16, i64, i32, i32, i32, i32, i32, i32)
ssq = st.builds(FileSSQ, finite, finite, finite, finite)
opens = st.one_of(
    st.builds(FileOpen, u32, i64, st.booleans()),
    st.builds(FileOpen, u32, i64, st.booleans(), u32, lfn),
    st.builds(FileOpen, u32, i64, st.booleans(), u32, lfn.filter(bool), st.just(False)),
)
closes = st.one_of(
    st.builds(FileClose, u32, i64, i64, i64, st.booleans()),
    st.builds(FileClose, u32, i64, i64, i64, st.booleans(), ops),
    st.builds(FileClose, u32, i64, i64, i64, st.booleans(), ops, ssq),
)
records = st.lists(st.one_of(opens, closes, st.builds(FileXfr, u32, i64, i64, i64), st.builds(FileDisc, u32)), max_size=40)


@given(records, st.integers(0, 255), i32, i32, i32, st.one_of(st.none(), st.integers(0, 2**48 - 1)))
def test_fstream_round_trip(recs, pseq, stod, t_beg, t_end, sid):
    pkt = FstreamPacket(pseq, stod, make_tod(recs, t_beg, t_end, sid), recs)
    data = encode(pkt)
    assert decode(data) == pkt
    assert encode(decode(data)) == data


@given(st.binary(max_size=200))
def test_random_fstream_bodies_decode_or_raise_decode_error(body):
    data = struct.pack("!BBHi", ord("f"), 0, 8 + len(body), 5) + body
    try:
        decode(data)
    except DecodeError:
        pass
