"""Map packets: userid and CGI parsing against spec §3 and captured texts, round trips."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from xrdsim.wire import MapPacket, TruncatedError, UserId, decode, encode, parse_cgi, parse_userid, server_ident


@pytest.mark.parametrize(
    "text, expected",
    [
        ("xroot/root.10164:101157319074353@[::ffff:127.0.0.1]", UserId("xroot", "root", "10164", "101157319074353", "[::ffff:127.0.0.1]")),
        ("https/first.last.77:42@[::198.124.239.10]", UserId("https", "first.last", "77", "42", "[::198.124.239.10]")),
        ("=/root.10124:101157319074353@vm", UserId("=", "root", "10124", "101157319074353", "vm")),
        ("stager.5:9@host.cern.ch", UserId("", "stager", "5", "9", "host.cern.ch")),  # FRM: no prot
        ("garbage", UserId("", "garbage", "", "", "")),
    ],
)
def test_userid_parses_from_the_right(text, expected):
    assert parse_userid(text) == expected


def test_cgi_keeps_repeated_keys_and_multi_values():
    cgi = parse_cgi("&p=gsi&n=alice&o=cms cms&r=NULL NULL&R=v5.5.3&x=python3&y=&I=6&I=6")
    assert cgi.all("I") == ["6", "6"]
    assert cgi.words("o") == ["cms", "cms"]
    assert cgi.get("y") == "" and cgi.get("z") is None


def test_user_packet_from_real_capture(real_capture):
    users = [decode(p) for _, _, _, p in real_capture if p[:1] == b"u"]
    assert len(users) == 10
    first = users[0]
    assert first.dictid == 1 and first.userid.host == "[::ffff:127.0.0.1]"
    assert first.info.get("x") == "xrdcp" and first.info.get("I") == "4"


def test_ident_packet_from_real_capture(real_capture):
    idents = [server_ident(decode(p)) for _, _, _, p in real_capture if p[:1] == b"="]
    sites = {(i.site, i.port, i.pgm, i.ver) for i in idents}
    assert sites == {("SITE_A", 21885, "xrootd", "v5.5.3"), ("SITE_B", 21886, "xrootd", "v5.5.3")}


def test_nul_terminated_text_from_other_emitters_decodes():
    text = b"xroot/u.1:2@h\n/store/f\x00"
    data = struct.pack("!BBHiI", ord("d"), 3, 12 + len(text), 9, 77) + text
    pkt = decode(data)
    assert pkt.payload == "/store/f" and pkt.userid.user == "u"


def test_user_without_newline_has_no_payload():
    pkt = decode(encode(MapPacket(ord("u"), 0, 1, 5, "xroot/u.1:2@h")))
    assert pkt.payload is None and len(pkt.info.pairs) == 0


@pytest.mark.parametrize("n", range(8, 12))
def test_map_shorter_than_dictid_is_truncated(n):
    data = bytearray(struct.pack("!BBHiI", ord("u"), 0, 12, 1, 2))[:n]
    struct.pack_into("!H", data, 2, n)
    with pytest.raises(TruncatedError):
        decode(bytes(data))


@given(
    st.sampled_from(b"=udiTUxp"),
    st.integers(0, 255),
    st.integers(-(2**31), 2**31 - 1),
    st.integers(0, 2**32 - 1),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=300),
)
def test_map_round_trip(code, pseq, stod, dictid, text):
    pkt = MapPacket(code, pseq, stod, dictid, text)
    data = encode(pkt)
    assert decode(data) == pkt and encode(decode(data)) == data
