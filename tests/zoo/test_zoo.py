"""The broken-collector zoo: each entry of ``ZOO`` turns the reference collector's scored inputs into
what a collector with one bug would have given (records dropped, bytes doubled, a field
blanked, loss never counted …). The scenario gates must fail them; see the table in
docs/scenarios.md ("Which scenario catches which broken collector").
"""

from __future__ import annotations

import dataclasses
import itertools
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from xrdsim.harness import GroupRow, score_inputs, simulate_and_collect
from xrdsim.scenario import load_scenario
from xrdsim.score import Rec, RunInputs, judge, score_run

Corruption = Callable[[RunInputs], RunInputs]


def _every(records: list[Rec], share: float) -> set[int]:
    """Indices of an evenly spread ``share`` of the records (deterministic, no RNG to seed)."""
    step = 1.0 / share
    return {int(k * step) for k in range(int(len(records) * share))}


def _records(change: Callable[[list[Rec]], list[Rec]]) -> Corruption:
    return lambda inputs: dataclasses.replace(inputs, records=change(list(inputs.records)))


def _each(share: float, edit: Callable[[Rec], Rec]) -> Corruption:
    def change(records: list[Rec]) -> list[Rec]:
        hit = _every(records, share)
        return [edit(r) if k in hit else r for k, r in enumerate(records)]

    return _records(change)


def _scale_bytes(factor: float) -> Callable[[Rec], Rec]:
    return lambda r: dataclasses.replace(r, read_bytes=round(r.read_bytes * factor), readv_bytes=round(r.readv_bytes * factor),
                                         write_bytes=round(r.write_bytes * factor))


def _drop(share: float) -> Corruption:
    def change(records: list[Rec]) -> list[Rec]:
        hit = _every(records, share)
        return [r for k, r in enumerate(records) if k not in hit]

    return _records(change)


def _duplicate(share: float) -> Corruption:
    def change(records: list[Rec]) -> list[Rec]:
        hit = _every(records, share)
        return records + [dataclasses.replace(r, record_id=f"{r.record_id}-dup") for k, r in enumerate(records) if k in hit]

    return _records(change)


def _loss(factor: int) -> Corruption:
    """Loss counted ``factor`` times, in the report and in the losses told as they happen."""

    def change(inputs: RunInputs) -> RunInputs:
        groups = None if inputs.groups is None else [GroupRow(g.server_key, g.socket, g.group, g.lost * factor) for g in inputs.groups]
        losses = [dataclasses.replace(ev, count=ev.count * factor) for ev in inputs.losses if factor]
        return dataclasses.replace(inputs, groups=groups, losses=losses)

    return change


def _not_ended(inputs: RunInputs) -> RunInputs:
    """The old incarnation's files are not ended at the restart: they linger until shutdown."""
    end = inputs.t0 + inputs.duration_s

    def edit(r: Rec) -> Rec:
        return dataclasses.replace(r, ended="collector_shutdown", t_emitted=end) if r.ended == "server_restart" else r

    return dataclasses.replace(inputs, records=[edit(r) for r in inputs.records])


#: name → corruption, in the order of the docs table.
ZOO: dict[str, Corruption] = {
    "drop 1 %": _drop(0.01),
    "duplicate 1 %": _duplicate(0.01),
    "bytes ×2": _each(1.0, _scale_bytes(2.0)),
    "bytes +3 %": _each(1.0, _scale_bytes(1.03)),
    "readv bytes dropped": _each(1.0, lambda r: dataclasses.replace(r, readv_bytes=0)),
    "blank LFN 20 %": _each(0.2, lambda r: dataclasses.replace(r, file_lfn="")),
    "blank DN 50 %": _each(0.5, lambda r: dataclasses.replace(r, user_dn="")),
    "blank VO 50 %": _each(0.5, lambda r: dataclasses.replace(r, vo="")),
    "blank site 20 %": _each(0.2, lambda r: dataclasses.replace(r, site="")),
    "records 600 s late": _each(1.0, lambda r: dataclasses.replace(r, t_emitted=None if r.t_emitted is None else r.t_emitted + 600.0)),
    "no loss accounting": _loss(0),
    "loss ×2": _loss(2),
    "restart not ended": _not_ended,
    "HTTP writes dropped": _each(1.0, lambda r: dataclasses.replace(r, write_bytes=0) if r.protocol.startswith("http") else r),
}

