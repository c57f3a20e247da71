"""The Kamailio tutorial end to end: Kamailio from Debian running tutorials/kamailio/kamailio.cfg on loopback
ports, sipp as caller and callee (tutorials/kamailio/sipp), cgr-engine on tutorials/kamailio/engine with the
tutorial's tariff plan, its kamailio_agent dialling Kamailio's evapi. An authorized call is answered, charged as
the tariff plan says and gets one CDR; a call from an account without credit is refused before it rings; a call
that outlives its credit is ended by Kamailio on the agent's disconnect (sipp sees the BYE) and charged exactly
what the credit paid; the agent's connection killed mid-call comes back and the call is charged once."""

from __future__ import annotations

import asyncio
import socket
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import IN_CI, REPO, require_binary
from tests.engine_proc import EngineProcess, make_config_dir, storage_overrides
from tests.engine_proc import call as rpc_call
from tests.peers.kamailio import Kamailio, Sipp, free_port, kamailio_available
from tests.peers.proxy import TCPProxy

pytestmark = pytest.mark.slow

TUTORIAL = REPO / "tutorials" / "kamailio"
SIPP = TUTORIAL / "sipp"
SECOND = 1_000_000_000


@pytest.fixture
def binaries():
    require_binary("sipp")
    if not kamailio_available():
        if IN_CI:
            pytest.fail("kamailio with evapi.so is not installed (.ci/run installs it)")
        pytest.skip("kamailio with evapi.so is not installed")


def engine_connections(kam: Kamailio) -> int:
    """How many evapi connections Kamailio saw (the first one is Kamailio.start's probe of the port)."""
    return kam.log().count("CGR engine connected from")


async def until(predicate, timeout: float, what: str) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await predicate():
        assert loop.time() < deadline, f"{what} did not happen within {timeout}s"
        await asyncio.sleep(0.05)


class Tutorial:
    """Kamailio on the tutorial's script and cgr-engine on the tutorial's config, the agent dialling ``evapi``
    (Kamailio's evapi address, or a proxy in front of it)."""

    def __init__(self, tmp: Path, kam: Kamailio, engine: EngineProcess) -> None:
        self.tmp = tmp
        self.kam = kam
        self.engine = engine
        self.sipps: list[Sipp] = []

    async def call(self, method: str, args) -> object:
        return await asyncio.to_thread(rpc_call, self.engine.rpc_port, method, args)

    async def balance(self, account: str) -> Decimal:
        acc = await self.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
        return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))

    async def cdrs(self, account: str) -> list[dict]:
        try:
            return await self.call("CDRsV1.GetCDRs", {"Accounts": [account]})
        except RuntimeError as exc:
            assert "NOT_FOUND" in str(exc)
            return []

    async def one_cdr(self, account: str, timeout: float = 10.0) -> dict:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not (cdrs := await self.cdrs(account)):
            assert loop.time() < deadline, f"no CDR of {account}; engine log:\n{self.engine.log()[-3000:]}"
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.3)     # a second one would be here by now
        cdrs = await self.cdrs(account)
        assert len(cdrs) == 1, cdrs
        return cdrs[0]

    async def active(self) -> list[dict]:
        try:
            return await self.call("SessionSv1.GetActiveSessions", {})
        except RuntimeError as exc:
            assert "NOT_FOUND" in str(exc)
            return []

    def caller(self, scenario: str, account: str, *extra: str) -> Sipp:
        sipp = Sipp(self.tmp, SIPP / scenario, port=free_port(socket.SOCK_DGRAM),
                    target=f"127.0.0.1:{self.kam.sip_port}", extra=["-key", "caller", account, *extra])
        self.sipps.append(sipp)
        return sipp

    def callee(self) -> Sipp:
        sipp = Sipp(self.tmp, SIPP / "uas.xml", port=self.kam.uas_port)
        self.sipps.append(sipp)
        return sipp


async def start_tutorial(tmp: Path, *, netstring_format: bool = True, through: TCPProxy | None = None) -> Tutorial:
    kam = Kamailio(tmp, netstring_format=netstring_format, script=TUTORIAL / "kamailio.cfg")
    await kam.start()
    if through is not None:
        through.target = ("127.0.0.1", kam.evapi_port)
        await through.start()
    evapi = through.address if through is not None else kam.evapi_address
    rpc_port = free_port()
    overrides = storage_overrides(tmp, rpc_port)
    overrides["kamailio_agent"] = {"evapi_conns": [     # the framing is found from what Kamailio sends
        {"address": evapi, "reconnects": -1, "max_reconnect_interval": "300ms", "alias": "kam-tutorial"}]}
    engine = EngineProcess(make_config_dir(tmp, TUTORIAL / "engine", overrides=overrides), rpc_port,
                           tmp / "engine.log")
    try:
        await asyncio.to_thread(engine.start)
        await until(_async(lambda: engine_connections(kam) >= 2), 10, "the agent's connection")
        tut = Tutorial(tmp, kam, engine)
        assert await tut.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(TUTORIAL / "tariffplan")}) == "OK"
    except BaseException:
        engine.kill()
        await kam.stop()
        raise
    return tut


