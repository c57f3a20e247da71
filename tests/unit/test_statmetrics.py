"""StatS metrics and queues without a service: values, N/A, text formats, taking events back, JSON."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from pycgrates.engine.profiles.statmetrics import (
    METRIC_TYPES,
    MetricError,
    StatMetric,
    go_value_text,
    metric_from_json,
    new_metric,
    round_stat_duration,
)
from pycgrates.engine.profiles.statqueue import StatQueue, decode_statqueue_profile
from pycgrates.engine.template.dataprovider import MapDataProvider, as_float
from pycgrates.engine.units import SECOND

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def dp(**event) -> MapDataProvider:
    return MapDataProvider({"*req": event})


def count(metric: StatMetric, ev_id: str, **event) -> None:
    metric.add(ev_id, metric.read(dp(**event), "UTC"))


@pytest.mark.parametrize("ns, decimals, rounded", [
    (60_000_004_999, 5, 60_000_000_000),  # to 10µs
    (60_000_005_000, 5, 60_000_010_000),  # halves away from zero
    (-15_000, 5, -20_000),
    (1_234_567_891, 9, 1_234_567_891),
    (1_234_567_891, 12, 1_234_567_891),  # more decimals than nanoseconds: as it is
    (1_500_000_000, 0, 2_000_000_000),
])
def test_round_stat_duration_is_gos_duration_round(ns, decimals, rounded):
    assert round_stat_duration(ns, decimals) == rounded


@pytest.mark.parametrize("value, text", [(66.66667, "66.66667"), (100.0, "100"), (0.5, "0.5"), (0.00001, "1e-05"),
                                         (1234567.0, "1.234567e+06"), (0.0001, "0.0001")])
def test_asr_text_is_gos_percent_v(value, text):
    assert go_value_text(value) == text


def test_unknown_metric_types_and_bad_parameters_are_refused():
    with pytest.raises(ValueError, match=r"unsupported metric type <\*foo>"):
        new_metric("*foo")
    with pytest.raises(ValueError):
        new_metric("*sum#~*req.Usage{*nosuchconverter}")
    assert set(METRIC_TYPES) == {"*asr", "*acd", "*tcd", "*acc", "*tcc", "*pdd", "*ddc", "*sum", "*average",
                                 "*distinct", "*highest", "*lowest", "*repsc", "*repfc"}


def test_duration_text_reads_as_nanoseconds_like_go():
    # Go's IfaceAsFloat64 reads "1m30s" as a duration; *sum and *average rely on it
    assert as_float("1m30s") == 90 * SECOND
    assert as_float("2.5") == 2.5
    with pytest.raises(ValueError, match="invalid duration"):
        as_float("yes")
    s = new_metric("*sum#~*req.Usage")
    count(s, "e1", Usage="1m30s")
    count(s, "e2", Usage=30 * SECOND)
    assert s.string_value(5) == "120000000000"


def test_asr_answered_is_a_non_zero_answer_time():
    asr = new_metric("*asr")
    count(asr, "e1", AnswerTime="2024-05-01T12:00:00Z")
    count(asr, "e2", AnswerTime="")
    count(asr, "e3", AnswerTime="0001-01-01T00:00:00Z")
    count(asr, "e4")
    count(asr, "e5", AnswerTime=T0)
    count(asr, "e6", AnswerTime="2024-05-01 12:00:00")
    assert asr.string_value(5) == "50%"
    assert asr.float_value(5) == 50.0
    with pytest.raises(MetricError):
        asr.read(dp(AnswerTime="not a time"), "UTC")


def test_a_missing_field_is_a_metric_error_naming_it():
    with pytest.raises(MetricError, match="NOT_FOUND:Usage"):
        new_metric("*acd").read(dp(), "UTC")
    with pytest.raises(MetricError, match="NEGATIVE:Cost"):
        new_metric("*tcc").read(dp(Cost=-1), "UTC")
    with pytest.raises(MetricError, match=r"NOT_FOUND:~\*req.Extra"):
        new_metric("*average#~*req.Extra").read(dp(), "UTC")
    with pytest.raises(MetricError, match=r"invalid format for field <Account>"):
        new_metric("*distinct#Account").read(dp(Account="1001"), "UTC")


def test_an_event_id_counted_twice_is_one_entry_taken_back_twice():
    acc = new_metric("*acc")
    count(acc, "e1", Cost=1)
    count(acc, "e1", Cost=2)
    count(acc, "e2", Cost="0.3")
    assert acc.to_json()["Events"]["e1"] == {"Stat": Decimal("1.5"), "CompressFactor": 2}
    assert acc.string_value(5) == "1.1"  # (1 + 2 + 0.3) / 3
    acc.remove("e1")
    assert acc.count == 2 and acc.sum == Decimal("1.8")
    acc.remove("e1")
    acc.remove("e2")
    assert acc.count == 0 and acc.sum == 0 and acc.string_value(5) == "N/A"  # no float residue


def test_highest_and_lowest_recompute_when_the_extreme_leaves():
    hi, lo = new_metric("*highest#~*req.Cost"), new_metric("*lowest#~*req.Cost")
    for m in (hi, lo):
        count(m, "e1", Cost=-3)
        count(m, "e2", Cost=-1.5)
        count(m, "e3", Cost=-2)
    assert (hi.string_value(5), lo.string_value(5)) == ("-1.5", "-3")
    hi.remove("e2")
    lo.remove("e1")
    assert (hi.string_value(5), lo.string_value(5)) == ("-2", "-2")


def test_reply_state_counters():
    ok, failed, err_y = new_metric("*repsc"), new_metric("*repfc"), new_metric("*repfc#ERR_Y")
    for m in (ok, failed, err_y):
        count(m, "e1", ReplyState="OK")
        count(m, "e2", ReplyState="ERR_X;ERR_Y")
        count(m, "e3", ReplyState="ERR_X")
    assert (ok.string_value(5), failed.string_value(5), err_y.string_value(5)) == ("1", "2", "1")


def test_distinct_values_leave_with_their_last_event():
    ddc = new_metric("*ddc", min_items=1)
    count(ddc, "e1", Destination="1002")
    count(ddc, "e2", Destination="1002")
    count(ddc, "e3", Destination="1003")
    assert ddc.float_value(5) == 2.0
    ddc.remove("e1")
    assert ddc.float_value(5) == 2.0
    ddc.remove("e2")
    assert ddc.float_value(5) == 1.0


def test_sum_has_a_value_with_no_events_when_min_items_is_zero():
    assert new_metric("*sum#~*req.Cost").string_value(5) == "0"
    assert new_metric("*tcc").string_value(5) == "N/A"
    assert new_metric("*sum#~*req.Cost", min_items=1).float_value(5) == -1.0


@pytest.mark.parametrize("metric_id", sorted(METRIC_TYPES))
def test_every_metric_round_trips_through_its_json(metric_id):
    param = {"*sum": "#~*req.Cost", "*average": "#~*req.Cost", "*distinct": "#~*req.Account",
             "*highest": "#~*req.Cost", "*lowest": "#~*req.Cost"}.get(metric_id, "")
    m = new_metric(metric_id + param, 2, ["*gte:~*req.Cost:0"])
    for i, cost in enumerate((1.25, 3, 0.5)):
        count(m, f"e{i}", Cost=cost, Usage=f"{i + 1}m", PDD="2s", AnswerTime=T0 if i else "", Account=f"10{i % 2}",
              Destination=f"200{i}", ReplyState="OK" if i else "ERR")
    back = metric_from_json(m.metric_id, m.to_json())
    assert back.to_json() == m.to_json()
    assert back.string_value(5) == m.string_value(5) and back.filter_ids == ("*gte:~*req.Cost:0",)
    back.remove("e1")
    m.remove("e1")
    assert back.string_value(5) == m.string_value(5)


def profile(**overrides) -> dict:
    return {"Tenant": "cgrates.org", "ID": "SQ", "QueueLength": 0, "TTL": 0, "MinItems": 0,
            "Metrics": [{"MetricID": "*tcd"}, {"MetricID": "*acc"}], "Stored": True, **overrides}


def test_a_queue_follows_its_profile():
    prf = decode_statqueue_profile(profile())
    q = StatQueue.new(prf)
    q.add_event("e1", {"*tcd": 60 * SECOND, "*acc": Decimal(1)}, T0)
    assert q.follow(prf) is False
    # a metric added starts empty; one whose filters changed starts again; the others keep their events
    changed = decode_statqueue_profile(profile(Metrics=[{"MetricID": "*tcd"}, {"MetricID": "*asr"},
                                                        {"MetricID": "*acc", "FilterIDs": ["*gte:~*req.Cost:1"]}]))
    assert q.follow(changed) is True
    assert q.string_metrics(5) == {"*acc": "N/A", "*asr": "N/A", "*tcd": "1m0s"}
    assert len(q.items) == 1
    # QueueLength, TTL or MinItems changed, or Stored turned off: a fresh queue
    for fresh in (profile(QueueLength=10), profile(TTL="1m"), profile(MinItems=1), profile(Stored=False)):
        q = StatQueue.new(prf)
        q.add_event("e1", {"*tcd": 60 * SECOND}, T0)
        assert q.follow(decode_statqueue_profile(fresh)) is True
        assert q.items == [] and q.string_metrics(5)["*tcd"] == "N/A"


def test_ttl_and_queue_length_let_events_go():
    q = StatQueue.new(decode_statqueue_profile(profile(TTL="10s", QueueLength=3)))
    for i in range(4):
        q.add_event(f"e{i}", {"*tcd": (i + 1) * SECOND}, T0 + timedelta(seconds=2 * i))
    # QueueLength 3: e0 was pushed out by e3
    assert [i.event_id for i in q.items] == ["e1", "e2", "e3"] and q.string_metrics(5)["*tcd"] == "9s"
    assert q.remove_expired(T0 + timedelta(seconds=12)) == 1  # e1 expires at 2s + 10s
    assert q.string_metrics(5)["*tcd"] == "7s"
    assert q.remove_expired(T0 + timedelta(seconds=16)) == 2
    assert q.string_metrics(5)["*tcd"] == "N/A"


def test_one_event_mode_aggregates_for_good():
    q = StatQueue.new(decode_statqueue_profile(profile(TTL=-1, QueueLength=-1)))
    for i in range(3):
        q.add_event(f"e{i}", {"*tcd": SECOND, "*acc": Decimal("0.5")}, T0)
    assert q.items == [] and q.string_metrics(5) == {"*acc": "0.5", "*tcd": "3s"}
    assert q.metrics["*tcd"].to_json()["Events"] == {}


def test_a_stored_queue_reads_back_as_it_was():
    q = StatQueue.new(decode_statqueue_profile(profile(TTL="1h")))
    q.add_event("e1", {"*tcd": 90 * SECOND, "*acc": Decimal("0.1")}, T0)
    back = StatQueue.from_stored(q.to_stored())
    assert back.to_json() == q.to_json()
    assert back.items[0].expiry == T0 + timedelta(hours=1)
    assert back.shape == q.shape
