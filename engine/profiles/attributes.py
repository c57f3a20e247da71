"""AttributeS: alter events by the attribute profiles that match them (CGRateS v0.11 ``AttributeSv1``).

Profiles (DataDB kind ATTRIBUTE_PROFILE, key ``tenant:id``) are chosen by context and filters through the filter
index; the heaviest one not applied in the previous run wins each process run. Its attributes write their values
(RSR, compiled once) at their paths: ``*req.X`` in the event, ``*opts.X`` in the options, ``*tenant`` the tenant;
the value ``*remove`` removes the field. A blocker profile ends the runs. An inline profile ID
(``*constant:*req.RequestType:*none``) is a profile of its own, as ChargerS uses them.

Options, as v0.11 reads them from ``APIOpts`` (the older top-level fields are accepted too): ``*context``
(``Context``), ``*attrProfileIDs`` (``AttributeIDs``), ``*attrProcessRuns`` (``ProcessRuns``), ``*attrProfileRuns``,
``*attrProfileIgnoreFilters``; defaults from ``attributes.opts``.

``AttributeSv1.ProcessEvent`` replies ``{"MatchedProfiles", "AlteredFields", "Tenant", "ID", "Time", "Event",
"APIOpts"}`` — CGRateS embeds the CGREvent, so its fields sit at the top level — and the same event under
``"CGREvent"`` for callers that read it nested.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, FilterError, activation_json, parse_activation_interval
from pycgrates.engine.filters.service import FilterService, filter_service
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing, not_found, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import ATTRIBUTE_PROFILE
from pycgrates.engine.template.dataprovider import (
    DataProvider,
    Duration,
    MapDataProvider,
    NotFoundError,
    as_duration,
    as_float,
    as_int,
    as_string,
    as_time,
    split_path,
)
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.template.gocompat import format_go_time, go_round
from pycgrates.engine.template.rsr import DEFAULT_SEP, RSRParsers, parse_rsr, parse_rsr_list
from pycgrates.engine.units import parse_time

log = logging.getLogger("cgr.attributes")

SUBSYSTEM = "*attribute_filter_indexes"
META_ANY = "*any"
META_DEFAULT = "*default"
META_REMOVE = "*remove"
META_ATTRIBUTES = "*attributes"
RFC3339 = "2006-01-02T15:04:05Z07:00"

# Option names: v0.11's APIOpts keys, with the older top-level argument fields as fallbacks.
OPT_CONTEXT = ("*context", "Context")
OPT_PROFILE_IDS = ("*attrProfileIDs", "AttributeIDs")
OPT_PROCESS_RUNS = ("*attrProcessRuns", "ProcessRuns")
OPT_PROFILE_RUNS = ("*attrProfileRuns", "ProfileRuns")
OPT_IGNORE_FILTERS = ("*attrProfileIgnoreFilters", "ProfileIgnoreFilters")


@dataclass(slots=True)
class Attribute:
    path: str
    type: str
    value: RSRParsers
    filter_ids: tuple[str, ...] = ()
    path_tuple: tuple[str, ...] = ()
    raw_value: str = ""

    def __post_init__(self) -> None:
        self.path_tuple = split_path(self.path)

    def to_json(self) -> dict:
        return {"FilterIDs": list(self.filter_ids) or None, "Path": self.path, "Type": self.type,
                "Value": [{"Rules": p.rules} for p in self.value]}


@dataclass(slots=True)
class AttributeProfile:
    tenant: str
    id: str
    contexts: tuple[str, ...] = (META_ANY,)
    filter_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    attributes: tuple[Attribute, ...] = ()
    blocker: bool = False
    weight: float = 0.0
    raw: dict | None = field(default=None, repr=False)

    @property
    def tenant_id(self) -> str:
        """CGRateS's TenantIDInline: inline profiles are named by their rule alone."""
        return self.id if self.id.startswith("*") else f"{self.tenant}:{self.id}"

    def matches_context(self, context: str) -> bool:
        return (len(self.contexts) == 1 and self.contexts[0] == META_ANY) or context in self.contexts

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "Contexts": list(self.contexts),
                "FilterIDs": list(self.filter_ids), "ActivationInterval": activation_json(self.activation),
                "Attributes": [a.to_json() for a in self.attributes], "Blocker": self.blocker,
                "Weight": json_number(self.weight)}


