"""Loading the accounting part of a tariff plan: SharedGroups, Actions, ActionPlans, ActionTriggers, AccountActions.

The loader parses the CSV files into rows and calls :func:`load_accounting`. Definitions are written first (one
batch), then every AccountAction sets its account up (flags, triggers, plan membership) in its own transaction,
then the ``*asap`` timings of the attached plans run on their accounts, as CGRateS does at load, so the accounts
of the tutorial plans hold their balances as soon as the load returns. A dangling reference (an AccountAction
naming an unknown ActionPlan, a plan naming unknown Actions...) is a LoaderError naming file, line and column.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from typing import Any

from pycgrates.engine.accounts.accounting import Accounting, Transaction
from pycgrates.engine.accounts.parse import FieldError, action_from_row, col, norm_row, parse_bool, trigger_from_row
from pycgrates.engine.accounts.timings import TimingError, builtin_timing, timing_from_record, validate
from pycgrates.engine.models.account import (
    SHARED_GROUP_STRATEGIES,
    Account,
    ActionPlan,
    ActionTiming,
    SharedGroup,
    SharingParameters,
)
from pycgrates.engine.storage.base import (
    ACCOUNT_ACTION_PLANS,
    ACTION_PLAN,
    ACTION_TRIGGERS,
    ACTIONS,
    SHARED_GROUP,
    TIMING,
    BatchOp,
)
from pycgrates.engine.units import now

log = logging.getLogger("cgr.loader")

TABLES = ("SharedGroups", "Actions", "ActionPlans", "ActionTriggers", "AccountActions")


def _loader_error(row: dict, column: str, message: str, default_file: str) -> Exception:
    file, line = row.get("_file", default_file), row.get("_line", 0)
    try:
        from pycgrates.engine.loader.tariffplan import LoaderError
    except ImportError:  # the loader module is optional for this function
        return ValueError(f"{file}:{line}: {column}: {message}")
    return LoaderError(file, line, column, message)


def timing_uuid(plan_id: str, index: int, actions_id: str, timing_id: str) -> str:
    """Stable ActionTiming IDs, so the scheduler's record of what ran survives reloads of the same plan."""
    return hashlib.sha1(f"{plan_id}|{index}|{actions_id}|{timing_id}".encode()).hexdigest()[:32]


async def _timing_records(dm: Any, tables: dict[str, list[dict]]) -> dict[str, dict]:
    recs: dict[str, dict] = {}
    for raw in tables.get("Timings", []) or []:
        r = norm_row(raw)
        tid = col(r, "id", "tag")
        if tid:
            recs[tid] = {"ID": tid, "Years": col(r, "years"), "Months": col(r, "months"),
                         "MonthDays": col(r, "monthdays"), "WeekDays": col(r, "weekdays"),
                         "StartTime": col(r, "time", "starttime", default="00:00:00")}
    return recs


async def _balance_timings(dm: Any, local: dict[str, dict]) -> dict[str, dict]:
    """Every known timing as the dict a balance keeps in ``Timings`` (stored ones, then this load's)."""
    out: dict[str, dict] = {}
    for tid in await dm.keys(TIMING):
        rec = await dm.get(TIMING, tid)
        if rec is not None:
            out[tid] = timing_from_record(rec, tid).to_dict()
    for tid, rec in local.items():
        out[tid] = timing_from_record(rec, tid).to_dict()
    return out


async def resolve_timing(dm: Any, timing_id: str, local: dict[str, dict], loaded_at: Any) -> dict | None:
    """A timing record for an ActionPlan's TimingId: built-in, from this load, or stored (Timings)."""
    b = builtin_timing(timing_id, loaded_at)
    if b is not None:
        return b.to_dict()
    rec = local.get(timing_id)
    if rec is None:
        rec = await dm.get(TIMING, timing_id)
    if rec is None:
        return None
    t = timing_from_record(rec, timing_id)
    validate(t)
    return t.to_dict()


