"""FilterS: every filter type and its *not form, stored filters, remote paths, and the filter index."""

from __future__ import annotations

from typing import Any

import pytest

from pycgrates.engine.config import config_from_dict
from pycgrates.engine.context import EngineContext
from pycgrates.engine.filters.indexes import reset_filter_indexes
from pycgrates.engine.filters.rules import FilterError, inline_filter
from pycgrates.engine.filters.service import FilterService
from pycgrates.engine.rpc.conn import ConnManager
from pycgrates.engine.rpc.dispatch import Dispatcher
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.rpc.registry import Registry, rpc
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.storage.base import MemoryDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager
from pycgrates.engine.template.dataprovider import MapDataProvider

TENANT = "cgrates.org"


def make_ctx(overrides: dict | None = None) -> EngineContext:
    registry = Registry()
    return EngineContext(cfg=config_from_dict(overrides or {}), dm=DataManager(MemoryDataDB(), Cache()),
                         stordb=None, registry=registry, conns=ConnManager(Dispatcher(registry), {}))


@pytest.fixture
def ctx() -> EngineContext:
    return make_ctx({"filters": {"apiers_conns": ["*internal"]}})


@pytest.fixture
def fs(ctx) -> FilterService:
    svc = FilterService(ctx)
    ctx.services["filters"] = svc
    return svc


EVENT = {
    "Account": "1001",
    "Subject": "1001",
    "Destination": "+4986517174963",
    "Usage": "1m30s",
    "UsageNs": 90_000_000_000,
    "Cost": 1.25,
    "AnswerTime": "2014-07-29T15:00:05Z",
    "IP": "192.168.1.10",
    "Empty": "",
    "EmptyList": [],
    "Name": "alice@example.com",
}


def dp(event: dict | None = None, **opts: Any) -> MapDataProvider:
    return MapDataProvider({"*req": dict(EVENT if event is None else event), "*opts": opts, "*vars": {}})


CASES = [
    ("*string:~*req.Account:1001", True),
    ("*string:~*req.Account:1002|1001", True),
    ("*string:~*req.Account:1002", False),
    ("*string:~*req.Missing:1001", False),
    ("*string:~*req.Account:~*req.Subject", True),
    ("*prefix:~*req.Destination:+49|+40", True),
    ("*prefix:~*req.Destination:+33", False),
    ("*suffix:~*req.Destination:963", True),
    ("*suffix:~*req.Destination:111", False),
    ("*contains:~*req.Name:@example", True),
    ("*contains:~*req.Name:@other", False),
    ("*exists:~*req.Account:", True),
    ("*exists:~*req.Missing:", False),
    ("*empty:~*req.Empty:", True),
    ("*empty:~*req.EmptyList:", True),
    ("*empty:~*req.Missing:", True),
    ("*empty:~*req.Account:", False),
    ("*gt:~*req.Usage:1m", True),
    ("*gt:~*req.Usage:1m30s", False),
    ("*gte:~*req.Usage:1m30s", True),
    ("*gte:~*req.UsageNs:1m30s", True),
    ("*lt:~*req.Usage:2m", True),
    ("*lt:~*req.Usage:1m30s", False),
    ("*lte:~*req.Usage:1m30s", True),
    ("*gt:~*req.Cost:1", True),
    ("*lt:~*req.Cost:1.2", False),
    ("*gte:~*req.AnswerTime:2014-07-29T15:00:00Z", True),
    ("*eq:~*req.Cost:1.25", True),
    ("*eq:~*req.Account:1001", True),
    ("*eq:~*req.UsageNs:1m30s", True),
    ("*eq:~*req.Account:1002", False),
    ("*regex:~*req.Destination:^\\+49\\d+$", True),
    ("*regex:~*req.Destination:^\\+40", False),
    ("*rsr:~*req.Account:^10", True),
    ("*rsr:~*req.Account:^20", False),
    ("*rsr:~*req.Account:!^20", True),
    ("*rsr:~*req.Missing:^$", True),
    ("*ipnet:~*req.IP:192.168.1.0/24", True),
    ("*ipnet:~*req.IP:10.0.0.0/8|192.168.0.0/16", True),
    ("*ipnet:~*req.IP:10.0.0.0/8", False),
    ("*ai:~*req.AnswerTime:2014-07-29T15:00:00Z", True),
    ("*ai:~*req.AnswerTime:2014-07-29T15:00:00Z|2014-07-29T16:00:00Z", True),
    ("*ai:~*req.AnswerTime:2014-07-29T16:00:00Z", False),
    ("*ai:~*req.AnswerTime:|2014-07-29T15:00:00Z", False),
    ("*ai:~*req.AnswerTime:|2014-07-29T16:00:00Z", True),
    ("*string:~*req.Destination{*len}:14", True),
    ("*gte:~*req.Usage{*duration_seconds}:90", True),
    ("*string:~*req.<~*opts.Field>:1001", True),
]


