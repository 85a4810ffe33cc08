"""The simulated world: sites, servers, worker nodes, users and per-VO file catalogues.

Names come from a Faker seeded from the scenario seed; every other choice from a
``random.Random`` derived from it. Builds plain frozen values; never simulates.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from faker import Faker

from xrdsim.sim.config import SimConfig, SiteConfig, WorkloadConfig
from xrdsim.wire import Dialect

COUNTRIES = ("DE", "FR", "IT", "UK", "US", "CH", "ES", "NL", "PL", "CZ", "BR", "IN", "JP", "KR", "AU", "CA")
VO_ROOTS = {
    "cms": "/store/{kind}/Run3Summer22/{ds}/AODSIM/{uid}.root",
    "atlas": "/atlas/rucio/mc16_13TeV/{h1}/{h2}/EVNT.{num}._{idx:06d}.pool.root.1",
    "lhcb": "/lhcb/MC/2018/ALLSTREAMS.DST/{num:08d}/0000/{num:08d}_{idx:08d}_1.allstreams.dst",
    "alice": "/alice/data/2022/LHC22{ds}/{num:09d}/AOD/{idx:03d}/AO2D.root",
}


@dataclass(frozen=True, slots=True)
class Host:
    """A machine: DNS name, IPv4 and IPv6 address, site index."""

    name: str
    ip4: str
    ip6: str
    site: int


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """One xrootd instance: host, data port, version, instance, pid, 48-bit sid."""

    host: Host
    port: int
    version: str
    instance: str
    pid: int
    sid: int
    site_name: str
    unix_user: str = "xrootd"


@dataclass(frozen=True, slots=True)
class Site:
    """A site with its servers (index 0 may be a redirector) and worker nodes."""

    index: int
    name: str
    tier: int
    country: str
    domain: str
    servers: tuple[ServerSpec, ...]
    workers: tuple[Host, ...]
    redirector: ServerSpec | None
    nic_bps: float
    weight: float


@dataclass(frozen=True, slots=True)
class User:
    """A grid user: login (≤ 8 chars), certificate DN, VO and role."""

    login: str
    dn: str
    vo: str
    role: str


@dataclass(frozen=True, slots=True)
class World:
    """Everything the workload draws from."""

    sites: tuple[Site, ...]
    users: dict[str, tuple[User, ...]]
    catalogue: dict[str, tuple[tuple[str, int], ...]]


#: CRC-32C (Castagnoli, reflected polynomial) of each byte value, for ``crc32c``.
_CRC32C = []
for _b in range(256):
    _c = _b
    for _ in range(8):
        _c = (_c >> 1) ^ (0x82F63B78 & -(_c & 1))
    _CRC32C.append(_c)
FP_BYTES = 6


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (``crc32c(b"123456789") == 0xE3069283``)."""
    crc = 0xFFFFFFFF
    for b in data:
        crc = (crc >> 8) ^ _CRC32C[(crc ^ b) & 0xFF]
    return crc ^ 0xFFFFFFFF


def server_sid(site: str, host: str, port: int, instance: str, pid: int, dialect: Dialect) -> int:
    """48-bit fingerprint: hashed and restart-stable since 5.1, ``pid<<16|port`` in 4.x (spec §2.6).

    As XRootD's ``genSID`` (XrdOucUtils.cc) derives it: the 6 bytes of the SHA3-512 of
    ``site host port instance xrootd`` at the offset the CRC-32C of the same text gives
    (mod 58); checked against the real 5.5.3 capture's ``=`` records.
    """
    if dialect is Dialect.XROOTD_4:
        return ((pid << 16) | port) & ((1 << 48) - 1)
    ident = f"{site}{host}{port}{instance}xrootd".encode()
    digest = hashlib.sha3_512(ident).digest()
    at = crc32c(ident) % (len(digest) - FP_BYTES)
    return int.from_bytes(digest[at : at + FP_BYTES], "big")


def _site_names(cfg: SiteConfig, k: int, fake: Faker, rng: random.Random) -> tuple[str, str, str]:
    country = cfg.country or rng.choice(COUNTRIES)
    city = "".join(ch for ch in fake.city() if ch.isalpha())[:12] or f"Site{k}"
    name = cfg.name or f"T{cfg.tier}_{country}_{city}"
    domain = cfg.domain or f"{city.lower()}{k}.{'ac.uk' if country == 'UK' else country.lower()}"
    return name, country, domain


def _host(prefix4: str, prefix6: str, name: str, n: int, site: int) -> Host:
    a, b, c = prefix4.split(".")[:3]
    ip4 = f"{a}.{b}.{int(c) + n // 250}.{n % 250 + 2}"
    return Host(name, ip4, f"{prefix6.split('::')[0]}::{n + 2:x}", site)


