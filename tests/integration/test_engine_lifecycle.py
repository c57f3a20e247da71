"""The engine in process: a failed start stops what it had started, stop works at any point, reloads run under the
engine's supervisor and are refused (the running configuration kept) when the checks refuse the new files."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
from pathlib import Path

import pytest

from pycgrates.engine.app import Engine, StartupError
from pycgrates.engine.config import config_from_dict, load_config
from pycgrates.engine.config.checks import ConfigProblems
from pycgrates.engine.rpc.errors import RPCError
from pycgrates.engine.storage import InternalDataDB
from tests.engine_proc import free_port


def _overrides(tmp: Path, **sections) -> dict:
    base = {
        "listen": {"rpc_json": f"127.0.0.1:{free_port()}", "http": "", "birpc_json": "", "rpc_json_tls": "",
                   "http_tls": ""},
        "data_db": {"opts": {"internalDBDumpPath": str(tmp / "datadb")}},
        "stor_db": {"opts": {"internalDBDumpPath": str(tmp / "stordb")}},
        "rals": {"enabled": True}, "schedulers": {"enabled": True},
        "sessions": {"enabled": True, "rals_conns": ["*internal"]},
    }
    for name, value in sections.items():
        base[name] = {**base.get(name, {}), **value}
    return base


def _tasks(prefix: str) -> list[str]:
    return [t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith(prefix)]


async def test_stop_works_on_an_engine_that_never_started(tmp_path):
    engine = Engine(config_from_dict(_overrides(tmp_path)))
    await engine.stop()
    assert engine.stopped.is_set()


async def test_a_store_that_cannot_be_opened_leaves_nothing_open(tmp_path):
    cfg = config_from_dict(_overrides(tmp_path, stor_db={"opts": {"internalDBDumpPath": "/sys/pycgrates-test"}}))
    engine = Engine(cfg)
    with pytest.raises((StartupError, ConfigProblems), match="stor_db"):
        await engine.start()
    await engine.stop()  # again: nothing left to do, no error
    datadb = InternalDataDB(tmp_path / "datadb")  # the DataDB opened first was closed: its lock is free
    await datadb.close()


async def test_a_listener_that_cannot_bind_stops_the_services_started_before_it(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        engine = Engine(config_from_dict(_overrides(tmp_path, listen={"http": f"127.0.0.1:{port}"})))
        with pytest.raises(StartupError, match=rf"listen.http 127.0.0.1:{port}: .*address already in use"):
            await engine.start()
    assert engine.listener("rpc_json") is not None and engine.listener("rpc_json")._server is None
    assert _tasks("scheduler:") == [] and _tasks("internal DB") == []
    datadb = InternalDataDB(tmp_path / "datadb")
    await datadb.close()


async def test_reloads_run_under_the_engine_and_bad_files_keep_the_running_config(tmp_path, caplog):
    cfg_dir = tmp_path / "etc"
    cfg_dir.mkdir()
    cfg_file = cfg_dir / "cgrates.json"
    cfg_file.write_text(json.dumps(_overrides(tmp_path)))
    engine = Engine(load_config(cfg_dir))
    await engine.start()
    try:
        cfg_file.write_text(json.dumps(_overrides(tmp_path, general={"reply_timeout": "7s"})))
        engine.request_reload()
        assert _tasks("engine:") == ["engine:reload"]
        for _ in range(100):
            if not _tasks("engine:"):
                break
            await asyncio.sleep(0.01)
        assert engine.cfg.get("general", "reply_timeout") == "7s"
        # refused by the checks: the running configuration stays, the reason is logged once
        cfg_file.write_text(json.dumps(_overrides(tmp_path, cdrs={"enabled": True, "rals_conns": ["nowhere"]})))
        with caplog.at_level(logging.ERROR):
            engine.request_reload()
            for _ in range(100):
                if not _tasks("engine:"):
                    break
                await asyncio.sleep(0.01)
        assert "configuration reload failed, keeping the running configuration: cdrs.rals_conns[0]: connection " \
               "'nowhere' is not defined in rpc_conns" in caplog.text
        assert engine.cfg.get("cdrs", "enabled") is False
        with pytest.raises(RPCError, match=re.escape("SERVER_ERROR: cdrs.rals_conns[0]: connection 'nowhere' is")):
            await engine.registry.dispatch("ConfigSv1.ReloadConfig", {"DryRun": True})
        cfg_file.write_text("{")  # does not parse
        engine.request_reload()
    finally:
        await engine.stop()
    assert _tasks("engine:") == []
