"""Paths over nested event data, NOT_FOUND, and Go's value renderings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    Duration,
    MapDataProvider,
    NotFoundError,
    as_duration,
    as_float,
    as_int,
    as_string,
    dynamic_any,
    dynamic_path,
    dynamic_string,
    format_float,
    parse_segment,
    split_path,
    string_to_value,
)


@pytest.fixture
def dp() -> MapDataProvider:
    return MapDataProvider({
        "*req": {
            "Account": "1001",
            "Usage": 60_000_000_000,
            "Nested": {"Field": ["a", "b", {"Deep": "x"}], "Map": {"k.1": "v"}},
            "Flag": True,
            "Cost": 1.5,
        },
        "*opts": {"*context": "*sessions"},
        "*vars": {"*processRuns": 1},
        "*cgreq": {"ToR": "*voice"},
        "*csv": ["a", "b", "c"],
        "*tenant": "cgrates.org",
    })


def test_split_path_keeps_dots_inside_brackets():
    assert split_path("*req.A[x.y].B") == ("*req", "A[x.y]", "B")
    assert split_path("*req.Account") == ("*req", "Account")
    assert dynamic_path("~*req.Nested.Field[1]") == ("*req", "Nested", "Field[1]")
    assert dynamic_path("1001") is None
    assert dynamic_path("~") is None


def test_parse_segment():
    assert parse_segment("Field[1]") == ("Field", ("1",))
    assert parse_segment("Field[1][k]") == ("Field", ("1", "k"))
    assert parse_segment("Field") == ("Field", ())


def test_reads_plain_nested_and_indexed_fields(dp):
    assert dp.field_as_any(("*req", "Account")) == "1001"
    assert dp.field_as_any(("*req", "Nested", "Field[1]")) == "b"
    assert dp.field_as_any(("*req", "Nested", "Field[-1]", "Deep")) == "x"
    assert dp.field_as_any(("*req", "Nested", "Map[k.1]")) == "v"
    assert dp.field_as_any(("*opts", "*context")) == "*sessions"
    assert dp.field_as_any(("*vars", "*processRuns")) == 1
    assert dp.field_as_any(("*cgreq", "ToR")) == "*voice"
    assert dp.field_as_any(("*csv", "2")) == "c"
    assert dp.field_as_any(("*tenant",)) == "cgrates.org"


@pytest.mark.parametrize("path", [
    ("*req", "Missing"),
    ("*req", "Account", "Deeper"),
    ("*req", "Nested", "Field[7]"),
    ("*req", "Nested", "Field[x]"),
    ("*nothere", "X"),
    ("*csv", "9"),
])
def test_absent_paths_raise_not_found(dp, path):
    with pytest.raises(NotFoundError) as exc:
        dp.field_as_any(path)
    assert isinstance(exc.value, RPCError)
    assert str(exc.value) == "NOT_FOUND"
    with pytest.raises(NotFoundError):
        dp.field_as_string(path)


def test_field_as_string_renders_like_go(dp):
    assert dp.field_as_string(("*req", "Usage")) == "60000000000"
    assert dp.field_as_string(("*req", "Flag")) == "true"
    assert dp.field_as_string(("*req", "Cost")) == "1.5"
    assert dp.field_as_string(("*req", "Nested", "Field[2]")) == '{"Deep":"x"}'


def test_set_and_remove(dp):
    dp.set(("*req", "New"), "v")
    dp.set(("*req", "A", "B", "C"), 3)
    dp.set(("*req", "Nested", "Field[0]"), "z")
    dp.set(("*req", "Nested", "Field[3]"), "appended")
    dp.set(("*req", "List[0]"), "first")
    assert dp.data["*req"]["New"] == "v"
    assert dp.data["*req"]["A"] == {"B": {"C": 3}}
    assert dp.data["*req"]["Nested"]["Field"][0] == "z"
    assert dp.data["*req"]["Nested"]["Field"][3] == "appended"
    assert dp.data["*req"]["List"] == ["first"]
    dp.remove(("*req", "New"))
    dp.remove(("*req", "Nested", "Field[0]"))
    dp.remove(("*req", "Nothing", "Here"))
    assert "New" not in dp.data["*req"]
    assert dp.data["*req"]["Nested"]["Field"][0] == "b"


def test_keys_two_levels_or_nested(dp):
    keys = dp.keys()
    assert "*req.Account" in keys and "*opts.*context" in keys and "*tenant" in keys
    assert "*req.Nested" in keys and "*req.Nested.Map" not in keys
    assert "*req.Nested.Map.k.1" in dp.keys(nested=True)


def test_nested_data_provider_is_delegated_to():
    class Inner:
        def field_as_any(self, path):
            if tuple(path) == ("X", "Y"):
                return 42
            raise NotFoundError()

        def field_as_string(self, path):
            return as_string(self.field_as_any(path))

    outer = MapDataProvider({"*req": Inner()})
    assert isinstance(outer, DataProvider)
    assert outer.field_as_any(("*req", "X", "Y")) == 42
    with pytest.raises(NotFoundError):
        outer.field_as_any(("*req", "Z"))


def test_dynamic_values(dp):
    assert dynamic_string("~*req.Account", dp) == "1001"
    assert dynamic_string("1001", dp) == "1001"
    assert dynamic_any("~*req.Usage", dp) == 60_000_000_000
    assert dynamic_any("10", dp) == 10


def test_as_string_go_renderings():
    assert as_string(None) == ""
    assert as_string(10.0) == "10"
    assert as_string(1e21) == "1000000000000000000000"
    assert as_string(0.000001) == "0.000001"
    assert as_string(Decimal("1.50")) == "1.5"
    assert as_string(Duration(90_000_000_000)) == "1m30s"
    assert as_string(timedelta(seconds=2)) == "2s"
    assert as_string(datetime(2014, 7, 29, 15, 0, tzinfo=UTC)) == "2014-07-29T15:00:00Z"
    assert as_string(False) == "false"
    assert as_string(["a", 1]) == '["a",1]'
    assert format_float(float("inf")) == "+Inf"


def test_string_to_value_like_go():
    assert string_to_value("10") == 10 and isinstance(string_to_value("10"), int)
    assert string_to_value("true") is True
    assert string_to_value("1.5") == 1.5
    assert string_to_value("2014-07-29T15:00:00Z") == datetime(2014, 7, 29, 15, 0, tzinfo=UTC)
    d = string_to_value("1m30s")
    assert isinstance(d, Duration) and d == 90_000_000_000
    assert string_to_value("abc") == "abc"
    assert string_to_value("") == ""


def test_numeric_conversions():
    assert as_duration("10s") == 10_000_000_000
    assert as_duration("100") == 100
    assert as_duration(5) == 5
    assert as_duration("") == 0
    with pytest.raises(ValueError):
        as_duration("ten")
    assert as_float("2.5") == 2.5
    assert as_int("42") == 42
    with pytest.raises(ValueError):
        as_float("x")


def test_misses_raise_fresh_exceptions_so_tracebacks_never_pile_up():
    """A shared exception instance raised again chains every traceback onto itself (a leak under load)."""
    from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError

    dp = MapDataProvider({"*req": {"A": [1]}})
    caught = []
    for path in (["*req", "nope"], ["*req", "A", "5"], ["*other"]) * 200:
        try:
            dp.field_as_any(path)
        except NotFoundError as exc:
            caught.append(exc)
    assert len({id(e) for e in caught}) == len(caught) == 600
    depth, tb = 0, caught[-1].__traceback__
    while tb is not None:
        depth, tb = depth + 1, tb.tb_next
    assert depth < 10
