"""Every ``templates`` entry and every agent ``request_processors`` entry of the reference configs compiles.

diamagent_internal/data.json carries four stale fields (a path without prefix, a ``*contant`` type, the pre-0.10
``*handler`` type): CGRateS loads them and fails each time the processor matches; here they are config errors that
name the processor and the field. wrong_template.json is valid as a template — its mistake (a negative value for an
Unsigned32 AVP) shows only when the Diameter agent encodes the reply.
"""

from __future__ import annotations

from typing import Any

import pytest

from pycgrates.agents.request import compile_processors, process_request
from pycgrates.engine.config import load_config
from pycgrates.engine.template.dataprovider import MapDataProvider
from pycgrates.engine.template.fields import NestedAVPs, SelectorDataProvider, TemplateError, compile_named_templates
from tests.conftest import reference_config_dirs, shared_data

AGENT_SECTIONS = ("diameter_agent", "radius_agent", "dns_agent", "sip_agent", "http_agent", "janus_agent")
REQUEST_TYPES = {"radius_agent": ("*radauth",)}
SAMPLES = reference_config_dirs() or ["tutinternal"]

#: (sample, processor id) → (field tag, what the error says)
_STALE_FIELDS = {
    "data_init": ("Category", "must start with a prefix"),
    "data_update_grp1": ("Category", "unsupported type <*contant>"),
    "data_update_grp2": ("OriginID", "must start with a prefix"),
    "data_terminate": ("LastUsed", "unsupported type <*handler>"),
}
KNOWN_BROKEN = {
    **{("diamagent_internal", pid): broken for pid, broken in _STALE_FIELDS.items()},
    **{("dispatchers/diamagent", pid): _STALE_FIELDS[pid] for pid in ("data_update_grp1", "data_terminate")},
}


def processors_of(cfg: Any) -> list[tuple[str, dict]]:
    out = []
    for section in AGENT_SECTIONS:
        data = cfg.data.get(section)
        for agent in data if isinstance(data, list) else [data]:
            out.extend((section, p) for p in (agent or {}).get("request_processors") or [])
    return out


def load(sample: str) -> Any:
    return load_config(shared_data("conf", "samples", *sample.split("/")))


@pytest.mark.parametrize("sample", SAMPLES)
def test_reference_templates_compile(sample: str) -> None:
    cfg = load(sample)
    templates = compile_named_templates(cfg.section("templates"))
    assert {"*err", "*cca", "*asr", "*rar", "*dmr", "*coa", "*cdrLog"} <= set(templates)
    broken_seen = set()
    for section, raw in processors_of(cfg):
        key = (sample, raw.get("id"))
        types = REQUEST_TYPES.get(section, ())
        if key in KNOWN_BROKEN:
            tag, needle = KNOWN_BROKEN[key]
            with pytest.raises(TemplateError) as err:
                compile_processors([raw], section=section, templates=templates, request_types=types)
            assert f"{section} request processor <{raw['id']}>" in str(err.value)
            assert f"field <{tag}>: " in str(err.value) and needle in str(err.value)
            broken_seen.add(key)
        else:
            (proc,) = compile_processors([raw], section=section, templates=templates, request_types=types)
            assert proc.request_type
    assert broken_seen == {k for k in KNOWN_BROKEN if k[0] == sample}


def sample_processors(sample: str, section: str, *ids: str, agent: int | None = None):
    cfg = load(sample)
    templates = compile_named_templates(cfg.section("templates"))
    data = cfg.data[section] if agent is None else cfg.data[section][agent]
    raw = [p for p in data["request_processors"] if not ids or p["id"] in ids]
    return compile_processors(raw, section=section, templates=templates, request_types=REQUEST_TYPES.get(section, ()))


class SessionS:
    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls: list[tuple[str, Any]] = []

    async def call(self, method: str, args: Any, timeout: float | None = None) -> Any:
        self.calls.append((method, args.to_json() if hasattr(args, "to_json") else args))  # as it would go out
        return self.replies.get(method, "OK")


async def test_http_agent_dryrun_sample() -> None:
    procs = sample_processors("httpagent_internal", "http_agent", "OutboundAUTHDryRun", agent=0)
    req = MapDataProvider({"request_type": "OutboundAUTH", "Msisdn": "497700056231", "MCC": "2"})
    reply, processed = await process_request(procs, req, {}, None, tenant_default="cgrates.org")
    assert processed
    assert reply.to_dict() == {"response": {"Allow": "1", "Concatenated": "2/Val1", "MaxDuration": "1200"}}


