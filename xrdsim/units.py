"""Human quantities in scenario files: durations ("90s", "1h30m"), sizes ("2GB", "1.5 GiB"),
rates ("10Gbps", "1k/s", "600/h") and plain numbers ("1e6", "0.5%").

Pure text → number functions; they raise ``ValueError`` with what was expected, and the
scenario loader adds the file, line and key path.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_DURATION = {"ms": 1e-3, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PREFIX = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15}
_BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50}
# Every pattern is unambiguous (each character can be matched one way only), so a failing
# match is linear: ``\d[\d_]*\.?\d*`` or two ``\s*`` around an optional part backtracked
# quadratically (a 20,000-digit number took 11 s, bench/flood.py). Texts are stripped first.
_NUMBER = r"[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-zA-Z]*)")
_PLAIN = re.compile(rf"({_NUMBER})\s*([kKMGTP]?)")
_SIZE = re.compile(rf"({_NUMBER})\s*([kKMGTP]i?)?([bB]?)")
_RATE = re.compile(rf"({_NUMBER})\s*(?:([kKMGTP])\s*)?(bps|[bB]/s|/s|/sec|/m|/min|/h|/d)?")


def _num(text: str) -> float:
    return float(text.replace("_", ""))


def parse_number(text: str) -> float:
    """A plain number, possibly with an SI prefix ("1k", "2.5M") or a percent ("0.5%" → 0.005).

    >>> parse_number("0.5%"), parse_number("1e6"), parse_number("2k")
    (0.005, 1000000.0, 2000.0)
    """
    s = text.strip()
    if s.endswith("%"):
        return _num(s[:-1]) / 100.0
    m = _PLAIN.fullmatch(s)
    if not m:
        raise ValueError(f"expected a number like 42, 1e6, 2k or 0.5%, got {text!r}")
    return _num(m.group(1)) * _PREFIX[m.group(2)]


def parse_duration(text: str) -> float:
    """Seconds from "90s", "500ms", "6h", "1d", "1h30m" or a bare number of seconds.

    >>> parse_duration("1h30m"), parse_duration("500ms"), parse_duration("42")
    (5400.0, 0.5, 42.0)
    """
    s = text.strip()
    pos, total, parts = 0, 0.0, 0
    while pos < len(s):
        m = _PART.match(s, pos)
        if not m or m.end() == pos or m.group(2) not in _DURATION | {"": 1.0}:
            raise ValueError(f"expected a duration like 90s, 500ms, 6h or 1d, got {text!r}")
        total += _num(m.group(1)) * _DURATION.get(m.group(2), 1.0)
        pos, parts = m.end(), parts + 1
    if not parts:
        raise ValueError(f"expected a duration like 90s, 500ms, 6h or 1d, got {text!r}")
    return total


def parse_size(text: str) -> int:
    """Bytes from "2GB" (10⁹), "1.5 GiB" (2³⁰), "300kB", "4M" or a bare number.

    >>> parse_size("1.5 GiB"), parse_size("300kB")
    (1610612736, 300000)
    """
    m = _SIZE.fullmatch(text.strip())
    if not m or (m.group(3) == "b"):
        raise ValueError(f"expected a size like 300kB, 2GB or 1.5GiB, got {text!r}")
    prefix = m.group(2) or ""
    scale = _BINARY[prefix] if prefix in _BINARY else _PREFIX[prefix]
    return round(_num(m.group(1)) * scale)


_PER = {"/s": 1.0, "/sec": 1.0, "/m": 1 / 60, "/min": 1 / 60, "/h": 1 / 3600, "/d": 1 / 86400}


def parse_rate(text: str, per_s: float = 1.0, bits: bool = False) -> float:
    """A rate in units per ``per_s`` seconds. ``bits``: bits per second, so "1.25GB/s" is 10e9
    and "10Gbps" is 10e9; otherwise events: "1k/s" → 1000, "600/h" with ``per_s=3600`` → 600.

    >>> parse_rate("10Gbps", bits=True), parse_rate("1k/s"), parse_rate("600/h", per_s=3600)
    (10000000000.0, 1000.0, 600.0)
    """
    m = _RATE.fullmatch(text.strip())
    if not m:
        raise ValueError(f"expected a rate like 10Gbps, 1k/s or 600/h, got {text!r}")
    value = _num(m.group(1)) * _PREFIX[m.group(2) or ""]
    unit = m.group(3) or ""
    if unit in ("bps", "b/s", "B/s"):
        if not bits:
            raise ValueError(f"expected an event rate like 1k/s or 600/h, got {text!r}")
        return value * (8 if unit == "B/s" else 1)
    return value * _PER.get(unit or "/s", 1.0) * per_s


#: Field-name suffix → (kind, parser) for the scenario loader; first match wins.
SUFFIX_PARSERS: tuple[tuple[str, str, Callable[[str], float]], ...] = (
    ("_per_hour", "rate", lambda t: parse_rate(t, per_s=3600.0)),
    ("_per_s", "rate", parse_rate),
    ("_bps", "rate", lambda t: parse_rate(t, bits=True)),
    ("_bytes", "size", parse_size),
    ("_s", "duration", parse_duration),
)


def parser_for(field_name: str) -> tuple[str, Callable[[str], float]]:
    """(kind, parser) for a field: by name suffix, else a number that may carry a time unit."""
    for suffix, kind, parse in SUFFIX_PARSERS:
        if field_name.endswith(suffix):
            return kind, parse
    return "number", parse_loose


def parse_loose(text: str) -> float:
    """A number ("1e6", "0.5%", "2k"), else a duration ("10m") for untyped time fields."""
    try:
        return parse_number(text)
    except ValueError:
        pass
    try:
        return parse_duration(text)
    except ValueError:
        raise ValueError(f"expected a number like 42, 1e6 or 0.5% (or a duration like 90s), got {text!r}") from None


__all__ = ["parse_duration", "parse_loose", "parse_number", "parse_rate", "parse_size", "parser_for"]
