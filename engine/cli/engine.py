"""cgr-engine: start the services the configuration enables.

A start that fails prints one line on stderr, ``cgr-engine: configuration error: ...`` (exit status 2) or
``cgr-engine: cannot start: ...`` (exit status 1), naming the problem and its fix; never a traceback.
``-check_config`` runs the same checks and lists every problem found, one per line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from pycgrates.engine import VERSION_NAME

log = logging.getLogger("cgr.engine")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cgr-engine", description="pycgrates real-time charging engine")
    p.add_argument("-config_dir", "--config_dir", default=None,
                   help="configuration directory (all *.json under it are merged); default: built-in defaults")
    p.add_argument("-version", "--version", action="store_true", help="print the version and exit")
    p.add_argument("-pid", "--pid", default="", help="write the process id to this file")
    p.add_argument("-log_level", "--log_level", type=int, default=None, help="override general.log_level (0-7)")
    p.add_argument("-node_id", "--node_id", default="", help="override general.node_id")
    p.add_argument("-print_config", "--print_config", action="store_true",
                   help="print the merged configuration as JSON and exit")
    p.add_argument("-load_tp", "--load_tp", default="",
                   help="tariff-plan folder to load (APIerSv1.LoadTariffPlanFromFolder) once the services are up")
    p.add_argument("-check_config", "--check_config", action="store_true",
                   help="check the configuration as start would (every problem, one per line) and exit")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.version:
        print(VERSION_NAME)
        return 0
    from pycgrates.engine.config import ConfigError, load_config
    from pycgrates.engine.log import setup_logging

    try:
        cfg = load_config(args.config_dir)
    except ConfigError as exc:
        return _fail(f"configuration error: {exc}", 2)
    if args.node_id:
        cfg.data.setdefault("general", {})["node_id"] = args.node_id
    if args.print_config:
        print(json.dumps(cfg.data, indent=2, default=str))
        return 0
    if args.check_config:
        setup_logging(4)  # what building the services warns about, formatted as the engine logs it
        return _check(cfg)
    level = args.log_level if args.log_level is not None else int(cfg.get("general", "log_level", default=6))
    setup_logging(level)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    try:
        return asyncio.run(_serve(cfg, args.pid, args.load_tp))
    except KeyboardInterrupt:
        return 0


def _fail(message: str, status: int) -> int:
    print(f"cgr-engine: {' '.join(message.split())}", file=sys.stderr)
    return status


def _refusal(exc: BaseException, *, every: bool = False) -> int:
    """Print why the engine cannot start (one line; with ``every``, one line per configuration problem)."""
    from pycgrates.engine.app import StartupError
    from pycgrates.engine.config import ConfigError
    from pycgrates.engine.config.checks import ConfigProblems

    if isinstance(exc, ConfigProblems):
        if every:
            for problem in exc.problems:
                _fail(f"configuration error: {problem}", 2)
            return 2
        more = len(exc.problems) - 1
        tail = f" (and {more} more: cgr-engine -check_config lists every problem)" if more else ""
        return _fail(f"configuration error: {exc.problems[0]}{tail}", 2)
    if isinstance(exc, ConfigError):
        return _fail(f"configuration error: {exc}", 2)
    if isinstance(exc, StartupError):
        return _fail(f"cannot start: {exc}", 1)
    log.debug("start-up failed", exc_info=(type(exc), exc, exc.__traceback__))
    return _fail(f"cannot start: unexpected {type(exc).__name__}: {exc} (a bug: please report it; "
                 "-log_level 7 logs where it happened)", 1)


def _check(cfg: Any) -> int:
    from pycgrates.engine.app import Engine

    for w in cfg.warnings:
        print(f"warning: {w}", file=sys.stderr)
    try:
        asyncio.run(Engine(cfg).check())
    except Exception as exc:
        return _refusal(exc, every=True)
    print("configuration OK")
    return 0


async def _serve(cfg: Any, pid_file: str, load_tp: str = "") -> int:
    from pycgrates.engine.app import Engine

    engine = Engine(cfg)
    try:
        await engine.start()
    except Exception as exc:  # start stopped whatever it had started
        return _refusal(exc)
    if load_tp:
        from pycgrates.engine.rpc.errors import RPCError

        try:
            await engine.dispatcher.registry.dispatch(
                "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(Path(load_tp).resolve())}
            )
            log.info("tariff plan %s loaded", load_tp)
        except RPCError as exc:
            await engine.stop()
            return _fail(f"cannot load tariff plan {load_tp}: {exc}", 1)
    if pid_file:
        Path(pid_file).write_text(f"{os.getpid()}\n")
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    engine.request_stop = stop_requested.set  # type: ignore[attr-defined]  # Responder.Shutdown
    loop.add_signal_handler(signal.SIGTERM, stop_requested.set)
    loop.add_signal_handler(signal.SIGINT, stop_requested.set)
    loop.add_signal_handler(signal.SIGHUP, engine.request_reload)
    await stop_requested.wait()
    log.info("shutdown requested; draining")
    await engine.stop()
    if pid_file:
        Path(pid_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
