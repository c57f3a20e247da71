"""The SIP agent in front of an in-process engine, on a real loopback listener: the 302 its processors build (RFC 3261
response rules, retransmissions until the ACK), the *err answer where CGRateS would stay silent, a 405 with Allow,
reload, and STIR/SHAKEN on the wire — the reference Identity verified through SessionS, every kind of failure
refused with its RFC 8224 code, and a redirect carrying an Identity that the same path verifies."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest

from pycgrates.agents.sip.agent import SIPAgent
from pycgrates.agents.sip.codec import SipResponse
from pycgrates.engine.app import Engine
from pycgrates.engine.config import Config, config_from_dict
from tests.conftest import shared_data
from tests.integration.test_sip_transport import udp_peer

REDIRECT = [
    {"tag": "Request", "path": "*rep.Request", "type": "*constant", "value": "SIP/2.0 302 Moved Temporarily"},
    {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "\"1002\" <sip:"},
    {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "~*req.To{*sipuri_user}"},
    {"tag": "Contact", "path": "*rep.Contact", "type": "*composed", "value": "`@10.0.0.2:5060>;q=0.7`"},
]
PROCESSORS = [
    {"id": "Register", "filters": ["*notstring:~*vars.Method:INVITE"], "flags": ["*none"],
     "reply_fields": [{"tag": "Request", "path": "*rep.Request", "type": "*constant",
                       "value": "SIP/2.0 405 Method Not Allowed"}]},
    {"id": "Verify", "filters": ["*string:~*vars.Method:INVITE", "*prefix:~*req.X-Test:stir"],
     "flags": ["*stir_authenticate", "*continue"],
     "request_fields": [{"tag": "Account", "path": "*cgreq.Account", "type": "*variable",
                         "value": "~*req.From{*sipuri_user}"},
                        {"tag": "MaxAge", "path": "*opts.*stirPayloadMaxDuration", "type": "*variable",
                         "value": "~*req.X-Max-Age"}]},
    {"id": "Sign", "filters": ["*string:~*vars.Method:INVITE", "*string:~*req.X-Test:sign"],
     "flags": ["*stir_initiate", "*continue"]},
    {"id": "Redirect", "filters": ["*string:~*vars.Method:INVITE", "*notstring:~*req.X-Test:silent"],
     "flags": ["*none"], "reply_fields": REDIRECT},
    {"id": "Silent", "filters": ["*string:~*req.X-Test:silent"], "flags": ["*none"], "reply_fields": []},
]
SIP_ERR = [{"tag": "Request", "path": "*rep.Request", "type": "*constant",
            "value": "SIP/2.0 503 Service Unavailable", "mandatory": True},
           {"tag": "Error", "path": "*rep.X-Error", "type": "*variable", "value": "~*cgrep.Error"}]


def engine_config(stir: Path, processors: list[dict], retransmission: str = "50ms") -> dict:
    return {
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
        "sessions": {"enabled": True, "stir": {
            "payload_maxduration": "-1", "x5u_path_map": {"/usr/share/cgrates/stir/": f"{stir}/"},
            "publickey_path": "/usr/share/cgrates/stir/stir_pubkey.pem",
            "privatekey_path": str(stir / "stir_privatekey.pem")}},
        "sip_agent": {"enabled": True, "listen": "127.0.0.1:0", "listen_net": "udp",
                      "retransmission_timer": retransmission, "request_processors": processors},
        "templates": {"*err": SIP_ERR},
    }


@pytest.fixture
async def sip():
    stir = shared_data("stir")
    eng = Engine(config_from_dict(engine_config(stir, PROCESSORS)))
    await eng.start()
    agent: SIPAgent = eng.ctx.services["sip_agent"]
    port = agent.addresses[0][1]
    transport, peer, my_port = await udp_peer(port)
    client = Client(transport, peer, my_port, agent, stir)
    yield client
    transport.close()
    await eng.stop()


class Client:
    """A UDP UAC of this test: sends requests, reads responses."""

    def __init__(self, transport, peer, port: int, agent: SIPAgent, stir: Path) -> None:
        self.transport, self.peer, self.port, self.agent, self.stir = transport, peer, port, agent, stir
        self.n = 0

    def send(self, method: str = "INVITE", *, test: str = "", identity: str | list[str] = "", to: str = "1002",
             frm: str = "1001", branch: str = "", extra: str = "", to_tag: str = "", cseq: int = 1) -> str:
        self.n += 1
        branch = branch or f"z9hG4bK-a{self.n}"
        headers = [f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport",
                   f"From: <sip:{frm}@127.0.0.1>;tag=f{self.n}",
                   f"To: <sip:{to}@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
                   f"Call-ID: call-{self.n}", f"CSeq: {cseq} {method}", "Max-Forwards: 70"]
        if test:
            headers.append(f"X-Test: {test}")
        for value in [identity] if isinstance(identity, str) else identity:
            if value:
                headers.append(f"Identity: {value}")
        if extra:
            headers.append(extra)
        self.transport.sendto((f"{method} sip:{to}@127.0.0.1 SIP/2.0\r\n" + "\r\n".join(headers)
                               + "\r\nContent-Length: 0\r\n\r\n").encode())
        return branch

    async def final(self, timeout: float = 3.0) -> SipResponse:
        while True:
            response = await self.peer.next(timeout)
            if response.status >= 200:
                return response

    def ack(self, response: SipResponse, branch: str) -> None:
        """The ACK of a non-2xx final response: the INVITE's branch, the response's To (RFC 3261 §17.1.1.3)."""
        via = f"SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport"
        self.transport.sendto((f"ACK sip:1002@127.0.0.1 SIP/2.0\r\nVia: {via}\r\n"
                               f"From: {response.headers.get('From')}\r\nTo: {response.headers.get('To')}\r\n"
                               f"Call-ID: {response.call_id}\r\nCSeq: {response.cseq[0]} ACK\r\n"
                               "Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n").encode())

    def reference_identity(self) -> str:
        return (self.stir / "identity_1001_1002.txt").read_text().strip()


# ---------------------------------------------------------------------------------------------------- redirects


async def test_invite_gets_100_then_the_302_of_the_processors_until_its_ack(sip):
    branch = sip.send(test="plain", to="1003")
    trying = await sip.peer.next()
    assert trying.status == 100 and not trying.to_tag
    final = await sip.peer.next()
    assert final.start_line() == "SIP/2.0 302 Moved Temporarily"
    assert final.headers.values("Contact") == ['"1002" <sip:1003@10.0.0.2:5060>;q=0.7']
    assert final.call_id == "call-1" and final.cseq == (1, "INVITE") and final.to_tag and final.from_tag == "f1"
    assert final.top_via.branch == branch and final.top_via.params["rport"] == str(sip.port)
    again = await sip.peer.next(0.5)  # no ACK yet: timer G (T1 = retransmission_timer = 50 ms)
    assert again.pack() == final.pack()
    sip.ack(final, branch)
    await asyncio.sleep(0.4)
    while not sip.peer.inbox.empty():  # one retransmission may have crossed the ACK
        assert (await sip.peer.next()).pack() == final.pack()
    await asyncio.sleep(0.5)
    assert sip.peer.inbox.empty()
    stats = sip.agent.server.layer.stats
    assert stats.requests == 1 and stats.ack_timeouts == 0


async def test_register_gets_405_with_allow_and_options_200(sip):
    sip.send("REGISTER")
    response = await sip.final()
    assert response.status == 405 and response.headers.joined("Allow") == "INVITE, ACK, CANCEL, OPTIONS"
    sip.send("OPTIONS")
    assert (await sip.final()).status == 200


async def test_nothing_written_is_answered_by_the_err_template(sip, caplog):
    sip.send(test="silent")
    response = await sip.final()
    assert response.start_line() == "SIP/2.0 503 Service Unavailable"
    assert response.headers.get("X-Error") == "no *rep.Request"


async def test_reload_keeps_the_listener_and_applies_new_processors_and_timers(sip):
    agent = sip.agent
    server = agent.server
    processors = [{**PROCESSORS[3], "reply_fields": [{**REDIRECT[0], "value": "SIP/2.0 301 Moved Permanently"},
                                                     *REDIRECT[1:]]}]
    cfg = engine_config(sip.stir, processors, retransmission="2s")
    await agent.reload(Config(config_from_dict(cfg).data))
    assert agent.server is server and server.layer.timers.t1 == 2.0
    sip.send(test="plain")
    assert (await sip.final()).status == 301


# ---------------------------------------------------------------------------------------------------- STIR/SHAKEN


async def test_reference_identity_is_verified_and_the_call_redirected(sip):
    sip.send(test="stir", identity=sip.reference_identity())
    response = await sip.final()
    assert response.status == 302, response


def _b64json(segment: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _segment(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj, separators=(",", ":")).encode()).rstrip(b"=").decode()


def tamper(identity: str) -> str:
    """The reference Identity with its PASSporT claiming another originator: the signature no longer holds."""
    jwt, _, params = identity.partition(";")
    header, payload, signature = jwt.split(".")
    claims = _b64json(payload)
    claims["orig"]["tn"] = "1003"
    return f"{header}.{_segment(claims)}.{signature};{params}"


def with_x5u(identity: str, x5u: str) -> str:
    """The reference Identity naming another certificate (the header's and the PASSporT's x5u alike): the
    certificate is fetched before the signature is checked, so what is fetched decides the answer."""
    jwt, _, _ = identity.partition(";")
    header, payload, signature = jwt.split(".")
    return f"{_segment({**_b64json(header), 'x5u': x5u})}.{payload}.{signature};info=<{x5u}>;ppt=shaken"


@pytest.mark.parametrize("case, status, reason", [
    ("tampered", 438, "Invalid Identity Header"),
    ("wrong originator", 438, "Invalid Identity Header"),
    ("no identity", 428, "Use Identity Header"),
    ("unknown certificate", 436, "Bad Identity Info"),
    ("not a certificate", 437, "Unsupported Credential"),
    ("too old", 403, "Stale Date"),
])
async def test_identity_failures_get_the_rfc_8224_answers(sip, case, status, reason):
    reference = sip.reference_identity()
    frm, extra, identity = "1001", "", reference
    if case == "tampered":
        identity = tamper(reference)
    elif case == "wrong originator":
        frm = "1009"
    elif case == "no identity":
        identity = ""
    elif case == "unknown certificate":
        identity = with_x5u(reference, "/usr/share/cgrates/stir/gone.pem")
    elif case == "not a certificate":
        identity = with_x5u(reference, "/usr/share/cgrates/stir/stir_privatekey.pem")
    elif case == "too old":
        extra = "X-Max-Age: 1h"  # the reference PASSporT was signed in 2020
    sip.send(test="stir", identity=identity, frm=frm, extra=extra)
    response = await sip.final()
    assert (response.status, response.reason) == (status, reason), response
    assert response.headers.get("Warning", "").startswith('399 - "*stir_authenticate: ')
    assert not response.headers.get("Contact")


async def test_one_good_identity_among_several_is_enough(sip):
    sip.send(test="stir", identity=[tamper(sip.reference_identity()), sip.reference_identity()])
    assert (await sip.final()).status == 302


async def test_redirect_carries_a_fresh_identity_that_the_same_path_verifies(sip):
    sip.send(test="sign", frm="1001", to="1002")
    signed = await sip.final()
    identity = signed.headers.get("Identity")
    assert signed.status == 302 and identity and identity != sip.reference_identity()
    assert identity.endswith(";info=</usr/share/cgrates/stir/stir_pubkey.pem>;alg=ES256;ppt=shaken")
    claims = _b64json(identity.split(".")[1])
    assert claims["orig"] == {"tn": "1001"} and claims["dest"] == {"tn": ["1002"]} and claims["attest"] == "A"
    sip.send(test="stir", identity=identity, frm="1001", to="1002")
    assert (await sip.final()).status == 302
    sip.send(test="stir", identity=identity, frm="1001", to="1004")
    assert (await sip.final()).status == 438  # signed for 1002, not for 1004
