"""Retransmitted CCRs (T flag) against a real cgr-engine: the copy gets the first answer and the account is debited
once, whichever of the two arrives first and over whichever connection; the voice session of the CGRateS tests
and the ASR/RAR SessionS asks for.

The engine runs CGRateS's diamagent_internal sample with the tutorial tariff plan and one change: the default
tenant is cgrates.org, where the plan's accounts and chargers live (the sample's cgrates.com relies on AttributeS
moving the event to cgrates.org, see test_diameter_agent.py).
"""

from __future__ import annotations

import asyncio
import datetime
from decimal import Decimal

import pytest

from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

pytest.importorskip("diameter.node")
from test_diameter_agent import (
    PCEF,
    PCEF_HOST,
    RAW_ANSWERS,
    avp,
    cc_time,
    ccr,
    cdrs,
    in_information,
    record_answers,  # noqa: F401  (module fixture: keeps the answers' bytes)
    subscription,
    voice_ccr,
)

T0 = datetime.datetime(2018, 10, 4, 14, 42, 20, tzinfo=datetime.UTC)


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("diamdedup")
    port, diameter_port = free_port(), free_port()
    overrides = storage_overrides(tmp, port)
    overrides["general"] = {"default_tenant": "cgrates.org"}
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
def pcefs(engine):
    """Two PCEF nodes: a retransmission usually comes over another connection (RFC 6733 §5.5.4 failover)."""
    first = PCEF(engine.diameter_port).start_blocking()
    second = PCEF(engine.diameter_port, host="pcef-b.example.net").start_blocking()
    yield first, second
    first.stop_blocking()
    second.stop_blocking()


def money(engine: EngineProcess, account: str = "1001") -> Decimal:
    acc = engine.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
    return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))


def retransmission(message, end_to_end: int):
    """The same request again as a client resends it: T flag, same end-to-end id, a new hop-by-hop id."""
    message.header.is_retransmit = True
    message.header.hop_by_hop_identifier = 0
    message.header.end_to_end_identifier = end_to_end
    return message


def body(answer) -> bytes:
    """An answer's bytes after the hop-by-hop id: the end-to-end id and every AVP."""
    return RAW_ANSWERS[answer.header.end_to_end_identifier][16:]


async def test_voice_session_initial_update_terminate(engine, pcefs):
    pcef, _ = pcefs
    session = "dedup-voice-plain"
    cca = await pcef.send(voice_ccr(session, 1, 0, 300, 0, T0))
    assert cca.result_code == 2001 and cca.granted_service_unit.cc_time == 300
    cca = await pcef.send(voice_ccr(session, 2, 1, 300, 300, T0 + datetime.timedelta(minutes=15)))
    assert cca.result_code == 2001 and cca.granted_service_unit.cc_time == 300
    cca = await pcef.send(voice_ccr(session, 3, 2, 0, 250, T0 + datetime.timedelta(minutes=30)))
    assert cca.result_code == 2001
    [cdr] = cdrs(engine, RunIDs=["*raw"], OriginIDs=[session])
    assert cdr["Usage"] == 550 * 10**9 and "127.0.0.1" in cdr["OriginHost"]


async def _update_twice(engine, pcefs, session: str, order: str):
    """CCR-I, then one CCR-U sent twice (``order``: which copy goes when); returns the two CCAs and the money the
    update cost. The copy processed is always the one on connection a, where the session started: the sample's
    processors make the peer's address part of the session (OriginHost = ~*vars.RemoteHost)."""
    a, b = pcefs
    assert (await a.send(voice_ccr(session, 1, 0, 300, 0, T0))).result_code == 2001
    before = money(engine)
    update = voice_ccr(session, 2, 1, 300, 300, T0 + datetime.timedelta(minutes=5))
    copy = voice_ccr(session, 2, 1, 300, 300, T0 + datetime.timedelta(minutes=5))
    update.header.end_to_end_identifier = e2e = 0x5EED0000 + len(RAW_ANSWERS)
    retransmission(copy, e2e)
    if order == "original first":
        first = await a.send(update)
        second = await b.send(copy)
    elif order == "retransmission first":
        # the original was held up on its way (connection b stalled) and the client failed over to a; the
        # original arrives late (RFC 6733 Appendix C)
        second = await a.send(copy)
        first = await b.send(update)
    else:  # the copy arrives while the original is being processed (on the same connection: either may lead)
        first, second = await _back_to_back(a, update, copy)
    return first, second, before - money(engine)


async def _back_to_back(pcef, original, copy):
    """Both requests on the wire before the agent can answer the first."""
    first = asyncio.ensure_future(pcef.send(original))
    await asyncio.sleep(0.001)
    second = await pcef.send(copy)
    return await first, second


