"""ActionTriggers on balances: when they fire, that they fire once, and that their effect is stored."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from pycgrates.engine.accounts.service import AccountingService
from pycgrates.engine.config import config_from_dict
from pycgrates.engine.storage.base import ACCOUNT, MemoryDataDB

T = "cgrates.org"


def make_service() -> AccountingService:
    ctx = SimpleNamespace(dm=MemoryDataDB(), cfg=config_from_dict({"general": {"default_timezone": "UTC"}}),
                          conns=None, stordb=None, services={})
    return AccountingService(ctx)


async def fired_count(svc: AccountingService, account: str) -> int:
    """How many times the trigger's actions ran: they top up the *sms balance FIRED by 1."""
    acc = await svc.acc.store.get(f"{T}:{account}")
    return int(sum(b.Value for b in acc.BalanceMap.get("*sms", []) if b.ID == "FIRED"))


async def setup_fraud_trigger(svc: AccountingService, recurrent: bool = False, min_sleep: str = "0") -> None:
    await svc.set_actions({"ActionsId": "DISABLE_AND_LOG", "Overwrite": True, "Actions": [
        {"Identifier": "*log", "Weight": 30},
        {"Identifier": "*disable_account", "Weight": 20},
        {"Identifier": "*topup", "BalanceType": "*sms", "BalanceId": "FIRED", "Units": 1, "Weight": 10},
    ]})
    await svc.set_action_trigger({"GroupID": "STANDARD_TRIGGERS", "UniqueID": "fraud", "ActionTrigger": {
        "ThresholdType": "*max_balance", "ThresholdValue": 100, "BalanceType": "*monetary",
        "ActionsID": "DISABLE_AND_LOG", "Recurrent": recurrent, "MinSleep": min_sleep, "Weight": 10}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "STANDARD_TRIGGERS"})


async def test_max_balance_disables_once_and_is_stored():
    svc = make_service()
    await setup_fraud_trigger(svc)
    await svc.set_balance({"Tenant": T, "Account": "1001", "Value": 50})
    assert await fired_count(svc, "1001") == 0  # 50 < 100
    # the seed's fraud check: more than 100 units topped up
    await svc.set_balance({"Tenant": T, "Account": "1001", "Value": 101})
    raw = await svc.acc.dm.get(ACCOUNT, f"{T}:1001")  # what DataDB holds, not a cached object
    assert raw["Disabled"] is True
    assert raw["ActionTriggers"][0]["Executed"] is True
    assert await fired_count(svc, "1001") == 1
    # enabled again by hand: further changes above the threshold do not fire until the trigger is reset
    await svc.set_account({"Tenant": T, "Account": "1001", "Disabled": False})
    await svc.set_balance({"Tenant": T, "Account": "1001", "Value": 150})
    await svc.add_balance({"Tenant": T, "Account": "1001", "Value": 10, "Balance": {"ID": "*default"}})
    assert await fired_count(svc, "1001") == 1
    assert (await svc.get_account({"Tenant": T, "Account": "1001"}))["Disabled"] is False
    # re-armed: the next change above the threshold fires it again
    await svc.reset_action_triggers({"Tenant": T, "Account": "1001"})
    await svc.set_balance({"Tenant": T, "Account": "1001", "Value": 120})
    assert await fired_count(svc, "1001") == 2
    assert (await svc.get_account({"Tenant": T, "Account": "1001"}))["Disabled"] is True


async def test_disabled_account_does_not_fire_triggers():
    svc = make_service()
    await setup_fraud_trigger(svc)
    await svc.set_account({"Tenant": T, "Account": "1001", "Disabled": True})
    await svc.set_balance({"Tenant": T, "Account": "1001", "Value": 500})
    assert await fired_count(svc, "1001") == 0
    acc = await svc.acc.store.get(f"{T}:1001")
    assert acc.ActionTriggers[0].Executed is False  # still armed


async def test_recurrent_trigger_fires_every_time_and_min_sleep_holds_it():
    svc = make_service()
    await setup_fraud_trigger(svc, recurrent=True)
    for value in (101, 102, 103):
        await svc.set_balance({"Tenant": T, "Account": "1001", "Value": value})
        await svc.set_account({"Tenant": T, "Account": "1001", "Disabled": False})
    assert await fired_count(svc, "1001") == 3
    svc2 = make_service()
    await setup_fraud_trigger(svc2, recurrent=True, min_sleep="1h")
    for value in (101, 102):
        await svc2.set_balance({"Tenant": T, "Account": "1001", "Value": value})
        await svc2.set_account({"Tenant": T, "Account": "1001", "Disabled": False})
    assert await fired_count(svc2, "1001") == 1  # the second crossing came within MinSleep


