"""The text parsers that read input from others stay linear: the JSON d/i packet split and
the unit parser give what their old backtracking regexes gave, on any text (the old ones
are the oracle here; their cost on 64 kB inputs is measured in bench/flood.py)."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from xrdsim.units import parse_number, parse_rate, parse_size
from xrdsim.wire import decode
from xrdsim.wire.summary import _dictionary_packet

_OLD_DICT = re.compile(r'(\{"code":"[di]".*?,"data":")(.*)"\}\Z', re.S)
_NUMBER = r"[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_OLD_SIZE = re.compile(rf"\s*({_NUMBER})\s*([kKMGTP]i?)?([bB]?)\s*$")
_OLD_RATE = re.compile(rf"\s*({_NUMBER})\s*([kKMGTP]?)\s*(bps|[bB]/s|/s|/sec|/m|/min|/h|/d)?\s*$")
_OLD_PLAIN = re.compile(rf"({_NUMBER})\s*([kKMGTP]?)")


def _old_dictionary(body: str):
    import json

    m = _OLD_DICT.match(body)
    if not m:
        return None
    try:
        header = json.loads(m[1] + '"}', strict=False)
    except ValueError:
        return None
    if not isinstance(header, dict):
        return None
    header["data"] = m[2]
    return header


PIECES = st.sampled_from(['{"code":"d"', '{"code":"i"', ',"data":"', '"}', "}", '"', ",", "x", "\n", '"a":1', " "])


@given(st.lists(PIECES, max_size=12).map("".join))
def test_linear_dictionary_packet_split_is_the_old_regex(body):
    assert _dictionary_packet(body) == _old_dictionary(body)


def test_linear_dictionary_packet_keeps_unescaped_data():
    pkt = decode(b'{"code":"d","pseq":1,"stod":2,"data":"u.1:2@h\n/a "b".root"}\x00')
    assert pkt.header["data"] == 'u.1:2@h\n/a "b".root' and pkt.header["code"] == "d"


TEXTS = st.lists(st.sampled_from(list("0123456789_.eE+- kKMGTPiBb/shdmpecin%")), max_size=14).map("".join)


@given(TEXTS)
def test_linear_units_accept_what_the_old_patterns_accepted(text):
    for new, old in ((parse_size, _OLD_SIZE.fullmatch), (parse_rate, _OLD_RATE.fullmatch)):
        m = old(text)
        try:
            new(text)
            accepted = True
        except (ValueError, OverflowError):
            accepted = False
        if m is None:
            assert not accepted
    stripped = text.strip()
    try:
        parse_number(text)
        ok = True
    except (ValueError, OverflowError):
        ok = False
    if not stripped.endswith("%"):
        assert ok == (_OLD_PLAIN.fullmatch(stripped) is not None and _safe_float(_OLD_PLAIN.fullmatch(stripped)))


def _safe_float(m) -> bool:
    try:
        float(m.group(1).replace("_", ""))
    except ValueError:
        return False
    return True
