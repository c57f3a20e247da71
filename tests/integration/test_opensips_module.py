"""OpenSIPS's cgrates module (tests/peers/opensips_module.py, played from the module's source) against the
OpenSIPS tutorial's engine over its BiRPC listener: what the module sends and the replies it parses work unchanged.

Calls carry the tutorial's own times (the module's clock is the test's), so a 65-second call takes no 65 seconds.
The tariff plan is tutorials/opensips/tariffplan: on-net 0.01 a second; national 0.10 + 1.20 the first minute,
then 0.02 a second; 1001 has 10.00, 1002 0.05, 1003 nothing.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal

import pytest

from tests.peers.opensips_module import ModuleError, OpenSIPSModule
from tests.tutorial_engine import TUTORIALS, call, cdrs, monetary, start_tutorial_engine

TUTORIAL = TUTORIALS / "opensips"
T0 = 1_700_000_000
#: what the tutorial's opensips.cfg puts in $cgr() before cgrates_auth/cgrates_acc
KVS = {"RequestType": "*prepaid", "OriginHost": "127.0.0.1", "Source": "OpenSIPS"}


class Clock:
    def __init__(self, now: int = T0) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


async def engine_and_module(tmp_path, overrides=None, clock=None):
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan", overrides)
    module = OpenSIPSModule(f"127.0.0.1:{engine.ports['birpc_json']}", clock=clock)
    await module.connect()
    return engine, module


async def test_authorize_start_end_with_cdr_and_exact_costs(tmp_path):
    clock = Clock()
    engine, module = await engine_and_module(tmp_path, clock=clock)
    try:
        rc, ret = await module.cgrates_auth("c1@osips", "1001", "1002", kvs=KVS, opts={"GetMaxUsage": 1})
        assert rc == 1
        raw = module.sent[-1]
        assert raw["method"] == "SessionSv1.AuthorizeEventWithDigest"
        assert raw["params"][0]["GetMaxUsage"] is True
        assert raw["params"][0]["Event"] == {**KVS, "OriginID": "c1@osips", "Account": "1001",
                                             "SetupTime": str(T0), "Destination": "1002"}
        # the whole credit, 10.00 at 0.01 a second, in seconds; $cgr_ret(MaxUsage) is what the module makes of it
        assert module.replies[-1]["result"]["MaxUsage"] == 1000 and ret["MaxUsage"] in (1, 1000)

        onnet = module.new_dialog("c1@osips", "1001", "1002", kvs=KVS)
        national = module.new_dialog("c2@osips", "1001", "0123456", kvs=KVS)
        clock.now += 2
        assert await module.answered(onnet) == 10800  # debit_interval 5s: SessionS grants its default usage
        assert await module.answered(national) == 10800
        start = module.sent[-1]["params"][0]
        assert start["InitSession"] is True and isinstance(start["Event"]["DialogID"], int)
        clock.now += 65
        await module.bye(onnet)
        clock.now += 10
        await module.bye(national)
        assert module.protocol_errors == []

        [cdr] = await cdrs(engine, "c1@osips")
        assert (cdr["RunID"], cdr["Account"], cdr["Destination"]) == ("*default", "1001", "1002")
        assert cdr["Usage"] == 65 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.65")
        [cdr] = await cdrs(engine, "c2@osips")
        # 0.10 + 1.20 for the first minute + 15 seconds at 0.02
        assert cdr["Usage"] == 75 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("1.60")
        assert await monetary(engine, "1001") == Decimal("10") - Decimal("0.65") - Decimal("1.60")
        with pytest.raises(Exception, match="NOT_FOUND"):
            await call(engine, "SessionSv1.GetActiveSessions", {})
    finally:
        await module.close()
        await engine.stop()


async def test_no_credit_is_refused_and_a_missed_call_leaves_a_cdr(tmp_path):
    clock = Clock()
    engine, module = await engine_and_module(tmp_path, clock=clock)
    try:
        rc, _ = await module.cgrates_auth("c3@osips", "1003", "1002", kvs=KVS)
        assert rc == -2 and module.protocol_errors == []
        # a script that accounts anyway: the engine grants nothing, the module ends the dialog
        dialog = module.new_dialog("c3@osips", "1003", "1002", kvs=KVS)
        with pytest.raises(ModuleError):
            await module.answered(dialog)
        assert dialog.ended and dialog.terminate_reason == "CGRateS Accounting Denied"
        assert await monetary(engine, "1003") == 0

        missed = module.new_dialog("c4@osips", "1001", "1009", kvs={**KVS, "RequestType": "*postpaid"},
                                   missed=True)
        await module.missed_call(missed, "Busy Here")
        [cdr] = await cdrs(engine, "c4@osips")
        assert cdr["Usage"] == 0 and Decimal(str(cdr["Cost"])) == 0
        assert cdr["ExtraFields"]["DisconnectCause"] == "Busy Here"
        assert await monetary(engine, "1001") == 10
    finally:
        await module.close()
        await engine.stop()


async def test_restart_mid_call_with_dialogs_kept_charges_once(tmp_path):
    """OpenSIPS restarts during the call (dialog db_mode keeps it): the BYE comes on a new connection; the call is
    charged once, exactly, and a repeated TerminateSession charges nothing more."""
    clock = Clock()
    engine, module = await engine_and_module(tmp_path, clock=clock)
    try:
        dialog = module.new_dialog("c5@osips", "1001", "1002", kvs=KVS)
        await module.answered(dialog)
        first = list(module.conns)
        clock.now += 30
        await module.restart(keep_dialogs=True)
        assert all(conn.transport is None for conn in first)
        clock.now += 12
        await module.bye(dialog)
        [cdr] = await cdrs(engine, "c5@osips")
        assert cdr["Usage"] == 42 * 10**9 and Decimal(str(cdr["Cost"])) == Decimal("0.42")
        rc, _ = await module.cgrates_cmd("SessionSv1.TerminateSession", kvs={
            **KVS, "OriginID": "c5@osips", "Account": "1001", "Usage": "42s"}, opts={"TerminateSession": 1})
        assert rc == 1
        assert await monetary(engine, "1001") == Decimal("9.58")
        assert len(await cdrs(engine, "c5@osips")) == 1
    finally:
        await module.close()
        await engine.stop()


async def test_disconnect_at_credit_exhaustion_reaches_the_module(tmp_path):
    engine, module = await engine_and_module(tmp_path, {"sessions": {"debit_interval": "1s"}})
    try:
        dialog = module.new_dialog("c6@osips", "1002", "1003", kvs=KVS)
        await module.answered(dialog)
        ended = await asyncio.wait_for(module.terminated.get(), 15)
        assert ended is dialog and dialog.terminate_reason == "CGRateS Disconnect: INSUFFICIENT_CREDIT"
        request = next(r for r in module.received if r["method"].endswith("DisconnectSession"))
        assert request["method"] == "SessionSv1.DisconnectSession"
        # five seconds were what 0.05 bought: exactly that is charged, whatever the module reports afterwards
        assert await monetary(engine, "1002") == 0
        [cdr] = await cdrs(engine, "c6@osips")
        assert Decimal(str(cdr["Cost"])) == Decimal("0.05")
    finally:
        await module.close()
        await engine.stop()


async def test_channel_sync_ends_a_session_opensips_lost_in_a_restart(tmp_path):
    engine, module = await engine_and_module(tmp_path, {"sessions": {"channel_sync_interval": "1s"}})
    try:
        dialog = module.new_dialog("c7@osips", "1001", "1002", kvs=KVS)
        await module.answered(dialog)
        await module.restart(keep_dialogs=False)
        for _ in range(50):
            await asyncio.sleep(0.1)
            try:
                await call(engine, "SessionSv1.GetActiveSessions", {})
            except Exception:
                break
        else:
            pytest.fail("the session OpenSIPS lost is still active")
        assert any(r["method"] == "SessionSv1.GetActiveSessionIDs" for r in module.received)
    finally:
        await module.close()
        await engine.stop()


async def test_compat_mode_smgeneric_names(tmp_path):
    clock = Clock()
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan")
    module = OpenSIPSModule(f"127.0.0.1:{engine.ports['birpc_json']}", compat_mode=True, clock=clock)
    await module.connect()
    try:
        rc, ret = await module.cgrates_auth("c8@osips", "1001", "1002", kvs=KVS)
        assert rc == 1 and ret[""] == 1000
        dialog = module.new_dialog("c8@osips", "1001", "1002", kvs=KVS)
        await module.answered(dialog)
        clock.now += 20
        await module.bye(dialog)
        [cdr] = await cdrs(engine, "c8@osips")
        assert Decimal(str(cdr["Cost"])) == Decimal("0.20")
    finally:
        await module.close()
        await engine.stop()


async def test_opensips_2_3_disconnect_with_client_protocol_0(tmp_path):
    """client_protocol 0: SessionS asks OpenSIPS 2.3 to hang up with SMGClientV1.DisconnectSession."""
    engine = await start_tutorial_engine(tmp_path, TUTORIAL / "engine", TUTORIAL / "tariffplan",
                                         {"sessions": {"debit_interval": "1s", "client_protocol": 0}})
    module = OpenSIPSModule(f"127.0.0.1:{engine.ports['birpc_json']}", compat_mode=True)  # the real clock
    await module.connect()
    try:
        dialog = module.new_dialog("c12@osips", "1002", "1003", kvs=KVS)
        await module.answered(dialog)
        ended = await asyncio.wait_for(module.terminated.get(), 30)
        assert ended is dialog and dialog.terminate_reason == "CGRateS Disconnect: INSUFFICIENT_CREDIT"
        request = next(r for r in module.received if r["method"].endswith("DisconnectSession"))
        assert request["method"] == "SMGClientV1.DisconnectSession"
        assert set(request["params"][0]) == {"EventStart", "Reason"}
        assert await monetary(engine, "1002") == 0  # the 0.05 it had bought five seconds
    finally:
        await module.close()
        await engine.stop()


async def _flood(port: int, documents: list[bytes], count: int) -> int:
    """Send ``count`` documents on one connection while reading the answers; the number of answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = 0

    async def read() -> None:
        nonlocal answers
        while answers < count:
            line = await reader.readline()
            if not line:
                return
            answers += 1

    reading = asyncio.get_running_loop().create_task(read())
    for i in range(0, count, 1000):
        writer.write(b"".join(documents[j % len(documents)] for j in range(i, min(count, i + 1000))))
        await writer.drain()
    await asyncio.wait_for(reading, 60)
    writer.close()
    return answers


