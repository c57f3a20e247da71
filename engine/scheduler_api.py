"""SchedulerSv1: the scheduler's RPC face, CGRateS's names and shapes.

- ``SchedulerSv1.Reload``: re-read the action plans now.
- ``SchedulerSv1.ExecuteActions`` ``{"ActionPlanID", "TimeStart", "TimeEnd"}``: run a plan's timed actions now on
  its accounts (by weight); and/or replay every plan's timed actions whose slots fall in [TimeStart, TimeEnd], slot
  by slot, as the scheduler would have run them then.
- ``SchedulerSv1.ExecuteActionPlans`` ``{"ActionPlanIDs", "Tenant", "AccountID"}``: run every action of the plans
  on one account (created when absent), whatever the plans' own accounts.

What these run is not recorded as the scheduler's own runs: the scheduled slots still come as planned.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pycgrates.engine.accounts.accounting import ActionError, rpc_error
from pycgrates.engine.accounts.timings import next_start
from pycgrates.engine.models.account import ActionPlan, ActionTiming
from pycgrates.engine.rpc.errors import RPCError, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ACTION_PLAN
from pycgrates.engine.units import TimeError, get_timezone, parse_time

#: slots of one timing replayed at most (a window over years of an every-second timing stops here)
_MAX_SLOTS = 100_000


class SchedulerAPI:
    """Mixed into Scheduler (which supplies ``acc`` and ``reload``)."""

    acc: Any

    async def reload(self, cfg: Any = None) -> None: ...

    async def _plan(self, plan_id: str) -> ActionPlan:
        raw = await self.acc.dm.get(ACTION_PLAN, plan_id)
        if raw is None:
            raise RPCError("NOT_FOUND")
        return ActionPlan.from_dict(raw)

    async def _run(self, timing: ActionTiming, keys: list[str]) -> None:
        try:
            for key in keys or [""]:
                await self.acc.execute_on_account(key or None, timing.ActionsID)
        except ActionError as exc:
            raise rpc_error(exc) from exc

    @rpc("SchedulerSv1.Ping")
    async def scheduler_ping(self, args: Any) -> str:
        return "Pong"

    @rpc("SchedulerSv1.Reload")
    async def scheduler_reload(self, args: Any) -> str:
        await self.reload()
        return "OK"

    @rpc("SchedulerSv1.ExecuteActions")
    async def execute_actions(self, args: Any) -> str:
        args = args if isinstance(args, dict) else {}
        if args.get("ActionPlanID"):
            plan = await self._plan(str(args["ActionPlanID"]))
            for timing in sorted(plan.ActionTimings, key=lambda t: -t.Weight):
                if not timing.Timing.is_asap():
                    await self._run(timing, sorted(plan.AccountIDs))
        try:
            start = parse_time(args.get("TimeStart") or None, self.acc.timezone)
            end = parse_time(args.get("TimeEnd") or None, self.acc.timezone)
        except TimeError as exc:
            raise server_error(exc) from None
        if start is not None and end is not None:
            for _, _, timing, keys in await self._slots(start, end):
                await self._run(timing, keys)
        return "OK"

    async def _slots(self, start: datetime, end: datetime) -> list[tuple[datetime, float, ActionTiming, list[str]]]:
        """Every slot of every timed action in [start, end], in time order (heavier first at one time)."""
        tz = get_timezone(self.acc.timezone)
        out = []
        for plan_id in await self.acc.dm.keys(ACTION_PLAN):
            raw = await self.acc.dm.get(ACTION_PLAN, plan_id)
            if raw is None:
                continue
            plan = ActionPlan.from_dict(raw)
            for timing in plan.ActionTimings:
                if timing.Timing.is_asap():
                    continue
                slot = next_start(timing.Timing, start - timedelta(seconds=1), tz)
                for _ in range(_MAX_SLOTS):
                    if slot is None or slot > end:
                        break
                    out.append((slot, -timing.Weight, timing, sorted(plan.AccountIDs)))
                    slot = next_start(timing.Timing, slot, tz)
        out.sort(key=lambda s: (s[0], s[1]))
        return out

    @rpc("SchedulerSv1.ExecuteActionPlans")
    async def execute_action_plans(self, args: Any) -> str:
        args = args if isinstance(args, dict) else {}
        key = f"{args.get('Tenant') or ''}:{args.get('AccountID') or ''}"
        for plan_id in args.get("ActionPlanIDs") or []:
            plan = await self._plan(str(plan_id))
            try:
                for timing in sorted(plan.ActionTimings, key=lambda t: -t.Weight):
                    await self.acc.execute_on_account(key, timing.ActionsID, create=True)
            except ActionError as exc:
                raise rpc_error(exc) from exc
        return "OK"
