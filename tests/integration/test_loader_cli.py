"""cgr-loader as a process: against a running cgr-engine that holds the embedded store it loads through the engine
(same errors, same progress bar as a load into the store itself); after a load into the store itself it reloads
caches and the scheduler as CGRateS's cgr-loader does, checked on a recording JSON-RPC peer."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pycgrates.engine.cli import command
from tests.engine_proc import REPO, EngineProcess, free_port, make_config_dir, storage_overrides

LOADER = command("loader")
PLAN = REPO / "tutorials" / "tariffplans" / "basic"


def config_dir(tmp: Path, name: str, rpc_port: int, **sections: dict) -> Path:
    """The tutorial sample with its listeners on ``rpc_port`` and its store under ``tmp/name``."""
    overrides = storage_overrides(tmp / name, rpc_port)
    overrides.update(sections)
    return make_config_dir(tmp / name / "cfg", REPO / "config" / "samples" / "tutorial", overrides=overrides)


def loader(cfg: Path, folder: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*LOADER, "-config_dir", str(cfg), "-path", str(folder), *extra], capture_output=True,
                          text=True, timeout=120, cwd=REPO)


def loader_on_a_terminal(cfg: Path, folder: Path, *extra: str) -> tuple[int, str]:
    """cgr-loader with its stderr on a pseudo-terminal, as a user runs it (the progress bar shows only there)."""
    main, side = pty.openpty()
    proc = subprocess.Popen([*LOADER, "-config_dir", str(cfg), "-path", str(folder), *extra],
                            stdout=subprocess.DEVNULL, stderr=side, cwd=REPO)
    os.close(side)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # EIO: the other end closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(main)
    return proc.wait(60), b"".join(chunks).decode(errors="replace")


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("loader_engine")
    port = free_port()
    cfg = config_dir(tmp, "held", port)
    eng = EngineProcess(cfg, port, tmp / "engine.log").start()
    eng.cfg = cfg  # type: ignore[attr-defined]
    eng.tmp = tmp  # type: ignore[attr-defined]
    yield eng
    eng.kill()


def broken_copy(tmp: Path, name: str, **files: str) -> Path:
    folder = tmp / name
    shutil.copytree(PLAN, folder, dirs_exist_ok=True)
    for table, text in files.items():
        (folder / f"{table}.csv").write_text(text)
    return folder


def test_loads_through_the_engine_holding_the_store(engine):
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        engine.call("APIerSv1.GetRatingPlan", "RP_VOICE")
    done = loader(engine.cfg, PLAN, "-verbose")
    assert done.returncode == 0, done.stderr
    assert f"loaded through the engine at 127.0.0.1:{engine.rpc_port}:" in done.stdout
    assert f"  RatingPlans.csv: {rows_in('RatingPlans')} rows" in done.stdout
    assert engine.call("APIerSv1.GetRatingPlan", "RP_VOICE")["Id"] == "RP_VOICE"
    account = engine.call("APIerSv2.GetAccount", {"Tenant": "cgrates.org", "Account": "1001"})
    assert account["ID"] == "cgrates.org:1001"  # the action plan ran *asap in the engine


def test_dry_run_through_the_engine_writes_nothing(engine):
    folder = broken_copy(engine.tmp, "dry", RatingPlans="#Id,DestinationRatesId,TimingTag,Weight\n"
                                                        "RP_DRY,DR_ONNET,*any,10\n")
    done = loader(engine.cfg, folder, "-dry_run")
    assert done.returncode == 0, done.stderr
    assert "would load through the engine" in done.stdout
    with pytest.raises(RuntimeError, match="NOT_FOUND"):
        engine.call("APIerSv1.GetRatingPlan", "RP_DRY")


@pytest.mark.parametrize("files", [
    {"Rates": "#Id,ConnectFee,Rate,RateUnit,RateIncrement,GroupIntervalStart\nRT_ONNET,0,cheap,60s,60s,0s\n"},
    {"RatingPlans": "#Id,DestinationRatesId,TimingTag,Weight\nRP_VOICE,DR_NOWHERE,*any,10\n"},
], ids=["row error", "dangling reference"])
def test_errors_are_those_of_a_load_into_the_store(engine, files):
    folder = broken_copy(engine.tmp, "broken-" + next(iter(files)), **files)
    through = loader(engine.cfg, folder)
    own_store = config_dir(engine.tmp, f"free-{next(iter(files))}", free_port())
    direct = loader(own_store, folder, "-caches_address", "")
    assert (through.returncode, direct.returncode) == (1, 1)
    assert through.stderr == direct.stderr and through.stderr.startswith("cgr-loader: ")
    assert "SERVER_ERROR" not in through.stderr and "Traceback" not in through.stderr


def test_the_progress_bar_is_the_same(engine):
    code, through = loader_on_a_terminal(engine.cfg, PLAN)
    assert code == 0, through
    own_store = config_dir(engine.tmp, "free-bar", free_port())
    code, direct = loader_on_a_terminal(own_store, PLAN, "-caches_address", "", "-scheduler_address", "")
    assert code == 0, direct
    for out in (through, direct):
        assert re.search(r"\r\[[#-]{30}\] +\d+\.\d% Timings\.csv +\d+ rows", out), out
    assert f"loading through the engine at 127.0.0.1:{engine.rpc_port}" in through


def test_flushdb_needs_the_store_to_itself(engine):
    done = loader(engine.cfg, PLAN, "-flushdb")
    assert done.returncode == 2
    assert "-flushdb needs the data_db store to itself" in done.stderr and "stop that engine" in done.stderr


# ---------------------------------------------------------------------------------------------------- reloads


class RecordingPeer:
    """A JSON-RPC peer that answers OK (or an error per method) and keeps every call it got."""

    def __init__(self, errors: dict[str, str] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.errors = errors or {}

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        decoder, buf = json.JSONDecoder(), ""
        while data := await reader.read(65536):
            buf += data.decode()
            while buf.strip():
                try:
                    msg, end = decoder.raw_decode(buf.lstrip())
                except ValueError:
                    break
                buf = buf.lstrip()[end:]
                self.calls.append((msg["method"], msg["params"][0]))
                error = self.errors.get(msg["method"])
                reply = {"id": msg["id"], "result": None if error else "OK", "error": error}
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        writer.close()


def rows_in(table: str) -> int:
    lines = (PLAN / f"{table}.csv").read_text().splitlines()
    return sum(1 for ln in lines if ln.strip() and not ln.startswith("#"))


def ids_in(table: str, column: int = 0) -> list[str]:
    """The IDs a CSV file of the plan defines."""
    lines = (PLAN / f"{table}.csv").read_text().splitlines()
    return sorted({ln.split(",")[column] for ln in lines if ln.strip() and not ln.startswith("#")})


async def run_loader(*argv: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(*LOADER, *argv, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE, cwd=REPO)
    out, err = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode() + err.decode()


async def load_with_peer(tmp: Path, peer: RecordingPeer, caching: str = "*reload",
                         folder: Path = PLAN, *extra: str) -> tuple[int, str]:
    server = await asyncio.start_server(peer.serve, "127.0.0.1", 0)
    address = f"127.0.0.1:{server.sockets[0].getsockname()[1]}"
    cfg = config_dir(tmp, "store", free_port(), general={"default_caching": caching})
    try:
        return await run_loader("-config_dir", str(cfg), "-path", str(folder), "-caches_address", address,
                                "-scheduler_address", address, *extra)
    finally:
        server.close()
        await server.wait_closed()


async def test_caches_and_scheduler_reload_as_cgrates_does(tmp_path):
    peer = RecordingPeer()
    code, out = await load_with_peer(tmp_path, peer)
    assert code == 0, out
    methods = [m for m, _ in peer.calls]
    assert methods == ["CacheSv1.ReloadCache", "CacheSv1.Clear", "SchedulerSv1.Reload"]
    reload_args = peer.calls[0][1]
    assert reload_args["DestinationIDs"] == ids_in("Destinations") and reload_args["TimingIDs"] == ids_in("Timings")
    assert reload_args["RatingPlanIDs"] == ids_in("RatingPlans")
    assert reload_args["ChargerProfileIDs"] == ["cgrates.org:CRG_DEFAULT"]
    assert reload_args["ActionPlanIDs"] == ["*any"]
    assert peer.calls[1][1]["CacheIDs"] == ["*charger_filter_indexes"]  # profiles loaded: their indexes cleared


@pytest.mark.parametrize(("caching", "method"), [("*load", "CacheSv1.LoadCache"),
                                                 ("*remove", "CacheSv1.RemoveItems"), ("*clear", "CacheSv1.Clear")])
async def test_the_cache_method_follows_default_caching(tmp_path, caching, method):
    peer = RecordingPeer()
    code, out = await load_with_peer(tmp_path, peer, caching)
    assert code == 0, out
    assert peer.calls[0][0] == method
    assert ("DestinationIDs" in peer.calls[0][1]) == (caching != "*clear")


async def test_no_cache_call_with_none_or_an_empty_address(tmp_path):
    peer = RecordingPeer()
    code, out = await load_with_peer(tmp_path / "none", peer, "*none")
    assert code == 0, out
    assert [m for m, _ in peer.calls] == ["SchedulerSv1.Reload"]
    cfg = config_dir(tmp_path, "empty", free_port())
    code, out = await run_loader("-config_dir", str(cfg), "-path", str(PLAN), "-caches_address", "",
                                 "-scheduler_address", "")
    assert code == 0 and "caches" not in out, out


async def test_reload_failures(tmp_path):
    # an engine that refuses the reload: an error, as CGRateS's "Could not reload cache"
    peer = RecordingPeer({"CacheSv1.ReloadCache": "SERVER_ERROR: busy", "SchedulerSv1.Reload": "NOT_FOUND"})
    code, out = await load_with_peer(tmp_path / "refused", peer)
    assert code == 1 and "could not reload the caches at 127.0.0.1:" in out and "SERVER_ERROR: busy" in out
    # the scheduler's refusal is a warning only
    peer = RecordingPeer({"SchedulerSv1.Reload": "rpc: can't find service SchedulerSv1.Reload"})
    code, out = await load_with_peer(tmp_path / "scheduler", peer)
    assert code == 0 and "warning: reloading the scheduler at 127.0.0.1:" in out
    # nothing listens on the default *localhost: nothing serves this store now, a note
    cfg = config_dir(tmp_path, "alone", free_port())
    code, out = await run_loader("-config_dir", str(cfg), "-path", str(PLAN))
    assert code == 0 and "note: caches not reloaded at 127.0.0.1:" in out, out
    assert "Traceback" not in out and sys.executable not in out
