"""CGRateS's DataCost (engine.CallCost.ToDataCost): a CallCost of *data usage as spans of units."""

from __future__ import annotations

from typing import Any

from pycgrates.engine.rating.callcost import CallCost


class NotADataCall(ValueError):
    """ToDataCost of a *voice CallCost (CGRateS's "Not a data call!")."""


def data_cost(cc: CallCost) -> dict[str, Any]:
    """The CallCost as a DataCost: each timespan a DataSpan from DataStart to DataEnd (units), each increment a
    DataIncrement of Amount units."""
    if cc.ToR == "*voice":
        raise NotADataCall("Not a data call!")
    raw = cc.to_json()
    spans = []
    for ts, ts_json in zip(cc.Timespans, raw.get("Timespans") or [], strict=True):
        index = ts.duration_index
        length = ts.time_end - ts.time_start
        spans.append({
            "DataStart": float(index - length), "DataEnd": float(index), "Cost": ts_json["Cost"],
            "RateInterval": ts_json["RateInterval"], "DataIndex": float(index),
            "Increments": [{"Amount": float(inc["Duration"]), "Cost": inc["Cost"],
                            "BalanceInfo": inc["BalanceInfo"], "CompressFactor": inc["CompressFactor"]}
                           for inc in ts_json["Increments"]],
            "MatchedSubject": ts.matched_subject, "MatchedPrefix": ts.matched_prefix,
            "MatchedDestId": ts.matched_dest_id, "RatingPlanId": ts.rating_plan_id,
        })
    return {"Category": cc.Category, "Tenant": cc.Tenant, "Subject": cc.Subject, "Account": cc.Account,
            "Destination": cc.Destination, "ToR": cc.ToR, "Cost": raw.get("Cost"), "DataSpans": spans}
