"""Durations, sizes, rates and numbers in scenario files, against values worked out by hand."""

from __future__ import annotations

import pytest

from xrdsim.units import (
    parse_duration,
    parse_loose,
    parse_number,
    parse_rate,
    parse_size,
    parser_for,
)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90.0), ("500ms", 0.5), ("6h", 21600.0), ("1d", 86400.0), ("1h30m", 5400.0), ("2 min", 120.0), ("42", 42.0), ("1.5h", 5400.0)],
)
def test_duration_known_values(text, seconds):
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("text", "size"), [("2GB", 2_000_000_000), ("1.5 GiB", 1_610_612_736), ("300kB", 300_000), ("4M", 4_000_000), ("512", 512), ("1KiB", 1024)])
def test_size_known_values(text, size):
    assert parse_size(text) == size


def test_rate_bits_and_events():
    assert parse_rate("10Gbps", bits=True) == 10e9
    assert parse_rate("1.25GB/s", bits=True) == 10e9
    assert parse_rate("1k/s") == 1000.0
    assert parse_rate("600/h", per_s=3600.0) == pytest.approx(600.0)
    assert parse_rate("10/s", per_s=3600.0) == pytest.approx(36000.0)


def test_number_percent_and_prefix():
    assert parse_number("0.5%") == pytest.approx(0.005)
    assert parse_number("1e6") == 1e6
    assert parse_number("2k") == 2000.0
    assert parse_loose("10m") == 600.0


@pytest.mark.parametrize(("parse", "text"), [(parse_duration, "abc"), (parse_duration, "5 parsecs"), (parse_duration, ""),
                                             (parse_size, "2 Gb"), (parse_size, "lots"), (parse_rate, "10Gbps"), (parse_number, "x1")])
def test_bad_quantities_say_what_was_expected(parse, text):
    with pytest.raises(ValueError, match="expected"):
        parse(text)


@pytest.mark.parametrize(("name", "kind"), [("duration_s", "duration"), ("size_bytes", "size"), ("nic_bps", "rate"),
                                            ("jobs_per_hour", "rate"), ("events_per_s", "rate"), ("fraction", "number")])
def test_parser_chosen_by_field_name_suffix(name, kind):
    assert parser_for(name)[0] == kind
