"""The HTTP agent against a real cgr-engine on CGRateS's httpagent_internal sample with the oldtutorial tariff plan:
the URL and XML requests answered as agents/httpagent_it_test.go expects (the XML and text replies, the CDRs they
write), and, from an entry of this test, a *json request with a *json reply."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from decimal import Decimal

import pytest

from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

JSON_ENTRY = {
    "id": "json_api", "url": "/json_api", "sessions_conns": ["*localhost"], "request_payload": "*json",
    "reply_payload": "*json",
    "request_processors": [{
        "id": "Authorize", "filters": ["*string:~*req.kind:auth"], "tenant": "cgrates.org",
        "flags": ["*authorize", "*accounts"],
        "request_fields": [
            {"tag": "RequestType", "path": "*cgreq.RequestType", "type": "*constant", "value": "*pseudoprepaid"},
            {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.call.id",
             "mandatory": True},
            {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.call.legs[0].msisdn",
             "mandatory": True},
            {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.call.to",
             "mandatory": True},
            {"tag": "SetupTime", "path": "*cgreq.SetupTime", "type": "*constant", "value": "*now"}],
        "reply_fields": [
            {"tag": "Allow", "path": "*rep.result.allow", "type": "*constant", "value": "1"},
            {"tag": "MaxDuration", "path": "*rep.result.max_seconds", "type": "*variable",
             "value": "~*cgrep.MaxUsage{*duration_seconds}", "mandatory": True},
            {"tag": "Error", "path": "*rep.result.error", "type": "*variable", "value": "~*cgrep.Error",
             "filters": ["*notempty:~*cgrep.Error:"]}],
    }],
}


@dataclass
class HttpEngine:
    engine: EngineProcess
    base: str

    def get(self, path: str) -> tuple[int, str, bytes]:
        return self.request(urllib.request.Request(self.base + path))

    def post(self, path: str, body: bytes, content_type: str) -> tuple[int, str, bytes]:
        return self.request(urllib.request.Request(self.base + path, data=body,
                                                   headers={"Content-Type": content_type}))

    @staticmethod
    def request(req: urllib.request.Request) -> tuple[int, str, bytes]:
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, resp.headers.get("Content-Type", ""), resp.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.fixture(scope="module")
def http(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("httpagent")
    rpc, port = free_port(), free_port()
    overrides = storage_overrides(tmp, rpc, port)
    overrides["http_agent"] = [JSON_ENTRY]
    cfg = make_config_dir(tmp / "cfg", shared_data("conf", "samples", "httpagent_internal"), overrides=overrides)
    eng = EngineProcess(cfg, rpc, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        yield HttpEngine(eng, f"http://127.0.0.1:{port}")
    finally:
        eng.kill()


AUTH_QUERY = ("request_type=OutboundAUTH&CallID=123456&Msisdn={msisdn}&Imsi=2343000000000123&Destination={dest}"
              "&MSRN=0102220233444488999&ProfileID=1&AgentID=176&GlobalMSISDN=497700056129&GlobalIMSI=214180000175129"
              "&ICCID=8923418450000089629&MCC=234&MNC=10&calltype=callback")


def test_auth_dry_run_answers_the_xml_of_the_templates(http):
    status, ctype, body = http.get("/conecto?" + AUTH_QUERY.format(msisdn="497700056231", dest="491239440004"))
    assert status == 200 and ctype.startswith("text/xml")
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <Allow>1</Allow>\n'
                    b"  <Concatenated>234/Val1</Concatenated>\n  <MaxDuration>1200</MaxDuration>\n</response>")


def test_auth_gives_the_max_duration_of_the_account(http):
    assert http.engine.call("APIerSv2.SetBalance", {
        "Tenant": "cgrates.org", "Account": "20002", "BalanceType": "*voice", "Value": 60 * 10**9,
        "Balance": {"ID": "TestDynamicDebitBalance", "RatingSubject": "*zero5ms"}}) == "OK"
    status, _, body = http.get("/conecto?" + AUTH_QUERY.format(msisdn="20002", dest="1002"))
    assert status == 200
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <Allow>1</Allow>\n'
                    b"  <MaxDuration>60</MaxDuration>\n</response>")


def test_cdr_from_the_url_is_rated(http):
    query = ("request_type=MTCALL_CDR&timestamp=2018-08-14%2012:03:22&call_date=2018-0814%2012:00:49"
             "&transactionid=10000&CDR_ID=123456&carrierid=1&mcc=0&mnc=0&imsi=434180000000000&msisdn=1001"
             "&destination=1002&leg=C&leg_duration=185&reseller_charge=11.1605&client_charge=0.0000"
             "&user_charge=22.0000&IOT=0&user_balance=10.00&cli=%2B498702190000&polo=0.0100&ddi_map=N")
    status, _, body = http.get("/conecto?" + query)
    assert status == 200
    assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<CDR_RESPONSE>\n  <CDR_ID>123456</CDR_ID>\n'
                    b"  <CDR_STATUS>1</CDR_STATUS>\n</CDR_RESPONSE>")
    [cdr] = http.engine.call("CDRsV1.GetCDRs", {"RunIDs": ["*default"], "OriginIDs": ["123456"]})
    assert cdr["Usage"] == 185 * 10**9 and cdr["OriginHost"] == "127.0.0.1"  # 3m5s
    assert round(Decimal(str(cdr["Cost"])), 4) == Decimal("0.2188")


XML_CDR = (b'<?xml version="1.0" encoding="utf-8"?><complete-datasession-notification callid="48981764">'
           b"<createtime>2005-08-26T14:17:34</createtime><reference>Data</reference><userid>528594</userid>"
           b"<username>447700086788</username><customerid>510163</customerid><companyname>Silliname</companyname>"
           b'<totalcost amount="0.1400" currency="USD">0.1400</totalcost><agenttotalcost amount="0.1400" '
           b'currency="USD">0.1400</agenttotalcost><agentid>234</agentid><callleg calllegid="89357336"><number>'
           b"447700086788</number><description>China, Peoples Republic of - China Unicom (CU-GSM)</description>"
           b"<mcc>460</mcc><mnc>001</mnc><seconds>32</seconds><bytes>4558</bytes><permegabyterate  currency=\"USD\">"
           b'1.3330</permegabyterate><cost amount="0.1400" currency="USD">0.1400</cost><agentpermegabyterate '
           b'currency="USD">1.3330</agentpermegabyterate><agentcost amount="0.1400" currency="USD">0.1400'
           b"</agentcost></callleg></complete-datasession-notification>")


def test_cdr_from_an_xml_body(http):
    status, _, body = http.post("/conecto_xml", XML_CDR, "application/xml; charset=utf-8")
    assert status == 200 and body == b""  # the processor writes no reply
    [cdr] = http.engine.call("CDRsV1.GetCDRs", {"RunIDs": ["*default"], "Accounts": ["447700086788"]})
    assert cdr["Usage"] == 4558 and cdr["ToR"] == "*data" and cdr["OriginID"] == "510163"


def test_text_plain_reply(http):
    status, ctype, body = http.get("/textplain?request_type=TextPlainDryRun&CallID=123456&Msisdn=497700056231"
                                   "&Imsi=2343000000000123&Destination=491239440004")
    assert status == 200 and ctype.startswith("text/plain")
    # CGRateS writes these lines in its map's random order; here in the order the templates wrote them
    assert body == b"Variable1=Hola1\nVariable2=Hola2\nComposedVar=TestComposed\nItem1.1=Val1\nItem1.1=Val2\n"


def test_json_request_and_reply(http):
    request = {"kind": "auth", "call": {"id": "j-1", "to": "1002", "legs": [{"msisdn": "1001"}]}}
    status, ctype, body = http.post("/json_api", json.dumps(request).encode(), "application/json")
    assert status == 200 and ctype == "application/json"
    granted = http.engine.call("SessionSv1.AuthorizeEvent", {
        "GetMaxUsage": True, "Tenant": "cgrates.org", "Event": {
            "RequestType": "*pseudoprepaid", "OriginID": "j-0", "Account": "1001", "Destination": "1002",
            "SetupTime": "*now"}})["MaxUsage"]
    assert json.loads(body) == {"result": {"allow": "1", "max_seconds": str(granted // 10**9)}}
    status, _, body = http.post("/json_api", b'{"kind": "auth", "call": {"id": "j-2"}}', "application/json")
    assert status == 500 and b"MANDATORY_IE_MISSING: [Account]" in body


def test_unreadable_bodies_are_refused(http):
    status, _, body = http.post("/json_api", b"[1, 2]", "application/json")
    assert status == 400 and b"not an object" in body
    status, _, body = http.post("/conecto_xml", b"<a><b></a>", "application/xml")
    assert status == 400 and b"not an XML document" in body
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]><x>&a;</x>'
    status, _, body = http.post("/conecto_xml", bomb, "application/xml")
    assert status == 400 and b"DOCTYPE" in body
