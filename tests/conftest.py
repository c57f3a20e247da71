"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
IN_CI = os.environ.get("CI", "").lower() == "true"


def reference_config_dirs() -> list[str]:
    """Every config_dir of ../shared/data/conf/samples, relative to it: a folder holding *.json files itself
    (``tutinternal``, ``dispatchers/all``, ...)."""
    root = SHARED_DATA / "conf" / "samples"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_dir() and any(p.glob("*.json")))


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data; skips the test when absent, fails it under CI=true."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        msg = f"reference data {path} is absent"
        if IN_CI:
            pytest.fail(msg + " (required under CI=true)")
        pytest.skip(msg)
    return path


def require_binary(name: str) -> str:
    """The path of an external program (radclient, sipp, ...); skip when absent, fail under CI=true."""
    path = shutil.which(name)
    if path is None:
        msg = f"{name} is not installed"
        if IN_CI:
            pytest.fail(msg + " (.ci/run installs it)")
        pytest.skip(msg)
    return path


def require_service(host: str, port: int, what: str) -> None:
    """Skip (or fail under CI=true) when a backend server is not listening."""
    import socket

    try:
        with socket.create_connection((host, port), timeout=1):
            return
    except OSError:
        msg = f"{what} is not reachable on {host}:{port}"
        if IN_CI:
            pytest.fail(msg)
        pytest.skip(msg)
