"""Prometheus text-format metrics: counters, gauges and histograms kept in process, rendered on /metrics.

Values are written exactly: integers as integers (a counter past a million stays ``1234567``, never
``1.23457e+06``), floats in their shortest round-trip form, infinities and NaN as Prometheus spells them.
Names and labels follow Prometheus's conventions: ``snake_case``, one ``cgr_`` prefix, base units in the name
(``_seconds``), ``_total`` on counters.

Three kinds of figures reach the exposition:

- the engine's own (:class:`Metrics`, one per engine): RPC requests, errors and latency by method, connections;
- the process-wide instruments below, fed by one line at the place where the event happens (the agents' request
  pipeline, the SessionS debit loop, the durable store's commit, the duplicate detector) — process-wide as in
  Prometheus's client libraries, since one engine runs per process;
- figures read at scrape time from the engine's own services through their RPC methods
  (:meth:`Metrics.exposition`): active sessions (``SessionSv1.GetActiveSessionsCount``) and every stat queue's
  metrics (``StatSv1.GetQueueFloatMetrics``, as CGRateS's PrometheusAgent names them: ``cgrates_stats_metrics``).
"""

from __future__ import annotations

import asyncio
import bisect
import functools
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Protocol

from pycgrates.engine.rpc.errors import NOT_FOUND, RPCError

log = logging.getLogger("cgr.metrics")

_DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: how late a debit loop may run: from a millisecond to well past a debit interval
_LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: a scrape waits this long for one service's figures, then goes on without them
SCRAPE_TIMEOUT = 5.0


def _labels(names: Sequence[str], values: Sequence[str]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def sample_value(v: float) -> str:
    """A sample value in the text format, exactly: ``1234567``, ``0.25``, ``1e+22``, ``+Inf``, ``NaN``."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    if v.is_integer() and abs(v) < 2**53:
        return str(int(v))
    return repr(v)


def _bound(b: float) -> str:
    """A bucket's ``le`` label as Prometheus clients write it (``0.005``, ``1.0``, ``+Inf``)."""
    return "+Inf" if math.isinf(b) else repr(float(b))


def family(name: str, help_text: str, kind: str, samples: Sequence[tuple[Mapping[str, str], float]]) -> list[str]:
    """One metric family read at scrape time: its HELP and TYPE lines, then a line per (labels, value)."""
    lines = [f"# HELP {name} {_help(help_text)}", f"# TYPE {name} {kind}"]
    for labels, value in samples:
        lines.append(f"{name}{_labels(tuple(labels), tuple(labels.values()))} {sample_value(value)}")
    return lines


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} counter"]
        for k, v in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, k)} {sample_value(v)}")
        return lines


class Gauge:
    """A value that goes up and down: set per label set, or read from ``fn`` at each render (no labels)."""

    def __init__(self, name: str, help_text: str, fn: Callable[[], float] | None = None,
                 labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.fn, self.label_names = name, help_text, fn, labels
        self.values: dict[tuple[str, ...], float] = {} if labels else {(): 0}

    @property
    def value(self) -> float:
        """The value of a gauge without labels."""
        return self.values.get((), 0)

    @value.setter
    def value(self, value: float) -> None:
        self.values[()] = value

    def set(self, value: float, *labels: str) -> None:
        self.values[labels] = value

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} gauge"]
        if self.fn is not None:
            return [*lines, f"{self.name} {sample_value(self.fn())}"]
        for k, v in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, k)} {sample_value(v)}")
        return lines


class Histogram:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = (), buckets=_DEFAULT_BUCKETS) -> None:
        self.name, self.help, self.label_names, self.buckets = name, help_text, labels, tuple(buckets)
        self.series: dict[tuple[str, ...], list] = {}  # labels -> [bucket counts..., sum, count]

    def observe(self, value: float, *labels: str) -> None:
        s = self.series.get(labels)
        if s is None:
            s = self.series[labels] = [0] * len(self.buckets) + [0.0, 0]
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.buckets):
            s[i] += 1
        s[-2] += value
        s[-1] += 1

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {_help(self.help)}", f"# TYPE {self.name} histogram"]
        for labels, s in sorted(self.series.items()):
            cum = 0
            for b, c in zip(self.buckets, s, strict=False):
                cum += c
                lbl = _labels((*self.label_names, "le"), (*labels, _bound(b)))
                lines.append(f"{self.name}_bucket{lbl} {cum}")
            lines.append(f"{self.name}_bucket{_labels((*self.label_names, 'le'), (*labels, '+Inf'))} {s[-1]}")
            lines.append(f"{self.name}_sum{_labels(self.label_names, labels)} {sample_value(s[-2])}")
            lines.append(f"{self.name}_count{_labels(self.label_names, labels)} {s[-1]}")
        return lines


