"""The action types: what *topup, *debit, *disable_account... do to an account (CGRateS's actionFuncMap).

Each action runs inside a :class:`~engine.accounts.accounting.Transaction` on the account it was given and
raises :class:`ActionError` to abort the whole list (nothing of it is stored, as CGRateS drops the account on a
failed action). Work with outside effects is queued on the transaction and runs after the commit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from pycgrates.engine.accounts.accounting import ActionError, Transaction, new_uuid
from pycgrates.engine.accounts.balances import expiry_from_string, match_filter, modify_balance
from pycgrates.engine.accounts.publish import balance_values, publish_after_commit
from pycgrates.engine.models.account import (
    DEFAULT_BALANCE_ID,
    MONETARY,
    Account,
    Action,
    Balance,
    dec,
    num_json,
    time_to_json,
)

log = logging.getLogger("cgr.actions")

ActionFunc = Callable[[Transaction, "Account | None", Action, list[Action], Any], Awaitable[None]]

#: actions whose balance changes *cdrlog reports
CDRLOG_TYPES = ("*debit", "*debit_reset", "*topup", "*topup_reset", "*set_balance", "*remove_balance",
                "*remove_expired", "*transfer_balance")


def _need(acc: Account | None, a: Action) -> Account:
    if acc is None:
        raise ActionError(f"action {a.ActionType} needs an account (it ran without one)")
    return acc


async def run_actions(tx: Transaction, acc: Account | None, actions: list[Action], extra: Any = None,
                      from_trigger: bool = False) -> None:
    """Run ``actions`` (already sorted by weight) on ``acc``; raises on the first failure."""
    cloned = [a.clone() for a in actions]
    for a in cloned:
        if a.Filter:
            if acc is None or not match_action_filter(acc, a.Filter):
                continue
        given, exp = expiry_from_string(a.ExpirationString, tx.now)
        if given:
            a.Balance.ExpirationDate = exp
            a.Balance.HasExpiration = True
        fn = ACTION_FUNCS.get(a.ActionType)
        if fn is None:
            raise ActionError(f"unsupported action type {a.ActionType!r} in actions {a.Id!r}")
        await fn(tx, acc, a, cloned, extra)
        if acc is not None and acc.key not in tx.removed:
            tx.changed.add(acc.key)


# ------------------------------------------------------------------------------------------------ balances


async def _debit_balance(tx: Transaction, acc: Account, a: Action, amount: Decimal, reset: bool,
                         reset_if_negative: bool = False) -> None:
    """CGRateS's debitBalanceAction: subtract ``amount`` from every balance matching the action's filter,
    creating the balance when none matches. A negative amount tops up."""
    btype = a.Balance.get_type()
    if not btype:
        raise ActionError(f"action {a.ActionType} ({a.Id}) has no BalanceType")
    found = False
    for b in acc.BalanceMap.get(btype, []):
        if b.is_expired_at(tx.now):
            continue
        if match_filter(b, a.Balance):
            if reset or (reset_if_negative and b.Value < 0):
                b.Value = Decimal(0)
            tx.set_value(acc, b, b.Value - amount)
            found = True
            tx.balance_values[id(a)] = b.Value
    if not found:
        nb = a.Balance.create_balance()
        if nb.ID == DEFAULT_BALANCE_ID:
            nb = Balance(ID=DEFAULT_BALANCE_ID)
        nb.Uuid = new_uuid()
        if a.ExtraParameters:
            try:
                factor = json.loads(a.ExtraParameters)
                if isinstance(factor, dict):
                    nb.Factor = {str(k): float(v) for k, v in factor.items()}
            except (ValueError, TypeError):
                log.warning("action %s: ExtraParameters %r is not a value factor map", a.Id, a.ExtraParameters)
        acc.BalanceMap.setdefault(btype, []).append(nb)
        tx.set_value(acc, nb, -amount)
        tx.balance_values[id(a)] = nb.Value
        for sg in nb.SharedGroups:
            tx.add_member(sg, acc.key)
    tx.acc.init_counters(acc)
    await tx.acc.run_triggers(tx, acc)


async def topup(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    await _debit_balance(tx, _need(acc, a), a, -abs(a.Balance.get_value()), reset=False)


async def topup_reset(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    await _debit_balance(tx, _need(acc, a), a, -abs(a.Balance.get_value()), reset=True)


async def debit(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    await _debit_balance(tx, _need(acc, a), a, a.Balance.get_value(), reset=False)


async def debit_reset(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    await _debit_balance(tx, _need(acc, a), a, a.Balance.get_value(), reset=True)


async def topup_zero_negative(tx: Transaction, acc: Account | None, a: Action, acs: list[Action],
                              extra: Any) -> None:
    await _debit_balance(tx, _need(acc, a), a, -abs(a.Balance.get_value()), reset=False, reset_if_negative=True)


async def set_balance(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    """CGRateS's setBalanceAction: find by Uuid or ID (create if absent) and set the given fields."""
    acc = _need(acc, a)
    f = a.Balance
    target: Balance | None = None
    previous_groups: dict[str, bool] = {}
    if f.Uuid:
        for chain in acc.BalanceMap.values():
            target = next((b for b in chain if b.Uuid == f.Uuid and not b.is_expired_at(tx.now)), None)
            if target:
                break
        if target is None:
            raise ActionError(f"cannot find balance with uuid: <{f.Uuid}>")
    else:
        if f.ID:
            for chain in acc.BalanceMap.values():
                target = next((b for b in chain if b.ID == f.ID and not b.is_expired_at(tx.now)), None)
                if target:
                    break
        if target is None:
            if not f.Type:
                raise ActionError("missing balance type (give BalanceType to create the balance)")
            target = Balance(Uuid=new_uuid())
            acc.BalanceMap.setdefault(f.Type, []).append(target)
        else:
            previous_groups = dict(target.SharedGroups)
    if f.ID == DEFAULT_BALANCE_ID:
        if f.Value is not None:
            target.ID = DEFAULT_BALANCE_ID
            tx.set_value(acc, target, f.Value)
    else:
        modify_balance(target, f)
        tx.set_value(acc, target, target.Value)
    tx.balance_values[id(a)] = target.Value
    if target.SharedGroups != previous_groups:
        for sg in target.SharedGroups:
            tx.add_member(sg, acc.key)
    tx.acc.init_counters(acc)
    await tx.acc.run_triggers(tx, acc)


