"""The Diameter agent end to end: python-diameter's Node as the PCEF (its own codec and peer layer) over real TCP, a
real cgr-engine with CGRateS's diamagent_internal sample config (the dictionaries path aside) and the tutorial
tariff plan. The CCRs are those of CGRateS's diameter integration tests."""

from __future__ import annotations

import asyncio
import datetime
import logging
import sys
import threading
import time
from types import SimpleNamespace

import pytest

from pycgrates.agents.diameter.agent import DiameterAgent
from pycgrates.engine.config.loader import config_from_dict, load_config
from pycgrates.engine.rpc.errors import RPCError
from tests.conftest import shared_data
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

node_mod = pytest.importorskip("diameter.node")
import diameter.node.peer as peer_mod  # noqa: E402
from diameter.message import Message as PyMessage  # noqa: E402
from diameter.message import constants  # noqa: E402
from diameter.message.avp import Avp, AvpGrouped, AvpOctetString, AvpUnsigned32, AvpUtf8String  # noqa: E402
from diameter.message.commands import CreditControlRequest  # noqa: E402
from diameter.node.application import SimpleThreadingApplication  # noqa: E402

PCEF_HOST, PCEF_REALM = "pcef.example.net", "cgrates.org"
AGENT_HOST, AGENT_REALM = "CGR-DA", "cgrates.org"
HUAWEI, TGPP = 2011, 10415
SESSION = "bb97be2b9f37c2be9614fff71c8b1d08b1acbff8"


# ---------------------------------------------------------------------------------------------------- CCRs


def avp(code: int, value, vendor: int = 0, kind: type | None = None) -> Avp:
    """An AVP for python-diameter: its own definition where it has one, else ``kind`` (or one by value)."""
    try:
        item = Avp.new(code, vendor)
    except ValueError:
        if kind is None:
            kind = AvpGrouped if isinstance(value, list) else AvpUtf8String if isinstance(value, str) else \
                AvpOctetString if isinstance(value, bytes) else AvpUnsigned32
        item = kind(code, vendor)
    item.is_mandatory = True
    item.value = value
    return item


def ccr(session: str, request_type: int, number: int, context: str, *avps: Avp,
        ts: datetime.datetime | None = None) -> CreditControlRequest:
    msg = CreditControlRequest()
    msg.header.is_proxyable = True
    msg.session_id = session
    msg.origin_host = PCEF_HOST.encode()
    msg.origin_realm = PCEF_REALM.encode()
    msg.destination_realm = AGENT_REALM.encode()
    msg.destination_host = AGENT_HOST.encode()
    msg.auth_application_id = 4
    msg.service_context_id = context
    msg.cc_request_type = request_type
    msg.cc_request_number = number
    msg.event_timestamp = ts or datetime.datetime(2018, 10, 4, 14, 42, 20, tzinfo=datetime.UTC)
    for item in avps:
        msg.append_avp(item)
    return msg


def subscription(data: str, kind: int = 0) -> Avp:
    return avp(443, [avp(450, kind), avp(444, data)])


def cc_time(code: int, seconds: int) -> Avp:
    """Requested-Service-Unit (437) or Used-Service-Unit (446) with CC-Time."""
    return avp(code, [avp(420, seconds)])


def in_information(calling: str, called: str, session: str) -> Avp:
    """Service-Information / IN-Information (Huawei) as the CGRateS voice CCRs carry it."""
    inner = [avp(831, calling, TGPP), avp(832, called, TGPP), avp(20327, called, HUAWEI),
             avp(20339, 0, HUAWEI), avp(20302, "", HUAWEI), avp(20303, "", HUAWEI),
             avp(20313, b"", HUAWEI), avp(20321, session, HUAWEI), avp(20322, "", HUAWEI),
             avp(20324, 0, HUAWEI), avp(20385, "", HUAWEI), avp(20386, "", HUAWEI)]
    return avp(873, [avp(20300, inner, HUAWEI)], TGPP)


def voice_ccr(session: str, request_type: int, number: int, requested: int, used: int,
              ts: datetime.datetime, subscriber: str = "1006", context: str = "voice@DiamItCCRInit"):
    return ccr(session, request_type, number, context, subscription(subscriber), avp(439, 0),
               cc_time(437, requested), cc_time(446, used), in_information(subscriber, "1002", session), ts=ts)


