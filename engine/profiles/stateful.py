"""What the stateful profile services share: ResourceS, StatS and ThresholdS keep a live item beside each profile
(a resource's usages, a stat queue, a threshold's hits), and tell ThresholdS when one changed.

:class:`StatefulService` is a :class:`~.base.ProfileService` that adds:

- **the live items** in a :class:`~.state.StateStore` (``self.state``, written per ``<section>.store_interval``),
  started and stopped with the service;
- **the live item following its profile**: whenever a profile is written, through ``APIerSv1.Set<Type>Profile`` or
  by a tariff-plan load (the loader calls :meth:`StatefulService.profile_written`), the subclass's
  :meth:`~StatefulService.follow_profile` brings the item in line under its lock: by default it starts afresh when
  :meth:`~StatefulService.starts_afresh` says so for the old and new profile (CGRateS's
  DataManager.Set<Type>Profile); removing a profile removes its item;
- **the RPC surface they share**: ``<Service>v1.Ping``, and for a subclass that counts events
  (:meth:`~StatefulService.process_event`) ``<Service>v1.ProcessEvent``: the event checked as CGRateS checks it
  (:func:`~.base.check_event_args`), the IDs of the items it reached, ``PARTIALLY_EXECUTED`` (as CGRateS words it,
  not as a SERVER_ERROR) when a notification failed after the items were updated;
- **the events to ThresholdS** (:meth:`~StatefulService.notify_thresholds`, CGRateS's processThresholds) on
  ``<section>.thresholds_conns``, one per changed item whose profile's ThresholdIDs are not ``[*none]``::

    {"Tenant", "ID": <uuid>, "Event": {"EventType": <update_event>, <item_field>: <profile ID>, <values>...},
     "APIOpts": {<the call's options>, "*eventType": <update_event>, "*thdProfileIDs": <ThresholdIDs or null>}}
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Protocol

from pycgrates.engine.profiles.base import P, ProfileError, ProfileService, check_event_args
from pycgrates.engine.profiles.crud import maps_errors, serving
from pycgrates.engine.profiles.state import StateStore, store_interval
from pycgrates.engine.rpc.errors import NOT_FOUND, PARTIALLY_EXECUTED, RPCError

META_NONE = "*none"
OPT_EVENT_TYPE = "*eventType"
OPT_THRESHOLD_IDS = "*thdProfileIDs"
THRESHOLD_PROCESS_EVENT = "ThresholdSv1.ProcessEvent"


class Notifying(Protocol):
    """A profile whose item's changes ThresholdS hears of."""

    tenant: str
    id: str
    threshold_ids: tuple[str, ...]


