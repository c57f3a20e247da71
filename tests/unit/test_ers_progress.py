"""A file's progress: the watermark of contiguously settled records, stored in the DataDB and resumed; a new file
under an old name starts over."""

from __future__ import annotations

import asyncio

from pycgrates.engine.ers import progress as P
from pycgrates.engine.storage import InternalDataDB
from pycgrates.engine.storage.cache import Cache
from pycgrates.engine.storage.datamanager import DataManager


def _dm() -> DataManager:
    return DataManager(InternalDataDB(None), Cache.from_config({}))


async def test_watermark_advances_over_contiguous_settled_records(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "SAVE_INTERVAL", 0)
    dm = _dm()
    f = tmp_path / "a.csv"
    f.write_text("x\n" * 5)
    prog = await P.FileProgress.resume(dm, "rdr", f)
    tickets = [prog.ticket(n) for n in range(1, 6)]
    await tickets[2].settle()
    await tickets[1].settle()
    assert prog.watermark == 0
    await tickets[0].settle()
    await tickets[0].settle()  # settling twice counts once
    assert prog.watermark == 3
    stored = await dm.get(P.PROGRESS, "rdr:a.csv")
    assert stored["Settled"] == 3 and stored["Fingerprint"] == P.fingerprint(f)
    again = await P.FileProgress.resume(dm, "rdr", f)
    assert [n for n in range(1, 6) if not again.skip(n)] == [4, 5]
    waiting = asyncio.ensure_future(prog.finished_reading(5))
    await asyncio.sleep(0)
    assert not waiting.done()
    await tickets[4].settle()
    await tickets[3].settle()
    await waiting
    assert prog.watermark == 5


async def test_another_file_under_the_same_name_starts_over(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "SAVE_INTERVAL", 0)
    dm = _dm()
    f = tmp_path / "a.csv"
    f.write_text("one\n")
    prog = await P.FileProgress.resume(dm, "rdr", f)
    await prog.ticket(1).settle()
    await prog.save(done=True)
    assert (await P.FileProgress.resume(dm, "rdr", f)).done
    f.write_text("two\nthree\n")
    fresh = await P.FileProgress.resume(dm, "rdr", f)
    assert not fresh.done and fresh.start == 0


def test_move_file_keeps_both_when_the_name_is_taken(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "a.csv").write_text("old")
    (tmp_path / "a.csv").write_text("new")
    dest = P.move_file(tmp_path / "a.csv", str(tmp_path / "out"))
    assert dest.name == "a.csv.1" and dest.read_text() == "new"
