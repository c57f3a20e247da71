"""The ``*redis`` DataDB: every object a JSON string under CGRateS's key (``acc_cgrates.org:1001``), over redis-py's
asyncio client (hiredis parses replies when installed), plain, through Sentinel or on a Redis Cluster.

Keys: ``<prefix><key>`` with CGRateS's prefixes (utils/consts.go): the kind and an underscore, except statqueues
(``stq_``), versions (``ver_``) and the filter indexes, whose prefix follows the indexed item (``afi_`` attribute,
``cfi_`` charger, ``rfi_`` resource, ``sfi_`` stat, ``tfi_`` threshold, ``rti_`` route, ``dfi_`` dispatcher; other
indexes under ``fii_``). Values are JSON, not CGRateS's msgpack: the keys are where an operator looks, the values
are ours.

Writes: ``write_batch`` is one Lua script (atomic: all or nothing, no other command runs in between) that first
checks the expected versions — a version is the SHA1 of the stored bytes, so any writer's change is seen, with no
extra key — and then sets and deletes, and leaves a marker of the batch for a minute: the client resends a script
whose reply was lost (a broken connection), and the resent batch finds its marker and reports success without
writing again, so a retry never applies a debit twice.

On a Redis Cluster a script can only touch one hash slot: a batch is split by slot and each part is atomic; the
parts holding expected keys run first, so a conflict there stops the batch before anything else is written.
"""

from __future__ import annotations

import hashlib
import logging
import ssl as ssl_module
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from pycgrates.engine.storage import base as k
from pycgrates.engine.storage.base import (
    BatchOp,
    DataDB,
    Expectations,
    StorageError,
    WriteConflict,
    check_batch,
    dumps,
)
from pycgrates.engine.units import DurationError, parse_duration

try:  # the optional dependency: pip install 'pycgrates[redis]'
    import redis.asyncio as aioredis
    from redis.asyncio.cluster import ClusterNode, RedisCluster
    from redis.asyncio.retry import Retry
    from redis.asyncio.sentinel import Sentinel
    from redis.backoff import ExponentialBackoff
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover - reported by redis_settings()
    aioredis = None

log = logging.getLogger("cgr.storage")

#: Kinds whose CGRateS prefix is not ``<kind>_``.
_PREFIXES = {k.STATQUEUE: "stq_", k.VERSIONS: "ver_"}
#: Filter indexes: the indexed item's kind → CGRateS's index prefix; other indexes keep ``fii_<whole key>``.
_INDEX_PREFIXES = {
    k.ATTRIBUTE_PROFILE: "afi_",
    k.CHARGER_PROFILE: "cfi_",
    k.RESOURCE_PROFILE: "rfi_",
    k.STATQUEUE_PROFILE: "sfi_",
    k.THRESHOLD_PROFILE: "tfi_",
    k.ROUTE_PROFILE: "rti_",
    k.DISPATCHER_PROFILE: "dfi_",
}
_GENERIC_INDEX = "fii_"
_MARKER = "bat_"  # a written batch's marker, kept while the client may still retry it
_MARKER_TTL = 60  # seconds: longer than the client's retries (redisConnectAttempts, backoff capped at 1s)
_GLOB_SPECIALS = str.maketrans({c: "\\" + c for c in "*?[]\\"})

# KEYS[1]: this batch's marker; KEYS[2..n+1]: the keys of its n operations; then keys only expected. ARGV[1]: the
# operations' letters ('s' set, 'r' remove); ARGV[2..n+1]: their values ('' for removals); then pairs (index into
# KEYS, SHA1 expected or '' for absent). Returns 0 when written, or when the marker shows that an earlier try of
# this very batch (a retry after a lost reply) was; else the index of the first key whose version changed.
_BATCH_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local ops = ARGV[1]
local n = #ops
local i = n + 2
while i <= #ARGV do
  local idx = tonumber(ARGV[i])
  local want = ARGV[i + 1]
  local cur = redis.call('GET', KEYS[idx])
  if want == '' then
    if cur then return idx end
  elseif (not cur) or redis.sha1hex(cur) ~= want then
    return idx
  end
  i = i + 2
end
for j = 1, n do
  if string.sub(ops, j, j) == 's' then
    redis.call('SET', KEYS[j + 1], ARGV[j + 1])
  else
    redis.call('DEL', KEYS[j + 1])
  end
