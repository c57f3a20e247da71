"""cgr-console: call the engine's API in CGRateS's command syntax.

    cgr-console [-server host:port] [-rpc_encoding json] CMD Key="value" Key2=123 ...
    cgr-console                      (interactive: history, help, help CMD, tab completion)

Each ``Key=value`` pair is one field of the call's argument; the value is read as JSON when it is JSON
(``Usage="2m10s"``, ``Units=10``, ``FilterIDs=["*string:~*req.Account:1001"]``) and as a plain string otherwise.
``call Service.Method {json}`` reaches any method the table does not name.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import os
import sys
from pathlib import Path
from typing import Any

from pycgrates.engine.rpc.client import RPCClient
from pycgrates.engine.rpc.errors import RPCError

#: command → (method, help, default argument). Other modules add theirs through CONSOLE_COMMANDS tables.
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
}

#: Modules that contribute a CONSOLE_COMMANDS table (name → (method, help)): the profile services and FilterS
#: contribute the commands of their APIerSv1 methods (engine/profiles/crud.py).
COMMAND_MODULES = ("pycgrates.engine.accounts.console", "pycgrates.engine.sessions.console",
                   "pycgrates.engine.filters.service", "pycgrates.engine.profiles.attributes",
                   "pycgrates.engine.profiles.chargers", "pycgrates.engine.profiles.resources",
                   "pycgrates.engine.profiles.stats", "pycgrates.engine.ees.service")


def all_commands() -> dict[str, tuple[str, str]]:
    table = dict(COMMANDS)
    for mod_name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(mod_name)
        except ModuleNotFoundError:
            continue
        table.update(getattr(mod, "CONSOLE_COMMANDS", {}))
    return table


class UsageError(ValueError):
    pass


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


def parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        if len(raw) >= 2 and raw[0] == raw[-1] == "'":
            return raw[1:-1]
        return raw


def build_call(line: str | list[str], table: dict[str, tuple[str, str]]) -> tuple[str, Any]:
    """``CMD Key="v" ...`` (a line, or tokens the shell already split) → (method, argument)."""
    tokens = split_pairs(line.strip()) if isinstance(line, str) else list(line)
    if not tokens:
        raise UsageError("empty command")
    cmd, rest = tokens[0], tokens[1:]
    if cmd == "call":
        if not rest:
            raise UsageError("usage: call Service.Method [JSON argument | Key=value ...]")
        method, rest = rest[0], rest[1:]
    elif cmd in table:
        method = table[cmd][0]
    else:
        raise UsageError(f"unknown command {cmd!r}; 'help' lists the commands")
    if len(rest) == 1 and "=" not in rest[0].split("{")[0].split("[")[0]:
        return method, parse_value(rest[0])  # a bare argument: an ID string or a JSON document
    arg: dict[str, Any] = {}
    for tok in rest:
        key, sep, value = tok.partition("=")
        if not sep or not key:
            raise UsageError(f"argument {tok!r} is not Key=value")
        arg[key] = parse_value(value)
    return method, arg


def render(result: Any) -> str:
    return json.dumps(result, indent=1, ensure_ascii=False, sort_keys=False)


def help_text(table: dict[str, tuple[str, str]], cmd: str = "") -> str:
    if cmd:
        if cmd not in table:
            return f"unknown command {cmd!r}"
        method, text = table[cmd]
        return f"{cmd}: {text}\n  calls {method}"
    width = max(len(c) for c in table)
    lines = [f"  {c:<{width}}  {table[c][1]}" for c in sorted(table)]
    tail = "\n  call      any method: call Service.Method {json}\n  help CMD  details of one command"
    return "commands:\n" + "\n".join(lines) + tail


async def run_one(client: RPCClient, line: str | list[str], table: dict) -> tuple[int, str]:
    try:
        method, arg = build_call(line, table)
    except UsageError as exc:
        return 2, f"error: {exc}"
    try:
        result = await client.call(method, arg)
    except RPCError as exc:
        return 1, f"error: {exc}"
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
            if not line:
                continue
            if line in ("quit", "exit", "q"):
                break
            if line == "help" or line.startswith("help "):
                print(help_text(table, line[5:].strip()))
                continue
            _, out = loop.run_until_complete(run_one(client, line, table))
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
    client = RPCClient(args.server, reply_timeout=args.reply_timeout, reconnects=0)
    if not args.command:
        return interactive(client, table)
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
    if code == 1 and "DISCONNECTED" in out:
        print(f"cgr-console: cannot reach the engine at {args.server}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
