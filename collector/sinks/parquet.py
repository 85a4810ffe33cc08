"""Parquet: transfer records as one table (pyarrow), written in row groups; every other
event kind goes to a JSON-lines file beside it (``<out>.events.jsonl``).

One bad record never loses the file: a batch Arrow refuses is written again with its rows
sanitised — text that is not UTF-8 (paths from the wire are decoded with
``surrogateescape``) gets U+FFFD in place of its bad bytes, integers beyond int64 are clamped
— each counted (``io()``); a row that still cannot be written is dropped and counted.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from collector.records import Event, TransferRecord
from collector.sinks.jsonl import JsonlSink

log = logging.getLogger(__name__)
_ARROW = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "Ended": pa.string()}


_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1
_REFUSED = (pa.ArrowException, OverflowError, UnicodeError, ValueError, TypeError)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replaced(text: str) -> str:
    """``text`` with U+FFFD for each byte that was not UTF-8 (``surrogateescape``), or for
    any other lone surrogate."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "replace")


def record_schema() -> pa.Schema:
    """The Parquet schema of ``TransferRecord`` (``X | None`` fields are nullable)."""
    cols = []
    for f in dataclasses.fields(TransferRecord):
        base = str(f.type).split("|")[0].strip()
        cols.append(pa.field(f.name, _ARROW[base], nullable=True))
    return pa.schema(cols)


class ParquetSink:
    """Writes ``TransferRecord`` rows to ``path`` every ``batch`` records and at close."""

    def __init__(self, path: str | Path, batch: int = 50_000) -> None:
        self.path = Path(path)
        self.schema = record_schema()
        self._writer = pq.ParquetWriter(self.path, self.schema)
        self._rows: list[dict] = []
        self._batch = batch
        self._others: JsonlSink | None = None
        self._text = [f.name for f in self.schema if f.type == pa.string()]
        self._ints = [f.name for f in self.schema if f.type == pa.int64()]
        self.written = 0
        self.sanitised_text = self.clamped_ints = self.dropped = 0

    def write(self, events: list[Event]) -> None:
        """Buffer records; other events go to the side file at once."""
        others = []
        for ev in events:
            if type(ev) is TransferRecord:
                row = ev.to_dict()
                del row["kind"]
                self._rows.append(row)
            else:
                others.append(ev)
        if others:
            if self._others is None:
                self._others = JsonlSink(self.path.with_name(self.path.name + ".events.jsonl"))
            self._others.write(others)
        if len(self._rows) >= self._batch:
            self._flush()

    def _flush(self) -> None:
        if self._rows:
            try:
                table = pa.Table.from_pylist(self._rows, schema=self.schema)
            except _REFUSED:
                table = self._sanitised(self._rows)
            self._writer.write_table(table)
            self.written += table.num_rows
            self._rows = []

    def _sanitised(self, rows: list[dict]) -> pa.Table:
        """The table of ``rows`` made writable (see the module docstring)."""
        kept = []
        for row in rows:
            self._clean(row)
            try:
                pa.Table.from_pylist([row], schema=self.schema)
            except _REFUSED as exc:
                self.dropped += 1
                log.warning("parquet: record %s not writable, dropped (%s)", row.get("record_id"), exc)
                continue
            kept.append(row)
        return pa.Table.from_pylist(kept, schema=self.schema)

    def _clean(self, row: dict[str, Any]) -> None:
        for name in self._text:
            value = row.get(name)
            if type(value) is str and not _utf8(value):
                row[name] = _replaced(value)
                self.sanitised_text += 1
        for name in self._ints:
            value = row.get(name)
            if type(value) is int and not _I64_MIN <= value <= _I64_MAX:
                row[name] = _I64_MIN if value < 0 else _I64_MAX
                self.clamped_ints += 1

    def io(self) -> dict[str, int]:
        """Figures for the report: records written, fields sanitised, rows dropped."""
        return {"parquet_written": self.written, "parquet_sanitised_text": self.sanitised_text,
                "parquet_clamped_ints": self.clamped_ints, "parquet_dropped": self.dropped}

    def close(self) -> None:
        """Write what is buffered and close the file(s)."""
        self._flush()
        self._writer.close()
        if self._others is not None:
            self._others.close()
