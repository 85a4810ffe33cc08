"""The one network model of xrdsim: what a transfer puts on the wire (XRootD and HTTP framing
per request type) and what interface counters see of it (TCP/IP headers, pure ACKs,
retransmissions). The simulator books its NIC counters with it and ``xrdsim validate`` /
the scorer invert counters with the same parameters, so the two cannot drift apart.

Defaults are calibrated on real XRootD 5.5.3 traffic on a 1500-byte MTU
(tests/fixtures/real-xrootd-5.5.3-net, docs/spec-notes.md "The network under real TCP").
Pure: no I/O; the one random choice (segments per ACK of a connection) takes its generator.
"""

from __future__ import annotations

import math
import random
import statistics
from dataclasses import dataclass, field
from functools import cached_property

from xrdsim.errors import XrdsimError
from xrdsim.net import IP_HEADER, UDP_HEADER, fragment_count

#: XRootD's pg unit: kXR_pgread/kXR_pgwrite carry one CRC32C per 4 KiB page.
PAGE = 4096
CRC_BYTES = 4


class NetModelError(XrdsimError, ValueError):
    """Network model parameters that describe no network (a one-line message naming the key)."""


@dataclass(frozen=True, slots=True)
class AckPolicy:
    """Pure ACKs as a distribution: each connection acknowledges one pure ACK per ``r`` data
    segments, ``r`` log-normal with ``median_segments`` and ``sigma`` (of ln r), clipped to
    [``min_segments``, ``max_segments``]. Real 5.5.3 connections ranged from 1 per 2.2 to 1 per
    26 segments, the bulk direction of each acked independently of the request pattern."""

    median_segments: float = 7.4
    sigma: float = 0.9
    min_segments: float = 1.0
    max_segments: float = 64.0

    def draw(self, rng: random.Random) -> float:
        """Segments per pure ACK of one connection."""
        r = self.median_segments * math.exp(self.sigma * rng.gauss(0.0, 1.0))
        return min(max(r, self.min_segments), self.max_segments)

    def acks_per_segment(self) -> tuple[float, float]:
        """(mean, standard deviation) of 1/r, the pure ACKs per data segment of a connection: the
        mean is what an inversion of counters must assume, the deviation how far one connection
        strays from it. By the quantile midpoints of the clipped law."""
        dist = statistics.NormalDist()
        rates = [1.0 / min(max(self.median_segments * math.exp(self.sigma * dist.inv_cdf((k + 0.5) / 1000)), self.min_segments),
                           self.max_segments) for k in range(1000)]  # fmt: skip
        return statistics.fmean(rates), statistics.pstdev(rates)


@dataclass(frozen=True, slots=True)
class Framing:
    """Bytes of protocol around the data, per request type (request up, response down),
    as real XRootD 5.5.3 and its clients (xrdcp, the Python bindings, curl) sent them."""

    #: client handshake 20 + kXR_protocol 24 (one segment); server replies 16 + 16
    handshake_up_bytes: int = 44
    handshake_down_bytes: int = 32
    #: kXR_login: 24 + the client's CGI (xrdcp 76 B, Python bindings 81 B); reply 8 + session id 16
    login_up_bytes: int = 100
    login_down_bytes: int = 24
    #: every request header; every plain reply header (kXR_ok, kXR_oksofar)
    request_bytes: int = 24
    response_bytes: int = 8
    #: kXR_read adds read_args (8 B) to its header; kXR_pgread its 2 B of flags
    read_args_bytes: int = 8
    pgread_args_bytes: int = 2
    #: kXR_open reply with kXR_retstat (file handle, compression info, stat text), for an
    #: existing file and for a new one
    open_reply_bytes: int = 100
    create_reply_bytes: int = 94
    #: kXR_error for a file that is not there (xrdcp stats an upload's target first);
    #: xrdcp uploads put ``?oss.asize=SIZE`` on the open
    not_found_reply_bytes: int = 65
    upload_open_cgi_bytes: int = 11
    #: kXR_readv: 16 B per element in the request and again in the reply
    readv_element_bytes: int = 16
    #: kXR_status replies (pgread, pgwrite): 8 + 16 status body + 8 offset
    status_reply_bytes: int = 32
    #: a kXR_pgread reply comes in kXR_status pieces of at most this much data
    pgread_piece_bytes: int = 2 * 1024 * 1024
    #: curl's GET and PUT request heads without the path (and, for PUT, Content-Length's digits)
    http_get_request_bytes: int = 77
    http_put_request_bytes: int = 117
    #: XrdHttp's response heads: GET 200 without Content-Length's digits, PUT 201 whole
    http_get_response_bytes: int = 84
    http_put_response_bytes: int = 155

    @property
    def session(self) -> tuple[int, int]:
        """(down, up) of an xroot session's handshake and login (5.5.3 clients send no
        kXR_endsess: they close the connection)."""
        return self.handshake_down_bytes + self.login_down_bytes, self.handshake_up_bytes + self.login_up_bytes


