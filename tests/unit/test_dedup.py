"""The duplicate detector every agent shares: one processing per key, copies get the first answer, an answer is kept
``window`` seconds after it was given, a first arrival without an answer is forgotten."""

from __future__ import annotations

import asyncio

import pytest

from pycgrates.agents.dedup import DuplicateDetector


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


async def test_copies_in_flight_wait_for_the_one_processing():
    dedup: DuplicateDetector[str, str] = DuplicateDetector(window=10)
    clock, calls, release = Clock(), [], asyncio.Event()

    async def process() -> str:
        calls.append(1)
        await release.wait()
        return "answer"

    tasks = [asyncio.ensure_future(dedup.once("k", clock, process)) for _ in range(3)]
    await asyncio.sleep(0.01)
    assert dedup.in_flight == 1 and len(calls) == 1
    release.set()
    results = await asyncio.gather(*tasks)
    assert sorted(results) == [("answer", False), ("answer", True), ("answer", True)]
    assert len(calls) == 1 and dedup.duplicates == 2 and dedup.in_flight == 0


async def test_an_answer_is_kept_window_seconds_after_it_was_given():
    dedup: DuplicateDetector[str, str] = DuplicateDetector(window=60)
    assert dedup.claim("k", now=0) is None
    # still in flight long after the claim: a copy waits rather than being processed alongside
    pending = dedup.claim("k", now=500)
    assert pending is not None and not pending.done()
    dedup.done("k", "answer", now=500)
    copy = dedup.claim("k", now=559)
    assert copy is not None and copy.result() == "answer"
    assert dedup.claim("k", now=560) is None  # expired: a new request


async def test_a_failed_first_arrival_lets_a_copy_be_processed():
    dedup: DuplicateDetector[str, str] = DuplicateDetector()
    clock, started = Clock(), asyncio.Event()

    async def fails() -> str:
        started.set()
        await asyncio.sleep(0.01)
        raise OSError("SessionS went away")

    async def works() -> str:
        return "second"

    first = asyncio.ensure_future(dedup.once("k", clock, fails))
    await started.wait()
    copy = asyncio.ensure_future(dedup.once("k", clock, works))
    with pytest.raises(OSError):
        await first
    assert await copy == ("second", False)  # processed in the first one's place
    assert dedup.claim("k", 1.0).result() == "second"


async def test_a_cancelled_first_arrival_lets_a_copy_be_processed():
    dedup: DuplicateDetector[str, str] = DuplicateDetector()
    clock, started = Clock(), asyncio.Event()

    async def hangs() -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    async def works() -> str:
        return "copy"

    first = asyncio.ensure_future(dedup.once("k", clock, hangs))
    await started.wait()
    copy = asyncio.ensure_future(dedup.once("k", clock, works))
    await asyncio.sleep(0)
    first.cancel()
    assert await copy == ("copy", False)


async def test_oldest_answers_go_first_and_forget_drops_a_claim():
    dedup: DuplicateDetector[int, int] = DuplicateDetector(window=60, max_answers=2)
    for key in range(3):
        assert dedup.claim(key, 0) is None
        dedup.done(key, key * 10, 0)
    assert len(dedup) == 2 and dedup.claim(0, 1) is None  # evicted: processed again
    assert dedup.claim(2, 1).result() == 20
    dedup.forget(0)
    assert dedup.in_flight == 0 and dedup.claim(0, 1) is None
