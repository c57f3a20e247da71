"""The RADIUS agent end to end: radclient (Debian freeradius-utils) as the NAS, a real cgr-engine with CGRateS's
radagent_internal sample config and the oldtutorial tariff plan."""

from __future__ import annotations

import hashlib
import os
import random
import re
import socket
import subprocess
import threading
import time
from decimal import Decimal
from pathlib import Path

import pytest

from pycgrates.agents.radius import Packet, load_dictionary
from pycgrates.agents.radius.auth import mschapv2_authenticator_response, mschapv2_nt_response
from tests.conftest import require_binary, shared_data
from tests.engine_proc import (
    REPO,
    EngineProcess,
    free_port,
    make_config_dir,
    storage_overrides,
    without_unavailable_services,
)

SECRET = "CGRateS.org"
SESSION_ID = "e4921177ab0e3586c37f6a185864b71a@0:0:0:0:0:0:0:0"
#: what radclient needs on top of FreeRADIUS's dictionary to speak as Kamailio does
NAS_DICTIONARY = """$INCLUDE /usr/share/freeradius/dictionary
ATTRIBUTE\tSip-To-Tag\t104\tstring
ATTRIBUTE\tSip-From-Tag\t105\tstring
ATTRIBUTE\tSIP-AVP\t\t225\tstring
ATTRIBUTE\tSip-Response-Code\t102\tinteger
"""
AUTH = ('User-Name = "1001", Service-Type = 30, Called-Station-Id = "1002", Acct-Session-Id = "{sid}", '
        'NAS-IP-Address = 127.0.0.1, Event-Timestamp = 1497106115, Sip-From-Tag = "{tag}"')
ACCT = ('Acct-Status-Type = {status}, Event-Timestamp = {ts}, Service-Type = 15, Sip-From-Tag = "51585361", '
        'Sip-To-Tag = "75c2f57b", Acct-Session-Id = "{sid}", User-Name = "1001", Called-Station-Id = "1002", '
        'X-Ascend-User-Acct-Time = 1497106115, NAS-Port-Id = 5060, Acct-Delay-Time = 0, NAS-IP-Address = 127.0.0.1')
#: a processor of this test only: an Interim-Update debits its Acct-Session-Time once per request it processes
INTERIM_DEBIT = {
    "id": "TestInterimDebit", "filters": ["*string:~*req.Acct-Status-Type:Interim-Update"],
    "flags": ["*message", "*accounts"],
    "request_fields": [
        {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"},
        {"tag": "RequestType", "path": "*cgreq.RequestType", "type": "*constant", "value": "*prepaid"},
        {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.Acct-Session-Id"},
        {"tag": "OriginHost", "path": "*cgreq.OriginHost", "type": "*variable", "value": "~*req.NAS-IP-Address"},
        {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.User-Name"},
        {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.Called-Station-Id"},
        {"tag": "AnswerTime", "path": "*cgreq.AnswerTime", "type": "*variable", "value": "~*req.Event-Timestamp"},
        {"tag": "Usage", "path": "*cgreq.Usage", "type": "*composed", "value": "~*req.Acct-Session-Time;s"}],
}


class Agent:
    def __init__(self, engine: EngineProcess, auth: int, acct: int, nas_dict: Path, secret: str = SECRET) -> None:
        self.engine, self.auth, self.acct, self.nas_dict, self.secret = engine, auth, acct, nas_dict, secret

    def radclient(self, command: str, attributes: str, secret: str = "", timeout: float = 2.0,
                  transport: str = "udp") -> str:
        secret = secret or self.secret
        port = self.auth if command == "auth" else self.acct
        proc = subprocess.run([require_binary("radclient"), "-x", "-r", "1", "-t", str(timeout), "-P", transport,
                               "-d", str(self.nas_dict), f"127.0.0.1:{port}", command, secret],
                              input=attributes.encode(), capture_output=True, timeout=timeout + 10)
        return (proc.stdout + proc.stderr).decode(errors="replace")


def received(out: str) -> str:
    """radclient's account of the reply: its first line and attributes."""
    match = re.search(r"^Received .*?(?=^Sent |\Z)", out, re.M | re.S)
    return match.group(0) if match else ""


def nas_dictionary(tmp: Path) -> Path:
    folder = tmp / "nas"
    folder.mkdir()
    (folder / "dictionary").write_text(NAS_DICTIONARY)
    return folder


@pytest.fixture(scope="module")
def agent(tmp_path_factory):
    require_binary("radclient")
    tmp = tmp_path_factory.mktemp("radagent")
    nas_dict = nas_dictionary(tmp)
    port, auth, acct = free_port(), free_port(), free_port()
    overrides = storage_overrides(tmp, port)
    processors: list[dict] = [INTERIM_DEBIT]
    overrides["radius_agent"] = {
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"},
                      {"network": "tcp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"}],
        "client_dictionaries": {"*default": [str(shared_data("radius", "dict"))]},
        "request_processors": processors,
    }
    src = shared_data("conf", "samples", "radagent_internal")
    overrides.update(without_unavailable_services(src))
    cfg = make_config_dir(tmp / "cfg", src, overrides=overrides)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "oldtutorial"))}) == "OK"
        yield Agent(eng, auth, acct, nas_dict)
    finally:
        eng.kill()


