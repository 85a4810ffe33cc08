"""Closed sets of the wire: packet codes, f-stream record types and flags, t/r markers,
g-stream providers and emitter dialects (spec §2.2, §4.8, §5.2, §6, §7.1, §10)."""

from __future__ import annotations

import enum


class PacketCode(enum.IntEnum):
    """First byte of a detailed-monitoring datagram (spec §2.2)."""

    MAPIDNT = ord("=")
    MAPPATH = ord("d")
    MAPFSTA = ord("f")
    MAPGSTA = ord("g")
    MAPINFO = ord("i")
    MAPPURG = ord("p")
    MAPREDR = ord("r")
    MAPTRCE = ord("t")
    MAPTOKN = ord("T")
    MAPUSER = ord("u")
    MAPUEAC = ord("U")
    MAPXFER = ord("x")


#: Codes whose body is a 4-byte dictid plus text (spec §3.1).
MAP_CODES = frozenset(
    {
        PacketCode.MAPIDNT,
        PacketCode.MAPPATH,
        PacketCode.MAPINFO,
        PacketCode.MAPPURG,
        PacketCode.MAPTOKN,
        PacketCode.MAPUSER,
        PacketCode.MAPUEAC,
        PacketCode.MAPXFER,
    }
)


class RecType(enum.IntEnum):
    """f-stream ``recType`` (spec §4.2)."""

    IS_CLOSE = 0
    IS_OPEN = 1
    IS_TIME = 2
    IS_XFR = 3
    IS_DISC = 4


class CloseFlag(enum.IntFlag):
    """``recFlag`` bits of an f-stream CLOSE (spec §4.5)."""

    FORCED = 0x01
    HAS_OPS = 0x02
    HAS_SSQ = 0x04


class OpenFlag(enum.IntFlag):
    """``recFlag`` bits of an f-stream OPEN (spec §4.4)."""

    HAS_LFN = 0x01
    HAS_RW = 0x02


class TimeFlag(enum.IntFlag):
    """``recFlag`` bits of an f-stream TOD (spec §4.3)."""

    HAS_SID = 0x01


class TraceMarker(enum.IntEnum):
    """Byte 0 of a t-stream entry at or above 0x80 (spec §5.2)."""

    OPEN = 0x80
    READV = 0x90
    READU = 0x91
    APPID = 0xA0
    CLOSE = 0xC0
    DISC = 0xD0
    WINDOW = 0xE0


class DiscFlag(enum.IntFlag):
    """Byte 1 of a t-stream DISC entry (spec §5.2)."""

    FORCED = 0x01
    BOUND_PATH = 0x02


class RedirKind(enum.IntEnum):
    """High nibble of an r-stream slot's byte 0 (spec §6)."""

    REDTIME = 0x00
    REDIRECT = 0x80
    REDLOCAL = 0x90


class RedirOp(enum.IntEnum):
    """Low nibble of a REDIRECT / REDLOCAL byte 0 (spec §6)."""

    CHMOD = 0x1
    LOCATE = 0x2
    OPENDIR = 0x3
    OPENC = 0x4
    OPENR = 0x5
    OPENW = 0x6
    MKDIR = 0x7
    MV = 0x8
    PREP = 0x9
    QUERY = 0xA
    RM = 0xB
    RMDIR = 0xC
    STAT = 0xD
    TRUNC = 0xE


class GProvider(enum.IntEnum):
    """Top byte of a binary g-stream sID: the provider (spec §7.1)."""

    CACHE = ord("C")
    CCM = ord("M")
    TCPMON = ord("T")
    TPC = ord("P")
    THROTTLE = ord("R")
    OSS = ord("O")
    HTTP = ord("H")


class Dialect(enum.Enum):
    """Emitter families whose bytes differ (spec §10, §11)."""

    XROOTD_4 = "xrootd-4"
    XROOTD_5 = "xrootd-5"
    XROOTD_6 = "xrootd-6"
    DCACHE = "dcache"