async def test_min_balance_fires_on_changed_balances_only():
    svc = make_service()
    await svc.set_actions({"ActionsId": "WARN", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*sms", "BalanceId": "FIRED", "Units": 1}]})
    await svc.set_action_trigger({"GroupID": "LOW", "UniqueID": "low", "ActionTrigger": {
        "ThresholdType": "*min_balance", "ThresholdValue": 2, "BalanceType": "*monetary", "ActionsID": "WARN"}})
    await svc.add_balance({"Tenant": T, "Account": "1001", "Value": 10, "Balance": {"ID": "main"}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "LOW"})
    assert await fired_count(svc, "1001") == 0  # 10 > 2 and nothing changed since the trigger was attached
    await svc.debit_balance({"Tenant": T, "Account": "1001", "Value": 8.5, "Balance": {"ID": "main"}})
    acc = await svc.acc.store.get(f"{T}:1001")
    assert acc.BalanceMap["*monetary"][0].Value == Decimal("1.5")  # 10 - 8.5 <= 2
    assert await fired_count(svc, "1001") == 1


async def test_trigger_matching_only_its_balance_filter():
    svc = make_service()
    await svc.set_actions({"ActionsId": "WARN", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*sms", "BalanceId": "FIRED", "Units": 1}]})
    await svc.set_action_trigger({"GroupID": "G", "UniqueID": "bonus", "ActionTrigger": {
        "ThresholdType": "*max_balance", "ThresholdValue": 5, "BalanceType": "*monetary", "BalanceID": "bonus",
        "ActionsID": "WARN"}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "G"})
    await svc.add_balance({"Tenant": T, "Account": "1001", "Value": 50, "Balance": {"ID": "main"}})
    assert await fired_count(svc, "1001") == 0  # "main" is not the trigger's balance
    await svc.add_balance({"Tenant": T, "Account": "1001", "Value": 6, "Balance": {"ID": "bonus"}})
    assert await fired_count(svc, "1001") == 1


async def test_triggers_api_roundtrip():
    svc = make_service()
    await setup_fraud_trigger(svc)
    (at,) = await svc.get_action_triggers({"GroupIDs": ["STANDARD_TRIGGERS"]})
    assert at["ThresholdType"] == "*max_balance" and at["ThresholdValue"] == 100
    assert at["ActionsID"] == "DISABLE_AND_LOG" and at["UniqueID"] == "fraud"
    await svc.set_action_trigger({"GroupID": "STANDARD_TRIGGERS", "UniqueID": "fraud",
                                  "ActionTrigger": {"ThresholdValue": 200}})
    (at,) = await svc.get_action_triggers({"GroupIDs": ["STANDARD_TRIGGERS"]})
    assert at["ThresholdValue"] == 200 and at["ThresholdType"] == "*max_balance"
    (acc_at,) = await svc.get_account_action_triggers({"Tenant": T, "Account": "1001"})
    assert acc_at["ThresholdValue"] == 100  # the account keeps the copy it was given


async def test_balance_expired_trigger():
    svc = make_service()
    await svc.set_actions({"ActionsId": "WARN", "Actions": [
        {"Identifier": "*topup", "BalanceType": "*sms", "BalanceId": "FIRED", "Units": 1}]})
    await svc.set_action_trigger({"GroupID": "EXP", "UniqueID": "exp", "ActionTrigger": {
        "ThresholdType": "*balance_expired", "BalanceType": "*monetary", "ActionsID": "WARN"}})
    svc.acc.remove_expired = False  # keep the expired balance visible to the trigger
    await svc.add_balance({"Tenant": T, "Account": "1001", "Value": 5,
                           "Balance": {"ID": "promo", "ExpiryTime": "2001-01-01T00:00:00Z"}})
    await svc.set_account({"Tenant": T, "Account": "1001", "ActionTriggersID": "EXP"})
    assert await fired_count(svc, "1001") == 0
    await svc.reset_action_triggers({"Tenant": T, "Account": "1001"})  # triggers are checked on the next change
    assert await fired_count(svc, "1001") == 1
