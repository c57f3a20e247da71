"""The StatS plots' memory: samples of every stat queue's metrics over time, a fixed number per queue.

StatS answers with the metrics of now (``StatSv1.GetQueueFloatMetrics``); the console plots them over time by
sampling every ``refresh_interval`` (:func:`sample_queues`, run by the console's supervisor) and keeping the last
``stat_points`` samples of each queue here. A sample holds the values exactly as StatS reported them, CGRateS's -1
("not available yet", below MinItems) included: the page draws that as a gap. Pure bookkeeping: the caller passes
the time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from pycgrates.engine.metrics import read_stat_queues, stat_queue_ids


class StatHistory:
    """The last ``points`` samples of each queue (``tenant:ID``): (unix seconds, {metric ID: value})."""

    def __init__(self, points: int) -> None:
        self.points = max(1, points)
        self._queues: dict[str, deque[tuple[float, dict[str, float]]]] = {}

    def record(self, queue: str, when: float, metrics: Mapping[str, float]) -> None:
        samples = self._queues.get(queue)
        if samples is None:
            samples = self._queues[queue] = deque(maxlen=self.points)
        samples.append((when, {k: float(v) for k, v in metrics.items()}))

    def keep_only(self, queues: set[str]) -> None:
        """Forget the queues that are gone."""
        for queue in [q for q in self._queues if q not in queues]:
            del self._queues[queue]

    def resize(self, points: int) -> None:
        self.points = max(1, points)
        for queue, samples in self._queues.items():
            self._queues[queue] = deque(samples, maxlen=self.points)

    def series(self, queue: str) -> dict[str, Any]:
        """What a plot draws: ``{"Times": [t...], "Metrics": {metric: [value or None...]}}``, oldest first; a
        metric absent from a sample is None there."""
        samples = list(self._queues.get(queue, ()))
        names = sorted({name for _, values in samples for name in values})
        return {"Times": [when for when, _ in samples],
                "Metrics": {name: [values.get(name) for _, values in samples] for name in names}}

    def __contains__(self, queue: str) -> bool:
        return queue in self._queues


async def sample_queues(stats: Any, tenant: str, history: StatHistory, when: float) -> None:
    """One sample of every queue of ``tenant`` into ``history``."""
    ids = await stat_queue_ids(stats, tenant)
    for _, queue_id, metrics in await read_stat_queues(stats, [(tenant, queue_id) for queue_id in ids]):
        history.record(f"{tenant}:{queue_id}", when, metrics)
    history.keep_only({f"{tenant}:{queue_id}" for queue_id in ids})


__all__ = ["StatHistory", "sample_queues"]
