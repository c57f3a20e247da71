"""Where rating reads its data: rating profiles, rating plans, destinations and the prefix index (via DataManager).

One :class:`Rater` per DataManager holds the rating settings from the config (``general.rounding_decimals``,
``rals.rp_subject_prefix_matching``, ``rals.max_computed_usage``, ...). Decoded rating plans and profiles are
cached by the DataManager (their decoders are registered here), so a lookup is one dict probe.
"""

from __future__ import annotations

import inspect
import weakref
from typing import Any

from pycgrates.engine.models.tariffplan import ANY, Destination, RatingPlan, RatingProfile
from pycgrates.engine.storage import base as kinds
from pycgrates.engine.units import get_timezone, parse_duration

DEFAULT_MAX_COMPUTED_USAGE = {
    "*any": 189 * 3600 * 10**9,
    "*voice": 72 * 3600 * 10**9,
    "*data": 107374182400,
    "*sms": 10000,
    "*mms": 10000,
}
DEFAULT_BALANCE_RATING_SUBJECT = {"*any": "*zero1ns", "*voice": "*zero1s"}


def decode_reverse_destination(raw: Any) -> tuple[str, ...]:
    return tuple(raw or ())


class Rater:
    """Rating settings and data access over one DataManager (or any object with ``async get(kind, key)``)."""

    _by_dm: weakref.WeakKeyDictionary[Any, Rater] = weakref.WeakKeyDictionary()

    def __init__(
        self,
        dm: Any,
        *,
        rounding_decimals: int = 5,
        rp_subject_prefix_matching: bool = False,
        fallback_depth: int = 3,
        max_increments: int = 1_000_000,
        timezone: str = "UTC",
        default_tenant: str = "cgrates.org",
        default_category: str = "call",
        max_computed_usage: dict[str, int] | None = None,
        balance_rating_subject: dict[str, str] | None = None,
    ) -> None:
        self.dm = dm
        self.rounding_decimals = rounding_decimals
        self.rp_subject_prefix_matching = rp_subject_prefix_matching
        self.fallback_depth = fallback_depth
        self.max_increments = max_increments
        self.timezone = timezone
        self.tz = get_timezone(timezone)
        self.default_tenant = default_tenant
        self.default_category = default_category
        self.max_computed_usage = dict(max_computed_usage or DEFAULT_MAX_COMPUTED_USAGE)
        self.balance_rating_subject = dict(balance_rating_subject or DEFAULT_BALANCE_RATING_SUBJECT)
        self._decode_kw = "decode" in inspect.signature(dm.get).parameters
        #: kind → key → (the raw dict another reader cached, its decoded object): decoded once per stored version
        self._decoded: dict[str, dict[str, tuple[dict, Any]]] = {}
        register = getattr(dm, "register_decoder", None)
        if callable(register):
            register(kinds.RATING_PLAN, RatingPlan.from_json)
            register(kinds.RATING_PROFILE, RatingProfile.from_json)
            register(kinds.REVERSE_DESTINATION, decode_reverse_destination)
        self._local: dict[tuple[str, str], Any] = {}

    # ------------------------------------------------------------------------------------------ construction

    def configure(self, cfg: Any) -> Rater:
        """Take the rating settings from an engine Config."""
        if cfg is None:
            return self
        get = cfg.get
        self.rounding_decimals = int(get("general", "rounding_decimals", default=self.rounding_decimals))
        self.timezone = get("general", "default_timezone", default=self.timezone) or "UTC"
        self.tz = get_timezone(self.timezone)
        self.default_tenant = get("general", "default_tenant", default=self.default_tenant) or "cgrates.org"
        self.default_category = get("general", "default_category", default=self.default_category) or "call"
        self.rp_subject_prefix_matching = bool(get("rals", "rp_subject_prefix_matching", default=False))
        self.fallback_depth = int(get("rals", "fallback_depth", default=self.fallback_depth) or 3)
        self.max_increments = int(get("rals", "max_increments", default=self.max_increments) or 0)
        mcu = get("rals", "max_computed_usage", default=None)
        if isinstance(mcu, dict):
            self.max_computed_usage = {str(k): parse_duration(v) for k, v in mcu.items()}
        brs = get("rals", "balance_rating_subject", default=None)
        if isinstance(brs, dict) and brs:
            self.balance_rating_subject = {str(k): str(v) for k, v in brs.items()}
        return self

    @classmethod
    def for_dm(cls, dm: Any, cfg: Any = None) -> Rater:
        """The Rater of a DataManager (one per DataManager), configured from ``cfg`` when given."""
        try:
            rater = cls._by_dm.get(dm)
        except TypeError:
            rater = None
        if rater is None:
            rater = cls(dm)
            try:
                cls._by_dm[dm] = rater
            except TypeError:
                pass
        if cfg is not None:
            rater.configure(cfg)
        return rater

    @classmethod
    def for_context(cls, ctx: Any) -> Rater:
        rater = cls.for_dm(ctx.dm)
        if getattr(rater, "_cfg", None) is not ctx.cfg:
            rater.configure(ctx.cfg)
            rater._cfg = ctx.cfg  # type: ignore[attr-defined]
        return rater

    # ------------------------------------------------------------------------------------------ data access

    async def _get(self, kind: str, key: str, decode: Any) -> Any:
        if self._decode_kw:
            return await self.dm.get(kind, key, decode=decode)
        raw = await self.dm.get(kind, key)
        return None if raw is None else decode(raw)

    def _decoded_once(self, kind: str, key: str, raw: dict, decode: Any) -> Any:
        """``decode(raw)`` for a raw dict a reader without the decoder cached first, remembered while the cache
        holds that same dict (a load caches new ones), so a plan is not decoded again at every rating."""
        memo = self._decoded.setdefault(kind, {})
        hit = memo.get(key)
        if hit is not None and hit[0] is raw:
            return hit[1]
        value = decode(raw)
        memo[key] = (raw, value)
        return value

    async def rating_plan(self, plan_id: str) -> RatingPlan | None:
        plan = await self._get(kinds.RATING_PLAN, plan_id, RatingPlan.from_json)
        if isinstance(plan, dict):
            return self._decoded_once(kinds.RATING_PLAN, plan_id, plan, RatingPlan.from_json)
        return plan

    async def rating_profile(self, key: str) -> RatingProfile | None:
        rpf = await self._get(kinds.RATING_PROFILE, key, RatingProfile.from_json)
        if isinstance(rpf, dict):
            return self._decoded_once(kinds.RATING_PROFILE, key, rpf, RatingProfile.from_json)
        return rpf

    async def rating_profile_matching(self, key: str) -> RatingProfile | None:
        """The profile for ``key``; with ``rp_subject_prefix_matching`` the longest subject prefix that exists."""
        rpf = await self.rating_profile(key)
        if rpf is not None or not self.rp_subject_prefix_matching or key.endswith(ANY):
            return rpf
        base, _, subject = key.rpartition(":")
        for length in range(len(subject) - 1, 0, -1):
            rpf = await self.rating_profile(f"{base}:{subject[:length]}")
            if rpf is not None:
                return rpf
        return None

    async def destination(self, dest_id: str) -> Destination | None:
        # destinations are cached raw (other services read them as dicts)
        raw = await self.dm.get(kinds.DESTINATION, dest_id)
        if raw is None:
            return None
        return self._decoded_once(kinds.DESTINATION, dest_id, raw, Destination.from_json)

    async def reverse_destination(self, prefix: str) -> tuple[str, ...]:
        """Destination IDs holding exactly ``prefix`` (one index probe)."""
        ids = await self._get(kinds.REVERSE_DESTINATION, prefix, decode_reverse_destination)
        return ids or ()

    async def reverse_destinations(self, number: str) -> list[tuple[str, list[str]]]:
        """(prefix, destination IDs) for every prefix of ``number`` held by some destination, longest first.

        Costs one index probe per digit of the number, whatever the number of prefixes loaded.
        """
        out = []
        for i in range(len(number), 0, -1):
            prefix = number[:i]
            ids = await self.reverse_destination(prefix)
            if ids:
                out.append((prefix, list(ids)))
        return out

    async def destination_ids_for(self, number: str) -> list[str]:
        """The destination IDs matching ``number`` on its longest held prefix."""
        for i in range(len(number), 0, -1):
            ids = await self.reverse_destination(number[:i])
            if ids:
                return list(ids)
        return []

    def usage_allowed(self, tor: str, usage: int) -> bool:
        """Whether ``usage`` is within ``rals.max_computed_usage`` for the ToR (``*any`` otherwise)."""
        limit = self.max_computed_usage.get(tor)
        if limit is None:
            limit = self.max_computed_usage.get("*any")
        return limit is None or usage <= limit


def as_rater(obj: Any) -> Rater:
    """A Rater from a Rater, an EngineContext (``.dm`` and ``.cfg``) or a DataManager."""
    if isinstance(obj, Rater):
        return obj
    rater = getattr(obj, "rater", None)
    if isinstance(rater, Rater):
        return rater
    if hasattr(obj, "dm") and hasattr(obj, "cfg"):
        return Rater.for_context(obj)
    return Rater.for_dm(obj)
