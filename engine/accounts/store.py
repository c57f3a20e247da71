"""Accounts in DataDB: per-account locks and atomic writes.

Every change of an account happens while its lock is held, on a copy read from DataDB, and lands with one
``write_batch`` (the account plus whatever records belong to the same change: other accounts of a shared group,
scheduler state, ...), conditional on the versions of what the change read (see engine.accounts.accounting). A
failed change leaves DataDB as it was. Locks are taken in sorted key order so that debits touching several
accounts (shared groups) never deadlock each other.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from typing import Any

from pycgrates.engine.models.account import Account
from pycgrates.engine.rpc.errors import ACCOUNT_NOT_FOUND, RPCError
from pycgrates.engine.storage.base import ACCOUNT, BatchOp, Expectations
from pycgrates.engine.units import now


def account_key(tenant: str, account: str) -> str:
    return f"{tenant}:{account}"


class AccountLocks:
    """asyncio locks by account key, created on demand and dropped when nobody waits."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    @asynccontextmanager
    async def hold(self, *keys: str) -> AsyncIterator[None]:
        ordered = sorted(set(keys))
        taken: list[str] = []
        acquired: set[str] = set()
        try:
            for key in ordered:
                lock = self._locks.get(key)
                if lock is None:
                    lock = self._locks[key] = asyncio.Lock()
                self._users[key] = self._users.get(key, 0) + 1
                taken.append(key)
                await lock.acquire()
                acquired.add(key)
            yield
        finally:
            for key in reversed(taken):
                if key in acquired:
                    self._locks[key].release()
                left = self._users[key] - 1
                if left:
                    self._users[key] = left
                else:
                    del self._users[key]
                    del self._locks[key]

    def is_locked(self, key: str) -> bool:
        lock = self._locks.get(key)
        return lock is not None and lock.locked()


class AccountStore:
    """Reads and writes accounts through the DataManager (or a bare DataDB: same get/set/write_batch seam)."""

    def __init__(self, dm: Any) -> None:
        self.dm = dm
        self.locks = AccountLocks()
        #: Changes read versions and write only over them, so engines sharing the DataDB lose no update. False
        #: writes unconditionally, as before versioned writes: safe only for an engine alone on its DataDB
        #: (benchmarks/bench_shared_debit.py measures the difference).
        self.versioned = True

    async def get(self, key: str) -> Account | None:
        raw = await self.dm.get(ACCOUNT, key)
        if raw is None:
            return None
        return Account.from_dict(raw)

    async def require(self, key: str) -> Account:
        acc = await self.get(key)
        if acc is None:
            raise RPCError(ACCOUNT_NOT_FOUND)
        return acc

    async def keys(self, prefix: str = "") -> list[str]:
        return await self.dm.keys(ACCOUNT, prefix)

    @staticmethod
    def set_op(acc: Account) -> BatchOp:
        acc.UpdateTime = now()
        return ("set", ACCOUNT, acc.key, acc.to_dict(storage=True))

    @staticmethod
    def remove_op(key: str) -> BatchOp:
        return ("remove", ACCOUNT, key, None)

    async def commit(self, ops: Iterable[BatchOp], expect: Expectations | None = None) -> None:
        """Write ``ops`` as one batch, only over the ``expect``ed versions (else WriteConflict); nothing to write,
        nothing is checked."""
        ops = list(ops)
        if ops:
            await self.dm.write_batch(ops, expect=expect or None)

    async def save(self, *accounts: Account, extra: Iterable[BatchOp] = ()) -> None:
        await self.commit([*(self.set_op(a) for a in accounts), *extra])
