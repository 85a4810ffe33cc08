"""Every public package says what it exports, sorted, and exports only what exists (httpx)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["xrdsim.wire", "xrdsim.sim", "xrdsim.score", "xrdsim.report", "xrdsim.validation", "xrdsim.external", "xrdsim.fidelity", "collector", "collector.sources", "collector.sinks", "replay"]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert exported == sorted(exported, key=lambda s: (not s.isupper(), s))
    for item in exported:
        assert getattr(module, item) is not None


def test_wire_exports_every_public_packet_type():
    wire = importlib.import_module("xrdsim.wire")
    from xrdsim.wire import packet

    for cls in packet.ENCODERS:
        assert cls.__name__ in wire.__all__, cls.__name__
