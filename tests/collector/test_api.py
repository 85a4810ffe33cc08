"""The collector packages say what they export, sorted, and export only what exists."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize("name", ["collector", "collector.sinks", "collector.sources"])
def test_api_all_is_sorted_and_resolves(name):
    module = importlib.import_module(name)
    assert module.__all__ == sorted(module.__all__, key=lambda s: (not s.isupper(), s[0].islower(), s))
    for item in module.__all__:
        assert getattr(module, item) is not None
