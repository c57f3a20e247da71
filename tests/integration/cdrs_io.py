"""What the ERs/EEs tests share: an engine rating CDRs with the cdrs-in-out tutorial's tariff plan, FreeSWITCH-style
CSV CDR lines, and waiting for a condition with a deadline."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

PLAN = REPO / "tutorials" / "cdrs-in-out" / "tariffplan"
T = "cgrates.org"

#: FreeSWITCH mod_cdr_csv "example" template columns, as the tutorial's reader reads them
FS_FIELDS = [
    {"tag": "ToR", "path": "*cgreq.ToR", "type": "*constant", "value": "*voice"},
    {"tag": "OriginID", "path": "*cgreq.OriginID", "type": "*variable", "value": "~*req.10", "mandatory": True},
    {"tag": "OriginHost", "path": "*cgreq.OriginHost", "type": "*constant", "value": "fs-csv"},
    {"tag": "RequestType", "path": "*cgreq.RequestType", "type": "*constant", "value": "*rated"},
    {"tag": "Tenant", "path": "*cgreq.Tenant", "type": "*constant", "value": T},
    {"tag": "Category", "path": "*cgreq.Category", "type": "*constant", "value": "call"},
    {"tag": "Account", "path": "*cgreq.Account", "type": "*variable", "value": "~*req.12", "mandatory": True},
    {"tag": "Subject", "path": "*cgreq.Subject", "type": "*variable", "value": "~*req.12", "mandatory": True},
    {"tag": "Destination", "path": "*cgreq.Destination", "type": "*variable", "value": "~*req.2",
     "mandatory": True},
    {"tag": "SetupTime", "path": "*cgreq.SetupTime", "type": "*variable", "value": "~*req.4", "mandatory": True},
    {"tag": "AnswerTime", "path": "*cgreq.AnswerTime", "type": "*variable", "value": "~*req.5",
     "mandatory": True},
    {"tag": "Usage", "path": "*cgreq.Usage", "type": "*variable", "value": "~*req.8;s", "mandatory": True},
    {"tag": "DisconnectCause", "path": "*cgreq.DisconnectCause", "type": "*variable", "value": "~*req.9"},
]


def fs_line(i: int, *, run: str = "", billsec: int = 0, account: str = "", dest: str = "") -> str:
    """One FreeSWITCH CSV CDR: 1001..1004 calling France, Germany or the US, 1..600 s."""
    account = account or f"100{1 + i % 4}"
    dest = dest or ("33" if i % 3 == 0 else "49" if i % 3 == 1 else "1")  + f"{612345000 + i}"
    billsec = billsec or 1 + (i * 7) % 600
    oid = f"{run or 'r'}-{i:07d}"
    return (f'"{account}","{account}","{dest}","default","2024-01-15 10:00:00","2024-01-15 10:00:05",'
            f'"2024-01-15 10:10:00","{billsec + 5}","{billsec}","NORMAL_CLEARING","{oid}","","{account}",'
            f'"PCMU","PCMU"\n')


def run_id() -> str:
    return uuid.uuid4().hex[:8]


def engine_overrides(tmp: Path, port: int, *, ers: dict | None = None, ees: dict | None = None,
                     cdrs: dict | None = None, rpc_conns: dict | None = None, apiers: dict | None = None) -> dict:
    overrides = storage_overrides(tmp, port)
    overrides.update({
        "general": {"default_timezone": "UTC", "log_level": 6},
        "rals": {"enabled": True}, "schedulers": {"enabled": True},
        "apiers": {"enabled": True, "scheduler_conns": ["*internal"], **(apiers or {})},
        "chargers": {"enabled": True},
        "cdrs": {"enabled": True, "chargers_conns": ["*internal"], "rals_conns": ["*internal"], **(cdrs or {})},
        "sessions": {"enabled": True, "chargers_conns": ["*internal"], "rals_conns": ["*internal"],
                     "cdrs_conns": ["*internal"]},
    })
    if ers is not None:
        overrides["ers"] = {"enabled": True, "sessions_conns": ["*internal"], **ers}
    if ees is not None:
        overrides["ees"] = {"enabled": True, **ees}
    if rpc_conns:
        overrides["rpc_conns"] = rpc_conns
    return overrides


def start_engine(tmp: Path, overrides_for: Callable[[int], dict], *, load_plan: bool = True) -> EngineProcess:
    port = free_port()
    cfg = make_config_dir(tmp / "cfg", overrides=overrides_for(port))
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    if load_plan:
        assert eng.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(PLAN)}) == "OK"
    return eng


def restart(eng: EngineProcess) -> EngineProcess:
    return EngineProcess(eng.config_dir, eng.rpc_port, eng.log_path).start()


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, period: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(period)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


def cdr_count(eng: EngineProcess, **filters: Any) -> int:
    return eng.call("CDRsV1.GetCDRsCount", filters)


def free_port_number() -> int:
    return free_port()


class TCPForwarder:
    """A loopback TCP proxy to a real server, started and stopped by the test: "the target is down" without
    touching the shared server. Runs its own event loop in a thread."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        import asyncio
        import threading

        self.target = (target_host, target_port)
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: Any = None
        self.writers: set[Any] = set()

    async def _pipe(self, reader: Any, writer: Any) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def _handle(self, reader: Any, writer: Any) -> None:
        import asyncio

        try:
            up_r, up_w = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self.writers |= {writer, up_w}
        await asyncio.gather(self._pipe(reader, up_w), self._pipe(up_r, writer))

    def start(self) -> None:
        import asyncio

        async def go() -> Any:
            return await asyncio.start_server(self._handle, "127.0.0.1", self.port)

        self.server = asyncio.run_coroutine_threadsafe(go(), self.loop).result(10)

    def stop(self) -> None:
        import asyncio

        async def halt() -> None:
            if self.server is not None:
                self.server.close()
                self.server = None
            for w in list(self.writers):
                w.close()
            self.writers.clear()

        asyncio.run_coroutine_threadsafe(halt(), self.loop).result(10)

    def close(self) -> None:
        self.stop()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


def require(port: int, what: str) -> None:
    from tests.conftest import require_service

    require_service("127.0.0.1", port, what)


AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
NATS_URL = "nats://127.0.0.1:4222"
PG_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def amqp_drain(queue: str, expect: int, timeout: float = 60.0) -> list[bytes]:
    """Consume ``expect`` messages from a RabbitMQ queue (acking them), then delete the queue."""
    import asyncio

    async def go() -> list[bytes]:
        import aio_pika

        conn = await aio_pika.connect(AMQP_URL)
        async with conn:
            ch = await conn.channel()
            q = await ch.declare_queue(queue, durable=True)
            out: list[bytes] = []
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout
            while len(out) < expect and loop.time() < deadline:
                msg = await q.get(fail=False)
                if msg is None:
                    await asyncio.sleep(0.05)
                    continue
                out.append(msg.body)
                await msg.ack()
            await asyncio.sleep(0.3)
            while (msg := await q.get(fail=False)) is not None:  # anything more is a duplicate
                out.append(msg.body)
                await msg.ack()
            await q.delete(if_unused=False, if_empty=False)
            return out

    return asyncio.run(go())


def pg(query: str, *args: Any) -> list[dict]:
    import asyncio

    async def go() -> list[dict]:
        import asyncpg

        conn = await asyncpg.connect(PG_DSN)
        try:
            return [dict(r) for r in await conn.fetch(query, *args)]
        finally:
            await conn.close()

    return asyncio.run(go())
