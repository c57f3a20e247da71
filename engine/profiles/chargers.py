"""ChargerS: fork an event into its charging runs (``*default``, ``*raw``, reseller runs), each altered by its own
attribute profiles (CGRateS v0.11 ``ChargerSv1``; the seed's DerivedChargers).

Profiles live under DataDB kind CHARGER_PROFILE, key ``tenant:id``: ``{"Tenant","ID","FilterIDs",
"ActivationInterval","RunID","AttributeIDs","Weight"}``. Matching goes through the filter index, then filters and
activation interval; runs are ordered by weight, heaviest first. ``AttributeIDs`` of ``["*none"]`` means no
attributes; otherwise the run's event goes to ``AttributeSv1.ProcessEvent`` (``chargers.attributes_conns``) with
context ``*chargers`` and those profile IDs (an inline one, ``*constant:*req.RequestType:*none``, works too).
Profiles are administered through ``APIerSv1.Get/Set/RemoveChargerProfile`` and ``GetChargerProfileIDs``, generated
by the ProfileService base (:mod:`.base`, :mod:`.crud`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import ProfileService, clone, json_number, str_list
from pycgrates.engine.profiles.crud import CrudSpec, maps_errors
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.base import CHARGER_PROFILE

log = logging.getLogger("cgr.chargers")

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


def decode_charger_profile(raw: dict) -> ChargerProfile:
    return ChargerProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", run_id=raw.get("RunID") or "",
        filter_ids=str_list(raw.get("FilterIDs")), attribute_ids=str_list(raw.get("AttributeIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")),
        weight=float(raw.get("Weight") or 0), raw=raw)


class ChargerService(ProfileService[ChargerProfile]):
    """ChargerSv1, and APIerSv1's charger profiles, over the engine's DataManager, FilterS and the AttributeS
    connection."""

    crud = CrudSpec("ChargerProfile", CHARGER_PROFILE, console="chargers_profile")
    index = "*charger_filter_indexes"

    def decode(self, raw: dict) -> ChargerProfile:
        return decode_charger_profile(raw)

    async def process_event(self, args: dict) -> list[dict]:
        tenant = self.tenant_of(args)
        opts = args.get("APIOpts") or {}
        profiles = await self.matching_for_event(args)
        conns = self.option("chargers", "attributes_conns", []) or []
        replies = []
        for prf in profiles:
            event = {"Tenant": tenant, "ID": args.get("ID") or "", "Time": args.get("Time"),
                     "Event": clone(args.get("Event") or {}), "APIOpts": clone(opts)}
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
    @maps_errors
    async def get_chargers_for_event(self, args: dict) -> list[dict]:
        if not isinstance(args, dict):
            raise mandatory_ie_missing("CGREvent")
        return [p.to_json() for p in await self.matching_for_event(args)]

    @rpc("ChargerSv1.ProcessEvent")
    @maps_errors
    async def v1_process_event(self, args: dict) -> list[dict]:
        if not isinstance(args, dict) or args.get("Event") is None:
            raise mandatory_ie_missing("Event")
        return await self.process_event(args)


#: cgr-console commands (CGRateS's names)
CONSOLE_COMMANDS: dict[str, tuple[str, str]] = ChargerService.crud.console_commands()
