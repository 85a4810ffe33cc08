"""The simulator against the bytes a real XRootD 5.5.3 sent for the covering script
(tests/fixtures/real-xrootd-5.5.3-fidelity): no structural difference, and each of the
issue's points (HTTP u/i/PUT; DISC, readv seq, one entry per request; summary counters)
read from the real bytes and from the simulator separately."""

from __future__ import annotations

from xrdsim.fidelity import compare, dest_names, profile, run_sim, script_config
from xrdsim.wire import FileClose, FileDisc, FileOpen, FstreamPacket, MapPacket, TraceDisc, TraceIO, TracePacket, TraceReadv, decode


def _sim(scenario, span):
    cfg = script_config(scenario.sim)
    return cfg, run_sim(cfg, span)


def _decoded(items):
    return [(d, decode(p)) for _t, d, p in items]


def _maps(items, letter, dest=None):
    return [pkt.text for d, pkt in _decoded(items) if isinstance(pkt, MapPacket) and chr(pkt.code) == letter and dest in (None, d)]


def test_simulator_has_no_structural_difference_from_the_real_capture(scenario, capture):
    real, span = capture
    cfg, sim = _sim(scenario, span)
    rows = compare(profile(real, dest_names(cfg)), profile(sim, dest_names(cfg)))
    bad = [f"{r.name}: real {r.real} sim {r.sim}" for r in rows if r.structural and not r.same]
    assert len(rows) > 30
    assert not bad, "\n".join(bad)


def test_http_userid_prefix_and_connection_number_like_the_real_server(scenario, capture):
    """Point 1: plain HTTP is ``http/unknown.N`` with N the server's connection number (the
    two xroot sessions before it took 1..3 here), no login info without ``auth``."""
    real, span = capture
    real_u = [t for t in _maps(real, "u", dest=0) if t.startswith("http")]
    sim_u = [t for t in _maps(_sim(scenario, span)[1], "u", dest=0) if t.startswith("http")]
    for texts in (real_u, sim_u):
        assert [t.split(":")[0] for t in texts] == ["http/unknown.4", "http/unknown.5"]
        assert all("\n" not in t for t in texts)


def test_no_app_info_for_http_sessions(scenario, capture):
    """Point 1: the only ``i`` records are the xroot session's kXR_set (one per info dest)."""
    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        infos = _maps(items, "i")
        assert [t.split("\n")[1] for t in infos] == ["fidelity-app", "fidelity-app"]
        assert all(t.startswith("xroot/") for t in infos)


def _closes(items):
    names, out = {}, {}
    for _d, pkt in _decoded(items):
        if isinstance(pkt, FstreamPacket):
            for r in pkt.records:
                if isinstance(r, FileOpen):
                    names[r.file_id] = r.lfn
                elif isinstance(r, FileClose):
                    out.setdefault(names[r.file_id], []).append(r)
    return out


def test_http_put_reports_write_zero_before_5_7_3(scenario, capture):
    """Point 1: the PUT of 250,000 B has write 0 in the f CLOSE and the t CLOSE, while its
    t WRITE entry has the bytes (xrootd/xrootd#2368)."""
    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        (put,) = _closes(items)["/fid/put.bin"]
        assert (put.write, put.ops.write) == (0, 0)
        writes = [e for _d, pkt in _decoded(items) if isinstance(pkt, TracePacket) for e in pkt.entries
                  if isinstance(e, TraceIO) and e.length == -250_000]
        assert len(writes) == 1


def test_killed_client_disc_flag_zero_and_readv_seq_from_one(scenario, capture):
    """Point 3: the xroot DISC after a SIGKILL (forced CLOSE) has flags 0x00, HTTP DISCs
    0x01; a session's first readv has seq 1."""
    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        # a.bin: closed by the first session, force-closed for the killed one, by the HTTP GET
        # (then three times by the TPC: its probe, the pgm copy, the held source)
        assert [c.forced for c in _closes(items)["/fid/a.bin"]][:3] == [False, True, False]
        discs = [e for _d, pkt in _decoded(items) if isinstance(pkt, TracePacket) for e in pkt.entries if isinstance(e, TraceDisc)]
        assert sorted({int(e.flags) for e in discs}) == [0, 1]
        assert sum(int(e.flags) == 1 for e in discs) == 4  # two HTTP sessions, each DISC twice (io and files buffers)
        seqs = [e.seq for _d, pkt in _decoded(items) if isinstance(pkt, TracePacket) for e in pkt.entries if isinstance(e, TraceReadv)]
        assert seqs == [1, 1]


