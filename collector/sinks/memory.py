"""A sink that keeps events in a list: the whole path testable without files (STYLE §7.7)."""

from __future__ import annotations

from collector.records import Event, TransferRecord, current_records


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
        """The transfer records written so far, one per transfer (the latest revision)."""
        return current_records(self.all_records)

    @property
    def all_records(self) -> list[TransferRecord]:
        """Every transfer record written, revisions included."""
        return [e for e in self.events if type(e) is TransferRecord]
