"""The wheel works outside the repository.

The wheel is built from a copy of the source tree (setuptools keeps a ``build/`` folder next to the sources, and a
stale one would ship files the tree no longer has), its RECORD is read, and it is installed with plain ``pip
install`` into a fresh virtualenv under a temporary folder. From another working directory, cgr-engine runs on a
copy of a shipped sample config (taken from the installed package) with the tutorial tariff plan that sample is
made for; only the listener ports change, through an extra override file in the copied folder. python-diameter
(the tutorial's Gy client) and radclient (Debian freeradius-utils) are the independent peers.

Outside CI (CI=true), a machine where pip cannot build or install (no index, no cache) skips these tests.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from importlib.util import find_spec
from pathlib import Path

import pytest

from tests.conftest import IN_CI, REPO, require_binary
from tests.engine_proc import call, free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

#: what setuptools and the tools leave in a checkout; none of it belongs in a build
NOT_SOURCES = shutil.ignore_patterns(".git", ".venv", "var", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
                                     ".pytest_cache", ".ruff_cache", ".hypothesis")
#: the shipped data folders, installed under pycgrates/ as they are in the repository
DATA_FOLDERS = ("dictionaries", "templates", "config/samples")
PIP_TIMEOUT = 240
SECRET = "bngsecret"


def unavailable(msg: str) -> None:
    """Skip; under CI=true, fail (.ci/run provides what is needed)."""
    if IN_CI:
        pytest.fail(msg + " (required under CI=true)")
    pytest.skip(msg)


def clean_env() -> dict[str, str]:
    """The environment of a shell that has no venv activated and no repository on its path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def pip(*args: str, python: str = sys.executable) -> None:
    try:
        proc = subprocess.run([python, "-m", "pip", *args], capture_output=True, text=True, timeout=PIP_TIMEOUT,
                              env=clean_env())
    except subprocess.TimeoutExpired:
        unavailable(f"pip {args[0]} did not finish in {PIP_TIMEOUT}s")
    if proc.returncode != 0:
        unavailable(f"pip {args[0]} failed (no package index or cache?):\n{proc.stderr[-2000:]}")


@dataclass
class Install:
    wheel: Path
    venv: Path
    run_dir: Path  # the working directory of everything started from the install: outside the repository

    def tool(self, name: str) -> str:
        return str(self.venv / "bin" / name)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    src = tmp / "src"
    shutil.copytree(REPO, src, ignore=NOT_SOURCES)
    pip("wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src))
    [built] = (tmp / "dist").glob("pycgrates-*.whl")
    return built


@pytest.fixture(scope="module")
def install(wheel, tmp_path_factory) -> Install:
    tmp = tmp_path_factory.mktemp("install")
    venv = tmp / "venv"
    proc = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True, text=True, timeout=120,
                          env=clean_env())
    if proc.returncode != 0:
        unavailable(f"python -m venv failed (Debian: apt-get install python3-venv):\n{proc.stderr[-2000:]}")
    pip("install", "-q", str(wheel), python=str(venv / "bin" / "python"))
    run_dir = tmp / "run"
    run_dir.mkdir()
    return Install(wheel, venv, run_dir)


def wheel_files(wheel: Path) -> list[str]:
    """The paths the wheel's RECORD lists (what pip installs and uninstalls)."""
    with zipfile.ZipFile(wheel) as zf:
        [record] = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
        return [row[0] for row in csv.reader(io.StringIO(zf.read(record).decode())) if row]


