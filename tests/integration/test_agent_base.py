"""The Agent base through the smallest whole agent (tests/line_agent.py) in front of an in-process engine with
SessionS and the tutorial tariff plan: a session started and ended by the pipeline is tracked and answered to
SessionS's session sync (AgentV1.GetActiveSessionIDs), SessionS's DisconnectSession reaches the agent through
``*birpc_internal``, reload keeps the listener when only the processors change and reopens it when it changed, and
the AgentV1 calls an agent does not implement answer NOT_IMPLEMENTED."""

from __future__ import annotations

import asyncio
import socket

import pytest

from pycgrates.engine.app import Engine
from pycgrates.engine.config import Config, config_from_dict
from pycgrates.engine.rpc.errors import RPCError
from tests.conftest import shared_data
from tests.engine_proc import free_port
from tests.line_agent import LineAgent

ENGINE = {
    "listen": {"rpc_json": "", "http": "", "birpc_json": ""},
    "data_db": {"opts": {"internalDBDumpPath": ""}}, "stor_db": {"opts": {"internalDBDumpPath": ""}},
    "rals": {"enabled": True}, "apiers": {"enabled": True},
    "chargers": {"enabled": True, "attributes_conns": ["*internal"]},
    "attributes": {"enabled": True},
    "sessions": {"enabled": True, "rals_conns": ["*internal"], "chargers_conns": ["*internal"],
                 "attributes_conns": ["*internal"]},
}
CALL = [("ToR", "*constant", "*voice"), ("OriginID", "*variable", "~*req.Call"),
        ("OriginHost", "*constant", "line-switch"), ("RequestType", "*constant", "*prepaid"),
        ("Account", "*variable", "~*req.From"), ("Destination", "*variable", "~*req.To"),
        ("SetupTime", "*constant", "*now"), ("AnswerTime", "*constant", "*now")]


def processor(pid: str, kind: str, flags: list[str], usage: str, reply: list[dict]) -> dict:
    fields = [{"tag": tag, "path": f"*cgreq.{tag}", "type": typ, "value": value, "mandatory": True}
              for tag, typ, value in [*CALL, ("Usage", "*variable" if usage.startswith("~") else "*constant", usage)]]
    return {"id": pid, "filters": [f"*string:~*req.Kind:{kind}"], "flags": flags, "request_fields": fields,
            "reply_fields": reply}


ERROR = {"tag": "Error", "path": "*rep.Error", "type": "*variable", "value": "~*cgrep.Error",
         "filters": ["*notempty:~*cgrep.Error:"]}
PROCESSORS = [
    processor("Start", "start", ["*initiate", "*accounts"], "1h", [
        {"tag": "MaxUsage", "path": "*rep.MaxUsage", "type": "*variable",
         "value": "~*cgrep.MaxUsage{*duration_seconds}"}, ERROR]),
    processor("Stop", "stop", ["*terminate", "*accounts"], "~*req.Seconds:s/(.*)/${1}s/", [
        {"tag": "Ended", "path": "*rep.Ended", "type": "*constant", "value": "yes"}, ERROR]),
]


def agent_config(engine: Engine, listen: str, processors: list[dict]) -> Config:
    section = {"sessions_conns": ["*birpc_internal"], "listen": listen, "request_processors": processors}
    return Config({**engine.cfg.data, "line_agent": section})


async def started_agent(engine: Engine, processors: list[dict]) -> LineAgent:
    """The line agent in the engine's process, its sessions_conns *birpc_internal."""
    engine.ctx.cfg = agent_config(engine, "127.0.0.1:0", processors)
    agent = LineAgent(engine.ctx)
    await agent.start()
    return agent


@pytest.fixture
async def engine():
    eng = Engine(config_from_dict(ENGINE))
    await eng.start()
    call = eng.dispatcher.registry.dispatch
    assert await call("APIerSv1.LoadTariffPlanFromFolder",
                      {"FolderPath": str(shared_data("tariffplans", "tutorial"))}) == "OK"
    await call("APIerSv1.RemoveAccount", {"Tenant": "cgrates.org", "Account": "1001"})  # money only
    await call("APIerSv1.SetAccount", {"Tenant": "cgrates.org", "Account": "1001"})
    await call("APIerSv1.SetBalance", {"Tenant": "cgrates.org", "Account": "1001", "BalanceType": "*monetary",
                                       "Value": 100, "Balance": {"ID": "MAIN"}})
    yield eng
    await eng.stop()


