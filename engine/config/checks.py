"""What a loaded configuration cannot run with, found without opening anything: the engine's own checks.

:func:`config_problems` lists, each naming the option and the fix:

- what the loader read but CGRateS refuses (:attr:`Config.refused`: a number where a duration string belongs);
- ``*_conns`` entries naming a connection ``rpc_conns`` does not define, in every section (and list item) that is
  enabled: sections switched off are not checked, as CGRateS does not check them;
- listener addresses that do not parse;
- values CGRateS's configuration sanity check refuses (``sessions.terminate_attempts`` below 1).

Start-up (``engine.app``) adds the checks of storage and services to these; ``cgr-engine -check_config`` and
``ConfigSv1.ReloadConfig`` run the same functions, so they refuse what start refuses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pycgrates.engine.config.loader import Config, ConfigError, option_path, parse_listen_address

#: Connection IDs every engine resolves without an rpc_conns entry (this engine's own listeners, in process).
BUILTIN_CONNS = frozenset({"*internal", "*birpc_internal", "*localhost", "*bijson_localhost"})

#: ``listen`` options holding one address each.
LISTENERS = ("rpc_json", "rpc_gob", "http", "rpc_json_tls", "rpc_gob_tls", "http_tls", "birpc_json", "birpc_gob")


class ConfigProblems(ConfigError):
    """Every problem :func:`config_problems` (and start-up) found; the message is the first one."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(problems[0] if problems else "")
        self.problems = problems


def config_problems(cfg: Config, *, active: Any = None) -> list[str]:
    """The configuration's problems, in file order where they come from files.

    ``active(cfg, section) -> bool`` says whether a section's service runs (default: its ``enabled`` option, or
    always for sections without one); start-up passes the service catalogue's answer.
    """
    problems = list(cfg.refused)
    problems += _listener_problems(cfg)
    problems += _conn_problems(cfg, active or _enabled_option)
    problems += _sessions_problems(cfg, active or _enabled_option)
    return problems


def _enabled_option(cfg: Config, section: str) -> bool:
    value = cfg.data.get(section)
    return not (isinstance(value, Mapping) and value.get("enabled") is False)


def _listener_problems(cfg: Config) -> list[str]:
    listen = cfg.data.get("listen") or {}
    problems = []
    for option in LISTENERS:
        address = listen.get(option)
        if address:
            try:
                parse_listen_address(address, option=f"listen.{option}")
            except ConfigError as exc:
                problems.append(str(exc))
    return problems


def _conn_problems(cfg: Config, active: Any) -> list[str]:
    defined = set(cfg.data.get("rpc_conns") or {}) | BUILTIN_CONNS
    problems = []
    for name, section in cfg.data.items():
        if name == "rpc_conns" or not active(cfg, name):
            continue
        for path, conn_id in _conn_references(section, (name,)):
            if conn_id not in defined:
                problems.append(f"{option_path(path)}: connection {conn_id!r} is not defined in rpc_conns "
                                f"(define it there, or use *internal for this engine's own service)")
    return problems


def _sessions_problems(cfg: Config, active: Any) -> list[str]:
    if not active(cfg, "sessions"):
        return []
    attempts = (cfg.data.get("sessions") or {}).get("terminate_attempts")
    if isinstance(attempts, int | float) and attempts < 1:
        # CGRateS: "<SessionS> 'terminate_attempts' should be at least 1"
        return [f"sessions.terminate_attempts: <SessionS> 'terminate_attempts' should be at least 1 (it is {attempts}; "
                "it is how often a disconnect or a terminate is tried before the session is ended here)"]
    return []


def _conn_references(value: Any, path: tuple) -> Iterator[tuple[tuple, str]]:
    """(path, id) of each string in a ``*_conns`` list under ``value``, skipping objects switched off."""
    if isinstance(value, Mapping):
        if value.get("enabled") is False and len(path) > 1:
            return
        for key, item in value.items():
            if isinstance(key, str) and key.endswith("_conns") and isinstance(item, list):
                for i, conn_id in enumerate(item):
                    if isinstance(conn_id, str):  # lists of connection objects (event_socket_conns, ...) are not ids
                        yield (*path, key, i), conn_id
            else:
                yield from _conn_references(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _conn_references(item, (*path, i))


__all__ = ["BUILTIN_CONNS", "ConfigProblems", "config_problems"]
