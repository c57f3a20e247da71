"""StatS metrics: what a stat queue computes over the events it holds (CGRateS v0.11 ``engine/statmetrics.go``).

A metric ID is its type, with a parameter after ``#`` where the type takes one: ``*asr``, ``*sum#~*req.Usage``,
``*distinct#~*req.Account``. The types (:data:`METRIC_TYPES`):

=================  ============================================================  ===========================
type               value                                                         text
=================  ============================================================  ===========================
``*asr``           events answered (a non-zero AnswerTime) / events × 100        ``66.66667%``
``*acd``/``*tcd``  average / total of Usage                                      ``1m0s`` (a Go duration)
``*pdd``           average of PDD                                                a Go duration
``*acc``/``*tcc``  average / total of Cost (a negative Cost is not counted)      ``45.03333``
``*ddc``           distinct Destinations                                         ``2``
``*sum#F``         total of F, an RSR value (``~*req.Usage``)                    a number
``*average#F``     average of F (``~*req.Field``, or a constant)                 a number
``*distinct#F``    distinct values of F (which must be ``~*req.Field``)          a number
``*highest#F``     highest / lowest value of F                                   a number
``*lowest#F``
``*repsc``         events whose ReplyState is ``OK``                             a number
``*repfc[#ERR]``   events whose ReplyState is not ``OK`` (or lists ERR)          a number
=================  ============================================================  ===========================

**N/A**: a metric with no events, or fewer than MinItems, has no value: ``N/A`` as text, ``-1`` as a float
(CGRateS's StatsNA); ``*sum`` alone is 0 with no events when MinItems is 0, as in CGRateS. Values are rounded to
``general.rounding_decimals``: numbers as ``utils.Round`` with ``*middle``, durations to 10^(9-decimals) ns as
Go's ``Duration.Round``. Numbers print as Go's ``FormatFloat(v, 'f', -1)``, durations as ``Duration.String()``.

Each event is kept by its ID until it leaves the queue (expired by TTL, pushed out by QueueLength) and its part is
taken back. An event ID counted twice is one entry with a compress factor of 2 holding the average of its numbers,
as CGRateS keeps it. Sums of money-like values (Cost, ``*sum``, ``*average``) are Decimals, so taking values back
leaves no float residue; ``*highest``/``*lowest`` take back by recomputing from the values still held.

A metric reads its field with :meth:`StatMetric.read` (raising :class:`MetricError` when the event lacks it), then
counts the value with :meth:`StatMetric.add` (kept per event ID) or :meth:`StatMetric.add_one` (the queue's
one-event mode: aggregated, never taken back). ``to_json``/``from_json`` print and read CGRateS's JSON of the
metric (``StatASR``, ``StatACD``... with their field names), which is also what the DataDB keeps.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from pycgrates.engine.template.dataprovider import (
    DataProvider,
    NotFoundError,
    as_duration,
    as_float,
    as_string,
    dynamic_any,
    dynamic_string,
    format_float,
)
from pycgrates.engine.template.gocompat import go_round
from pycgrates.engine.template.rsr import RSRParsers, parse_rsr
from pycgrates.engine.units import format_duration, parse_time, to_decimal

NOT_AVAILABLE = "N/A"
STATS_NA = -1.0
HASHTAG_SEP = "#"
REQ_FIELD_PREFIX = "~*req."
REPLY_OK = "OK"
GO_ZERO_TIME = datetime(1, 1, 1)


class MetricError(ValueError):
    """An event a metric cannot count: its field is absent or unreadable (CGRateS words it ``NOT_FOUND:Usage``)."""


def metric_type(metric_id: str) -> tuple[str, str]:
    """``"*sum#~*req.Usage"`` → ``("*sum", "~*req.Usage")``."""
    kind, _, rest = metric_id.partition(HASHTAG_SEP)
    return kind, rest.split(HASHTAG_SEP, 1)[0]


def new_metric(metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = ()) -> StatMetric:
    """A new, empty metric; ValueError for a type CGRateS does not have or a parameter that does not compile."""
    kind, param = metric_type(metric_id)
    cls = METRIC_TYPES.get(kind)
    if cls is None:
        raise ValueError(f"unsupported metric type <{kind}>")
    return cls(metric_id, min_items, filter_ids, param)


def metric_from_json(metric_id: str, raw: dict) -> StatMetric:
    """A metric as :meth:`StatMetric.to_json` printed it."""
    metric = new_metric(metric_id, int(raw.get("MinItems") or 0), raw.get("FilterIDs") or ())
    metric.load_state(raw)
    return metric


def round_stat_duration(ns: int, decimals: int) -> int:
    """CGRateS's RoundStatDuration: Go's ``Duration.Round(10^(9-decimals))``, halves away from zero."""
    if decimals > 9:
        return ns
    m = 10 ** (9 - decimals)
    r = abs(ns) % m
    if r + r < m:
        return ns - r if ns >= 0 else ns + r
    return ns + m - r if ns >= 0 else ns - m + r


def trunc_div(a: int, b: int) -> int:
    """Go's integer division (towards zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def go_value_text(x: float) -> str:
    """Go's ``%v`` of a float64: the shortest digits, in exponent form below 1e-4 and from 1e6 on (``1e-05``)."""
    if x == 0 or not math.isfinite(x):
        return format_float(x)
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    assert isinstance(exponent, int)
    exp = len(digits) + exponent - 1
    if -4 <= exp < 6:
        return format_float(x)
    text = "".join(map(str, digits))
    mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
    return f"{'-' if sign else ''}{mantissa}e{exp:+03d}"


