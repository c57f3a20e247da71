"""A route's sorting data, gathered from the services that know it (CGRateS's populateSortingData).

Every route starts with its Weight. Then, by what the route names:

- **AccountIDs / RatingPlanIDs** → its cost, from RALs on ``routes.rals_conns`` (the event needs Account,
  Destination and SetupTime; Subject defaults to Account, Usage to one minute). With AccountIDs,
  ``Responder.GetMaxSessionTimeOnAccounts`` says how much of the usage the first usable account covers (SortingData
  Account, MaxUsage, Cost 0); what it does not cover is priced with ``Responder.GetCostOnRatingPlans`` on the
  route's RatingPlanIDs from where the account's part ends (Cost, RatingPlanID). A route whose cost cannot be told
  is dropped; one above the request's max cost is dropped; a RALs error fails the request unless errors are ignored
  (then the route is dropped).
- **StatIDs** → ``StatSv1.GetQueueFloatMetrics`` on ``routes.stats_conns`` for each queue: each metric's value
  averaged over the queues (*qos and the others), a metric of the profile's SortingParameters the queues lack
  counting -1 (``*pdd``: the largest float, the worst); for *load, Load is the sum of the queues' metrics (or of the
  one named ``StatID:MetricID``, which must exist).
- **ResourceIDs** → ``ResourceSv1.GetResource`` on ``routes.resources_conns``: ResourceUsage, the units in use
  over the resources.

A queue or resource the service does not know (NOT_FOUND) adds nothing; any other error of those services, like a
RALs error, fails the request unless errors are ignored (CGRateS logs errors of any but the last queue/resource
and returns the last one's error, NOT_FOUND included: that depends on the order, ours does not). Without the
``*_conns`` a route's metrics and usage are simply absent, as in CGRateS. Last, the route's filter rules that read
its sorting data (``~*vars.Cost`` ...) are checked on ``{"*req": event, "*vars": sorting data}``.

Where this differs from CGRateS, on purpose: an account that may go negative (max usage -1) covers the whole usage
(CGRateS prices usage + 1ns on the rating plans then).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from pycgrates.engine.filters.rules import FilterRule
from pycgrates.engine.filters.service import filter_service
from pycgrates.engine.profiles.crud import config_option
from pycgrates.engine.profiles.route_sorting import LOAD, META_LOAD, META_PDD, RESOURCE_USAGE, WEIGHT, ZERO, SortedRoute
from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError, mandatory_ie_missing
from pycgrates.engine.template.dataprovider import MapDataProvider, as_string
from pycgrates.engine.units import MINUTE, parse_duration, parse_time, to_decimal

log = logging.getLogger("cgr.routes")

ACCOUNT, SUBJECT, DESTINATION, SETUP_TIME, USAGE = "Account", "Subject", "Destination", "SetupTime", "Usage"
ANSWER_TIME, CATEGORY, TOR = "AnswerTime", "Category", "ToR"
MAX_USAGE, COST = "MaxUsage", "Cost"
#: a metric of SortingParameters the route's queues lack (CGRateS: -1, and the largest float for *pdd)
MISSING_METRIC = Decimal(-1)
MISSING_PDD = Decimal("1.7976931348623157e308")


class RouteFields(Protocol):
    """What the sorting data is gathered from (a route of a profile, :class:`~.routes.Route`)."""

    id: str
    params: str
    weight_key: Decimal
    account_ids: tuple[str, ...]
    rating_plan_ids: tuple[str, ...]
    resource_ids: tuple[str, ...]
    stat_ids: tuple[str, ...]


@dataclass(slots=True)
class RouteQuery:
    """One GetRoutes request as the routes of its profiles see it (CGRateS's optsGetRoutes)."""

    tenant: str
    event: dict[str, Any]  # Usage filled in (one minute) when the event has none
    opts: dict[str, Any] = field(default_factory=dict)  # the APIOpts
    ignore_errors: bool = False
    max_cost: Decimal = ZERO  # 0: no bound
    sorting: str = ""  # of the profile whose routes are being sorted
    sorting_params: Sequence[str] = ()
    #: the event's call fields, read once for all the routes (or the error reading them gave)
    call: tuple[str, str, str, datetime, int] | Exception | None = None


class RouteData:
    """Fills routes' sorting data through the ``routes`` section's connections."""

    def __init__(self, ctx: Any) -> None:
        self.ctx = ctx

    def _conn(self, option: str) -> Any:
        conns = config_option(self.ctx, "routes", option, None) or []
        return self.ctx.conns.get(conns) if conns else None

    @property
    def timezone(self) -> str | None:
        return config_option(self.ctx, "general", "default_timezone", None)

    @staticmethod
    def _skip(route: RouteFields, why: object) -> None:
        log.warning("<RouteS> ignoring route with ID: %s, err: %s", route.id, why)

    async def sorted_route(self, query: RouteQuery, route: RouteFields,
                           lazy_rules: Sequence[FilterRule]) -> SortedRoute | None:
        """The route with its sorting data, or None when it drops out (module docstring)."""
        sr = SortedRoute(route.id, route.params, {})
        sr.set(WEIGHT, route.weight_key)
        try:
            if route.account_ids or route.rating_plan_ids:
                cost = await self.route_cost(query, route)
                if not cost:
                    self._skip(route, "missing cost information")
                    return None
                value = to_decimal(cost.get(COST))
                if query.max_cost and value > query.max_cost:
                    self._skip(route, "MAX_COST_EXCEEDED")
                    return None
                for name, item in cost.items():
                    if isinstance(item, int | float | Decimal) and not isinstance(item, bool) and name != MAX_USAGE:
                        sr.set(name, to_decimal(item))
                    else:
                        sr.data[name] = item
            if route.stat_ids:
                if query.sorting == META_LOAD:
                    sr.set(LOAD, await self.stat_load(query.tenant, route.stat_ids))
                else:
                    metrics = await self.stat_metrics(query.tenant, route.stat_ids)
                    for name, value in metrics.items():
                        sr.set(name, value)
                    for name in query.sorting_params:
                        if name not in metrics:
                            sr.set(name, MISSING_PDD if name == META_PDD else MISSING_METRIC)
            if route.resource_ids:
                sr.set(RESOURCE_USAGE, await self.resource_usage(query.tenant, route.resource_ids))
        except (RPCError, ValueError) as exc:
            if not query.ignore_errors:
                raise
            self._skip(route, exc)
            return None
        if lazy_rules:
            dp = MapDataProvider({"*req": query.event, "*vars": sr.data})
            if not await filter_service(self.ctx).pass_rules(query.tenant, lazy_rules, dp):
                return None
        return sr

    # ------------------------------------------------------------------------------------------ RALs

    def _rals(self, what: str) -> Any:
        conn = self._conn("rals_conns")
        if conn is None:
            raise RPCError(f"routes.rals_conns is empty: RALs is needed for {what}")
        return conn

    def _call_fields(self, query: RouteQuery) -> tuple[str, str, str, datetime, int]:
        """(Account, Subject, Destination, SetupTime, Usage) of the event, as costForEvent reads them (once per
        request)."""
        if query.call is None:
            try:
                query.call = self._read_call(query.event)
            except (RPCError, ValueError) as exc:
                query.call = exc
        if isinstance(query.call, Exception):
            raise query.call
        return query.call

    def _read_call(self, event: dict) -> tuple[str, str, str, datetime, int]:
        for name in (ACCOUNT, DESTINATION, SETUP_TIME):
            if name not in event:
                raise mandatory_ie_missing(name)
        account = as_string(event[ACCOUNT])
        subject = as_string(event[SUBJECT]) if SUBJECT in event else account
        setup = parse_time(event[SETUP_TIME], self.timezone)
        if setup is None:
            raise ValueError(f"SetupTime {event[SETUP_TIME]!r} is not a time")
        usage = parse_duration(event[USAGE]) if event.get(USAGE) is not None else MINUTE
        return account, subject, as_string(event[DESTINATION]), setup, usage

    async def route_cost(self, query: RouteQuery, route: RouteFields) -> dict[str, Any]:
        """The cost data of a route (CGRateS's costForEvent): Account/MaxUsage from its accounts, Cost and
        RatingPlanID from its rating plans for what the accounts do not cover."""
        account, subject, destination, setup, usage = self._call_fields(query)
        rals = self._rals(f"the cost of route {route.id}")
        opts = query.opts
        cost: dict[str, Any] = {}
        covered = 0
        if route.account_ids:
            reply = await rals.call("Responder.GetMaxSessionTimeOnAccounts", {
                "Tenant": query.tenant, "Subject": subject, "Destination": destination, "SetupTime": setup,
                "Usage": usage, "AccountIDs": list(route.account_ids), "APIOpts": opts})
            if reply and reply.get(MAX_USAGE) is not None:
                covered = parse_duration(reply[MAX_USAGE])
                if covered < 0:  # may go negative: the account takes it all
                    covered = usage
                elif usage > covered:
                    if not route.rating_plan_ids:
                        raise ValueError("no rating plans defined for remaining usage")
                cost.update(reply)
        if covered == 0 or covered < usage:
            reply = await rals.call("Responder.GetCostOnRatingPlans", {
                "Tenant": query.tenant, "Account": account, "Subject": subject, "Destination": destination,
                "SetupTime": setup + timedelta(microseconds=covered // 1000), "Usage": usage - covered,
                "RatingPlanIDs": list(route.rating_plan_ids), "APIOpts": opts})
            cost.update(reply or {})
        return cost

    async def event_cost(self, query: RouteQuery) -> Decimal:
        """The cost of the event itself (max cost ``*event_cost``), from RALs' Responder.GetCost."""
        event = query.event
        for name in (ACCOUNT, DESTINATION, SETUP_TIME, USAGE):
            if name not in event:
                raise mandatory_ie_missing(name)
        account, subject, destination, start, usage = self._call_fields(query)
        if event.get(ANSWER_TIME):
            start = parse_time(event[ANSWER_TIME], self.timezone) or start
        cd = {"Tenant": query.tenant, "Category": as_string(event.get(CATEGORY)), "Account": account,
              "Subject": subject, "Destination": destination, "TimeStart": start,
              "TimeEnd": start + timedelta(microseconds=usage // 1000), "DurationIndex": usage}
        if event.get(TOR):
            cd["ToR"] = as_string(event[TOR])
        cc = await self._rals("*event_cost").call("Responder.GetCost", cd)
        return to_decimal((cc or {}).get(COST))

    # ------------------------------------------------------------------------------------------ StatS, ResourceS

    async def _fetch(self, conn: Any, method: str, tenant: str, item_id: str) -> Any:
        """One item from StatS/ResourceS; None when the service does not know it."""
        try:
            return await conn.call(method, {"Tenant": tenant, "ID": item_id})
        except RPCError as exc:
            if exc.message == NOT_FOUND:
                return None
            raise RPCError(f"{method} {tenant}:{item_id}: {exc.message}") from None

    async def stat_metrics(self, tenant: str, stat_ids: Sequence[str]) -> dict[str, Decimal]:
        """Each metric's value averaged over the queues that have it."""
        conn = self._conn("stats_conns")
        if conn is None:
            return {}
        values: dict[str, list[Decimal]] = {}
        for stat_id in stat_ids:
            metrics = await self._fetch(conn, "StatSv1.GetQueueFloatMetrics", tenant, stat_id) or {}
            for name, value in metrics.items():
                values.setdefault(name, []).append(to_decimal(value))
        return {name: sum(vs, ZERO) / len(vs) for name, vs in values.items()}

    async def stat_load(self, tenant: str, stat_ids: Sequence[str]) -> Decimal:
        """*load's Load: the sum of the queues' metrics (``StatID:MetricID``: of that metric only)."""
        conn = self._conn("stats_conns")
        if conn is None:
            return ZERO
        total = ZERO
        for stat_id in stat_ids:
            parts = stat_id.split(":")
            metrics = await self._fetch(conn, "StatSv1.GetQueueFloatMetrics", tenant, parts[0]) or {}
            if len(parts) == 2:
                if parts[1] not in metrics:
                    raise RPCError(f"<RouteS> error: NOT_FOUND metric {parts[1]} for statID: {parts[0]}")
                total += to_decimal(metrics[parts[1]])
            else:
                total += sum((to_decimal(v) for v in metrics.values()), ZERO)
        return total

    async def resource_usage(self, tenant: str, resource_ids: Sequence[str]) -> Decimal:
        """The units in use over the resources."""
        conn = self._conn("resources_conns")
        if conn is None:
            return ZERO
        total = ZERO
        for resource_id in resource_ids:
            resource = await self._fetch(conn, "ResourceSv1.GetResource", tenant, resource_id) or {}
            usages = resource.get("Usages") or {}
            total += sum((to_decimal((u or {}).get("Units")) for u in usages.values()), ZERO)
        return total