def test_the_wheel_installs_one_import_package_with_its_data(wheel):
    files = wheel_files(wheel)
    top_level = {f.split("/")[0] for f in files if not f.split("/")[0].endswith(".dist-info")}
    assert top_level == {"pycgrates"}
    assert "pycgrates/engine/config/defaults.json" in files
    assert "pycgrates/engine/cli/engine.py" in files and "pycgrates/agents/diameter/agent.py" in files
    for folder in DATA_FOLDERS:
        shipped = {f"pycgrates/{p.relative_to(REPO).as_posix()}" for p in (REPO / folder).rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"}
        assert shipped, folder
        assert shipped <= set(files), f"{folder}: not in the wheel: {sorted(shipped - set(files))}"
    with zipfile.ZipFile(wheel) as zf:
        [entry_points] = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        scripts = zf.read(entry_points).decode()
    for tool in ("cgr-engine", "cgr-loader", "cgr-console", "cgr-tester"):
        assert f"{tool} = pycgrates.engine.cli." in scripts


def test_the_wheel_ships_the_web_console_assets(wheel):
    """The console's pages and vendored scripts are package data: no build step, no CDN."""
    static = REPO / "engine" / "web" / "static"
    shipped = {f"pycgrates/engine/web/static/{p.relative_to(static).as_posix()}" for p in static.rglob("*")
               if p.is_file()}
    assert "pycgrates/engine/web/static/vendor/uPlot.iife.min.js" in shipped
    missing = shipped - set(wheel_files(wheel))
    assert not missing, f"not in the wheel: {sorted(missing)}"


def test_the_installed_package_is_the_one_imported(install):
    """From outside the repository, pycgrates comes from the venv's site-packages, shipped data included."""
    probe = ("import json, pycgrates.engine, pycgrates.agents.diameter\n"
             "from pycgrates.engine.shipped import shipped_path\n"
             "print(json.dumps([pycgrates.engine.__file__, str(shipped_path('config/samples'))]))")
    out = subprocess.run([install.tool("python"), "-c", probe], cwd=install.run_dir, env=clean_env(),
                         capture_output=True, text=True, timeout=60, check=True).stdout
    engine_init, samples = (Path(p).resolve() for p in json.loads(out))
    site = (install.venv / "lib").resolve()
    assert engine_init.is_relative_to(site) and samples.is_relative_to(site)
    assert {p.name for p in samples.iterdir()} >= {"diameter_gy", "radius_bng"}
    version = subprocess.run([install.tool("cgr-engine"), "-version"], cwd=install.run_dir, env=clean_env(),
                             capture_output=True, text=True, timeout=60, check=True).stdout
    assert version.startswith("pycgrates v")


class Engine:
    """cgr-engine of the install, started as an operator would: from a working directory of its own, with a pid
    file written once the tariff plan is loaded."""

    def __init__(self, install: Install, sample: str, overrides: dict, tariffplan: str) -> None:
        self.install = install
        tmp = install.run_dir
        samples = install.venv.glob("lib/python3*/site-packages/pycgrates/config/samples")
        [shipped] = [p / sample for p in samples]
        self.config_dir = tmp / f"{sample}_config"
        shutil.copytree(shipped, self.config_dir)
        (self.config_dir / "zz_ports.json").write_text(json.dumps(overrides, indent=1))
        self.tariffplan = tmp / f"{sample}_tariffplan"
        shutil.copytree(REPO / "tutorials" / tariffplan / "tariffplan", self.tariffplan)
        self.pid_file = tmp / f"{sample}.pid"
        self.log_path = tmp / f"{sample}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> Engine:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [self.install.tool("cgr-engine"), "-config_dir", str(self.config_dir), "-load_tp",
                 str(self.tariffplan), "-pid", str(self.pid_file)],
                cwd=self.install.run_dir, env=clean_env(), stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while not (self.pid_file.exists() and self.pid_file.read_text().strip()):
            if self.proc.poll() is not None:
                raise AssertionError(f"cgr-engine exited with {self.proc.returncode}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"cgr-engine wrote no pid file in {timeout}s:\n{self.log()}")
            time.sleep(0.1)
        assert int(self.pid_file.read_text()) == self.proc.pid
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        """SIGTERM to the pid in the pid file, as the README's stop command sends it."""
        assert self.proc is not None
        if self.proc.poll() is None:
            os.kill(int(self.pid_file.read_text()), signal.SIGTERM)
            self.proc.wait(20)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def listen_overrides() -> tuple[dict, int]:
    rpc = free_port()
    return {"listen": {"rpc_json": f"127.0.0.1:{rpc}", "http": f"127.0.0.1:{free_port()}",
                       "birpc_json": f"127.0.0.1:{free_port()}"}}, rpc


def test_diameter_gy_sample_answers_a_ccr(install):
    """config/samples/diameter_gy with the Diameter tutorial's tariff plan: a call's CCR-I/T from the tutorial's
    python-diameter client gets Result-Code 2001 and a rated CDR."""
    if find_spec("diameter") is None:
        unavailable("python-diameter is not installed (pip install python-diameter)")
    overrides, rpc = listen_overrides()
    diameter_port = free_port()
    overrides["diameter_agent"] = {"listeners": [{"address": f"127.0.0.1:{diameter_port}", "network": "tcp"}]}
    engine = Engine(install, "diameter_gy", overrides, "diameter").start()
    try:
        client = subprocess.run(
            [sys.executable, str(REPO / "tutorials" / "diameter" / "gy_client.py"), "voice", "--port",
             str(diameter_port), "--used", "60"],
            cwd=install.run_dir, capture_output=True, text=True, timeout=60)
        assert client.returncode == 0, client.stdout + client.stderr + engine.log()
        assert client.stdout.splitlines() == ["CCR-I #0 -> Result-Code 2001 (SUCCESS), granted 300 s",
                                              "CCR-T #1 -> Result-Code 2001 (SUCCESS)"], client.stderr
        [cdr] = call(rpc, "CDRsV1.GetCDRs", {"Accounts": ["491701234567"]})
        assert (cdr["Usage"], cdr["Cost"], cdr["OriginHost"]) == (60 * 10**9, 0.06, "pcef.example.net")
        assert engine.stop() == 0
        assert not engine.pid_file.exists()
    finally:
        engine.kill()
    # the sample's relative data paths are relative to the working directory
    assert (install.run_dir / "var" / "diameter_gy" / "datadb").is_dir()


def radclient(command: str, port: int, packet: str) -> str:
    attrs = (REPO / "tutorials" / "radius" / "radclient" / packet).read_text()
    proc = subprocess.run([require_binary("radclient"), "-x", "-r", "2", "-t", "2", f"127.0.0.1:{port}", command,
                           SECRET], input=attrs, capture_output=True, text=True, timeout=30)
    return proc.stdout + proc.stderr


def test_radius_bng_sample_answers_accounting(install):
    """config/samples/radius_bng with the RADIUS tutorial's tariff plan: radclient's Access-Request is accepted,
    its accounting Start and Stop get Accounting-Responses, and the session's CDR is rated."""
    require_binary("radclient")
    overrides, rpc = listen_overrides()
    auth, acct = free_port(), free_port()
    overrides["radius_agent"] = {"listeners": [{"network": "udp", "auth_address": f"127.0.0.1:{auth}",
                                                "acct_address": f"127.0.0.1:{acct}"}]}
    engine = Engine(install, "radius_bng", overrides, "radius").start()
    try:
        out = radclient("auth", auth, "auth_pap.txt")
        assert "Received Access-Accept" in out and "Session-Timeout = 30000" in out, out + engine.log()
        for packet in ("acct_start.txt", "acct_stop.txt"):
            out = radclient("acct", acct, packet)
            assert "Received Accounting-Response" in out, out + engine.log()
        [cdr] = call(rpc, "CDRsV1.GetCDRs", {"Accounts": ["alice"]})
        assert (cdr["Usage"], cdr["Cost"], cdr["OriginID"]) == (1800 * 10**9, 0.3, "pppoe-0001")
        assert engine.stop() == 0
    finally:
        engine.kill()
