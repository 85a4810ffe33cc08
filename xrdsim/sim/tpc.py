"""The TPC g-stream record (provider ``P``) a destination server writes when a third-party
copy it pulled ends (spec §7.3, ``XrdXrootdTpcMon``): who asked, when, how it ended, the
source and destination URLs and the bytes moved. Builds the record; never buffers it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from xrdsim.wire import TpcRecord, encode_tpc_record

#: xrdcp --tpc pulls with one stream unless told otherwise.
TPC_STREAMS = 1


def tpc_url(host: str, port: int, lfn: str) -> str:
    """``xroot://host:port//lfn``: a URL as XRootD prints it in TPC records, its scheme the
    TPC protocol's name (``XrdXrootdTpcMon``; real 5.5.3: ``xroot://vm:1094//f.bin``)."""
    return f"xroot://{host}:{port}/{lfn}"


def utc(t_unix: float) -> datetime:
    """A wire time as the aware UTC datetime the codec formats."""
    return datetime.fromtimestamp(t_unix, tz=UTC)


def tpc_text(client: str, begin: float, end: float, src: str, dst: str, size: int) -> str:
    """The ``P`` record of a pull from ``src`` to ``dst`` between unix times ``begin`` and
    ``end`` that ended well (RC 0); ``IPv`` 6, as a dual-stack server reports even an IPv4
    copy (real 5.5.3)."""
    rec = TpcRecord("xroot", client, utc(begin), utc(end), 0, TPC_STREAMS, "pull", 6, src, dst, size)
    return encode_tpc_record(rec)


__all__ = ["TPC_STREAMS", "tpc_text", "tpc_url", "utc"]