# ---------------------------------------------------------------------------------------------------- auth


def test_pap_accept_carries_the_max_usage(agent):
    out = received(agent.radclient("auth", AUTH.format(sid=SESSION_ID, tag="51585361")
                                   + ', User-Password = "CGRateSPassword1"'))
    assert out.startswith("Received Access-Accept"), out
    assert 'SIP-AVP = "session_max_time#10800"' in out


def test_the_reference_tcp_listener(agent):
    out = received(agent.radclient("auth", AUTH.format(sid="s-tcp", tag="51585361")
                                   + ', User-Password = "CGRateSPassword1"', transport="tcp"))
    assert out.startswith("Received Access-Accept") and "session_max_time#10800" in out, out


def test_pap_wrong_password_is_rejected(agent):
    out = received(agent.radclient("auth", AUTH.format(sid="s-wrong", tag="51585361")
                                   + ', User-Password = "CGRateSPassword2"'))
    assert out.startswith("Received Access-Reject"), out
    assert 'Reply-Message = "RADAUTH_FAILED"' in out and "SIP-AVP" not in out


def test_chap(agent):
    base = AUTH.format(sid="s-chap", tag="51585362")
    out = received(agent.radclient("auth", base + ', CHAP-Password = "CGRateSPassword1"'))
    assert out.startswith("Received Access-Accept") and "session_max_time#10800" in out, out
    out = received(agent.radclient("auth", base + ', CHAP-Password = "CGRateSPassword2"'))
    assert out.startswith("Received Access-Reject") and "RADAUTH_FAILED" in out, out


def mschapv2_attributes(password: str) -> tuple[str, bytes]:
    """radclient has no MS-CHAPv2 of its own: the peer's side computed here (RFC 2759)."""
    challenge, peer = os.urandom(16), os.urandom(16)
    nt = mschapv2_nt_response(challenge, peer, "1001", password)
    response = b"\x01\x00" + peer + bytes(8) + nt
    expected = b"\x01" + mschapv2_authenticator_response("CGRateSPassword1", nt, peer, challenge, "1001")
    return f", MS-CHAP-Challenge = 0x{challenge.hex()}, MS-CHAP2-Response = 0x{response.hex()}", expected


def test_mschapv2(agent):
    base = AUTH.format(sid="s-mschap", tag="51585363")
    attrs, success = mschapv2_attributes("CGRateSPassword1")
    out = received(agent.radclient("auth", base + attrs))
    assert out.startswith("Received Access-Accept") and "session_max_time#10800" in out, out
    assert f"MS-CHAP2-Success = 0x{success.hex()}" in out  # the peer can authenticate the server in turn
    assert "MS-MPPE-Send-Key = 0x" in out and "MS-MPPE-Recv-Key = 0x" in out
    attrs, _ = mschapv2_attributes("not-the-password")
    out = received(agent.radclient("auth", base + attrs))
    assert out.startswith("Received Access-Reject") and "RADAUTH_FAILED" in out and "MS-CHAP2-Success" not in out


