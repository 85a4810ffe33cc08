"""JSON lines: one object per event and line, with a ``kind`` field (the default sink).

Transfer records are the bulk, so their line is built by a function compiled once from the
dataclass's field types (five times faster than ``json.dumps`` of a dict, bench/collector.py);
other events go through ``json``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from json.encoder import encode_basestring
from pathlib import Path
from typing import IO, Callable

from collector.records import Event, TransferRecord

_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False, ensure_ascii=False).encode
#: field type (as the dataclass declares it) → f-string piece for attribute ``{a}``.
_PIECES = {
    "str": "{_s(%(a)s)}",
    "bool": "{'true' if %(a)s else 'false'}",
    "int": "{%(a)s}",
    "float": "{%(a)s!r}",  # finite by construction (build.py keeps σ finite)
    "Ended": '"{%(a)s.value}"',
    "int | None": "{'null' if %(a)s is None else %(a)s}",
    "float | None": "{'null' if %(a)s is None else repr(%(a)s)}",
}


def compile_line(cls: type) -> Callable[[object], str]:
    """A function ``event -> JSON text`` for a dataclass whose fields are all simple types."""
    body = ",".join(f'{json.dumps(f.name)}:' + _PIECES[str(f.type)] % {"a": "e." + f.name} for f in fields(cls))
    src = f'def line(e):\n    return f"""{{{{"kind":"{cls.KIND}",{body}}}}}"""\n'  # type: ignore[attr-defined]
    namespace = {"_s": encode_basestring}
    exec(src, namespace)  # noqa: S102 — our own field names and types, nothing from input
    return namespace["line"]  # type: ignore[no-any-return]


_transfer_line = compile_line(TransferRecord)


def to_json_line(ev: Event) -> str:
    """One event as JSON text (no newline)."""
    if type(ev) is TransferRecord:
        return _transfer_line(ev)
    return _encode(ev.to_dict())


def json_lines(events: list[Event]) -> str:
    """The JSONL text of ``events``: one line each, every line ending in a newline."""
    return "".join([to_json_line(ev) + "\n" for ev in events])


class JsonlSink:
    """Writes every event as one JSON line to ``target`` (a path, ``-`` for stdout, or an
    open text file, which is left open); ``append`` keeps what the file holds (a resumed run)."""

    def __init__(self, target: str | Path | IO[str], append: bool = False) -> None:
        if isinstance(target, (str, Path)):
            self._own = str(target) != "-"
            mode = "a" if append else "w"
            self._fh: IO[str] = open(target, mode, encoding="utf-8", errors="replace") if self._own else sys.stdout
        else:
            self._own, self._fh = False, target
        self.written = 0

    def write(self, events: list[Event]) -> None:
        """Append one line per event."""
        if events:
            self.write_text(json_lines(events), len(events))

    def write_text(self, text: str, events: int) -> None:
        """Append ``text``, the ``json_lines`` of ``events`` events (rendered elsewhere: a
        collector worker process)."""
        self._fh.write(text)
        self.written += events

    def close(self) -> None:
        """Flush, and close the file if this sink opened it."""
        self._fh.flush()
        if self._own:
            self._fh.close()