# ---------------------------------------------------------------------------------------------- process-wide

AGENT_REQUESTS = Counter("cgr_agent_requests_total", "Requests an agent ran through its request processors, by "
                         "agent and message type", ("agent", "type"))
AGENT_ERRORS = Counter("cgr_agent_request_errors_total", "Agent requests whose processing failed, by agent and "
                       "message type", ("agent", "type"))
AGENT_LATENCY = Histogram("cgr_agent_request_duration_seconds", "Time an agent spent processing a request, by "
                          "agent and message type", ("agent", "type"))
DUPLICATE_REQUESTS = Counter("cgr_agent_duplicate_requests_total", "Retransmitted requests answered with the first "
                             "arrival's answer instead of being processed again")
DEBIT_LAG = Histogram("cgr_session_debit_lag_seconds", "How late a session's debit loop ran after its due time",
                      buckets=_LAG_BUCKETS)
STORAGE_WRITES = Histogram("cgr_storage_write_duration_seconds", "Time a durable store took to write a record "
                           "(append, apply and the fsync its policy waits for), by store", ("db",))
ACCOUNT_WRITE_CONFLICTS = Counter("cgr_account_write_conflicts_total", "Account changes run again because another "
                                  "engine sharing the DataDB changed what they read first")

#: The ``*vars`` that name an agent request's message type: RADIUS's *radReqType (*radAuth, *radAcctStart ...),
#: Diameter's *cmd (the command's name).
MESSAGE_TYPE_VARS = ("*radReqType", "*cmd")


def message_type(vars: Mapping[str, Any] | None) -> str:
    for name in MESSAGE_TYPE_VARS:
        value = (vars or {}).get(name)
        if value:
            return str(value)
    return ""


