"""Start a real cgr-engine process for integration tests and talk to it over the wire."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from pycgrates.engine.cli import command

ENGINE = command("engine")

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class EngineProcess:
    """A cgr-engine subprocess on a config dir; stderr goes to a file the test can read."""

    def __init__(self, config_dir: Path, rpc_port: int, log_path: Path, extra_args: list[str] | None = None) -> None:
        self.config_dir = config_dir
        self.rpc_port = rpc_port
        self.log_path = log_path
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30.0) -> EngineProcess:
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [*ENGINE, "-config_dir", str(self.config_dir), *self.extra_args],
            stdout=self._log, stderr=self._log, cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cgr-engine exited with {self.proc.returncode}:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.rpc_port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"cgr-engine did not listen on {self.rpc_port} in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """kill -9: no chance to flush or close anything."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout)
        return self.proc.returncode

    def call(self, method: str, arg: Any, timeout: float = 10.0) -> Any:
        return call(self.rpc_port, method, arg, timeout)


def call(port: int, method: str, arg: Any, timeout: float = 10.0) -> Any:
    """One JSON-RPC call over a fresh TCP connection; raises RuntimeError with the server's error string."""
    [reply] = pipeline(port, [(method, arg)], timeout)
    if reply["error"] is not None:
        raise RuntimeError(reply["error"])
    return reply["result"]


def pipeline(port: int, calls: list[tuple[str, Any]], timeout: float = 30.0) -> list[dict]:
    """Send many requests on one connection without waiting, then read every reply (ordered by request)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        payload = b"".join(
            json.dumps({"method": m, "params": [a], "id": i}).encode() + b"\n" for i, (m, a) in enumerate(calls)
        )
        s.sendall(payload)
        replies: dict[int, dict] = {}
        buf = b""
        while len(replies) < len(calls):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.strip():
                    msg = json.loads(line)
                    replies[msg["id"]] = msg
    return [replies[i] for i in sorted(replies)]


def make_config_dir(tmp: Path, *sources: Path, overrides: dict | None = None) -> Path:
    """Copy config dirs (unmodified) into tmp and add an override file that sorts last."""
    cfg = tmp / "etc"
    cfg.mkdir(parents=True, exist_ok=True)
    for i, src in enumerate(sources):
        shutil.copytree(src, cfg / f"{i:02d}_{src.name}", dirs_exist_ok=True)
    if overrides:
        (cfg / "zz_test_overrides.json").write_text(json.dumps(overrides, indent=1))
    return cfg


def without_unavailable_services(*sources: Path) -> dict:
    """Overrides switching off what these config dirs enable but this build has no service for (ResourceS, ...):
    cgr-engine refuses to start with such a section enabled."""
    from pycgrates.engine.config import load_config
    from pycgrates.engine.services import unavailable_sections

    off: dict = {}
    for src in sources:
        for spec in unavailable_sections(load_config(src)):
            off[spec.section] = [] if spec.section == "http_agent" else {"enabled": False}
    return off


def storage_overrides(tmp: Path, rpc_port: int, http_port: int | None = None, birpc: str = "") -> dict:
    return {
        "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": f"127.0.0.1:{http_port}" if http_port else "",
                   "birpc_json": birpc, "rpc_json_tls": "", "http_tls": ""},
        "data_db": {"opts": {"internalDBDumpPath": str(tmp / "datadb")}},
        "stor_db": {"opts": {"internalDBDumpPath": str(tmp / "stordb")}},
    }
