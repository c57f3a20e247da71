"""ChargerS: fork an event into its charging runs (``*default``, ``*raw``, reseller runs), each altered by its own
attribute profiles (CGRateS v0.11 ``ChargerSv1``; the seed's DerivedChargers).

Profiles live under DataDB kind CHARGER_PROFILE, key ``tenant:id``: ``{"Tenant","ID","FilterIDs",
"ActivationInterval","RunID","AttributeIDs","Weight"}``. Matching goes through the filter index, then filters and
activation interval; runs are ordered by weight, heaviest first. ``AttributeIDs`` of ``["*none"]`` means no
attributes; otherwise the run's event goes to ``AttributeSv1.ProcessEvent`` (``chargers.attributes_conns``) with
context ``*chargers`` and those profile IDs (an inline one, ``*constant:*req.RequestType:*none``, works too).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, FilterError, activation_json, parse_activation_interval
from pycgrates.engine.filters.service import FilterService, filter_service
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing, not_found, server_error
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import CHARGER_PROFILE
from pycgrates.engine.template.dataprovider import MapDataProvider
from pycgrates.engine.template.errors import RSRError
from pycgrates.engine.units import parse_time

log = logging.getLogger("cgr.chargers")

SUBSYSTEM = "*charger_filter_indexes"
META_NONE = "*none"
META_CHARGERS = "*chargers"


@dataclass(slots=True)
class ChargerProfile:
    tenant: str
    id: str
    run_id: str
    filter_ids: tuple[str, ...] = ()
    attribute_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    weight: float = 0.0
    raw: dict | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "FilterIDs": list(self.filter_ids),
                "ActivationInterval": activation_json(self.activation), "RunID": self.run_id,
                "AttributeIDs": list(self.attribute_ids), "Weight": json_number(self.weight)}


def json_number(value: float) -> float | int:
    """Weights as Go prints float64: ``20``, not ``20.0``."""
    return int(value) if value == int(value) else value


def _str_list(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return tuple(v for v in value.split(";") if v)
    return tuple(value)


def decode_charger_profile(raw: dict) -> ChargerProfile:
    return ChargerProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", run_id=raw.get("RunID") or "",
        filter_ids=_str_list(raw.get("FilterIDs")), attribute_ids=_str_list(raw.get("AttributeIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")),
        weight=float(raw.get("Weight") or 0), raw=raw)


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


class ChargerService:
    """ChargerSv1 over the engine's DataManager, FilterS and the AttributeS connection."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx
        self.dm = ctx.dm
        register = getattr(self.dm, "register_decoder", None)
        if register is not None:
            register(CHARGER_PROFILE, decode_charger_profile)

    def _cfg(self, section: str, *path: str, default: Any = None) -> Any:
        try:
            return self.ctx.cfg.get(section, *path, default=default)
        except (KeyError, AttributeError):
            return default

    @property
    def filters(self) -> FilterService:
        return filter_service(self.ctx)

    async def get_profile(self, tenant: str, profile_id: str) -> ChargerProfile | None:
        prf = await self.dm.get(CHARGER_PROFILE, f"{tenant}:{profile_id}", decode_charger_profile)
        return decode_charger_profile(prf) if isinstance(prf, dict) else prf

    async def set_profile(self, raw: dict) -> None:
        """Store a profile and index it."""
        tenant = raw.get("Tenant") or self._cfg("general", "default_tenant", default="cgrates.org")
        raw = {**raw, "Tenant": tenant}
        decode_charger_profile(raw)
        await self.dm.set(CHARGER_PROFILE, f"{tenant}:{raw['ID']}", raw)
        await self.filters.indexer.profile_updated(CHARGER_PROFILE, tenant, raw["ID"], raw)

    async def remove_profile(self, tenant: str, profile_id: str) -> bool:
        removed = await self.dm.remove(CHARGER_PROFILE, f"{tenant}:{profile_id}")
        await self.filters.indexer.profile_updated(CHARGER_PROFILE, tenant, profile_id, None)
        return removed

    def _tenant(self, args: dict) -> str:
        return args.get("Tenant") or self._cfg("general", "default_tenant", default="cgrates.org")

    async def matching_profiles(self, tenant: str, args: dict) -> list[ChargerProfile]:
        """Matching charger profiles, heaviest first; raises NOT_FOUND when none."""
        fs = self.filters
        dp = MapDataProvider({"*req": args.get("Event") or {}, "*opts": args.get("APIOpts") or {}})
        act_time = parse_time(args["Time"]) if args.get("Time") else None
        out = []
        for pid in await fs.matching_profiles(SUBSYSTEM, tenant, dp):
            prf = await self.get_profile(tenant, pid)
            if prf is None:
                continue
            if prf.activation is not None and act_time is not None and not prf.activation.is_active_at(act_time):
                continue
            if not await fs.pass_filters(tenant, prf.filter_ids, dp):
                continue
            out.append(prf)
        if not out:
            raise not_found()
        out.sort(key=lambda p: -p.weight)
        return out

    async def process_event(self, args: dict) -> list[dict]:
        tenant = self._tenant(args)
        opts = args.get("APIOpts") or {}
        profiles = await self.matching_profiles(tenant, args)
        conns = self._cfg("chargers", "attributes_conns", default=[]) or []
        replies = []
        for prf in profiles:
            event = {"Tenant": tenant, "ID": args.get("ID") or "", "Time": args.get("Time"),
                     "Event": _clone(args.get("Event") or {}), "APIOpts": _clone(opts)}
            event["Event"]["RunID"] = prf.run_id
            event["APIOpts"]["*subsys"] = META_CHARGERS
            reply = {"ChargerSProfile": prf.id, "AttributeSProfiles": None, "AlteredFields": ["*req.RunID"],
                     "CGREvent": event}
            replies.append(reply)
            if prf.attribute_ids == (META_NONE,):
                continue
            conn = self.ctx.conns.get(conns) if conns else None
            if conn is None:
                if prf.attribute_ids:
                    raise RPCError(f"chargers.attributes_conns is empty: charger profile {prf.id} needs AttributeS "
                                   f"for its AttributeIDs {list(prf.attribute_ids)}")
                continue
            attr_args = dict(event)
            attr_args["APIOpts"] = dict(event["APIOpts"])
            attr_args["APIOpts"]["*context"] = opts.get("*context") or META_CHARGERS
            attr_args["Context"] = attr_args["APIOpts"]["*context"]
            if prf.attribute_ids:
                attr_args["APIOpts"]["*attrProfileIDs"] = list(prf.attribute_ids)
                attr_args["AttributeIDs"] = list(prf.attribute_ids)
            try:
                ev_reply = await conn.call("AttributeSv1.ProcessEvent", attr_args)
            except RPCError as exc:
                if exc.message != NOT_FOUND:
                    raise
                continue
            ev_reply = ev_reply or {}
            reply["AttributeSProfiles"] = ev_reply.get("MatchedProfiles")
            if ev_reply.get("AlteredFields"):
                reply["AlteredFields"] = reply["AlteredFields"] + list(ev_reply["AlteredFields"])
                altered = ev_reply.get("CGREvent") or {k: ev_reply.get(k) for k in
                                                        ("Tenant", "ID", "Time", "Event", "APIOpts")}
                altered = dict(altered)
                altered_opts = dict(altered.get("APIOpts") or {})
                for added in ("*context", "*attrProfileIDs"):  # ours, for the AttributeS call only
                    if added not in opts:
                        altered_opts.pop(added, None)
                altered["APIOpts"] = altered_opts
                reply["CGREvent"] = altered
        return replies

    # ------------------------------------------------------------------------------------------ RPC

    @rpc("ChargerSv1.Ping")
    async def ping(self, args: Any) -> str:
        return "Pong"

    @rpc("ChargerSv1.GetChargersForEvent")
    async def get_chargers_for_event(self, args: dict) -> list[dict]:
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        try:
            return [p.to_json() for p in await self.matching_profiles(self._tenant(args), args)]
        except RPCError as exc:
            raise exc if exc.message == NOT_FOUND else server_error(exc.message) from None
        except (FilterError, RSRError, ValueError) as exc:
            raise server_error(exc) from None

    @rpc("ChargerSv1.ProcessEvent")
    async def v1_process_event(self, args: dict) -> list[dict]:
        if not isinstance(args, dict) or args.get("Event") is None:
            raise mandatory_ie_missing("Event")
        try:
            return await self.process_event(args)
        except RPCError as exc:
            raise exc if exc.message == NOT_FOUND else server_error(exc.message) from None
        except (FilterError, RSRError, ValueError) as exc:
            raise server_error(exc) from None
