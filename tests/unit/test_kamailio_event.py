"""A Kamailio evapi event read as CGRateS's kamevent.go reads it, and the replies (agents/kamailio/event.py)."""

from __future__ import annotations

import pytest

from pycgrates.agents.kamailio.evapi import decode_event
from pycgrates.agents.kamailio.event import KamDefaults, KamEvent
from pycgrates.engine.template.dataprovider import Duration
from pycgrates.engine.units import TimeError

SECOND = 1_000_000_000
DEFAULTS = KamDefaults(tenant="cgrates.org", request_type="*rated", origin_host="kam-a")


def kam(raw: bytes) -> KamEvent:
    return KamEvent(decode_event(raw), DEFAULTS)


def test_call_end_as_cgrates_reads_it():
    ev = kam(b'{"event":"CGR_CALL_END","callid":"46c01a5c249b469e76333fc6bfa87f6a@0:0:0:0:0:0:0:0",'
             b'"from_tag":"bf71ad59","h_entry":"1063","h_id":"2491","cgr_flags":"*accounts;*cdrs",'
             b'"OriginID":"46c01a5c@x;bf71ad59","RequestType":"*prepaid","Tenant":"cgrates.com",'
             b'"Account":"1001","Destination":"1002","AnswerTime":"1419839310","Usage":"45",'
             b'"*sessionsTTL":"5s","PaypalAccount":"cgrates@paypal.com"}')
    assert ev.missing_parameter() == "" and ev.flags == "*accounts;*cdrs"
    cgr = ev.cgr_event()
    assert (cgr["Tenant"], cgr["Time"], cgr["APIOpts"]) == ("cgrates.com", "2014-12-29T07:48:30Z",
                                                            {"*sessionsTTL": "5s"})
    assert cgr["Event"] == {
        "callid": "46c01a5c249b469e76333fc6bfa87f6a@0:0:0:0:0:0:0:0", "from_tag": "bf71ad59", "h_entry": "1063",
        "h_id": "2491", "OriginID": "46c01a5c@x;bf71ad59", "RequestType": "*prepaid", "Tenant": "cgrates.com",
        "Account": "1001", "Destination": "1002", "AnswerTime": "1419839310", "Usage": 45 * SECOND,
        "PaypalAccount": "cgrates@paypal.com", "OriginHost": "kam-a", "Source": "KamailioAgent"}


def test_defaults_times_and_mandatory_fields():
    auth = kam(b'{"event":"CGR_AUTH_REQUEST","tr_index":"1","tr_label":"2","reply_route":"R","Account":"1001",'
               b'"SetupTime":"1704448800","OriginHost":"edge-1","Usage":"12.5"}')
    e = auth.event()
    assert (e["RequestType"], e["OriginHost"], e["Usage"], auth.cgr_event()["Time"]) == (
        "*rated", "edge-1", 12_500_000_000, "2024-01-05T10:00:00Z")
    assert kam(b'{"event":"CGR_CALL_START","h_entry":"1","h_id":"2","OriginID":"o","AnswerTime":"1",'
               b'"Account":"1001"}').missing_parameter() == "Destination"
    assert kam(b'{"event":"CGR_PROCESS_MESSAGE","tr_index":"1","tr_label":"2"}').missing_parameter() == ""
    assert kam(b'{"event":"CGR_PROCESS_MESSAGE","tr_index":"1","tr_label":"2","cgr_flags":"*accounts"}'
               ).missing_parameter() == "OriginID"
    assert kam(b'{"event":"CGR_PROCESS_CDR","tr_label":"2"}').missing_parameter() == "tr_index"
    assert kam(b'{"event":"CGR_PROCESS_CDR","tr_index":"1","tr_label":"2","OriginID":"x"}').cgr_event()["Time"]
    with pytest.raises(TimeError):
        kam(b'{"event":"CGR_CALL_START","AnswerTime":"soon"}').cgr_event()
    numbers = kam(b'{"event":"CGR_CALL_START","h_entry":1063,"h_id":2491}')   # numbers read as text
    assert (numbers.get("h_entry"), numbers.get("h_id")) == ("1063", "2491")


def test_replies():
    auth = kam(b'{"event":"CGR_AUTH_REQUEST","tr_index":"35215","tr_label":"852221",'
               b'"reply_route":"CGR_SESSIONAUTH_REPLY"}')
    args = {"GetAttributes": True, "GetMaxUsage": True, "AuthorizeResources": True, "GetRoutes": True,
            "ProcessThresholds": True, "ProcessStats": False}
    cgrep = {"Attributes": {"RequestType": "*prepaid", "PaypalAccount": "cgrates@paypal.com"},
             "MaxUsage": Duration(5 * 60 * SECOND + SECOND // 2), "ResourceAllocation": "ResGroup1",
             "RouteProfiles": [{"ProfileID": "R1", "Routes": [{"RouteID": "route1", "RouteParameters": "gw1"},
                                                              {"RouteID": "route2"}]}],
             "Thresholds": ["THD_1", "THD_2"], "StatQueues": ["SQ_1"], "Error": ""}
    assert auth.reply("CGR_AUTH_REPLY", args, cgrep) == {
        "Event": "CGR_SESSIONAUTH_REPLY", "TransactionIndex": "35215", "TransactionLabel": "852221",
        "Attributes": "RequestType:*prepaid,PaypalAccount:cgrates@paypal.com", "ResourceAllocation": "ResGroup1",
        "MaxUsage": 301, "Routes": "route1:gw1,route2", "Thresholds": "THD_1,THD_2", "StatQueues": "",
        "Error": ""}
    failed = auth.reply("CGR_AUTH_REPLY", error="ACCOUNT_NOT_FOUND")
    assert (failed["Error"], failed["MaxUsage"], failed["Attributes"]) == ("ACCOUNT_NOT_FOUND", 0, "")
    plain = kam(b'{"event":"CGR_AUTH_REQUEST","tr_index":"1","tr_label":"2"}')
    assert plain.reply("CGR_AUTH_REPLY", {"GetMaxUsage": True}, {"MaxUsage": Duration(1_499_999_999)})[
        "MaxUsage"] == 1                                        # rounded to the whole second, half up