def values(msg, *path: tuple[int, int]) -> list:
    """Every value at an AVP path of a python-diameter message (codes with vendors), in message order."""
    level = list(msg.avps)
    for depth, (code, vendor) in enumerate(path):
        found = [a for a in level if a.code == code and a.vendor_id == vendor]
        if depth == len(path) - 1:
            return [a.value for a in found]
        level = [child for a in found for child in a.value]
    return []


def raw_view(answer):
    """The answer as received, parsed by python-diameter without its command model (which keeps one value of an
    AVP its model allows once, where the wire may carry several)."""
    return PyMessage.from_bytes(RAW_ANSWERS[answer.header.end_to_end_identifier], plain_msg=True)


#: answers as the PCEF's node read them off the socket, by end-to-end id
RAW_ANSWERS: dict[int, bytes] = {}


class _RecordingMessage:
    """Stands in for python-diameter's Message in its peer module: parses as it does, keeps the answers' bytes."""

    @staticmethod
    def from_bytes(data: bytes, plain_msg: bool = False):
        msg = PyMessage.from_bytes(data, plain_msg)
        if not msg.header.is_request:
            RAW_ANSWERS[msg.header.end_to_end_identifier] = bytes(data)
        return msg


@pytest.fixture(scope="module", autouse=True)
def record_answers():
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(peer_mod, "Message", _RecordingMessage)
        yield


# ---------------------------------------------------------------------------------------------------- the setup