def test_vendor_attributes_from_reply_fields(agent):
    out = received(agent.radclient("auth", 'User-Name = "10012", User-Password = "CGRateSPassword3"'))
    assert out.startswith("Received Access-Accept"), out
    assert re.findall(r'MS-Service-Class = "(\w+)"', out) == ["Class1", "Class2", "Class3"]


def test_processing_error_gets_no_reply_and_a_log_line(agent):
    # 1010 has no account: authorize fails, the mandatory MaxUsage reply field cannot be written
    out = agent.radclient("auth", AUTH.format(sid="s-err", tag="51585361").replace('"1001"', '"1010"')
                          + ', User-Password = "x"', timeout=1.0)
    assert not received(out) and "No reply" in out
    log = agent.engine.log()
    line = next(ln for ln in log.splitlines() if "ignoring Access-Request" in ln and "s-err" in ln)
    assert "MANDATORY_IE_MISSING: [MaxUsage]" in line and '"User-Name":"1010"' in line
    assert '"User-Password":"***"' in line


# ---------------------------------------------------------------------------------------------------- acct


def test_accounting_start_stop_makes_one_cdr(agent):
    out = received(agent.radclient("acct", ACCT.format(status="Start", ts=1497106115, sid=SESSION_ID)))
    assert out.startswith("Received Accounting-Response"), out
    origin_id = f"{SESSION_ID}-51585361-75c2f57b"
    [active] = agent.engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    assert active["Usage"] == 10 * 10**9  # the first debit interval
    out = received(agent.radclient("acct", ACCT.format(status="Stop", ts=1497106119, sid=SESSION_ID)))
    assert out.startswith("Received Accounting-Response"), out
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        agent.engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    [cdr] = agent.engine.call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id]})
    assert cdr["RunID"] == "*default" and cdr["Usage"] == 4 * 10**9
    assert cdr["CostSource"] == "*sessions" and Decimal(str(cdr["Cost"])) == Decimal("0.01")


def test_accounting_on_ends_the_sessions_of_that_nas(agent):
    sid = "nas-reboot-1"
    agent.radclient("acct", ACCT.format(status="Start", ts=int(time.time()), sid=sid))
    origin_id = f"{sid}-51585361-75c2f57b"
    assert agent.engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    out = received(agent.radclient("acct", 'Acct-Status-Type = Accounting-On, NAS-IP-Address = 127.0.0.1, '
                                           'Acct-Session-Id = "0"'))
    assert out.startswith("Received Accounting-Response"), out
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        agent.engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    [cdr] = agent.engine.call("CDRsV1.GetCDRs", {"OriginIDs": [origin_id]})
    assert cdr["CostSource"] == "*sessions" and cdr["Usage"] < 60 * 10**9


def monetary(agent: Agent, account: str) -> Decimal:
    acc = agent.engine.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
    return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))


def interim(identifier: int, session: str) -> bytes:
    d = load_dictionary(shared_data("radius", "dict"))
    p = Packet("Accounting-Request", identifier, dictionary=d, secret=SECRET)
    for name, value in (("Acct-Status-Type", "Interim-Update"), ("Acct-Session-Id", session),
                        ("User-Name", "1002"), ("Called-Station-Id", "1001"), ("NAS-IP-Address", "127.0.0.1"),
                        ("Event-Timestamp", 1497106115), ("Acct-Session-Time", 60)):
        p.add(name, value)
    return p.encode()


