"""What the APIer tests share: reading an RPC error, and a balance's value."""

from __future__ import annotations

from typing import Any

import pytest

from tests.engine_proc import EngineProcess
from tests.integration.cdrs_io import T


def error_of(eng: EngineProcess, method: str, arg: Any) -> str:
    with pytest.raises(RuntimeError) as exc:
        eng.call(method, arg)
    return str(exc.value)


def balance_of(engine: EngineProcess, account: str, balance_id: str) -> float | None:
    acc = engine.call("APIerSv2.GetAccount", {"Tenant": T, "Account": account})
    for balances in acc["BalanceMap"].values():
        for b in balances:
            if b["ID"] == balance_id:
                return b["Value"]
    return None
