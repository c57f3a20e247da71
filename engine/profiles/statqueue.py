"""Stat queue profiles and their live queues (CGRateS v0.11 ``engine/libstats.go``).

A **profile** (DataDB kind STATQUEUE_PROFILE, key ``tenant:id``) says which events a queue takes (FilterIDs,
ActivationInterval, Weight, Blocker), how long it keeps them (QueueLength: the newest N; TTL: for that long), from
how many on its metrics have a value (MinItems), which metrics it computes (``Metrics``: MetricID and the metric's
own FilterIDs), whether its queue is written to the DataDB (Stored) and which thresholds hear of its updates
(ThresholdIDs, ``*none`` for none). TTL and QueueLength both ``-1`` is CGRateS's one-event mode: events are
aggregated and never leave.

A **queue** (kind STATQUEUE, same key) holds its events' IDs with their expiry (``SQItems``) and its metrics
(``SQMetrics``, :mod:`.statmetrics`). It is pure bookkeeping: the clock is passed in, the values an event gives each
metric are read by the caller (StatS, which also checks the metrics' filters). A queue follows its profile as
CGRateS's SetStatQueueProfile makes it: a change of QueueLength, TTL or MinItems, or Stored turned off, starts the
queue afresh; otherwise metrics added or whose filters changed start empty, metrics no longer named go.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pycgrates.engine.filters.rules import ActivationInterval, activation_json, parse_activation_interval
from pycgrates.engine.profiles.base import json_number, str_list
from pycgrates.engine.profiles.statmetrics import StatMetric, metric_from_json, new_metric
from pycgrates.engine.units import format_time, ns_to_timedelta, parse_duration, parse_time

log = logging.getLogger("cgr.stats")

META_NONE = "*none"


@dataclass(frozen=True, slots=True)
class MetricWithFilters:
    metric_id: str
    filter_ids: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"FilterIDs": list(self.filter_ids) or None, "MetricID": self.metric_id}


@dataclass(slots=True)
class StatQueueProfile:
    tenant: str
    id: str
    filter_ids: tuple[str, ...] = ()
    activation: ActivationInterval | None = None
    queue_length: int = 0
    ttl: int = 0  # nanoseconds; 0 or less: events do not expire
    min_items: int = 0
    metrics: tuple[MetricWithFilters, ...] = ()
    stored: bool = False
    blocker: bool = False
    weight: float = 0.0
    threshold_ids: tuple[str, ...] = ()
    raw: dict | None = field(default=None, repr=False)

    @property
    def one_event(self) -> bool:
        """CGRateS's one-event mode (TTL and QueueLength -1): events are aggregated, none is kept."""
        return self.ttl == -1 and self.queue_length == -1

    def to_json(self) -> dict:
        return {"Tenant": self.tenant, "ID": self.id, "FilterIDs": list(self.filter_ids),
                "ActivationInterval": activation_json(self.activation), "QueueLength": self.queue_length,
                "TTL": self.ttl, "MinItems": self.min_items, "Metrics": [m.to_json() for m in self.metrics],
                "Stored": self.stored, "Blocker": self.blocker, "Weight": json_number(self.weight),
                "ThresholdIDs": list(self.threshold_ids)}


def _int(raw: dict, name: str) -> int:
    value = raw.get(name)
    if value in (None, ""):
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number (got {value!r})") from None
    if number != int(number):
        raise ValueError(f"{name} must be a whole number (got {value!r})")
    return int(number)


def decode_statqueue_profile(raw: dict) -> StatQueueProfile:
    """A profile as CGRateS's JSON gives it (TTL in nanoseconds or as Go text); ValueError names what is wrong."""
    metrics = []
    for m in raw.get("Metrics") or ():
        if not isinstance(m, dict):
            raise ValueError(f"Metrics must be a list of {{\"MetricID\", \"FilterIDs\"}} (got {m!r})")
        metric = MetricWithFilters(str(m.get("MetricID") or ""), str_list(m.get("FilterIDs")))
        new_metric(metric.metric_id, 0, metric.filter_ids)  # an unknown type or a bad parameter fails here
        metrics.append(metric)
    try:
        ttl = parse_duration(raw.get("TTL") or 0)
    except ValueError as exc:
        raise ValueError(f"TTL: {exc}") from None
    return StatQueueProfile(
        tenant=raw.get("Tenant") or "", id=raw.get("ID") or "", filter_ids=str_list(raw.get("FilterIDs")),
        activation=parse_activation_interval(raw.get("ActivationInterval")),
        queue_length=_int(raw, "QueueLength"), ttl=ttl, min_items=_int(raw, "MinItems"), metrics=tuple(metrics),
        stored=bool(raw.get("Stored")), blocker=bool(raw.get("Blocker")), weight=float(raw.get("Weight") or 0),
        threshold_ids=str_list(raw.get("ThresholdIDs")), raw=raw)


@dataclass(frozen=True, slots=True)
class QueueShape:
    """What of its profile a queue was built for: a change of the first three starts the queue afresh."""

    queue_length: int = 0
    ttl: int = 0
    min_items: int = 0
    stored: bool = False

    @classmethod
    def of(cls, prf: StatQueueProfile) -> QueueShape:
        return cls(prf.queue_length, prf.ttl, prf.min_items, prf.stored)

    def to_json(self) -> dict:
        return {"QueueLength": self.queue_length, "TTL": self.ttl, "MinItems": self.min_items, "Stored": self.stored}


