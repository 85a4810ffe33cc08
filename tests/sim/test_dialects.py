"""Emitter dialects on the wire (spec §4.3, §4.4, §11): the dCache plugin's f-stream has a
16-byte TOD without sID and OPEN records with no NUL padding, read here by offsets."""

from __future__ import annotations

import dataclasses
import struct

from xrdsim.sim import DestConfig, DestEvent, MonitorConfig, SimConfig, WorkloadConfig, simulate
from xrdsim.wire import Dialect

MON = MonitorConfig(fstat_s=60, lfn=True, ops=True, dests=[DestConfig("192.0.2.1", 9930, [DestEvent.FSTAT, DestEvent.USER])])
CFG = SimConfig(seed=5, duration_s=1800, site_count=1, servers_per_site=1, monitor=MON,
                workload=WorkloadConfig(jobs_per_hour=200, files_per_vo=20, users_per_vo=2))


def _f_records(cfg: SimConfig):
    for d in simulate(cfg).datagrams():
        if d.payload[:1] != b"f":
            continue
        rtype, flag, size = struct.unpack_from("!BBh", d.payload, 8)
        assert rtype == 2
        yield size, flag, d.payload


def test_dcache_tod_is_16_bytes_and_opens_unpadded():
    opens = 0
    for tod_size, tod_flag, data in _f_records(dataclasses.replace(CFG, dialect=Dialect.DCACHE)):
        assert (tod_size, tod_flag & 1) == (16, 0)
        off = 8 + 16
        while off < len(data):
            rtype, flag, size = struct.unpack_from("!BBh", data, off)
            if rtype == 1 and flag & 1:
                lfn = data[off + 20 : off + size]
                assert size == 20 + len(lfn) and b"\x00" not in lfn and lfn.startswith(b"/")
                opens += 1
            off += size
    assert opens > 10


def test_xrootd_5_opens_keep_five_to_eight_nuls():
    opens = 0
    for tod_size, _, data in _f_records(CFG):
        off = 8 + tod_size
        while off < len(data):
            rtype, flag, size = struct.unpack_from("!BBh", data, off)
            if rtype == 1 and flag & 1:
                text = data[off + 20 : off + size]
                assert 5 <= len(text) - len(text.rstrip(b"\x00")) <= 8 and size % 4 == 0
                opens += 1
            off += size
    assert opens > 10