async def test_100k_malformed_documents_on_the_birpc_listener(tmp_path, caplog):
    """Documents that are JSON but no request are each answered with an error on the same connection; a stream
    that is not JSON is closed, logged naming the peer; the module's calls go on."""
    caplog.set_level(logging.INFO)
    engine, module = await engine_and_module(tmp_path, clock=Clock())
    port = engine.ports["birpc_json"]
    try:
        junk = [b'{ "method": 42, "id": 1 }', b"[ 1, 2 ]", b'{ "params": [ ] }', b'{ "method": "NoDot" }',
                b'{ "method": "SessionSv1.AuthorizeEvent", "params": 7, "id": 2 }', b"{ }",
                b'{ "method": "X.Y", "params": [ 1, 2 ], "id": 3 }']
        assert await _flood(port, junk, 100_000) == 100_000
        for garbage in (b"}{", b"\xff\xfe\xfd", b"GET / HTTP/1.1\r\n\r\n"):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(garbage)
            assert b"rpc:" in await asyncio.wait_for(reader.read(), 5)  # answered, then closed
            writer.close()
        closing = [r.getMessage() for r in caplog.records if "closing RPC connection from 127.0.0.1:" in
                   r.getMessage()]
        assert len(closing) == 3
        rc, _ = await module.cgrates_auth("c9@osips", "1001", "1002", kvs=KVS)
        assert rc == 1 and module.protocol_errors == []
    finally:
        await module.close()
        await engine.stop()


