"""The table-driven loader stores exactly what the positional loader stored, for every reference tariff plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.loader import legacy_tariffplan, tariffplan
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from tests.conftest import REPO, shared_data

SHARED_PLANS = ("tutorial", "tutorial2", "oldtutorial", "dnsagent", "tut_sip_redirect", "dispatchers")
TUTORIAL_PLANS = tuple(sorted(p.parent.name for p in (REPO / "tutorials").glob("*/tariffplan")))


def plan_folder(name: str) -> Path:
    if name.startswith("tutorials/"):
        return REPO / name / "tariffplan"
    return shared_data("tariffplans", name)


#: Fields that differ at every load: balance Uuids (random), the times the accounting part stamps with its clock.
PER_LOAD = frozenset({"Uuid", "UpdateTime", "LastExecutionTime"})


def without_per_load(value: Any) -> Any:
    """The stored objects with the fields of PER_LOAD blanked."""
    if isinstance(value, dict):
        return {k: ("<per load>" if k in PER_LOAD else without_per_load(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [without_per_load(v) for v in value]
    return value


async def stored_by(module: Any, folder: Path) -> tuple[dict, Any]:
    db = MemoryDataDB()
    result = await module.load_tariff_plan(DataManager(db, Cache.from_config({})), folder)
    return without_per_load(db._data), result


def test_every_tutorial_plan_is_covered():
    assert TUTORIAL_PLANS, "tutorials/*/tariffplan holds the tutorials' tariff plans"


@pytest.mark.parametrize("name", [*SHARED_PLANS, *(f"tutorials/{t}" for t in TUTORIAL_PLANS)])
async def test_same_objects_stored(name):
    folder = plan_folder(name)
    old, old_result = await stored_by(legacy_tariffplan, folder)
    new, new_result = await stored_by(tariffplan, folder)
    assert old, f"{name} stores something"
    assert sorted(new) == sorted(old)
    for kind in old:
        assert sorted(new[kind]) == sorted(old[kind]), kind
        for key in old[kind]:
            assert new[kind][key] == old[kind][key], f"{kind} {key}"
    assert (new_result.counts, new_result.ids, new_result.warnings, new_result.ops) == (
        old_result.counts,
        old_result.ids,
        old_result.warnings,
        old_result.ops,
    )