def _async(predicate):
    async def check() -> bool:
        return predicate()
    return check


async def stop_tutorial(tut: Tutorial) -> None:
    for sipp in tut.sipps:
        await sipp.kill()
    await asyncio.to_thread(tut.engine.terminate)
    await tut.kam.stop()


@pytest.mark.parametrize("netstring_format", [True, False], ids=["netstring", "bare"])
async def test_authorized_call_is_answered_charged_and_gets_one_cdr(binaries, tmp_path, netstring_format):
    tut = await start_tutorial(tmp_path, netstring_format=netstring_format)
    try:
        uas, uac = tut.callee(), tut.caller("uac.xml", "1001", "-d", "2000")
        await uas.start()
        await uac.start()
        assert await uac.wait() == 0, uac.failure()
        assert await uas.wait() == 0, uas.failure()
        cdr = await tut.one_cdr("1001")
        # the tutorial's rate: 0.40 to connect and the first minute whole (0.20), for 2 s
        assert (cdr["Cost"], cdr["Destination"], cdr["RequestType"], cdr["OriginHost"]) == (
            0.6, "1002", "*prepaid", "kam-tutorial")
        assert cdr["Usage"] == 2 * SECOND                         # whole seconds, as billsec counts them
        assert await tut.balance("1001") == Decimal("9.4")
        assert await tut.active() == []
        assert "CGR authorized 1001 calling 1002 for 5688s" in tut.kam.log()
    finally:
        await stop_tutorial(tut)


async def test_call_without_credit_is_refused_before_it_rings(binaries, tmp_path):
    tut = await start_tutorial(tmp_path)
    callee = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)   # where the call would ring
    try:
        callee.bind(("127.0.0.1", tut.kam.uas_port))
        callee.setblocking(False)
        uac = tut.caller("uac_refused.xml", "1004")
        await uac.start()
        assert await uac.wait() == 0, uac.failure()              # 403 Insufficient credit
        await tut.kam.wait_log("CGR refused 1004 calling 1002: no credit")
        await asyncio.sleep(0.3)
        with pytest.raises(BlockingIOError):
            callee.recv(65536)                                   # the callee never saw the INVITE
        assert await tut.cdrs("1004") == [] and await tut.active() == []
        assert await tut.balance("1004") == 0
    finally:
        callee.close()
        await stop_tutorial(tut)


async def test_call_outliving_its_credit_is_ended_by_kamailio_and_charged_what_the_credit_paid(binaries, tmp_path):
    tut = await start_tutorial(tmp_path)
    try:
        uas, uac = tut.callee(), tut.caller("uac_ended_by_network.xml", "1003")   # 0.07: seven seconds
        await uas.start()
        await uac.start()
        assert await uac.wait(timeout=30) == 0, uac.failure()    # the caller got the proxy's BYE
        assert await uas.wait() == 0, uas.failure()              # and so did the callee
        assert "CGR ends dialog" in tut.kam.log() and "INSUFFICIENT_CREDIT" in tut.kam.log()
        cdr = await tut.one_cdr("1003")
        assert (cdr["Usage"], cdr["Cost"]) == (7 * SECOND, 0.07)  # seven seconds at 0.01, not a cent more
        assert await tut.balance("1003") == 0
        assert await tut.active() == []
    finally:
        await stop_tutorial(tut)


async def test_agent_connection_killed_mid_call_comes_back_and_the_call_is_charged_once(binaries, tmp_path):
    proxy = TCPProxy("127.0.0.1:1")
    tut = await start_tutorial(tmp_path, through=proxy)
    try:
        uas, uac = tut.callee(), tut.caller("uac.xml", "1001", "-d", "4000")
        await uas.start()
        await uac.start()
        await until(tut.active, 10, "the call's session")
        before = engine_connections(tut.kam)
        proxy.cut()                                              # the agent's evapi connection dies mid-call
        await until(_async(lambda: engine_connections(tut.kam) == before + 1), 10, "the agent's reconnection")
        assert proxy.accepted == 2
        assert len(await tut.active()) == 1                      # the session is still there
        assert await uac.wait() == 0, uac.failure()
        assert await uas.wait() == 0, uas.failure()
        cdr = await tut.one_cdr("1001")
        assert (cdr["Usage"], cdr["Cost"]) == (4 * SECOND, 0.6)
        assert await tut.balance("1001") == Decimal("9.4")       # charged once
        assert await tut.active() == []
    finally:
        await stop_tutorial(tut)
        await proxy.stop()
