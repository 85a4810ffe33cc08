"""The truth log of a run: transfers, datagrams, faults and counters as slotted rows (not
frozen where there are millions: STYLE §7.4), per DESIGN.md's Truth contract, times in unix
seconds. With a ``stream_dir`` each table goes to its Parquet file batch by batch.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(slots=True)
class TransferRow:
    """One file open as the monitoring should report it; ``payload_*`` = TCP payload moved."""

    transfer_id: int
    site: str
    server: str
    server_ip: str
    stod: int
    file_dictid: int
    user_dictid: int
    lfn: str
    size: int
    user_dn: str
    vo: str
    client_host: str
    client_ip: str
    protocol: str
    ipv6: bool
    open_time: float
    close_time: float
    read_bytes: int
    readv_bytes: int
    write_bytes: int
    read_ops: int
    readv_ops: int
    readv_segments: int
    write_ops: int
    close_kind: str
    tpc: bool
    app_info: str
    payload_in_bytes: int
    payload_out_bytes: int


@dataclass(slots=True)
class DatagramRow:
    """One emitted datagram: who sent it, its counter group and pseq, and its fate."""

    id: int
    t_send: float
    server: str
    group: str
    code: str
    pseq: int
    size: int
    fate: str
    cause: str


@dataclass(frozen=True, slots=True)
class FaultRow:
    """One injected fault; ``parameters`` as ``key=value`` text."""

    kind: str
    target: str
    start: float
    end: float
    parameters: str


@dataclass(slots=True)
class CounterRow:
    """Cumulative interface counters at ``t``; ``kind`` host or uplink."""

    t: float
    kind: str
    name: str
    rx_bytes: int
    tx_bytes: int
    rx_packets: int
    tx_packets: int
    rx_payload_bytes: int
    tx_payload_bytes: int
    monitoring_bytes: int


TABLES: dict[str, type] = {"transfers": TransferRow, "datagrams": DatagramRow, "faults": FaultRow, "counters": CounterRow}
_ARROW = {int: pa.int64(), float: pa.float64(), str: pa.string(), bool: pa.bool_()}


def arrow_schema(row_type: type) -> pa.Schema:
    """The Parquet schema of a row dataclass, from its type hints."""
    hints = typing.get_type_hints(row_type)
    return pa.schema([(f.name, _ARROW[hints[f.name]]) for f in dataclasses.fields(row_type)])


def _table(row_type: type, rows: list) -> pa.Table:
    names = [f.name for f in dataclasses.fields(row_type)]
    return pa.table({n: list(map(attrgetter(n), rows)) for n in names}, schema=arrow_schema(row_type))


class Truth:
    """Accumulates rows; ``write(dir)`` leaves ``<table>.parquet`` files there.

    With ``stream_dir`` the rows go to disk every ``batch_rows`` and the lists stay short.
    """

    def __init__(self, stream_dir: str | Path | None = None, batch_rows: int = 100_000) -> None:
        self.transfers: list[TransferRow] = []
        self.datagrams: list[DatagramRow] = []
        self.faults: list[FaultRow] = []
        self.counters: list[CounterRow] = []
        self.totals: dict[str, int] = dict.fromkeys(TABLES, 0)
        self._rows: dict[str, list] = {t: getattr(self, t) for t in TABLES}
        self.stream_dir = Path(stream_dir) if stream_dir is not None else None
        self.batch_rows = batch_rows
        self._writers: dict[str, pq.ParquetWriter] = {}

    def add(self, table: str, row: object) -> None:
        """Append one row to ``table`` (flushing a batch to disk when streaming)."""
        rows = self._rows[table]
        rows.append(row)
        self.totals[table] += 1
        if self.stream_dir is not None and len(rows) >= self.batch_rows:
            self._spill(table)

    def _spill(self, table: str) -> None:
        rows = getattr(self, table)
        writer = self._writers.get(table)
        if writer is None:
            self.stream_dir.mkdir(parents=True, exist_ok=True)
            writer = pq.ParquetWriter(self.stream_dir / f"{table}.parquet", arrow_schema(TABLES[table]))
            self._writers[table] = writer
        if rows:
            writer.write_table(_table(TABLES[table], rows))
        rows.clear()

    def write(self, directory: str | Path | None = None) -> list[Path]:
        """Write every table as Parquet into ``directory`` (default: the stream dir)."""
        out = Path(directory) if directory is not None else self.stream_dir
        if out is None:
            raise ValueError("Truth.write needs a directory when not streaming")
        if self.stream_dir is not None and out.resolve() == self.stream_dir.resolve():
            for table in TABLES:
                self._spill(table)
                self._writers.pop(table).close()
            return [out / f"{t}.parquet" for t in TABLES]
        out.mkdir(parents=True, exist_ok=True)
        for table, row_type in TABLES.items():
            pq.write_table(_table(row_type, getattr(self, table)), out / f"{table}.parquet")
        return [out / f"{t}.parquet" for t in TABLES]


__all__ = ["CounterRow", "DatagramRow", "FaultRow", "TABLES", "TransferRow", "Truth", "arrow_schema"]
