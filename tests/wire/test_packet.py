"""The dispatcher: first-byte routing, the header contract, and the fuzz invariant that any
byte string decodes to a packet or raises a DecodeError, nothing else (STYLE §7.6)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrdsim.wire import (
    DecodeError,
    EncodeError,
    LengthMismatchError,
    MapPacket,
    TruncatedError,
    UnknownCodeError,
    decode,
    encode,
)
from xrdsim.wire.header import HEADER, HEADER_FIELDS, Header, decode_header


def test_header_layout_is_the_spec_table():
    assert HEADER.size == 8
    assert [name for name, _ in HEADER_FIELDS] == list(Header.__dataclass_fields__)


def test_header_fields_big_endian():
    assert decode_header(bytes.fromhex("75 fe 0008 6553f100".replace(" ", ""))) == Header(ord("u"), 254, 8, 1700000000)


@pytest.mark.parametrize("data", [b"", b"u", b"u\x00\x00"])
def test_short_datagram_is_truncated(data):
    with pytest.raises(TruncatedError):
        decode(data)


def test_plen_must_equal_datagram_length():
    data = encode(MapPacket(ord("u"), 1, 2, 3, "x"))
    with pytest.raises(LengthMismatchError) as info:
        decode(data + b"\x00")
    assert info.value.offset == 2 and info.value.code == "u"


def test_unknown_code_is_named():
    with pytest.raises(UnknownCodeError) as info:
        decode(struct.pack("!BBHi", ord("Z"), 0, 8, 0))
    assert info.value.code == "Z"


def test_encode_rejects_what_is_not_a_packet():
    with pytest.raises(EncodeError):
        encode(object())  # type: ignore[arg-type]
    with pytest.raises(EncodeError):
        encode(MapPacket(ord("u"), 256, 0, 0, ""))


def _decodes_or_raises_decode_error(data: bytes) -> None:
    try:
        decode(data)
    except DecodeError:
        pass


@given(st.binary(max_size=300))
def test_random_bytes_never_raise_anything_but_decode_error(data):
    _decodes_or_raises_decode_error(data)


@given(st.sampled_from(b"=udiTUxpftrg<{"), st.binary(max_size=300))
def test_random_bodies_with_a_valid_header_never_escape(code, body):
    data = struct.pack("!BBHi", code, 0, 8 + len(body), 0) + body
    _decodes_or_raises_decode_error(data)


@given(st.data())
def test_mutated_real_datagrams_never_escape(real_capture, data):
    payload = bytearray(data.draw(st.sampled_from([p for _, _, _, p in real_capture])))
    mutation = data.draw(st.sampled_from(["flip", "cut", "extend", "plen", "recsize"]))
    if mutation == "flip":
        for pos in data.draw(st.lists(st.integers(0, len(payload) - 1), min_size=1, max_size=8)):
            payload[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif mutation == "cut":
        payload = payload[: data.draw(st.integers(0, len(payload) - 1))]
    elif mutation == "extend":
        payload += data.draw(st.binary(min_size=1, max_size=64))
    elif mutation == "plen" and len(payload) >= 4:
        struct.pack_into("!H", payload, 2, data.draw(st.integers(0, 0xFFFF)))
    elif len(payload) > 36:  # a recSize / entry field just past the f TOD or t first entry
        struct.pack_into("!h", payload, 34, data.draw(st.integers(-(2**15), 2**15 - 1)))
    _decodes_or_raises_decode_error(bytes(payload))