def _number(value: Any) -> Decimal:
    """A field's value as a Decimal: numbers as they are, anything else as Go's IfaceAsFloat64 reads it."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and not value.endswith(("s", "m", "h")):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            number = None
        if number is not None and number.is_finite():
            return number  # the text's own digits
    return to_decimal(as_float(value))


def _events_json(events: dict[str, list], key: str) -> dict:
    return {ev_id: {key: stat, "CompressFactor": cf} for ev_id, (stat, cf) in events.items()}


def _events_from_json(raw: Any, key: str, cast: Any) -> dict[str, list]:
    return {ev_id: [cast(v.get(key) or 0), int(v.get("CompressFactor") or 1)] for ev_id, v in (raw or {}).items()}


class StatMetric(ABC):
    """One metric of a stat queue: its events' contributions and its value."""

    kind: ClassVar[str]
    #: the value is a duration (int nanoseconds), not a number
    duration: ClassVar[bool] = False

    __slots__ = ("count", "filter_ids", "metric_id", "min_items", "param")

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        self.metric_id = metric_id
        self.min_items = min_items
        self.filter_ids = tuple(filter_ids)
        self.param = param
        self.count = 0

    # ------------------------------------------------------------------------------------------ counting

    @abstractmethod
    def read(self, dp: DataProvider, timezone: str | None = None) -> Any:
        """The event's value for this metric; MetricError when the event does not have it."""

    @abstractmethod
    def add(self, ev_id: str, value: Any) -> None:
        """Count an event's value, kept under its ID until :meth:`remove`."""

    @abstractmethod
    def add_one(self, value: Any) -> None:
        """Count a value for good (no event kept)."""

    @abstractmethod
    def remove(self, ev_id: str) -> None:
        """Take back one count of an event (nothing when the metric never counted it)."""

    # ------------------------------------------------------------------------------------------ value

    def available(self) -> bool:
        return self.count > 0 and self.count >= self.min_items

    @abstractmethod
    def _value(self, decimals: int) -> float | int:
        """The value, when available."""

    def value(self, decimals: int) -> float | int | None:
        """The rounded value (int nanoseconds for durations), None when N/A."""
        return self._value(decimals) if self.available() else None

    def float_value(self, decimals: int) -> float:
        """CGRateS's GetFloat64Value: -1 when N/A."""
        value = self.value(decimals)
        return STATS_NA if value is None else float(value)

    def string_value(self, decimals: int) -> str:
        """CGRateS's GetStringValue: ``N/A``, a Go duration or a number."""
        value = self.value(decimals)
        if value is None:
            return NOT_AVAILABLE
        return format_duration(int(value)) if self.duration else self.text(value)

    def text(self, value: float | int) -> str:
        return format_float(float(value))

    def event_value(self, decimals: int) -> float | int:
        """CGRateS's GetValue, what ThresholdS and EEs receive: -1 when N/A; durations in nanoseconds."""
        value = self.value(decimals)
        if value is None:
            return -1 if self.duration else STATS_NA
        return value

    # ------------------------------------------------------------------------------------------ JSON

    def to_json(self) -> dict:
        return {"FilterIDs": list(self.filter_ids) or None, **self.state_json(), "MinItems": self.min_items}

    @abstractmethod
    def state_json(self) -> dict:
        """The counted state under CGRateS's field names."""

    @abstractmethod
    def load_state(self, raw: dict) -> None:
        """Read back what :meth:`state_json` printed."""

    def _not_found(self, field: str) -> MetricError:
        return MetricError(f"NOT_FOUND:{field}")


