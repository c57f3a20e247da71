"""The active-session index narrows filtered queries to the sessions holding the wanted values."""

from __future__ import annotations

from pycgrates.engine.sessions.index import ActiveSessions
from pycgrates.engine.sessions.session import Session, SRun


def _session(cgrid: str, account: str, origin: str) -> Session:
    ev = {"Account": account, "OriginID": origin}
    return Session(cgrid=cgrid, tenant="cgrates.org", origin_id=origin, origin_host="", event_start=dict(ev), opts={},
                   runs=[SRun(run_id="*default", event=dict(ev), cd={}, request_type="*prepaid")])


def test_index_selects_by_indexed_fields_and_follows_removals():
    active = ActiveSessions(["*req.Account"])
    for i in range(100):
        active[f"c{i}"] = _session(f"c{i}", f"acc{i % 10}", f"o{i}")
    picked = active.candidates(["*string:~*req.Account:acc3|acc4"])
    assert sorted(s.cgrid for s in picked) == sorted(f"c{i}" for i in range(100) if i % 10 in (3, 4))
    active.pop("c3")
    assert len(active.candidates(["*string:~*req.Account:acc3"])) == 9
    # a filter on a field without an index leaves every session to FilterS
    assert len(active.candidates(["*string:~*req.OriginID:o5"])) == 99
    assert len(active.candidates(["*prefix:~*req.Account:acc"])) == 99


def test_reindex_when_the_indexed_fields_change():
    active = ActiveSessions()
    active["a"] = _session("a", "1001", "x")
    active["b"] = _session("b", "1002", "y")
    assert len(active.candidates(["*string:~*req.OriginID:y"])) == 2
    active.set_indexed_fields(["OriginID"])
    assert [s.cgrid for s in active.candidates(["*string:~*req.OriginID:y"])] == ["b"]
    assert active.candidates(["*string:~*req.OriginID:zzz"]) == []
