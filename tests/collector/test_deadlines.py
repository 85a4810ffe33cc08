"""Expiry by deadlines (collector.expiry): a flush looks only at the incarnations due, and
still fires every policy exactly when a walk over every incarnation would — never a tick
late, never early."""

from __future__ import annotations

import random

from collector import Collector, CollectorConfig, Ended, TransferRecord
from collector.expiry import expire_server
from xrdsim.wire import FileClose, FileDisc, FileOpen, FileXfr, TraceClose, TraceIO, TraceOpen

from .test_tstream import t_packet

CFG = CollectorConfig(open_ttl=5.0, session_ttl=8.0, server_ttl=20.0, session_grace=2.0, t_hold=3.0, reorder_count=4, reorder_seconds=1.0)


class WalkingCollector(Collector):
    """The collector as it flushed before deadlines: every incarnation at every tick."""

    def flush(self, now: float) -> list:
        out: list = []
        idle = now - self.config.server_ttl
        for server in list(self.tables.servers.values()):
            if server.last_seen <= idle:
                self._end(server, Ended.TIMEOUT, now, out)
            else:
                expire_server(self.tables, server, now, out)
        if out:
            self._count(out)
        return out


def test_an_untouched_servers_file_times_out_at_its_ttl_while_others_keep_sending(emitter):
    c = Collector(CollectorConfig(open_ttl=10.0))
    quiet, busy = emitter(sid=0x111, port=40001), emitter(sid=0x222, ip="192.0.2.20", port=40002)
    quiet.send(c, [quiet.ident(), quiet.f([FileOpen(1, 0, False, 0, "/quiet")])], t0=1000.0, dt=0.0)
    busy.send(c, [busy.ident()], t0=1000.0)
    seen_at = []
    for k in range(1, 25):  # a tick every 0.5 s; the busy server sends between ticks
        now = 1000.0 + 0.5 * k
        busy.send(c, [busy.f([FileOpen(100 + k, 0, False, 0, "/busy"), FileClose(100 + k, 1, 0, 0)])], t0=now - 0.25)
        seen_at += [now for e in c.flush(now) if type(e) is TransferRecord and e.file_lfn == "/quiet"]
    assert seen_at == [1010.0]  # not at 1009.5 (early), not at 1010.5 (a missed deadline)


def test_a_disc_grace_and_a_pseq_gap_fire_at_their_deadlines(emitter):
    c, em = Collector(CFG), emitter()
    em.send(c, [em.ident(), em.user(7), em.f([FileOpen(1, 0, False, 7, "/left")])], t0=100.0, dt=0.0)
    em.send(c, [em.f([FileDisc(7)])], t0=101.0)
    em.fseq += 1  # one f datagram lost: a gap that waits reorder_seconds
    em.send(c, [em.f([FileXfr(9, 1, 0, 0)])], t0=101.5)
    forced, lost = [], []
    for k in range(1, 12):
        now = 101.0 + 0.25 * k
        forced += [now for e in c.flush(now) if type(e) is TransferRecord and e.ended is Ended.FORCED_CLOSE]
        lost.append(c.report().totals()["f"]["lost"])
    assert forced == [103.0]  # DISC at 101 + session_grace 2
    assert lost.index(1) == 5  # the gap opened at 101.5 is lost at 102.5 (+ reorder_seconds), the 5th tick


def _stream(rng: random.Random, emitters: list) -> list[tuple[bytes, tuple[str, int], float]]:
    """Sessions, files, XFRs, DISCs, t-stream files, lost and reordered datagrams of several
    servers, over a minute of time with idle stretches."""
    items, t = [], 0.0
    for em in emitters:
        items.append((em.ident(), em.src, t))
    fid = 1
    for _ in range(400):
        t += rng.choice((0.05, 0.3, 1.0, 2.5, 7.0))
        em = rng.choice(emitters)
        user = rng.randrange(1, 6)
        kind = rng.random()
        if kind < 0.15:
            d = em.user(user)
        elif kind < 0.25:
            d = em.path(fid, f"/d/{fid}")
        elif kind < 0.45:
            fid += 1
            d = em.f([FileOpen(fid, 10, False, user, f"/f/{fid}")])
        elif kind < 0.6:
            d = em.f([FileXfr(rng.randrange(1, fid + 1), rng.randrange(100), 0, 0)])
        elif kind < 0.75:
            d = em.f([FileClose(rng.randrange(1, fid + 1), rng.randrange(100), 0, 0, rng.random() < 0.1)])
        elif kind < 0.8:
            d = em.f([FileDisc(user)])
        elif kind < 0.9:
            fid += 1
            d = t_packet(em, [TraceOpen(10, fid), TraceIO(0, 10, fid), TraceClose(0, 0, 10, 0, fid)])
        else:
            em.fseq += rng.randrange(1, 3)  # f datagrams lost
            continue
        items.append((d, em.src, t))
    for i in range(0, len(items) - 1, 17):  # some reordering
        items[i], items[i + 1] = items[i + 1], items[i]
    return items


def test_deadline_flushes_emit_what_a_walk_of_every_server_emits(emitter):
    for seed in range(6):
        rng = random.Random(seed)
        emitters = [emitter(sid=0x1000 + k, ip=f"192.0.2.{k + 1}", port=40000 + k) for k in range(5)]
        items = _stream(rng, emitters)
        flushes = sorted(rng.uniform(0, items[-1][2] + 30) for _ in range(150))
        outputs = []
        for cls in (Collector, WalkingCollector):
            c, out, fi = cls(CFG), [], 0
            for payload, src, t in items:
                while fi < len(flushes) and flushes[fi] <= t:
                    out.append(("flush", flushes[fi], [e.to_dict() for e in c.flush(flushes[fi])]))
                    fi += 1
                out.append(("feed", t, [e.to_dict() for e in c.feed(payload, src, t)]))
            for now in flushes[fi:]:
                out.append(("flush", now, [e.to_dict() for e in c.flush(now)]))
            outputs.append(out)
        fired = sum(len(evs) for kind, _, evs in outputs[1] if kind == "flush")
        assert fired > 20, f"seed {seed}: the stream must make the policies fire"
        assert outputs[0] == outputs[1], f"seed {seed}"
