"""Where template values are read from and written to: CGRateS's ordered navigable map and the Diameter selector.

:class:`NavMap` keeps ``*cgreq``/``*rep``/``*diamreq`` in write order with repeated paths, ``[index]`` addressing and
``new_branch`` kept on each leaf for the encoders. :class:`SelectorDataProvider` reads ``Group.Leaf[~Sibling(v)]``
from any message that answers ``avps_by_path(path) -> list``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, MutableMapping, Sequence
from functools import lru_cache
from typing import Any, Protocol

from pycgrates.engine.template.dataprovider import (
    MISSING,
    MapDataProvider,
    NotFoundError,
    as_string,
    index_node,
    navigate,
    parse_segment,
    split_path,
)
from pycgrates.engine.template.gocompat import compile_go_regex

# ---------------------------------------------------------------------------------------------------- NavMap


class Leaf:
    """One value written by a field: its path under the prefix, and the template's new_branch/tag."""

    __slots__ = ("new_branch", "path", "tag", "value")

    def __init__(self, value: Any, path: tuple[str, ...], new_branch: bool = False, tag: str = "") -> None:
        self.value = value
        self.path = path
        self.new_branch = new_branch
        self.tag = tag

    def __repr__(self) -> str:
        nb = ", new_branch" if self.new_branch else ""
        return f"Leaf({'.'.join(self.path)}={self.value!r}{nb})"


PathKeys = tuple[tuple[str, str | None], ...]


@lru_cache(maxsize=4096)
def path_keys(path: tuple[str, ...]) -> PathKeys:
    """``("A[1]", "B")`` → (("A", "1"), ("B", None)): each segment's key and (last) index."""
    out = []
    for segment in path:
        key, idxs = parse_segment(segment)
        out.append((key, idxs[-1] if idxs else None))
    return tuple(out)


def _slot(node: list, idx: str) -> int:
    try:
        i = int(idx)
    except ValueError:
        raise ValueError(f"index <{idx}> is not a number") from None
    return i + len(node) if i < 0 else i


