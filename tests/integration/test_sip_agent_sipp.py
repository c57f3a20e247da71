"""sipp (Debian sip-tester) as the UAC against a real cgr-engine on CGRateS's sipagent_internal sample with the
tut_sip_redirect tariff plan: the 302 with the routes RouteS sorted as Contacts and nothing after the ACK, a lost
ACK answered by retransmissions on RFC 3261's timers, the reference Identity of ../shared/data/stir verified, a
tampered one refused with 438, and a redirect whose fresh Identity the same verification accepts.

The sample's processors are kept; this test adds, after them, a STIR verifier, a STIR signer and a constant
redirect for INVITEs marked ``X-Test`` (the redirect test of the sample itself needs RouteSv1.GetRoutes)."""

from __future__ import annotations

import re
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from pycgrates.agents.sip.codec import SipRequest, SipResponse, parse_message
from tests.conftest import require_binary, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides
from tests.integration.test_sip_transport import sipp, sipp_log

#: T1 of the engine these tests run (sip_agent.retransmission_timer)
T1 = 0.1
T2 = 4.0
#: CGRateS's expectation of the sample's redirect (agents/sipagent_it_test.go)
ROUTE_CONTACTS = ('"1002" <sip:1002@cgrates.org>;q=0.7; expires=3600;cgr_cost=0.3;cgr_maxusage=30000000000,'
                  '"1002" <sip:1002@cgrates.net>;q=0.2;cgr_cost=0.6;cgr_maxusage=30000000000,'
                  '"1002" <sip:1002@cgrates.com>;q=0.1;cgr_cost=0.01;cgr_maxusage=30000000000')
TEST_PROCESSORS = [
    # the sample's route query left to the INVITEs without X-Test (same ID: merged into the sample's processor)
    {"id": "RoutesQuery", "filters": ["*string:~*vars.Method:INVITE", "*notexists:~*req.X-Test:"]},
    {"id": "TestSTIRVerify", "filters": ["*string:~*vars.Method:INVITE", "*string:~*req.X-Test:verify"],
     "flags": ["*stir_authenticate", "*continue"],
     "request_fields": [
         {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.From{*sipuri_user}"},
         {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.To{*sipuri_user}"},
     ]},
    {"id": "TestSTIRSign", "filters": ["*string:~*vars.Method:INVITE", "*string:~*req.X-Test:sign"],
     "flags": ["*stir_initiate", "*continue"]},
    {"id": "TestRedirect", "filters": ["*string:~*vars.Method:INVITE", "*exists:~*req.X-Test:"], "flags": ["*none"],
     "reply_fields": [
         {"tag": "Request", "path": "*rep.Request", "type": "*constant", "value": "SIP/2.0 302 Moved Temporarily"},
         {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "\"1002\" <sip:"},
         {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "1002@10.0.0.2:5060"},
         {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "`>;q=0.7`"},
     ]},
]


@dataclass
class SipEngine:
    engine: EngineProcess
    port: int
    network: str


def start(tmp: Path, network: str) -> SipEngine:
    stir = shared_data("stir")
    rpc, sip_port = free_port(), free_udp_port() if network == "udp" else free_port()
    overrides = storage_overrides(tmp, rpc)
    overrides["sip_agent"] = {"listen": f"127.0.0.1:{sip_port}", "listen_net": network,
                              "retransmission_timer": f"{int(T1 * 1000)}ms", "request_processors": TEST_PROCESSORS}
    overrides["sessions"] = {"stir": {
        "payload_maxduration": "-1", "x5u_path_map": {"/usr/share/cgrates/stir/": f"{stir}/"},
        "publickey_path": "/usr/share/cgrates/stir/stir_pubkey.pem",
        "privatekey_path": str(stir / "stir_privatekey.pem")}}
    cfg = make_config_dir(tmp / "cfg", shared_data("conf", "samples", "sipagent_internal"), overrides=overrides)
    eng = EngineProcess(cfg, rpc, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "tut_sip_redirect"))}) == "OK"
    except BaseException:
        eng.kill()
        raise
    return SipEngine(eng, sip_port, network)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def udp_engine(tmp_path_factory):
    require_binary("sipp")
    eng = start(tmp_path_factory.mktemp("sipagent_udp"), "udp")
    yield eng
    eng.engine.kill()


