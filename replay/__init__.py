"""replay: pcap/pcapng reading and writing, timed replay to a UDP endpoint, and TCP payload
byte counting from captures. Deals in bytes and ``Datagram`` objects; never decodes XRootD.

    >>> from replay import read_datagrams, write_pcap
    >>> write_pcap("copy.pcap", read_datagrams("monitoring.pcap"))  # doctest: +SKIP
    WriteSummary(datagrams=56, frames=56, fragmented=0)
"""

from replay.capture import CaptureStats, read_datagrams
from replay.errors import ReplayError, ReplayInputError, ReplayWriteError
from replay.frames import Frame, read_frames
from replay.packets import LinkType
from replay.schedule import Planned, capture_time
from replay.sender import ReplayReport, dry_run, replay
from replay.tcp_bytes import (
    Connection,
    Direction,
    EndpointBytes,
    Listener,
    TcpAccounting,
    TcpScan,
    count_tcp_payload,
    scan_tcp,
    tcp_listeners,
)
from replay.writer import WriteSummary, write_pcap

__all__ = [
    "CaptureStats",
    "Connection",
    "Direction",
    "EndpointBytes",
    "Frame",
    "LinkType",
    "Listener",
    "Planned",
    "ReplayError",
    "ReplayInputError",
    "ReplayReport",
    "ReplayWriteError",
    "TcpAccounting",
    "TcpScan",
    "WriteSummary",
    "capture_time",
    "count_tcp_payload",
    "dry_run",
    "read_datagrams",
    "read_frames",
    "replay",
    "scan_tcp",
    "tcp_listeners",
    "write_pcap",
]
