"""The typed seam: models cross in-process Conns as objects and the wire as CGRateS JSON; errors stay typed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from pycgrates.engine.metrics import Metrics
from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.conn import InternalConn, Pool
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import (
    InsufficientCredit,
    MandatoryIEMissing,
    NotFound,
    RPCError,
    ServerError,
    error_from_message,
)
from pycgrates.engine.rpc.registry import Method, Registry, rpc
from pycgrates.engine.rpc.server import StreamServer
from pycgrates.engine.units import format_time, parse_time


@dataclass(slots=True)
class Stamp:
    """A toy model: a time (RFC 3339 on the wire) and an amount."""

    At: datetime
    Amount: int = 0

    @classmethod
    def from_json(cls, data: Any, timezone: str | None = None) -> Stamp:
        if not isinstance(data, dict) or "At" not in data:
            raise MandatoryIEMissing("MANDATORY_IE_MISSING: [At]")
        return cls(At=parse_time(data["At"], timezone), Amount=int(data.get("Amount") or 0))

    def to_json(self) -> dict:
        return {"At": format_time(self.At), "Amount": self.Amount}


DOUBLE = Method("TestSv1.Double", Stamp, Stamp)


class StampService:
    timezone = "Europe/Berlin"  # naive times in JSON arguments are read in this zone

    def __init__(self) -> None:
        self.seen: list[Any] = []

    @rpc(DOUBLE)
    async def double(self, arg: Stamp) -> Stamp:
        self.seen.append(arg)
        if arg.Amount < 0:
            raise InsufficientCredit()
        if arg.Amount == 404:
            raise RPCError("NOT_FOUND")  # untyped, as a service not yet moved to typed errors raises it
        return Stamp(arg.At, arg.Amount * 2)


@pytest.fixture
async def setup():
    svc = StampService()
    reg = Registry()
    reg.register_object(svc)
    dispatcher = Dispatcher(reg, Metrics())
    srv = StreamServer(dispatcher, "127.0.0.1", 0, name="rpc_json", max_message=1 << 20)
    await srv.start()
    client = RPCClient(f"127.0.0.1:{srv.port}", reply_timeout=2)
    yield svc, dispatcher, srv, client
    await client.close()
    await srv.stop()


AT = datetime(2024, 1, 10, 12, 0, tzinfo=UTC)


async def test_in_process_the_model_itself_crosses_and_comes_back(setup):
    svc, dispatcher, _, _ = setup
    arg = Stamp(AT, 21)
    reply = await DOUBLE.call(InternalConn(dispatcher), arg)
    assert svc.seen[-1] is arg  # no encoding, no copy: the handler got the caller's object
    assert isinstance(reply, Stamp) and reply == Stamp(AT, 42)


async def test_over_the_network_the_same_call_encodes_once_each_way(setup):
    svc, _, _, client = setup
    reply = await DOUBLE.call(client, Stamp(AT, 21))
    assert isinstance(svc.seen[-1], Stamp) and svc.seen[-1].At == AT  # decoded once, at the server
    assert reply == Stamp(AT, 42)  # and the reply decoded once, at the caller


async def test_json_callers_get_json_and_naive_times_use_the_owner_timezone(setup):
    svc, dispatcher, srv, _ = setup
    # an in-process caller still speaking JSON gets JSON back
    assert await InternalConn(dispatcher).call("TestSv1.Double", {"At": "2024-01-10T12:00:00Z", "Amount": 1}) \
        == {"At": "2024-01-10T12:00:00Z", "Amount": 2}
    # on the wire the reply is CGRateS-shaped JSON, read here with a raw socket
    reader, writer = await asyncio.open_connection("127.0.0.1", srv.port)
    writer.write(json.dumps({"method": "TestSv1.Double", "params": [{"At": "2024-01-10 13:00:00", "Amount": 5}],
                             "id": 7}).encode() + b"\n")
    reply = json.loads(await asyncio.wait_for(reader.readline(), 2))
    writer.close()
    assert reply == {"id": 7, "result": {"At": "2024-01-10T13:00:00+01:00", "Amount": 10}, "error": None}
    assert svc.seen[-1].At == AT  # 13:00 in Berlin


async def test_errors_are_typed_on_both_sides_with_the_cgrates_message(setup):
    _, dispatcher, _, client = setup
    for conn in (InternalConn(dispatcher), client):
        with pytest.raises(InsufficientCredit) as err:
            await DOUBLE.call(conn, Stamp(AT, -1))
        assert err.value.message == "INSUFFICIENT_CREDIT"
        with pytest.raises(NotFound):  # an untyped RPCError of a handler arrives typed
            await DOUBLE.call(conn, Stamp(AT, 404))
        with pytest.raises(MandatoryIEMissing) as missing:
            await conn.call("TestSv1.Double", {"Amount": 1})
        assert missing.value.message == "MANDATORY_IE_MISSING: [At]"
        with pytest.raises(ServerError) as bad:  # malformed JSON argument: SERVER_ERROR naming the problem
            await conn.call("TestSv1.Double", {"At": "2024-01-10T12:00:00Z", "Amount": "many"})
        assert bad.value.message.startswith("SERVER_ERROR: invalid literal")


async def test_broadcast_calls_run_under_the_pool_supervisor(setup):
    _, dispatcher, _, _ = setup
    slow_started = asyncio.Event()

    class Slow:
        async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
            slow_started.set()
            await asyncio.sleep(30)

    pool = Pool([InternalConn(dispatcher), Slow()], "*broadcast")
    assert await DOUBLE.call(pool, Stamp(AT, 1)) == Stamp(AT, 2)  # the first answer wins
    await slow_started.wait()
    assert len(pool.tasks) == 1  # the slow call goes on, owned by the pool's supervisor
    await pool.tasks.stop()
    assert len(pool.tasks) == 0


def test_error_from_message_keeps_the_text():
    err = error_from_message("SERVER_ERROR: UNAUTHORIZED_DESTINATION")
    assert isinstance(err, ServerError) and str(err) == "SERVER_ERROR: UNAUTHORIZED_DESTINATION"
    assert type(error_from_message("some other failure")) is RPCError