@pytest.mark.parametrize("rule, expected", CASES)
async def test_filter_types(fs, rule, expected):
    assert await fs.pass_filters(TENANT, [rule], dp(Field="Account")) is expected


@pytest.mark.parametrize("rule, expected", CASES)
async def test_not_forms_negate(fs, rule, expected):
    negated = "*not" + rule[1:]
    assert await fs.pass_filters(TENANT, [negated], dp(Field="Account")) is (not expected)


async def test_rules_and_filters_are_anded(fs):
    ids = ["*string:~*req.Account:1001", "*prefix:~*req.Destination:+49"]
    assert await fs.pass_filters(TENANT, ids, dp())
    assert not await fs.pass_filters(TENANT, [*ids, "*gt:~*req.Cost:10"], dp())
    assert await fs.pass_filters(TENANT, [], dp())


async def test_incomparable_values_are_an_error(fs):
    with pytest.raises(FilterError):
        await fs.pass_filters(TENANT, ["*gt:~*req.Account:1m"], dp({"Account": "abc"}))


async def test_bad_filters_are_errors(fs):
    for rule in ("*nosuch:~*req.Account:1", "*string:~*req.Account:", "*string::1", "*regex:~*req.A:(", "*string"):
        with pytest.raises(FilterError):
            await fs.pass_filters(TENANT, [rule], dp())


async def test_inline_filters_are_compiled_once(fs):
    a = await fs.get_filter(TENANT, "*string:~*req.Account:1001")
    b = await fs.get_filter(TENANT, "*string:~*req.Account:1001")
    assert a is b
    assert inline_filter(TENANT, "*ai:~*req.AnswerTime:2014-07-29T15:00:00Z|2014-07-29T16:00:00Z").rules[0]\
        .raw_values == ("2014-07-29T15:00:00Z", "2014-07-29T16:00:00Z")


async def test_stored_filters_and_activation_intervals(ctx, fs):
    def stored(fid: str, rules: list[dict], ai: Any = None) -> dict:
        return {"Tenant": TENANT, "ID": fid, "Rules": rules, "ActivationInterval": ai}

    rule_1001 = [{"Type": "*string", "Element": "~*req.Account", "Values": ["1001", "1002"]}]
    await ctx.dm.set(kinds.FILTER, f"{TENANT}:FLTR_1", stored("FLTR_1", rule_1001))
    await ctx.dm.set(kinds.FILTER, f"{TENANT}:FLTR_OLD", stored("FLTR_OLD", rule_1001, {
        "ActivationTime": "2014-07-29T15:00:00Z", "ExpiryTime": "2015-01-01T00:00:00Z"}))
    await ctx.dm.set(kinds.FILTER, f"{TENANT}:FLTR_ACTIVE", stored("FLTR_ACTIVE", rule_1001,
                                                                    {"ActivationTime": "2014-07-29T15:00:00Z"}))
    await ctx.dm.set(kinds.FILTER, f"{TENANT}:FLTR_CSV", {"Tenant": TENANT, "ID": "FLTR_CSV", "Rules": [
        {"Type": "*string", "Element": "~*req.Account", "Values": "1003;1001"}]})
    assert await fs.pass_filters(TENANT, ["FLTR_1"], dp())
    assert await fs.pass_filters(TENANT, ["FLTR_CSV"], dp())
    assert await fs.pass_filters(TENANT, ["FLTR_ACTIVE"], dp())
    assert not await fs.pass_filters(TENANT, ["FLTR_1"], dp({"Account": "1003"}))
    # an inactive filter is skipped, and at least one active filter must pass
    assert not await fs.pass_filters(TENANT, ["FLTR_OLD"], dp())
    assert await fs.pass_filters(TENANT, ["FLTR_OLD", "FLTR_1"], dp())
    with pytest.raises(RPCError) as exc:
        await fs.pass_filters(TENANT, ["FLTR_MISSING"], dp())
    assert exc.value.message == "NOT_FOUND:FLTR_MISSING"
    assert isinstance(await fs.get_filter(TENANT, "FLTR_1"), type(inline_filter(TENANT, "*string:~*req.A:1")))


