"""A FreeSWITCH channel event read as CGRateS's fsevent.go reads it (agents/freeswitch/event.py)."""

from __future__ import annotations

import pytest

from pycgrates.agents.freeswitch.event import ChannelEvent, EventDefaults, compile_extra_fields, fs_array
from pycgrates.engine.template.fields import TemplateError
from pycgrates.engine.units import TimeError

SECOND = 1_000_000_000
HANGUP = {
    "Event-Name": "CHANNEL_HANGUP_COMPLETE", "Unique-ID": "e3133bf7-dcde-4daf-9663-9a79ffcef5ad",
    "FreeSWITCH-IPv4": "10.0.3.15", "Caller-Username": "1001", "Caller-Destination-Number": "1003",
    "Caller-Channel-Created-Time": "1515666344534355", "Caller-Channel-Answered-Time": "1515666347954373",
    "Hangup-Cause": "NORMAL_CLEARING", "variable_billsec": "12", "variable_answer_epoch": "1515666347",
    "variable_progress_mediamsec": "280", "variable_cgr_reqtype": "*prepaid", "variable_cgr_acd": "30",
    "variable_cgr_flags": "*resources;*accounts", "variable_sip_user_agent": "PJSUA v2.3.0 Linux",
    "variable_cgr_opts": "*sessionsDebitInterval:10s,*context:simpleauth", "variable_sip_req_user": "1003",
}
DEFAULTS = EventDefaults(tenant="cgrates.org", category="call", request_type="*rated", origin_host="fs-a")


def test_hangup_event_as_cgrates_reads_it():
    ev = ChannelEvent(HANGUP, DEFAULTS)
    cgr = ev.cgr_event()
    assert (cgr["Tenant"], cgr["Time"], cgr["APIOpts"]) == (
        "cgrates.org", "2018-01-11T10:25:44Z", {"*sessionsDebitInterval": "10s", "*context": "simpleauth"})
    assert cgr["Event"] == {
        "ToR": "*voice", "OriginID": "e3133bf7-dcde-4daf-9663-9a79ffcef5ad", "OriginHost": "fs-a",
        "Source": "FS_CHANNEL_HANGUP_COMPLETE", "RequestType": "*prepaid", "Tenant": "cgrates.org",
        "Category": "call", "Account": "1001", "Subject": "1001", "Destination": "1003",
        "SetupTime": "2018-01-11T10:25:44Z", "AnswerTime": "2018-01-11T10:25:47Z", "Usage": 12 * SECOND,
        "PDD": 280_000_000, "ACD": 30 * SECOND, "Cost": -1.0, "Route": "", "DisconnectCause": "NORMAL_CLEARING"}
    assert ev.flags == "*resources;*accounts" and ev.answered and ev.missing_parameter() == ""


def test_channel_variables_win_and_defaults_fill_in():
    ev = ChannelEvent({**HANGUP, "variable_cgr_account": "acc1", "variable_cgr_subject": "subj1",
                       "variable_cgr_destination": "+4986517174963", "variable_cgr_tenant": "tnt",
                       "variable_cgr_category": "premium", "variable_cgr_originhost": "edge1",
                       "variable_cgr_route": "supplier1", "variable_cgr_disconnectcause": "BLOCKED"}, DEFAULTS)
    e = ev.event()
    assert (e["Account"], e["Subject"], e["Destination"], e["Tenant"], e["Category"], e["OriginHost"]) == (
        "acc1", "subj1", "+4986517174963", "tnt", "premium", "edge1")
    assert (e["Route"], e["DisconnectCause"], ev.call_destination) == ("supplier1", "BLOCKED", "1003")
    bare = ChannelEvent({"Event-Name": "CHANNEL_PARK", "Unique-ID": "u1", "Caller-Username": "1001",
                         "Caller-Destination-Number": "1002", "FreeSWITCH-IPv4": "10.0.0.5",
                         "Caller-Channel-Created-Time": "0"}, EventDefaults(request_type="*rated"))
    e = bare.event()
    assert (e["RequestType"], e["OriginHost"], e["SetupTime"], e["AnswerTime"], e["Usage"]) == (
        "*rated", "10.0.0.5", "0001-01-01T00:00:00Z", "0001-01-01T00:00:00Z", 0)
    assert bare.flags is None and bare.answered      # no answer_epoch header: CGRateS terminates it


def test_calls_that_are_not_ours_are_none():
    assert ChannelEvent({**HANGUP, "variable_cgr_reqtype": "", "variable_process_cdr": "false"},
                        DEFAULTS).request_type == "*none"
    assert ChannelEvent({**HANGUP, "variable_cgr_reqtype": "", "Caller-Dialplan": "inline"},
                        DEFAULTS).request_type == "*none"
    assert ChannelEvent({**HANGUP, "Caller-Dialplan": "inline"}, DEFAULTS).request_type == "*prepaid"


def test_missing_parameters_and_bad_times():
    assert ChannelEvent({**HANGUP, "Caller-Username": ""}, DEFAULTS).missing_parameter() == "Account"
    no_dest = {k: v for k, v in HANGUP.items() if k not in ("Caller-Destination-Number", "variable_sip_req_user")}
    assert ChannelEvent(no_dest, DEFAULTS).missing_parameter() == "Destination"
    assert ChannelEvent({**no_dest, "variable_cgr_destination": "1003"},
                        DEFAULTS).missing_parameter() == "Caller-Destination-Number"
    for bad in ("yesterday", "12"):
        with pytest.raises(TimeError):
            ChannelEvent({**HANGUP, "Caller-Channel-Created-Time": bad}, DEFAULTS).cgr_event()
    # an unreadable answer time is no answer time, as in CGRateS
    assert ChannelEvent({**HANGUP, "Caller-Channel-Answered-Time": "x"}, DEFAULTS).event()["AnswerTime"] == (
        "0001-01-01T00:00:00Z")


def test_extra_fields():
    extra = compile_extra_fields(["~*req.variable_sip_user_agent:s/^(\\w+).*/${1}/", "~*req.Account{*duration}",
                                  "~*req.Hangup-Cause"], "freeswitch_agent.extra_fields")
    e = ChannelEvent(HANGUP, EventDefaults(extra_fields=extra)).event()
    assert e["variable_sip_user_agent"] == "PJSUA" and e["Hangup-Cause"] == "NORMAL_CLEARING"
    assert e["Account"] == "1001"   # a standard field stays what the event says
    for bad in ("variable_x", "~*cgreq.Account", "~*req.a;~*req.b"):
        with pytest.raises(TemplateError, match="extra_fields"):
            compile_extra_fields([bad], "freeswitch_agent.extra_fields")


def test_fs_array():
    assert fs_array(["route1:gw1", "route2"]) == "ARRAY::2|:route1:gw1|:route2"
    assert fs_array([]) == ""
