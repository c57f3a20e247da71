"""The shipped sample configs of the SIP, DNS and HTTP agents, each in a real cgr-engine (ports and storage moved
to this test's): what their comments promise answers as they say."""

from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path

from dnslib import RR, DNSRecord, EDNSOption

from pycgrates.agents.sip.codec import parse_message
from tests.conftest import require_binary, shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

SAMPLES = REPO / "config" / "samples"


def start(tmp: Path, sample: str, tariffplan: Path, **sections: object) -> EngineProcess:
    rpc = free_port()
    overrides = {**storage_overrides(tmp, rpc, sections.pop("http_port", None)), **sections}  # type: ignore[arg-type]
    cfg = make_config_dir(tmp / "cfg", SAMPLES / sample, overrides=overrides)
    eng = EngineProcess(cfg, rpc, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(tariffplan)}) == "OK"
    except BaseException:
        eng.kill()
        raise
    return eng


# ---- sip_redirect ---------------------------------------------------------------------------------------------------
def sip_exchange(port: int, method: str, *headers: str, to: str = "1002", n: int = 1) -> list:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        me = s.getsockname()[1]
        lines = [f"{method} sip:{to}@127.0.0.1 SIP/2.0", f"Via: SIP/2.0/UDP 127.0.0.1:{me};branch=z9hG4bK-{method}{n}",
                 f"From: <sip:1001@127.0.0.1>;tag=f{n}", f"To: <sip:{to}@127.0.0.1>", f"Call-ID: sample-{method}-{n}",
                 f"CSeq: 1 {method}", "Max-Forwards: 70", *headers, "Content-Length: 0", "", ""]
        s.sendto("\r\n".join(lines).encode(), ("127.0.0.1", port))
        out = []
        while not out or out[-1].status < 200:
            out.append(parse_message(s.recv(65535)))
        return out


def test_sip_redirect_sample(tmp_path):
    stir = shared_data("stir")
    port = free_port()
    eng = start(tmp_path, "sip_redirect", shared_data("tariffplans", "tut_sip_redirect"),
                sip_agent={"listen": f"127.0.0.1:{port}"},
                sessions={"stir": {"x5u_path_map": {"/usr/share/cgrates/stir/": f"{stir}/"}, "x5u_allow": [f"{stir}/"],
                                   "privatekey_path": str(stir / "stir_privatekey.pem")}})
    try:
        assert sip_exchange(port, "OPTIONS")[-1].status == 200
        register = sip_exchange(port, "REGISTER")[-1]
        assert register.status == 405 and "INVITE" in register.headers.joined("Allow")
        # the reference Identity was signed in 2020: older than the sample's payload_maxduration
        identity = (stir / "identity_1001_1002.txt").read_text().strip()
        stale = sip_exchange(port, "INVITE", f"Identity: {identity}", n=2)
        assert [r.status for r in stale] == [100, 403] and stale[-1].reason == "Stale Date"
        invite = sip_exchange(port, "INVITE", n=3)[-1]
        assert invite.status == 302 and invite.headers.values("Contact")[0] == "<sip:1002@cgrates.org>;q=0.7"
        signed = invite.headers.get("Identity")
        again = sip_exchange(port, "INVITE", f"Identity: {signed}", n=4)[-1]
        assert again.status == 302  # the sample verifies what it signed
    finally:
        eng.kill()


# ---- dns_enum -------------------------------------------------------------------------------------------------------
def dns_query(port: int, name: str, rtype: str, *, esu: str = "", tcp: bool = False) -> DNSRecord:
    query = DNSRecord.question(name, rtype)
    if esu:
        query.add_ar(RR(".", 41, rclass=1232, ttl=0, rdata=[EDNSOption(4, esu.encode())]))
    data = query.pack()
    if tcp:
        with socket.create_connection(("127.0.0.1", port), timeout=3) as s:
            s.sendall(len(data).to_bytes(2, "big") + data)
            length = int.from_bytes(s.recv(2), "big")
            buf = b""
            while len(buf) < length:
                buf += s.recv(length - len(buf))
            return DNSRecord.parse(buf)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(3)
        s.sendto(data, ("127.0.0.1", port))
        return DNSRecord.parse(s.recv(65535))


