"""Partial events: parts merged in the order field's order, commit fields deciding completeness, expiry."""

from __future__ import annotations

from pycgrates.engine.ers.partial import PartialCache, PartialGroup, PartialRules, merge, still_partial
from pycgrates.engine.template.fields import compile_fields
from pycgrates.engine.template.rsr import parse_rsr

COMMIT = compile_fields([
    {"tag": "Usage", "path": "*cgreq.Usage", "type": "*usage_difference", "value": "~*req.EndTime;~*req.AnswerTime",
     "filters": ["*exists:~*opts.invite:", "*exists:~*opts.bye:"]},
    {"tag": "Partial", "path": "*opts.*partial", "type": "*constant", "value": "false",
     "filters": ["*exists:~*opts.invite:", "*exists:~*opts.bye:"]},
], where="test")


def rules(**kw) -> PartialRules:
    base = {"order_field": parse_rsr("~*opts.order"), "commit_fields": COMMIT, "dump_fields": (), "action": "*none",
            "dump_path": "", "dump_separator": ",", "timezone": "UTC", "tenant": "cgrates.org"}
    return PartialRules(**{**base, **kw})


def part(event: dict, opts: dict) -> dict:
    return {"Tenant": "cgrates.org", "ID": "x", "Event": {"OriginID": "c1", **event},
            "APIOpts": {"*partial": "true", **opts}}


async def test_merge_orders_parts_and_commits():
    bye = part({"EndTime": "2024-01-15T10:01:30Z", "Account": "late"}, {"bye": "true", "order": "2"})
    invite = part({"AnswerTime": "2024-01-15T10:00:00Z", "Account": "1001"}, {"invite": "true", "order": "1"})
    group = PartialGroup(None, rules(), [bye, invite])
    merged = await merge(group, None)
    assert merged["Event"]["Account"] == "late"  # the later part (by order) wins
    assert merged["Event"]["Usage"] == "1m30s"
    assert not still_partial(merged)


async def test_cache_sends_the_merge_once_complete_and_expires_the_rest():
    sent: list[dict] = []

    class Reader:
        id = "r"

    async def complete(group, merged):
        sent.append(merged)

    now = [0.0]
    cache = PartialCache(1.0, None, complete, clock=lambda: now[0])
    settled: list[int] = []

    class T:
        def __init__(self, n): self.n = n

        async def settle(self): settled.append(self.n)

    await cache.add(Reader(), rules(), part({"AnswerTime": "2024-01-15T10:00:00Z"}, {"invite": "1", "order": "1"}),
                    [T(1)], "l1")
    assert len(cache) == 1 and not sent
    await cache.add(Reader(), rules(), part({"EndTime": "2024-01-15T10:00:10Z"}, {"bye": "1", "order": "2"}),
                    [T(2)], "l2")
    assert len(cache) == 0 and sent[0]["Event"]["Usage"] == "10s"
    await cache.add(Reader(), rules(), {**part({}, {"invite": "1"}), "Event": {"OriginID": "c2"}}, [T(3)], "l3")
    assert cache.expired() == []
    now[0] = 2.0
    [(_key, group)] = cache.expired()
    assert [t.n for t in group.tickets] == [3] and len(cache) == 0
