"""CGRateS's own agent samples, unmodified but for their listen ports and store directories, with no dictionary
path of ours: the paths they name (/usr/share/cgrates/diameter/dict/, /usr/share/cgrates/radius/dict/) are
served by the shipped dictionaries. The messages are those of CGRateS's agent integration tests: the Huawei
CCR-I/U/T of agents/diam_it_test.go (IN-Information, vendor 2011), and the Kamailio PAP request and accounting
Start/Stop of agents/radagent_it_test.go (Sip-From-Tag, Sip-To-Tag, Sip-Method, Ascend-User-Acct-Time)."""

from __future__ import annotations

import datetime
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import require_binary, shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

SESSION = "bb97be2b9f37c2be9614fff71c8b1d08b1acbff8"
RADIUS_SECRET = "CGRateS.org"
RADIUS_SESSION = "e4921177ab0e3586c37f6a185864b71a@0:0:0:0:0:0:0:0"


def start_engine(tmp: Path, sample: str, agent_overrides: dict, tariffplan: str) -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp, port)
    overrides.update(agent_overrides)
    cfg = make_config_dir(tmp / "cfg", shared_data("conf", "samples", sample), overrides=overrides)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    try:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder",
                        {"FolderPath": str(shared_data("tariffplans", tariffplan))}) == "OK"
    except BaseException:
        eng.kill()
        raise
    return eng


# ---------------------------------------------------------------------------------------------------- Diameter


@pytest.fixture(scope="module")
def diameter_engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diamagent_internal")
    diameter_port = free_port()
    listeners = {"diameter_agent": {"listeners": [{"address": f"127.0.0.1:{diameter_port}", "network": "tcp"}]}}
    eng = start_engine(tmp, "diamagent_internal", listeners, "tutorial")
    eng.diameter_port = diameter_port  # type: ignore[attr-defined]
    yield eng
    eng.kill()


async def test_huawei_voice_ccrs_with_the_shipped_dictionaries(diameter_engine):
    # python-diameter's Node as the PCEF, with the CCRs of CGRateS's test (skipped where python-diameter is absent)
    from tests.integration.test_diameter_agent import PCEF, voice_ccr

    pcef = await PCEF(diameter_engine.diameter_port).start()
    try:
        t0 = datetime.datetime(2018, 10, 4, 14, 42, 20, tzinfo=datetime.UTC)
        cca = await pcef.send(voice_ccr(SESSION, 1, 0, 300, 0, t0))
        assert (cca.result_code, cca.granted_service_unit.cc_time) == (2001, 300)
        cca = await pcef.send(voice_ccr(SESSION, 2, 1, 300, 300, t0 + datetime.timedelta(minutes=15)))
        assert (cca.result_code, cca.granted_service_unit.cc_time) == (2001, 300)
        cca = await pcef.send(voice_ccr(SESSION, 3, 2, 0, 250, t0 + datetime.timedelta(minutes=30)))
        assert cca.result_code == 2001
    finally:
        await pcef.stop()
    [cdr] = diameter_engine.call("CDRsV1.GetCDRs", {"RunIDs": ["*raw"]})
    assert cdr["OriginID"] == SESSION and cdr["Usage"] == 550 * 10**9  # 300 + 250 used
    assert "127.0.0.1" in cdr["OriginHost"]
    # the Huawei AVPs were read: the sample's voice processors take the mandatory Destination from
    # Service-Information.IN-Information.Real-Called-Number (20327, vendor 2011)
    assert cdr["Destination"] == "1002" and cdr["Account"] == "1001"
    assert "/usr/share/cgrates/diameter/dict/ is served by the shipped dictionaries" in diameter_engine.log()


# ---------------------------------------------------------------------------------------------------- RADIUS

#: radclient's own dictionary (the NAS side): FreeRADIUS's tree and the attributes Kamailio sends (FreeRADIUS has a
#: vendor's Sip-Method already: the NAS names attribute 101 otherwise, the agent decodes it as Sip-Method)
NAS_DICTIONARY = """$INCLUDE /usr/share/freeradius/dictionary
ATTRIBUTE\tKamailio-Sip-Method\t101\tinteger
ATTRIBUTE\tSip-Response-Code\t102\tinteger
ATTRIBUTE\tSip-To-Tag\t104\tstring
ATTRIBUTE\tSip-From-Tag\t105\tstring
ATTRIBUTE\tSIP-AVP\t\t225\tstring
VALUE\tKamailio-Sip-Method\tInvite\t1
VALUE\tKamailio-Sip-Method\tBye\t8
"""
#: agents/radagent_it_test.go's packets, as Kamailio sends them; 143 is Ascend-User-Acct-Time (FreeRADIUS's
#: dictionary names the non-VSA one X-Ascend-User-Acct-Time)
PAP = ('User-Name = "1001", User-Password = "CGRateSPassword1", Service-Type = 30, Called-Station-Id = "1002", '
       f'Acct-Session-Id = "{RADIUS_SESSION}", Sip-From-Tag = "51585361", NAS-IP-Address = 127.0.0.1, '
       'Event-Timestamp = 1497106115')