class NavMap:
    """An ordered navigable map (CGRateS's OrderedNavigableMap).

    Each key holds a list of children, each a :class:`Leaf` or a nested map; ``Key[i]`` addresses child ``i``
    (``i == len`` appends), a bare key the last child. :meth:`set` replaces, :meth:`append` adds a leaf to the
    path (``*group``), :meth:`compose` concatenates onto the last leaf (``*composed``). :meth:`leaves` yields the
    leaves in the order they were written, which is what encoders turn into AVPs, attributes or JSON.
    """

    __slots__ = ("_order", "root")

    def __init__(self) -> None:
        self.root: dict[str, list] = {}
        self._order: dict[Leaf, None] = {}

    def __repr__(self) -> str:
        return f"NavMap({list(self._order)!r})"

    def __bool__(self) -> bool:
        return bool(self._order)

    def __len__(self) -> int:
        return len(self._order)

    # ---- writing
    def _parent(self, path: Sequence[str], keys: PathKeys) -> tuple[list, int | None]:
        """The list holding the last segment's children, and its index (None: the whole list)."""
        node: dict[str, list] = self.root
        last = len(keys) - 1
        for pos, (key, index) in enumerate(keys):
            children = node.get(key)
            if children is None:
                children = node[key] = []
            idx = None if index is None else _slot(children, index)
            if pos == last:
                return children, idx
            if idx is None:
                idx = len(children) - 1 if children else 0
            if idx == len(children):
                children.append({})
            elif not 0 <= idx < len(children):
                raise ValueError(f"index {index} is out of range in <{'.'.join(path)}>")
            child = children[idx]
            if type(child) is not dict:
                raise ValueError(f"<{'.'.join(path[: pos + 1])}> holds a value, not fields: cannot set "
                                 f"<{'.'.join(path)}>")
            node = child
        raise ValueError("empty path")

    def _forget(self, nodes: Sequence[Any]) -> None:
        for n in nodes:
            if type(n) is Leaf:
                self._order.pop(n, None)
            else:
                for children in n.values():
                    self._forget(children)

    def put(self, mode: str, path: tuple[str, ...], leaf: Leaf, keys: PathKeys | None = None) -> Leaf:
        """Write ``leaf`` at ``path``: ``set`` replaces, ``append`` adds (``*group``), ``compose`` concatenates
        onto the last value (``*composed``). ``keys`` are the path's parsed segments, when known."""
        children, idx = self._parent(path, keys or path_keys(path))
        if mode == "compose":
            target = children[-1] if idx is None and children else \
                children[idx] if idx is not None and 0 <= idx < len(children) else None
            if type(target) is Leaf:
                target.value = as_string(target.value) + as_string(leaf.value)
                return target
            mode = "set"
        if idx is None:
            if mode == "set":
                self._forget(children)
                children[:] = [leaf]
            else:
                children.append(leaf)
        elif idx == len(children):
            children.append(leaf)
        elif 0 <= idx < len(children):
            self._forget((children[idx],))
            children[idx] = leaf
        else:
            raise ValueError(f"index {idx} is out of range in <{'.'.join(path)}>")
        self._order[leaf] = None
        return leaf

    def set(self, path: Sequence[str], value: Any, *, new_branch: bool = False, tag: str = "") -> Leaf:
        """Write one value at ``path``, replacing what was there (``Key[i]`` replaces child ``i``)."""
        path = tuple(path)
        return self.put("set", path, value if isinstance(value, Leaf) else Leaf(value, path, new_branch, tag))

    def append(self, path: Sequence[str], value: Any, *, new_branch: bool = False, tag: str = "") -> Leaf:
        """Add one more value at ``path`` (``*group``)."""
        path = tuple(path)
        return self.put("append", path, value if isinstance(value, Leaf) else Leaf(value, path, new_branch, tag))

    def compose(self, path: Sequence[str], value: Any, *, new_branch: bool = False, tag: str = "") -> Leaf:
        """Concatenate ``value`` onto the last value at ``path`` (``*composed``), or set it when absent."""
        path = tuple(path)
        return self.put("compose", path, value if isinstance(value, Leaf) else Leaf(value, path, new_branch, tag))

    def remove(self, path: Sequence[str]) -> None:
        """Remove the values (or the fields) at ``path``; a missing path is not an error."""
        node: Any = self.root
        for pos, segment in enumerate(path):
            key, idxs = parse_segment(segment)
            children = node.get(key) if isinstance(node, dict) else None
            if children is None:
                return
            if pos == len(path) - 1:
                if idxs:
                    i = _slot(children, idxs[-1])
                    if 0 <= i < len(children):
                        self._forget((children.pop(i),))
                else:
                    self._forget(node.pop(key))
                return
            i = _slot(children, idxs[-1]) if idxs else len(children) - 1
            if not 0 <= i < len(children):
                return
            node = children[i]

    def clear(self) -> None:
        self.root.clear()
        self._order.clear()

    # ---- reading
    def field_as_any(self, path: Sequence[str]) -> Any:
        """The last value at ``path`` (``Key[i]``: child ``i``); nested fields come back as a plain dict."""
        node: Any = self.root
        if not path:
            return self.to_dict()
        for segment in path:
            if not isinstance(node, dict):
                raise NotFoundError()
            children = node.get(segment)
            if children is None:
                key, idxs = parse_segment(segment)
                children = node.get(key)
                if children is None or not children or not idxs:
                    raise NotFoundError()
                try:
                    i = _slot(children, idxs[-1])
                except ValueError:
                    raise NotFoundError() from None
                if not 0 <= i < len(children):
                    raise NotFoundError()
                node = children[i]
            elif children:
                node = children[-1]
            else:
                raise NotFoundError()
        if isinstance(node, Leaf):
            return node.value
        return _plain(node)

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def leaves(self) -> Iterator[Leaf]:
        """Every value in the order it was written (what encoders turn into the wire message)."""
        return iter(list(self._order))

    def to_dict(self) -> dict[str, Any]:
        """A plain nested dict: one value per key, a list where a key holds several."""
        return _plain(self.root)

    def as_event(self) -> dict[str, Any]:
        """The flat event CGRateS builds out of ``*cgreq`` (NMAsCGREvent): ``A.B`` keys, first value per path."""
        event: dict[str, Any] = {}
        for leaf in self._order:
            path = leaf.path
            key = path[0] if len(path) == 1 and "[" not in path[0] else ".".join(parse_segment(p)[0] for p in path)
            if key not in event:
                event[key] = leaf.value
        return event


