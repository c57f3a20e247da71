"""Low balance warnings as CGRateS gives them: a BiRPC agent gets AgentV1.WarnDisconnect once its session's debit
loop grants less than the debit interval and no more than sessions.min_dur_low_balance, before the disconnect."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.registry import Registry, rpc
from tests.integration.test_sessions import balances, set_only_monetary, start_engine

S = 10**9


class RecordingAgent:
    """The agent end of the BiRPC connection: what SessionS called on it, and when."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, dict]] = []
        self.disconnected = asyncio.Event()

    @rpc("AgentV1.WarnDisconnect")
    async def warn_disconnect(self, args: dict) -> str:
        self.calls.append(("warn", time.monotonic(), args))
        return "OK"

    @rpc("AgentV1.DisconnectSession")
    async def disconnect_session(self, args: dict) -> str:
        self.calls.append(("disconnect", time.monotonic(), args))
        self.disconnected.set()
        return "OK"


async def call_until_disconnected(birpc_port: int, origin_id: str) -> tuple[RecordingAgent, float]:
    agent = RecordingAgent()
    reg = Registry()
    reg.register_object(agent)
    client = RPCClient(f"127.0.0.1:{birpc_port}", dispatcher=Dispatcher(reg))
    # tutorial: 1001→1003 is RT_1CNT_PER_SEC, 0.01 per second in 1s increments
    ev = {"Tenant": "cgrates.org", "ToR": "*voice", "OriginID": origin_id, "RequestType": "*prepaid",
          "Account": "1001", "Destination": "1003", "AnswerTime": "2016-01-05T18:31:05Z"}
    try:
        t0 = time.monotonic()
        init = await client.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": ev})
        assert init["MaxUsage"] > 0
        await asyncio.wait_for(agent.disconnected.wait(), 20)
        await asyncio.sleep(0.3)  # nothing more may come
        await client.call("SessionSv1.TerminateSession", {"TerminateSession": True, "Event": ev})
        return agent, t0
    finally:
        await client.close()


def test_low_balance_warns_the_agent_once_before_the_disconnect(tmp_path):
    eng = start_engine(tmp_path, "tutorial", {"sessions": {"debit_interval": "2s", "min_dur_low_balance": "1s"}})
    try:
        set_only_monetary(eng, "1001", 0.05)
        agent, t0 = asyncio.run(call_until_disconnected(eng.birpc_port, "low1"))
        # 0.05 buys 5s: 2s at the start, 2s at 2s, then at 4s only 1s is left — less than the 2s interval and no
        # more than min_dur_low_balance: the agent is warned then, and disconnected when that 1s is used up (5s)
        assert [kind for kind, _, _ in agent.calls] == ["warn", "disconnect"]
        (_, warned, warn_args), (_, disconnected, disc_args) = agent.calls
        assert warn_args["OriginID"] == "low1" and warn_args["Account"] == "1001"  # the session's start event
        assert disc_args["Reason"] == "INSUFFICIENT_CREDIT"
        assert 3.5 <= warned - t0 <= 5.0
        assert 0.7 <= disconnected - warned <= 1.8
        assert balances(eng, "1001", "*monetary") == [Decimal(0)]
    finally:
        eng.kill()


def test_no_warning_when_more_than_min_dur_low_balance_is_left(tmp_path):
    eng = start_engine(tmp_path, "tutorial", {"sessions": {"debit_interval": "3s", "min_dur_low_balance": "1s"}})
    try:
        set_only_monetary(eng, "1001", 0.05)
        agent, _ = asyncio.run(call_until_disconnected(eng.birpc_port, "low2"))
        # 3s at the start, then 2s at 3s: less than the interval, but more than the 1s threshold
        assert [kind for kind, _, _ in agent.calls] == ["disconnect"]
    finally:
        eng.kill()


def test_a_threshold_not_below_the_interval_never_warns_and_says_why(tmp_path):
    eng = start_engine(tmp_path, "tutorial", {"sessions": {"debit_interval": "1s", "min_dur_low_balance": "1s"}})
    try:
        set_only_monetary(eng, "1001", 0.025)
        agent, _ = asyncio.run(call_until_disconnected(eng.birpc_port, "low3"))
        # 0.025 buys 2s: the third debit grants nothing; a 1s threshold could never warn ahead of a 1s interval
        assert [kind for kind, _, _ in agent.calls] == ["disconnect"]
        log = (tmp_path / "engine.log").read_text()
        assert "min_dur_low_balance" in log and "not below the debit interval" in log
    finally:
        eng.kill()


def test_terminate_attempts_below_one_is_refused_at_start_as_cgrates_does(tmp_path):
    """The disconnect that follows a warning is tried terminate_attempts times; CGRateS refuses fewer than one."""
    from tests.integration.test_engine_startup import config_dir, start_and_check

    cfg = config_dir(tmp_path, sessions={"enabled": True, "rals_conns": ["*internal"], "terminate_attempts": 0,
                                         "debit_interval": "2s", "min_dur_low_balance": "5s"},
                     rals={"enabled": True})
    line, checked = start_and_check(cfg)
    expected = ("cgr-engine: configuration error: sessions.terminate_attempts: <SessionS> 'terminate_attempts' "
                "should be at least 1 (it is 0; it is how often a disconnect or a terminate is tried before the "
                "session is ended here)")
    # min_dur_low_balance above debit_interval is no start-up error in CGRateS: it is logged per session instead
    assert checked == [expected] and line == expected