async def test_destinations_through_reverse_index(ctx, fs):
    await ctx.dm.set(kinds.DESTINATION, "DST_DE", {"Id": "DST_DE", "Prefixes": ["+49"]})
    await ctx.dm.set(kinds.REVERSE_DESTINATION, "+49", ["DST_DE"])
    await ctx.dm.set(kinds.REVERSE_DESTINATION, "+4986", ["DST_DE_MOB"])
    assert await fs.pass_filters(TENANT, ["*destinations:~*req.Destination:DST_DE"], dp())
    assert await fs.pass_filters(TENANT, ["*destinations:~*req.Destination:DST_FR|DST_DE_MOB"], dp())
    assert not await fs.pass_filters(TENANT, ["*destinations:~*req.Destination:DST_FR"], dp())
    assert await fs.pass_filters(TENANT, ["*notdestinations:~*req.Destination:DST_FR"], dp())
    assert not await fs.pass_filters(TENANT, ["*notdestinations:~*req.Destination:DST_DE"], dp())


async def test_timings(ctx, fs):
    await ctx.dm.set(kinds.TIMING, "WORKHOURS", {"ID": "WORKHOURS", "Years": "*any", "Months": "*any",
                                                 "MonthDays": "*any", "WeekDays": "1;2;3;4;5",
                                                 "StartTime": "08:00:00", "EndTime": "18:00:00"})
    await ctx.dm.set(kinds.TIMING, "WEEKEND", {"ID": "WEEKEND", "WeekDays": [0, 6], "StartTime": "00:00:00"})
    # 2014-07-29 is a Tuesday
    assert await fs.pass_filters(TENANT, ["*timings:~*req.AnswerTime:WORKHOURS"], dp())
    assert not await fs.pass_filters(TENANT, ["*timings:~*req.AnswerTime:WEEKEND"], dp())
    assert await fs.pass_filters(TENANT, ["*nottimings:~*req.AnswerTime:WEEKEND"], dp())
    assert not await fs.pass_filters(TENANT, ["*timings:~*req.AnswerTime:WORKHOURS"],
                                     dp({"AnswerTime": "2014-07-29T19:00:00Z"}))
    assert not await fs.pass_filters(TENANT, ["*timings:~*req.AnswerTime:NOSUCH"], dp())


class FakeAPIer:
    def __init__(self) -> None:
        self.calls = 0

    @rpc("APIerSv2.GetAccount")
    async def get_account(self, args: dict) -> dict:
        self.calls += 1
        if args["Account"] != "1001":
            raise RPCError("NOT_FOUND")
        return {"ID": f"{args['Tenant']}:1001", "BalanceMap": {"*monetary": [{"ID": "b1", "Value": 10.5}]},
                "Disabled": False}


