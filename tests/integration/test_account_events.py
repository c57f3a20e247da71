"""RALs → ThresholdS/StatS account events in a real cgr-engine over JSON-RPC (CGRateS's Account.Publish): a debit,
and the ``*publish_account`` action, send the account's AccountUpdate event on ``rals.thresholds_conns`` and
``rals.stats_conns``; FilterS reads it as an AccountSummary under ``~*asm``; ThresholdS's actions on an account that
does not exist create it, as CGRateS's ActionTiming does.

From the oldtutorial's CSVs: THD_ACNT_BALANCE_1 matches FLTR_ACNT_BALANCE_1 (``~*req.AccountID`` 1001 or 1002,
``~*opts.*eventType`` AccountUpdate, ``*gte:~*asm.BalanceSummaries.*default.Value:10.0``), MaxHits -1, MinHits 1,
LOG_WARNING (``*log``). 1002 gets PACKAGE_10: 10 units of *monetary (weight 10) at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.engine_proc import EngineProcess
from tests.integration.test_sessions import start_engine

T = "cgrates.org"


@pytest.fixture
def oldtutorial(tmp_path) -> Iterator[EngineProcess]:
    eng = start_engine(tmp_path, "oldtutorial", {
        "rals": {"thresholds_conns": ["*internal"], "stats_conns": ["*internal"]},
        "stats": {"enabled": True, "store_interval": "-1"},
        "thresholds": {"enabled": True, "store_interval": "-1", "apiers_conns": ["*internal"]}})
    yield eng
    eng.kill()


def hits(eng: EngineProcess, tid: str) -> int:
    return eng.call("ThresholdSv1.GetThreshold", {"Tenant": T, "ID": tid})["Hits"]


def eventually(read: Any, expected: Any, timeout: float = 10.0) -> Any:
    """The account events go out in the background, after the reply: wait for what they change."""
    deadline = time.monotonic() + timeout
    while (got := read()) != expected and time.monotonic() < deadline:
        time.sleep(0.05)
    return got


def set_default_balance(eng: EngineProcess, account: str, value: float) -> None:
    assert eng.call("APIerSv1.SetBalance", {"Tenant": T, "Account": account, "BalanceType": "*monetary",
                                            "Value": value, "Balance": {"ID": "*default"}}) == "OK"


def test_a_debit_publishes_the_account(oldtutorial):
    eng = oldtutorial
    assert eng.call("APIerSv1.SetStatQueueProfile", {
        "Tenant": T, "ID": "ACNT_UPDATES", "FilterIDs": ["*string:~*opts.*eventType:AccountUpdate"],
        "QueueLength": 10, "TTL": -1, "MinItems": 1, "Metrics": [{"MetricID": "*distinct#~*req.AccountID"}],
        "Weight": 10, "ThresholdIDs": ["*none"]}) == "OK"
    set_default_balance(eng, "1002", 20)
    assert hits(eng, "THD_ACNT_BALANCE_1") == 0  # setting a balance publishes nothing
    cdr = {"Account": "1002", "Subject": "1002", "Destination": "1004", "OriginID": "acnt-ev-1", "ToR": "*voice",
           "RequestType": "*postpaid", "AnswerTime": "2016-01-05T18:31:05Z", "Usage": "60s"}
    assert eng.call("CDRsV1.ProcessEvent", {"Flags": ["*rals"], "Tenant": T, "Event": cdr}) == "OK"
    # the PACKAGE_10 balance paid; *default still holds 20 >= 10: THD_ACNT_BALANCE_1 is hit
    assert eventually(lambda: hits(eng, "THD_ACNT_BALANCE_1"), 1) == 1
    metrics = eng.call("StatSv1.GetQueueStringMetrics", {"Tenant": T, "ID": "ACNT_UPDATES"})
    assert metrics == {"*distinct#~*req.AccountID": "1"}
    # *default under 10: the next debit's event no longer passes the *asm rule
    set_default_balance(eng, "1002", 5)
    assert eng.call("CDRsV1.ProcessEvent", {"Flags": ["*rals"], "Tenant": T, "Event": {
        **cdr, "OriginID": "acnt-ev-2"}}) == "OK"
    queue = eventually(lambda: len(eng.call("StatSv1.GetStatQueue", {"Tenant": T, "ID": "ACNT_UPDATES"})[
        "SQItems"]), 2)
    assert queue == 2 and hits(eng, "THD_ACNT_BALANCE_1") == 1


def test_publish_account_action(oldtutorial):
    eng = oldtutorial
    set_default_balance(eng, "1001", 15)
    assert eng.call("APIerSv1.SetActions", {"ActionsId": "PUBLISH", "Actions": [
        {"Identifier": "*publish_account", "Weight": 10}]}) == "OK"
    assert eng.call("APIerSv1.ExecuteAction", {"Tenant": T, "Account": "1001", "ActionsId": "PUBLISH"}) == "OK"
    assert eventually(lambda: hits(eng, "THD_ACNT_BALANCE_1"), 1) == 1


def test_threshold_actions_create_the_account_they_name(oldtutorial):
    eng = oldtutorial
    assert eng.call("APIerSv1.SetThresholdProfile", {
        "Tenant": T, "ID": "TH_NEW_ACCOUNT", "FilterIDs": ["*string:~*req.Account:9999"], "MaxHits": -1,
        "MinHits": 1, "Weight": 10, "ActionIDs": ["LOG_WARNING"]}) == "OK"
    assert eng.call("ThresholdSv1.ProcessEvent", {"Tenant": T, "ID": "new-1", "Event": {"Account": "9999"}}) == \
        ["TH_NEW_ACCOUNT"]
    acc = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "9999"})
    assert acc["ID"] == "cgrates.org:9999" and not acc["Disabled"]
