"""Map records (spec §3): u auth fields, T token and U activity via Uc, i app info, the
userid host as client, IPv6 from I=6, repeated keys."""

from __future__ import annotations

from collector import TransferRecord
from xrdsim.wire import FileClose, FileOpen


def one_record(em, c, maps, user=0x40):
    evs = em.send(c, [*maps, em.f([FileOpen(1, 10, False, user, "/p"), FileClose(1, 10, 0, 0)])])
    (rec,) = [e for e in evs if type(e) is TransferRecord]
    return rec


def test_maps_u_auth_fields_give_dn_vo_role_protocol(emitter, collector):
    em = emitter()
    rec = one_record(em, collector, [em.user(0x40, "&p=gsi&n=cmsuser&h=wn7&o=cms cms&r=production NULL&g=/cms&m=/DC=ch/CN=Bob::x&R=v5.6.3&x=xrdcp&y=&I=6&I=6", user="bob", host="[2001:db8::7]")])
    assert (rec.user, rec.user_dn, rec.vo, rec.role, rec.auth_protocol) == ("cmsuser", "/DC=ch/CN=Bob", "cms", "production", "gsi")
    assert (rec.client_host, rec.client_ip, rec.ipv6, rec.app_info) == ("2001:db8::7", "2001:db8::7", True, "xrdcp")


def test_maps_u_without_auth_payload_uses_the_userid(emitter, collector):
    em = emitter()
    rec = one_record(em, collector, [em.user(0x40, None, user="carol", host="node1.example.org", prot="https")])
    assert (rec.user, rec.protocol, rec.client_host, rec.client_ip, rec.vo, rec.ipv6) == ("carol", "https", "node1.example.org", "", "", False)


def test_maps_ipv4_compatible_host_is_dotted(emitter, collector):
    em = emitter()
    rec = one_record(em, collector, [em.user(0x40, "&I=4", host="[::198.124.239.10]")])
    assert (rec.client_ip, rec.ipv6) == ("198.124.239.10", False)


def test_maps_token_and_activity_enrich_the_user_via_uc(emitter, collector):
    em = emitter()
    rec = one_record(em, collector, [
        em.user(0x40, "&p=ztn&n=nobody&I=4"),
        em.token(0x41, 0x40, "&s=f00d-beef&n=tokuser&o=atlas&r=prod&g=/atlas"),
        em.activity(0x42, 0x40, "atlas", "analysis"),
    ])  # fmt: skip
    assert (rec.token_subject, rec.user, rec.vo, rec.role) == ("f00d-beef", "tokuser", "atlas", "prod")
    assert (rec.experiment, rec.activity, rec.user_dictid) == ("atlas", "analysis", 0x40)


def test_maps_i_app_info_by_userid(emitter, collector):
    em = emitter()
    rec = one_record(em, collector, [em.user(0x40), em.info(0x43, "cmsRun/CMSSW_13")])
    assert rec.app_info == "cmsRun/CMSSW_13"


def test_maps_garbage_cgi_values_never_raise(emitter, collector):
    em = emitter()
    em.send(collector, [
        em._map("=", 0, "=/x.1:²³@h\n&port=²&site=S"),
        em._map("T", 9, "xroot/a.1:1@h\n&Uc=²&s=x"),
        em._map("U", 9, "no newline at all"),
        em._map("u", 9, "xroot/a.1:1@[zz::]\n&I=&h=[::1"),
    ])  # fmt: skip
    assert collector.report().malformed == 0
