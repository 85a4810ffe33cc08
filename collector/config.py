"""The collector's policies in one frozen value: time-outs, reorder window, table bounds.

Every policy named here shows in the records it produces (``ended``) or in ``report()``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class CollectorConfig:
    """Policies of a ``Collector``; times are seconds on the ``t_arrival`` clock.

    * ``open_ttl``: a file with no OPEN/XFR news for this long is emitted ``ended=timeout``
      with its last XFR counters.
    * ``reorder_count`` / ``reorder_seconds``: a pseq gap is declared lost once this many
      later datagrams of its counter group arrived, or this long passed (spec §2.3).
    * ``dup_window``: how many recent datagrams per counter group are remembered to spot
      an identical payload sent again (< 128, half the pseq space).
    * ``session_grace``: how long a session's user map outlives its DISC (late t packets),
      and how long a file left open by a DISC waits for its CLOSE before it is emitted
      ``ended=forced_close``.
    * ``t_hold``: t-stream transfers of an incarnation wait this long for an f-stream to
      show up before t-only records are emitted (source ``t``); once f is seen, t is only
      cross-checked.
    * ``session_ttl`` / ``server_ttl``: idle lifetimes of a session and an incarnation.
    * ``max_*``: table bounds; going past one evicts the oldest entry with a record
      (``ended=evicted``) or an anomaly, never silently.
    * ``max_*_bytes``: byte budgets of the tables holding text from the wire, summed over
      every incarnation: ``max_path_bytes`` (``d`` paths and TPC paths), ``max_session_bytes``
      (sessions), ``max_open_bytes`` (open and expired files). Past one the oldest entries
      go as past the entry bound (counted; an open file as a record ``ended=evicted``).
    * ``max_text_bytes``: longest text kept from one map record or OPEN path (XRootD's own
      path limit is 4 kB); longer ones are cut and counted (``evicted["text_truncated"]``).
    * ``max_counter_groups``: counter groups per incarnation; the least recently used one
      goes, its counts folded into the report's retired rows (never lost).
    * ``max_summary_series``: summary series kept; an evicted one's counts are folded too.
    * ``max_expired_files``: files recorded before their CLOSE (timeout, DISC without
      CLOSE, eviction) remembered, so that a late XFR or CLOSE completes the
      same transfer (next ``revision`` of its record) instead of a second one.
    """

    open_ttl: float = 3600.0
    reorder_count: int = 32
    reorder_seconds: float = 2.0
    dup_window: int = 96
    session_grace: float = 10.0
    t_hold: float = 60.0
    session_ttl: float = 3 * 86400.0
    server_ttl: float = 7200.0
    max_open_files: int = 200_000
    max_sessions: int = 200_000
    max_servers: int = 10_000
    max_paths: int = 200_000
    max_expired_files: int = 100_000
    max_text_bytes: int = 4096
    max_path_bytes: int = 128 << 20
    max_session_bytes: int = 256 << 20
    max_open_bytes: int = 128 << 20
    max_counter_groups: int = 256
    max_summary_series: int = 10_000
