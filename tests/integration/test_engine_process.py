"""cgr-engine as a real process: start from CGRateS configs, durability across kill -9, signals, config errors."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import aiohttp
import pytest

from pycgrates.engine.cli import command
from tests.conftest import shared_data
from tests.engine_proc import (
    REPO,
    EngineProcess,
    call,
    free_port,
    make_config_dir,
    pipeline,
    storage_overrides,
    without_unavailable_services,
)

ENGINE = command("engine")
CONSOLE = command("console")
TESTER = command("tester")


def test_tutinternal_config_starts_and_answers_on_tcp_http_and_ws(tmp_path):
    """The unmodified CGRateS tutinternal config (storage paths and ports aside) on TCP, HTTP and WebSocket."""
    src = shared_data("conf", "samples", "tutinternal")
    rpc_port, http_port = free_port(), free_port()
    cfg = make_config_dir(tmp_path, src, overrides={
        "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": f"127.0.0.1:{http_port}", "birpc_json": ""},
        "data_db": {"opts": {"internalDBDumpPath": str(tmp_path / "datadb")}},
        "stor_db": {"opts": {"internalDBDumpPath": str(tmp_path / "stordb")}},
        **without_unavailable_services(src),
    })
    eng = EngineProcess(cfg, rpc_port, tmp_path / "engine.log").start()
    try:
        status = eng.call("CoreSv1.Status", {})
        assert status["NodeID"] and status["Version"].startswith("pycgrates")

        async def over_http() -> tuple[dict, dict]:
            async with aiohttp.ClientSession() as http:
                async with http.post(f"http://127.0.0.1:{http_port}/jsonrpc",
                                     json={"method": "CoreSv1.Status", "params": [{}], "id": 1}) as r:
                    via_post = await r.json()
                async with http.ws_connect(f"http://127.0.0.1:{http_port}/ws") as ws:
                    await ws.send_json({"method": "CoreSv1.Status", "params": [{}], "id": 2})
                    via_ws = json.loads((await ws.receive()).data)
            return via_post, via_ws

        import asyncio

        via_post, via_ws = asyncio.run(over_http())
        assert via_post["error"] is None and via_post["result"]["NodeID"] == status["NodeID"]
        assert via_ws["id"] == 2 and via_ws["result"]["NodeID"] == status["NodeID"]
        assert eng.terminate() == 0
    finally:
        eng.kill()


def _engine(tmp_path: Path, extra: dict | None = None) -> EngineProcess:
    port = free_port()
    overrides = storage_overrides(tmp_path, port)
    overrides["apiers"] = {"enabled": True}
    overrides["rals"] = {"enabled": True}
    for k, v in (extra or {}).items():
        overrides.setdefault(k, {}).update(v)
    cfg = make_config_dir(tmp_path / "cfg", overrides=overrides)
    return EngineProcess(cfg, port, tmp_path / "engine.log")


def _set_destinations(eng: EngineProcess, start: int, count: int) -> list[dict]:
    calls = [("APIerSv1.SetDestination", {"Id": f"DST_{i}", "Prefixes": [f"49{i}"], "Overwrite": True})
             for i in range(start, start + count)]
    return pipeline(eng.rpc_port, calls, timeout=120)


def test_ten_thousand_acknowledged_writes_survive_kill_9(tmp_path):
    eng = _engine(tmp_path).start()
    try:
        replies = _set_destinations(eng, 0, 10_000)
        assert all(r["error"] is None for r in replies), next(r for r in replies if r["error"])
        assert len(replies) == 10_000
    finally:
        eng.kill()  # every write above was acknowledged; none may be lost
    eng.start()
    try:
        got = pipeline(eng.rpc_port, [("APIerSv1.GetDestination", f"DST_{i}") for i in range(10_000)], timeout=120)
        missing = [i for i, r in enumerate(got) if r["error"] is not None or r["result"]["Prefixes"] != [f"49{i}"]]
        assert missing == []
    finally:
        eng.kill()


def test_corrupt_last_log_record_recovers_everything_before_it(tmp_path):
    eng = _engine(tmp_path).start()
    try:
        assert all(r["error"] is None for r in _set_destinations(eng, 0, 200))
    finally:
        eng.kill()
    logs = sorted((tmp_path / "datadb").rglob("*"), key=lambda p: p.stat().st_size if p.is_file() else -1)
    log_file = logs[-1]
    data = bytearray(log_file.read_bytes())
    data[-3] ^= 0xFF  # damage the last record's payload
    log_file.write_bytes(bytes(data))
    eng.start()
    try:
        got = pipeline(eng.rpc_port, [("APIerSv1.GetDestination", f"DST_{i}") for i in range(200)])
        assert all(r["error"] is None for r in got[:199])
        assert got[199]["error"] == "NOT_FOUND"  # the damaged record, and only it, is gone
    finally:
        eng.kill()
    assert "WARNING" in eng.log() and str(log_file.name) in eng.log()


def test_sigterm_drains_in_flight_requests_and_exits_zero(tmp_path):
    eng = _engine(tmp_path).start()
    import socket

    with socket.create_connection(("127.0.0.1", eng.rpc_port)) as s:
        s.sendall(b'{"method":"CoreSv1.Sleep","params":[{"Duration":"1s"}],"id":1}\n')
        time.sleep(0.2)
        eng.proc.send_signal(15)
        s.settimeout(10)
        reply = json.loads(s.makefile().readline())
    assert reply == {"id": 1, "result": "OK", "error": None}
    assert eng.proc.wait(20) == 0


def test_sighup_reloads_config(tmp_path):
    eng = _engine(tmp_path).start()
    try:
        assert eng.call("ConfigSv1.GetConfig", {"Section": "general"})["general"]["reply_timeout"] == "2s"
        cfg_file = eng.config_dir / "zz_test_overrides.json"
        cfg = json.loads(cfg_file.read_text())
        cfg["general"] = {"reply_timeout": "7s"}
        cfg_file.write_text(json.dumps(cfg))
        eng.proc.send_signal(1)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if eng.call("ConfigSv1.GetConfig", {"Section": "general"})["general"]["reply_timeout"] == "7s":
                break
            time.sleep(0.1)
        else:
            pytest.fail("SIGHUP did not reload the configuration")
        assert eng.call("CoreSv1.Ping", {}) == "Pong"
    finally:
        eng.kill()


def test_config_error_exits_with_a_message_naming_file_and_option(tmp_path):
    (tmp_path / "bad.json").write_text('{\n"sessions": {"debit_interval": [1]}\n}\n')
    r = subprocess.run([*ENGINE, "-config_dir", str(tmp_path)],
                       capture_output=True, text=True, cwd=REPO, timeout=60)
    assert r.returncode == 2
    assert "bad.json" in r.stderr and "sessions.debit_interval" in r.stderr


def test_version_flag():
    r = subprocess.run([*ENGINE, "-version"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0 and r.stdout.startswith("pycgrates v")


def test_console_one_shot_against_engine(tmp_path):
    eng = _engine(tmp_path).start()
    try:
        r = subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{eng.rpc_port}",
                            "status"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["NodeID"]
        r = subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{eng.rpc_port}",
                            "get_config", 'Section="general"'], capture_output=True, text=True, timeout=60)
        assert json.loads(r.stdout)["general"]["default_tenant"] == "cgrates.org"
        r = subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{eng.rpc_port}",
                            "call", "NoSuch.Method"], capture_output=True, text=True, timeout=60)
        assert r.returncode == 1 and "can't find service NoSuch.Method" in r.stderr
        assert call(eng.rpc_port, "CoreSv1.Ping", {}) == "Pong"
    finally:
        eng.kill()


def test_tester_reports_throughput(tmp_path):
    eng = _engine(tmp_path).start()
    try:
        r = subprocess.run([*TESTER, "-server", f"127.0.0.1:{eng.rpc_port}",
                            "-method", "CoreSv1.Ping", "-runs", "500", "-parallel", "2", "-json"],
                           capture_output=True, text=True, timeout=120)
        summary = json.loads(r.stdout)
        assert summary["ok"] == 500 and summary["errors"] == 0 and summary["req_per_s"] > 0
        assert summary["p99_ms"] >= summary["p50_ms"] > 0
    finally:
        eng.kill()


def test_console_interactive_help_completion_and_history(tmp_path):
    pexpect = pytest.importorskip("pexpect")
    eng = _engine(tmp_path).start()
    history = tmp_path / "history"
    try:
        child = pexpect.spawn(CONSOLE[0], [*CONSOLE[1:], "-server", f"127.0.0.1:{eng.rpc_port}"],
                              env={**__import__("os").environ, "CGR_CONSOLE_HISTORY": str(history)},
                              encoding="utf-8", timeout=20)
        child.expect("cgr> ")
        child.sendline("help")
        child.expect("commands:")
        child.expect("cgr> ")
        child.send("statu\t")  # tab completes the command ("stat" is also stats_metrics, stats_profile...)
        child.expect("status ")
        child.sendline("")
        child.expect('"NodeID"')
        child.expect("cgr> ")
        child.sendline("help active_sessions")
        child.expect("calls SessionSv1.GetActiveSessions")
        child.expect("cgr> ")
        child.sendline("quit")
        child.expect(pexpect.EOF)
        assert "status" in history.read_text()
    finally:
        eng.kill()
