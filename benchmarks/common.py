"""Shared by the benchmark scripts: free ports, starting an engine or a server as a subprocess, tester runs."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from pycgrates.engine.cli import command

ENGINE = command("engine")
CONSOLE = command("console")

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(port: int, method: str, arg: object) -> object:
    """One JSON-RPC call on a fresh TCP connection to 127.0.0.1:port; raises RuntimeError with the server's error."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(json.dumps({"method": method, "params": [arg], "id": 1}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    reply = json.loads(buf)
    if reply.get("error"):
        raise RuntimeError(f"{method}: {reply['error']}")
    return reply["result"]


def wait_port(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


@contextmanager
def process(cmd: list[str], port: int, env: dict | None = None):
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    try:
        wait_port(port)
        yield proc
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@contextmanager
def engine(extra_config: dict | None = None, tariffplan: Path | None = None, durable: bool = False):
    """A cgr-engine on free ports (storage memory-only unless ``durable``); yields its JSON-RPC address."""
    rpc_port, http_port = free_port(), free_port()
    with tempfile.TemporaryDirectory() as d:
        cfg = {
            "general": {"log_level": 3},
            "listen": {"rpc_json": f"127.0.0.1:{rpc_port}", "http": f"127.0.0.1:{http_port}", "birpc_json": ""},
            "data_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/datadb" if durable else ""}},
            "stor_db": {"db_type": "*internal", "opts": {"internalDBDumpPath": f"{d}/stordb" if durable else ""}},
        }
        for section, values in (extra_config or {}).items():
            cfg.setdefault(section, {}).update(values)
        Path(d, "cgrates.json").write_text(json.dumps(cfg))
        with process([*ENGINE, "-config_dir", d], rpc_port) as proc:
            if tariffplan is not None:
                subprocess.run([*CONSOLE, "-server", f"127.0.0.1:{rpc_port}",
                                "load_tp_from_folder", f'FolderPath="{tariffplan}"'], check=True,
                               stdout=subprocess.DEVNULL)
            yield f"127.0.0.1:{rpc_port}", proc


def tester(server: str, method: str, params: str = "{}", runs: int = 20000, parallel: int = 8, inflight: int = 8,
           procs: int = 1, cps: float = 0, cycle: str = "") -> dict:
    from pycgrates.engine.cli.tester import build_parser, run_load

    args = build_parser().parse_args([
        "-server", server, "-method", method, "-params", params, "-runs", str(runs), "-parallel", str(parallel),
        "-inflight", str(inflight), "-procs", str(procs), "-cps", str(cps), "-cycle", cycle,
    ])
    return run_load(args)


def write_section(title: str, body: str) -> None:
    """Replace (or append) the '## title' section of docs/performance.md."""
    path = REPO / "docs" / "performance.md"
    text = path.read_text() if path.exists() else "# Performance\n\nFigures measured on this project's machines.\n"
    block = f"## {title}\n\n{body.rstrip()}\n\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block
    path.write_text(text.rstrip() + "\n")


def cpu_seconds(pid: int) -> float:
    """User+system CPU seconds a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, run) -> dict:
    """Run a tester call and add the server's CPU microseconds per successful request."""
    before = cpu_seconds(pid)
    summary = run()
    used = cpu_seconds(pid) - before
    summary["server_cpu_us_per_req"] = round(used / max(1, summary["ok"]) * 1e6, 1)
    return summary


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, {time.strftime('%Y-%m-%d')}"


def base_args(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--runs", type=int, default=50000)
    p.add_argument("--write", action="store_true", help="write the figures into docs/performance.md")
    return p