def exchange(port: int, datagrams: list[bytes], wait: float = 1.0) -> list[bytes]:
    """Send from one socket (same source port), collect what comes back within ``wait`` seconds."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        for d in datagrams:
            s.sendto(d, ("127.0.0.1", port))
        replies, deadline = [], time.monotonic() + wait
        while (left := deadline - time.monotonic()) > 0:
            s.settimeout(left)
            try:
                replies.append(s.recv(4096))
            except TimeoutError:
                break
        return replies


def test_duplicate_accounting_request_is_answered_twice_and_debited_once(agent):
    agent.engine.call("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": "1002"})
    agent.engine.call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": "1002",
                                              "BalanceType": "*monetary", "Value": 10, "Balance": {"ID": "DUP"}})
    before = monetary(agent, "1002")
    packet = interim(7, "dup-1")
    replies = exchange(agent.acct, [packet, packet])
    assert len(replies) == 2 and replies[0] == replies[1] and replies[0][0] == 5  # Accounting-Response
    after_duplicate = monetary(agent, "1002")
    assert after_duplicate < before
    assert len(exchange(agent.acct, [interim(8, "dup-2")])) == 1  # not a duplicate: processed again
    assert before - after_duplicate == after_duplicate - monetary(agent, "1002")


# ---------------------------------------------------------------------------------------------------- garbage


def test_wrong_secret_gets_no_reply(agent):
    out = agent.radclient("auth", AUTH.format(sid="s-secret", tag="51585361") + ', User-Password = "CGRateSPassword1"',
                          secret="not-the-secret", timeout=1.0)
    assert not received(out) and "No reply" in out
    assert not exchange(agent.acct, [interim(9, "dup-3")[:-1] + b"x"], wait=0.3)


def test_fuzzed_packets_get_no_reply_and_the_agent_keeps_answering(agent):
    rnd = random.Random(5176)
    d = load_dictionary(shared_data("radius", "dict"))
    acct = interim(10, "fuzz")
    auth = Packet("Access-Request", 11, dictionary=d, secret=SECRET, add_message_authenticator=True)
    auth.add("User-Name", "1001")
    auth.add("User-Password", "CGRateSPassword1")
    auth_bytes = auth.encode()
    junk = []
    for i in range(3000):
        kind = i % 4
        if kind == 0:  # bit flips anywhere in a signed Accounting-Request
            b = bytearray(acct)
            b[rnd.randrange(len(b))] ^= 1 << rnd.randrange(8)
        elif kind == 1:  # bit flips in an Access-Request covered by its Message-Authenticator
            b = bytearray(auth_bytes)
            b[rnd.choice([1, *range(4, len(b))])] ^= 1 << rnd.randrange(8)
        elif kind == 2:  # noise with a plausible header
            body = rnd.randbytes(rnd.randrange(0, 200))
            b = bytearray(bytes([rnd.choice([1, 4, 12, 40, 43]), rnd.randrange(256)])
                          + (20 + len(body)).to_bytes(2, "big") + rnd.randbytes(16) + body)
        else:  # truncated or plain random
            cut = acct[:rnd.randrange(len(acct))]
            b = bytearray(cut if rnd.random() < 0.5 else rnd.randbytes(rnd.randrange(1, 64)))
        junk.append(bytes(b))
    half = len(junk) // 2
    assert not exchange(agent.acct, junk[:half], wait=0.5)
    assert not exchange(agent.auth, junk[half:], wait=0.5)
    out = received(agent.radclient("auth", AUTH.format(sid="after-fuzz", tag="51585361")
                                   + ', User-Password = "CGRateSPassword1"'))
    assert out.startswith("Received Access-Accept"), out


# ---------------------------------------------------------------------------------------------------- shipped


def start_shipped(tmp: Path, config: Path, tariffplan: Path, secret: str, extra: dict | None = None) -> Agent:
    port, auth, acct = free_port(), free_port(), free_port()
    overrides = storage_overrides(tmp, port)
    overrides["radius_agent"] = {
        "listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"}],
        **(extra or {})}
    eng = EngineProcess(make_config_dir(tmp / "cfg", config, overrides=overrides), port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(tariffplan)}) == "OK"
    except BaseException:
        eng.kill()
        raise
    return Agent(eng, auth, acct, nas_dictionary(tmp), secret)


def readme_commands(readme: Path) -> list[str]:
    """The radclient commands of the tutorial, in order."""
    blocks = re.findall(r"```sh\n(.*?)```", readme.read_text(), re.S)
    return [line for block in blocks for line in block.splitlines() if line.startswith("radclient ")]


def answer_disconnect(sock: socket.socket, secret: bytes, seen: list) -> None:
    """A NAS's RFC 5176 server for one request: Disconnect-ACK."""
    data, addr = sock.recvfrom(4096)
    seen.append(data)
    head = bytes([41, data[1]]) + (20).to_bytes(2, "big")
    sock.sendto(head + hashlib.md5(head + data[4:20] + secret).digest(), addr)