async def test_malformed_documents_on_the_birpc_listener_are_logged_naming_the_peer(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    engine, module = await engine_and_module(tmp_path, clock=Clock())
    try:
        assert await _flood(engine.ports["birpc_json"], [b'{ "method": 42, "id": 1 }'], 1000) == 1000
        assert any("127.0.0.1:" in r.getMessage() and r.levelno >= logging.WARNING for r in caplog.records)
    finally:
        await module.close()
        await engine.stop()


async def test_accounting_without_init_session_keeps_the_call(tmp_path):
    engine, module = await engine_and_module(tmp_path, clock=Clock())
    try:
        dialog = module.new_dialog("c10@osips", "1001", "1002", kvs=KVS, opts={"InitSession": 0})
        assert await module.answered(dialog) == 21600  # no MaxUsage: unlimited
    finally:
        await module.close()
        await engine.stop()


async def test_digest_fields_not_asked_are_null(tmp_path):
    engine, module = await engine_and_module(tmp_path, clock=Clock())
    try:
        rc, ret = await module.cgrates_auth("c11@osips", "1001", "1002", kvs=KVS)
        assert rc == 1
        assert "AttributesDigest" not in ret and "Thresholds" not in ret and "StatQueues" not in ret
    finally:
        await module.close()
        await engine.stop()
