"""What the *internal DataDB acknowledged survives ``kill -9``; a damaged last record costs only that record."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from pycgrates.engine.storage import InternalDataDB
from pycgrates.engine.storage.log import MAGIC, iter_records

REPO = Path(__file__).resolve().parents[2]
TOTAL = 10_000
KILL_AFTER = 5_000

# Writes TOTAL records, printing each key once its write is acknowledged; never closes the store.
WRITER = """
import asyncio, sys
from pathlib import Path
from pycgrates.engine.storage.internal import InternalDataDB

async def main(path, policy, total, compact_min):
    db = InternalDataDB(Path(path), fsync=policy, compact_ratio=2.0, compact_min_bytes=compact_min)
    out = sys.stdout
    for i in range(total):
        await db.set("acc", f"cgrates.org:{i}", {"ID": i, "Balance": "1.5", "Pad": "x" * (i % 300)})
        out.write(f"cgrates.org:{i}\\n")
        out.flush()
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
"""


def _value(i: int) -> dict:
    return {"ID": i, "Balance": "1.5", "Pad": "x" * (i % 300)}


def _run_and_kill(store: Path, policy: str, compact_min: int = 1 << 30) -> list[str]:
    """Start the writer, SIGKILL it after KILL_AFTER acknowledgements; returns every key it acknowledged."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    acked: list[str] = []
    with subprocess.Popen(
        [sys.executable, "-c", WRITER, str(store), policy, str(TOTAL), str(compact_min)],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=env,
    ) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                acked.append(line.decode().strip())
                if len(acked) >= KILL_AFTER:
                    os.kill(proc.pid, signal.SIGKILL)
                    break
            proc.wait(timeout=30)
            acked.extend(proc.stdout.read().decode().split())  # acknowledged between our last read and the kill
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return acked


@pytest.mark.parametrize(
    ("policy", "compact_min"),
    [("*interval", 1 << 30), ("*never", 1 << 30), ("*always", 100_000)],
    ids=["interval", "never", "always-compacting"],
)
async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, policy: str, compact_min: int):
    """With ``*always`` the writer yields on every fsync, so compactions (forced small) run between writes."""
    acked = _run_and_kill(tmp_path, policy, compact_min)
    assert len(acked) >= KILL_AFTER
    if compact_min < 1 << 30:  # the log was rewritten as a snapshot (batch records) at least once
        records = [orjson.loads(p) for p in iter_records((tmp_path / "datadb.log").read_bytes())]
        assert any(isinstance(r[0], list) for r in records)
    db = InternalDataDB(tmp_path)
    for key in acked:
        assert await db.get("acc", key) == _value(int(key.split(":")[1])), key
    await db.close()


async def test_corrupt_last_record_recovers_everything_before(tmp_path: Path, caplog):
    _run_and_kill(tmp_path, "*interval")
    log_path = tmp_path / "datadb.log"
    data = log_path.read_bytes()
    records = [orjson.loads(p) for p in iter_records(data)]
    assert data.startswith(MAGIC) and len(records) >= KILL_AFTER
    last_key = records[-1][2]
    damaged = bytearray(data)
    damaged[-10] ^= 0xFF  # inside the last record's payload
    log_path.write_bytes(bytes(damaged))
    with caplog.at_level(logging.WARNING, logger="cgr.storage"):
        db = InternalDataDB(tmp_path)
    assert str(log_path) in caplog.text and "dropping" in caplog.text
    for _, _, key, value in records[:-1]:
        assert await db.get("acc", key) == value
    assert await db.get("acc", last_key) is None
    assert len(await db.keys("acc")) == len(records) - 1
    await db.close()
