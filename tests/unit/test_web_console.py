"""The console's pure parts: roles and same-origin checks, CDR forms and CSV, balances, tariff matching, the StatS
sample memory; the PrometheusAgent's options; the metrics the other services feed, read back by prometheus_client."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
from datetime import UTC, datetime

import pytest

from pycgrates.engine.app import Engine
from pycgrates.engine.config import ConfigError, config_from_dict
from pycgrates.engine.metrics import (
    DEBIT_LAG,
    DebitTick,
    Gauge,
    Metrics,
    agent_request_metrics,
    message_type,
)
from pycgrates.engine.web import actions as act
from pycgrates.engine.web.console import PAGES, Assets
from pycgrates.engine.web.history import StatHistory
from pycgrates.engine.web.tariffs import active_plan, rates_for
from pycgrates.engine.web.views import BadQuery, balance_rows, balance_totals, cdr_query, cdrs_csv

parser = pytest.importorskip("prometheus_client.parser")
NOW = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


# ---------------------------------------------------------------------------------------------- roles


def test_only_an_authenticated_user_with_the_role_may_act():
    granted = act.grants({"*force_disconnect": ["ops"], "*add_balance": ["ops", "billing"]})
    act.check("*add_balance", "billing", granted)
    with pytest.raises(act.Refused, match="has no role") as refused:
        act.check("*force_disconnect", "billing", granted)
    assert refused.value.status == 403
    with pytest.raises(act.Refused, match="read-only without an authenticated user"):
        act.check("*force_disconnect", None, granted)
    assert act.allowed_actions("billing", granted) == ["*add_balance"]
    assert act.allowed_actions(None, granted) == []


def test_the_user_comes_from_the_basic_auth_header():
    header = "Basic " + base64.b64encode(b"ops:pa:ss").decode()
    assert act.basic_auth_user(header) == "ops"
    assert act.basic_auth_user("Basic !!!") is None
    assert act.basic_auth_user("Bearer x") is None


@pytest.mark.parametrize(("method", "headers", "status"), [
    ("GET", {"Content-Type": "application/json"}, 405),
    ("POST", {"Content-Type": "application/x-www-form-urlencoded"}, 415),
    ("POST", {"Content-Type": "application/json", "Sec-Fetch-Site": "cross-site"}, 403),
    ("POST", {"Content-Type": "application/json", "Origin": "http://evil.example"}, 403),
])
def test_what_another_site_could_send_is_refused(method, headers, status):
    with pytest.raises(act.Refused) as refused:
        act.check_same_origin(method, headers, "127.0.0.1:2080")
    assert refused.value.status == status


def test_a_same_origin_json_post_passes():
    act.check_same_origin("POST", {"Content-Type": "application/json; charset=utf-8", "Origin": "http://127.0.0.1:2080",
                                   "Sec-Fetch-Site": "same-origin"}, "127.0.0.1:2080")


def test_a_top_up_is_refused_before_any_call_unless_a_positive_amount():
    for bad in ("-5", "0", "abc", "NaN", "Infinity"):
        with pytest.raises(act.Refused, match="Value") as refused:
            asyncio.run(act.add_balance(None, {"Account": "1001", "Value": bad}))  # APIerS is never reached
        assert refused.value.status == 400
    with pytest.raises(act.Refused, match="Account"):
        asyncio.run(act.add_balance(None, {"Value": "5"}))
    with pytest.raises(act.Refused, match="OriginID"):
        asyncio.run(act.force_disconnect(None, {"OriginHost": "h"}))


# ---------------------------------------------------------------------------------------------- views


def test_the_cdr_form_becomes_a_get_cdrs_filter():
    assert cdr_query({"from": "2024-03-01T00:00:00Z", "account": " 1001 ", "destination": "49", "min_cost": "0",
                      "limit": "99999"}) == {
        "OrderBy": "OrderID;desc", "SetupTimeStart": "2024-03-01T00:00:00Z", "Accounts": ["1001"],
        "DestinationPrefixes": ["49"], "MinCost": 0.0, "Limit": 10_000}
    assert cdr_query({})["Limit"] == 100
    with pytest.raises(BadQuery, match="to: 'yesterday' is not a time"):
        cdr_query({"to": "yesterday"})
    with pytest.raises(BadQuery, match="max_cost"):
        cdr_query({"max_cost": "lots"})


def test_the_csv_quotes_what_a_spreadsheet_would_run():
    text = cdrs_csv([{"CGRID": "c1", "RunID": "*default", "Account": "=HYPERLINK(\"x\")", "Destination": "+4912",
                      "Usage": 60_000_000_000, "Cost": -1}])
    [row] = list(csv.DictReader(io.StringIO(text)))
    assert row["Account"] == "'=HYPERLINK(\"x\")" and row["Destination"] == "'+4912"
    assert row["Usage"] == "60000000000" and row["Cost"] == "-1" and row["Subject"] == ""


def test_balances_by_type_with_expiry_and_exact_totals():
    rows = balance_rows({"*monetary": [
        {"ID": "A", "Value": 0.1, "ExpirationDate": "0001-01-01T00:00:00Z", "DestinationIDs": {"*any": True}},
        {"ID": "B", "Value": 0.2, "ExpirationDate": "2099-01-01T00:00:00Z"},
        {"ID": "OLD", "Value": 5, "ExpirationDate": "2020-01-01T00:00:00Z"},
        {"ID": "OFF", "Value": 7, "Disabled": True}]}, NOW)
    monetary = {r["ID"]: r for r in rows["*monetary"]}
    assert monetary["A"]["ExpirationDate"] is None and monetary["B"]["ExpirationDate"] == "2099-01-01T00:00:00Z"
    assert monetary["OLD"]["Expired"] and not monetary["B"]["Expired"]
    assert balance_totals(rows) == {"*monetary": 0.3}  # 0.1 + 0.2 in Decimal, not 0.30000000000000004


PLAN = {"Timings": {"t": {"ID": "*any", "StartTime": "00:00:00"}},
        "Ratings": {"r1": {"ConnectFee": 0.4, "Rates": []}, "r2": {"ConnectFee": 0, "Rates": []}},
        "DestinationRates": {"DST_49": [{"Timing": "t", "Rating": "r2", "Weight": 10}],
                             "DST_4917": [{"Timing": "t", "Rating": "r1", "Weight": 10}]}}


def test_a_number_takes_the_rates_of_its_longest_rated_prefix():
    matches = [("49171", ["DST_OTHER"]), ("4917", ["DST_4917"]), ("49", ["DST_49"])]
    match = rates_for(PLAN, matches)
    assert (match["Prefix"], match["DestinationID"]) == ("4917", "DST_4917")
    assert match["Rates"][0]["Rating"]["ConnectFee"] == 0.4
    assert rates_for(PLAN, [("1", ["DST_1"])]) is None


def test_the_plan_in_force_is_the_latest_activation_not_after_now():
    acts = [{"ActivationTime": "2010-01-01T00:00:00Z", "RatingPlanId": "OLD"},
            {"ActivationTime": "2014-01-01T00:00:00Z", "RatingPlanId": "CURRENT"},
            {"ActivationTime": "2099-01-01T00:00:00Z", "RatingPlanId": "FUTURE"}]
    assert active_plan(acts, NOW) == "CURRENT"
    assert active_plan(acts[2:], NOW) is None


def test_stat_samples_keep_a_fixed_number_per_queue():
    h = StatHistory(points=3)
    for i in range(5):
        h.record("cgrates.org:SQ", 100.0 + i, {"*asr": 50 + i} if i != 2 else {"*asr": -1, "*acd": 7})
    assert h.series("cgrates.org:SQ") == {"Times": [102.0, 103.0, 104.0],
                                          "Metrics": {"*acd": [7.0, None, None], "*asr": [-1.0, 53.0, 54.0]}}
    h.keep_only(set())
    assert "cgrates.org:SQ" not in h and h.series("cgrates.org:SQ") == {"Times": [], "Metrics": {}}


def test_every_page_is_built_and_its_assets_are_packaged():
    assets = Assets()
    for page, title in PAGES:
        html = assets.pages[page].decode()
        assert f"<title>{title} · pycgrates console</title>" in html and f"assets/js/{page}.js" in html
        assert f"js/{page}.js" in assets.files
    for vendored in ("vendor/pico.min.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"):
        assert assets.files[vendored][0]
    assert all("http://" not in body.decode(errors="ignore").replace("http://www.w3.org", "")
               for path, (body, _, _) in assets.files.items() if path.startswith("js/") or path.endswith(".html"))


# ---------------------------------------------------------------------------------------------- config


async def _check(overrides: dict) -> None:
    await Engine(config_from_dict(overrides)).check()


@pytest.mark.parametrize(("overrides", "message"), [
    ({"prometheus_agent": {"enabled": True, "path": "/metrics"}}, "prometheus_agent.path: /metrics is the engine"),
    ({"prometheus_agent": {"enabled": True, "stats_conns": ["*internal"]}}, "prometheus_agent.apiers_conns"),
    ({"http": {"console": {"enabled": True, "url": "/"}}}, "http.console.url"),
    ({"http": {"console": {"enabled": True, "refresh_interval": "soon"}}}, "http.console.refresh_interval"),
])
async def test_check_config_refuses_what_the_console_and_the_agent_cannot_serve(overrides, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        await _check(overrides)


async def test_the_console_and_the_agent_are_services_when_enabled():
    await _check({"http": {"console": {"enabled": True}}, "prometheus_agent": {"enabled": True},
                  "stats": {"enabled": True}})


# ---------------------------------------------------------------------------------------------- metrics


def test_labelled_gauges_and_the_process_wide_instruments_parse():
    g = Gauge("cgr_test_gauge", "a gauge\nwith a second line", labels=("queue",))
    g.set(1.5, 'a"b')
    g.set(2, "c")
    m = Metrics()
    m.add(g)
    DebitTick(0.0).ran()
    families = {f.name: f for f in parser.text_string_to_metric_families(m.render())}
    assert {s.labels["queue"]: s.value for s in families["cgr_test_gauge"].samples} == {'a"b': 1.5, "c": 2}
    assert families["cgr_test_gauge"].documentation == "a gauge\nwith a second line"
    assert families["cgr_session_debit_lag_seconds"].type == "histogram"
    assert DEBIT_LAG.series[()][-1] >= 1


def test_agent_requests_are_counted_and_timed_by_message_type():
    class Agent:
        name = "TestAgent"

        @agent_request_metrics
        async def process(self, request, vars, *, settings=None):
            if request == "bad":
                raise ValueError(request)
            return request

    m = Metrics()

    def counts() -> dict:
        families = {f.name: f for f in parser.text_string_to_metric_families(m.render())}
        return {(s.name, s.labels.get("type")): s.value for name in ("cgr_agent_requests", "cgr_agent_request_errors")
                for s in families[name].samples if s.labels.get("agent") == "TestAgent"}

    before = counts()
    assert asyncio.run(Agent().process("ok", {"*radReqType": "*radAuth"})) == "ok"
    with pytest.raises(ValueError):
        asyncio.run(Agent().process("bad", {"*cmd": "CCR"}))
    after = counts()
    assert after[("cgr_agent_requests_total", "*radAuth")] - before.get(("cgr_agent_requests_total", "*radAuth"),
                                                                        0) == 1
    assert after[("cgr_agent_request_errors_total", "CCR")] - before.get(("cgr_agent_request_errors_total", "CCR"),
                                                                         0) == 1
    assert message_type({"*cmd": "CCR", "*radReqType": ""}) == "CCR" and message_type(None) == ""