# ---------------------------------------------------------------------------------------------------- sums


class _Accumulating(StatMetric):
    """A sum and a count of one number per event; each event's number is kept to be taken back."""

    stat_key: ClassVar[str] = "Stat"

    __slots__ = ("events", "sum")

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.sum: Any = self._zero()
        self.events: dict[str, list] = {}  # event ID → [number, compress factor]

    def _zero(self) -> Any:
        return Decimal(0)

    def _cast(self, raw: Any) -> Any:
        return to_decimal(raw)

    def _merge(self, stat: Any, cf: int, value: Any) -> Any:
        return (stat * cf + value) / (cf + 1)

    def add(self, ev_id: str, value: Any) -> None:
        self.sum += value
        entry = self.events.get(ev_id)
        if entry is None:
            self.events[ev_id] = [value, 1]
        else:
            entry[0] = self._merge(entry[0], entry[1], value)
            entry[1] += 1
        self.count += 1

    def add_one(self, value: Any) -> None:
        self.sum += value
        self.count += 1

    def remove(self, ev_id: str) -> None:
        entry = self.events.get(ev_id)
        if entry is None:
            return
        self.sum -= entry[0]
        self.count -= 1
        if entry[1] <= 1:
            del self.events[ev_id]
        else:
            entry[1] -= 1

    def state_json(self) -> dict:
        return {"Sum": self.sum, "Count": self.count, "Events": _events_json(self.events, self.stat_key)}

    def load_state(self, raw: dict) -> None:
        self.sum = self._cast(raw.get("Sum") or 0)
        self.count = int(raw.get("Count") or 0)
        self.events = _events_from_json(raw.get("Events"), self.stat_key, self._cast)


class _DurationSum(_Accumulating):
    """Durations of a field (int nanoseconds)."""

    duration = True
    stat_key = "Duration"
    field: ClassVar[str]

    def _zero(self) -> Any:
        return 0

    def _cast(self, raw: Any) -> Any:
        return int(raw)

    def _merge(self, stat: Any, cf: int, value: Any) -> Any:
        return int((stat * cf + value) / (cf + 1))  # Go averages in float64 and truncates

    def read(self, dp: DataProvider, timezone: str | None = None) -> int:
        try:
            return as_duration(dp.field_as_any(("*req", self.field)))
        except NotFoundError:
            raise self._not_found(self.field) from None
        except ValueError as exc:
            raise MetricError(str(exc)) from None


class StatACD(_DurationSum):
    kind = "*acd"
    field = "Usage"

    def _value(self, decimals: int) -> int:
        return round_stat_duration(trunc_div(self.sum, self.count), decimals)


class StatTCD(_DurationSum):
    kind = "*tcd"
    field = "Usage"

    def _value(self, decimals: int) -> int:
        return round_stat_duration(self.sum, decimals)


class StatPDD(_DurationSum):
    kind = "*pdd"
    field = "PDD"

    def _value(self, decimals: int) -> int:
        return round_stat_duration(trunc_div(self.sum, self.count), decimals)


