"""Summary XML (spec §8) and ``{`` JSON packets (§7.2, §8.1): hand-written documents, refused
DTDs, the builder against real XRootD 5.5.3 reports, and properties."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.wire.errors import BadTextError, DecodeError, EncodeError
from xrdsim.wire.summary import (
    LINK_FIELDS,
    JsonPacket,
    LinkStats,
    SummaryPacket,
    build_summary,
    build_summary_xml,
    decode_json,
    decode_summary,
    encode_json,
    encode_summary,
)

DOC = (
    b'<statistics tod="1700000100" ver="v5.6.9" src="srv.example.org:1094" tos="1700000000" pgm="xrootd"'
    b' ins="anon" pid="4242" site="T2_XX">'
    b'<stats id="info"><host>srv.example.org</host><port>1094</port><name>anon</name></stats>'
    b'<stats id="link"><num>2</num><maxn>9</maxn><tot>120</tot><in>123456789012</in><out>987654321098</out>'
    b"<ctime>3600</ctime><tmo>1</tmo><stall>2</stall><sfps>3</sfps></stats>"
    b'<stats id="proc"><usr><s>12</s><u>345</u></usr><sys><s>6</s><u>78</u></sys></stats>'
    b'<stats id="oss" v="2"><paths>2<stats id="0"><lp>"/"</lp><rp>"/data/"</rp><tot>100</tot><free>40</free>'
    b'<ino>10</ino><ifr>5</ifr></stats><stats id="1"><lp>"/tmp"</lp><rp>"/scratch/"</rp><tot>7</tot><free>6</free>'
    b"<ino>5</ino><ifr>4</ifr></stats></paths><space>0</space></stats>"
    b'<stats id="pss"><open>5<errs>1</errs></open><close>4<errs>0</errs></close></stats>'
    b'<stats id="cache" type="pfc"><rd><in>10</in><out>20</out><hits>7></hits><miss>3</miss></rd></stats>'
    b'<stats id="sgen"><as>1</as><et>2</et><toe>1700000100</toe></stats>'
    b"</statistics>"
)
DOC_STATS = {
    "info": {"host": "srv.example.org", "port": 1094, "name": "anon"},
    "link": {
        "num": 2,
        "maxn": 9,
        "tot": 120,
        "in": 123456789012,
        "out": 987654321098,
        "ctime": 3600,
        "tmo": 1,
        "stall": 2,
        "sfps": 3,
    },
    "proc": {"usr": {"s": 12, "u": 345}, "sys": {"s": 6, "u": 78}},
    "oss": {
        "@v": "2",
        "paths": {
            "#text": 2,
            "stats": [
                {"@id": "0", "lp": "/", "rp": "/data/", "tot": 100, "free": 40, "ino": 10, "ifr": 5},
                {"@id": "1", "lp": "/tmp", "rp": "/scratch/", "tot": 7, "free": 6, "ino": 5, "ifr": 4},
            ],
        },
        "space": 0,
    },
    "pss": {"open": {"#text": 5, "errs": 1}, "close": {"#text": 4, "errs": 0}},
    "cache": {"@type": "pfc", "rd": {"in": 10, "out": 20, "hits": 7, "miss": 3}},  # the pre-5.7 "7>" typo
    "sgen": {"as": 1, "et": 2, "toe": 1700000100},
}


def test_summary_table_case_decodes_to_spec_values():
    pkt = decode_summary(memoryview(DOC))
    assert (pkt.tod, pkt.ver, pkt.src, pkt.tos, pkt.pgm, pkt.ins, pkt.pid, pkt.site) == (
        1700000100,
        "v5.6.9",
        "srv.example.org:1094",
        1700000000,
        "xrootd",
        "anon",
        4242,
        "T2_XX",
    )
    assert pkt.stats == DOC_STATS
    assert pkt.link == LinkStats(2, 9, 120, 123456789012, 987654321098, 3600, 1, 2, 3)
    assert encode_summary(pkt) == DOC


def test_summary_without_raw_renders_back_apart_from_the_typo():
    pkt = dataclasses.replace(decode_summary(DOC), raw=b"")
    assert encode_summary(pkt) == DOC.replace(b"<hits>7></hits>", b"<hits>7</hits>")


def test_summary_cut_short_or_with_junk_raises_bad_text():
    for cut in range(len(DOC)):
        with pytest.raises(BadTextError):
            decode_summary(DOC[:cut])
    with pytest.raises(BadTextError):
        decode_summary(DOC + b"<x/>")
    assert decode_summary(DOC + b"\n").stats == DOC_STATS


@pytest.mark.parametrize(
    "doc",
    [
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aa"><!ENTITY b "&a;&a;">]>'
        b'<statistics tod="1" tos="1" pid="1">&b;</statistics>',
        b'<!DOCTYPE s [<!ENTITY x SYSTEM "file:///etc/passwd">]><statistics tod="1" tos="1" pid="1">&x;</statistics>',
        b'<statistics tod="1" tos="1" pid="1"><!ENTITY x "y"></statistics>',
        '<statistics tod="1" tos="1" pid="1"/>'.encode("utf-16"),
        b'<statistics tod="1" tos="1" pid="1">&undefined;</statistics>',
        b'<statistics tod="1" tos="1" pid="1">\xff</statistics>',
    ],
    ids=["entity_bomb", "external_entity", "entity_no_doctype", "utf16", "undefined_entity", "not_utf8"],
)
def test_dangerous_or_undecodable_documents_are_refused(doc):
    with pytest.raises(BadTextError):
        decode_summary(doc)


@pytest.mark.parametrize(
    "doc",
    [
        b'<other tod="1" tos="1" pid="1"/>',
        b'<statistics tod="soon" tos="1" pid="1"/>',
        b'<statistics tos="1" pid="1"/>',
        b'<statistics tod="1" tos="1" pid="1"><stats id="link"><num>1</num></stats></statistics>',
        b'<statistics tod="1" tos="1" pid="1"><stats id="x">' + b"<a>" * 40 + b"</a>" * 40 + b"</stats></statistics>",
        b'<statistics tod="1" tos="1" pid="1"><stats id="x">'
        + b"<a>" * 100000
        + b"</a>" * 100000
        + b"</stats></statistics>",
    ],
    ids=["root", "tod", "no_tod", "short_link", "deep", "very_deep"],
)
def test_malformed_reports_raise_bad_text(doc):
    with pytest.raises(BadTextError):
        decode_summary(doc)


def test_minimal_report_has_empty_strings_and_no_link():
    pkt = decode_summary(b'<statistics tod="1" tos="2" pid="3"><stats id="addon">text</stats></statistics>')
    assert (pkt.ver, pkt.site, pkt.link) == ("", "", None)
    assert pkt.stats == {"addon": {"#text": "text"}}


# ---------------------------------------------------------------------------- builder

LINK = LinkStats(1, 2, 3, 4, 5, 6, 7, 8, 9)


def test_builder_orders_blocks_merges_values_and_marks_unsynced():
    pkt = build_summary(
        10,
        "v5.6.9",
        "h:1094",
        5,
        "xrootd",
        "anon",
        77,
        "S",
        LINK,
        blocks={"xrootd": {"ops": {"rd": 5}}, "myaddon": {"x": 1}, "cache": {"@type": "pfc", "rd": {"in": 1}}},
        synced=False,
        gather_ms=3,
    )
    assert list(pkt.stats) == [
        "info",
        "buff",
        "link",
        "poll",
        "proc",
        "xrootd",
        "ofs",
        "cache",
        "sched",
        "sgen",
        "myaddon",
    ]
    again = decode_summary(pkt.raw)
    assert again.stats == pkt.stats and again.link == LINK
    assert again.stats["xrootd"]["ops"]["rd"] == 5 and again.stats["sgen"] == {"as": 1, "et": 3, "toe": 10}
    assert again.stats["info"] == {"host": "h", "port": 1094, "name": "anon"}


def test_encode_without_raw_rejects_unencodable_text():
    pkt = SummaryPacket(1, "\udc80", "", 1, "", "", 1, "", {})
    with pytest.raises(EncodeError):
        encode_summary(pkt)


_INT64 = st.integers(0, 2**63 - 1)
_INT32 = st.integers(0, 2**31 - 1)
LINKS = st.builds(
    LinkStats, *(_INT64 if name in ("tot", "in_bytes", "out_bytes", "ctime") else _INT32 for _, name in LINK_FIELDS)
)
_WORD = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=150, deadline=None)
@given(LINKS, _INT32, _INT32, _INT32, _WORD, _WORD, _WORD)
def test_built_reports_decode_to_their_values(link, tod, tos, pid, ver, pgm, site):
    pkt = decode_summary(build_summary_xml(tod, ver, "host:1094", tos, pgm, "anon", pid, site, link))
    assert pkt.link == link
    assert (pkt.tod, pkt.tos, pkt.pid, pkt.ver, pkt.pgm, pkt.site) == (tod, tos, pid, ver, pgm, site)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_xml_bytes_decode_or_raise_decode_error(tail):
    with contextlib.suppress(DecodeError):
        decode_summary(b'<statistics tod="1" tos="1" pid="1">' + tail)


# ---------------------------------------------------------------------------- JSON packets

JSON_CASES = {
    "gstream_text": (
        b'{"code":"g","pseq":  7,"stod":1700000000,"sid":101157319074353,"src":{"site":"S"},'
        b'"gs":{"type":"P","tbeg":1700000001,"tend":1700000002}}\n{"TPC":"xroot"}\n{"TPC":"http"}\x00',
        {
            "code": "g",
            "pseq": 7,
            "stod": 1700000000,
            "sid": 101157319074353,
            "src": {"site": "S"},
            "gs": {"type": "P", "tbeg": 1700000001, "tend": 1700000002},
        },
        ['{"TPC":"xroot"}', '{"TPC":"http"}'],
    ),
    "ident": (
        b'{"code":"=","pseq":0,"stod":1,"sid":2,"src":{"site":"S","host":"h","port":1094,"inst":"anon",'
        b'"pgm":"xrootd","ver":"v5.6.0"}}\x00',
        {
            "code": "=",
            "pseq": 0,
            "stod": 1,
            "sid": 2,
            "src": {"site": "S", "host": "h", "port": 1094, "inst": "anon", "pgm": "xrootd", "ver": "v5.6.0"},
        },
        [],
    ),
    "dictionary_unescaped": (  # XRootD puts d/i text in unescaped: a raw newline and a quote
        b'{"code":"d","pseq":1,"stod":1,"sid":2,"gs":{"type":"P"},"did":9,"data":"xroot/u.1:2@h\n/p"q"}\x00',
        {"code": "d", "pseq": 1, "stod": 1, "sid": 2, "gs": {"type": "P"}, "did": 9, "data": 'xroot/u.1:2@h\n/p"q'},
        [],
    ),
    "summary_addon": (
        b'{"statistics":{"tod":1,"ver":"v5.7.0","src":"h:1094","tos":0,"pgm":"xrootd","ins":"anon","pid":1,'
        b'"site":"","throttle":{"io_active":0}}}',
        {
            "statistics": {
                "tod": 1,
                "ver": "v5.7.0",
                "src": "h:1094",
                "tos": 0,
                "pgm": "xrootd",
                "ins": "anon",
                "pid": 1,
                "site": "",
                "throttle": {"io_active": 0},
            }
        },
        [],
    ),
}


@pytest.mark.parametrize("name", JSON_CASES)
def test_json_table_case_decodes_and_round_trips(name):
    data, header, records = JSON_CASES[name]
    pkt = decode_json(memoryview(data))
    assert (pkt.header, pkt.records) == (header, records)
    assert encode_json(pkt) == data


@pytest.mark.parametrize("name", JSON_CASES)
def test_json_cut_inside_the_header_raises_bad_text(name):
    data = JSON_CASES[name][0]
    for cut in range(data.find(b"}\n") + 1 if b"}\n" in data else len(data.rstrip(b"\x00"))):
        with pytest.raises(BadTextError):
            decode_json(data[:cut])


@pytest.mark.parametrize("data", [b"", b"{", b"{}}", b"[1]\n{}", b'{"code":"d","data":"x"', b"{\xff"])
def test_json_without_a_header_object_raises_bad_text(data):
    with pytest.raises(BadTextError):
        decode_json(data)


def test_json_records_parse_or_name_the_bad_one():
    pkt = decode_json(JSON_CASES["gstream_text"][0])
    assert pkt.json_records() == [{"TPC": "xroot"}, {"TPC": "http"}]
    with pytest.raises(BadTextError) as info:
        JsonPacket({}, ["{}", "nope"]).json_records()
    assert info.value.path == "json/record[1]"


@pytest.mark.parametrize("pkt", [JsonPacket({"a": object()}, []), JsonPacket({}, ["a\nb"])])
def test_unencodable_json_packets_raise_encode_error(pkt):
    with pytest.raises(EncodeError):
        encode_json(pkt)


_JSON_SCALARS = st.one_of(st.integers(-(2**53), 2**53), st.text(max_size=10), st.booleans(), st.none())
HEADERS = st.dictionaries(
    st.text(max_size=8), st.one_of(_JSON_SCALARS, st.dictionaries(st.text(max_size=5), _JSON_SCALARS)), max_size=6
)


@settings(max_examples=300, deadline=None)
@given(
    HEADERS,
    st.lists(st.text(st.characters(blacklist_characters="\n", blacklist_categories=("Cs",)), max_size=20), max_size=5),
)
def test_json_packet_decode_encode_round_trip(header, records):
    data = encode_json(JsonPacket(header, records))
    pkt = decode_json(data)
    assert (pkt.header, pkt.records) == (header, records) and encode_json(pkt) == data


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_json_bytes_decode_or_raise_decode_error(tail):
    with contextlib.suppress(DecodeError):
        decode_json(b"{" + tail).json_records()


# ---------------------------------------------------------------------------- real capture

PAGE, CRC = 4096, 4  # pgwrite: XRootD counts a 4-byte CRC per 4 KiB page (spec §4.9)


def _summaries(real_capture):
    return [p for _, _, _, p in real_capture if p[:1] == b"<"]


def _idents(real_capture):
    """site → (stod, host, pid, cgi) from the ``=`` packets (spec §3.3), parsed here."""
    out = {}
    for _, _, _, p in real_capture:
        if p[:1] == b"=":
            userid, cgi_text = p[12:].decode().split("\n", 1)
            cgi = dict(kv.split("=", 1) for kv in cgi_text.split("&") if kv)
            pid = userid.split(".", 1)[1].split(":", 1)[0]
            out[cgi["site"]] = (struct.unpack_from("!i", p, 4)[0], userid.rsplit("@", 1)[1], int(pid), cgi)
    return out


def test_real_reports_round_trip_byte_exact_and_render_back(real_capture):
    reports = _summaries(real_capture)
    assert len(reports) == 12
    for data in reports:
        pkt = decode_summary(memoryview(data))
        assert encode_summary(pkt) == data
        assert encode_summary(dataclasses.replace(pkt, raw=b"")) == data


def test_real_reports_identify_the_server_of_the_ident_packets(real_capture):
    idents = _idents(real_capture)
    for data in _summaries(real_capture):
        pkt = decode_summary(data)
        stod, host, pid, cgi = idents[pkt.site]
        assert pkt.src == f"{host}:{cgi['port']}" and (pkt.pgm, pkt.ver, pkt.ins, pkt.pid) == (
            cgi["pgm"],
            cgi["ver"],
            cgi["inst"],
            pid,
        )
        assert abs(pkt.tos - stod) <= 5 and pkt.stats["sgen"]["toe"] == pkt.tod
        assert pkt.stats["info"] == {"host": host, "port": int(cgi["port"]), "name": cgi["inst"]}


def test_real_link_counters_never_decrease_and_cover_the_truth(real_capture, real_truth):
    last = {}
    for data in _summaries(real_capture):
        pkt = decode_summary(data)
        prev = last.get(pkt.src)
        if prev is not None:
            assert pkt.tos == prev.tos and pkt.tod > prev.tod
            assert pkt.link.in_bytes >= prev.link.in_bytes and pkt.link.out_bytes >= prev.link.out_bytes
        last[pkt.src] = pkt
    (port,) = {row["server_port"] for row in real_truth}
    link = next(p.link for src, p in last.items() if src.endswith(f":{port}"))
    sent = sum(int(r["bytes"]) for r in real_truth if r["op"] == "read")
    received = sum(int(r["bytes"]) + CRC * math.ceil(int(r["bytes"]) / PAGE) for r in real_truth if r["op"] == "write")
    assert link.tot == len(real_truth)  # one connection per xrdcp
    assert received <= link.in_bytes < received * 1.01 and sent <= link.out_bytes < sent * 1.01


def test_builder_reproduces_a_real_report_byte_for_byte(real_capture):
    data = _summaries(real_capture)[-2]
    real = decode_summary(data)
    own = ("info", "link", "sgen")
    built = build_summary_xml(
        real.tod,
        real.ver,
        real.src,
        real.tos,
        real.pgm,
        real.ins,
        real.pid,
        real.site,
        real.link,
        blocks={k: v for k, v in real.stats.items() if k not in own},
        synced=real.stats["sgen"]["as"] == 0,
        gather_ms=real.stats["sgen"]["et"],
    )
    assert built == data
