"""``decode`` takes a one-step path for the usual f and map datagrams given as ``bytes``; any
other buffer type goes the general way. Both must agree on every input: the same packet,
or a DecodeError of the same class, for real, simulated and mutated datagrams."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xrdsim.sim import DestConfig, DestEvent, MonitorConfig, SimConfig, WorkloadConfig, simulate
from xrdsim.wire import DecodeError, decode


def _both(payload: bytes):
    out = []
    for buf in (payload, bytearray(payload)):  # bytes: the fast path; bytearray: the general one
        try:
            out.append(("ok", decode(buf)))
        except DecodeError as exc:
            out.append(("error", type(exc)))
    return out


@pytest.fixture(scope="module")
def corpus(real_capture):
    mon = MonitorConfig(fstat_s=30, lfn=True, ops=True, ssq=True, xfr=2,
                        dests=[DestConfig(events=[DestEvent.FSTAT, DestEvent.USER, DestEvent.INFO, DestEvent.FILES])])
    run = simulate(SimConfig(seed=5, duration_s=900, site_count=2, servers_per_site=1, monitor=mon,
                             workload=WorkloadConfig(jobs_per_hour=900)))
    sim = [d.payload for d in run.datagrams() if d.payload[:1] in (b"f", b"u", b"d", b"i", b"=")]
    real = [p for *_, p in real_capture if p[:1] in (b"f", b"u", b"d", b"i", b"=")]
    assert len(sim) > 100 and real
    return sim[:400] + real


def test_fast_and_general_paths_agree_on_real_and_simulated_datagrams(corpus):
    for payload in corpus:
        fast, general = _both(payload)
        assert fast == general and fast[0] == "ok", payload[:16]


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_and_general_paths_agree_on_mutated_datagrams(corpus, data):
    payload = bytearray(data.draw(st.sampled_from(corpus)))
    for _ in range(data.draw(st.integers(0, 3))):
        payload[data.draw(st.integers(0, len(payload) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(payload)))
    fast, general = _both(bytes(payload[:cut]))
    assert fast == general
