"""The APIerSv1 administration methods of stored objects (profiles and filters), generated once per type.

A service declares what it stores with a :class:`CrudSpec` (``crud = CrudSpec("ChargerProfile", CHARGER_PROFILE,
console="chargers_profile")``), inherits :class:`CrudService` and supplies the codec and the writes
(:meth:`~CrudService.decode`, :meth:`~CrudService.to_json`, :meth:`~CrudService.load`, :meth:`~CrudService.store`,
:meth:`~CrudService.delete`). The class then serves, with CGRateS's names, argument and reply shapes and errors:

- ``APIerSv1.Get<Name>`` ``{"Tenant", "ID"}`` → the object as CGRateS prints it, or ``NOT_FOUND``;
- ``APIerSv1.Set<Name>`` the object itself plus ``"APIOpts"``: CGRateS embeds the object in its ``...WithAPIOpts``
  wrapper, so its fields sit at the top level (``{"Tenant", "ID", "FilterIDs", ..., "APIOpts": {"*cache": ...}}``)
  → ``"OK"``; ``MANDATORY_IE_MISSING: [ID ...]`` names the spec's mandatory fields that are empty;
- ``APIerSv1.Remove<Name>`` ``{"Tenant", "ID", "APIOpts"}`` → ``"OK"``, or ``NOT_FOUND``;
- ``APIerSv1.Get<Name>IDs`` ``{"Tenant", "Search", "Limit", "Offset"}`` → the IDs, sorted, then paginated as
  CGRateS's Paginator does; ``NOT_FOUND`` when the tenant has none;
- ``APIerSv1.Get<Name>Count`` ``{"Tenant"}`` → how many there are (only the types CGRateS has it for).

An empty ``Tenant`` is ``general.default_tenant``. After a write, ``APIOpts["*cache"]`` (default
``general.default_caching``) says what happens to the kind's cache partition: ``*reload``/``*load`` read the item
again (decoded once, by the kind's DataManager decoder), ``*remove`` and ``*none`` leave it dropped (every
DataManager write drops what it touched), ``*clear`` empties the partition and its filter-index partition.

Every method answers errors through :func:`api_error`, CGRateS's APIErrorHandler: the one place where an exception
becomes ``NOT_FOUND``, ``MANDATORY_IE_MISSING: [...]`` or ``SERVER_ERROR: <detail>``; services wrap their own RPC
methods with :func:`maps_errors`. Console commands for the generated methods come from
:meth:`CrudSpec.console_commands`, under CGRateS's console names.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pycgrates.engine.rpc.errors import (
    MANDATORY_IE_MISSING,
    NOT_FOUND,
    SERVER_ERROR,
    RPCError,
    mandatory_ie_missing,
    not_found,
    server_error,
)
from pycgrates.engine.rpc.registry import rpc
from pycgrates.engine.storage.datamanager import INDEX_PARTITIONS, KIND_PARTITIONS

API = "APIerSv1"
CACHE_OPT = "*cache"
CACHE_ACTIONS = ("*none", "*reload", "*load", "*remove", "*clear")
DEFAULT_TENANT = "cgrates.org"

#: console suffix per operation (CGRateS: ``attributes_profile``, ``..._set``, ``..._remove``, ``..._ids``; its
#: console has no command for the counts)
_CONSOLE_SUFFIX = {"get": "", "set": "_set", "remove": "_remove", "ids": "_ids"}


def config_option(ctx: Any, section: str, name: str, default: Any) -> Any:
    """A config option of any section; ``default`` when unset or when running without a config."""
    cfg = getattr(ctx, "cfg", None)
    if cfg is None:
        return default
    try:
        return cfg.get(section, name, default=default)
    except KeyError:
        return default


def api_error(exc: Exception) -> RPCError:
    """The RPC error for an exception (CGRateS's APIErrorHandler): ``NOT_FOUND``, ``MANDATORY_IE_MISSING`` and
    errors already worded as ``SERVER_ERROR`` travel as they are; anything else becomes ``SERVER_ERROR: <detail>``."""
    if isinstance(exc, RPCError):
        if exc.message == NOT_FOUND or exc.message.startswith((MANDATORY_IE_MISSING, SERVER_ERROR)):
            return exc
        return server_error(exc.message)
    return server_error(exc)


#: what a user's request can raise (bad rules, bad values, missing objects); other exceptions are bugs, which the
#: RPC dispatcher logs with their traceback
USER_ERRORS = (RPCError, ValueError, TypeError)


def maps_errors(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Wrap an RPC method so that what it raises leaves through :func:`api_error`."""

    @functools.wraps(method)
    async def mapped(self: Any, args: Any) -> Any:
        try:
            return await method(self, args)
        except USER_ERRORS as exc:
            raise api_error(exc) from None

    return mapped


def paginate(ids: list[str], args: dict) -> list[str] | None:
    """CGRateS's Paginator: ``Offset`` items skipped, then at most ``Limit`` (0 or absent: no bound); an offset past
    the end answers null, as Go's nil slice."""
    try:
        limit, offset = max(int(args.get("Limit") or 0), 0), max(int(args.get("Offset") or 0), 0)
    except (TypeError, ValueError):
        raise ValueError(f"Limit and Offset must be whole numbers (got {args.get('Limit')!r}, "
                         f"{args.get('Offset')!r})") from None
    if offset > len(ids):
        return None
    return ids[offset:offset + limit] if limit else ids[offset:]


def words(name: str) -> str:
    """``"AttributeProfile"`` → ``"attribute profile"``."""
    return re.sub(r"(?<!^)(?=[A-Z])", " ", name).lower()


@dataclass(frozen=True, slots=True)
class CrudSpec:
    """What a service stores, as CGRateS's APIerSv1 and console name it."""

    name: str  # "AttributeProfile": APIerSv1.GetAttributeProfile, SetAttributeProfile, ...
    kind: str  # DataDB kind (engine/storage/base.py), key "tenant:id"
    console: str  # console command stem: "attributes_profile" → attributes_profile, attributes_profile_set, ...
    mandatory: tuple[str, ...] = ("ID",)  # fields Set refuses empty, in CGRateS's order
    count: bool = False  # CGRateS has APIerSv1.Get<Name>Count

    @property
    def partition(self) -> str:
        """The cache partition of the kind."""
        return KIND_PARTITIONS[self.kind]

    def methods(self) -> dict[str, str]:
        """Operation → RPC method name."""
        out = {"get": f"{API}.Get{self.name}", "set": f"{API}.Set{self.name}",
               "remove": f"{API}.Remove{self.name}", "ids": f"{API}.Get{self.name}IDs"}
        if self.count:
            out["count"] = f"{API}.Get{self.name}Count"
        return out

    def console_commands(self) -> dict[str, tuple[str, str]]:
        """The console's ``command → (method, help)`` rows for the generated methods."""
        what = words(self.name)
        helps = {"get": f'a {what}: Tenant="cgrates.org" ID="..."',
                 "set": f'create or replace a {what}: Tenant="cgrates.org" ID="..." and its fields',
                 "remove": f'remove a {what}: Tenant="cgrates.org" ID="..."',
                 "ids": f'{what} IDs of a tenant: Tenant="cgrates.org" Limit=0 Offset=0 Search=""'}
        methods = self.methods()
        return {self.console + suffix: (methods[op], helps[op]) for op, suffix in _CONSOLE_SUFFIX.items()}


def tenant_id_args(args: Any) -> tuple[dict, str]:
    """(args, ID) of a ``{"Tenant", "ID"}`` argument; MANDATORY_IE_MISSING when the ID is empty."""
    args = args if isinstance(args, dict) else {}
    item_id = args.get("ID")
    item_id = item_id.strip() if isinstance(item_id, str) else item_id
    if not item_id:
        raise mandatory_ie_missing("ID")
    return args, str(item_id)


def _missing(raw: dict, fields: Sequence[str]) -> list[str]:
    """CGRateS's MissingStructFields: empty (after trimming) strings, empty lists and maps, zero integers."""
    out = []
    for name in fields:
        value = raw.get(name)
        if isinstance(value, str):
            value = value.strip()
        if value is None or value in ("", [], {}) or (type(value) is int and value == 0):
            out.append(name)
    return out


class CrudService:
    """Serves the APIerSv1 methods of the :class:`CrudSpec` a subclass declares as ``crud``."""

    crud: ClassVar[CrudSpec]
    ctx: Any
    dm: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("crud")
        if spec is None:
            return
        for op, method in spec.methods().items():
            setattr(cls, f"rpc_{op}_{spec.name}", serving(method, f"api_{op}"))

    # ------------------------------------------------------------------------------------------ what a type supplies

    def decode(self, raw: dict) -> Any:
        """The compiled object of a stored (or submitted) JSON document; raises ValueError when it is invalid."""
        raise NotImplementedError

    def to_json(self, obj: Any) -> dict:
        """The object as CGRateS prints it (what Get answers and what Set stores)."""
        return obj.to_json()

    async def load(self, tenant: str, item_id: str) -> Any | None:
        """The compiled object, or None."""
        raise NotImplementedError

    async def store(self, raw: dict) -> None:
        """Write a validated document (Tenant set) and everything that follows it (indexes)."""
        raise NotImplementedError

    async def delete(self, tenant: str, item_id: str) -> bool:
        """Remove an object and what follows it; False when there was none."""
        raise NotImplementedError

    async def check_references(self, obj: Any) -> None:
        """Refuse an object whose references are broken (raises); nothing to check by default."""

    def validate(self, raw: dict) -> None:
        """Checks of the submitted document beyond its mandatory fields, before it is decoded."""

    # ------------------------------------------------------------------------------------------ shared

    def option(self, section: str, name: str, default: Any = None) -> Any:
        """A config option (``default`` when unset or without a config)."""
        return config_option(self.ctx, section, name, default)

    @property
    def default_tenant(self) -> str:
        return self.option("general", "default_tenant", DEFAULT_TENANT) or DEFAULT_TENANT

    def tenant_of(self, args: Any) -> str:
        """The argument's Tenant, or ``general.default_tenant`` when empty."""
        tenant = args.get("Tenant") if isinstance(args, dict) else None
        tenant = tenant.strip() if isinstance(tenant, str) else ""
        return tenant or self.default_tenant

    def _cache_action(self, args: dict) -> str:
        opts = args.get("APIOpts") or {}
        action = (opts.get(CACHE_OPT) if isinstance(opts, dict) else None) or \
            self.option("general", "default_caching", "*reload") or "*reload"
        if action not in CACHE_ACTIONS:
            raise server_error(f"APIOpts {CACHE_OPT} {action!r} is not a cache action (use one of "
                               f"{', '.join(CACHE_ACTIONS)})")
        return action

    async def _refresh_cache(self, action: str, tenant: str, item_id: str) -> None:
        partition = self.crud.partition
        if action in ("*reload", "*load"):
            await self.dm.reload_cache({partition: [f"{tenant}:{item_id}"]})
        elif action == "*clear":
            self.dm.clear([partition, INDEX_PARTITIONS[self.crud.kind]])

    # ------------------------------------------------------------------------------------------ the API

    async def api_get(self, args: Any) -> dict:
        args, item_id = tenant_id_args(args)
        obj = await self.load(self.tenant_of(args), item_id)
        if obj is None:
            raise not_found()
        return self.to_json(obj)

    async def api_set(self, args: Any, mandatory: Sequence[str] | None = None) -> str:
        raw = {k: v for k, v in args.items() if k != "APIOpts"} if isinstance(args, dict) else {}
        missing = _missing(raw, self.crud.mandatory if mandatory is None else mandatory)
        if missing:
            raise mandatory_ie_missing(*missing)
        raw["ID"] = raw["ID"].strip() if isinstance(raw["ID"], str) else raw["ID"]
        raw["Tenant"] = self.tenant_of(raw)
        action = self._cache_action(args)
        self.validate(raw)
        obj = self.decode(raw)
        await self.check_references(obj)
        await self.store(self.to_json(obj))
        await self._refresh_cache(action, raw["Tenant"], raw["ID"])
        return "OK"

    async def api_remove(self, args: Any) -> str:
        args, item_id = tenant_id_args(args)
        tenant = self.tenant_of(args)
        action = self._cache_action(args)
        if not await self.delete(tenant, item_id):
            raise not_found()
        await self._refresh_cache(action, tenant, item_id)
        return "OK"

    async def _ids(self, tenant: str, search: str = "") -> list[str]:
        prefix = f"{tenant}:"
        ids = [key[len(prefix):] for key in await self.dm.keys(self.crud.kind, prefix)]
        if search:  # CGRateS searches its whole DataDB key, "<kind>_<tenant>:<id>"
            ids = [i for i in ids if search in f"{self.crud.kind}_{prefix}{i}"]
        if not ids:
            raise not_found()
        return sorted(ids)

    async def api_ids(self, args: Any) -> list[str] | None:
        args = args if isinstance(args, dict) else {}
        return paginate(await self._ids(self.tenant_of(args), args.get("Search") or ""), args)

    async def api_count(self, args: Any) -> int:
        return len(await self._ids(self.tenant_of(args)))


def serving(method: str, impl: str, *, errors_mapped: bool = True) -> Callable[[Any, Any], Awaitable[Any]]:
    """A new function serving ``method`` with the ``impl`` method (one function per class and method: the registry
    finds the RPC names on the function); its errors leave through :func:`api_error` unless ``errors_mapped`` is
    False (``impl`` then words them itself)."""

    async def handler(self: Any, args: Any) -> Any:
        return await getattr(self, impl)(args)

    handler.__name__ = handler.__qualname__ = method.replace(".", "_")
    return rpc(method)(maps_errors(handler) if errors_mapped else handler)
