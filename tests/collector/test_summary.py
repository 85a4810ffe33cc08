"""Summary reports (spec §8.3): cumulative link/xrootd counters into deltas per reporting
server; restarts by tos/pid change or by a decrease; duplicates dropped; JSON counted."""

from __future__ import annotations

from collector import AnomalyKind, SummarySample


def xml(src="h1:1094", tos=100, pid=7, lin=0, lout=0, tot=0, rd=0, tod=1000):
    """A report written by hand after the real 5.5.3 layout (info, link, xrootd ops)."""
    return (
        f'<statistics tod="{tod}" ver="v5.6.9" src="{src}" tos="{tos}" pgm="xrootd" ins="anon" pid="{pid}" site="S">'
        f'<stats id="info"><host>h1</host><port>1094</port><name>anon</name></stats>'
        f"<stats id=\"link\"><num>1</num><maxn>2</maxn><tot>{tot}</tot><in>{lin}</in><out>{lout}</out>"
        f"<ctime>0</ctime><tmo>0</tmo><stall>0</stall><sfps>0</sfps></stats>"
        f'<stats id="xrootd"><num>1</num><ops><open>{rd}</open><rf>0</rf><rd>{rd}</rd><pr>0</pr><rv>0</rv><rs>0</rs>'
        f"<wv>0</wv><ws>0</ws><wr>0</wr><sync>0</sync><getf>0</getf><putf>0</putf><misc>0</misc></ops></stats>"
        f"</statistics>"
    ).encode()


def samples(events):
    return [e for e in events if type(e) is SummarySample]


def feed(c, payloads, src=("192.0.2.5", 33000)):
    out = []
    for i, p in enumerate(payloads):
        out += c.feed(p, src, 100.0 + i)
    return out


def test_summary_cumulative_counters_become_deltas(collector):
    evs = feed(collector, [xml(lin=0, lout=0, tod=1), xml(lin=1000, lout=50, tot=2, rd=3, tod=2), xml(lin=5000, lout=70, tot=3, rd=10, tod=3)])
    got = [(s.link_in_delta, s.link_out_delta, s.link_tot_delta, s.xrootd_ops_delta["rd"], s.first, s.restart) for s in samples(evs)]
    assert got == [(0, 0, 0, 0, True, False), (1000, 50, 2, 3, False, False), (4000, 20, 1, 7, False, False)]
    (row,) = collector.report().summary
    assert (row["server"], row["link_in"], row["link_out"], row["samples"]) == ("h1:1094", 5000, 70, 3)


def test_summary_new_pid_is_a_restart_counting_from_zero(collector):
    evs = feed(collector, [xml(lin=9000, tod=1), xml(pid=8, tos=200, lin=300, tod=2)])
    first, second = samples(evs)
    assert (second.restart, second.link_in_delta, second.link_in) == (True, 300, 300)
    assert AnomalyKind.SUMMARY_RESTART in [e.anomaly for e in evs if e.KIND == "anomaly"]


def test_summary_decrease_without_pid_change_is_a_restart(collector):
    evs = feed(collector, [xml(lin=5000, tod=1), xml(lin=100, tod=2)])
    assert [(s.restart, s.link_in_delta) for s in samples(evs)] == [(False, 5000), (True, 100)]


def test_summary_identical_report_twice_is_a_duplicate(collector):
    evs = feed(collector, [xml(lin=10), xml(lin=10)])
    assert len(samples(evs)) == 1
    (row,) = [g for g in collector.report().groups if g.group == "summary"]
    assert (row.received, row.duplicated) == (1, 1)


def test_summary_two_servers_are_two_series(collector):
    evs = feed(collector, [xml(src="a:1", lin=10), xml(src="b:1", lin=99), xml(src="a:1", lin=30, tod=2)])
    assert [(s.server, s.link_in_delta) for s in samples(evs)] == [("a:1", 10), ("b:1", 99), ("a:1", 20)]


def test_summary_json_datagrams_are_counted(collector):
    collector.feed(b'{"statistics":{"tod":1,"ver":"v5","src":"h:1","tos":1,"pgm":"xrootd","ins":"anon","pid":1,"site":"","oss":{}}}', ("192.0.2.5", 1), 1.0)
    rep = collector.report()
    assert rep.totals()["json"]["received"] == 1 and rep.malformed == 0
