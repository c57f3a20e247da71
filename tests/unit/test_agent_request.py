"""AgentRequest and process_request: processors, flags → SessionS calls, *cgrep, *continue, *dryrun, errors.

SessionS is played by a small in-process peer that records each call and answers CGRateS-shaped replies.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest

from pycgrates.agents.processors import Flags, build_call, reply_map
from pycgrates.agents.request import (
    AgentRequest,
    RequestError,
    build_message,
    compile_processor,
    compile_processors,
    process_request,
)
from pycgrates.engine.models.event import CGREvent
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.template.dataprovider import Duration, MapDataProvider
from pycgrates.engine.template.fields import NestedAVPs, SelectorDataProvider, TemplateError, compile_named_templates

TEMPLATES = compile_named_templates({
    "*cca": [
        {"tag": "SessionId", "path": "*rep.Session-Id", "type": "*variable", "value": "~*req.Session-Id",
         "mandatory": True},
        {"tag": "ResultCode", "path": "*rep.Result-Code", "type": "*constant", "value": "2001"},
    ],
    "*err": [
        {"tag": "SessionId", "path": "*rep.Session-Id", "type": "*variable", "value": "~*req.Session-Id",
         "mandatory": True},
        {"tag": "ErrorMessage", "path": "*rep.Error-Message", "type": "*variable", "value": "~*cgrep.Error"},
    ],
})


class SessionS:
    """A SessionS peer: records calls, answers canned replies (or raises the error given for a method)."""

    def __init__(self, replies: dict[str, Any] | None = None, errors: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.replies = replies or {}
        self.errors = errors or {}

    async def call(self, method: str, args: Any, timeout: float | None = None) -> Any:
        self.calls.append((method, args.to_json() if hasattr(args, "to_json") else args))  # as it would go out
        if method in self.errors:
            raise RPCError(self.errors[method])
        return self.replies.get(method, "OK")

    @property
    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


def processor(pid: str = "P", flags: list[str] | None = None, filters: list[str] | None = None,
              request_fields: list[dict] | None = None, reply_fields: list[dict] | None = None, **extra: Any) -> dict:
    return {"id": pid, "flags": flags or ["*none"], "filters": filters or [], "request_fields": request_fields or [],
            "reply_fields": reply_fields or [], **extra}


def compile_all(*raw: dict, **kw: Any):
    return compile_processors(list(raw), section="test_agent", templates=TEMPLATES, **kw)


GY_INIT = {
    "Session-Id": "sess-1", "Origin-Host": "pcef.example.org", "Origin-Realm": "example.org",
    "Destination-Realm": "cgrates.org", "Auth-Application-Id": 4, "Service-Context-Id": "32251@3gpp.org",
    "CC-Request-Type": 1, "CC-Request-Number": 0, "Event-Timestamp": "2024-01-01T10:00:00Z",
    "Subscription-Id": [{"Subscription-Id-Type": 0, "Subscription-Id-Data": "4986517174963"},
                        {"Subscription-Id-Type": 1, "Subscription-Id-Data": "1001"}],
    "Requested-Service-Unit": {"CC-Time": 300},
    "Multiple-Services-Credit-Control": [{"Rating-Group": 1, "Requested-Service-Unit": {"CC-Total-Octets": 1000}}],
    "Service-Information": {"PS-Information": {"Called-Station-Id": "internet", "3GPP-SGSN-MCC-MNC": "26201"}},
}
GY_VARS = {"*cmd": "CCR", "*appid": 4, "OriginHost": "cgr.example.org", "OriginRealm": "example.org"}


def gy_processor(flags: list[str] | None = None, **extra: Any) -> dict:
    req = [
        ("ToR", "*constant", "*data"), ("OriginID", "*variable", "~*req.Session-Id"),
        ("OriginHost", "*variable", "~*req.Origin-Host"), ("RequestType", "*constant", "*prepaid"),
        ("Category", "*constant", "data"),
        ("Account", "*variable", "~*req.Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(1)]"),
        ("Subject", "*variable", "~*req.Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(1)]"),
        ("Destination", "*variable", "~*req.Service-Information.PS-Information.Called-Station-Id"),
        ("SetupTime", "*variable", "~*req.Event-Timestamp"), ("AnswerTime", "*variable", "~*req.Event-Timestamp"),
        ("Usage", "*variable", "~*req.Requested-Service-Unit.CC-Time:s/(.*)/${1}s/"),
        ("RatingGroup", "*variable", "~*req.Multiple-Services-Credit-Control.Rating-Group"),
        ("RequestedOctets", "*variable",
         "~*req.Multiple-Services-Credit-Control.Requested-Service-Unit.CC-Total-Octets[~Rating-Group(1)]"),
        ("MCCMNC", "*variable", "~*req.Service-Information.PS-Information.3GPP-SGSN-MCC-MNC"),
        ("Imsi", "*variable", "~*req.Subscription-Id.Subscription-Id-Data[~Subscription-Id-Type(0)]"),
        ("ContextID", "*variable", "~*req.Service-Context-Id"),
        ("ReqNumber", "*variable", "~*req.CC-Request-Number"),
        ("RealmFrom", "*composed", "~*req.Origin-Realm;`/`;~*req.Destination-Realm"),
        ("AppID", "*variable", "~*vars.*appid"),
    ]
    fields = [{"tag": t, "path": f"*cgreq.{t}", "type": ty, "value": v, "mandatory": t in ("OriginID", "Account")}
              for t, ty, v in req]
    fields.append({"tag": "DebitInterval", "path": "*opts.*sessionsDebitInterval", "type": "*constant",
                   "value": "5m"})
    reply = [
        {"tag": "SessionId", "path": "*rep.Session-Id", "type": "*variable", "value": "~*req.Session-Id"},
        {"tag": "ResultCode", "path": "*rep.Result-Code", "type": "*constant", "value": "2001"},
        {"tag": "ResultCode", "path": "*rep.Result-Code", "type": "*constant", "value": "5030", "blocker": True,
         "filters": ["*notempty:~*cgrep.Error:"]},
        {"tag": "OriginHost", "path": "*rep.Origin-Host", "type": "*variable", "value": "~*vars.OriginHost"},
        {"tag": "GrantedTime", "path": "*rep.Multiple-Services-Credit-Control.Granted-Service-Unit.CC-Time",
         "type": "*variable", "value": "~*cgrep.MaxUsage{*duration_seconds&*round:0}", "new_branch": True,
         "filters": ["*gte:~*cgrep.MaxUsage:0s"]},
    ]
    return processor("GyInit", flags or ["*initiate", "*accounts"], [
        "*string:~*vars.*cmd:CCR", "*string:~*req.CC-Request-Type:1", "*suffix:~*req.Service-Context-Id:3gpp.org"],
        fields, reply, **extra)


def gy_request() -> SelectorDataProvider:
    return SelectorDataProvider(NestedAVPs(GY_INIT))


async def gy_run(procs, sessions: SessionS, **kw: Any):
    return await process_request(procs, gy_request(), dict(GY_VARS), sessions, tenant_default="cgrates.org", **kw)


# ---------------------------------------------------------------------------------------------------- compiling


def test_processor_errors_name_processor_and_field() -> None:
    with pytest.raises(TemplateError, match=r"test_agent request processor <P>: flags \['\*log'\] name no request"):
        compile_all(processor(flags=["*log"]))
    with pytest.raises(TemplateError, match=r"<P> request_fields: field <Cat>: unsupported type <\*contant>"):
        compile_all(processor(request_fields=[{"tag": "Cat", "path": "*cgreq.C", "type": "*contant"}]))
    with pytest.raises(TemplateError, match=r"<P> reply_fields: field <X>: unsupported field prefix <\*radDAReq>"):
        compile_all(processor(reply_fields=[{"tag": "X", "path": "*radDAReq.X", "value": "1"}]))
    assert compile_all(processor(flags=["*radauth"]), request_types=["*radauth"])[0].request_type == "*radauth"
    assert compile_all(processor(reply_fields=[{"tag": "X", "path": "*radDAReq.X", "value": "1"}]),
                       prefixes=["*radDAReq"])
    with pytest.raises(TemplateError, match="<P>: filter"):
        compile_all(processor(filters=["*gt:"]))


def test_flags_with_params() -> None:
    f = Flags(["*authorize", "*attributes:*ids:ATTR1&ATTR2", "*routes_maxcost:10", "*cdrs:false", "*accounts"])
    assert f.request_type() == "*authorize"
    assert f.ids("*attributes") == ["ATTR1", "ATTR2"]
    assert f.value("*routes_maxcost") == "10"
    assert f.get_bool("*attributes") and not f.get_bool("*cdrs") and not f.has("*continue")
    assert Flags(["*log", "*dryrun", "*initiate"]).request_type() == "*dryrun"


def test_build_call_shapes() -> None:
    def event(**opts: Any) -> CGREvent:
        return CGREvent(Tenant="t", ID="i", Event={"Account": "1001"}, APIOpts=dict(opts))

    method, args, needs = build_call("*authorize", Flags(["*authorize", "*accounts", "*routes", "*fd",
                                                          "*routes_event_cost"]), event(**{"*routesLimit": "2"}))
    assert method.name == "SessionSv1.AuthorizeEvent" and needs
    assert args.GetMaxUsage and args.GetRoutes and args.ForceDuration and args.to_json()["Limit"] == 2
    assert args.RoutesMaxCost == "*event_cost" and args.APIOpts == {} and args.Event == {"Account": "1001"}
    assert build_call("*update", Flags(["*update"]), event())[1].UpdateSession is False
    term = build_call("*terminate", Flags(["*terminate", "*accounts", "*resources"]), event())[1]
    assert term.TerminateSession is True and term.ReleaseResources is True
    m, args, _ = build_call("*event", Flags(["*event", "*rals:*initiate"]), event())
    assert m.name == "SessionSv1.ProcessEvent" and args.Flags == ["*event", "*rals:*initiate"]


def test_reply_map_as_cgrates_maps_replies() -> None:
    rep = reply_map("*authorize", {
        "MaxUsage": 10_800_000_000_000, "ResourceAllocation": "RES1", "ThresholdIDs": ["TH1"],
        "Attributes": {"AlteredFields": ["*req.Password", "*req.Nope"], "Event": {"Password": "secret"}},
        "RouteProfiles": [{"ProfileID": "R1", "Routes": [{"RouteID": "r1"}]}]}, True)
    assert rep == {"Attributes": {"Password": "secret"}, "ResourceAllocation": "RES1",
                   "MaxUsage": Duration(10_800_000_000_000), "Thresholds": ["TH1"],
                   "RouteProfiles": [{"ProfileID": "R1", "Routes": [{"RouteID": "r1"}]}], "Error": ""}
    assert str(rep["MaxUsage"]) == "3h0m0s"
    assert reply_map("*initiate", {"MaxUsage": None}, True)["MaxUsage"] == Duration(0)
    ev = reply_map("*event", {"MaxUsage": {"*default": 5}, "Attributes": {
        "*raw": {"AlteredFields": ["*req.X"], "CGREvent": {"Event": {"X": "1"}}}}}, False)
    assert ev == {"MaxUsage": {"*default": Duration(5)}, "Attributes": {"*raw": {"X": "1"}}, "Error": ""}


# ---------------------------------------------------------------------------------------------------- processing


async def test_gy_initiate_calls_sessions_and_answers() -> None:
    sessions = SessionS({"SessionSv1.InitiateSession": {"MaxUsage": 300_000_000_000}})
    reply, processed = await gy_run(compile_all(gy_processor()), sessions)
    assert processed
    [(method, args)] = sessions.calls
    assert method == "SessionSv1.InitiateSession"
    assert args["InitSession"] is True and args["GetAttributes"] is False and args["Tenant"] == "cgrates.org"
    assert args["APIOpts"] == {"*sessionsDebitInterval": "5m"}
    ev = args["Event"]
    assert ev["Account"] == "1001" and ev["Imsi"] == "4986517174963" and ev["Usage"] == "300s"
    assert ev["RequestedOctets"] == "1000" and ev["RealmFrom"] == "example.org/cgrates.org" and ev["AppID"] == "4"
    assert [(leaf.path, leaf.value, leaf.new_branch) for leaf in reply.leaves()] == [
        (("Session-Id",), "sess-1", False), (("Result-Code",), "2001", False),
        (("Origin-Host",), "cgr.example.org", False),
        (("Multiple-Services-Credit-Control", "Granted-Service-Unit", "CC-Time"), "300", True)]


async def test_sessions_errors_land_in_cgrep_for_the_reply_fields() -> None:
    sessions = SessionS(errors={"SessionSv1.InitiateSession": "RALS_ERROR:INSUFFICIENT_CREDIT"})
    reply, processed = await gy_run(compile_all(gy_processor()), sessions)
    assert processed
    assert reply.to_dict() == {"Session-Id": "sess-1", "Result-Code": "5030"}  # the blocker stopped there


async def test_filters_that_do_not_pass_leave_the_request_unprocessed() -> None:
    sessions = SessionS()
    procs = compile_all(processor("Other", ["*initiate"], ["*string:~*req.CC-Request-Type:3"]))
    reply, processed = await gy_run(procs, sessions)
    assert not processed and not reply and not sessions.calls


async def test_continue_carries_cgrep_vars_and_reply_to_the_next_processor() -> None:
    sessions = SessionS({"SessionSv1.ProcessMessage": {"RouteProfiles": [{"ProfileID": "RP", "Routes": [
        {"RouteID": "r1", "RouteParameters": "sip:1@a"}, {"RouteID": "r2", "RouteParameters": "sip:1@b"}]}]}})
    procs = compile_all(
        processor("Query", ["*message", "*routes", "*continue"],
                  request_fields=[{"tag": "Acc", "path": "*cgreq.Account", "type": "*constant", "value": "1001"},
                                  {"tag": "Seen", "path": "*vars.Seen", "type": "*constant", "value": "yes"}]),
        processor("Two", ["*none", "*continue"], ["*gte:~*cgrep.RouteProfiles[0].Routes.Length:2",
                                                  "*string:~*vars.Seen:yes"],
                  reply_fields=[{"tag": "R", "path": "*rep.Answer.Regexp", "type": "*group",
                                 "value": "~*cgrep.RouteProfiles[0].Routes[0].RouteParameters"},
                                {"tag": "R", "path": "*rep.Answer.Regexp", "type": "*group", "new_branch": True,
                                 "value": "~*cgrep.RouteProfiles[*raw][0].Routes[1].RouteParameters"}]),
        processor("Last", ["*none"], reply_fields=[{"tag": "Done", "path": "*rep.Done", "type": "*constant",
                                                    "value": "1"}]),
        processor("NeverReached", ["*none"], reply_fields=[{"tag": "No", "path": "*rep.No", "type": "*constant",
                                                            "value": "1"}]),
    )
    reply, processed = await gy_run(procs, sessions)
    assert processed and sessions.methods == ["SessionSv1.ProcessMessage"]
    assert sessions.calls[0][1]["GetRoutes"] is True
    assert reply.to_dict() == {"Answer": {"Regexp": ["sip:1@a", "sip:1@b"]}, "Done": "1"}


async def test_dryrun_logs_and_answers_without_calling(caplog: pytest.LogCaptureFixture) -> None:
    sessions = SessionS()
    procs = compile_all(processor("Dry", ["*dryrun", "*cdrs"], reply_fields=[
        {"tag": "Allow", "path": "*rep.response.Allow", "type": "*constant", "value": "1"}]))
    with caplog.at_level(logging.INFO, logger="cgr.agents"):
        reply, processed = await gy_run(procs, sessions, agent="DiameterAgent")
    assert processed and not sessions.calls and reply.to_dict() == {"response": {"Allow": "1"}}
    assert "<DiameterAgent> DRY_RUN, processorID: Dry" in caplog.text and "sess-1" in caplog.text


async def test_log_flag_logs_request_and_reply(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="cgr.agents"):
        await gy_run(compile_all(processor("Logged", ["*none", "*log"])), SessionS())
    assert caplog.text.count("LOG, processorID: Logged") == 2


async def test_terminate_then_cdrs() -> None:
    sessions = SessionS()
    procs = compile_all(processor("Term", ["*terminate", "*accounts", "*cdrs"], request_fields=[
        {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.Session-Id"}]))
    await gy_run(procs, sessions)
    assert sessions.methods == ["SessionSv1.TerminateSession", "SessionSv1.ProcessCDR"]
    assert sessions.calls[0][1]["TerminateSession"] is True
    assert sessions.calls[1][1]["Event"] == {"OriginID": "sess-1"}


class Report:
    """Records what the pipeline reports of the sessions it started and ended."""

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def started(self, key: tuple[str, str], args: Any) -> None:
        self.events.append(("started", key, args.Event["Account"]))

    def ended(self, key: tuple[str, str], args: Any) -> None:
        self.events.append(("ended", key))


async def test_sessions_started_and_ended_are_reported() -> None:
    report = Report()
    accepted = SessionS({"SessionSv1.InitiateSession": {"MaxUsage": 300_000_000_000}})
    await gy_run(compile_all(gy_processor()), accepted, report=report)
    await gy_run(compile_all(gy_processor(["*initiate"])), accepted, report=report)  # no *accounts: no session
    refused = SessionS(errors={"SessionSv1.InitiateSession": "RALS_ERROR:INSUFFICIENT_CREDIT"})
    await gy_run(compile_all(gy_processor()), refused, report=report)
    terminate = compile_all(processor("Term", ["*terminate", "*accounts"], request_fields=[
        {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.Session-Id"},
        {"tag": "OriginHost", "path": "*cgreq.OriginHost", "type": "*variable", "value": "~*req.Origin-Host"}]))
    await gy_run(terminate, SessionS(errors={"SessionSv1.TerminateSession": "NOT_FOUND"}), report=report)
    await gy_run(terminate, accepted, report=report)
    assert report.events == [("started", ("pcef.example.org", "sess-1"), "1001"),
                             ("ended", ("pcef.example.org", "sess-1"))]


async def test_an_agent_output_is_writable_only_where_the_agent_declares_it() -> None:
    asr = processor("Asr", request_fields=[{"tag": "S", "path": "*diamreq.Session-Id", "type": "*variable",
                                            "value": "~*req.Session-Id"}],
                    reply_fields=[{"tag": "C", "path": "*rep.Copied", "type": "*variable",
                                   "value": "~*diamreq.Session-Id"}])
    with pytest.raises(TemplateError, match=r"unsupported field prefix <\*diamreq>"):
        compile_all(asr)
    reply, processed = await gy_run(compile_all(asr, prefixes=["*diamreq"]), SessionS(), outputs=["*diamreq"])
    assert processed and reply.to_dict() == {"Copied": "sess-1"}


async def test_cdr_errors_and_message_usage() -> None:
    sessions = SessionS({"SessionSv1.ProcessMessage": {"MaxUsage": 1}}, {"SessionSv1.ProcessCDR": "SERVER_ERROR"})
    procs = compile_all(processor("Msg", ["*message", "*accounts", "*cdrs"], request_fields=[
        {"tag": "Usage", "path": "*cgreq.Usage", "type": "*constant", "value": "10"}], reply_fields=[
        {"tag": "E", "path": "*rep.Err", "type": "*variable", "value": "~*cgrep.Error"}]))
    reply, _ = await gy_run(procs, sessions)
    assert sessions.calls[1][1]["Event"]["Usage"] == 1  # the CDR carries what was debited
    assert reply.to_dict() == {"Err": "SERVER_ERROR"}


async def test_event_replies_keep_their_runs() -> None:
    sessions = SessionS({"SessionSv1.ProcessEvent": {"MaxUsage": {"*default": 60_000_000_000}, "Attributes": {
        "*default": {"AlteredFields": ["*req.SipURI"], "Event": {"SipURI": "sip:x"}}}}})
    procs = compile_all(processor("Ev", ["*event", "*attributes", "*rals:*authorize"], reply_fields=[
        {"tag": "U", "path": "*rep.Usage", "type": "*variable", "value": "~*cgrep.MaxUsage[*raw]{*duration_seconds}"},
        {"tag": "S", "path": "*rep.Uri", "type": "*variable", "value": "~*cgrep.Attributes[*raw].SipURI"}]))
    reply, _ = await gy_run(procs, sessions)
    assert reply.to_dict() == {"Usage": "60", "Uri": "sip:x"}


async def test_tenant_template_and_timezone() -> None:
    sessions = SessionS()
    procs = compile_all(processor("T", ["*initiate"], tenant="~*req.Destination-Realm", timezone="Europe/Berlin",
                                  request_fields=[{"tag": "U", "path": "*cgreq.Unix", "type": "*datetime",
                                                   "value": "1704103200", "layout": "15:04"}]))
    await gy_run(procs, sessions)
    assert sessions.calls[0][1]["Tenant"] == "cgrates.org" == sessions.calls[0][1]["Tenant"]
    assert sessions.calls[0][1]["Event"]["Unix"] == "11:00"


async def test_template_failures_raise_request_error_for_the_error_template() -> None:
    procs = compile_all(processor("Strict", ["*initiate"], request_fields=[
        {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.No-Such-AVP",
         "mandatory": True}]))
    sessions = SessionS()
    with pytest.raises(RequestError) as err:
        await gy_run(procs, sessions)
    assert err.value.processor_id == "Strict" and err.value.message == "MANDATORY_IE_MISSING: [Account]"
    assert not sessions.calls
    ar = await build_message(TEMPLATES["*err"], gy_request(), dict(GY_VARS), error=err.value)
    assert ar.reply.to_dict() == {"Session-Id": "sess-1", "Error-Message": "MANDATORY_IE_MISSING: [Account]"}


async def test_agent_request_types_and_outputs() -> None:
    async def radauth(ar: AgentRequest) -> None:
        ok = ar.field_as_string(("*req", "User-Password")) == ar.vars.get("UserPassword")
        ar.cgr_reply = {"Error": "" if ok else "PASSWORD_MISMATCH"}

    procs = compile_all(processor("Auth", ["*radauth", "*pap"], request_fields=[
        {"tag": "Pwd", "path": "*vars.UserPassword", "type": "*constant", "value": "secret"}], reply_fields=[
        {"tag": "Code", "path": "*rep.*radReplyCode", "type": "*constant", "value": "AccessReject",
         "filters": ["*notempty:~*cgrep.Error:"]},
        {"tag": "DA", "path": "*radDAReq.User-Name", "type": "*variable", "value": "~*oreq.User-Name"}]),
        request_types=["*radauth"], prefixes=["*radDAReq"])
    reply, processed = await process_request(
        procs, MapDataProvider({"User-Password": "wrong"}), {}, None, tenant_default="cgrates.org",
        handlers={"*radauth": radauth}, outputs=["*radDAReq"],
        providers={"*oreq": MapDataProvider({"User-Name": "1001"})})
    assert processed and reply.to_dict() == {"*radReplyCode": "AccessReject"}


async def test_missing_sessions_conn_is_an_error_in_cgrep() -> None:
    procs = compile_all(processor("NoConn", ["*authorize", "*accounts"], reply_fields=[
        {"tag": "E", "path": "*rep.E", "type": "*variable", "value": "~*cgrep.Error"}]))
    reply, _ = await process_request(procs, gy_request(), {}, None, tenant_default="cgrates.org")
    assert reply.to_dict() == {"E": "MANDATORY_IE_MISSING: [connIDs]"}


def test_compiled_processor_is_reused() -> None:
    proc = compile_processor(gy_processor(), section="diameter_agent", templates=TEMPLATES)
    assert proc.id == "GyInit" and len(proc.request_fields) == 20 and len(proc.reply_fields) == 5


# ---------------------------------------------------------------------------------------------------- timing


async def test_gy_initiate_cost_per_request() -> None:
    """A Gy CCR-I (3 processor filters, 20 request fields, 5 reply fields) through the whole pipeline."""
    procs = compile_all(gy_processor())
    sessions = SessionS({"SessionSv1.InitiateSession": {"MaxUsage": 300_000_000_000}})
    for _ in range(200):
        await gy_run(procs, sessions)
    n = 3000
    start = time.perf_counter()
    for _ in range(n):
        await process_request(procs, gy_request(), dict(GY_VARS), sessions, tenant_default="cgrates.org")
    per_request = (time.perf_counter() - start) / n * 1e6
    print(f"process_request Gy CCR-I: {per_request:.1f} µs/request")
    assert per_request < 2000
