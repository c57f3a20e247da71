"""Debiting calls from accounts (CGRateS's debitCreditBalance, MaxDebit, GetMaxSessionDuration).

The order is CGRateS's: the unit balances of the call's ToR that apply (destination, category, timing; best
precision, then weight first) are spent first, each priced by its RatingSubject — ``*zero<step>`` subjects (and
balances without one: ``rals.balance_rating_subject``) are free units in steps of that size, other subjects are
rated and their cost paid by the monetary balances; then the monetary balances pay what is left at the standard
rates; a balance in a shared group stands for all the group's balances, ordered by the group's strategy. Both
passes repeat while they make progress. What no balance covers is rated once more and either goes on the
default monetary balance (negative allowed) or is left uncovered.

Increments are walked in compressed chunks: a chunk of N equal steps is paid in bulk by one balance, or split
where the balance runs out, so a long call or a large data volume costs a few operations, not one per step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal
from typing import Any

from pycgrates.engine.accounts.accounting import Accounting, Transaction
from pycgrates.engine.accounts.balances import balances_for, matching_destination_id, round_value, timing_active
from pycgrates.engine.accounts.publish import balance_values, publish_after_commit
from pycgrates.engine.models.account import (
    DEFAULT_BALANCE_ID,
    MONETARY,
    STRATEGY_HIGHEST,
    STRATEGY_LOWEST,
    STRATEGY_MINE_HIGHEST,
    STRATEGY_MINE_LOWEST,
    Account,
    Balance,
    num_json,
)
from pycgrates.engine.models.tariffplan import MAX_COST_DISCONNECT
from pycgrates.engine.rating import (
    CallCost,
    CallDescriptor,
    RatingError,
    get_cost,
    parse_zero_rating_subject,
    zero_cost,
)
from pycgrates.engine.rating import timings as rtm
from pycgrates.engine.rating.callcost import accounting_map
from pycgrates.engine.rating.timespans import Increment, TimeSpan, compress_increments, max_cost
from pycgrates.engine.rpc.errors import (
    AccountDisabled,
    AccountNotFound,
    InsufficientCredit,
    MaxUsageExceeded,
    error_from_message,
    server_error,
)
from pycgrates.engine.storage.base import RALS_JOURNAL

log = logging.getLogger("cgr.accounts")

ZERO = Decimal(0)

#: SessionS's journal: a record of each accounting call made for a session (its CallDescriptor's ``journal_key``),
#: written in the same batch as the account change, so a session restored after a crash knows every acknowledged
#: debit; a repeated call with a key already journaled is answered from the journal instead of charging twice.
JOURNAL_KIND = RALS_JOURNAL


@dataclass(slots=True)
class DebitInfo:
    """Which balance paid an increment (CGRateS's DebitInfo): units, money, and whose account."""

    Unit: dict | None = None
    Monetary: dict | None = None
    AccountID: str = ""

    def to_json(self) -> dict:
        return {"Unit": self.Unit, "Monetary": self.Monetary, "AccountID": self.AccountID}


@dataclass(slots=True)
class BalanceRef:
    balance: Balance
    owner: Account
    #: the rating subject a shared group gives its balances (used when the balance has none)
    group_subject: str = ""


@dataclass
class DebitResult:
    cc: CallCost
    #: usage (ns) not covered by any balance nor put on the default balance
    uncovered: int = 0
    #: some increment went on a balance that could not pay it (negative)
    went_negative: bool = False
    accounts: dict[str, Account] = field(default_factory=dict)


class _Retry(Exception):
    """The shared-group members changed between reading and locking the account."""


# ------------------------------------------------------------------------------------------------ balances


async def _group_balances(run: DebitRun, acc: Account, b: Balance, btype: str) -> list[BalanceRef]:
    out: list[BalanceRef] = []
    for sg_id in b.SharedGroups:
        sg = await run.accounting.get_shared_group(sg_id)
        if sg is None:
            log.warning("account %s: shared group %s is not defined", acc.key, sg_id)
            continue
        params = sg.parameters_for(acc.key)
        found: list[BalanceRef] = []
        for member in sg.MemberIds:
            owner = acc if member == acc.key else run.accounts.get(member)
            if owner is None or owner.Disabled:
                continue
            for mb in balances_for(owner, btype, run.cd.Category, run.at, run.prefixes, shared_group=sg_id):
                found.append(BalanceRef(mb, owner, params.RatingSubject if params else ""))
        strategy = (params.Strategy if params else "") or "*mine_random"
        if strategy in (STRATEGY_LOWEST, STRATEGY_MINE_LOWEST):
            found.sort(key=lambda r: r.balance.Value)
        elif strategy in (STRATEGY_HIGHEST, STRATEGY_MINE_HIGHEST):
            found.sort(key=lambda r: -r.balance.Value)
        else:
            import random

            random.shuffle(found)
        if strategy.startswith("*mine_"):
            mine = [r for r in found if r.balance is b]
            found = mine + [r for r in found if r.balance is not b]
        out.extend(found)
    return out


async def _useful_balances(run: DebitRun, acc: Account, btype: str) -> list[BalanceRef]:
    """The balances that may pay, shared groups expanded (CGRateS getAlldBalancesForPrefix)."""
    out: list[BalanceRef] = []
    seen: set[int] = set()
    for b in balances_for(acc, btype, run.cd.Category, run.at, run.prefixes):
        refs = await _group_balances(run, acc, b, btype) if b.SharedGroups else [BalanceRef(b, acc)]
        for r in refs:
            if id(r.balance) not in seen:
                seen.add(id(r.balance))
                out.append(r)
    return out


async def shared_members(accounting: Accounting, acc: Account, cd: CallDescriptor, prefixes: list,
                         at: datetime) -> set[str]:
    """Accounts sharing balances with ``acc`` for this call (they are locked with it)."""
    members: set[str] = set()
    for btype in (MONETARY, cd.ToR):
        for b in balances_for(acc, btype, cd.Category, at, prefixes):
            for sg_id in b.SharedGroups:
                sg = await accounting.get_shared_group(sg_id)
                if sg is not None:
                    members.update(sg.MemberIds)
    members.discard(acc.key)
    return members


# ------------------------------------------------------------------------------------------------ the run


class DebitRun:
    """One debit (or dry run) of a call descriptor on an account and the accounts sharing with it."""

    def __init__(self, accounting: Accounting, acc: Account, cd: CallDescriptor, accounts: dict[str, Account],
                 prefixes: list, *, dry_run: bool, go_negative: bool) -> None:
        self.accounting = accounting
        self.rater = accounting.rater
        self.acc = acc
        self.cd = cd
        self.accounts = accounts
        self.prefixes = prefixes
        self.dry_run = dry_run
        self.go_negative = go_negative
        self.count = not dry_run
        self.at = rtm.to_datetime(cd.TimeStart, cd.tz)
        self.decimals = accounting.rounding_decimals
        self.touched: dict[str, set[str]] = {}
        #: the balances' values before the debit (for the AccountUpdate events of the accounts it changes)
        self.initial: dict[str, Decimal] = {} if dry_run else \
            {u: v for a in accounts.values() for u, v in balance_values(a).items()}
        self.went_negative = False
        self.counted: list[tuple[Account, Decimal, str, Balance | None]] = []
        self.event = {"Destination": cd.Destination, "Category": cd.Category}

    # -------------------------------------------------------------------------------- helpers

    def _take(self, owner: Account, b: Balance, amount: Decimal) -> None:
        b.Value = round_value(b.Value - amount, self.decimals)
        if not b.Uuid:
            from pycgrates.engine.accounts.accounting import new_uuid

            b.Uuid = new_uuid()
        self.touched.setdefault(owner.key, set()).add(b.Uuid)

    def _count(self, owner: Account, amount: Decimal, kind: str, b: Balance | None) -> None:
        if self.count and amount:
            self.counted.append((owner, amount, kind, b))

    def _default(self, owner: Account) -> Balance:
        for b in owner.BalanceMap.get(MONETARY, []):
            if b.is_default():
                return b
        from pycgrates.engine.accounts.accounting import new_uuid

        b = Balance(Uuid=new_uuid(), ID=DEFAULT_BALANCE_ID)
        owner.BalanceMap.setdefault(MONETARY, []).append(b)
        self.touched.setdefault(owner.key, set()).add(b.Uuid)
        return b

    async def _rate(self, cd: CallDescriptor, subject: str) -> CallCost:
        sub = cd.clone()
        if subject and not subject.startswith("*zero"):
            sub.Subject = subject
            sub.Account = subject
        return await get_cost(self.rater, sub)

    @staticmethod
    def _monetary(b: Balance) -> dict:
        return {"UUID": b.Uuid, "ID": b.ID, "Value": num_json(b.Value), "RateInterval": None}

    def _unit(self, b: Balance, consumed: Decimal, dest_id: str) -> dict:
        return {"UUID": b.Uuid, "ID": b.ID, "Value": num_json(b.Value), "DestinationID": dest_id,
                "Consumed": num_json(consumed), "ToR": self.cd.ToR, "RateInterval": None}

    def _units_for(self, b: Balance, duration: int) -> Decimal:
        amount = Decimal(duration)
        factor = b.Factor.get(self.cd.ToR) if b.Factor else None
        if factor:
            amount = (amount / Decimal(repr(factor))).quantize(Decimal(1).scaleb(-self.decimals),
                                                               rounding=ROUND_CEILING)
        return amount

    def _cap_steps(self, ts: TimeSpan, cost: Decimal, steps: int) -> tuple[int, bool]:
        """Steps payable before a *disconnect MaxCost is reached (dry runs stop there)."""
        cap, strategy = max_cost(ts.rate_interval)
        if strategy != MAX_COST_DISCONNECT or cap <= 0 or cost <= 0:
            return steps, False
        so_far = self.cd.MaxCostSoFar
        if so_far >= cap:
            return 0, True
        allowed = int(((cap - so_far) / cost).to_integral_value(rounding=ROUND_CEILING))
        return (steps, False) if allowed >= steps else (allowed, True)

    # -------------------------------------------------------------------------------- paying a CallCost

    def _walk(self, cc: CallCost, pay) -> CallCost | None:
        """Pay ``cc``'s increments chunk by chunk with ``pay(ts, inc, steps) -> (paid, info)``; cut where it stops."""
        for ts_index, ts in enumerate(cc.Timespans):
            paid: list[Increment] = []
            for inc_index, inc in enumerate(ts.increments):
                remaining = inc.compress_factor
                while remaining:
                    k, info = pay(ts, inc, remaining)
                    if k <= 0:
                        rest = [inc.clone(remaining), *ts.increments[inc_index + 1:]]
                        return self._cut(cc, ts_index, paid, rest)
                    chunk = inc.clone(k)
                    chunk.balance_info = info
                    chunk.paid = True
                    paid.append(chunk)
                    remaining -= k
            ts.increments = compress_increments(paid)
            ts.cost = ts.calculate_cost()
        return cc if cc.Timespans else None

    @staticmethod
    def _cut(cc: CallCost, ts_index: int, paid: list[Increment], rest: list[Increment]) -> CallCost | None:
        steps = sum(i.compress_factor for i in paid)
        ts = cc.Timespans[ts_index]
        if steps == 0:
            del cc.Timespans[ts_index:]
        else:
            ts.increments = paid + rest
            ts.split_by_increment(steps)
            ts.increments = compress_increments(ts.increments)
            ts.cost = ts.calculate_cost()
            del cc.Timespans[ts_index + 1:]
        return cc if cc.Timespans else None

    # -------------------------------------------------------------------------------- balances

    async def debit_money(self, ref: BalanceRef, cd: CallDescriptor) -> CallCost | None:
        b, owner = ref.balance, ref.owner
        if not timing_active(b.Timings, self.at) or b.Value <= 0:
            return None
        cc = await self._rate(cd, b.RatingSubject or ref.group_subject)

        def pay(ts: TimeSpan, inc: Increment, steps: int) -> tuple[int, Any]:
            cost = inc.cost
            if self.dry_run:
                steps, capped = self._cap_steps(ts, cost, steps)
                if capped:
                    cc.max_cost_disconnect = True
            k = steps if cost <= 0 else min(steps, int(b.Value // cost))
            if k <= 0:
                return 0, None
            total = cost * k
            if total:
                self._take(owner, b, total)
                self.cd.MaxCostSoFar += total
                self._count(owner, total, MONETARY, b)
            return k, DebitInfo(Monetary=self._monetary(b), AccountID=owner.key)

        return self._walk(cc, pay)

    async def debit_units(self, ref: BalanceRef, cd: CallDescriptor, money: list[BalanceRef]) -> CallCost | None:
        b, owner = ref.balance, ref.owner
        if not timing_active(b.Timings, self.at) or b.Value <= 0:
            return None
        subject = b.RatingSubject or ref.group_subject
        step = parse_zero_rating_subject(cd.ToR, subject, self.rater.balance_rating_subject)
        prefix, dest_id = matching_destination_id(b, self.prefixes, cd.Destination)
        if step is not None:
            cc = zero_cost(cd.clone(), step, b.Uuid, prefix, dest_id)

            def pay_free(ts: TimeSpan, inc: Increment, steps: int) -> tuple[int, Any]:
                amount = self._units_for(b, inc.duration)
                k = steps if amount <= 0 else min(steps, int(b.Value // amount))
                if k <= 0:
                    return 0, None
                self._take(owner, b, amount * k)
                self._count(owner, amount * k, cd.ToR, b)
                return k, DebitInfo(Unit=self._unit(b, amount, cd.Destination), AccountID=owner.key)

            return self._walk(cc, pay_free)

        cc = await self._rate(cd, subject)

        def pay(ts: TimeSpan, inc: Increment, steps: int) -> tuple[int, Any]:
            amount = self._units_for(b, inc.duration)
            cost = inc.cost
            if self.dry_run:
                steps, capped = self._cap_steps(ts, cost, steps)
                if capped:
                    cc.max_cost_disconnect = True
            k = steps if amount <= 0 else min(steps, int(b.Value // amount))
            if k <= 0:
                return 0, None
            mb: Balance | None = None
            mb_owner = owner
            if cost > 0:
                for r in money:
                    if r.balance.Value >= cost:
                        mb, mb_owner = r.balance, r.owner
                        k = min(k, int(r.balance.Value // cost))
                        break
                if mb is None:
                    if self.dry_run and not owner.AllowNegative:
                        return 0, None
                    mb, mb_owner = self._default(owner), owner
                    self.went_negative = True
            self._take(owner, b, amount * k)
            self._count(owner, amount * k, cd.ToR, b)
            info = DebitInfo(Unit=self._unit(b, amount, cd.Destination), AccountID=owner.key)
            if mb is not None:
                self._take(mb_owner, mb, cost * k)
                self.cd.MaxCostSoFar += cost * k
                self._count(mb_owner, cost * k, MONETARY, mb)
                info.Monetary = self._monetary(mb)
            return k, info

        return self._walk(cc, pay)

    # -------------------------------------------------------------------------------- the whole call

    async def run(self) -> DebitResult:
        cd = self.cd
        acc = self.acc
        units = await _useful_balances(self, acc, cd.ToR) if cd.ToR != MONETARY else []
        money = await _useful_balances(self, acc, MONETARY)
        cc = cd.create_call_cost()
        requested_end = cd.TimeEnd

        def advance(part: CallCost) -> bool:
            cc.Timespans.extend(part.Timespans)
            end = cc.get_end_time()
            if end is not None:
                cd.TimeStart = end
            cd.LoopIndex = 1  # the connect fee is charged once
            return cd.get_duration() <= 0

        done = cd.get_duration() <= 0
        progress = True
        while progress and not done:
            progress = False
            again = True
            while again and not done:
                again = False
                for ref in units:
                    part = await self.debit_units(ref, cd, money)
                    if part is not None:
                        if advance(part):
                            done = True
                            break
                        again = progress = True
                    if self.dry_run and ref.balance.Blocker:
                        return self._result(cc, requested_end)
            again = True
            while again and not done:
                again = False
                for ref in money:
                    part = await self.debit_money(ref, cd)
                    if part is not None:
                        if advance(part):
                            done = True
                            break
                        again = progress = True
                    if self.dry_run and ref.balance.Blocker:
                        return self._result(cc, requested_end)
        if not done:
            left = await get_cost(self.rater, cd.clone())
            if left.Cost == 0 and left.Timespans:
                for ts in left.Timespans:
                    for inc in ts.increments:
                        inc.balance_info = DebitInfo(AccountID=acc.key)
                        inc.paid = True
                advance(left)
            elif left.Cost > 0 and self.go_negative:
                self._on_default(acc, left, money)
                advance(left)
        return self._result(cc, requested_end)

    def _on_default(self, acc: Account, left: CallCost, money: list[BalanceRef]) -> None:
        """What no balance covered goes on the default balance (the connect fee on the first that can pay it)."""
        default = self._default(acc)
        for ts_index, ts in enumerate(left.Timespans):
            out: list[Increment] = []
            for inc_index, inc in enumerate(ts.increments):
                payer, payer_owner = default, acc
                if ts_index == 0 and inc_index == 0 and inc.duration == 0 and inc.cost > 0:
                    for r in money:
                        if r.balance.Value >= inc.cost:
                            payer, payer_owner = r.balance, r.owner
                            break
                total = inc.cost * inc.compress_factor
                self._take(payer_owner, payer, total)
                self._count(payer_owner, total, MONETARY, payer)
                if payer.Value < 0:
                    self.went_negative = True
                chunk = inc.clone()
                chunk.balance_info = DebitInfo(Monetary=self._monetary(payer), AccountID=payer_owner.key)
                chunk.paid = True
                out.append(chunk)
            ts.increments = compress_increments(out)

    def _result(self, cc: CallCost, requested_end: int) -> DebitResult:
        end = cc.get_end_time()
        uncovered = max(0, requested_end - (end if end is not None else self.cd.TimeStart))
        total = ZERO
        for ts in cc.Timespans:
            ts.cost = ts.calculate_cost()
            total += ts.cost
        cc.Cost = round_value(total, self.decimals) if total else ZERO
        cc.update_rated_usage()
        return DebitResult(cc, uncovered, self.went_negative)


# ------------------------------------------------------------------------------------------------ entry points


async def _finish(tx: Transaction, run: DebitRun) -> None:
    """Counters, dirty marks and triggers of a real debit, inside its transaction; each account it changed is
    published to ThresholdS and StatS once written (CGRateS's SaveDirtyBalances)."""
    accounting = run.accounting
    for owner, amount, kind, b in run.counted:
        await accounting.count_units(tx, owner, amount, kind, run.event, b)
    for key, uuids in run.touched.items():
        owner = run.accounts[key]
        tx.put(owner)
        tx.dirty.update(uuids)
    for key in list(run.touched):
        await accounting.run_triggers(tx, run.accounts[key])
    for key in run.touched:
        if key not in tx.removed:
            publish_after_commit(tx, run.accounts[key], run.initial)


def account_summary(acc: Account, initial: dict[str, Decimal]) -> dict:
    return {
        "Tenant": acc.Tenant,
        "ID": acc.Account,
        "BalanceSummaries": [
            {"UUID": b.Uuid, "ID": b.ID, "Type": btype, "Initial": num_json(initial.get(b.Uuid, b.Value)),
             "Value": num_json(b.Value), "Disabled": b.Disabled}
            for btype, chain in acc.BalanceMap.items() for b in chain
        ],
        "AllowNegative": acc.AllowNegative,
        "Disabled": acc.Disabled,
    }


async def _with_accounts(accounting: Accounting, cd: CallDescriptor, fn, *, lock: bool = True) -> Any:
    """Lock the account and the accounts sharing balances with it for this call, then run ``fn(tx, acc, accs)``."""
    key = cd.account_key()
    prefixes = await accounting.prefixes_for(cd.Destination)
    at = rtm.to_datetime(cd.TimeStart, cd.tz)
    # lock the account alone first; when it shares balances, start again holding every member (sorted locks)
    members: set[str] = set()

    async def change(tx: Transaction) -> Any:
        acc = await tx.load(key)
        if acc is None:
            raise AccountNotFound()
        if acc.Disabled:
            raise AccountDisabled()
        now_members = await shared_members(accounting, acc, cd, prefixes, at)
        if not now_members <= members:
            members.update(now_members)
            raise _Retry
        accounts = {key: acc}
        for m in sorted(members):
            other = await tx.load(m)
            if other is not None:
                accounts[m] = other
        return await fn(tx, acc, accounts, prefixes)

    for _ in range(5):
        try:
            return await accounting.atomic(change, key, *members, from_debit=True)
        except _Retry:
            continue
    raise server_error("shared group members kept changing during the debit")


def _check_usage(accounting: Accounting, cd: CallDescriptor) -> None:
    if not accounting.rater.usage_allowed(cd.ToR, cd.get_duration()):
        raise MaxUsageExceeded()


async def _max_usage(accounting: Accounting, acc: Account, accounts: dict[str, Account], cd: CallDescriptor,
                     prefixes: list) -> int:
    """CGRateS getMaxSessionDuration on copies of the accounts: -1 when the account may go negative."""
    if acc.AllowNegative:
        return -1
    copies = {k: a.clone() for k, a in accounts.items()}
    dry = cd.clone()
    if dry.DurationIndex < dry.get_duration():
        dry.DurationIndex = dry.get_duration()
    initial = dry.get_duration()
    run = DebitRun(accounting, copies[acc.key], dry, copies, prefixes, dry_run=True, go_negative=False)
    try:
        res = await run.run()
    except RatingError as exc:
        raise error_from_message(exc.code) from exc
    total = 0
    for ts in res.cc.Timespans:
        if cd.MaxRate > 0 and cd.MaxRateUnit > 0 and ts.rate_interval is not None:
            price, _, unit = ts.rate_parameters()
            if price / unit > cd.MaxRate / cd.MaxRateUnit:
                return min(initial, total)
        for inc in ts.increments:
            total += inc.duration * inc.compress_factor
            if total >= initial:
                return initial
    return min(initial, total)


async def max_session_time(accounting: Accounting, cd: CallDescriptor) -> int:
    """The usage (ns) the account's balances allow for ``cd``, -1 when it may go negative (nothing debited)."""
    _check_usage(accounting, cd)

    async def fn(tx: Transaction, acc: Account, accounts: dict[str, Account], prefixes: list) -> int:
        return await _max_usage(accounting, acc, accounts, cd, prefixes)

    return await _with_accounts(accounting, cd, fn)


async def debit(accounting: Accounting, cd: CallDescriptor, *, max_debit: bool = False,
                negative_ok: bool | None = None, dry_run: bool = False,
                journal: tuple[str, str] | None = None) -> CallCost:
    """Debit ``cd`` from its account (and shared groups) as one atomic change.

    ``max_debit``: debit as much of the usage as the balances allow (CGRateS MaxDebit; ``ForceDuration`` makes a
    shortfall INSUFFICIENT_CREDIT). Otherwise the whole usage is debited; what the balances cannot pay goes on the
    default balance when negative is allowed (the account's AllowNegative, or ``negative_ok``), else the debit
    fails with INSUFFICIENT_CREDIT and nothing changes. ``journal``: (key, method) of SessionS's journal record.
    """
    _check_usage(accounting, cd)
    asked = cd

    async def fn(tx: Transaction, acc: Account, accounts: dict[str, Account], prefixes: list) -> CallCost:
        cd = asked.clone()  # shortened below for a max debit: each run of the change starts from the request
        if journal and not dry_run:
            done = await tx.read(JOURNAL_KIND, journal[0])
            if done is not None:
                raise Replayed(done)
        initial = balance_values(acc)
        neg = acc.AllowNegative or bool(negative_ok)
        if cd.DurationIndex < cd.get_duration():
            cd.DurationIndex = cd.get_duration()
        if max_debit:
            remaining = await _max_usage(accounting, acc, accounts, cd, prefixes)
            if cd.ForceDuration and not acc.AllowNegative and remaining < cd.get_duration():
                raise InsufficientCredit()
            if remaining == 0:
                cc = cd.create_call_cost()
                cc.AccountSummary = account_summary(acc, initial)
                return cc
            if remaining > 0:
                initial_duration = cd.get_duration()
                cd.TimeEnd = cd.TimeStart + remaining
                cd.DurationIndex -= initial_duration - remaining
        run = DebitRun(accounting, acc, cd, accounts, prefixes, dry_run=dry_run, go_negative=True)
        try:
            res = await run.run()
        except RatingError as exc:
            raise error_from_message(exc.code) from exc
        if not max_debit and not neg and (res.went_negative or res.uncovered > 0):
            raise InsufficientCredit()
        if cd.PerformRounding:
            _round_cost(run, res.cc)
        if not dry_run:
            await _finish(tx, run)
        else:
            raise _DryRunDone(res.cc, account_summary(acc, initial))
        res.cc.AccountSummary = account_summary(acc, initial)
        res.cc.compress()
        if journal:
            tx.extra_ops.append(("set", JOURNAL_KIND, journal[0], {"Method": journal[1], "Reply": res.cc.to_json()}))
        return res.cc

    try:
        return await _with_accounts(accounting, cd, fn)
    except _DryRunDone as done:
        done.cc.AccountSummary = done.summary
        done.cc.compress()
        return done.cc


def _round_cost(run: DebitRun, cc: CallCost) -> None:
    """Round the call's cost as its rates say (CGRateS PerformRounding) and charge or give back the difference
    on the monetary balance that paid last (else the default balance)."""
    if not cc.Timespans:
        return
    rounded = cc.round_total(cc.Cost)
    diff = rounded - cc.Cost
    if not diff:
        return
    owner, payer = run.acc, None
    for ts in reversed(cc.Timespans):
        for inc in reversed(ts.increments):
            bi = inc.balance_info
            if isinstance(bi, DebitInfo) and bi.Monetary:
                owner = run.accounts.get(bi.AccountID, run.acc)
                payer = find_balance(owner, bi.Monetary["UUID"], MONETARY)
                break
        if payer is not None:
            break
    if payer is None:
        owner, payer = run.acc, run._default(run.acc)
    run._take(owner, payer, diff)
    run._count(owner, diff, MONETARY, payer)
    cc.Cost = rounded


class Replayed(Exception):
    """The call was already made under this journal key: ``record`` is what it did."""

    def __init__(self, record: dict) -> None:
        super().__init__("already journaled")
        self.record = record


class _DryRunDone(Exception):
    """Leaves the transaction without committing (a dry-run debit)."""

    def __init__(self, cc: CallCost, summary: dict) -> None:
        super().__init__("dry run")
        self.cc = cc
        self.summary = summary


def find_balance(acc: Account, uuid: str, tor: str) -> Balance | None:
    """The balance ``uuid`` of ``acc``, looked up among ``tor``'s balances first."""
    for b in acc.BalanceMap.get(tor, []):
        if b.Uuid == uuid:
            return b
    found = acc.find_balance(uuid)
    return found[1] if found else None


def accounting_for(cc: CallCost) -> dict[str, dict]:
    """CGRateS's EventCost ``Accounting`` map for a debited CallCost (see engine.rating.callcost.accounting_map)."""
    return accounting_map(cc)
