"""cgr-loader: load a CGRateS tariff plan folder into the DataDB of a configuration.

    cgr-loader -config_dir /etc/cgrates -path /usr/share/cgrates/tariffplans/tutorial [-dry_run] [-verbose]
               [-flushdb] [-flush_stordb] [-to_stordb -tpid ID] [-caches_address 127.0.0.1:2012]

Errors name the file, line and column (CSV field number) and exit with status 1. ``-caches_address`` asks the
running engine (JSON-RPC, ``*localhost`` = this config's ``listen.rpc_json``) to reload the loaded IDs from
DataDB with ``CacheSv1.ReloadCache``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

#: Above this many IDs the whole cache partition is reloaded instead.
MAX_RELOAD_IDS = 10_000
ACCOUNTING_RELOADS = ("ActionIDs", "ActionPlanIDs", "AccountActionPlanIDs", "ActionTriggerIDs", "SharedGroupIDs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cgr-loader", description="Load a CGRateS tariff plan (CSV folder) into DataDB")
    p.add_argument("-config_dir", "--config_dir", default=None, help="engine configuration directory")
    p.add_argument("-path", "--path", default="./", help="tariff plan folder (the CSV files)")
    p.add_argument("-dry_run", "--dry_run", action="store_true", help="read and check everything, write nothing")
    p.add_argument("-verbose", "--verbose", action="store_true", help="print what was loaded")
    p.add_argument("-flushdb", "--flushdb", action="store_true", help="empty the DataDB before loading")
    p.add_argument("-to_stordb", "--to_stordb", action="store_true", help="also keep the plan in StorDB under -tpid")
    p.add_argument("-flush_stordb", "--flush_stordb", action="store_true", help="drop the -tpid plan from StorDB first")
    p.add_argument("-tpid", "--tpid", default="", help="tariff plan ID in StorDB")
    p.add_argument("-timezone", "--timezone", default=None, help="timezone of times without one (default: config)")
    p.add_argument(
        "-caches_address",
        "--caches_address",
        default="",
        help="engine to reload caches on after the load (host:port or *localhost); empty: none",
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


async def run(args: argparse.Namespace, out: Any = None, err: Any = None) -> int:
    from pycgrates.engine.config import ConfigError, load_config
    from pycgrates.engine.loader.rows import LoaderError, read_rows
    from pycgrates.engine.loader.service import ProgressBar, count_rows
    from pycgrates.engine.loader.specs import SPECS
    from pycgrates.engine.loader.tariffplan import load_tariff_plan
    from pycgrates.engine.storage import StorageError, open_datadb, open_stordb
    from pycgrates.engine.storage.cache import Cache
    from pycgrates.engine.storage.datamanager import DataManager

    out = out or sys.stdout
    err = err or sys.stderr
    try:
        cfg = load_config(args.config_dir)
    except ConfigError as exc:
        print(f"cgr-loader: configuration error: {exc}", file=err)
        return 2
    tz = args.timezone or cfg.get("general", "default_timezone", default="UTC") or "UTC"
    folder = Path(args.path)
    if not folder.is_dir():
        print(f"cgr-loader: {folder}: not a directory (give the tariff plan folder with -path)", file=err)
        return 2
    try:
        datadb = await open_datadb(cfg.section("data_db"))
    except StorageError as exc:
        print(f"cgr-loader: data_db: {exc}", file=err)
        return 2
    bar = ProgressBar(err, total=count_rows(folder) if getattr(err, "isatty", lambda: False)() else 0)
    try:
        dm = DataManager(datadb, Cache.from_config(cfg.section("caches")))
        if args.flushdb and not args.dry_run:
            await datadb.flush()
        try:
            result = await load_tariff_plan(dm, folder, dry_run=args.dry_run, timezone=tz, progress=bar)
        except LoaderError as exc:
            bar.done()
            print(f"cgr-loader: {exc}", file=err)
            return 1
        bar.done()
        if (args.to_stordb or args.flush_stordb) and not args.dry_run:
            stordb = await open_stordb(cfg.section("stor_db"))
            try:
                if args.flush_stordb:
                    await stordb.remove_tp(args.tpid)
                if args.to_stordb:
                    for csv_file in sorted(folder.glob("*.csv")):
                        table = csv_file.stem
                        spec = SPECS.get(table)
                        rows = [
                            r.as_dict(spec.columns) if spec else {"fields": r.fields, "_line": r.line}
                            for r in read_rows(csv_file, spec)
                        ]
                        await stordb.set_tp(args.tpid, table, rows)
            finally:
                await stordb.close()
        for w in result.warnings:
            print(f"warning: {w}", file=err)
        if args.verbose or args.dry_run:
            verb = "would load" if args.dry_run else "loaded"
            for table, count in result.counts.items():
                if count:
                    print(f"{verb} {table}: {count}", file=out)
        if args.caches_address and not args.dry_run:
            reply = await reload_caches(args.caches_address, cfg, result.ids, accounting="Actions" in result.counts)
            if args.verbose:
                print(f"CacheSv1.ReloadCache: {reply}", file=out)
        return 0
    except OSError as exc:
        print(f"cgr-loader: {exc}", file=err)
        return 1
    finally:
        await datadb.close()


async def reload_caches(address: str, cfg: Any, ids: dict[str, list[str]], *, accounting: bool) -> Any:
    """Ask the engine at ``address`` to reload what was loaded (CacheSv1.ReloadCache)."""
    from pycgrates.engine.rpc.client import RPCClient

    if address == "*localhost":
        host, _, port = str(cfg.get("listen", "rpc_json", default="127.0.0.1:2012")).rpartition(":")
        address = f"{'127.0.0.1' if host in ('', '0.0.0.0', '::') else host}:{port}"
    args: dict[str, Any] = {"APIOpts": {}}
    for name, values in ids.items():
        if values:
            args[name] = ["*any"] if len(values) > MAX_RELOAD_IDS else list(values)
    if accounting:
        for name in ACCOUNTING_RELOADS:
            args[name] = ["*any"]
    client = RPCClient(address, reconnects=0)
    try:
        return await client.call("CacheSv1.ReloadCache", args)
    finally:
        await client.close()


if __name__ == "__main__":
    sys.exit(main())
