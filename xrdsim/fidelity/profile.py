"""What a stream of monitoring datagrams says, property by property, with what is random by
nature normalised away (pids, client ports and hosts, server id, dictids, jitter): two
profiles of the same script, one from a real server and one from the simulator, can then
be compared value by value. Pure: datagrams in, a ``Profile`` out.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from itertools import groupby

from xrdsim.wire import (
    DecodeError,
    FileClose,
    FileDisc,
    FileOpen,
    FileXfr,
    FstreamPacket,
    GProvider,
    GStreamPacket,
    MapPacket,
    RedirPacket,
    Redirect,
    SummaryPacket,
    TraceClose,
    TraceDisc,
    TraceIO,
    TraceOpen,
    TracePacket,
    TraceReadv,
    TraceWindow,
    decode,
    decode_tpc_record,
)

#: A received datagram: (seconds since the run started, destination index, payload).
Received = tuple[float, int, bytes]
SUMMARY = "summary"
#: Summary counters that follow the host, not the script (prefixes), and wall-clock ones.
HOST_COUNTERS = ("oss.paths", "proc.", "sched.")
TIMING_COUNTERS = frozenset({"link.tmo", "link.stall", "link.sfps", "xrootd.dly", "sgen.et"})


@dataclass(frozen=True, slots=True)
class Property:
    """One compared property: ``structural`` ones fail the check when they differ, the
    others (timer phases, run length, wall-clock jitter) are shown for information."""

    name: str
    value: object
    structural: bool


@dataclass(slots=True)
class Profile:
    """Properties by name, in the order they were found."""

    props: dict[str, Property] = field(default_factory=dict)

    def add(self, name: str, value: object, structural: bool = True) -> None:
        """Set one property."""
        self.props[name] = Property(name, value, structural)


_USERID = re.compile(r"^(\w+)/([^.\s]+)\.(\d+):(\d+)@(\S+)")


def norm_userid(text: str) -> str:
    """``prot/user.pid:sid@host`` with what differs between machines replaced: xroot user,
    pid (the client's process id before 5.6.5), sid and host; XrdHttp's ``unknown.N`` keeps
    its N (the server's connection number)."""

    def sub(m: re.Match) -> str:
        prot, user, pid = m.group(1), m.group(2), m.group(3)
        if prot == "xroot" or not prot.startswith("http"):
            user, pid = "<user>", "<pid>"
        return f"{prot}/{user}.{pid}:<sid>@<host>"

    return _USERID.sub(sub, text)


def norm_text(code: str, text: str) -> str:
    """A map record's text, normalised (``=``: user, pid, sid, host, port)."""
    if code == "=":
        head, _, cgi = text.partition("\n")
        cgi = re.sub(r"&port=\d+", "&port=<port>", cgi)
        return "=/<user>.<pid>:<sid>@<host>\n" + cgi
    text = norm_userid(text)
    return re.sub(r"&h=\[[^\]]*\]|&h=[^&]*", "&h=<host>", text)


class _Ids:
    """dictid → a stable name: files by path (``d`` map or f OPEN), users by login order."""

    def __init__(self) -> None:
        self.files: dict[int, str] = {}
        self.users: dict[int, str] = {}

    def user(self, dictid: int) -> str:
        return self.users.setdefault(dictid, f"user{len(self.users) + 1}")

    def file(self, dictid: int) -> str:
        return self.files.get(dictid, f"file#{dictid}")


def _decode_all(items: list[Received]) -> list[tuple[float, int, int, object]]:
    out = []
    for t, dest, payload in items:
        try:
            out.append((t, dest, len(payload), decode(payload)))
        except DecodeError as exc:
            out.append((t, dest, len(payload), exc))
    return out


def profile(items: list[Received], dest_names: list[str]) -> Profile:
    """The profile of one run's datagrams; ``dest_names[i]`` names destination ``i``
    (the last one is the summary socket)."""
    prof, ids = Profile(), _Ids()
    packets = _decode_all(sorted(items, key=lambda x: x[0]))
    for _t, _d, _n, pkt in packets:  # names first: a d map or OPEN may arrive after the I/O
        if isinstance(pkt, MapPacket) and chr(pkt.code) == "d":
            ids.files[pkt.dictid] = pkt.text.partition("\n")[2]
        elif isinstance(pkt, MapPacket) and chr(pkt.code) == "u":
            ids.user(pkt.dictid)
        elif isinstance(pkt, FstreamPacket):
            for r in pkt.records:
                if isinstance(r, FileOpen) and r.lfn:
                    ids.files.setdefault(r.file_id, r.lfn)
    for d, name in enumerate(dest_names):
        mine = [p for p in packets if p[1] == d]
        if name == SUMMARY:
            _summary(prof, mine)
        else:
            _dest(prof, name, mine, ids)
    return prof


def _dest(prof: Profile, name: str, packets: list, ids: _Ids) -> None:
    bad = [p for p in packets if isinstance(p[3], DecodeError)]
    prof.add(f"{name}: undecodable datagrams", len(bad))
    good = [p for p in packets if not isinstance(p[3], DecodeError)]
    codes = Counter(_code(p[3]) for p in good)
    prof.add(f"{name}: codes present", tuple(sorted(codes)))
    prof.add(f"{name}: datagrams per code", tuple(sorted(codes.items())), structural=False)
    event_maps = [(_code(p[3]), norm_text(_code(p[3]), p[3].text)) for p in good if isinstance(p[3], MapPacket) and _code(p[3]) != "="]
    prof.add(f"{name}: u/d/i maps in order", tuple(event_maps))
    idents = {norm_text("=", p[3].text) for p in good if isinstance(p[3], MapPacket) and _code(p[3]) == "="}
    prof.add(f"{name}: = ident text", tuple(sorted(idents)))
    prof.add(f"{name}: pseq groups gap-free from 0", _pseq_ok(good))
    _fstream(prof, name, [p[3] for p in good if isinstance(p[3], FstreamPacket)], ids)
    _tstream(prof, name, [p[3] for p in good if isinstance(p[3], TracePacket)], ids)
    _rstream(prof, name, [p[3] for p in good if isinstance(p[3], RedirPacket)], ids)
    _gstream(prof, name, [p[3] for p in good if isinstance(p[3], GStreamPacket)])
    sizes = defaultdict(list)
    for p in good:
        sizes[_code(p[3])].append(p[2])
    prof.add(f"{name}: largest datagram per code", tuple(sorted((c, max(v)) for c, v in sizes.items())), structural=False)
    prof.add(f"{name}: r/g packets", (sum(isinstance(p[3], RedirPacket) for p in good), sum(isinstance(p[3], GStreamPacket) for p in good)),
             structural=False)


def _code(pkt: object) -> str:
    if isinstance(pkt, MapPacket):
        return chr(pkt.code)
    return {FstreamPacket: "f", TracePacket: "t", RedirPacket: "r", GStreamPacket: "g"}.get(type(pkt), "?")


def _pseq_ok(good: list) -> bool:
    """Each counter group (f; g; everything else of the dest) counts 0, 1, 2, … in send order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for p in good:
        code = _code(p[3])
        groups["f" if code == "f" else "g" if code == "g" else "main"].append(p[3].pseq)
    return all(seq == [i & 0xFF for i in range(len(seq))] for seq in groups.values())


def _fstream(prof: Profile, name: str, packets: list[FstreamPacket], ids: _Ids) -> None:
    if not packets:
        return
    recs, xfrs = [], Counter()
    tod_ok = all(p.tod.n_recs == len(p.records) and p.tod.n_xfr == sum(isinstance(r, FileXfr) for r in p.records) for p in packets)
    for p in packets:
        for r in p.records:
            if isinstance(r, FileOpen):
                recs.append(("OPEN", ids.file(r.file_id), r.fsz, "rw" if r.rw else "r", ids.user(r.user) if r.user else "-"))
            elif isinstance(r, FileClose):
                recs.append(("CLOSE", ids.file(r.file_id), r.read, r.readv, r.write, "forced" if r.forced else "",
                             tuple(r.ops) if r.ops else None, tuple(r.ssq) if r.ssq else None))
            elif isinstance(r, FileDisc):
                recs.append(("DISC", ids.user(r.user) if r.user else "-"))
            elif isinstance(r, FileXfr):
                xfrs[ids.file(r.file_id)] += 1
    # A bound second stream (DISC of user 0) ends while its session works: a real 5.5.3 logs
    # it before or after that session's OPEN and CLOSE, so it is counted, not placed.
    bound = [r for r in recs if r == ("DISC", "-")]
    prof.add(f"{name}: f records (OPEN/CLOSE/DISC) in order", tuple(_sorted_disc_runs([r for r in recs if r != ("DISC", "-")])))
    prof.add(f"{name}: f DISCs of bound streams (user 0)", len(bound))
    prof.add(f"{name}: f TOD counts agree", tod_ok)
    prof.add(f"{name}: f XFR records per file", tuple(sorted(xfrs.items())), structural=False)


def _sorted_disc_runs(recs: list[tuple]) -> list[tuple]:
    """``recs`` with each run of adjacent DISCs sorted: links of one client that end
    together (xrdcp exiting) log out in either order on a real server."""
    out: list[tuple] = []
    for is_disc, run in groupby(recs, key=lambda r: r[0] == "DISC"):
        out += sorted(run) if is_disc else run
    return out


def _tstream(prof: Profile, name: str, packets: list[TracePacket], ids: _Ids) -> None:
    if not packets:
        return
    per_file: dict[str, list] = defaultdict(list)
    discs, framed, marks = [], True, 0
    for p in packets:
        es = p.entries
        framed &= bool(es) and isinstance(es[0], TraceWindow) and isinstance(es[-1], TraceWindow)
        marks += sum(isinstance(e, TraceWindow) for e in es[1:-1])
        for e in es:
            key = _t_entry(e, ids)
            if key is None:
                continue
            if isinstance(e, TraceDisc):
                discs.append(key)
            else:
                per_file[key[1]].append(key)
    for f in sorted(per_file):
        io = tuple(e for e in per_file[f] if e[0] in ("READ", "WRITE", "READV", "READU"))
        prof.add(f"{name}: t I/O entries of {f}", io)
        prof.add(f"{name}: t OPEN/CLOSE of {f}", tuple(sorted(e for e in per_file[f] if e[0] in ("OPEN", "CLOSE"))))
    prof.add(f"{name}: t DISC flags", tuple(sorted((e[1], e[2]) for e in discs)))
    prof.add(f"{name}: t DISC seconds", tuple(sorted((e[1], e[3]) for e in discs)), structural=False)
    prof.add(f"{name}: t packets framed by WINDOW marks", framed)
    prof.add(f"{name}: t WINDOW marks inside packets", marks, structural=False)


def _rstream(prof: Profile, name: str, packets: list[RedirPacket], ids: _Ids) -> None:
    if not packets:
        return
    recs = [(r.kind.name, getattr(r.op, "name", r.op), r.port, ids.user(r.user_id) if r.user_id else "-", r.host, r.path)
            for p in packets for r in p.slots if isinstance(r, Redirect)]
    prof.add(f"{name}: r redirect records in order", tuple(recs))


_URL = re.compile(r"^(\w+)://[^/]*(/.*)$")


def _url(text: str) -> str:
    """A TPC record URL without its host and port (the host is the machine's)."""
    m = _URL.match(text)
    return f"{m.group(1)}://<host>{m.group(2)}" if m else text


def _gstream(prof: Profile, name: str, packets: list[GStreamPacket]) -> None:
    recs = []
    for p in packets:
        if p.provider is not GProvider.TPC:
            continue
        for text in p.records:
            try:
                r = decode_tpc_record(text)
            except DecodeError:
                recs.append(("undecodable",))
                continue
            recs.append((r.protocol, r.type, r.rc, r.streams, r.ip_version, r.size, _url(r.src), _url(r.dst)))
    if recs:
        prof.add(f"{name}: g TPC records (protocol, type, RC, streams, IPv, Size, Src, Dst)", tuple(recs))


def _t_entry(e: object, ids: _Ids) -> tuple | None:
    if isinstance(e, TraceIO):
        return ("WRITE" if e.is_write else "READ", ids.file(e.file_id), e.offset, e.nbytes)
    if isinstance(e, TraceReadv):
        return (e.kind.name, ids.file(e.file_id), e.seq, e.nsegs, e.total)
    if isinstance(e, TraceOpen):
        return ("OPEN", ids.file(e.file_id), e.fsz)
    if isinstance(e, TraceClose):
        return ("CLOSE", ids.file(e.file_id), e.read_bytes, e.write_bytes)
    if isinstance(e, TraceDisc):
        return ("DISC", ids.user(e.user_id), f"0x{int(e.flags):02x}", e.seconds)
    return None


def _flat(prefix: str, value: object, out: dict[str, object]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _flat(f"{prefix}[{i}]", v, out)
    else:
        out[prefix] = value


def _summary(prof: Profile, packets: list) -> None:
    reports = [p[3] for p in packets if isinstance(p[3], SummaryPacket)]
    if not reports:
        prof.add("summary: reports", 0)
        return
    prof.add("summary: blocks", tuple(sorted(reports[-1].stats)))
    first, last = {}, {}
    _flat("", reports[0].stats, first)
    _flat("", reports[-1].stats, last)
    moved = sorted(k for k in last if k in first and first[k] != last[k])
    # Host state (CPU time, thread pool, disk space) and wall-clock accidents (a link timing
    # out, a stall) move or not with the machine, not with the script: shown, not judged.
    host = [k for k in moved if k.startswith(HOST_COUNTERS) or k in TIMING_COUNTERS]
    prof.add("summary: counters that move (first → last report)", tuple(k for k in moved if k not in host))
    prof.add("summary: host and timing counters that move", tuple(host), structural=False)
    prof.add("summary: reports", len(reports), structural=False)
    link = reports[-1].stats.get("link", {})
    prof.add("summary: last link in/out bytes", (link.get("in"), link.get("out")), structural=False)


__all__ = ["HOST_COUNTERS", "SUMMARY", "TIMING_COUNTERS", "Profile", "Property", "Received", "norm_text", "norm_userid", "profile"]
