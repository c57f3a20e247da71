"""Active sessions, indexed by the event fields named in ``sessions.session_indexes``.

A query with ``*string:~*req.<Field>:<v1|v2>`` filters on indexed fields starts from the sessions holding those
values (O(matched)); the remaining filters are then checked by FilterS as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from pycgrates.engine.models.cdr import as_string
from pycgrates.engine.sessions.session import Session


class ActiveSessions:
    def __init__(self, indexed_fields: Sequence[str] = ()) -> None:
        self._sessions: dict[str, Session] = {}
        self._fields = tuple(f.removeprefix("*req.") for f in indexed_fields)
        self._index: dict[str, dict[str, set[str]]] = {f: {} for f in self._fields}

    def set_indexed_fields(self, fields: Sequence[str]) -> None:
        self._fields = tuple(f.removeprefix("*req.") for f in fields)
        self._index = {f: {} for f in self._fields}
        for s in self._sessions.values():
            self._add_index(s)

    # ------------------------------------------------------------------ dict-like

    def __setitem__(self, cgrid: str, s: Session) -> None:
        old = self._sessions.get(cgrid)
        if old is not None:
            self._drop_index(old)
        self._sessions[cgrid] = s
        self._add_index(s)

    def __getitem__(self, cgrid: str) -> Session:
        return self._sessions[cgrid]

    def get(self, cgrid: str) -> Session | None:
        return self._sessions.get(cgrid)

    def pop(self, cgrid: str, default: Session | None = None) -> Session | None:
        s = self._sessions.pop(cgrid, None)
        if s is None:
            return default
        self._drop_index(s)
        return s

    def __contains__(self, cgrid: object) -> bool:
        return cgrid in self._sessions

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[str]:
        return iter(self._sessions)

    def values(self) -> Iterable[Session]:
        return self._sessions.values()

    # ------------------------------------------------------------------ index

    def _values_of(self, s: Session, field: str) -> set[str]:
        values = {as_string(run.event.get(field)) for run in s.runs if run.event.get(field) not in (None, "")}
        start = s.event_start.get(field)
        if start not in (None, ""):
            values.add(as_string(start))
        return values

    def _add_index(self, s: Session) -> None:
        for field in self._fields:
            for v in self._values_of(s, field):
                self._index[field].setdefault(v, set()).add(s.cgrid)

    def _drop_index(self, s: Session) -> None:
        for field in self._fields:
            by_value = self._index[field]
            for v in self._values_of(s, field):
                ids = by_value.get(v)
                if ids is not None:
                    ids.discard(s.cgrid)
                    if not ids:
                        del by_value[v]

    def candidates(self, filters: Sequence[str]) -> list[Session]:
        """Sessions that may match ``filters``: narrowed by the index where a filter allows it, else all."""
        selected: set[str] | None = None
        for flt in filters:
            parts = flt.split(":", 2)
            if len(parts) != 3 or parts[0] != "*string" or not parts[1].startswith("~*req."):
                continue
            field = parts[1][len("~*req.") :]
            if field not in self._index:
                continue
            ids: set[str] = set()
            for v in parts[2].split("|"):
                ids |= self._index[field].get(v, set())
            selected = ids if selected is None else selected & ids
        if selected is None:
            return list(self._sessions.values())
        return [self._sessions[c] for c in selected if c in self._sessions]