def test_dns_enum_sample(tmp_path):
    port = free_port()
    eng = start(tmp_path, "dns_enum", shared_data("tariffplans", "dnsagent"),
                dns_agent={"listeners": [{"address": f"127.0.0.1:{port}", "network": "udp"},
                                         {"address": f"127.0.0.1:{port}", "network": "tcp"}]})
    try:
        srv = dns_query(port, "_sip._udp.gw.example.net.", "SRV", tcp=True)
        assert [(r.rdata.priority, r.rdata.weight, r.rdata.port, str(r.rdata.target), r.ttl) for r in srv.rr] == [
            (10, 50, 5060, "gw1.example.net.", 300)]
        assert [str(r.rdata) for r in dns_query(port, "gw1.example.net.", "A").rr] == ["192.0.2.10"]
        enum = "4.6.9.4.7.1.7.1.5.6.8.9.4.e164.arpa."
        reply = dns_query(port, enum, "NAPTR", esu="sip:1001@example.net")
        assert [(r.rdata.preference, r.rdata.regexp) for r in reply.rr] == [
            (10, b"!^(.*)$!sip:\\1@172.16.1.11!"), (20, b"!^(.*)$!sip:\\1@172.16.1.12!")]
        assert dns_query(port, enum, "NAPTR").header.rcode == 3  # account "enum" has no route profile
    finally:
        eng.kill()


def test_dns_enum_sample_with_dig(tmp_path):
    dig = require_binary("dig")
    port = free_port()
    eng = start(tmp_path, "dns_enum", shared_data("tariffplans", "dnsagent"),
                dns_agent={"listeners": [{"address": f"127.0.0.1:{port}", "network": "udp"}]})
    try:
        out = subprocess.run([dig, "@127.0.0.1", "-p", str(port), "+short", "gw1.example.net", "A"],
                             capture_output=True, text=True, timeout=20).stdout
        assert out.strip() == "192.0.2.10"
    finally:
        eng.kill()


# ---- http_agent -----------------------------------------------------------------------------------------------------
def test_http_agent_sample(tmp_path):
    http = free_port()
    eng = start(tmp_path, "http_agent", REPO / "tutorials" / "tariffplans" / "basic", http_port=http)
    base = f"http://127.0.0.1:{http}"
    try:
        with urllib.request.urlopen(f"{base}/auth?CallID=c1&Msisdn=1001&Destination=1002", timeout=10) as resp:
            body = resp.read()
        granted = eng.call("SessionSv1.AuthorizeEvent", {"GetMaxUsage": True, "Tenant": "cgrates.org", "Event": {
            "ToR": "*voice", "RequestType": "*prepaid", "Category": "call", "OriginID": "c0", "Account": "1001",
            "Destination": "1002", "SetupTime": "*now"}})["MaxUsage"]
        assert body == (b'<?xml version="1.0" encoding="UTF-8"?>\n<response>\n  <Allow>1</Allow>\n'
                        b"  <MaxDuration>" + str(granted // 10**9).encode() + b"</MaxDuration>\n</response>")
        cdr = {"id": "h-1", "account": "1001", "destination": "1002", "start": "2026-01-05T10:00:00Z", "seconds": 90}
        request = urllib.request.Request(f"{base}/cdr", data=json.dumps(cdr).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as resp:
            assert json.loads(resp.read()) == {"status": "OK"}
        [stored] = eng.call("CDRsV1.GetCDRs", {"OriginIDs": ["h-1"], "RunIDs": ["*default"]})
        assert stored["Usage"] == 90 * 10**9 and stored["OriginHost"] == "127.0.0.1"
        assert stored["Cost"] >= 0  # rated (an unrated CDR costs -1): the bundle of 1001 pays it
    finally:
        eng.kill()