class PCEF:
    """A python-diameter Node with a credit-control application pointed at the agent; it answers ASR/RAR with
    2001 and keeps them."""

    def __init__(self, port: int, host: str = PCEF_HOST, agent_host: str = AGENT_HOST) -> None:
        self.received: list = []
        self.arrived = threading.Event()
        self.node = node_mod.Node(host, PCEF_REALM)
        self.node.idle_timeout = 30
        self.node.wakeup_interval = 1
        self.peer = self.node.add_peer(f"aaa://{agent_host}:{port};transport=tcp", AGENT_REALM,
                                       ip_addresses=["127.0.0.1"], is_persistent=True)
        self.app = SimpleThreadingApplication(constants.APP_DIAMETER_CREDIT_CONTROL_APPLICATION,
                                              is_auth_application=True, request_handler=self._on_request)
        self.node.add_application(self.app, [self.peer])

    def _on_request(self, app, message):
        self.received.append(message)
        self.arrived.set()
        return app.generate_answer(message, constants.E_RESULT_CODE_DIAMETER_SUCCESS)

    def start_blocking(self) -> PCEF:
        self.node.start()
        self.app.wait_for_ready(10)
        return self

    def stop_blocking(self) -> None:
        if self.node._started and not self.node._stopping:
            self.node.stop(5, True)

    async def start(self) -> PCEF:
        return await asyncio.to_thread(self.start_blocking)

    async def send(self, message, timeout: float = 10):
        return await asyncio.to_thread(self.app.send_request, message, timeout)

    async def wait_request(self, command_code: int, timeout: float = 10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.received:
                if msg.header.command_code == command_code:
                    self.received.remove(msg)
                    return msg
            self.arrived.clear()
            await asyncio.to_thread(self.arrived.wait, 0.2)
        raise AssertionError(f"no request {command_code} from the agent within {timeout}s")

    async def stop(self) -> None:
        await asyncio.to_thread(self.stop_blocking)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diamagent")
    port, diameter_port = free_port(), free_port()
    overrides = storage_overrides(tmp, port)
    overrides["diameter_agent"] = {"listeners": [{"address": f"127.0.0.1:{diameter_port}", "network": "tcp"}],
                                   "dictionaries_path": str(shared_data("diameter", "dict"))}
    cfg = make_config_dir(tmp / "cfg", shared_data("conf", "samples", "diamagent_internal"), overrides=overrides)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    eng.diameter_port = diameter_port  # type: ignore[attr-defined]
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", "tutorial"))}) == "OK"
        yield eng
    finally:
        eng.kill()


@pytest.fixture(scope="module")
def pcef(engine):
    client = PCEF(engine.diameter_port).start_blocking()
    yield client
    client.stop_blocking()


def cdrs(engine: EngineProcess, **filters) -> list[dict]:
    try:
        return engine.call("CDRsV1.GetCDRs", filters)
    except RuntimeError as exc:
        if "NOT_FOUND" in str(exc):
            return []
        raise


# ---------------------------------------------------------------------------------------------------- peer


async def test_capabilities_watchdog_and_disconnect(engine):
    client = PCEF(engine.diameter_port, host="watchdog.example.net")
    client.node.idle_timeout = 1  # the node sends DWR after 1 s idle
    dwas: list[int] = []
    got_dwa = threading.Event()
    original = client.node.receive_dwa

    def spy_dwa(conn, message):
        dwas.append(message.result_code)
        got_dwa.set()
        original(conn, message)

    client.node.receive_dwa = spy_dwa
    try:
        await client.start()  # CER/CEA done: the application is ready
        await asyncio.to_thread(got_dwa.wait, 10)
        assert dwas and dwas[0] == constants.E_RESULT_CODE_DIAMETER_SUCCESS
        started = time.monotonic()
        await asyncio.to_thread(client.node.stop, 10)  # DPR, waits for our DPA
        assert time.monotonic() - started < 9, "DPA did not come back"
    finally:
        await client.stop()


def in_process_agent(cfg) -> DiameterAgent:
    """The agent without an engine around it: no SessionS, FilterS's inline filters only."""
    return DiameterAgent(SimpleNamespace(cfg=cfg, conns=SimpleNamespace(bidirectional=lambda ids, agent: None),
                                         services={}))


def test_default_config_loads_the_shipped_dictionaries():
    agent = in_process_agent(config_from_dict({"diameter_agent": {"enabled": True, "sessions_conns": []}}))
    s = agent.settings
    assert s.dictionary.application(4).name == "Diameter Credit Control"
    assert s.dictionary.avp("Multiple-Services-Credit-Control").type == "Grouped"
    assert s.identity.auth_application_ids == [4] and s.identity.acct_application_ids == [3]
    assert s.processors == () and {"*err", "*cca", "*asr", "*rar"} <= set(s.templates)


def test_sample_config_compiles_every_shipped_processor(caplog):
    caplog.set_level(logging.ERROR, "pycgrates.agents.diameter")
    cfg = load_config(REPO / "config" / "samples" / "diameter_gy")
    agent = in_process_agent(cfg)
    assert not caplog.records, caplog.text
    ids = {p.id for p in agent.settings.processors}
    assert {"GyVoiceInitial", "GyVoiceUpdate", "GyVoiceTerminate", "GySMS", "GyDataNoRatingGroup"} <= ids
    assert {f"GyData{kind}RG{rg}" for kind in ("Initial", "Update", "Terminate") for rg in (1, 2)} <= ids
    assert len(ids) == 3 + 7 + 1
    assert agent.settings.forced_disconnect == "*asr" and agent.settings.identity.origin_host == "ocs.cgrates.org"


async def test_disconnect_peer():
    cfg = config_from_dict({"diameter_agent": {"enabled": True, "sessions_conns": [], "origin_host": AGENT_HOST,
                                               "listeners": [{"address": "127.0.0.1:0", "network": "tcp"}]}})
    agent = in_process_agent(cfg)
    await agent.start()
    client = PCEF(agent.addresses[0][1], host="dpr.example.net")
    client.peer.is_persistent = False
    dprs: list[int] = []
    original = client.node.receive_dpr

    def spy_dpr(conn, message):
        dprs.append(message.disconnect_cause)
        original(conn, message)

    client.node.receive_dpr = spy_dpr
    try:
        await client.start()
        assert await agent.disconnect_peer({"OriginHost": "dpr.example.net", "OriginRealm": PCEF_REALM,
                                            "DisconnectCause": 1}) == "OK"
        assert dprs == [constants.E_DISCONNECT_CAUSE_BUSY]
        with pytest.raises(RPCError, match="NOT_FOUND"):
            await agent.disconnect_peer({"OriginHost": "dpr.example.net"})
    finally:
        await client.stop()
        await agent.stop()


async def test_reload_swaps_processors_and_keeps_the_peers():
    base = {"enabled": True, "sessions_conns": [], "origin_host": AGENT_HOST,
            "listeners": [{"address": "127.0.0.1:0", "network": "tcp"}]}
    agent = in_process_agent(config_from_dict({"diameter_agent": base}))
    await agent.start()
    client = PCEF(agent.addresses[0][1], host="reload.example.net")
    try:
        await client.start()
        cca = await client.send(ccr("reload-1", 1, 0, "32260@3gpp.org"))
        assert cca.result_code == 5012 and cca.header.is_error  # no processor: the *err answer
        [conn] = agent.server.connections
        processor = {"id": "Static", "filters": ["*string:~*vars.*cmd:CCR"], "flags": ["*none"],
                     "reply_fields": [{"tag": "CCA", "type": "*template", "value": "*cca"},
                                      {"tag": "Granted", "path": "*rep.Granted-Service-Unit.CC-Time",
                                       "type": "*constant", "value": "60"}]}
        await agent.reload(config_from_dict({"diameter_agent": {**base, "request_processors": [processor]}}))
        cca = await client.send(ccr("reload-2", 1, 0, "32260@3gpp.org"))
        assert cca.result_code == 2001 and cca.granted_service_unit.cc_time == 60
        assert agent.server.connections == {conn}
    finally:
        await client.stop()
        await agent.stop()


# ---------------------------------------------------------------------------------------------------- Gy


async def test_voice_session_initial_update_terminate(engine, pcef):
    t0 = datetime.datetime(2018, 10, 4, 14, 42, 20, tzinfo=datetime.UTC)
    cca = await pcef.send(voice_ccr(SESSION, 1, 0, 300, 0, t0))
    assert cca.result_code == 2001
    assert cca.session_id == SESSION and cca.cc_request_type == 1 and cca.cc_request_number == 0
    assert cca.granted_service_unit.cc_time == 300
    runs = engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{SESSION}"]})
    assert {r["RunID"] for r in runs} == {"*default", "*raw"}  # the tutorial's chargers
    assert all(r["Account"] == "1001" and r["Tenant"] == "cgrates.org" for r in runs)

    cca = await pcef.send(voice_ccr(SESSION, 2, 1, 300, 300, t0 + datetime.timedelta(minutes=15)))
    assert cca.result_code == 2001 and cca.granted_service_unit.cc_time == 300

    cca = await pcef.send(voice_ccr(SESSION, 3, 2, 0, 250, t0 + datetime.timedelta(minutes=30)))
    assert cca.result_code == 2001 and cca.cc_request_type == 3
    [cdr] = cdrs(engine, RunIDs=["*raw"], OriginIDs=[SESSION])
    assert cdr["Usage"] == 550 * 10**9
    assert "127.0.0.1" in cdr["OriginHost"]  # ~*vars.RemoteHost


async def test_dry_run_echoes_both_rating_groups(pcef):
    def mscc(rating_group: int, total: int, inp: int, out: int) -> Avp:
        used = avp(446, [avp(421, total), avp(412, inp), avp(414, out)])
        return avp(456, [used, avp(439, 65000), avp(432, rating_group), avp(872, 2, TGPP)])

    msg = ccr("cgrates;1451911932;00082", 1, 1, "TestDiamItDryRun", subscription("1001"),
              subscription("208123456789", 1), avp(439, 0), cc_time(437, 300),
              mscc(1, 7640, 5337, 2303), mscc(2, 3000, 2000, 1000),
              ts=datetime.datetime(2016, 1, 5, 11, 30, 10, tzinfo=datetime.UTC))
    cca = await pcef.send(msg)
    assert cca.result_code == 2002
    assert cca.session_id == "cgrates;1451911932;00082"
    assert cca.origin_host == AGENT_HOST.encode() and cca.origin_realm == AGENT_REALM.encode()
    assert cca.auth_application_id == 4 and cca.cc_request_type == 1 and cca.cc_request_number == 1
    raw = raw_view(cca)
    assert values(raw, (456, 0), (432, 0)) == [1, 2]  # Multiple-Services-Credit-Control.Rating-Group
    assert values(raw, (456, 0), (446, 0), (421, 0)) == [7640, 3000]  # ...Used-Service-Unit.CC-Total-Octets
    assert values(raw, (431, 0), (420, 0)) == [6]  # Granted-Service-Unit.CC-Time: 1 + 2 + 3


async def test_processing_error_answers_5012_from_the_err_template(engine, pcef):
    sms = avp(873, [avp(2000, [avp(1201, [avp(899, 1, TGPP), avp(897, "1003", TGPP)], TGPP)], TGPP)], TGPP)
    msg = ccr("diameter-error-1", 4, 0, "error@DiamItError", subscription("1001"), avp(439, 0), avp(436, 0),
              cc_time(437, 1), sms)
    cca = await pcef.send(msg)
    assert cca.result_code == 5012
    assert cca.header.is_error
    assert cca.session_id == "diameter-error-1"
    assert cca.origin_host == AGENT_HOST.encode() and cca.origin_realm == AGENT_REALM.encode()
    line = next(ln for ln in engine.log().splitlines() if "diameter-error-1" in ln and "<DiameterAgent>" in ln)
    assert "Granted-Service-Unit.CC-Total" in line or "CC-Total" in line


async def test_unmatched_request_answers_5012(pcef):
    cca = await pcef.send(ccr("diameter-nomatch-1", 1, 0, "nobody@serves.this", subscription("1001")))
    assert cca.result_code == 5012 and cca.header.is_error and cca.session_id == "diameter-nomatch-1"


def test_broken_processors_are_disabled_with_a_config_error(engine):
    log = engine.log()
    for pid, field in (("data_init", "Category"), ("data_update_grp1", "Category"),
                       ("data_update_grp2", "OriginID"), ("data_terminate", "LastUsed")):
        line = next(ln for ln in log.splitlines() if f"<{pid}>" in ln and "disabled" in ln)
        assert "ERROR" in line and f"<{field}>" in line


# ---------------------------------------------------------------------------------------------------- back-calls


async def test_forced_disconnect_sends_asr_and_alter_sends_rar(engine, pcef):
    account = "testDiamInitWithSessionDisconnect"
    engine.call("APIerSv2.SetBalance", {"Tenant": "cgrates.org", "Account": account, "BalanceType": "*voice",
                                        "Value": 10**9, "Balance": {"ID": account, "RatingSubject": "*zero1ms"}})
    session = "bb97be2b9f37c2be9614fff71c8b1d08bdisconnect"
    msg = ccr(session, 1, 1, "testSessionDisconnect", subscription(account), avp(439, 0), cc_time(437, 300),
              cc_time(446, 0), in_information("1001", "1002", session))
    msg.user_name = account
    cca = await pcef.send(msg)
    assert cca.result_code == 2001
    filters = {"Filters": [f"*string:~*req.OriginID:{session}"]}
    # SessionS asks the agent which sessions it still has (AgentV1.GetActiveSessionIDs) and keeps this one
    assert engine.call("SessionSv1.SyncSessions", "") == "OK"
    assert engine.call("SessionSv1.GetActiveSessions", filters)
    assert engine.call("SessionSv1.AlterSessions", {**filters, "Event": {"Reason": "quota"}}) == "OK"
    rar = await pcef.wait_request(258)
    assert rar.session_id == session and rar.re_auth_request_type == 0
    assert rar.destination_host == PCEF_HOST.encode() and rar.origin_host == AGENT_HOST.encode()

    assert engine.call("SessionSv1.ForceDisconnect", filters) == "OK"
    asr = await pcef.wait_request(274)
    assert asr.session_id == session
    assert asr.destination_host == PCEF_HOST.encode() and asr.auth_application_id == 4


# ---------------------------------------------------------------------------------------------------- shipped templates

TUTORIAL = REPO / "tutorials" / "diameter"
OCS_HOST = "ocs.cgrates.org"
ALICE = "491701234567"


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """cgr-engine on the tutorial's config (templates/diameter/*.json) and tariff plan."""
    tmp = tmp_path_factory.mktemp("diamtutorial")
    port, diameter_port = free_port(), free_port()
    overrides = storage_overrides(tmp, port)
    overrides["diameter_agent"] = {"listeners": [{"address": f"127.0.0.1:{diameter_port}", "network": "tcp"}]}
    eng = EngineProcess(make_config_dir(tmp / "cfg", TUTORIAL / "engine", overrides=overrides), port,
                        tmp / "engine.log").start()
    eng.diameter_port = diameter_port  # type: ignore[attr-defined]
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(TUTORIAL / "tariffplan")}) == "OK"
        yield eng
    finally:
        eng.kill()


