"""How a profile orders its hosts for one call (no I/O): the strategy's permutation, the load ratios, the hash.

:class:`HostSelector` is built once per profile (and rebuilt when the profile changes) and keeps what the strategy
remembers between calls: the round-robin position and the calls in flight per host (``*load``). The caller then
drops the hosts whose filters the event does not pass, stops after a Blocker, and tries the rest in order; the
broadcast strategies call them all.

- ``*weight`` (and ``*first``): heaviest host first, the next ones as fail-over.
- ``*random``: a new shuffle per call. ``*round_robin``: the list rotated by one per call.
- load ratios (CGRateS's ``*default_ratio`` strategy parameter, ``*ratio`` host parameter, or the ``*load``
  strategy with ratio 1 by default): before the strategy's own order, hosts are sorted by calls in flight divided
  by their ratio, least loaded first; a ratio of 0 leaves the host out, a negative one never counts as loaded.
- ``*hash`` (not in CGRateS): rendezvous hashing of one event field (the ``*hash`` strategy parameter, a path such
  as ``~*req.Account``; the Account by default) ranks the hosts; each value has its own ranking, so the value's
  calls go to one host while it answers, and to its next-ranked host (the same for every caller) when it does not.
  An event without the field is ordered as ``*weight``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

from pycgrates.engine.dispatchers.profiles import DispatcherProfile, HostRef

DEFAULT_HASH_FIELD = "~*req.Account"
BROADCASTS = ("*broadcast", "*broadcast_sync", "*broadcast_async")


class LoadMetrics:
    """Calls in flight per host and the hosts' ratios (CGRateS's LoadMetrics)."""

    def __init__(self, hosts: Sequence[HostRef], default_ratio: int) -> None:
        self.ratios = {h.id: int(str(h.params["*ratio"])) if "*ratio" in h.params else default_ratio
                       for h in hosts}
        self.loads: dict[str, int] = dict.fromkeys(self.ratios, 0)

    def arranged(self, hosts: Sequence[HostRef]) -> list[HostRef]:
        """Hosts by load over ratio, least first (ties keep their order); ratio 0 leaves a host out."""
        ranked = []
        for i, h in enumerate(hosts):
            ratio = self.ratios.get(h.id, 1)
            if ratio == 0:
                continue
            ranked.append((0 if ratio < 0 else self.loads.get(h.id, 0) // ratio, i, h))
        ranked.sort(key=lambda r: (r[0], r[1]))
        return [h for _, _, h in ranked]

    def started(self, host_id: str) -> None:
        self.loads[host_id] = self.loads.get(host_id, 0) + 1

    def ended(self, host_id: str) -> None:
        self.loads[host_id] = self.loads.get(host_id, 0) - 1


def hash_rank(key: str, hosts: Sequence[HostRef]) -> list[HostRef]:
    """Rendezvous (highest random weight) order of ``hosts`` for ``key``."""
    def score(h: HostRef) -> bytes:
        return hashlib.sha1(f"{key}\x00{h.id}".encode()).digest()

    return sorted(hosts, key=score, reverse=True)


class HostSelector:
    """The order of a profile's hosts for each call, per its strategy."""

    def __init__(self, profile: DispatcherProfile, rng: random.Random | None = None) -> None:
        self.profile = profile
        self.strategy = profile.strategy
        self.hosts: list[HostRef] = sorted(profile.hosts, key=lambda h: -h.weight)  # stable: ties keep the CSV's
        params = profile.strategy_params
        self.hash_field = str(params.get("*hash") or DEFAULT_HASH_FIELD)
        self.load: LoadMetrics | None = None
        if "*default_ratio" in params:
            self.load = LoadMetrics(self.hosts, int(str(params["*default_ratio"])))
        elif self.strategy == "*load" or any("*ratio" in h.params for h in self.hosts):
            self.load = LoadMetrics(self.hosts, 1)
        self._next = 0
        self._rng = rng or random.Random()

    @property
    def broadcast(self) -> bool:
        return self.strategy in BROADCASTS

    def order(self, hash_key: str = "") -> list[HostRef]:
        """This call's order of the hosts (before their filters are checked)."""
        hosts = self.hosts if self.broadcast or self.load is None else self.load.arranged(self.hosts)
        s = self.strategy
        if s == "*random":
            hosts = hosts[:]
            self._rng.shuffle(hosts)
        elif s == "*round_robin" and hosts:
            i = self._next % len(hosts)
            self._next = (self._next + 1) % len(self.hosts)
            hosts = hosts[i:] + hosts[:i]
        elif s == "*hash" and hash_key:
            hosts = hash_rank(hash_key, hosts)
        return hosts
