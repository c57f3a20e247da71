"""Prometheus text-format metrics: counters, gauges and histograms kept in process, rendered on /metrics.

Values are written exactly: integers as integers (a counter past a million stays ``1234567``, never
``1.23457e+06``), floats in their shortest round-trip form, infinities and NaN as Prometheus spells them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable

_DEFAULT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _labels(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    if not names:
        return ""
    inner = ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))
    return "{" + inner + "}"


def _escape(v: str) -> str:
    return v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


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


class Counter:
    def __init__(self, name: str, help_text: str, labels: tuple[str, ...] = ()) -> None:
        self.name, self.help, self.label_names = name, help_text, labels
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, *labels: str, amount: float = 1) -> None:
        self.values[labels] = self.values.get(labels, 0) + amount

    def render(self) -> list[str]:
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} counter"]
        for k, v in sorted(self.values.items()):
            lines.append(f"{self.name}{_labels(self.label_names, k)} {sample_value(v)}")
        return lines


class Gauge:
    def __init__(self, name: str, help_text: str, fn: Callable[[], float] | None = None) -> None:
        self.name, self.help, self.fn = name, help_text, fn
        self.value: float = 0

    def set(self, value: float) -> None:
        self.value = value

    def render(self) -> list[str]:
        v = self.fn() if self.fn else self.value
        return [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} gauge", f"{self.name} {sample_value(v)}"]


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
        lines = [f"# HELP {self.name} {self.help}", f"# TYPE {self.name} histogram"]
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
        lines: list[str] = []
        for m in (self.requests, self.errors, self.latency, self.connections, self.open_connections, *self._extra):
            lines += m.render()
        return "\n".join(lines) + "\n"