def test_tutorial_commands_work(tmp_path):
    require_binary("radclient")
    folder = REPO / "tutorials" / "radius"
    nas = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    nas.bind(("127.0.0.1", 0))
    agent = start_shipped(tmp_path, folder / "engine", folder / "tariffplan", "bngsecret",
                          {"client_da_addresses": {"127.0.0.1": {"port": nas.getsockname()[1]}}})
    try:
        outs = {}
        commands = readme_commands(folder / "README.md")
        assert len(commands) == 8
        for cmd in commands:
            cmd = cmd.replace("127.0.0.1:1812", f"127.0.0.1:{agent.auth}").replace(
                "127.0.0.1:1813", f"127.0.0.1:{agent.acct}").replace("radclient ", "radclient -t 2 -r 1 ", 1)
            proc = subprocess.run(["bash", "-c", cmd], cwd=REPO, capture_output=True, timeout=20)
            outs[cmd.rsplit("/", 1)[-1].removesuffix(".txt")] = received(proc.stdout.decode())
        assert outs["auth_pap"].startswith("Received Access-Accept") and "Session-Timeout = 30000" in outs["auth_pap"]
        assert "Acct-Interim-Interval = 300" in outs["auth_pap"]
        assert "Session-Timeout = 30000" in outs["auth_chap"]
        assert 'Reply-Message = "RADAUTH_FAILED"' in outs["auth_wrong_password"]
        assert outs["auth_bob"].startswith("Received Access-Accept") and "Session-Timeout = 180" in outs["auth_bob"]
        for name in ("acct_start", "acct_interim", "acct_stop", "acct_on"):
            assert outs[name].startswith("Received Accounting-Response"), (name, outs[name])
        [cdr] = agent.engine.call("CDRsV1.GetCDRs", {"Accounts": ["alice"]})
        assert cdr["Usage"] == 1800 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.3")
        assert {k: cdr["ExtraFields"][k] for k in ("InputOctets", "OutputOctets", "DisconnectCause")} == {
            "InputOctets": "314572800", "OutputOctets": "5368709120", "DisconnectCause": "User-Request"}
        # the README's Disconnect section, with a NAS answering on the address client_da_addresses gives
        out = agent.radclient("acct", 'Acct-Status-Type = Start, Acct-Session-Id = "ipoe-0001", User-Name = "bob", '
                                     "NAS-IP-Address = 127.0.0.1", secret="bngsecret")
        assert received(out).startswith("Received Accounting-Response")
        seen: list[bytes] = []
        responder = threading.Thread(target=answer_disconnect, args=(nas, b"bngsecret", seen))
        responder.start()
        assert agent.engine.call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.Account:bob"]}) == "OK"
        responder.join(5)
        assert seen and seen[0][0] == 40 and b"ipoe-0001" in seen[0] and b"FORCED_DISCONNECT" in seen[0]
        assert "LOG, sending Disconnect-Request for session with ID 'ipoe-0001'" in agent.engine.log()
    finally:
        agent.engine.kill()
        nas.close()