class _CostSum(_Accumulating):
    """The Cost of the events; a negative one is not counted (CGRateS: ``NEGATIVE:Cost``)."""

    def read(self, dp: DataProvider, timezone: str | None = None) -> Decimal:
        try:
            cost = _number(dp.field_as_any(("*req", "Cost")))
        except NotFoundError:
            raise self._not_found("Cost") from None
        except ValueError as exc:
            raise MetricError(str(exc)) from None
        if cost < 0:
            raise MetricError("NEGATIVE:Cost")
        return cost


class StatACC(_CostSum):
    kind = "*acc"

    def _value(self, decimals: int) -> float:
        return go_round(float(self.sum / self.count), decimals, "*middle")


class StatTCC(_CostSum):
    kind = "*tcc"

    def _value(self, decimals: int) -> float:
        return go_round(float(self.sum), decimals, "*middle")


class StatSum(_Accumulating):
    """The total of an RSR value (``*sum#~*req.Usage``)."""

    kind = "*sum"

    __slots__ = ("fields",)

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.fields: RSRParsers = parse_rsr(param)

    def available(self) -> bool:
        return self.count >= self.min_items

    def read(self, dp: DataProvider, timezone: str | None = None) -> Decimal:
        try:
            return _number(self.fields.parse(dp))
        except NotFoundError:
            raise self._not_found(self.param) from None
        except ValueError as exc:
            raise MetricError(str(exc)) from None

    def _value(self, decimals: int) -> float:
        return go_round(float(self.sum), decimals, "*middle")

    def to_json(self) -> dict:
        return {**super().to_json(), "Fields": [{"Rules": p.rules} for p in self.fields]}


class StatAverage(_Accumulating):
    """The average of a field or constant (``*average#~*req.Usage``)."""

    kind = "*average"

    def read(self, dp: DataProvider, timezone: str | None = None) -> Decimal:
        try:
            return _number(dynamic_any(self.param, dp))
        except NotFoundError:
            raise self._not_found(self.param) from None
        except ValueError as exc:
            raise MetricError(str(exc)) from None

    def _value(self, decimals: int) -> float:
        return go_round(float(self.sum / self.count), decimals, "*middle")

    def to_json(self) -> dict:
        return {**super().to_json(), "FieldName": self.param}


# ---------------------------------------------------------------------------------------------------- ASR


class StatASR(StatMetric):
    """Answer-seizure ratio: the share of events with a non-zero AnswerTime, as a percentage."""

    kind = "*asr"

    __slots__ = ("answered", "events")

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.answered = 0
        self.events: dict[str, list] = {}  # event ID → [share answered, compress factor]

    def read(self, dp: DataProvider, timezone: str | None = None) -> int:
        try:
            value = dp.field_as_any(("*req", "AnswerTime"))
        except NotFoundError:
            return 0
        try:
            at = parse_time(value, timezone)  # None for "" and Go's zero time
        except ValueError as exc:
            raise MetricError(str(exc)) from None
        return 0 if at is None or (at.replace(tzinfo=None) == GO_ZERO_TIME and not at.utcoffset()) else 1

    def add(self, ev_id: str, value: int) -> None:
        entry = self.events.get(ev_id)
        if entry is None:
            self.events[ev_id] = [float(value), 1]
        else:
            entry[0] = (entry[0] * entry[1] + value) / (entry[1] + 1)
            entry[1] += 1
        self.add_one(value)

    def add_one(self, value: int) -> None:
        self.count += 1
        self.answered += value

    def remove(self, ev_id: str) -> None:
        entry = self.events.get(ev_id)
        if entry is None:
            return
        answered = 1 if entry[0] > 0.5 else 0
        self.answered -= answered
        self.count -= 1
        if entry[1] <= 1:
            del self.events[ev_id]
        else:
            entry[0] = (entry[0] * entry[1] - answered) / (entry[1] - 1)
            entry[1] -= 1

    def _value(self, decimals: int) -> float:
        return go_round(self.answered / self.count * 100.0, decimals, "*middle")

    def text(self, value: float | int) -> str:
        return go_value_text(float(value)) + "%"

    def state_json(self) -> dict:
        return {"Answered": float(self.answered), "Count": self.count, "Events": _events_json(self.events, "Stat")}

    def load_state(self, raw: dict) -> None:
        self.answered = int(raw.get("Answered") or 0)
        self.count = int(raw.get("Count") or 0)
        self.events = _events_from_json(raw.get("Events"), "Stat", float)


