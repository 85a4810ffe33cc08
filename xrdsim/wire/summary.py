"""Summary monitoring (``xrd.report``, spec §8) and the ``{...}`` JSON packets (§7.2, §8.1):
the ``<statistics>`` XML as typed root attributes plus nested ``stats`` dicts, JSON as a
header dict plus text records. Raw bytes are kept, so encoding a decoded packet is exact.
A document declaring a DTD is refused before parsing: no entities, internal or external.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Any, ClassVar
from xml.sax.saxutils import escape

from xrdsim.wire.errors import BadTextError, EncodeError
from xrdsim.wire.gstream import decode_json_record

CODE_XML = ord("<")
CODE_JSON = ord("{")
ROOT_ATTRS = ("tod", "ver", "src", "tos", "pgm", "ins", "pid", "site")
_INT_ATTRS = frozenset({"tod", "tos", "pid"})
_MAX_DEPTH = 32
_INT = re.compile(r"(-?[0-9]{1,20})\Z")
# The '>' is the pre-5.7 cache typo ``<hits>%lld></hits>`` (xrootd#2219): still well-formed XML.
_INT_TEXT = re.compile(r"(-?[0-9]{1,20})>?\Z")
#: oss v2 prints these paths in double quotes (spec §8.2); the dicts hold them unquoted.
_QUOTED_TAGS = frozenset({"lp", "rp"})
_ATTR_ESCAPES = {'"': "&quot;"}
_REFUSED = ("<!DOCTYPE", "<!ENTITY")

#: ``<stats id="link">`` child tag → LinkStats field, in XRootD's order (spec §8.3).
LINK_FIELDS = (
    ("num", "num"),
    ("maxn", "maxn"),
    ("tot", "tot"),
    ("in", "in_bytes"),
    ("out", "out_bytes"),
    ("ctime", "ctime"),
    ("tmo", "tmo"),
    ("stall", "stall"),
    ("sfps", "sfps"),
)


@dataclass(slots=True, frozen=True)
class LinkStats:
    """The ``link`` block (spec §8.3): open links ``num``, high-water ``maxn``, accepted
    ``tot``, payload ``in_bytes``/``out_bytes`` and connect seconds ``ctime`` (cumulative,
    folded in at link close or sync), timeouts ``tmo``, partial reads ``stall`` and
    partial sendfiles ``sfps``."""

    num: int
    maxn: int
    tot: int
    in_bytes: int
    out_bytes: int
    ctime: int
    tmo: int
    stall: int
    sfps: int


def link_stats(stats: dict[str, Any]) -> LinkStats | None:
    """The typed ``link`` block of ``stats``, None when absent; BadTextError when a counter
    is missing or not an integer."""
    block = stats.get("link")
    if block is None:
        return None
    values: list[Any] = [block.get(tag) if isinstance(block, dict) else None for tag, _ in LINK_FIELDS]
    if not all(type(v) is int for v in values):
        raise BadTextError("link block lacks an integer counter", code="<", path="summary/stats[link]")
    return LinkStats(*values)


@dataclass(slots=True)
class SummaryPacket:
    """A ``<statistics>`` document (spec §8.1): root attributes ``tod``/``tos``/``pid`` (ints),
    ``ver``, ``src`` (host:port), ``pgm``, ``ins``, ``site`` ("" when absent); ``stats`` maps
    each ``<stats id>`` to a dict (child tag → int / str / dict; ``@attr`` attributes,
    ``#text`` leading text, nested ``stats`` and repeated tags → lists); ``raw`` the bytes."""

    tod: int
    ver: str
    src: str
    tos: int
    pgm: str
    ins: str
    pid: int
    site: str
    stats: dict[str, dict[str, Any]]
    raw: bytes = b""

    CODE: ClassVar[int] = CODE_XML

    @property
    def link(self) -> LinkStats | None:
        """The ``link`` counters, typed (None when the report has no link block)."""
        return link_stats(self.stats)


# ---------------------------------------------------------------------------- XML decoding


def _scalar(tag: str, text: str | None) -> int | str:
    value = (text or "").strip()
    number = _INT_TEXT.match(value)
    if number:
        return int(number[1])
    if tag in _QUOTED_TAGS and len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value


def _add_child(out: dict[str, Any], tag: str, value: Any) -> None:
    if tag == "stats":  # nested stats (oss paths/space) come in any number: always a list
        out.setdefault("stats", []).append(value)
    elif tag not in out:
        out[tag] = value
    elif isinstance(out[tag], list):
        out[tag].append(value)
    else:
        out[tag] = [out[tag], value]


def _element(elem: ET.Element, depth: int) -> Any:
    if depth > _MAX_DEPTH:
        raise BadTextError(f"summary XML nested deeper than {_MAX_DEPTH}", code="<", path=f"summary/{elem.tag}")
    if not len(elem) and not elem.attrib:
        return _scalar(elem.tag, elem.text)
    out: dict[str, Any] = {f"@{k}": v for k, v in elem.attrib.items()}
    text = _scalar(elem.tag, elem.text)
    if text != "":
        out["#text"] = text
    for child in elem:
        _add_child(out, child.tag, _element(child, depth + 1))
    return out


def _block(elem: ET.Element) -> dict[str, Any]:
    value = _element(elem, 1)
    block = value if isinstance(value, dict) else {"#text": value}
    block.pop("@id", None)
    return block


def _parse_root(raw: bytes) -> ET.Element:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadTextError(f"summary is not UTF-8 ({exc.reason})", offset=exc.start, code="<", path="summary") from None
    for refused in _REFUSED:
        if refused in text:
            raise BadTextError(
                f"summary declares {refused}: refused", offset=text.index(refused), code="<", path="summary"
            )
    try:  # parsing the str, not bytes: expat then ignores any encoding declaration
        return ET.fromstring(text)
    except (ET.ParseError, ValueError, LookupError) as exc:
        raise BadTextError(f"summary XML does not parse ({exc})", code="<", path="summary") from None


def _root_attr(root: ET.Element, name: str) -> int | str:
    value = root.get(name, "")
    if name not in _INT_ATTRS:
        return value
    if not _INT.match(value):
        raise BadTextError(f"statistics {name}={value!r} is not an integer", code="<", path=f"summary/@{name}")
    return int(value)


def decode_summary(buf: memoryview) -> SummaryPacket:
    """Decode a ``<statistics>`` datagram (spec §8); the raw bytes are kept.

    Raises BadTextError for non-UTF-8, a DTD/entity declaration, XML that does not parse,
    another root element, non-integer tod/tos/pid or a malformed link block.
    """
    raw = bytes(buf)
    root = _parse_root(raw)
    if root.tag != "statistics":
        raise BadTextError(f"root element <{root.tag}> is not <statistics>", code="<", path="summary")
    attrs = {name: _root_attr(root, name) for name in ROOT_ATTRS}
    stats = {child.get("id", ""): _block(child) for child in root if child.tag == "stats"}
    link_stats(stats)  # validated once here, so the accessor cannot fail later
    return SummaryPacket(**attrs, stats=stats, raw=raw)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- XML encoding


def _text(tag: str, value: Any) -> str:
    text = escape(str(value))
    return f'"{text}"' if tag in _QUOTED_TAGS and isinstance(value, str) else text


def _render(tag: str, value: Any, attrs: str = "") -> str:
    if isinstance(value, list):
        return "".join(_render(tag, v) for v in value)
    if not isinstance(value, dict):
        return f"<{tag}{attrs}>{_text(tag, value)}</{tag}>"
    attrs += "".join(f' {k[1:]}="{escape(str(v), _ATTR_ESCAPES)}"' for k, v in value.items() if k[:1] == "@")
    inner = _text(tag, value["#text"]) if "#text" in value else ""
    inner += "".join(_render(k, v) for k, v in value.items() if k[:1] not in ("@", "#"))
    return f"<{tag}{attrs}>{inner}</{tag}>"


def render_summary(pkt: SummaryPacket) -> str:
    """The XML text of ``pkt`` from its fields (not ``raw``), in XRootD's layout: no
    whitespace, root attributes in order, one ``<stats id>`` per entry of ``stats``."""
    head = "".join(f' {name}="{escape(str(getattr(pkt, name)), _ATTR_ESCAPES)}"' for name in ROOT_ATTRS)
    body = "".join(_render("stats", block, f' id="{escape(sid, _ATTR_ESCAPES)}"') for sid, block in pkt.stats.items())
    return f"<statistics{head}>{body}</statistics>"


def encode_summary(pkt: SummaryPacket) -> bytes:
    """The datagram of ``pkt``: its raw bytes when it has them, else the rendered XML."""
    if pkt.raw:
        return pkt.raw
    try:
        return render_summary(pkt).encode("utf-8")
    except (UnicodeEncodeError, AttributeError, TypeError) as exc:
        raise EncodeError(f"summary not encodable: {exc}") from None


# ---------------------------------------------------------------------------- builder


def _zeros(tags: str) -> dict[str, Any]:
    return dict.fromkeys(tags.split(), 0)


#: Blocks of a report with nothing happening yet, as XRootD 5.5 writes them (real capture).
_IDLE_BLOCKS: dict[str, dict[str, Any]] = {
    "buff": _zeros("reqs mem buffs adj xlreqs xlmem xlbuffs"),
    "poll": _zeros("att en ev int"),
    "proc": {"usr": _zeros("s u"), "sys": _zeros("s u")},
    "xrootd": {
        "num": 0,
        "ops": _zeros("open rf rd pr rv rs wv ws wr sync getf putf misc"),
        "sig": _zeros("ok bad ign"),
        "aio": _zeros("num max rej"),
        **_zeros("err rdr dly"),
        "lgn": _zeros("num af au ua"),
    },
    "ofs": {
        "role": "server",
        **_zeros("opr opw opp ups han rdr bxq rep err dly sok ser"),
        "tpc": _zeros("grnt deny err exp"),
    },
    "sched": _zeros("jobs inq maxinq threads idle tcr tde tlimr"),
}
#: Emission order of the blocks (spec §8.2); blocks not listed (add-ons) follow sgen.
BLOCK_ORDER = ("info", "buff", "link", "poll", "proc", "xrootd", "ofs", "oss", "pss", "cache", "sched", "sgen")


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def build_summary(
    tod: int, ver: str, src: str, tos: int, pgm: str, ins: str, pid: int, site: str, link: LinkStats,
    *, blocks: dict[str, dict[str, Any]] | None = None, synced: bool = True, gather_ms: int = 0,
) -> SummaryPacket:  # fmt: skip
    """A realistic report (spec §8): info from ``src``/``ins``, ``link`` from ``link``,
    idle buff/poll/proc/xrootd/ofs/sched blocks deep-merged with ``blocks`` (which may add
    oss/cache/add-on blocks), and sgen (``as`` 1 when not ``synced``, ``et``, ``toe`` = tod)."""
    host, _, port = src.rpartition(":")
    stats = copy.deepcopy(_IDLE_BLOCKS)
    stats["info"] = {"host": host, "port": _scalar("port", port), "name": ins}
    stats["link"] = {tag: getattr(link, name) for tag, name in LINK_FIELDS}
    stats["sgen"] = {"as": 0 if synced else 1, "et": gather_ms, "toe": tod}
    _merge(stats, blocks or {})
    ordered = {key: stats.pop(key) for key in BLOCK_ORDER if key in stats}
    pkt = SummaryPacket(tod, ver, src, tos, pgm, ins, pid, site, {**ordered, **stats})
    pkt.raw = encode_summary(pkt)
    return pkt


def build_summary_xml(
    tod: int, ver: str, src: str, tos: int, pgm: str, ins: str, pid: int, site: str, link: LinkStats,
    **options: Any,
) -> bytes:  # fmt: skip
    """The datagram bytes of ``build_summary(...)`` (same arguments)."""
    return build_summary(tod, ver, src, tos, pgm, ins, pid, site, link, **options).raw


# ---------------------------------------------------------------------------- JSON packets

# XRootD does not escape the text of d/i records (spec §7.2): it is cut out before parsing.
# Found with str methods, not a regex: a lazy ``.*?`` before a greedy ``(.*)"}\Z`` backtracks
# quadratically (one 64 kB datagram cost 3.5 s, bench/flood.py).
_DICT_HEADS = ('{"code":"d"', '{"code":"i"')
_DATA_KEY = ',"data":"'


@dataclass(slots=True)
class JsonPacket:
    """A packet starting with ``{`` (spec §7.2, §8.1): the summary add-on
    ``{"statistics":..}``, or a text-format g-stream, ``=`` or ``d``/``i`` packet. ``header``
    is the first line's JSON object, ``records`` the ``\\n``-separated lines after it (final
    NUL dropped), ``raw`` the bytes."""

    header: dict[str, Any]
    records: list[str]
    raw: bytes = b""

    CODE: ClassVar[int] = CODE_JSON

    def json_records(self) -> list[dict[str, Any]]:
        """Every record parsed as a JSON object; raises BadTextError naming the record."""
        return [decode_json_record(r, f"json/record[{i}]", "{") for i, r in enumerate(self.records)]


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text, strict=False)
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _dictionary_packet(body: str) -> dict[str, Any] | None:
    """A d/i packet ``{"code":"d",...,"data":"<raw text>"}``: the header up to the first
    ``,"data":"`` parsed as JSON, the data the raw text up to the final ``"}`` (linear)."""
    if not body.startswith(_DICT_HEADS) or not body.endswith('"}'):
        return None
    cut = body.find(_DATA_KEY, len(_DICT_HEADS[0]))
    if cut < 0 or cut + len(_DATA_KEY) > len(body) - 2:
        return None
    start = cut + len(_DATA_KEY)
    header = _json_object(body[:start] + '"}')
    if header is not None:
        header["data"] = body[start:-2]
    return header


