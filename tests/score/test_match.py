"""Matching truth transfers to records: exact key first, then (server, path, time window)."""

from __future__ import annotations

from collector import Ended, TransferRecord
from xrdsim.score import match, to_rec


def test_exact_key_pairs_and_leftovers(make_truth, make_rec):
    truth = [make_truth(1, fid=1), make_truth(2, fid=2), make_truth(3, fid=3, lfn="/c")]
    recs = [make_rec(fid=2), make_rec(fid=1), make_rec(fid=9, lfn="/zzz")]
    m = match(truth, recs)
    assert sorted((t.transfer_id, r.file_dictid) for t, r in m.pairs) == [(1, 1), (2, 2)]
    assert [t.transfer_id for t in m.missed] == [3]
    assert [r.file_dictid for r in m.spurious] == [9]


def test_fallback_by_path_nearest_in_time(make_truth, make_rec):
    truth = [make_truth(1, fid=1, lfn="/x", open_t=1000.0), make_truth(2, fid=2, lfn="/x", open_t=2000.0)]
    recs = [make_rec(stod=None, fid=None, lfn="/x", start=1990.0)]
    m = match(truth, recs)
    assert [t.transfer_id for t, _ in m.pairs] == [2]


def test_fallback_window_and_other_server(make_truth, make_rec):
    truth = [make_truth(1, lfn="/x", open_t=1000.0)]
    far = make_rec(fid=None, lfn="/x", start=5000.0)
    other = make_rec(server="srv2", fid=None, lfn="/x", start=1000.0)
    m = match(truth, [far, other])
    assert not m.pairs and len(m.spurious) == 2


def test_second_record_of_one_transfer_is_a_duplicate(make_truth, make_rec):
    m = match([make_truth(1)], [make_rec(), make_rec()])
    assert len(m.pairs) == 1 and m.duplicates == 1 and len(m.spurious) == 1


def test_server_known_only_by_ip(make_truth, make_rec):
    t = make_truth(5, server="srv9")
    r = make_rec(server="", fid=1)
    r = type(r)(*(["", t.server_ip] + [getattr(r, f) for f in r.__slots__[2:]]))
    assert len(match([t], [r]).pairs) == 1


def test_to_rec_from_dict_with_field_map_and_server_key():
    line = {"srv": "h1", "server_key": "123#1700000000", "file_dictid": 4, "lfn": "/p", "read_bytes": 100,
            "read_vector_bytes": 30, "write_bytes": 5, "start_time": 1.0, "end_time": 2.0, "t_emitted": 3.0}
    r = to_rec(line, {"server_host": "srv", "file_lfn": "lfn"})
    assert (r.server_host, r.stod, r.file_dictid, r.file_lfn) == ("h1", 1700000000, 4, "/p")
    assert (r.read_bytes, r.readv_bytes, r.write_bytes, r.total_bytes) == (70, 30, 5, 105)


def test_to_rec_from_collector_record():
    nones = dict.fromkeys(["read_ops", "readv_ops", "write_ops", "readv_segments", "read_min", "read_max", "read_sigma",
                           "readv_min", "readv_max", "readv_sigma", "write_min", "write_max", "write_sigma"])
    tr = TransferRecord(
        server_key="9#55", server_host="h", server_ip="1.2.3.4", server_port=1094, site="S", user="u", user_dn="/CN=u",
        vo="cms", role="", client_host="c", client_ip="", protocol="xroot", ipv6=False, app_info="", file_lfn="/f",
        file_dictid=3, file_size=10, read_bytes=10, read_single_bytes=6, read_vector_bytes=4, write_bytes=0,
        start_time=1.0, end_time=2.0, operation_time=1.0, ended=Ended.FORCED_CLOSE, lost_packets_around=False,
        source="f", tpc=False, t_emitted=5.0, **nones)
    r = to_rec(tr)
    assert (r.stod, r.read_bytes, r.readv_bytes, r.ended, r.vo) == (55, 6, 4, "forced_close", "cms")


def _record_strategy():
    """Any ``TransferRecord``: every field drawn by its declared type."""
    import dataclasses

    from hypothesis import strategies as st

    by_type = {
        "str": st.text(max_size=12),
        "int": st.integers(0, 2**53),
        "bool": st.booleans(),
        "float": st.floats(0, 2e9),
        "int | None": st.none() | st.integers(0, 2**53),
        "float | None": st.none() | st.floats(0, 2e9),
        "Ended": st.sampled_from(list(Ended)),
    }
    kw = {f.name: by_type[str(f.type)] for f in dataclasses.fields(TransferRecord)}
    kw["server_key"] = st.sampled_from(["", "srv#1700000000", "1700000000#10.0.0.1#1094", "x#y", "#12"]) | st.text(max_size=8)
    return st.builds(TransferRecord, **kw)


def test_our_records_read_field_by_field_as_through_the_layout():
    """The in-process collector's records skip the layout lookup (``harness.rec_of_record``):
    the same ``Rec`` as ``to_rec`` for any record."""
    from hypothesis import given

    from xrdsim.harness import rec_of_record

    @given(_record_strategy())
    def check(ev):
        assert rec_of_record(ev) == to_rec(ev)

    check()