# ---------------------------------------------------------------------------------------------------- distinct values


class _DistinctValues(StatMetric):
    """How many distinct values a field took among the events held."""

    __slots__ = ("events", "field_values")

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.field_values: dict[str, set[str]] = {}  # value → IDs of the events that had it
        self.events: dict[str, dict[str, int]] = {}  # event ID → {value: times}

    def add(self, ev_id: str, value: str) -> None:
        self.field_values.setdefault(value, set()).add(ev_id)
        counts = self.events.setdefault(ev_id, {})
        counts[value] = counts.get(value, 0) + 1
        self.count += 1

    def add_one(self, value: str) -> None:
        self.field_values.setdefault(value, set())
        self.count += 1

    def remove(self, ev_id: str) -> None:
        counts = self.events.get(ev_id)
        if counts is None:
            return
        if not counts:
            del self.events[ev_id]
            return
        value = next(iter(counts))
        self.count -= 1
        if counts[value] > 1:
            counts[value] -= 1
            return
        del counts[value]
        holders = self.field_values.get(value)
        if holders is None:
            return
        holders.discard(ev_id)
        if not holders:
            del self.field_values[value]

    def _value(self, decimals: int) -> float:
        return float(len(self.field_values))

    def state_json(self) -> dict:
        return {"FieldValues": {v: {i: {} for i in sorted(ids)} for v, ids in self.field_values.items()},
                "Events": {i: dict(c) for i, c in self.events.items()}, "Count": self.count}

    def load_state(self, raw: dict) -> None:
        self.field_values = {v: set(ids or ()) for v, ids in (raw.get("FieldValues") or {}).items()}
        self.events = {i: {v: int(n) for v, n in (c or {}).items()} for i, c in (raw.get("Events") or {}).items()}
        self.count = int(raw.get("Count") or 0)


class StatDDC(_DistinctValues):
    """Distinct destinations dialled."""

    kind = "*ddc"

    def read(self, dp: DataProvider, timezone: str | None = None) -> str:
        try:
            return dp.field_as_string(("*req", "Destination"))
        except NotFoundError:
            raise self._not_found("Destination") from None


class StatDistinct(_DistinctValues):
    """Distinct values of an event field (``*distinct#~*req.Account``)."""

    kind = "*distinct"

    def read(self, dp: DataProvider, timezone: str | None = None) -> str:
        if not self.param.startswith(REQ_FIELD_PREFIX):
            raise MetricError(f"invalid format for field <{self.param}>")
        try:
            return dynamic_string(self.param, dp)
        except NotFoundError:
            raise self._not_found(self.param) from None

    def to_json(self) -> dict:
        return {**super().to_json(), "FieldName": self.param}


# ---------------------------------------------------------------------------------------------------- extremes


