"""The profile and the comparison, on datagrams built here: normalisation keeps what a
script decides and drops what differs between machines; a changed property is caught."""

from __future__ import annotations

from xrdsim.fidelity import compare, norm_text, norm_userid, profile, render_table
from xrdsim.wire import FileClose, FileDisc, FileOpen, FstreamPacket, MapPacket, encode, make_tod

STOD, SID = 1_796_000_000, 123_456_789


def _map(code: str, pseq: int, dictid: int, text: str) -> bytes:
    return encode(MapPacket(ord(code), pseq, STOD, dictid, text))


def _f(pseq: int, records: list) -> bytes:
    return encode(FstreamPacket(pseq, STOD, make_tod(records, STOD, STOD + 1, SID), records))


def _run(user_pid: int, read: int, host: str = "[::ffff:127.0.0.1]") -> list:
    uid = f"xroot/root.{user_pid}:{SID}@{host}"
    return [
        (0.0, 0, _map("u", 0, 1, f"{uid}\n&R=v5.5.3&x=python3.11&y=&I=4")),
        (0.1, 0, _map("d", 1, 2, f"{uid}\n/a.bin")),
        (1.0, 0, _f(0, [FileOpen(2, 100, False, 1, "/a.bin", True), FileClose(2, read, 0, 0, False)])),
    ]


def test_norm_userid_drops_xroot_pid_user_sid_host_keeps_http_connection_number():
    assert norm_userid("xroot/root.25239:17792091298466@[::ffff:127.0.0.1]") == "xroot/<user>.<pid>:<sid>@<host>"
    assert norm_userid("http/unknown.3:17792091298466@[::ffff:127.0.0.1]") == "http/unknown.3:<sid>@<host>"


def test_norm_text_of_ident_drops_port_keeps_site_and_version():
    text = "=/root.25220:17792091298466@vm\n&site=SITE_A&port=38863&inst=anon&pgm=xrootd&ver=v5.5.3"
    assert norm_text("=", text) == "=/<user>.<pid>:<sid>@<host>\n&site=SITE_A&port=<port>&inst=anon&pgm=xrootd&ver=v5.5.3"


def test_runs_that_differ_only_in_pid_and_host_have_the_same_profile():
    a = profile(_run(111, 50), ["dest0"])
    b = profile(_run(98765, 50, host="wn-001.example.org"), ["dest0"])
    rows = compare(a, b)
    assert rows and all(r.same for r in rows if r.structural)
    # the longer host name makes longer datagrams: shown, not judged
    assert [r.name for r in rows if not r.same] == ["dest0: largest datagram per code"]


def test_a_different_close_total_is_a_structural_difference():
    rows = compare(profile(_run(111, 50), ["dest0"]), profile(_run(111, 51), ["dest0"]))
    bad = [r.name for r in rows if r.structural and not r.same]
    assert bad == ["dest0: f records (OPEN/CLOSE/DISC) in order"]
    table = render_table(rows)
    assert "| dest0: f records (OPEN/CLOSE/DISC) in order |" in table and "DIFFERENT" in table


def test_a_pseq_gap_is_caught():
    items = _run(111, 50)
    items[1] = (0.1, 0, _map("d", 2, 2, "xroot/root.111:1@h\n/a.bin"))  # pseq 0, 2: one lost
    assert profile(items, ["dest0"]).props["dest0: pseq groups gap-free from 0"].value is False


def _two_logouts(first: int, second: int) -> list:
    items = [(0.0, 0, _map("u", 0, 1, f"xroot/root.1:{SID}@h\n&R=v5.5.3&x=xrdcp&y=&I=4")),
             (0.1, 0, _map("u", 1, 2, f"xroot/root.1:{SID}@h\n&R=v5.5.3&x=xrdcp&y=&I=4"))]
    return items + [(1.0, 0, _f(0, [FileOpen(3, 0, True, 2, "/t.bin", True), FileClose(3, 0, 0, 0, False),
                                    FileDisc(first), FileDisc(second)]))]


def test_links_that_log_out_together_may_do_so_in_either_order():
    """xrdcp's two links end when it exits: adjacent DISCs compare as a set, a DISC moved
    past another record does not."""
    rows = compare(profile(_two_logouts(1, 2), ["dest0"]), profile(_two_logouts(2, 1), ["dest0"]))
    assert all(r.same for r in rows if r.structural)
    moved = _two_logouts(1, 2)
    moved[-1] = (1.0, 0, _f(0, [FileDisc(1), FileOpen(3, 0, True, 2, "/t.bin", True), FileClose(3, 0, 0, 0, False), FileDisc(2)]))
    bad = [r.name for r in compare(profile(_two_logouts(1, 2), ["dest0"]), profile(moved, ["dest0"])) if r.structural and not r.same]
    assert bad == ["dest0: f records (OPEN/CLOSE/DISC) in order"]
