"""SessionS, RALs and CDRs in one engine process: the models cross the Conns as objects, a client's APIOpts cannot
steer SessionS's journal, CDRs are reached only through cdrs_conns, and background work stops with the service."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from pycgrates.engine.app import Engine
from pycgrates.engine.cdrs.api import ArgV1ProcessEvent, CDRsQuery
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.rating import api as rals
from pycgrates.engine.rating.calldesc import CallDescriptor
from pycgrates.engine.rpc.errors import Disconnected, Exists, RPCError
from pycgrates.engine.sessions import api
from tests.conftest import shared_data
from tests.engine_proc import free_port

S = 10**9
EVENT = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "inproc1", "RequestType": "*prepaid",
         "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "90s"}


def engine_config(**sessions: Any) -> Any:
    return config_from_dict({
        "general": {"default_timezone": "UTC"},
        "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
        "rals": {"enabled": True}, "apiers": {"enabled": True}, "chargers": {"enabled": True},
        "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
        "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                     "chargers_conns": ["*internal"], **sessions},
        "rpc_conns": {"deadcdrs": {"conns": [{"address": f"127.0.0.1:{free_port()}", "transport": "*json"}]}},
    })


async def start(**sessions: Any) -> Engine:
    eng = Engine(engine_config(**sessions))
    await eng.start()
    call = eng.dispatcher.registry.dispatch
    folder = shared_data("tariffplans", "oldtutorial")
    assert await call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(folder)}) == "OK"
    await call("APIerSv1.RemoveAccount", {"Tenant": "cgrates.org", "Account": "1001"})
    await call("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": "1001"})
    await call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*monetary",
                                       "Value": 10, "Balance": {"ID": "MAIN"}})
    return eng


async def money(eng: Engine) -> list[Decimal]:
    acc = await eng.dispatcher.registry.dispatch("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": "1001"})
    return [Decimal(str(b["Value"])) for b in acc["BalanceMap"]["*monetary"]]


@pytest.fixture
async def engine():
    eng = await start()
    yield eng
    await eng.stop()


async def test_sessions_hand_models_to_rals_and_cdrs(engine):
    seen: list[tuple[str, type]] = []
    invoke = engine.dispatcher.invoke

    async def recording(method: str, arg: Any, caller: Any = None) -> Any:
        seen.append((method, type(arg)))
        return await invoke(method, arg, caller)

    engine.dispatcher.invoke = recording  # records what crosses the in-process Conns, then calls through
    conn = engine.conns.get(["*internal"])
    init = await api.INITIATE.call(conn, api.V1InitSessionArgs(InitSession=True, Event=dict(EVENT)))
    assert init["MaxUsage"] == 90 * S
    assert await money(engine) == [Decimal("8.70001")]  # same money as over JSON-RPC (test_sessions)
    sessions = engine.ctx.services["sessions"]
    [s] = list(sessions.active.values())
    [run] = [r for r in s.runs if r.prepaid]
    bi = run.cost.timespans[0].increments[-1].balance_info
    assert not isinstance(bi, dict) and bi.AccountID == "cgrates.org:1001"  # RALs' own DebitInfo, not its JSON
    term = api.V1TerminateSessionArgs(TerminateSession=True, Event={**EVENT, "Usage": "60s"})
    assert await api.TERMINATE.call(conn, term) == "OK"
    assert await money(engine) == [Decimal("8.8")]
    assert await api.PROCESS_CDR.call(conn, api.V1ProcessCDRArgs(Event={**EVENT, "Usage": "60s"})) == "OK"
    crossed = dict(seen)
    assert crossed["SessionSv1.InitiateSession"] is api.V1InitSessionArgs
    for method in ("Responder.MaxDebit", "Responder.RefundIncrements", "Responder.RefundRounding"):
        if method in crossed:
            assert crossed[method] is CallDescriptor, method
    assert crossed["Responder.MaxDebit"] is CallDescriptor
    assert crossed["CDRsV1.GetCDRsCount"] is CDRsQuery and crossed["CDRsV1.ProcessEvent"] is ArgV1ProcessEvent
    cdrs = await engine.dispatcher.registry.dispatch("CDRsV1.GetCDRs", {"OriginIDs": ["inproc1"]})
    [cdr] = [c for c in cdrs if c["RunID"] == "*default"]
    assert cdr["CostSource"] == "*sessions" and Decimal(str(cdr["Cost"])) == Decimal("1.2")
    assert {a["AccountID"] for a in cdr["CostDetails"]["Accounting"].values()} == {"cgrates.org:1001"}
    with pytest.raises(Exists):  # typed errors cross too
        await api.INITIATE.call(conn, api.V1InitSessionArgs(InitSession=True, Event=dict(EVENT)))


async def test_client_api_opts_come_back_untouched_and_cannot_steer_the_journal(engine):
    conn = engine.conns.get(["*internal"])
    # another session's journal record, as RALs writes it with a debit
    victim = CallDescriptor.from_json({"Tenant": "cgrates.org", "Category": "call", "Account": "1001",
                                       "Destination": "1004", "TimeStart": "2016-01-05T18:31:05Z",
                                       "TimeEnd": "2016-01-05T18:31:15Z"})
    victim.journal_key = "victim:*default:00000001"
    await rals.MAX_DEBIT.call(conn, victim)
    before = await money(engine)
    opts = {"_journal": ["victim:*default:00000001"], "_seq": 41, "_init_max_usage": 7,
            "*journalKey": "victim:*default:00000002", "*custom": {"kept": True}, "*idempotencyKey": "k1"}
    sent = {"InitSession": True, "Event": dict(EVENT), "APIOpts": opts}
    pristine = copy.deepcopy(sent)
    init = await conn.call("SessionSv1.InitiateSession", sent)
    assert init["MaxUsage"] == 90 * S
    again = await conn.call("SessionSv1.InitiateSession", sent)  # sent again under its key: the first answer
    assert again["MaxUsage"] == 90 * S
    assert sent["APIOpts"] == pristine["APIOpts"]  # the caller's options are not written to
    s = next(iter(engine.ctx.services["sessions"].active.values()))
    assert s.opts == pristine["APIOpts"]  # the session keeps them as sent, nothing of SessionS's own in them
    assert s.journal_seq == 1  # one debit: SessionS's sequence, not the client's 41
    dm = engine.ctx.dm
    assert await dm.get("sjr", "victim:*default:00000001") is not None  # not removed by the client's "_journal"
    assert await dm.get("sjr", "victim:*default:00000002") is None  # the client's key was not used
    assert sum(await money(engine)) == sum(before) - Decimal("1.29999")  # charged once, for 90s


async def test_a_failed_cdr_lookup_is_an_error_not_a_new_session():
    eng = await start(cdrs_conns=["deadcdrs"])
    try:
        conn = eng.conns.get(["*internal"])
        with pytest.raises(Disconnected):  # CDRs cannot be asked whether the session was billed: refuse
            await api.INITIATE.call(conn, api.V1InitSessionArgs(InitSession=True, Event=dict(EVENT)))
        assert await money(eng) == [Decimal(10)]  # nothing charged
        assert not eng.ctx.services["sessions"].active
    finally:
        await eng.stop()


async def test_debit_loops_and_timers_run_under_the_service_supervisor():
    eng = await start(debit_interval="10s", session_ttl="1h")
    sessions = eng.ctx.services["sessions"]
    conn = eng.conns.get(["*internal"])
    await api.INITIATE.call(conn, api.V1InitSessionArgs(InitSession=True, Event={**EVENT, "OriginID": "loop1"}))
    [s] = list(sessions.active.values())
    assert len(sessions.tasks) == 2 and s.ttl_task is not None  # the debit loop and the TTL timer
    loop_and_ttl = [*s.tasks, s.ttl_task]
    await eng.stop()
    assert len(sessions.tasks) == 0 and all(t.done() for t in loop_and_ttl)
    assert sessions.tasks.stopped


async def test_process_event_signs_and_checks_stir_identities():
    stir = shared_data("stir")
    eng = await start(stir={"payload_maxduration": "-1", "x5u_path_map": {"/usr/share/cgrates/stir/": f"{stir}/"},
                            "publickey_path": str(stir / "stir_pubkey.pem"),
                            "privatekey_path": str(stir / "stir_privatekey.pem")})
    try:
        conn = eng.conns.get(["*internal"])
        event = {"Account": "1001", "Destination": "1002"}
        signed = await api.PROCESS_EVENT.call(conn, api.V1ProcessEventArgs(Flags=["*stir_initiate"], ID="ev1",
                                                                           Event=event))
        identity = signed["STIRIdentity"]["*default"]
        assert identity.endswith(";alg=ES256;ppt=shaken")
        checked = await api.PROCESS_EVENT.call(conn, api.V1ProcessEventArgs(
            Flags=["*stir_authenticate"], Event=event, APIOpts={"*stirIdentity": identity}))
        assert checked["STIRIdentity"] is None
        with pytest.raises(RPCError, match="wrong originatorTn"):
            await api.PROCESS_EVENT.call(conn, api.V1ProcessEventArgs(
                Flags=["*stir_authenticate"], Event={**event, "Account": "1003"},
                APIOpts={"*stirIdentity": identity}))
    finally:
        await eng.stop()


@pytest.mark.parametrize("cdrs_conns", [["*internal"], []])
async def test_session_costs_are_stored_through_cdrs_conns_only(cdrs_conns):
    eng = await start(store_session_costs=True, cdrs_conns=cdrs_conns)
    try:
        conn = eng.conns.get(["*internal"])
        await api.INITIATE.call(conn, api.V1InitSessionArgs(InitSession=True, Event=dict(EVENT)))
        await api.TERMINATE.call(conn, api.V1TerminateSessionArgs(TerminateSession=True, Event=dict(EVENT)))
        s, _ = next(iter(eng.ctx.services["sessions"].closed.values()))
        costs = await eng.ctx.stordb.get_session_costs(s.cgrid, "*default")
        if cdrs_conns:
            [cost] = costs
            assert cost["CostSource"] == "*sessions" and cost["Usage"] == 90 * S
            assert cost["CostDetails"]["Cost"] == 1.3  # 1.29999 rounded *up to 4 decimals (oldtutorial)
        else:  # no CDRs to give them to: SessionS does not write StorDB itself
            assert costs == []
    finally:
        await eng.stop()