class _Extreme(StatMetric):
    """The highest or lowest value of a field among the events held."""

    __slots__ = ("events", "extreme")

    best: ClassVar[Any]  # max or min
    json_key: ClassVar[str]
    start: ClassVar[float]

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.extreme = self.start
        self.events: dict[str, float] = {}

    def read(self, dp: DataProvider, timezone: str | None = None) -> float:
        try:
            return as_float(dynamic_any(self.param, dp))
        except NotFoundError:
            raise self._not_found(self.param) from None
        except ValueError as exc:
            raise MetricError(str(exc)) from None

    def add(self, ev_id: str, value: float) -> None:
        if ev_id not in self.events:
            self.count += 1
        self.events[ev_id] = value
        self.extreme = value if self.count == 1 else type(self).best(self.extreme, value)

    def add_one(self, value: float) -> None:
        self.count += 1
        self.extreme = value if self.count == 1 else type(self).best(self.extreme, value)

    def remove(self, ev_id: str) -> None:
        value = self.events.pop(ev_id, None)
        if value is None:
            return
        self.count -= 1
        if value == self.extreme:
            self.extreme = type(self).best(self.events.values()) if self.events else self.start

    def _value(self, decimals: int) -> float:
        return go_round(self.extreme, decimals, "*middle")

    def to_json(self) -> dict:
        return {**super().to_json(), "FieldName": self.param}

    def state_json(self) -> dict:
        return {self.json_key: self.extreme, "Count": self.count, "Events": dict(self.events)}

    def load_state(self, raw: dict) -> None:
        self.extreme = float(raw.get(self.json_key, self.start))
        self.count = int(raw.get("Count") or 0)
        self.events = {i: float(v) for i, v in (raw.get("Events") or {}).items()}


class StatHighest(_Extreme):
    kind = "*highest"
    best = max
    json_key = "Highest"
    start = 0.0


class StatLowest(_Extreme):
    kind = "*lowest"
    best = min
    json_key = "Lowest"
    start = 1.7976931348623157e308  # Go's math.MaxFloat64, CGRateS's empty *lowest


# ---------------------------------------------------------------------------------------------------- replies


class _ReplyCount(StatMetric):
    """How many events had a given ReplyState."""

    __slots__ = ("events",)

    def __init__(self, metric_id: str, min_items: int = 0, filter_ids: Sequence[str] = (), param: str = "") -> None:
        super().__init__(metric_id, min_items, filter_ids, param)
        self.events: set[str] = set()

    @abstractmethod
    def counts(self, reply_state: str) -> bool:
        """Whether an event with this ReplyState is counted."""

    def read(self, dp: DataProvider, timezone: str | None = None) -> bool:
        try:
            return self.counts(as_string(dp.field_as_any(("*req", "ReplyState"))))
        except NotFoundError:
            raise self._not_found("ReplyState") from None

    def add(self, ev_id: str, value: bool) -> None:
        if value and ev_id not in self.events:
            self.events.add(ev_id)
            self.count += 1

    def add_one(self, value: bool) -> None:
        if value:
            self.count += 1

    def remove(self, ev_id: str) -> None:
        if ev_id in self.events:
            self.events.discard(ev_id)
            self.count -= 1

    def _value(self, decimals: int) -> float:
        return float(self.count)

    def state_json(self) -> dict:
        return {"Count": self.count, "Events": {i: {} for i in sorted(self.events)}}

    def load_state(self, raw: dict) -> None:
        self.count = int(raw.get("Count") or 0)
        self.events = set(raw.get("Events") or ())


class StatREPSC(_ReplyCount):
    """Requests answered OK (ReplyState ``OK``)."""

    kind = "*repsc"

    def counts(self, reply_state: str) -> bool:
        return reply_state == REPLY_OK


class StatREPFC(_ReplyCount):
    """Requests that failed: ReplyState not ``OK``, or naming the error type of ``*repfc#ERR`` among its ``;``
    parts."""

    kind = "*repfc"

    def counts(self, reply_state: str) -> bool:
        if not self.param:
            return reply_state != REPLY_OK
        return self.param in reply_state.split(";")

    def to_json(self) -> dict:
        return {**super().to_json(), "ErrorType": self.param}


#: metric type → class, as CGRateS's NewStatMetric knows them
METRIC_TYPES: dict[str, type[StatMetric]] = {cls.kind: cls for cls in (
    StatASR, StatACD, StatTCD, StatACC, StatTCC, StatPDD, StatDDC, StatSum, StatAverage, StatDistinct, StatHighest,
    StatLowest, StatREPSC, StatREPFC)}

__all__ = ["METRIC_TYPES", "NOT_AVAILABLE", "STATS_NA", "MetricError", "StatMetric", "metric_from_json",
           "metric_type", "new_metric", "round_stat_duration"]
