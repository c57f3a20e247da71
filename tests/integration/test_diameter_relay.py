"""Interop through a real Diameter relay: python-diameter PCEF → freeDiameterd (Debian freediameter) → the agent.

freeDiameterd connects to the agent (CER/CEA), the PCEF connects to freeDiameterd, a CCR is routed by
Destination-Realm to the agent and the CCA comes back the same way; DWR/DWA run in both directions between the
relay and the agent. In the first test the CCA comes from a fixed application handler; in the second from the
Diameter agent of a real cgr-engine (the tutorial's config and tariff plan), through SessionS.
"""

from __future__ import annotations

import asyncio
import datetime
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from pycgrates.agents.diameter import DiameterServer, Message, Timers, identity_from_config, load_dictionaries
from pycgrates.agents.diameter.codec import ResultCode
from tests.conftest import require_binary
from tests.engine_proc import REPO, EngineProcess, make_config_dir, storage_overrides

node_mod = pytest.importorskip("diameter.node")
from diameter.message import constants  # noqa: E402
from diameter.message.avp import Avp  # noqa: E402
from diameter.message.commands import CreditControlRequest  # noqa: E402
from diameter.node.application import SimpleThreadingApplication  # noqa: E402

AGENT_HOST, AGENT_REALM = "cgr-da.cgrates.org", "cgrates.org"
RELAY_HOST, RELAY_REALM = "relay.test.net", "test.net"
PCEF_HOST, PCEF_REALM = "pcef.example.net", "example.net"
EXTENSION_DIRS = ("/usr/lib/freeDiameter", "/usr/lib/x86_64-linux-gnu/freeDiameter")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """freeDiameterd insists on TLS credentials even when every peer is No_TLS."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, RELAY_HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def _relay_config(directory: Path, relay_port: int, agent_port: int) -> Path:
    ext_dir = next((d for d in EXTENSION_DIRS if Path(d, "acl_wl.fdx").exists()), None)
    if ext_dir is None:
        pytest.fail("freeDiameterd is installed but acl_wl.fdx is not (Debian package freediameter-extensions)")
    cert, key = _self_signed(directory)
    acl = directory / "acl_wl.conf"
    acl.write_text(f"ALLOW_IPSEC {PCEF_HOST}\n")  # lets the PCEF in over plain TCP without a ConnectPeer entry
    conf = directory / "relay.conf"
    conf.write_text(f"""
