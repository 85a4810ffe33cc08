"""The Datagram contract shared by simulator, network path, collector and replay (DESIGN.md)."""

from __future__ import annotations

from dataclasses import dataclass

#: (ip, port); ip as text, IPv4 dotted or IPv6 without brackets.
Address = tuple[str, int]


@dataclass(slots=True)
class Datagram:
    """One UDP datagram as an emitter sent it and, after the path, as it arrived.

    ``t_send`` and ``t_arrival`` are seconds (simulated: since scenario start; replayed:
    capture timestamps). ``t_arrival`` is None until the path has carried it, and stays
    None for a datagram the path lost. ``ident`` is the simulator's datagram id (truth),
    -1 for datagrams from outside a simulation.
    """

    t_send: float
    src: Address
    dst: Address
    payload: bytes
    t_arrival: float | None = None
    ident: int = -1