async def remove_balance(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    btype = a.Balance.get_type()
    chain = acc.BalanceMap.get(btype)
    if chain is None:
        raise ActionError("NOT_FOUND")
    kept = [b for b in chain if not match_filter(b, a.Balance)]
    if len(kept) == len(chain):
        raise ActionError("NOT_FOUND")
    tx.removed_balances.setdefault(id(a), []).extend(
        {"UUID": b.Uuid, "ID": b.ID, "Type": btype, "Value": b.Value} for b in chain if b not in kept)
    acc.BalanceMap[btype] = kept


async def remove_expired(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    found = False
    for btype, chain in acc.BalanceMap.items():
        gone = [b for b in chain if b.is_expired_at(tx.now) and match_filter(b, a.Balance)]
        if gone:
            found = True
            acc.BalanceMap[btype] = [b for b in chain if b not in gone]
    if not found:
        raise ActionError("NOT_FOUND")


async def set_expiry(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    for b in acc.BalanceMap.get(a.Balance.get_type(), []):
        if match_filter(b, a.Balance, skip_expiry=True):
            b.ExpirationDate = a.Balance.ExpirationDate
            tx.mark_dirty(acc, b)


async def transfer_monetary_default(tx: Transaction, acc: Account | None, a: Action, acs: list[Action],
                                    extra: Any) -> None:
    acc = _need(acc, a)
    if MONETARY not in acc.BalanceMap:
        raise ActionError("NOT_FOUND")
    default = tx.acc.default_money_balance(tx, acc)
    for b in acc.BalanceMap[MONETARY]:
        if b is not default and b.ID != default.ID and match_filter(b, a.Balance) and b.Value > 0:
            tx.set_value(acc, default, default.Value + b.Value)
            tx.set_value(acc, b, Decimal(0))


async def transfer_balance(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    """Move units from a balance of this account to a balance (of the same type) of another or the same account.

    ExtraParameters: {"DestinationAccountID": "tenant:account", "DestinationBalanceID": "...",
    "DestinationReferenceValue": n (optional: move what brings the destination to n)}.
    """
    src = _need(acc, a)
    if not a.Balance.ID:
        raise ActionError("source balance ID is missing")
    if not a.ExtraParameters:
        raise ActionError("ExtraParameters used to identify the destination balance are missing")
    found = next(((t, b) for t, ch in src.BalanceMap.items() for b in ch if b.ID == a.Balance.ID), None)
    if found is None or found[1].is_expired_at(tx.now):
        raise ActionError("source balance not found or expired")
    btype, sbal = found
    try:
        info = json.loads(a.ExtraParameters)
    except ValueError as exc:
        raise ActionError(f"ExtraParameters {a.ExtraParameters!r} is not JSON") from exc
    dest_key = info.get("DestinationAccountID") or src.key
    dest = src if dest_key == src.key else await tx.load(dest_key)
    if dest is None:
        raise ActionError(f"retrieving destination account failed: ACCOUNT_NOT_FOUND ({dest_key})")
    dbal = next((b for b in dest.BalanceMap.get(btype, []) if b.ID == info.get("DestinationBalanceID")), None)
    if dbal is not None and dbal.is_expired_at(tx.now):
        raise ActionError("destination balance expired")
    if dbal is None:
        dbal = Balance(ID=info.get("DestinationBalanceID") or "", Uuid=new_uuid())
        dest.BalanceMap.setdefault(btype, []).append(dbal)
    units = a.Balance.get_value()
    if info.get("DestinationReferenceValue") is not None:
        units = dec(info["DestinationReferenceValue"]) - dbal.Value
    if units == 0:
        raise ActionError("transfer amount is missing or 0")
    if sbal.ID != DEFAULT_BALANCE_ID and units > sbal.Value:
        raise ActionError(f"insufficient credits in source balance {sbal.ID!r} (account {src.key!r}) "
                          f"for transfer of {units} units")
    if dbal.ID != DEFAULT_BALANCE_ID and -units > dbal.Value:
        raise ActionError(f"insufficient credits in destination balance {dbal.ID!r} (account {dest.key!r}) "
                          f"for transfer of {units} units")
    tx.set_value(src, sbal, sbal.Value - units)
    tx.set_value(dest, dbal, dbal.Value + units)
    tx.balance_values[id(a)] = units
    if dest is not src:
        tx.put(dest)
        tx.acc.init_counters(dest)
        await tx.acc.run_triggers(tx, dest, a)
    tx.acc.init_counters(src)
    await tx.acc.run_triggers(tx, src, a)


# ------------------------------------------------------------------------------------------------ account flags


async def enable_account(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    _need(acc, a).Disabled = False


async def disable_account(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    _need(acc, a).Disabled = True


async def allow_negative(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    _need(acc, a).AllowNegative = True


async def deny_negative(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    _need(acc, a).AllowNegative = False


async def publish_account(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    """The account as it is now to ThresholdS and StatS (CGRateS's publishAccount: every balance's Initial is its
    value), sent once the actions are written."""
    acc = _need(acc, a)
    publish_after_commit(tx, acc, balance_values(acc))


async def reset_account(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    for btype in list(acc.BalanceMap):
        acc.BalanceMap[btype] = [Balance(Uuid=new_uuid())]
    tx.acc.init_counters(acc)
    tx.acc.reset_triggers(acc, None)
    await tx.acc.run_triggers(tx, acc)


async def reset_counters(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    btype = a.Balance.get_type()
    for kind, ucs in acc.UnitCounters.items():
        if btype and kind != btype:
            continue
        for uc in ucs:
            for c in uc.Counters:
                if a.Balance.ID and c.Filter.ID != a.Balance.ID:
                    continue
                c.Value = Decimal(0)


async def reset_triggers(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    acc = _need(acc, a)
    tx.acc.reset_triggers(acc, a)
    await tx.acc.run_triggers(tx, acc, a)


async def set_recurrent(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    from pycgrates.engine.accounts.accounting import trigger_matches_action

    for at in _need(acc, a).ActionTriggers:
        if trigger_matches_action(at, a):
            at.Recurrent = True


async def unset_recurrent(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    from pycgrates.engine.accounts.accounting import trigger_matches_action

    for at in _need(acc, a).ActionTriggers:
        if trigger_matches_action(at, a):
            at.Recurrent = False


async def remove_account(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    if acc is not None:
        key = acc.key
    else:
        try:
            info = json.loads(a.ExtraParameters or "{}")
        except ValueError as exc:
            raise ActionError(f"ExtraParameters {a.ExtraParameters!r} is not JSON") from exc
        if not info.get("Tenant") or not info.get("Account"):
            raise ActionError("*remove_account without an account needs ExtraParameters {Tenant, Account}")
        key = f"{info['Tenant']}:{info['Account']}"
        await tx.lock(key)
    tx.remove(key)
    tx.extra_ops.extend(await tx.acc.plan_ops_removing_account(tx, key))
    tx.after_commit(_plans_changed(tx))


def _plans_changed(tx: Transaction) -> Callable[[], Awaitable[None]]:
    async def notify() -> None:
        tx.acc.plans_changed()

    return notify


# ------------------------------------------------------------------------------------------------ outside effects


async def log_action(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    if acc is not None:
        log.info("LOG Account: %s", json.dumps(acc.to_dict(), separators=(",", ":")))
    elif extra is not None:
        log.info("LOG ExtraData: %s", json.dumps(extra, default=str, separators=(",", ":")))


async def _post_json(tx: Transaction, url: str, body: bytes) -> None:
    import aiohttp

    cfg = tx.acc.cfg
    attempts = int(cfg.get("general", "poster_attempts", default=3)) if cfg else 3
    timeout = 2.0
    if cfg is not None:
        from pycgrates.engine.units import parse_duration

        timeout = parse_duration(cfg.get("general", "reply_timeout", default="2s")) / 1e9 or 2.0
    last: Exception | None = None
    for _ in range(max(1, attempts)):
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session, \
                    session.post(url, data=body, headers={"Content-Type": "application/json"}) as resp:
                if resp.status < 300:
                    return
                last = ActionError(f"HTTP {resp.status} from {url}")
        except Exception as exc:
            last = exc
    raise ActionError(f"posting to {url} failed: {last}")


def _body(acc: Account | None, extra: Any) -> bytes:
    data = acc.to_dict() if acc is not None else extra
    return json.dumps(data, default=str).encode()


async def http_post(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    if not a.ExtraParameters:
        raise ActionError(f"{a.ActionType} needs the URL in ExtraParameters")
    await _post_json(tx, a.ExtraParameters, _body(acc, extra))


async def http_post_async(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    if not a.ExtraParameters:
        raise ActionError(f"{a.ActionType} needs the URL in ExtraParameters")
    body = _body(acc, extra)
    url = a.ExtraParameters

    async def post() -> None:
        await _post_json(tx, url, body)

    tx.after_commit(post, background=True)


def _sessions_conns(tx: Transaction) -> list[str]:
    cfg = tx.acc.cfg
    if cfg is None:
        return []
    for section in ("thresholds", "apiers"):
        ids = cfg.get(section, "sessions_conns", default=None)
        if ids:
            return list(ids)
    return []


def session_filter_args(acc: Account | None, extra_parameters: str) -> dict:
    """SessionSv1.ForceDisconnect/AlterSessions arguments from "tenant;filters&..;limit;opt:v&..;field:v&..".

    Empty ExtraParameters address the sessions of the account the action runs on.
    """
    if not extra_parameters.strip():
        if acc is None:
            raise ActionError("session actions without an account need ExtraParameters "
                              "'tenant;filters;limit;APIOpts;Event'")
        return {"Tenant": acc.Tenant, "Filters": [f"*string:~*req.Account:{acc.Account}"], "Limit": None,
                "APIOpts": {}, "Event": {}}
    params = extra_parameters.split(";")
    if len(params) != 5:
        raise ActionError(f"invalid number of parameters <{len(params)}> expected 5 "
                          "(tenant;filters;limit;APIOpts;Event)")

    def pairs(text: str) -> dict:
        out: dict[str, str] = {}
        for item in text.split("&"):
            if not item:
                continue
            k, sep, v = item.partition(":")
            if not sep:
                raise ActionError(f"invalid key-value pair: {item}")
            out[k] = v
        return out

    try:
        limit = int(params[2])
    except ValueError:
        limit = 0
    return {"Tenant": params[0], "Filters": [f for f in params[1].split("&") if f], "Limit": limit,
            "APIOpts": pairs(params[3]), "Event": pairs(params[4])}


def _session_action(method: str) -> ActionFunc:
    async def run(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
        conn_ids = _sessions_conns(tx)
        if not conn_ids or tx.acc.conns is None:
            raise ActionError(f"{a.ActionType} needs a SessionS connection: set thresholds.sessions_conns")
        args = session_filter_args(acc, a.ExtraParameters)
        conns = tx.acc.conns

        async def call() -> None:
            await conns.get(conn_ids).call(method, args)

        # from inside a debit the caller may be SessionS itself: never make it wait on its own disconnect
        tx.after_commit(call, background=tx.from_debit)

    return run


def _scheduler_call(action_type: str, option: str, service: str, method: str) -> ActionFunc:
    """An account-less action calling ``method`` with ExtraParameters as ``tenant:id`` (CGRateS's
    resetThreshold/resetStatQueue, on ``schedulers.<option>``); its failure fails the action list."""

    async def run(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
        cfg = tx.acc.cfg
        conn_ids = list(cfg.get("schedulers", option, default=None) or []) if cfg is not None else []
        if not conn_ids or tx.acc.conns is None:
            raise ActionError(f"{action_type} needs a {service} connection: set schedulers.{option}")
        tenant, sep, item_id = a.ExtraParameters.partition(":")
        if not sep:  # CGRateS's NewTenantID: no tenant given, the service's default one
            tenant, item_id = "", a.ExtraParameters
        try:
            await tx.acc.conns.get(conn_ids).call(method, {"Tenant": tenant, "ID": item_id, "APIOpts": {}})
        except Exception as exc:
            raise ActionError(f"{action_type} {a.ExtraParameters!r}: {exc}") from exc

    return run


def _cdrlog_field(acc: Account | None, a: Action, value: Decimal | None, path: str) -> str:
    name = path.split(".")[-1]
    bal = a.Balance.create_balance()
    table = {
        "AccountID": acc.key if acc else "",
        "Tenant": acc.Tenant if acc else "",
        "Account": acc.Account if acc else "",
        "BalanceType": a.Balance.get_type(),
        "BalanceUUID": bal.Uuid,
        "BalanceID": bal.ID,
        "BalanceValue": str(value if value is not None else ""),
        "DestinationIDs": ";".join(bal.DestinationIDs),
        "ExtraParameters": a.ExtraParameters,
        "RatingSubject": bal.RatingSubject,
        "Category": ";".join(a.Balance.Categories or {}),
        "SharedGroups": ";".join(a.Balance.SharedGroups or {}),
        "ActionID": a.Id,
        "ActionType": a.ActionType,
        "ActionValue": str(num_json(a.Balance.get_value())),
    }
    return table.get(name, name)


async def cdrlog(tx: Transaction, acc: Account | None, a: Action, acs: list[Action], extra: Any) -> None:
    """Log the balance changes of the action list as CDRs, one CDRsV1.ProcessEvent each (schedulers.cdrs_conns)."""
    cfg = tx.acc.cfg
    conn_ids = list(cfg.get("schedulers", "cdrs_conns", default=None) or []) if cfg else []
    if not conn_ids or tx.acc.conns is None:
        raise ActionError("No connection with CDR Server (set schedulers.cdrs_conns)")
    template = {"ToR": "~*acnt.BalanceType", "OriginHost": "127.0.0.1", "RequestType": "*none",
                "Tenant": "~*acnt.Tenant", "Account": "~*acnt.Account", "Subject": "~*acnt.Account",
                "Cost": "~*act.ActionValue"}
    if a.ExtraParameters:
        try:
            template.update(json.loads(a.ExtraParameters))
        except ValueError as exc:
            raise ActionError(f"*cdrlog ExtraParameters {a.ExtraParameters!r} is not a JSON template") from exc
    events = []
    stamp = time_to_json(tx.now)
    for act in acs:
        if act.ActionType not in CDRLOG_TYPES:
            continue
        origin_id = str(uuid.uuid4())
        ev: dict[str, Any] = {"RunID": act.ActionType, "Source": "*cdrlog", "OriginID": origin_id,
                              "SetupTime": stamp, "AnswerTime": stamp, "Usage": 1, "PreRated": True}
        for fld, rsr in template.items():
            text = str(rsr)
            ev[fld] = _cdrlog_field(acc, act, tx.balance_values.get(id(act)), text[1:]) if text.startswith("~") \
                else text
        try:
            ev["Cost"] = float(ev.get("Cost", 0))
        except (TypeError, ValueError):
            pass
        ev["CGRID"] = hashlib.sha1((origin_id + str(ev.get("OriginHost", ""))).encode()).hexdigest()
        events.append({"Tenant": ev.get("Tenant") or (acc.Tenant if acc else ""), "ID": origin_id, "Event": ev})
    if not events:
        return
    conns = tx.acc.conns

    async def send() -> None:
        conn = conns.get(conn_ids)
        for ev in events:
            await conn.call("CDRsV1.ProcessEvent", {"Flags": ["*chargers:false"], **ev})

    tx.after_commit(send)


# ------------------------------------------------------------------------------------------------ filter on accounts

_OPS = {
    "*gt": lambda a, b: a > b,
    "*gte": lambda a, b: a >= b,
    "*lt": lambda a, b: a < b,
    "*lte": lambda a, b: a <= b,
}


def _match_value(actual: Any, cond: Any) -> bool:
    if isinstance(cond, dict):
        for op, ref in cond.items():
            if op in _OPS:
                try:
                    if not _OPS[op](dec(actual), dec(ref)):
                        return False
                except Exception:
                    return False
            elif op == "*has":
                if not isinstance(actual, dict) or not all(k in actual for k in (ref or [])):
                    return False
            elif op == "*exp":
                return actual is not None
            else:
                return False
        return True
    if isinstance(actual, Decimal):
        try:
            return actual == dec(cond)
        except Exception:
            return False
    return actual == cond


def _match_struct(view: dict, cond: dict) -> bool:
    for key, c in cond.items():
        if key == "*and":
            if not all(_match_struct(view, x) for x in c):
                return False
        elif key == "*or":
            if not any(_match_struct(view, x) for x in c):
                return False
        elif key == "*not":
            if _match_struct(view, c):
                return False
        elif not _match_value(view.get(key), c):
            return False
    return True


def match_action_filter(acc: Account, condition: str) -> bool:
    """CGRateS's account action filter (structmatcher JSON): true if any balance matches."""
    try:
        cond = json.loads(condition)
    except ValueError as exc:
        raise ActionError(f"action filter {condition!r} is not JSON") from exc
    for btype, chain in acc.BalanceMap.items():
        for b in chain:
            view = b.to_dict()
            view["Value"] = b.Value
            view["Type"] = btype
            if _match_struct(view, cond):
                return True
    return False


ACTION_FUNCS: dict[str, ActionFunc] = {
    "*log": log_action,
    "*cdrlog": cdrlog,
    "*reset_triggers": reset_triggers,
    "*set_recurrent": set_recurrent,
    "*unset_recurrent": unset_recurrent,
    "*allow_negative": allow_negative,
    "*deny_negative": deny_negative,
    "*reset_account": reset_account,
    "*topup_reset": topup_reset,
    "*topup": topup,
    "*debit_reset": debit_reset,
    "*debit": debit,
    "*reset_counters": reset_counters,
    "*enable_account": enable_account,
    "*disable_account": disable_account,
    "*publish_account": publish_account,
    "*http_post": http_post,
    "*http_post_async": http_post_async,
    "*call_url": http_post,
    "*call_url_async": http_post_async,
    "*remove_account": remove_account,
    "*remove_balance": remove_balance,
    "*set_balance": set_balance,
    "*transfer_balance": transfer_balance,
    "*transfer_monetary_default": transfer_monetary_default,
    "*topup_zero_negative": topup_zero_negative,
    "*set_expiry": set_expiry,
    "*remove_expired": remove_expired,
    "*alter_sessions": _session_action("SessionSv1.AlterSessions"),
    "*force_disconnect_sessions": _session_action("SessionSv1.ForceDisconnect"),
    "*reset_threshold": _scheduler_call("*reset_threshold", "thresholds_conns", "ThresholdS",
                                        "ThresholdSv1.ResetThreshold"),
    "*reset_stat_queue": _scheduler_call("*reset_stat_queue", "stats_conns", "StatS", "StatSv1.ResetStatQueue"),
}

#: actions that need an account: an action list run without one skips them (CGRateS's accountActions)
ACCOUNT_ACTIONS = frozenset({
    "*topup", "*debit", "*reset_triggers", "*set_recurrent", "*unset_recurrent", "*allow_negative",
    "*deny_negative", "*reset_account", "*topup_reset", "*debit_reset", "*transfer_balance", "*reset_counters",
    "*enable_account", "*disable_account", "*transfer_monetary_default", "*publish_account", "*cdr_account",
    "*set_expiry", "*topup_zero_negative", "*set_balance", "*remove_balance",
})
