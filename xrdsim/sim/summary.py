"""The ``xrd.report`` summary document a server sends every ``every`` seconds (spec §8).

Fills the codec's ``build_summary_xml`` from the server's state: identity, the ``link``
totals as a report at ``t`` shows them (``sync`` or not, spec §8.3), the counters of
``servstats`` (buff, poll, xrootd, oss) and ``sgen``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xrdsim.wire import LinkStats, build_summary_xml

if TYPE_CHECKING:
    from xrdsim.sim.server import Server


def report_payload(srv: "Server", t: float) -> bytes:
    """The summary datagram of ``srv`` at ``t`` (plain XML, no header, no NUL)."""
    s, lk = srv.spec, srv.link_now(t)
    link = LinkStats(lk.num, lk.maxn, lk.tot, lk.in_bytes, lk.out_bytes, lk.ctime, 0, 0, 0)
    return build_summary_xml(int(srv.wire_base() + t), s.version, f"{s.host.name}:{s.port}", srv.monitor.stod, "xrootd",
                             s.instance, srv.pid, s.site_name, link, blocks=srv.stats.blocks(t), synced=srv.ctx.cfg.report.sync)


__all__ = ["report_payload"]
