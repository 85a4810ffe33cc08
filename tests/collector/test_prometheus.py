"""The Prometheus exposition: per-host received and loss (held servers plus one ``*`` row),
source figures as named families, process metrics read from the OS."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from collector.sinks.prometheus import OTHER_HOSTS, held_hosts, render_metrics, render_process_metrics
from xrdsim.wire import FileClose, FileOpen, MapPacket, encode


def samples(text: str) -> dict[str, float]:
    """``name{labels}`` → value of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            out[key] = float(value)
    return out


def ident(em, host: str) -> bytes:
    """An ident map (``=``) naming ``host``, on the emitter's shared map counter."""
    pkt = MapPacket(ord("="), em.mseq & 255, em.stod, 0, f"=/xrootd.4242:{em.sid}@{host}\n&site=S&port=1094&inst=anon&pgm=xrootd&ver=v5.6.9")
    em.mseq += 1
    return encode(pkt)


def lossy_f(em, sent: int, lost: int) -> list[bytes]:
    """``sent`` f packets delivered, with ``lost`` more built (pseq used) but never sent,
    followed by enough packets to close the reorder window (counted in ``sent``)."""
    out = [em.f([FileOpen(1, 0, False, 0, "/a")])]
    for _ in range(lost):
        em.f([])
    out += [em.f([]) for _ in range(sent - 1)]
    return out


def test_prometheus_loss_and_received_per_held_host(emitter, collector):
    a, b = emitter(sid=1, ip="192.0.2.1"), emitter(sid=2, ip="192.0.2.2")
    a.send(collector, [ident(a, "a.example.org")] + lossy_f(a, sent=6, lost=2))
    b.send(collector, [ident(b, "b.example.org")] + lossy_f(b, sent=5, lost=0), t0=1001.0)
    s = samples(render_metrics(collector.report(), held=held_hosts(collector)))
    assert s['xrdsim_collector_host_received_datagrams_total{host="a.example.org"}'] == 7
    assert s['xrdsim_collector_host_lost_datagrams_total{host="a.example.org"}'] == 2
    assert s['xrdsim_collector_host_received_datagrams_total{host="b.example.org"}'] == 6
    assert s['xrdsim_collector_host_lost_datagrams_total{host="b.example.org"}'] == 0
    assert s['xrdsim_collector_host_received_datagrams_total{host="*"}'] == 0


def test_prometheus_host_series_survive_a_restart_and_only_held_servers_get_one(emitter, collector):
    old = emitter(sid=1, stod=1_700_000_000)
    old.send(collector, [ident(old, "a.example.org")] + lossy_f(old, sent=6, lost=1))
    new = emitter(sid=1, stod=1_700_000_500)  # same server id, new process: the old incarnation ends
    new.send(collector, [ident(new, "a.example.org")], t0=1100.0)
    text = render_metrics(collector.report(), held=held_hosts(collector))
    s = samples(text)
    assert s['xrdsim_collector_host_received_datagrams_total{host="a.example.org"}'] == 8
    assert s['xrdsim_collector_host_lost_datagrams_total{host="a.example.org"}'] == 1
    # a server no longer held falls into the aggregate row; the per-host sum stays the total
    s = samples(render_metrics(collector.report(), held={}))
    assert [k for k in s if "host_received" in k] == ['xrdsim_collector_host_received_datagrams_total{host="*"}']
    assert s['xrdsim_collector_host_received_datagrams_total{host="*"}'] == 8
    assert OTHER_HOSTS == "*"


def test_prometheus_io_figures_are_named_families_not_one_keyed_gauge(collector):
    rep = collector.report()
    rep.io.update(udp_sockets="0.0.0.0:9930 [::]:9931", rcvbuf_requested=16 << 20, rcvbuf_granted=425984,
                  kernel_drops=17, kernel_drops_from="/proc/net/udp", internal_errors=0, interrupted=False)  # fmt: skip
    text = render_metrics(rep)
    s = samples(text)
    assert s["xrdsim_collector_udp_receive_buffer_bytes"] == 425984
    assert s["xrdsim_collector_udp_receive_buffer_requested_bytes"] == 16 << 20
    assert s["xrdsim_collector_udp_kernel_drops_total"] == 17
    assert s["xrdsim_collector_internal_errors_total"] == 0
    assert s['xrdsim_collector_udp_socket_info{address="[::]:9931"}'] == 1
    assert "xrdsim_collector_io" not in text and "interrupted" not in text
    assert "# TYPE xrdsim_collector_udp_kernel_drops_total counter" in text


def test_prometheus_every_family_has_help_type_and_valid_sample_lines(emitter, collector):
    em = emitter()
    em.send(collector, [em.ident(), em.user(1), em.f([FileOpen(2, 9, False, 1, "/x")]), em.f([FileClose(2, 100, 20, 0)])])
    text = render_metrics(collector.report(), held=held_hosts(collector)) + render_process_metrics()
    typed = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE ")}
    helped = {line.split()[2] for line in text.splitlines() if line.startswith("# HELP ")}
    names = {key.partition("{")[0] for key in samples(text)}
    assert names <= typed == helped
    assert all(not n.endswith("_total") for n in names if f"# TYPE {n} gauge" in text)
    assert len(typed) == text.count("# TYPE "), "a family is declared twice"


def test_prometheus_process_metrics_follow_the_process():
    before = samples(render_process_metrics())
    extra = [os.open(os.devnull, os.O_RDONLY) for _ in range(20)]
    try:
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:
            pass
        after = samples(render_process_metrics())
    finally:
        for fd in extra:
            os.close(fd)
    assert after["process_open_fds"] >= before["process_open_fds"] + 20
    assert after["process_cpu_seconds_total"] >= before["process_cpu_seconds_total"] + 0.25
    with open("/proc/self/status") as fh:
        vm_rss = next(int(line.split()[1]) * 1024 for line in fh if line.startswith("VmRSS:"))
    assert 0.5 * vm_rss < after["process_resident_memory_bytes"] < 2 * vm_rss


def test_prometheus_process_start_time_is_when_the_process_began():
    code = "import time; t = time.time(); from collector.sinks.prometheus import render_process_metrics as r; print(t); print(r())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    started_by = float(out.splitlines()[0])
    start = samples(out)["process_start_time_seconds"]
    assert started_by - 5 < start <= started_by + 0.05


def test_prometheus_host_rows_sum_to_the_group_totals(emitter, collector):
    a, b = emitter(sid=1, ip="192.0.2.1"), emitter(sid=2, ip="192.0.2.2", stod=1_700_000_001)
    a.send(collector, [ident(a, "a.example.org")] + lossy_f(a, sent=6, lost=3))
    b.send(collector, lossy_f(b, sent=5, lost=1), t0=1001.0)  # no ident: known by its server id
    collector.feed(b"\x00garbage", ("198.51.100.9", 1), 1002.0)
    held = held_hosts(collector)
    assert sorted(held.values()) == ["2", "a.example.org"]
    s = samples(render_metrics(collector.report(), held=held))
    for outcome, family in (("received", "host_received_datagrams_total"), ("lost", "host_lost_datagrams_total")):
        by_host = sum(v for k, v in s.items() if k.startswith(f"xrdsim_collector_{family}{{"))
        by_group = sum(v for k, v in s.items() if k.startswith("xrdsim_collector_group_datagrams_total{") and f'outcome="{outcome}"' in k)
        assert by_host == by_group > 0
