"""The RPC listeners over real loopback sockets, driven by raw sockets and aiohttp (not by our own client)."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import json
import ssl
from typing import Any

import aiohttp
import pytest

from pycgrates.engine.core import CoreService
from pycgrates.engine.metrics import Metrics
from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.conn import ConnManager, InternalConn, Pool
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import DISCONNECTED, RPCError
from pycgrates.engine.rpc.http import HTTPServer
from pycgrates.engine.rpc.registry import Registry, rpc, rpc_caller
from pycgrates.engine.rpc.server import StreamServer


class EchoService:
    @rpc("TestSv1.Echo")
    async def echo(self, args: Any) -> Any:
        return args

    @rpc("TestSv1.Fail")
    async def fail(self, args: Any) -> Any:
        raise RPCError("NOT_FOUND")

    @rpc("TestSv1.Crash")
    async def crash(self, args: Any) -> Any:
        raise ZeroDivisionError("boom")

    @rpc("TestSv1.Slow")
    async def slow(self, args: Any) -> Any:
        await asyncio.sleep(args)
        return "slept"

    @rpc("TestSv1.CallBack")
    async def call_back(self, args: Any) -> Any:
        """Ask the BiRPC peer that called us something, as SessionS asks an agent."""
        peer = rpc_caller.get()
        return await peer.call("AgentV1.Whoami", {"q": args}, timeout=2)


@pytest.fixture
async def dispatcher():
    reg = Registry()
    reg.register_object(CoreService("test"))
    reg.register_object(EchoService())
    return Dispatcher(reg, Metrics())


@pytest.fixture
async def tcp_server(dispatcher):
    srv = StreamServer(dispatcher, "127.0.0.1", 0, name="rpc_json", max_message=1 << 20)
    await srv.start()
    yield srv
    await srv.stop()


async def raw_call(port: int, payload: bytes, read_all: bool = False) -> list[dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(payload)
    await writer.drain()
    out = []
    try:
        while True:
            line = await asyncio.wait_for(reader.readline(), 2)
            if not line:
                break
            out.append(json.loads(line))
            if not read_all:
                break
    except TimeoutError:
        pass
    writer.close()
    return out


async def test_status_and_ping_over_tcp(tcp_server):
    [reply] = await raw_call(tcp_server.port, b'{"method":"CoreSv1.Ping","params":[{}],"id":1}')
    assert reply == {"id": 1, "result": "Pong", "error": None}
    [reply] = await raw_call(tcp_server.port, b'{"method":"CoreSv1.Status","params":[{}],"id":"x"}\n')
    assert reply["id"] == "x" and reply["error"] is None
    assert reply["result"]["NodeID"] == "test" and reply["result"]["ActiveGoroutines"] >= 1


async def test_unknown_service_and_method_use_go_wording(tcp_server):
    [r1] = await raw_call(tcp_server.port, b'{"method":"NoSv1.Ping","params":[{}],"id":1}')
    [r2] = await raw_call(tcp_server.port, b'{"method":"CoreSv1.Nope","params":[{}],"id":2}')
    assert r1["error"] == "rpc: can't find service NoSv1.Ping" and r1["result"] is None
    assert r2["error"] == "rpc: can't find method CoreSv1.Nope"


async def test_handler_errors_become_error_replies(tcp_server):
    replies = await raw_call(
        tcp_server.port,
        b'{"method":"TestSv1.Fail","params":[1],"id":1}{"method":"TestSv1.Crash","params":[1],"id":2}',
        read_all=True,
    )
    by_id = {r["id"]: r["error"] for r in replies}
    assert by_id == {1: "NOT_FOUND", 2: "SERVER_ERROR: boom"}


async def test_bad_requests_get_answers_and_keep_the_connection(tcp_server):
    replies = await raw_call(
        tcp_server.port,
        b'{"params":[1],"id":1}\n{"method":"TestSv1.Echo","params":{"a":1},"id":2}\n'
        b'{"method":"TestSv1.Echo","params":[5],"id":3}\n',
        read_all=True,
    )
    assert [r["id"] for r in replies] == [1, 2, 3]
    assert "neither a request" in replies[0]["error"]
    assert "params must be a list" in replies[1]["error"]
    assert replies[2] == {"id": 3, "result": 5, "error": None}


async def test_garbage_closes_only_that_connection(tcp_server):
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp_server.port)
    good_r, good_w = await asyncio.open_connection("127.0.0.1", tcp_server.port)
    writer.write(b"this is not json\n")
    line = await asyncio.wait_for(reader.readline(), 2)
    assert json.loads(line)["error"].startswith("rpc: invalid JSON-RPC message")
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed by the server
    good_w.write(b'{"method":"CoreSv1.Ping","params":[null],"id":1}')
    assert json.loads(await asyncio.wait_for(good_r.readline(), 2))["result"] == "Pong"
    good_w.close()


async def test_ten_megabyte_line_is_refused_and_the_server_lives(tcp_server):
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp_server.port)
    writer.write(b'{"method":"TestSv1.Echo","params":["' + b"x" * (10 * 1024 * 1024))
    try:
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)
    except ConnectionError:  # the server closed with our bytes unread: the kernel resets the connection
        data = b""
    assert data == b"" or b"larger than" in data
    assert reader.at_eof() or data == b""
    [reply] = await raw_call(tcp_server.port, b'{"method":"CoreSv1.Ping","params":[{}],"id":1}')
    assert reply["result"] == "Pong"


async def test_requests_on_one_connection_run_concurrently(tcp_server):
    reader, writer = await asyncio.open_connection("127.0.0.1", tcp_server.port)
    writer.write(b'{"method":"TestSv1.Slow","params":[0.5],"id":1}{"method":"CoreSv1.Ping","params":[0],"id":2}')
    first = json.loads(await asyncio.wait_for(reader.readline(), 2))
    assert first["id"] == 2  # the ping was not held behind the slow call
    second = json.loads(await asyncio.wait_for(reader.readline(), 2))
    assert second == {"id": 1, "result": "slept", "error": None}
    writer.close()


async def test_http_jsonrpc_websocket_metrics(dispatcher):
    srv = HTTPServer(dispatcher, "127.0.0.1", 0)
    await srv.start()
    try:
        base = f"http://127.0.0.1:{srv.port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(base + "/jsonrpc", json={"method": "CoreSv1.Ping", "params": [{}], "id": 4}) as r:
                assert await r.json() == {"id": 4, "result": "Pong", "error": None}
            async with http.post(base + "/jsonrpc", data=b"{nope") as r:
                assert r.status == 400 and "invalid JSON" in (await r.json())["error"]
            async with http.ws_connect(base + "/ws") as ws:
                await ws.send_str(json.dumps({"method": "CoreSv1.Status", "params": [{}], "id": 1}))
                reply = json.loads((await ws.receive()).data)
                assert reply["id"] == 1 and reply["result"]["NodeID"] == "test"
                await ws.send_str(json.dumps({"method": "Missing.X", "params": [{}], "id": 2}))
                assert json.loads((await ws.receive()).data)["error"] == "rpc: can't find service Missing.X"
            async with http.get(base + "/metrics") as r:
                text = await r.text()
                assert 'cgr_rpc_requests_total{method="CoreSv1.Ping"} 1' in text
                assert "cgr_rpc_request_seconds_bucket" in text
    finally:
        await srv.stop()


def _basic(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


async def test_http_basic_auth(dispatcher):
    srv = HTTPServer(dispatcher, "127.0.0.1", 0, auth_users={"admin": base64.b64encode(b"s3cret").decode()})
    await srv.start()
    try:
        url = f"http://127.0.0.1:{srv.port}/jsonrpc"
        body = {"method": "CoreSv1.Ping", "params": [{}], "id": 1}
        async with aiohttp.ClientSession() as http:
            async with http.post(url, json=body) as r:
                assert r.status == 401
            async with http.post(url, json=body, headers=_basic("admin", "wrong")) as r:
                assert r.status == 401
            async with http.post(url, json=body, headers=_basic("admin", "s3cret")) as r:
                assert (await r.json())["result"] == "Pong"
    finally:
        await srv.stop()


async def test_birpc_server_calls_back_the_client(dispatcher):
    srv = StreamServer(dispatcher, "127.0.0.1", 0, name="birpc_json", bidirectional=True, max_message=1 << 20)
    await srv.start()
    agent_registry = Registry()

    class Agent:
        @rpc("AgentV1.Whoami")
        async def whoami(self, args):
            return {"agent": "kamailio-1", "asked": args["q"]}

    agent_registry.register_object(Agent())
    client = RPCClient(f"127.0.0.1:{srv.port}", dispatcher=Dispatcher(agent_registry))
    try:
        assert await client.call("TestSv1.CallBack", "hello") == {"agent": "kamailio-1", "asked": "hello"}
    finally:
        await client.close()
        await srv.stop()


def _self_signed(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


async def test_tls_listener(dispatcher, tmp_path):
    from pycgrates.engine.rpc.tls import make_ssl_context

    cert, key = _self_signed(tmp_path)
    server_ctx = make_ssl_context({"server_certificate": str(cert), "server_key": str(key)}, server=True)
    srv = StreamServer(dispatcher, "127.0.0.1", 0, name="rpc_json_tls", ssl_context=server_ctx, max_message=1 << 20)
    await srv.start()
    try:
        client_ctx = ssl.create_default_context(cafile=str(cert))
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", srv.port, ssl=client_ctx, server_hostname="localhost"
        )
        writer.write(b'{"method":"CoreSv1.Ping","params":[{}],"id":1}\n')
        assert json.loads(await asyncio.wait_for(reader.readline(), 2))["result"] == "Pong"
        writer.close()
    finally:
        await srv.stop()


async def test_pool_first_fails_over_only_on_network_errors(tcp_server, dispatcher):
    dead = RPCClient("127.0.0.1:1", reconnects=-1, connect_timeout=0.5)
    live = RPCClient(f"127.0.0.1:{tcp_server.port}")
    pool = Pool([dead, live], "*first")
    try:
        assert await pool.call("TestSv1.Echo", 7) == 7
        with pytest.raises(RPCError, match="NOT_FOUND"):  # an answer, even an error, is final
            await pool.call("TestSv1.Fail", 1)
        with pytest.raises(RPCError, match=DISCONNECTED):
            await Pool([dead], "*first").call("TestSv1.Echo", 1)
    finally:
        await live.close()


async def test_pool_strategies_spread_and_broadcast(dispatcher):
    calls: list[str] = []

    class Named:
        def __init__(self, name):
            self.name = name

        async def call(self, method, arg, timeout=None):
            calls.append(self.name)
            return self.name

    conns = [Named("a"), Named("b"), Named("c")]
    rr = Pool(conns, "*round_robin")
    assert [await rr.call("X.Y", None) for _ in range(4)] == ["a", "b", "c", "a"]
    calls.clear()
    assert await Pool(conns, "*broadcast_sync").call("X.Y", None) == "a"
    assert sorted(calls) == ["a", "b", "c"]
    with pytest.raises(ValueError, match="unknown rpc_conns strategy"):
        Pool(conns, "*bogus")


async def test_conn_manager_resolves_internal_localhost_and_pools(tcp_server, dispatcher):
    mgr = ConnManager(dispatcher, {
        "pool1": {"strategy": "*first", "conns": [{"address": f"127.0.0.1:{tcp_server.port}", "transport": "*json"}]},
    }, localhost=f"127.0.0.1:{tcp_server.port}")
    try:
        assert isinstance(mgr.get(["*internal"]), InternalConn)
        assert await mgr.get(["*internal"]).call("TestSv1.Echo", 1) == 1
        assert await mgr.get(["*localhost"]).call("TestSv1.Echo", 2) == 2
        assert await mgr.get(["pool1"]).call("TestSv1.Echo", 3) == 3
        assert mgr.get([]) is None
        with pytest.raises(ValueError, match="not defined in rpc_conns"):
            mgr.get(["nope"])
    finally:
        await mgr.close()


async def test_reply_timeout(tcp_server):
    client = RPCClient(f"127.0.0.1:{tcp_server.port}", reply_timeout=0.2)
    try:
        with pytest.raises(RPCError, match="TIMEOUT"):
            await client.call("TestSv1.Slow", 1)
    finally:
        await client.close()


async def test_bidirectional_conn_in_process_and_over_birpc(dispatcher):
    class Agent:
        @rpc("AgentV1.Whoami")
        async def whoami(self, args):
            return {"agent": "in-process" if args["q"] == "local" else "remote", "asked": args["q"]}

    srv = StreamServer(dispatcher, "127.0.0.1", 0, name="birpc_json", bidirectional=True, max_message=1 << 20)
    await srv.start()
    mgr = ConnManager(dispatcher, {"sm": {"conns": [{"address": f"127.0.0.1:{srv.port}",
                                                     "transport": "*birpc_json"}]}})
    try:
        local = mgr.bidirectional(["*birpc_internal"], Agent())
        assert await local.call("TestSv1.CallBack", "local") == {"agent": "in-process", "asked": "local"}
        own = mgr.bidirectional(["*bijson_localhost"], Agent())  # this engine itself: in process, no socket
        assert await own.call("TestSv1.CallBack", "local") == {"agent": "in-process", "asked": "local"}
        remote = mgr.bidirectional(["sm"], Agent())
        assert await remote.call("TestSv1.CallBack", "wire") == {"agent": "remote", "asked": "wire"}
        await remote.close()
    finally:
        await mgr.close()
        await srv.stop()


def test_agent_back_channel_methods_stay_off_the_engine_registry():
    class AgentA:
        @rpc("AgentV1.DisconnectSession")
        async def disconnect(self, args):
            return "A"

        @rpc("AgentSv1.Status")
        async def status(self, args):
            return "ok"

    reg = Registry()
    assert reg.register_object(AgentA(), skip_services=("AgentV1",)) == ["AgentSv1.Status"]
    assert "AgentV1.DisconnectSession" not in reg