__all__ = ["ZOO", "Corruption"]


# ---------------------------------------------------------------- the table and the gates

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "scenarios.md"
TABLE_TITLE = "### Which scenario catches which broken collector"
CAUGHT, PASSED = "✓", "·"
#: Scenarios too heavy for the default run: wlcg-day simulates for ~75 s and scores each
#: corruption for ~15 s on two cores (run them with ``pytest -m heavy tests/zoo``).
HEAVY = {"wlcg-day"}


def doc_table() -> tuple[list[str], dict[str, dict[str, str]]]:
    """(scenario columns, corruption → scenario → mark) from the docs table."""
    text = DOC.read_text()
    lines = text[text.index(TABLE_TITLE):].splitlines()
    first = next(k for k, ln in enumerate(lines) if ln.startswith("|"))
    rows = list(itertools.takewhile(lambda ln: ln.startswith("|"), lines[first:]))  # the first table only
    head = [c.strip().strip("`") for c in rows[0].strip("|").split("|")]
    out: dict[str, dict[str, str]] = {}
    for ln in rows[2:]:
        cells = [c.strip() for c in ln.strip("|").split("|")]
        out[cells[0]] = dict(zip(head[1:], cells[1:]))
    return head[1:], out


def gate_fails(scenario: Any, inputs: RunInputs) -> list[str]:
    """The expectations of ``scenario`` that ``inputs`` miss."""
    return [v.name for v in judge(score_run(inputs), scenario.expect) if not v.passed]


def shipped(name: str) -> Any:
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml")


def test_the_table_names_every_corruption_and_scenario_and_each_is_caught_somewhere():
    columns, table = doc_table()
    assert list(table) == list(ZOO)
    assert sorted(columns) == SHIPPED
    for name, marks in table.items():
        assert set(marks.values()) <= {CAUGHT, PASSED}, name
        assert CAUGHT in marks.values(), f"no shipped scenario catches {name!r}"


def test_every_corruption_changes_what_it_claims_to():
    sc = shipped("quickstart")
    sim, got = simulate_and_collect(sc)
    base = score_inputs(sim, got, sc)
    for name, corrupt in ZOO.items():
        bad = corrupt(base)
        changed = bad.records != base.records or bad.groups != base.groups or bad.losses != base.losses
        assert changed or name == "restart not ended", name  # quickstart has no restart


#: The scenarios the README promises (others, such as the fidelity script, teach no gate).
SHIPPED = sorted(["quickstart", "wlcg-day", "lossy-wan", "restarts", "long-lived", "tpc-heavy", "dcache-dialect", "multi-dest",
                  "collector-outage", "silent-servers", "config-drift", "clock-skew", "old-xrootd"])


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.heavy) if n in HEAVY else n for n in SHIPPED])
def test_the_gate_passes_the_reference_and_fails_the_corruptions_it_teaches(name):
    sc = shipped(name)
    sim, got = simulate_and_collect(sc)
    base = score_inputs(sim, got, sc)
    assert gate_fails(sc, base) == [], "the reference collector must pass"
    _, table = doc_table()
    passed = [c for c, marks in table.items() if marks[name] == CAUGHT and not gate_fails(sc, ZOO[c](base))]
    assert passed == [], f"{name} passes broken collectors it should catch"


def print_table() -> None:
    """Score every corruption on every shipped scenario and print the docs table (run this
    file as a script to regenerate it; the suite only checks the ✓ cells)."""
    names = SHIPPED
    caught: dict[str, list[str]] = {c: [] for c in ZOO}
    for name in names:
        sc = shipped(name)
        base = score_inputs(*simulate_and_collect(sc), sc)
        print(f"{name}: reference fails {gate_fails(sc, base)}", file=sys.stderr)
        for c, corrupt in ZOO.items():
            fails = gate_fails(sc, corrupt(base))
            caught[c].append(CAUGHT if fails else PASSED)
            print(f"  {c}: {fails}", file=sys.stderr)
    print("| broken collector | " + " | ".join(f"`{n}`" for n in names) + " |")
    print("|---" * (len(names) + 1) + "|")
    for c, marks in caught.items():
        print(f"| {c} | " + " | ".join(marks) + " |")


if __name__ == "__main__":
    print_table()
