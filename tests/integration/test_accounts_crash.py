"""Debits on one account from many clients at once against a real cgr-engine, and across kill -9."""

from __future__ import annotations

import threading
from pathlib import Path

from tests.engine_proc import EngineProcess, call, free_port, make_config_dir, storage_overrides

T = "cgrates.org"
DEBIT = {"Tenant": T, "Account": "1001", "BalanceType": "*monetary", "Value": 1, "Balance": {"ID": "main"}}


def engine(tmp_path: Path) -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides.update({"apiers": {"enabled": True}, "rals": {"enabled": True},
                      "general": {"default_timezone": "UTC"}})
    cfg = make_config_dir(tmp_path / "cfg", overrides=overrides)
    return EngineProcess(cfg, port, tmp_path / "engine.log")


def main_value(eng: EngineProcess) -> float:
    acc = eng.call("APIerSv2.GetAccount", {"Tenant": T, "Account": "1001"})
    return sum(b["Value"] for b in acc["BalanceMap"]["*monetary"] if b["ID"] == "main")


def fire(port: int, workers: int, per_worker: int, stop: threading.Event | None = None) -> dict[str, int]:
    """``workers`` clients, each sending its debits one after the other on fresh connections."""
    counts = {"OK": 0, "INSUFFICIENT_CREDIT": 0, "lost": 0}
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(per_worker):
            if stop is not None and stop.is_set():
                return
            try:
                outcome = call(port, "APIerSv1.DebitBalance", DEBIT, timeout=10)
            except RuntimeError as exc:
                outcome = str(exc)
            except (OSError, ValueError):
                outcome = "lost"  # no reply: the engine died with this request in flight
            with lock:
                counts[outcome if outcome in counts else "lost"] += 1

    threads = [threading.Thread(target=worker) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts


def test_200_concurrent_debits_of_1_on_100(tmp_path):
    eng = engine(tmp_path).start()
    try:
        assert eng.call("APIerSv1.AddBalance", {**DEBIT, "Value": 100}) == "OK"
        counts = fire(eng.rpc_port, workers=20, per_worker=10)
        assert counts == {"OK": 100, "INSUFFICIENT_CREDIT": 100, "lost": 0}
        assert main_value(eng) == 0
        assert eng.terminate() == 0
    finally:
        eng.kill()


def test_debits_across_kill_9_none_lost_none_twice(tmp_path):
    eng = engine(tmp_path).start()
    workers = 20
    try:
        assert eng.call("APIerSv1.AddBalance", {**DEBIT, "Value": 100}) == "OK"
        stop = threading.Event()
        result: dict[str, int] = {}
        runner = threading.Thread(target=lambda: result.update(fire(eng.rpc_port, workers, 10, stop)))
        runner.start()
        # kill -9 half-way through
        while main_value(eng) > 50:
            pass
        eng.kill()
        stop.set()
        runner.join()
    finally:
        eng.kill()
    acked = result["OK"]
    assert 0 < acked < 100

    eng2 = EngineProcess(eng.config_dir, eng.rpc_port, tmp_path / "engine2.log").start()
    try:
        left = main_value(eng2)
        applied = 100 - left
        # every acknowledged debit is there; at most one per worker was in flight (applied, reply lost)
        assert acked <= applied <= acked + workers, (acked, applied, result)
        assert applied == int(applied)
        # the rest can still be spent exactly: no debit counted twice, none lost
        counts = fire(eng2.rpc_port, workers=10, per_worker=20)
        assert counts["OK"] == left and counts["lost"] == 0
        assert main_value(eng2) == 0
        assert eng2.terminate() == 0
    finally:
        eng2.kill()