@pytest.fixture(scope="module")
def tcp_engine(tmp_path_factory):
    require_binary("sipp")
    eng = start(tmp_path_factory.mktemp("sipagent_tcp"), "tcp")
    yield eng
    eng.engine.kill()


# ---- sipp -----------------------------------------------------------------------------------------------------------
INVITE = """  <send retrans="500">
    <![CDATA[
      INVITE sip:1002@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "1001" <sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:1002@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: sip:1001@[local_ip]:[local_port]
      Max-Forwards: 70
{headers}      Content-Length: 0

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="{status}">{action}</recv>
"""
ACK = """  <send>
    <![CDATA[
      ACK sip:1002@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"""
CAPTURE_IDENTITY = """
    <action><ereg regexp="[^ ]+" search_in="hdr" header="Identity:" check_it="true" assign_to="identity"/></action>
  """


def scenario(*steps: str) -> str:
    return f'<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name="test">\n{"".join(steps)}</scenario>\n'


def invite(status: int, cseq: int = 1, headers: tuple[str, ...] = (), action: str = "") -> str:
    return INVITE.format(cseq=cseq, status=status, action=action,
                         headers="".join(f"      {h}\n" for h in headers))


@dataclass
class Traced:
    at: datetime
    sent: bool
    message: SipRequest | SipResponse


_BLOCK = re.compile(r"^-{20,} (\S+ \S+)\n(\w+) message (sent|received)[^\n]*\n\n(.*?)(?=^-{20,} |\Z)", re.M | re.S)


def trace(tmp: Path) -> list[Traced]:
    """sipp's -trace_msg log, message by message."""
    out = []
    for stamp, _net, direction, text in _BLOCK.findall(sipp_log(tmp, "messages")):
        out.append(Traced(datetime.fromisoformat(stamp), direction == "sent",
                          parse_message(text.strip("\n").replace("\n", "\r\n").encode() + b"\r\n\r\n")))
    return out


async def run(tmp: Path, eng: SipEngine, xml: str, *args: str, timeout: float = 20) -> list[Traced]:
    (tmp / "scenario.xml").write_text(xml)
    result = await sipp(tmp, eng.port, "-sf", "scenario.xml", "-m", "1", "-t", "u1" if eng.network == "udp" else "t1",
                        *args, timeout=timeout)
    assert result.returncode == 0, result.stdout + sipp_log(tmp, "errors")
    return trace(tmp)


def responses(messages: list[Traced], status: int) -> list[Traced]:
    return [m for m in messages if not m.sent and isinstance(m.message, SipResponse) and m.message.status == status]


def nothing_after_the_ack(messages: list[Traced]) -> None:
    [ack] = [m for m in messages if m.sent and isinstance(m.message, SipRequest) and m.message.method == "ACK"]
    finals = [m for m in messages if not m.sent and isinstance(m.message, SipResponse) and m.message.status >= 200]
    # a retransmission may cross the ACK on the wire; none leaves the engine once it has the ACK
    assert all((m.at - ack.at).total_seconds() < T1 / 2 for m in finals), [(m.at, ack.at) for m in finals]


# ---- the sample's redirect ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("network", ["tcp", "udp"])
async def test_redirect_with_the_routes_of_routes_as_contacts(tmp_path, request, network):
    eng: SipEngine = request.getfixturevalue(f"{network}_engine")
    messages = await run(tmp_path, eng, scenario(invite(302), ACK.format(cseq=1), '  <pause milliseconds="1500"/>\n'))
    [final] = responses(messages, 302)
    assert final.message.headers.joined("Contact") == ROUTE_CONTACTS
    nothing_after_the_ack(messages)
    # the sample's P-Charge-Info reads ~*cgrep.Attributes[<route1>]: ProcessEvent's per-run attributes
    # (*chargers with *attributes:*derived_reply)
    assert final.message.headers.get("P-Charge-Info") == "<sip:1002@route1.com>"


