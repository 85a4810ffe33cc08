"""Who a session is: ``u`` login and auth fields, ``T`` token, ``U`` experiment/activity,
``i`` app info, and the userid string itself (spec §3.2, §3.4–3.6, §9.1).

Parsed once per session, so closing a file only copies attributes. Never raises on text.
"""

from __future__ import annotations

import ipaddress

from xrdsim.wire import Cgi, MapPacket, parse_userid


class SessionFiles(set):
    """The dictids of a session's open files, counting every open and close: the session
    expiry tells an idle session from a busy one by whether ``uses`` moved (the f-stream
    adds and discards here, and reads no clock)."""

    __slots__ = ("uses",)

    def __init__(self, fids: tuple[int, ...] = ()) -> None:  # the argument: pickle rebuilds a set subclass from its items
        super().__init__(fids)
        self.uses = 0

    def add(self, fid: int) -> None:
        """Note a file opened by the session."""
        self.uses += 1
        super().add(fid)

    def discard(self, fid: int) -> None:
        """Note a file of the session closed."""
        self.uses += 1
        super().discard(fid)


class UserInfo:
    """One session of one incarnation, keyed by its ``u`` dictid (0 when built from a
    ``d`` record's userid because no ``u`` was seen)."""

    __slots__ = (
        "dictid", "userid_text", "user", "user_dn", "vo", "role", "client_host", "client_ip",
        "protocol", "ipv6", "app_info", "auth_protocol", "token_subject", "experiment",
        "activity", "t_created", "t_seen", "seen_uses", "files",
    )  # fmt: skip

    def __init__(self, dictid: int, userid_text: str, t_created: float) -> None:
        uid = parse_userid(userid_text)
        host = uid.host.strip("[]")
        self.dictid = dictid
        self.userid_text = userid_text
        self.user = uid.user
        self.user_dn = self.vo = self.role = self.app_info = ""
        self.auth_protocol = self.token_subject = self.experiment = self.activity = ""
        self.client_host = host
        self.client_ip = ip_literal(host)
        self.protocol = uid.prot
        self.ipv6 = ":" in self.client_ip
        self.t_created = t_created
        self.t_seen = t_created  # last time the expiry saw the session busy
        self.seen_uses = 0  # ``files.uses`` at ``t_seen``
        self.files = SessionFiles()

    def apply_login(self, payload: str) -> None:
        """The ``u`` payload: auth fields ``p n h o r g m`` and login ``R x y I`` (spec §3.4)."""
        first: dict[str, str] = {}
        families = []
        for item in payload.split("&"):  # keys repeat (``&I=6&I=6``): the first counts
            key, _, value = item.partition("=")
            if key == "I":
                families.append(value)
            elif key not in first:
                first[key] = value
        get = first.get
        self.auth_protocol = get("p", "")
        self.user = get("n") or self.user
        self.user_dn = get("m", "").split("::")[0]
        self.vo = _first_word(get("o", ""))
        self.role = _first_word(get("r", ""))
        self.app_info = get("x") or self.app_info
        if not self.client_ip and "h" in first:
            self.client_ip = ip_literal(first["h"].strip("[]"))
        if families:
            self.ipv6 = "6" in families

    def apply_token(self, info: Cgi) -> None:
        """A ``T`` record (spec §3.6): token subject, user name, VO and role."""
        self.token_subject = info.get("s", "") or self.token_subject
        self.user = info.get("n") or self.user
        self.vo = first_word(info, "o") or self.vo
        self.role = first_word(info, "r") or self.role

    def apply_activity(self, info: Cgi) -> None:
        """A ``U`` record (spec §3.6): experiment and activity codes."""
        self.experiment = info.get("Ec", "") or self.experiment
        self.activity = info.get("Ac", "") or self.activity


def first_word(info: Cgi, key: str) -> str:
    """First word of a space-separated multi-value, ``NULL`` read as empty (spec §3.4)."""
    return _first_word(info.get(key, "") or "")


def _first_word(value: str) -> str:
    words = value.split(None, 1)
    return "" if not words or words[0] == "NULL" else words[0]


def ip_literal(host: str) -> str:
    """The IP address in ``host`` (IPv4-mapped and -compatible IPv6 as dotted IPv4), or ``""``
    when ``host`` is a name."""
    if not host or not (host[0].isdigit() or ":" in host):
        return ""
    try:
        addr = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return ""
    if isinstance(addr, ipaddress.IPv6Address):
        mapped = addr.ipv4_mapped
        if mapped is None and addr.packed[:12] == bytes(12) and int(addr) > 0xFFFF:
            mapped = ipaddress.IPv4Address(addr.packed[12:])
        return str(mapped) if mapped is not None else str(addr)
    return str(addr)


def user_from_login(pkt: MapPacket, t: float) -> UserInfo:
    """A session from its ``u`` record (userid, then the optional payload after ``\\n``)."""
    userid, _, payload = pkt.text.partition("\n")
    user = UserInfo(pkt.dictid, userid.rstrip("\x00"), t)
    if payload:
        user.apply_login(payload.strip("\x00\n"))
    return user
