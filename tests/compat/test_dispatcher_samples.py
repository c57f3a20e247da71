"""CGRateS's dispatchers/* sample configs pass cgr-engine's start checks as they are (DispatcherS is part of this
build); those naming MongoDB or TrendS/RankingS are refused with the one line that names what this build lacks."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.engine.app import Engine
from pycgrates.engine.config import load_config
from pycgrates.engine.config.checks import ConfigProblems
from tests.conftest import shared_data

ACCEPTED = ("all", "all2", "all_mysql", "all2_mysql", "dispatchers_internal", "dispatchers_internal_gob",
            "dispatchers_mysql", "dispatchers_mysql_gob", "dispatchers_no_attributes")
REFUSED = {**dict.fromkeys(("all_mongo", "all2_mongo", "diamagent", "dispatchers_mongo", "dispatchers_mongo_gob",
                            "radagent", "trd_rnk_mongo", "trd_rnk2_mongo"), "db_type \\*mongo is not available"),
           **dict.fromkeys(("trd_rnk_mysql", "trd_rnk2_mysql"), "TrendS is not available")}


@pytest.mark.parametrize("sample", ACCEPTED)
def test_sample_passes_the_start_checks(sample):
    cfg = load_config(shared_data("conf", "samples", "dispatchers", sample))
    asyncio.run(Engine(cfg).check())


@pytest.mark.parametrize("sample", sorted(REFUSED))
def test_sample_refused_names_what_is_missing(sample):
    cfg = load_config(shared_data("conf", "samples", "dispatchers", sample))
    with pytest.raises(ConfigProblems, match=REFUSED[sample]):
        asyncio.run(Engine(cfg).check())