end
redis.call('SET', KEYS[1], '1', 'EX', """ + str(_MARKER_TTL) + """)
return 0
"""


def redis_key(kind: str, key: str) -> str:
    """CGRateS's Redis key of (kind, key)."""
    if kind == k.FILTER_INDEX:
        item_kind, sep, rest = key.partition(":")
        prefix = _INDEX_PREFIXES.get(item_kind) if sep else None
        return prefix + rest if prefix else _GENERIC_INDEX + key
    return _PREFIXES.get(kind, kind + "_") + key


def _index_scans(prefix: str) -> list[tuple[str, str]]:
    """For filter-index keys starting with ``prefix``: (Redis key prefix to scan, our key prefix it stands for)."""
    scans = []
    for item_kind, redis_prefix in _INDEX_PREFIXES.items():
        ours = item_kind + ":"
        if prefix.startswith(ours):
            return [(redis_prefix + prefix[len(ours):], ours)]
        if ours.startswith(prefix):
            scans.append((redis_prefix, ours))
    scans.append((_GENERIC_INDEX + prefix, ""))
    return scans


def _digest(raw: bytes | None) -> str:
    return "" if raw is None else hashlib.sha1(raw).hexdigest()


# ------------------------------------------------------------------------------------------------ settings


@dataclass
class RedisSettings:
    """What the ``data_db`` section says about reaching Redis (checked without connecting)."""

    addresses: list[tuple[str, int]]
    db: int
    username: str | None
    password: str | None
    sentinel: str = ""
    cluster: bool = False
    max_connections: int = 10
    connect_attempts: int = 20
    connect_timeout: float | None = None
    socket_timeout: float | None = None
    scan_count: int = 1000
    tls: dict[str, Any] = field(default_factory=dict)


def _seconds(opts: dict, name: str) -> float | None:
    raw = opts.get(name)
    if raw in (None, "", 0, "0"):
        return None
    try:
        ns = parse_duration(raw)
    except DurationError as exc:
        raise StorageError(f"data_db.opts.{name}: {exc}") from exc
    return ns / 1e9 if ns > 0 else None


def _int(opts: dict, name: str, default: int, low: int) -> int:
    raw = opts.get(name, default)
    try:
        value = int(default if raw in (None, "") else raw)
    except (TypeError, ValueError):
        raise StorageError(f"data_db.opts.{name} {raw!r} must be a whole number (default {default})") from None
    if value < low:
        raise StorageError(f"data_db.opts.{name} {value} must be at least {low} (default {default})")
    return value


def _addresses(host: str, port: int) -> list[tuple[str, int]]:
    """``db_host`` as one address or several (``h1:p1;h2:p2``, for Sentinel and Cluster); ``db_port`` fills gaps."""
    out = []
    for part in host.replace(",", ";").split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, tail = part.rpartition(":")
        if sep and tail.isdigit() and not name.endswith(":"):
            out.append((name.strip("[]"), int(tail)))
        else:
            out.append((part.strip("[]"), port))
    return out or [("127.0.0.1", port)]


def redis_settings(section: dict) -> RedisSettings:
    """The Redis connection the section describes; StorageError names the field and the fix."""
    if aioredis is None:
        raise StorageError("data_db.db_type *redis needs the Redis client: pip install 'pycgrates[redis]'")
    opts = section.get("opts") or {}
    port = section.get("db_port")
    try:
        port = 6379 if port in (None, "", -1, "-1") else int(port)
    except (TypeError, ValueError):
        raise StorageError(f"data_db.db_port {port!r} must be a port number (Redis: 6379)") from None
    cluster = opts.get("redisCluster") in (True, "true")
    name = str(section.get("db_name") if section.get("db_name") is not None else "10").strip() or "0"
    if not name.isdigit():
        raise StorageError(f"data_db.db_name {name!r} must be a Redis database number (for example \"10\")")
    password = str(section.get("db_password") or "")
    settings = RedisSettings(
        addresses=_addresses(str(section.get("db_host") or "127.0.0.1"), port),
        db=0 if cluster else int(name),
        # as CGRateS: the user name is sent only with a password
        username=(str(section.get("db_user") or "") or None) if password else None,
        password=password or None,
        sentinel=str(opts.get("redisSentinel") or ""),
        cluster=cluster,
        max_connections=_int(opts, "redisMaxConns", 10, 1),
        connect_attempts=_int(opts, "redisConnectAttempts", 20, 1),
        connect_timeout=_seconds(opts, "redisConnectTimeout"),
        socket_timeout=max(
            (t for t in (_seconds(opts, "redisReadTimeout"), _seconds(opts, "redisWriteTimeout")) if t), default=None
        ),
        scan_count=_int(opts, "redisBatchSize", 1000, 1),
    )
    if settings.sentinel and settings.cluster:
        raise StorageError("data_db.opts: set redisSentinel or redisCluster, not both")
    if opts.get("redisTLS") in (True, "true"):
        settings.tls = {"ssl": True, "ssl_cert_reqs": ssl_module.CERT_REQUIRED}
        cert, key = opts.get("redisClientCertificate") or "", opts.get("redisClientKey") or ""
        if bool(cert) != bool(key):
            raise StorageError("data_db.opts: set both redisClientCertificate and redisClientKey, or neither")
        if cert:
            settings.tls.update(ssl_certfile=cert, ssl_keyfile=key)
        if opts.get("redisCACertificate"):
            settings.tls["ssl_ca_certs"] = opts["redisCACertificate"]
    return settings