@dataclass(slots=True)
class SQItem:
    event_id: str
    expiry: datetime | None = None

    def to_json(self) -> dict:
        return {"EventID": self.event_id, "ExpiryTime": format_time(self.expiry) if self.expiry else None}


def _fresh_metrics(prf: StatQueueProfile) -> dict[str, StatMetric]:
    return {m.metric_id: new_metric(m.metric_id, prf.min_items, m.filter_ids) for m in prf.metrics}


@dataclass(slots=True)
class StatQueue:
    tenant: str
    id: str
    items: list[SQItem] = field(default_factory=list)
    metrics: dict[str, StatMetric] = field(default_factory=dict)
    shape: QueueShape = QueueShape()

    @classmethod
    def new(cls, prf: StatQueueProfile) -> StatQueue:
        return cls(prf.tenant, prf.id, [], _fresh_metrics(prf), QueueShape.of(prf))

    # ------------------------------------------------------------------------------------------ the profile

    def follow(self, prf: StatQueueProfile) -> bool:
        """Bring the queue in line with its (possibly changed) profile; True when anything changed."""
        shape = QueueShape.of(prf)
        old = self.shape
        if (shape.queue_length, shape.ttl, shape.min_items) != (old.queue_length, old.ttl, old.min_items) or \
                (old.stored and not shape.stored):
            self.items, self.metrics, self.shape = [], _fresh_metrics(prf), shape
            return True
        changed = shape != old
        self.shape = shape
        metrics: dict[str, StatMetric] = {}
        for m in prf.metrics:
            current = self.metrics.get(m.metric_id)
            if current is None or current.filter_ids != m.filter_ids:
                current = new_metric(m.metric_id, prf.min_items, m.filter_ids)
                changed = True
            metrics[m.metric_id] = current
        changed = changed or metrics.keys() != self.metrics.keys()
        self.metrics = metrics
        return changed

    def reset(self) -> None:
        """No events; every metric empty with its MinItems and filters (StatSv1.ResetStatQueue)."""
        self.items = []
        self.metrics = {mid: new_metric(mid, m.min_items, m.filter_ids) for mid, m in self.metrics.items()}

    # ------------------------------------------------------------------------------------------ events

    def remove_expired(self, now: datetime) -> int:
        """Take out the events whose TTL has passed (the oldest first); how many."""
        removed = 0
        for item in self.items:
            if item.expiry is None or item.expiry > now:
                break  # in order of arrival, so of expiry
            self._take_back(item.event_id)
            removed += 1
        if removed:
            del self.items[:removed]
        return removed

    def _take_back(self, event_id: str) -> None:
        for metric in self.metrics.values():
            metric.remove(event_id)

    def add_event(self, event_id: str, values: dict[str, Any], now: datetime) -> None:
        """Count an event: ``values`` holds what it gives each metric that takes it (its filters passed, its field
        read). Expired events leave first, then the oldest when the queue is full (QueueLength)."""
        if self.shape.ttl == -1 and self.shape.queue_length == -1:
            for mid, value in values.items():
                self.metrics[mid].add_one(value)
            return
        self.remove_expired(now)
        if 0 < self.shape.queue_length <= len(self.items):
            self._take_back(self.items.pop(0).event_id)
        expiry = now + ns_to_timedelta(self.shape.ttl) if self.shape.ttl > 0 else None
        self.items.append(SQItem(event_id, expiry))
        for mid, value in values.items():
            self.metrics[mid].add(event_id, value)

    # ------------------------------------------------------------------------------------------ values

    def _values(self, value_of: Callable[[StatMetric], Any]) -> dict[str, Any]:
        return {mid: value_of(self.metrics[mid]) for mid in sorted(self.metrics)}

    def string_metrics(self, decimals: int) -> dict[str, str]:
        return self._values(lambda m: m.string_value(decimals))

    def float_metrics(self, decimals: int) -> dict[str, float]:
        return self._values(lambda m: m.float_value(decimals))

    def event_metrics(self, decimals: int) -> dict[str, float | int]:
        """The values as ThresholdS and EEs receive them (durations in nanoseconds, -1 for N/A)."""
        return self._values(lambda m: m.event_value(decimals))

    # ------------------------------------------------------------------------------------------ JSON

    def to_json(self) -> dict:
        """CGRateS's StatQueue JSON (StatSv1.GetStatQueue)."""
        return {"Tenant": self.tenant, "ID": self.id, "SQItems": [i.to_json() for i in self.items],
                "SQMetrics": {mid: m.to_json() for mid, m in self.metrics.items()}}

    def to_stored(self) -> dict:
        """What the DataDB keeps: the JSON above and the profile shape the queue was built for."""
        return {**self.to_json(), "Shape": self.shape.to_json()}

    @classmethod
    def from_stored(cls, raw: dict) -> StatQueue:
        shape = raw.get("Shape") or {}
        return cls(
            tenant=raw.get("Tenant") or "", id=raw.get("ID") or "",
            items=[SQItem(i.get("EventID") or "", parse_time(i.get("ExpiryTime")) if i.get("ExpiryTime") else None)
                   for i in raw.get("SQItems") or ()],
            metrics={mid: metric_from_json(mid, m) for mid, m in (raw.get("SQMetrics") or {}).items()},
            shape=QueueShape(int(shape.get("QueueLength") or 0), int(shape.get("TTL") or 0),
                             int(shape.get("MinItems") or 0), bool(shape.get("Stored"))))


__all__ = ["META_NONE", "MetricWithFilters", "QueueShape", "SQItem", "StatQueue", "StatQueueProfile",
           "decode_statqueue_profile"]
