"""Each console page in headless Chromium against a real engine: what it shows is what the APIs report."""

from __future__ import annotations

import base64
import csv
import io
import time
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from tests.web.conftest import USERS, eventually

TENANT = "cgrates.org"


def event(origin_id: str, account: str = "1001", destination: str = "1002", **fields) -> dict:
    return {"Tenant": TENANT, "ID": f"ev-{origin_id}", "Event": {
        "Account": account, "Subject": account, "Destination": destination, "OriginID": origin_id,
        "OriginHost": "web-test", "RequestType": "*prepaid", "Category": "call", "SetupTime": "2024-03-01T10:00:00Z",
        "AnswerTime": "2024-03-01T10:00:01Z", "Usage": "60s", **fields}}


def session_rows(browser) -> list[dict]:
    return browser.js("return [...document.querySelectorAll('#sessions tbody tr')].map(r => ({...r.dataset, "
                      "cells: [...r.cells].map(c => c.textContent)}))")


def http_get(console, path: str, user: str) -> tuple[int, bytes]:
    token = base64.b64encode(f"{user}:{USERS[user]}".encode()).decode()
    req = urllib.request.Request(console.base + path, headers={"Authorization": "Basic " + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def set_monetary(console, account: str, value: float) -> None:
    console.call("APIerSv1.SetAccount", {"Tenant": TENANT, "Account": account})
    console.call("APIerSv1.SetBalance", {"Tenant": TENANT, "Account": account, "BalanceType": "*monetary",
                                         "Value": value, "Balance": {"ID": "MAIN"}})


# ---------------------------------------------------------------------------------------------- live sessions


def test_a_session_appears_within_two_seconds_and_goes_when_terminated(browser, console):
    set_monetary(console, "1001", 50)
    browser.as_user("ops").open("sessions")
    browser.wait(lambda d: browser.js("return document.getElementById('sessions').dataset.updated"))
    assert console.call("SessionSv1.InitiateSession", {"InitSession": True, **event("live-1")})["MaxUsage"] > 0
    started = time.monotonic()
    rows = eventually(lambda: [r for r in session_rows(browser) if r["origin"] == "live-1"], timeout=2.0)
    assert rows, "the session is not on the live page within 2 s"
    assert time.monotonic() - started <= 2.0
    api = {(r["CGRID"], r["RunID"]): r for r in console.call("SessionSv1.GetActiveSessions", {})}
    assert {(r["cgrid"], r["run"]) for r in rows} == {k for k, r in api.items() if r["OriginID"] == "live-1"}
    default = next(r for r in rows if r["run"] == "*default")
    account, destination, _, debited = default["cells"][:4]
    assert (account, destination) == ("1001", "1002")
    assert Decimal(debited) == Decimal(str(api[(default["cgrid"], "*default")]["MaxCostSoFar"]))
    browser.screenshot("live-sessions")

    console.call("SessionSv1.TerminateSession", {"TerminateSession": True, **event("live-1")})
    ended = time.monotonic()
    assert eventually(lambda: not [r for r in session_rows(browser) if r["origin"] == "live-1"], timeout=2.0)
    assert time.monotonic() - ended <= 2.0


def test_force_disconnect_is_refused_without_the_role_and_runs_with_it(browser, console):
    set_monetary(console, "1001", 50)
    console.call("SessionSv1.InitiateSession", {"InitSession": True, **event("live-2")})
    browser.as_user("viewer").open("sessions")
    browser.wait(lambda d: [r for r in session_rows(browser) if r["origin"] == "live-2"])
    assert browser.js("return document.querySelectorAll('#sessions tbody button').length") == 0
    assert browser.js("return document.querySelector('#sessions th[data-action]').hidden") is True
    # the page offers no button; the server refuses the request all the same
    status = browser.js("""return fetch('api/actions/force_disconnect', {method: 'POST',
        headers: {'Content-Type': 'application/json'}, body: JSON.stringify({OriginID: 'live-2'})})
        .then(r => r.status)""")
    assert status == 403
    assert any(s["OriginID"] == "live-2" for s in console.call("SessionSv1.GetActiveSessions", {}))
    browser.screenshot("live-sessions-read-only")

    browser.as_user("ops").open("sessions")
    button = browser.wait(lambda d: d.find_element("css selector", "#sessions tr[data-origin='live-2'] button"))
    button.click()
    browser.wait(lambda d: d.switch_to.alert).accept()
    assert eventually(lambda: not [r for r in session_rows(browser) if r["origin"] == "live-2"], timeout=3.0)
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        console.call("SessionSv1.GetActiveSessions", {"Filters": ["*string:~*req.OriginID:live-2"]})


# ---------------------------------------------------------------------------------------------- accounts


def shown_balances(browser) -> dict:
    return browser.js("""const out = {};
        for (const t of document.querySelectorAll('#balances table')) {
            out[t.dataset.balanceType] = {total: t.querySelector('[data-total]').textContent,
                rows: Object.fromEntries([...t.tBodies[0].rows].map(r => [r.dataset.balance, r.dataset.value]))};
        }
        return out;""")


def api_balances(console, account: str) -> dict:
    acc = console.call("APIerSv2.GetAccount", {"Tenant": TENANT, "Account": account})
    return {btype: {b["ID"]: Decimal(str(b["Value"])) for b in balances}
            for btype, balances in (acc["BalanceMap"] or {}).items()}


def test_the_account_page_shows_the_balances_the_api_reports(browser, console):
    console.call("APIerSv1.SetAccount", {"Tenant": TENANT, "Account": "web-acc"})
    console.call("APIerSv1.SetBalance", {"Tenant": TENANT, "Account": "web-acc", "BalanceType": "*monetary",
                                         "Value": 12.345, "Balance": {"ID": "MAIN", "Weight": 10}})
    console.call("APIerSv1.SetBalance", {"Tenant": TENANT, "Account": "web-acc", "BalanceType": "*voice",
                                         "Value": 3600_000_000_000, "Balance": {
                                             "ID": "MINUTES", "ExpiryTime": "2099-01-01T00:00:00Z"}})
    browser.as_user("viewer").open(f"account?tenant={TENANT}&account=web-acc")
    browser.wait(lambda d: browser.js("return document.getElementById('account-view').dataset.loaded"))
    shown = shown_balances(browser)
    api = api_balances(console, "web-acc")
    assert set(shown) == set(api) == {"*monetary", "*voice"}
    for btype, balances in api.items():
        assert {k: Decimal(v) for k, v in shown[btype]["rows"].items()} == balances
        assert Decimal(shown[btype]["total"]) == sum(balances.values())
    assert "2099-01-01" in browser.js("return document.getElementById('balances').textContent")
    assert browser.js("return document.getElementById('topup-form').hidden") is True
    browser.screenshot("account")


def test_a_top_up_needs_the_role(browser, console):
    set_monetary(console, "web-topup", 5)
    before = api_balances(console, "web-topup")
    browser.as_user("viewer").open("account?account=web-topup")
    browser.wait(lambda d: browser.js("return document.getElementById('account-view').dataset.loaded"))
    status = browser.js("""return fetch('api/actions/add_balance', {method: 'POST',
        headers: {'Content-Type': 'application/json'},
        body: JSON.stringify({Account: 'web-topup', Value: '100'})}).then(r => r.status)""")
    assert status == 403
    assert api_balances(console, "web-topup") == before

    browser.as_user("ops").open("account?account=web-topup")
    browser.wait(lambda d: browser.js("return document.getElementById('account-view').dataset.loaded"))
    form = browser.driver.find_element("id", "topup-form")
    assert form.is_displayed()
    form.find_element("name", "Value").send_keys("2.5")
    form.find_element("name", "BalanceID").send_keys("MAIN")
    form.find_element("css selector", "button[type=submit]").click()
    assert eventually(lambda: api_balances(console, "web-topup")["*monetary"]["MAIN"] == Decimal("7.5"))
    assert eventually(lambda: shown_balances(browser).get("*monetary", {}).get("rows", {}).get("MAIN") == "7.5")
    browser.screenshot("account-topped-up")


# ---------------------------------------------------------------------------------------------- CDRs


def make_cdrs(console) -> None:
    set_monetary(console, "1001", 50)
    set_monetary(console, "1002", 50)
    for origin, account, destination, usage in (("cdr-1", "1001", "1002", "60s"), ("cdr-2", "1001", "1003", "30s"),
                                                ("cdr-3", "1002", "1001", "90s")):
        ev = event(origin, account, destination, Usage=usage, RequestType="*postpaid")
        assert console.call("SessionSv1.ProcessCDR", ev) == "OK"


def shown_cdrs(browser) -> list[tuple]:
    return browser.js("return [...document.querySelectorAll('#cdrs tbody tr')].map(r => "
                      "[r.dataset.cgrid, r.dataset.run, r.dataset.cost])")


def test_a_cdr_search_returns_what_get_cdrs_returns(browser, console):
    make_cdrs(console)
    browser.as_user("viewer").open("cdrs")
    browser.wait(lambda d: browser.js("return document.getElementById('cdrs').dataset.searched"))
    form = browser.driver.find_element("id", "cdr-form")
    form.find_element("name", "account").send_keys("1001")
    form.find_element("name", "min_cost").send_keys("0")
    searched = browser.js("return document.getElementById('cdrs').dataset.searched")
    form.find_element("css selector", "button[type=submit]").click()
    browser.wait(lambda d: browser.js("return document.getElementById('cdrs').dataset.searched") != searched)
    api = console.call("CDRsV1.GetCDRs", {"Accounts": ["1001"], "MinCost": 0, "OrderBy": "OrderID;desc",
                                          "Limit": 100})
    expected = [[c["CGRID"], c["RunID"], str(c["Cost"])] for c in api]
    assert len(expected) >= 2 and {c["Account"] for c in api} == {"1001"}
    assert [[cgrid, run, str(float(cost))] for cgrid, run, cost in shown_cdrs(browser)] == \
        [[cgrid, run, str(float(cost))] for cgrid, run, cost in expected]
    browser.screenshot("cdr-search")

    href = browser.js("return document.getElementById('csv').getAttribute('href')")
    assert href.startswith("api/cdrs.csv?") and "account=1001" in href
    status, body = http_get(console, "/console/" + href, "viewer")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [[r["CGRID"], r["RunID"], Decimal(r["Cost"])] for r in rows] == \
        [[c["CGRID"], c["RunID"], Decimal(str(c["Cost"]))] for c in api]
    assert [r["Destination"] for r in rows] == [c["Destination"] for c in api]


# ---------------------------------------------------------------------------------------------- StatS


SQ = {"Tenant": TENANT, "ID": "SQ_WEB", "FilterIDs": ["*string:~*req.Account:2001"], "QueueLength": 100,
      "TTL": -1, "MinItems": 1, "Metrics": [{"MetricID": "*asr"}, {"MetricID": "*acd"}, {"MetricID": "*tcc"}],
      "Stored": False, "Blocker": False, "Weight": 50, "ThresholdIDs": ["*none"]}


def shown_points(browser) -> dict[str, list[float]]:
    return browser.js("""const out = {};
        for (const t of document.querySelectorAll('#plots table[data-metric]'))
            out[t.dataset.metric] = [...t.tBodies[0].rows].map(r => Number(r.dataset.value));
        return out;""")


def collapsed(values: list[float]) -> list[float]:
    return [v for i, v in enumerate(values) if i == 0 or v != values[i - 1]]


def test_a_stats_plot_has_the_points_the_api_reports(browser, console):
    assert console.call("APIerSv1.SetStatQueueProfile", SQ) == "OK"
    browser.as_user("viewer").open("stats?queue=SQ_WEB")
    browser.wait(lambda d: shown_points(browser).get("*asr"), what="the first samples")
    reported = [console.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": "SQ_WEB"})]
    calls = [("2024-03-01T10:00:00Z", "60s", 1.5), ("", "0s", 0), ("2024-03-01T10:05:00Z", "120s", 2.25),
             ("2024-03-01T10:09:00Z", "30s", 0.75)]
    for i, (answer, usage, cost) in enumerate(calls):
        fields = {"Account": "2001", "Usage": usage, "Cost": cost}
        if answer:
            fields["AnswerTime"] = answer
        console.call("StatSv1.ProcessEvent", {"Tenant": TENANT, "ID": f"sq-{i}", "Event": fields})
        now = console.call("StatSv1.GetQueueFloatMetrics", {"Tenant": TENANT, "ID": "SQ_WEB"})
        reported.append(now)
        assert eventually(lambda now=now: all(shown_points(browser).get(m, [None])[-1] == v for m, v in now.items()),
                          timeout=5.0), f"the plot does not reach {now}"
    shown = shown_points(browser)
    for metric in ("*asr", "*acd", "*tcc"):
        assert collapsed(shown[metric]) == collapsed([r[metric] for r in reported]), metric
        points = browser.js("return document.querySelector(`figure[data-metric='${arguments[0]}']`).dataset.points",
                            metric)
        assert int(points) == len(shown[metric])
    assert reported[-1]["*asr"] == 75 and reported[-1]["*tcc"] == 4.5  # three of four answered; 1.5+2.25+0.75
    browser.screenshot("stats-plots")


# ---------------------------------------------------------------------------------------------- tariffs


def test_the_tariff_browser_and_the_cost_of_a_call(browser, console):
    browser.as_user("viewer").open("tariffs?subject=1001&number=10025")
    plan = browser.wait(lambda d: d.find_element("css selector", "article[data-plan='RP_1001'] table"))
    assert "DST_1002" in plan.text and "1002" in plan.text
    form = browser.driver.find_element("id", "cost-form")
    form.find_element("name", "Subject").send_keys("1001")
    form.find_element("name", "Destination").send_keys("1002")
    form.find_element("name", "AnswerTime").send_keys("2024-03-01T10:00:00Z")
    usage = form.find_element("name", "Usage")
    usage.clear()
    usage.send_keys("90s")
    form.find_element("css selector", "button[type=submit]").click()
    shown = browser.wait(lambda d: browser.js("return document.getElementById('cost').dataset.cost"))
    api = console.call("APIerSv1.GetCost", {"Tenant": TENANT, "Category": "call", "Subject": "1001",
                                            "Destination": "1002", "AnswerTime": "2024-03-01T10:00:00Z",
                                            "Usage": "90s"})
    assert Decimal(shown) == Decimal(str(api["Cost"]))
    browser.screenshot("tariffs")


def test_without_credentials_the_listener_refuses_the_console(console):
    req = urllib.request.Request(console.url + "/sessions")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 401