async def load_accounting(dm: Any, tables: dict[str, list[dict]], *, dry_run: bool, timezone: str) -> list[str]:
    """Validate and (unless ``dry_run``) store the accounting tables; run the *asap plans. Returns warnings."""
    from pycgrates.engine.units import get_timezone

    warnings: list[str] = []
    accounting = Accounting.for_dm(dm)
    loaded_at = now().astimezone(get_timezone(timezone))
    timing_recs = await _timing_records(dm, tables)

    # ---- shared groups
    groups: dict[str, SharedGroup] = {}
    for raw in tables.get("SharedGroups", []) or []:
        r = norm_row(raw)
        sg_id = col(r, "id", "tag")
        if not sg_id:
            raise _loader_error(r, "Id", "missing shared group ID", "SharedGroups.csv")
        strategy = col(r, "strategy")
        if strategy and strategy not in SHARED_GROUP_STRATEGIES:
            raise _loader_error(r, "Strategy", f"unknown strategy {strategy!r} (use one of "
                                f"{', '.join(SHARED_GROUP_STRATEGIES)})", "SharedGroups.csv")
        sg = groups.setdefault(sg_id, SharedGroup(Id=sg_id))
        sg.AccountParameters[col(r, "account", default="*any")] = SharingParameters(strategy, col(r, "ratingsubject"))

    # ---- actions
    balance_timings: dict[str, dict] | None = None
    actions: dict[str, list] = defaultdict(list)
    for raw in tables.get("Actions", []) or []:
        r = norm_row(raw)
        aid = col(r, "actionsid", "id", "tag")
        if not aid:
            raise _loader_error(r, "ActionsId", "missing actions ID", "Actions.csv")
        if balance_timings is None and col(r, "timingids", "timingtags"):
            balance_timings = await _balance_timings(dm, timing_recs)
        try:
            a = action_from_row(aid, r, balance_timings)
        except FieldError as exc:
            raise _loader_error(r, exc.column, exc.message, "Actions.csv") from exc
        for sg in a.Balance.SharedGroups or {}:
            if sg not in groups and await dm.get(SHARED_GROUP, sg) is None:
                warnings.append(f"Actions {aid}: shared group {sg} is not defined")
        actions[aid].append(a)

    async def actions_exist(aid: str) -> bool:
        return aid in actions or await dm.get(ACTIONS, aid) is not None

    # ---- action plans
    plans: dict[str, ActionPlan] = {}
    for raw in tables.get("ActionPlans", []) or []:
        r = norm_row(raw)
        pid = col(r, "id", "tag")
        aid = col(r, "actionsid", "actionsids")
        tid = col(r, "timingid", "timingids", "timingtag", default="*asap")
        if not pid:
            raise _loader_error(r, "Id", "missing action plan ID", "ActionPlans.csv")
        if not await actions_exist(aid):
            raise _loader_error(r, "ActionsId", f"unknown actions {aid!r}", "ActionPlans.csv")
        try:
            tm = await resolve_timing(dm, tid, timing_recs, loaded_at)
        except TimingError as exc:
            raise _loader_error(r, "TimingId", str(exc), "ActionPlans.csv") from exc
        if tm is None:
            raise _loader_error(r, "TimingId", f"unknown timing {tid!r} (define it in Timings.csv or use "
                                "*asap, *daily, *weekly, *monthly, *month_end, *yearly)", "ActionPlans.csv")
        plan = plans.setdefault(pid, ActionPlan(Id=pid))
        try:
            weight = float(col(r, "weight", default="0"))
        except ValueError as exc:
            raise _loader_error(r, "Weight", f"{col(r, 'weight')!r} is not a number", "ActionPlans.csv") from exc
        at = ActionTiming(Uuid=timing_uuid(pid, len(plan.ActionTimings), aid, tid), ActionsID=aid, Weight=weight)
        from pycgrates.engine.models.account import Timing

        at.Timing = Timing.from_dict(tm)
        plan.ActionTimings.append(at)

    # ---- action triggers
    triggers: dict[str, list] = defaultdict(list)
    for raw in tables.get("ActionTriggers", []) or []:
        r = norm_row(raw)
        tid = col(r, "tag", "id")
        if not tid:
            raise _loader_error(r, "Tag", "missing action triggers ID", "ActionTriggers.csv")
        try:
            if balance_timings is None and col(r, "balancetimingids", "balancetimingtags"):
                balance_timings = await _balance_timings(dm, timing_recs)
            at = trigger_from_row(tid, r, timezone, len(triggers[tid]), balance_timings)
        except FieldError as exc:
            raise _loader_error(r, exc.column, exc.message, "ActionTriggers.csv") from exc
        if not await actions_exist(at.ActionsID):
            raise _loader_error(r, "ActionsId", f"unknown actions {at.ActionsID!r}", "ActionTriggers.csv")
        triggers[tid].append(at)

    # ---- account actions (validated before anything is written)
    account_rows: list[tuple[str, str, str, bool, bool]] = []
    for raw in tables.get("AccountActions", []) or []:
        r = norm_row(raw)
        tenant, account = col(r, "tenant"), col(r, "account")
        if not tenant or not account:
            raise _loader_error(r, "Tenant" if not tenant else "Account", "missing", "AccountActions.csv")
        plan_id = col(r, "actionplanid", "actionplanids", "actionplantag")
        trig_id = col(r, "actiontriggersid", "actiontriggersids", "actiontriggerstag")
        if plan_id and plan_id not in plans and await dm.get(ACTION_PLAN, plan_id) is None:
            raise _loader_error(r, "ActionPlanId", f"unknown action plan {plan_id!r}", "AccountActions.csv")
        if trig_id and trig_id not in triggers and await dm.get(ACTION_TRIGGERS, trig_id) is None:
            raise _loader_error(r, "ActionTriggersId", f"unknown action triggers {trig_id!r}", "AccountActions.csv")
        try:
            allow_neg = parse_bool(col(r, "allownegative"), "AllowNegative")
            disabled = parse_bool(col(r, "disabled"), "Disabled")
        except FieldError as exc:
            raise _loader_error(r, exc.column, exc.message, "AccountActions.csv") from exc
        account_rows.append((f"{tenant}:{account}", plan_id, trig_id, allow_neg, disabled))

    if dry_run:
        return warnings

    # ---- write definitions
    ops: list[BatchOp] = []
    for sg_id, sg in groups.items():
        old = await dm.get(SHARED_GROUP, sg_id)
        if old is not None:
            sg.MemberIds = SharedGroup.from_dict(old).MemberIds
        ops.append(("set", SHARED_GROUP, sg_id, sg.to_dict()))
    for aid, acts in actions.items():
        ops.append(("set", ACTIONS, aid, [a.to_dict(storage=True) for a in acts]))
    for tid, ats in triggers.items():
        ops.append(("set", ACTION_TRIGGERS, tid, [t.to_dict(storage=True) for t in ats]))
    stored_plans: dict[str, ActionPlan] = {}
    for pid, plan in plans.items():
        old = await dm.get(ACTION_PLAN, pid)
        if old is not None:
            plan.AccountIDs = ActionPlan.from_dict(old).AccountIDs
        stored_plans[pid] = plan
    for key, plan_id, _, _, _ in account_rows:
        if plan_id:
            plan = stored_plans.get(plan_id)
            if plan is None:
                plan = stored_plans[plan_id] = ActionPlan.from_dict(await dm.get(ACTION_PLAN, plan_id))
            plan.AccountIDs[key] = True
    for pid, plan in stored_plans.items():
        ops.append(("set", ACTION_PLAN, pid, plan.to_dict()))
    if ops:
        await dm.write_batch(ops)

    # ---- accounts
    for key, plan_id, trig_id, allow_neg, disabled in account_rows:
        trig_defs = triggers.get(trig_id) if trig_id else None
        if trig_id and trig_defs is None:
            from pycgrates.engine.models.account import ActionTrigger

            trig_defs = [ActionTrigger.from_dict(t) for t in await dm.get(ACTION_TRIGGERS, trig_id) or []]
        await _load_account(accounting, key, plan_id, trig_defs, allow_neg, disabled)

    # ---- *asap timings run now, on the accounts this load attached
    for key, plan_id, _, _, _ in account_rows:
        if not plan_id:
            continue
        plan = stored_plans[plan_id]
        for at in sorted(plan.ActionTimings, key=lambda t: -t.Weight):
            if not at.Timing.is_asap():
                continue
            try:
                await accounting.execute_on_account(key, at.ActionsID)
            except Exception as exc:
                msg = f"action plan {plan_id}: actions {at.ActionsID} on account {key} failed: {exc}"
                log.error(msg)
                warnings.append(msg)
    accounting.plans_changed()
    return warnings


async def _load_account(accounting: Accounting, key: str, plan_id: str, trig_defs: list | None, allow_neg: bool,
                        disabled: bool) -> None:
    """One AccountActions row: create or update the account, attach it to its action plan."""

    async def change(tx: Transaction) -> None:
        acc = await tx.load(key)
        if acc is None:
            tenant, _, name = key.partition(":")
            acc = Account(Tenant=tenant, Account=name)
        acc.AllowNegative = allow_neg
        acc.Disabled = disabled
        if trig_defs is not None:
            acc.ActionTriggers = [t.clone() for t in trig_defs]
        accounting.init_counters(acc)
        tx.put(acc)
        if plan_id:
            aap = await accounting.account_plan_ids(key, tx)
            if plan_id not in aap:
                tx.extra_ops.append(("set", ACCOUNT_ACTION_PLANS, key, [*aap, plan_id]))

    await accounting.atomic(change, key)