async def test_accounts_paths_fetch_the_account_once(ctx, fs):
    apier = FakeAPIer()
    ctx.registry.register_object(apier)
    ids = ["*gte:~*accounts.1001.BalanceMap.*monetary[0].Value:10",
           "*string:~*accounts.<~*req.Account>.BalanceMap.*monetary[0].ID:b1",
           "*string:~*accounts.1001.Disabled:false"]
    assert await fs.pass_filters(TENANT, ids, dp())
    assert apier.calls == 1
    assert not await fs.pass_filters(TENANT, ["*gt:~*accounts.1001.BalanceMap.*monetary[0].Value:20"], dp())
    assert not await fs.pass_filters(TENANT, ["*exists:~*accounts.1002.ID:"], dp())


async def test_lazy_pass_checks_known_paths_now_and_hands_back_the_rest(ctx, fs):
    early = ("~*req", "~*accounts", "~*resources", "~*stats")
    await ctx.dm.set(kinds.FILTER, f"{TENANT}:FLTR_COST", {"Tenant": TENANT, "ID": "FLTR_COST", "Rules": [
        {"Type": "*string", "Element": "~*req.Account", "Values": ["1001"]},
        {"Type": "*lte", "Element": "~*vars.Cost", "Values": ["0.5"]}]})
    ok, lazy = await fs.lazy_pass(TENANT, ["FLTR_COST", "*gte:~*vars.Weight:10"], dp(), early)
    assert ok and [r.raw_values for r in lazy] == [("0.5",), ("10",)]
    assert await fs.pass_rules(TENANT, lazy, MapDataProvider({"*vars": {"Cost": 0.3, "Weight": 20}}))
    assert not await fs.pass_rules(TENANT, lazy, MapDataProvider({"*vars": {"Cost": 0.7, "Weight": 20}}))
    # a rule on a known path that fails ends the check at once
    assert await fs.lazy_pass(TENANT, ["FLTR_COST"], dp({"Account": "1002"}), early) == (False, [])
    # a value reading an unknown path makes the rule late too
    ok, lazy = await fs.lazy_pass(TENANT, ["*gte:~*req.Cost:~*vars.MaxCost"], dp(), early)
    assert ok and len(lazy) == 1
    assert await fs.lazy_pass(TENANT, [], dp(), early) == (True, [])


# ---------------------------------------------------------------------------------------------------- indexes


async def _store_profile(ctx, fs, kind: str, pid: str, filter_ids: list[str], **extra: Any) -> None:
    raw = {"Tenant": TENANT, "ID": pid, "FilterIDs": filter_ids, **extra}
    await ctx.dm.set(kind, f"{TENANT}:{pid}", raw)
    await fs.indexer.profile_updated(kind, TENANT, pid, raw)


async def test_index_selects_by_string_prefix_suffix_and_none(ctx, fs):
    cfg = make_ctx({"chargers": {"prefix_indexed_fields": ["*req.Destination"],
                                 "suffix_indexed_fields": ["*req.Subject"]}}).cfg
    ctx.cfg = cfg
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "BY_ACCOUNT", ["*string:~*req.Account:1001"])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "BY_PREFIX", ["*prefix:~*req.Destination:+4986"])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "BY_SUFFIX", ["*suffix:~*req.Subject:01"])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "NO_FILTERS", [])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "NOT_INDEXABLE", ["*gt:~*req.Cost:1"])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "OTHER", ["*string:~*req.Account:2002"])
    ids = await fs.matching_profiles("*charger_filter_indexes", TENANT, dp())
    assert ids == ["BY_ACCOUNT", "BY_PREFIX", "BY_SUFFIX", "NOT_INDEXABLE", "NO_FILTERS"]
    ids = await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp({"Account": "2002"}))
    assert ids == ["NOT_INDEXABLE", "NO_FILTERS", "OTHER"]


