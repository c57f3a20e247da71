"""cgr-engine: start the services the configuration enables."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import signal
import sys
from pathlib import Path

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
                   help="load and validate the configuration, print warnings, and exit")
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
        print(f"cgr-engine: configuration error: {exc}", file=sys.stderr)
        return 2
    if args.node_id:
        cfg.data.setdefault("general", {})["node_id"] = args.node_id
    if args.print_config:
        print(json.dumps(cfg.data, indent=2, default=str))
        return 0
    if args.check_config:
        for w in cfg.warnings:
            print(f"warning: {w}", file=sys.stderr)
        print("configuration OK")
        return 0
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


async def _serve(cfg, pid_file: str, load_tp: str = "") -> int:
    from pycgrates.engine.app import Engine
    from pycgrates.engine.storage.base import StorageError

    engine = Engine(cfg)
    try:
        await engine.start()
    except (StorageError, OSError, ValueError) as exc:
        log.error("cannot start: %s", exc)
        await engine.stop()
        return 1
    if load_tp:
        from pycgrates.engine.rpc.errors import RPCError

        try:
            await engine.dispatcher.registry.dispatch(
                "APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": str(Path(load_tp).resolve())}
            )
            log.info("tariff plan %s loaded", load_tp)
        except RPCError as exc:
            log.error("cannot load tariff plan %s: %s", load_tp, exc)
            await engine.stop()
            return 1
    if pid_file:
        Path(pid_file).write_text(f"{os.getpid()}\n")
    loop = asyncio.get_running_loop()
    stop_requested = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop_requested.set)
    loop.add_signal_handler(signal.SIGINT, stop_requested.set)

    def _reload() -> None:
        async def run() -> None:
            try:
                await engine.reload()
            except Exception as exc:  # a bad config file must not stop a running engine
                log.error("configuration reload failed, keeping the running configuration: %s", exc)

        task = loop.create_task(run())
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    reloads: set[asyncio.Task] = set()
    loop.add_signal_handler(signal.SIGHUP, _reload)
    await stop_requested.wait()
    log.info("shutdown requested; draining")
    await engine.stop()
    if pid_file:
        Path(pid_file).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
