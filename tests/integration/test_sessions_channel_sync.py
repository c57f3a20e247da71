"""SessionS's channel sync as CGRateS's: every connected BiRPC client is asked (known from its connection on, not
only once it called), and the sessions none of them still has are ended; a client that serves no such method
has no sessions."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.registry import Registry, rpc
from tests.integration.test_sessions import set_only_monetary, start_engine

T = "cgrates.org"


class Switch:
    """An agent's end of a BiRPC connection: the calls it still has."""

    def __init__(self, calls: set[str]) -> None:
        self.calls = calls
        self.asked = 0

    @rpc("AgentV1.GetActiveSessionIDs")
    async def active_ids(self, args) -> list[dict]:
        self.asked += 1
        return [{"OriginHost": "sw1", "OriginID": c} for c in sorted(self.calls)]


def connect(port: int, handler: object | None) -> RPCClient:
    reg = Registry()
    if handler is not None:
        reg.register_object(handler)
    return RPCClient(f"127.0.0.1:{port}", dispatcher=Dispatcher(reg))


def event(origin_id: str) -> dict:
    return {"Tenant": T, "ToR": "*voice", "OriginID": origin_id, "OriginHost": "sw1", "RequestType": "*prepaid",
            "Account": "1001", "Destination": "1002", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}


async def active(client: RPCClient) -> set[str]:
    try:
        return {s["OriginID"] for s in await client.call("SessionSv1.GetActiveSessions", {})}
    except Exception as exc:
        if "NOT_FOUND" in str(exc):
            return set()
        raise


@pytest.fixture
def engine(tmp_path):
    eng = start_engine(tmp_path, "tutorial")
    set_only_monetary(eng, "1001", 100)
    yield eng
    eng.kill()


def test_sync_asks_every_client_and_ends_what_none_has(engine):
    async def run() -> None:
        switch = Switch({"s1", "s2"})
        agent = connect(engine.birpc_port, switch)
        console = connect(engine.birpc_port, None)  # serves nothing: it runs no calls
        try:
            await console.call("SessionSv1.Ping", {})
            for origin_id in ("s1", "s2"):
                await agent.call("SessionSv1.InitiateSession", {"InitSession": True, "Event": event(origin_id)})
            assert await agent.call("SessionSv1.SyncSessions", {}) == "OK"
            assert await active(agent) == {"s1", "s2"}
            switch.calls.discard("s2")  # the switch lost s2
            await agent.call("SessionSv1.SyncSessions", {})
            assert await active(agent) == {"s1"}
            # the switch restarts: its old connection is gone, the new one has called nothing yet
            await agent.close()
            await asyncio.sleep(0.2)
            restarted = Switch({"s1"})
            again = connect(engine.birpc_port, restarted)
            try:
                await again.connect()  # connected, nothing called
                await asyncio.sleep(0.2)
                await console.call("SessionSv1.SyncSessions", {})
                assert restarted.asked == 1 and await active(console) == {"s1"}
                restarted.calls.clear()
                await console.call("SessionSv1.SyncSessions", {})
                assert await active(console) == set()
            finally:
                await again.close()
        finally:
            await agent.close()
            await console.close()

    asyncio.run(run())
    # the sessions the sync ended were settled and their CDRs written
    assert {c["OriginID"] for c in engine.call("CDRsV1.GetCDRs", {"OriginIDs": ["s1", "s2"]})} == {"s1", "s2"}
