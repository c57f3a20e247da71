"""The accounting core shared by the APIs, the scheduler and the loader: transactions, triggers, counters.

A :class:`Transaction` holds the locks of the accounts it changes, works on copies read from DataDB, and
commits everything it changed with one ``write_batch``. Work with outside effects (SessionS calls, CDR logging,
asynchronous HTTP posts) is queued on the transaction and runs after the commit, outside the locks, so a
trigger that disconnects sessions never waits on the account its own debit holds.

The locks are this process's; other engines sharing the DataDB (Redis) do not see them. So every read that
decides a change (:meth:`Transaction.read`: the accounts, a journal record, a shared group's members, an action
plan's accounts, a scheduler slot's record) keeps the version it read, and the commit is conditional on those
versions (``write_batch(..., expect=...)``): when another engine changed one of them in between, nothing is
written and :meth:`Accounting.atomic` runs the change again on fresh reads. A change is therefore a function of
the transaction it is given, and only the run that commits has effects. On the embedded ``*internal`` store one
process owns the data and a version is the stored object itself (an identity check, no copy, no hashing); the
locks serialize the changes of one account, so there a check fails only when changes of different accounts
rewrite one record they share (an action plan's account list), and the later one is run again instead of
overwriting the first.

One :class:`Accounting` exists per DataManager (``Accounting.for_dm``), so the API service, the scheduler and
the loader share its locks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from pycgrates.engine.accounts.balances import PrefixDestinations, hard_match_filter, match_filter, round_value
from pycgrates.engine.accounts.store import AccountStore
from pycgrates.engine.metrics import ACCOUNT_WRITE_CONFLICTS
from pycgrates.engine.models.account import (
    ANY,
    COUNTER_BALANCE,
    COUNTER_EVENT,
    DEFAULT_BALANCE_ID,
    MONETARY,
    Account,
    Action,
    ActionTrigger,
    Balance,
    BalanceFilter,
    CounterFilter,
    SharedGroup,
    UnitCounter,
)
from pycgrates.engine.rpc.errors import RPCError, error_from_message, server_error
from pycgrates.engine.storage.base import (
    ACCOUNT,
    ACCOUNT_ACTION_PLANS,
    ACTION_PLAN,
    ACTIONS,
    SHARED_GROUP,
    BatchOp,
    WriteConflict,
)
from pycgrates.engine.tasks import Supervisor, SupervisorStopped
from pycgrates.engine.units import now as utc_now

log = logging.getLogger("cgr.accounts")

Effect = Callable[[], Awaitable[Any]]
T = TypeVar("T")

#: How many times :meth:`Accounting.atomic` runs a change that other engines keep overtaking before it gives up
#: (each lost race means another engine's change landed: the account moves on, nothing is stuck).
MAX_ATTEMPTS = 100


class ActionError(Exception):
    """An action that cannot run; the message names what to fix."""


def rpc_error(exc: Exception) -> RPCError:
    """CGRateS-worded errors: bare codes pass as they are (typed), anything else is a SERVER_ERROR."""
    if isinstance(exc, RPCError):
        return exc
    msg = str(exc)
    if msg and msg.split(":")[0].replace("_", "").isupper() and " " not in msg.split(":")[0]:
        return error_from_message(msg)
    return server_error(msg)


def new_uuid() -> str:
    return str(uuid.uuid4())


class Transaction:
    """Changes to accounts (and related records) that land together or not at all."""

    def __init__(self, accounting: Accounting, stack: AsyncExitStack, *, from_debit: bool = False) -> None:
        self.acc = accounting
        self._stack = stack
        self.now: datetime = utc_now()
        self.accounts: dict[str, Account | None] = {}
        self.locked: set[str] = set()
        self.changed: set[str] = set()
        self.removed: set[str] = set()
        self.extra_ops: list[BatchOp] = []
        self.effects: list[Effect] = []
        self.background: list[Effect] = []
        self.dirty: set[str] = set()
        #: (kind, key) → the version read, which the commit expects to find still there
        self.expected: dict[tuple[str, str], Any] = {}
        self.sg_members: dict[str, set[str]] = {}
        self.from_debit = from_debit
        #: per action (id of the clone): the balance value it left, for *cdrlog
        self.balance_values: dict[int, Decimal] = {}
        self.removed_balances: dict[int, list[dict]] = {}
        self._in_triggers: set[str] = set()

    # ---------------------------------------------------------------------------------------- accounts

    async def lock(self, *keys: str) -> None:
        """Lock more accounts inside the transaction (bounded wait: general.locking_timeout)."""
        todo = [k for k in sorted(set(keys)) if k not in self.locked]
        if not todo:
            return
        timeout = self.acc.locking_timeout
        hold = self.acc.store.locks.hold(*todo)
        try:
            if timeout is None:
                await self._stack.enter_async_context(hold)
            else:
                await asyncio.wait_for(self._stack.enter_async_context(hold), timeout)
        except TimeoutError as exc:
            raise ActionError(f"timed out locking accounts {', '.join(todo)}") from exc
        self.locked.update(todo)

    async def load(self, key: str) -> Account | None:
        """The account as stored (locked first); the commit lands only over the version read here."""
        if key in self.accounts:
            return self.accounts[key]
        if key not in self.locked:
            await self.lock(key)
        raw = await self.read(ACCOUNT, key)
        acc = None if raw is None else Account.from_dict(raw)
        self.accounts[key] = acc
        return acc

    async def read(self, kind: str, key: str) -> Any | None:
        """A stored record that decides this change (an account, a journal record): read from the DataDB itself,
        never a cache, and expected unchanged at commit. Do not mutate what it returns."""
        if not self.acc.store.versioned:
            return await self.acc.dm.get(kind, key)
        raw, version = await self.acc.dm.get_versioned(kind, key)
        self.expected.setdefault((kind, key), version)
        return raw

    def put(self, acc: Account) -> None:
        """Mark an account as changed (created or modified)."""
        self.accounts[acc.key] = acc
        self.changed.add(acc.key)
        self.removed.discard(acc.key)

    def remove(self, key: str) -> None:
        self.accounts[key] = None
        self.removed.add(key)
        self.changed.discard(key)

    def mark_dirty(self, acc: Account, b: Balance) -> None:
        if not b.Uuid:
            b.Uuid = new_uuid()
        self.dirty.add(b.Uuid)
        self.changed.add(acc.key)

    def set_value(self, acc: Account, b: Balance, value: Decimal) -> None:
        b.Value = round_value(value, self.acc.rounding_decimals)
        self.mark_dirty(acc, b)

    def add_member(self, sg_id: str, account_key: str) -> None:
        self.sg_members.setdefault(sg_id, set()).add(account_key)

    def after_commit(self, effect: Effect, background: bool = False) -> None:
        (self.background if background else self.effects).append(effect)

    # ---------------------------------------------------------------------------------------- commit

    async def commit(self) -> None:
        """Write every change as one batch, over the versions read (else WriteConflict, nothing written)."""
        ops: list[BatchOp] = []
        for key in sorted(self.changed):
            acc = self.accounts.get(key)
            if acc is not None:
                ops.append(self.acc.store.set_op(acc))
        for key in sorted(self.removed):
            ops.append(self.acc.store.remove_op(key))
        ops.extend(self.extra_ops)
        if self.sg_members:
            # membership changes of shared groups serialize on one short lock, never held while waiting for accounts
            async with self.acc.sg_lock:
                for sg_id, members in self.sg_members.items():
                    # the group as stored, not as cached: another engine may have added members since
                    raw = await self.read(SHARED_GROUP, sg_id)
                    if raw is None:
                        log.warning("shared group %s is not defined; balance kept without group members", sg_id)
                        continue
                    sg = SharedGroup.from_dict(raw)
                    if all(m in sg.MemberIds for m in members):
                        continue
                    for m in members:
                        sg.MemberIds[m] = True
                    ops.append(("set", SHARED_GROUP, sg_id, sg.to_dict()))
                await self.acc.store.commit(ops, self.expected)
            return
        await self.acc.store.commit(ops, self.expected)

    async def run_effects(self) -> None:
        for effect in self.effects:
            try:
                await effect()
            except Exception:
                log.exception("action effect failed after commit")
        for effect in self.background:
            self.acc.spawn(effect(), name=getattr(effect, "__qualname__", "effect after commit"))


class Accounting:
    """Accounts, balances and actions over one DataManager."""

    _by_dm: weakref.WeakKeyDictionary[Any, Accounting] = weakref.WeakKeyDictionary()

    def __init__(self, dm: Any) -> None:
        self.dm = dm
        self.store = AccountStore(dm)
        self.sg_lock = asyncio.Lock()
        self.cfg: Any = None
        self.conns: Any = None
        self.stordb: Any = None
        self.rounding_decimals = 5
        self.locking_timeout: float | None = None
        self.timezone = "UTC"
        self.remove_expired = True
        self.balance_rating_subject: dict[str, str] = {"*any": "*zero1ns", "*voice": "*zero1s"}
        self.max_computed_usage: dict[str, int] = {}
        self.default_tenant = "cgrates.org"
        self.default_category = "call"
        self._rater: Any = None
        #: effects of committed changes that run in the background (HTTP posts, disconnects after a debit)
        self.tasks = Supervisor("accounts")
        #: called with the plan IDs whose accounts or timings changed (the scheduler listens)
        self.on_plans_changed: list[Callable[[], None]] = []

    @classmethod
    def for_dm(cls, dm: Any) -> Accounting:
        inst = cls._by_dm.get(dm)
        if inst is None:
            inst = cls._by_dm[dm] = cls(dm)
        return inst

    def configure(self, cfg: Any = None, conns: Any = None, stordb: Any = None) -> None:
        """Take settings from the engine config (general, rals)."""
        if conns is not None:
            self.conns = conns
        if stordb is not None:
            self.stordb = stordb
        if cfg is None:
            return
        self.cfg = cfg
        self._rater = None
        self.default_tenant = cfg.get("general", "default_tenant", default="cgrates.org") or "cgrates.org"
        self.default_category = cfg.get("general", "default_category", default="call") or "call"
        from pycgrates.engine.units import parse_duration

        self.rounding_decimals = int(cfg.get("general", "rounding_decimals", default=5))
        self.timezone = cfg.get("general", "default_timezone", default="UTC") or "UTC"
        lt = cfg.get("general", "locking_timeout", default=0)
        lt_ns = parse_duration(lt) if lt else 0
        self.locking_timeout = lt_ns / 1e9 if lt_ns > 0 else None
        self.remove_expired = bool(cfg.get("rals", "remove_expired", default=True))
        brs = cfg.get("rals", "balance_rating_subject", default=None)
        if isinstance(brs, dict) and brs:
            self.balance_rating_subject = {str(k): str(v) for k, v in brs.items()}
        mcu = cfg.get("rals", "max_computed_usage", default=None)
        if isinstance(mcu, dict):
            self.max_computed_usage = {str(k): parse_duration(v) for k, v in mcu.items()}

    @property
    def rater(self) -> Any:
        """The rating engine over the same DataManager (engine.rating.Rater), configured like this engine."""
        if self._rater is None:
            from pycgrates.engine.rating import Rater

            self._rater = Rater.for_dm(self.dm, self.cfg)
        return self._rater

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str = "") -> None:
        """Run an effect of a committed change in the background (failures are logged by the supervisor)."""
        try:
            self.tasks.spawn(coro, name=name)
        except SupervisorStopped:
            log.warning("accounting is stopping: %s not run", name or "a background effect")

    async def drain(self) -> None:
        """Wait for background effects (used in tests)."""
        await self.tasks.drain()

    async def stop(self, timeout: float = 10.0) -> None:
        """Let running effects finish (up to ``timeout``), then cancel what is left and refuse new ones."""
        if not await self.tasks.drain(timeout):
            log.warning("accounting: background effects still running after %.0fs; cancelling them", timeout)
        await self.tasks.stop()

    def plans_changed(self) -> None:
        for cb in list(self.on_plans_changed):
            try:
                cb()
            except Exception:
                log.exception("plan change listener failed")

    # ---------------------------------------------------------------------------------------- transactions

    @asynccontextmanager
    async def _transaction(self, *keys: str, from_debit: bool = False) -> AsyncIterator[Transaction]:
        """One attempt: lock ``keys``; yield a Transaction; commit it if the block ends without an exception, and
        run its effects once it landed."""
        async with AsyncExitStack() as stack:
            tx = Transaction(self, stack, from_debit=from_debit)
            if keys:
                await tx.lock(*keys)
            yield tx
            await tx.commit()
        await tx.run_effects()

    async def atomic(self, change: Callable[[Transaction], Awaitable[T]], *keys: str,
                     from_debit: bool = False) -> T:
        """Run ``change(tx)`` with ``keys`` locked and commit what it did as one atomic step; return its result.

        When another engine sharing the DataDB changed something the change read (WriteConflict), the attempt is
        dropped (nothing written, no effects) and ``change`` runs again on fresh reads. So ``change`` must keep
        its work on ``tx`` and rebuild anything it mutates from what it reads.
        """
        attempt = 1
        while True:
            try:
                async with self._transaction(*keys, from_debit=from_debit) as tx:
                    return await change(tx)
            except WriteConflict as exc:
                ACCOUNT_WRITE_CONFLICTS.inc()
                if attempt >= MAX_ATTEMPTS:
                    raise server_error(f"{exc.kind} {exc.key} was changed by other engines {attempt} times "
                                       "during this change; nothing was written, try again") from exc
            if attempt > 2:  # a close race keeps repeating: step aside for a moment, randomly
                await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2 ** attempt)))
            attempt += 1

    # ---------------------------------------------------------------------------------------- reference data

    async def get_actions(self, actions_id: str) -> list[Action]:
        raw = await self.dm.get(ACTIONS, actions_id)
        if raw is None:
            raise ActionError(f"actions {actions_id!r} not found (define them with APIerSv1.SetActions or Actions.csv)")
        acts = [Action.from_dict(a) for a in raw]
        # higher weights first, the file's order otherwise
        return sorted(acts, key=lambda a: -a.Weight)

    async def get_shared_group(self, sg_id: str) -> SharedGroup | None:
        raw = await self.dm.get(SHARED_GROUP, sg_id)
        return None if raw is None else SharedGroup.from_dict(raw)

    async def prefixes_for(self, number: str) -> PrefixDestinations:
        """Destination IDs by prefix of ``number``, longest prefix first (the rating engine's reverse index)."""
        if not number:
            return []
        return await self.rater.reverse_destinations(number)

    async def account_plan_ids(self, key: str, tx: Transaction | None = None) -> list[str]:
        """The action plans an account is on; inside a change (``tx``) read as stored and expected unchanged."""
        if tx is not None:
            return list(await tx.read(ACCOUNT_ACTION_PLANS, key) or [])
        return list(await self.dm.get(ACCOUNT_ACTION_PLANS, key) or [])

    async def plan_ops_removing_account(self, tx: Transaction, key: str) -> list[BatchOp]:
        """Batch operations that detach an account from its action plans (the plans read as ``tx`` reads)."""
        from pycgrates.engine.models.account import ActionPlan

        ops: list[BatchOp] = []
        for plan_id in await self.account_plan_ids(key, tx):
            raw = await tx.read(ACTION_PLAN, plan_id)
            if raw is None:
                continue
            plan = ActionPlan.from_dict(raw)
            if plan.AccountIDs.pop(key, None) is not None:
                ops.append(("set", ACTION_PLAN, plan_id, plan.to_dict()))
        ops.append(("remove", ACCOUNT_ACTION_PLANS, key, None))
        return ops

    # ---------------------------------------------------------------------------------------- actions

    async def execute(self, tx: Transaction, acc: Account | None, actions: list[Action], extra: Any = None) -> None:
        """Run an action list on one account inside ``tx``; the first failing action aborts (raises)."""
        from pycgrates.engine.accounts.actions import run_actions

        await run_actions(tx, acc, actions, extra)

    async def execute_on_account(self, key: str | None, actions_id: str, *, create: bool = False,
                                 extra_ops: list[BatchOp] | None = None, extra: Any = None,
                                 unless: Callable[[Transaction], Awaitable[bool]] | None = None) -> None:
        """Run the actions ``actions_id`` on an account as one transaction (what ExecuteAction and plans do);
        ``extra`` is what made them run (ThresholdS's event), which actions such as ``*log`` and ``*http_post``
        carry when there is no account. ``unless(tx)`` is asked inside the transaction first: True → nothing is
        done (the scheduler's "this slot already ran", read with ``tx.read`` so that two engines sharing the
        DataDB cannot both find it not done and both run it)."""
        actions = await self.get_actions(actions_id)
        if key is None:

            async def without_account(tx: Transaction) -> None:
                if unless is not None and await unless(tx):
                    return
                await self.execute(tx, None, actions, extra)
                tx.extra_ops.extend(extra_ops or [])

            await self.atomic(without_account)
            return

        async def on_account(tx: Transaction) -> None:
            if unless is not None and await unless(tx):
                return
            acc = await tx.load(key)
            if acc is None:
                if not create:
                    from pycgrates.engine.rpc.errors import ACCOUNT_NOT_FOUND

                    raise ActionError(ACCOUNT_NOT_FOUND)
                tenant, _, name = key.partition(":")
                acc = Account(Tenant=tenant, Account=name)
                tx.put(acc)
            await self.execute(tx, acc, actions, extra)
            if tx.accounts.get(key) is not None and key not in tx.removed:
                tx.changed.add(key)
            tx.extra_ops.extend(extra_ops or [])

        await self.atomic(on_account, key)

    # ---------------------------------------------------------------------------------------- counters

    def init_counters(self, acc: Account) -> None:
        """Rebuild the account's unit counters from its counter triggers, keeping counted values."""
        old = acc.UnitCounters
        fresh: dict[str, list[UnitCounter]] = {}
        by_kind: dict[str, UnitCounter] = {}
        for at in acc.ActionTriggers:
            if "counter" not in at.ThresholdType:
                continue
            ct = COUNTER_BALANCE if "balance" in at.ThresholdType else COUNTER_EVENT
            btype = at.Balance.get_type()
            uc = by_kind.get(btype + ct)
            if uc is None:
                uc = by_kind[btype + ct] = UnitCounter(CounterType=ct)
                fresh.setdefault(btype, []).append(uc)
            flt = counter_filter_of(at)
            if not any(_filters_equal(c.Filter, flt) for c in uc.Counters):
                uc.Counters.append(CounterFilter(Filter=flt))
        for btype, ucs in fresh.items():
            for uc in ucs:
                for old_uc in old.get(btype, []):
                    if old_uc.CounterType != uc.CounterType:
                        continue
                    for c in uc.Counters:
                        for oc in old_uc.Counters:
                            if _filters_equal(c.Filter, oc.Filter):
                                c.Value = oc.Value
        acc.UnitCounters = fresh

    async def count_units(self, tx: Transaction, acc: Account, amount: Decimal, kind: str,
                          event: dict | None, b: Balance | None) -> None:
        """Add ``amount`` to the counters of ``kind`` matching the charge (event) or the balance."""
        ucs = acc.UnitCounters.get(kind)
        if not ucs:
            return
        prefixes: PrefixDestinations | None = None
        for uc in ucs:
            for c in uc.Counters:
                if uc.CounterType == COUNTER_EVENT and event is not None:
                    if prefixes is None:
                        prefixes = await self.prefixes_for(event.get("Destination", ""))
                    if _match_event(c.Filter, event, prefixes):
                        c.Value = round_value(c.Value + amount, self.rounding_decimals)
                        tx.changed.add(acc.key)
                elif uc.CounterType == COUNTER_BALANCE and b is not None and match_filter(b, c.Filter, skip_ids=True):
                    c.Value = round_value(c.Value + amount, self.rounding_decimals)
                    tx.changed.add(acc.key)

    # ---------------------------------------------------------------------------------------- triggers

    async def run_triggers(self, tx: Transaction, acc: Account, action: Action | None = None) -> None:
        """CGRateS's ExecuteActionTriggers: fire the triggers whose threshold the account has crossed."""
        if acc.key in tx._in_triggers or acc.key in tx.removed:
            return
        tx._in_triggers.add(acc.key)
        try:
            now = tx.now
            acc.ActionTriggers.sort(key=lambda t: -t.Weight)
            for at in list(acc.ActionTriggers):
                if at.is_expired(now) or not at.is_active(now) or at.Executed:
                    continue
                if "counter" not in at.ThresholdType and "balance" not in at.ThresholdType:
                    continue
                if not trigger_matches_action(at, action):
                    continue
                if "counter" in at.ThresholdType:
                    flt = counter_filter_of(at)
                    for uc in (u for ucs in acc.UnitCounters.values() for u in ucs):
                        if uc.CounterType[1:] not in at.ThresholdType:
                            continue
                        for c in uc.Counters:
                            if not _filters_equal(c.Filter, flt):
                                continue
                            if at.ThresholdType.startswith("*max") and c.Value >= at.ThresholdValue:
                                await self.fire_trigger(tx, acc, at)
                            elif at.ThresholdType.startswith("*min") and c.Value <= at.ThresholdValue:
                                await self.fire_trigger(tx, acc, at)
                    continue
                for b in list(acc.BalanceMap.get(at.Balance.get_type(), [])):
                    if at.ThresholdType != "*balance_expired" and b.Uuid not in tx.dirty:
                        continue
                    if not hard_match_filter(b, at.Balance):
                        continue
                    if at.ThresholdType == "*max_balance" and b.Value >= at.ThresholdValue:
                        await self.fire_trigger(tx, acc, at)
                    elif at.ThresholdType == "*min_balance" and b.Value <= at.ThresholdValue:
                        await self.fire_trigger(tx, acc, at)
                    elif at.ThresholdType == "*balance_expired" and b.is_expired_at(now):
                        await self.fire_trigger(tx, acc, at)
            self.clean_expired(acc, now)
        finally:
            tx._in_triggers.discard(acc.key)

    async def fire_trigger(self, tx: Transaction, acc: Account, at: ActionTrigger) -> None:
        """CGRateS's ActionTrigger.Execute, inside the transaction that crossed the threshold."""
        now = tx.now
        if at.Executed:
            return
        if at.Recurrent and at.LastExecutionTime is not None and at.MinSleep > 0 \
                and now - at.LastExecutionTime < timedelta(microseconds=at.MinSleep / 1000):
            return
        at.LastExecutionTime = now
        tx.changed.add(acc.key)
        if acc.Disabled:
            log.warning("account %s is disabled; trigger %s (%s) not fired", acc.key, at.ID, at.UniqueID)
            return
        try:
            actions = await self.get_actions(at.ActionsID)
        except ActionError as exc:
            log.error("trigger %s of account %s: %s", at.ID, acc.key, exc)
            return
        at.Executed = True
        log.info("account %s: trigger %s %s %s fired actions %s", acc.key, at.ID, at.ThresholdType,
                 at.ThresholdValue, at.ActionsID)
        from pycgrates.engine.accounts.actions import run_actions

        try:
            await run_actions(tx, acc, actions, None, from_trigger=True)
        except Exception as exc:  # a failing trigger action must not undo the change that crossed the threshold
            log.error("trigger %s of account %s: action failed: %s", at.ID, acc.key, exc)
        if at.Recurrent:
            at.Executed = False

    def reset_triggers(self, acc: Account, action: Action | None) -> None:
        for at in acc.ActionTriggers:
            if trigger_matches_action(at, action):
                at.Executed = False

    def clean_expired(self, acc: Account, now: datetime) -> None:
        if self.remove_expired:
            for btype, chain in acc.BalanceMap.items():
                kept = [b for b in chain if not b.is_expired_at(now)]
                if len(kept) != len(chain):
                    acc.BalanceMap[btype] = kept
        acc.ActionTriggers = [at for at in acc.ActionTriggers if not at.is_expired(now)]

    def default_money_balance(self, tx: Transaction, acc: Account) -> Balance:
        for b in acc.BalanceMap.get(MONETARY, []):
            if b.is_default():
                return b
        b = Balance(Uuid=new_uuid(), ID=DEFAULT_BALANCE_ID)
        acc.BalanceMap.setdefault(MONETARY, []).append(b)
        tx.changed.add(acc.key)
        return b


# -------------------------------------------------------------------------------------------- helpers


def counter_filter_of(at: ActionTrigger) -> BalanceFilter:
    flt = at.Balance.clone()
    if not flt.ID and at.UniqueID:
        flt.ID = at.UniqueID
    return flt


def _filters_equal(a: BalanceFilter, b: BalanceFilter) -> bool:
    return a.to_dict(storage=True) == b.to_dict(storage=True)


def _match_event(f: BalanceFilter, event: dict, prefixes: PrefixDestinations) -> bool:
    """Whether an event counter's filter covers a charge (category and destination)."""
    if f.Categories and not f.Categories.get(event.get("Category", ""), False):
        return False
    if f.DestinationIDs and not f.DestinationIDs.get(ANY, False):
        ids = {d for _, ds in prefixes for d in ds}
        if not any(incl and d in ids for d, incl in f.DestinationIDs.items()):
            return False
    return True


def trigger_matches_action(at: ActionTrigger, a: Action | None) -> bool:
    """CGRateS's ActionTrigger.Match: which triggers an action (reset/set recurrent...) addresses."""
    if a is None or a.Balance is None:
        return True
    if a.Balance.Type and a.Balance.Type != at.Balance.get_type():
        return False
    threshold_ok = True
    if a.ExtraParameters:
        import json

        try:
            t = json.loads(a.ExtraParameters)
        except ValueError:
            t = {}
        if isinstance(t, dict):
            if t.get("GroupID"):
                return at.ID == t["GroupID"]
            if t.get("UniqueID"):
                return at.UniqueID == t["UniqueID"]
            threshold_ok = not t.get("ThresholdType") or at.ThresholdType == t["ThresholdType"]
    return threshold_ok and match_filter(at.Balance.create_balance(), a.Balance)
