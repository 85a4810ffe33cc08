"""Counter-group pseq accounting (spec §2.3, §11.1): gaps wait in a bounded reorder window
before they are lost; duplicates are identical payloads seen again; mod-256 wrap."""

from __future__ import annotations

from collector.sequence import DUPLICATE, GAP, IN_ORDER, LATE, SeqGroup


def run(seqs, wait_n=4, wait_s=5.0, digests=None, t=0.0):
    g = SeqGroup(wait_n, wait_s, 96)
    verdicts = [g.accept(p, (digests or {}).get(i, 1000 + i), t) for i, p in enumerate(seqs)]
    return g, verdicts


def test_sequence_in_order_across_the_255_to_0_wrap_counts_no_loss():
    g, v = run([253, 254, 255, 0, 1])
    assert v == [IN_ORDER] * 5
    assert (g.received, g.lost, g.reordered) == (5, 0, 0)


def test_sequence_gap_is_pending_until_the_count_window_then_lost():
    g, v = run([0, 1, 3, 4, 5])
    assert v[2] == GAP
    assert (g.lost, len(g.pending)) == (0, 1)  # 2 later datagrams < window of 4
    g.accept(6, 1, 0.0)
    g.accept(7, 2, 0.0)
    assert (g.lost, len(g.pending)) == (1, 0)


def test_sequence_gap_is_lost_after_the_time_window():
    g, _ = run([0, 2], wait_n=100, wait_s=2.0, t=10.0)
    assert g.expire(11.9) == 0
    assert g.expire(12.0) == 1
    assert g.lost == 1


def test_sequence_late_arrival_inside_window_is_reordered_not_lost():
    g, v = run([0, 2, 1, 3])
    assert v == [IN_ORDER, GAP, LATE, IN_ORDER]
    assert (g.received, g.lost, g.reordered, len(g.pending)) == (4, 0, 1, 0)


def test_sequence_arrival_after_declared_loss_turns_loss_into_late():
    g, _ = run([0, 2, 3, 4, 5, 6], wait_n=2)
    assert g.lost == 1
    assert g.accept(1, 77, 0.0) == LATE
    assert (g.lost, g.late, g.reordered) == (0, 1, 1)


def test_sequence_identical_payload_again_is_duplicate_and_not_received():
    g, v = run([0, 1, 1], digests={1: 42, 2: 42})
    assert v[2] == DUPLICATE
    assert (g.received, g.duplicated, g.lost) == (2, 1, 0)


def test_sequence_same_pseq_with_other_payload_is_not_a_duplicate():
    g, v = run([0, 1, 1], digests={1: 42, 2: 43})
    assert v[2] == LATE
    assert g.duplicated == 0


def test_sequence_gap_of_several_counts_each_missing_number():
    g, _ = run([10, 15, 16, 17, 18, 19])
    assert g.lost == 4  # 11..14


def test_sequence_gap_across_wrap_counts_mod_256():
    g, _ = run([254, 1, 2, 3, 4, 5])
    assert g.lost == 2  # 255 and 0 (a +255 rollover bug would say 1 or 257)


def test_sequence_declare_all_at_shutdown():
    g, _ = run([0, 3], wait_n=100)
    g.declare_all()
    assert (g.lost, len(g.pending)) == (2, 0)


def test_sequence_malformed_takes_its_pseq_without_counting_as_received():
    g = SeqGroup(4, 5.0, 96)
    g.accept(0, 1, 0.0)
    g.accept_malformed(1, 2, 0.0)
    g.accept(2, 3, 0.0)
    assert (g.received, g.malformed, g.lost, len(g.pending)) == (2, 1, 0, 0)
