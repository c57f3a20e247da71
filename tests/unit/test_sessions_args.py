"""SessionSv1 argument models read and write CGRateS's JSON: the embedded utils.Paginator is top-level."""

from __future__ import annotations

import pytest

from pycgrates.engine.sessions.api import V1AuthorizeArgs, V1ProcessEventArgs


def test_limit_and_offset_are_top_level_as_go_embeds_the_paginator():
    data = {"Tenant": "cgrates.org", "ID": "a1", "Event": {"Account": "1001"}, "GetRoutes": True, "Limit": 2,
            "Offset": 1}
    args = V1AuthorizeArgs.from_json(data)
    assert args.Paginator == {"Limit": 2, "Offset": 1} and args.GetRoutes
    out = args.to_json()
    assert out["Limit"] == 2 and out["Offset"] == 1 and "Paginator" not in out
    assert V1ProcessEventArgs.from_json({"Event": {}, "Paginator": {"Limit": 3}}).Paginator == {"Limit": 3}
    assert V1AuthorizeArgs.from_json({"Event": {}}).to_json().keys().isdisjoint({"Limit", "Offset"})


@pytest.mark.parametrize("bad", ["2", 2.5, True])
def test_a_paginator_value_that_is_not_a_whole_number_is_refused(bad):
    with pytest.raises(TypeError, match="Limit"):
        V1AuthorizeArgs.from_json({"Event": {}, "Limit": bad})