class Client:
    """A client of the line protocol."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def to(cls, agent: LineAgent) -> Client:
        assert agent.server is not None
        return cls(*await asyncio.open_connection("127.0.0.1", agent.server.sockets[0].getsockname()[1]))

    async def ask(self, line: str) -> dict[str, str]:
        self.writer.write(line.encode() + b"\n")
        return await self.read()

    async def read(self) -> dict[str, str]:
        line = (await asyncio.wait_for(self.reader.readline(), 5)).decode().strip()
        return dict(item.split("=", 1) for item in line.split(";") if item)

    def close(self) -> None:
        self.writer.close()


async def test_sessions_are_tracked_synced_and_disconnected_through_the_back_channel(engine):
    call = engine.dispatcher.registry.dispatch
    agent = await started_agent(engine, PROCESSORS)
    client = await Client.to(agent)
    try:
        assert await client.ask("Kind=start;Call=call-1;From=1001;To=1002") == {"MaxUsage": "3600"}
        assert await client.ask("Kind=start;Call=call-2;From=1001;To=1002") == {"MaxUsage": "3600"}
        assert await agent.get_active_session_ids("") == [
            {"OriginHost": "line-switch", "OriginID": "call-1"}, {"OriginHost": "line-switch", "OriginID": "call-2"}]
        # SessionS asks the agent which sessions it still has, and keeps both
        assert await call("SessionSv1.SyncSessions", "") == "OK"
        assert len(await call("SessionSv1.GetActiveSessions", {})) == 4  # two charger runs each
        assert await client.ask("Kind=stop;Call=call-1;From=1001;To=1002;Seconds=30") == {"Ended": "yes"}
        assert [s["OriginID"] for s in await agent.get_active_session_ids("")] == ["call-2"]
        # what this agent does not implement answers SessionS so, through the same back channel
        with pytest.raises(RPCError, match="NOT_IMPLEMENTED"):
            await call("SessionSv1.AlterSessions", {"Filters": ["*string:~*req.OriginID:call-2"]})
        with pytest.raises(RPCError, match="NOT_IMPLEMENTED"):
            await call("SessionSv1.DisconnectPeer", {"OriginHost": "line-switch"})
        with pytest.raises(RPCError, match="NOT_IMPLEMENTED"):
            await agent.warn_disconnect({"OriginID": "call-2", "Account": "1001"})
        # SessionS hangs call-2 up: AgentV1.DisconnectSession comes back to this agent in process
        assert await call("SessionSv1.ForceDisconnect", {"Filters": ["*string:~*req.OriginID:call-2"]}) == "OK"
        assert await client.read() == {"Disconnect": "call-2", "Cause": "FORCED_DISCONNECT"}
    finally:
        client.close()
        await agent.stop()


async def test_reload_keeps_the_listener_or_reopens_it(engine):
    agent = await started_agent(engine, [])
    server, client = agent.server, await Client.to(agent)
    try:
        assert await client.ask("Kind=start;Call=r-1;From=1001;To=1002") == {}  # no processor
        await agent.reload(agent_config(engine, "127.0.0.1:0", PROCESSORS))
        assert agent.server is server  # the same listener, the same connection, the new processors
        assert await client.ask("Kind=start;Call=r-1;From=1001;To=1002") == {"MaxUsage": "3600"}
        port = free_port()
        await agent.reload(agent_config(engine, f"127.0.0.1:{port}", PROCESSORS))
        assert agent.server is not server and not server.is_serving()
        assert await client.reader.readline() == b""  # the old listener's clients were closed
        moved = await Client.to(agent)
        assert moved.writer.get_extra_info("peername")[1] == port
        assert await moved.ask("Kind=stop;Call=r-1;From=1001;To=1002;Seconds=5") == {"Ended": "yes"}
        moved.close()
    finally:
        client.close()
        await agent.stop()
    assert agent.tasks.stopped and len(agent.tasks) == 0
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


async def test_in_process_the_pipeline_hands_sessions_its_argument_models(engine):
    """An agent in the engine's process passes SessionS's own argument objects, never JSON-shaped dicts."""
    from pycgrates.engine.sessions import api

    seen: list[tuple[str, type]] = []
    invoke = engine.dispatcher.invoke

    async def recording(method, arg, caller=None):
        seen.append((method, type(arg)))
        return await invoke(method, arg, caller)

    engine.dispatcher.invoke = recording  # records what crosses the in-process Conn, then calls through
    agent = await started_agent(engine, PROCESSORS)
    client = await Client.to(agent)
    try:
        assert await client.ask("Kind=start;Call=typed-1;From=1001;To=1002") == {"MaxUsage": "3600"}
        assert await client.ask("Kind=stop;Call=typed-1;From=1001;To=1002;Seconds=30") == {"Ended": "yes"}
    finally:
        client.close()
        await agent.stop()
    crossed = dict(seen)
    assert crossed["SessionSv1.InitiateSession"] is api.V1InitSessionArgs
    assert crossed["SessionSv1.TerminateSession"] is api.V1TerminateSessionArgs