def test_summary_oss_block_and_request_counters_move(scenario, capture):
    """Point 5: the real report has an ``oss`` block, and the xrootd request counters move
    with the script's opens, reads, readvs and writes; so do the simulator's."""
    from xrdsim.wire import SummaryPacket

    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        reports = [pkt for _d, pkt in _decoded(items) if isinstance(pkt, SummaryPacket)]
        first, last = reports[0].stats, reports[-1].stats
        assert "oss" in last and last["oss"]["paths"]["stats"]
        ops0, ops1 = first["xrootd"]["ops"], last["xrootd"]["ops"]
        assert all(ops1[k] > ops0[k] for k in ("open", "rd", "rv", "rs", "wr"))
        assert last["xrootd"]["lgn"]["num"] > first["xrootd"]["lgn"]["num"]
        assert last["xrootd"]["lgn"]["num"] < last["xrootd"]["num"]  # HTTP counts in num, not in lgn


def test_server_id_derived_as_xrootd_derives_it(capture):
    """Point 5: the sid of every real ``=`` record is what ``server_sid`` computes from the
    record's own site, host, port and instance (SHA3-512 at a CRC-32C offset)."""
    import re

    from xrdsim.sim.site import crc32c, server_sid
    from xrdsim.wire import Dialect

    assert crc32c(b"123456789") == 0xE3069283  # the CRC-32C check value
    real, _span = capture
    idents = {pkt.text for _d, pkt in _decoded(real) if isinstance(pkt, MapPacket) and chr(pkt.code) == "="}
    assert idents
    for text in idents:
        m = re.match(r"=/[^.]+\.\d+:(\d+)@(\S+)\n&site=(\w*)&port=(\d+)&inst=(\w+)&pgm=xrootd", text)
        sid, host, site, port, inst = m.groups()
        assert server_sid(site, host, int(port), inst, 0, Dialect.XROOTD_5) == int(sid)


def _f_records(items):
    return [r for _d, pkt in _decoded(items) if isinstance(pkt, FstreamPacket) for r in pkt.records]


def _users(items):
    return {pkt.dictid: pkt.text.split("\n")[0] for _d, pkt in _decoded(items) if isinstance(pkt, MapPacket) and chr(pkt.code) == "u"}


def test_tpc_pull_bytes_only_at_the_source_pgread_by_the_daemon_user(scenario, capture):
    """Point 2: with ``ofs.tpc pgm xrdcp`` the destination's CLOSE shows write 0 and its P
    record Size 0 with xroot:// URLs and IPv 6; the bytes are one pgread record of the
    server's own user (min 0x7fffffff, max 0), beside two 0-byte opens of the source by the
    client and a bound-stream DISC of user 0."""
    import json

    from xrdsim.wire import GStreamPacket

    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        closes, users = _closes(items), _users(items)
        (dst,) = closes["/fid/tpc.bin"]
        assert (dst.write, dst.read, dst.forced) == (0, 0, False)
        tpc_src = closes["/fid/a.bin"][3:]
        assert sorted(c.read for c in tpc_src) == [0, 0, 300_001]
        (pg,) = [c for c in tpc_src if c.read]
        assert (pg.ops.read, pg.ops.rd_min, pg.ops.rd_max) == (1, 0x7FFFFFFF, 0)
        opens = {r.file_id: r for r in _f_records(items) if isinstance(r, FileOpen)}
        assert users[opens[pg.file_id].user].startswith("xroot/xrootd.")
        assert (opens[dst.file_id].fsz, opens[dst.file_id].rw) == (0, True)
        assert any(isinstance(r, FileDisc) and r.user == 0 for r in _f_records(items))
        (rec,) = [json.loads(t) for _d, pkt in _decoded(items) if isinstance(pkt, GStreamPacket) for t in pkt.records]
        assert (rec["Size"], rec["Xeq"]["RC"], rec["Xeq"]["IPv"], rec["Xeq"]["Type"]) == (0, 0, 6, "pull")
        assert rec["Src"].startswith("xroot://") and rec["Src"].endswith("//fid/a.bin")
        assert rec["Dst"].startswith("xroot://") and rec["Dst"].endswith("//fid/tpc.bin")


def test_missing_file_under_an_enoent_redirect_is_a_redlocal_record(scenario, capture):
    """Point 5: an open of a missing file under ``xrootd.redirect host:port enoent path``
    leaves no f record and one REDLOCAL|OPENR (0x95) r record naming the target."""
    from xrdsim.wire import RedirKind, RedirOp, RedirPacket, Redirect

    real, span = capture
    for items in (real, _sim(scenario, span)[1]):
        reds = [r for _d, pkt in _decoded(items) if isinstance(pkt, RedirPacket) for r in pkt.slots if isinstance(r, Redirect)]
        assert [(r.kind, r.op, r.host, r.port, r.path) for r in reds] == [
            (RedirKind.REDLOCAL, RedirOp.OPENR, "127.0.0.1", 1, "/fid/missing/x.bin")]
        assert int(reds[0].kind) | int(reds[0].op) == 0x95
        assert reds[0].user_id in _users(items)
        assert not [r for r in _f_records(items) if isinstance(r, FileOpen) and r.lfn.startswith("/fid/missing/")]
