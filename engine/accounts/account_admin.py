"""APIerSv1's account administration beyond one balance: balances set in bulk (SetBalances), transfers between
accounts (TransferBalance), shared groups, and the account and action plan listings (GetAccountIDs,
GetActionPlanIDs). CGRateS runs each as an action on the account; so does this."""

from __future__ import annotations

import json
from typing import Any

from pycgrates.engine.accounts.accounting import ActionError, new_uuid, rpc_error
from pycgrates.engine.models.account import Action, BalanceFilter, SharedGroup
from pycgrates.engine.profiles.crud import paginate
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ACTION_PLAN, SHARED_GROUP


class AccountAdmin:
    """Mixed into AccountingService (which supplies ``acc``, ``_tenant`` and the single-balance methods)."""

    acc: Any

    def _tenant(self, args: dict) -> str: ...
    async def set_balance(self, args: dict) -> str: ...

    @rpc("APIerSv1.SetBalances")
    async def set_balances(self, args: Any) -> str:
        """``{"Tenant", "Account", "Balances": [{"BalanceType", "Value", "Balance": {"ID"|"UUID", ...},
        "ActionExtraData", "Cdrlog"}]}``: each as SetBalance, a balance ID or UUID required."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        missing = [f for f in ("Account", "Balances") if not args.get(f)]
        if missing:
            raise mandatory_ie_missing(*missing)
        for bal in args["Balances"]:
            balance = dict((bal or {}).get("Balance") or {})
            if not (balance.get("ID") or balance.get("UUID") or balance.get("Uuid")):
                raise mandatory_ie_missing("BalanceID", "or", "BalanceUUID")
            await self.set_balance({"Tenant": args.get("Tenant"), "Account": args["Account"],
                                    "BalanceType": bal.get("BalanceType"), "Value": bal.get("Value"),
                                    "Balance": balance, "ActionExtraData": bal.get("ActionExtraData"),
                                    "Cdrlog": bal.get("Cdrlog")})
        return "OK"

    @rpc("APIerSv1.TransferBalance")
    async def transfer_balance(self, args: Any) -> str:
        """Move ``Units`` from SourceAccountID's SourceBalanceID to DestinationAccountID's DestinationBalanceID
        (DestinationReferenceValue: move what brings the destination there), as CGRateS's *transfer_balance."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        missing = [f for f in ("SourceAccountID", "SourceBalanceID", "DestinationAccountID", "DestinationBalanceID",
                               "Units") if not args.get(f)]
        if missing:
            raise mandatory_ie_missing(*missing)
        tenant = self._tenant(args)
        extra = {"DestinationAccountID": f"{tenant}:{args['DestinationAccountID']}",
                 "DestinationBalanceID": args["DestinationBalanceID"],
                 "DestinationReferenceValue": args.get("DestinationReferenceValue")}
        actions = [Action(Id="APIer_" + new_uuid()[:8], ActionType="*transfer_balance",
                          ExtraParameters=json.dumps(extra),
                          Balance=BalanceFilter.from_dict({"ID": args["SourceBalanceID"],
                                                           "Value": {"Static": abs(float(args["Units"]))}}))]
        if args.get("Cdrlog"):
            actions.append(Action(ActionType="*cdrlog"))
        key = f"{tenant}:{args['SourceAccountID']}"
        async def transfer(tx: Any) -> None:
            acc = await tx.load(key)
            if acc is None:
                raise ActionError("ACCOUNT_NOT_FOUND")
            await self.acc.execute(tx, acc, actions)
            tx.changed.add(key)

        try:
            await self.acc.atomic(transfer, key)
        except ActionError as exc:
            raise server_error(rpc_error(exc).message) from None
        return "OK"

    @rpc("APIerSv1.GetSharedGroup")
    async def get_shared_group(self, args: Any) -> dict:
        """A shared group ID → the group (CGRateS answers an empty group, not an error, when it is absent)."""
        sg_id = args if isinstance(args, str) else (args or {}).get("ID") or ""
        raw = await self.acc.dm.get(SHARED_GROUP, sg_id) if sg_id else None
        if raw is None:
            return {"Id": "", "AccountParameters": None, "MemberIds": None}
        return SharedGroup.from_dict(raw).to_dict() if isinstance(raw, dict) else raw.to_dict()

    @rpc("APIerSv1.GetAccountIDs")
    async def get_account_ids(self, args: Any) -> list[str] | None:
        """``{"Tenant", "Search", "Limit", "Offset"}`` → the tenant's account names, sorted; NOT_FOUND when none."""
        args = args if isinstance(args, dict) else {}
        prefix = f"{self._tenant(args)}:"
        search = str(args.get("Search") or "")
        ids = sorted(k[len(prefix):] for k in await self.acc.store.keys(prefix) if search in k[len(prefix):])
        if not ids:
            raise RPCError(NOT_FOUND)
        return paginate(ids, args)

    @rpc("APIerSv1.GetActionPlanIDs")
    async def get_action_plan_ids(self, args: Any) -> list[str] | None:
        """``{"Search", "Limit", "Offset"}`` → the action plan IDs, sorted; NOT_FOUND when none."""
        args = args if isinstance(args, dict) else {}
        search = str(args.get("Search") or "")
        ids = sorted(k for k in await self.acc.dm.keys(ACTION_PLAN) if search in k)
        if not ids:
            raise RPCError(NOT_FOUND)
        return paginate(ids, args)


    # ---------------------------------------------------------------------------------------- account triggers

    async def _edit_account(self, args: Any, edit: Any) -> str:
        """Run ``edit(tx, account)`` on a stored account under its lock; NOT_FOUND when it is absent."""
        if not isinstance(args, dict) or not args.get("Account"):
            raise mandatory_ie_missing("Account")
        key = f"{self._tenant(args)}:{args['Account']}"
        async def change(tx: Any) -> None:
            acc = await tx.load(key)
            if acc is None:
                raise RPCError(NOT_FOUND)
            await edit(tx, acc)
            tx.put(acc)

        try:
            await self.acc.atomic(change, key)
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return "OK"

    @rpc("APIerSv1.AddAccountActionTriggers")
    async def add_account_action_triggers(self, args: Any) -> str:
        """``{"Tenant", "Account", "ActionTriggerIDs", "ActionTriggerOverwrite", "ActivationDate", "Executed"}``:
        the stored trigger groups join the account's triggers (each once)."""
        from pycgrates.engine.models.account import ActionTrigger
        from pycgrates.engine.storage.base import ACTION_TRIGGERS
        from pycgrates.engine.units import TimeError, parse_time

        try:
            activation = parse_time((args or {}).get("ActivationDate") or None, self.acc.timezone)
        except TimeError as exc:
            raise server_error(exc) from None

        async def edit(tx: Any, acc: Any) -> None:
            if args.get("ActionTriggerOverwrite"):
                acc.ActionTriggers = []
            for group_id in args.get("ActionTriggerIDs") or []:
                raw = await self.acc.dm.get(ACTION_TRIGGERS, group_id)
                if raw is None:
                    raise RPCError(NOT_FOUND)
                for item in raw:
                    at = ActionTrigger.from_dict(item if isinstance(item, dict) else item.to_dict(storage=True))
                    at.ActivationDate = activation
                    at.Executed = bool(args.get("Executed"))
                    if not any(t.ID == at.ID and t.UniqueID == at.UniqueID for t in acc.ActionTriggers):
                        acc.ActionTriggers.append(at)
            self.acc.init_counters(acc)

        return await self._edit_account(args, edit)

    @rpc("APIerSv1.AddTriggeredAction")
    async def add_triggered_action(self, args: Any) -> str:
        """CGRateS's AttrAddActionTrigger (``ActionTriggersId``, ``ThresholdType``, ``ThresholdValue``,
        ``Balance*``, ``Weight``, ``ActionsId``): one new trigger on the account."""
        from pycgrates.engine.accounts.parse import FieldError, norm_row, trigger_from_row

        args = args if isinstance(args, dict) else {}
        row = norm_row({"ThresholdType": args.get("ThresholdType") or "", "ThresholdValue":
                        str(args.get("ThresholdValue") or 0), "BalanceId": args.get("BalanceId") or "",
                        "BalanceType": args.get("BalanceType") or "",
                        "BalanceDestinationIds": args.get("BalanceDestinationIds") or "",
                        "BalanceRatingSubject": args.get("BalanceRatingSubject") or "",
                        "BalanceWeight": args.get("BalanceWeight") or "",
                        "BalanceExpiryTime": args.get("BalanceExpiryTime") or "",
                        "BalanceSharedGroup": args.get("BalanceSharedGroup") or "",
                        "Weight": args.get("Weight") or 0, "ActionsId": args.get("ActionsId") or ""})
        row["uniqueid"] = new_uuid()
        try:
            trigger = trigger_from_row(str(args.get("ActionTriggersId") or ""), row, self.acc.timezone)
        except FieldError as exc:
            raise server_error(exc) from exc

        async def edit(tx: Any, acc: Any) -> None:
            acc.ActionTriggers.append(trigger)
            self.acc.init_counters(acc)

        return await self._edit_account(args, edit)

    @rpc("APIerSv1.RemoveAccountActionTriggers")
    async def remove_account_action_triggers(self, args: Any) -> str:
        """``{"Tenant", "Account", "GroupID", "UniqueID"}``: drop the matching triggers (all when neither)."""
        async def edit(tx: Any, acc: Any) -> None:
            gid, uid = args.get("GroupID") or "", args.get("UniqueID") or ""
            acc.ActionTriggers = [t for t in acc.ActionTriggers
                                  if not ((not uid or t.UniqueID == uid) and (not gid or t.ID == gid))]
            self.acc.init_counters(acc)

        return await self._edit_account(args, edit)

    @rpc("APIerSv1.SetAccountActionTriggers", "APIerSv2.SetAccountActionTriggers")
    async def set_account_action_triggers(self, args: Any) -> str:
        """``{"Tenant", "Account", "GroupID", "UniqueID", "ActionTrigger": {...}}``: update the account's
        triggers of GroupID (and UniqueID), or add one when none matches; then check the triggers."""
        from pycgrates.engine.accounts.parse import FieldError, norm_row, trigger_from_row
        from pycgrates.engine.accounts.service import _trigger_api_row, _trigger_row

        gid, uid = (args or {}).get("GroupID") or "", (args or {}).get("UniqueID") or ""
        if not gid:
            raise mandatory_ie_missing("GroupID")
        fields = _trigger_api_row((args or {}).get("ActionTrigger") or {})

        async def edit(tx: Any, acc: Any) -> None:
            matching = [t for t in acc.ActionTriggers if t.ID == gid and (not uid or t.UniqueID == uid)]
            try:
                if not matching:
                    row = norm_row(fields)
                    row["uniqueid"] = uid or new_uuid()
                    acc.ActionTriggers.append(trigger_from_row(gid, row, self.acc.timezone))
                for old in matching:
                    row = norm_row({**_trigger_row(old), **fields})
                    row["uniqueid"] = old.UniqueID
                    new = trigger_from_row(gid, row, self.acc.timezone)
                    new.Executed, new.LastExecutionTime = old.Executed, old.LastExecutionTime
                    acc.ActionTriggers[acc.ActionTriggers.index(old)] = new
            except FieldError as exc:
                raise server_error(exc) from exc
            self.acc.init_counters(acc)
            await self.acc.run_triggers(tx, acc)

        return await self._edit_account(args, edit)

    # ---------------------------------------------------------------------------------------- plan index

    async def _plans_by_account(self) -> dict[str, set[str]]:
        """account key → the action plans that name it (what the index should hold)."""
        from pycgrates.engine.models.account import ActionPlan

        want: dict[str, set[str]] = {}
        for plan_id in await self.acc.dm.keys(ACTION_PLAN):
            raw = await self.acc.dm.datadb.get(ACTION_PLAN, plan_id)
            if raw is None:
                continue
            for key in ActionPlan.from_dict(raw).AccountIDs or {}:
                want.setdefault(key, set()).add(plan_id)
        return want

    @rpc("APIerSv1.ComputeAccountActionPlans", "APIerSv1.ComputeActionPlanIndexes")
    async def compute_account_action_plans(self, args: Any) -> str:
        """Rebuild the account → action plans index from the stored action plans."""
        from pycgrates.engine.storage.base import ACCOUNT_ACTION_PLANS

        want = await self._plans_by_account()
        ops: list[Any] = [("remove", ACCOUNT_ACTION_PLANS, k, None)
                          for k in await self.acc.dm.keys(ACCOUNT_ACTION_PLANS) if k not in want]
        ops += [("set", ACCOUNT_ACTION_PLANS, k, sorted(v)) for k, v in want.items()]
        if ops:
            await self.acc.dm.write_batch(ops)
        return "OK"

    @rpc("APIerSv1.GetAccountActionPlansIndexHealth")
    async def account_action_plans_index_health(self, args: Any) -> dict[str, Any]:
        """CGRateS's AccountActionPlanIHReply: accounts the index misses per plan (MissingAccountActionPlans), and
        plans the index names that do not name the account, or are gone (BrokenReferences: plan → accounts)."""
        from pycgrates.engine.storage.base import ACCOUNT_ACTION_PLANS

        want = await self._plans_by_account()
        broken: dict[str, list[str] | None] = {}
        missing: dict[str, list[str]] = {}
        stored: dict[str, set[str]] = {}
        for key in await self.acc.dm.keys(ACCOUNT_ACTION_PLANS):
            stored[key] = set(await self.acc.dm.datadb.get(ACCOUNT_ACTION_PLANS, key) or ())
            for plan_id in sorted(stored[key]):
                if await self.acc.dm.datadb.get(ACTION_PLAN, plan_id) is None:
                    broken[plan_id] = None
                elif plan_id not in want.get(key, set()):
                    broken.setdefault(plan_id, []).append(key)  # type: ignore[union-attr]
        for key, plans in sorted(want.items()):
            for plan_id in sorted(plans - stored.get(key, set())):
                missing.setdefault(key, []).append(plan_id)
        return {"MissingAccountActionPlans": missing, "BrokenReferences": broken}

    # ---------------------------------------------------------------------------------------- action plans

    async def set_action_plan(self, args: dict) -> str: ...
    async def remove_action_plan(self, args: dict) -> str: ...
    async def _run_asap(self, plan: Any, keys: list[str]) -> None: ...

    async def _plan_accounts(self, plan_id: str, accounts: set[str]) -> None:
        """Make ``accounts`` the plan's accounts, the account → plans index following."""
        from pycgrates.engine.models.account import ActionPlan
        from pycgrates.engine.storage.base import ACCOUNT_ACTION_PLANS

        plan = ActionPlan.from_dict(await self.acc.dm.get(ACTION_PLAN, plan_id))
        before = set(plan.AccountIDs or {})
        plan.AccountIDs = dict.fromkeys(sorted(accounts), True)
        ops: list[Any] = [("set", ACTION_PLAN, plan_id, plan.to_dict())]
        for key in before ^ accounts:
            plans = set(await self.acc.account_plan_ids(key))
            plans = plans | {plan_id} if key in accounts else plans - {plan_id}
            ops.append(("set", ACCOUNT_ACTION_PLANS, key, sorted(plans)) if plans else
                       ("remove", ACCOUNT_ACTION_PLANS, key, None))
        await self.acc.dm.write_batch(ops)
        await self._run_asap(plan, sorted(accounts - before))
        self.acc.plans_changed()

    @rpc("APIerSv1.SetActionPlanAccounts")
    async def set_action_plan_accounts(self, args: Any) -> str:
        """SetActionPlan (``Id``, ``ActionPlan``, ``Overwrite``) whose accounts are ``AccountIDs``
        ("tenant:account"), which replace those it had; the accounts joining run its *asap actions."""
        if not isinstance(args, dict):
            raise server_error("arguments must be a JSON object")
        for timing in args.get("ActionPlan") or []:
            missing = [f for f in ("ActionsId", "Time", "Weight") if not (timing or {}).get(f)]
            if missing:
                raise RPCError(f"MANDATORY_IE_MISSING:Action:{(timing or {}).get('ActionsId') or ''}:"
                               f"[{' '.join(missing)}]")
        await self.set_action_plan(args)
        await self._plan_accounts(str(args.get("Id") or args.get("ID")),
                                  {str(a) for a in args.get("AccountIDs") or []})
        return "OK"

    @rpc("APIerSv1.RemoveActionTiming")
    async def remove_action_timing(self, args: Any) -> str:
        """``{"ActionPlanId", "ActionTimingId", "Tenant", "Account"}``: with Account, the account leaves the plan;
        with ActionTimingId, that timing leaves it; else the whole plan is removed."""
        from pycgrates.engine.models.account import ActionPlan

        args = args if isinstance(args, dict) else {}
        plan_id = str(args.get("ActionPlanId") or "")
        if not plan_id:
            raise mandatory_ie_missing("ActionPlanId")
        raw = await self.acc.dm.get(ACTION_PLAN, plan_id)
        if raw is None:
            raise RPCError(NOT_FOUND)
        plan = ActionPlan.from_dict(raw)
        if args.get("Account"):
            await self._plan_accounts(plan_id, set(plan.AccountIDs or {}) - {f"{self._tenant(args)}:{args['Account']}"})
        elif args.get("ActionTimingId"):
            plan.ActionTimings = [t for t in plan.ActionTimings if t.Uuid != args["ActionTimingId"]]
            if not plan.ActionTimings:
                return await self.remove_action_plan({"Id": plan_id})
            await self.acc.dm.set(ACTION_PLAN, plan_id, plan.to_dict())
            self.acc.plans_changed()
        else:
            return await self.remove_action_plan({"Id": plan_id})
        return "OK"
