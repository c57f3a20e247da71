"""Profiles (Filters, Attributes, Chargers, Resources, Stats, Thresholds, Routes, Dispatchers) built from their rows.

A profile is CGRateS's JSON shape, stored under ``tenant:id``. Its fields are the columns of its file's spec, in
order (a group's columns make one list of sub-objects); rows with the same Tenant+ID continue one profile, each
column folding in by its kind (see ``engine.loader.specs``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from pycgrates.engine.loader.rows import READERS, Row, read_cell
from pycgrates.engine.loader.specs import INITIAL, Column, FileSpec, Group, Kind


def _initial(col: Column) -> Any:
    """A field's value before any row sets it: its default, else its kind's empty value."""
    if col.default:
        return READERS[col.kind](col.default, col, "UTC")
    return copy.copy(INITIAL[col.kind])


def new_profile(spec: FileSpec, tenant: str, pid: str) -> dict[str, Any]:
    """An empty profile of ``spec``'s shape."""
    prof: dict[str, Any] = {"Tenant": tenant, "ID": pid}
    for col in spec.columns[2:]:
        if col.into:
            prof.setdefault(col.into, [])
        else:
            prof[col.target] = _initial(col)
    return prof


def _append_unique(target: list, items: Iterable) -> None:
    for item in items:
        if item not in target:
            target.append(item)


def _fold(obj: dict[str, Any], field: str, kind: Kind, value: Any) -> None:
    """One non-empty cell into a profile (or one of its items): lists grow, the first interval stays, params add
    up, anything else is replaced."""
    if kind is Kind.LIST:
        _append_unique(obj[field], value)
    elif kind is Kind.INTERVAL:
        if obj[field] is None:
            obj[field] = value
    elif kind is Kind.PARAMS:
        obj[field].update(value)
    else:
        obj[field] = value


def merge_row(spec: FileSpec, prof: dict[str, Any], row: Row, tz: str) -> None:
    """Fold one CSV row into the profile."""
    cells = row.cells(spec.columns)
    for group in spec.groups:
        problem = group.check(cells, prof["ID"]) if group.check else None
        if problem is not None:
            column, message = problem
            raise row.error(spec.index(column), message)
    for index, col in enumerate(spec.columns[2:], 2):
        if col.into or not row[index]:
            continue
        _fold(prof, col.target, col.kind, read_cell(row, index, col, tz, cells))
    for group in spec.groups:
        _merge_item(spec, group, prof[group.field], row, tz, cells)


def _merge_item(spec: FileSpec, group: Group, items: list[dict], row: Row, tz: str, cells: dict[str, str]) -> None:
    key_index = spec.index(group.key)
    if not row[key_index]:
        return
    columns = [(i, c) for i, c in enumerate(spec.columns) if c.into == group.field]
    if group.per_row:
        items.append({c.target: read_cell(row, i, c, tz, cells) for i, c in columns})
        return
    key_col = spec.columns[key_index]
    key_field = key_col.target
    key = read_cell(row, key_index, key_col, tz, cells)
    values = [(c.target, c.kind, read_cell(row, i, c, tz, cells)) for i, c in columns if c is not key_col and row[i]]
    for item_key in key if key_col.kind is Kind.LIST else [key]:
        item = next((it for it in items if it[key_field] == item_key), None)
        if item is None:
            item = {c.target: item_key if c is key_col else _initial(c) for _, c in columns}
            items.append(item)
        for field, kind, value in values:
            _fold(item, field, kind, value)


def finish_profile(spec: FileSpec, prof: dict[str, Any]) -> dict[str, Any]:
    """The profile as stored, once every row is in."""
    for group in spec.groups:
        if group.by_weight:
            prof[group.field].sort(key=lambda item: -item["Weight"])
    return prof
