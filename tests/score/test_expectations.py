"""Expectation strings: each form, its boundary, and the sentence a failure gives."""

from __future__ import annotations

import math

import pytest

from xrdsim.score import parse_expectation


@pytest.mark.parametrize(
    ("text", "good", "bad"),
    [(">= 0.999", [0.999, 1.0], [0.998]), ("<0.5%", [0.0049], [0.005, 0.01]), ("== 0", [0.0], [1e-6, 1.0]),
     ("0.98..1.02", [0.98, 1.0, 1.02], [0.979, 1.021]), ("> 3", [3.01], [3.0]), ("<= 65", [65.0], [65.1]), ("!= 0", [1.0], [0.0]),
     ("<= 10m", [600.0], [601.0])],
)
def test_expectation_forms(text, good, bad):
    exp = parse_expectation(text)
    assert all(exp.check(v) is None for v in good)
    assert all(exp.check(v) for v in bad)


def test_failure_sentences():
    assert parse_expectation(">= 0.999").check(0.5) == "0.5 is not at least 0.999"
    assert parse_expectation("0.98..1.02").check(1.5) == "1.5 is not between 0.98 and 1.02"
    assert parse_expectation("< 1").check(math.nan).startswith("no value")


@pytest.mark.parametrize("text", ["0.9", "=> 1", "1.02..0.98", ">= lots", ""])
def test_bad_expectations_raise(text):
    with pytest.raises(ValueError):
        parse_expectation(text)