@dataclass(frozen=True, slots=True)
class FileIo:
    """What one file access asked for: bytes and requests per kind, readv elements, and
    whether it used the pg requests (xrdcp 5.5 does)."""

    read_bytes: int = 0
    reads: int = 0
    readv_bytes: int = 0
    readvs: int = 0
    readv_elements: int = 0
    write_bytes: int = 0
    writes: int = 0
    pg: bool = False


def pages(nbytes: int) -> int:
    """4 KiB pages of ``nbytes`` (a pg request's CRC count)."""
    return -(-nbytes // PAGE)


def xroot_open(f: Framing, lfn: str, create: bool = False, upload_size: int | None = None) -> tuple[int, int]:
    """(down, up) of one kXR_open; ``upload_size``: an xrdcp upload (stat first, asize CGI)."""
    down = f.create_reply_bytes if create else f.open_reply_bytes
    up = f.request_bytes + len(lfn)
    if upload_size is not None:
        down += f.not_found_reply_bytes
        up += f.request_bytes + len(lfn) + f.upload_open_cgi_bytes + len(str(upload_size))
    return down, up


def xroot_close(f: Framing) -> tuple[int, int]:
    """(down, up) of one kXR_close."""
    return f.response_bytes, f.request_bytes


def xroot_request(f: Framing, kind: str, nbytes: int, elements: int = 1, pg: bool = False) -> tuple[int, int]:
    """(down, up) of one request of ``kind`` (read, readv, write) moving ``nbytes`` of data."""
    if kind == "write":
        if pg:
            return f.status_reply_bytes, f.request_bytes + nbytes + CRC_BYTES * pages(nbytes)
        return f.response_bytes, f.request_bytes + nbytes
    if kind == "readv":
        extra = f.readv_element_bytes * elements
        return f.response_bytes + extra + nbytes, f.request_bytes + extra
    if pg:
        pieces = max(1, -(-nbytes // f.pgread_piece_bytes))
        return f.status_reply_bytes * pieces + nbytes + CRC_BYTES * pages(nbytes), f.request_bytes + f.pgread_args_bytes
    return f.response_bytes + nbytes, f.request_bytes + f.read_args_bytes


def http_heads(f: Framing, lfn: str, size: int, put: bool) -> tuple[int, int]:
    """(down, up) of the request and response heads of one curl GET or PUT of ``size`` bytes."""
    if put:
        return f.http_put_response_bytes, f.http_put_request_bytes + len(lfn) + len(str(size))
    return f.http_get_response_bytes + len(str(size)), f.http_get_request_bytes + len(lfn)


def file_payload(f: Framing, proto: str, lfn: str, io: FileIo) -> tuple[int, int]:
    """(down, up) TCP payload of one whole file access (open, its requests spread evenly,
    close): data plus the protocol's framing. Requests of one kind are taken as equal in size."""
    if proto != "xroot":
        body_down, put = io.read_bytes + io.readv_bytes, io.write_bytes > 0
        d, u = http_heads(f, lfn, io.write_bytes if put else body_down, put)
        return d + body_down, u + io.write_bytes
    writing = io.writes > 0
    down, up = xroot_open(f, lfn, create=writing, upload_size=io.write_bytes if writing and io.pg else None)
    for kind, nbytes, count in (("read", io.read_bytes, io.reads), ("readv", io.readv_bytes, io.readvs),
                                ("write", io.write_bytes, io.writes)):  # fmt: skip
        if count <= 0:
            continue
        each, rest = divmod(nbytes, count)
        d, u = xroot_request(f, kind, each, 0, io.pg)  # readv elements are added below, all together
        d1, u1 = xroot_request(f, kind, each + 1, 0, io.pg)
        # ``rest`` requests carry one byte more: the sum is exact for any split
        down += d * (count - rest) + d1 * rest
        up += u * (count - rest) + u1 * rest
        if kind == "readv":
            down += f.readv_element_bytes * io.readv_elements
            up += f.readv_element_bytes * io.readv_elements
    d, u = xroot_close(f)
    return down + d, up + u


@dataclass(frozen=True)
class NetworkModel:
    """TCP/IP on the wire as interface counters count it: ``ip_tcp_header_bytes`` (IP 20 +
    TCP 32 with timestamps) per segment of MSS = MTU − that, plus ``link_header_bytes``
    (Ethernet 14: Linux counters include it) per packet; pure ACKs by ``ack``; a fraction
    ``retrans_rate`` of the data segments sent twice; ``framing`` for the payload."""

    mtu: int = 1500
    ip_tcp_header_bytes: int = 52
    link_header_bytes: int = 14
    ack: AckPolicy = field(default_factory=AckPolicy)
    retrans_rate: float = 0.0
    framing: Framing = field(default_factory=Framing)

    def __post_init__(self) -> None:
        check_model(self)

    @property
    def mss(self) -> int:
        """Payload bytes per full segment."""
        return self.mtu - self.ip_tcp_header_bytes

    @property
    def packet_bytes(self) -> int:
        """Counted bytes of every packet besides its payload (headers of all layers)."""
        return self.ip_tcp_header_bytes + self.link_header_bytes

    @property
    def header_bytes(self) -> int:
        """``packet_bytes``, by the name reports and the scorer's ``Overhead`` use."""
        return self.packet_bytes

    @cached_property
    def _ack_moments(self) -> tuple[float, float]:
        return self.ack.acks_per_segment()  # once: a thousand quantiles

    @property
    def mean_acks_per_segment(self) -> float:
        """E[1/r] of ``ack``: pure ACKs per data segment over many connections."""
        return self._ack_moments[0]

    def ack_spread(self, payload_bytes: float) -> float:
        """One standard deviation, in counted bytes, of the pure ACKs that ``payload_bytes`` sent
        over one connection draw the other way (divide by √n for n connections)."""
        return self.packet_bytes * payload_bytes / self.mss * self._ack_moments[1]

    def segments(self, payload_bytes: int) -> int:
        """Data segments carrying ``payload_bytes`` in full-MSS segments."""
        return -(-payload_bytes // self.mss)

    def data_wire(self, payload_bytes: int) -> tuple[int, int]:
        """(counted bytes, packets) of ``payload_bytes`` of TCP payload."""
        segs = self.segments(payload_bytes)
        return payload_bytes + segs * self.packet_bytes, segs

    def acks(self, segments: int, acks_per_segment: float) -> tuple[int, int]:
        """(counted bytes, packets) of the pure ACKs answering the first ``segments`` data
        segments of a connection acking ``acks_per_segment`` (cumulative: differences of two
        calls book a flow in pieces exactly)."""
        n = math.ceil(segments * acks_per_segment - 1e-9) if segments > 0 else 0
        return n * self.packet_bytes, n

    def retransmitted(self, segments: int) -> tuple[int, int]:
        """(counted bytes, packets) sent again: ⌊segments·retrans_rate⌋ full segments."""
        n = int(segments * self.retrans_rate)
        return n * (self.mtu + self.link_header_bytes), n

    def udp_wire(self, payload_bytes: int) -> tuple[int, int]:
        """(counted bytes, packets) of one UDP datagram, IP-fragmented at the MTU."""
        n = fragment_count(payload_bytes, self.mtu)
        return payload_bytes + UDP_HEADER + (IP_HEADER + self.link_header_bytes) * n, n

    def payload(self, tx_wire: float, rx_wire: float) -> tuple[float, float]:
        """(sent, received) TCP payload from counted bytes sent and received: each direction's
        data carries ``packet_bytes`` per MSS and draws, on average, ``mean_acks_per_segment``
        pure ACKs per segment the other way — two linear equations, solved exactly. Retransmitted
        segments count as ``retrans_rate`` more data packets of a full MTU."""
        a = (self.packet_bytes + self.retrans_rate * (self.mtu + self.link_header_bytes)) / self.mss
        b = self.packet_bytes * self.mean_acks_per_segment / self.mss
        det = (1 + a) ** 2 - b * b
        sent = (tx_wire * (1 + a) - rx_wire * b) / det
        received = (rx_wire * (1 + a) - tx_wire * b) / det
        return max(sent, 0.0), max(received, 0.0)

    def describe(self) -> str:
        """The model in a few words, for reports."""
        return (f"MTU {self.mtu}, {self.packet_bytes} B headers per packet, pure ACKs 1 per {1 / self.mean_acks_per_segment:.1f} "
                f"segments on average")  # fmt: skip


def check_model(m: NetworkModel) -> None:
    """Raise ``NetModelError`` (one line: key, accepted values, found) for unusable parameters."""
    a = m.ack
    rules = (
        (576 <= m.mtu <= 65535, "mtu", "576..65535", m.mtu),
        (40 <= m.ip_tcp_header_bytes <= 120 and m.ip_tcp_header_bytes < m.mtu, "tcp_header_bytes", "40..120 (IP + TCP)", m.ip_tcp_header_bytes),
        (0 <= m.link_header_bytes <= 64, "link_header_bytes", "0..64", m.link_header_bytes),
        (0 <= m.retrans_rate < 1, "retrans_rate", "a fraction in [0, 1)", m.retrans_rate),
        (1 <= a.min_segments <= a.max_segments, "ack.min_segments", f"1..max_segments ({a.max_segments})", a.min_segments),
        (a.min_segments <= a.median_segments <= a.max_segments, "ack.median_segments",
         f"min_segments..max_segments ({a.min_segments}..{a.max_segments})", a.median_segments),
        (0 <= a.sigma <= 5, "ack.sigma", "0..5", a.sigma),
        (m.framing.pgread_piece_bytes >= PAGE, "framing.pgread_piece_bytes", f"at least {PAGE}", m.framing.pgread_piece_bytes),
    )  # fmt: skip
    for ok, key, accepted, got in rules:
        if not (ok and all(math.isfinite(float(x)) for x in (got,))):
            raise NetModelError(f"nic.{key}: expected {accepted}, got {got!r}")
    for name in Framing.__dataclass_fields__:
        value = getattr(m.framing, name)
        if not isinstance(value, int) or value < 0:
            raise NetModelError(f"nic.framing.{name}: expected a byte count ≥ 0, got {value!r}")


def with_header_bytes(header_bytes: int, base: NetworkModel | None = None) -> NetworkModel:
    """``base`` (default: the calibrated model) whose counters add ``header_bytes`` per packet
    in all: 66 = Ethernet + IP + TCP (Linux interface counters), 52 = IP + TCP alone."""
    base = base or NetworkModel()
    ip_tcp = min(header_bytes, base.ip_tcp_header_bytes)
    return NetworkModel(base.mtu, ip_tcp, header_bytes - ip_tcp, base.ack, base.retrans_rate, base.framing)


__all__ = [
    "CRC_BYTES",
    "PAGE",
    "AckPolicy",
    "FileIo",
    "Framing",
    "NetModelError",
    "NetworkModel",
    "check_model",
    "file_payload",
    "http_heads",
    "pages",
    "with_header_bytes",
    "xroot_close",
    "xroot_open",
    "xroot_request",
]