def _split_json(body: str) -> tuple[dict[str, Any], list[str]]:
    first, sep, rest = body.partition("\n")
    header = _json_object(first)
    if header is not None:
        return header, rest.split("\n") if sep else []
    header = _json_object(body) or _dictionary_packet(body)
    if header is None:
        raise BadTextError("JSON packet header is not a JSON object", code="{", path="json/header")
    return header, []


def decode_json(buf: memoryview) -> JsonPacket:
    """Decode a ``{``-packet: header object, then records; raises BadTextError when no JSON
    object heads it (a multi-line header, as d/i data with newlines, is accepted)."""
    raw = bytes(buf)
    text = raw.decode("utf-8", "surrogateescape")
    header, records = _split_json(text[:-1] if text.endswith("\x00") else text)
    return JsonPacket(header, records, raw)


def encode_json(pkt: JsonPacket) -> bytes:
    """The datagram of ``pkt``: its raw bytes, else compact header JSON, ``\\n`` + each record
    and a final NUL (none for the ``statistics`` add-on)."""
    if pkt.raw:
        return pkt.raw
    if any("\n" in r for r in pkt.records):
        raise EncodeError("a JSON packet record holds a newline, the record separator")
    try:
        text = json.dumps(pkt.header, separators=(",", ":")) + "".join("\n" + r for r in pkt.records)
        return (text + ("" if "statistics" in pkt.header else "\x00")).encode("utf-8", "surrogateescape")
    except (TypeError, ValueError) as exc:
        raise EncodeError(f"JSON packet not encodable: {exc}") from None
