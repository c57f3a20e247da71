"""Partial records merged into one event (CGRateS's ERs partial cache, ``mergePartialEvents``).

An event whose ``*opts.*partial`` is set waits here under its CGRID (sha1 of OriginID + OriginHost) for its other
parts. Each new part is merged with the waiting ones: the parts sorted by the reader's ``partialOrderField``
(``~*req.AnswerTime`` by default; ``~*opts.order`` ...), their Event and APIOpts maps laid over each other in that
order, then the reader's ``partial_commit_fields`` applied. When the merge's ``*partial`` is ``false`` or empty the
event is complete and leaves the cache; otherwise it waits again, its time to live (``ers.partial_cache_ttl``)
started anew. A group that expires gets the reader's ``partialCacheAction``: ``*none`` drops it, ``*post_cdr``
sends the merge as it is, ``*dump_to_file`` writes it as one CSV line (``cache_dump_fields``, or every field
sorted by name) and ``*dump_to_json`` as one JSON object into ``partialPath`` (the processed path by default).

The parts' tickets travel with the group: they are settled only when the merged event is (or the group is dumped
or dropped), so parts waiting here when the engine dies are read again after the restart.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycgrates.engine.ers.progress import Ticket
from pycgrates.engine.models.cdr import cgrid
from pycgrates.engine.template.dataprovider import MapDataProvider, NotFoundError, as_string, string_to_value
from pycgrates.engine.template.fields import FieldTemplate, NavMap, TemplateContext, set_fields
from pycgrates.engine.template.rsr import RSRParsers

log = logging.getLogger("cgr.ers")

PARTIAL = "*partial"
NONE, POST_CDR, DUMP_TO_FILE, DUMP_TO_JSON = "*none", "*post_cdr", "*dump_to_file", "*dump_to_json"
CACHE_ACTIONS = (NONE, POST_CDR, DUMP_TO_FILE, DUMP_TO_JSON)


def is_partial(event: dict[str, Any]) -> bool:
    return PARTIAL in (event.get("APIOpts") or {})


def still_partial(event: dict[str, Any]) -> bool:
    return as_string((event.get("APIOpts") or {}).get(PARTIAL, "")).lower() not in ("false", "")


@dataclass(slots=True)
class PartialRules:
    """A reader's partial options, compiled."""

    order_field: RSRParsers | None
    commit_fields: tuple[FieldTemplate, ...]
    dump_fields: tuple[FieldTemplate, ...]
    action: str
    dump_path: str
    dump_separator: str
    timezone: str
    tenant: str


@dataclass(slots=True)
class PartialGroup:
    reader: Any  # the reader's settings
    rules: PartialRules
    events: list[dict[str, Any]] = field(default_factory=list)
    tickets: list[Ticket] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    deadline: float = 0.0


class _EventView(TemplateContext):
    """``*req`` = the merged Event, ``*opts`` its APIOpts (both written by commit fields), ``*exp`` for dumps."""

    def __init__(self, event: dict[str, Any], rules: PartialRules, filter_service: Any) -> None:
        super().__init__({"*req": MapDataProvider(event["Event"]), "*cgreq": NavMap(), "*opts": event["APIOpts"],
                          "*vars": {}, "*tmp": {}, "*exp": NavMap()},
                         tenant=event.get("Tenant") or rules.tenant, timezone=rules.timezone,
                         filter_service=filter_service)


def _order_key(value: Any) -> tuple[int, Any]:
    if isinstance(value, str):
        value = string_to_value(value)
    if isinstance(value, int | float):
        return (0, value)
    if hasattr(value, "timestamp"):
        return (0, value.timestamp())
    return (1, as_string(value))


async def merge(group: PartialGroup, filter_service: Any) -> dict[str, Any]:
    """The parts of ``group`` as one CGREvent (CGRateS's mergePartialEvents)."""
    events = group.events
    rules = group.rules
    if len(events) == 1:
        merged = {**events[0], "Event": dict(events[0]["Event"]), "APIOpts": dict(events[0]["APIOpts"])}
    else:
        if rules.order_field is not None:
            keys = []
            for ev in events:
                view = _EventView(ev, rules, filter_service)
                try:
                    keys.append(_order_key(rules.order_field.parse(view)))
                except (NotFoundError, ValueError):
                    keys.append((2, ""))
            events = [ev for _, ev in sorted(zip(keys, events, strict=True), key=lambda p: p[0])]
        merged = {"Tenant": events[0].get("Tenant"), "ID": events[0].get("ID"), "Time": events[0].get("Time"),
                  "Event": {}, "APIOpts": {}}
        for ev in events:
            merged["Event"].update(ev["Event"])
            merged["APIOpts"].update(ev["APIOpts"])
    if rules.commit_fields:
        view = _EventView(merged, rules, filter_service)
        await set_fields(view, rules.commit_fields)
        merged["Event"].update(view.sources["*cgreq"].as_event())
    return merged


