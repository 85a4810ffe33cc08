"""Live UDP source (asyncio; IPv4 and IPv6): large receive buffers, and the kernel's own
drop count per socket — SO_RXQ_OVFL ancillary data where the kernel gives it, else the
``drops`` column of /proc/net/udp(6) for the socket's inode."""

from __future__ import annotations

import asyncio
import os
import socket
import struct
import time
from typing import Callable

SO_RXQ_OVFL = getattr(socket, "SO_RXQ_OVFL", 40)  # Linux value; absent from older Pythons
_ANC = socket.CMSG_SPACE(4)
_BATCH = 512
OnDatagram = Callable[[bytes, tuple[str, int], float], None]


class UdpSource:
    """Sockets bound to ``addresses`` (``(host, port)``, port 0 for any) that hand each
    datagram to a callback once ``attach``-ed to an event loop."""

    def __init__(self, addresses: list[tuple[str, int]], rcvbuf: int = 16 << 20, reuse_port: bool = False) -> None:
        self.requested = rcvbuf
        self.sockets: list[socket.socket] = [self._bind(host, port, rcvbuf, reuse_port) for host, port in addresses]
        self.granted = [s.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) for s in self.sockets]
        self._ovfl: dict[int, int] = {}
        self._has_ovfl = all(self._enable_ovfl(s) for s in self.sockets)
        self._loop: asyncio.AbstractEventLoop | None = None

    @staticmethod
    def _bind(host: str, port: int, rcvbuf: int, reuse_port: bool = False) -> socket.socket:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_DGRAM)
        if reuse_port:  # one of several processes on this port: the kernel hashes each sender to one of them
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        if hasattr(socket, "SO_RCVBUFFORCE"):  # as root the cap of net.core.rmem_max does not apply
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUFFORCE, rcvbuf)
            except OSError:
                pass
        sock.bind((host, port))
        sock.setblocking(False)
        return sock

    @staticmethod
    def _enable_ovfl(sock: socket.socket) -> bool:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RXQ_OVFL, 1)
        except OSError:
            return False
        return True

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The bound (host, port) of every socket."""
        return [s.getsockname()[:2] for s in self.sockets]

    def attach(self, loop: asyncio.AbstractEventLoop, on_datagram: OnDatagram, clock: Callable[[], float] = time.time) -> None:
        """Start calling ``on_datagram(payload, src, t_arrival)`` from ``loop``."""
        self._loop = loop
        for sock in self.sockets:
            loop.add_reader(sock.fileno(), self._drain, sock, on_datagram, clock)

    def _drain(self, sock: socket.socket, on_datagram: OnDatagram, clock: Callable[[], float]) -> None:
        recvmsg = sock.recvmsg
        for _ in range(_BATCH):
            try:
                data, anc, _flags, addr = recvmsg(65535, _ANC)
            except (BlockingIOError, InterruptedError):
                return
            if anc:
                self._note_ovfl(sock, anc)
            on_datagram(data, (addr[0], addr[1]), clock())

    def _note_ovfl(self, sock: socket.socket, anc: list[tuple[int, int, bytes]]) -> None:
        for level, kind, value in anc:
            if level == socket.SOL_SOCKET and kind == SO_RXQ_OVFL and len(value) >= 4:
                self._ovfl[sock.fileno()] = struct.unpack("=I", value[:4])[0]

    def kernel_drops(self) -> tuple[int, str]:
        """Datagrams the kernel dropped on our sockets, and how that was read.

        SO_RXQ_OVFL tells the drop count as it was when a datagram we read was queued: drops
        after the last datagram queued (the end of a flood) never show there, so it
        under-reports (113,060 vs 117,205 in /proc/net/udp). The ``drops`` column of
        /proc/net/udp(6) for the socket's inode is current: the larger of the two counts."""
        ovfl, proc = self.drop_counts()
        if proc is not None and (ovfl is None or proc >= ovfl):
            return proc, "/proc/net/udp"
        return (ovfl or 0), "SO_RXQ_OVFL"

    def drop_counts(self) -> tuple[int | None, int | None]:
        """(SO_RXQ_OVFL count, /proc/net/udp count); None where that source is not there."""
        ovfl = sum(self._ovfl.values()) if self._has_ovfl else None
        inodes = {os.fstat(s.fileno()).st_ino for s in self.sockets if s.fileno() >= 0}
        proc = proc_udp_drops(inodes) if inodes and _has_proc() else None
        return ovfl, proc

    def io(self) -> dict[str, object]:
        """Figures for the report: buffer requested and granted, kernel drops (the larger
        count, and both sources side by side)."""
        drops, how = self.kernel_drops()
        ovfl, proc = self.drop_counts()
        return {
            "udp_sockets": " ".join(f"{h}:{p}" for h, p in self.addresses),
            "rcvbuf_requested": self.requested,
            "rcvbuf_granted": min(self.granted) if self.granted else 0,
            "kernel_drops": drops,
            "kernel_drops_from": how,
            "kernel_drops_so_rxq_ovfl": ovfl,
            "kernel_drops_proc_net_udp": proc,
        }

    def drain(self, on_datagram: OnDatagram, clock: Callable[[], float] = time.time) -> int:
        """Read every datagram still queued in the sockets (at a stop); returns how many."""
        count = [0]

        def counted(data: bytes, src: tuple[str, int], t: float) -> None:
            count[0] += 1
            on_datagram(data, src, t)

        for sock in self.sockets:
            while True:
                before = count[0]
                self._drain(sock, counted, clock)
                if count[0] - before < _BATCH:
                    break
        return count[0]

    def close(self) -> None:
        """Stop reading and close the sockets."""
        for sock in self.sockets:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(sock.fileno())
            sock.close()


def _has_proc() -> bool:
    return os.path.exists("/proc/net/udp") or os.path.exists("/proc/net/udp6")


def proc_udp_drops(inodes: set[int]) -> int:
    """Sum of the ``drops`` column of /proc/net/udp and udp6 for sockets with these inodes."""
    total = 0
    for name in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            with open(name) as fh:
                next(fh, None)
                for line in fh:
                    cols = line.split()
                    if len(cols) >= 13 and cols[9].isdigit() and int(cols[9]) in inodes:
                        total += int(cols[12])
        except OSError:
            continue
    return total
