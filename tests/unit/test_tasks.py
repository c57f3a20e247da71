"""The task supervisor: failures logged once with the task's name, stop cancels and waits, drain waits."""

from __future__ import annotations

import asyncio
import logging

import pytest

from pycgrates.engine.tasks import Supervisor, SupervisorStopped


async def test_a_failing_task_is_logged_once_with_its_name(caplog):
    sup = Supervisor("sessions")

    async def boom() -> None:
        raise RuntimeError("no balance table")

    with caplog.at_level(logging.ERROR, logger="cgr.tasks"):
        task = sup.spawn(boom(), "debit loop 42")
        await asyncio.gather(task, return_exceptions=True)
        await asyncio.sleep(0)
    errors = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(errors) == 1 and "sessions:debit loop 42" in errors[0].getMessage()
    assert "no balance table" in errors[0].getMessage()
    assert sup.failures == 1 and len(sup) == 0


async def test_stop_cancels_and_waits_also_for_tasks_started_while_stopping():
    sup = Supervisor("agent")
    finished: list[str] = []

    async def loop_forever() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            finished.append("loop")

    for _ in range(3):
        sup.spawn(loop_forever(), "loop")
    await asyncio.sleep(0)
    await sup.stop()
    assert finished == ["loop"] * 3 and len(sup) == 0
    coro = loop_forever()
    with pytest.raises(SupervisorStopped):
        sup.spawn(coro, "late")
    assert finished == ["loop"] * 3  # the refused coroutine was closed, never run


async def test_drain_waits_without_cancelling():
    sup = Supervisor("cdrs")
    done: list[int] = []

    async def work(i: int) -> None:
        await asyncio.sleep(0.01 * i)
        done.append(i)

    for i in range(3):
        sup.spawn(work(i))
    assert await sup.drain(timeout=2)
    assert sorted(done) == [0, 1, 2]
    sup.spawn(asyncio.sleep(10))
    assert not await sup.drain(timeout=0.05)
    await sup.stop()