Identity = "{RELAY_HOST}";
Realm = "{RELAY_REALM}";
Port = {relay_port};
SecPort = 0;
No_SCTP;
No_IPv6;
ListenOn = "127.0.0.1";
TwTimer = 6;
TLS_Cred = "{cert}", "{key}";
TLS_CA = "{cert}";
LoadExtension = "{ext_dir}/acl_wl.fdx" : "{acl}";
ConnectPeer = "{AGENT_HOST}" {{ ConnectTo = "127.0.0.1"; No_TLS; Port = {agent_port}; }};
""")
    return conf


async def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout}s")
        await asyncio.sleep(0.05)


def _ccr(session: str) -> CreditControlRequest:
    ccr = CreditControlRequest()
    ccr.session_id = session
    ccr.origin_host = PCEF_HOST.encode()
    ccr.origin_realm = PCEF_REALM.encode()
    ccr.destination_realm = AGENT_REALM.encode()
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = constants.E_CC_REQUEST_TYPE_INITIAL_REQUEST
    ccr.cc_request_number = 0
    ccr.subscription_id = []
    return ccr


@pytest.mark.timeout(120)
async def test_pcef_through_freediameter_relay(tmp_path):
    binary = require_binary("freeDiameterd")
    dictionary = load_dictionaries()
    seen: list[Message] = []

    async def fixed_cca(request: Message, conn) -> Message:
        seen.append(request)
        cca = request.answer(ResultCode.SUCCESS, AGENT_HOST, AGENT_REALM)
        cca.add("Auth-Application-Id", 4)
        cca.add("CC-Request-Type", request.value("CC-Request-Type"))
        cca.add("CC-Request-Number", request.value("CC-Request-Number"))
        cca.add("Granted-Service-Unit", [cca.new_avp("CC-Time", 600)])
        return cca

    timers = Timers(watchdog=30.0, dwa=5.0)
    agent_port, relay_port = _free_port(), _free_port()
    ident = identity_from_config(AGENT_HOST, AGENT_REALM, 0, "pycgrates", ["Diameter Credit Control"], dictionary)
    server = DiameterServer(ident, dictionary, fixed_cca, listeners=[f"127.0.0.1:{agent_port}"], timers=timers)
    await server.start()
    log_path = tmp_path / "freeDiameterd.log"
    conf = _relay_config(tmp_path, relay_port, agent_port)
    with log_path.open("w") as log_file:
        relay = await asyncio.create_subprocess_exec(binary, "-c", str(conf), stdout=log_file,
                                                     stderr=subprocess.STDOUT)
    node = None
    try:
        # CER/CEA: the relay connects to the agent
        await _wait(lambda: any(c.opened.is_set() for c in server.connections) or relay.returncode is not None,
                    20, "the relay's CER")
        assert relay.returncode is None, log_path.read_text()
        conn = next(iter(server.connections))
        assert conn.remote_host == RELAY_HOST and conn.remote_realm == RELAY_REALM
        relay_dwrs, our_dwas = [], []
        answer_dwr, note_activity = conn.peer.answer_dwr, conn.peer.note_activity

        def spy_answer_dwr(msg):
            relay_dwrs.append(msg)
            answer_dwr(msg)

        def spy_note_activity(msg):
            if msg is not None and msg.command_code == 280:
                our_dwas.append(msg)
            note_activity(msg)

        conn.peer.answer_dwr, conn.peer.note_activity = spy_answer_dwr, spy_note_activity

        # the PCEF reaches the agent through the relay: CCR → CCA
        node = node_mod.Node(PCEF_HOST, PCEF_REALM)
        node.wakeup_interval = 1
        peer = node.add_peer(f"aaa://{RELAY_HOST}:{relay_port};transport=tcp", AGENT_REALM,
                             ip_addresses=["127.0.0.1"], is_persistent=True)
        app = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
        node.add_application(app, [peer])
        await asyncio.to_thread(node.start)
        assert await asyncio.to_thread(app.wait_for_ready, 10) is not False
        cca = await asyncio.to_thread(app.send_request, _ccr("pcef.example.net;1;42"), 10)
        assert cca.result_code == ResultCode.SUCCESS
        assert cca.session_id == "pcef.example.net;1;42"
        assert cca.origin_host == AGENT_HOST.encode()
        assert cca.granted_service_unit.cc_time == 600
        assert len(seen) == 1
        assert seen[0].value("Origin-Host") == PCEF_HOST
        assert [a.value for a in seen[0].avps_by_path(["Route-Record"])] == [PCEF_HOST]  # added by the relay

        # DWR from the relay (its Tw is 6 s ± jitter) answered by us
        await _wait(lambda: relay_dwrs, 12, "a DWR from the relay")
        # DWR from us answered by the relay
        timers.watchdog = 0.5
        conn.peer.note_activity(None)
        conn._rearm()
        await _wait(lambda: len(our_dwas) >= 2, 10, "two DWAs from the relay")
        assert conn.peer.state.value.startswith("open")
    finally:
        if node is not None and node._started and not node._stopping:
            await asyncio.to_thread(node.stop, 5, True)
        await server.stop()
        if relay.returncode is None:
            relay.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(relay.wait(), 3)
            except TimeoutError:  # it waits for its peers' DPA for up to 16 s; nothing left to see here
                relay.kill()
                await relay.wait()


def _avp(code: int, value, vendor: int = 0) -> Avp:
    item = Avp.new(code, vendor)
    item.is_mandatory = True
    item.value = value
    return item


async def _start_relay(binary: str, directory: Path, relay_port: int, agent_port: int):
    log_path = directory / "freeDiameterd.log"
    conf = _relay_config(directory, relay_port, agent_port)
    with log_path.open("w") as log_file:
        relay = await asyncio.create_subprocess_exec(binary, "-c", str(conf), stdout=log_file,
                                                     stderr=subprocess.STDOUT)
    return relay, log_path


async def _stop_relay(relay) -> None:
    if relay.returncode is None:
        relay.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(relay.wait(), 3)
        except TimeoutError:
            relay.kill()
            await relay.wait()


@pytest.mark.timeout(120)
async def test_pcef_ccr_through_the_relay_is_charged_by_the_engine(tmp_path):
    """CCR-I for a call, PCEF → freeDiameterd → the cgr-engine Diameter agent → SessionS, and the CCA back."""
    binary = require_binary("freeDiameterd")
    port, agent_port, relay_port = _free_port(), _free_port(), _free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides["diameter_agent"] = {"listeners": [{"address": f"127.0.0.1:{agent_port}", "network": "tcp"}],
                                   "origin_host": AGENT_HOST, "origin_realm": AGENT_REALM}
    cfg = make_config_dir(tmp_path / "cfg", REPO / "tutorials" / "diameter" / "engine", overrides=overrides)
    engine = EngineProcess(cfg, port, tmp_path / "engine.log").start()
    relay = node = None
    try:
        assert engine.call("APIerSv1.LoadTariffPlanFromFolder",
                           {"FolderPath": str(REPO / "tutorials" / "diameter" / "tariffplan")}) == "OK"
        relay, relay_log = await _start_relay(binary, tmp_path, relay_port, agent_port)
        await _wait(lambda: f"diameter peer {RELAY_HOST} (realm {RELAY_REALM}" in engine.log()
                    or relay.returncode is not None, 20, "the relay's CER to the agent")
        assert relay.returncode is None, relay_log.read_text()

        node = node_mod.Node(PCEF_HOST, PCEF_REALM)
        node.wakeup_interval = 1
        peer = node.add_peer(f"aaa://{RELAY_HOST}:{relay_port};transport=tcp", AGENT_REALM,
                             ip_addresses=["127.0.0.1"], is_persistent=True)
        app = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION, is_auth_application=True)
        node.add_application(app, [peer])
        await asyncio.to_thread(node.start)
        assert await asyncio.to_thread(app.wait_for_ready, 10) is not False

        session = "pcef.example.net;relay;1"
        ccr = _ccr(session)
        ccr.service_context_id = "32260@3gpp.org"
        ccr.append_avp(_avp(443, [_avp(450, 0), _avp(444, "491701234567")]))
        ims = _avp(876, [_avp(831, "tel:+491701234567", 10415), _avp(832, "tel:+491709876543", 10415)], 10415)
        ccr.append_avp(_avp(873, [ims], 10415))
        ccr.append_avp(_avp(437, [_avp(420, 120)]))
        cca = await asyncio.to_thread(app.send_request, ccr, 10)
        assert cca.result_code == ResultCode.SUCCESS
        assert cca.session_id == session and cca.origin_host == AGENT_HOST.encode()
        assert cca.cc_request_type == 1 and cca.cc_request_number == 0
        assert cca.granted_service_unit.cc_time == 120
        [active] = engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{session}"]})
        assert active["Account"] == "491701234567" and active["OriginHost"] == PCEF_HOST
    finally:
        if node is not None and node._started and not node._stopping:
            await asyncio.to_thread(node.stop, 5, True)
        if relay is not None:
            await _stop_relay(relay)
        engine.kill()
