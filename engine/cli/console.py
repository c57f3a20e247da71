"""cgr-console: call the engine's API in CGRateS's command syntax.

    cgr-console [-server host:port] [-rpc_encoding json] CMD Key="value" Key2=123 ...
    cgr-console                      (interactive: history, help, help CMD, tab completion)

Each ``Key=value`` pair is one field of the call's argument; the value is read as JSON when it is JSON
(``Usage="2m10s"``, ``Units=10``, ``FilterIDs=["*string:~*req.Account:1001"]``) and as a plain string otherwise.
Every command checks its argument before anything is sent (engine/cli/arguments.py: the keys of CGRateS's argument
struct, the mandatory ones, the kind of each value, well-formed JSON) and answers what to type instead.
``call Service.Method {json}`` reaches any method the table does not name (its JSON is checked, nothing more).
Errors are one line, exit status 2 for a command the console refuses, 1 for an error of the engine or the network.
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from pycgrates.engine.cli.arguments import ARGUMENTS, PING_SERVICES, ArgumentError, check_arguments
from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.errors import RPCError

#: the ``parse`` command runs here, not on the engine
LOCAL_PARSE = "*local.parse"

#: command → (method, help), CGRateS's console names. Other modules add theirs through CONSOLE_COMMANDS tables.
COMMANDS: dict[str, tuple[str, str]] = {
    "status": ("CoreSv1.Status", "engine status: version, uptime, memory, node id"),
    "ping": ("CoreSv1.Ping", "check the engine answers"),
    "sleep": ("CoreSv1.Sleep", "sleep on the server: Duration=\"1s\""),
    "get_config": ("ConfigSv1.GetConfig", "configuration of one section: Section=\"general\" (empty: all)"),
    "reload_config": ("ConfigSv1.ReloadConfig", "re-read the configuration: Section=\"\" Path=\"\""),
    "cache_clear": ("CacheSv1.Clear", "clear cache partitions: CacheIDs=[\"*destinations\"] (empty: all)"),
    "cache_reload": ("CacheSv1.ReloadCache", "reload cached items from DataDB"),
    "cache_item_ids": ("CacheSv1.GetItemIDs",
                       'IDs in a partition: CacheID="*destinations" ItemIDPrefix=""'),
    "cache_has_item": ("CacheSv1.HasItem", "is an item cached: CacheID=\"*destinations\" ItemID=\"DST_1002\""),
    "cache_stats": ("CacheSv1.GetCacheStats", "items per cache partition: CacheIDs=[]"),
    "load_tp_from_folder": ("APIerSv1.LoadTariffPlanFromFolder", 'load a tariff plan: FolderPath="/dir" DryRun=false'),
    "cost": ("APIerSv1.GetCost", "cost of an event: Tenant Category Subject Destination AnswerTime Usage"),
    "destination": ("APIerSv1.GetDestination", "a destination by ID: argument is the ID string"),
    "ratingplan": ("APIerSv1.GetRatingPlan", "a rating plan by ID"),
    "ratingprofile": ("APIerSv1.GetRatingProfile", "a rating profile: Tenant Category Subject"),
    "ratingprofile_set": ("APIerSv1.SetRatingProfile", "set a rating profile"),
    "ratingprofile_remove": ("APIerSv1.RemoveRatingProfile", "remove a rating profile"),
    "destination_set": ("APIerSv1.SetDestination", "set a destination: Id=\"DST\" Prefixes=[\"1002\"]"),
    "destinations": ("APIerSv2.GetDestinations", 'destinations: DestinationIDs=["DST_1002"] (empty: all)'),
    "ratingprofile_ids": ("APIerSv1.GetRatingProfileIDs", 'rating profile IDs of a tenant: Tenant="cgrates.org"'),
    "ratingplan_cost": ("RALsV1.GetRatingPlansCost", 'cheapest of rating plans: RatingPlanIDs=["RP_1"] '
                        'Destination="1002" SetupTime="*now" Usage="1m"'),
    "datacost": ("APIerSv1.GetDataCost", 'cost of data: Tenant Category Subject AnswerTime Usage=1048576'),
    "maxusage": ("APIerSv1.GetMaxUsage", 'usage the balances allow: ToR="*voice" RequestType="*prepaid" '
                 'Tenant Category Account Subject Destination SetupTime AnswerTime Usage'),
    "cost_details": ("APIerSv1.GetEventCost", 'the cost details of a rated CDR: CgrId="..." RunId="*default"'),
    "debit_max": ("Responder.MaxDebit", "debit what the balances allow: Tenant Category Account Subject "
                  "Destination TimeStart TimeEnd ToR"),
    "sharedgroup": ("APIerSv1.GetSharedGroup", "a shared group by ID"),
    "load_tp_from_stordb": ("APIerSv1.LoadTariffPlanFromStorDb", 'load a tariff plan kept in StorDB: TPid="ID" '
                            'DryRun=false'),
    "import_tp_from_folder": ("APIerSv1.ImportTariffPlanFromFolder", 'keep a tariff plan folder in StorDB: '
                              'TPid="ID" FolderPath="/dir"'),
    "load_history": ("APIerSv1.GetLoadHistory", "the loads done: Limit=10 Offset=0"),
    "get_load_ids": ("APIerSv1.GetLoadIDs", "the load ID of each cache partition"),
    "get_load_times": ("APIerSv1.GetLoadTimes", 'when each partition was loaded: Timezone="UTC"'),
    "datadb_versions": ("APIerSv1.GetDataDBVersions", "the DataDB's data versions"),
    "stordb_versions": ("APIerSv1.GetStorDBVersions", "the StorDB's data versions"),
    "set_datadb_versions": ("APIerSv1.SetDataDBVersions", 'set DataDB versions: Versions={"Accounts":3} '
                            'Overwrite=false'),
    "set_stordb_versions": ("APIerSv1.SetStorDBVersions", 'set StorDB versions: Versions={"CDRs":2} '
                            'Overwrite=false'),
    "compute_filter_indexes": ("APIerSv1.ComputeFilterIndexes", 'rebuild filter indexes: Tenant="cgrates.org" '
                               'AttributeS=true ChargerS=true ...'),
    "compute_actionplan_indexes": ("APIerSv1.ComputeActionPlanIndexes", "rebuild the action plan indexes"),
    "filter_indexes": ("APIerSv1.GetFilterIndexes", 'filter indexes: ItemType="*attributes" Context="*sessions" '
                       'FilterType="*string" FilterField="" FilterValue=""'),
    "filter_indexes_remove": ("APIerSv1.RemoveFilterIndexes", 'drop filter indexes: ItemType="*attributes"'),
    "get_json_section": ("ConfigSv1.GetConfig", 'configuration of one section: Section="general"'),
    "cache_remove_item": ("CacheSv1.RemoveItem", 'drop an item: CacheID="*destinations" ItemID="DST_1002"'),
    "cache_item_expiry_time": ("CacheSv1.GetItemExpiryTime", 'when an item expires: CacheID="..." ItemID="..."'),
    "cache_has_group": ("CacheSv1.HasGroup", 'is a group cached: CacheID="..." GroupID="..."'),
    "cache_group_item_ids": ("CacheSv1.GetGroupItemIDs", 'item IDs of a group: CacheID="..." GroupID="..."'),
    "cache_remove_group": ("CacheSv1.RemoveGroup", 'drop a group: CacheID="..." GroupID="..."'),
    "cache_precache_status": ("CacheSv1.PrecacheStatus", "precaching state per partition: CacheIDs=[]"),
    "scheduler_reload": ("SchedulerSv1.Reload", "re-read the action plans"),
    "scheduler_execute": ("SchedulerSv1.ExecuteActions", 'run an action plan now: ActionPlanID="AP_1" '
                          '(or TimeStart and TimeEnd)'),
    "account_triggers_add": ("APIerSv1.AddAccountActionTriggers", 'give an account triggers: Tenant Account '
                             'ActionTriggerIDs=["STANDARD_TRIGGERS"]'),
    "account_triggers_remove": ("APIerSv1.RemoveAccountActionTriggers", 'remove triggers of an account: Tenant '
                                'Account GroupID UniqueID'),
    "account_triggers_reset": ("APIerSv1.ResetAccountActionTriggers", 're-arm triggers of an account: Tenant '
                               'Account GroupID UniqueID Executed=false'),
    "account_triggers_set": ("APIerSv1.SetAccountActionTriggers", 'change triggers of an account: Tenant Account '
                             'GroupID UniqueID ActionTrigger={...}'),
    "triggers": ("APIerSv1.GetActionTriggers", 'action triggers: GroupIDs=["STANDARD_TRIGGERS"] (empty: all)'),
    "triggers_set": ("APIerSv1.SetActionTrigger", 'set a trigger: GroupID="STANDARD_TRIGGERS" UniqueID="t1" '
                     'ActionTrigger={"ThresholdType":"*max_balance","ThresholdValue":100}'),
    "triggers_remove": ("APIerSv1.RemoveActionTrigger", 'remove triggers: GroupID="STANDARD_TRIGGERS" UniqueID=""'),
    "export_cdrs": ("APIerSv1.ExportCDRs", 'export stored CDRs: ExporterIDs=["exp1"] and a CDR filter'),
    "dispatches_for_event": ("DispatcherSv1.GetProfilesForEvent", "dispatcher profiles matching an event"),
    "parse": (LOCAL_PARSE, 'apply an RSR expression to a value, here: Expression="~*req.Account:s/^1/+491/" '
              'Value="1001"'),
}

#: Modules that contribute a CONSOLE_COMMANDS table (name → (method, help)): the profile services and FilterS
#: contribute the commands of their APIerSv1 methods (engine/profiles/crud.py).
COMMAND_MODULES = ("pycgrates.engine.accounts.console", "pycgrates.engine.sessions.console",
                   "pycgrates.engine.filters.service", "pycgrates.engine.profiles.attributes",
                   "pycgrates.engine.profiles.chargers", "pycgrates.engine.profiles.resources",
                   "pycgrates.engine.profiles.stats", "pycgrates.engine.profiles.thresholds",
                   "pycgrates.engine.profiles.routes", "pycgrates.engine.dispatchers.service",
                   "pycgrates.engine.ees.service")


def all_commands() -> dict[str, tuple[str, str]]:
    table = dict(COMMANDS)
    for mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError:
            continue
        table.update(getattr(mod, "CONSOLE_COMMANDS", {}))
    return table


UsageError = ArgumentError  # a command line the console refuses (exit status 2)


def split_pairs(text: str) -> list[str]:
    """Split on spaces outside quotes, brackets and braces (so JSON values may hold spaces)."""
    out, cur, depth, quote = [], [], 0, ""
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            cur.append(c)
            if c == "\\" and i + 1 < len(text):
                cur.append(text[i + 1])
                i += 2
                continue
            if c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
            cur.append(c)
        elif c in "[{":
            depth += 1
            cur.append(c)
        elif c in "]}":
            depth -= 1
            cur.append(c)
        elif c.isspace() and depth == 0:
            if cur:
                out.append("".join(cur))
                cur = []
        else:
            cur.append(c)
        i += 1
    if quote or depth:
        raise UsageError("unbalanced quotes or brackets in the command line")
    if cur:
        out.append("".join(cur))
    return out


def parse_value(raw: str, key: str = "") -> Any:
    """A typed value: JSON when it is JSON; a value that opens as JSON (``{``, ``[``) must be well formed; a quoted
    one whose backslashes are no JSON escapes is taken as typed; anything else is text (``Tenant=cgrates.org``,
    ``'single quoted'``)."""
    try:
        return json.loads(raw)
    except ValueError as exc:
        if len(raw) >= 2 and raw[0] == raw[-1] == '"' and '"' not in raw[1:-1]:
            return raw[1:-1]  # backslashes of a regular expression ("^1(\d+)$") are not JSON escapes
        if raw[:1] in ("{", "[", '"'):
            where = f"{key}: " if key else ""
            raise UsageError(f"{where}malformed JSON {raw!r}: {exc.msg} at character {exc.pos + 1}") from None
        if len(raw) >= 2 and raw[0] == raw[-1] == "'":
            return raw[1:-1]
        return raw


def build_call(line: str | list[str], table: dict[str, tuple[str, str]]) -> tuple[str, Any]:
    """``CMD Key="v" ...`` (a line, or tokens the shell already split) → (method, argument), checked."""
    tokens = split_pairs(line.strip()) if isinstance(line, str) else list(line)
    if not tokens:
        raise UsageError("empty command")
    cmd, rest = tokens[0], tokens[1:]
    if cmd == "call":
        if not rest:
            raise UsageError("usage: call Service.Method [JSON argument | Key=value ...]")
        method, rest = rest[0], rest[1:]
    elif cmd == "ping" and len(rest) == 1 and "=" not in rest[0]:
        service = rest[0].strip("'\"").lower()
        if service not in PING_SERVICES:
            raise UsageError(f"ping: no service {service!r} (one of {', '.join(sorted(PING_SERVICES))})")
        return PING_SERVICES[service], {}
    elif cmd in table:
        method = table[cmd][0]
    else:
        close = difflib.get_close_matches(cmd, list(table), n=1)
        hint = f"; did you mean {close[0]}?" if close else "; 'help' lists the commands"
        raise UsageError(f"unknown command {cmd!r}{hint}")
    bare: Any = None
    pairs: dict[str, Any] = {}
    if len(rest) == 1 and "=" not in rest[0].split("{")[0].split("[")[0].split('"')[0]:
        bare = parse_value(rest[0])  # a lone value: an ID, or the whole argument as a JSON document
        if isinstance(bare, dict) and cmd != "call":
            pairs, bare = bare, None
    else:
        for tok in rest:
            key, sep, value = tok.partition("=")
            if not sep or not key:
                raise UsageError(f"{cmd}: argument {tok!r} is not Key=value")
            if key in pairs:
                raise UsageError(f"{cmd}: {key} is given twice")
            pairs[key] = parse_value(value, key)
    if cmd == "call":
        return method, bare if bare is not None else pairs
    return method, check_arguments(cmd, method, pairs, bare)


def render(result: Any) -> str:
    return json.dumps(result, indent=1, ensure_ascii=False, sort_keys=False, default=str)


def help_text(table: dict[str, tuple[str, str]], cmd: str = "") -> str:
    if cmd:
        if cmd not in table:
            return f"unknown command {cmd!r}"
        method, text = table[cmd]
        params = ARGUMENTS.get(method)
        usage = f"\n  usage: {params.usage(cmd)}" if params is not None else ""
        calls = "runs in the console" if method.startswith("*local.") else f"calls {method}"
        return f"{cmd}: {text}{usage}\n  {calls}"
    width = max(len(c) for c in table)
    lines = [f"  {c:<{width}}  {table[c][1]}" for c in sorted(table)]
    tail = "\n  call      any method: call Service.Method {json}\n  help CMD  details of one command"
    return "commands:\n" + "\n".join(lines) + tail


def parse_locally(arg: dict[str, Any]) -> str:
    """The ``parse`` command: an RSR expression applied to a value, as the engine's templates apply it."""
    from pycgrates.engine.template.rsr import parse_rsr

    try:
        return parse_rsr(arg["Expression"]).parse_value(arg.get("Value") or "")
    except (ValueError, KeyError, IndexError) as exc:
        raise UsageError(f"parse: {exc}") from None


def engine_error(exc: RPCError, address: str, method: str) -> str:
    """The engine's or the network's failure as one line a user can act on."""
    message = str(exc.message)
    if message == "DISCONNECTED":
        return f"cannot reach the engine at {address} (is cgr-engine running? give -server host:port)"
    if message == "TIMEOUT":
        return f"the engine at {address} did not answer {method} in time (-reply_timeout)"
    if message.startswith("rpc: can't find"):
        return f"the engine at {address} has no {method} ({message}): its configuration or this build lacks it"
    return message


async def run_one(client: RPCClient, line: str | list[str], table: dict) -> tuple[int, str]:
    """Run one command line: (exit status, what to print). Nothing raises out of here."""
    try:
        method, arg = build_call(line, table)
        if method == LOCAL_PARSE:
            return 0, render(parse_locally(arg))
    except UsageError as exc:
        return 2, f"error: {exc}"
    try:
        result = await client.call(method, arg)
    except RPCError as exc:
        return 1, f"error: {engine_error(exc, client.address, method)}"
    except OSError as exc:
        return 1, f"error: cannot talk to the engine at {client.address}: {exc.strerror or exc}"
    return 0, render(result)


def interactive(client: RPCClient, table: dict) -> int:
    try:
        import readline
    except ImportError:  # pragma: no cover - not on Linux
        readline = None  # type: ignore[assignment]
    history = Path(os.environ.get("CGR_CONSOLE_HISTORY", Path.home() / ".cgr_console_history"))
    if readline is not None:
        names = sorted([*table, "call", "help", "quit", "exit"])

        def complete(text: str, state: int) -> str | None:
            matches = [n + " " for n in names if n.startswith(text)]
            return matches[state] if state < len(matches) else None

        readline.set_completer(complete)
        readline.parse_and_bind("tab: complete")
        try:
            readline.read_history_file(history)
        except OSError:
            pass
    loop = asyncio.new_event_loop()
    try:
        while True:
            try:
                line = input("cgr> ").strip()
            except EOFError:
                print()
                break
            except KeyboardInterrupt:  # drops the line being typed, as a shell does
                print()
                continue
            if not line:
                continue
            if line in ("quit", "exit", "q"):
                break
            if line == "help" or line.startswith("help "):
                print(help_text(table, line[5:].strip()))
                continue
            try:
                _, out = loop.run_until_complete(run_one(client, line, table))
            except KeyboardInterrupt:
                out = "interrupted"
            print(out)
    finally:
        loop.run_until_complete(client.close())
        loop.close()
        if readline is not None:
            try:
                readline.write_history_file(history)
            except OSError:
                pass
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="cgr-console", description="pycgrates command line console",
                                epilog="Run without a command for the interactive console; 'help' lists commands.")
    p.add_argument("-server", "--server", default="127.0.0.1:2012", help="engine JSON-RPC address (host:port)")
    p.add_argument("-rpc_encoding", "--rpc_encoding", default="*json", help="only *json/json is supported")
    p.add_argument("-reply_timeout", "--reply_timeout", type=float, default=300.0, help="seconds to wait for a reply")
    p.add_argument("-verbose", "--verbose", action="store_true", help="print the request sent")
    p.add_argument("command", nargs=argparse.REMAINDER, help="CMD Key=value ...")
    args = p.parse_args(argv)
    if args.rpc_encoding.lstrip("*") != "json":
        print(f"cgr-console: rpc_encoding {args.rpc_encoding} is not supported; use json", file=sys.stderr)
        return 2
    table = all_commands()
    try:
        client = RPCClient(args.server, reply_timeout=args.reply_timeout, reconnects=0)
    except ValueError:
        print(f"cgr-console: -server {args.server!r} is not host:port (for example 127.0.0.1:2012)", file=sys.stderr)
        return 2
    try:
        if not args.command:
            return interactive(client, table)
        return _once(client, table, args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130


def _once(client: RPCClient, table: dict, args: argparse.Namespace) -> int:
    # CGRateS's docs quote the whole command ('cost Tenant="cgrates.org" ...'): split that one; else the shell did
    line: str | list[str] = args.command[0] if len(args.command) == 1 else args.command
    if args.command[0] == "help":
        print(help_text(table, args.command[1] if len(args.command) > 1 else ""))
        return 0
    if args.verbose:
        try:
            method, arg = build_call(line, table)
            print(f"{method} {json.dumps(arg)}", file=sys.stderr)
        except UsageError:
            pass

    async def once() -> tuple[int, str]:
        try:
            return await run_one(client, line, table)
        finally:
            await client.close()

    code, out = asyncio.run(once())
    print(out, file=sys.stderr if code else sys.stdout)
    return code


if __name__ == "__main__":
    sys.exit(main())