ACCT = ('Acct-Status-Type = {status}, Service-Type = 15, Sip-Response-Code = 200, Kamailio-Sip-Method = {method}, '
        'Event-Timestamp = {ts}, Sip-From-Tag = "51585361", Sip-To-Tag = "75c2f57b", '
        f'Acct-Session-Id = "{RADIUS_SESSION}", User-Name = "1001", Called-Station-Id = "1002", '
        'X-Ascend-User-Acct-Time = 1497106115, NAS-Port = 5060, Acct-Delay-Time = 0, NAS-IP-Address = 127.0.0.1')


@pytest.fixture(scope="module")
def radius_engine(tmp_path_factory):
    require_binary("radclient")
    tmp = tmp_path_factory.mktemp("radagent_internal")
    auth, acct = free_port(), free_port()
    listeners = {"radius_agent": {"listeners": [
        {"network": "udp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"},
        {"network": "tcp", "auth_address": f"127.0.0.1:{auth}", "acct_address": f"127.0.0.1:{acct}"}]}}
    eng = start_engine(tmp, "radagent_internal", listeners, "oldtutorial")
    (tmp / "nas").mkdir()
    (tmp / "nas" / "dictionary").write_text(NAS_DICTIONARY)
    eng.radius = (auth, acct, tmp / "nas")  # type: ignore[attr-defined]
    yield eng
    eng.kill()


def radclient(engine: EngineProcess, command: str, attributes: str) -> str:
    """radclient's account of the reply (its first line and attributes)."""
    auth, acct, nas_dict = engine.radius  # type: ignore[attr-defined]
    port = auth if command == "auth" else acct
    proc = subprocess.run([require_binary("radclient"), "-x", "-r", "1", "-t", "2", "-d", str(nas_dict),
                           f"127.0.0.1:{port}", command, RADIUS_SECRET],
                          input=attributes.encode(), capture_output=True, timeout=15)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    match = re.search(r"^Received .*?(?=^Sent |\Z)", out, re.M | re.S)
    return match.group(0) if match else out


def test_kamailio_pap_request_with_the_shipped_dictionaries(radius_engine):
    reply = radclient(radius_engine, "auth", PAP)
    assert reply.startswith("Received Access-Accept"), reply
    assert re.findall(r'SIP-AVP = "([^"]*)"', reply) == ["session_max_time#10800"]


def test_kamailio_accounting_writes_the_cdr(radius_engine):
    origin_id = f"{RADIUS_SESSION}-51585361-75c2f57b"  # Acct-Session-Id;-;Sip-From-Tag;-;Sip-To-Tag
    reply = radclient(radius_engine, "acct", ACCT.format(status="Start", method="Invite", ts=1497106115))
    assert reply.startswith("Received Accounting-Response"), reply
    [active] = radius_engine.call("SessionSv1.GetActiveSessions", {"Filters": [
        "*string:~*req.RunID:*default", f"*string:~*req.OriginID:{origin_id}"]})
    assert active["Usage"] == 10 * 10**9  # the sample's debit_interval
    reply = radclient(radius_engine, "acct", ACCT.format(status="Stop", method="Bye", ts=1497106119))
    assert reply.startswith("Received Accounting-Response"), reply
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        radius_engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{origin_id}"]})
    [cdr] = radius_engine.call("CDRsV1.GetCDRs", {"RunIDs": ["*default"], "DestinationPrefixes": ["1002"]})
    assert cdr["OriginID"] == origin_id and cdr["Account"] == "1001"
    assert cdr["Usage"] == 4 * 10**9 and cdr["CostSource"] == "*sessions" and cdr["Cost"] == 0.01
    assert cdr["ExtraFields"]["RemoteAddr"] == "127.0.0.1"


def test_apier_v2_get_cdrs_answers_external_cdrs(radius_engine):
    """What agents/radagent_it_test.go's testRAitAcctStop reads: APIerSv2.GetCDRs, Usage "4s"."""
    [cdr] = radius_engine.call("APIerSv2.GetCDRs", {"RunIDs": ["*default"], "DestinationPrefixes": ["1002"]})
    assert cdr["Usage"] == "4s" and cdr["Cost"] == 0.01
