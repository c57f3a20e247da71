"""Every reference and tutorial tariff plan loads into exactly the objects recorded in loader_golden/.

A snapshot holds what the loader writes to DataDB itself (rating objects, profiles, raw rows, by kind and key), the
rows it hands to the accounting part, and the counts, reload IDs and warnings of the load. The snapshots were
recorded with the positional loader this table-driven one replaced, so they pin its behaviour.

When a change to what is stored is intended, rewrite them with ``PYCGRATES_UPDATE_GOLDEN=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from pycgrates.engine.loader.tariffplan import TariffPlan
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from tests.conftest import REPO, shared_data

GOLDEN = Path(__file__).parent / "loader_golden"
SHARED_PLANS = ("tutorial", "tutorial2", "oldtutorial", "dnsagent", "tut_sip_redirect", "dispatchers")
TUTORIAL_PLANS = tuple(sorted(p.parent.name for p in (REPO / "tutorials").glob("*/tariffplan")))
PLANS = (*SHARED_PLANS, *(f"tutorials/{t}" for t in TUTORIAL_PLANS))


def plan_folder(name: str) -> Path:
    if name.startswith("tutorials/"):
        return REPO / name / "tariffplan"
    return shared_data("tariffplans", name)


async def snapshot(tariff_plan: type[TariffPlan], folder: Path) -> dict[str, Any]:
    """What loading ``folder`` into an empty DataDB writes and hands on, as JSON data."""
    tp = tariff_plan.from_folder(folder)
    ops, result = await tp.build(DataManager(MemoryDataDB(), Cache.from_config({})))
    stored: dict[str, dict[str, Any]] = {}
    for op, kind, key, value in ops:
        assert op == "set", f"an empty DataDB has nothing to {op}: {kind} {key}"
        stored.setdefault(kind, {})[key] = value
    snap = {
        "stored": stored,
        "accounting": tp.accounting_tables(),
        "counts": result.counts,
        "ids": result.ids,
        "warnings": result.warnings,
    }
    return json.loads(json.dumps(snap))


def golden_path(name: str) -> Path:
    return GOLDEN / (name.replace("/", "-") + ".json")


def test_every_tutorial_plan_is_covered():
    assert TUTORIAL_PLANS, "tutorials/*/tariffplan holds the tutorials' tariff plans"
    assert {p.name for p in GOLDEN.glob("*.json")} == {golden_path(n).name for n in PLANS}


@pytest.mark.parametrize("name", PLANS)
async def test_loaded_objects_match_the_snapshot(name):
    actual = await snapshot(TariffPlan, plan_folder(name))
    path = golden_path(name)
    if os.environ.get("PYCGRATES_UPDATE_GOLDEN") == "1":
        path.write_text(json.dumps(actual, indent=1, sort_keys=True) + "\n")
    expected = json.loads(path.read_text())
    assert sorted(actual["stored"]) == sorted(expected["stored"])
    for kind, objects in expected["stored"].items():
        assert sorted(actual["stored"][kind]) == sorted(objects), kind
        for key, value in objects.items():
            assert actual["stored"][kind][key] == value, f"{kind} {key}"
    for part in ("accounting", "counts", "ids", "warnings"):
        assert actual[part] == expected[part], part
