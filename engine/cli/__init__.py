"""The command line tools: cgr-engine, cgr-loader, cgr-console, cgr-tester."""

from __future__ import annotations

import sys

TOOLS = ("engine", "loader", "console", "tester")


def command(tool: str) -> list[str]:
    """The argv prefix that runs ``tool`` with this interpreter (``cgr-<tool>`` without relying on PATH)."""
    if tool not in TOOLS:
        raise ValueError(f"unknown tool {tool!r} (one of {', '.join(TOOLS)})")
    return [sys.executable, "-m", f"pycgrates.engine.cli.{tool}"]
