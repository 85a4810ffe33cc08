"""One counter group's pseq accounting: received, lost, duplicated, reordered (spec §2.3, §11.1).

A gap is not loss at once: the missing numbers wait in a bounded reorder window (a count of
later datagrams and a time) before they are declared lost; a late arrival after that turns
a loss back into a reorder (``late``). Duplicates are identical payloads seen again within
the window. Pure bookkeeping: no decoding, no clock (times are passed in).
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``SeqGroup.accept`` verdicts.
IN_ORDER, GAP, LATE, DUPLICATE = 0, 1, 2, 3


@dataclass(slots=True)
class GroupStats:
    """What ``report()`` says of one (incarnation, sender socket, counter group).

    ``received`` counts distinct datagrams (duplicates and malformed ones are apart);
    ``lost`` is the estimate after the reorder window, net of ``late`` arrivals;
    ``pending`` gaps are still inside the window; ``copies`` are f packets received here
    that another destination socket of the server had already delivered (applied once).
    """

    server_key: str
    socket: str
    group: str
    received: int
    lost: int
    duplicated: int
    reordered: int
    late: int
    malformed: int
    pending: int
    copies: int = 0


class SeqGroup:
    """The pseq tracker of one counter group (``map``, ``f`` or ``g:<provider>``)."""

    __slots__ = (
        "expected", "serial", "recent", "pending", "lost_recent", "wait_s", "wait_n", "dup_n",
        "received", "lost", "duplicated", "reordered", "late", "malformed", "copies", "told",
    )  # fmt: skip

    def __init__(self, wait_n: int, wait_s: float, dup_n: int) -> None:
        self.expected: int | None = None
        self.serial = 0
        self.recent: dict[int, tuple[int, int]] = {}  # pseq -> (payload hash, serial)
        self.pending: dict[int, tuple[float, int]] = {}  # missing pseq -> (deadline t, deadline serial)
        self.lost_recent: dict[int, int] = {}  # pseq declared lost -> serial when declared
        self.wait_n, self.wait_s, self.dup_n = wait_n, wait_s, dup_n
        self.received = self.lost = self.duplicated = self.reordered = self.late = self.malformed = self.copies = 0
        self.told = 0  # losses already reported as a pseq_loss event

    def accept(self, pseq: int, digest: int, t: float) -> int:
        """Account one datagram; returns IN_ORDER, GAP (accepted after a gap), LATE
        (accepted, behind the sequence) or DUPLICATE (to be dropped)."""
        self.serial += 1
        if pseq == self.expected:
            self.expected = (pseq + 1) & 255
            self.recent[pseq] = (digest, self.serial)
            self.received += 1
            if self.pending:
                self.expire(t)
            return IN_ORDER
        if self.expected is None:
            self.expected = (pseq + 1) & 255
            self.recent[pseq] = (digest, self.serial)
            self.received += 1
            return IN_ORDER
        ahead = (pseq - self.expected) & 255
        if ahead < 128:
            self._open_gap(self.expected, ahead, t)
            self.expected = (pseq + 1) & 255
            self.recent[pseq] = (digest, self.serial)
            self.received += 1
            self.expire(t)
            return GAP
        return self._behind(pseq, digest, t)

    def accept_malformed(self, pseq: int, digest: int, t: float) -> None:
        """A datagram whose header is sound but whose body is not: it still took its
        pseq (so it is no loss), and counts as malformed instead of received."""
        if self.accept(pseq, digest, t) == DUPLICATE:
            self.duplicated -= 1
        else:
            self.received -= 1
        self.malformed += 1

    def _behind(self, pseq: int, digest: int, t: float) -> int:
        seen = self.recent.get(pseq)
        if seen is not None and seen[0] == digest and self.serial - seen[1] <= self.dup_n:
            self.duplicated += 1
            return DUPLICATE
        self.recent[pseq] = (digest, self.serial)
        self.received += 1
        self.reordered += 1
        if self.pending.pop(pseq, None) is None:
            declared = self.lost_recent.pop(pseq, None)
            if declared is not None and self.serial - declared <= self.dup_n:
                self.lost -= 1
                self.late += 1
        if self.pending:
            self.expire(t)
        return LATE

    def _open_gap(self, first: int, count: int, t: float) -> None:
        deadline = (t + self.wait_s, self.serial + self.wait_n)
        pending = self.pending
        for k in range(count):
            missing = (first + k) & 255
            if missing in pending:  # a whole pseq cycle later: that one is surely gone
                del pending[missing]
                self._declare(missing)
            pending[missing] = deadline

    def _declare(self, pseq: int) -> None:
        self.lost += 1
        self.lost_recent[pseq] = self.serial

    def expire(self, t: float) -> int:
        """Declare lost every pending gap past its count or time deadline; returns how many."""
        pending = self.pending
        done = 0
        while pending:
            pseq, (t_dead, n_dead) = next(iter(pending.items()))
            if t < t_dead and self.serial < n_dead:
                break
            del pending[pseq]
            self._declare(pseq)
            done += 1
        return done

    def news(self) -> int:
        """Losses declared since the last call, net of late arrivals that took a told loss
        back (so negative when only those came): the calls sum to ``lost``."""
        new = self.lost - self.told
        self.told = self.lost
        return new

    def declare_all(self) -> None:
        """Shutdown: every gap still pending is lost."""
        for pseq in list(self.pending):
            self._declare(pseq)
        self.pending.clear()

    def stats(self, server_key: str, socket: str, group: str) -> GroupStats:
        """The report row of this group."""
        return GroupStats(
            server_key, socket, group, self.received, self.lost, self.duplicated,
            self.reordered, self.late, self.malformed, len(self.pending), self.copies,
        )  # fmt: skip