async def test_index_follows_profile_and_filter_changes(ctx, fs):
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "P1", ["*string:~*req.Account:1001"])
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["P1"]
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "P1", ["*string:~*req.Account:1002"])
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == []
    await ctx.dm.remove(kinds.CHARGER_PROFILE, f"{TENANT}:P1")
    await fs.indexer.profile_updated(kinds.CHARGER_PROFILE, TENANT, "P1", None)
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp({"Account": "1002"})) == []
    # a stored filter changing re-indexes the profiles using it
    await fs.set_filter({"Tenant": TENANT, "ID": "FLTR_A", "Rules": [
        {"Type": "*string", "Element": "~*req.Account", "Values": ["1001"]}]})
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "P2", ["FLTR_A"])
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["P2"]
    await fs.set_filter({"Tenant": TENANT, "ID": "FLTR_A", "Rules": [
        {"Type": "*string", "Element": "~*req.Account", "Values": ["1003"]}]})
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == []
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp({"Account": "1003"})) == ["P2"]
    with pytest.raises(RPCError):
        await fs.remove_filter(TENANT, "FLTR_A")


async def test_index_is_computed_lazily_for_profiles_stored_without_it(ctx, fs):
    await ctx.dm.set(kinds.CHARGER_PROFILE, f"{TENANT}:RAW", {"Tenant": TENANT, "ID": "RAW",
                                                             "FilterIDs": ["*string:~*req.Account:1001"]})
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["RAW"]
    assert await fs.indexer.compute_indexes("*charger_filter_indexes") == 1
    # a bulk write that bypassed the indexer, then the markers reset: the next match sees the new profile
    await ctx.dm.set(kinds.CHARGER_PROFILE, f"{TENANT}:RAW2", {"Tenant": TENANT, "ID": "RAW2",
                                                              "FilterIDs": ["*string:~*req.Account:1001"]})
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["RAW"]
    assert await reset_filter_indexes(ctx.dm, [kinds.CHARGER_PROFILE]) == 1
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["RAW", "RAW2"]


async def test_index_per_context(ctx, fs):
    await _store_profile(ctx, fs, kinds.ATTRIBUTE_PROFILE, "A_SESS", ["*string:~*req.Account:1001"],
                         Contexts=["*sessions", "*cdrs"])
    await _store_profile(ctx, fs, kinds.ATTRIBUTE_PROFILE, "A_ANY", ["*string:~*req.Account:1001"],
                         Contexts=["*any"])
    m = fs.matching_profiles
    assert await m("*attribute_filter_indexes", TENANT, dp(), "*sessions") == ["A_SESS"]
    assert await m("*attribute_filter_indexes", TENANT, dp(), "*cdrs") == ["A_SESS"]
    assert await m("*attribute_filter_indexes", TENANT, dp(), "*any") == ["A_ANY"]
    assert await m("*attribute_filter_indexes", TENANT, dp(), "simpleauth") == []


async def test_unindexed_selects_return_every_profile(ctx, fs):
    ctx.cfg = make_ctx({"chargers": {"indexed_selects": False}}).cfg
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "A", ["*string:~*req.Account:1001"])
    await _store_profile(ctx, fs, kinds.CHARGER_PROFILE, "B", ["*string:~*req.Account:2002"])
    assert await fs.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp()) == ["A", "B"]


async def test_matching_cost_is_independent_of_non_matching_profiles(ctx, fs):
    """Filter evaluations depend on the profiles the event can match, not on how many profiles exist."""

    async def evaluations_for(n_other: int) -> int:
        c = make_ctx()
        f = FilterService(c)
        c.services["filters"] = f
        await _store_profile(c, f, kinds.CHARGER_PROFILE, "MATCH", ["*string:~*req.Account:1001",
                                                                   "*prefix:~*req.Destination:+49"])
        for i in range(n_other):
            await _store_profile(c, f, kinds.CHARGER_PROFILE, f"OTHER_{i}",
                                 [f"*string:~*req.Account:{2000 + i}", "*gt:~*req.Cost:0"])
        before = f.evaluations
        ids = await f.matching_profiles(kinds.CHARGER_PROFILE, TENANT, dp())
        for pid in ids:
            raw = await c.dm.get(kinds.CHARGER_PROFILE, f"{TENANT}:{pid}")
            await f.pass_filters(TENANT, raw["FilterIDs"], dp())
        assert ids == ["MATCH"]
        return f.evaluations - before

    assert await evaluations_for(5) == await evaluations_for(500) == 2