def test_voice_sample_config(tmp_path):
    require_binary("radclient")
    agent = start_shipped(tmp_path, REPO / "config" / "samples" / "radius_voice",
                          shared_data("tariffplans", "oldtutorial"), "proxysecret")
    try:
        call = ('User-Name = "1001", Called-Station-Id = "1002", Acct-Session-Id = "call-1@proxy", '
                'Sip-From-Tag = "ft1", NAS-IP-Address = 127.0.0.1')
        out = received(agent.radclient("auth", call + ", Service-Type = 30, Event-Timestamp = 1497106115"))
        assert out.startswith("Received Access-Accept") and 'SIP-AVP = "session_max_time#10800"' in out, out
        leg = call + ', Sip-To-Tag = "tt1", X-Ascend-User-Acct-Time = 1700000000'
        for status, ts in (("Start", 1700000005), ("Stop", 1700000070)):
            out = received(agent.radclient("acct", f"Acct-Status-Type = {status}, Event-Timestamp = {ts}, " + leg))
            assert out.startswith("Received Accounting-Response"), out
        [cdr] = agent.engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["call-1@proxy-ft1-tt1"]})
        assert cdr["Usage"] == 70 * 10**9 and cdr["CostSource"] == "*sessions"  # BYE time - INVITE time
        out = received(agent.radclient("acct", 'Acct-Status-Type = 15, Sip-Response-Code = 486, '
                                              'Event-Timestamp = 1700000100, ' + call.replace("call-1", "call-2")))
        assert out.startswith("Received Accounting-Response"), out
        [cdr] = agent.engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["call-2@proxy-ft1"]})
        assert cdr["Usage"] == 0 and cdr["ExtraFields"]["DisconnectCause"] == "486"
    finally:
        agent.engine.kill()


def test_a_processor_that_does_not_compile_is_disabled_not_fatal(caplog):
    from pycgrates.agents.base import compile_agent_processors
    from pycgrates.agents.radius.agent import DA_REQUEST, RADAUTH, SECTION

    good = {"id": "Good", "flags": ["*none"], "reply_fields": [
        {"tag": "Code", "path": "*rep.*radReplyCode", "type": "*constant", "value": "AccessAccept"}]}
    bad = {"id": "Bad", "flags": ["*none"], "request_fields": [
        {"tag": "Broken", "path": "*cgreq.X", "type": "*no_such_type", "value": "1"}]}
    with caplog.at_level("ERROR"):
        procs = compile_agent_processors([bad, good], {}, ";", section=SECTION, request_types=(RADAUTH,),
                                         prefixes=(DA_REQUEST,))
    assert [p.id for p in procs] == ["Good"]
    [record] = caplog.records
    assert "<Bad>" in record.getMessage() and "<Broken>" in record.getMessage() and "disabled" in record.getMessage()


async def test_reload_swaps_processors_and_reopens_only_changed_listeners(tmp_path):
    import json
    from types import SimpleNamespace

    from pycgrates.agents.radius.agent import RadiusAgent
    from pycgrates.engine.config.loader import load_config

    def config(processors: list[dict], auth: str) -> object:
        (tmp_path / "cgrates.json").write_text(json.dumps({"radius_agent": {
            "enabled": True, "sessions_conns": [], "request_processors": processors,
            "listeners": [{"network": "udp", "auth_address": auth, "acct_address": "127.0.0.1:0"}]}}))
        return load_config(tmp_path)

    none = {"id": "A", "flags": ["*none"]}
    ctx = SimpleNamespace(cfg=config([none], "127.0.0.1:0"), conns=SimpleNamespace(), services={})
    agent = RadiusAgent(ctx)
    await agent.start()
    try:
        server = agent.server
        await agent.reload(config([none, {**none, "id": "B"}], "127.0.0.1:0"))
        assert agent.server is server and [p.id for p in agent.settings.processors] == ["A", "B"]
        await agent.reload(config([none], f"127.0.0.1:{free_port()}"))
        assert agent.server is not server and server.listeners == []
    finally:
        await agent.stop()