def json_number(value: float) -> float | int:
    """Weights as Go prints float64: ``20``, not ``20.0``."""
    return int(value) if value == int(value) else value


def _value_parsers(value: Any, sep: str) -> RSRParsers:
    if value is None or value == "":
        return RSRParsers()
    if isinstance(value, str):
        return parse_rsr(value, sep)
    if isinstance(value, list):
        rules = [v.get("Rules", "") if isinstance(v, dict) else str(v) for v in value]
        return parse_rsr_list([r for r in rules if r], sep)
    return parse_rsr(as_string(value), sep)


def _str_list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    return tuple(value)


def decode_attribute_profile(raw: dict, sep: str = DEFAULT_SEP) -> AttributeProfile:
    """A stored profile (CGRateS JSON; ``Value`` as the CSV text or ``[{"Rules": ...}]``) compiled."""
    attrs = []
    for a in raw.get("Attributes") or ():
        value = a.get("Value")
        attrs.append(Attribute(path=a.get("Path") or a.get("FieldName") or "", type=a.get("Type") or "",
                               value=_value_parsers(value, sep), filter_ids=_str_list(a.get("FilterIDs")),
                               raw_value=value if isinstance(value, str) else ""))
    return AttributeProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "",
        contexts=_str_list(raw.get("Contexts")) or (META_ANY,), filter_ids=_str_list(raw.get("FilterIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")), attributes=tuple(attrs),
        blocker=bool(raw.get("Blocker")), weight=float(raw.get("Weight") or 0), raw=raw)


def inline_attribute_profile(tenant: str, rule: str) -> AttributeProfile:
    """``*constant:*req.RequestType:*none`` (``;`` between rules, ``&`` between value parts) as a profile."""
    attrs = []
    for part in rule.split(";"):
        pieces = part.split(":", 2)
        if len(pieces) < 3:
            raise RSRError(f"inline parse error for string: <{part}>")
        if not pieces[1]:
            raise RSRError(f"empty path in inline AttributeProfile <{rule}>")
        attrs.append(Attribute(path=pieces[1], type=pieces[0], value=parse_rsr(pieces[2], "&"), raw_value=pieces[2]))
    return AttributeProfile(tenant=tenant, id=rule, contexts=(META_ANY,), attributes=tuple(attrs))


# ---------------------------------------------------------------------------------------------------- value types


def _arith(op: str, values: list[Any], timezone: str | None) -> Any:
    """CGRateS utils.Sum/Difference/Multiply/Divide: the first value's type decides the arithmetic."""
    if len(values) < 2:
        raise ValueError("NOT_ENOUGH_PARAMETERS")
    first, rest = values[0], values[1:]
    if isinstance(first, datetime):
        if op != "-" and op != "+":
            raise ValueError("unsupported type")
        out: Any = first
        for v in rest:
            if isinstance(v, datetime):
                return Duration(int((out - v).total_seconds() * 1e9))
            d = as_duration(v)
            out = out + _ns(d) if op == "+" else out - _ns(d)
        return out
    if isinstance(first, Duration):
        acc = int(first)
        for v in rest:
            d = as_duration(v) if op in "+-" else as_int(v)
            acc = _apply(op, acc, d, integer=True)
        return Duration(acc)
    if isinstance(first, bool) or not isinstance(first, int | float):
        raise ValueError("unsupported type")
    if isinstance(first, int):
        acc_i = first
        for v in rest:
            acc_i = _apply(op, acc_i, as_int(v), integer=True)
        return acc_i
    acc_f = float(first)
    for v in rest:
        acc_f = _apply(op, acc_f, as_float(v), integer=False)
    return acc_f


def _ns(ns: int):
    from datetime import timedelta

    return timedelta(microseconds=ns / 1000)


def _apply(op: str, a: Any, b: Any, integer: bool) -> Any:
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if b == 0:
        if integer:
            raise ValueError("integer divide by zero")
        return math.copysign(math.inf, a) if a else math.nan
    if integer:
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    return a / b


