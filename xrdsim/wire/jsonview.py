"""Plain-data views of packets for JSON output: dataclasses, NamedTuples, enums, bytes."""

from __future__ import annotations

import dataclasses
import enum
from typing import Any


def to_plain(value: Any) -> Any:
    """Turn a packet (or any part of one) into dicts, lists and scalars for ``json.dumps``.

    Dataclasses gain a ``"type"`` key with their class name so records stay distinguishable.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {"type": type(value).__name__}
        for f in dataclasses.fields(value):
            out[f.name] = to_plain(getattr(value, f.name))
        return out
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return {k: to_plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return value
