"""The ``xrd.report`` summary document a server sends every ``every`` seconds (spec §8).

Uses the codec's ``build_summary_xml`` when ``xrdsim.wire`` exports it; until then a text
template with the real 5.5.3 layout of the info, link and sgen blocks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import xrdsim.wire as wire

if TYPE_CHECKING:
    from xrdsim.sim.server import Server


def _template(srv: "Server", t: float) -> str:
    s, lk = srv.spec, srv.link_now(t)
    tod = int(srv.wire_base() + t)
    return (
        f'<statistics tod="{tod}" ver="{s.version}" src="{s.host.name}:{s.port}" tos="{srv.monitor.stod}" '
        f'pgm="xrootd" ins="{s.instance}" pid="{srv.pid}" site="{s.site_name}">'
        f'<stats id="info"><host>{s.host.name}</host><port>{s.port}</port><name>{s.instance}</name></stats>'
        f'<stats id="link"><num>{lk.num}</num><maxn>{lk.maxn}</maxn><tot>{lk.tot}</tot><in>{lk.in_bytes}</in>'
        f'<out>{lk.out_bytes}</out><ctime>{lk.ctime}</ctime><tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats>'
        f'<stats id="sgen"><as>{0 if srv.ctx.cfg.report.sync else 1}</as><et>0</et><toe>{tod}</toe></stats></statistics>'
    )


def report_payload(srv: "Server", t: float) -> bytes:
    """The summary datagram of ``srv`` at ``t`` (plain XML, no header, no NUL)."""
    builder = getattr(wire, "build_summary_xml", None)
    if builder is None:
        return _template(srv, t).encode()
    return _via_codec(builder, srv, t)


def _via_codec(builder, srv: "Server", t: float) -> bytes:
    s, lk = srv.spec, srv.link_now(t)
    link = wire.LinkStats(num=lk.num, maxn=lk.maxn, tot=lk.tot, in_bytes=lk.in_bytes, out_bytes=lk.out_bytes, ctime=lk.ctime)
    text = builder(tod=int(srv.wire_base() + t), ver=s.version, src=f"{s.host.name}:{s.port}", tos=srv.monitor.stod,
                   pgm="xrootd", ins=s.instance, pid=srv.pid, site=s.site_name, link=link)
    return text.encode() if isinstance(text, str) else bytes(text)


__all__ = ["report_payload"]
