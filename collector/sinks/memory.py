"""A sink that keeps events in a list: the whole path testable without files (STYLE §7.7)."""

from __future__ import annotations

from collector.records import Event, TransferRecord


class MemorySink:
    """Collects every event written; ``records`` are the transfer records among them."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.closed = False

    def write(self, events: list[Event]) -> None:
        """Keep ``events``."""
        self.events.extend(events)

    def close(self) -> None:
        """Mark closed (the events stay)."""
        self.closed = True

    @property
    def records(self) -> list[TransferRecord]:
        """The transfer records written so far."""
        return [e for e in self.events if type(e) is TransferRecord]