def parse_attribute(dp: DataProvider, atype: str, path: str, value: RSRParsers, *, rounding_decimals: int = 5,
                    timezone: str | None = None, sep: str = DEFAULT_SEP) -> Any:
    """The value an attribute of type ``atype`` computes (CGRateS's ParseAttribute)."""
    match atype:
        case "*none":
            return None
        case "*constant":
            return value.parse_value("")
        case "*variable" | "*composed":
            return value.parse(dp)
        case "*usage_difference":
            if len(value) != 2:
                raise ValueError(f"invalid arguments <{value.rule}> to *usage_difference")
            end, start = as_time(value[0].parse(dp)), as_time(value[1].parse(dp))
            return Duration(int((end - start).total_seconds() * 1_000_000) * 1000)
        case "*sum":
            return _arith("+", value.values(dp), timezone)
        case "*difference":
            return _arith("-", value.values(dp), timezone)
        case "*multiply":
            return _arith("*", value.values(dp), timezone)
        case "*divide":
            return _arith("/", value.values(dp), timezone)
        case "*value_exponent":
            if len(value) != 2:
                raise ValueError(f"invalid arguments <{value.rule}> to *value_exponent")
            text = value[0].parse(dp)
            try:
                number = float(text)
            except ValueError:
                raise ValueError(f"invalid value <{text}> to *value_exponent") from None
            exp = int(value[1].parse(dp))
            return go_round(number * math.pow(10, exp), rounding_decimals, "*middle")
        case "*unix_timestamp":
            return str(int(as_time(value.parse(dp), timezone).timestamp()))
        case "*datetime":
            return format_go_time(as_time(value.parse(dp), timezone), RFC3339)
        case "*prefix":
            return value.parse(dp) + parse_rsr(path, sep).parse(dp)
        case "*suffix":
            return parse_rsr(path, sep).parse(dp) + value.parse(dp)
        case "*cc_usage":
            if len(value) != 3:
                raise ValueError(f"invalid arguments <{value.rule}> to *cc_usage")
            text = value[0].parse(dp)
            try:
                req_nr = int(text)
            except ValueError:
                raise ValueError(f"invalid requestNumber <{text}> to *cc_usage") from None
            used = as_duration(value[1].parse(dp))
            debit = as_duration(value[2].parse(dp))
            return Duration(used + debit * max(req_nr - 1, 0))
        case "*sipcid":
            if not value:
                raise ValueError("invalid number of arguments <> to *sipcid")
            parts = [value[0].parse(dp)]
            extra = []
            for p in value[1:]:
                try:
                    s = p.parse(dp)
                except NotFoundError:
                    continue
                if s:
                    extra.append(s)
            return ";".join(parts + sorted(extra))
    raise ValueError(f"unsupported type: <{atype}>")


# ---------------------------------------------------------------------------------------------------- service


def _opt(args: dict, opts: dict, names: Sequence[str], default: Any) -> Any:
    if names[0] in opts:
        return opts[names[0]]
    for n in names[1:]:
        if args.get(n) is not None:
            return args[n]
    return default


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def _wrap(exc: Exception) -> RPCError:
    if isinstance(exc, RPCError):
        return exc if exc.message == NOT_FOUND else server_error(exc.message)
    return server_error(exc)