@pytest.fixture(scope="module")
def ocs_client(tutorial):
    client = PCEF(tutorial.diameter_port, agent_host=OCS_HOST).start_blocking()
    yield client
    client.stop_blocking()


async def test_tutorial_client(tutorial):
    async def run(*args: str) -> str:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, str(TUTORIAL / "gy_client.py"), *args, "--port", str(tutorial.diameter_port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode == 0, err.decode()
        return out.decode()

    voice, bob, data, sms = await asyncio.gather(
        run("voice", "--used", "60,45"), run("voice", "--caller", "491707654321", "--used", "20"),
        run("data", "--used", "1048576,524288"), run("sms"))
    assert voice.splitlines() == ["CCR-I #0 -> Result-Code 2001 (SUCCESS), granted 300 s",
                                  "CCR-U #1 -> Result-Code 2001 (SUCCESS), granted 300 s",
                                  "CCR-T #2 -> Result-Code 2001 (SUCCESS)"]
    assert bob.splitlines()[0] == "CCR-I #0 -> Result-Code 2001 (SUCCESS), granted 20 s, final units (TERMINATE)"
    assert data.splitlines()[0] == ("CCR-I #0 -> Result-Code 2001 (SUCCESS); Rating-Group 1: 2001, granted "
                                    "10485760 octets, valid 3600 s")
    assert sms.splitlines() == ["CCR-E #0 -> Result-Code 2001 (SUCCESS), granted 1 SMS"]
    usage = {(c["ToR"], c["Account"]): c["Usage"] for c in tutorial.call("CDRsV1.GetCDRs", {})}
    assert usage == {("*voice", ALICE): 105 * 10**9, ("*voice", "491707654321"): 20 * 10**9,
                     ("*data", ALICE): 1048576 + 524288, ("*sms", ALICE): 1}


def data_ccr(session: str, request_type: int, number: int, *msccs: Avp) -> CreditControlRequest:
    msg = ccr(session, request_type, number, "8.32251@3gpp.org", subscription(ALICE), *msccs,
              ts=datetime.datetime.now(datetime.UTC))  # the tutorial's rates start in 2020
    msg.destination_host = OCS_HOST.encode()
    msg.called_station_id = "internet"
    return msg


def mscc(rating_group: int, used: int | None = None, ask: bool = True) -> Avp:
    items = [avp(432, rating_group)]
    if ask:
        items.append(avp(437, []))
    if used is not None:
        items.append(avp(446, [avp(421, used)]))
    return avp(456, items)


async def test_data_quota_per_rating_group_and_asr(tutorial, ocs_client):
    session = "pgw.example.net;data;1"
    cca = await ocs_client.send(data_ccr(session, 1, 0, mscc(1), mscc(2)))
    assert cca.result_code == 2001
    raw = raw_view(cca)
    assert values(raw, (456, 0), (432, 0)) == [1, 2]  # an MSCC per Rating-Group asked
    assert values(raw, (456, 0), (268, 0)) == [2001, 2001]
    assert values(raw, (456, 0), (431, 0), (421, 0)) == [10485760, 10485760]
    assert values(raw, (456, 0), (448, 0)) == [3600, 3600]  # Validity-Time
    assert values(raw, (456, 0), (430, 0)) == []  # no Final-Unit-Indication: the credit lasts

    # SessionS ends the Rating-Group 1 session: the PCEF gets an ASR for the Diameter session
    assert tutorial.call("SessionSv1.ForceDisconnect",
                         {"Filters": [f"*string:~*req.OriginID:{session}_rg1"]}) == "OK"
    asr = await ocs_client.wait_request(274)
    assert asr.session_id == session and asr.origin_host == OCS_HOST.encode()

    cca = await ocs_client.send(data_ccr(session, 3, 1, mscc(1, 2000, ask=False), mscc(2, 3000, ask=False)))
    assert cca.result_code == 2001
    usage = {c["OriginID"]: c["Usage"] for c in tutorial.call("CDRsV1.GetCDRs", {"Accounts": [ALICE],
                                                                                 "ToRs": ["*data"]})}
    assert usage[f"{session}_rg2"] == 3000


async def test_data_last_quota_carries_final_unit_indication(tutorial, ocs_client):
    tutorial.call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": ALICE, "BalanceType": "*monetary",
                                          "Value": 0.02, "Balance": {"ID": "MONEY"}})
    cca = await ocs_client.send(data_ccr("pgw.example.net;data;fui", 1, 0, mscc(7), mscc(1)))
    raw = raw_view(cca)
    # Rating-Group 7 has no processor: no MSCC for it. 0.02 buys 2000 KB of the 10 MB asked: 0.01 a MB is
    # 0.00001 a KB once each increment is rounded to 5 decimals
    assert values(raw, (456, 0), (432, 0)) == [1]
    assert values(raw, (456, 0), (431, 0), (421, 0)) == [2000 * 1024]
    assert values(raw, (456, 0), (430, 0), (449, 0)) == [0]  # Final-Unit-Action TERMINATE
