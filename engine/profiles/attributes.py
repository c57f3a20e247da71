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

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import META_ANY, ProfileService, clone, event_option, json_number, str_list
from pycgrates.engine.profiles.crud import CrudSpec, maps_errors
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

log = logging.getLogger("cgr.attributes")

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

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "Contexts": list(self.contexts),
                "FilterIDs": list(self.filter_ids), "ActivationInterval": activation_json(self.activation),
                "Attributes": [a.to_json() for a in self.attributes], "Blocker": self.blocker,
                "Weight": json_number(self.weight)}


def _value_parsers(value: Any, sep: str) -> RSRParsers:
    if value is None or value == "":
        return RSRParsers()
    if isinstance(value, str):
        return parse_rsr(value, sep)
    if isinstance(value, list):
        rules = [v.get("Rules", "") if isinstance(v, dict) else str(v) for v in value]
        return parse_rsr_list([r for r in rules if r], sep)
    return parse_rsr(as_string(value), sep)


def decode_attribute_profile(raw: dict, sep: str = DEFAULT_SEP) -> AttributeProfile:
    """A stored profile (CGRateS JSON; ``Value`` as the CSV text or ``[{"Rules": ...}]``) compiled."""
    attrs = []
    for a in raw.get("Attributes") or ():
        value = a.get("Value")
        attrs.append(Attribute(path=a.get("Path") or a.get("FieldName") or "", type=a.get("Type") or "",
                               value=_value_parsers(value, sep), filter_ids=str_list(a.get("FilterIDs")),
                               raw_value=value if isinstance(value, str) else ""))
    return AttributeProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "",
        contexts=str_list(raw.get("Contexts")) or (META_ANY,), filter_ids=str_list(raw.get("FilterIDs")),
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


