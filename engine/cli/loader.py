"""cgr-loader: load a CGRateS tariff plan folder into the DataDB of a configuration.

    cgr-loader -config_dir /etc/cgrates -path /usr/share/cgrates/tariffplans/tutorial [-dry_run] [-verbose]
               [-flushdb] [-flush_stordb] [-to_stordb -tpid ID] [-caches_address *localhost|host:port|CONN_ID]
               [-scheduler_address *localhost|host:port|CONN_ID]

Errors name the file, line and column (CSV field number) and exit with status 1.

The embedded store (``*internal`` with a dump path) is kept by one process at a time. When a running engine holds
it, cgr-loader loads through that engine instead (``APIerSv1.LoadTariffPlanFromFolder`` on the config's
``listen.rpc_json``): it reads the folder itself first, with the same progress bar and the same line-precise errors,
then hands the folder to the engine, whose own errors print as a local load's would. The engine reloads its caches
itself then.

After a load into the store itself, caches are reloaded as CGRateS does: on ``-caches_address`` (default the
config's ``loader.caches_conns``, ``*localhost``; empty: none), with the method ``general.default_caching`` names
(``*reload`` CacheSv1.ReloadCache, ``*load`` CacheSv1.LoadCache, ``*remove`` CacheSv1.RemoveItems, ``*clear``
CacheSv1.Clear, ``*none`` nothing), the filter indexes of the loaded profile kinds cleared, and
``SchedulerSv1.Reload`` on ``-scheduler_address`` when action plans were loaded (a failure there is a warning, as in
CGRateS). Since no engine holds the store, nothing may listen on ``*localhost``: that is a note, not an error.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from pycgrates.engine.storage import cache

#: Above this many IDs the whole cache partition is reloaded instead.
MAX_RELOAD_IDS = 10_000
ACCOUNTING_RELOADS = ("ActionIDs", "ActionPlanIDs", "AccountActionPlanIDs", "ActionTriggerIDs", "SharedGroupIDs")
#: rating tables → the reload fields of what they hold
RATING_RELOADS = {"Destinations": ("DestinationIDs", "ReverseDestinationIDs"), "Timings": ("TimingIDs",),
                  "RatingPlans": ("RatingPlanIDs",), "RatingProfiles": ("RatingProfileIDs",)}
#: general.default_caching → the CacheSv1 method a load ends with (None: no cache call)
CACHING_METHODS = {"*reload": "CacheSv1.ReloadCache", "*load": "CacheSv1.LoadCache",
                   "*remove": "CacheSv1.RemoveItems", "*clear": "CacheSv1.Clear", "*none": None}
#: reload argument naming loaded profiles → the filter index partition cleared after reloading them (this engine's
#: partition names; CGRateS calls the stats one *stat_filter_indexes)
INDEX_PARTITIONS = {
    "AttributeProfileIDs": cache.ATTRIBUTE_FILTER_INDEXES, "RouteProfileIDs": cache.ROUTE_FILTER_INDEXES,
    "ThresholdProfileIDs": cache.THRESHOLD_FILTER_INDEXES, "StatsQueueProfileIDs": cache.STATQUEUE_FILTER_INDEXES,
    "ResourceProfileIDs": cache.RESOURCE_FILTER_INDEXES, "ChargerProfileIDs": cache.CHARGER_FILTER_INDEXES,
    "DispatcherProfileIDs": cache.DISPATCHER_FILTER_INDEXES, "FilterIDs": cache.REVERSE_FILTER_INDEXES,
}
_CONFIG_DEFAULT = "<config>"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="cgr-loader", description="Load a CGRateS tariff plan (CSV folder) into DataDB")
    p.add_argument("-config_dir", "--config_dir", "-config_path", "--config_path", dest="config_dir", default=None,
                   help="engine configuration directory")
    p.add_argument("-path", "--path", default="./", help="tariff plan folder (the CSV files)")
    p.add_argument("-dry_run", "--dry_run", action="store_true", help="read and check everything, write nothing")
    p.add_argument("-verbose", "--verbose", action="store_true", help="print what was loaded")
    p.add_argument("-flushdb", "--flushdb", action="store_true", help="empty the DataDB before loading")
    p.add_argument("-to_stordb", "--to_stordb", action="store_true", help="also keep the plan in StorDB under -tpid")
    p.add_argument("-flush_stordb", "--flush_stordb", action="store_true", help="drop the -tpid plan from StorDB first")
    p.add_argument("-tpid", "--tpid", default="", help="tariff plan ID in StorDB")
    p.add_argument("-timezone", "--timezone", default=None, help="timezone of times without one (default: config)")
    p.add_argument("-caches_address", "--caches_address", default=_CONFIG_DEFAULT,
                   help="CacheS to reload after the load: *localhost, host:port or an rpc_conns ID; empty: none "
                        "(default: the config's loader.caches_conns)")
    p.add_argument("-scheduler_address", "--scheduler_address", default=_CONFIG_DEFAULT,
                   help="SchedulerS to reload when action plans were loaded; empty: none "
                        "(default: the config's loader.scheduler_conns)")
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
        if held_by_another_process(exc):
            return await load_through_engine(args, cfg, folder, out, err)
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
            try:
                stordb = await open_stordb(cfg.section("stor_db"))
            except StorageError as exc:
                print(f"cgr-loader: stor_db: {exc}", file=err)
                return 2
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
        if args.dry_run:
            return 0
        caches = _flag_or_config(args.caches_address, cfg, "caches_conns")
        scheduler = _flag_or_config(args.scheduler_address, cfg, "scheduler_conns")
        return await reload_after_load(cfg, result.ids, caches, scheduler, accounting="Actions" in result.counts,
                                       action_plans=bool(result.counts.get("ActionPlans")), store_held=True,
                                       verbose=args.verbose, out=out, err=err)
    except OSError as exc:
        print(f"cgr-loader: {exc}", file=err)
        return 1
    finally:
        await datadb.close()


# ---------------------------------------------------------------------------------------------------- engines


def held_by_another_process(exc: BaseException) -> bool:
    """Whether opening the store failed because another process keeps it: its lock would block."""
    return isinstance(exc.__cause__, BlockingIOError)


def engine_address(name: str, cfg: Any) -> str:
    """``*localhost`` (this config's ``listen.rpc_json``), an ``rpc_conns`` ID (its first address) or host:port."""
    from pycgrates.engine.config.loader import parse_listen_address

    if name == "*localhost":
        listen = str(cfg.get("listen", "rpc_json", default="") or "")
        if not listen:
            return ""
        host, port = parse_listen_address(listen, option="listen.rpc_json")
        return f"{'127.0.0.1' if host in ('', '0.0.0.0', '::') else host}:{port}"
    conns = cfg.get("rpc_conns", name, "conns", default=None)
    if conns:
        return str(conns[0].get("address") or "")
    return name


def _flag_or_config(value: str, cfg: Any, option: str) -> str:
    if value != _CONFIG_DEFAULT:
        return value
    conns = cfg.get("loader", option, default=None) or []
    return str(conns[0]) if conns else ""


class _Engine:
    """One JSON-RPC connection to an engine, with the errors a user can act on."""

    def __init__(self, address: str) -> None:
        from pycgrates.engine.rpc.client import RPCClient

        self.address = address
        self.client = RPCClient(address, reconnects=0, reply_timeout=None)

    @property
    def reached(self) -> bool:
        return self.client.stream is not None

    async def call(self, method: str, arg: Any) -> Any:
        return await self.client.call(method, arg)

    async def close(self) -> None:
        await self.client.close()


async def load_through_engine(args: argparse.Namespace, cfg: Any, folder: Path, out: Any, err: Any) -> int:
    """The store is held by a running engine: read the folder here (progress bar, row errors), load it there."""
    from pycgrates.engine.loader.rows import LoaderError
    from pycgrates.engine.loader.service import ProgressBar, count_rows
    from pycgrates.engine.loader.specs import ACCOUNTING_TABLES
    from pycgrates.engine.loader.tariffplan import TariffPlan
    from pycgrates.engine.rpc.errors import RPCError

    address = engine_address("*localhost", cfg)
    if not address:
        print("cgr-loader: a running engine holds the data_db store and this config has no listen.rpc_json to "
              "reach it through: stop the engine, or enable listen.rpc_json", file=err)
        return 2
    if args.flushdb:
        print(f"cgr-loader: -flushdb needs the data_db store to itself; the engine at {address} holds it: stop "
              "that engine first", file=err)
        return 2
    if args.timezone:
        print(f"warning: -timezone {args.timezone} is ignored: the engine at {address} reads times in its own "
              "general.default_timezone", file=err)
    tz = cfg.get("general", "default_timezone", default="UTC") or "UTC"
    bar = ProgressBar(err, total=count_rows(folder) if getattr(err, "isatty", lambda: False)() else 0)
    try:
        TariffPlan.from_folder(folder, tz, bar)
    except LoaderError as exc:
        bar.done()
        print(f"cgr-loader: {exc}", file=err)
        return 1
    bar.done()
    engine = _Engine(address)
    path = str(folder.resolve())
    try:
        if bar.enabled:  # the rows are read; the engine now reads them again and stores them
            err.write(f"\rloading through the engine at {address} ...")
            err.flush()
        await engine.call("APIerSv1.LoadTariffPlanFromFolder", {"FolderPath": path, "DryRun": args.dry_run})
        if not args.dry_run:
            if args.flush_stordb:
                await engine.call("APIerSv1.RemTP", {"TPid": args.tpid})
            if args.to_stordb:
                await engine.call("APIerSv1.ImportTariffPlanFromFolder", {"TPid": args.tpid, "FolderPath": path})
    except RPCError as exc:
        bar.done()
        print(f"cgr-loader: {_engine_error(exc, engine, path)}", file=err)
        return 1
    finally:
        await engine.close()
    bar.done()
    if args.verbose or args.dry_run:
        verb = "would load" if args.dry_run else "loaded"
        print(f"{verb} through the engine at {address}:", file=out)
        for file, rows in bar.rows.items():
            print(f"  {file}: {rows} rows", file=out)
    if args.dry_run:
        return 0
    # the engine's load reloads its own caches and scheduler (as CGRateS's APIerSv1.LoadTariffPlanFromFolder
    # does); addresses given on the command line are reloaded as well
    caches = "" if args.caches_address == _CONFIG_DEFAULT else args.caches_address
    scheduler = "" if args.scheduler_address == _CONFIG_DEFAULT else args.scheduler_address
    tables = {Path(file).stem for file, rows in bar.rows.items() if rows}
    return await reload_after_load(cfg, partitions_of(tables), caches, scheduler,
                                   accounting=bool(tables & set(ACCOUNTING_TABLES)),
                                   action_plans="ActionPlans" in tables, store_held=False, verbose=args.verbose,
                                   out=out, err=err)


def partitions_of(tables: set[str]) -> dict[str, list[str]]:
    """The reload fields of the tables a load read, each to be reloaded whole (the engine knows the IDs)."""
    from pycgrates.engine.loader.specs import SPECS

    ids: dict[str, list[str]] = {}
    for table in tables:
        for name in (*RATING_RELOADS.get(table, ()), getattr(SPECS.get(table), "reload_ids", "")):
            if name:
                ids[name] = ["*any"]
    return ids


def _engine_error(exc: Any, engine: _Engine, folder: str) -> str:
    """An engine's answer as a local load would have printed it."""
    message = str(exc.message)
    if not engine.reached:
        return (f"a running engine holds the data_db store, but nothing answers at {engine.address} "
                "(listen.rpc_json): is it still starting?")
    if message == "INVALID_PATH":
        return f"the engine at {engine.address} cannot read {folder}"
    if message.startswith("rpc: can't find"):
        return f"the engine at {engine.address} cannot do this ({message}): stop it to write the store directly"
    return message.removeprefix("SERVER_ERROR: ")


async def reload_after_load(cfg: Any, ids: dict[str, list[str]], caches: str, scheduler: str, *, accounting: bool,
                            action_plans: bool, store_held: bool, verbose: bool, out: Any, err: Any) -> int:
    """CGRateS's cache and scheduler reloads after a load (``caches``/``scheduler``: *localhost, an rpc_conns ID,
    host:port, or empty for none). ``store_held``: this process wrote the embedded store itself, so no engine
    serves it now; the default ``*localhost`` failing then is a note, not an error."""
    from pycgrates.engine.rpc.errors import RPCError

    if caches:
        caching = str(cfg.get("general", "default_caching", default="*reload") or "*reload")
        if caching not in CACHING_METHODS:
            print(f"cgr-loader: general.default_caching {caching!r} is not one of {', '.join(CACHING_METHODS)}",
                  file=err)
            return 1
        method = CACHING_METHODS[caching]
        engine = _engine_at(caches, cfg, err) if method else None
        if method and engine is None:
            return 1
        try:
            if engine is not None and method:
                reply = await engine.call(method, cache_arguments(caching, ids, accounting=accounting))
                if verbose:
                    print(f"{method}: {reply}", file=out)
                indexes = sorted({INDEX_PARTITIONS[name] for name, values in ids.items()
                                  if values and name in INDEX_PARTITIONS})
                if indexes:
                    try:
                        await engine.call("CacheSv1.Clear", {"CacheIDs": indexes, "APIOpts": {}})
                    except RPCError as exc:
                        print(f"warning: clearing the filter indexes on {engine.address}: {exc}", file=err)
        except RPCError as exc:
            assert engine is not None
            if store_held and caches == "*localhost":
                why = "no engine answers there" if not engine.reached else f"it answered {exc}"
                print(f"note: caches not reloaded at {engine.address} ({why}); no engine serves this store while "
                      "cgr-loader writes it, the next one started on it reads the new data", file=err)
            else:
                print(f"cgr-loader: could not reload the caches at {engine.address}: {exc}", file=err)
                return 1
        finally:
            if engine is not None:
                await engine.close()
    if scheduler and action_plans:
        engine = _engine_at(scheduler, cfg, err)
        if engine is None:
            return 1
        try:
            await engine.call("SchedulerSv1.Reload", {"APIOpts": {}})
        except RPCError as exc:
            if not (store_held and scheduler == "*localhost"):
                print(f"warning: reloading the scheduler at {engine.address}: {exc}", file=err)
        finally:
            await engine.close()
    return 0


def _engine_at(name: str, cfg: Any, err: Any) -> _Engine | None:
    """A connection to the engine ``name`` names; None (the reason printed) when it names none."""
    address = engine_address(name, cfg)
    try:
        return _Engine(address)
    except ValueError:
        what = "this config has no listen.rpc_json" if name == "*localhost" else "give host:port or an rpc_conns ID"
        print(f"cgr-loader: {name!r} names no engine address: {what}", file=err)
        return None


def cache_arguments(caching: str, ids: dict[str, list[str]], *, accounting: bool) -> dict[str, Any]:
    """The argument of the caching method: the loaded IDs per CGRateS's reload field (``*clear``: none)."""
    args: dict[str, Any] = {"APIOpts": {}}
    if caching == "*clear":
        return args
    for name, values in ids.items():
        if values:
            args[name] = ["*any"] if len(values) > MAX_RELOAD_IDS else list(values)
    if accounting:
        for name in ACCOUNTING_RELOADS:
            args[name] = ["*any"]
    return args


if __name__ == "__main__":
    sys.exit(main())
