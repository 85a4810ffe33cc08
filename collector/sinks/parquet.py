"""Parquet: transfer records as one table (pyarrow), written in row groups; every other
event kind goes to a JSON-lines file beside it (``<out>.events.jsonl``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from collector.records import Event, TransferRecord
from collector.sinks.jsonl import JsonlSink

_ARROW = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(), "Ended": pa.string()}


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
        self.written = 0

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
            self._writer.write_table(pa.Table.from_pylist(self._rows, schema=self.schema))
            self.written += len(self._rows)
            self._rows = []

    def close(self) -> None:
        """Write what is buffered and close the file(s)."""
        self._flush()
        self._writer.close()
        if self._others is not None:
            self._others.close()