class StatefulService(ProfileService[P]):
    """The base of ResourceS, StatS and ThresholdS (module docstring). A subclass declares ``rpc_service`` and, when
    its items notify ThresholdS, ``update_event`` and ``item_field``; it passes the live items' kind and codec to
    ``__init__``."""

    #: the RPC service its methods are served under ("StatSv1")
    rpc_service: ClassVar[str]
    #: the EventType of the events telling ThresholdS an item changed ("StatUpdate"), and the field naming the item
    update_event: ClassVar[str] = ""
    item_field: ClassVar[str] = ""
    #: whether ThresholdS answering NOT_FOUND to an event that names its thresholds is a failure: so for CGRateS's
    #: ResourceS, never for its StatS
    named_thresholds_must_match: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        service = cls.__dict__.get("rpc_service")
        if service is None:
            return
        cls.rpc_ping = serving(f"{service}.Ping", "ping")  # type: ignore[attr-defined]
        if cls.process_event is not StatefulService.process_event:
            cls.rpc_process_event = serving(f"{service}.ProcessEvent", "v1_process_event",  # type: ignore
                                            errors_mapped=False)

    def __init__(self, ctx: Any, *, kind: str, encode: Callable[[Any], dict], decode: Callable[[dict], Any]) -> None:
        super().__init__(ctx)
        where = f"{self.section}.store_interval"
        self.state: StateStore[Any] = StateStore(self.dm, kind, encode=encode, decode=decode, name=self.section,
                                                 interval=store_interval(self.option(self.section, "store_interval",
                                                                                     ""), where))

    async def start(self) -> None:
        self.state.start()

    async def stop(self) -> None:
        await self.state.stop()

    # ------------------------------------------------------------------------------------------ profiles

    async def profile_or_none(self, tenant: str, profile_id: str) -> P | None:
        """The compiled profile; None when there is none or it does not compile."""
        try:
            return await self.get_profile(tenant, profile_id)
        except ProfileError:
            return None

    async def store(self, raw: dict) -> None:
        """Write a profile (APIerSv1), then let its live item follow it."""
        old = await self.profile_or_none(raw["Tenant"], raw["ID"])
        await super().store(raw)
        await self.profile_written(old, self.decode(raw))

    async def profile_written(self, old: P | None, new: P) -> None:
        """``new`` was written over ``old`` (None: there was none), through the API or by a tariff-plan load: its live
        item follows, under the item's lock."""
        key = f"{new.tenant}:{new.id}"
        async with self.state.lock(key):
            await self.follow_profile(key, old, new)

    async def follow_profile(self, key: str, old: P | None, new: P) -> None:
        """Bring the live item ``key`` in line with its newly written profile (called under its lock)."""
        if self.starts_afresh(old, new):
            await self.state.remove(key)  # the next use creates it anew

    def starts_afresh(self, old: P | None, new: P) -> bool:
        """Whether writing ``new`` over ``old`` starts the live item afresh: a new profile does."""
        return old is None

    async def delete(self, tenant: str, item_id: str) -> bool:
        """Remove a profile and its live item."""
        removed = await super().delete(tenant, item_id)
        if removed:
            key = f"{tenant}:{item_id}"
            async with self.state.lock(key):
                await self.state.remove(key)
        return removed

    # ------------------------------------------------------------------------------------------ RPC

    async def ping(self, args: Any) -> str:
        return "Pong"

    async def process_event(self, args: dict) -> tuple[list[str], bool]:
        """Count a checked event on its matching items: their IDs, and False when a notification failed."""
        raise NotImplementedError

    async def v1_process_event(self, args: Any) -> list[str]:
        """``<Service>v1.ProcessEvent``: the IDs, or ``PARTIALLY_EXECUTED`` once the items were updated."""
        ids, complete = await self._checked_process_event(args)
        if not complete:
            raise RPCError(PARTIALLY_EXECUTED)
        return ids

    @maps_errors
    async def _checked_process_event(self, args: Any) -> tuple[list[str], bool]:
        return await self.process_event(check_event_args(args))

    # ------------------------------------------------------------------------------------------ ThresholdS

    async def notify_thresholds(self, updates: Sequence[tuple[Notifying, dict[str, Any]]], opts: dict) -> bool:
        """``ThresholdSv1.ProcessEvent`` per changed item with its values (module docstring); False when one failed.
        ThresholdS finding no threshold is no failure, unless the event named them and
        ``named_thresholds_must_match``."""
        conn_ids = self.option(self.section, "thresholds_conns", []) or []
        if not conn_ids or not updates:
            return True
        conn = self.ctx.conns.get(conn_ids)
        complete = True
        for prf, values in updates:
            if prf.threshold_ids == (META_NONE,):
                continue
            ids = list(prf.threshold_ids) or None
            event = {"Tenant": prf.tenant, "ID": str(uuid.uuid4()),
                     "Event": {"EventType": self.update_event, self.item_field: prf.id, **values},
                     "APIOpts": {**opts, OPT_EVENT_TYPE: self.update_event, OPT_THRESHOLD_IDS: ids}}
            not_found_ok = ids is None or not self.named_thresholds_must_match
            complete = await self.send(conn, THRESHOLD_PROCESS_EVENT, event, prf, not_found_ok=not_found_ok) \
                and complete
        return complete

    async def send(self, conn: Any, method: str, event: dict, prf: Notifying, *, not_found_ok: bool = True) -> bool:
        """One notification about ``prf``'s item; False (logged) when it failed."""
        log = logging.getLogger(f"cgr.{self.section}")
        if conn is None:
            log.warning("%s for %s %s:%s: no connection", method, self.section, prf.tenant, prf.id)
            return False
        try:
            await conn.call(method, event)
        except RPCError as exc:
            if not_found_ok and exc.message == NOT_FOUND:
                return True
            log.warning("%s for %s %s:%s: %s", method, self.section, prf.tenant, prf.id, exc)
            return False
        except (OSError, TimeoutError) as exc:
            log.warning("%s for %s %s:%s: %s", method, self.section, prf.tenant, prf.id, exc)
            return False
        return True
