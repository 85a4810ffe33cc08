"""``host:port`` text to an address: IPv4, bracketed IPv6 and the unbracketed IPv6 of older
shoveler messages, split on the last colon (spec §9.4)."""

from __future__ import annotations


def split_hostport(text: str) -> tuple[str, int]:
    """``"1.2.3.4:9930"``, ``"[2001:db8::1]:9930"`` or ``"2001:db8::1:9930"`` → (host, port).

    Raises ValueError when there is no port or it is not a number in 0..65535.
    """
    host, colon, port = text.strip().rpartition(":")
    if not colon or not port.isascii() or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    return host.strip("[]"), int(port)
