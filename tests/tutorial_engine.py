"""A tutorial's engine config run in the test's process, on free loopback ports and a throw-away data folder,
with the tutorial's tariff plan loaded: the switch peers of the tests talk to it over real sockets."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from pycgrates.engine.app import Engine
from pycgrates.engine.config import load_config
from tests.engine_proc import REPO, free_port, make_config_dir

TUTORIALS = REPO / "tutorials"


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


async def start_tutorial_engine(tmp: Path, engine_dir: Path, tariffplan: Path,
                                overrides: dict[str, Any] | None = None) -> Engine:
    """The engine of ``engine_dir`` with its listeners on free ports (``engine.ports``), data under ``tmp``."""
    ports = {"rpc_json": free_port(), "birpc_json": free_port(), "http": free_port()}
    base = {
        "listen": {name: f"127.0.0.1:{port}" for name, port in ports.items()},
        "data_db": {"opts": {"internalDBDumpPath": str(tmp / "datadb")}},
        "stor_db": {"opts": {"internalDBDumpPath": str(tmp / "stordb")}},
    }
    cfg_dir = make_config_dir(tmp / "cfg", engine_dir, overrides=merge(base, overrides or {}))
    engine = Engine(load_config(cfg_dir))
    engine.ports = ports  # type: ignore[attr-defined]
    await engine.start()
    assert await call(engine, "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(tariffplan)}) == "OK"
    return engine


async def call(engine: Engine, method: str, args: Any) -> Any:
    return await engine.dispatcher.registry.dispatch(method, args)


async def monetary(engine: Engine, account: str) -> Decimal:
    """The account's money (every *monetary balance added up)."""
    acc = await call(engine, "APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": account})
    return sum((Decimal(str(b["Value"])) for b in acc["BalanceMap"].get("*monetary") or []), Decimal(0))


async def cdrs(engine: Engine, origin_id: str) -> list[dict[str, Any]]:
    from pycgrates.engine.rpc.errors import RPCError

    try:
        return await call(engine, "CDRsV1.GetCDRs", {"OriginIDs": [origin_id]})
    except RPCError as exc:
        if exc.message == "NOT_FOUND":
            return []
        raise