class AttributeService:
    """AttributeSv1 over the engine's DataManager and FilterS."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        self._inline: dict[tuple[str, str], AttributeProfile] = {}
        register = getattr(self.dm, "register_decoder", None)
        if register is not None:
            register(ATTRIBUTE_PROFILE, self._decode)

    def _cfg(self, section: str, *path: str, default: Any = None) -> Any:
        try:
            return self.ctx.cfg.get(section, *path, default=default)
        except (KeyError, AttributeError):
            return default

    @property
    def filters(self) -> FilterService:
        return filter_service(self.ctx)

    @property
    def sep(self) -> str:
        return self._cfg("general", "rsr_separator", default=DEFAULT_SEP) or DEFAULT_SEP

    def _decode(self, raw: dict) -> Any:
        try:
            return decode_attribute_profile(raw, self.sep)
        except (RSRError, ValueError) as exc:
            return RSRError(f"attribute profile {raw.get('Tenant')}:{raw.get('ID')}: {exc}")

    async def get_profile(self, tenant: str, profile_id: str) -> AttributeProfile | None:
        if profile_id.startswith("*"):
            prf = self._inline.get((tenant, profile_id))
            if prf is None:
                prf = inline_attribute_profile(tenant, profile_id)
                if len(self._inline) > 10_000:
                    self._inline.clear()
                self._inline[(tenant, profile_id)] = prf
            return prf
        prf = await self.dm.get(ATTRIBUTE_PROFILE, f"{tenant}:{profile_id}", self._decode)
        if isinstance(prf, dict):
            prf = self._decode(prf)
        if isinstance(prf, Exception):
            raise prf
        return prf

    async def set_profile(self, raw: dict) -> None:
        """Store a profile (validated) and index it."""
        decode_attribute_profile(raw, self.sep)
        tenant = raw.get("Tenant") or self._cfg("general", "default_tenant", default="cgrates.org")
        raw = {**raw, "Tenant": tenant}
        await self.dm.set(ATTRIBUTE_PROFILE, f"{tenant}:{raw['ID']}", raw)
        await self.filters.indexer.profile_updated(ATTRIBUTE_PROFILE, tenant, raw["ID"], raw)

    async def remove_profile(self, tenant: str, profile_id: str) -> bool:
        removed = await self.dm.remove(ATTRIBUTE_PROFILE, f"{tenant}:{profile_id}")
        await self.filters.indexer.profile_updated(ATTRIBUTE_PROFILE, tenant, profile_id, None)
        return removed

    async def _candidate_ids(self, tenant: str, context: str, dp: DataProvider) -> list[str]:
        fs = self.filters
        ids = await fs.matching_profiles(SUBSYSTEM, tenant, dp, context)
        if not ids or self._cfg("attributes", "any_context", default=True):
            any_ids = await fs.matching_profiles(SUBSYSTEM, tenant, dp, META_ANY)
            ids = sorted(set(ids) | set(any_ids)) if ids else any_ids
        return ids

    async def profile_for_event(self, tenant: str, context: str, profile_ids: Sequence[str], event_time: Any,
                                dp: MapDataProvider, last_id: str = "", processed: dict[str, int] | None = None,
                                profile_runs: int = 0, ignore_filters: bool = False) -> AttributeProfile:
        """The heaviest matching profile (CGRateS attributeProfileForEvent); raises NOT_FOUND."""
        processed = processed if processed is not None else {}
        if profile_ids:
            ids: Sequence[str] = profile_ids
        else:
            ignore_filters = False
            ids = await self._candidate_ids(tenant, context, dp)
        act_time = parse_time(event_time) if event_time else None
        vars_ = dp.data.setdefault("*vars", {})
        best: AttributeProfile | None = None
        for pid in ids:
            prf = await self.get_profile(tenant, pid)
            if prf is None or not prf.matches_context(context):
                continue
            if prf.activation is not None and act_time is not None and not prf.activation.is_active_at(act_time):
                continue
            tid = prf.tenant_id
            vars_["*apTenantID"] = tid
            if not ignore_filters and not await self.filters.pass_filters(tenant, prf.filter_ids, dp):
                continue
            if (best is None or best.weight < prf.weight) and tid != last_id and \
                    (profile_runs <= 0 or processed.get(tid, 0) < profile_runs):
                best = prf
        if best is None:
            raise not_found()
        vars_["*apTenantID"] = best.tenant_id
        return best

    async def _apply(self, prf: AttributeProfile, tenant: str, event: dict, dp: MapDataProvider,
                     altered: dict[str, None]) -> str:
        """Apply one profile's attributes to ``dp``; returns the (possibly rewritten) tenant."""
        rounding = int(self._cfg("general", "rounding_decimals", default=5) or 5)
        tz = self._cfg("general", "default_timezone", default=None)
        for attr in prf.attributes:
            if attr.filter_ids and not await self.filters.pass_filters(tenant, attr.filter_ids, dp):
                continue
            out = parse_attribute(dp, attr.type or "*variable", "~" + attr.path, attr.value,
                                  rounding_decimals=rounding, timezone=tz, sep=self.sep)
            substitute = as_string(out)
            altered.setdefault(attr.path, None)
            if attr.path == "*tenant":
                tenant = event["Tenant"] = (event["Tenant"] + substitute) if attr.type == "*composed" else substitute
                dp.data["*tenant"] = substitute
                continue
            if substitute == META_REMOVE:
                dp.remove(attr.path_tuple)
                continue
            if attr.type == "*composed":
                try:
                    substitute = dp.field_as_string(attr.path_tuple) + substitute
                except NotFoundError:
                    pass
            dp.set(attr.path_tuple, substitute)
        return tenant

    async def process_event(self, args: dict) -> dict:
        """AttributeSv1.ProcessEvent without the RPC error mapping."""
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        if args.get("Event") is None:
            raise mandatory_ie_missing("Event")
        opts = args.get("APIOpts") or args.get("Opts") or {}
        cfg_opts = self._cfg("attributes", "opts", default={}) or {}
        process_runs = int(_opt(args, opts, OPT_PROCESS_RUNS, cfg_opts.get("*processRuns", 1)) or 0)
        profile_runs = int(_opt(args, opts, OPT_PROFILE_RUNS, cfg_opts.get("*profileRuns", 0)) or 0)
        context = as_string(_opt(args, opts, OPT_CONTEXT, None) or META_DEFAULT)
        profile_ids = _str_list(_opt(args, opts, OPT_PROFILE_IDS, cfg_opts.get("*profileIDs")))
        ignore = _opt(args, opts, OPT_IGNORE_FILTERS, cfg_opts.get("*profileIgnoreFilters", False))
        ignore = ignore is True or str(ignore).lower() == "true"
        tenant = args.get("Tenant") or self._cfg("general", "default_tenant", default="cgrates.org")
        event = {"Tenant": tenant, "ID": args.get("ID") or "", "Time": args.get("Time"),
                 "Event": _clone(args["Event"]), "APIOpts": _clone(opts)}
        processed_ids: set[str] = set()
        processed: dict[str, int] = {}
        dp = MapDataProvider({"*req": event["Event"], "*opts": event["APIOpts"],
                              "*vars": {"*processRuns": 0, "*processedProfileIDs": processed_ids},
                              "*tenant": tenant})
        matched: list[str] = []
        altered: dict[str, None] = {}
        last_id = ""
        error: RPCError | None = None
        for i in range(process_runs):
            dp.data["*vars"]["*processRuns"] = i + 1
            try:
                prf = await self.profile_for_event(tenant, context, profile_ids, event["Time"], dp, last_id,
                                                   processed, profile_runs, ignore)
                run_altered: dict[str, None] = {}
                tenant = await self._apply(prf, tenant, event, dp, run_altered)
            except NotFoundError:
                if i == 0:
                    error = not_found()
                break
            except RPCError as exc:
                if exc.message == NOT_FOUND:
                    if i == 0:
                        error = exc
                    break
                raise server_error(exc.message) from None
            except (FilterError, RSRError, ValueError, TypeError) as exc:
                raise server_error(exc) from None
            last_id = prf.tenant_id
            matched.append(last_id)
            processed_ids.add(last_id)
            processed[last_id] = processed.get(last_id, 0) + 1
            altered.update(run_altered)
            if prf.blocker:
                break
        for name, val in event["Event"].items():
            if val == META_ATTRIBUTES:
                raise mandatory_ie_missing(name)
        if error is not None:
            raise error
        reply = {"MatchedProfiles": matched, "AlteredFields": list(altered), **event}
        reply["CGREvent"] = event
        return reply

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("AttributeSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("AttributeSv1.GetAttributeForEvent")
    async def get_attribute_for_event(self, args: dict) -> dict:
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        opts = args.get("APIOpts") or args.get("Opts") or {}
        cfg_opts = self._cfg("attributes", "opts", default={}) or {}
        tenant = args.get("Tenant") or self._cfg("general", "default_tenant", default="cgrates.org")
        context = as_string(_opt(args, opts, OPT_CONTEXT, None) or META_DEFAULT)
        profile_ids = _str_list(_opt(args, opts, OPT_PROFILE_IDS, cfg_opts.get("*profileIDs")))
        ignore = _opt(args, opts, OPT_IGNORE_FILTERS, cfg_opts.get("*profileIgnoreFilters", False))
        ignore = ignore is True or str(ignore).lower() == "true"
        dp = MapDataProvider({"*req": args.get("Event") or {}, "*opts": opts, "*vars": {"*processRuns": 0}})
        try:
            prf = await self.profile_for_event(tenant, context, profile_ids, args.get("Time"), dp,
                                               ignore_filters=ignore)
        except (RPCError, FilterError, RSRError, ValueError) as exc:
            raise _wrap(exc) from None
        return prf.to_json()

    @rpc("AttributeSv1.ProcessEvent")
    async def v1_process_event(self, args: dict) -> dict:
        return await self.process_event(args)
