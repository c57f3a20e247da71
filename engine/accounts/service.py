"""AccountingService: the APIer account/balance/action methods and the Responder debit face.

Every method takes one args dict shaped as CGRateS's (``AttrAddBalance``, ``AttrSetAccount``...) and answers what
CGRateS answers (``"OK"``, an Account, a CallCost) or raises an RPCError with CGRateS's wording.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pycgrates.engine.accounts.account_admin import AccountAdmin
from pycgrates.engine.accounts.accounting import Accounting, ActionError, Transaction, new_uuid, rpc_error
from pycgrates.engine.accounts.apier_v2 import ApierV2Accounting
from pycgrates.engine.accounts.loading import resolve_timing, timing_uuid
from pycgrates.engine.accounts.parse import (
    FieldError,
    action_from_row,
    norm_row,
    parse_bool,
    parse_units,
    trigger_from_row,
)
from pycgrates.engine.accounts.responder import Responder
from pycgrates.engine.accounts.timings import TimingError
from pycgrates.engine.accounts.usage_api import UsageRecords
from pycgrates.engine.models.account import (
    MONETARY,
    Account,
    Action,
    ActionPlan,
    ActionTiming,
    ActionTrigger,
    BalanceFilter,
    Timing,
    smap,
)
from pycgrates.engine.rpc.errors import (
    ACCOUNT_NOT_FOUND,
    EXISTS,
    INSUFFICIENT_CREDIT,
    NOT_FOUND,
    RPCError,
    mandatory_ie_missing,
    require,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ACCOUNT_ACTION_PLANS, ACTION_PLAN, ACTION_TRIGGERS, ACTIONS
from pycgrates.engine.units import TimeError, parse_time

log = logging.getLogger("cgr.accounts")

OK = "OK"


class AccountingService(Responder, ApierV2Accounting, UsageRecords, AccountAdmin):
    """APIerSv1/APIerSv2 accounting methods and the Responder debit face (:mod:`engine.accounts.responder`)."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.acc = Accounting.for_dm(ctx.dm)
        self.acc.configure(getattr(ctx, "cfg", None), getattr(ctx, "conns", None), getattr(ctx, "stordb", None))

    async def stop(self) -> None:
        await self.acc.stop()

    async def reload(self, cfg: Any = None) -> None:
        self.acc.configure(cfg or getattr(self.ctx, "cfg", None))

    # ---------------------------------------------------------------------------------------- helpers

    def _tenant(self, args: dict) -> str:
        t = args.get("Tenant")
        if t:
            return str(t)
        cfg = getattr(self.ctx, "cfg", None)
        return cfg.get("general", "default_tenant", default="cgrates.org") if cfg else "cgrates.org"

    def _key(self, args: dict, field: str = "Account") -> str:
        require(args, field)
        return f"{self._tenant(args)}:{args[field]}"

    @staticmethod
    def _check_args(args: Any) -> dict:
        if not isinstance(args, dict):
            raise RPCError("SERVER_ERROR: arguments must be a JSON object")
        return args

    # ---------------------------------------------------------------------------------------- accounts

    @rpc("APIerSv1.SetAccount", "APIerSv2.SetAccount")
    async def set_account(self, args: dict) -> str:
        """Create or update an account: action plans, action triggers, AllowNegative, Disabled."""
        args = self._check_args(args)
        key = self._key(args)
        plan_ids = list(args.get("ActionPlanIDs") or [])
        if args.get("ActionPlanID"):
            plan_ids.append(args["ActionPlanID"])
        trig_ids = list(args.get("ActionTriggerIDs") or [])
        if args.get("ActionTriggersID"):
            trig_ids.append(args["ActionTriggersID"])
        opts = dict(args.get("ExtraOptions") or {})
        for flag in ("AllowNegative", "Disabled"):
            if args.get(flag) is not None:
                opts[flag] = args[flag]
        plans: dict[str, ActionPlan] = {}
        for pid in plan_ids:
            raw = await self.acc.dm.get(ACTION_PLAN, pid)
            if raw is None:
                raise RPCError(NOT_FOUND)
            plans[pid] = ActionPlan.from_dict(raw)
        triggers: list[ActionTrigger] = []
        for tid in trig_ids:
            raw = await self.acc.dm.get(ACTION_TRIGGERS, tid)
            if raw is None:
                raise RPCError(NOT_FOUND)
            triggers += [ActionTrigger.from_dict(t) for t in raw]

        async def change(tx: Transaction) -> None:
            acc = await tx.load(key)
            if acc is None:
                tenant, _, name = key.partition(":")
                acc = Account(Tenant=tenant, Account=name)
            # the plans as stored, not as cached: other engines may be attaching their accounts meanwhile
            previous = await self.acc.account_plan_ids(key, tx)
            if plan_ids:
                overwrite = bool(args.get("ActionPlansOverwrite", False))
                keep = [p for p in previous if not overwrite or p in plans]
                for pid in previous:
                    if pid not in keep:
                        raw = await tx.read(ACTION_PLAN, pid)
                        if raw is not None:
                            old = ActionPlan.from_dict(raw)
                            old.AccountIDs.pop(key, None)
                            tx.extra_ops.append(("set", ACTION_PLAN, pid, old.to_dict()))
                for pid, known in plans.items():
                    raw = await tx.read(ACTION_PLAN, pid)
                    plan = known if raw is None else ActionPlan.from_dict(raw)
                    plan.AccountIDs[key] = True
                    tx.extra_ops.append(("set", ACTION_PLAN, pid, plan.to_dict()))
                tx.extra_ops.append(("set", ACCOUNT_ACTION_PLANS, key, sorted(set(keep) | set(plans))))
            if trig_ids:
                if args.get("ActionTriggerOverwrite", True) is False:
                    known = {(t.ID, t.UniqueID) for t in acc.ActionTriggers}
                    acc.ActionTriggers += [t.clone() for t in triggers if (t.ID, t.UniqueID) not in known]
                else:
                    acc.ActionTriggers = [t.clone() for t in triggers]
                self.acc.init_counters(acc)
            if opts.get("AllowNegative") is not None:
                acc.AllowNegative = bool(opts["AllowNegative"])
            if opts.get("Disabled") is not None:
                acc.Disabled = bool(opts["Disabled"])
            tx.put(acc)

        await self.acc.atomic(change, key)
        for plan in plans.values():
            await self._run_asap(plan, [key])
        if plans:
            self.acc.plans_changed()
        return OK

    async def _run_asap(self, plan: ActionPlan, keys: list[str]) -> None:
        for at in sorted(plan.ActionTimings, key=lambda t: -t.Weight):
            if not at.Timing.is_asap():
                continue
            for key in keys:
                try:
                    await self.acc.execute_on_account(key, at.ActionsID)
                except Exception as exc:
                    log.error("action plan %s: actions %s on %s failed: %s", plan.Id, at.ActionsID, key, exc)

    @rpc("APIerSv2.GetAccount", "APIerSv1.GetAccount")
    async def get_account(self, args: dict) -> dict:
        args = self._check_args(args)
        acc = await self.acc.store.get(self._key(args))
        if acc is None:
            raise RPCError(NOT_FOUND)
        return acc.to_dict()

    @rpc("APIerSv2.GetAccounts", "APIerSv1.GetAccounts")
    async def get_accounts(self, args: dict) -> list[dict]:
        args = self._check_args(args or {})
        tenant = self._tenant(args)
        ids = args.get("AccountIDs") or args.get("AccountIds") or []
        if ids:
            keys = [f"{tenant}:{a}" for a in ids]
        else:
            keys = await self.acc.store.keys(f"{tenant}:")
        offset = int(args.get("Offset") or 0)
        limit = int(args.get("Limit") or 0)
        keys = keys[offset:]
        out: list[dict] = []
        flt = args.get("Filter") or {}
        for key in keys:
            acc = await self.acc.store.get(key)
            if acc is None:
                continue
            if flt and any(flt.get(f) is not None and getattr(acc, f) != flt[f] for f in ("AllowNegative", "Disabled")):
                continue
            out.append(acc.to_dict())
            if limit and len(out) >= limit:
                break
        return out

    @rpc("APIerSv1.GetAccountsCount", "APIerSv2.GetAccountsCount")
    async def get_accounts_count(self, args: dict) -> int:
        return len(await self.acc.store.keys(f"{self._tenant(args or {})}:"))

    @rpc("APIerSv1.RemoveAccount", "APIerSv2.RemoveAccount")
    async def remove_account(self, args: dict) -> str:
        args = self._check_args(args)
        key = self._key(args)

        async def change(tx: Transaction) -> None:
            if await tx.load(key) is None:
                raise RPCError(NOT_FOUND)
            tx.remove(key)
            tx.extra_ops.extend(await self.acc.plan_ops_removing_account(tx, key))

        await self.acc.atomic(change, key)
        self.acc.plans_changed()
        return OK

    # ---------------------------------------------------------------------------------------- balances

    def _balance_filter(self, args: dict, balance_type: str) -> BalanceFilter:
        """A BalanceFilter from AttrAddBalance/AttrSetBalance (flat v1 fields or the ``Balance`` map)."""
        b = dict(args.get("Balance") or {})
        flat = {
            "ID": args.get("BalanceID"), "UUID": args.get("BalanceUUID"), "ExpiryTime": args.get("ExpiryTime"),
            "RatingSubject": args.get("RatingSubject"), "Categories": args.get("Categories"),
            "DestinationIDs": args.get("DestinationIds", args.get("DestinationIDs")),
            "TimingIDs": args.get("TimingIds", args.get("TimingIDs")), "Weight": args.get("Weight"),
            "SharedGroups": args.get("SharedGroups", args.get("SharedGroup")), "Blocker": args.get("Blocker"),
            "Disabled": args.get("Disabled"),
        }
        for k, v in flat.items():
            if v is not None and b.get(k) is None:
                b[k] = v
        f = BalanceFilter(Type=balance_type)
        if b.get("ID"):
            f.ID = str(b["ID"])
        if b.get("UUID") or b.get("Uuid"):
            f.Uuid = str(b.get("UUID") or b.get("Uuid"))
        if b.get("ExpiryTime") not in (None, ""):
            from pycgrates.engine.accounts.balances import expiry_from_string
            from pycgrates.engine.units import now

            try:
                f.HasExpiration, f.ExpirationDate = expiry_from_string(str(b["ExpiryTime"]), now())
            except (TimeError, ValueError) as exc:
                raise server_error(f"ExpiryTime: {exc}") from exc
        if b.get("RatingSubject") is not None:
            f.RatingSubject = str(b["RatingSubject"])
        for name in ("Categories", "DestinationIDs", "TimingIDs", "SharedGroups"):
            if b.get(name) is not None:
                setattr(f, name, smap(b[name]))
        if b.get("Weight") is not None:
            f.Weight = float(b["Weight"])
        for name in ("Blocker", "Disabled"):
            if b.get(name) is not None:
                setattr(f, name, parse_bool(b[name], name))
        if b.get("Factor") is not None:
            f.Factor = {str(k): float(v) for k, v in dict(b["Factor"]).items()}
        value = args.get("Value", b.get("Value"))
        if value is not None:
            try:
                f.Value = parse_units(value, balance_type, "Value")
            except FieldError as exc:
                raise server_error(exc) from exc
        return f

    async def _balance_action(self, args: dict, action_type: str, *, create: bool,
                              deny_negative: bool = False) -> str:
        args = self._check_args(args)
        key = self._key(args)
        btype = args.get("BalanceType") or MONETARY
        f = self._balance_filter(args, btype)
        if action_type == "*set_balance" and not f.ID and not f.Uuid:
            f.ID = "*default"
        actions = [Action(Id="APIer_" + new_uuid()[:8], ActionType=action_type, Balance=f)]
        if args.get("Cdrlog"):
            extra = args.get("ActionExtraData")
            actions.append(Action(ActionType="*cdrlog", ExtraParameters=json.dumps(extra) if extra else ""))

        async def change(tx: Transaction) -> None:
            acc = await tx.load(key)
            if acc is None:
                if not create:
                    raise RPCError(ACCOUNT_NOT_FOUND)
                tenant, _, name = key.partition(":")
                acc = Account(Tenant=tenant, Account=name)
                tx.put(acc)
            await self.acc.execute(tx, acc, actions)
            tx.changed.add(key)
            if deny_negative and not acc.AllowNegative:
                for b in acc.BalanceMap.get(btype, []):
                    if b.Uuid in tx.dirty and b.Value < 0:
                        raise RPCError(INSUFFICIENT_CREDIT)

        try:
            await self.acc.atomic(change, key)
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return OK

    @rpc("APIerSv1.AddBalance", "APIerSv2.AddBalance")
    async def add_balance(self, args: dict) -> str:
        """Top up (``Overwrite``: reset then top up) a balance; creates the account when absent."""
        return await self._balance_action(args, "*topup_reset" if (args or {}).get("Overwrite") else "*topup",
                                          create=True)

    @rpc("APIerSv1.DebitBalance")
    async def debit_balance(self, args: dict) -> str:
        """Debit a balance; INSUFFICIENT_CREDIT (nothing changed) when it would go below zero and the account
        does not allow negative."""
        return await self._balance_action(args, "*debit", create=True, deny_negative=True)

    @rpc("APIerSv1.SetBalance", "APIerSv2.SetBalance")
    async def set_balance(self, args: dict) -> str:
        """Set a balance's fields (found by BalanceUUID/BalanceID; *default when neither is given)."""
        return await self._balance_action(args, "*set_balance", create=True)

    @rpc("APIerSv1.RemoveBalances")
    async def remove_balances(self, args: dict) -> str:
        args = self._check_args(args)
        require(args, "BalanceType")
        return await self._balance_action(args, "*remove_balance", create=False)

    # ---------------------------------------------------------------------------------------- actions

    @rpc("APIerSv1.ExecuteAction")
    async def execute_action(self, args: dict) -> str:
        """{Tenant, Account, ActionsId} as CGRateS's, and our optional ExtraData: the event that made ThresholdS
        run the actions, which the actions carry (*log, *http_post without an account). As CGRateS's ActionTiming
        does, the actions that need an account are skipped without one, and a named account that does not exist
        is created for them."""
        args = self._check_args(args)
        actions_id = args.get("ActionsId") or args.get("ActionsID")
        if not actions_id:
            raise mandatory_ie_missing("ActionsId")
        key = f"{self._tenant(args)}:{args['Account']}" if args.get("Account") else None
        try:
            if key is None:
                from pycgrates.engine.accounts.actions import ACCOUNT_ACTIONS

                actions = [a for a in await self.acc.get_actions(actions_id) if a.ActionType not in ACCOUNT_ACTIONS]

                async def without_account(tx: Transaction) -> None:
                    await self.acc.execute(tx, None, actions, args.get("ExtraData"))

                await self.acc.atomic(without_account)
            else:
                await self.acc.execute_on_account(key, actions_id, create=True, extra=args.get("ExtraData"))
        except ActionError as exc:
            raise rpc_error(exc) from exc
        return OK

    @rpc("APIerSv1.SetActions")
    async def set_actions(self, args: dict) -> str:
        args = self._check_args(args)
        aid = args.get("ActionsId") or args.get("ActionsID")
        if not aid or not args.get("Actions"):
            raise mandatory_ie_missing(*(["ActionsId"] if not aid else []), *(["Actions"] if not args.get("Actions")
                                                                                else []))
        if not args.get("Overwrite") and await self.acc.dm.get(ACTIONS, aid) is not None:
            raise RPCError(EXISTS)
        acts = []
        for i, raw in enumerate(args["Actions"]):
            try:
                acts.append(action_from_row(aid, norm_row(raw)))
            except FieldError as exc:
                raise server_error(f"Actions[{i}].{exc}") from exc
        await self.acc.dm.set(ACTIONS, aid, [a.to_dict(storage=True) for a in acts])
        return OK

    @rpc("APIerSv1.GetActions")
    async def get_actions(self, args: Any) -> list[dict]:
        aid = args if isinstance(args, str) else (args or {}).get("ActionsId") or (args or {}).get("ID")
        raw = await self.acc.dm.get(ACTIONS, aid or "")
        if raw is None:
            raise RPCError(NOT_FOUND)
        return [Action.from_dict(a).to_dict() for a in raw]

    @rpc("APIerSv1.RemoveActions", "APIerSv2.RemoveActions")
    async def remove_actions(self, args: dict) -> str:
        ids = (args or {}).get("ActionIDs") or []
        for aid in ids:
            await self.acc.dm.remove(ACTIONS, aid)
        return OK

    # ---------------------------------------------------------------------------------------- action plans

    @rpc("APIerSv1.SetActionPlan", "APIerSv2.SetActionPlan")
    async def set_action_plan(self, args: dict) -> str:
        args = self._check_args(args)
        pid = args.get("Id") or args.get("ID")
        timings = args.get("ActionPlan") or []
        if not pid or not timings:
            raise mandatory_ie_missing(*(["Id"] if not pid else []), *(["ActionPlan"] if not timings else []))
        old_raw = await self.acc.dm.get(ACTION_PLAN, pid)
        if old_raw is not None and not args.get("Overwrite"):
            raise RPCError(EXISTS)
        from pycgrates.engine.accounts.timings import builtin_timing
        from pycgrates.engine.units import get_timezone, now

        loaded_at = now().astimezone(get_timezone(self.acc.timezone))
        plan = ActionPlan(Id=pid)
        if old_raw is not None:
            plan.AccountIDs = ActionPlan.from_dict(old_raw).AccountIDs
        for i, t in enumerate(timings):
            aid = t.get("ActionsId") or t.get("ActionsID") or ""
            if await self.acc.dm.get(ACTIONS, aid) is None:
                raise RPCError(f"BROKEN_REFERENCE:{aid}")
            tid = t.get("TimingID") or t.get("TimingId") or ""
            tm_dict: dict | None
            try:
                if tid:
                    tm_dict = await resolve_timing(self.acc.dm, tid, {}, loaded_at)
                    if tm_dict is None:
                        raise RPCError(f"BROKEN_REFERENCE:{tid}")
                else:
                    time_s = t.get("Time") or "*asap"
                    builtin = builtin_timing(time_s, loaded_at)
                    if builtin is not None:
                        tm_dict = builtin.to_dict()
                    else:
                        from pycgrates.engine.accounts.timings import timing_from_record, validate

                        tm = timing_from_record({"Years": t.get("Years"), "Months": t.get("Months"),
                                                 "MonthDays": t.get("MonthDays"), "WeekDays": t.get("WeekDays"),
                                                 "StartTime": time_s})
                        validate(tm)
                        tm_dict = tm.to_dict()
            except TimingError as exc:
                raise server_error(f"ActionPlan[{i}]: {exc}") from exc
            at = ActionTiming(Uuid=timing_uuid(pid, i, aid, tid or str(t.get("Time") or "")), ActionsID=aid,
                              Weight=float(t.get("Weight") or 0), Timing=Timing.from_dict(tm_dict))
            plan.ActionTimings.append(at)
        await self.acc.dm.set(ACTION_PLAN, pid, plan.to_dict())
        await self._run_asap(plan, sorted(plan.AccountIDs))
        self.acc.plans_changed()
        return OK

    @rpc("APIerSv1.GetActionPlan")
    async def get_action_plan(self, args: dict) -> list[dict]:
        pid = (args or {}).get("ID") or (args or {}).get("Id") or ""
        ids = [pid] if pid else await self.acc.dm.keys(ACTION_PLAN)
        out = []
        for i in ids:
            raw = await self.acc.dm.get(ACTION_PLAN, i)
            if raw is not None:
                out.append(ActionPlan.from_dict(raw).to_dict())
        if not out:
            raise RPCError(NOT_FOUND)
        return out

    @rpc("APIerSv1.RemoveActionPlan")
    async def remove_action_plan(self, args: dict) -> str:
        pid = (args or {}).get("ID") or (args or {}).get("Id") or ""
        raw = await self.acc.dm.get(ACTION_PLAN, pid)
        if raw is None:
            raise RPCError(NOT_FOUND)
        plan = ActionPlan.from_dict(raw)
        ops: list = [("remove", ACTION_PLAN, pid, None)]
        for key in plan.AccountIDs:
            aap = [p for p in await self.acc.account_plan_ids(key) if p != pid]
            ops.append(("set", ACCOUNT_ACTION_PLANS, key, aap) if aap else ("remove", ACCOUNT_ACTION_PLANS, key, None))
        await self.acc.dm.write_batch(ops)
        self.acc.plans_changed()
        return OK

    @rpc("APIerSv1.GetAccountActionPlan")
    async def get_account_action_plan(self, args: dict) -> list[dict]:
        key = self._key(self._check_args(args))
        sched = getattr(self.acc, "scheduler", None)
        if sched is not None:
            await sched.refresh()
        out = []
        for pid in await self.acc.account_plan_ids(key):
            raw = await self.acc.dm.get(ACTION_PLAN, pid)
            if raw is None:
                continue
            for at in ActionPlan.from_dict(raw).ActionTimings:
                nxt = sched.next_run(pid, at.Uuid, key) if sched is not None else None
                out.append({"ActionPlanId": pid, "Uuid": at.Uuid, "ActionsId": at.ActionsID,
                            "NextExecTime": nxt})
        return out

    @rpc("APIerSv1.GetScheduledActions")
    async def get_scheduled_actions(self, args: dict) -> list[dict]:
        sched = getattr(self.acc, "scheduler", None)
        if sched is None:
            raise RPCError("SCHEDULER_NOT_ENABLED")
        args = args or {}
        await sched.refresh()
        key = f"{self._tenant(args)}:{args['Account']}" if args.get("Account") else ""
        start = parse_time(args.get("TimeStart")) if args.get("TimeStart") else None
        end = parse_time(args.get("TimeEnd")) if args.get("TimeEnd") else None
        out = sched.queue(account_key=key, start=start, end=end)
        offset = int(args.get("Offset") or 0)
        limit = int(args.get("Limit") or 0)
        out = out[offset:]
        return out[:limit] if limit else out

    # ---------------------------------------------------------------------------------------- action triggers

    @rpc("APIerSv1.SetActionTrigger")
    async def set_action_trigger(self, args: dict) -> str:
        args = self._check_args(args)
        gid = args.get("GroupID")
        if not gid:
            raise mandatory_ie_missing("GroupID")
        raw = await self.acc.dm.get(ACTION_TRIGGERS, gid) or []
        group = [ActionTrigger.from_dict(t) for t in raw]
        uid = args.get("UniqueID") or ""
        current = next((t for t in group if uid and t.UniqueID == uid), None)
        row = norm_row({**_trigger_row(current), **_trigger_api_row(args.get("ActionTrigger") or {})})
        row["uniqueid"] = uid or (current.UniqueID if current else new_uuid())
        try:
            at = trigger_from_row(gid, row, self.acc.timezone)
        except FieldError as exc:
            raise server_error(exc) from exc
        if current is not None:
            at.Executed = current.Executed
            at.LastExecutionTime = current.LastExecutionTime
            group = [at if t is current else t for t in group]
        else:
            group.append(at)
        await self.acc.dm.set(ACTION_TRIGGERS, gid, [t.to_dict(storage=True) for t in group])
        return OK

    @rpc("APIerSv1.GetActionTriggers")
    async def get_action_triggers(self, args: dict) -> list[dict]:
        ids = (args or {}).get("GroupIDs") or await self.acc.dm.keys(ACTION_TRIGGERS)
        out = []
        for gid in ids:
            for t in await self.acc.dm.get(ACTION_TRIGGERS, gid) or []:
                out.append(ActionTrigger.from_dict(t).to_dict())
        if not out:
            raise RPCError(NOT_FOUND)
        return out

    @rpc("APIerSv1.RemoveActionTrigger")
    async def remove_action_trigger(self, args: dict) -> str:
        gid = (args or {}).get("GroupID") or ""
        uid = (args or {}).get("UniqueID") or ""
        raw = await self.acc.dm.get(ACTION_TRIGGERS, gid)
        if raw is None:
            raise RPCError(NOT_FOUND)
        if not uid:
            await self.acc.dm.remove(ACTION_TRIGGERS, gid)
            return OK
        await self.acc.dm.set(ACTION_TRIGGERS, gid, [t for t in raw if t.get("UniqueID") != uid])
        return OK

    @rpc("APIerSv1.GetAccountActionTriggers", "APIerSv2.GetAccountActionTriggers")
    async def get_account_action_triggers(self, args: dict) -> list[dict]:
        acc = await self.acc.store.get(self._key(self._check_args(args)))
        if acc is None:
            raise RPCError(NOT_FOUND)
        return [t.to_dict() for t in acc.ActionTriggers]

    @rpc("APIerSv1.ResetActionTriggers", "APIerSv1.ResetAccountActionTriggers", "APIerSv2.ResetAccountActionTriggers")
    async def reset_action_triggers(self, args: dict) -> str:
        """Set Executed (false by default: re-arm) on an account's triggers, optionally by GroupID/UniqueID."""
        args = self._check_args(args)
        key = self._key(args)
        executed = bool(args.get("Executed", False))

        async def change(tx: Transaction) -> None:
            acc = await tx.load(key)
            if acc is None:
                raise RPCError(NOT_FOUND)
            for at in acc.ActionTriggers:
                if args.get("GroupID") and at.ID != args["GroupID"]:
                    continue
                if args.get("UniqueID") and at.UniqueID != args["UniqueID"]:
                    continue
                at.Executed = executed
            tx.put(acc)
            if not executed:
                await self.acc.run_triggers(tx, acc)

        await self.acc.atomic(change, key)
        return OK


