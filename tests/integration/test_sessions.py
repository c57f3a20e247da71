"""SessionS through a real cgr-engine over JSON-RPC, against CGRateS's own tariff plans."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

import pytest

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from tests.conftest import shared_data
from tests.engine_proc import EngineProcess, free_port, make_config_dir, storage_overrides

SESSIONS_CONFIG = {
    "general": {"log_level": 6},
    "rals": {"enabled": True},
    "schedulers": {"enabled": True},
    "apiers": {"enabled": True},
    "cdrs": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"]},
    "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
    "attributes": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "cdrs_conns": ["*internal"],
                 "chargers_conns": ["*internal"], "attributes_conns": ["*internal"]},
}


def start_engine(tmp_path, tariffplan: str, extra: dict | None = None) -> EngineProcess:
    port, birpc = free_port(), free_port()
    overrides = storage_overrides(tmp_path, port, birpc=f"127.0.0.1:{birpc}")
    for section, values in SESSIONS_CONFIG.items():
        overrides.setdefault(section, {}).update(values)
    for section, values in (extra or {}).items():
        overrides.setdefault(section, {}).update(values)
    eng = EngineProcess(make_config_dir(tmp_path / "cfg", overrides=overrides), port, tmp_path / "engine.log")
    eng.birpc_port = birpc  # type: ignore[attr-defined]
    eng.start()
    assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(shared_data("tariffplans", tariffplan))}) \
        == "OK"
    return eng


def balances(eng: EngineProcess, account: str, btype: str) -> list[Decimal]:
    acc = eng.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
    return [Decimal(str(b["Value"])) for b in acc["BalanceMap"].get(btype) or []]


def set_only_monetary(eng: EngineProcess, account: str, value: float) -> None:
    """The account holds exactly ``value`` of money and nothing else."""
    eng.call("APIerSv1.RemoveAccount", {"Tenant": "cgrates.org", "Account": account})
    eng.call("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": account})
    eng.call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": account, "BalanceType": "*monetary",
                                     "Value": value, "Balance": {"ID": "MAIN"}})


@pytest.fixture
def tutorial(tmp_path):
    eng = start_engine(tmp_path, "tutorial")
    yield eng
    eng.kill()


@pytest.fixture
def oldtutorial(tmp_path):
    eng = start_engine(tmp_path, "oldtutorial")
    yield eng
    eng.kill()


def test_seed_request_reply_pairs(tutorial):
    """The SessionSv1 examples of the seed, over JSON-RPC, for a *prepaid 1001→1002 with enough credit."""
    set_only_monetary(tutorial, "1001", 100)
    auth = tutorial.call("SessionSv1.AuthorizeEvent", {
        "GetAttributes": False, "AuthorizeResources": False, "GetMaxUsage": True, "ProcessThresholds": False,
        "ProcessStats": False, "GetSuppliers": False, "SuppliersMaxCost": "", "SuppliersIgnoreErrors": False,
        "Event": {"Account": "1001", "Destination": "1002", "OriginID": "abcd123", "RequestType": "*prepaid",
                  "SetupTime": "2018-01-07T17:00:00Z"}})
    assert auth["MaxUsage"] == 10800000000000
    assert auth["Attributes"] is None and auth["ResourceAllocation"] is None
    ev = {"Account": "1001", "AnswerTime": "2023-01-07T17:00:10Z", "Destination": "1002", "OriginID": "abcd123",
          "RequestType": "*prepaid", "Usage": "5m"}
    init = tutorial.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
    assert init["MaxUsage"] == 300000000000
    upd = tutorial.call("SessionSv1.UpdateSession", {"UpdateSession": True, "Event": ev})
    assert upd == {"Attributes": None, "MaxUsage": 300000000000}
    term = tutorial.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": {**ev, "Usage": "12m"}})
    assert term == "OK"
    assert tutorial.call("SessionSv1.ProcessCDR", {"Event": {**ev, "Usage": "12m"}}) == "OK"
    cdrs = tutorial.call("CDRsV1.GetCDRs", {"OriginIDs": ["abcd123"]})
    by_run = {c["RunID"]: c for c in cdrs}
    assert set(by_run) == {"*default", "*raw"}  # the tutorial's two chargers
    assert by_run["*default"]["Usage"] == 12 * 60 * 10**9
    details = by_run["*default"]["CostDetails"]  # CGRateS's EventCost, with the balance that paid each charge
    assert details["Usage"] == 12 * 60 * 10**9 and details["Charges"] and details["Rating"]
    assert {a["AccountID"] for a in details["Accounting"].values()} == {"cgrates.org:1001"}
    # 12 minutes 1001→1002 (RT_20CNT): 0.4 connect + 0.2 the first minute + 660 one-second increments at
    # 0.1/60 each rounded to 5 decimals (0.00167) = 0.4 + 0.2 + 1.1022 = 1.7022
    assert Decimal(str(by_run["*default"]["Cost"])) == Decimal("1.7022")
    assert sum(balances(tutorial, "1001", "*monetary")) == Decimal(100) - Decimal("1.7022")


def test_oldtutorial_voice_initiate_and_terminate(oldtutorial):
    set_only_monetary(oldtutorial, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "v1", "RequestType": "*prepaid", "Account": "1001",
          "Subject": "1001", "Destination": "1004", "Category": "call", "SetupTime": "2016-01-05T18:30:49Z",
          "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "90s"}
    init = oldtutorial.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
    assert init["MaxUsage"] == 90 * 10**9
    # peak DST_FS, RT_40CNT: 0.8 connect + 2×30s at 0.4/min (0.4) + 3×10s at 0.2/min (3×0.03333) = 1.29999
    assert balances(oldtutorial, "1001", "*monetary") == [Decimal("8.70001")]
    oldtutorial.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": {**ev, "Usage": "60s"}})
    assert balances(oldtutorial, "1001", "*monetary") == [Decimal("8.8")]  # the unused 30s given back


def test_oldtutorial_data_with_last_used(oldtutorial):
    ev = {"Tenant": "cgrates.org", "ToR": "*data", "OriginID": "d1", "RequestType": "*prepaid", "Account": "1001",
          "Subject": "1001", "Destination": "data", "Category": "data", "SetupTime": "2016-01-05T18:30:49Z",
          "AnswerTime": "2016-01-05T18:31:05Z"}
    assert balances(oldtutorial, "1001", "*data") == [Decimal(102400)]
    init = oldtutorial.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": {**ev, "Usage": 5120}})
    assert init["MaxUsage"] == 5120
    upd = oldtutorial.call("SessionSv1.UpdateSession", {"UpdateSession": True,
                                                        "Event": {**ev, "Usage": 5120, "LastUsed": 4096}})
    assert upd["MaxUsage"] == 5120
    # 5120 reserved, 4096 used: 1024 stays reserved, so only 4096 more is taken
    assert balances(oldtutorial, "1001", "*data") == [Decimal(102400 - 5120 - 4096)]
    oldtutorial.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": {**ev, "LastUsed": 0}})
    assert balances(oldtutorial, "1001", "*data") == [Decimal(98304)]  # 4096 used in all


def test_repeated_initiate_update_terminate_never_charge_twice(oldtutorial):
    set_only_monetary(oldtutorial, "1001", 10)
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "rep1", "RequestType": "*prepaid",
          "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "90s"}
    init = {"InitSession": True, "Event": ev, "APIOpts": {"*idempotencyKey": "init-1"}}
    first = oldtutorial.call("SessionSv1.InitiateSession", init)
    again = oldtutorial.call("SessionSv1.InitiateSession", init)  # sent again under its idempotency key
    assert first["MaxUsage"] == again["MaxUsage"] == 90 * 10**9
    assert balances(oldtutorial, "1001", "*monetary") == [Decimal("8.70001")]
    upd = {"UpdateSession": True, "ID": "upd-1", "Event": {**ev, "Usage": "60s", "LastUsed": "90s"},
           "APIOpts": {"*idempotencyKey": "upd-1"}}
    oldtutorial.call("SessionSv1.UpdateSession", upd)
    after_update = balances(oldtutorial, "1001", "*monetary")
    oldtutorial.call("SessionSv1.UpdateSession", upd)  # the same update sent again under its key
    assert balances(oldtutorial, "1001", "*monetary") == after_update
    term = {"TerminateSession": True, "Event": {**ev, "Usage": "100s"}}  # no key: the session has ended
    assert oldtutorial.call("SessionSv1.TerminateSession", term) == "OK"
    settled = balances(oldtutorial, "1001", "*monetary")
    assert oldtutorial.call("SessionSv1.TerminateSession", term) == "OK"
    assert balances(oldtutorial, "1001", "*monetary") == settled
    # 100s peak to DST_FS: 0.8 + 0.4 + 4×0.03333 = 1.33332, rounded *up to 4 decimals = 1.3334; the rounding
    # (0.00008) is charged to the balance that paid the call
    assert settled == [Decimal(10) - Decimal("1.3334")]


def test_duplicate_cdr_is_refused_and_not_debited_twice(oldtutorial):
    set_only_monetary(oldtutorial, "1001", 10)
    cdr_event = {"Flags": ["*rals"], "Tenant": "cgrates.org", "Event": {
        "ToR": "*voice", "OriginID": "post1", "OriginHost": "10.0.0.1", "RequestType": "*postpaid",
        "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}}
    assert oldtutorial.call("CDRsV1.ProcessEvent", cdr_event) == "OK"
    after_first = balances(oldtutorial, "1001", "*monetary")
    assert after_first == [Decimal("8.8")]  # 0.8 + 0.4
    with pytest.raises(RuntimeError, match="EXISTS"):
        oldtutorial.call("CDRsV1.ProcessEvent", cdr_event)
    assert balances(oldtutorial, "1001", "*monetary") == after_first
    [cdr] = oldtutorial.call("CDRsV1.GetCDRs", {"OriginIDs": ["post1"]})  # oldtutorial has one charger
    assert cdr["RunID"] == "*default" and Decimal(str(cdr["Cost"])) == Decimal("1.2")
    assert cdr["CostSource"] == "*cdrs" and cdr["CostDetails"]["Cost"] == 1.2
    assert {a["BalanceUUID"] for a in cdr["CostDetails"]["Accounting"].values()}  # which balance paid


def test_exhausted_credit_disconnects_through_the_back_channel(tmp_path):
    eng = start_engine(tmp_path, "tutorial", {"sessions": {"debit_interval": "1s"}})
    try:
        set_only_monetary(eng, "1001", 0.05)

        async def run() -> tuple[float, dict]:
            disconnected: asyncio.Future = asyncio.get_running_loop().create_future()

            class Agent:
                @rpc("AgentV1.DisconnectSession")
                async def disconnect(self, args):
                    if not disconnected.done():
                        disconnected.set_result((time.monotonic(), args))
                    return "OK"

            reg = Registry()
            reg.register_object(Agent())
            client = RPCClient(f"127.0.0.1:{eng.birpc_port}", dispatcher=Dispatcher(reg))
            ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": "exh1", "RequestType": "*prepaid",
                  "Account": "1001", "Destination": "1003", "AnswerTime": "2016-01-05T18:31:05Z"}
            try:
                init = await client.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
                t0 = time.monotonic()
                assert init["MaxUsage"] > 0
                when, args = await asyncio.wait_for(disconnected, 15)
                await client.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": ev})
                return when - t0, args
            finally:
                await client.close()

        elapsed, args = asyncio.run(run())
        # 1001→1003 is 0.01 per second (RT_1CNT_PER_SEC): 0.05 buys 5s. The loop debits 1s ahead each second;
        # at 5s nothing more is granted, and the disconnect must come within one debit interval of that.
        assert args["Reason"] == "INSUFFICIENT_CREDIT"
        assert args["EventStart"]["OriginID"] == "exh1"
        assert 4.0 <= elapsed <= 6.5
        assert balances(eng, "1001", "*monetary") == [Decimal(0)]
    finally:
        eng.kill()


def test_unknown_subsystem_and_missing_event_errors(oldtutorial):
    with pytest.raises(RuntimeError, match="MANDATORY_IE_MISSING"):
        oldtutorial.call("SessionSv1.InitiateSession", {"InitSession": True})
    with pytest.raises(RuntimeError, match="Subsystems"):
        oldtutorial.call("SessionSv1.AuthorizeEvent", {"Event": {"Account": "1001"}})
    assert oldtutorial.call("SessionSv1.Ping", {}) == "Pong"


__all__ = ["RPCError"]


def test_active_sessions_filters_and_forced_disconnect(oldtutorial):
    set_only_monetary(oldtutorial, "1001", 10)
    base = {"Tenant": "cgrates.org", "ToR": "*voice", "RequestType": "*prepaid", "Destination": "1004",
            "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "90s"}
    oldtutorial.call("SessionSv1.InitiateSession", {"InitSession": True,
                                                    "Event": {**base, "OriginID": "a1", "Account": "1001"}})
    oldtutorial.call("SessionSv1.InitiateSession", {"InitSession": True,
                                                    "Event": {**base, "OriginID": "a2", "Account": "1002"}})
    assert oldtutorial.call("SessionSv1.GetActiveSessionsCount", {}) == 2
    only = oldtutorial.call("SessionSv1.GetActiveSessions", {"Filters": ["*string:~*req.Account:1001"]})
    assert [s["OriginID"] for s in only] == ["a1"] and only[0]["Usage"] == 90 * 10**9
    # no agent connection to ask: the session is settled here and its CDR written
    assert oldtutorial.call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.Account:1001"]}) == "OK"
    assert oldtutorial.call("SessionSv1.GetActiveSessionsCount", {}) == 1
    [cdr] = oldtutorial.call("CDRsV1.GetCDRs", {"OriginIDs": ["a1"]})
    assert cdr["CostSource"] == "*sessions" and Decimal(str(cdr["Cost"])) > 0
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        oldtutorial.call("SessionSv1.GetActiveSessions", {"Filters": ["*string:~*req.Account:1001"]})


def test_stir_authenticate_and_identity_over_rpc(tmp_path):
    stir = shared_data("stir")
    eng = start_engine(tmp_path, "oldtutorial", {"sessions": {"stir": {
        "payload_maxduration": "-1", "x5u_path_map": {"/usr/share/cgrates/stir/": str(stir) + "/"},
        "publickey_path": str(stir / "stir_pubkey.pem"), "privatekey_path": str(stir / "stir_privatekey.pem"),
    }}})
    try:
        identity = (stir / "identity_1001_1002.txt").read_text().strip()
        assert eng.call("SessionSv1.STIRAuthenticate", {"Identity": identity, "OriginatorTn": "1001",
                                                       "DestinationTn": "1002", "PayloadMaxDuration": "-1",
                                                       "Attest": ["*any"]}) == "OK"
        with pytest.raises(RuntimeError, match="wrong originatorTn"):
            eng.call("SessionSv1.STIRAuthenticate", {"Identity": identity, "OriginatorTn": "1003",
                                                    "DestinationTn": "1002", "PayloadMaxDuration": "-1"})
        signed = eng.call("SessionSv1.STIRIdentity", {"Payload": {"attest": "A", "dest": {"tn": ["1002"]},
                                                                  "orig": {"tn": "1001"}, "origid": "xyz"},
                                                      "OverwriteIAT": True})
        assert signed.endswith(";alg=ES256;ppt=shaken") and ";info=<" in signed
        assert eng.call("SessionSv1.STIRAuthenticate", {"Identity": signed, "OriginatorTn": "1001",
                                                       "DestinationTn": "1002", "PayloadMaxDuration": "1m"}) == "OK"
    finally:
        eng.kill()


def test_cdr_retried_after_a_crash_between_debit_and_store_is_charged_once(oldtutorial):
    """The CDR server's debit is journaled by (CGRID, RunID): the debit of a crashed first attempt is found again."""
    import hashlib

    set_only_monetary(oldtutorial, "1001", 10)
    event = {"ToR": "*voice", "OriginID": "retry1", "OriginHost": "10.0.0.9", "RequestType": "*postpaid",
             "Account": "1001", "Destination": "1004", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}
    cgrid = hashlib.sha1(b"retry1" + b"10.0.0.9").hexdigest()
    # the first attempt got as far as its journaled debit, then the engine died before the CDR was written
    oldtutorial.call("Responder.Debit", {"Tenant": "cgrates.org", "Category": "call", "Subject": "1001",
                                         "Account": "1001", "Destination": "1004", "ToR": "*voice",
                                         "TimeStart": "2016-01-05T18:31:05Z", "TimeEnd": "2016-01-05T18:32:05Z",
                                         "DurationIndex": 60 * 10**9, "DenyNegativeAccount": False,
                                         "APIOpts": {"*journalKey": f"cdr:{cgrid}:*default"}})
    assert balances(oldtutorial, "1001", "*monetary") == [Decimal("8.8")]
    # the client retries the CDR: it is stored, and the money is taken once
    assert oldtutorial.call("CDRsV1.ProcessEvent", {"Flags": ["*rals"], "Tenant": "cgrates.org", "Event": event}) \
        == "OK"
    assert balances(oldtutorial, "1001", "*monetary") == [Decimal("8.8")]
    [cdr] = oldtutorial.call("CDRsV1.GetCDRs", {"OriginIDs": ["retry1"]})
    assert Decimal(str(cdr["Cost"])) == Decimal("1.2")