def build_site(k: int, cfg: SiteConfig, sim: SimConfig, fake: Faker, rng: random.Random) -> Site:
    """One site from its config, generating what the config leaves empty."""
    name, country, domain = _site_names(cfg, k, fake, rng)
    p4 = cfg.ipv4_prefix or f"10.{k // 200}.{(k % 200) + 1}.0"
    p4 = p4 if not p4.endswith("/24") else p4[:-3]
    p6 = cfg.ipv6_prefix or f"2001:db8:{k:x}::"
    servers = []
    for i in range(cfg.servers):
        host = _host(p4, p6, f"xrootd-{i + 1:02d}.{domain}", i, k)
        pid = rng.randrange(1000, 60000)
        sid = server_sid(name, host.name, cfg.data_port, cfg.instance, pid, sim.dialect)
        servers.append(ServerSpec(host, cfg.data_port, cfg.xrootd_version, cfg.instance, pid, sid, name))
    workers = tuple(_host(p4, p6, f"wn-{j + 1:03d}.{domain}", 10 + j, k) for j in range(cfg.worker_nodes))
    redirector = None
    if cfg.redirector:
        host = _host(p4, p6, f"redirector.{domain}", 9, k)
        redirector = ServerSpec(host, cfg.data_port, cfg.xrootd_version, cfg.instance, rng.randrange(1000, 60000),
                                server_sid(name, host.name, cfg.data_port, cfg.instance, 0, sim.dialect), name)
    return Site(k, name, cfg.tier, country, domain, tuple(servers), workers, redirector, cfg.nic_bps, cfg.weight)


def build_users(wl: WorkloadConfig, fake: Faker, rng: random.Random) -> dict[str, tuple[User, ...]]:
    """``users_per_vo`` users per VO with CERN-style DNs."""
    out = {}
    for vo in wl.vos:
        users = []
        for _ in range(wl.users_per_vo):
            first, last = fake.first_name(), fake.last_name()
            login = (first[0] + last).lower().encode("ascii", "ignore").decode()[:8] or "user"
            dn = f"/DC=ch/DC=cern/OU=Organic Units/OU=Users/CN={login}/CN={rng.randrange(100000, 999999)}/CN={first} {last}"
            users.append(User(login, dn, vo, rng.choice(("NULL", "NULL", "production", "lcgadmin"))))
        out[vo] = tuple(users)
    return out


def _lfn(vo: str, rng: random.Random, i: int) -> str:
    pattern = VO_ROOTS.get(vo, "/" + vo + "/user/{h1}/{uid}.dat")
    uid = "%08x-%04x-%04x-%04x-%012x" % tuple(rng.getrandbits(b) for b in (32, 16, 16, 16, 48))
    ds = rng.choice(("TTbar", "DYJets", "WJets", "QCD", "A", "B", "C", "ZMuMu", "HToGG"))
    return pattern.format(kind=rng.choice(("mc", "data")), ds=ds, uid=uid, h1=uid[:2], h2=uid[2:4],
                          num=rng.randrange(10**7), idx=i % 1000)


def build_catalogue(wl: WorkloadConfig, rng: random.Random) -> dict[str, tuple[tuple[str, int], ...]]:
    """Per VO: ``files_per_vo`` (lfn, size) with a lognormal size distribution."""
    import math

    out = {}
    for vo in wl.vos:
        files = []
        for i in range(wl.files_per_vo):
            size = int(min(wl.max_size_bytes, max(1024, rng.lognormvariate(math.log(wl.median_size_bytes), wl.size_sigma))))
            files.append((_lfn(vo, rng, i), size))
        out[vo] = tuple(files)
    return out


def build_world(cfg: SimConfig) -> World:
    """Sites, users and catalogues for ``cfg``, deterministic from ``cfg.seed``."""
    fake = Faker()
    fake.seed_instance(cfg.seed)
    rng = random.Random(f"{cfg.seed}:world")
    site_cfgs = cfg.sites or [SiteConfig(servers=cfg.servers_per_site, tier=1 + (k % 3 != 0)) for k in range(cfg.site_count)]
    sites = tuple(build_site(k, sc, cfg, fake, rng) for k, sc in enumerate(site_cfgs))
    return World(sites, build_users(cfg.workload, fake, rng), build_catalogue(cfg.workload, rng))


__all__ = ["FP_BYTES", "Host", "ServerSpec", "Site", "User", "World", "build_world", "crc32c", "server_sid"]