def _plain(node: dict[str, list]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, children in node.items():
        items = [c.value if isinstance(c, Leaf) else _plain(c) for c in children]
        out[key] = items[0] if len(items) == 1 else items
    return out


def set_field(dest: NavMap | MutableMapping[str, Any], path: str | Sequence[str], value: Any, *,
              new_branch: bool = False, mode: str = "set") -> None:
    """Write ``value`` at ``path`` (``"A.B[1].C"`` or segments) into a NavMap or a nested dict.

    ``mode``: ``set`` replaces, ``append`` adds (``*group``), ``compose`` concatenates (``*composed``).
    """
    segments = split_path(path) if isinstance(path, str) else tuple(path)
    if isinstance(dest, NavMap):
        write = dest.set if mode == "set" else dest.append if mode == "append" else dest.compose
        write(segments, value, new_branch=new_branch)
        return
    if mode == "compose":
        prev = MapDataProvider(dest).get(segments)
        if prev is not None:
            value = as_string(prev) + as_string(value)
    MapDataProvider(dest).set(segments, value)


# ---------------------------------------------------------------------------------------------------- reading replies


def navigate_reply(node: Any, path: Sequence[str]) -> Any:
    """:func:`navigate` plus what templates use on replies: ``X.Length`` (items of a list or map) and
    ``X[*raw]`` (the per-run map's ``*raw`` entry, else its ``*default`` one, else ``X`` itself)."""
    try:
        return navigate(node, path)
    except NotFoundError:
        if not any(s == "Length" or "*raw" in s for s in path):
            raise
    for segment in path:
        if segment == "Length" and isinstance(node, list | tuple | Mapping) and \
                not (isinstance(node, Mapping) and "Length" in node):
            node = len(node)
            continue
        key, idxs = parse_segment(segment)
        if key:
            node = navigate(node, (key,))
        for idx in idxs:
            if idx == "*raw":
                if isinstance(node, Mapping):
                    node = node.get("*raw", node.get("*default", node))
                continue
            node = index_node(node, idx)
    return node




# -------------------------------------------------------------------------------------------------- Diameter selectors


class AVPTree(Protocol):
    """What a message with repeated and grouped items (Diameter AVPs) answers for the selector grammar."""

    def avps_by_path(self, path: Sequence[str]) -> list[Any]:
        """Every item reached by ``path`` (names), through all matching groups, in message order."""
        ...


_SELECTOR = re.compile(r"~([^()]+)\((.*)\)")
_REGEX_CHARS = frozenset(".^$*+?{}[]\\|()")


@lru_cache(maxsize=1024)
def _selector(text: str) -> tuple[tuple[str, Callable[[str], bool]], ...]:
    """``~Rating-Group(1)|~Other(!x)`` → ((name, matcher), ...); a plain value matches exactly, one with regexp
    characters as a Go regexp (``!`` negates); an empty value matches anything."""
    out = []
    for part in text.split("|"):
        m = _SELECTOR.fullmatch(part)
        if m is None:
            raise NotFoundError(f"NOT_FOUND: selector <{part}> is not ~Name(value) (~Name(v1)|~Other(v2))")
        name, want = m.group(1), m.group(2)
        negative = want.startswith("!")
        if negative:
            want = want[1:]
        if not want:
            out.append((name, (lambda _v, neg=negative: not neg)))
        elif not _REGEX_CHARS.intersection(want):
            out.append((name, (lambda v, w=want, neg=negative: (v == w) != neg)))
        else:
            rx = compile_go_regex(want)
            out.append((name, (lambda v, r=rx, neg=negative: (r.search(v) is not None) != neg)))
    return tuple(out)


def _default_value(node: Any) -> Any:
    return getattr(node, "value", node)


class SelectorDataProvider:
    """A DataProvider over an :class:`AVPTree`: ``A.B.Leaf``, ``Leaf[2]`` and ``Leaf[~Sibling(v)|~Other(w)]``.

    A selector picks, among the leaves found at the path, the one whose position matches the first sibling
    item (``Sibling`` under the same group, or a level up) passing every condition, as CGRateS does; the
    sibling items must be as many as the leaves. Results are cached per path for the life of the request.
    """

    __slots__ = ("_cache", "tree", "value_of")

    def __init__(self, tree: AVPTree, value_of: Callable[[Any], Any] | None = None) -> None:
        self.tree = tree
        self.value_of = value_of or _default_value
        self._cache: dict[tuple[str, ...], Any] = {}

    def __repr__(self) -> str:
        return f"SelectorDataProvider({self.tree!r})"

    def field_as_any(self, path: Sequence[str]) -> Any:
        key = tuple(path)
        value = self._cache.get(key, MISSING)
        if value is not MISSING:
            return value
        if not key:
            raise NotFoundError()
        name, idxs = parse_segment(key[-1])
        base = (*key[:-1], name)
        items = self.tree.avps_by_path(base)
        if not items:
            raise NotFoundError()
        pick = 0
        if idxs:
            sel = idxs[0]
            if sel.startswith("~"):
                pick = self._select(base, sel, len(items))
            else:
                try:
                    pick = int(sel)
                except ValueError:
                    raise NotFoundError() from None
                if pick < 0:
                    pick += len(items)
        if not 0 <= pick < len(items):
            raise NotFoundError()
        value = self.value_of(items[pick])
        self._cache[key] = value
        return value

    def _select(self, base: tuple[str, ...], text: str, count: int) -> int:
        conditions = _selector(text)
        matching: set[int] | None = None
        for name, matcher in conditions:
            siblings: list[Any] = []
            for i in range(len(base) - 1, -1, -1):
                siblings = self.tree.avps_by_path((*base[:i], name))
                if siblings:
                    break
            if len(siblings) != count:
                raise NotFoundError()
            hits = {k for k, s in enumerate(siblings) if matcher(as_string(self.value_of(s)))}
            matching = hits if matching is None else matching & hits
        if not matching:
            raise NotFoundError()
        return min(matching)

    def field_as_string(self, path: Sequence[str]) -> str:
        return as_string(self.field_as_any(path))

    def to_dict(self) -> Any:
        """The message for logs, where the tree has a view of itself."""
        view = getattr(self.tree, "to_dict", None)
        return view() if callable(view) else getattr(self.tree, "data", repr(self.tree))


class NestedAVPs:
    """An :class:`AVPTree` over nested dicts (a key holding a list is a repeated item): requests in tests, JSON."""

    __slots__ = ("data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data

    def __repr__(self) -> str:
        return f"NestedAVPs({self.data!r})"

    def avps_by_path(self, path: Sequence[str]) -> list[Any]:
        level: list[Any] = [self.data]
        for name in path:
            nxt: list[Any] = []
            for node in level:
                if (type(node) is dict or isinstance(node, Mapping)) and name in node:
                    v = node[name]
                    if type(v) is list:
                        nxt.extend(v)
                    else:
                        nxt.append(v)
            if not nxt:
                return []
            level = nxt
        return level