async def test_dns_agent_routes_chain_sample() -> None:
    procs = sample_processors("dnsagent_internal", "dns_agent")
    sessions = SessionS({"SessionSv1.ProcessMessage": {"RouteProfiles": [{"ProfileID": "ROUTE_ACNT_1001", "Routes": [
        {"RouteID": "route1", "RouteParameters": "!^(.*)$!sip:\\1@172.16.1.11!"},
        {"RouteID": "route2", "RouteParameters": "!^(.*)$!sip:\\1@172.16.1.12!"}]}]}})
    vars = {"QueryType": "NAPTR", "QueryName": "5.6.9.4.7.1.7.1.5.6.8.9.4.e164.arpa."}
    reply, processed = await process_request(procs, MapDataProvider({}), vars, sessions,
                                             tenant_default="cgrates.org")
    assert processed
    assert sessions.calls[0][0] == "SessionSv1.ProcessMessage" and sessions.calls[0][1]["Event"]["Account"] == "1001"
    answers = reply.to_dict()["Answer"]
    assert answers["Regexp"][-2:] == ["!^(.*)$!sip:\\1@172.16.1.11!", "!^(.*)$!sip:\\1@172.16.1.12!"]
    assert [leaf.new_branch for leaf in reply.leaves() if leaf.path == ("Answer", "Order")][-2:] == [False, True]


def ccr(**avps: Any) -> SelectorDataProvider:
    base = {"Session-Id": "bb97be2b", "Origin-Host": "CGR-DA", "Origin-Realm": "cgrates.org", "CC-Request-Number": 1,
            "Event-Timestamp": "2018-10-05T11:43:10Z",
            "Subscription-Id": [{"Subscription-Id-Type": 0, "Subscription-Id-Data": "1006"}]}
    return SelectorDataProvider(NestedAVPs({**base, **avps}))


async def test_diameter_session_disconnect_sample() -> None:
    procs = sample_processors("diamagent_internal", "diameter_agent", "TestSessionDisconnect")
    sessions = SessionS({"SessionSv1.InitiateSession": {"MaxUsage": 120_000_000_000}})
    req = ccr(**{"CC-Request-Type": 1, "Service-Context-Id": "testSessionDisconnect",
                 "Service-Information": {"IN-Information": {"Calling-Party-Address": "1006",
                                                            "Real-Called-Number": "1002"}},
                 "Requested-Service-Unit": {"CC-Time": 120}})
    reply, processed = await process_request(procs, req, {"*cmd": "CCR", "*appid": 4, "OriginHost": "CGR-DA",
                                                          "OriginRealm": "cgrates.org"}, sessions,
                                             tenant_default="cgrates.org")
    assert processed
    args = sessions.calls[0][1]
    assert args["Event"]["Usage"] == "120s" and args["APIOpts"] == {"*sessionsDebitInterval": "1s"}
    assert reply.to_dict()["Granted-Service-Unit"] == {"CC-Time": "120"}
    assert reply.to_dict()["Result-Code"] == "2001"


async def test_diameter_wrong_template_sample() -> None:
    procs = sample_processors("diamagent_internal", "diameter_agent", "ErrorProcessing")
    sessions = SessionS({"SessionSv1.ProcessEvent": {"MaxUsage": {"*default": 0}}})
    req = ccr(**{"CC-Request-Type": 4, "Service-Context-Id": "error@3gpp.org", "Requested-Service-Unit": {
        "CC-Time": 1}, "Service-Information": {"SMS-Information": {"Recipient-Address": {"Address-Data": "1003"}}}})
    reply, processed = await process_request(procs, req, {"*cmd": "CCR", "*appid": 4, "OriginHost": "CGR-DA",
                                                          "OriginRealm": "cgrates.org"}, sessions,
                                             tenant_default="cgrates.org")
    assert processed and sessions.calls[0][1]["Flags"] == ["*event", "*accounts"]
    # the blocker stops after the field the Diameter encoder will refuse
    assert reply.to_dict()["Granted-Service-Unit"] == {"CC-Total": "-10"}
    assert list(reply.leaves())[-1].path == ("Granted-Service-Unit", "CC-Total")