def _client_kwargs(s: RedisSettings) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "username": s.username,
        "password": s.password,
        "retry": Retry(ExponentialBackoff(cap=1.0, base=0.01), s.connect_attempts),
        **s.tls,
    }
    if s.connect_timeout is not None:
        kwargs["socket_connect_timeout"] = s.connect_timeout
    if s.socket_timeout is not None:
        kwargs["socket_timeout"] = s.socket_timeout
    return kwargs


# ------------------------------------------------------------------------------------------------ DataDB


class RedisDataDB(DataDB):
    """DataDB on a Redis client; ``namespace`` goes before every key (separate tenants of one Redis, tests)."""

    def __init__(self, client: Any, *, namespace: str = "", scan_count: int = 1000, cluster: bool = False,
                 closers: Iterable[Any] = ()) -> None:
        self.client = client
        self.namespace = namespace
        self.scan_count = scan_count
        self.cluster = cluster
        self._closers = list(closers)
        self._script = client.register_script(_BATCH_LUA)

    @classmethod
    async def connect(cls, section: dict, *, namespace: str = "") -> RedisDataDB:
        """Connect as the ``data_db`` section says and check the server answers."""
        s = redis_settings(section)
        kwargs = _client_kwargs(s)
        closers: list[Any] = []
        if s.cluster:
            client = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in s.addresses],
                                  max_connections=s.max_connections, **kwargs)
        elif s.sentinel:
            # as CGRateS: the password is the master's; the sentinels themselves are asked without one
            sentinel = Sentinel(s.addresses, sentinel_kwargs=dict(s.tls), **kwargs)
            client = sentinel.master_for(s.sentinel, db=s.db, max_connections=s.max_connections)
            closers = list(sentinel.sentinels)
        else:
            host, port = s.addresses[0]
            pool = aioredis.BlockingConnectionPool(host=host, port=port, db=s.db, max_connections=s.max_connections,
                                                   timeout=s.socket_timeout or 20, **kwargs)
            client = aioredis.Redis(connection_pool=pool)
        store = cls(client, namespace=namespace, scan_count=s.scan_count, cluster=s.cluster, closers=closers)
        try:
            await client.ping()
        except (RedisError, OSError) as exc:
            await store.close()
            where = ", ".join(f"{h}:{p}" for h, p in s.addresses)
            raise StorageError(f"data_db: cannot reach Redis at {where} (db {s.db}): {exc}; start Redis or fix "
                               "data_db.db_host, db_port, db_password and opts") from exc
        return store

    def _key(self, kind: str, key: str) -> str:
        return self.namespace + redis_key(kind, key)

    async def _call(self, coro: Any) -> Any:
        try:
            return await coro
        except RedisError as exc:
            raise StorageError(f"Redis: {exc}") from exc

    # ------------------------------------------------------------------------------------------ reads

    async def get(self, kind: str, key: str) -> Any | None:
        raw = await self._call(self.client.get(self._key(kind, key)))
        return None if raw is None else orjson.loads(raw)

    async def get_versioned(self, kind: str, key: str) -> tuple[Any | None, Any]:
        raw = await self._call(self.client.get(self._key(kind, key)))
        return (None if raw is None else orjson.loads(raw)), _digest(raw)

    async def get_many(self, kind: str, keys: Iterable[str]) -> dict[str, Any]:
        keys = list(keys)
        out: dict[str, Any] = {}
        for start in range(0, len(keys), self.scan_count):
            chunk = keys[start : start + self.scan_count]
            names = [self._key(kind, key) for key in chunk]
            if self.cluster:
                raws = await self._call(self.client.mget_nonatomic(names))
            else:
                raws = await self._call(self.client.mget(names))
            for key, raw in zip(chunk, raws, strict=True):
                if raw is not None:
                    out[key] = orjson.loads(raw)
        return out

    async def _scan(self, redis_prefix: str) -> list[str]:
        pattern = (self.namespace + redis_prefix).translate(_GLOB_SPECIALS) + "*"
        skip = len(self.namespace)
        found = []
        try:
            async for name in self.client.scan_iter(match=pattern, count=self.scan_count):
                found.append(name.decode()[skip:])
        except RedisError as exc:
            raise StorageError(f"Redis: {exc}") from exc
        return found

    async def keys(self, kind: str, prefix: str = "") -> list[str]:
        if kind != k.FILTER_INDEX:
            redis_prefix = redis_key(kind, "")
            return sorted({name[len(redis_prefix):] for name in await self._scan(redis_key(kind, prefix))})
        out: set[str] = set()
        for redis_prefix, ours in _index_scans(prefix):
            head = redis_prefix[:4]  # the fixed part (xxx_) before the scanned key prefix
            for name in await self._scan(redis_prefix):
                key = ours + name[len(head):]
                if key.startswith(prefix):
                    out.add(key)
        return sorted(out)

    # ------------------------------------------------------------------------------------------ writes

    async def set(self, kind: str, key: str, value: Any) -> None:
        await self._call(self.client.set(self._key(kind, key), dumps(value)))

    async def remove(self, kind: str, key: str) -> bool:
        return bool(await self._call(self.client.delete(self._key(kind, key))))

    async def write_batch(self, ops: Iterable[BatchOp], *, expect: Expectations | None = None) -> None:
        rows = check_batch(ops)
        expect = dict(expect or {})
        if not rows and not expect:
            return
        if not self.cluster:
            await self._run_batch(rows, expect)
            return
        # One script per hash slot; the parts with expectations first, so a conflict stops the batch early.
        parts: dict[int, tuple[list[BatchOp], dict]] = {}
        for row in rows:
            parts.setdefault(self._slot(row[1], row[2]), ([], {}))[0].append(row)
        for (kind, key), version in expect.items():
            parts.setdefault(self._slot(kind, key), ([], {}))[1][(kind, key)] = version
        for part_rows, part_expect in sorted(parts.values(), key=lambda p: not p[1]):
            await self._run_batch(part_rows, part_expect)

    def _slot(self, kind: str, key: str) -> int:
        return self.client.keyslot(self._key(kind, key))

    def batch_call(self, rows: list[BatchOp], expect: dict) -> tuple[list[str], list[Any], list[tuple[str, str]]]:
        """The script's KEYS and ARGV for one batch (a fresh marker each call), and the expected (kind, key)s."""
        # Later operations on one key win, as when applied in order: keep the last per key.
        last: dict[str, tuple[str, bytes]] = {}
        for op, kind, key, value in rows:
            name = self._key(kind, key)
            last.pop(name, None)
            last[name] = ("s", dumps(value)) if op == "set" else ("r", b"")
        names = [self._marker(next(iter(last), "")), *last]
        args: list[Any] = ["".join(code for code, _ in last.values()), *(raw for _, raw in last.values())]
        wanted: list[tuple[str, str]] = []
        for (kind, key), version in expect.items():
            name = self._key(kind, key)
            if name not in last:
                names.append(name)
            args += [names.index(name) + 1, version or ""]
            wanted.append((kind, key))
        return names, args, wanted

    def _marker(self, first_key: str) -> str:
        token = uuid.uuid4().hex
        if self.cluster and "{" not in first_key and "}" not in first_key:
            return f"{self.namespace}{_MARKER}{{{first_key}}}{token}"  # hash tag: the slot of the batch's keys
        return f"{self.namespace}{_MARKER}{token}"

    async def _run_batch(self, rows: list[BatchOp], expect: dict) -> None:
        names, args, wanted = self.batch_call(rows, expect)
        bad = await self._call(self._script(keys=names, args=args))
        if bad:
            conflict = names[int(bad) - 1]
            for kind, key in wanted:
                if self._key(kind, key) == conflict:
                    raise WriteConflict(kind, key)
            raise WriteConflict("?", conflict)

    async def flush(self) -> None:
        if self.namespace:
            names = [self.namespace + name for name in await self._scan("")]
            step = 1 if self.cluster else self.scan_count  # a cluster takes one slot per command
            for start in range(0, len(names), step):
                await self._call(self.client.unlink(*names[start : start + step]))
        elif self.cluster:
            await self._call(self.client.flushdb(target_nodes=RedisCluster.PRIMARIES))
        else:
            await self._call(self.client.flushdb())

    async def close(self) -> None:
        for closer in self._closers:
            await closer.aclose()
        self._closers = []
        await self.client.aclose()
