"""Fragment reassembly keeps its coverage as fragments arrive (no re-sort per fragment)
and holds a bounded number of bytes; overlapping fragments give what a full re-scan gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from replay.reassembly import Reassembler

KEY = (4, b"a", b"b", 7, 17)


def _rescan(frags, total):
    """The reference: bytes when fragments cover 0..total (claimed lengths), earlier
    offsets winning overlaps, the last fragment sent at an offset replacing earlier ones."""
    parts = {}
    for off, length, data in frags:
        parts[off] = (length, data)
    pos = 0
    for off in sorted(parts):
        if off > pos:
            return None
        pos = max(pos, off + parts[off][0])
    if pos < total:
        return None
    chunks, pos = [], 0
    for off in sorted(parts):
        length, data = parts[off]
        if off + length <= pos:
            continue
        chunks.append(data[pos - off :])
        pos = off + length
    return b"".join(chunks)


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(1, 4)), min_size=1, max_size=20), st.integers(1, 13))
def test_reassembly_overlapping_fragments_match_a_full_rescan(frags, last):
    total = last * 8 + 8
    r = Reassembler()
    sent = []
    for i, (slot, n) in enumerate(frags + [(last, 1)]):
        off, length = slot * 8, n * 8
        more = i < len(frags)
        if not more:
            length = 8
        data = bytes([i % 251 + 1]) * length
        sent.append((off, length, data))
        done = r.add(KEY, off, more, length, data, 0.0)
        if done is not None:
            assert done == (_rescan(sent, total), total)
            return
    assert _rescan(sent, total) is None


def test_reassembly_overlap_flood_is_dropped_past_its_byte_bound():
    r = Reassembler(max_datagram_bytes=64 << 10)
    r.add(KEY, 65000, False, 8, b"z" * 8, 0.0)
    for off in range(8, 8 * 200, 8):  # overlapping fragments, 8 kB each, never offset 0
        r.add(KEY, off, True, 8192, b"y" * 8192, 0.0)
    assert r.incomplete >= 1 and r.held <= 64 << 10 and r.completed == 0