class AttributeService(ProfileService[AttributeProfile]):
    """AttributeSv1, and APIerSv1's attribute profiles, over the engine's DataManager and FilterS."""

    crud = CrudSpec("AttributeProfile", ATTRIBUTE_PROFILE, console="attributes_profile",
                    mandatory=("ID", "Attributes"), count=True)
    index = "*attribute_filter_indexes"
    profile_ids_opts = OPT_PROFILE_IDS
    ignore_filters_opts = OPT_IGNORE_FILTERS

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self._inline: dict[tuple[str, str], AttributeProfile] = {}

    @property
    def sep(self) -> str:
        return self.option("general", "rsr_separator", DEFAULT_SEP) or DEFAULT_SEP

    def decode(self, raw: dict) -> AttributeProfile:
        return decode_attribute_profile(raw, self.sep)

    def validate(self, raw: dict) -> None:
        """CGRateS's checks of a submitted profile: attributes with a Path and a Value whose parts have Rules."""
        attrs = raw.get("Attributes")
        if not attrs:
            raise mandatory_ie_missing("Attributes")
        if not isinstance(attrs, list) or not all(isinstance(a, dict) for a in attrs):
            raise server_error("Attributes must be a list of objects with Path, Type and Value")
        for attr in attrs:
            if not attr.get("Path"):
                raise mandatory_ie_missing("Path")
            value = attr.get("Value")
            if value is None or value == "":
                raise mandatory_ie_missing("Value")
            if isinstance(value, list) and not all(v.get("Rules") if isinstance(v, dict) else v for v in value):
                raise mandatory_ie_missing("Rules")

    async def get_profile(self, tenant: str, profile_id: str) -> AttributeProfile | None:
        if not profile_id.startswith("*"):
            return await super().get_profile(tenant, profile_id)
        prf = self._inline.get((tenant, profile_id))
        if prf is None:
            prf = inline_attribute_profile(tenant, profile_id)
            if len(self._inline) > 10_000:
                self._inline.clear()
            self._inline[(tenant, profile_id)] = prf
        return prf

    def on_candidate(self, prf: AttributeProfile, dp: DataProvider) -> None:
        # a profile's filters may read which profile is being checked
        dp.data.setdefault("*vars", {})["*apTenantID"] = prf.tenant_id  # type: ignore[attr-defined]

    async def profile_for_event(self, tenant: str, context: str, profile_ids: Sequence[str], event_time: Any,
                                dp: MapDataProvider, last_id: str = "", processed: dict[str, int] | None = None,
                                profile_runs: int = 0, ignore_filters: bool = False) -> AttributeProfile:
        """The heaviest matching profile that is not the previous run's and has runs left (CGRateS
        attributeProfileForEvent); raises NOT_FOUND. A blocker ends the process runs, not the matching."""
        processed = processed if processed is not None else {}
        matched = await self.matching_profiles(tenant, dp, event_time=event_time, profile_ids=profile_ids,
                                               ignore_filters=ignore_filters, context=context, blockers=False)
        best = next((p for p in matched if p.tenant_id != last_id and
                     (profile_runs <= 0 or processed.get(p.tenant_id, 0) < profile_runs)), None)
        if best is None:
            raise not_found()
        dp.data.setdefault("*vars", {})["*apTenantID"] = best.tenant_id
        return best

    async def _apply(self, prf: AttributeProfile, tenant: str, event: dict, dp: MapDataProvider,
                     altered: dict[str, None]) -> str:
        """Apply one profile's attributes to ``dp``; returns the (possibly rewritten) tenant."""
        rounding = int(self.option("general", "rounding_decimals", 5) or 5)
        tz = self.option("general", "default_timezone", None)
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

    def _context(self, args: dict) -> str:
        return as_string(event_option(args, OPT_CONTEXT, None) or META_DEFAULT)

    async def process_event(self, args: dict) -> dict:
        """AttributeSv1.ProcessEvent without the RPC error mapping."""
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        if args.get("Event") is None:
            raise mandatory_ie_missing("Event")
        opts = args.get("APIOpts") or args.get("Opts") or {}
        process_runs = int(event_option(args, OPT_PROCESS_RUNS, self.config_opt("*processRuns", 1)) or 0)
        profile_runs = int(event_option(args, OPT_PROFILE_RUNS, self.config_opt("*profileRuns", 0)) or 0)
        context = self._context(args)
        profile_ids = self.event_profile_ids(args)
        ignore = self.event_ignore_filters(args)
        tenant = self.tenant_of(args)
        event = {"Tenant": tenant, "ID": args.get("ID") or "", "Time": args.get("Time"),
                 "Event": clone(args["Event"]), "APIOpts": clone(opts)}
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
            except RPCError as exc:  # the template's NotFoundError too: a path that leads nowhere
                if exc.message != NOT_FOUND:
                    raise
                if i == 0:
                    error = not_found()
                break
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
    @maps_errors
    async def get_attribute_for_event(self, args: dict) -> dict:
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        opts = args.get("APIOpts") or args.get("Opts") or {}
        dp = MapDataProvider({"*req": args.get("Event") or {}, "*opts": opts, "*vars": {"*processRuns": 0}})
        prf = await self.profile_for_event(self.tenant_of(args), self._context(args), self.event_profile_ids(args),
                                           args.get("Time"), dp, ignore_filters=self.event_ignore_filters(args))
        return prf.to_json()

    @rpc("AttributeSv1.ProcessEvent")
    @maps_errors
    async def v1_process_event(self, args: dict) -> dict:
        return await self.process_event(args)

    @rpc("APIerSv2.SetAttributeProfile")
    @maps_errors
    async def v2_set_attribute_profile(self, args: dict) -> str:
        """APIerSv2's form of SetAttributeProfile: each attribute's Value is its RSR text (``"~*req.Account"``)
        rather than ``[{"Rules": ...}]``; the profile stored is the same."""
        return await self.api_set(args, mandatory=("ID",))


#: cgr-console commands (CGRateS's console sets attribute profiles through APIerSv2, values as text)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = {
    **AttributeService.crud.console_commands(),
    "attributes_profile_set": ("APIerSv2.SetAttributeProfile",
                               'create or replace an attribute profile: Tenant="cgrates.org" ID="ATTR_1" '
                               'Contexts=["*sessions"] FilterIDs=["*string:~*req.Account:1001"] '
                               'Attributes=[{"Path":"*req.RequestType","Type":"*constant","Value":"*prepaid"}] '
                               'Weight=10'),
}