def agent_request_metrics(process: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Decorates ``Agent.process(request, vars, ...)``: counts and times each request by agent and message type."""

    @functools.wraps(process)
    async def measured(agent: Any, request: Any, vars: Mapping[str, Any] | None, *args: Any, **kwargs: Any) -> Any:
        labels = (str(getattr(agent, "name", type(agent).__name__)), message_type(vars))
        started = time.perf_counter()
        try:
            return await process(agent, request, vars, *args, **kwargs)
        except Exception:
            AGENT_ERRORS.inc(*labels)
            raise
        finally:
            AGENT_REQUESTS.inc(*labels)
            AGENT_LATENCY.observe(time.perf_counter() - started, *labels)

    return measured


class DebitTick:
    """When a debit loop's next run is due; :meth:`ran` records how late it ran (``cgr_session_debit_lag_seconds``)."""

    __slots__ = ("due",)

    def __init__(self, interval_seconds: float) -> None:
        self.due = time.monotonic() + interval_seconds

    def ran(self) -> None:
        DEBIT_LAG.observe(max(0.0, time.monotonic() - self.due))


PROCESS_WIDE = (AGENT_REQUESTS, AGENT_ERRORS, AGENT_LATENCY, DUPLICATE_REQUESTS, DEBIT_LAG, STORAGE_WRITES,
                ACCOUNT_WRITE_CONFLICTS)


# ---------------------------------------------------------------------------------------------- scrape time


class Caller(Protocol):
    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any: ...


async def stat_queue_ids(conn: Caller, tenant: str) -> list[str]:
    """The tenant's stat queues (``StatSv1.GetQueueIDs``); none is an empty list."""
    try:
        return list(await conn.call("StatSv1.GetQueueIDs", {"Tenant": tenant}) or [])
    except RPCError as exc:
        if exc.message == NOT_FOUND:
            return []
        raise


async def read_stat_queues(conn: Caller, queues: Sequence[tuple[str, str]]) -> list[tuple[str, str, dict]]:
    """(tenant, ID, metrics) of each (tenant, ID) queue as ``StatSv1.GetQueueFloatMetrics`` reports them now
    (CGRateS's -1 for a metric not available yet included); a queue that is gone is left out."""
    out = []
    for tenant, queue_id in queues:
        try:
            values = await conn.call("StatSv1.GetQueueFloatMetrics", {"Tenant": tenant, "ID": queue_id}) or {}
        except RPCError as exc:
            if exc.message != NOT_FOUND:
                raise
            continue
        out.append((tenant, queue_id, {k: float(v) for k, v in values.items()}))
    return out


async def stat_queue_samples(conn: Caller, queues: Sequence[tuple[str, str]]) -> list[tuple[dict[str, str], float]]:
    """``cgrates_stats_metrics`` samples of the (tenant, queue ID) pairs."""
    return [({"metric": metric_id, "queue": queue_id, "tenant": tenant}, values[metric_id])
            for tenant, queue_id, values in await read_stat_queues(conn, queues) for metric_id in sorted(values)]


STAT_METRICS_HELP = "Current values for StatQueue metrics"


class _Dispatcher(Protocol):
    registry: Any

    async def invoke(self, method: str, arg: Any, caller: Any = None) -> Any: ...


class _Own:
    """This engine's services, called in process (the dispatcher's invoke, as an ``*internal`` Conn does)."""

    def __init__(self, dispatcher: _Dispatcher) -> None:
        self.dispatcher = dispatcher

    def has(self, method: str) -> bool:
        return method in self.dispatcher.registry

    async def call(self, method: str, arg: Any, timeout: float | None = None) -> Any:
        return await self.dispatcher.invoke(method, arg)


async def _active_sessions(own: _Own) -> list[str]:
    if not own.has("SessionSv1.GetActiveSessionsCount"):
        return []
    count = await own.call("SessionSv1.GetActiveSessionsCount", {})
    return family("cgr_active_sessions", "Session runs SessionS is charging now", "gauge", [({}, int(count or 0))])


async def _stat_queues(own: _Own) -> list[str]:
    if not own.has("StatSv1.GetQueueIDs"):
        return []
    general = (await own.call("ConfigSv1.GetConfig", {"Section": "general"}) or {}).get("general") or {}
    tenant = general.get("default_tenant") or "cgrates.org"
    ids = await stat_queue_ids(own, tenant)
    samples = await stat_queue_samples(own, [(tenant, queue_id) for queue_id in ids])
    return family("cgrates_stats_metrics", STAT_METRICS_HELP, "gauge", samples)


#: What the engine's own /metrics reads from its services at each scrape.
OWN_SERVICE_COLLECTORS: tuple[Callable[[_Own], Awaitable[list[str]]], ...] = (_active_sessions, _stat_queues)


class Metrics:
    """The engine's metric set; agents and services add their own through :meth:`add`."""

    def __init__(self) -> None:
        self.requests = Counter("cgr_rpc_requests_total", "RPC requests by method", ("method",))
        self.errors = Counter("cgr_rpc_errors_total", "RPC requests answered with an error", ("method",))
        self.latency = Histogram("cgr_rpc_request_seconds", "RPC handling latency", ("method",))
        self.connections = Counter("cgr_rpc_connections_total", "Connections accepted by listener", ("listener",))
        self.open_connections = Gauge("cgr_rpc_open_connections", "Connections currently open")
        self._extra: list = []

    def add(self, metric) -> None:
        self._extra.append(metric)

    def render(self) -> str:
        """The in-process figures (the engine's own and the process-wide instruments)."""
        lines: list[str] = []
        for m in (self.requests, self.errors, self.latency, self.connections, self.open_connections, *self._extra,
                  *PROCESS_WIDE):
            lines += m.render()
        return "\n".join(lines) + "\n"

    async def exposition(self, dispatcher: _Dispatcher | None = None) -> str:
        """What /metrics serves: :meth:`render`, then the figures of this engine's services read through
        ``dispatcher`` (each within :data:`SCRAPE_TIMEOUT`; one that fails is logged and left out)."""
        text = self.render()
        if dispatcher is None:
            return text
        own = _Own(dispatcher)
        lines: list[str] = []
        for collect in OWN_SERVICE_COLLECTORS:
            try:
                lines += await asyncio.wait_for(collect(own), SCRAPE_TIMEOUT)
            except Exception as exc:  # a service's failure must not take the rest of the scrape down
                log.warning("metrics: %s left out of this scrape: %s", collect.__name__.strip("_"), exc)
        return text + ("\n".join(lines) + "\n" if lines else "")


__all__ = [
    "ACCOUNT_WRITE_CONFLICTS", "AGENT_ERRORS", "AGENT_LATENCY", "AGENT_REQUESTS", "DEBIT_LAG", "DUPLICATE_REQUESTS",
    "STAT_METRICS_HELP", "STORAGE_WRITES", "Counter", "DebitTick", "Gauge", "Histogram", "Metrics",
    "agent_request_metrics", "family",
    "message_type", "read_stat_queues", "sample_value", "stat_queue_ids", "stat_queue_samples",
]
