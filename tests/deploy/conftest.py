"""Fixtures of the deploy checks."""

from __future__ import annotations

import pytest

from tests.deploy.harness import live_exposition


@pytest.fixture(scope="module")
def exposition() -> str:
    """A live collector's ``/metrics`` text after the real 5.5.3 capture was replayed to it."""
    return live_exposition()