def _trigger_row(at: ActionTrigger | None) -> dict:
    """The fields of an existing trigger in ActionTriggers.csv naming (so an update keeps what it does not set)."""
    if at is None:
        return {}
    b = at.Balance
    return {
        "ThresholdType": at.ThresholdType, "ThresholdValue": str(at.ThresholdValue), "Recurrent": at.Recurrent,
        "MinSleep": f"{at.MinSleep}ns", "ActionsId": at.ActionsID, "Weight": at.Weight,
        "ExpiryTime": at.ExpirationDate.isoformat() if at.ExpirationDate else "",
        "ActivationTime": at.ActivationDate.isoformat() if at.ActivationDate else "",
        "BalanceId": b.ID or "", "BalanceType": b.Type or "",
        "BalanceDestinationIds": ";".join(b.DestinationIDs or {}),
        "BalanceCategories": ";".join(b.Categories or {}), "BalanceSharedGroup": ";".join(b.SharedGroups or {}),
        "BalanceTimingIds": ";".join(b.TimingIDs or {}), "BalanceRatingSubject": b.RatingSubject or "",
        "BalanceWeight": "" if b.Weight is None else b.Weight,
        "BalanceBlocker": "" if b.Blocker is None else b.Blocker,
        "BalanceDisabled": "" if b.Disabled is None else b.Disabled,
        "MinQueuedItems": at.MinQueuedItems,
    }


def _trigger_api_row(d: dict) -> dict:
    """APIerSv1.SetActionTrigger's field names mapped to the CSV ones."""
    names = {"ExpirationDate": "ExpiryTime", "ActivationDate": "ActivationTime", "BalanceID": "BalanceId",
             "BalanceDestinationIds": "BalanceDestinationIds", "BalanceDestinationIDs": "BalanceDestinationIds",
             "BalanceTimingTags": "BalanceTimingIds", "BalanceSharedGroups": "BalanceSharedGroup",
             "ActionsID": "ActionsId", "BalanceExpirationDate": "BalanceExpiryTime"}
    out = {}
    for k, v in d.items():
        if isinstance(v, list):
            v = ";".join(str(x) for x in v)
        if k == "MinSleep" and isinstance(v, int | float):
            v = f"{int(v)}ns"
        out[names.get(k, k)] = "" if v is None else v
    return out

