"""The scheduler: runs ActionPlans' timed actions on their accounts when due.

What has run is recorded in DataDB (kind ``sch``) so restarts neither repeat nor lose a run:

- per timing ``plan|timing`` → ``{"Anchor": first seen, "Last": last slot completed}``: the next slot is the
  first one after ``Last`` (or after ``Anchor`` for a timing that never ran);
- per account ``plan|timing|account`` → ``{"Last": slot}``, written in the same batch as the account change, so
  an account served before a crash (``kill -9``) is skipped when the slot is resumed.

A slot missed while the engine was down runs once when it comes back (several missed slots of a recurrent
timing coalesce into the latest one). A one-time timing has no slot after its own, so it never runs twice.
``*asap`` timings are not scheduled: they run when the plan is attached (loader, SetAccount, SetActionPlan).
The loop runs under the scheduler's :class:`~pycgrates.engine.tasks.Supervisor`; stop cancels it and waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pycgrates.engine.accounts.accounting import Accounting, Transaction
from pycgrates.engine.accounts.timings import next_start
from pycgrates.engine.models.account import ActionPlan, ActionTiming, time_from_json, time_to_json
from pycgrates.engine.scheduler_api import SchedulerAPI
from pycgrates.engine.storage.base import ACTION_PLAN, SCHEDULER_STATE
from pycgrates.engine.tasks import Supervisor
from pycgrates.engine.units import get_timezone
from pycgrates.engine.units import now as utc_now

log = logging.getLogger("cgr.scheduler")

_MAX_WAIT = 60.0
_CATCH_UP_STEPS = 100_000


@dataclass
class _Entry:
    plan_id: str
    timing: ActionTiming
    accounts: int
    due: datetime
    anchor: datetime


class Scheduler(SchedulerAPI):
    """Runs due ActionTimings; ``reload()`` re-reads the plans (called on every plan or account change)."""

    def __init__(self, ctx: Any, clock: Callable[[], datetime] = utc_now) -> None:
        self.ctx = ctx
        self.acc = Accounting.for_dm(ctx.dm)
        self.acc.configure(getattr(ctx, "cfg", None), getattr(ctx, "conns", None), getattr(ctx, "stordb", None))
        self.acc.scheduler = self  # type: ignore[attr-defined]
        self.clock = clock
        self.entries: list[_Entry] = []
        self._plan_accounts: dict[str, set[str]] = {}
        self._dirty = True
        self._wake = asyncio.Event()
        self._tasks = Supervisor("scheduler")
        self._running = False
        self._listener = self.request_reload
        self.acc.on_plans_changed.append(self._listener)

    # ---------------------------------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        await self.load()
        self._running = True
        self._tasks.spawn(self._loop(), name="action plans")

    async def stop(self) -> None:
        self._running = False
        self._wake.set()
        await self._tasks.stop()
        with contextlib.suppress(ValueError):
            self.acc.on_plans_changed.remove(self._listener)

    async def reload(self, cfg: Any = None) -> None:
        """Re-read plans (and settings); the loop picks the change up at once."""
        if cfg is not None:
            self.acc.configure(cfg)
        self.request_reload()

    def request_reload(self) -> None:
        self._dirty = True
        self._wake.set()

    # ---------------------------------------------------------------------------------------- plans

    async def load(self) -> None:
        """Compute the next slot of every timed ActionTiming from DataDB and the recorded state."""
        self._dirty = False
        tz = get_timezone(self.acc.timezone)
        now = self.clock()
        entries: list[_Entry] = []
        plan_accounts: dict[str, set[str]] = {}
        dm = self.acc.dm
        for plan_id in await dm.keys(ACTION_PLAN):
            raw = await dm.get(ACTION_PLAN, plan_id)
            if raw is None:
                continue
            plan = ActionPlan.from_dict(raw)
            plan_accounts[plan_id] = set(plan.AccountIDs)
            for at in plan.ActionTimings:
                if at.Timing.is_asap():
                    continue
                skey = f"{plan_id}|{at.Uuid}"
                state = await dm.get(SCHEDULER_STATE, skey) or {}
                anchor = time_from_json(state.get("Anchor")) or now
                if not state.get("Anchor"):
                    await dm.set(SCHEDULER_STATE, skey, {**state, "Anchor": time_to_json(anchor)})
                last = time_from_json(state.get("Last"))
                try:
                    due = next_start(at.Timing, last or anchor, tz)
                except ValueError as exc:
                    log.error("action plan %s: timing %s cannot be scheduled: %s", plan_id, at.Uuid, exc)
                    continue
                if due is None:
                    continue
                entries.append(_Entry(plan_id, at, len(plan.AccountIDs), due, anchor))
        entries.sort(key=lambda e: (e.due, -e.timing.Weight))
        self.entries = entries
        self._plan_accounts = plan_accounts
        log.info("scheduler: %d timed actions queued", len(entries))

    async def refresh(self) -> None:
        """Re-read the plans now if they changed since the last read."""
        if self._dirty:
            await self.load()

    def queue(self, account_key: str = "", start: datetime | None = None, end: datetime | None = None) -> list[dict]:
        """What APIerSv1.GetScheduledActions answers."""
        out = []
        for e in self.entries:
            if (start and e.due < start) or (end and e.due > end):
                continue
            out.append({"NextRunTime": time_to_json(e.due), "Accounts": e.accounts, "ActionPlanID": e.plan_id,
                        "ActionTimingUUID": e.timing.Uuid, "ActionsID": e.timing.ActionsID})
        if account_key:
            return [o for o in out if account_key in self._plan_accounts.get(o["ActionPlanID"], ())]
        return out

    def next_run(self, plan_id: str, timing_uuid: str, account_key: str = "") -> str | None:
        for e in self.entries:
            if e.plan_id == plan_id and e.timing.Uuid == timing_uuid:
                return time_to_json(e.due)
        return None

    # ---------------------------------------------------------------------------------------- running

    async def _loop(self) -> None:
        while self._running:
            try:
                if self._dirty:
                    await self.load()
                await self.run_due()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler pass failed")
            wait = _MAX_WAIT
            if self.entries:
                wait = max(0.0, min(_MAX_WAIT, (self.entries[0].due - self.clock()).total_seconds()))
            self._wake.clear()
            if self._dirty:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait if wait > 0 else 0.001)

    async def run_due(self, now: datetime | None = None) -> int:
        """Run every timing whose slot has come (``now``: the clock by default). Returns how many ran."""
        if self._dirty:
            await self.load()
        now = now or self.clock()
        tz = get_timezone(self.acc.timezone)
        ran = 0
        for e in [e for e in self.entries if e.due <= now]:
            slot = e.due
            # coalesce missed slots: the latest one not after now
            for _ in range(_CATCH_UP_STEPS):
                nxt = next_start(e.timing.Timing, slot, tz)
                if nxt is None or nxt > now:
                    break
                slot = nxt
            await self._run_slot(e, slot)
            ran += 1
            nxt = next_start(e.timing.Timing, slot, tz)
            if nxt is None:
                self.entries.remove(e)
            else:
                e.due = nxt
        self.entries.sort(key=lambda x: (x.due, -x.timing.Weight))
        return ran

    async def _task_passes(self, e: _Entry, account_key: str) -> bool:
        """``schedulers.filters`` over the task (CGRateS: Uuid, AccountID, ActionsID), with the task under *req."""
        cfg = getattr(self.ctx, "cfg", None)
        filters = (cfg.get("schedulers", "filters", default=[]) if cfg is not None else []) or []
        if not filters:
            return True
        fs = getattr(self.ctx, "services", {}).get("filters")
        if fs is None:
            log.warning("scheduler: schedulers.filters set but FilterS is not running; tasks are not filtered")
            return True
        task = {"Uuid": e.timing.Uuid, "AccountID": account_key, "ActionsID": e.timing.ActionsID}
        tenant = account_key.partition(":")[0] or cfg.get("general", "default_tenant", default="cgrates.org")
        try:
            return await fs.pass_filters(tenant, filters, fs.event_dp(task))
        except Exception as exc:  # a broken filter must not stop the scheduler; the task is not run
            log.warning("scheduler: schedulers.filters on task %s/%s: %s", e.timing.ActionsID, account_key, exc)
            return False

    async def _run_slot(self, e: _Entry, slot: datetime) -> None:
        dm = self.acc.dm
        raw = await dm.get(ACTION_PLAN, e.plan_id)
        if raw is None:
            return
        plan = ActionPlan.from_dict(raw)
        stamp = time_to_json(slot)
        tkey = f"{e.plan_id}|{e.timing.Uuid}"
        keys = sorted(plan.AccountIDs) or [""]
        log.info("scheduler: running actions %s of plan %s (slot %s) on %d account(s)", e.timing.ActionsID,
                 e.plan_id, stamp, len(plan.AccountIDs))
        for key in keys:
            akey = f"{tkey}|{key}"
            done = await dm.get(SCHEDULER_STATE, akey)
            if done is not None and (time_from_json(done.get("Last")) or slot) >= slot:
                continue
            if not await self._task_passes(e, key):
                log.info("scheduler: actions %s of plan %s not run on %s: schedulers.filters do not pass",
                         e.timing.ActionsID, e.plan_id, key or "(no account)")
                continue
            mark = ("set", SCHEDULER_STATE, akey, {"Last": stamp})

            async def ran_already(tx: Transaction, akey: str = akey) -> bool:
                # asked again inside the change: another engine on the same DataDB may have just run this slot
                done = await tx.read(SCHEDULER_STATE, akey)
                return done is not None and (time_from_json(done.get("Last")) or slot) >= slot

            try:
                await self.acc.execute_on_account(key or None, e.timing.ActionsID, extra_ops=[mark],
                                                  unless=ran_already)
            except Exception as exc:
                log.error("scheduler: actions %s of plan %s on %s failed: %s", e.timing.ActionsID, e.plan_id,
                          key or "(no account)", exc)
                await dm.write_batch([mark])
        await dm.set(SCHEDULER_STATE, tkey, {"Anchor": time_to_json(e.anchor), "Last": stamp})