async def test_constant_redirect_and_nothing_after_the_ack(tmp_path, udp_engine):
    messages = await run(tmp_path, udp_engine, scenario(invite(302, headers=("X-Test: plain",)), ACK.format(cseq=1),
                                                        '  <pause milliseconds="1500"/>\n'))
    [trying] = responses(messages, 100)
    [final] = responses(messages, 302)
    assert final.message.headers.get("Contact") == '"1002" <sip:1002@10.0.0.2:5060>;q=0.7'
    assert final.message.to_tag and not trying.message.to_tag and final.message.call_id == trying.message.call_id
    nothing_after_the_ack(messages)


def g_schedule(t1: float, t2: float) -> list[float]:
    """When timer G fires (seconds after the first final response) until timer H = 64·T1 (RFC 3261 §17.2.1)."""
    out, at, interval = [], 0.0, t1
    while at + interval < 64 * t1:
        at += interval
        out.append(at)
        interval = min(2 * interval, t2)
    return out


async def test_lost_ack_gets_the_final_response_on_the_rfc_timers(tmp_path, udp_engine):
    schedule = g_schedule(T1, T2)
    messages = await run(tmp_path, udp_engine, scenario(invite(302, headers=("X-Test: lost-ack",)),
                                                        f'  <pause milliseconds="{int(64 * T1 * 1000) + 1000}"/>\n'))
    finals = responses(messages, 302)
    assert len(finals) == 1 + len(schedule), [m.at for m in finals]
    offsets = [(m.at - finals[0].at).total_seconds() for m in finals[1:]]
    for got, due in zip(offsets, schedule, strict=True):
        assert due - 0.02 <= got <= due + 0.25, (offsets, schedule)
    assert len({m.message.pack() for m in finals}) == 1  # the same response, To tag included


# ---- STIR/SHAKEN ----------------------------------------------------------------------------------------------------
def reference_identity() -> str:
    return (shared_data("stir") / "identity_1001_1002.txt").read_text().strip()


async def test_reference_identity_is_verified(tmp_path, udp_engine):
    messages = await run(tmp_path, udp_engine, scenario(
        invite(302, headers=("X-Test: verify", f"Identity: {reference_identity()}")), ACK.format(cseq=1)))
    [final] = responses(messages, 302)
    assert final.message.headers.get("Contact") == '"1002" <sip:1002@10.0.0.2:5060>;q=0.7'


async def test_tampered_identity_is_refused_with_438(tmp_path, udp_engine):
    jwt, _, params = reference_identity().partition(";")
    header, payload, signature = jwt.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA;{params}"  # the signature's last bytes changed
    messages = await run(tmp_path, udp_engine, scenario(
        invite(438, headers=("X-Test: verify", f"Identity: {forged}")), ACK.format(cseq=1)))
    [final] = responses(messages, 438)
    assert final.message.reason == "Invalid Identity Header" and not final.message.headers.get("Contact")
    assert "crypto/ecdsa: verification error" in final.message.headers.get("Warning", "")


async def test_redirect_carries_a_fresh_identity_the_same_path_verifies(tmp_path, udp_engine):
    messages = await run(tmp_path, udp_engine, scenario(
        invite(302, headers=("X-Test: sign",), action=CAPTURE_IDENTITY), ACK.format(cseq=1),
        invite(302, cseq=2, headers=("X-Test: verify", "Identity: [$identity]")), ACK.format(cseq=2)))
    first, second = responses(messages, 302)
    identity = first.message.headers.get("Identity")
    assert identity and identity != reference_identity()
    assert identity.endswith(";info=</usr/share/cgrates/stir/stir_pubkey.pem>;alg=ES256;ppt=shaken")
    [sent] = [m for m in messages if m.sent and isinstance(m.message, SipRequest) and m.message.cseq[0] == 2
              and m.message.method == "INVITE"]
    assert sent.message.headers.get("Identity") == identity  # sipp sent it back as it got it
    assert second.message.status == 302 and not second.message.headers.get("Identity")
