"""/metrics text: large counters and histogram sums are written exactly, as Prometheus reads them back."""

from __future__ import annotations

import math

from pycgrates.engine.metrics import Counter, Gauge, Histogram, Metrics, sample_value


def _sample(text: str, series: str) -> str:
    """The value of one series line (``name{labels}``) in a rendered exposition."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return line[len(series) + 1:]
    raise AssertionError(f"{series} not in:\n{text}")


def test_a_counter_past_a_million_is_written_as_an_integer():
    c = Counter("cgr_debits_total", "debits", ("account",))
    for _ in range(1_234_567):
        c.inc("1001")
    c.inc("1002", amount=10**15 + 1)
    text = "\n".join(c.render())
    assert _sample(text, 'cgr_debits_total{account="1001"}') == "1234567"
    assert _sample(text, 'cgr_debits_total{account="1002"}') == "1000000000000001"
    assert "e+" not in text


def test_histogram_sums_and_counts_are_exact():
    h = Histogram("cgr_usage_seconds", "usage", ("tor",), buckets=(1.0, 1_000_000.0))
    for _ in range(1_500_000):
        h.observe(3.0, "*voice")
    h.observe(0.125, "*data")
    h.observe(2_345_678.5, "*data")
    text = "\n".join(h.render())
    assert _sample(text, 'cgr_usage_seconds_sum{tor="*voice"}') == "4500000"
    assert _sample(text, 'cgr_usage_seconds_count{tor="*voice"}') == "1500000"
    assert _sample(text, 'cgr_usage_seconds_bucket{tor="*voice",le="1000000.0"}') == "1500000"
    assert _sample(text, 'cgr_usage_seconds_sum{tor="*data"}') == "2345678.625"
    assert _sample(text, 'cgr_usage_seconds_bucket{tor="*data",le="1.0"}') == "1"
    assert _sample(text, 'cgr_usage_seconds_bucket{tor="*data",le="+Inf"}') == "2"
    assert float(_sample(text, 'cgr_usage_seconds_sum{tor="*data"}')) == 0.125 + 2_345_678.5


def test_gauges_and_special_values():
    g = Gauge("cgr_active_sessions", "sessions")
    g.set(2_000_001)
    assert g.render()[-1] == "cgr_active_sessions 2000001"
    assert Gauge("cgr_fn", "fn", fn=lambda: 0.1).render()[-1] == "cgr_fn 0.1"
    assert sample_value(math.inf) == "+Inf" and sample_value(-math.inf) == "-Inf"
    assert sample_value(math.nan) == "NaN"
    assert sample_value(1e22) == "1e+22" and float(sample_value(1e22)) == 1e22
    assert sample_value(0.1 + 0.2) == "0.30000000000000004"


def test_the_engine_exposition_round_trips_every_value():
    m = Metrics()
    for _ in range(1_000_001):
        m.requests.inc("SessionSv1.UpdateSession")
    m.latency.observe(0.003, "SessionSv1.UpdateSession")
    text = m.render()
    assert _sample(text, 'cgr_rpc_requests_total{method="SessionSv1.UpdateSession"}') == "1000001"
    assert _sample(text, 'cgr_rpc_request_seconds_sum{method="SessionSv1.UpdateSession"}') == "0.003"