class PartialCache:
    """Partial events by CGRID until complete or expired; ``on_complete`` sends a complete merge, ``on_expired``
    applies the cache action."""

    def __init__(self, ttl_s: float, filter_service: Any,
                 on_complete: Callable[[PartialGroup, dict[str, Any]], Awaitable[None]],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.filter_service = filter_service
        self.on_complete = on_complete
        self.clock = clock
        self.groups: dict[str, PartialGroup] = {}
        self._lock = asyncio.Lock()

    def __len__(self) -> int:
        return len(self.groups)

    async def add(self, reader: Any, rules: PartialRules, event: dict[str, Any], tickets: list[Ticket],
                  raw: str) -> None:
        """One partial event: merged with its waiting parts; sent on when complete."""
        fields = event["Event"]
        origin_id = fields.get("OriginID")
        if origin_id in (None, ""):
            log.warning("<ERs> reader <%s>: partial event without OriginID ignored: %s", reader.id,
                        json.dumps(event, default=as_string))
            for t in tickets:
                await t.settle()
            return
        key = cgrid(as_string(origin_id), as_string(fields.get("OriginHost") or ""))
        async with self._lock:
            group = self.groups.get(key)
            if group is None:
                group = PartialGroup(reader, rules)
            group.events.append(event)
            group.tickets.extend(tickets)
            group.raws.append(raw)
            group.reader, group.rules = reader, rules
            merged = await merge(group, self.filter_service)
            if still_partial(merged):
                group.deadline = self.clock() + self.ttl_s
                self.groups[key] = group
                return
            self.groups.pop(key, None)
        await self.on_complete(group, merged)

    def expired(self) -> list[tuple[str, PartialGroup]]:
        """The groups past their time to live, taken out of the cache."""
        now = self.clock()
        out = [(k, g) for k, g in self.groups.items() if g.deadline <= now]
        for k, _ in out:
            del self.groups[k]
        return out

    async def sweep_forever(self, on_expired: Callable[[str, PartialGroup], Awaitable[None]]) -> None:
        period = min(max(self.ttl_s / 4, 0.05), 1.0)
        while True:
            await asyncio.sleep(period)
            for key, group in self.expired():
                try:
                    await on_expired(key, group)
                except Exception:
                    log.exception("<ERs> reader <%s>: expired partial event %s", group.reader.id, key)


async def dump(key: str, group: PartialGroup, merged: dict[str, Any], filter_service: Any) -> Path | None:
    """Write an expired merge into the dump path (``*dump_to_file``: a CSV line; ``*dump_to_json``: JSON)."""
    rules = group.rules
    if not rules.dump_path:
        return None
    values: Any
    if rules.dump_fields:
        view = _EventView(merged, rules, filter_service)
        await set_fields(view, rules.dump_fields)
        exp: NavMap = view.sources["*exp"]
        if rules.action == DUMP_TO_JSON:
            values = {".".join(leaf.path): leaf.value for leaf in exp.leaves()}
        else:
            values = [as_string(leaf.value) for leaf in exp.leaves()]
    elif rules.action == DUMP_TO_JSON:
        values = merged["Event"]
    else:
        values = [as_string(merged["Event"][k]) for k in sorted(merged["Event"])]
    folder = Path(rules.dump_path)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{key}.{int(time.time())}.tmp"
    if rules.action == DUMP_TO_JSON:
        text = json.dumps(values, default=as_string) + "\n"
    else:
        buf = io.StringIO()
        csv.writer(buf, delimiter=rules.dump_separator or ",", lineterminator="\n").writerow(values)
        text = buf.getvalue()
    await asyncio.to_thread(path.write_text, text)
    return path


__all__ = ["CACHE_ACTIONS", "DUMP_TO_FILE", "DUMP_TO_JSON", "NONE", "PARTIAL", "POST_CDR", "PartialCache",
           "PartialGroup", "PartialRules", "dump", "is_partial", "merge", "still_partial"]