@pytest.mark.parametrize("order", ["original first", "retransmission first", "both in flight"])
async def test_retransmitted_update_is_answered_once_and_debited_once(engine, pcefs, order):
    session = f"dedup-{order.replace(' ', '-')}"
    first, second, cost = await _update_twice(engine, pcefs, session, order)
    assert first.result_code == second.result_code == 2001
    assert first.granted_service_unit.cc_time == second.granted_service_unit.cc_time == 300
    assert body(first) == body(second)  # the same answer, readdressed
    assert first.header.hop_by_hop_identifier != second.header.hop_by_hop_identifier or first is second
    # one update of 300 s more at the tutorial's 1001→1002 rate, not two
    once = await _cost_of_one_update(engine, pcefs)
    assert cost == once
    runs = engine.call("SessionSv1.GetActiveSessions", {"Filters": [f"*string:~*req.OriginID:{session}"]})
    assert {r["RunID"]: r["Usage"] for r in runs}["*default"] == 600 * 10**9  # 300 s initial + 300 s update

    a, _ = pcefs
    cca = await a.send(voice_ccr(session, 3, 2, 0, 250, T0 + datetime.timedelta(minutes=10)))
    assert cca.result_code == 2001
    [cdr] = cdrs(engine, RunIDs=["*raw"], OriginIDs=[session])
    assert cdr["Usage"] == 550 * 10**9


_ONE_UPDATE: list[Decimal] = []


async def _cost_of_one_update(engine, pcefs) -> Decimal:
    """What a single (not retransmitted) CCR-U of this kind costs, measured once on a session of its own."""
    if not _ONE_UPDATE:
        a, _ = pcefs
        session = "dedup-reference"
        assert (await a.send(voice_ccr(session, 1, 0, 300, 0, T0))).result_code == 2001
        before = money(engine)
        upd = await a.send(voice_ccr(session, 2, 1, 300, 300, T0 + datetime.timedelta(minutes=5)))
        assert upd.result_code == 2001
        _ONE_UPDATE.append(before - money(engine))
        await a.send(voice_ccr(session, 3, 2, 0, 0, T0 + datetime.timedelta(minutes=10)))
        assert _ONE_UPDATE[0] > 0
    return _ONE_UPDATE[0]


async def test_retransmitted_terminate_makes_one_cdr(engine, pcefs):
    a, _ = pcefs
    session = "dedup-terminate"
    assert (await a.send(voice_ccr(session, 1, 0, 300, 0, T0))).result_code == 2001
    term = voice_ccr(session, 3, 1, 0, 120, T0 + datetime.timedelta(minutes=5))
    term.header.end_to_end_identifier = 0x7E7E0001
    copy = retransmission(voice_ccr(session, 3, 1, 0, 120, T0 + datetime.timedelta(minutes=5)), 0x7E7E0001)
    first, second = await _back_to_back(a, term, copy)
    assert first.result_code == second.result_code == 2001
    [cdr] = cdrs(engine, RunIDs=["*raw"], OriginIDs=[session])
    assert cdr["Usage"] == 120 * 10**9


async def test_forced_disconnect_sends_asr_and_alter_sends_rar(engine, pcefs):
    pcef, _ = pcefs
    account = "testDiamInitWithSessionDisconnect"
    engine.call("APIerSv2.SetBalance", {"Tenant": "cgrates.org", "Account": account, "BalanceType": "*voice",
                                        "Value": 10**9, "Balance": {"ID": account, "RatingSubject": "*zero1ms"}})
    session = "bb97be2b9f37c2be9614fff71c8b1d08bdisconnect"
    msg = ccr(session, 1, 1, "testSessionDisconnect", subscription(account), avp(439, 0), cc_time(437, 300),
              cc_time(446, 0), in_information("1001", "1002", session))
    cca = await pcef.send(msg)
    # the sample runs a 1s debit loop (*sessionsDebitInterval): as in CGRateS the grant is the default usage (3h)
    # and the loop, not the grant, ends the call once the 1s of balance is used
    assert cca.result_code == 2001 and cca.granted_service_unit.cc_time == 10800
    filters = {"Filters": [f"*string:~*req.OriginID:{session}"]}
    # SessionS asks the agent which sessions it still has (AgentV1.GetActiveSessionIDs) and keeps this one
    assert engine.call("SessionSv1.SyncSessions", "") == "OK"
    assert engine.call("SessionSv1.GetActiveSessions", filters)
    assert engine.call("SessionSv1.AlterSessions", {**filters, "Event": {"Reason": "quota"}}) == "OK"
    rar = await pcef.wait_request(258)
    assert rar.session_id == session and rar.re_auth_request_type == 0
    assert rar.destination_host == PCEF_HOST.encode() and rar.origin_host == b"CGR-DA"

    assert engine.call("SessionSv1.ForceDisconnect", filters) == "OK"
    asr = await pcef.wait_request(274)
    assert asr.session_id == session
    assert asr.destination_host == PCEF_HOST.encode() and asr.auth_application_id == 4
